"""Every setting of lcr, declared once, with its help text.

A setting is read from its environment variable; a CLI flag of the same meaning overrides it.
``lcr settings`` prints this table, and ``docs/settings.md`` is checked against it by a test.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Setting:
    env: str
    default: str
    help: str

    def get(self) -> str:
        value = os.environ.get(self.env)
        return value if value not in (None, "") else self.default


DATABASE_URL = Setting(
    "LCR_DATABASE_URL",
    "sqlite:///var/lcr.sqlite",
    "SQLAlchemy URL of the rate store. Default: a SQLite file under ./var/. "
    "Production: postgresql+psycopg://user@host/dbname.",
)
API_TOKEN = Setting(
    "LCR_API_TOKEN",
    "",
    "Admin bearer token for the HTTP API (imports, payments, customers). "
    "With no token configured the API serves loopback clients only (demo mode).",
)
READ_TOKENS = Setting(
    "LCR_READ_TOKENS",
    "",
    "Comma-separated read-only bearer tokens (route lookups, balances).",
)
HTTP_LISTEN = Setting("LCR_HTTP", "127.0.0.1:8080", "HOST:PORT of the HTTP API for `lcr serve`.")
SIP_LISTEN = Setting(
    "LCR_SIP", "127.0.0.1:5060", "HOST:PORT of the SIP redirect server for `lcr serve` (UDP and TCP, same port)."
)
SIP_WORKERS = Setting(
    "LCR_SIP_WORKERS",
    "1",
    "Processes answering SIP over UDP for `lcr serve`: 1 answers in the HTTP process; N > 1 forks N "
    "workers that read one socket, each keeping its own copy of the router current (see README).",
)
SIP_TCP_IDLE = Setting(
    "LCR_SIP_TCP_IDLE",
    "60",
    "Seconds after which `lcr serve` closes a SIP TCP connection that brought no complete message "
    "(a CRLFCRLF keep-alive counts). 0: never.",
)
SIP_TCP_MAX_CONNECTIONS = Setting(
    "LCR_SIP_TCP_MAX_CONNECTIONS",
    "1000",
    "Open SIP TCP connections at most; one more is closed as soon as it is accepted "
    "(lcr_sip_total{kind=\"tcp_refused\"}). Keep it below the open-file limit (ulimit -n).",
)
RATEDECKS_DIR = Setting(
    "LCR_RATEDECKS_DIR",
    "ratedecks",
    "Directory holding import profiles (profiles/*.toml) and the inbox mapping (inbox.toml).",
)
NOTICE_POLICY = Setting(
    "LCR_NOTICE_POLICY",
    "warn",
    "What a deck import does with a rate increase effective sooner than the carrier's notice "
    "period after the received date: warn (import, list the codes), defer (move the increase "
    "to the earliest allowed date) or reject (refuse the deck).",
)
SWITCH_TZ = Setting(
    "LCR_SWITCH_TZ",
    "UTC",
    "Time zone of the softswitch's local CDR timestamps (FreeSWITCH, Asterisk CSV).",
)

ISSUER_FILE = Setting(
    "LCR_ISSUER_FILE",
    "",
    "TOML file with the invoice letterhead (name, address, tax_id, email, payment_terms, bank...). "
    "Empty: a demo letterhead marked as such.",
)
DECK_CACHE_DIR = Setting(
    "LCR_DECK_CACHE_DIR",
    "",
    "Directory where CDR imports keep a local copy of the compiled rate decks saved in the store, "
    "uncompressed and memory-mapped (used in place: a tenth of the time of reading the store's copy; "
    "about 700 MB per 3M rate rows, the newest 3 kept). Empty: $XDG_CACHE_HOME/lcr, else ~/.cache/lcr; "
    "`off`: none.",
)

ALL: tuple[Setting, ...] = (
    DATABASE_URL,
    API_TOKEN,
    READ_TOKENS,
    HTTP_LISTEN,
    SIP_LISTEN,
    SIP_WORKERS,
    SIP_TCP_IDLE,
    SIP_TCP_MAX_CONNECTIONS,
    RATEDECKS_DIR,
    NOTICE_POLICY,
    SWITCH_TZ,
    ISSUER_FILE,
    DECK_CACHE_DIR,
)


def database_url(override: str | None = None) -> str:
    url = override or DATABASE_URL.get()
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and ":memory:" not in url:
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
    return url


def ratedecks_dir(override: str | None = None) -> Path:
    return Path(override or RATEDECKS_DIR.get())
