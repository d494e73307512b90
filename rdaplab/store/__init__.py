"""The DuckDB cache: the source of truth for every answer and attempt (docs/cache.md)."""

from rdaplab.store.cache import Cache, default_cache_path

__all__ = ["Cache", "default_cache_path"]
