"""lcr: wholesale least-cost routing and rating engine."""

__version__ = "0.1.0"
