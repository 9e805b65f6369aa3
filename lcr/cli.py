"""The ``lcr`` command. Exit codes: 0 done, 1 input rejected (nothing written), 2 usage error.

Every command that needs the store opens it through ``_engine`` (which runs the migrations);
every :class:`lcr.errors.LcrError` is turned into a message (or, with ``--json``, a JSON error
document on stdout) and exit code 1 in one place, ``_fail``.
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy import Engine

from lcr import config
from lcr.decks.plan import NoticePolicy
from lcr.errors import LcrError
from lcr.model import Carrier, Customer, Gateway, OwnerKind
from lcr.money import to_micro

F = TypeVar("F", bound=Callable[..., Any])


def _engine(url: str | None) -> Engine:
    from lcr.store.db import open_store

    engine = open_store(config.database_url(url))
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.call_on_close(engine.dispose)  # close pooled connections when the command ends
    return engine


def _fail(exc: LcrError, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(exc.to_json(), indent=2))
    else:
        click.echo(f"lcr: {exc}", err=True)
    sys.exit(exc.exit_code)


def handles_errors(fn: F) -> F:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LcrError as exc:
            _fail(exc, bool(kwargs.get("as_json")))

    return wrapper  # type: ignore[return-value]


db_option = click.option(
    "--database-url", "database_url", default=None, metavar="URL", help=config.DATABASE_URL.help
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout, nothing else.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lcr")
def main() -> None:
    """lcr: wholesale least-cost routing and rating engine."""
    gc.freeze()  # the imports' objects: later collections need not walk them again


# --- db --------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """The rate store's schema."""


@db.command("upgrade")
@db_option
@handles_errors
def db_upgrade(database_url: str | None) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    from lcr.store.db import make_engine, upgrade

    engine = make_engine(config.database_url(database_url))
    try:
        changed = upgrade(engine)
    finally:
        engine.dispose()
    click.echo("schema upgraded to head" if changed else "schema already at head")


@main.command("settings")
def settings() -> None:
    """Print every setting, its environment variable, default and meaning."""
    for s in config.ALL:
        click.echo(f"{s.env}  (default: {s.default or '(empty)'})\n    {s.help}")


# --- carriers and customers --------------------------------------------------------------------


@main.group()
def carrier() -> None:
    """Vendors lcr buys termination from."""


@carrier.command("add")
@click.argument("name")
@click.option("--gateway", "gateways", multiple=True, required=True, metavar="HOST[:PORT]",
              help="SIP gateway of the carrier (repeatable; the first is routed to).")
@click.option("--tech-prefix", default="", metavar="DIGITS", help="Digits the carrier wants before the number.")
@click.option("--notice-days", default=7, show_default=True, type=click.IntRange(0, 365),
              help="Minimum notice for a rate increase.")
@db_option
@handles_errors
def carrier_add(name: str, gateways: tuple[str, ...], tech_prefix: str, notice_days: int,
                database_url: str | None) -> None:
    """Add a carrier."""
    from lcr.errors import InputError
    from lcr.store.db import writing
    from lcr.store.parties import add_carrier

    try:
        gws = tuple(Gateway.parse(g) for g in gateways)
    except ValueError as exc:
        raise InputError(f"--gateway {exc}") from None
    with writing(_engine(database_url)) as conn:
        add_carrier(conn, Carrier(name, gws, tech_prefix, notice_days))
    click.echo(f"carrier {name} added")


@main.group()
def customer() -> None:
    """Customers lcr sells termination to."""


@customer.command("add")
@click.argument("name")
@click.option("--prepaid/--postpaid", default=False, help="Prepaid: may spend its balance only. Default postpaid.")
@click.option("--credit-limit", default=None, metavar="AMOUNT", help="Postpaid credit limit; none = unlimited.")
@click.option("--source-ip", "source_ips", multiple=True, metavar="IP", help="Softswitch address (repeatable).")
@click.option("--tech-prefix", default="", metavar="DIGITS", help="Digits the customer sends before the number.")
@click.option("--min-margin", default="0", metavar="PERCENT", help="Keep carriers with rate <= sell*(1-m/100).")
@click.option("--timezone", default="UTC", metavar="TZ", help="IANA time zone for invoices.")
@click.option("--currency", default="USD", metavar="CUR", help="ISO 4217 billing currency.")
@click.option("--low-balance", default=None, metavar="AMOUNT",
              help="Warn (log + webhook) once each time available credit falls below AMOUNT.")
