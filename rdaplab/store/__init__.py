"""The DuckDB cache: the source of truth for every answer and attempt (docs/cache.md).

Modules: ``connection`` (opening, locks), ``schema`` (migrations, columns), ``cache``
(the :class:`Cache`: answers, attempts, batches), ``maintenance`` (purges, retention,
compaction), ``audit`` (the audit trail) and ``sql`` (DuckDB helpers).
"""

from rdaplab.store.cache import Cache
from rdaplab.store.connection import default_cache_path

__all__ = ["Cache", "default_cache_path"]
