"""The DuckDB cache: the source of truth for every raw RDAP answer.

One DuckDB file holds every kept answer (``responses``), every HTTP attempt
(``attempts``) and one row per batch (``batches``). The engine reads fresh answers back
with :meth:`Cache.lookup_fresh` (one set query per call) and appends new ones with bulk
Arrow inserts, one committed transaction per call, so a killed run loses nothing that a
write call already returned from. See ``docs/cache.md`` for the layout and the rules.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import duckdb
import msgspec
import platformdirs
import polars as pl

from rdaplab._gc import gc_paused
from rdaplab._version import __version__
from rdaplab.columns import build_frame
from rdaplab.errors import CacheError, CacheLockedError
from rdaplab.models import Attempt, CachedLookup, Response
from rdaplab.rdap.pii import body_has_pii
from rdaplab.schemas import ATTEMPTS_SCHEMA

__all__ = [
    "ATTEMPTS_DTYPES",
    "AUDIT_SCHEMA",
    "CACHE_ENV_VAR",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Cache",
    "default_cache_path",
]

CACHE_ENV_VAR: Final = "RDAPLAB_CACHE"
MEMORY: Final = ":memory:"

_UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)

# Registered migrations: (version, description, sql). Append only; never edit a
# released entry (files in the wild were built from it).
MIGRATIONS: Final[tuple[tuple[int, str, str], ...]] = (
    (
        1,
        "responses, attempts and batches",
        """
        CREATE SEQUENCE responses_response_id_seq START 1;
        CREATE TABLE responses (
            response_id     BIGINT NOT NULL DEFAULT nextval('responses_response_id_seq'),
            batch_id        VARCHAR NOT NULL,
            lookup_id       VARCHAR NOT NULL,
            query_kind      VARCHAR NOT NULL,
            query           VARCHAR NOT NULL,
            depth           SMALLINT NOT NULL,
            url             VARCHAR NOT NULL,
            final_url       VARCHAR NOT NULL,
            status          SMALLINT NOT NULL,
            headers         VARCHAR NOT NULL,
            body            VARCHAR NOT NULL,
            body_bytes      BIGINT NOT NULL,
            fetched_at      TIMESTAMPTZ NOT NULL,
            latency_ms      DOUBLE NOT NULL,
            referral_status VARCHAR
        );
        CREATE TABLE attempts (
            batch_id          VARCHAR NOT NULL,
            host              VARCHAR NOT NULL,
            url               VARCHAR NOT NULL,
            query_kind        VARCHAR NOT NULL,
            query             VARCHAR NOT NULL,
            started_at        TIMESTAMPTZ NOT NULL,
            latency_ms        DOUBLE NOT NULL,
            status            SMALLINT,
            bytes             BIGINT NOT NULL,
            retry_after_s     DOUBLE,
            error_kind        VARCHAR,
            error_detail      VARCHAR,
            attempt           SMALLINT NOT NULL,
            throttled         BOOLEAN NOT NULL,
            rate_limit        DOUBLE,
            concurrency_limit INTEGER
        );
        CREATE TABLE batches (
            batch_id        VARCHAR PRIMARY KEY,
            started_at      TIMESTAMPTZ NOT NULL,
            finished_at     TIMESTAMPTZ,
            total           BIGINT NOT NULL,
            unique_queries  BIGINT NOT NULL,
            settings        VARCHAR NOT NULL,
            summary         VARCHAR,
            rdaplab_version VARCHAR NOT NULL
        );
        """,
    ),
    (
        2,
        "attempts: the scheduler's decisions (in flight, priority, signal, decision)",
        """
        ALTER TABLE attempts ADD COLUMN in_flight INTEGER;
        ALTER TABLE attempts ADD COLUMN priority VARCHAR;
        ALTER TABLE attempts ADD COLUMN signal VARCHAR;
        ALTER TABLE attempts ADD COLUMN decision VARCHAR;
        """,
    ),
    (
        3,
        "privacy: responses.has_pii and the audit trail",
        """
        ALTER TABLE responses ADD COLUMN has_pii BOOLEAN;
        CREATE TABLE audit (
            batch_id        VARCHAR PRIMARY KEY,
            ran_at          TIMESTAMPTZ NOT NULL,
            finished_at     TIMESTAMPTZ,
            objects         VARCHAR NOT NULL,
            purpose         VARCHAR,
            legal_basis     VARCHAR,
            pii_kept        BOOLEAN NOT NULL,
            privacy         VARCHAR NOT NULL,
            retention_s     DOUBLE,
            fields          VARCHAR,
            rdaplab_version VARCHAR NOT NULL
        );
        """,
    ),
)
SCHEMA_VERSION: Final = max(v for v, _, _ in MIGRATIONS)

# Column order and dtypes of :meth:`Cache.audits`.
AUDIT_SCHEMA: Final = pl.Schema(
    {
        "batch_id": pl.Utf8(),
        "ran_at": pl.Datetime("us", "UTC"),
        "finished_at": pl.Datetime("us", "UTC"),
        "objects": pl.Utf8(),
        "purpose": pl.Utf8(),
        "legal_basis": pl.Utf8(),
        "pii_kept": pl.Boolean(),
        "privacy": pl.Utf8(),
        "retention_s": pl.Float64(),
        "fields": pl.Utf8(),
        "rdaplab_version": pl.Utf8(),
    }
)

# Column order and dtypes of :meth:`Cache.attempts` (models.Attempt's field order).
# One definition of the attempts log's columns: the frames module's schema.
ATTEMPTS_DTYPES: Final[dict[str, pl.DataType]] = dict(ATTEMPTS_SCHEMA)

_RESPONSE_COLS: Final = (
    "batch_id",
    "lookup_id",
    "query_kind",
    "query",
    "depth",
    "url",
    "final_url",
    "status",
    "headers",
    "body",
    "body_bytes",
    "fetched_at",
    "latency_ms",
    "referral_status",
    "has_pii",
)
# What the writes hand DuckDB: Polars frames, scanned through the Arrow C stream interface.
# Not pyarrow: building any pyarrow array from Python objects imports pandas when it is
# installed (pyarrow probes for pandas Series), ~40 MB resident for the whole process.
_RESPONSES_FRAME: Final = pl.Schema(
    {
        "batch_id": pl.String(),
        "lookup_id": pl.String(),
        "query_kind": pl.String(),
        "query": pl.String(),
        "depth": pl.Int16(),
        "url": pl.String(),
        "final_url": pl.String(),
        "status": pl.Int16(),
        "headers": pl.String(),
        "body": pl.String(),
        "body_bytes": pl.Int64(),
        "fetched_at": pl.Datetime("us", "UTC"),
        "latency_ms": pl.Float64(),
        "referral_status": pl.String(),
        "has_pii": pl.Boolean(),
    }
)
_ATTEMPTS_FRAME: Final = pl.Schema(
    {
        "batch_id": pl.String(),
        "host": pl.String(),
        "url": pl.String(),
        "query_kind": pl.String(),
        "query": pl.String(),
        "started_at": pl.Datetime("us", "UTC"),
        "latency_ms": pl.Float64(),
        "status": pl.Int16(),
        "bytes": pl.Int64(),
        "retry_after_s": pl.Float64(),
        "error_kind": pl.String(),
        "error_detail": pl.String(),
        "attempt": pl.Int16(),
        "throttled": pl.Boolean(),
        "rate_limit": pl.Float64(),
        "concurrency_limit": pl.Int32(),
        "in_flight": pl.Int32(),
        "priority": pl.String(),
        "signal": pl.String(),
        "decision": pl.String(),
    }
)

_LOCK_RE: Final = re.compile(
    r'Could not set lock on file "(?P<path>[^"]*)":\s*Conflicting lock is held in '
    r"(?P<exe>.*?)\s*\(PID (?P<pid>\d+)\)"
)
_HEADERS_DECODER: Final = msgspec.json.Decoder(dict[str, str])


_US: Final = timedelta(microseconds=1)


def _epoch_us(ts: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (exact integer arithmetic)."""
    return (ts - _EPOCH) // _US