@click.option("--webhook", default=None, metavar="URL", help="URL POSTed a JSON event on a low-balance crossing.")
@db_option
@handles_errors
def customer_add(name: str, prepaid: bool, credit_limit: str | None, source_ips: tuple[str, ...], tech_prefix: str,
                 min_margin: str, timezone: str, currency: str, low_balance: str | None, webhook: str | None,
                 database_url: str | None) -> None:
    """Add a customer."""
    import ipaddress

    from lcr.errors import InputError
    from lcr.store.db import writing
    from lcr.store.parties import add_customer

    limit = None
    if credit_limit is not None:
        try:
            limit = to_micro(credit_limit)
        except ValueError as exc:
            raise InputError(f"--credit-limit {exc}") from None
        if limit < 0:
            raise InputError(f"--credit-limit {credit_limit!r} must not be negative")
    for ip in source_ips:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise InputError(f"--source-ip {ip!r} is not an IP address") from None
    threshold = None
    if low_balance is not None:
        try:
            threshold = to_micro(low_balance)
        except ValueError as exc:
            raise InputError(f"--low-balance {exc}") from None
    if webhook is not None and not webhook.startswith(("http://", "https://")):
        raise InputError(f"--webhook {webhook!r} is not an http(s) URL")
    with writing(_engine(database_url)) as conn:
        add_customer(conn, Customer(name, prepaid, limit, source_ips, tech_prefix, min_margin, timezone,
                                    currency.upper(), threshold, webhook))
    click.echo(f"customer {name} added")


# --- decks ---------------------------------------------------------------------------------------


@main.group()
def deck() -> None:
    """Rate decks: import vendor files, export what is in force."""


@deck.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--carrier", "carrier_name", default=None, metavar="NAME", help="The carrier whose buy deck this is.")
@click.option("--customer", "customer_name", default=None, metavar="NAME", help="The customer whose sell deck this is.")
@click.option("--profile", default=None, metavar="NAME", help="Import profile from ratedecks/profiles (default auto).")
@click.option("--mode", type=click.Choice(["full", "delta"]), default="full", show_default=True,
              help="full: codes the deck leaves out are closed; delta: only listed codes change.")
@click.option("--received", default=None, metavar="YYYY-MM-DD", help="Day the deck was received (default today, UTC).")
@click.option("--dry-run", is_flag=True, help="Print the change the deck would make; write nothing.")
@click.option("--notice-policy", type=click.Choice([p.value for p in NoticePolicy]), default=None,
              help=config.NOTICE_POLICY.help)
@click.option("--ratedecks", default=None, metavar="DIR", help=config.RATEDECKS_DIR.help)
@json_option
@db_option
def deck_import(files: tuple[Path, ...], carrier_name: str | None, customer_name: str | None, profile: str | None,
                mode: str, received: str | None, dry_run: bool, notice_policy: str | None, ratedecks: str | None,
                as_json: bool, database_url: str | None) -> None:
    """Import one deck, several, or an inbox directory (owners from ratedecks/inbox.toml)."""
    from lcr.inbox import ImportJob, jobs_for, run_jobs

    try:
        if carrier_name and customer_name:
            raise click.UsageError("give --carrier or --customer, not both")
        policy = NoticePolicy(notice_policy or config.NOTICE_POLICY.get())
        decks_dir = config.ratedecks_dir(ratedecks)
        single = len(files) == 1 and not files[0].is_dir()
        if single and not (carrier_name or customer_name):
            raise click.UsageError("give --carrier NAME or --customer NAME (or a directory with ratedecks/inbox.toml)")
        jobs: list[ImportJob] = jobs_for(files, decks_dir, carrier=carrier_name, customer=customer_name,
                                         profile=profile, mode=mode)
        engine = _engine(database_url)
    except LcrError as exc:
        _fail(exc, as_json)
        return
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    outcome = run_jobs(engine, jobs, received=received, dry_run=dry_run, policy=policy,
                       profiles_dir=decks_dir / "profiles", move_processed=not single and not dry_run)
    if as_json:
        docs = outcome.json_docs()
        click.echo(json.dumps(docs[0] if single else {"files": docs, "rejected": outcome.rejected}, indent=2))
        if outcome.decks_problem is not None:
            click.echo(outcome.texts(rows=False)[-1], err=True)
    else:
        for text in outcome.texts(rows=dry_run):
            click.echo(text, err=text.startswith("lcr: "))
    sys.exit(1 if outcome.rejected else 0)


