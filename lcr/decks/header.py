"""Header rows: recognising the usual column names of vendor decks, and finding the header row.

Each header cell is normalised (lower case, ``_`` as space, currency codes, ``(USD)``/``(s)`` and
``per minute``/``/min`` units removed) and matched whole against the patterns of :data:`PATTERNS`,
in order, first match wins (so ``Connection Cost`` is a connect fee before ``Cost`` is a rate,
and ``Country Code`` a country code before ``Country`` is a destination).

The header row is the row of the first lines that recognises the most distinct roles among those
that have a code column (``prefix`` or ``country_code``) and a rate column; a code-removal sheet
needs only a code column.

Several rate columns: a profile's ``rate_column`` (or ``[columns] rate``) chooses. Without one,
the US NPANXX layout (``interrate``, ``intrarate``, ``ijrate``) is routed on ``interrate``, the
interstate rate (a warning says so); a notification with ``Current Rate`` and ``New Rate`` uses
the new rate; any other set of competing rate columns is an error naming them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lcr.decks.profile import Profile
from lcr.errors import DeckProblem, DeckRejected

HEADER_SCAN_LINES = 50

CURRENCIES = frozenset(
    {
        "USD", "EUR", "GBP", "CHF", "CAD", "AUD", "NZD", "JPY", "CNY", "HKD", "SGD", "INR", "ZAR",
        "NGN", "KES", "GHS", "BRL", "MXN", "ARS", "CLP", "COP", "PEN", "SEK", "NOK", "DKK", "PLN",
        "CZK", "HUF", "RON", "BGN", "RUB", "UAH", "TRY", "AED", "SAR", "QAR", "KWD", "BHD", "OMR",
        "ILS", "EGP", "MAD", "PKR", "BDT", "LKR", "PHP", "IDR", "MYR", "THB", "VND", "KRW", "TWD",
        "XOF", "XAF",
    }
)
_CURRENCY_WORD = re.compile(r"\b(" + "|".join(sorted(CURRENCIES)) + r")\b", re.IGNORECASE)
_PARENS = re.compile(r"\([^)]*\)|\[[^\]]*\]")  # "(USD)", "(s)", "(per min)", "(dd/mm/yyyy)", "[EUR]"
_PER_MINUTE = re.compile(r"(?:\s*/\s*|\s+per\s+|^per\s+)min(?:ute)?s?\b|\s+pm\b")
_SYMBOLS = re.compile(r"[$€£]")

# (role, pattern) in priority order; patterns match the whole normalised cell.
PATTERNS: tuple[tuple[str, str], ...] = (
    ("grace_time", r"grace(?: time| period)?"),
    ("currency", r"currency|curr|ccy"),
    ("connect_fee", r"(?:connect(?:ion)?|conn\.?|set ?up)(?: (?:fee|cost|charge|price|rate))?"),
    ("billing", r"billing(?: (?:increments?|intervals?|unit|scheme|terms|rule))?|intervals?|min ?/ ?inc|"
     r"increments|pulse|charging(?: interval)?|rounding|billing cycle"),
    ("first_interval", r"(?:initial|first|min(?:imum)?)(?: (?:increment|interval|period|duration|block|charge))?"
     r"|duration|init(?:ial)? inc(?:rement)?|interval ?1"),
    ("next_interval", r"(?:next|subsequent|additional|add)(?: (?:increment|interval|period|block))?"
     r"|increment|inc|interval ?2"),
    ("end_date", r"(?:end|expiry|expiration|expires|valid (?:to|until|till)|effective (?:to|until)|to|until)"
     r"(?: date)?|end date|date to"),
    ("effective_date", r"(?:effective|eff\.?|valid(?:ity)?|start|begin|activation|as of)"
     r"(?: (?:date|from|since|on))?(?: date)?|date|from|date from|from date|valid from date|date effective"),
    ("country_code", r"country ?code|cc|country prefix|country dial(?:ing)? code"),
    ("area_code", r"area ?code|area|city code|ndc|area prefix"),
    ("prefix", r"(?:dial(?:ing|led)? )?(?:codes?|code\(s\)|prefix(?:es)?|prefix\(es\))(?: list)?|npa ?nxx|"
     r"dial ?string|digits|prefix code|destination codes?|e164|breakout codes?|dialcodes?"),
    ("ignored", r"(?:old|previous|prior|last)(?: (?:rate|price|cost))?|comments?|notes?|remarks?"),
    ("rate", r"(?:new |current )?(?:rate|price|cost|tariff)|interrate|intrarate|ijrate|"
     r"inter(?:state)? rate|intra(?:state)? rate|indeterminate(?: rate)?|rate per minute"),
    ("change", r"changes?|change type|status|action|rate change|change status|flag|indicator"),
    ("destination", r"destination(?: name)?|country|network|description|name|zone|operator|country name|"
     r"region|dest|carrier|route|breakout|location|city|destination network"),
)
_COMPILED = tuple((role, re.compile(pat)) for role, pat in PATTERNS)


def normalise(cell: str) -> str:
    """``'Cost / Min (USD)'`` -> ``'cost'``; ``'Rate USD/min'`` -> ``'rate'``."""
    s = cell.replace("\ufeff", "").replace("_", " ").strip().lower()
    s = _PARENS.sub(" ", s)
    s = _SYMBOLS.sub(" ", s)
    s = _CURRENCY_WORD.sub(" ", s)
    s = re.sub(r"\s+", " ", s).strip()
    if not re.fullmatch(r"min ?/ ?inc", s):
        s = _PER_MINUTE.sub("", s)
    s = re.sub(r"\s+(?:in|per)$", "", s.strip(" :.,*#-"))
    return s.strip(" :.,*#-")


def role_of(cell: str) -> str | None:
    """The role a header cell names, or None."""
    s = normalise(cell)
    if not s:
        # "USD/min", "EUR": a price with nothing but its unit
        return "rate" if _CURRENCY_WORD.search(cell) or _PER_MINUTE.search(" " + cell.lower()) else None
    for role, pat in _COMPILED:
        if pat.fullmatch(s):
            return role
    return None


def date_order_hint(cell: str) -> str | None:
    """``'Effective date (dd/mm/yyyy)'`` -> ``'dmy'``; ``'Date (MM/DD/YYYY)'`` -> ``'mdy'``."""
    s = cell.lower()
    if re.search(r"\bd{1,2}[./\- ]?m{1,2}[./\- ]?(?:y{2,4})\b", s):
        return "dmy"
    if re.search(r"\bm{1,2}[./\- ]?d{1,2}[./\- ]?(?:y{2,4})\b", s):
        return "mdy"
    return None


def currency_of(cell: str) -> str | None:
    found = {m.upper() for m in _CURRENCY_WORD.findall(cell)}
    return found.pop() if len(found) == 1 else None


def score(cells: list[str], *, need_rate: bool = True) -> int:
    """How much a row looks like a header: distinct recognised roles, 0 without code (and rate)."""
    roles = {role_of(c) for c in cells if c}
    roles.discard(None)
    roles.discard("ignored")
    if not roles & {"prefix", "country_code"}:
        return 0
    if need_rate and "rate" not in roles:
        return 0
    return len(roles)


def find_header(rows: list[list[str]], *, need_rate: bool = True) -> tuple[int, int] | None:
    """``(index, score)`` of the best header among ``rows`` (the earliest of equals), or None."""
    best: tuple[int, int] | None = None
    for i, cells in enumerate(rows[:HEADER_SCAN_LINES]):
        s = score(cells, need_rate=need_rate)
        if s and (best is None or s > best[1]):
            best = (i, s)
    return best


_REMOVAL_ROLES = ("prefix", "country_code", "area_code", "destination", "effective_date")


@dataclass
class ColumnMap:
    """Which column (index into the header) plays which role."""

    roles: dict[str, int] = field(default_factory=dict)
    destinations: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def get(self, role: str) -> int | None:
        return self.roles.get(role)


def map_columns(header: list[str], profile: Profile, file: str, *, removal: bool = False) -> ColumnMap:
    """Assign columns to roles; competing candidates are an error that says what to pin."""
    names = [h.strip() for h in header]
    pinned: dict[str, list[int]] = {}
    wanted = dict(profile.columns)
    if profile.rate_column is not None and not removal:
        wanted["rate"] = profile.rate_column
    problems: list[DeckProblem] = []
    for role, want in wanted.items():
        if removal and role not in _REMOVAL_ROLES:
            continue
        for name in (want,) if isinstance(want, str) else want:
            idx = [i for i, h in enumerate(names) if h.lower() == name.strip().lower()]
            if not idx:
                problems.append(DeckProblem(file, None, None, None,
                                            f"profile {profile.name!r}: no column {name!r} for {role} "
                                            f"(columns: {', '.join(repr(n) for n in names if n)})"))
            else:
                pinned.setdefault(role, []).append(idx[0])
    if problems:
        raise DeckRejected(f"{file}: the profile does not match the deck's columns", problems)
    taken = {i for idx in pinned.values() for i in idx}
    found: dict[str, list[int]] = {}
    for i, h in enumerate(names):
        seen = None if i in taken else role_of(h)
        if removal and seen not in _REMOVAL_ROLES:
            continue
        if seen is not None and seen != "ignored" and seen not in pinned:
            found.setdefault(seen, []).append(i)
    cmap = ColumnMap()
    # "Increment" alone (no first-interval column) is a combined billing cell such as "60/60".
    if "next_interval" in found and "first_interval" not in found and "first_interval" not in pinned:
        found.setdefault("billing", []).extend(found.pop("next_interval"))
    if "rate" in pinned and not removal:
        cmap.notes.append(f"rate column {names[pinned['rate'][0]]!r} (profile)")
    for role, idx in pinned.items():
        if role == "destination":
            cmap.destinations = idx
        else:
            cmap.roles[role] = idx[0]
    for role, idx in found.items():
        if role == "destination":
            # "Country" + "Network" are joined ("Nigeria Mobile - Glo"); next to a "Destination"
            # column, a "Country" column only repeats it
            named = [i for i in idx if normalise(names[i]).startswith("dest")]
            cmap.destinations = named or idx
        elif len(idx) == 1:
            cmap.roles[role] = idx[0]
        elif role == "rate" and not removal:
            _choose_rate(cmap, names, idx, file)
        else:
            cols = " and ".join(repr(names[i]) for i in idx)
            raise DeckRejected(
                f"{file}: columns {cols} all look like the {role} column; "
                f"pass a profile with [columns] {role} = \"...\" to choose one"
            )
    if "prefix" in cmap.roles and "country_code" in cmap.roles:
        # "Country Code" next to a full "Code" column: the country code is only descriptive.
        del cmap.roles["country_code"]
        cmap.roles.pop("area_code", None)
    if "area_code" in cmap.roles and "country_code" not in cmap.roles and "prefix" not in cmap.roles:
        raise DeckRejected(f"{file}: an area code column {names[cmap.roles['area_code']]!r} but no country code")
    return cmap


def _choose_rate(cmap: ColumnMap, names: list[str], idx: list[int], file: str) -> None:
    lowered = {names[i].lower(): i for i in idx}
    if {"interrate", "intrarate"} <= lowered.keys():
        # US NPANXX deck: route on the interstate rate unless a profile says otherwise.
        cmap.roles["rate"] = lowered["interrate"]
        cmap.notes.append("rate column 'interrate' (NPANXX default)")
        others = ", ".join(repr(names[i]) for i in idx if names[i].lower() != "interrate")
        cmap.warnings.append(
            f"NPANXX deck: rates taken from 'interrate' ({others} ignored; a profile's rate_column can choose)"
        )
        return
    newest = [i for i in idx if normalise(names[i]).startswith("new ")]
    if len(newest) == 1:
        # a notification with "Current Rate" and "New Rate": the new rate is the one to import
        cmap.roles["rate"] = newest[0]
        cmap.notes.append(f"rate column {names[newest[0]]!r} (the new rate)")
        return
    cols = ", ".join(repr(names[i]) for i in idx)
    raise DeckRejected(
        f"{file}: several rate columns compete ({cols}); pass a profile with rate_column = \"...\" to choose one"
    )


_PREAMBLE_CURRENCY = re.compile(r"currency\W{0,3}(?:is\s+|in\s+)?([A-Za-z]{3})\b", re.IGNORECASE)


def preamble_currency(lines: list[str]) -> tuple[str | None, str | None]:
    """``(named, mentioned)``: the currency the lines above the header name ("Currency:,USD",
    "currency USD"), and else the one 3-letter code they mention ("Price list USD"); each only
    when it is the only one."""
    named: set[str] = set()
    mentioned: set[str] = set()
    for text in lines:
        for m in _PREAMBLE_CURRENCY.finditer(text):
            if m.group(1).upper() in CURRENCIES:
                named.add(m.group(1).upper())
        mentioned.update(w for w in re.findall(r"\b[A-Z]{3}\b", text) if w in CURRENCIES)
    return (
        named.pop() if len(named) == 1 else None,
        mentioned.pop() if len(mentioned) == 1 else None,
    )
