"""A lean parser for the SIP requests a redirect server answers (RFC 3261 §7, §18.3, §20).

It reads only what the answer needs: the request line, every Via (in order, each header line
as received, comma-joined values kept), From, To, Call-ID, CSeq and Content-Length. Other
headers are skipped, and the body is never read beyond checking that Content-Length fits.

Accepted leniently: any header-name case, compact forms (``v f t i m l``), whitespace around
the colon, header line folding (a line starting with SP/HTAB continues the previous one), and
bare LF line ends. Refused (``Malformed``): everything that would make the answer wrong.

``Malformed`` carries whatever was parsed before the error, so the handler answers 400 when
there is a Via to answer to, and stays silent when there is not.
"""

from __future__ import annotations

import re
from itertools import repeat
from urllib.parse import unquote

#: Larger datagrams are dropped unread (UDP over IPv4 carries at most 65,507 bytes anyway).
MAX_MESSAGE = 65_535

COMPACT = {
    "v": "via",
    "f": "from",
    "t": "to",
    "i": "call-id",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
    "e": "content-encoding",
    "k": "supported",
    "s": "subject",
}
_SINGLE = frozenset(("from", "to", "call-id", "cseq", "content-length"))
# Exact spellings seen on the wire -> the canonical name, or "" for a header never read.
_SPELLINGS: dict[str, str] = {
    **{n: "" for n in ("Max-Forwards", "Contact", "User-Agent", "Allow", "Supported", "Content-Type", "Expires",
                       "Route", "Record-Route", "P-Asserted-Identity", "Remote-Party-ID", "Session-Expires",
                       "Min-SE", "Accept", "Privacy", "Diversion", "Subject", "Date", "Server", "m", "c", "k")},
    **{n: n.lower() for n in ("Via", "From", "To", "Call-ID", "CSeq", "Content-Length")},
    **{n.lower(): n.lower() for n in ("Via", "From", "To", "Call-ID", "CSeq", "Content-Length")},
    **{"Call-Id": "call-id", "CALL-ID": "call-id", "VIA": "via", "FROM": "from", "TO": "to", "CSEQ": "cseq"},
    **{k: v for k, v in COMPACT.items() if v == "via" or v in ("from", "to", "call-id", "content-length")},
    **{k.upper(): v for k, v in COMPACT.items() if v == "via" or v in ("from", "to", "call-id", "content-length")},
}  # fmt: skip
_METHODS = frozenset(("INVITE", "ACK", "OPTIONS", "BYE", "CANCEL", "REGISTER", "INFO", "UPDATE", "PRACK",
                      "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE", "PUBLISH"))  # fmt: skip
_TOKEN = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+")
# Control characters other than HTAB; CR and LF are checked by counting (see parse()).
_CTL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


class Request:
    """The parts of one SIP request the redirect server uses. Values are as received (stripped)."""

    __slots__ = ("call_id", "cseq", "from_", "method", "to", "uri", "vias")

    def __init__(
        self,
        method: str,
        uri: str,
        vias: list[str],
        from_: str | None,
        to: str | None,
        call_id: str | None,
        cseq: str | None,
    ) -> None:
        self.method = method
        self.uri = uri
        self.vias = vias
        self.from_ = from_
        self.to = to
        self.call_id = call_id
        self.cseq = cseq


class Malformed(Exception):
    """A request that cannot be served. ``kind`` names its counter; ``partial`` is what was parsed."""

    def __init__(self, kind: str, reason: str, partial: Request | None, *, status: int = 400, phrase: str = "") -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.partial = partial
        self.status = status
        self.phrase = phrase or f"Bad Request ({reason})"


# The common request's header names, exactly as spelled on the wire: the six the server reads in
# their canonical spelling, and headers it skips. Any other name (a compact form, another
# spelling, folding) sends the request the general way (``_parse_general``).
_COMMON_NAMES = frozenset((
    "Via", "From", "To", "Call-ID", "CSeq", "Content-Length",
    *(n for n, canon in _SPELLINGS.items() if canon == "" and len(n) > 1),
    "Allow-Events", "Accept-Encoding", "Accept-Language", "Organization", "Require", "Proxy-Require", "Timestamp",
    "Call-Info", "Alert-Info", "Priority", "Reason", "P-Charging-Vector", "P-Preferred-Identity",
    "Content-Disposition",
))  # fmt: skip
_COLON, _ONCE = repeat(":"), repeat(1)  # str.split(line, ":", 1) by map()
# Control bytes, CR and LF included (not HTAB).
_CTL_CRLF_BYTES = bytes([*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F])


