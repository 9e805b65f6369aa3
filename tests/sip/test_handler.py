"""Table tests of ``handle_datagram``: one datagram in, the answer (or silence) and the counters out."""

from __future__ import annotations

import itertools

import pytest

from lcr.errors import LcrError
from lcr.model import Gateway
from lcr.routing.answer import Route, RouteAnswer
from lcr.sip import handler
from lcr.sip.counters import Counters
from lcr.sip.handler import MAX_CONTACTS, QVALUES, handle_datagram
from lcr.sip.message import MAX_MESSAGE
from lcr.sip.snapshot import RouteSnapshot
from tests.sip.sipmsg import VIA, parse_response, request
from tests.sip.world import WorldSnapshot, real_snapshot

GLOBEX = ("127.0.0.1", 5060)  # globex's source IP
STRANGER = ("203.0.113.9", 5060)  # no customer's IP

GOOD = request()
HEADERS_ONLY = GOOD.split(b"\r\n\r\n")[0]


# (id, datagram, source, expected status or None for silence, counters that must read 1)
CASES = [
    # a routable number from globex's IP: 302, two Contacts
    ("invite-302", GOOD, GLOBEX, 302, ["invites", "redirected"]),
    # the same number with a leading + as an E.164 tel-style user: the router normalises it
    ("invite-plus", request(uri="sip:+442071234567@lcr.example;user=phone"), GLOBEX, 302, ["redirected"]),
    # a tel: Request-URI
    ("invite-tel-uri", request(uri="tel:+442071234567"), GLOBEX, 302, ["redirected"]),
    # unknown source IP, user starts with globex's tech prefix 9901: globex's routes
    ("tech-prefix-customer", request(uri="sip:9901442071234567@x"), STRANGER, 302, ["redirected"]),
    # unknown source IP and no tech prefix: not an open relay
    ("unknown-customer", GOOD, STRANGER, 403, ["rejected_unknown_customer"]),
    # not in globex's deck
    ("no-route", request(uri="sip:99912345@x"), GLOBEX, 404, ["rejected_no_route"]),
    # in the deck, but every carrier is above the sell rate
    ("no-carrier-left", request(uri="sip:33123456@x"), GLOBEX, 404, ["rejected_no_route"]),
    # blocked in globex's deck
    ("blocked", request(uri="sip:88112345@x"), GLOBEX, 403, ["rejected_blocked"]),
    # initech (tech prefix 8802) is out of credit
    ("no-credit", request(uri="sip:8802442071234567@x"), STRANGER, 402, ["rejected_no_credit"]),
    # letters in the number: the router says malformed
    ("bad-number", request(uri="sip:44abc@x"), GLOBEX, 400, ["rejected_bad_number"]),
    # no user part at all
    ("no-user", request(uri="sip:lcr.example"), GLOBEX, 400, ["rejected_bad_number"]),
    # 500 digits: refused before the router sees it
    ("absurd-number", request(uri="sip:" + "4" * 500 + "@x"), GLOBEX, 400, ["rejected_bad_number", "malformed_number"]),
    # an http: Request-URI
    ("uri-scheme", request(uri="http://example.com/"), GLOBEX, 416, ["malformed_uri", "bad_request"]),
    # OPTIONS keep-alive, from anyone
    ("options", request("OPTIONS", "sip:lcr.example"), STRANGER, 200, ["options"]),
    # ACK to our 302: absorbed
    ("ack", request("ACK"), GLOBEX, None, ["ack_absorbed"]),
    # BYE: not ours
    ("bye-405", request("BYE"), GLOBEX, 405, ["method_not_allowed"]),
    # REGISTER: not a registrar
    ("register-405", request("REGISTER", "sip:lcr.example"), GLOBEX, 405, ["method_not_allowed"]),
    # CANCEL: no INVITE is ever pending in a stateless redirect server (RFC 3261 §9.2)
    ("cancel-481", request("CANCEL"), GLOBEX, 481, ["cancel_unmatched"]),
    # a response sent to us: ignored
    ("response", b"SIP/2.0 200 OK\r\nVia: " + VIA.encode() + b"\r\n\r\n", GLOBEX, None, ["responses_ignored"]),
    # CRLF keep-alive
    ("keepalive-crlf", b"\r\n\r\n", GLOBEX, None, ["keepalives"]),
    # NUL keep-alive
    ("keepalive-nul", b"\x00\x00\x00\x00", GLOBEX, None, ["keepalives"]),
    # bigger than any UDP datagram: dropped unread
    ("oversized", GOOD + b"x" * MAX_MESSAGE, GLOBEX, None, ["malformed_oversized", "dropped"]),
    # binary garbage: no Via to answer to
    ("binary", bytes(range(256)) * 4, GLOBEX, None, ["malformed_request_line", "dropped"]),
    # a Latin-1 byte in a header we do not copy: 400
    (
        "not-utf8-answerable",
        request(extra=("Subject: caf\xe9",)).replace(b"caf\xc3\xa9", b"caf\xe9"),
        GLOBEX,
        400,
        ["malformed_not_utf8", "bad_request"],
    ),
    # a Latin-1 byte in From, which a 400 would have to copy: silence
    (
        "not-utf8-in-from",
        request(from_="Jos\xe9 <sip:j@x>;tag=1").replace(b"\xc3\xa9", b"\xe9"),
        GLOBEX,
        None,
        ["malformed_not_utf8", "dropped"],
    ),
    # truncated in the middle of the headers (CSeq cut): no Via lost, so 400
    ("truncated-headers", GOOD[: GOOD.index(b"CSeq") + 8], GLOBEX, 400, ["malformed_cseq", "bad_request"]),
    # truncated body: Content-Length says more than arrived (RFC 3261 §18.3)
    (
        "truncated-body",
        request(body="v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n")[:-10],
        GLOBEX,
        400,
        ["malformed_content_length", "bad_request"],
    ),
    # Content-Length not a number
    (
        "bad-content-length",
        GOOD.replace(b"Content-Length: 0", b"Content-Length: zero"),
        GLOBEX,
        400,
        ["malformed_content_length", "bad_request"],
    ),
    # truncated in the request line: nothing to answer to
    ("truncated-request-line", GOOD[:20], GLOBEX, None, ["malformed_request_line", "dropped"]),
    # no Via: nowhere to answer
    ("missing-via", request(vias=()), GLOBEX, None, ["malformed_missing_header", "dropped"]),
    # no From / To / Call-ID / CSeq: 400, since there is a Via
    ("missing-from", request(from_=None), GLOBEX, 400, ["malformed_missing_header", "bad_request"]),
    ("missing-to", request(to=None), GLOBEX, 400, ["malformed_missing_header", "bad_request"]),
    ("missing-call-id", request(call_id=None), GLOBEX, 400, ["malformed_missing_header", "bad_request"]),
    ("missing-cseq", request(cseq=None), GLOBEX, 400, ["malformed_missing_header", "bad_request"]),
    # CSeq method differs from the request line
    ("cseq-mismatch", request(cseq="1 BYE"), GLOBEX, 400, ["malformed_cseq", "bad_request"]),
    # CSeq number not a 32-bit number
    ("cseq-huge", request(cseq="99999999999 INVITE"), GLOBEX, 400, ["malformed_cseq", "bad_request"]),
    # two From headers
    (
        "duplicate-from",
        request(extra=("From: <sip:mallory@x>;tag=2",)),
        GLOBEX,
        400,
        ["malformed_header", "bad_request"],
    ),
    # a header line without a colon
    ("header-no-colon", request(extra=("Garbage line",)), GLOBEX, 400, ["malformed_header", "bad_request"]),
    # a NUL in a header we do not copy: 400
    ("control-char", request(extra=("Subject: a\x00b",)), GLOBEX, 400, ["malformed_header", "bad_request"]),
    # a NUL inside the Call-ID we would copy: silence
    ("control-char-copied", request(call_id="a\x01b"), GLOBEX, None, ["malformed_header", "dropped"]),
    # SIP/3.0: 505
    ("version", GOOD.replace(b" SIP/2.0\r\n", b" SIP/3.0\r\n", 1), GLOBEX, 505, ["malformed_version", "bad_request"]),
    # request line with four parts
    (
        "request-line-spaces",
        GOOD.replace(b"INVITE sip:", b"INVITE  sip:", 1),
        GLOBEX,
        400,
        ["malformed_request_line", "bad_request"],
    ),
    # a malformed ACK is never answered (never even parsed)
    ("malformed-ack", request("ACK", cseq="1 INVITE"), GLOBEX, None, ["ack_absorbed"]),
    # a malformed request whose first word is ACK: silence, not a 400
    (
        "malformed-ack-line",
        b" ACK sip:1@x SIP/2.0\r\n" + GOOD.split(b"\r\n", 1)[1],
        GLOBEX,
        None,
        ["malformed_request_line", "dropped"],
    ),
]