@deck.command("compile")
@json_option
@db_option
@handles_errors
def deck_compile(as_json: bool, database_url: str | None) -> None:
    """Compile the rating decks for CDR imports now (lcr deck import does it after its files)."""
    from lcr.inbox import decks_compiled
    from lcr.store.cdrs import prepare_decks

    timings = prepare_decks(_engine(database_url))
    if as_json:
        click.echo(json.dumps({"compiled": timings is not None, "seconds": timings or {}}))
    else:
        click.echo("rating decks already compiled" if timings is None else decks_compiled(timings))


@deck.command("export")
@click.option("--carrier", "carrier_name", default=None, metavar="NAME")
@click.option("--customer", "customer_name", default=None, metavar="NAME")
@click.option("--at", "at", default=None, metavar="ISO8601", help="Instant (default now).")
@click.option("--out", "out", default=None, type=click.Path(path_type=Path), help="File to write (default stdout).")
@db_option
@handles_errors
def deck_export(carrier_name: str | None, customer_name: str | None, at: str | None, out: Path | None,
                database_url: str | None) -> None:
    """Write the rates in force at a given time as a canonical CSV deck."""
    from lcr.store.export import export_deck
    from lcr.timeutil import parse_instant

    if bool(carrier_name) == bool(customer_name):
        raise click.UsageError("give exactly one of --carrier NAME or --customer NAME")
    kind = OwnerKind.CARRIER if carrier_name else OwnerKind.CUSTOMER
    name = carrier_name or customer_name
    text = export_deck(_engine(database_url), kind, name, parse_instant(at, "--at"))  # type: ignore[arg-type]
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)


# --- routing -------------------------------------------------------------------------------------


@main.command("route")
@click.argument("number")
@click.option("--customer", "customer_name", default=None, metavar="NAME", help="Sell rate and margin protection.")
@click.option("--at", "at", default=None, metavar="ISO8601", help="Instant (default now).")
@click.option("--explain", is_flag=True, help="Why each carrier was kept or dropped.")
@json_option
@db_option
@handles_errors
def route(number: str, customer_name: str | None, at: str | None, explain: bool, as_json: bool,
          database_url: str | None) -> None:
    """Look up the carriers for NUMBER, cheapest first (same answer as GET /v1/routes)."""
    from lcr.api.render import answer_json, money
    from lcr.routing import explain_at, lookup_at
    from lcr.store.world import load_inputs
    from lcr.timeutil import iso, parse_instant

    when = parse_instant(at, "--at")
    _version, inputs = load_inputs(_engine(database_url))
    answer = (explain_at if explain else lookup_at)(inputs, number, customer_name, when)
    if as_json:
        doc = answer_json(answer)
        if answer.refusal is not None:
            doc = {"error": {"code": answer.refusal.code, "message": answer.refusal.message}, **doc}
        click.echo(json.dumps(doc, indent=2))
        return
    click.echo(f"number {answer.number} at {iso(when)}")
    if answer.prefix is not None:
        click.echo(f"customer {customer_name}: sell prefix {answer.prefix} ({answer.destination}) "
                   f"at {money(answer.sell_rate)}/min")
    if answer.refusal is not None:
        click.echo(f"refused: {answer.refusal.http_status} {answer.refusal.code}: {answer.refusal.message}")
    elif not answer.routes:
        click.echo("no carrier can take this call")
    for i, r in enumerate(answer.routes, 1):
        m = answer.margin(r)
        margin = "" if m is None else f"  margin {money(m)}"
        tech = f"  tech prefix {r.tech_prefix}" if r.tech_prefix else ""
        click.echo(f"{i:>2}. {r.carrier:<16} {r.gateway.host}:{r.gateway.port:<6} prefix {r.prefix:<10} "
                   f"rate {money(r.rate)}{margin}{tech}")
    if answer.explanation is not None:
        click.echo("why:")
        for e in answer.explanation:
            where = "no coverage" if e.prefix is None else f"prefix {e.prefix} rate {money(e.rate)}"
            click.echo(f"  {e.carrier:<16} {e.verdict:<12} {where}  {e.detail}")


