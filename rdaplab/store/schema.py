"""The cache's schema: the registered migrations, and the columns of what goes in and out.

``MIGRATIONS`` is the source of truth for the DuckDB schema, in the style of
sqlite-utils' registered migrations: an append-only list of ``(version, description,
sql)``, applied in order (in one transaction) to any file whose ``schema_migrations``
table lacks them. ``SCHEMA_VERSION`` is the highest. See ``docs/cache.md``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Final

import duckdb
import polars as pl

from rdaplab._version import __version__
from rdaplab.errors import CacheError
from rdaplab.schemas import ATTEMPTS_SCHEMA
from rdaplab.store.sql import first_row, transaction

__all__ = [
    "ATTEMPTS_DTYPES",
    "ATTEMPTS_FRAME",
    "AUDIT_SCHEMA",
    "HOST_LIMITS_SCHEMA",
    "MIGRATIONS",
    "RESPONSES_FRAME",
    "SCHEMA_VERSION",
    "current_version",
    "migrate",
]

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
    (
        4,
        "host_limits: each host's learned limits, where the next batch starts it",
        """
        CREATE TABLE host_limits (
            host                VARCHAR PRIMARY KEY,
            rate_per_s          DOUBLE NOT NULL,
            throttled_at_per_s  DOUBLE,
            concurrency_ceiling INTEGER,
            learned_at          TIMESTAMPTZ NOT NULL,
            batch_id            VARCHAR,
            requests            BIGINT,
            throttle_events     INTEGER
        );
        """,
    ),
    (
        5,
        "batch_queries: every distinct query of a batch, cache hits included (snapshots)",
        """
        CREATE TABLE batch_queries (
            batch_id   VARCHAR NOT NULL,
            query_kind VARCHAR NOT NULL,
            query      VARCHAR NOT NULL
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

# Column order and dtypes of :meth:`Cache.host_limits_frame` (the table, plus ``age_s``).
HOST_LIMITS_SCHEMA: Final = pl.Schema(
    {
        "host": pl.Utf8(),
        "rate_per_s": pl.Float64(),
        "throttled_at_per_s": pl.Float64(),
        "concurrency_ceiling": pl.Int32(),
        "learned_at": pl.Datetime("us", "UTC"),
        "age_s": pl.Float64(),
        "batch_id": pl.Utf8(),
        "requests": pl.Int64(),
        "throttle_events": pl.Int32(),
    }
)

# Column order and dtypes of :meth:`Cache.attempts` (models.Attempt's field order).
# One definition of the attempts log's columns: the frames module's schema.
ATTEMPTS_DTYPES: Final[dict[str, pl.DataType]] = dict(ATTEMPTS_SCHEMA)

# What the writes hand DuckDB (column order and dtypes of the frames they insert): Polars
# frames, scanned through the Arrow C stream interface.
# Not pyarrow: building any pyarrow array from Python objects imports pandas when it is
# installed (pyarrow probes for pandas Series), ~40 MB resident for the whole process.
RESPONSES_FRAME: Final = pl.Schema(
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
ATTEMPTS_FRAME: Final = pl.Schema(
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


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """The highest migration recorded in the file (0 for a new file)."""
    (exists,) = first_row(
        con,
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_migrations' "
        "AND database_name = current_database() AND schema_name = 'main'",
    )
    if not exists:
        return 0
    (version,) = first_row(con, "SELECT coalesce(max(version), 0) FROM schema_migrations")
    return int(version)


def migrate(con: duckdb.DuckDBPyConnection, path: str, *, read_only: bool) -> None:
    """Apply the pending migrations in one transaction.

    Raises
    ------
    CacheError
        The file comes from a newer rdaplab, needs migrating but is opened read-only,
        or a migration failed (nothing of it is kept).
    """
    current = current_version(con)
    if current > SCHEMA_VERSION:
        raise CacheError(
            f"cache {path} has schema version {current}, newer than this "
            f"rdaplab {__version__} understands ({SCHEMA_VERSION}); upgrade rdaplab "
            "or use another cache file"
        )
    pending = [m for m in MIGRATIONS if m[0] > current]
    if not pending:
        return
    if read_only:
        raise CacheError(
            f"cache {path} has schema version {current} but this rdaplab needs "
            f"{SCHEMA_VERSION}; open it once without read_only to upgrade it"
        )
    with transaction(con, f"cannot migrate cache {path}"):
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, description VARCHAR NOT NULL, "
            "applied_at TIMESTAMPTZ NOT NULL)"
        )
        for version, description, sql in sorted(pending):
            con.execute(sql)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                [version, description, datetime.now(timezone.utc)],
            )
