"""The nightly job: an inbox directory, owners from inbox.toml, each file alone, files moved aside."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from lcr.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_inbox_imports_each_file_alone_and_moves_them(store_url: str, shared_data: Path, tmp_path: Path) -> None:
    runner = CliRunner()

    def lcr(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(main, [*args, "--database-url", store_url], catch_exceptions=False)

    for name in ("acme", "borealis"):
        assert lcr("carrier", "add", name, "--gateway", "192.0.2.1").exit_code == 0
    decks = tmp_path / "ratedecks"
    shutil.copytree(REPO / "ratedecks" / "profiles", decks / "profiles")
    shutil.copy(REPO / "ratedecks" / "inbox.toml", decks / "inbox.toml")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(shared_data / "decks" / "acme_notice.csv", inbox)
    shutil.copy(shared_data / "decks" / "borealis_rates.csv", inbox)
    (inbox / "borealis_broken.csv").write_text("Code,Destination,Cost / Min (USD)\n44,UK,zero\n")
    (inbox / "unknown_vendor.csv").write_text("prefix,destination,rate,effective_date\n44,UK,0.01,2026-11-01\n")

    result = lcr("deck", "import", str(inbox), "--ratedecks", str(decks), "--received", "2026-11-02", "--json")
    assert result.exit_code == 1  # some files were rejected: cron must notice
    doc = json.loads(result.stdout)
    status = {d["file"]: d["status"] for d in doc["files"]}
    assert status == {
        "acme_notice.csv": "imported",
        "borealis_rates.csv": "imported",
        "borealis_broken.csv": "rejected",
        "unknown_vendor.csv": "rejected",
    }
    assert doc["rejected"] == 2
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == [
        "acme_notice.csv", "acme_notice.csv.report.json", "acme_notice.csv.report.txt",
        "borealis_rates.csv", "borealis_rates.csv.report.json", "borealis_rates.csv.report.txt",
    ]
    rejected_report = (inbox / "rejected" / "borealis_broken.csv.report.txt").read_text()
    assert "line 2" in rejected_report and "zero" in rejected_report
    assert "no entry" in (inbox / "rejected" / "unknown_vendor.csv.report.txt").read_text()
    assert not any(p.is_file() for p in inbox.iterdir())  # the inbox is empty again

    # a second run over the (now empty) inbox does nothing and succeeds
    again = lcr("deck", "import", str(inbox), "--ratedecks", str(decks), "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["files"] == []
