"""The route snapshot: every deck compiled for one instant, answering lookups without I/O.

``build_snapshot(inputs, at)`` does the work once (see ``lcr.routing.compile``); the hot path
``Snapshot.lookup`` is then a pure function over immutable tables:

1. normalise the number (customer tech prefix, one ``+``/``00``/``011``, 1-32 digits);
2. with a customer: longest match in its sell dict, then the 404 / 403 / 402 checks;
3. longest match in the union of all carriers' prefixes: one precompiled route list, sorted by
   rate then carrier name (a sell code that is a leaf of the union carries its entry, so with a
   customer this probe is mostly skipped: ``compile.sell_hint``). Both matches probe dicts
   keyed by ``compile.key(prefix)`` (an int): ``v = key(n[:L])`` with L the longest prefix
   length under the number's first 3 digits (``compile.start_lengths``; with a customer, one
   table per customer gives both start lengths), then ``v //= 10`` per step: one probe for most
   NANP numbers;
4. with a customer: the margin filter is a cut of that list, ``bisect`` on its rates against the
   sell code's precomputed threshold ``floor(sell * (100 - min_margin) / 100)``.

The answer holds the snapshot's own list and the cut's length (``RouteAnswer.routes`` cuts it
when read; a route's margin is ``answer.margin(route)``), so a lookup allocates the normalised
number and the answer tuple, and touches no ``Route``. There is no per-query cache: a memo was
tried and removed, as with uniformly random numbers it mostly missed, and the long-lived tuples
it kept made the cyclic GC's full collections (which walk every snapshot object) frequent.

Error order: unknown customer ``NotFound`` (its tech prefix is needed to read the number), then
``MalformedNumber`` 400, ``NoRoute`` 404 (the customer's deck does not cover the number),
``BlockedDestination`` 403, ``InsufficientCredit`` 402, ``NoRoute`` 404 (no carrier left).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping

import polars as pl

from lcr.errors import BlockedDestination, InsufficientCredit, NoRoute, NotFound
from lcr.model import CreditState
from lcr.money import format_micro
from lcr.routing.answer import Explanation, Refusal, RouteAnswer
from lcr.routing.compile import (
    HEAD,
    CarrierTables,
    Entry,
    Interner,
    SellTable,
    compile_carriers,
    compile_sell,
    key,
)
from lcr.routing.inputs import RoutingInputs, next_change
from lcr.routing.number import MAX_DIGITS, normalise

_POW = tuple(10**i for i in range(MAX_DIGITS + 1))
_SHORT = HEAD - 1
_SHORTS = (_SHORT, _SHORT, _SHORT)
_EMPTY: Entry = ((), (), "", -1)

_tuple_new = tuple.__new__  # RouteAnswer(...) minus the keyword handling of its __new__


def _starts(sell: Mapping[str, int], union: Mapping[str, int]) -> dict[str, tuple[int, int, int]]:
    """Per ``HEAD``-digit head: (the longer start length, the sell deck's, the union's); a head
    in neither table starts both probes at ``HEAD - 1`` (``compile.start_lengths``)."""
    out = {}
    for head in sell.keys() | union.keys():
        s, u = sell.get(head, _SHORT), union.get(head, _SHORT)
        out[head] = (max(s, u), s, u)
    return out


def _refused(credit: Mapping[str, CreditState]) -> frozenset[str]:
    return frozenset(name for name, state in credit.items() if state.refused)


class Snapshot:
    """Every deck compiled for the instant ``at``; valid until ``valid_until`` (None: forever).

    Immutable once built: ``with_credit`` returns a copy sharing the compiled tables.
    """

    __slots__ = (
        "_at",
        "_by_ip",
        "_by_tech",
        "_carriers",
        "_credit",
        "_customers",
        "_get",
        "_max_len",
        "_refused",
        "_sell",
        "_start",
        "_tech_lengths",
        "_valid_until",
    )

    def __init__(
        self,
        at: int,
        valid_until: int | None,
        carriers: CarrierTables,
        sell: Mapping[str, SellTable],
        credit: Mapping[str, CreditState],
        previous: Snapshot | None = None,
    ) -> None:
        """``previous``: a snapshot this one was patched from, whose per-customer start tables
        are reused where neither start table changed."""
        self._at = at
        self._valid_until = valid_until
        self._carriers = carriers
        self._get = carriers.union.get
        self._max_len = carriers.max_len
        self._start = carriers.start.get
        self._sell = dict(sell)

        def starts(name: str, table: SellTable) -> Callable[[str, tuple[int, int, int]], tuple[int, int, int]]:
            if previous is not None and previous._carriers.start is carriers.start:
                old = previous._sell.get(name)
                if old is not None and old.start is table.start:
                    return previous._customers[name][2]
            return _starts(table.start, carriers.start).get

        # customer name -> (tech prefix, sell dict .get, start lengths .get: see _starts)
        self._customers = {name: (t.customer.tech_prefix, t.codes.get, starts(name, t)) for name, t in sell.items()}
        self._credit = dict(credit)
        self._refused = _refused(credit)
        by_ip: dict[str, str] = {}
        by_tech: dict[str, str] = {}
        for name in sorted(sell):  # the first customer by name wins a shared IP or tech prefix
            c = sell[name].customer
            for ip in c.source_ips:
                by_ip.setdefault(ip, name)
            if c.tech_prefix:
                by_tech.setdefault(c.tech_prefix, name)
        self._by_ip = by_ip
        self._by_tech = by_tech
        self._tech_lengths = sorted({len(t) for t in by_tech}, reverse=True)

    # -- what it is -------------------------------------------------------------------------

    @property
    def at(self) -> int:
        """The instant the snapshot was built for (epoch seconds UTC)."""
        return self._at

    @property
    def valid_until(self) -> int | None:
        """The next instant at which any rate in it changes; None = never. Answers are the same
        for every instant of ``[at, valid_until)``."""
        return self._valid_until

    @property
    def carriers(self) -> tuple[str, ...]:
        """The routable carriers (with a gateway), by name."""
        return tuple(c.name for c in self._carriers.carriers)

    @property
    def tables(self) -> CarrierTables:
        """The compiled carrier tables (shared with snapshots derived from this one)."""
        return self._carriers

    @property
    def sell_tables(self) -> Mapping[str, SellTable]:
        """The compiled sell decks, by customer name."""
        return self._sell

    @property
    def credit(self) -> Mapping[str, CreditState]:
        """The credit states the snapshot gates on, by customer name."""
        return self._credit

    @property
    def stats(self) -> dict[str, int]:
        """Sizes of the compiled tables (for logs and benchmarks)."""
        t = self._carriers
        return {
            "carriers": len(t.carriers),
            "union_prefixes": len(t.union),
            "distinct_route_lists": t.distinct_lists,
            "customers": len(self._sell),
            "sell_codes": sum(len(c.codes) for c in self._sell.values()),
        }

    def with_credit(self, credit: Mapping[str, CreditState]) -> Snapshot:
        """The same snapshot with new credit states (by customer name; missing = unlimited)."""
        copy = Snapshot.__new__(Snapshot)
        for name in Snapshot.__slots__:
            object.__setattr__(copy, name, getattr(self, name))
        copy._credit = dict(credit)
        copy._refused = _refused(credit)
        return copy

    # -- who is calling ---------------------------------------------------------------------

    def customer_by_source_ip(self, ip: str) -> str | None:
        return self._by_ip.get(ip)

    def customer_by_tech_prefix(self, user: str) -> str | None:
        """The customer whose tech prefix ``user`` starts with (the longest one wins)."""
        for n in self._tech_lengths:
            if len(user) >= n:
                name = self._by_tech.get(user[:n])
                if name is not None:
                    return name
        return None

    # -- the hot path -----------------------------------------------------------------------

    def lookup(self, number: str, customer: str | None = None) -> RouteAnswer:
        """Routes for ``number`` (as received), least cost first. See the module docstring."""
        if customer is None:
            tech = ""
        else:
            cust = self._customers.get(customer)
            if cust is None:
                raise NotFound(f"no customer {customer!r}")
            tech, sell_get, starts = cust
        # Normalisation is ``number.normalise`` inlined (a function call is a tenth of a lookup).
        n = number[len(tech) :] if tech and number.startswith(tech) else number
        lead = n[:1]
        if lead == "+":
            n = n[1:]
        elif lead == "0":
            if n[:2] == "00":
                n = n[2:]
            elif n[:3] == "011":
                n = n[3:]
        if not (n.isdigit() and n.isascii()) or len(n) > MAX_DIGITS:
            normalise(number, tech)  # raises MalformedNumber

        if customer is None:
            # longest union prefix: probe key(n[:L]) for L from the head's start length down
            head = n[: self._start(n[:HEAD], _SHORT)]
            v = int(head) + _POW[len(head)]
            get = self._get
            while v > 1:
                entry = get(v)
                if entry is not None:
                    if entry[0]:
                        return _tuple_new(RouteAnswer, (n, None, entry[2], None, entry[0], None, None, None))
                    break
                v //= 10
            raise NoRoute(f"no carrier covers {n}")

        # one integer for both probes, cut to the sell deck's and the union's start lengths
        width, sell_len, union_len = starts(n[:HEAD], _SHORTS)
        head = n[:width]
        width = len(head)
        v = int(head) + _POW[width]
        s = v // _POW[width - sell_len] if width > sell_len else v
        while s > 1:
            sell = sell_get(s)
            if sell is not None:
                break
            s //= 10
        else:
            raise NoRoute(f"{n} is not covered by the deck of customer {customer!r}")
        prefix, destination, sell_rate, limit, blocked, entry = sell
        if blocked:
            raise BlockedDestination(f"{prefix} ({destination}) is blocked for customer {customer!r}")
        if customer in self._refused:
            raise InsufficientCredit(f"customer {customer!r} has no credit left")
        if entry is None:  # the sell code is no leaf of the union (see compile.sell_hint): probe it
            if width > union_len:
                v //= _POW[width - union_len]
            get = self._get
            while v > 1:
                entry = get(v)
                if entry is not None:
                    break
                v //= 10
            else:
                entry = _EMPTY
        k = bisect_right(entry[1], limit)
        if not k:
            raise NoRoute(f"no carrier for {n} within the margin of customer {customer!r}")
        return _tuple_new(RouteAnswer, (n, prefix, destination, sell_rate, entry[0], k, None, None))

    # -- the slow path: why -----------------------------------------------------------------

    def _carrier_entry(self, n: str) -> Entry:
        get = self._carriers.union.get
        for length in range(min(len(n), self._max_len), 0, -1):
            entry = get(key(n[:length]))
            if entry is not None:
                return entry
        return _EMPTY

    def explain(self, number: str, customer: str | None = None) -> RouteAnswer:
        """``lookup`` with ``explanation`` filled: one entry per routable carrier, ``kept`` (in
        route order), then ``margin`` (by rate, then name), ``blocked`` and ``no coverage`` (by name).

        Raises ``MalformedNumber`` and ``NotFound`` (unknown customer) as ``lookup`` does, but never
        ``NoRoute``, ``BlockedDestination`` or ``InsufficientCredit``: it then returns no routes and
        sets ``refusal`` to the error ``lookup`` raises. When the customer's deck does not cover
        the number, or blocks it, there is no sell rate to check margins against: carriers are
        judged on coverage and blocks only (``kept`` then means "would carry it").
        """
        try:
            answer = self.lookup(number, customer)
            refusal = None
        except (NoRoute, BlockedDestination, InsufficientCredit) as exc:
            answer = None
            refusal = Refusal(exc.code, exc.http_status, exc.message)
        table = self._sell.get(customer) if customer is not None else None
        n = normalise(number, table.customer.tech_prefix if table else "")
        routes, _, destination, uid = self._carrier_entry(n)
        sell = None
        if table is not None:
            sell = next((e for i in range(len(n), 0, -1) if (e := table.codes.get(key(n[:i])))), None)

        kept: list[Explanation] = []
        margin: list[Explanation] = []
        for r in routes:
            if sell is None or sell[4]:
                kept.append(Explanation(r.carrier, r.prefix, r.rate, "kept", f"{r.prefix} covers {n}"))
                continue
            assert table is not None
            rule = f"{format_micro(sell[2])} x (1 - {table.customer.min_margin}%)"
            if r.rate <= sell[3]:
                kept.append(Explanation(r.carrier, r.prefix, r.rate, "kept", f"{format_micro(r.rate)} <= {rule}"))
            else:
                margin.append(Explanation(r.carrier, r.prefix, r.rate, "margin", f"{format_micro(r.rate)} > {rule}"))
        carriers = self._carriers.carriers
        blocked = [
            Explanation(carriers[c].name, prefix, rate, "blocked", f"{carriers[c].name} blocks {prefix}")
            for c, prefix, rate in self._carriers.blocked.get(uid, ())
        ]
        seen = {e.carrier for e in (*kept, *margin, *blocked)}
        uncovered = [
            Explanation(c.name, None, None, "no coverage", f"no code of {c.name} matches {n}")
            for c in carriers
            if c.name not in seen
        ]
        explanation = (*kept, *margin, *blocked, *uncovered)
        if answer is not None:
            return answer._replace(explanation=explanation)
        if table is None:
            return RouteAnswer(n, None, destination or None, None, (), None, explanation, refusal)
        return RouteAnswer(
            n,
            sell[0] if sell else None,
            sell[1] if sell else None,
            sell[2] if sell else None,
            (),
            None,
            explanation,
            refusal,
        )


def build_snapshot(inputs: RoutingInputs, at: int) -> Snapshot:
    """Compile ``inputs`` for the instant ``at`` (epoch seconds UTC)."""
    interner = Interner()
    carriers = compile_carriers(inputs.carriers, inputs.carrier_rates, at, interner)
    sell = {c.name: compile_sell(c, inputs.customer_rates.get(c.name), at, carriers, interner)
            for c in inputs.customers}
    frames = [*inputs.carrier_rates.values(), *inputs.customer_rates.values()]
    return Snapshot(at, next_change(frames, at), carriers, sell, inputs.credit)


def _narrow(inputs: RoutingInputs, number: str, customer: str | None) -> RoutingInputs:
    """``inputs`` with only the rows whose prefix could match ``number`` (as normalised)."""
    tech = ""
    if customer is not None:
        found = next((c for c in inputs.customers if c.name == customer), None)
        if found is None:
            raise NotFound(f"no customer {customer!r}")
        tech = found.tech_prefix
    n = normalise(number, tech)
    candidates = pl.Series([n[:i] for i in range(1, len(n) + 1)], dtype=pl.String)

    def keep(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter(pl.col("prefix").is_in(candidates))

    return RoutingInputs(
        carriers=inputs.carriers,
        customers=inputs.customers,
        carrier_rates={k: keep(v) for k, v in inputs.carrier_rates.items()},
        customer_rates={k: keep(v) for k, v in inputs.customer_rates.items() if k == customer},
        credit=inputs.credit,
    )


def lookup_at(inputs: RoutingInputs, number: str, customer: str | None, at: int) -> RouteAnswer:
    """``build_snapshot(inputs, at).lookup(number, customer)`` without compiling whole decks:
    only the rows whose prefix is a prefix of the number are compiled (for any past or future
    instant: CLI ``--at``, HTTP ``at=``)."""
    return build_snapshot(_narrow(inputs, number, customer), at).lookup(number, customer)


def explain_at(inputs: RoutingInputs, number: str, customer: str | None, at: int) -> RouteAnswer:
    """``build_snapshot(inputs, at).explain(number, customer)``, the ``lookup_at`` way."""
    return build_snapshot(_narrow(inputs, number, customer), at).explain(number, customer)
