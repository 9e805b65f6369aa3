"""lcr.billing is pure: it imports no database, web, socket or asyncio code, and no other edge of lcr."""

from __future__ import annotations

import ast
from pathlib import Path

import lcr.billing

PACKAGE = Path(lcr.billing.__file__).parent
FORBIDDEN = ("sqlalchemy", "alembic", "psycopg", "fastapi", "starlette", "uvicorn", "httpx", "asyncio", "socket",
             "click", "lcr.store", "lcr.api", "lcr.sip", "lcr.cli", "lcr.serve", "lcr.serving", "lcr.inbox")


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_module_imports_an_edge() -> None:
    files = sorted(PACKAGE.glob("*.py"))
    assert len(files) >= 5
    for path in files:
        for name in imported(path):
            bad = [f for f in FORBIDDEN if name == f or name.startswith(f + ".")]
            assert not bad, f"{path.name} imports {name}"


def test_exported_names() -> None:
    assert set(lcr.billing.__all__) == {"DEMO_ISSUER", "Adjustment", "Invoice", "InvoiceCall", "InvoiceFacts",
                                        "InvoiceLine", "build_invoice"}
    for name in lcr.billing.__all__:
        assert hasattr(lcr.billing, name)
