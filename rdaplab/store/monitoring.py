"""Live aggregates of the ``attempts`` log, for monitoring (the service's ``/metrics``
and dashboard): per host since a moment, failed attempts by kind, one batch's recent
attempts.

Methods of :class:`~rdaplab.store.Cache` (:class:`AttemptMonitoring`); each is one SQL
query under the connection's lock, so it never runs at the same time as a batch's
write. Call them from a thread (``asyncio.to_thread``) in a server: the loop goes on
while DuckDB works.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

from rdaplab.schemas import ATTEMPTS_SCHEMA
from rdaplab.store.connection import Connection

__all__ = ["LATENCY_BUCKETS_S", "AttemptMonitoring", "HostFigures"]

#: The latency histogram's upper bounds in seconds (``+Inf`` is added).
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# The columns the dashboard's charts read (throughput, host rates).
_CHART_COLUMNS = (
    "host",
    "url",
    "started_at",
    "latency_ms",
    "status",
    "error_kind",
    "throttled",
    "rate_limit",
    "concurrency_limit",
    "in_flight",
    "decision",
)


@dataclass(frozen=True)
class HostFigures:
    """One host's attempts since a moment."""

    host: str
    requests: int
    throttled: int
    latency_sum_s: float
    buckets: tuple[int, ...]  # cumulative counts per LATENCY_BUCKETS_S
    rate_limit: float | None  # the pacer rate in force at its last attempt
    concurrency_limit: int | None  # the concurrency limit in force at its last attempt
    statuses: dict[str, int]  # HTTP status (or "none") -> attempts


class AttemptMonitoring(Connection):
    """The monitoring aggregates of :class:`~rdaplab.store.cache.Cache` (see the module)."""

    def host_figures(self, since: datetime) -> list[HostFigures]:
        """Per host, the attempts started at or after ``since`` (sorted by host)."""
        return _host_figures(self, since)

    def error_counts(self, since: datetime) -> list[tuple[str, str, int]]:
        """(host, error kind, attempts) of the failed attempts started at or after
        ``since``."""
        return _error_counts(self, since)

    def recent_attempts(self, batch_id: str, since: datetime) -> pl.DataFrame:
        """The attempts of one batch started at or after ``since``: the columns the
        charts need, with the attempts log's dtypes."""
        return _recent_attempts(self, batch_id, since)


def _host_figures(store: Connection, since: datetime) -> list[HostFigures]:
    buckets = ",\n".join(
        f"count(*) FILTER (WHERE latency_ms <= {1000.0 * b!r})" for b in LATENCY_BUCKETS_S
    )
    sql = f"""
        SELECT host, count(*), count(*) FILTER (WHERE throttled),
               coalesce(sum(latency_ms), 0) / 1000.0,
               {buckets},
               arg_max(rate_limit, started_at), arg_max(concurrency_limit, started_at)
        FROM attempts WHERE started_at >= ? GROUP BY host ORDER BY host
    """
    status_sql = """
        SELECT host, coalesce(CAST(status AS VARCHAR), 'none'), count(*)
        FROM attempts WHERE started_at >= ? GROUP BY ALL ORDER BY ALL
    """
    with store._lock:
        rows = store._c.execute(sql, [since]).fetchall()
        status_rows = store._c.execute(status_sql, [since]).fetchall()
    statuses: dict[str, dict[str, int]] = {}
    for host, status, n in status_rows:
        statuses.setdefault(host, {})[str(status)] = int(n)
    n_buckets = len(LATENCY_BUCKETS_S)
    out = []
    for row in rows:
        host, requests, throttled, latency_sum = row[:4]
        counts = tuple(int(v) for v in row[4 : 4 + n_buckets])
        rate_limit, concurrency = row[4 + n_buckets :]
        out.append(
            HostFigures(
                host=str(host),
                requests=int(requests),
                throttled=int(throttled),
                latency_sum_s=float(latency_sum),
                buckets=counts,
                rate_limit=None if rate_limit is None else float(rate_limit),
                concurrency_limit=None if concurrency is None else int(concurrency),
                statuses=statuses.get(str(host), {}),
            )
        )
    return out


def _error_counts(store: Connection, since: datetime) -> list[tuple[str, str, int]]:
    sql = """
        SELECT host, error_kind, count(*) FROM attempts
        WHERE started_at >= ? AND error_kind IS NOT NULL GROUP BY ALL ORDER BY ALL
    """
    with store._lock:
        rows = store._c.execute(sql, [since]).fetchall()
    return [(str(h), str(k), int(n)) for h, k, n in rows]


def _recent_attempts(store: Connection, batch_id: str, since: datetime) -> pl.DataFrame:
    cols = ", ".join(_CHART_COLUMNS)
    sql = (
        f"SELECT {cols} FROM attempts WHERE batch_id = $batch AND started_at >= $since "
        "ORDER BY started_at"
    )
    with store._lock:
        rel = store._c.sql(sql, params={"batch": batch_id, "since": since})
        assert rel is not None  # a SELECT always gives a relation
        frame = rel.pl()
    dtypes: dict[str, Any] = {c: ATTEMPTS_SCHEMA[c] for c in _CHART_COLUMNS}
    return frame.cast(dtypes)
