"""Compiled rate decks kept in the store, so a fresh process rates CDRs without recompiling.

Compiling the decks of a store of millions of rate versions takes seconds (loading the rows,
then ``compile_deck``); CDR imports run as fresh CLI processes, often several per hour against
decks that change once a day. A deck import ends by compiling both sides and saving them here
as Arrow IPC bytes in one row of ``compiled_decks`` (``lcr.store.cdrs.prepare_decks``; a CDR
import compiles them only when they are missing); every import of any process, on any
machine, reads them back instead.

The row's ``key`` is a hash of

- what the decks were built from (``state``, ``lcr.store.cdrs._decks_key``: the count and the
  highest id of the deck imports, which alone write rate versions, and the ids and names of
  the owners with decks), so a deck import makes the row unreachable;
- ``CODE_TAG``: this file's ``FORMAT``, the Polars version, the fields of ``CompiledDeck``, the
  rate frame's schema (``lcr.model.RATE_FRAME_SCHEMA``) and the source of the modules defining
  ``CompiledDeck`` and ``compile_deck``, so a row written by other code is ignored.

Reading hundreds of MB out of the database costs more than decoding them, so each machine also
keeps a local copy of the latest row's decks in ``LCR_DECK_CACHE_DIR``, named by the sha256 the
row carries (``digest``), written atomically (a temporary name, then renamed); the newest few
files are kept. The copy is the same layout uncompressed, each payload at a 64-byte boundary
(``LOCAL_FORMAT``): it is memory-mapped and its frames used in place (Arrow buffers over the
mapping), so a process starts rating without reading or decoding anything; the pages it
touches come from the page cache. A copy that cannot be read is passed over for the row. A
copy is only ever replaced or removed, never rewritten in place: a process keeps using the file
it mapped (Linux keeps a removed file's pages while they are mapped), whereas a file truncated
under it would fault.

Only the latest row is kept. The fields of ``CompiledDeck`` are serialised generically
(``dataclasses.fields``): a frame or series as Arrow IPC, anything else (tuples of names,
numbers) as JSON; a field of another type is refused (``TypeError``), never guessed at.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import os
import struct
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from pathlib import Path
from typing import Literal

import polars as pl
from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.exc import SQLAlchemyError

from lcr.config import DECK_CACHE_DIR
from lcr.model import RATE_FRAME_SCHEMA
from lcr.rating.deck import CompiledDeck, compile_deck
from lcr.store.schema import compiled_decks

FORMAT = "lcr-compiled-decks/1"
LOCAL_FORMAT = "lcr-compiled-decks-mapped/1"
_ALIGN = 64  # Arrow's buffer alignment: a payload starting on it is used in place
_SIDES = ("sell", "buy")
_COMPRESSION: Literal["lz4"] = "lz4"  # ~3x smaller than raw IPC and decoded faster than the bytes are read


def _code_tag() -> str:
    h = hashlib.sha256(FORMAT.encode())
    h.update(pl.__version__.encode())
    h.update(repr([(f.name, str(f.type)) for f in fields(CompiledDeck)]).encode())
    h.update(repr(RATE_FRAME_SCHEMA).encode())  # compile_deck's input types, declared in lcr.model
    for source in sorted({str(inspect.getsourcefile(CompiledDeck)), str(inspect.getsourcefile(compile_deck))}):
        h.update(Path(source).read_bytes())
    return h.hexdigest()


CODE_TAG = _code_tag()


def cache_key(state: tuple[object, ...]) -> str:
    """The row key of the decks built from ``state`` by this code."""
    return hashlib.sha256(f"{CODE_TAG}:{state!r}".encode()).hexdigest()


# --- bytes -------------------------------------------------------------------------------------

def _ipc(frame: pl.DataFrame, local: bool) -> memoryview:
    """The local copy's frames are written as one record batch each: mapped back, each column is
    then one chunk, as rating wants it (a frame in pieces is copied whole by every ``rechunk``)."""
    buf = io.BytesIO()
    if local:
        frame.rechunk().write_ipc(buf, compression="uncompressed", record_batch_size=max(frame.height, 1))
    else:
        frame.write_ipc(buf, compression=_COMPRESSION)
    return buf.getbuffer()


def encode(decks: dict[str, CompiledDeck], *, local: bool = False) -> bytes:
    """``decks`` (side -> deck) as one blob: an 8-byte header length, a JSON header, payloads.
    ``local``: this machine's copy (``LOCAL_FORMAT``: uncompressed, payloads aligned)."""
    return b"".join(_encoded(decks, local))


