"""Decide: one datagram in, one datagram (or silence) out. No sockets, no clock, no state.

``handle_datagram(data, source, snapshot, counters)`` is the whole redirect server's logic; the
asyncio protocol in ``lcr.sip.server`` only receives, calls it, and sends what it returns back
to the packet's source address and port (as ``rport`` would; Via ``sent-by`` is not consulted).

Answers (RFC 3261 redirect server, stateless)
    INVITE    302 Moved Temporarily, one Contact per route in least-cost order (at most 16):
              ``Contact: <sip:{carrier tech prefix}{normalised number}@{gateway}>;q=...``
              q: 1.0, 0.9, ... 0.1 for up to 10 routes; 1.0, 0.95, ... 0.25 for 11-16 routes.
              Also ``X-LCR-Prefix`` (the customer's matched sell prefix) and ``X-LCR-Sell-Rate``
              (per minute, 6 decimals) when the customer has a deck.
              Refusals: 400 Bad Request Number, 402 Insufficient Credit, 403 Blocked Destination,
              403 Unknown Customer, 404 No Route, each with ``Reason: Q.850;cause=..;text="CODE"``
              and ``Warning: 399 lcr "<the router's message>"``.
    OPTIONS   200 OK with Allow / Accept / Accept-Encoding / Accept-Language
              (a keep-alive ping; answered to anyone).
    ACK       absorbed: never answered, not even parsed (it acknowledges our 3xx-6xx; RFC 3261
              §17.1.1.3: a UAS never responds to an ACK). Over UDP on Linux the kernel drops
              them before they reach the process (``lcr.sip.server.drop_acks_in_kernel``).
    CANCEL    481 Call/Transaction Does Not Exist: the server answers every INVITE at once with a
              final response, so there is never a pending INVITE to cancel (RFC 3261 §9.2).
    others    405 Method Not Allowed, ``Allow: INVITE, ACK, OPTIONS``.
    responses (``SIP/2.0 ...``) ignored; CRLF/NUL keep-alives ignored.
    malformed 400 Bad Request (<what>) / 505 Version Not Supported / 416 Unsupported URI Scheme
              when there is a Via to answer to and every copied value is clean UTF-8 without
              control characters; silence otherwise (and always for a malformed ACK).

Every response copies each Via header line in order (values byte for byte, comma-joined
values kept), From, Call-ID and CSeq; To gets ``;tag=`` unless it has one. The tag is a hash of
Call-ID, From, CSeq and the top Via (with its branch), so a retransmitted INVITE gets the very
same answer without any server state. The customer is the one of the packet's source IP, else
the one whose tech prefix starts the R-URI user; with neither: 403 Unknown Customer (the server
is not an open relay). The R-URI user goes to the router as received: normalisation is its job.
"""

from __future__ import annotations

import re
from zlib import crc32

from lcr.errors import (
    BlockedDestination,
    InsufficientCredit,
    LcrError,
    MalformedNumber,
    NoRoute,
    NotFound,
    UnknownCustomer,
)
from lcr.model import Gateway
from lcr.routing.answer import Route, RouteAnswer
from lcr.sip.counters import Counters
from lcr.sip.message import Malformed, Request, parse_request, uri_user
from lcr.sip.snapshot import RouteSnapshot

MAX_CONTACTS = 16
#: A R-URI user longer than this is refused (400) without asking the router (which allows 32
#: digits after its own normalisation: tech prefix and ``+``/``00``/``011`` fit in the margin).
MAX_USER = 64
ALLOW = "INVITE, ACK, OPTIONS"
SERVER = "lcr"

_CTL = re.compile(r"[\x00-\x1f\x7f]")
_TAG = re.compile(r";\s*tag\s*=", re.IGNORECASE)


def _qvalue(thousandths: int) -> str:
    if thousandths >= 1000:
        return "1.0"
    return "0." + f"{thousandths:03d}".rstrip("0") if thousandths else "0.0"


