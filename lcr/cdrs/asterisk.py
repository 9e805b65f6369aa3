"""Asterisk ``Master.csv`` (``cdr_csv``): no header, one call per line::

    accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata, start, answer,
    end, duration, billsec, disposition, amaflags[, uniqueid[, userfield]]

16 to 18 fields (``uniqueid`` and ``userfield`` are optional in ``cdr_csv``). Times are the
switch's local time (``switch_tz``). ``call_id`` is ``uniqueid``; without it, the channel name
and start (``SIP/globex-00000001@2026-11-03 10:00:00``), unique on one switch.
``customer`` is the ``accountcode``. ``carrier`` is the peer the call left through: the peer of
``dstchannel`` (``SIP/acme-00000002`` -> ``acme``, also ``PJSIP/`` and ``IAX2/``), else, when
``dstchannel`` is empty (the call was not bridged), the first peer dialled in ``lastdata``
(``SIP/delta/1212...,60`` or ``SIP/1212...@delta`` -> ``delta``, ``PJSIP/1212...@delta`` ->
``delta``); peer names go through ``carrier_aliases``. ``disposition`` is Asterisk's own
(``CONGESTION`` counts as ``FAILED``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

from lcr.cdrs.batch import CdrBatch
from lcr.cdrs.lines import read_switch_csv

FIELDS = [
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata",
    "start", "answer", "end", "duration", "billsec", "disposition", "amaflags", "uniqueid", "userfield",
]
SOURCE_NAMES = {
    "call_id": "uniqueid",
    "customer": "accountcode",
    "carrier": "dstchannel",
    "src": "src",
    "dst": "dst",
    "start_time": "start",
    "answer_time": "answer",
    "end_time": "end",
    "billsec": "billsec",
    "disposition": "disposition",
}
_TECH = r"(?:SIP|PJSIP|IAX2)"


def carrier(dstchannel: pl.Expr, lastdata: pl.Expr) -> pl.Expr:
    """The peer of the bridged channel, else the first peer dialled."""
    from_channel = dstchannel.str.extract(rf"^{_TECH}/(.+)-[0-9A-Za-z]+$", 1)
    first = lastdata.str.extract(rf"^{_TECH}/([^,&]*)", 1)  # "delta/1212" | "1212@delta" | "delta"
    from_dial = (
        pl.when(first.str.contains("@", literal=True))
        .then(first.str.extract(r"@([^/@]+)$", 1))
        .otherwise(first.str.extract(r"^([^/]+)", 1))
    )
    return pl.coalesce(from_channel, from_dial)


def read_asterisk(
    path: Path, *, switch_tz: str, carrier_aliases: Mapping[str, str], customer_aliases: Mapping[str, str]
) -> CdrBatch:
    return read_switch_csv(path, FIELDS, _canonical, source_names=SOURCE_NAMES, switch_tz=switch_tz,
                           carrier_aliases=carrier_aliases, customer_aliases=customer_aliases)


def _canonical(f: pl.DataFrame) -> tuple[pl.DataFrame, pl.Expr]:
    channel_id = pl.concat_str(pl.col("channel"), pl.lit("@"), pl.col("start"))
    text = f.select(
        "line",
        "raw",
        call_id=pl.when(pl.col("nfields") >= 17).then(pl.col("uniqueid")).otherwise(channel_id),
        customer=pl.col("accountcode"),
        carrier=carrier(pl.col("dstchannel"), pl.col("lastdata")),
        src=pl.col("src"),
        dst=pl.col("dst"),
        start_time=pl.col("start"),
        answer_time=pl.col("answer"),
        end_time=pl.col("end"),
        billsec=pl.col("billsec"),
        disposition=pl.col("disposition").str.replace(r"^\s*CONGESTION\s*$", "FAILED"),
    )
    early = pl.when((f["nfields"] < 16) | (f["nfields"] > 18)).then(
        pl.format("has {} fields, Master.csv has 16 to 18", f["nfields"])
    )
    return text, early
