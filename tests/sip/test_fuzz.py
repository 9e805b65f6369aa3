"""Fuzzing ``handle_datagram``: it never fails, and whatever it answers is a well-formed response.

Two parts: Hypothesis builds structurally varied requests (header names in any case and
compact form, folding, odd values, duplicates, missing headers); a seeded mutation loop throws
100,000+ mutated INVITEs (byte flips, truncations, insertions, header duplications, deletions
and swaps, huge numbers) at it for volume. "Never fails" is checked through the counters: the
handler swallows exceptions, so ``internal_errors`` must stay 0.
"""

from __future__ import annotations

import random
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lcr.sip.counters import Counters
from lcr.sip.handler import handle_datagram
from tests.sip.sipmsg import parse_response, request
from tests.sip.world import WorldSnapshot

SNAPSHOT = WorldSnapshot()
SOURCES = [("127.0.0.1", 5060), ("203.0.113.9", 5060)]
MUTATIONS = 100_000

SEEDS = [  # INVITEs only: the other methods come from the structured (Hypothesis) part
    request(),
    request(uri="sip:9901442071234567@x", vias=("SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b", "SIP/2.0/TCP c")),
    request(uri="sip:4930123456@x", names={"Via": "v", "From": "f", "To": "t", "Call-ID": "i"}),
    request(uri="sip:88112345@x", from_="<sip:a@x>\r\n ;tag=folded"),
    request(uri="sip:8802442071234567@x", eol="\n"),
    request(body="v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"),
    request(uri="tel:+442071234567", to="<tel:+442071234567>;tag=x"),
]
INSERTS = [
    b"\r\n",
    b"\n",
    b"\r",
    b":",
    b" ",
    b"\t",
    b"\x00",
    b"\xff",
    b"\xc3",
    b";tag=",
    b",",
    b"\r\n ",
    b"<",
    b">",
    b"@",
    b"%",
    b"%ff",
    b"SIP/2.0",
    b"INVITE",
    b"ACK ",
    b"\r\n\r\n",
    b"Content-Length: 99999\r\n",
]


def check(data: bytes, counters: Counters, source: tuple[str, int] = SOURCES[0]) -> None:
    answer = handle_datagram(data, source, SNAPSHOT, counters)
    assert counters.internal_errors == 0, data
    if answer is not None:
        response = parse_response(answer)
        assert not data.startswith(b"ACK "), data
        squeezed = "".join(data.decode("utf-8", "replace").split())  # folding joins lines with a space
        for via in response.all("Via"):
            assert "".join(via.split()) in squeezed, (via, data)
        if response.status == 302:
            assert 1 <= len(response.contacts()) <= 16


def mutate(rng: random.Random, data: bytes) -> bytes:
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(7)
        if kind == 0 and data:  # byte flips
            b = bytearray(data)
            for _ in range(rng.randint(1, 4)):
                b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
            data = bytes(b)
        elif kind == 1:  # truncation
            data = data[: rng.randrange(len(data) + 1)]
        elif kind == 2:  # insertion of an interesting or random chunk
            chunk = rng.choice(INSERTS) if rng.random() < 0.7 else rng.randbytes(rng.randint(1, 8))
            at = rng.randrange(len(data) + 1)
            data = data[:at] + chunk + data[at:]
        else:  # line-level: duplicate, delete, swap, or make the number absurd
            lines = data.split(b"\r\n")
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            if kind == 3:
                lines.insert(j, lines[i])
            elif kind == 4 and len(lines) > 1:
                del lines[i]
            elif kind == 5:
                lines[i], lines[j] = lines[j], lines[i]
            else:
                lines[0] = lines[0].replace(b"sip:", b"sip:" + b"9" * rng.choice((33, 64, 65, 500)), 1)
            data = b"\r\n".join(lines)
    return data


