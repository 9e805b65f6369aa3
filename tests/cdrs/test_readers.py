"""CDR readers on the real sample files and on malformed lines."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from lcr.cdrs import CDR_SCHEMA, detect_format, read_cdrs
from lcr.errors import CdrRejected

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cdrs"
CANONICAL = DATA / "canonical_cdrs.csv"
FREESWITCH = DATA / "freeswitch_cdr.csv"
ASTERISK = DATA / "asterisk_master.csv"


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def by_id(frame: pl.DataFrame, call_id: str) -> dict:
    rows = frame.filter(pl.col("call_id") == call_id).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


@pytest.mark.parametrize(
    ("path", "fmt"), [(CANONICAL, "canonical"), (FREESWITCH, "freeswitch"), (ASTERISK, "asterisk")]
)
def test_format_is_detected(path: Path, fmt: str) -> None:
    assert detect_format(path) == fmt
    assert read_cdrs(path).frame.schema == read_cdrs(path, format=fmt).frame.schema == CDR_SCHEMA


def test_canonical_sample() -> None:
    batch = read_cdrs(CANONICAL)
    f = batch.frame
    assert batch.problems == () and batch.warnings == ()
    assert f.height == 7 and f["line"].to_list() == list(range(2, 9))
    # c-0007 is 10:00 at +01:00: 09:00Z
    assert by_id(f, "c-0007")["start_time"] == utc("2026-11-03T09:00:00")
    assert by_id(f, "c-0001")["start_time"] == utc("2026-11-03T10:00:00")
    unanswered = by_id(f, "c-0003")
    assert (unanswered["answer_time"], unanswered["billsec"], unanswered["disposition"]) == (None, 0, "NO ANSWER")
    assert by_id(f, "c-0006")["carrier"] is None  # empty carrier: none
    assert by_id(f, "c-0006")["dst"] == "99912345"


def test_freeswitch_sample() -> None:
    batch = read_cdrs(FREESWITCH, switch_tz="Europe/Paris")
    f = batch.frame
    assert batch.problems == ()
    assert f.height == 7  # the repeated last row is kept: deduplication is the store's job
    first = f.row(0, named=True)
    assert first["call_id"] == "0b4e6a1c-2f1d-4c1e-9a7e-3a9c1f000001"
    assert (first["customer"], first["carrier"], first["src"], first["dst"]) == (
        "globex", None, "15551230001", "4915123456789",
    )
    assert first["start_time"] == utc("2026-11-03T09:00:00")  # 10:00 in Paris (CET) is 09:00Z
    assert (first["billsec"], first["disposition"]) == (60, "ANSWERED")
    assert f.row(2, named=True)["disposition"] == "NO ANSWER"  # NO_ANSWER
    assert f.row(6, named=True)["call_id"] == first["call_id"]
    [warning] = batch.warnings
    assert (warning.line, warning.column, warning.value) == (7, "call_id", first["call_id"])
    assert "repeats line 1" in warning.message
    assert batch.repeated_lines == (7,)  # the store drops it by its number
    # default zone: the switch's local time is taken as UTC
    assert read_cdrs(FREESWITCH).frame["start_time"][0] == utc("2026-11-03T10:00:00")


def test_asterisk_sample() -> None:
    batch = read_cdrs(ASTERISK)
    f = batch.frame
    assert batch.problems == () and f.height == 6
    assert f["carrier"].to_list() == ["acme", "borealis", "centauri", "acme", "delta", "centauri"]
    delta = by_id(f, "1762164600.9")  # dstchannel empty: carrier from lastdata SIP/delta/...
    assert (delta["carrier"], delta["dst"], delta["billsec"]) == ("delta", "12125550123", 13)
    assert by_id(f, "1762164720.11")["disposition"] == "BUSY"
    assert by_id(f, "1762164300.5")["answer_time"] is None
    assert f["customer"].unique().to_list() == ["globex"]


def test_aliases() -> None:
    f = read_cdrs(ASTERISK, carrier_aliases={"acme": "ACME Corp"}, customer_aliases={"globex": "Globex"}).frame
    assert f["carrier"][0] == "ACME Corp" and f["carrier"][1] == "borealis"
    assert f["customer"].unique().to_list() == ["Globex"]


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


HEADER = "call_id,customer,carrier,src,dst,start_time,answer_time,end_time,billsec,disposition\n"
WHOLE = "is not a whole number of seconds"
NOT_TIME = "is not a date-time"
GOOD = "c1,globex,acme,1,4915,2026-11-03T10:00:00Z,,,0,NO ANSWER\n"


@pytest.mark.parametrize(
    ("line", "column", "value", "message"),
    [
        ("c2,globex,acme,1,4915,2026-11-03T10:00:00Z,,,0\n", None, None, "has 9 fields, the header has 10"),
        (",globex,acme,1,4915,2026-11-03T10:00:00Z,,,0,FAILED\n", "call_id", "", "is empty"),
        ("c2,globex,acme,1,,2026-11-03T10:00:00Z,,,0,FAILED\n", "dst", "", "is empty"),
        ("c2,globex,acme,1,4915,03/11/2026 10:00,,,0,FAILED\n", "start_time", "03/11/2026 10:00", "is not a date-time"),
        ("c2,globex,acme,1,4915,2026-13-03T10:00:00Z,,,0,FAILED\n", "start_time", "2026-13-03T10:00:00Z", NOT_TIME),
        ("c2,globex,acme,1,4915,2026-11-03T10:00:00Z,soon,,0,FAILED\n", "answer_time", "soon", "is not a date-time"),
        ("c2,globex,acme,1,4915,2026-11-03T10:00:00Z,,,1.5,ANSWERED\n", "billsec", "1.5", WHOLE),
        ("c2,globex,acme,1,4915,2026-11-03T10:00:00Z,,,-1,ANSWERED\n", "billsec", "-1", WHOLE),
        ("c2,globex,acme,1,4915,2026-11-03T10:00:00Z,,,0,HUNG UP\n", "disposition", "HUNG UP", "is not one of"),
    ],
)
def test_canonical_malformed_line_is_reported(tmp_path: Path, line: str, column: str, value: str, message: str) -> None:
    p = write(tmp_path, "cdrs.csv", HEADER + GOOD + line + GOOD.replace("c1", "c3"))
    batch = read_cdrs(p)
    assert batch.frame["call_id"].to_list() == ["c1", "c3"]
    [problem] = batch.problems
    assert (problem.line, problem.column, problem.value) == (3, column, value)
    assert problem.message.startswith(message)
    assert problem.raw == line.rstrip("\n")
    assert str(problem).startswith(f"{p} line 3")


def test_canonical_times_and_quotes(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "cdrs.csv",
        "\ufeff" + HEADER.replace("\n", "\r\n")
        + '"c,1","Globex, Inc",acme,1,+4915,2026-11-03 10:00:00-05:00,2026-11-03T15:00:05.250Z,,5,answered\r\n'
        + "\r\n"  # a blank line is not a call
        + "c2,,,1,4915,2026-11-03T10:00+0130,,,0,NO_ANSWER\r\n",
    )
    batch = read_cdrs(p)
    assert batch.problems == ()
    a, b = batch.frame.to_dicts()
    assert (a["call_id"], a["customer"], a["dst"], a["disposition"]) == ("c,1", "Globex, Inc", "+4915", "ANSWERED")
    assert a["start_time"] == utc("2026-11-03T15:00:00") and a["answer_time"] == utc("2026-11-03T15:00:05")
    assert (b["line"], b["customer"], b["carrier"]) == (4, None, None)
    assert b["start_time"] == utc("2026-11-03T08:30:00") and b["disposition"] == "NO ANSWER"


def test_canonical_without_header_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(CdrRejected, match="lacks call_id"):
        read_cdrs(write(tmp_path, "x.csv", GOOD), format="canonical")


def test_unknown_shape_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(CdrRejected, match="cannot tell"):
        read_cdrs(write(tmp_path, "x.csv", "a,b,c\n"))


def test_parquet(tmp_path: Path) -> None:
    frame = read_cdrs(CANONICAL).frame
    p = tmp_path / "cdrs.parquet"
    frame.drop("line").write_parquet(p)
    again = read_cdrs(p)
    assert again.problems == ()
    assert again.frame.drop("line").equals(frame.drop("line"))
    assert again.frame["line"].to_list() == list(range(1, 8))


def test_freeswitch_malformed_and_dst_times(tmp_path: Path) -> None:
    row = FREESWITCH.read_text().splitlines()[0]
    spring = row.replace("2026-11-03 10:00:00", "2026-03-29 02:30:00", 1)  # never happens in Paris
    short = row.rsplit(",", 1)[0]
    p = write(tmp_path, "fs.csv", "\n".join([row, spring, short, row.replace("NORMAL_CLEARING", "USER_BUSY")]) + "\n")
    batch = read_cdrs(p, format="freeswitch", switch_tz="Europe/Paris")
    assert batch.frame["line"].to_list() == [1, 4]
    assert batch.frame["disposition"].to_list() == ["ANSWERED", "ANSWERED"]  # answered: billsec 60
    spring_problem, short_problem = batch.problems
    spring_where = (spring_problem.line, spring_problem.column, spring_problem.value)
    assert spring_where == (2, "start_stamp", "2026-03-29 02:30:00")
    assert (short_problem.line, short_problem.column) == (3, None)
    assert "has 14 fields" in short_problem.message


@pytest.mark.parametrize(
    ("dstchannel", "lastdata", "carrier"),
    [
        ("SIP/acme-00000002", "SIP/acme/4915,60", "acme"),
        ("PJSIP/acme-gw1-0000000a", "", "acme-gw1"),  # a peer name with a dash
        ("", "SIP/delta/1212,60", "delta"),
        ("", "SIP/1212@delta,60", "delta"),
        ("", "PJSIP/1212@delta&PJSIP/1212@echo,60", "delta"),  # the first peer dialled
        ("", "Local/1212@from-internal", None),  # not a carrier
    ],
)
def test_asterisk_carrier(tmp_path: Path, dstchannel: str, lastdata: str, carrier: str | None) -> None:
    line = (
        f'"globex","1","1212","ctx","x","SIP/globex-1","{dstchannel}","Dial","{lastdata}",'
        '"2026-11-03 10:00:00","2026-11-03 10:00:01","2026-11-03 10:00:11",11,10,"ANSWERED","DOCUMENTATION","1.1",""\n'
    )
    batch = read_cdrs(write(tmp_path, "Master.csv", line), format="asterisk")
    assert batch.problems == ()
    assert batch.frame["carrier"].to_list() == [carrier]


BAD = "c5,globex,acme,1,4915,2026-11-03T10:00:00Z,,,x,ANSWERED\n"


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        (HEADER + GOOD + BAD + GOOD.replace("c1", "c3") + GOOD, True),  # a bad value, a repeated call_id
        (HEADER + GOOD + GOOD.replace("c1", "c2").rstrip("\n"), True),  # no newline at the end
        ("Disposition , BILLSEC,end_time,answer_time,start_time,dst,src,carrier,customer,call_id,extra\n"
         "ANSWERED,5,,,2026-11-03T10:00:00Z,4915,1,acme,globex,c9,x\n", True),  # any order, case, extra column
        (HEADER, True),  # no calls
        (HEADER + "c1,globex,acme,1,,2026-11-03T10:00:00Z,,,0,BUSY\n", True),  # an empty cell
        (HEADER + GOOD + "c2,globex,acme,1,4915,2026-11-03T10:00:00Z,,,0\n" + GOOD, False),  # 9 fields
        (HEADER + GOOD + "c2,globex,acme,1,4915,2026-11-03T10:00:00Z,,,0,BUSY,\n", False),  # 11 fields
        (HEADER + "c2,globex,acme,1,4915,2026-11-03T10:00:00Z,,,0\n"
         + "c3,globex,acme,1,4915,2026-11-03T10:00:00Z,,,0,BUSY,\n", False),  # 9 + 11: the field count adds up
        (HEADER + GOOD + "\n" + GOOD.replace("c1", "c2"), False),  # a blank line
        (HEADER + GOOD + "   \n" + GOOD.replace("c1", "c2"), False),  # a line of spaces
        (HEADER.replace("\n", "\r\n") + GOOD.replace("\n", "\r\n"), False),  # CR LF
        (HEADER + '"c,1",globex,acme,1,4915,2026-11-03T10:00:00Z,,,0,BUSY\n', False),  # quotes
        ("\ufeff" + HEADER + GOOD, False),  # a byte order mark
    ],
)
def test_plain_and_line_by_line_readers_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, plain: bool
) -> None:
    from lcr.cdrs import canonical

    p = tmp_path / "cdrs.csv"
    p.write_bytes(text.encode())
    assert (canonical._plain_text(p.read_bytes(), str(p)) is not None) == plain
    fast = read_cdrs(p)
    monkeypatch.setattr(canonical, "_plain_text", lambda data, file: None)
    slow = read_cdrs(p)
    assert fast.frame.equals(slow.frame)
    assert fast.problems == slow.problems  # with the same raw lines
    assert fast.warnings == slow.warnings
    assert all(problem.raw for problem in fast.problems)
