"""The parser's two ways agree: whatever ``_parse_common`` (the fast way, for the common request)
returns, ``_parse_general`` (line by line) returns too, on the fuzz corpus of tests/sip/test_fuzz.py
and on Hypothesis' structured requests; and the fast way takes the common requests."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings

from lcr.sip.message import Malformed, Request, _parse_common, _parse_general, parse_request
from tests.sip.sipmsg import request
from tests.sip.test_fuzz import SEEDS, mutate, structured_requests

SIPP_INVITE = (
    b"INVITE sip:441234567890@127.0.0.1:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:40000;rport;branch=z9hG4bK-1-1-0\r\n"
    b"From: sipp <sip:sipp@127.0.0.1:40000>;tag=1SIPpTag001\r\n"
    b"To: <sip:441234567890@127.0.0.1:5060>\r\n"
    b"Call-ID: 1-1234@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: sip:sipp@127.0.0.1:40000\r\n"
    b"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
)
SDP = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
COMMON = [
    SIPP_INVITE,
    request(),
    request(body=SDP),
    request(extra=("User-Agent: softswitch 1.0", "X-Account: 17", "P-Asserted-Identity: <sip:1@x>")),
    request(from_="Jos\u00e9 <sip:j@x>;tag=1"),  # UTF-8 in a display name
]


def outcome(parse: object, data: bytes) -> tuple[object, ...]:
    try:
        r = parse(data)  # type: ignore[operator]
    except Malformed as bad:
        p = bad.partial
        return ("malformed", bad.kind, bad.reason, bad.status, None if p is None else fields(p))
    assert isinstance(r, Request)
    return ("ok", fields(r))


def fields(r: Request) -> tuple[object, ...]:
    return (r.method, r.uri, tuple(r.vias), r.from_, r.to, r.call_id, r.cseq)


def agree(data: bytes) -> bool:
    """The fast way returns what the general way returns (or declines); True when it did not decline."""
    fast = _parse_common(data)
    if fast is not None:
        assert outcome(_parse_general, data) == ("ok", fields(fast)), data
    assert outcome(parse_request, data) == outcome(_parse_general, data), data
    return fast is not None


@pytest.mark.parametrize("data", COMMON)
def test_common_requests_take_the_fast_way(data: bytes) -> None:
    assert agree(data)


@pytest.mark.parametrize(
    "data",
    [
        request(vias=("SIP/2.0/UDP a;branch=z9hG4bK1", "SIP/2.0/UDP b;branch=z9hG4bK2")),  # two Vias
        request(names={"Via": "v"}),  # a compact form
        request(names={"From": "FROM"}),  # another spelling
        request(eol="\n"),  # bare LF
        request(from_="<sip:a@x>\r\n ;tag=folded"),  # folding
        request(extra=("from: <sip:mallory@x>;tag=2",)),  # a second From, spelled otherwise
        request(extra=("Via : SIP/2.0/UDP c",)),  # a second Via, with a space before the colon
        SIPP_INVITE.replace(b"SIP/2.0\r\n", b"sip/2.0\r\n", 1),
        SIPP_INVITE.replace(b"1 INVITE", b"1 ACK"),
        SIPP_INVITE.replace(b"Content-Length: 0", b"Content-Length: 10"),  # truncated body
        SIPP_INVITE.replace(b"sipp <", b"si\x00pp <"),  # a control character
        SIPP_INVITE.replace(b"sipp <", b"si\rpp <"),  # a stray CR
        SIPP_INVITE.replace(b"sipp <", b"s\xffpp <"),  # not UTF-8
    ],
)
def test_other_requests_take_the_general_way(data: bytes) -> None:
    assert not agree(data)


def test_mutated_requests_agree() -> None:
    rng = random.Random(4)
    seeds = SEEDS + COMMON
    fast = 0
    for n in range(30_000):
        data = seeds[n % len(seeds)]
        if n % 3:  # a third unmutated or lightly mutated, so that the fast way is exercised too
            data = mutate(rng, data)
        fast += agree(data)
    assert fast > 10_000


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(structured_requests())
def test_structured_requests_agree(data: bytes) -> None:
    agree(data)