@main.command("serve")
@click.option("--http", "http", default=None, metavar="HOST:PORT", help=config.HTTP_LISTEN.help)
@click.option("--sip", "sip", default=None, metavar="HOST:PORT", help=config.SIP_LISTEN.help)
@click.option("--sip-workers", "sip_workers", default=None, metavar="N", help=config.SIP_WORKERS.help)
@click.option("--ratedecks", default=None, metavar="DIR", help=config.RATEDECKS_DIR.help)
@db_option
@handles_errors
def serve(http: str | None, sip: str | None, sip_workers: str | None, ratedecks: str | None,
          database_url: str | None) -> None:
    """Serve route lookups over HTTP and SIP until interrupted; reloads on every store change."""
    from lcr.api.auth import Auth
    from lcr.serve import parse_hostport, parse_workers, run

    run(
        _engine(database_url),
        http=parse_hostport(http or config.HTTP_LISTEN.get(), "--http"),
        sip=parse_hostport(sip or config.SIP_LISTEN.get(), "--sip"),
        sip_workers=parse_workers(sip_workers or config.SIP_WORKERS.get()),
        auth=Auth.from_settings(config.API_TOKEN.get(), config.READ_TOKENS.get()),
        profiles_dir=config.ratedecks_dir(ratedecks) / "profiles",
        notice_policy=NoticePolicy(config.NOTICE_POLICY.get()),
    )


# --- CDRs, balances, payments -------------------------------------------------------------------------


@main.group()
def cdr() -> None:
    """Call detail records: import and rate, list what could not be rated."""


@cdr.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["canonical", "freeswitch", "asterisk", "parquet"]), default=None,
              help="Default: detected from the file.")
@click.option("--switch-tz", default=None, metavar="TZ", help=config.SWITCH_TZ.help)
@json_option
@db_option
@handles_errors
def cdr_import(file: Path, fmt: str | None, switch_tz: str | None, as_json: bool, database_url: str | None) -> None:
    """Rate and store the calls of FILE; a call already stored is a duplicate and charged nothing."""
    from lcr.store.cdrs import import_cdr_file

    report = import_cdr_file(_engine(database_url), file, fmt=fmt, switch_tz=switch_tz or config.SWITCH_TZ.get())
    click.echo(json.dumps(report.to_json(), indent=2) if as_json else report.to_text())


@cdr.command("unrated")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100000))
@json_option
@db_option
@handles_errors
def cdr_unrated(limit: int, as_json: bool, database_url: str | None) -> None:
    """Calls stored without a sell charge, and quarantined lines, with their reasons."""
    from lcr.store.unrated import unrated_listing

    doc = unrated_listing(_engine(database_url), limit)
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    click.echo(f"{doc['unrated_total']} unrated calls, {doc['quarantined_total']} quarantined lines")
    for c in doc["calls"]:
        click.echo(f"  {c['call_id']:<40} {c['customer'] or '-':<12} {c['dst']:<18} {c['start_time']}  {c['reason']}")
    for q in doc["quarantined"]:
        click.echo(f"  {q['source']} line {q['line']}: {q['reason']}")


