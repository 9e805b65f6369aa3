"""The change a deck makes (lcr.decks.plan): versioning, classification, notice, full vs delta."""

from __future__ import annotations

import polars as pl
import pytest

from lcr.decks.plan import EXISTING_SCHEMA, NoticePolicy, plan_deck
from lcr.errors import DeckRejected

DAY = 86_400
T0 = 1_793_491_200  # 2026-11-01T00:00:00Z


def deck(*rows: tuple) -> pl.DataFrame:
    """rows: (prefix, rate, effective_from | None, change | None[, effective_to])"""
    return pl.DataFrame(
        {
            "line": list(range(2, 2 + len(rows))),
            "prefix": [r[0] for r in rows],
            "destination": ["X"] * len(rows),
            "rate": [r[1] for r in rows],
            "connect_fee": [0] * len(rows),
            "first_interval": [1] * len(rows),
            "next_interval": [1] * len(rows),
            "effective_from": [r[2] for r in rows],
            "effective_to": [r[4] if len(r) > 4 else None for r in rows],
            "change": [r[3] for r in rows],
        },
        schema_overrides={"effective_from": pl.Int64, "effective_to": pl.Int64, "rate": pl.Int64},
    )


def live(*rows: tuple) -> pl.DataFrame:
    """rows: (id, prefix, rate, from, to)"""
    return pl.DataFrame(
        [
            {"id": r[0], "prefix": r[1], "destination": "X", "rate": r[2], "connect_fee": 0, "first_interval": 1,
             "next_interval": 1, "effective_from": r[3], "effective_to": r[4], "blocked": False}
            for r in rows
        ],
        schema=EXISTING_SCHEMA,
    )


NONE = live()


def changes(plan) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return dict(plan.changes.select("prefix", "change").iter_rows())


@pytest.mark.parametrize(
    ("rows", "existing", "expected"),
    [
        # nothing in force: New
        ([("49", 100, T0, None)], NONE, {"49": "New"}),
        # higher than in force: Increase; lower: Decrease; same: Unchanged
        ([("49", 150, T0 + 10 * DAY, None)], live((1, "49", 100, T0, None)), {"49": "Increase"}),
        ([("49", 50, T0 + 10 * DAY, None)], live((1, "49", 100, T0, None)), {"49": "Decrease"}),
        ([("49", 100, T0 + 10 * DAY, None)], live((1, "49", 100, T0, None)), {"49": "Unchanged"}),
        # Blocked flag wins over the rate comparison
        ([("49", 100, T0 + 10 * DAY, "Blocked")], live((1, "49", 100, T0, None)), {"49": "Blocked"}),
        # Closed row ends the code
        ([("49", None, T0 + 10 * DAY, "Closed")], live((1, "49", 100, T0, None)), {"49": "Closed"}),
    ],
)
def test_classification(rows, existing, expected) -> None:  # type: ignore[no-untyped-def]
    plan = plan_deck(deck(*rows), existing, file="d.csv", mode="delta", received=T0, notice_days=0)
    assert changes(plan) == expected


def test_unchanged_writes_nothing() -> None:
    plan = plan_deck(deck(("49", 100, T0 + DAY, None)), live((1, "49", 100, T0, None)),
                     file="d.csv", mode="full", received=T0)
    assert plan.writes_nothing


def test_new_rate_closes_previous_at_its_effective_date() -> None:
    e = T0 + 10 * DAY
    plan = plan_deck(deck(("49", 90, e, None)), live((7, "49", 100, T0, None)), file="d.csv", mode="delta",
                     received=T0)
    assert plan.closes.rows() == [(7, e)]
    assert plan.inserts.select("prefix", "rate", "effective_from", "effective_to").rows() == [("49", 90, e, None)]


