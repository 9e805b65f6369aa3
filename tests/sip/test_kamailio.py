"""Kamailio as the softswitch in front of lcr: a real call routed by lcr's 302.

    sipp UAC (caller, 127.0.0.2) -> Kamailio (tests/sip/kamailio.cfg, stateful, tm)
        -> lcr (UDP or TCP)  302, Contacts least cost first
    Kamailio: failure_route, get_redirects("1") (uac_redirect) -> the first Contact
        -> sipp UAS (the carrier's gateway, 127.0.0.1:port) answers 200; ACK and BYE follow
           along Kamailio's Record-Route.

Kamailio reaches lcr from 127.0.0.1, globex's source IP in the test world (tests/sip/world.py),
whose carrier acme is moved to the sipp UAS's address. Skipped when kamailio or sipp is not
installed (Debian: apt-get install kamailio sip-tester), except under CI (``CI=true``), where
that is a failure: ``.ci/run`` installs both.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lcr.model import Gateway
from lcr.sip.counters import Counters
from tests.sip.conftest import SIPP, ThreadServer
from tests.sip.sipmsg import request
from tests.sip.world import real_snapshot
from tests.test_reload import free_port

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "kamailio.cfg"
SCENARIOS = HERE / "sipp"
KAMAILIO = shutil.which("kamailio") or shutil.which("kamailio", path="/usr/sbin:/usr/local/sbin")
NUMBER = "442071234567"  # London: acme (tech prefix 4455) first, then borealis
BLOCKED = "88112345"  # satellite: blocked in globex's deck


@pytest.fixture(scope="module", autouse=True)
def _tools() -> None:
    missing = [name for name, path in (("kamailio", KAMAILIO), ("sipp", shutil.which("sipp"))) if path is None]
    if missing:
        why = f"{' and '.join(missing)} not installed (apt-get install kamailio sip-tester)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why}; .ci/run installs them")
        pytest.skip(why)


def udp_bound(port: int) -> bool:
    """Whether some socket holds UDP ``port`` of 127.0.0.1 (read from /proc, so that asking never takes
    the port from the process about to bind it; elsewhere, by trying to bind it)."""
    table = Path("/proc/net/udp")
    if table.exists():
        wanted = f"0100007F:{port:04X}"
        return any(line.split()[1] == wanted for line in table.read_text().splitlines()[1:])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def wait_until_bound(port: int, proc: subprocess.Popen[str], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not udp_bound(port):
        assert proc.poll() is None, f"exited with {proc.returncode} before binding port {port}"
        assert time.monotonic() < deadline, f"port {port} not bound in time"
        time.sleep(0.02)


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture(scope="module")
def gateway_port() -> int:
    return free_port(socket.SOCK_DGRAM)


@pytest.fixture(scope="module")
def lcr(gateway_port: int) -> Iterator[ThreadServer]:
    # acme's gateway is the sipp UAS; borealis's is a port where nothing answers
    nobody = free_port(socket.SOCK_DGRAM)
    gateways = {"acme": Gateway("127.0.0.1", gateway_port), "borealis": Gateway("127.0.0.1", nobody)}
    server = ThreadServer(real_snapshot(gateways=gateways))
    yield server
    server.stop()


class Kamailio:
    def __init__(self, address: tuple[str, int], log: Path, lcr_transport: str) -> None:
        self.address = address
        self.log = log
        self.lcr_transport = lcr_transport

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _options(port: int, n: int) -> bytes:
    via = f"SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK-up{n}"  # rport: answer to the source
    return request("OPTIONS", f"sip:127.0.0.1:{port}", vias=(via,), to=f"<sip:127.0.0.1:{port}>", call_id=f"up-{n}")


@pytest.fixture(scope="module", params=["udp", "tcp"])
def kamailio(
    request: pytest.FixtureRequest, lcr: ThreadServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Kamailio]:
    """Kamailio on 127.0.0.1 (UDP and TCP, its own runtime dir), relaying to lcr over ``udp``/``tcp``."""
    transport = request.param
    workdir = tmp_path_factory.mktemp(f"kamailio-{transport}")
    run = workdir / "run"
    run.mkdir()
    port = free_port(socket.SOCK_DGRAM)
    host, lcr_port = lcr.address
    command = [
        str(KAMAILIO), "-f", str(CONFIG), "-DD", "-E", "-Y", str(run), "-P", str(run / "kamailio.pid"),
        "-w", str(workdir), "-m", "32", "-M", "4", "-a", "no",
        "-l", f"udp:127.0.0.1:{port}", "-l", f"tcp:127.0.0.1:{port}",
        "-A", f'LCR_URI="sip:{host}:{lcr_port};transport={transport}"',
    ]  # fmt: skip
    log = workdir / "kamailio.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(command, cwd=workdir, stdout=sink, stderr=subprocess.STDOUT, text=True)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:  # up when it answers an OPTIONS
            probe.bind(("127.0.0.1", 0))
            probe.settimeout(0.2)
            deadline = time.monotonic() + 30
            for attempt in itertools.count():
                assert proc.poll() is None, f"kamailio exited with {proc.returncode}:\n{log.read_text()[-4000:]}"
                assert time.monotonic() < deadline, f"kamailio did not answer:\n{log.read_text()[-4000:]}"
                probe.sendto(_options(port, attempt), ("127.0.0.1", port))
                with contextlib.suppress(TimeoutError):
                    if probe.recv(65535).startswith(b"SIP/2.0 200"):
                        break
        yield Kamailio(("127.0.0.1", port), log, transport)
    finally:
        stop(proc)


def caller(scenario: str, number: str, proxy: tuple[str, int], workdir: Path) -> subprocess.CompletedProcess[str]:
    command = [
        SIPP, f"{proxy[0]}:{proxy[1]}", "-sf", str(SCENARIOS / scenario), "-s", number, "-i", "127.0.0.2", "-p", "0",
        "-m", "1", "-nostdin", "-timeout", "20", "-timeout_error",
        "-trace_err", "-error_file", str(workdir / "caller-errors.log"),
    ]  # fmt: skip
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=60, check=False)


def counts(lcr: ThreadServer) -> Counters:
    return lcr.endpoint.counters  # type: ignore[union-attr]  # UDP and TCP share them


def test_the_call_reaches_the_gateway_lcr_ranked_first(
    kamailio: Kamailio, lcr: ThreadServer, gateway_port: int, tmp_path: Path
) -> None:
    first = lcr.snapshot.lookup(NUMBER, "globex").routes[0]
    assert (first.carrier, first.gateway, first.tech_prefix) == ("acme", Gateway("127.0.0.1", gateway_port), "4455")
    redirected, accepted = counts(lcr).redirected, lcr.stream.accepted  # type: ignore[union-attr]
    trace = tmp_path / "gateway.log"
    gateway = subprocess.Popen(
        [SIPP, "-sf", str(SCENARIOS / "gateway_uas.xml"), "-i", "127.0.0.1", "-p", str(gateway_port), "-m", "1",
         "-nostdin", "-timeout", "30", "-timeout_error", "-trace_msg", "-message_file", str(trace)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        wait_until_bound(gateway_port, gateway)
        call = caller("caller_uac.xml", NUMBER, kamailio.address, tmp_path)
        assert call.returncode == 0, call.stdout[-2000:] + "\n" + kamailio.output()
        out, _ = gateway.communicate(timeout=30)
        assert gateway.returncode == 0, out[-2000:]
    finally:
        stop(gateway)
    # the gateway got the INVITE for the carrier's tech prefix + the number, at its own address
    invites = re.findall(r"^INVITE (\S+) SIP/2\.0\r?$", trace.read_text(), re.MULTILINE)
    assert invites == [f"sip:{first.tech_prefix}{NUMBER}@127.0.0.1:{gateway_port}"]
    assert counts(lcr).redirected == redirected + 1  # lcr was asked once, and redirected
    stream = lcr.stream
    assert stream is not None
    if kamailio.lcr_transport == "tcp":  # Kamailio asked over TCP, and keeps its connection for the next call
        assert stream.accepted >= 1 and len(stream.connections) == 1
    else:
        assert stream.accepted == accepted


def test_a_blocked_number_gets_lcrs_403_back(kamailio: Kamailio, lcr: ThreadServer, tmp_path: Path) -> None:
    blocked = counts(lcr).rejected_blocked
    call = caller("caller_refused_uac.xml", BLOCKED, kamailio.address, tmp_path)
    errors = tmp_path / "caller-errors.log"
    assert call.returncode == 0, call.stdout[-2000:] + (errors.read_text() if errors.exists() else "")
    assert counts(lcr).rejected_blocked == blocked + 1
