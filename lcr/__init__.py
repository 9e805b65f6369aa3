"""lcr: wholesale least-cost routing and rating engine."""

import os

__version__ = "0.1.0"

# Polars allocates with jemalloc and has it hand freed pages back to the system after 0.5 s
# (1 s for lazily freed ones); they are faulted in again for the next large frame: a CDR import
# of a million calls spent a quarter of a second more system time so. lcr keeps them 30 s.
# Polars appends this setting to its own when it is loaded (the later wins), so it is set here,
# before any of lcr imports Polars; a value of the user's own is kept.
POLARS_MALLOC_CONF = "dirty_decay_ms:30000,muzzy_decay_ms:30000"
os.environ.setdefault("_RJEM_MALLOC_CONF", POLARS_MALLOC_CONF)