def test_same_day_correction_supersedes_the_old_version() -> None:
    plan = plan_deck(deck(("49", 90, T0, None)), live((7, "49", 100, T0, None)), file="d.csv", mode="delta",
                     received=T0)
    # closed at its own start: never in force, kept for the audit trail
    assert plan.closes.rows() == [(7, T0)]


def test_future_version_is_superseded_by_an_earlier_new_rate() -> None:
    later = T0 + 20 * DAY
    existing = live((1, "49", 100, T0, later), (2, "49", 120, later, None))
    plan = plan_deck(deck(("49", 80, T0 + 5 * DAY, None)), existing, file="d.csv", mode="delta", received=T0)
    assert sorted(plan.closes.rows()) == [(1, T0 + 5 * DAY), (2, later)]
    assert changes(plan) == {"49": "Decrease"}


def test_rows_of_one_code_chain() -> None:
    e1, e2 = T0, T0 + 15 * DAY
    plan = plan_deck(deck(("49", 100, e1, None), ("49", 120, e2, None)), NONE, file="d.csv", mode="delta",
                     received=T0, notice_days=7)
    got = plan.inserts.sort("effective_from").select("rate", "effective_from", "effective_to").rows()
    assert got == [(100, e1, e2), (120, e2, None)]
    assert plan.changes.sort("effective_from")["change"].to_list() == ["New", "Increase"]


def test_reimporting_a_chain_is_unchanged() -> None:
    e1, e2 = T0, T0 + 15 * DAY
    d = deck(("49", 100, e1, None), ("49", 120, e2, None))
    existing = live((1, "49", 100, e1, e2), (2, "49", 120, e2, None))
    plan = plan_deck(d, existing, file="d.csv", mode="full", received=T0)
    assert plan.writes_nothing
    assert set(plan.changes["change"]) == {"Unchanged"}


def test_full_mode_closes_codes_left_out_and_delta_does_not() -> None:
    existing = live((1, "49", 100, T0, None), (2, "33", 70, T0, None))
    received = T0 + 3 * DAY
    full = plan_deck(deck(("49", 100, None, None)), existing, file="d.csv", mode="full", received=received)
    assert full.closes.rows() == [(2, received)]
    assert changes(full) == {"49": "Unchanged", "33": "Closed"}
    delta = plan_deck(deck(("49", 100, None, None)), existing, file="d.csv", mode="delta", received=received)
    assert delta.writes_nothing


def test_rows_without_dates_start_on_the_received_date() -> None:
    received = T0 + 2 * DAY
    plan = plan_deck(deck(("49", 100, None, None)), NONE, file="d.csv", mode="full", received=received)
    assert plan.inserts["effective_from"].to_list() == [received]


@pytest.mark.parametrize(
    ("policy", "days_after", "outcome"),
    [
        (NoticePolicy.WARN, 3, "warned"),  # 3 days < 7: imported with a warning
        (NoticePolicy.WARN, 7, "clean"),  # exactly 7 days is enough notice
        (NoticePolicy.DEFER, 3, "deferred"),  # moved to received + 7 days
        (NoticePolicy.REJECT, 3, "rejected"),
    ],
)
def test_notice_period(policy, days_after, outcome) -> None:  # type: ignore[no-untyped-def]
    received = T0 + 10 * DAY
    existing = live((1, "4915", 100, T0, None))
    d = deck(("4915", 120, received + days_after * DAY, None))
    if outcome == "rejected":
        with pytest.raises(DeckRejected) as err:
            plan_deck(d, existing, file="d.csv", mode="delta", received=received, notice_days=7, policy=policy)
        assert "4915" in str(err.value)
        return
    plan = plan_deck(d, existing, file="d.csv", mode="delta", received=received, notice_days=7, policy=policy)
    if outcome == "clean":
        assert plan.warnings == ()
    else:
        assert "4915" in plan.warnings[0]
    if outcome == "deferred":
        assert plan.inserts["effective_from"].to_list() == [received + 7 * DAY]
        assert plan.closes.rows() == [(1, received + 7 * DAY)]
