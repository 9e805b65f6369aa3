"""`lcr demo`: loads the sample world into a fresh embedded database, serves it, and the curl and
sipp lines it prints work (sipp: when installed; CI installs it)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.test_reload import free_port, lcr_cmd
from tests.world import REPO


def test_demo_loads_serves_and_its_printed_commands_work(tmp_path: Path) -> None:
    http_port, sip_port = free_port(), free_port(socket.SOCK_DGRAM)
    env = {**os.environ, "LCR_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite'}"}
    out = (tmp_path / "demo.log").open("w+")
    demo = subprocess.Popen(lcr_cmd("demo", "--http", f"127.0.0.1:{http_port}", "--sip", f"127.0.0.1:{sip_port}"),
                            env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while "Ctrl-C stops." not in (text := (tmp_path / "demo.log").read_text()):
            assert demo.poll() is None and time.monotonic() < deadline, text
            time.sleep(0.1)
        for name in ("acme", "borealis", "centauri", "delta", "orion", "globex"):
            assert f"{name}" in text
        assert text.count("imported ") == 6
        curl = re.search(r"curl -s '([^']+)'", text)
        assert curl
        deadline = time.monotonic() + 30
        while True:
            try:
                doc = httpx.get(curl.group(1), timeout=2).json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert doc["number"] == "4915123456789" and doc["routes"][0]["carrier"] == "centauri"
        sipp_line = next(line.strip() for line in text.splitlines() if line.strip().startswith("sipp "))
        if shutil.which("sipp") is None:
            if os.environ.get("CI"):
                pytest.fail("sipp is not installed (apt-get install sip-tester)")
            return
        args = shlex.split(sipp_line)
        args[args.index("-p") + 1] = str(free_port(socket.SOCK_DGRAM))
        run = subprocess.run([*args, "-timeout", "10s", "-nostdin"], cwd=REPO, capture_output=True, text=True,
                             timeout=30)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    finally:
        demo.terminate()
        demo.wait(10)
        out.close()
        for f in REPO.glob("demo_call_*"):
            f.unlink()
