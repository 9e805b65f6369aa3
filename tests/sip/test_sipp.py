"""The redirect server against a real SIP tester: sipp runs tests/sip/sipp/lcr_uac.xml.

Skipped when ``sipp`` is not installed (Debian/Ubuntu: ``apt-get install sip-tester``).
The server runs in a subprocess (``tests.sip.serve_world``); sipp sends from 127.0.0.2, which
is no customer's source IP, so the scenario exercises customers found by tech prefix.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sip.conftest import run_sipp

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCENARIO = HERE / "sipp" / "lcr_uac.xml"

pytestmark = pytest.mark.skipif(
    shutil.which("sipp") is None, reason="sipp is not installed (apt-get install sip-tester)"
)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    with subprocess.Popen(
        [sys.executable, "-m", "tests.sip.serve_world"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            assert line.startswith("READY"), line
            _, host, port = line.split()
            yield host, int(port)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)


def test_sipp_acceptance_scenario(server: tuple[str, int], tmp_path: Path) -> None:
    done = run_sipp(SCENARIO, server, tmp_path, calls=20)
    errors = (tmp_path / "errors.log").read_text() if (tmp_path / "errors.log").exists() else ""
    assert done.returncode == 0, done.stdout[-2000:] + errors
    assert "Successful call" in done.stdout


def test_sipp_scenario_fails_on_a_wrong_contact(server: tuple[str, int], tmp_path: Path) -> None:
    # the ereg checks bite: the same scenario expecting another tech prefix fails
    wrong = tmp_path / "wrong.xml"
    wrong.write_text(SCENARIO.read_text().replace("sip:4455442071234567@", "sip:4456442071234567@"))
    assert run_sipp(wrong, server, tmp_path, calls=1).returncode != 0