def _qvalues(n: int) -> tuple[str, ...]:
    """q for ``n`` Contacts, strictly decreasing: steps of 0.1 up to 10 routes, 0.05 beyond."""
    step = 100 if n <= 10 else 50
    return tuple(_qvalue(1000 - i * step) for i in range(n))


#: QVALUES[n] = the q values of n Contacts (n = 0..16), computed once.
QVALUES: tuple[tuple[str, ...], ...] = tuple(_qvalues(n) for n in range(MAX_CONTACTS + 1))

# error class -> (counter, Q.850 cause), first match wins (MalformedNumber before other inputs)
_REFUSALS: tuple[tuple[type[LcrError], str, int], ...] = (
    (MalformedNumber, "rejected_bad_number", 28),
    (NoRoute, "rejected_no_route", 3),
    (BlockedDestination, "rejected_blocked", 21),
    (InsufficientCredit, "rejected_no_credit", 21),
    (UnknownCustomer, "rejected_unknown_customer", 21),
)

_SINK = Counters()  # counts of callers that pass no Counters; never read


def handle_datagram(
    data: bytes,
    source: tuple[str, int],
    snapshot: RouteSnapshot,
    counters: Counters | None = None,
) -> bytes | None:
    """The answer to one datagram from ``source`` (ip, port), or None for silence. Never raises."""
    c = _SINK if counters is None else counters
    c.datagrams += 1
    try:
        return _handle(data, source, snapshot, c)
    except Exception:  # a bug must cost one answer, never the server
        c.internal_errors += 1
        return None


def _handle(data: bytes, source: tuple[str, int], snapshot: RouteSnapshot, c: Counters) -> bytes | None:
    if data[:7] == b"INVITE ":  # the common case first: neither a response, nor an ACK, nor a keep-alive
        try:
            req = parse_request(data)
        except Malformed as bad:
            setattr(c, bad.kind, getattr(c, bad.kind) + 1)
            return _refuse_malformed(bad, c)
        c.invites += 1
        return _invite(req, source, snapshot, c)
    if data[:4] == b"SIP/" or data[:4].upper() == b"SIP/":
        c.responses_ignored += 1
        return None
    if data[:4] == b"ACK ":  # never answered (RFC 3261 §17.1.1.3), so never read
        c.ack_absorbed += 1
        return None
    if not data.strip(b"\r\n\x00 \t"):
        c.keepalives += 1
        return None
    try:
        req = parse_request(data)
    except Malformed as bad:
        setattr(c, bad.kind, getattr(c, bad.kind) + 1)
        return _refuse_malformed(bad, c)
    method = req.method
    if method == "INVITE":
        c.invites += 1
        return _invite(req, source, snapshot, c)
    if method == "ACK":  # "ACK" after leading whitespace or such
        c.ack_absorbed += 1
        return None
    if method == "OPTIONS":
        c.options += 1
        return _respond(
            req,
            "200 OK",
            f"Allow: {ALLOW}\r\nAccept: application/sdp\r\nAccept-Encoding: identity\r\nAccept-Language: en\r\n",
        )
    if method == "CANCEL":
        c.cancel_unmatched += 1
        return _respond(req, "481 Call/Transaction Does Not Exist", "")
    c.method_not_allowed += 1
    return _respond(req, "405 Method Not Allowed", f"Allow: {ALLOW}\r\n")


def _refuse_malformed(bad: Malformed, c: Counters) -> bytes | None:
    req = bad.partial
    if req is None or not req.vias or req.method == "ACK":
        c.dropped += 1
        return None
    answer = _respond(req, f"{bad.status} {bad.phrase}", _warning(bad.reason), checked=False)
    if answer is None:
        c.dropped += 1
    else:
        c.bad_request += 1
    return answer


