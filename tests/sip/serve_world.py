"""Serve the SIP tests' world (compiled by the real router) on UDP, for tests that need a server
in another process (sipp).

``python -m tests.sip.serve_world [--host H] [--port P] [--workers N]`` prints
``READY <host> <port>`` once bound, then serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import sys

from lcr.sip.server import serve_sip
from tests.sip.world import real_snapshot


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    snapshot = real_snapshot()

    def ready(address: tuple[str, int]) -> None:
        print(f"READY {address[0]} {address[1]}", flush=True)

    serve_sip(args.host, args.port, lambda: snapshot, workers=args.workers, ready=ready)


if __name__ == "__main__":
    main(sys.argv[1:])
