"""Aggregates of a batch's attempts log, computed by DuckDB where the log lives.

A stream of 10^6 names has more than 10^6 attempts: the summary asks DuckDB for a few
rows per host and per registry instead of reading the log back into memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import duckdb
import polars as pl

if TYPE_CHECKING:
    from rdaplab.store.cache import Cache

__all__ = ["attempt_stats", "attempt_stats_of"]

_AGGREGATES = """
    count(*) AS requests,
    count(*) FILTER (WHERE a.throttled) AS throttled,
    count(a.error_kind) AS errors,
    quantile_cont(a.latency_ms, 0.5) AS latency_ms_p50,
    quantile_cont(a.latency_ms, 0.9) AS latency_ms_p90,
    quantile_cont(a.latency_ms, 0.99) AS latency_ms_p99,
    (epoch_us(max(a.started_at)) - epoch_us(min(a.started_at))) / 1e6 AS span_s
"""


def attempt_stats(
    cache: Cache, batch_id: str | None, registry_urls: Sequence[str] = ()
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(per host, per registry) aggregates of the attempts of ``batch_id`` (all if None).

    Both frames have ``requests``, ``throttled``, ``errors``, ``latency_ms_p50/p90/p99``
    and ``span_s`` (seconds between the first and the last attempt); the first is keyed by
    ``host``, the second by ``registry_url`` and also has ``host``. An attempt belongs to
    the registry whose base URL it starts with: referrals to a registrar are the
    registrar host's, not the registry's.
    """
    where = "TRUE" if batch_id is None else "a.batch_id = $batch"
    params: dict[str, object] = {} if batch_id is None else {"batch": batch_id}
    with cache._lock:
        return _stats(cache._c, "attempts", where, params, registry_urls)


def attempt_stats_of(
    attempts: pl.DataFrame, registry_urls: Sequence[str] = ()
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """:func:`attempt_stats` of an attempts frame (``ATTEMPTS_SCHEMA``) kept outside a
    cache (a job's exported attempts), by the same SQL, in an in-memory DuckDB."""
    con = duckdb.connect()
    try:
        con.register("job_attempts", attempts)
        return _stats(con, "job_attempts", "TRUE", {}, registry_urls)
    finally:
        con.close()


def _stats(
    con: duckdb.DuckDBPyConnection,
    table: str,
    where: str,
    params: dict[str, object],
    registry_urls: Sequence[str],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    hosts_sql = f"SELECT a.host, {_AGGREGATES} FROM {table} a WHERE {where} GROUP BY a.host"
    regs_sql = f"""
        SELECT r.registry_url, any_value(a.host) AS host, {_AGGREGATES}
        FROM {table} a JOIN (SELECT unnest($urls::VARCHAR[]) AS registry_url) r
          ON starts_with(a.url, r.registry_url)
        WHERE {where} GROUP BY r.registry_url
    """
    hosts = con.sql(hosts_sql, params=params).pl()
    regs = (
        con.sql(regs_sql, params={**params, "urls": list(registry_urls)}).pl()
        if registry_urls
        else None
    )
    if regs is None:
        regs = pl.DataFrame(schema={"registry_url": pl.String, **hosts.schema})
    return hosts, regs