def _invite(req: Request, source: tuple[str, int], snapshot: RouteSnapshot, c: Counters) -> bytes | None:
    user = uri_user(req.uri)
    if user is None:
        c.malformed_uri += 1
        c.bad_request += 1
        return _respond(req, "416 Unsupported URI Scheme", _warning("Request-URI is not sip:, sips: or tel:"))
    try:
        customer = snapshot.customer_by_source_ip(source[0])
        if customer is None:
            customer = snapshot.customer_by_tech_prefix(user)
            if customer is None:
                raise UnknownCustomer(f"source {source[0]} is no customer's and {user!r} has no tech prefix")
        if len(user) > MAX_USER:
            c.malformed_number += 1
            raise MalformedNumber(f"number of {len(user)} characters is longer than {MAX_USER}")
        answer = snapshot.lookup(user, customer)
    except NotFound as exc:
        return _refuse(req, UnknownCustomer(exc.message), c)
    except LcrError as exc:
        return _refuse(req, exc, c)
    except Exception as exc:
        c.internal_errors += 1
        return _respond(req, "500 Server Internal Error", _warning(f"router failed: {type(exc).__name__}"))
    kept = answer.kept
    if not (answer.listed if kept is None else kept):
        return _refuse(req, NoRoute(f"no carrier for {answer.number}"), c)
    c.redirected += 1
    return _redirect(req, answer)


_TRAILER = f"Server: {SERVER}\r\nContent-Length: 0\r\n\r\n"


def _tail_template(routes: tuple[Route, ...], prefix: str | None, sell_rate: int | None) -> tuple[str, ...]:
    """What follows the copied headers in a 302 (Contacts, X-LCR lines, Server, Content-Length,
    blank line), split around the number: ``number.join(template)``."""
    routes = routes[:MAX_CONTACTS]
    pieces = ["Contact: <sip:"]
    for route, q in zip(routes, QVALUES[len(routes)], strict=True):
        pieces[-1] += route.tech_prefix
        pieces.append(f"@{_hostport(route.gateway)}>;q={q}\r\nContact: <sip:")
    pieces[-1] = pieces[-1][: -len("Contact: <sip:")]
    if prefix is not None:
        pieces[-1] += f"X-LCR-Prefix: {prefix}\r\n"
    if sell_rate is not None and sell_rate >= 0:
        pieces[-1] += f"X-LCR-Sell-Rate: {sell_rate // 1_000_000}.{sell_rate % 1_000_000:06d}\r\n"
    pieces[-1] += _TRAILER
    return tuple(pieces)


# Memo of 302 tails by route list, margin cut and sell prefix. The router answers with its
# precompiled list and how many of its routes are kept (``RouteAnswer.listed``, ``.kept``), so a
# list is known by its id(); the entry holds the list itself, so that id cannot be reused by
# another list while it is cached, and a hit is checked by identity: a pure cache, never stale,
# that never copies the kept routes. The snapshot is immutable, so one entry serves every number
# of a prefix.
_TAILS: dict[tuple[int, int | None, str | None, int | None], tuple[tuple[Route, ...], tuple[str, ...]]] = {}
_TAILS_MAX = 1 << 16


def _tail(answer: RouteAnswer) -> str:
    listed = answer.listed
    key = (id(listed), answer.kept, answer.prefix, answer.sell_rate)
    hit = _TAILS.get(key)
    if hit is None or hit[0] is not listed:
        if len(_TAILS) >= _TAILS_MAX:
            _TAILS.clear()
        hit = _TAILS[key] = (listed, _tail_template(answer.routes, answer.prefix, answer.sell_rate))
    return answer.number.join(hit[1])


