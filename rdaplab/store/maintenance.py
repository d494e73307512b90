"""Maintenance of a cache file: purges (by age, of personal data), retention, compaction.

DuckDB does not shrink a file on DELETE, so after a purge a file-backed cache is
rewritten (``COPY FROM DATABASE`` into a sibling file, then an atomic ``os.replace``).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

import duckdb

from rdaplab.errors import CacheError
from rdaplab.store.connection import Connection
from rdaplab.store.sql import UTC, cutoff, first_row, quote_ident, sql_str, transaction, utc

__all__ = ["Maintenance", "retention_seconds"]


def retention_seconds(retention: float | timedelta | None) -> float | None:
    """A retention (seconds or a ``timedelta``) in seconds; None stays None.

    Raises
    ------
    ValueError
        ``retention`` is negative, NaN or not a number.
    """
    if retention is None:
        return None
    if isinstance(retention, timedelta):
        seconds = retention.total_seconds()
    elif isinstance(retention, (int, float)) and not isinstance(retention, bool):
        seconds = float(retention)
    else:
        raise ValueError(f"retention must be seconds or a timedelta, got {retention!r}")
    if not seconds >= 0:  # also refuses NaN
        raise ValueError(f"retention must not be negative, got {retention!r}")
    return seconds


class Maintenance(Connection):
    """The purge and compaction methods of :class:`~rdaplab.store.cache.Cache`."""

    def purge(
        self, *, older_than_s: float | None = None, now: datetime | None = None
    ) -> dict[str, Any]:
        """Delete old rows, then compact the file.

        Parameters
        ----------
        older_than_s
            Delete responses fetched, and attempts started, more than this many seconds
            before ``now``, and batches that started before the cutoff and have nothing
            left. ``None`` deletes everything (an empty cache that keeps its schema).
        now
            Reference time (default: the current time).

        Returns
        -------
        dict
            ``responses_removed``, ``attempts_removed``, ``batches_removed``,
            ``bytes_before``, ``bytes_after``.

        Notes
        -----
        DuckDB does not shrink a file on DELETE, so a file-backed cache is rewritten:
        ``COPY FROM DATABASE`` into a sibling file, then an atomic ``os.replace``.
        """
        with self._lock:
            con = self._writable()
            before = self._file_size()
            if older_than_s is None:
                when: datetime | None = None
            else:
                ref = utc(now) if now is not None else datetime.now(UTC)
                when = cutoff(ref, older_than_s)
            where_r = "" if when is None else " WHERE fetched_at < $cutoff"
            where_a = "" if when is None else " WHERE started_at < $cutoff"
            where_b = (
                ""
                if when is None
                else " WHERE started_at < $cutoff"
                " AND batch_id NOT IN (SELECT batch_id FROM responses)"
                " AND batch_id NOT IN (SELECT batch_id FROM attempts)"
            )
            params = {} if when is None else {"cutoff": when}
            counts: dict[str, Any] = {}
            with transaction(con, f"cannot purge cache {self.path}"):
                for table, where, key in (
                    ("responses", where_r, "responses_removed"),
                    ("attempts", where_a, "attempts_removed"),
                    ("batches", where_b, "batches_removed"),
                ):
                    (n,) = first_row(con, f"SELECT count(*) FROM {table}{where}", params)
                    con.execute(f"DELETE FROM {table}{where}", params)
                    counts[key] = int(n)
            self._compact()
            counts["bytes_before"] = before
            counts["bytes_after"] = self._file_size()
            return counts

    def purge_personal(
        self, *, older_than_s: float, now: datetime | None = None, compact: bool | None = None
    ) -> dict[str, Any]:
        """Delete stored answers holding personal data fetched before a cutoff.

        A lookup is deleted whole (its registry answer and every referral sharing its
        ``lookup_id``) when any of its answers fetched more than ``older_than_s`` seconds
        before ``now`` holds personal data (``has_pii`` true, or NULL: answers stored
        before migration 3 are unknown, so taken to hold some). Dropping only the
        registrar answer would leave a fresh-looking lookup without its referral; a
        deleted lookup is simply fetched again next time. Attempts, batches and the
        audit trail are kept (they hold no contact data).

        Parameters
        ----------
        older_than_s
            Age in seconds (0 deletes every answer holding personal data).
        now
            Reference time (default: the current time).
        compact
            Rewrite the file afterwards (DuckDB does not shrink on DELETE). Default:
            only when something was removed.

        Returns
        -------
        dict
            ``responses_removed``, ``lookups_removed``, ``responses_with_pii_left``
            (newer answers holding personal data), ``bytes_before``, ``bytes_after``,
            ``compacted``.

        Raises
        ------
        ValueError
            ``older_than_s`` is negative or NaN.
        """
        if not older_than_s >= 0:
            raise ValueError(f"older_than_s must not be negative, got {older_than_s!r}")
        with self._lock:
            con = self._writable()
            before = self._file_size()
            ref = utc(now) if now is not None else datetime.now(UTC)
            params = {"cutoff": cutoff(ref, older_than_s)}
            doomed = """
                SELECT DISTINCT lookup_id FROM responses
                WHERE has_pii IS NOT FALSE AND fetched_at < $cutoff
            """
            with transaction(con, f"cannot purge cache {self.path}"):
                n_lookups, n_responses = first_row(
                    con,
                    "SELECT count(DISTINCT lookup_id), count(*) FROM responses "
                    f"WHERE lookup_id IN ({doomed})",
                    params,
                )
                con.execute(f"DELETE FROM responses WHERE lookup_id IN ({doomed})", params)
                (left,) = first_row(
                    con, "SELECT count(*) FROM responses WHERE has_pii IS NOT FALSE"
                )
            do_compact = bool(n_responses) if compact is None else compact
            if do_compact:
                self._compact()
            return {
                "responses_removed": int(n_responses),
                "lookups_removed": int(n_lookups),
                "responses_with_pii_left": int(left),
                "bytes_before": before,
                "bytes_after": self._file_size(),
                "compacted": do_compact,
            }

    def _compact(self) -> None:
        """Rewrite the file without the space freed by deletes (lock held)."""
        con = self._c
        if self._path is None:
            con.execute("CHECKPOINT")
            return
        tmp = self._path.with_name(self._path.name + ".compact")
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)
        alias = "rdaplab_compact"
        try:
            (current,) = first_row(con, "SELECT current_database()")
            src = quote_ident(str(current))
            con.execute(f"ATTACH {sql_str(str(tmp))} AS {alias}")
            try:
                con.execute(f"COPY FROM DATABASE {src} TO {alias}")
            finally:
                con.execute(f"DETACH {alias}")
        except duckdb.Error as exc:
            tmp.unlink(missing_ok=True)
            raise CacheError(f"cannot compact cache {self._path}: {exc}") from exc
        # Swap files while nothing is open on either: close (checkpoints the WAL),
        # replace atomically, reopen. A crash before os.replace leaves the old file intact.
        self.close()
        try:
            os.replace(tmp, self._path)
            self._path.with_name(self._path.name + ".wal").unlink(missing_ok=True)
        finally:
            self._con = self._connect()
