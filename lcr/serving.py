"""Keeping a router current while it serves: reloads, timed switches, one snapshot for HTTP and SIP.

``RouterService.snapshot()`` is the hot path's only call: it returns the current immutable
snapshot (a reference read, plus a clock check for the timed switch). Everything else happens
on one background thread:

- **reload**: a change made by any process bumps the store version. On PostgreSQL the thread
  LISTENs on ``lcr_changes`` (woken at once by the NOTIFY of the committing transaction); on
  SQLite it polls the version counter (every ``poll`` seconds; both poll as a safety net). The
  inputs are read again in one consistent transaction; when only rates changed (a deck import),
  the current snapshot is patched where the versions differ (``routing.advance``), else a new
  one is built. It is swapped in by one assignment: a query sees the old table or the new one,
  never half of either, and never waits for a build.
- **timed switch**: a snapshot knows ``valid_until``, the next instant any rate in it changes. The
  thread prepares the snapshot for that instant ahead of time, once the instant is less than
  ``prebuild_lead`` seconds away, by patching the current one (``routing.advance``: only the
  codes that change are recompiled, all else is shared); ``snapshot()`` switches to it as soon
  as the clock passes the instant, without a restart.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from sqlalchemy import Engine

from lcr.routing import Snapshot, build_snapshot
from lcr.routing.advance import advance_snapshot, reload_snapshot
from lcr.routing.inputs import RoutingInputs
from lcr.store.db import NOTIFY_CHANNEL, store_version
from lcr.store.ledger import credit_states, credit_version
from lcr.store.world import StoreRead, read_world, reread_world

log = logging.getLogger("lcr.serving")


#: Prepare the next timed snapshot this long before its instant (or 5 times the last preparation).
PREBUILD_LEAD = 120.0


class RouterService:
    def __init__(self, engine: Engine, *, poll: float = 0.5, clock: Callable[[], float] = time.time,
                 prebuild_lead: float = PREBUILD_LEAD) -> None:
        self.engine = engine
        self.poll = poll
        self.clock = clock
        self.prebuild_lead = prebuild_lead
        self._lock = threading.Lock()  # taken by the background thread only, never by queries
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.reloads = 0
        self.credit_reloads = 0
        self.last_build_seconds = 0.0
        self.last_advance_seconds = 0.0
        self.last_reload_seconds = 0.0
        with engine.connect() as conn:
            self.credit_version = credit_version(conn)
        self._read: StoreRead = read_world(engine)  # what the store held when last read
        self.inputs = self._read.inputs  # with the latest credit states
        self._current = self._build(self.inputs, int(self.clock()))
        self._next: Snapshot | None = None

    @property
    def version(self) -> int:
        """The store version the router serves."""
        return self._read.version

    # --- the hot path ---------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        current = self._current
        until = current.valid_until
        if until is not None and self.clock() >= until:
            nxt = self._next
            if nxt is not None and nxt.at == until:
                self._current, self._next = nxt, None
                return nxt
            if self._thread is not None:
                # not prebuilt (changes come faster than builds, or right after a reload): the
                # background thread catches up within a poll; a query never waits for a build
                return current
            with self._lock:  # no background thread (a one-shot service): build now, once
                if self._current is current:
                    self._current = self._advance(current, int(self.clock()))
            return self._current
        return current

    @property
    def prebuilt_at(self) -> int | None:
        """The instant of the snapshot built ahead for the next timed switch (None: none yet)."""
        nxt = self._next
        return None if nxt is None else nxt.at

    # --- the background thread --------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="lcr-router-reload", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def refresh(self) -> bool:
        """Rebuild if the store changed; prebuild the next timed snapshot. True when reloaded.

        A balance change alone (CDR charges, payments) does not rebuild the tables: the current
        snapshot is copied with the new credit states (``Snapshot.with_credit``), in milliseconds.
        """
        with self.engine.connect() as conn:
            version = store_version(conn)
            credit = credit_version(conn)
        reloaded = False
        if version == self.version and credit != self.credit_version:
            with self.engine.connect() as conn:
                credit = credit_version(conn)
                states = credit_states(conn)
            with self._lock:
                self.credit_version = credit
                self.inputs = replace(self.inputs, credit=states)
                self._current = self._current.with_credit(states)
                if self._next is not None:
                    self._next = self._next.with_credit(states)
            self.credit_reloads += 1
        if version != self.version:
            t0 = time.perf_counter()
            with self.engine.connect() as conn:
                credit = credit_version(conn)
            read = reread_world(self.engine, self._read)  # only the owners with a new deck import
            inputs = read.inputs
            loaded = time.perf_counter()
            at, base = int(self.clock()), self._current
            # a deck import: patch the codes it changed; new or changed parties: build afresh
            snap = reload_snapshot(base, self.inputs, inputs, at) if at >= base.at else None
            how = "patched"
            if snap is None:
                snap, how = self._build(inputs, at), "built"
            else:
                gc.freeze()
            with self._lock:
                self._read, self.inputs, self._current, self._next = read, inputs, snap, None
                self.credit_version = credit
            del base, inputs, read
            if how == "patched":
                _trim()  # the old inputs and the read's buffers are garbage now (a build trims itself)
            self.reloads += 1
            reloaded = True
            self.last_reload_seconds = time.perf_counter() - t0
            log.info("router reloaded: store version %s, %s owners' rates read in %.2f s, %s in %.2f s", self.version,
                     self._read.owners, loaded - t0, how, time.perf_counter() - loaded)
        current, now = self._current, self.clock()
        until = current.valid_until
        if until is not None and now >= until and (self._next is None or self._next.at != until):
            # behind: the switch instant passed with nothing prepared for it; patch to now, skipping
            # any instants in between (their snapshots would be stale before they were done)
            snap = self._advance(current, int(now))
            with self._lock:
                if self._current is current:
                    self._current, self._next = snap, None
            current, now = self._current, self.clock()
            until = current.valid_until
        lead = max(self.prebuild_lead, 5 * self.last_advance_seconds)
        if until is not None and until - now <= lead and (self._next is None or self._next.at != until):
            self._next = self._advance(current, until)
        return reloaded

    def _build(self, inputs: RoutingInputs, at: int) -> Snapshot:
        t0 = time.perf_counter()
        snap = build_snapshot(inputs, at)
        self.last_build_seconds = time.perf_counter() - t0
        _settle_heap()
        return snap

    def _advance(self, snap: Snapshot, at: int) -> Snapshot:
        """The snapshot for ``at``, patched from ``snap`` (built from ``self.inputs``): it shares
        every unchanged entry, so a timed switch costs a fraction of a build's time and memory."""
        t0 = time.perf_counter()
        nxt = advance_snapshot(snap, self.inputs, at)
        self.last_advance_seconds = time.perf_counter() - t0
        gc.freeze()  # the few new objects join the frozen snapshot (no full collection here)
        return nxt

    def _run(self) -> None:
        listener = _Listener(self.engine)
        try:
            while not self._stop.is_set():
                try:
                    self.refresh()
                except Exception:
                    log.exception("router reload failed; still serving store version %s", self.version)
                listener.wait(self.poll, self._stop)
        finally:
            listener.close()