def _redirect(req: Request, answer: RouteAnswer) -> bytes | None:
    """The 302: ``_respond``'s well-formed case, with the memoised tail, in one format."""
    to = req.to
    assert to is not None  # a parsed (not malformed) request has every header
    i = to.rfind(">")
    params = to[i:] if i >= 0 else to
    if ";" not in params or _TAG.search(params) is None:
        to = f"{to};tag={_to_tag(req)}"
    vias = req.vias
    via = vias[0] if len(vias) == 1 else "\r\nVia: ".join(vias)
    try:
        return (
            f"SIP/2.0 302 Moved Temporarily\r\nVia: {via}\r\nFrom: {req.from_}\r\nTo: {to}\r\n"
            f"Call-ID: {req.call_id}\r\nCSeq: {req.cseq}\r\n{_tail(answer)}"
        ).encode()
    except UnicodeEncodeError:  # pragma: no cover - a parsed request's values are valid UTF-8
        return None


def _hostport(gw: Gateway) -> str:
    host = gw.host
    if ":" in host and host[0] != "[":  # a bare IPv6 address
        host = f"[{host}]"
    return host if gw.port == 5060 else f"{host}:{gw.port}"


def _refuse(req: Request, exc: LcrError, c: Counters) -> bytes | None:
    cause = 0
    for cls, counter, q850 in _REFUSALS:
        if isinstance(exc, cls):
            setattr(c, counter, getattr(c, counter) + 1)
            cause = q850
            break
    else:
        if exc.sip_status == 400:
            c.bad_request += 1
        else:
            c.internal_errors += 1
    reason = f'Reason: Q.850;cause={cause};text="{exc.code}"\r\n' if cause else ""
    return _respond(req, f"{exc.sip_status} {exc.sip_reason}", reason + _warning(exc.message))


def _warning(text: str) -> str:
    """``Warning: 399 lcr "..."``: free text for a human, made safe for a quoted-string."""
    safe = _CTL.sub("?", text[:200]).replace("\\", "\\\\").replace('"', '\\"')
    safe = safe.encode("ascii", "backslashreplace").decode("ascii")
    return f'Warning: 399 {SERVER} "{safe}"\r\n'


def _to_tag(req: Request) -> str:
    key = f"{req.call_id}\x00{req.from_}\x00{req.cseq}\x00{req.vias[0]}"
    # CRC-32: 32 bits (RFC 3261 §19.3's minimum), stable across processes and restarts, cheaper
    # than blake2s (0.45 us instead of 0.77); a tag need not be secret, only the same for a
    # retransmission.
    return f"{crc32(key.encode('utf-8', 'surrogateescape')):08x}"


def _respond(req: Request, status: str, extra: str, *, checked: bool = True) -> bytes | None:
    """The response: status line, copied headers, ``extra`` (CRLF-terminated lines), no body.

    ``checked=False`` for a malformed request: a copied value with a control character or a
    non-UTF-8 byte makes the request unanswerable (None) rather than echoed.
    """
    to = req.to
    if to is not None:
        params = to[to.rfind(">") :] if ">" in to else to
        if ";" not in params or _TAG.search(params) is None:
            to = f"{to};tag={_to_tag(req)}"
    vias = req.vias
    if checked:  # a well-formed request: every header is there
        head = "Via: " + "\r\nVia: ".join(vias) if len(vias) > 1 else "Via: " + vias[0]
        head = f"{head}\r\nFrom: {req.from_}\r\nTo: {to}\r\nCall-ID: {req.call_id}\r\nCSeq: {req.cseq}\r\n"
    else:
        copied = [f"Via: {via}\r\n" for via in vias]
        if req.from_ is not None:
            copied.append(f"From: {req.from_}\r\n")
        if to is not None:
            copied.append(f"To: {to}\r\n")
        if req.call_id is not None:
            copied.append(f"Call-ID: {req.call_id}\r\n")
        if req.cseq is not None:
            copied.append(f"CSeq: {req.cseq}\r\n")
        head = "".join(copied)
    if not checked and _CTL.search(head.replace("\r\n", "")) is not None:
        return None
    try:
        return f"SIP/2.0 {status}\r\n{head}{extra}Server: {SERVER}\r\nContent-Length: 0\r\n\r\n".encode()
    except UnicodeEncodeError:  # a copied value with bytes that were not UTF-8
        return None
