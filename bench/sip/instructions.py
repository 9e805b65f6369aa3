"""Instructions per call of the lcr SIP server, counted by callgrind: ``python -m bench.sip.instructions``.

CPU time per call moves with the machine's load (other jobs, caches, frequency); instruction
counts do not. Workload: ``bench.sip.serve`` (uvloop, one process) over a 3,000-prefix world
(the router's cost per lookup does not depend on the world's size) runs under ``valgrind
--tool=callgrind``; a client sends 50 warm-up calls (INVITE -> 302 -> ACK, one at a time), the
counters are zeroed, then ``--calls`` calls (default 2,000; numbers cycled over 1,000), and the
counters are dumped. Prints instructions per call in user space (the interpreter, uvloop, libc;
not the kernel); the callgrind file is kept for ``callgrind_annotate``. ``--tree DIR`` measures
the lcr checked out in DIR.
Needs valgrind (``apt-get install valgrind``); takes a minute or two.

    python -m bench.sip.instructions --calls 2000
    python -m bench.sip.instructions --tree /tmp/before     # the parent commit, say
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.sip.handler import invite
from bench.sip.run import ROOT, free_port
from bench.sip.world import make_world, numbers

PREFIXES = 3_000


def calls(port: int, dialled: list[str], n: int, start: int = 0) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(30)
        for i in range(start, start + n):
            number = dialled[i % len(dialled)]
            s.sendto(invite(number, i), ("127.0.0.1", port))
            answer = s.recv(65535)
            if not answer.startswith(b"SIP/2.0 302"):
                raise RuntimeError(f"expected a 302, got {answer[:200]!r}")
            s.sendto(invite(number, i, "ACK", ";tag=x"), ("127.0.0.1", port))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2_000)
    parser.add_argument("--tree", default=None, help="serve lcr as checked out in this directory")
    args = parser.parse_args()
    for tool in ("valgrind", "callgrind_control", "callgrind_annotate"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (apt-get install valgrind)")
    work = Path(tempfile.mkdtemp(prefix="lcr-sip-callgrind-"))
    port = free_port()
    out = work / "callgrind.out"
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-m",
               "bench.sip.serve", "--port", str(port), "--prefixes", str(PREFIXES)]  # fmt: skip
    log = open(work / "server.log", "w+")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(command, cwd=args.tree or ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 900
        while "READY" not in (work / "server.log").read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {(work / 'server.log').read_text()[-2000:]}")
            time.sleep(1)
        dialled = numbers(make_world(prefixes=PREFIXES), 1_000)
        calls(port, dialled, 50)  # warm-up: imports, memos, specialisation
        subprocess.run(["callgrind_control", "--zero", str(proc.pid)], check=True, capture_output=True)
        calls(port, dialled, args.calls, start=50)
        subprocess.run(["callgrind_control", "--dump=measured", str(proc.pid)], check=True, capture_output=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    dumps = sorted(work.glob("callgrind.out*"), key=lambda p: p.stat().st_mtime)
    measured = next(p for p in dumps if "measured" in p.read_text(errors="replace")[:2000])
    annotated = subprocess.run(["callgrind_annotate", str(measured)], capture_output=True, text=True, check=True).stdout
    total = re.search(r"([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", annotated)
    if total is None:
        raise RuntimeError(f"no PROGRAM TOTALS in {measured}")
    per_call = int(total.group(1).replace(",", "")) / args.calls
    print(f"lcr from {args.tree or ROOT}: {per_call:,.0f} instructions per call (INVITE -> 302, ACK), user space, "
          f"over {args.calls} calls")  # fmt: skip
    print(f"(callgrind files in {work})")


if __name__ == "__main__":
    main()
