"""Import profiles: what detection cannot know about a vendor's deck, pinned in a TOML file.

A profile lives in ``ratedecks/profiles/NAME.toml`` (see the README there for every key)::

    description = "Delta NPANXX: route on the intrastate rate"
    rate_column = "intrarate"
    date_order = "mdy"

    [columns]
    prefix = "code"

Every key is optional; an absent key leaves that decision to detection. Profile ``auto`` (or no
profile) is pure detection. An unknown key, or a value of the wrong kind, is an error naming the
file and the key: a typo must never silently fall back to a guess.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lcr.errors import InputError, NotFound

# The roles a deck column can play; ``[columns]`` keys are these names.
ROLES = (
    "prefix",
    "country_code",
    "area_code",
    "destination",
    "rate",
    "effective_date",
    "end_date",
    "billing",
    "first_interval",
    "next_interval",
    "connect_fee",
    "change",
    "grace_time",
    "currency",
)

_SCALAR_KEYS: dict[str, type | tuple[type, ...]] = {
    "description": str,
    "rate_column": str,
    "currency": str,
    "date_order": str,
    "sheet": str,
    "removal_sheet": (str, bool),
    "header_line": int,
    "delimiter": str,
    "decimal_comma": bool,
    "encoding": str,
}
DATE_ORDERS = ("dmy", "mdy")


@dataclass(frozen=True)
class Profile:
    """What to pin; ``None`` everywhere is ``auto`` (pure detection)."""

    name: str = "auto"
    description: str = ""
    rate_column: str | None = None
    currency: str | None = None
    date_order: str | None = None  # "dmy" | "mdy"
    sheet: str | None = None
    removal_sheet: str | bool | None = None  # a sheet name, False = ignore removal sheets
    header_line: int | None = None  # 1-based line (XLSX: row) of the header
    delimiter: str | None = None
    decimal_comma: bool | None = None
    encoding: str | None = None
    columns: dict[str, str | tuple[str, ...]] = field(default_factory=dict)
    source: str | None = None  # the file it came from, for messages


AUTO = Profile()


def default_profiles_dir() -> Path:
    from lcr.config import ratedecks_dir

    return ratedecks_dir() / "profiles"


def load_profile(name: str, profiles_dir: Path | None = None) -> Profile:
    """The profile ``NAME`` (``profiles_dir/NAME.toml``, or a path to a ``.toml`` file).

    ``auto`` is pure detection. A missing profile is ``NotFound``; a malformed one ``InputError``.
    """
    if name == "auto":
        return AUTO
    path = Path(name)
    if path.suffix != ".toml" or not path.is_file():
        base = profiles_dir if profiles_dir is not None else default_profiles_dir()
        path = base / f"{name}.toml"
        if not path.is_file():
            known = sorted(p.stem for p in base.glob("*.toml")) if base.is_dir() else []
            raise NotFound(
                f"no import profile {name!r} in {base} (known: {', '.join(known) or 'none'}; "
                "'auto' is pure detection)"
            )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"profile {path}: cannot be read: {exc}") from exc
    return profile_from_dict(data, name=path.stem, source=str(path))


def profile_from_dict(data: dict[str, Any], *, name: str = "inline", source: str | None = None) -> Profile:
    """Validate a parsed TOML document into a :class:`Profile`."""
    where = source or name
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "columns":
            values["columns"] = _columns(value, where)
            continue
        kind = _SCALAR_KEYS.get(key)
        if kind is None:
            raise InputError(
                f"profile {where}: unknown key {key!r} "
                f"(known: {', '.join([*_SCALAR_KEYS, 'columns'])})"
            )
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise InputError(f"profile {where}: key {key!r} has the wrong type ({value!r})")
        values[key] = value
    if values.get("date_order") not in (None, *DATE_ORDERS):
        raise InputError(f"profile {where}: date_order must be 'dmy' or 'mdy', not {values['date_order']!r}")
    if "header_line" in values and values["header_line"] < 1:
        raise InputError(f"profile {where}: header_line must be >= 1, not {values['header_line']!r}")
    delimiter = values.get("delimiter")
    if delimiter is not None:
        delimiter = {"\\t": "\t", "tab": "\t"}.get(delimiter, delimiter)
        if len(delimiter) != 1:
            raise InputError(f"profile {where}: delimiter must be one character, not {delimiter!r}")
        values["delimiter"] = delimiter
    if "currency" in values:
        cur = values["currency"].strip().upper()
        if len(cur) != 3 or not cur.isalpha():
            raise InputError(f"profile {where}: currency must be a 3-letter code, not {values['currency']!r}")
        values["currency"] = cur
    rate_column = values.get("rate_column")
    columns = values.get("columns", {})
    if rate_column is not None and "rate" in columns and columns["rate"] != rate_column:
        raise InputError(f"profile {where}: rate_column and [columns] rate disagree")
    return Profile(name=name, source=source, **values)


def _columns(value: object, where: str) -> dict[str, str | tuple[str, ...]]:
    if not isinstance(value, dict):
        raise InputError(f"profile {where}: [columns] must be a table of role = \"header name\"")
    out: dict[str, str | tuple[str, ...]] = {}
    for role, header in value.items():
        if role not in ROLES:
            raise InputError(f"profile {where}: unknown key 'columns.{role}' (known roles: {', '.join(ROLES)})")
        if isinstance(header, str):
            out[role] = header
        elif role == "destination" and isinstance(header, list) and all(isinstance(h, str) for h in header):
            out[role] = tuple(header)
        else:
            raise InputError(f"profile {where}: key 'columns.{role}' has the wrong type ({header!r})")
    return out