def default_cache_path() -> Path:
    """Return the default cache file: ``$RDAPLAB_CACHE`` or the per-user cache dir.

    Returns
    -------
    Path
        ``$RDAPLAB_CACHE`` when set and non-empty, else
        ``platformdirs.user_cache_dir("rdaplab") / "rdaplab.duckdb"``.
    """
    env = os.environ.get(CACHE_ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("rdaplab")) / "rdaplab.duckdb"


def _utc(ts: datetime) -> datetime:
    """Return ``ts`` as an aware UTC datetime (naive values are taken to be UTC)."""
    if ts.tzinfo is None:
        return ts.replace(tzinfo=_UTC)
    return ts.astimezone(_UTC)


def _cutoff(now: datetime, seconds: float) -> datetime:
    """Return ``now - seconds``, clamped to the earliest representable time (inf, 1e300)."""
    try:
        return now - timedelta(seconds=seconds)
    except OverflowError:
        return (
            datetime(1, 1, 2, tzinfo=_UTC) if seconds > 0 else datetime(9999, 12, 30, tzinfo=_UTC)
        )


def _from_epoch_us(us: int) -> datetime:
    # Exact (no float rounding), and tzinfo is datetime.timezone.utc, not a ZoneInfo.
    return _EPOCH + timedelta(microseconds=us)


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _retention_seconds(retention: float | timedelta | None) -> float | None:
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


