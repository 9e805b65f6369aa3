"""Every setting is declared once, with help text, and documented in docs/settings.md."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from lcr import config
from lcr.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "settings.md"


def test_every_setting_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for s in config.ALL:
        assert s.help, s.env
        assert f"| `{s.env}` | `{s.default}` | {s.help} |" in text, f"{s.env} missing or stale in {DOC}"


def test_settings_are_unique() -> None:
    assert len({s.env for s in config.ALL}) == len(config.ALL)


def test_lcr_settings_prints_them() -> None:
    out = CliRunner().invoke(main, ["settings"]).output
    for s in config.ALL:
        assert s.env in out


def test_env_overrides_default(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LCR_DATABASE_URL", "sqlite:////tmp/elsewhere.sqlite")
    assert config.database_url() == "sqlite:////tmp/elsewhere.sqlite"
    assert config.database_url("sqlite:///:memory:") == "sqlite:///:memory:"


def test_only_the_cdr_import_keeps_polars_freed_pages() -> None:
    import lcr

    assert lcr._importing_cdrs(["lcr", "cdr", "import", "calls.csv"])
    assert lcr._importing_cdrs(["/usr/lib/lcr/cli.py", "--database-url", "sqlite:///x", "cdr", "import", "a.csv"])
    assert not lcr._importing_cdrs(["lcr", "deck", "import", "cdr"])
    assert not lcr._importing_cdrs(["lcr", "cdr", "unrated"])
    assert not lcr._importing_cdrs(["lcr", "serve"])
