"""What the SIP package may import, and what it exports."""

from __future__ import annotations

import ast
from pathlib import Path

import lcr.sip
from lcr.sip.counters import Counters

PACKAGE = Path(lcr.sip.__file__).parent


def test_sip_uses_only_the_routers_answer_values() -> None:
    # the router is reached through the RouteSnapshot protocol, never through its internals
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lcr.routing"):
                assert node.module == "lcr.routing.answer", (path.name, node.module)
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("lcr.routing") for a in node.names), path.name


def test_decide_imports_no_io() -> None:
    # handler, message, counters, snapshot: no sockets, no event loop (server.py is the only I/O)
    for name in ("handler.py", "message.py", "counters.py", "snapshot.py"):
        tree = ast.parse((PACKAGE / name).read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not imported & {"socket", "asyncio", "uvloop", "sqlalchemy", "multiprocessing"}, name


def test_exports() -> None:
    assert set(lcr.sip.__all__) == {
        "Counters", "GetSnapshot", "RouteSnapshot", "SipEndpoint", "SipWorkers", "freeze_heap", "handle_datagram",
        "open_sip_endpoint", "serve_sip", "start_sip_workers",
    }  # fmt: skip


def test_counters_in_prometheus_text() -> None:
    c = Counters(datagrams=3, redirected=2)
    text = c.prometheus()
    assert "# TYPE lcr_sip_datagrams_total counter\nlcr_sip_datagrams_total 3\n" in text
    assert "lcr_sip_redirected_total 2\n" in text
    total = Counters()
    total.add(c)
    total.add(c)
    assert total.redirected == 4
