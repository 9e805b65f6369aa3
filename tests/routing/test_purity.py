"""The routing core is pure: it imports no database, web, socket or asyncio code."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import lcr.routing

FORBIDDEN = ("sqlalchemy", "alembic", "psycopg", "fastapi", "starlette", "uvicorn", "httpx", "asyncio",
             "socket", "selectors", "ssl", "lcr.store", "lcr.api", "lcr.sip", "lcr.cli")


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def test_importing_routing_loads_nothing_impure():
    # Polars itself pulls in ``socket`` (through the stdlib's ``email.utils``), so the check is
    # on what importing lcr.routing adds on top of polars.
    code = (
        "import sys, polars\n"
        "before = set(sys.modules)\n"
        "import lcr.routing, lcr.routing.reference\n"
        "print('\\n'.join(sorted(set(sys.modules) - before)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    added = out.stdout.split()
    assert "lcr.routing.snapshot" in added
    assert [m for m in added if _forbidden(m)] == []


def test_routing_sources_import_nothing_impure():
    for path in Path(lcr.routing.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not [n for n in names if _forbidden(n)], f"{path.name} imports {names}"
