"""Hot reload: a change made by another process reaches a running `lcr serve` within 2 seconds,
and queries during a reload all succeed (real processes, real sockets, both databases)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from lcr.model import OwnerKind
from lcr.serving import RouterService
from lcr.store.imports import import_deck, parse_received
from tests.sip.sipmsg import parse_response, request
from tests.world import REPO, load_sample_world


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port of 127.0.0.1 free right now over ``kind``; for UDP (SIP: ``lcr serve`` listens on the
    same port over UDP and TCP) free over TCP too."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
            if kind != socket.SOCK_DGRAM:
                return port
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise AssertionError("no free port")


def lcr_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "lcr.cli", *args]


@contextmanager
def running_serve(store_url: str, tmp_path: Path, *extra: str) -> Iterator[tuple[subprocess.Popen[str], int, int]]:
    """``lcr serve`` over ``store_url`` in its own process, answering ``/healthz``: (process, HTTP
    port, SIP port); terminated on exit."""
    http_port, sip_port = free_port(), free_port(socket.SOCK_DGRAM)
    env = {**os.environ, "LCR_DATABASE_URL": store_url}
    with (tmp_path / "serve.log").open("w") as log:
        server = subprocess.Popen(
            lcr_cmd("serve", "--http", f"127.0.0.1:{http_port}", "--sip", f"127.0.0.1:{sip_port}", *extra),
            env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=2).raise_for_status()
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise AssertionError("lcr serve did not start") from None
                    time.sleep(0.1)
            yield server, http_port, sip_port
        finally:
            server.terminate()
            server.wait(10)


def add_zeta(store_url: str, tmp_path: Path) -> float:
    """Another process adds carrier zeta (192.0.2.99) and imports its deck (4474 at 0.0001);
    returns the monotonic time the import was committed by."""
    env = {**os.environ, "LCR_DATABASE_URL": store_url}
    subprocess.run(lcr_cmd("carrier", "add", "zeta", "--gateway", "192.0.2.99"), env=env, check=True,
                   capture_output=True)
    deck = tmp_path / "zeta.csv"
    deck.write_text("prefix,destination,rate,effective_date\n4474,UK Mobile,0.0001,2026-11-01\n")
    subprocess.run(lcr_cmd("deck", "import", str(deck), "--carrier", "zeta"), env=env, check=True,
                   capture_output=True)
    return time.monotonic()


def test_running_server_sees_another_process_import_within_2_seconds(engine, store_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    load_sample_world(engine)
    with running_serve(store_url, tmp_path) as (_server, http_port, _sip_port):
        url = f"http://127.0.0.1:{http_port}/v1/routes"
        before = httpx.get(url, params={"number": "447400123456"}, timeout=2).json()
        assert "zeta" not in [r["carrier"] for r in before["routes"]]
        committed = add_zeta(store_url, tmp_path)
        while True:
            routes = httpx.get(url, params={"number": "447400123456"}, timeout=2).json()["routes"]
            if routes[0]["carrier"] == "zeta":
                break
            assert time.monotonic() - committed < 2.0, "the new deck was not served within 2 seconds"
            time.sleep(0.05)
        assert routes[0]["rate"] == "0.0001"


def _first_contacts(sock: socket.socket, port: int, count: int, tag: str) -> list[str]:
    """Send ``count`` INVITEs (customer globex by source IP) and return each 302's first Contact."""
    for i in range(count):
        sock.sendto(request(call_id=f"{tag}-{i}@127.0.0.1", uri="sip:447400123456@lcr.example"), ("127.0.0.1", port))
    found = {}
    while len(found) < count:
        resp = parse_response(sock.recv(65536))
        assert resp.status == 302, (resp.status, resp.reason)
        found[resp.one("Call-ID")] = resp.contacts()[0][1]
    return list(found.values())


