"""Credit gates routing: at zero available credit `lcr serve` answers 402 on HTTP and SIP (UDP and
TCP) within 2 seconds of the change (made by another process); a payment reopens it within 2 seconds."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.sip.sipmsg import parse_response, request
from tests.test_reload import free_port, lcr_cmd
from tests.world import REPO, load_sample_world


def wait_until(check: Callable[[], bool], limit: float, what: str) -> float:
    t0 = time.monotonic()
    while not check():
        assert time.monotonic() - t0 < limit, f"{what} not seen within {limit} s"
        time.sleep(0.05)
    return time.monotonic() - t0


def test_no_credit_gives_402_on_http_and_sip_and_a_payment_reopens(engine, store_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    load_sample_world(engine)  # globex: postpaid, credit limit 500, source IP 127.0.0.1
    http_port, sip_port = free_port(), free_port(socket.SOCK_DGRAM)
    env = {**os.environ, "LCR_DATABASE_URL": store_url}
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(lcr_cmd("serve", "--http", f"127.0.0.1:{http_port}", "--sip", f"127.0.0.1:{sip_port}"),
                              env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sip.bind(("127.0.0.1", 0))
    sip.settimeout(2)
    url = f"http://127.0.0.1:{http_port}/v1/routes"
    n = [0]

    def http_status() -> int:
        try:
            return httpx.get(url, params={"number": "4915123456789", "customer": "globex"}, timeout=2).status_code
        except httpx.TransportError:
            return 0

    def sip_status() -> int:
        n[0] += 1
        sip.sendto(request(uri="sip:4915123456789@lcr.example", call_id=f"gate-{n[0]}"), ("127.0.0.1", sip_port))
        return parse_response(sip.recv(65536)).status

    def sip_tcp_status() -> int:  # the same port over TCP, one connection per request
        n[0] += 1
        with socket.create_connection(("127.0.0.1", sip_port), timeout=2) as tcp:
            tcp.sendall(request(uri="sip:4915123456789@lcr.example", call_id=f"gate-{n[0]}"))
            answer = b""
            while not answer.endswith(b"\r\n\r\n"):
                chunk = tcp.recv(65536)
                assert chunk, answer
                answer += chunk
        return parse_response(answer).status

    def pay(amount: str) -> None:
        subprocess.run(lcr_cmd("payment", "add", "globex", amount, "--reference", "test"), env=env, check=True,
                       capture_output=True)

    try:
        wait_until(lambda: http_status() == 200, 30, "lcr serve up")
        assert sip_status() == 302
        assert sip_tcp_status() == 302
        pay("-500")  # a refund down to exactly zero available credit: refused ("at or below zero")
        wait_until(lambda: http_status() == 402, 2.0, "402 over HTTP")
        wait_until(lambda: sip_status() == 402, 2.0, "402 over SIP")
        assert sip_tcp_status() == 402
        pay("0.01")
        wait_until(lambda: http_status() == 200, 2.0, "HTTP reopened")
        wait_until(lambda: sip_status() == 302, 2.0, "SIP reopened")
    finally:
        sip.close()
        server.terminate()
        server.wait(10)
        log.close()
