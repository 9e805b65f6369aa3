"""Compiled rate decks kept in the store, so a fresh process rates CDRs without recompiling.

Compiling the decks of a store of millions of rate versions takes seconds (loading the rows,
then ``compile_deck``); CDR imports run as fresh CLI processes, often several per hour against
decks that change once a day. The first import after a change compiles both sides and saves
them here as Arrow IPC bytes in one row of ``compiled_decks``; the next import of any process,
on any machine, reads them back (about a second for 3 million rate rows) instead.

The row's ``key`` is a hash of

- the store's state the decks were built from (``state``: the store version, which every deck
  import and every carrier or customer change bumps in its own transaction, the highest rate
  id and the owners' ids and names), so any such change makes the row unreachable;
- ``CODE_TAG``: this file's ``FORMAT``, the Polars version, the fields of ``CompiledDeck`` and
  the source of the modules defining it and ``compile_deck``, so a row written by other code
  is ignored.

Only the latest row is kept. The fields of ``CompiledDeck`` are serialised generically
(``dataclasses.fields``): a frame or series as Arrow IPC, anything else (tuples of names,
numbers) as JSON; a field of another type is refused (``TypeError``), never guessed at.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import struct
import time
from dataclasses import fields
from pathlib import Path
from typing import Literal

import polars as pl
from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.exc import SQLAlchemyError

from lcr.rating.deck import CompiledDeck, compile_deck
from lcr.store.schema import compiled_decks

FORMAT = "lcr-compiled-decks/1"
_SIDES = ("sell", "buy")
_COMPRESSION: Literal["lz4"] = "lz4"  # ~3x smaller than raw IPC and decoded faster than the bytes are read


def _code_tag() -> str:
    h = hashlib.sha256(FORMAT.encode())
    h.update(pl.__version__.encode())
    h.update(repr([(f.name, str(f.type)) for f in fields(CompiledDeck)]).encode())
    for source in sorted({str(inspect.getsourcefile(CompiledDeck)), str(inspect.getsourcefile(compile_deck))}):
        h.update(Path(source).read_bytes())
    return h.hexdigest()


CODE_TAG = _code_tag()


def cache_key(state: tuple[object, ...]) -> str:
    """The row key of the decks built from ``state`` by this code."""
    return hashlib.sha256(f"{CODE_TAG}:{state!r}".encode()).hexdigest()


# --- bytes -------------------------------------------------------------------------------------

def _ipc(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_ipc(buf, compression=_COMPRESSION)
    return buf.getvalue()


def encode(decks: dict[str, CompiledDeck]) -> bytes:
    """``decks`` (side -> deck) as one blob: an 8-byte header length, a JSON header, payloads."""
    parts: list[bytes] = []
    header: dict[str, object] = {"format": FORMAT, "tag": CODE_TAG, "decks": {}}
    for side, deck in decks.items():
        entries = []
        for f in fields(deck):
            value = getattr(deck, f.name)
            if isinstance(value, pl.DataFrame):
                kind, data = "frame", _ipc(value)
            elif isinstance(value, pl.Series):
                kind, data = "series", _ipc(value.to_frame())
            elif isinstance(value, (tuple, list, str, int, float, bool)) or value is None:
                kind, data = type(value).__name__, json.dumps(value).encode()
            else:
                raise TypeError(f"CompiledDeck.{f.name}: cannot store a {type(value).__name__}")
            entries.append({"name": f.name, "kind": kind, "size": len(data)})
            parts.append(data)
        header["decks"][side] = entries  # type: ignore[index]
    head = json.dumps(header).encode()
    return struct.pack("<Q", len(head)) + head + b"".join(parts)


def decode(blob: bytes) -> dict[str, CompiledDeck] | None:
    """The decks of ``encode``; None when the blob was written by other code (or is not one)."""
    try:
        (size,) = struct.unpack_from("<Q", blob)
        header = json.loads(bytes(blob[8:8 + size]))
    except (struct.error, ValueError):
        return None
    if header.get("format") != FORMAT or header.get("tag") != CODE_TAG:
        return None
    view = memoryview(blob)
    pos = 8 + size
    out: dict[str, CompiledDeck] = {}
    names = {f.name for f in fields(CompiledDeck)}
    for side, entries in header["decks"].items():
        if {e["name"] for e in entries} != names:
            return None
        values: dict[str, object] = {}
        for e in entries:
            data = view[pos:pos + e["size"]]
            pos += e["size"]
            if e["kind"] == "frame":
                values[e["name"]] = pl.read_ipc(io.BytesIO(data))
            elif e["kind"] == "series":
                values[e["name"]] = pl.read_ipc(io.BytesIO(data)).to_series()
            elif e["kind"] in ("tuple", "list"):
                values[e["name"]] = tuple(json.loads(bytes(data)))
            else:
                values[e["name"]] = json.loads(bytes(data))
        out[side] = CompiledDeck(**values)  # type: ignore[arg-type]
    return out


# --- the table ---------------------------------------------------------------------------------

def load(conn: Connection, key: str) -> tuple[CompiledDeck, CompiledDeck] | None:
    """(sell, buy) saved under ``key``, or None."""
    if conn.dialect.name == "postgresql":
        # binary results: a bytea of hundreds of MB is not hex-decoded
        with conn.connection.driver_connection.cursor(binary=True) as cur:  # type: ignore[union-attr]
            cur.execute("SELECT data FROM compiled_decks WHERE key = %s", (key,))
            row = cur.fetchone()
    else:
        row = conn.execute(select(compiled_decks.c.data).where(compiled_decks.c.key == key)).first()
    if row is None:
        return None
    decks = decode(row[0])
    if decks is None or set(decks) != set(_SIDES):
        return None
    return decks["sell"], decks["buy"]


def save(conn: Connection, key: str, sell: CompiledDeck, buy: CompiledDeck) -> bool:
    """Keep (sell, buy) under ``key`` in place of any older row, in the caller's transaction
    (a savepoint: when the row cannot be written, the caller's transaction goes on without it)."""
    blob = encode({"sell": sell, "buy": buy})
    try:
        with conn.begin_nested():
            conn.execute(delete(compiled_decks).where(compiled_decks.c.key != key))
            table = compiled_decks
            row = {"key": key, "data": blob, "created_at": int(time.time())}
            if conn.dialect.name == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as pg_insert

                conn.execute(pg_insert(table).values(row).on_conflict_do_nothing(index_elements=["key"]))
            else:
                conn.execute(insert(table).prefix_with("OR IGNORE").values(row))
    except SQLAlchemyError:
        return False
    return True