def test_sip_workers_each_see_another_process_change_within_2_seconds(
    engine, store_url: str, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    """``lcr serve --sip-workers 2``: two processes answer UDP from one socket, each keeping its own
    router current; HTTP's /metrics sums their counters."""
    load_sample_world(engine)
    with (running_serve(store_url, tmp_path, "--sip-workers", "2") as (server, http_port, sip_port),
          socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock):
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        children = [p for p in os.listdir("/proc") if p.isdigit() and _parent(int(p)) == server.pid]
        assert len(children) >= 2, children  # the two SIP workers
        before = _first_contacts(sock, sip_port, 40, "before")
        assert "192.0.2.99" not in before
        committed = add_zeta(store_url, tmp_path)
        for attempt in range(1_000):
            after = _first_contacts(sock, sip_port, 40, f"after{attempt}")  # 40 answers: both workers'
            if set(after) == {"192.0.2.99"}:
                break
            assert time.monotonic() - committed < 2.0, f"a worker still routes elsewhere: {set(after)}"
            time.sleep(0.05)
        time.sleep(0.6)  # the workers publish their counters every 0.5 s
        metrics = httpx.get(f"http://127.0.0.1:{http_port}/metrics", timeout=5).text
        redirected = next(int(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                          if line.startswith('lcr_sip_total{kind="redirected"}'))
        assert redirected >= 80 + 40 * attempt
    assert not [p for p in children if Path(f"/proc/{p}").exists() and _parent(int(p)) == server.pid]


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat[stat.rfind(")") + 2 :].split()[1])


def test_reload_under_concurrent_queries_loses_none(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    load_sample_world(engine)
    service = RouterService(engine, poll=0.05)
    service.start()
    errors: list[BaseException] = []
    answers: list[int] = []
    stop = threading.Event()

    def query() -> None:
        while not stop.is_set():
            try:
                answers.append(len(service.snapshot().lookup("4915123456789", "globex").routes))
                time.sleep(0.0002)  # leave the GIL to the importer and the reload thread now and then
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=query) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(5):
            deck = tmp_path / f"acme_{i}.csv"
            deck.write_text(f"prefix,destination,rate,effective_date\n4915,DE Mobile,0.0{i + 1}0,2026-11-01\n")
            import_deck(engine, deck, kind=OwnerKind.CARRIER, owner="acme", mode="delta",
                        received=parse_received("2026-11-20"))
            deadline = time.monotonic() + 5
            while service.reloads < i + 1 and time.monotonic() < deadline:
                time.sleep(0.01)
    finally:
        stop.set()
        for t in threads:
            t.join()
        service.stop()
    assert not errors, errors[:3]
    assert service.reloads >= 5
    assert len(answers) > 100 and all(n >= 1 for n in answers)


@pytest.mark.parametrize("offset", [-1, 0])
def test_timed_switch_without_restart(engine, tmp_path: Path, offset: int) -> None:  # type: ignore[no-untyped-def]
    """A snapshot switches by itself at the instant a future rate takes effect (clock injected)."""
    load_sample_world(engine)
    t = parse_received("2026-11-15")  # centauri's 4917 starts then
    now = [float(t - 10)]
    service = RouterService(engine, clock=lambda: now[0])
    service.refresh()  # prebuilds the next snapshot, as the background thread does
    first = service.snapshot()
    assert first.valid_until is not None and first.valid_until <= t
    now[0] = float(first.valid_until + offset)
    prefix = next(r.prefix for r in service.snapshot().lookup("4917012345").routes if r.carrier == "centauri")
    assert prefix == ("49" if offset < 0 else "4917")


def test_next_snapshot_is_built_only_shortly_before_its_instant(engine) -> None:  # type: ignore[no-untyped-def]
    """Two snapshots are held only in the minutes before a timed switch, and the switch then uses
    the one built ahead (no query builds it)."""
    load_sample_world(engine)
    t = parse_received("2026-11-15")  # centauri's 4917 starts then
    now = [float(t - 3600)]
    service = RouterService(engine, clock=lambda: now[0], prebuild_lead=120)
    first = service.snapshot()
    assert first.valid_until is not None and first.valid_until - now[0] > 120
    service.refresh()
    assert service.prebuilt_at is None  # an hour ahead: nothing built yet
    now[0] = float(first.valid_until - 60)
    service.refresh()
    assert service.prebuilt_at == first.valid_until
    now[0] = float(first.valid_until)
    switched = service.snapshot()
    assert switched.at == first.valid_until and service.prebuilt_at is None  # the prebuilt one, handed over


def test_a_running_service_never_builds_in_a_query(engine) -> None:  # type: ignore[no-untyped-def]
    """Past a switch instant with nothing prebuilt, queries keep the current snapshot (they never
    wait for a build) and the background thread catches up to the present."""
    load_sample_world(engine)
    t = parse_received("2026-11-15")  # centauri's 4917 starts then
    now = [float(t - 3600)]
    service = RouterService(engine, clock=lambda: now[0], prebuild_lead=0, poll=1.0)
    first = service.snapshot()
    assert first.valid_until is not None
    service.start()
    try:
        now[0] = float(first.valid_until + 5)  # jumped past the instant: nothing was prebuilt
        assert service.snapshot() is first
        deadline = time.monotonic() + 10
        while service.snapshot() is first and time.monotonic() < deadline:
            time.sleep(0.01)
        caught_up = service.snapshot()
        assert caught_up is not first and caught_up.at == first.valid_until + 5
    finally:
        service.stop()
