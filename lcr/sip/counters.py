"""Named counts of what the SIP server received and answered, for ``/metrics``.

One ``Counters`` per worker; the handler adds to it, nothing else. ``as_dict()`` is what an
exporter reads (``lcr_sip_<name>_total``); ``add()`` sums workers.

Every datagram lands in exactly one *outcome* count (``redirected``, ``options``, ``ack_absorbed``,
``method_not_allowed``, ``cancel_unmatched``, ``rejected_*``, ``bad_request``, ``dropped``, ``responses_ignored``,
``keepalives``, ``internal_errors``), so the outcomes sum to ``datagrams``. Malformed input is
counted a second time by *kind* (``malformed_*``), whether it was answered with a 400 or dropped.
The ``tcp_*`` counts are about connections, not messages (``lcr.sip.stream``), and are in no sum.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(slots=True)
class Counters:
    datagrams: int = 0
    # requests by method (parsed well enough to know the method)
    invites: int = 0
    # outcomes
    redirected: int = 0  # 302 with at least one Contact
    options: int = 0  # 200 to OPTIONS
    ack_absorbed: int = 0  # ACK: no answer (over UDP on Linux, the kernel drops ACKs unseen)
    method_not_allowed: int = 0  # 405 (BYE, REGISTER, INFO, ...)
    cancel_unmatched: int = 0  # 481 to CANCEL: no INVITE is ever pending here
    rejected_no_route: int = 0  # 404 No Route
    rejected_blocked: int = 0  # 403 Blocked Destination
    rejected_no_credit: int = 0  # 402 Insufficient Credit
    rejected_unknown_customer: int = 0  # 403 Unknown Customer
    rejected_bad_number: int = 0  # 400 Bad Request Number
    bad_request: int = 0  # 400 / 505 to a malformed request that could be answered
    dropped: int = 0  # malformed and unanswerable (no usable Via): silence
    responses_ignored: int = 0  # a SIP response (SIP/2.0 ...) sent to us
    keepalives: int = 0  # CRLF / NUL keep-alive pings
    internal_errors: int = 0  # a bug or a router failure: 500 when answerable, else silence
    # malformed input, by kind (in addition to bad_request or dropped)
    malformed_oversized: int = 0  # larger than MAX_MESSAGE
    malformed_not_utf8: int = 0  # header section is not UTF-8
    malformed_request_line: int = 0  # not "METHOD URI SIP/2.0", binary garbage
    malformed_version: int = 0  # not SIP/2.0 (505 when answerable)
    malformed_header: int = 0  # a header line without a colon, control characters
    malformed_missing_header: int = 0  # Via, From, To, Call-ID or CSeq missing
    malformed_cseq: int = 0  # CSeq not "number METHOD", or its method differs from the request line
    malformed_content_length: int = 0  # not a number, or larger than the body (truncated datagram)
    malformed_uri: int = 0  # INVITE Request-URI not sip:/sips:/tel:
    malformed_number: int = 0  # R-URI user absurdly long (never sent to the router)
    # TCP connections (not messages)
    tcp_accepted: int = 0  # connections served (those over the cap are not)
    tcp_refused: int = 0  # closed at once: the cap on open connections was reached
    tcp_idle_closed: int = 0  # closed by the server: no complete message for the idle timeout

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def add(self, other: Counters) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def prometheus(self, prefix: str = "lcr_sip") -> str:
        """The counts in Prometheus text format: ``lcr_sip_<name>_total <n>``, one counter each."""
        lines = []
        for name, value in self.as_dict().items():
            metric = f"{prefix}_{name}_total"
            lines += [f"# TYPE {metric} counter", f"{metric} {value}"]
        return "\n".join(lines) + "\n"
