"""Bearer tokens: read-only tokens look things up, admin tokens may also change things.

With no token configured at all the API runs in demo mode: loopback clients only (anything
else gets 403), which ``lcr serve`` says in its log.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from fastapi import Request

from lcr.errors import Forbidden, Unauthorized


class Role(str, Enum):  # noqa: UP042 - str mixin keeps JSON/str behaviour explicit
    READ = "read"
    ADMIN = "admin"


@dataclass(frozen=True)
class Auth:
    admin_tokens: tuple[str, ...] = ()
    read_tokens: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, admin: str, read: str) -> Auth:
        return cls(tuple(t for t in [admin.strip()] if t), tuple(t.strip() for t in read.split(",") if t.strip()))

    @property
    def demo_mode(self) -> bool:
        return not self.admin_tokens and not self.read_tokens

    def role_of(self, token: str) -> Role | None:
        if any(hmac.compare_digest(token, t) for t in self.admin_tokens):
            return Role.ADMIN
        if any(hmac.compare_digest(token, t) for t in self.read_tokens):
            return Role.READ
        return None

    def require(self, needed: Role) -> Callable[[Request], None]:
        def check(request: Request) -> None:
            if self.demo_mode:
                host = request.client.host if request.client else ""
                try:
                    loopback = ipaddress.ip_address(host).is_loopback
                except ValueError:
                    loopback = host in ("localhost", "testclient")
                if not loopback:
                    raise Forbidden("no API token is configured: only loopback clients are served (demo mode)")
                return
            header = request.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise Unauthorized("missing bearer token (Authorization: Bearer TOKEN)")
            role = self.role_of(token.strip())
            if role is None:
                raise Unauthorized("unknown bearer token")
            if needed is Role.ADMIN and role is not Role.ADMIN:
                raise Forbidden("this action needs an admin token")

        return check