def _settle_heap() -> None:
    """Take the (large, long-lived, acyclic) snapshot out of the cyclic collector's sight.

    A full collection walking a big snapshot costs ~0.1 s per 50,000 prefixes and showed up as
    latency spikes on the SIP and HTTP hot paths. After each build: collect once (here, off the
    hot path), then freeze what survives; an old snapshot is still freed by reference counting.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    _trim()


def _trim() -> None:
    """Hand the C heap's free memory back to the OS (glibc keeps what a build freed: ~50-150 MB)."""
    with contextlib.suppress(OSError, AttributeError):  # AttributeError: not glibc
        ctypes.CDLL(None).malloc_trim(0)


class _Listener:
    """Waits for a NOTIFY on PostgreSQL; on SQLite (or when LISTEN fails) simply sleeps."""

    def __init__(self, engine: Engine) -> None:
        self.conn = None
        if engine.dialect.name == "postgresql":
            try:
                import psycopg

                url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
                self.conn = psycopg.connect(url, autocommit=True)
                self.conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
            except Exception:
                log.exception("LISTEN %s failed; polling the store version instead", NOTIFY_CHANNEL)
                self.conn = None

    def wait(self, timeout: float, stop: threading.Event) -> None:
        if self.conn is None:
            stop.wait(timeout)
            return
        for _ in self.conn.notifies(timeout=timeout, stop_after=1):
            break

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
