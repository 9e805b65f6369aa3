"""The HTTP API (FastAPI): route lookups, deck imports, parties, health and metrics.

One JSON error shape for every error, ``{"error": {"code", "message"}}`` (``lcr.errors`` maps each
error to its status). ``/v1/routes`` is the hot endpoint: no SQL, no pydantic model either way
(its handler reads the query itself, see ``_served_by``; FastAPI documents it all the same), and
its JSON is written from cached fragments (``render.AnswerEncoder``). ``bench/http`` measures it
against ``/ping``. Endpoints and dependencies that do no I/O are ``async`` (run on the event loop,
not handed to the thread pool); the ones that touch the store stay sync.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote_plus

from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from lcr.api.auth import Auth, Role
from lcr.api.metrics import Metrics
from lcr.api.render import AnswerEncoder, answer_json
from lcr.decks.plan import NoticePolicy
from lcr.errors import InputError, LcrError
from lcr.model import OwnerKind
from lcr.serving import RouterService

log = logging.getLogger("lcr.api")

class PaymentIn(BaseModel):
    amount: str = Field(description="Decimal string, e.g. \"100.00\"; negative for a refund")
    reference: str | None = None


class CdrIn(BaseModel):
    call_id: str
    customer: str | None = None
    carrier: str | None = None
    src: str = ""
    dst: str
    start_time: str = Field(description="ISO 8601, UTC unless an offset is given")
    answer_time: str | None = None
    end_time: str | None = None
    billsec: int | str = Field(description="Whole seconds; a bad value quarantines the record, not the batch")
    disposition: str = "ANSWERED"


class CdrBatchIn(BaseModel):
    source: str = Field("api", description="Where the batch comes from (switch name); shown in reports")
    cdrs: list[CdrIn] = Field(max_length=100_000)


ERROR_EXAMPLE = {"application/json": {"example": {"error": {"code": "NO_ROUTE", "message": "no route to 999"}}}}


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type="application/json")


def _on_loop(check: Callable[[Request], None]) -> Callable[[Request], Awaitable[None]]:
    """An auth check as an ``async`` dependency: FastAPI runs sync dependencies in its thread pool,
    a hand-off that costs more than the check itself."""

    async def dependency(request: Request) -> None:
        check(request)

    return dependency


#: How ``explain=`` is read: pydantic's lax booleans, which the other endpoints' flags accept.
_BOOLS: dict[str, bool] = {
    **dict.fromkeys(("1", "on", "t", "true", "y", "yes"), True),
    **dict.fromkeys(("0", "off", "f", "false", "n", "no"), False),
}
_BAD_EXPLAIN = "query.explain: Input should be a valid boolean, unable to interpret input"

_NUMBER_DOC = "Dialled number; `+`, `00`, `011` and the customer's tech prefix are stripped"
_CUSTOMER_DOC = "Customer name: adds its sell rate and margin protection"


def _query(raw: bytes) -> dict[str, str]:
    """A query string as Starlette's ``request.query_params`` reads it (``parse_qsl`` with blank
    values kept, UTF-8, the last of repeated names wins), without its multi-dict: a third of the
    cost, and only names and values with ``%`` or ``+`` are unquoted."""
    out: dict[str, str] = {}
    for pair in raw.decode("latin-1").split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if "%" in name or "+" in name:
            name = unquote_plus(name)
        if "%" in value or "+" in value:
            value = unquote_plus(value)
        out[name] = value
    return out


def _served_by(handler: Callable[[Request], Awaitable[Response]]) -> type[APIRoute]:
    """An ``APIRoute`` documented from its endpoint's signature, as any other, but served by
    ``handler`` (a Starlette endpoint that reads the request itself).

    FastAPI's per-request dependency solving and parameter validation cost more than the route
    lookup and its JSON together (~3x, measured by ``bench/http``): the hot endpoint skips them
    and keeps the app's routing, middleware, exception handlers and error shape. FastAPI's
    documented extension point for this is ``APIRoute.get_route_handler``.
    """

    class Served(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            return handler  # type: ignore[return-value]

    return Served


def _prepare_rating(engine: Engine) -> None:
    """The rating decks compiled after a deck upload, by ``lcr deck compile`` in a process of its
    own at a lower CPU priority (nice 10): the server keeps answering routes and SIP first, and
    the compile's memory (GBs for millions of rate versions) goes away with that process. A
    failure is logged; the next CDR batch compiles them."""
    env = {**os.environ, "LCR_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    command = [sys.executable, "-m", "lcr.cli", "deck", "compile"]
    nice = shutil.which("nice")
    if nice is not None:
        command = [nice, "-n", "10", *command]
    with _COMPILING:  # uploads in a row: the later one finds the work done, or does what is left
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("rating decks not compiled after a deck upload: %s", exc)
            return
    if done.returncode != 0:
        log.warning("rating decks not compiled after a deck upload (exit %d): %s", done.returncode,
                    done.stderr.strip()[-2000:])
    else:
        log.info("%s", done.stdout.strip())


COMPILE_TIMEOUT_S = 900
_COMPILING = threading.Lock()


def create_app(service: RouterService, *, auth: Auth, metrics: Metrics | None = None,
               profiles_dir: Path | None = None, notice_policy: NoticePolicy = NoticePolicy.WARN) -> FastAPI:
    app = FastAPI(
        title="lcr",
        summary="Wholesale least-cost routing and rating engine",
        description=(
            "Route lookups for softswitches, deck imports for the rate desk. Every error has the shape "
            '`{"error": {"code": "...", "message": "..."}}`. Money values are decimal strings. '
            "Authentication: `Authorization: Bearer TOKEN` once tokens are configured "
            "(read-only tokens may look up routes and balances; admin tokens may also change things)."
        ),
        version="1",
    )
    metrics = metrics or Metrics()
    app.state.service, app.state.metrics, app.state.auth = service, metrics, auth
    encoder = AnswerEncoder()
    read = Depends(_on_loop(auth.require(Role.READ)))
    admin = Depends(_on_loop(auth.require(Role.ADMIN)))

    @app.exception_handler(LcrError)
    async def _lcr_error(_request: Request, exc: LcrError) -> Response:
        return _json(exc.to_json(), exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _json({"error": {"code": "BAD_REQUEST", "message": f"{where}: {first.get('msg', 'invalid')}"}}, 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
        return _json({"error": {"code": code, "message": str(exc.detail)}}, exc.status_code)

    @app.get("/healthz", tags=["operations"], summary="Liveness and the snapshot being served")
    async def healthz() -> Response:
        snap = service.snapshot()
        return _json({"status": "ok", "store_version": service.version, "snapshot_at": snap.at,
                      "valid_until": snap.valid_until})

    @app.get("/metrics", tags=["operations"], summary="Prometheus text format",
             response_class=PlainTextResponse)
    async def prometheus() -> Response:
        return PlainTextResponse(metrics.render(service), media_type="text/plain; version=0.0.4")

    @app.get("/ping", tags=["operations"], summary="Trivial endpoint (the HTTP benchmark's baseline)",
             include_in_schema=True)
    async def ping() -> Response:
        return _json({"pong": True})

    check_read = auth.require(Role.READ)

    async def routes(request: Request) -> Response:
        """``GET /v1/routes``, the hot endpoint: reads its query itself (see ``_served_by``)."""
        check_read(request)
        query = _query(request.scope["query_string"])
        number = query.get("number")
        if number is None:
            return _json({"error": {"code": "BAD_REQUEST", "message": "query.number: Field required"}}, 400)
        customer = query.get("customer")
        at = query.get("at")
        explain = _BOOLS.get(query.get("explain", "false").lower())
        if explain is None:
            return _json({"error": {"code": "BAD_REQUEST", "message": _BAD_EXPLAIN}}, 400)
        try:
            if at is None:
                snap = service.snapshot()
                answer = snap.explain(number, customer) if explain else snap.lookup(number, customer)
            else:
                from lcr.routing import explain_at, lookup_at
                from lcr.timeutil import parse_instant

                when = parse_instant(at, "at")
                # compiles the rows of the number's prefixes (Polars): off the event loop
                answer = await run_in_threadpool(explain_at if explain else lookup_at, service.inputs, number,
                                                 customer, when)
        except LcrError as exc:
            metrics.count_route(exc.code)
            raise
        if answer.refusal is not None:  # explain=true on a number lookup() refuses: its status, and why
            metrics.count_route(answer.refusal.code)
            body = {"error": {"code": answer.refusal.code, "message": answer.refusal.message},
                    **answer_json(answer)}
            return _json(body, answer.refusal.http_status)
        metrics.count_route("OK")
        return Response(encoder.encode(answer), media_type="application/json")

    def routes_documented(
        number: Annotated[str, Query(description=_NUMBER_DOC)],
        customer: Annotated[str | None, Query(description=_CUSTOMER_DOC)] = None,
        at: Annotated[str | None, Query(description="ISO 8601 instant (default now)")] = None,
        explain: Annotated[bool, Query(description="Add, per carrier, why it was kept or dropped")] = False,
    ) -> Response:
        """The parameters OpenAPI shows for ``/v1/routes``; ``routes`` serves the requests."""
        raise NotImplementedError  # pragma: no cover - never called, see _served_by

    app.router.add_api_route(
        "/v1/routes",
        routes_documented,
        methods=["GET"],
        tags=["routing"],
        summary="Carriers that may carry a call, cheapest first",
        description="Needs a read token once tokens are configured (demo mode: loopback clients only).",
        responses={
            200: {"content": {"application/json": {"example": {
                "number": "4915123456789", "prefix": "4915", "destination": "Germany Mobile", "sell_rate": "0.06",
                "routes": [{"carrier": "centauri", "gateway": "198.51.100.30:5080", "prefix": "4915",
                            "rate": "0.0455", "margin": "0.0145", "tech_prefix": ""}]}}}},
            400: {"description": "malformed number", "content": ERROR_EXAMPLE},
            401: {"description": "missing or unknown token", "content": ERROR_EXAMPLE},
            402: {"description": "no credit", "content": ERROR_EXAMPLE},
            403: {"description": "blocked destination", "content": ERROR_EXAMPLE},
            404: {"description": "no route", "content": ERROR_EXAMPLE},
        },
        route_class_override=_served_by(routes),
    )
    app.router.routes.insert(0, app.router.routes.pop())  # the hot route is matched first

    @app.post("/v1/decks", tags=["decks"], summary="Upload and import a rate deck", dependencies=[admin],
              status_code=201)
    async def upload_deck(
        file: Annotated[UploadFile, File(description="The deck file (CSV or XLSX) as the vendor sent it")],
        carrier: Annotated[str | None, Form()] = None,
        customer: Annotated[str | None, Form()] = None,
        profile: Annotated[str | None, Form()] = None,
        mode: Annotated[str, Form(pattern="^(full|delta)$")] = "full",
        received: Annotated[str | None, Form(description="YYYY-MM-DD; default today (UTC)")] = None,
        dry_run: Annotated[bool, Form()] = False,
    ) -> Response:
        from lcr.store.imports import import_deck, parse_received

        if bool(carrier) == bool(customer):
            raise InputError("give exactly one of carrier or customer")
        kind = OwnerKind.CARRIER if carrier else OwnerKind.CUSTOMER
        name = Path(file.filename or "deck.csv").name
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_bytes(await file.read())
            # a million-row deck takes seconds: off the event loop that also serves routes and SIP
            report = await run_in_threadpool(
                partial(import_deck, service.engine, path, kind=kind, owner=carrier or customer,  # type: ignore[arg-type]
                        profile=profile, profiles_dir=profiles_dir, mode=mode, received=parse_received(received),
                        dry_run=dry_run, policy=notice_policy))
        response = _json(report.to_json(), 201 if report.status == "imported" else 200)
        if report.status == "imported":  # after the answer: the next CDR batch finds the decks compiled
            response.background = BackgroundTask(_prepare_rating, service.engine)
        return response

    @app.get("/v1/customers/{name}/balance", tags=["billing"], summary="Balance, credit limit, available credit",
             dependencies=[read], responses={404: {"description": "no such customer", "content": ERROR_EXAMPLE}})
    def customer_balance(name: str) -> Response:
        from lcr.store.ledger import balance_of

        with service.engine.connect() as conn:
            return _json(balance_of(conn, name).to_json())

    @app.post("/v1/customers/{name}/payments", tags=["billing"], summary="Record a payment", dependencies=[admin],
              status_code=201)
    def customer_payment(name: str, body: PaymentIn) -> Response:
        from lcr.money import to_micro
        from lcr.store.db import writing
        from lcr.store.ledger import add_payment, raise_alarms

        try:
            micro = to_micro(body.amount)
        except ValueError as exc:
            raise InputError(f"amount: {exc}") from None
        with writing(service.engine) as conn:
            view, alarm = add_payment(conn, name, micro, body.reference)
        raise_alarms([alarm] if alarm else [])
        return _json(view.to_json(), 201)

    @app.post("/v1/cdrs", tags=["billing"], summary="Rate and store a batch of canonical CDRs (JSON)",
              dependencies=[admin])
    def post_cdrs(batch: CdrBatchIn) -> Response:
        from lcr.cdrs.json_batch import frame_from_json
        from lcr.store.cdrs import import_cdr_batch

        frame, problems = frame_from_json([c.model_dump() for c in batch.cdrs], source=batch.source)
        report = import_cdr_batch(service.engine, frame, problems, source=batch.source, fmt="json")
        return _json(report.to_json(), 200)

    @app.get("/v1/decks/imports", tags=["decks"], summary="Import history (newest first)", dependencies=[read])
    def imports(limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> Response:
        from lcr.store.history import import_history

        return _json({"imports": import_history(service.engine, limit)})

    return app


__all__ = ["JSONResponse", "create_app"]
