"""Test helpers: build SIP requests, and parse responses strictly (what a softswitch would accept)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_STATUS = re.compile(r"SIP/2\.0 ([1-6]\d\d) ([^\x00-\x1f\x7f]*)")
_HEADER = re.compile(r"([A-Za-z0-9.!%*_+`'~-]+): ?([^\x00-\x08\x0a-\x1f\x7f]*)")
_CONTACT = re.compile(r"<sip:([^@>]+)@([^>]+)>;q=(1\.0{0,3}|0(?:\.\d{0,3})?)")


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]

    def all(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def one(self, name: str) -> str:
        values = self.all(name)
        assert len(values) == 1, (name, self.headers)
        return values[0]

    def contacts(self) -> list[tuple[str, str, str]]:
        """(user, hostport, q) of each Contact, in order; each must match the contract's form."""
        out = []
        for value in self.all("Contact"):
            m = _CONTACT.fullmatch(value)
            assert m, value
            out.append((m.group(1), m.group(2), m.group(3)))
        return out


def parse_response(data: bytes) -> Response:
    """Parse a response or fail an assertion: status line, headers, blank line, no body."""
    text = data.decode("utf-8")  # strict: responses are UTF-8
    assert text.endswith("\r\n\r\n"), text
    lines = text[:-4].split("\r\n")
    m = _STATUS.fullmatch(lines[0])
    assert m, lines[0]
    headers = []
    for line in lines[1:]:
        h = _HEADER.fullmatch(line)
        assert h, line
        headers.append((h.group(1), h.group(2)))
    resp = Response(int(m.group(1)), m.group(2), headers)
    assert resp.one("Content-Length") == "0"
    return resp


VIA = "SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-1"


def request(
    method: str = "INVITE",
    uri: str = "sip:442071234567@lcr.example",
    *,
    vias: tuple[str, ...] = (VIA,),
    from_: str | None = "<sip:alice@198.51.100.7>;tag=f1",
    to: str | None = "<sip:442071234567@lcr.example>",
    call_id: str | None = "call-1@198.51.100.7",
    cseq: str | None = "",  # "": "1 METHOD"; None: no CSeq
    extra: tuple[str, ...] = (),
    body: str = "",
    names: dict[str, str] | None = None,
    eol: str = "\r\n",
) -> bytes:
    """A SIP request; ``names`` renames headers (e.g. ``{"Via": "v"}`` for compact forms)."""
    n = {"Via": "Via", "From": "From", "To": "To", "Call-ID": "Call-ID", "CSeq": "CSeq"}
    n.update(names or {})
    lines = [f"{method} {uri} SIP/2.0"]
    lines += [f"{n['Via']}: {v}" for v in vias]
    if from_ is not None:
        lines.append(f"{n['From']}: {from_}")
    if to is not None:
        lines.append(f"{n['To']}: {to}")
    if call_id is not None:
        lines.append(f"{n['Call-ID']}: {call_id}")
    if cseq is not None:
        lines.append(f"{n['CSeq']}: {cseq or '1 ' + method}")
    lines += ["Max-Forwards: 70", *extra, f"Content-Length: {len(body.encode())}"]
    return (eol.join(lines) + eol + eol + body).encode()
