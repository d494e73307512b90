"""Each host's learned limits, kept between batches (``host_limits``, version 4).

A batch ends knowing, per host, the rate proven clean, the rate that was throttled and,
for a connection-limited host, how many requests in flight it accepts. The batch layer
saves them here and reads them back when the next batch first meets the host, so that
batch starts near the learned rate instead of slow-starting from the profile. The store
keeps plain values only: how far an old figure is trusted (its aging) is the engine's
business (:mod:`rdaplab.engine.learned`), and the batch layer builds its objects.
See ``docs/cache.md`` and ``docs/scheduler.md``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from rdaplab.errors import CacheError
from rdaplab.store.connection import Connection
from rdaplab.store.schema import HOST_LIMITS_SCHEMA
from rdaplab.store.sql import UTC, transaction, utc

__all__ = ["HostLimits"]

_COLUMNS = (
    "host",
    "rate_per_s",
    "throttled_at_per_s",
    "concurrency_ceiling",
    "learned_at",
    "batch_id",
    "requests",
    "throttle_events",
)


def _positive(value: Any) -> float | None:
    """``value`` as a finite positive float, else None (NaN, inf, 0, negatives, None)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _count(value: Any, *, least: int = 0) -> int | None:
    """``value`` as an int ``>= least``, else None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number >= least else None


class HostLimits(Connection):
    """The learned host limits of :class:`~rdaplab.store.cache.Cache` (``host_limits``)."""

    def save_host_limits(
        self,
        rows: Iterable[Mapping[str, Any]],
        *,
        batch_id: str | None = None,
        learned_at: datetime | None = None,
    ) -> int:
        """Keep what a batch learned about its hosts: one row per host, newest wins.

        Parameters
        ----------
        rows
            Mappings with ``host`` (``host:port``) and ``rate_per_s`` (the rate proven
            clean), and optionally ``throttled_at_per_s``, ``concurrency_ceiling``,
            ``requests``, ``throttle_events`` and ``batch_id``. Rows without a finite
            positive ``rate_per_s`` are skipped (nothing was learned); a host saved
            again replaces its row. Other values that make no sense (a ceiling below 1,
            a negative rate) are stored as NULL.
        batch_id
            The batch that learned them (a row's own ``batch_id`` wins).
        learned_at
            When (default: now); naive datetimes are taken as UTC.

        Returns
        -------
        int
            Rows saved.

        Raises
        ------
        CacheError
            The cache is read-only or closed, or the write failed (nothing is saved).
        """
        when = utc(learned_at) if learned_at is not None else datetime.now(UTC)
        keep: dict[str, list[Any]] = {}
        for row in rows:
            host = row.get("host")
            rate = _positive(row.get("rate_per_s"))
            if not host or rate is None:
                continue
            keep[str(host)] = [
                str(host),
                rate,
                _positive(row.get("throttled_at_per_s")),
                _count(row.get("concurrency_ceiling"), least=1),
                when,
                row.get("batch_id", batch_id),
                _count(row.get("requests")),
                _count(row.get("throttle_events")),
            ]
        if not keep:
            return 0
        con = self._writable()
        cols = ", ".join(_COLUMNS)
        marks = ", ".join("?" * len(_COLUMNS))
        with self._lock, transaction(con, f"cannot save host limits to cache {self.path}"):
            for values in keep.values():
                con.execute(f"INSERT OR REPLACE INTO host_limits ({cols}) VALUES ({marks})", values)
        return len(keep)

    def host_limits(self, host: str, *, now: datetime | None = None) -> dict[str, Any] | None:
        """What an earlier batch learned about ``host`` (``host:port``), or None.

        Returns
        -------
        dict or None
            The row's columns (``learned_at`` an aware UTC datetime) plus ``age_s``,
            seconds since it was learned at ``now`` (default: the current time; never
            negative, even for a clock that went back).
        """
        now = utc(now) if now is not None else datetime.now(UTC)
        with self._lock:
            try:
                rows = self._c.execute(
                    f"SELECT {', '.join(_COLUMNS)} FROM host_limits WHERE host = ?", [host]
                ).fetchall()
            except duckdb.Error as exc:
                raise CacheError(f"cannot read host limits from cache {self.path}: {exc}") from exc
        if not rows:
            return None
        out = dict(zip(_COLUMNS, rows[0], strict=True))
        learned_at = utc(out["learned_at"])
        out["learned_at"] = learned_at
        out["age_s"] = max(0.0, (now - learned_at).total_seconds())
        return out

    def host_limits_frame(self, *, now: datetime | None = None) -> pl.DataFrame:
        """Every host's learned limits, by host.

        Returns
        -------
        pl.DataFrame
            Columns of :data:`~rdaplab.store.schema.HOST_LIMITS_SCHEMA`: the table's,
            with ``age_s`` (seconds since ``learned_at`` at ``now``) after ``learned_at``.
        """
        now = utc(now) if now is not None else datetime.now(UTC)
        cols = ", ".join(
            "greatest(0, (epoch_us($now) - epoch_us(learned_at)) / 1e6) AS age_s"
            if c == "age_s"
            else c
            for c in HOST_LIMITS_SCHEMA
        )
        with self._lock:
            rel = self._c.sql(f"SELECT {cols} FROM host_limits ORDER BY host", params={"now": now})
            assert rel is not None  # a SELECT always gives a relation
            df = rel.pl()
        return df.cast(HOST_LIMITS_SCHEMA)

    def forget_host_limits(self, host: str | None = None) -> int:
        """Delete learned limits: of ``host``, or of every host (``None``).

        ``host`` is a ``host:port`` authority or a bare host name (every port of it).
        The next batch then starts those hosts from their profile. Returns rows deleted.
        """
        con = self._writable()
        with self._lock, transaction(con, f"cannot forget host limits in cache {self.path}"):
            if host is None:
                rows = con.execute("DELETE FROM host_limits RETURNING host").fetchall()
            else:
                rows = con.execute(
                    "DELETE FROM host_limits WHERE host = $h "
                    "OR (host LIKE '%:%' AND left(host, length(host) - "
                    "length(split_part(host, ':', -1)) - 1) = $h) RETURNING host",
                    {"h": host},
                ).fetchall()
        return len(rows)
