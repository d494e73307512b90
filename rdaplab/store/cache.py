"""The DuckDB cache: the source of truth for every raw RDAP answer.

One DuckDB file holds every kept answer (``responses``), every HTTP attempt
(``attempts``) and one row per batch (``batches``). The engine reads fresh answers back
with :meth:`Cache.lookup_fresh` (one set query per call) and appends new ones with bulk
Arrow inserts, one committed transaction per call, so a killed run loses nothing that a
write call already returned from. See ``docs/cache.md`` for the layout and the rules.

:class:`Cache` is assembled from its parts: the connection
(:mod:`rdaplab.store.connection`), the schema and its migrations
(:mod:`rdaplab.store.schema`), maintenance (:mod:`rdaplab.store.maintenance`), the
audit trail (:mod:`rdaplab.store.audit`) and the hosts' learned limits
(:mod:`rdaplab.store.hosts`); the answers, attempts and batches are here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import duckdb
import msgspec
import polars as pl

from rdaplab._gc import gc_paused
from rdaplab._version import __version__
from rdaplab.columns import build_frame
from rdaplab.errors import CacheError
from rdaplab.models import Attempt, CachedLookup, Response
from rdaplab.rdap.pii import body_has_pii
from rdaplab.store.audit import AuditTrail
from rdaplab.store.hosts import HostLimits
from rdaplab.store.maintenance import Maintenance, retention_seconds
from rdaplab.store.monitoring import AttemptMonitoring
from rdaplab.store.schema import (
    ATTEMPTS_DTYPES,
    ATTEMPTS_FRAME,
    RESPONSES_FRAME,
    current_version,
    migrate,
)
from rdaplab.store.sql import (
    UTC,
    cutoff,
    epoch_us,
    first_row,
    from_epoch_us,
    sql_str,
    upsert,
    utc,
)

__all__ = ["Cache"]

_HEADERS_DECODER: Final = msgspec.json.Decoder(dict[str, str])


class Cache(Maintenance, AuditTrail, HostLimits, AttemptMonitoring):
    """The DuckDB-backed store of raw RDAP answers, attempts and batches.

    Parameters
    ----------
    path
        Database file; ``None`` uses :func:`default_cache_path`; ``":memory:"`` keeps
        everything in memory (tests). Parent directories are created.
    read_only
        Open without taking the write lock (several readers may share a file, but not
        with a writer). Write methods then raise :class:`CacheError`.
    memory_limit
        DuckDB ``memory_limit`` for this connection (e.g. ``"256MB"``); ``None`` keeps
        DuckDB's default (80 % of RAM).
    retention
        How long answers holding personal data may be kept (seconds or a ``timedelta``).
        When given, :meth:`purge_personal` runs on open (the file is compacted only if
        it removed something); its report is in :attr:`retention_report`. ``None`` (the
        default) keeps everything until purged.

    Raises
    ------
    CacheLockedError
        Another process holds the file's lock.
    CacheError
        The file cannot be opened, is not a DuckDB file, comes from a newer rdaplab,
        (read-only) still needs a schema migration, or ``retention`` is given with
        ``read_only`` (a read-only cache cannot delete).
    ValueError
        ``retention`` is negative or not a number.

    Notes
    -----
    One DuckDB connection per ``Cache``. Calls are serialized by an internal lock, so
    the object may be used from any thread (for example an executor thread of the
    event loop), but calls never run concurrently.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        read_only: bool = False,
        memory_limit: str | None = None,
        retention: float | timedelta | None = None,
    ) -> None:
        retention_s = retention_seconds(retention)
        if retention_s is not None and read_only:
            raise CacheError("retention needs a writable cache (it deletes old answers)")
        self._retention_s = retention_s
        self.retention_report: dict[str, Any] | None = None
        super().__init__(path, read_only=read_only, memory_limit=memory_limit)
        try:
            self._migrate()
            if retention_s is not None:
                self.retention_report = self.purge_personal(older_than_s=retention_s)
        except BaseException:
            self.close()
            raise

    # -- lifecycle -------------------------------------------------------------------

    @property
    def retention_s(self) -> float | None:
        """The retention given when opening (seconds), or None."""
        return self._retention_s

    def __enter__(self) -> Cache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("read-only" if self._read_only else "open")
        return f"Cache({self.path!r}, {state})"

    # -- migrations ------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        """The highest migration recorded in the file."""
        with self._lock:
            return current_version(self._c)

    def _migrate(self) -> None:
        with self._lock:
            migrate(self._c, self.path, read_only=self._read_only)

    # -- writes ----------------------------------------------------------------------

    def _insert_frame(self, table: str, columns: Sequence[str], data: pl.DataFrame) -> None:
        """Insert ``data`` into ``table`` in one committed transaction."""
        con = self._writable()
        view = f"_rdaplab_in_{uuid.uuid4().hex}"
        cols = ", ".join(columns)
        con.register(view, data)
        try:
            con.begin()
            try:
                con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {view}")
                con.commit()
            except BaseException:
                con.rollback()
                raise
        except duckdb.Error as exc:
            raise CacheError(f"cannot write {table} to cache {self.path}: {exc}") from exc
        finally:
            con.unregister(view)

    def store_responses(self, rows: Sequence[Response]) -> None:
        """Append answers in one committed transaction.

        Parameters
        ----------
        rows
            Answers to keep. Bodies are stored as UTF-8 text (invalid bytes replaced
            with U+FFFD); ``body_bytes`` keeps the original length. Rows with an empty
            ``lookup_id`` get one generated per ``(query_kind, query, batch_id)`` within
            this call, so a registry answer and its referrals stored together stay linked.

        Raises
        ------
        ValueError
            A row's status is neither 2xx nor 404, or its depth is negative.
        CacheError
            The cache is read-only or closed, or the write failed.
        """
        if not rows:
            return
        generated: dict[tuple[str, str, str], str] = {}
        names = RESPONSES_FRAME.names()
        cols: dict[str, list[Any]] = {c: [] for c in names}
        for r in rows:
            if not (200 <= r.status <= 299 or r.status == 404):
                raise ValueError(
                    f"refusing to cache status {r.status} for {r.query_kind} {r.query!r}: "
                    "only 2xx and 404 answers are kept"
                )
            if r.depth < 0:
                raise ValueError(f"negative depth {r.depth} for {r.query_kind} {r.query!r}")
            lookup_id = r.lookup_id
            if not lookup_id:
                key = (r.query_kind, r.query, r.batch_id)
                lookup_id = generated.setdefault(key, uuid.uuid4().hex)
            cols["batch_id"].append(r.batch_id)
            cols["lookup_id"].append(lookup_id)
            cols["query_kind"].append(r.query_kind)
            cols["query"].append(r.query)
            cols["depth"].append(r.depth)
            cols["url"].append(r.url)
            cols["final_url"].append(r.final_url)
            cols["status"].append(r.status)
            cols["headers"].append(json.dumps(r.headers, ensure_ascii=False, sort_keys=True))
            cols["body"].append(bytes(r.body).decode("utf-8", "replace"))
            cols["body_bytes"].append(len(r.body))
            cols["fetched_at"].append(epoch_us(utc(r.fetched_at)))
            cols["latency_ms"].append(float(r.latency_ms))
            cols["referral_status"].append(r.referral_status)
            # From the body as stored, never r.document: under privacy="strict" the body
            # was stripped and a decoded document may still be the unstripped one.
            cols["has_pii"].append(body_has_pii(r.body))
        data = build_frame(cols, RESPONSES_FRAME, epoch_us=True)
        with self._lock:
            self._insert_frame("responses", names, data)

    def store_attempts(self, rows: Sequence[Attempt]) -> None:
        """Append HTTP attempts in one committed transaction.

        Parameters
        ----------
        rows
            Attempts, successful or not; every field of :class:`~rdaplab.models.Attempt`
            is kept as is (timestamps converted to UTC; naive ones taken as UTC).
        """
        if not rows:
            return
        names = ATTEMPTS_FRAME.names()
        cols: dict[str, list[Any]] = {c: [] for c in names}
        for a in rows:
            for name in names:
                value = getattr(a, name)
                if name == "started_at":
                    value = epoch_us(utc(value))
                cols[name].append(value)
        data = build_frame(cols, ATTEMPTS_FRAME, epoch_us=True)
        with self._lock:
            self._insert_frame("attempts", names, data)

    def begin_batch(
        self,
        batch_id: str,
        *,
        started_at: datetime,
        total: int,
        unique: int,
        settings: Mapping[str, Any],
    ) -> None:
        """Record the start of a batch (re-beginning an existing id resumes it).

        Parameters
        ----------
        batch_id
            The batch's identifier.
        started_at
            When it started; on resume the earliest start is kept.
        total, unique
            Input rows and distinct normalized queries.
        settings
            The run's settings, stored as JSON (non-JSON values via ``str``).
        """
        con = self._writable()
        with self._lock:
            try:
                upsert(
                    con,
                    "batches",
                    {
                        "batch_id": batch_id,
                        "started_at": utc(started_at),
                        "finished_at": None,
                        "total": int(total),
                        "unique_queries": int(unique),
                        "settings": json.dumps(dict(settings), default=str, sort_keys=True),
                        "summary": None,
                        "rdaplab_version": __version__,
                    },
                    key="batch_id",
                    earliest="started_at",
                    keep=("summary",),
                )
            except duckdb.Error as exc:
                raise CacheError(f"cannot record batch {batch_id} in {self.path}: {exc}") from exc

    def end_batch(
        self, batch_id: str, *, finished_at: datetime, summary: Mapping[str, Any]
    ) -> None:
        """Record the end of a batch and its summary (JSON).

        Raises
        ------
        CacheError
            ``batch_id`` was never begun, or the write failed.
        """
        con = self._writable()
        with self._lock:
            try:
                updated = con.execute(
                    "UPDATE batches SET finished_at = ?, summary = ? WHERE batch_id = ? "
                    "RETURNING batch_id",
                    [utc(finished_at), json.dumps(dict(summary), default=str), batch_id],
                ).fetchall()
            except duckdb.Error as exc:
                raise CacheError(f"cannot finish batch {batch_id} in {self.path}: {exc}") from exc
        if not updated:
            raise CacheError(f"batch {batch_id!r} was never begun in cache {self.path}")

    # -- reads -----------------------------------------------------------------------

    def lookup_fresh(
        self,
        query_kind: str,
        queries: Sequence[str],
        *,
        max_age_s: float,
        not_found_ttl_s: float,
        now: datetime | None = None,
        as_of: datetime | None = None,
    ) -> dict[str, CachedLookup]:
        """Return the fresh cached lookup of each query that has one.

        The newest registry answer (depth 0) of each query is taken; it is fresh when it
        is a 2xx fetched at or after ``now - max_age_s``, or a 404 fetched at or after
        ``now - min(not_found_ttl_s, max_age_s)``. An older answer never stands in for a
        newer stale one (a stale 404 must not resurrect an earlier 200). A fresh answer
        comes back with every response sharing its ``lookup_id`` (its referrals),
        ordered by depth. One set query per call, whatever the number of queries.

        Parameters
        ----------
        query_kind
            ``"domain"``, ``"ip"``, ...
        queries
            Normalized queries (duplicates are fine).
        max_age_s, not_found_ttl_s
            Freshness windows in seconds.
        now
            Reference time (default: the current time).
        as_of
            Ignore answers fetched after this time: the cache as it stood then (a
            snapshot; with infinite windows, each query's newest answer up to ``as_of``).

        Returns
        -------
        dict[str, CachedLookup]
            Keyed by query; queries without a fresh answer are absent.
        """
        if not queries:
            return {}
        now = utc(now) if now is not None else datetime.now(UTC)
        ok_cutoff = cutoff(now, max_age_s)
        nf_cutoff = cutoff(now, min(not_found_ttl_s, max_age_s))
        # A Polars frame, not a pyarrow table: see RESPONSES_FRAME (pandas).
        wanted = pl.DataFrame({"query": pl.Series("query", list(queries), dtype=pl.String)})
        view = f"_rdaplab_q_{uuid.uuid4().hex}"
        as_of_clause = "" if as_of is None else " AND r.fetched_at <= $as_of"
        sql = f"""
            WITH wanted AS (SELECT DISTINCT query FROM {view}),
            newest AS (
                -- The window bound only prunes row groups (zone maps on fetched_at): if
                -- the newest answer is older than both cutoffs, nothing is fresh anyway.
                SELECT r.query, r.lookup_id, r.response_id, r.status, r.fetched_at
                FROM responses r SEMI JOIN wanted w ON r.query = w.query
                WHERE r.query_kind = $kind AND r.depth = 0
                  AND r.fetched_at >= least($ok_cutoff, $nf_cutoff){as_of_clause}
                QUALIFY row_number() OVER (
                    PARTITION BY r.query ORDER BY r.fetched_at DESC, r.response_id DESC) = 1
            ),
            heads AS (
                SELECT query, lookup_id, response_id FROM newest
                WHERE (status BETWEEN 200 AND 299 AND fetched_at >= $ok_cutoff)
                   OR (status = 404 AND fetched_at >= $nf_cutoff)
            )
            SELECT h.query AS head_query, r.response_id, r.query_kind, r.query, r.depth,
                   r.url, r.final_url, r.status, r.headers, encode(r.body) AS body,
                   epoch_us(r.fetched_at) AS ts, r.latency_ms, r.batch_id, r.lookup_id,
                   r.referral_status
            FROM heads h JOIN responses r
              ON r.lookup_id = h.lookup_id
             AND (r.depth > 0 OR r.response_id = h.response_id)
        """
        # No ORDER BY: sorting rows that carry the bodies costs more than the whole join;
        # each lookup's few rows are put in depth order below. encode() hands the body
        # back as UTF-8 bytes directly (a VARCHAR -> BLOB cast would parse \\x escapes).
        params: dict[str, Any] = {
            "kind": query_kind,
            "ok_cutoff": ok_cutoff,
            "nf_cutoff": nf_cutoff,
        }
        if as_of is not None:
            params["as_of"] = utc(as_of)
        with self._lock, gc_paused():
            con = self._c
            con.register(view, wanted)
            try:
                rows = con.execute(sql, params).fetchall()
            except duckdb.Error as exc:
                raise CacheError(f"cannot read cache {self.path}: {exc}") from exc
            finally:
                con.unregister(view)
            return self._group_lookups(rows)

    @staticmethod
    def _group_lookups(rows: list[Any]) -> dict[str, CachedLookup]:
        # Per call memos: a batch's answers mostly share their header set and, when fetched
        # together, their timestamp; each Response still gets its own headers dict.
        header_memo: dict[str, dict[str, str]] = {}
        ts_memo: dict[int, datetime] = {}
        grouped: dict[str, list[tuple[int, int, Response]]] = {}
        for (
            head,
            response_id,
            kind,
            query,
            depth,
            url,
            final_url,
            status,
            headers,
            body,
            ts,
            latency,
            batch_id,
            lookup_id,
            referral_status,
        ) in rows:
            hdrs = header_memo.get(headers)
            if hdrs is None:
                hdrs = header_memo[headers] = _HEADERS_DECODER.decode(headers)
            fetched_at = ts_memo.get(ts)
            if fetched_at is None:
                fetched_at = ts_memo[ts] = from_epoch_us(ts)
            resp = Response(
                kind,
                query,
                depth,
                url,
                final_url,
                status,
                dict(hdrs),
                body,
                fetched_at,
                latency,
                batch_id,
                lookup_id,
                referral_status,
            )
            grouped.setdefault(head, []).append((depth, response_id, resp))
        out: dict[str, CachedLookup] = {}
        for head, items in grouped.items():
            if len(items) > 1:
                items.sort(key=lambda item: (item[0], item[1]))
            out[head] = CachedLookup([item[2] for item in items])
        return out

    def queries(
        self,
        query_kind: str,
        *,
        batch_id: str | None = None,
        as_of: datetime | None = None,
        asked: bool = False,
    ) -> list[str]:
        """Distinct queries of a kind with a stored answer or an attempt, sorted.

        With ``batch_id``: those of this batch. With ``as_of``: those known by then. With
        ``asked``: also those a batch asked for without fetching them (served from the
        cache, or not sent yet when it stopped; recorded since schema 5).
        """
        where = "query_kind = $kind" + ("" if batch_id is None else " AND batch_id = $batch")
        params: dict[str, Any] = {"kind": query_kind}
        if batch_id is not None:
            params["batch"] = batch_id
        fetched = started = asked_by = ""
        if as_of is not None:
            params["as_of"] = utc(as_of)
            fetched = " AND fetched_at <= $as_of"
            started = " AND started_at <= $as_of"
            asked_by = " AND batch_id IN (SELECT batch_id FROM batches WHERE started_at <= $as_of)"
        sql = f"""
            SELECT query FROM responses WHERE {where} AND depth = 0{fetched}
            UNION SELECT query FROM attempts WHERE {where}{started}
            {f"UNION SELECT query FROM batch_queries WHERE {where}{asked_by}" if asked else ""}
            ORDER BY query
        """
        with self._lock:
            return [row[0] for row in self._c.execute(sql, params).fetchall()]

    def stale_queries(self, query_kind: str, *, older_than_s: float) -> list[str]:
        """Queries of a kind whose newest stored answer is older than ``older_than_s``
        seconds, the stalest first (what a refresh or warm-up job fetches again; the old
        answers stay until new ones replace them)."""
        since = cutoff(datetime.now(UTC), older_than_s)
        sql = """
            SELECT query FROM responses WHERE query_kind = ? AND depth = 0
            GROUP BY query HAVING max(fetched_at) < ?
            ORDER BY max(fetched_at), query
        """
        with self._lock:
            return [row[0] for row in self._c.execute(sql, [query_kind, since]).fetchall()]

    def record_batch_queries(self, batch_id: str, query_kind: str, queries: Sequence[str]) -> None:
        """Record the distinct queries a batch asked for, cache hits included, so a
        snapshot of the batch (:func:`rdaplab.diff`) knows every name it covered."""
        if not queries:
            return
        data = pl.DataFrame(
            {
                "batch_id": pl.Series([batch_id] * len(queries), dtype=pl.String),
                "query_kind": pl.Series([query_kind] * len(queries), dtype=pl.String),
                "query": pl.Series(list(queries), dtype=pl.String),
            }
        )
        with self._lock:
            self._insert_frame("batch_queries", ("batch_id", "query_kind", "query"), data)

    def batches_with(self, query_kind: str, queries: Sequence[str]) -> list[str]:
        """The batches that asked for, answered or attempted any of ``queries``, oldest
        first (a name's history)."""
        if not queries:
            return []
        wanted = pl.DataFrame({"query": pl.Series("query", list(queries), dtype=pl.String)})
        view = f"_rdaplab_q_{uuid.uuid4().hex}"
        sql = f"""
            WITH touched AS (
                SELECT batch_id FROM responses SEMI JOIN {view} w USING (query)
                WHERE query_kind = $kind AND depth = 0
                UNION SELECT batch_id FROM attempts SEMI JOIN {view} w USING (query)
                WHERE query_kind = $kind
                UNION SELECT batch_id FROM batch_queries SEMI JOIN {view} w USING (query)
                WHERE query_kind = $kind
            )
            SELECT b.batch_id FROM batches b SEMI JOIN touched t USING (batch_id)
            ORDER BY b.started_at, b.batch_id
        """
        with self._lock:
            con = self._c
            con.register(view, wanted)
            try:
                rows = con.execute(sql, {"kind": query_kind}).fetchall()
            except duckdb.Error as exc:
                raise CacheError(f"cannot read cache {self.path}: {exc}") from exc
            finally:
                con.unregister(view)
        return [row[0] for row in rows]

    def batch(self, batch_id: str) -> dict[str, Any] | None:
        """The ``batches`` row of one batch as a dict (``summary`` is JSON text), or None."""
        with self._lock:
            cur = self._c.execute("SELECT * FROM batches WHERE batch_id = ?", [batch_id])
            # fetchall, not fetchone: DuckDB 2.0 refuses other work on a connection that
            # still has an unfinished result (batch_id is the key: at most one row)
            rows = cur.fetchall()
            names = [d[0] for d in cur.description or []]
        return dict(zip(names, rows[0], strict=True)) if rows else None

    def batches(self) -> pl.DataFrame:
        """Every batch recorded in this cache, newest first (without the summaries)."""
        sql = """
            SELECT batch_id, started_at, finished_at, total, unique_queries, rdaplab_version
            FROM batches ORDER BY started_at DESC
        """
        with self._lock:
            return self._c.sql(sql).pl()

    def host_requests(self, host: str, *, within_s: float) -> int:
        """Requests sent to ``host`` (``host:port``) in the last ``within_s`` seconds.

        The scheduler counts a host's ``daily_budget`` across batches with this.
        """
        since = cutoff(datetime.now(UTC), within_s)
        with self._lock:
            row = first_row(
                self._c,
                "SELECT count(*) FROM attempts WHERE host = ? AND started_at >= ?",
                [host, since],
            )
        return int(row[0]) if row else 0

    def attempt_counts(self, batch_id: str) -> dict[str, tuple[int, int]]:
        """Per host, (requests, throttled) of one batch so far (a job's progress)."""
        sql = """
            SELECT host, count(*), count(*) FILTER (WHERE throttled)
            FROM attempts WHERE batch_id = ? GROUP BY host
        """
        with self._lock:
            rows = self._c.execute(sql, [batch_id]).fetchall()
        return {host: (int(n), int(t)) for host, n, t in rows}

    def attempts(self, batch_id: str | None = None) -> pl.DataFrame:
        """Return the attempts log (optionally of one batch), oldest first.

        Returns
        -------
        pl.DataFrame
            Columns in :class:`~rdaplab.models.Attempt` field order with the dtypes of
            :data:`ATTEMPTS_DTYPES`.
        """
        cols = ", ".join(ATTEMPTS_DTYPES)
        where = "" if batch_id is None else f" WHERE batch_id = {sql_str(batch_id)}"
        with self._lock:
            df = self._c.sql(f"SELECT {cols} FROM attempts{where} ORDER BY started_at").pl()
        return df.cast(ATTEMPTS_DTYPES)

    def responses(self, query_kind: str | None = None) -> pl.DataFrame:
        """Return stored responses (all columns; ``headers`` is a JSON string), by id.

        Parameters
        ----------
        query_kind
            Only this kind when given.
        """
        where = "" if query_kind is None else f" WHERE query_kind = {sql_str(query_kind)}"
        with self._lock:
            df = self._c.sql(f"SELECT * FROM responses{where} ORDER BY response_id").pl()
        return df.with_columns(pl.col("fetched_at").dt.convert_time_zone("UTC"))

    def info(self) -> dict[str, Any]:
        """Summarize the cache.

        Returns
        -------
        dict
            ``path``, ``file_size_bytes`` (file plus WAL; 0 in memory),
            ``schema_version``, ``responses`` (total), ``responses_by_kind`` (kind ->
            {status -> count}), ``attempts``, ``batches``, ``oldest_fetched_at``,
            ``newest_fetched_at`` (aware UTC datetimes or None).
        """
        with self._lock:
            con = self._c
            by_kind: dict[str, dict[int, int]] = {}
            total = 0
            for kind, status, n in con.execute(
                "SELECT query_kind, status, count(*) FROM responses GROUP BY ALL ORDER BY ALL"
            ).fetchall():
                by_kind.setdefault(kind, {})[int(status)] = int(n)
                total += int(n)
            oldest, newest = first_row(
                con, "SELECT epoch_us(min(fetched_at)), epoch_us(max(fetched_at)) FROM responses"
            )
            (n_attempts,) = first_row(con, "SELECT count(*) FROM attempts")
            (n_batches,) = first_row(con, "SELECT count(*) FROM batches")
            version = current_version(con)
        return {
            "path": self.path,
            "file_size_bytes": self._file_size(),
            "schema_version": version,
            "responses": total,
            "responses_by_kind": by_kind,
            "attempts": int(n_attempts),
            "batches": int(n_batches),
            "oldest_fetched_at": None if oldest is None else from_epoch_us(oldest),
            "newest_fetched_at": None if newest is None else from_epoch_us(newest),
        }
