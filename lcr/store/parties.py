"""Carriers and customers: the owners of rate decks."""

from __future__ import annotations

import json
import time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, insert, select

from lcr.errors import Conflict, InputError, NotFound
from lcr.model import Carrier, Customer, Gateway, OwnerKind
from lcr.store.db import bump_version
from lcr.store.schema import carriers, customers


def add_carrier(conn: Connection, carrier: Carrier) -> int:
    if not carrier.gateways:
        raise InputError(f"carrier {carrier.name!r} needs at least one --gateway HOST[:PORT]")
    _check_name(carrier.name)
    _check_digits("--tech-prefix", carrier.tech_prefix)
    if conn.execute(select(carriers.c.id).where(carriers.c.name == carrier.name)).first():
        raise Conflict(f"carrier {carrier.name!r} already exists")
    row_id = conn.execute(
        insert(carriers).values(
            name=carrier.name,
            gateways=json.dumps([f"{g.host}:{g.port}" for g in carrier.gateways]),
            tech_prefix=carrier.tech_prefix,
            notice_days=carrier.notice_days,
            created_at=int(time.time()),
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    bump_version(conn)
    return int(row_id)


def add_customer(conn: Connection, customer: Customer) -> int:
    _check_name(customer.name)
    _check_digits("--tech-prefix", customer.tech_prefix)
    try:
        margin = Decimal(customer.min_margin)
    except InvalidOperation:
        raise InputError(f"--min-margin {customer.min_margin!r} is not a number") from None
    if not 0 <= margin < 100:
        raise InputError(f"--min-margin {customer.min_margin!r} must be between 0 and 100 (percent)")
    try:
        ZoneInfo(customer.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"--timezone {customer.timezone!r} is not a known time zone") from None
    if len(customer.currency) != 3 or not customer.currency.isalpha():
        raise InputError(f"--currency {customer.currency!r} is not an ISO 4217 code")
    if customer.prepaid and customer.credit_limit:
        raise InputError("a prepaid customer has no credit limit (drop --credit-limit or use --postpaid)")
    if conn.execute(select(customers.c.id).where(customers.c.name == customer.name)).first():
        raise Conflict(f"customer {customer.name!r} already exists")
    row_id = conn.execute(
        insert(customers).values(
            name=customer.name,
            prepaid=customer.prepaid,
            credit_limit=customer.credit_limit,
            source_ips=json.dumps(list(customer.source_ips)),
            tech_prefix=customer.tech_prefix,
            min_margin=str(margin),
            timezone=customer.timezone,
            currency=customer.currency.upper(),
            low_balance_threshold=customer.low_balance_threshold,
            webhook_url=customer.webhook_url,
            created_at=int(time.time()),
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    bump_version(conn)
    return int(row_id)


def _check_name(name: str) -> None:
    if not name or len(name) > 64 or not all(ch.isalnum() or ch in "-_." for ch in name):
        raise InputError(f"name {name!r} must be 1-64 letters, digits, '-', '_' or '.'")


def _check_digits(flag: str, value: str) -> None:
    if value and not value.isdigit():
        raise InputError(f"{flag} {value!r} must be digits only")


def _carrier(row: object) -> Carrier:
    r = row._mapping  # type: ignore[attr-defined]
    return Carrier(
        name=r["name"],
        gateways=tuple(Gateway.parse(g) for g in json.loads(r["gateways"])),
        tech_prefix=r["tech_prefix"],
        notice_days=r["notice_days"],
    )


def _customer(row: object) -> Customer:
    r = row._mapping  # type: ignore[attr-defined]
    return Customer(
        name=r["name"],
        prepaid=bool(r["prepaid"]),
        credit_limit=r["credit_limit"],
        source_ips=tuple(json.loads(r["source_ips"])),
        tech_prefix=r["tech_prefix"],
        min_margin=r["min_margin"],
        timezone=r["timezone"],
        currency=r["currency"],
        low_balance_threshold=r["low_balance_threshold"],
        webhook_url=r["webhook_url"],
    )


def list_carriers(conn: Connection) -> list[Carrier]:
    return [_carrier(r) for r in conn.execute(select(carriers).order_by(carriers.c.name))]


def list_customers(conn: Connection) -> list[Customer]:
    return [_customer(r) for r in conn.execute(select(customers).order_by(customers.c.name))]


def owner_id(conn: Connection, kind: OwnerKind, name: str) -> int:
    table = carriers if kind is OwnerKind.CARRIER else customers
    row = conn.execute(select(table.c.id).where(table.c.name == name)).first()
    if row is None:
        raise NotFound(f"no {kind.value} named {name!r} (add it with `lcr {kind.value} add {name} ...`)")
    return int(row[0])


def notice_days(conn: Connection, kind: OwnerKind, name: str) -> int:
    if kind is OwnerKind.CUSTOMER:
        return 0  # our own sell decks: no vendor notice period
    row = conn.execute(select(carriers.c.notice_days).where(carriers.c.name == name)).first()
    return int(row[0]) if row else 7