def _first_row(con: duckdb.DuckDBPyConnection, sql: str, params: object = None) -> tuple[Any, ...]:
    # Always fetchall(): in DuckDB 2.0 a partly read execute() result (fetchone) blocks
    # every later register()/execute() on the connection with ResourceInUseException.
    rows = con.execute(sql, params).fetchall()
    return tuple(rows[0]) if rows else ()


class Cache:
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
        retention_s = _retention_seconds(retention)
        if retention_s is not None and read_only:
            raise CacheError("retention needs a writable cache (it deletes old answers)")
        self._retention_s = retention_s
        self.retention_report: dict[str, Any] | None = None
        self._read_only = read_only
        self._memory_limit = memory_limit
        self._lock = threading.RLock()
        self._con: duckdb.DuckDBPyConnection | None = None
        if path is None:
            path = default_cache_path()
        self._memory = str(path) == MEMORY
        self._path: Path | None = None if self._memory else Path(path).expanduser().absolute()
        self._con = self._connect()
        try:
            self._migrate()
            if retention_s is not None:
                self.retention_report = self.purge_personal(older_than_s=retention_s)
        except BaseException:
            self.close()
            raise

    # -- lifecycle -------------------------------------------------------------------

    @property
    def path(self) -> str:
        """The database file's absolute path, or ``":memory:"``."""
        return MEMORY if self._path is None else str(self._path)

    @property
    def retention_s(self) -> float | None:
        """The retention given when opening (seconds), or None."""
        return self._retention_s

    @property
    def read_only(self) -> bool:
        """Whether the cache was opened read-only."""
        return self._read_only

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._con is None

    def close(self) -> None:
        """Close the connection (idempotent); committed data is already on disk."""
        with self._lock:
            con, self._con = self._con, None
            if con is not None:
                con.close()

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

    def _connect(self) -> duckdb.DuckDBPyConnection:
        if self._path is None:
            con = duckdb.connect(MEMORY)
        else:
            if not self._read_only:
                try:
                    self._path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise CacheError(
                        f"cannot create the directory of cache {self._path}: {exc}"
                    ) from exc
            elif not self._path.exists():
                raise CacheError(f"cache file {self._path} does not exist (opened read-only)")
            try:
                con = duckdb.connect(str(self._path), read_only=self._read_only)
            except duckdb.Error as exc:
                raise self._open_error(exc) from exc
        # Timestamps are stored as TIMESTAMPTZ; pin the session zone so that any
        # rendering or casting done by DuckDB is in UTC whatever the machine's zone.
        con.execute("SET TimeZone = 'UTC'")
        if self._memory_limit is not None:
            # Caps DuckDB's buffer manager (default: 80 % of RAM), e.g. for a long stream.
            try:
                con.execute(f"SET memory_limit = {_sql_str(self._memory_limit)}")
            except duckdb.Error as exc:
                con.close()
                raise CacheError(f"invalid memory_limit {self._memory_limit!r}: {exc}") from exc
        return con

    def _open_error(self, exc: duckdb.Error) -> CacheError:
        msg = str(exc)
        match = _LOCK_RE.search(msg)
        if match:
            holder = f"PID {match['pid']} ({match['exe']})"
            return CacheLockedError(str(self._path), holder)
        if "Could not set lock" in msg:
            return CacheLockedError(str(self._path))
        return CacheError(f"cannot open cache {self._path}: {msg}")

    @property
    def _c(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise CacheError(f"cache {self.path} is closed")
        return self._con

    def _writable(self) -> duckdb.DuckDBPyConnection:
        if self._read_only:
            raise CacheError(f"cache {self.path} was opened read-only")
        return self._c

    # -- migrations ------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        """The highest migration recorded in the file."""
        with self._lock:
            return self._current_version()

    def _current_version(self) -> int:
        con = self._c
        (exists,) = _first_row(
            con,
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_migrations' "
            "AND database_name = current_database() AND schema_name = 'main'",
        )
        if not exists:
            return 0
        (version,) = _first_row(con, "SELECT coalesce(max(version), 0) FROM schema_migrations")
        return int(version)

    def _migrate(self) -> None:
        with self._lock:
            current = self._current_version()
            if current > SCHEMA_VERSION:
                raise CacheError(
                    f"cache {self.path} has schema version {current}, newer than this "
                    f"rdaplab {__version__} understands ({SCHEMA_VERSION}); upgrade rdaplab "
                    "or use another cache file"
                )
            pending = [m for m in MIGRATIONS if m[0] > current]
            if not pending:
                return
            if self._read_only:
                raise CacheError(
                    f"cache {self.path} has schema version {current} but this rdaplab needs "
                    f"{SCHEMA_VERSION}; open it once without read_only to upgrade it"
                )
            con = self._c
            con.begin()
            try:
                con.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    "version INTEGER PRIMARY KEY, description VARCHAR NOT NULL, "
                    "applied_at TIMESTAMPTZ NOT NULL)"
                )
                for version, description, sql in sorted(pending):
                    con.execute(sql)
                    con.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                        [version, description, datetime.now(_UTC)],
                    )
                con.commit()
            except BaseException as exc:
                con.rollback()
                if isinstance(exc, duckdb.Error):
                    raise CacheError(f"cannot migrate cache {self.path}: {exc}") from exc
                raise

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
        cols: dict[str, list[Any]] = {c: [] for c in _RESPONSE_COLS}
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
            cols["fetched_at"].append(_epoch_us(_utc(r.fetched_at)))
            cols["latency_ms"].append(float(r.latency_ms))
            cols["referral_status"].append(r.referral_status)
            # From the body as stored, never r.document: under privacy="strict" the body
            # was stripped and a decoded document may still be the unstripped one.
            cols["has_pii"].append(body_has_pii(r.body))
        data = build_frame(cols, _RESPONSES_FRAME, epoch_us=True)
        with self._lock:
            self._insert_frame("responses", _RESPONSE_COLS, data)

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
        names = _ATTEMPTS_FRAME.names()
        cols: dict[str, list[Any]] = {c: [] for c in names}
        for a in rows:
            for name in names:
                value = getattr(a, name)
                if name == "started_at":
                    value = _epoch_us(_utc(value))
                cols[name].append(value)
        data = build_frame(cols, _ATTEMPTS_FRAME, epoch_us=True)
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
                con.execute(
                    """
                    INSERT INTO batches (batch_id, started_at, finished_at, total,
                                         unique_queries, settings, summary, rdaplab_version)
                    VALUES (?, ?, NULL, ?, ?, ?, NULL, ?)
                    ON CONFLICT (batch_id) DO UPDATE SET
                        started_at = least(batches.started_at, excluded.started_at),
                        finished_at = NULL,
                        total = excluded.total,
                        unique_queries = excluded.unique_queries,
                        settings = excluded.settings,
                        rdaplab_version = excluded.rdaplab_version
                    """,
                    [
                        batch_id,
                        _utc(started_at),
                        int(total),
                        int(unique),
                        json.dumps(dict(settings), default=str, sort_keys=True),
                        __version__,
                    ],
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
                    [_utc(finished_at), json.dumps(dict(summary), default=str), batch_id],
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

        Returns
        -------
        dict[str, CachedLookup]
            Keyed by query; queries without a fresh answer are absent.
        """
        if not queries:
            return {}
        now = _utc(now) if now is not None else datetime.now(_UTC)
        ok_cutoff = _cutoff(now, max_age_s)
        nf_cutoff = _cutoff(now, min(not_found_ttl_s, max_age_s))
        # A Polars frame, not a pyarrow table: see _RESPONSES_FRAME (pandas).
        wanted = pl.DataFrame({"query": pl.Series("query", list(queries), dtype=pl.String)})
        view = f"_rdaplab_q_{uuid.uuid4().hex}"
        sql = f"""
            WITH wanted AS (SELECT DISTINCT query FROM {view}),
            newest AS (
                -- The window bound only prunes row groups (zone maps on fetched_at): if
                -- the newest answer is older than both cutoffs, nothing is fresh anyway.
                SELECT r.query, r.lookup_id, r.response_id, r.status, r.fetched_at
                FROM responses r SEMI JOIN wanted w ON r.query = w.query
                WHERE r.query_kind = $kind AND r.depth = 0
                  AND r.fetched_at >= least($ok_cutoff, $nf_cutoff)
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
        params = {"kind": query_kind, "ok_cutoff": ok_cutoff, "nf_cutoff": nf_cutoff}
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
                fetched_at = ts_memo[ts] = _from_epoch_us(ts)
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

    def queries(self, query_kind: str, *, batch_id: str | None = None) -> list[str]:
        """Distinct queries of a kind with a stored answer or an attempt, sorted.

        With ``batch_id``: those this batch answered or attempted.
        """
        where = "query_kind = $kind" + ("" if batch_id is None else " AND batch_id = $batch")
        params: dict[str, Any] = {"kind": query_kind}
        if batch_id is not None:
            params["batch"] = batch_id
        sql = f"""
            SELECT query FROM responses WHERE {where} AND depth = 0
            UNION SELECT query FROM attempts WHERE {where}
            ORDER BY query
        """
        with self._lock:
            return [row[0] for row in self._c.execute(sql, params).fetchall()]

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
        since = _cutoff(datetime.now(_UTC), within_s)
        with self._lock:
            row = _first_row(
                self._c,
                "SELECT count(*) FROM attempts WHERE host = ? AND started_at >= ?",
                [host, since],
            )
        return int(row[0]) if row else 0

    def attempts(self, batch_id: str | None = None) -> pl.DataFrame:
        """Return the attempts log (optionally of one batch), oldest first.

        Returns
        -------
        pl.DataFrame
            Columns in :class:`~rdaplab.models.Attempt` field order with the dtypes of
            :data:`ATTEMPTS_DTYPES`.
        """
        cols = ", ".join(ATTEMPTS_DTYPES)
        where = "" if batch_id is None else f" WHERE batch_id = {_sql_str(batch_id)}"
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
        where = "" if query_kind is None else f" WHERE query_kind = {_sql_str(query_kind)}"
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
            oldest, newest = _first_row(
                con, "SELECT epoch_us(min(fetched_at)), epoch_us(max(fetched_at)) FROM responses"
            )
            (n_attempts,) = _first_row(con, "SELECT count(*) FROM attempts")
            (n_batches,) = _first_row(con, "SELECT count(*) FROM batches")
            version = self._current_version()
        return {
            "path": self.path,
            "file_size_bytes": self._file_size(),
            "schema_version": version,
            "responses": total,
            "responses_by_kind": by_kind,
            "attempts": int(n_attempts),
            "batches": int(n_batches),
            "oldest_fetched_at": None if oldest is None else _from_epoch_us(oldest),
            "newest_fetched_at": None if newest is None else _from_epoch_us(newest),
        }

    def _file_size(self) -> int:
        if self._path is None:
            return 0
        size = 0
        for p in (self._path, self._path.with_name(self._path.name + ".wal")):
            with contextlib.suppress(FileNotFoundError):
                size += p.stat().st_size
        return size

    # -- maintenance -----------------------------------------------------------------

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
                cutoff: datetime | None = None
            else:
                ref = _utc(now) if now is not None else datetime.now(_UTC)
                cutoff = _cutoff(ref, older_than_s)
            where_r = "" if cutoff is None else " WHERE fetched_at < $cutoff"
            where_a = "" if cutoff is None else " WHERE started_at < $cutoff"
            where_b = (
                ""
                if cutoff is None
                else " WHERE started_at < $cutoff"
                " AND batch_id NOT IN (SELECT batch_id FROM responses)"
                " AND batch_id NOT IN (SELECT batch_id FROM attempts)"
            )
            params = {} if cutoff is None else {"cutoff": cutoff}
            counts: dict[str, Any] = {}
            con.begin()
            try:
                for table, where, key in (
                    ("responses", where_r, "responses_removed"),
                    ("attempts", where_a, "attempts_removed"),
                    ("batches", where_b, "batches_removed"),
                ):
                    (n,) = _first_row(con, f"SELECT count(*) FROM {table}{where}", params)
                    con.execute(f"DELETE FROM {table}{where}", params)
                    counts[key] = int(n)
                con.commit()
            except BaseException as exc:
                con.rollback()
                if isinstance(exc, duckdb.Error):
                    raise CacheError(f"cannot purge cache {self.path}: {exc}") from exc
                raise
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
            ref = _utc(now) if now is not None else datetime.now(_UTC)
            params = {"cutoff": _cutoff(ref, older_than_s)}
            doomed = """
                SELECT DISTINCT lookup_id FROM responses
                WHERE has_pii IS NOT FALSE AND fetched_at < $cutoff
            """
            con.begin()
            try:
                n_lookups, n_responses = _first_row(
                    con,
                    "SELECT count(DISTINCT lookup_id), count(*) FROM responses "
                    f"WHERE lookup_id IN ({doomed})",
                    params,
                )
                con.execute(f"DELETE FROM responses WHERE lookup_id IN ({doomed})", params)
                (left,) = _first_row(
                    con, "SELECT count(*) FROM responses WHERE has_pii IS NOT FALSE"
                )
                con.commit()
            except BaseException as exc:
                con.rollback()
                if isinstance(exc, duckdb.Error):
                    raise CacheError(f"cannot purge cache {self.path}: {exc}") from exc
                raise
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

    # -- audit trail -----------------------------------------------------------------

    def record_audit(
        self,
        batch_id: str,
        *,
        ran_at: datetime,
        objects: Mapping[str, int],
        pii_kept: bool,
        privacy: str = "default",
        purpose: str | None = None,
        legal_basis: str | None = None,
        retention_s: float | None = None,
        fields: Sequence[str] | None = None,
        finished_at: datetime | None = None,
    ) -> None:
        """Record (or update, for a resumed batch) one batch's audit row.

        Parameters
        ----------
        batch_id
            The batch; one audit row per batch (recording again replaces it, keeping
            the earliest ``ran_at``).
        ran_at, finished_at
            When the batch started and ended (``finished_at`` None while running).
        objects
            Objects looked up, by kind (``{"domain": 120, "ip": 3}``); stored as JSON.
        pii_kept
            True when personal data was kept in the frames (``redact_pii=False``).
        privacy
            The privacy mode (``"default"`` or ``"strict"``).
        purpose, legal_basis
            As declared by the caller (free text, e.g. ``"GDPR Art. 6(1)(f)"``).
        retention_s
            The retention in force, in seconds (None: none).
        fields
            The ``fields=`` selection in force (None: every column).

        Raises
        ------
        CacheError
            The cache is read-only or closed, or the write failed.
        """
        counts = {str(k): int(v) for k, v in objects.items()}
        con = self._writable()
        with self._lock:
            try:
                con.execute(
                    """
                    INSERT INTO audit (batch_id, ran_at, finished_at, objects, purpose,
                                       legal_basis, pii_kept, privacy, retention_s, fields,
                                       rdaplab_version)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (batch_id) DO UPDATE SET
                        ran_at = least(audit.ran_at, excluded.ran_at),
                        finished_at = excluded.finished_at,
                        objects = excluded.objects,
                        purpose = excluded.purpose,
                        legal_basis = excluded.legal_basis,
                        pii_kept = excluded.pii_kept,
                        privacy = excluded.privacy,
                        retention_s = excluded.retention_s,
                        fields = excluded.fields,
                        rdaplab_version = excluded.rdaplab_version
                    """,
                    [
                        batch_id,
                        _utc(ran_at),
                        None if finished_at is None else _utc(finished_at),
                        json.dumps(counts, sort_keys=True),
                        purpose,
                        legal_basis,
                        bool(pii_kept),
                        str(privacy),
                        None if retention_s is None else float(retention_s),
                        None if fields is None else json.dumps(list(fields)),
                        __version__,
                    ],
                )
            except duckdb.Error as exc:
                raise CacheError(
                    f"cannot record the audit of batch {batch_id} in {self.path}: {exc}"
                ) from exc

    def audits(self) -> pl.DataFrame:
        """The audit trail, newest first: one row per recorded batch.

        Returns
        -------
        pl.DataFrame
            Columns of :data:`AUDIT_SCHEMA`: ``batch_id``, ``ran_at``, ``finished_at``
            (UTC), ``objects`` (JSON text: kind -> count), ``purpose``, ``legal_basis``,
            ``pii_kept``, ``privacy``, ``retention_s``, ``fields`` (JSON list or null),
            ``rdaplab_version``.
        """
        cols = ", ".join(AUDIT_SCHEMA)
        with self._lock:
            df = self._c.sql(f"SELECT {cols} FROM audit ORDER BY ran_at DESC, batch_id").pl()
        return df.cast(AUDIT_SCHEMA)

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
            (current,) = _first_row(con, "SELECT current_database()")
            src = _quote_ident(str(current))
            con.execute(f"ATTACH {_sql_str(str(tmp))} AS {alias}")
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
