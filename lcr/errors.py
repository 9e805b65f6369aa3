"""The one error tree of lcr.

Every error carries a stable ``code``, an HTTP status and a SIP status, so the API, the SIP
server and the CLI map errors in one place::

    LcrError                      code           http  sip   exit
    ├── InputError                BAD_INPUT       400  400    1   bad data at an edge
    │   ├── MalformedNumber       BAD_NUMBER      400  400    1
    │   ├── DeckRejected          DECK_REJECTED   422   -     1   carries every DeckProblem
    │   └── CdrRejected           CDR_REJECTED    422   -     1
    ├── RouteRefused              (abstract)                       the router said no
    │   ├── NoRoute               NO_ROUTE        404  404    1
    │   ├── BlockedDestination    BLOCKED         403  403    1
    │   ├── InsufficientCredit    NO_CREDIT       402  402    1
    │   └── UnknownCustomer       UNKNOWN_CUSTOMER 403 403    1
    ├── NotFound                  NOT_FOUND       404   -     1   a named carrier/customer is missing
    ├── Conflict                  CONFLICT        409   -     1   e.g. a name that already exists
    ├── Unauthorized              UNAUTHORIZED    401   -     -
    └── Forbidden                 FORBIDDEN       403   -     -

The core (``routing``, ``rating``) raises these with plain messages; the edges translate
``http_status`` / ``sip_status`` / ``sip_reason`` into their own protocol.
"""

from __future__ import annotations

from dataclasses import dataclass


class LcrError(Exception):
    code = "ERROR"
    http_status = 500
    sip_status = 500
    sip_reason = "Server Internal Error"
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_json(self) -> dict[str, object]:
        return {"error": {"code": self.code, "message": self.message}}


class InputError(LcrError):
    code = "BAD_INPUT"
    http_status = 400
    sip_status = 400
    sip_reason = "Bad Request"


class MalformedNumber(InputError):
    code = "BAD_NUMBER"
    sip_reason = "Bad Request Number"


@dataclass(frozen=True, slots=True)
class Problem:
    """One bad cell or line of an input file: where it is and what is wrong with it.

    ``str()`` reads ``deck.csv line 17, column 'rate': '0,01x' is not a number``.
    """

    file: str
    line: int | None
    column: str | None
    value: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f" line {self.line}"
        if self.column is not None:
            where += f", column '{self.column}'"
        if self.value is not None:
            return f"{where}: {self.value!r} {self.message}"
        return f"{where}: {self.message}"

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "value": self.value,
            "message": self.message,
        }


DeckProblem = Problem  # a deck's bad cell (CDR lines: lcr.cdrs.CdrProblem, which keeps the raw line too)


class DeckRejected(InputError):
    """A deck that cannot be imported; ``problems`` lists every bad row, not only the first."""

    code = "DECK_REJECTED"
    http_status = 422

    def __init__(self, message: str, problems: list[DeckProblem] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        lines = [self.message, *(f"  {p}" for p in self.problems)]
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        body = super().to_json()
        body["error"]["problems"] = [p.to_json() for p in self.problems]  # type: ignore[index]
        return body


class CdrRejected(InputError):
    code = "CDR_REJECTED"
    http_status = 422


class RouteRefused(LcrError):
    """The router answered, and the answer is no."""


class NoRoute(RouteRefused):
    code = "NO_ROUTE"
    http_status = 404
    sip_status = 404
    sip_reason = "No Route"


class BlockedDestination(RouteRefused):
    code = "BLOCKED"
    http_status = 403
    sip_status = 403
    sip_reason = "Blocked Destination"


class InsufficientCredit(RouteRefused):
    code = "NO_CREDIT"
    http_status = 402
    sip_status = 402
    sip_reason = "Insufficient Credit"


class UnknownCustomer(RouteRefused):
    code = "UNKNOWN_CUSTOMER"
    http_status = 403
    sip_status = 403
    sip_reason = "Unknown Customer"


class NotFound(LcrError):
    code = "NOT_FOUND"
    http_status = 404
    sip_status = 404
    sip_reason = "Not Found"


class Conflict(LcrError):
    code = "CONFLICT"
    http_status = 409


class Unauthorized(LcrError):
    code = "UNAUTHORIZED"
    http_status = 401


class Forbidden(LcrError):
    code = "FORBIDDEN"
    http_status = 403
