"""Balances, payments and CDR batches over HTTP (real loopback socket), on both databases."""

from __future__ import annotations

import pytest

from lcr.api.app import create_app
from lcr.api.auth import Auth
from lcr.serving import RouterService
from tests.api.conftest import running
from tests.world import load_sample_world

CALL = {"call_id": "api-1", "customer": "globex", "carrier": "acme", "src": "15551230001", "dst": "4915123456789",
        "start_time": "2026-11-03T10:00:00Z", "answer_time": "2026-11-03T10:00:05Z",
        "end_time": "2026-11-03T10:01:05Z", "billsec": 60, "disposition": "ANSWERED"}


@pytest.fixture
def client(engine):  # type: ignore[no-untyped-def]
    load_sample_world(engine)
    with running(create_app(RouterService(engine), auth=Auth())) as c:
        yield c


def test_cdr_batch_is_charged_once(client) -> None:  # type: ignore[no-untyped-def]
    first = client.post("/v1/cdrs", json={"source": "sbc-1", "cdrs": [CALL, {**CALL, "call_id": "api-2",
                                                                                 "billsec": "x"}]})
    assert first.status_code == 200
    doc = first.json()
    assert (doc["imported"], doc["duplicates"], doc["malformed"]) == (1, 0, 1)
    assert doc["charged"] == {"globex": "0.06"}  # 60 s at 0.06/min, 60/1 increments
    assert doc["problems"][0]["line"] == 2 and doc["problems"][0]["column"] == "billsec"
    again = client.post("/v1/cdrs", json={"cdrs": [CALL]}).json()
    assert (again["imported"], again["duplicates"], again["charged"]) == (0, 1, {})
    bal = client.get("/v1/customers/globex/balance").json()
    assert bal == {"customer": "globex", "currency": "USD", "balance": "-0.06", "credit_limit": "500",
                   "available": "499.94", "prepaid": False}


def test_payment_and_balance(client) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/customers/globex/payments", json={"amount": "25.50", "reference": "wire 7"})
    assert r.status_code == 201 and r.json()["balance"] == "25.5"
    assert client.post("/v1/customers/globex/payments", json={"amount": "1.0000001"}).status_code == 400
    assert client.get("/v1/customers/nobody/balance").json()["error"]["code"] == "NOT_FOUND"
