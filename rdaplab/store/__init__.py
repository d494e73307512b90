"""The DuckDB cache: the source of truth for every answer and attempt (docs/cache.md)."""

from rdaplab.store.cache import Cache, default_cache_path
from rdaplab.store.stats import attempt_stats

__all__ = ["Cache", "attempt_stats", "default_cache_path"]
