"""The sample world (ratedecks/demo.toml: five carriers, customer globex, six decks) in a store."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from lcr.demo import load_demo

REPO = Path(__file__).resolve().parents[1]


def load_sample_world(engine: Engine) -> list[str]:
    return list(load_demo(engine, REPO / "ratedecks"))
