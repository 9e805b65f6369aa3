"""A low-balance threshold logs a warning and calls the webhook once per crossing (real HTTP)."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from click.testing import CliRunner

from lcr.cli import main
from lcr.store.db import writing
from lcr.store.ledger import add_payment, raise_alarms


@pytest.fixture
def webhook():  # type: ignore[no-untyped-def]
    received: list[dict] = []  # type: ignore[type-arg]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_webhook_once_per_crossing(engine, store_url: str, webhook, caplog) -> None:  # type: ignore[no-untyped-def]
    url, received = webhook
    result = CliRunner().invoke(main, ["customer", "add", "acme-retail", "--prepaid", "--low-balance", "10",
                                       "--webhook", url, "--database-url", store_url])
    assert result.exit_code == 0, result.output

    def pay(amount: int) -> None:
        with writing(engine) as conn:
            _view, alarm = add_payment(conn, "acme-retail", amount, None)
        raise_alarms([alarm] if alarm else [])

    with caplog.at_level(logging.WARNING, logger="lcr.ledger"):
        pay(50_000_000)  # 50: above the threshold, nothing
        pay(-45_000_000)  # 5: crossed below -> one call
        pay(-1_000_000)  # 4: still below -> no new call
        pay(20_000_000)  # 24: back above -> re-armed
        pay(-20_000_000)  # 4: crossed again -> second call
    assert [e["available"] for e in received] == ["5", "4"]
    assert all(e["event"] == "low_balance" and e["customer"] == "acme-retail" for e in received)
    assert sum("below its low-balance threshold" in r.message for r in caplog.records) == 2
