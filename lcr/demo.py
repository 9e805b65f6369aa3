"""``lcr demo``: the sample world of ``ratedecks/demo.toml`` in the embedded database."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, select

from lcr.errors import InputError
from lcr.model import Carrier, Customer, Gateway, OwnerKind
from lcr.money import to_micro
from lcr.store.db import writing
from lcr.store.imports import import_deck, parse_received
from lcr.store.schema import carriers, customers

DEMO_FILE = "demo.toml"


def load_demo(engine: Engine, decks_dir: Path) -> Iterator[str]:
    from lcr.store.parties import add_carrier, add_customer

    path = decks_dir / DEMO_FILE
    if not path.exists():
        raise InputError(f"{path} not found: run `lcr demo` from the repository root or pass --ratedecks DIR")
    world = tomllib.loads(path.read_text(encoding="utf-8"))
    with writing(engine) as conn:
        for c in world.get("carrier", []):
            if conn.execute(select(carriers.c.id).where(carriers.c.name == c["name"])).first():
                continue
            add_carrier(conn, Carrier(c["name"], tuple(Gateway.parse(g) for g in c["gateways"]),
                                      c.get("tech_prefix", "")))
            yield f"carrier {c['name']}: gateways {', '.join(c['gateways'])}"
        for c in world.get("customer", []):
            if conn.execute(select(customers.c.id).where(customers.c.name == c["name"])).first():
                continue
            limit = c.get("credit_limit")
            add_customer(conn, Customer(
                c["name"], prepaid=not c.get("postpaid", True),
                credit_limit=None if limit is None else to_micro(str(limit)),
                source_ips=tuple(c.get("source_ips", ())), tech_prefix=c.get("tech_prefix", ""),
                min_margin=str(c.get("min_margin", "0")), timezone=c.get("timezone", "UTC"),
                currency=c.get("currency", "USD"),
            ))
            yield f"customer {c['name']}: source IPs {', '.join(c.get('source_ips', []))}"
    for d in world.get("deck", []):
        kind = OwnerKind.CARRIER if "carrier" in d else OwnerKind.CUSTOMER
        report = import_deck(
            engine, decks_dir / d["file"], kind=kind, owner=d.get("carrier") or d["customer"],
            profile=d.get("profile"), profiles_dir=decks_dir / "profiles", received=parse_received(d.get("received")),
        )
        yield report.to_text()


def try_it(http: tuple[str, int], sip: tuple[str, int], decks_dir: Path) -> str:
    """What to type to see the demo answer (printed by ``lcr demo`` before it serves)."""
    h, p = http
    sh, sp = sip
    scenario = decks_dir / "sipp" / "demo_call.xml"
    return "\n".join([
        "",
        "Serving the sample world. Try, from another terminal:",
        f"  curl -s 'http://{h}:{p}/v1/routes?number=%2B4915123456789&customer=globex'",
        f"  curl -s 'http://{h}:{p}/v1/routes?number=4915123456789&customer=globex&explain=true'",
        f"  http://{h}:{p}/docs  (the API, OpenAPI)",
        "  a call over SIP from 127.0.0.1, globex's softswitch address (sipp: apt-get install sip-tester):",
        f"  sipp -sf {scenario} -s 4915123456789 -m 1 -i 127.0.0.1 -p 5070 -trace_msg {sh}:{sp}",
        "Ctrl-C stops.",
    ])
