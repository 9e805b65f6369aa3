"""Generate realistic canonical rate decks for benchmarks (deterministic for a seed).

A deck of N rows: 40% international codes (a real country code + 1-4 more digits), 60% US
NPANXX 7-digit codes under ``1``; rates with 4-6 decimals; every code unique.
"""

from __future__ import annotations

import random
from pathlib import Path

COUNTRY_CODES = (
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47", "48", "49",
    "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66", "81", "82", "84",
    "86", "90", "91", "92", "93", "94", "95", "98", "212", "213", "216", "218", "220", "221", "233", "234", "254",
    "255", "256", "260", "263", "351", "352", "353", "354", "355", "356", "357", "358", "359", "370", "371",
    "372", "380", "381", "385", "386", "420", "421", "852", "853", "855", "856", "880", "886", "960", "961",
    "962", "963", "964", "965", "966", "971", "972", "973", "974", "975", "976", "977",
)


def codes(n: int, rng: random.Random) -> list[str]:
    n_intl = n * 2 // 5
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n_intl:
        code = rng.choice(COUNTRY_CODES) + str(rng.randrange(10 ** rng.randint(1, 4)))
        if code not in seen:
            seen.add(code)
            out.append(code)
    # NPANXX: NPA 201-999, NXX 200-999 (639,200 possible), taken in a shuffled order without repeats
    npanxx = rng.sample(range(799 * 800), n - n_intl)
    out.extend(f"1{201 + v // 800}{200 + v % 800}" for v in npanxx)
    return out


def rate_text(rng: random.Random) -> str:
    decimals = rng.choice((4, 5, 6))
    micro = rng.randrange(1000, 300_000)  # 0.001 .. 0.3 per minute
    micro -= micro % (10 ** (6 - decimals))
    return f"{micro // 1_000_000}.{micro % 1_000_000:06d}"[: 2 + decimals]


def write_deck(path: Path, n: int, *, seed: int = 1, effective: str = "2026-11-01") -> list[str]:
    """Write an N-row canonical deck; returns its codes in file order."""
    rng = random.Random(seed)
    all_codes = codes(n, rng)
    with path.open("w", encoding="utf-8") as f:
        f.write("prefix,destination,rate,effective_date,first_interval,next_interval\n")
        for code in all_codes:
            dest = "USA" if code.startswith("1") else f"Country {code[:3]}"
            f.write(f"{code},{dest},{rate_text(rng)},{effective},60,6\n" if code.startswith("1")
                    else f"{code},{dest},{rate_text(rng)},{effective},1,1\n")
    return all_codes


def write_changed_deck(src: Path, dst: Path, *, fraction: float = 0.05, seed: int = 2,
                       effective: str = "2026-11-20") -> int:
    """Copy ``src`` with ``fraction`` of its rates changed (effective later); returns how many changed."""
    rng = random.Random(seed)
    changed = 0
    with src.open(encoding="utf-8") as fin, dst.open("w", encoding="utf-8") as fout:
        fout.write(fin.readline())
        for line in fin:
            if rng.random() < fraction:
                code, dest, _rate, _eff, first, nxt = line.rstrip("\n").split(",")
                line = f"{code},{dest},{rate_text(rng)},{effective},{first},{nxt}\n"
                changed += 1
            fout.write(line)
    return changed
