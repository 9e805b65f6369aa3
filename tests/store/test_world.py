"""Reading the routing inputs again after a change: only the owners with a new deck import."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sqlalchemy import Engine

from lcr.model import Carrier, Gateway, OwnerKind
from lcr.store.db import writing
from lcr.store.imports import import_deck
from lcr.store.parties import add_carrier
from lcr.store.world import StoreRead, read_world, reread_world
from tests.world import load_sample_world


def _deck(tmp_path: Path, name: str, rate: str) -> Path:
    path = tmp_path / f"{name}.csv"
    path.write_text(f"prefix,destination,rate,effective_date\n4474,UK Mobile,{rate},2026-11-01\n")
    return path


def _same_inputs(got: StoreRead, want: StoreRead) -> None:
    """Equal contents: parties, credit and every owner's rows (in any order)."""
    a, b = got.inputs, want.inputs
    assert (got.version, got.imports) == (want.version, want.imports)
    assert (a.carriers, a.customers, dict(a.credit)) == (b.carriers, b.customers, dict(b.credit))
    for mine, theirs in ((a.carrier_rates, b.carrier_rates), (a.customer_rates, b.customer_rates)):
        assert mine.keys() == theirs.keys()
        for name, frame in mine.items():
            assert frame.sort(frame.columns).equals(theirs[name].sort(frame.columns)), name


def test_reread_reads_only_the_owner_with_a_new_import(engine: Engine, tmp_path: Path) -> None:
    load_sample_world(engine)
    first = read_world(engine)
    assert first.owners == 6  # five carriers and globex have decks
    import_deck(engine, _deck(tmp_path, "borealis", "0.0001"), kind=OwnerKind.CARRIER, owner="borealis")
    again = reread_world(engine, first)
    assert again.owners == 1
    assert again.version > first.version and len(again.imports) == len(first.imports) + 1
    for name, frame in first.inputs.carrier_rates.items():  # untouched owners: the very same frames
        if name != "borealis":
            assert again.inputs.carrier_rates[name] is frame
    assert again.inputs.customer_rates["globex"] is first.inputs.customer_rates["globex"]
    assert again.inputs.carrier_rates["borealis"] is not first.inputs.carrier_rates["borealis"]
    _same_inputs(again, read_world(engine))
    # nothing new: nothing read, nothing changed
    same = reread_world(engine, again)
    assert same.owners == 0
    _same_inputs(same, again)


def test_an_import_committed_late_with_a_lower_id_is_not_missed(engine: Engine, tmp_path: Path) -> None:
    # On PostgreSQL import 7 can commit after import 8 has been seen: the reader keeps the ids it
    # has seen, not the highest one. Simulated: the last read "saw" the newer import only.
    load_sample_world(engine)
    first = read_world(engine)
    import_deck(engine, _deck(tmp_path, "acme", "0.0002"), kind=OwnerKind.CARRIER, owner="acme")
    import_deck(engine, _deck(tmp_path, "delta", "0.0003"), kind=OwnerKind.CARRIER, owner="delta")
    now = read_world(engine)
    _late, seen = sorted(now.imports - first.imports)
    partial = replace(first, imports=first.imports | {seen})
    again = reread_world(engine, partial)
    assert again.owners == 1  # acme's import, the one not seen
    assert again.inputs.carrier_rates["delta"] is first.inputs.carrier_rates["delta"]
    acme = again.inputs.carrier_rates["acme"]
    assert acme.sort(acme.columns).equals(now.inputs.carrier_rates["acme"].sort(acme.columns))
    assert again.imports == now.imports


def test_a_new_carrier_means_a_full_read(engine: Engine, tmp_path: Path) -> None:
    load_sample_world(engine)
    first = read_world(engine)
    with writing(engine) as conn:
        add_carrier(conn, Carrier("zeta", (Gateway("192.0.2.99"),)))
    again = reread_world(engine, first)
    assert again.owners == 6
    assert [c.name for c in again.inputs.carriers][-1] == "zeta"
    _same_inputs(again, read_world(engine))
