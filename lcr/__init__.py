"""lcr: wholesale least-cost routing and rating engine."""

import os
import sys
from itertools import pairwise

__version__ = "0.1.0"

# Polars allocates with jemalloc and has it hand freed pages back to the system after 0.5 s
# (1 s for lazily freed ones); they are faulted in again for the next large frame: a CDR import
# of a million calls spent a quarter of a second more system time so. `lcr cdr import` keeps
# them 30 s. Other commands keep Polars' setting: kept pages pile up in jemalloc's per-thread
# arenas, and a deck import of a million rows then compiling the rating decks peaked at 1.6 GB
# instead of 1.2 GB. Polars appends this setting to its own when it is loaded (the later wins),
# so it is set here, before any of lcr imports Polars; a value of the user's own is kept.
POLARS_MALLOC_CONF = "dirty_decay_ms:30000,muzzy_decay_ms:30000"


def _importing_cdrs(argv: list[str]) -> bool:
    """Whether this process is ``lcr cdr import`` (or ``python -m lcr.cli cdr import``)."""
    return any(a == "cdr" and b == "import" for a, b in pairwise(argv[1:]))


if _importing_cdrs(sys.argv):
    os.environ.setdefault("_RJEM_MALLOC_CONF", POLARS_MALLOC_CONF)
