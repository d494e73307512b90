"""The DuckDB cache: the source of truth for every answer and attempt (docs/cache.md).

Modules: ``connection`` (opening, locks), ``schema`` (migrations, columns), ``cache``
(the :class:`Cache`: answers, attempts, batches), ``maintenance`` (purges, retention,
compaction), ``audit`` (the audit trail), ``hosts`` (each host's learned limits),
``stats`` (aggregates of the attempts log, in DuckDB), ``monitoring`` (live aggregates
for a service's metrics and dashboard) and ``sql`` (DuckDB helpers).
"""

from rdaplab.store.cache import Cache
from rdaplab.store.connection import default_cache_path
from rdaplab.store.stats import attempt_stats, attempt_stats_of

__all__ = ["Cache", "attempt_stats", "attempt_stats_of", "default_cache_path"]