def parse_request(data: bytes) -> Request:
    """Parse one datagram known not to be a response. Raises ``Malformed``.

    The common request is read by ``_parse_common`` with a few C-level string operations; anything
    else, well-formed or not, by ``_parse_general``, line by line.
    """
    return _parse_common(data) or _parse_general(data)


def _parse_common(data: bytes) -> Request | None:
    """The common request (CRLF line ends, UTF-8, one Via, each header once under its canonical
    name or one the server skips, no folding, ``SIP/2.0``, a known method), or None for anything
    else. What it returns, ``_parse_general`` would return too (tests/sip/test_message.py checks
    that on the fuzz corpus)."""
    if data.endswith(b"\r\n\r\n"):  # no body (or a blank line earlier: no pair for it below)
        head = data[:-4]
    else:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = data[:end]
    if len(data) > MAX_MESSAGE:
        return None
    try:
        text = head.decode()
    except UnicodeDecodeError:
        return None
    lines = text.split("\r\n")
    # Every control byte of the head is a CR or LF of the CRLFs that split it (HTAB is allowed):
    # with k CRLFs, at least 2k bytes are deleted, exactly 2k only without a stray CR, LF or CTL.
    if len(head) - len(head.translate(None, _CTL_CRLF_BYTES)) != 2 * len(lines) - 2:
        return None
    try:
        method, uri, version = lines[0].split(" ")
        # a line without a colon (folding, garbage, a blank line) is no pair: ValueError
        headers = dict(map(str.split, lines[1:], _COLON, _ONCE))
    except ValueError:
        return None
    if (
        version != "SIP/2.0"
        or method not in _METHODS
        or not uri
        or len(headers) != len(lines) - 1  # a name seen twice (two Vias, say)
        or not (headers.keys() <= _COMMON_NAMES or _harmless(headers.keys() - _COMMON_NAMES))
    ):
        return None
    get = headers.get
    via, from_, to, call_id, cseq = get("Via"), get("From"), get("To"), get("Call-ID"), get("CSeq")
    if via is None or from_ is None or to is None or call_id is None or cseq is None:
        return None
    via, from_, to, call_id, cseq = via.strip(), from_.strip(), to.strip(), call_id.strip(), cseq.strip()
    number, _, cseq_method = cseq.partition(" ")
    if (
        not (via and from_ and to and call_id)
        or cseq_method != method
        or not number.isdigit()
        or not number.isascii()
        or len(number) > 10
        or int(number) >= 2**31
    ):
        return None
    clen = get("Content-Length")
    if clen is not None and clen != " 0":
        clen = clen.strip()
        if clen != "0" and (
            not clen.isdigit() or not clen.isascii() or len(clen) > 6 or int(clen) > len(data) - len(head) - 4
        ):
            return None
    return Request(method, uri, [via], from_, to, call_id, cseq)


def _harmless(names: set[str]) -> bool:
    """True when none of these header names is one the server reads (in any spelling) or a folded line."""
    for name in names:
        if not name or name[0] == " " or name[0] == "\t":
            return False
        canon = name.rstrip().lower()
        canon = COMPACT.get(canon, canon)
        if canon == "via" or canon in _SINGLE:
            return False
    return True


