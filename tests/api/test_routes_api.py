"""GET /v1/routes and the API's edges, in process, over the sample world on both databases."""

from __future__ import annotations

import datetime as dt

import pytest
from starlette.requests import Request

from lcr.api.app import create_app
from lcr.api.auth import Auth, Role
from lcr.errors import Forbidden
from lcr.serving import RouterService
from tests.api.conftest import running
from tests.world import load_sample_world

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC).timestamp()


@pytest.fixture
def service(engine):  # type: ignore[no-untyped-def]
    load_sample_world(engine)
    return RouterService(engine, clock=lambda: NOW)


@pytest.fixture
def client(service):  # type: ignore[no-untyped-def]
    with running(create_app(service, auth=Auth())) as c:
        yield c


def test_route_with_customer_is_the_contract_document(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/v1/routes", params={"number": "+4915123456789", "customer": "globex"})
    assert r.status_code == 200
    doc = r.json()
    assert set(doc) >= {"number", "prefix", "destination", "sell_rate", "routes"}
    assert doc["number"] == "4915123456789" and doc["prefix"] == "4915" and doc["sell_rate"] == "0.06"
    routes = doc["routes"]
    assert [r["carrier"] for r in routes] == ["centauri", "orion", "borealis", "acme"]
    assert [r["prefix"] for r in routes] == ["4915", "49151", "4915", "49151"]
    assert routes[0] == {"carrier": "centauri", "gateway": "198.51.100.30:5080", "prefix": "4915",
                         "rate": "0.0455", "margin": "0.0145", "tech_prefix": ""}
    rates = [float(r["rate"]) for r in routes]
    assert rates == sorted(rates)


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"number": "99912345", "customer": "globex"}, 404, "NO_ROUTE"),  # globex's deck does not cover 999
        ({"number": "4915x"}, 400, "BAD_NUMBER"),  # not digits
        ({"number": "1" * 33}, 400, "BAD_NUMBER"),  # longer than 32 digits
        ({"number": ""}, 400, "BAD_NUMBER"),  # empty
        ({}, 400, "BAD_REQUEST"),  # number missing
        ({"number": "4915123", "customer": "nobody"}, 404, "NOT_FOUND"),  # unknown customer
        ({"number": "4915123", "at": "soon"}, 400, "BAD_INPUT"),  # bad instant
    ],
)
def test_errors_have_one_shape(client, params, status, code) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/v1/routes", params=params)
    assert r.status_code == status
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code


