"""The nightly job: import several deck files or an inbox directory, each on its own.

Each file's owner, profile and mode come from the command line or, for an inbox, from the
mapping ``ratedecks/inbox.toml``::

    [[deck]]
    match = "acme_*.csv"     # shell-style pattern on the file name
    carrier = "acme"         # or: customer = "globex"
    profile = "auto"         # optional
    mode = "full"            # optional: full | delta

Every file is imported or rejected alone (one bad file never stops the others). In inbox mode
each processed file is moved to ``processed/`` or ``rejected/`` beside it, with its report
(``NAME.report.txt`` and ``NAME.report.json``). The exit code is 1 when any file was rejected,
so cron can alert on it.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from lcr.decks.plan import NoticePolicy
from lcr.errors import InputError, LcrError
from lcr.model import OwnerKind
from lcr.store.imports import ImportReport, import_deck, parse_received

MAPPING_FILE = "inbox.toml"
_KEYS = {"match", "carrier", "customer", "profile", "mode"}


@dataclass(frozen=True)
class ImportJob:
    path: Path
    kind: OwnerKind | None
    owner: str | None
    profile: str | None
    mode: str
    problem: str | None = None  # set when no owner could be found for the file


@dataclass
class Outcome:
    results: list[tuple[ImportJob, ImportReport | LcrError]] = field(default_factory=list)
    decks: dict[str, float] | None = None  # the rating decks' compile phases (seconds), when compiled
    decks_problem: str | None = None  # why the rating decks could not be compiled (the imports stand)

    @property
    def rejected(self) -> int:
        return sum(1 for _, r in self.results if isinstance(r, LcrError))

    def json_docs(self) -> list[dict[str, object]]:
        docs: list[dict[str, object]] = []
        for job, r in self.results:
            if isinstance(r, LcrError):
                docs.append({"file": job.path.name, "status": "rejected", **r.to_json()})
            else:
                docs.append(r.to_json())
        return docs

    def texts(self, *, rows: bool) -> list[str]:
        out = [f"lcr: {r}" if isinstance(r, LcrError) else r.to_text(rows=rows) for _, r in self.results]
        if self.decks is not None:
            out.append(decks_compiled(self.decks))
        if self.decks_problem is not None:
            out.append(f"lcr: warning: the rating decks were not compiled ({self.decks_problem}); "
                       "the next CDR import compiles them")
        return out


def decks_compiled(timings: dict[str, float]) -> str:
    """The line that reports ``prepare_decks``'s work."""
    phases = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
    return f"rating decks compiled for CDR imports in {sum(timings.values()):.1f} s ({phases})"


def load_mapping(decks_dir: Path) -> list[dict[str, str]]:
    path = decks_dir / MAPPING_FILE
    if not path.exists():
        return []
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from None
    entries = doc.get("deck", [])
    for i, entry in enumerate(entries, 1):
        unknown = set(entry) - _KEYS
        if unknown:
            raise InputError(f"{path}: deck entry {i} has unknown key(s) {', '.join(sorted(unknown))}")
        if "match" not in entry or ("carrier" in entry) == ("customer" in entry):
            raise InputError(f"{path}: deck entry {i} needs 'match' and exactly one of 'carrier' or 'customer'")
    return entries


def jobs_for(files: tuple[Path, ...], decks_dir: Path, *, carrier: str | None, customer: str | None,
             profile: str | None, mode: str) -> list[ImportJob]:
    paths: list[Path] = []
    for f in files:
        if f.is_dir():
            paths.extend(sorted(p for p in f.iterdir() if p.is_file() and not p.name.startswith(".")
                                and ".report." not in p.name))
        else:
            paths.append(f)
    if carrier or customer:
        kind = OwnerKind.CARRIER if carrier else OwnerKind.CUSTOMER
        return [ImportJob(p, kind, carrier or customer, profile, mode) for p in paths]
    mapping = load_mapping(decks_dir)
    jobs = []
    for p in paths:
        entry = next((e for e in mapping if fnmatch.fnmatch(p.name, e["match"])), None)
        if entry is None:
            jobs.append(ImportJob(p, None, None, None, mode,
                                  problem=f"{p.name}: no entry in {decks_dir / MAPPING_FILE} matches this file name"))
            continue
        kind = OwnerKind.CARRIER if "carrier" in entry else OwnerKind.CUSTOMER
        jobs.append(ImportJob(p, kind, entry.get("carrier") or entry.get("customer"),
                              profile or entry.get("profile"), entry.get("mode", mode)))
    return jobs


def run_jobs(engine: Engine, jobs: list[ImportJob], *, received: str | None, dry_run: bool, policy: NoticePolicy,
             profiles_dir: Path, move_processed: bool) -> Outcome:
    outcome = Outcome()
    for job in jobs:
        result: ImportReport | LcrError
        try:
            if job.problem is not None:
                raise InputError(job.problem)
            assert job.kind is not None and job.owner is not None
            result = import_deck(engine, job.path, kind=job.kind, owner=job.owner, profile=job.profile,
                                 profiles_dir=profiles_dir, mode=job.mode, received=parse_received(received),
                                 dry_run=dry_run, policy=policy)
        except LcrError as exc:
            result = exc
        outcome.results.append((job, result))
        if move_processed:
            _move_aside(job.path, result)
    if any(isinstance(r, ImportReport) and r.status == "imported" for _, r in outcome.results):
        _prepare_rating(engine, outcome)
    return outcome


def _prepare_rating(engine: Engine, outcome: Outcome) -> None:
    """Compile the rating decks once after the files (not once per file): the next CDR import
    rates at once. The imports are committed whatever happens here."""
    from lcr.store.cdrs import prepare_decks

    try:
        outcome.decks = prepare_decks(engine)
    except SQLAlchemyError as exc:  # a store busy or gone meanwhile
        outcome.decks_problem = str(exc.orig if isinstance(exc, DBAPIError) else exc).strip().splitlines()[0]


def _move_aside(path: Path, result: ImportReport | LcrError) -> None:
    target = path.parent / ("rejected" if isinstance(result, LcrError) else "processed")
    target.mkdir(exist_ok=True)
    dest = target / path.name
    n = 1
    while dest.exists():
        dest = target / f"{path.stem}.{n}{path.suffix}"
        n += 1
    shutil.move(str(path), dest)
    if isinstance(result, LcrError):
        text, doc = str(result), {"file": path.name, "status": "rejected", **result.to_json()}
    else:
        text, doc = result.to_text(rows=True), result.to_json()
    (target / f"{dest.name}.report.txt").write_text(text + "\n", encoding="utf-8")
    (target / f"{dest.name}.report.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