def _encoded(decks: dict[str, CompiledDeck], local: bool) -> list[bytes | memoryview]:
    """``encode``'s blob in pieces (hundreds of MB are not copied into one)."""
    parts: list[bytes | memoryview] = []
    header: dict[str, object] = {"format": LOCAL_FORMAT if local else FORMAT, "tag": CODE_TAG, "decks": {}}
    align = _ALIGN if local else 1
    for side, deck in decks.items():
        entries = []
        for f in fields(deck):
            value = getattr(deck, f.name)
            data: bytes | memoryview
            if isinstance(value, pl.DataFrame):
                kind, data = "frame", _ipc(value, local)
            elif isinstance(value, pl.Series):
                kind, data = "series", _ipc(value.to_frame(), local)
            elif isinstance(value, (tuple, list, str, int, float, bool)) or value is None:
                kind, data = type(value).__name__, json.dumps(value).encode()
            else:
                raise TypeError(f"CompiledDeck.{f.name}: cannot store a {type(value).__name__}")
            entries.append({"name": f.name, "kind": kind, "size": len(data)})
            parts += [data, b"\0" * (-len(data) % align)]  # the next payload starts aligned
        header["decks"][side] = entries  # type: ignore[index]
    head = json.dumps(header).encode()
    head += b" " * (-(8 + len(head)) % align)
    return [struct.pack("<Q", len(head)) + head, *parts]


def decode(blob: bytes) -> dict[str, CompiledDeck] | None:
    """The decks of ``encode``; None when the blob was written by other code (or is not one)."""
    return _decode(memoryview(blob), FORMAT, 1, lambda view: pl.read_ipc(io.BytesIO(view)))


def _decode(view: memoryview, expected: str, align: int, frame: Callable[[memoryview], pl.DataFrame]
            ) -> dict[str, CompiledDeck] | None:
    """``decode`` of a byte view in the ``expected`` format (payloads ``align``-ed), each Arrow
    payload read by ``frame``."""
    try:
        (size,) = struct.unpack_from("<Q", view)
        header = json.loads(bytes(view[8:8 + size]))
    except (struct.error, ValueError):
        return None
    if not isinstance(header, dict) or header.get("format") != expected or header.get("tag") != CODE_TAG:
        return None
    pos = 8 + size
    out: dict[str, CompiledDeck] = {}
    names = {f.name for f in fields(CompiledDeck)}
    for side, entries in header["decks"].items():
        if {e["name"] for e in entries} != names:
            return None
        values: dict[str, object] = {}
        for e in entries:
            data = view[pos:pos + e["size"]]
            pos += e["size"] + -e["size"] % align
            if e["kind"] == "frame":
                values[e["name"]] = frame(data)
            elif e["kind"] == "series":
                values[e["name"]] = frame(data).to_series()
            elif e["kind"] in ("tuple", "list"):
                values[e["name"]] = tuple(json.loads(bytes(data)))
            else:
                values[e["name"]] = json.loads(bytes(data))
        out[side] = CompiledDeck(**values)  # type: ignore[arg-type]
    return out


def _mapped_frame(view: memoryview) -> pl.DataFrame:
    """An Arrow IPC file in ``view`` (a slice of a memory map) as a frame over its buffers."""
    import pyarrow as pa

    table = pa.ipc.open_file(pa.BufferReader(pa.py_buffer(view))).read_all()
    frame = pl.from_arrow(table, rechunk=False)
    assert isinstance(frame, pl.DataFrame)
    return frame


def read_mapped(path: Path) -> dict[str, CompiledDeck] | None:
    """The decks of a local copy (``encode(..., local=True)`` in a file), memory-mapped; None
    when it is not one of this code's (or cannot be read: it is only ever a copy)."""
    import pyarrow as pa

    try:
        with pa.memory_map(str(path)) as mapped:  # the buffers keep the mapping after the file is closed
            return _decode(memoryview(mapped.read_buffer()), LOCAL_FORMAT, _ALIGN, _mapped_frame)
    except (OSError, pa.ArrowException, KeyError, TypeError):
        return None


# --- the table ---------------------------------------------------------------------------------

def saved(conn: Connection, key: str) -> bool:
    """Whether the store holds decks under ``key``."""
    return conn.execute(select(compiled_decks.c.key).where(compiled_decks.c.key == key)).first() is not None


def load(conn: Connection, key: str) -> tuple[CompiledDeck, CompiledDeck] | None:
    """(sell, buy) saved under ``key``, or None: from this machine's copy of the row when it has
    one, else from the row (and the copy written for the next process)."""
    digest = conn.execute(select(compiled_decks.c.digest).where(compiled_decks.c.key == key)).first()
    if digest is None:
        return None
    local = _local_path(digest[0])
    decks = read_mapped(local) if local is not None and local.is_file() else None
    if decks is None:
        blob = _read_row(conn, key)
        if blob is None:
            return None
        decks = decode(blob)
        if decks is not None and local is not None:
            _write_local(local, _encoded(decks, local=True))
    if decks is None or set(decks) != set(_SIDES):
        return None
    return decks["sell"], decks["buy"]