def test_unknown_path_and_method_use_the_error_shape(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/nowhere").json()["error"]["code"] == "NOT_FOUND"
    r = client.delete("/v1/routes")
    assert r.status_code == 405 and r.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_at_answers_the_past(client) -> None:  # type: ignore[no-untyped-def]
    # centauri's 4917 starts on 15.11.2026; before that only the shorter 49 matches for centauri
    before = client.get("/v1/routes", params={"number": "4917012345", "at": "2026-11-10T00:00:00Z"}).json()
    after = client.get("/v1/routes", params={"number": "4917012345", "at": "2026-11-20T00:00:00Z"}).json()
    centauri_before = next(r for r in before["routes"] if r["carrier"] == "centauri")
    centauri_after = next(r for r in after["routes"] if r["carrier"] == "centauri")
    assert (centauri_before["prefix"], centauri_after["prefix"]) == ("49", "4917")


def test_explain(client) -> None:  # type: ignore[no-untyped-def]
    doc = client.get("/v1/routes", params={"number": "4915123456789", "customer": "globex",
                                           "explain": "true"}).json()
    verdicts = {e["carrier"]: e["verdict"] for e in doc["explain"]}
    assert verdicts["delta"] == "no coverage" and verdicts["centauri"] == "kept"


def test_healthz_and_metrics(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/healthz").json()["status"] == "ok"
    client.get("/v1/routes", params={"number": "4915123456789"})
    text = client.get("/metrics").text
    assert 'lcr_route_lookups_total{result="OK"} 1' in text
    assert "# TYPE lcr_store_version gauge" in text


def test_openapi_documents_the_routes_endpoint(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/openapi.json").json()
    assert "/v1/routes" in spec["paths"] and "/v1/decks" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_tokens(service) -> None:  # type: ignore[no-untyped-def]
    app = create_app(service, auth=Auth(admin_tokens=("adm",), read_tokens=("ro",)))
    with running(app) as c:
        q = {"number": "4915123456789"}
        assert c.get("/v1/routes", params=q).json()["error"]["code"] == "UNAUTHORIZED"
        assert c.get("/v1/routes", params=q, headers={"Authorization": "Bearer nope"}).status_code == 401
        assert c.get("/v1/routes", params=q, headers={"Authorization": "Bearer ro"}).status_code == 200
        assert c.get("/v1/routes", params=q, headers={"Authorization": "Bearer adm"}).status_code == 200
        files = {"file": ("x.csv", b"prefix,destination,rate,effective_date\n44,UK,0.01,2026-11-01\n")}
        r = c.post("/v1/decks", data={"carrier": "acme", "dry_run": "true"}, files=files,
                   headers={"Authorization": "Bearer ro"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"
        r = c.post("/v1/decks", data={"carrier": "acme", "dry_run": "true"}, files=files,
                   headers={"Authorization": "Bearer adm"})
        assert r.status_code == 200 and r.json()["status"] == "dry-run"


@pytest.mark.parametrize(
    ("client_host", "allowed"),
    [("127.0.0.1", True), ("::1", True), ("127.0.0.2", True), ("203.0.113.9", False), ("10.1.2.3", False)],
)
def test_demo_mode_serves_loopback_only(client_host: str, allowed: bool) -> None:
    # no socket from a non-loopback address can be made here: the check itself, on a real Request
    request = Request({"type": "http", "client": (client_host, 40000), "headers": []})
    check = Auth().require(Role.READ)
    if allowed:
        check(request)
    else:
        with pytest.raises(Forbidden, match="loopback"):
            check(request)


def test_deck_upload_imports_and_reports(client) -> None:  # type: ignore[no-untyped-def]
    body = b"prefix,destination,rate,effective_date\n44,UK,0.0011,2026-11-01\n"
    r = client.post("/v1/decks", data={"carrier": "acme", "mode": "delta", "received": "2026-11-20"},
                    files={"file": ("acme_uk.csv", body)})
    assert r.status_code == 201 and r.json()["status"] == "imported"
    bad = client.post("/v1/decks", data={"carrier": "acme"}, files={"file": ("bad.csv", b"hello\n")})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "DECK_REJECTED"
    history = client.get("/v1/decks/imports").json()["imports"]
    assert history[0]["file"] == "acme_uk.csv" and history[0]["carrier"] == "acme"


def test_explain_of_a_refused_number_keeps_the_refusal_status(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/v1/routes", params={"number": "99912345", "customer": "globex", "explain": "true"})
    assert r.status_code == 404
    body = r.json()
    assert body["error"]["code"] == "NO_ROUTE" and isinstance(body["explain"], list)


def test_fast_encoder_writes_what_answer_json_says(service) -> None:  # type: ignore[no-untyped-def]
    import json

    from lcr.api.render import AnswerEncoder, answer_json

    snap = service.snapshot()
    encoder = AnswerEncoder()
    for number, customer in [("4915123456789", "globex"), ("4915123456789", None), ("447400123456", "globex"),
                             ("12015311234", None), ("+33612345678", "globex")]:
        for _ in range(2):  # the second time from the caches
            fast = encoder.encode(snap.lookup(number, customer))
            assert fast == json.dumps(answer_json(snap.lookup(number, customer)), separators=(",", ":")).encode()


def test_a_deck_upload_leaves_the_rating_decks_compiled(service, client) -> None:  # type: ignore[no-untyped-def]
    import time

    from tests.store.helpers import decks_ready

    assert not decks_ready(service.engine)
    body = b"prefix,destination,rate,effective_date\n44,UK,0.0011,2026-11-01\n"
    r = client.post("/v1/decks", data={"carrier": "acme", "mode": "delta", "received": "2026-11-20"},
                    files={"file": ("acme_uk.csv", body)})
    assert r.status_code == 201
    deadline = time.monotonic() + 30  # compiled after the answer, in the background
    while not decks_ready(service.engine):
        assert time.monotonic() < deadline, "the rating decks were not compiled after the upload"
        time.sleep(0.05)
