"""The `lcr` command against the contract: flags, exit codes (0 done, 1 rejected, 2 usage), --json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lcr.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def lcr(store_url: str):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(main, [*args, "--database-url", store_url], catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    return run


def test_add_parties_and_import(lcr, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    assert lcr("carrier", "add", "acme", "--gateway", "192.0.2.10:5060", "--tech-prefix", "1001")[0] == 0
    assert lcr("customer", "add", "globex", "--postpaid", "--credit-limit", "500", "--source-ip", "127.0.0.1",
               "--min-margin", "5", "--timezone", "Europe/Berlin")[0] == 0
    code, out, _ = lcr("deck", "import", str(shared_data / "decks" / "acme_notice.csv"), "--carrier", "acme",
                       "--received", "2026-11-02", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["status"] == "imported" and doc["counts"]["New"] >= 18
    # the same file again: exit 0, says so, nothing changed
    code, out, _ = lcr("deck", "import", str(shared_data / "decks" / "acme_notice.csv"), "--carrier", "acme",
                       "--received", "2026-11-02")
    assert code == 0 and "already imported" in out


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("carrier", "add", "x"), 2),  # --gateway is required: usage error
        (("carrier", "add", "x", "--gateway", "host:notaport"), 1),  # bad value: rejected
        (("customer", "add", "y", "--min-margin", "abc"), 1),
        (("customer", "add", "y", "--timezone", "Mars/Base"), 1),
        (("deck", "import", "nofile.csv"), 2),  # no owner given for a single file
        (("deck", "import", "nofile.csv", "--carrier", "ghost"), 1),  # unknown carrier
        (("deck", "export"), 2),  # neither --carrier nor --customer
        (("route", "4915", "--at", "yesterday"), 1),
    ],
)
def test_exit_codes(lcr, args, code) -> None:  # type: ignore[no-untyped-def]
    assert lcr(*args)[0] == code


def test_rejected_deck_json_lists_every_problem(lcr, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lcr("carrier", "add", "acme", "--gateway", "192.0.2.10")
    bad = tmp_path / "bad.csv"
    bad.write_text("prefix,destination,rate,effective_date\n49,DE,0.01,2026-11-01\n33,FR,abc,2026-11-01\n"
                   "44,UK,-1,2026-11-01\n")
    code, out, _ = lcr("deck", "import", str(bad), "--carrier", "acme", "--json")
    assert code == 1
    problems = json.loads(out)["error"]["problems"]
    assert {(p["line"], p["column"], p["value"]) for p in problems} >= {(3, "rate", "abc"), (4, "rate", "-1")}
    assert all(p["file"] == "bad.csv" for p in problems)


def test_export_then_reimport_round_trip(lcr, shared_data: Path, tmp_path: Path, store_url: str) -> None:  # type: ignore[no-untyped-def]
    lcr("carrier", "add", "orion", "--gateway", "192.0.2.50")
    assert lcr("deck", "import", str(shared_data / "decks" / "orion_rates.xlsx"), "--carrier", "orion",
               "--received", "2026-11-01")[0] == 0
    first = tmp_path / "orion.csv"
    assert lcr("deck", "export", "--carrier", "orion", "--at", "2026-11-20T00:00:00Z", "--out", str(first))[0] == 0
    text = first.read_text()
    assert text.splitlines()[0].startswith("prefix,destination,rate,effective_date")
    assert "49151,Germany Mobile,0.0471," in text


def test_dry_run_prints_rows_and_writes_nothing(lcr, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    lcr("carrier", "add", "acme", "--gateway", "192.0.2.10")
    code, out, _ = lcr("deck", "import", str(shared_data / "decks" / "acme_notice.csv"), "--carrier", "acme",
                       "--received", "2026-11-02", "--dry-run")
    assert code == 0 and "nothing written" in out and "49172" in out
    code, out, _ = lcr("deck", "export", "--carrier", "acme")
    header = "prefix,destination,rate,effective_date,end_date,first_interval,next_interval,connect_fee,change"
    assert out.strip() == header


def test_console_script_is_installed() -> None:
    bin_dir = Path(sys.executable).parent
    out = subprocess.run([str(bin_dir / "lcr"), "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("deck", "carrier", "customer", "route", "db", "demo"):
        assert command in out


def test_db_upgrade_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite'}"
    runner = CliRunner()
    first = runner.invoke(main, ["db", "upgrade", "--database-url", url])
    second = runner.invoke(main, ["db", "upgrade", "--database-url", url])
    assert first.exit_code == second.exit_code == 0
    assert "already at head" in second.output


@pytest.mark.parametrize("workers", ["0", "two", "65"])
def test_serve_rejects_a_bad_number_of_sip_workers(tmp_path: Path, workers: str) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite'}"
    result = CliRunner().invoke(main, ["serve", "--sip-workers", workers, "--database-url", url])
    assert result.exit_code == 1  # rejected before anything is bound or forked
    assert "--sip-workers" in result.stderr and repr(workers) in result.stderr