def _period(start: str, end: str) -> tuple[int, int]:
    """``--from``/``--to``: ISO instants, or days (UTC; ``--to`` day included)."""
    from lcr.timeutil import parse_instant

    lo = parse_instant(start, "--from")
    hi = parse_instant(end, "--to") + (86_400 if len(end.strip()) == 10 else 0)
    if hi <= lo:
        from lcr.errors import InputError

        raise InputError(f"--to {end!r} is not after --from {start!r}")
    return lo, hi


@cdr.command("rerate")
@click.option("--from", "start", required=True, metavar="DATE|ISO8601", help="Calls starting at or after (UTC).")
@click.option("--to", "end", required=True, metavar="DATE|ISO8601", help="Calls starting before; a DATE is included.")
@click.option("--customer", "customer_name", default=None, metavar="NAME")
@json_option
@db_option
@handles_errors
def cdr_rerate(start: str, end: str, customer_name: str | None, as_json: bool, database_url: str | None) -> None:
    """Rate stored calls again with the rates in force now (after a deck correction)."""
    from lcr.store.rerate import rerate

    lo, hi = _period(start, end)
    report = rerate(_engine(database_url), lo, hi, customer_name)
    click.echo(json.dumps(report.to_json(), indent=2) if as_json else report.to_text())


@main.group()
def report() -> None:
    """Reports for the NOC and billing."""


@report.command("margin")
@click.option("--from", "start", required=True, metavar="DATE|ISO8601")
@click.option("--to", "end", required=True, metavar="DATE|ISO8601")
@click.option("--customer", "customer_name", default=None, metavar="NAME")
@click.option("--by", "by", default="customer,carrier,destination", show_default=True,
              help="Comma-separated grouping: customer, carrier, destination.")
@json_option
@db_option
@handles_errors
def report_margin(start: str, end: str, customer_name: str | None, by: str, as_json: bool,
                  database_url: str | None) -> None:
    """Sell, cost and margin per customer, carrier and destination for a period."""
    from lcr.errors import InputError
    from lcr.store.rerate import margin_report

    keys = tuple(k.strip() for k in by.split(",") if k.strip())
    if not keys or set(keys) - {"customer", "carrier", "destination"}:
        raise InputError(f"--by {by!r}: choose from customer, carrier, destination")
    lo, hi = _period(start, end)
    rows = margin_report(_engine(database_url), lo, hi, by=keys, customer=customer_name)
    if as_json:
        click.echo(json.dumps({"rows": rows}, indent=2))
        return
    click.echo("  ".join(f"{k:<20}" for k in keys) + f"{'calls':>7} {'minutes':>10} {'sell':>12} {'cost':>12} "
               f"{'margin':>12}")
    for r in rows:
        click.echo("  ".join(f"{r[k] or '-'!s:<20}" for k in keys)
                   + f"{r['calls']:>7} {r['minutes']:>10} {r['sell']:>12} {r['cost']:>12} {r['margin']:>12}")


@main.command("invoice")
@click.argument("name")
@click.option("--from", "start", required=True, metavar="YYYY-MM-DD", help="First day (customer's time zone).")
@click.option("--to", "end", required=True, metavar="YYYY-MM-DD", help="Last day, included.")
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "pdf"]), default="json", show_default=True)
@click.option("--out", "out", default=None, type=click.Path(path_type=Path), help="File to write (default stdout).")
@db_option
@handles_errors
def invoice(name: str, start: str, end: str, fmt: str, out: Path | None, database_url: str | None) -> None:
    """Issue (or re-issue: the same document) customer NAME's invoice for a period."""
    import datetime as dt
    import tomllib

    from lcr.billing import DEMO_ISSUER
    from lcr.errors import InputError
    from lcr.store.invoices import issue_invoice

    try:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError:
        raise InputError(f"--from {start!r} / --to {end!r} must be days (YYYY-MM-DD)") from None
    issuer_file = config.ISSUER_FILE.get()
    issuer = tomllib.loads(Path(issuer_file).read_text(encoding="utf-8")) if issuer_file else DEMO_ISSUER
    doc = issue_invoice(_engine(database_url), name, first, last, issuer=issuer)
    data: bytes = (
        (json.dumps(doc.to_json(), indent=2) + "\n").encode() if fmt == "json"
        else doc.to_csv().encode() if fmt == "csv" else doc.to_pdf()
    )
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        out.write_bytes(data)
        click.echo(f"invoice {doc.facts.number} written to {out}", err=True)