def _parse_general(data: bytes) -> Request:
    """Any request, line by line: lenient where RFC 3261 allows, ``Malformed`` where the answer would be wrong."""
    if len(data) > MAX_MESSAGE:
        raise Malformed("malformed_oversized", f"larger than {MAX_MESSAGE} bytes", None)
    end = data.find(b"\r\n\r\n")
    if end >= 0:
        head, body_len = data[:end], len(data) - end - 4
    else:
        end = data.find(b"\n\n")
        if end >= 0:
            head, body_len = data[:end], len(data) - end - 2
        else:  # no blank line: a truncated datagram, or one sent without it; judged below
            head, body_len = data.rstrip(b"\r\n"), 0

    error: tuple[str, str] | None = None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # Keep going to find a Via to answer to; copied values with bad bytes fail to encode later.
        text = head.decode("utf-8", "surrogateescape")
        error = ("malformed_not_utf8", "not UTF-8")
    if "\r\n" in text:
        lines = text.split("\r\n")
        if text.count("\r") != len(lines) - 1 or text.count("\n") != len(lines) - 1:
            error = error or ("malformed_header", "stray CR or LF")
    else:
        lines = text.split("\n")
        if "\r" in text:
            error = error or ("malformed_header", "stray CR")
    if error is None and len(head.translate(None, _CTL_BYTES)) != len(head):
        error = ("malformed_header", "control character")

    vias: list[str] = []
    single: dict[str, str] = {}
    last: str | None = None
    for line in lines[1:]:
        if not line:
            continue
        if line[0] == " " or line[0] == "\t":  # folding: continues the previous header
            if last == "via":
                vias[-1] = f"{vias[-1]} {line.strip()}"
            elif last is not None:
                single[last] = f"{single[last]} {line.strip()}"
            continue
        name, colon, value = line.partition(":")
        if not colon:
            error = error or ("malformed_header", "header line without a colon")
            last = None
            continue
        canon = _SPELLINGS.get(name)
        if canon is None:  # an unusual spelling: the slow way
            canon = name.rstrip().lower()
            canon = COMPACT.get(canon, canon)
            if canon != "via" and canon not in _SINGLE:
                canon = ""
        if not canon:  # a header the redirect server does not read
            last = None
            continue
        name = canon
        value = value.strip()
        if name == "via":
            if value:
                vias.append(value)
                last = "via"
            else:
                error = error or ("malformed_header", "empty Via")
                last = None
        elif name in _SINGLE:
            if name in single:
                error = error or ("malformed_header", f"duplicate {name} header")
            else:
                single[name] = value
            last = name
        else:
            last = None

    parts = lines[0].split(" ")
    if len(parts) == 3:
        method, uri, version = parts
    else:  # keep the first word: a malformed ACK must stay unanswered
        words = lines[0].split()
        method, uri, version = (words[0] if words else ""), "", ""
    partial = Request(
        method,
        uri,
        vias,
        single.get("from"),
        single.get("to"),
        single.get("call-id"),
        single.get("cseq"),
    )
    if len(parts) != 3 or not uri or (method not in _METHODS and _TOKEN.fullmatch(method) is None):
        raise Malformed("malformed_request_line", "bad request line", partial)
    if version != "SIP/2.0" and version.upper() != "SIP/2.0":
        raise Malformed("malformed_version", "not SIP/2.0", partial, status=505, phrase="Version Not Supported")
    if error is not None:
        raise Malformed(error[0], error[1], partial)
    if not (partial.from_ and partial.to and partial.call_id and partial.cseq and vias):
        for got, label in ((partial.from_, "From"), (partial.to, "To"), (partial.call_id, "Call-ID")):
            if not got:
                raise Malformed("malformed_missing_header", f"missing {label}", partial)
        raise Malformed("malformed_missing_header", "missing CSeq" if vias else "missing Via", partial)
    number, _, cseq_method = partial.cseq.partition(" ")
    if cseq_method != method:  # the common form "1 INVITE" failed: the general one
        words = partial.cseq.split()
        number, cseq_method = (words[0], words[1]) if len(words) == 2 else ("", "")
        if cseq_method != method:
            raise Malformed("malformed_cseq", "CSeq method mismatch" if number.isdigit() else "bad CSeq", partial)
    if not number.isdigit() or not number.isascii() or len(number) > 10 or int(number) >= 2**31:
        raise Malformed("malformed_cseq", "bad CSeq", partial)
    clen = single.get("content-length")
    if clen is not None and clen != "0":
        if not clen.isdigit() or not clen.isascii() or len(clen) > 6:
            raise Malformed("malformed_content_length", "bad Content-Length", partial)
        if int(clen) > body_len:
            raise Malformed("malformed_content_length", "truncated body", partial)
    return partial


def uri_user(uri: str) -> str | None:
    """The dialled number of a Request-URI: the user of ``sip:``/``sips:`` (user parameters and
    %-escapes undone), the number of ``tel:``; ``""`` without a user; ``None`` for other schemes."""
    scheme, colon, rest = uri.partition(":")
    if not colon:
        return None
    scheme = scheme.lower()
    if scheme == "sip" or scheme == "sips":
        at = rest.find("@")
        if at < 0:
            return ""
        user = rest[:at]
        semi = user.find(";")
        if semi >= 0:
            user = user[:semi]
    elif scheme == "tel":
        user = rest.partition(";")[0]
    else:
        return None
    if "%" in user:
        try:
            user = unquote(user, errors="strict")
        except UnicodeDecodeError:
            return None
    return user
