"""The DuckDB cache: the source of truth for every answer and attempt (docs/cache.md)."""