@main.command("balance")
@click.argument("name")
@json_option
@db_option
@handles_errors
def balance(name: str, as_json: bool, database_url: str | None) -> None:
    """A customer's balance, credit limit and available credit."""
    from lcr.api.render import money
    from lcr.store.ledger import balance_of

    with _engine(database_url).connect() as conn:
        view = balance_of(conn, name)
    if as_json:
        click.echo(json.dumps(view.to_json(), indent=2))
        return
    limit = "prepaid" if view.prepaid else ("unlimited" if view.credit_limit is None else money(view.credit_limit))
    avail = "unlimited" if view.available is None else money(view.available)
    click.echo(f"{view.customer}: balance {money(view.balance)} {view.currency}, credit limit {limit}, "
               f"available {avail}")


@main.group()
def payment() -> None:
    """Customer payments."""


@payment.command("add", context_settings={"ignore_unknown_options": True})  # AMOUNT may be negative
@click.argument("name")
@click.argument("amount")
@click.option("--reference", default=None, metavar="TEXT", help="Bank reference, receipt number...")
@json_option
@db_option
@handles_errors
def payment_add(name: str, amount: str, reference: str | None, as_json: bool, database_url: str | None) -> None:
    """Record a payment of AMOUNT (negative for a refund) from customer NAME."""
    from lcr.errors import InputError
    from lcr.store.db import writing
    from lcr.store.ledger import add_payment, raise_alarms

    try:
        micro = to_micro(amount)
    except ValueError as exc:
        raise InputError(f"AMOUNT {exc}") from None
    with writing(_engine(database_url)) as conn:
        view, alarm = add_payment(conn, name, micro, reference)
    raise_alarms([alarm] if alarm else [])
    click.echo(json.dumps(view.to_json(), indent=2) if as_json else
               f"payment of {amount} recorded for {name}; balance now {view.to_json()['balance']}")


# --- demo ------------------------------------------------------------------------------------------


@main.command("demo")
@click.option("--ratedecks", default=None, metavar="DIR", help=config.RATEDECKS_DIR.help)
@click.option("--serve/--no-serve", default=True, show_default=True, help="Serve HTTP and SIP after loading.")
@click.option("--http", "http", default=None, metavar="HOST:PORT", help=config.HTTP_LISTEN.help)
@click.option("--sip", "sip", default=None, metavar="HOST:PORT", help=config.SIP_LISTEN.help)
@db_option
@handles_errors
def demo(ratedecks: str | None, serve: bool, http: str | None, sip: str | None, database_url: str | None) -> None:
    """The main job on the embedded default: load the sample world, then serve it over HTTP and SIP."""
    from lcr.api.auth import Auth
    from lcr.demo import load_demo, try_it
    from lcr.serve import parse_hostport, run

    engine = _engine(database_url)
    decks_dir = config.ratedecks_dir(ratedecks)
    for line in load_demo(engine, decks_dir):
        click.echo(line)
    if not serve:
        return
    http_addr = parse_hostport(http or config.HTTP_LISTEN.get(), "--http")
    sip_addr = parse_hostport(sip or config.SIP_LISTEN.get(), "--sip")
    click.echo(try_it(http_addr, sip_addr, decks_dir))
    run(engine, http=http_addr, sip=sip_addr,
        auth=Auth.from_settings(config.API_TOKEN.get(), config.READ_TOKENS.get()),
        profiles_dir=decks_dir / "profiles", notice_policy=NoticePolicy(config.NOTICE_POLICY.get()))


if __name__ == "__main__":  # pragma: no cover
    main()
