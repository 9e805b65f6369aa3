"""A deterministic, realistic routing world for benchmarks: ``make_world(seed, scale=...)``.

At ``scale=1.0`` (the default) the world is the router's reference workload:

- an international prefix pool of 50,000 codes under ~150 real country codes (nested: the
  country code itself, then 1-5 more digits, e.g. ``44``, ``447``, ``4475``, ``447590``), with
  destinations ``"<Country>"``, ``"<Country> - Mobile"``, ``"<Country> - Fixed"``, and a few
  NANP countries as 4-digit codes (``1876`` Jamaica, ...);
- a NANP pool of 200,000 7-digit NPANXX codes ``1NPANXX`` under 300 area codes;
- 20 international carriers ``intl-01`` .. ``intl-20``: each holds a random 75-100 % of the
  international pool plus ``1`` (USA/Canada) and the NANP area codes ``1NPA``; rates in
  micro-units per minute with 4, 5 or 6 decimals (per carrier);
- 5 NANP carriers ``nanp-1`` .. ``nanp-5``: each holds 90-100 % of the NPANXX pool plus ``1``;
- history and change: ~5 % of the codes have an older version (closed where the current one
  starts), ~2 % change rate at a future instant (1-30 days after ``WORLD_NOW``), ~0.5 % are
  closed (in the past, or in the future with no successor), ~0.2 % are blocked;
- 10 customers ``customer-01`` .. ``customer-10``: sell decks over the whole international pool
  at a 15-50 % markup over the pool's base rate; customers 01-03 sell NANP per NPANXX, the
  others per area code ``1NPA`` plus ``1``; ~0.1 % of customer codes are blocked; min margins
  ``0``, ``2.5``, ``5``, ``10``, ``1.5``, ``3.25``; tech prefixes ``8801`` .. ``8805`` for
  customers 01-05; source IP ``192.0.2.<i>`` for customer ``i``;
- credit: every customer postpaid with a limit and a positive balance, except ``customer-10``,
  prepaid with a zero balance (every lookup for it is refused: 402).

That is about 2,000,000 carrier rate rows and 1,100,000 customer rate rows. Every row has the
columns ``prefix, destination, rate, effective_from, effective_to, blocked, first_interval,
next_interval, connect_fee``. Instants are epoch seconds UTC; "now" is ``WORLD_NOW``
(2026-11-01T00:00:00Z). ``scale`` multiplies the pool sizes (``scale=0.01`` is a 20,000-row
world for quick tests).

Randomness comes from ``random.Random(seed)`` only, so a world is the same on every machine.
``random_numbers(inputs, count, seed)`` draws dialled numbers for lookups.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import polars as pl

from lcr.model import Carrier, CreditState, Customer, Gateway
from lcr.routing.inputs import RoutingInputs

WORLD_NOW = 1_793_491_200  # 2026-11-01T00:00:00Z
DAY = 86_400

# (country code, name, base rate in micro-units per minute, weight in the prefix pool)
_COUNTRIES = """
7 Russia 9000 30|20 Egypt 60000 8|27 South Africa 30000 8|30 Greece 12000 5|31 Netherlands 9000 8
32 Belgium 10000 6|33 France 8000 15|34 Spain 7000 12|36 Hungary 15000 4|39 Italy 8000 15
40 Romania 20000 6|41 Switzerland 12000 5|43 Austria 11000 5|44 United Kingdom 6000 20
45 Denmark 9000 4|46 Sweden 8000 5|47 Norway 9000 4|48 Poland 11000 8|49 Germany 7000 20
51 Peru 40000 6|52 Mexico 15000 20|53 Cuba 700000 2|54 Argentina 25000 10|55 Brazil 18000 20
56 Chile 20000 6|57 Colombia 22000 10|58 Venezuela 60000 5|60 Malaysia 20000 8|61 Australia 12000 10
62 Indonesia 45000 12|63 Philippines 110000 10|64 New Zealand 15000 4|65 Singapore 6000 4
66 Thailand 30000 8|81 Japan 25000 10|82 South Korea 15000 8|84 Vietnam 60000 8|86 China 9000 25
90 Turkey 40000 10|91 India 12000 30|92 Pakistan 70000 10|93 Afghanistan 200000 3
94 Sri Lanka 90000 5|95 Myanmar 150000 3|98 Iran 80000 5|211 South Sudan 350000 1
212 Morocco 120000 4|213 Algeria 200000 4|216 Tunisia 180000 3|218 Libya 150000 2
220 Gambia 400000 1|221 Senegal 250000 2|223 Mali 300000 2|224 Guinea 350000 2
225 Ivory Coast 280000 2|226 Burkina Faso 300000 2|227 Niger 300000 1|228 Togo 260000 1
229 Benin 280000 1|230 Mauritius 120000 1|231 Liberia 300000 1|232 Sierra Leone 320000 1
233 Ghana 200000 3|234 Nigeria 120000 6|235 Chad 400000 1|236 Central African Republic 450000 1
237 Cameroon 250000 2|238 Cape Verde 300000 1|240 Equatorial Guinea 400000 1|241 Gabon 350000 1
242 Congo 350000 1|243 DR Congo 350000 3|244 Angola 200000 2|249 Sudan 300000 2|250 Rwanda 250000 1
251 Ethiopia 300000 3|252 Somalia 500000 1|253 Djibouti 400000 1|254 Kenya 100000 4
255 Tanzania 250000 3|256 Uganda 250000 3|257 Burundi 350000 1|258 Mozambique 200000 2
260 Zambia 250000 2|261 Madagascar 400000 1|263 Zimbabwe 300000 2|264 Namibia 150000 1
265 Malawi 300000 1|266 Lesotho 200000 1|267 Botswana 150000 1|268 Eswatini 200000 1
297 Aruba 200000 1|298 Faroe Islands 100000 1|299 Greenland 400000 1|350 Gibraltar 60000 1
351 Portugal 9000 5|352 Luxembourg 9000 2|353 Ireland 8000 4|354 Iceland 30000 1|355 Albania 150000 2
356 Malta 30000 1|357 Cyprus 20000 1|358 Finland 15000 3|359 Bulgaria 40000 3|370 Lithuania 30000 2
371 Latvia 30000 2|372 Estonia 30000 2|373 Moldova 150000 2|374 Armenia 150000 2|375 Belarus 200000 2
376 Andorra 100000 1|377 Monaco 200000 1|380 Ukraine 90000 5|381 Serbia 150000 3|382 Montenegro 150000 1
385 Croatia 60000 2|386 Slovenia 60000 2|387 Bosnia 150000 2|389 North Macedonia 150000 1
420 Czech Republic 15000 4|421 Slovakia 20000 3|423 Liechtenstein 100000 1|501 Belize 200000 1
502 Guatemala 120000 3|503 El Salvador 100000 2|504 Honduras 150000 2|505 Nicaragua 150000 2
506 Costa Rica 60000 2|507 Panama 60000 2|509 Haiti 250000 2|591 Bolivia 100000 3|592 Guyana 200000 1
593 Ecuador 90000 3|595 Paraguay 60000 2|598 Uruguay 80000 2|670 Timor-Leste 600000 1
673 Brunei 30000 1|675 Papua New Guinea 700000 1|679 Fiji 300000 1|852 Hong Kong 6000 4
853 Macau 30000 1|855 Cambodia 80000 3|856 Laos 80000 2|880 Bangladesh 35000 6|886 Taiwan 30000 4
960 Maldives 400000 1|961 Lebanon 150000 2|962 Jordan 120000 2|963 Syria 250000 2|964 Iraq 150000 4
965 Kuwait 80000 2|966 Saudi Arabia 90000 6|967 Yemen 180000 2|968 Oman 150000 2
970 Palestine 150000 2|971 United Arab Emirates 150000 4|972 Israel 20000 4|973 Bahrain 90000 1
974 Qatar 120000 2|975 Bhutan 150000 1|976 Mongolia 60000 1|977 Nepal 150000 2|992 Tajikistan 120000 2
993 Turkmenistan 150000 1|994 Azerbaijan 200000 2|995 Georgia 150000 3|996 Kyrgyzstan 120000 2
998 Uzbekistan 120000 3|1242 Bahamas 150000 1|1246 Barbados 200000 1|1268 Antigua 250000 1
1473 Grenada 250000 1|1758 Saint Lucia 250000 1|1767 Dominica 250000 1|1809 Dominican Republic 90000 2
1868 Trinidad and Tobago 150000 1|1876 Jamaica 200000 2
"""

_US_BASE = 4_000  # micro-units per minute for the NANP pools


def _countries() -> list[tuple[str, str, int, int]]:
    out = []
    for item in _COUNTRIES.replace("\n", "|").split("|"):
        item = item.strip()
        if not item:
            continue
        cc, *words, base, weight = item.split()
        out.append((cc, " ".join(words), int(base), int(weight)))
    return out


def _intl_pool(rng: random.Random, size: int) -> list[tuple[str, str, int]]:
    """``size`` nested international codes: (prefix, destination, base rate)."""
    countries = _countries()
    total_weight = sum(w for *_, w in countries)
    pool: dict[str, tuple[str, int]] = {}
    for cc, name, base, weight in countries:
        want = max(3, round(size * weight / total_weight))
        mobile = str(rng.choice("3456789"))
        pool[cc] = (name, base)
        seen = 1
        while seen < want:
            extra = "".join(rng.choice("0123456789") for _ in range(rng.choice((1, 2, 3, 3, 4, 4, 5))))
            code = cc + extra
            if code in pool or len(code) > 9:
                continue
            if extra[0] == mobile:
                pool[code] = (f"{name} - Mobile", base * rng.choice((2, 3, 4)) // 2 + base)
            else:
                pool[code] = (f"{name} - Fixed", base * rng.randint(90, 120) // 100)
            seen += 1
    return [(p, d, r) for p, (d, r) in sorted(pool.items())][: max(size, len(countries))]


def _nanp_pool(rng: random.Random, size: int) -> tuple[list[str], list[tuple[str, str, int]]]:
    """300 area codes ``1NPA`` and ``size`` 7-digit codes ``1NPANXX``: (prefix, destination, base)."""
    # NANP countries of the international pool (1242 Bahamas, 1268 Antigua...) are not US area codes:
    # the same code twice in one deck would be two overlapping versions of one prefix
    caribbean = {code[1:] for code, *_ in _countries() if code.startswith("1") and len(code) == 4}
    npas = sorted(
        rng.sample([f"{a}{b}{c}" for a in "23456789" for b in "0123456789" for c in "0123456789"
                    if not (b == "1" and c == "1") and f"{a}{b}{c}" not in caribbean], 300)
    )
    nxxs = [f"{a}{b}{c}" for a in "23456789" for b in "0123456789" for c in "0123456789"]
    per_npa = max(1, size // len(npas))
    pool = []
    for npa in npas:
        npa_base = _US_BASE * rng.randint(50, 200) // 100
        for nxx in sorted(rng.sample(nxxs, min(per_npa, len(nxxs)))):
            pool.append((f"1{npa}{nxx}", f"USA {npa}", npa_base * rng.randint(80, 125) // 100))
    return [f"1{n}" for n in npas], pool[:size]


def _round(micro: int, decimals: int) -> int:
    step = 10 ** (6 - decimals)
    return max(step, (micro + step // 2) // step * step)


class _Deck:
    """Column lists of one owner's deck, with the version history rules of the world."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.cols: dict[str, list] = {k: [] for k in
                                      ("prefix", "destination", "rate", "effective_from", "effective_to",
                                       "blocked")}

    def _row(self, prefix: str, dest: str, rate: int, start: int, end: int | None, blocked: bool) -> None:
        c = self.cols
        c["prefix"].append(prefix)
        c["destination"].append(dest)
        c["rate"].append(rate)
        c["effective_from"].append(start)
        c["effective_to"].append(end)
        c["blocked"].append(blocked)

    def code(self, prefix: str, dest: str, rate: int, *, decimals: int, blocked_share: float) -> None:
        rng = self.rng
        start = WORLD_NOW - DAY * rng.randint(1, 180)
        u = rng.random()
        if u < 0.05:  # history: an older version closed where this one starts
            old = _round(rate * rng.randint(90, 110) // 100, decimals)
            self._row(prefix, dest, old, start - DAY * rng.randint(30, 400), start, False)
        if u > 0.98:  # a future rate change
            change = WORLD_NOW + DAY * rng.randint(1, 30) + rng.randint(0, DAY - 1)
            self._row(prefix, dest, rate, start, change, False)
            new = _round(rate * rng.randint(85, 120) // 100, decimals)
            self._row(prefix, dest, new, change, None, False)
        elif 0.975 < u <= 0.98:  # closed: in the past, or in the future with no successor
            end = WORLD_NOW + DAY * rng.randint(-60, 30)
            self._row(prefix, dest, rate, start, max(end, start + DAY), False)
        else:
            self._row(prefix, dest, rate, start, None, rng.random() < blocked_share)

    def frame(self) -> pl.DataFrame:
        n = len(self.cols["prefix"])
        return pl.DataFrame(
            {
                **self.cols,
                "first_interval": [1] * n,
                "next_interval": [1] * n,
                "connect_fee": [0] * n,
            },
            schema={
                "prefix": pl.String, "destination": pl.String, "rate": pl.Int64,
                "effective_from": pl.Int64, "effective_to": pl.Int64, "blocked": pl.Boolean,
                "first_interval": pl.Int64, "next_interval": pl.Int64, "connect_fee": pl.Int64,
            },
        )


def make_world(seed: int = 1, *, scale: float = 1.0) -> RoutingInputs:
    """The benchmark world described in this module's docstring (deterministic for a seed)."""
    rng = random.Random(seed)
    intl = _intl_pool(rng, int(50_000 * scale))
    npa_codes, nanp = _nanp_pool(rng, int(200_000 * scale))

    carriers: list[Carrier] = []
    carrier_rates: dict[str, pl.DataFrame] = {}
    for i in range(1, 21):
        name = f"intl-{i:02d}"
        gws = (Gateway(f"10.1.{i}.1"), Gateway(f"10.1.{i}.2", 5080))
        carriers.append(Carrier(name, gws, tech_prefix=f"{i:02d}77" if i % 4 == 0 else ""))
        deck = _Deck(rng)
        decimals = 4 + i % 3
        factor = rng.randint(85, 125)
        share = rng.uniform(0.75, 1.0)
        for prefix, dest, base in intl:
            if rng.random() < share:
                rate = _round(base * factor * rng.randint(95, 105) // 10_000, decimals)
                deck.code(prefix, dest, rate, decimals=decimals, blocked_share=0.002)
        deck.code("1", "USA/Canada", _round(_US_BASE * factor * 3 // 100, decimals),
                  decimals=decimals, blocked_share=0.0)
        for npa in npa_codes:
            if rng.random() < 0.5:
                rate = _round(_US_BASE * factor * rng.randint(150, 250) // 10_000, decimals)
                deck.code(npa, f"USA {npa[1:]}", rate, decimals=decimals, blocked_share=0.002)
        carrier_rates[name] = deck.frame()
    for i in range(1, 6):
        name = f"nanp-{i}"
        carriers.append(Carrier(name, (Gateway(f"10.2.{i}.1"),), tech_prefix=""))
        deck = _Deck(rng)
        decimals = 5 + i % 2
        factor = rng.randint(80, 120)
        share = rng.uniform(0.9, 1.0)
        deck.code("1", "USA/Canada", _round(_US_BASE * factor * 4 // 100, decimals),
                  decimals=decimals, blocked_share=0.0)
        for prefix, dest, base in nanp:
            if rng.random() < share:
                rate = _round(base * factor * rng.randint(90, 110) // 10_000, decimals)
                deck.code(prefix, dest, rate, decimals=decimals, blocked_share=0.002)
        carrier_rates[name] = deck.frame()

    margins = ("0", "2.5", "5", "0", "10", "1.5", "0", "3.25", "0", "5")
    customers: list[Customer] = []
    customer_rates: dict[str, pl.DataFrame] = {}
    credit: dict[str, CreditState] = {}
    for i in range(1, 11):
        name = f"customer-{i:02d}"
        customers.append(
            Customer(
                name,
                prepaid=i == 10,
                credit_limit=None if i == 10 else 1_000_000_000,
                source_ips=(f"192.0.2.{i}",),
                tech_prefix=f"880{i}" if i <= 5 else "",
                min_margin=margins[i - 1],
            )
        )
        credit[name] = (CreditState(0, None, True) if i == 10
                        else CreditState(50_000_000 * i, 1_000_000_000, False))
        deck = _Deck(rng)
        markup = rng.randint(115, 150)
        for prefix, dest, base in intl:
            deck.code(prefix, dest, _round(base * markup // 100, 4), decimals=4, blocked_share=0.001)
        deck.code("1", "USA/Canada", _round(_US_BASE * markup // 100, 4), decimals=4, blocked_share=0.0)
        if i <= 3:
            for prefix, dest, base in nanp:
                deck.code(prefix, dest, _round(base * markup // 100, 4), decimals=4, blocked_share=0.001)
        else:
            for npa in npa_codes:
                deck.code(npa, f"USA {npa[1:]}", _round(_US_BASE * 2 * markup // 100, 4),
                          decimals=4, blocked_share=0.001)
        customer_rates[name] = deck.frame()

    return RoutingInputs(
        carriers=tuple(carriers),
        customers=tuple(customers),
        carrier_rates=carrier_rates,
        customer_rates=customer_rates,
        credit=credit,
    )


def random_numbers(inputs: RoutingInputs, count: int, seed: int = 2) -> list[str]:
    """``count`` dialled numbers: a uniformly drawn code of a uniformly drawn carrier deck row,
    padded with random digits to 11-13 digits (NPANXX numbers to 11), 10 % with a leading ``+``
    and 10 % with ``00``."""
    rng = random.Random(seed)
    prefixes: Sequence[str] = sorted(
        set().union(*(set(f["prefix"].to_list()) for f in inputs.carrier_rates.values()))
    )
    out = []
    for _ in range(count):
        p = prefixes[rng.randrange(len(prefixes))]
        length = 11 if p.startswith("1") else rng.randint(11, 13)
        pad = max(0, length - len(p))
        digits = p + (str(rng.randrange(10**pad)).zfill(pad) if pad else "")
        u = rng.random()
        out.append("+" + digits if u < 0.1 else "00" + digits if u < 0.2 else digits)
    return out