def test_mutated_invites() -> None:
    rng = random.Random(20261123)
    counters = Counters()
    started = time.perf_counter()
    for n in range(MUTATIONS):
        check(mutate(rng, SEEDS[n % len(SEEDS)]), counters, SOURCES[n % 2])
    elapsed = time.perf_counter() - started
    d = counters.as_dict()
    assert d["datagrams"] == MUTATIONS
    # the mutations reach every kind of outcome, not only one rejection
    for name in (
        "redirected",
        "bad_request",
        "dropped",
        "rejected_unknown_customer",
        "malformed_cseq",
        "malformed_header",
        "malformed_not_utf8",
        "malformed_content_length",
        "malformed_request_line",
    ):
        assert d[name] > 0, name
    print(f"{MUTATIONS} mutated datagrams in {elapsed:.1f} s")  # ~3 s on an idle machine; not asserted


NAMES = {
    "Via": ["Via", "via", "VIA", "v", "V"],
    "From": ["From", "from", "f", "FROM"],
    "To": ["To", "to", "t", "TO"],
    "Call-ID": ["Call-ID", "call-id", "i", "CALL-ID"],
    "CSeq": ["CSeq", "cseq", "CSEQ"],
}
value_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)  # type: ignore[arg-type]


@st.composite
def structured_requests(draw: st.DrawFn) -> bytes:
    method = draw(st.sampled_from(["INVITE", "INVITE", "OPTIONS", "ACK", "BYE", "CANCEL", "REGISTER", "FOO"]))
    user = draw(st.one_of(st.from_regex(r"(\+|00|011|9901|8802)?[0-9]{1,40}", fullmatch=True), value_text))
    uri = draw(st.sampled_from(["sip:{}@lcr.example", "sips:{}@x;user=phone", "tel:{}", "sip:{};npdi@x", "{}"])).format(
        user
    )
    lines = [f"{method} {uri} {draw(st.sampled_from(['SIP/2.0', 'SIP/2.0', 'sip/2.0', 'SIP/1.0']))}"]
    headers = []
    for _ in range(draw(st.integers(0, 3))):
        via = "SIP/2.0/UDP " + draw(st.sampled_from(["a", "192.0.2.1:5060", "[2001:db8::1]"]))
        via += ";branch=z9hG4bK" + draw(st.from_regex(r"[a-z0-9]{0,8}", fullmatch=True))
        headers.append(("Via", via + (", SIP/2.0/TCP b" if draw(st.booleans()) else "")))
    for name, value in [("From", "<sip:a@x>;tag=1"), ("To", "<sip:b@x>"), ("Call-ID", "c@x")]:
        if draw(st.integers(0, 9)):
            headers.append((name, draw(st.one_of(st.just(value), value_text))))
    if draw(st.integers(0, 9)):
        cseq_method = draw(st.sampled_from([method, method, "INVITE", "ACK"]))
        headers.append(("CSeq", f"{draw(st.integers(0, 2**32))} {cseq_method}"))
    headers += draw(
        st.lists(st.tuples(st.sampled_from(["X-Foo", "Subject", "m", "l", "Max-Forwards"]), value_text), max_size=3)
    )
    headers = draw(st.permutations(headers))
    for name, value in headers:
        shown = draw(st.sampled_from(NAMES.get(name, [name])))
        sep = draw(st.sampled_from([": ", ":", " : ", ":\t"]))
        if draw(st.integers(0, 19)) == 0 and " " in value:  # folding
            value = value.replace(" ", "\r\n ", 1)
        lines.append(f"{shown}{sep}{value}")
    eol = draw(st.sampled_from(["\r\n", "\r\n", "\n"]))
    return (eol.join(lines) + eol + eol).encode()


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(structured_requests(), st.sampled_from(SOURCES))
def test_structured_requests(data: bytes, source: tuple[str, int]) -> None:
    check(data, Counters(), source)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.binary(max_size=600))
def test_arbitrary_bytes(data: bytes) -> None:
    check(data, Counters())
