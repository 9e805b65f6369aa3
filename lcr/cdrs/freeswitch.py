"""FreeSWITCH ``mod_cdr_csv`` files written with the default template.

No header; every field quoted; 15 fields per line::

    caller_id_name, caller_id_number, destination_number, context, start_stamp, answer_stamp,
    end_stamp, duration, billsec, hangup_cause, uuid, bleg_uuid, accountcode, read_codec,
    write_codec

Times are the switch's local time (``switch_tz``). ``call_id`` is the A-leg ``uuid``,
``customer`` the ``accountcode`` (through ``customer_aliases``), ``src`` the caller id number,
``dst`` the destination number. The template names no carrier: ``carrier`` is null and the
cost side of these calls stays unrated ("no carrier") unless the caller fills it in.

Disposition, from the call's own facts first, then ``hangup_cause``:

    answered (an answer_stamp, or billsec > 0), whatever the cause      ANSWERED
    NO_ANSWER, NO_USER_RESPONSE, ORIGINATOR_CANCEL (caller gave up)    NO ANSWER
    USER_BUSY                                                          BUSY
    any other cause (CALL_REJECTED, NORMAL_TEMPORARY_FAILURE, ...)     FAILED

So NORMAL_CLEARING with billsec > 0 is ANSWERED, and a call answered then cut by the network
(e.g. RECOVERY_ON_TIMER_EXPIRE after 30 s of talk) is ANSWERED too: it was talked and is billed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

from lcr.cdrs.batch import CdrBatch
from lcr.cdrs.lines import read_switch_csv

FIELDS = [
    "caller_id_name", "caller_id_number", "destination_number", "context", "start_stamp",
    "answer_stamp", "end_stamp", "duration", "billsec", "hangup_cause", "uuid", "bleg_uuid",
    "accountcode", "read_codec", "write_codec",
]
SOURCE_NAMES = {
    "call_id": "uuid",
    "customer": "accountcode",
    "src": "caller_id_number",
    "dst": "destination_number",
    "start_time": "start_stamp",
    "answer_time": "answer_stamp",
    "end_time": "end_stamp",
    "billsec": "billsec",
    "disposition": "hangup_cause",
}
NO_ANSWER_CAUSES = ["NO_ANSWER", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL"]


def disposition(cause: pl.Expr, answer: pl.Expr, billsec: pl.Expr) -> pl.Expr:
    cause = cause.str.strip_chars().str.to_uppercase()
    answered = (answer.str.strip_chars().fill_null("") != "") | (
        billsec.str.strip_chars().cast(pl.Int64, strict=False).fill_null(0) > 0
    )
    return (
        pl.when(answered)
        .then(pl.lit("ANSWERED"))
        .when(cause.is_in(NO_ANSWER_CAUSES))
        .then(pl.lit("NO ANSWER"))
        .when(cause == "USER_BUSY")
        .then(pl.lit("BUSY"))
        .otherwise(pl.lit("FAILED"))
    )


def read_freeswitch(
    path: Path, *, switch_tz: str, carrier_aliases: Mapping[str, str], customer_aliases: Mapping[str, str]
) -> CdrBatch:
    return read_switch_csv(path, FIELDS, _canonical, source_names=SOURCE_NAMES, switch_tz=switch_tz,
                           carrier_aliases=carrier_aliases, customer_aliases=customer_aliases)


def _canonical(f: pl.DataFrame) -> tuple[pl.DataFrame, pl.Expr]:
    text = f.select(
        "line",
        "raw",
        call_id=pl.col("uuid"),
        customer=pl.col("accountcode"),
        carrier=pl.lit(None, pl.String),
        src=pl.col("caller_id_number"),
        dst=pl.col("destination_number"),
        start_time=pl.col("start_stamp"),
        answer_time=pl.col("answer_stamp"),
        end_time=pl.col("end_stamp"),
        billsec=pl.col("billsec"),
        disposition=disposition(pl.col("hangup_cause"), pl.col("answer_stamp"), pl.col("billsec")),
    )
    early = pl.when(f["nfields"] != len(FIELDS)).then(
        pl.format("has {} fields, the mod_cdr_csv default template has " + str(len(FIELDS)), f["nfields"])
    )
    return text, early