@pytest.fixture(scope="module", params=["in-test", "lcr.routing"])
def snapshot(request: pytest.FixtureRequest) -> object:
    """The test world as the in-test fake, and as compiled by the real router."""
    return WorldSnapshot() if request.param == "in-test" else real_snapshot()


@pytest.mark.parametrize(("data", "source", "status", "counts"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_table(
    snapshot: RouteSnapshot, data: bytes, source: tuple[str, int], status: int | None, counts: list[str]
) -> None:
    counters = Counters()
    answer = handle_datagram(data, source, snapshot, counters)
    if status is None:
        assert answer is None
    else:
        assert answer is not None
        assert parse_response(answer).status == status
    expected = {"datagrams": 1, **dict.fromkeys(counts, 1)}
    if status == 302 or "rejected_" in " ".join(counts) or (data.startswith(b"INVITE") and status in (416, 500)):
        expected.setdefault("invites", 1)
    assert {k: v for k, v in counters.as_dict().items() if v} == expected


def test_every_counter_is_exercised_by_the_table() -> None:
    # internal_errors has its own tests below; the tcp_* counts (connections) are in test_tcp.py
    seen = {"datagrams", "invites", "internal_errors"} | {name for case in CASES for name in case[4]}
    assert seen == {name for name in Counters.names() if not name.startswith("tcp_")}


def test_outcomes_sum_to_datagrams() -> None:
    counters = Counters()
    for _id, data, source, _status, _counts in CASES:
        handle_datagram(data, source, WorldSnapshot(), counters)
    d = counters.as_dict()
    outcomes = sum(
        v for k, v in d.items() if k not in ("datagrams", "invites") and not k.startswith(("malformed_", "tcp_"))
    )
    assert outcomes == d["datagrams"] == len(CASES)


def answer(data: bytes, source: tuple[str, int] = GLOBEX, snapshot: object = None):
    raw = handle_datagram(data, source, snapshot or WorldSnapshot())  # type: ignore[arg-type]
    assert raw is not None
    return parse_response(raw)


def test_302_copies_headers_and_lists_contacts_in_least_cost_order() -> None:
    r = answer(GOOD)
    assert (r.status, r.reason) == (302, "Moved Temporarily")
    assert r.all("Via") == [VIA]
    assert r.one("From") == "<sip:alice@198.51.100.7>;tag=f1"
    assert r.one("Call-ID") == "call-1@198.51.100.7"
    assert r.one("CSeq") == "1 INVITE"
    assert r.one("To").startswith("<sip:442071234567@lcr.example>;tag=")
    # acme (0.010, tech prefix 4455) before borealis (0.012, port 5080)
    assert r.contacts() == [
        ("4455442071234567", "192.0.2.10", "1.0"),
        ("442071234567", "gw.borealis.example:5080", "0.9"),
    ]
    assert r.one("X-LCR-Prefix") == "4420"
    assert r.one("X-LCR-Sell-Rate") == "0.040000"


def test_number_in_contact_is_the_routers_normalised_number() -> None:
    # 9901 (globex tech prefix) + 00 + number: the Contact carries the bare digits
    r = answer(request(uri="sip:990100442071234567@x"), STRANGER)
    assert [c[0] for c in r.contacts()] == ["4455442071234567", "442071234567"]


def test_router_gets_the_user_as_received_and_the_customer() -> None:
    snap = WorldSnapshot()
    answer(request(uri="sip:9901%2B442071234567;npdi@x;user=phone"), STRANGER, snap)
    assert snap.calls == [("9901+442071234567", "globex")]


# Via forms: each header line is copied as received, in order
@pytest.mark.parametrize(
    ("vias", "names", "expected"),
    [
        # two Via headers
        (
            ("SIP/2.0/UDP a:5060;branch=z9hG4bK1", "SIP/2.0/UDP b;branch=z9hG4bK2"),
            None,
            ["SIP/2.0/UDP a:5060;branch=z9hG4bK1", "SIP/2.0/UDP b;branch=z9hG4bK2"],
        ),
        # one Via header with two comma-joined values, then a third header
        (
            ("SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP b;branch=z9hG4bK2", "SIP/2.0/UDP c;branch=z9hG4bK3"),
            None,
            ["SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP b;branch=z9hG4bK2", "SIP/2.0/UDP c;branch=z9hG4bK3"],
        ),
        # compact form v:
        (
            ("SIP/2.0/UDP a;branch=z9hG4bK1", "SIP/2.0/UDP b;branch=z9hG4bK2"),
            {"Via": "v"},
            ["SIP/2.0/UDP a;branch=z9hG4bK1", "SIP/2.0/UDP b;branch=z9hG4bK2"],
        ),
        # odd case
        (("SIP/2.0/UDP a;branch=z9hG4bK1",), {"Via": "vIA"}, ["SIP/2.0/UDP a;branch=z9hG4bK1"]),
        # rport and received kept
        (
            ("SIP/2.0/UDP a;rport=5062;received=192.0.2.1;branch=z9hG4bK1",),
            None,
            ["SIP/2.0/UDP a;rport=5062;received=192.0.2.1;branch=z9hG4bK1"],
        ),
    ],
)
def test_via_copying(vias: tuple[str, ...], names: dict[str, str] | None, expected: list[str]) -> None:
    assert answer(request(vias=vias, names=names)).all("Via") == expected


def test_compact_forms_and_header_case() -> None:
    data = request(names={"From": "f", "To": "T", "Call-ID": "i", "CSeq": "cseq"}).replace(b"Content-Length:", b"l:")
    r = answer(data)
    assert r.status == 302
    assert r.one("From") == "<sip:alice@198.51.100.7>;tag=f1"
    assert r.one("Call-ID") == "call-1@198.51.100.7"


def test_whitespace_before_colon_and_bare_lf_line_ends() -> None:
    assert answer(GOOD.replace(b"Call-ID:", b"Call-ID  :")).one("Call-ID") == "call-1@198.51.100.7"
    assert answer(request(eol="\n")).status == 302


def test_folded_header_lines_are_unfolded() -> None:
    data = request(vias=("SIP/2.0/UDP a:5060\r\n ;branch=z9hG4bK1",), from_="<sip:alice@x>\r\n\t;tag=f1")
    r = answer(data)
    assert r.status == 302
    assert r.all("Via") == ["SIP/2.0/UDP a:5060 ;branch=z9hG4bK1"]
    assert r.one("From") == "<sip:alice@x> ;tag=f1"


def test_to_tag_is_stable_on_retransmission_and_differs_between_calls() -> None:
    first = answer(GOOD).one("To")
    assert answer(GOOD).one("To") == first  # a retransmission: the very same tag
    assert handle_datagram(GOOD, GLOBEX, WorldSnapshot()) == handle_datagram(GOOD, GLOBEX, WorldSnapshot())
    assert answer(request(call_id="call-2@x")).one("To") != first
    assert answer(request(vias=("SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-2",))).one("To") != first


def test_existing_to_tag_is_kept() -> None:
    assert answer(request(to="<sip:1@x>;tag=abc")).one("To") == "<sip:1@x>;tag=abc"
    # a tag URI parameter inside <> is not a To tag
    assert answer(request(to="<sip:1@x;tag=in-uri>")).one("To").startswith("<sip:1@x;tag=in-uri>;tag=")


def test_sixteen_contact_cap_and_strictly_decreasing_q() -> None:
    r = answer(request(uri="sip:4930123456@x"))  # 20 carriers on 49
    contacts = r.contacts()
    assert len(contacts) == MAX_CONTACTS
    qs = [float(q) for _u, _h, q in contacts]
    assert qs == sorted(qs, reverse=True) and len(set(qs)) == len(qs)
    assert qs[0] == 1.0 and qs[1] == 0.95


@pytest.mark.parametrize("n", range(1, MAX_CONTACTS + 1))
def test_qvalues_are_valid_and_strictly_decreasing(n: int) -> None:
    qs = QVALUES[n]
    assert len(qs) == n and qs[0] == "1.0"
    for q in qs:
        whole, _, frac = q.partition(".")
        assert whole in ("0", "1") and len(frac) <= 3 and 0 <= float(q) <= 1
    assert all(float(a) > float(b) for a, b in itertools.pairwise(qs))


def test_reject_headers_name_the_reason() -> None:
    r = answer(request(uri="sip:99912345@x"))
    assert (r.status, r.reason) == (404, "No Route")
    assert r.one("Reason") == 'Q.850;cause=3;text="NO_ROUTE"'
    assert r.one("Warning").startswith('399 lcr "')
    assert answer(GOOD, STRANGER).reason == "Unknown Customer"
    assert answer(request(uri="sip:88112345@x")).reason == "Blocked Destination"
    assert answer(request(uri="sip:8802442071234567@x"), STRANGER).reason == "Insufficient Credit"
    assert answer(request(uri="sip:44abc@x")).reason.startswith("Bad Request")
    assert answer(request(cseq="1 BYE")).reason == "Bad Request (CSeq method mismatch)"


def test_options_and_405_advertise_allow() -> None:
    assert answer(request("OPTIONS", "sip:lcr.example")).one("Allow") == "INVITE, ACK, OPTIONS"
    assert answer(request("BYE")).one("Allow") == "INVITE, ACK, OPTIONS"


class _Broken:
    """A snapshot whose router fails in an unexpected way."""

    def customer_by_source_ip(self, ip: str) -> str | None:
        return "globex"

    def customer_by_tech_prefix(self, user: str) -> str | None:
        return None

    def lookup(self, number: str, customer: str | None = None) -> RouteAnswer:
        raise RuntimeError("bug")


class _Refusing(_Broken):
    def lookup(self, number: str, customer: str | None = None) -> RouteAnswer:
        raise LcrError("generic")


def test_router_failure_is_a_500_not_an_exception() -> None:
    counters = Counters()
    raw = handle_datagram(GOOD, GLOBEX, _Broken(), counters)
    assert raw is not None and parse_response(raw).status == 500
    assert counters.internal_errors == 1
    raw = handle_datagram(GOOD, GLOBEX, _Refusing(), counters)
    assert raw is not None and parse_response(raw).status == 500
    assert counters.internal_errors == 2


def test_a_bug_in_the_handler_is_silence_not_an_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    def bug(data: bytes) -> None:
        raise IndexError("a bug")

    monkeypatch.setattr(handler, "parse_request", bug)
    counters = Counters()
    assert handle_datagram(GOOD, GLOBEX, WorldSnapshot(), counters) is None
    assert counters.internal_errors == 1


def test_headers_only_datagram_without_blank_line_is_answered() -> None:
    # some senders omit the final blank line; nothing is missing, so answer
    assert answer(HEADERS_ONLY).status == 302


END = "Server: lcr\r\nContent-Length: 0\r\n\r\n"


def test_contact_memo_tells_apart_lists_with_the_same_first_route() -> None:
    # the 302 tail memo is keyed by (list, margin cut, sell prefix, sell rate): lists that start alike
    a = Route("a", Gateway("192.0.2.1"), "11", "44", 1)
    b = Route("b", Gateway("192.0.2.2"), "", "44", 2)
    c = Route("c", Gateway("192.0.2.3", 5080), "33", "44", 3)
    first = handler._tail(RouteAnswer("4412", None, None, None, (a, b)))
    second = handler._tail(RouteAnswer("4499", None, None, None, (a, c)))
    assert first == "Contact: <sip:114412@192.0.2.1>;q=1.0\r\nContact: <sip:4412@192.0.2.2>;q=0.9\r\n" + END
    assert second == "Contact: <sip:114499@192.0.2.1>;q=1.0\r\nContact: <sip:334499@192.0.2.3:5080>;q=0.9\r\n" + END


def test_contact_memo_tells_apart_margin_cuts_of_one_list() -> None:
    # one compiled list, cut by different customers' margins: one tail per cut
    a = Route("a", Gateway("192.0.2.1"), "", "44", 1)
    b = Route("b", Gateway("192.0.2.2"), "", "44", 2)
    listed = (a, b)
    tails = [handler._tail(RouteAnswer("4412", None, None, None, listed, kept)) for kept in (1, 2, None, 1)]
    one = "Contact: <sip:4412@192.0.2.1>;q=1.0\r\n" + END
    two = "Contact: <sip:4412@192.0.2.1>;q=1.0\r\nContact: <sip:4412@192.0.2.2>;q=0.9\r\n" + END
    assert tails == [one, two, two, one]


def test_tail_memo_tells_apart_sell_prefixes_and_rates() -> None:
    # one route list shared by two sell prefixes (or two rates of one prefix): one tail each
    a = Route("a", Gateway("192.0.2.1"), "", "44", 1)
    tails = [
        handler._tail(RouteAnswer("4412", prefix, None, rate, (a,)))
        for prefix, rate in (("44", 10_000), ("441", 10_000), ("44", 2_500_000), (None, None))
    ]
    contact = "Contact: <sip:4412@192.0.2.1>;q=1.0\r\n"
    assert tails == [
        contact + "X-LCR-Prefix: 44\r\nX-LCR-Sell-Rate: 0.010000\r\n" + END,
        contact + "X-LCR-Prefix: 441\r\nX-LCR-Sell-Rate: 0.010000\r\n" + END,
        contact + "X-LCR-Prefix: 44\r\nX-LCR-Sell-Rate: 2.500000\r\n" + END,
        contact + END,
    ]


def test_ipv6_gateway_is_bracketed() -> None:
    r = Route("v6", Gateway("2001:db8::1", 5070), "", "44", 1)
    text = handler._tail(RouteAnswer("4412", None, None, None, (r,)))
    assert text == "Contact: <sip:4412@[2001:db8::1]:5070>;q=1.0\r\n" + END