def _read_row(conn: Connection, key: str) -> bytes | None:
    if conn.dialect.name == "postgresql":
        # binary results: a bytea of hundreds of MB is not hex-decoded
        with conn.connection.driver_connection.cursor(binary=True) as cur:  # type: ignore[union-attr]
            cur.execute("SELECT data FROM compiled_decks WHERE key = %s", (key,))
            row = cur.fetchone()
    else:
        row = conn.execute(select(compiled_decks.c.data).where(compiled_decks.c.key == key)).first()
    return None if row is None else row[0]


def save(conn: Connection, key: str, sell: CompiledDeck, buy: CompiledDeck) -> bool:
    """Keep (sell, buy) under ``key`` in place of any older row, in the caller's transaction
    (a savepoint: when the row cannot be written, the caller's transaction goes on without it),
    and a local copy for the next process (written by a thread of its own meanwhile, under a
    temporary name until the row's digest names it)."""
    decks = {"sell": sell, "buy": buy}
    folder = cache_dir()
    with ThreadPoolExecutor(1) as pool:
        staged = pool.submit(lambda: _stage_local(folder, _encoded(decks, local=True))) if folder is not None else None
        blob = encode(decks)
        digest = hashlib.sha256(blob).hexdigest()
        try:
            with conn.begin_nested():
                conn.execute(delete(compiled_decks).where(compiled_decks.c.key != key))
                table = compiled_decks
                row = {"key": key, "data": blob, "created_at": int(time.time()), "digest": digest}
                if conn.dialect.name == "postgresql":
                    from sqlalchemy.dialects.postgresql import insert as pg_insert

                    conn.execute(pg_insert(table).values(row).on_conflict_do_nothing(index_elements=["key"]))
                else:
                    conn.execute(insert(table).prefix_with("OR IGNORE").values(row))
            written = True
        except SQLAlchemyError:
            written = False
        tmp = staged.result() if staged is not None else None
    local = _local_path(digest)
    if tmp is not None and written and local is not None:
        _publish(tmp, local)
    elif tmp is not None:
        tmp.unlink(missing_ok=True)
    return written


# --- this machine's copies ---------------------------------------------------------------------

_SUFFIX = ".lcrdecks"
_STAGING = ".tmp-"  # a copy being written
STAGING_ABANDONED_S = 3600  # a copy being written for longer was left by a process that died
LOCAL_KEPT = 3  # newest files kept in the directory (several stores may share it; ~700 MB each for 3M rate rows)


def cache_dir() -> Path | None:
    """``LCR_DECK_CACHE_DIR``; None when set to ``off``."""
    value = DECK_CACHE_DIR.get()
    if value.lower() == "off":
        return None
    if value:
        return Path(value)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lcr"


def _local_path(digest: str | None) -> Path | None:
    folder = cache_dir()
    if folder is None or not digest or not all(c in "0123456789abcdef" for c in digest):
        return None
    return folder / f"{digest}{_SUFFIX}"


def _write_local(path: Path, parts: list[bytes | memoryview]) -> None:
    """The file ``path`` of ``parts``, written whole or not at all (a temporary name, then renamed).
    Best effort: a directory that cannot be written only costs the next process a database read."""
    tmp = _stage_local(path.parent, parts)
    if tmp is not None:
        _publish(tmp, path)


def _stage_local(folder: Path, parts: list[bytes | memoryview]) -> Path | None:
    """``parts`` written to a new temporary file in ``folder`` (None when it cannot be written)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=_STAGING, suffix=_SUFFIX, delete=False) as tmp:
            try:
                for part in parts:
                    tmp.write(part)
            except OSError:
                Path(tmp.name).unlink(missing_ok=True)
                raise
        return Path(tmp.name)
    except OSError:
        return None


def _publish(tmp: Path, path: Path) -> None:
    """The staged file ``tmp`` renamed to ``path``; only the newest ``LOCAL_KEPT`` copies kept."""
    try:
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        return
    copies: list[tuple[float, Path]] = []
    staging: list[tuple[float, Path]] = []
    for p in path.parent.glob(f"*{_SUFFIX}"):
        try:
            (staging if p.name.startswith(_STAGING) else copies).append((p.stat().st_mtime, p))
        except OSError:  # removed meanwhile by another process
            continue
    abandoned = [p for mtime, p in staging if mtime < time.time() - STAGING_ABANDONED_S]
    for old in [p for _, p in sorted(copies, reverse=True)[LOCAL_KEPT:]] + abandoned:
        try:  # another process's copy being written is left alone, a dead process's is not
            old.unlink(missing_ok=True)
        except OSError:
            continue
