"""Small helpers for talking to DuckDB: bound timestamps, quoting, reads, transactions.

Timestamps are stored as ``TIMESTAMPTZ`` in UTC; the bulk writes hand DuckDB
microseconds since the epoch, and the hot reads take them back the same way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Final

import duckdb

from rdaplab.errors import CacheError

__all__ = [
    "UTC",
    "cutoff",
    "epoch_us",
    "first_row",
    "from_epoch_us",
    "quote_ident",
    "sql_str",
    "transaction",
    "upsert",
    "utc",
]

UTC: Final = timezone.utc
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_US: Final = timedelta(microseconds=1)


# -- timestamps -------------------------------------------------------------------------


def epoch_us(ts: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (exact integer arithmetic)."""
    return (ts - _EPOCH) // _US


def from_epoch_us(us: int) -> datetime:
    """The aware UTC datetime of microseconds since the epoch."""
    # Exact (no float rounding), and tzinfo is datetime.timezone.utc, not a ZoneInfo.
    return _EPOCH + timedelta(microseconds=us)


def utc(ts: datetime) -> datetime:
    """Return ``ts`` as an aware UTC datetime (naive values are taken to be UTC)."""
    if ts.tzinfo is None:
        return ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC)


def cutoff(now: datetime, seconds: float) -> datetime:
    """Return ``now - seconds``, clamped to the earliest representable time (inf, 1e300)."""
    try:
        return now - timedelta(seconds=seconds)
    except OverflowError:
        return datetime(1, 1, 2, tzinfo=UTC) if seconds > 0 else datetime(9999, 12, 30, tzinfo=UTC)


# -- statements -------------------------------------------------------------------------


def quote_ident(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def sql_str(value: str) -> str:
    """``value`` as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def first_row(con: duckdb.DuckDBPyConnection, sql: str, params: object = None) -> tuple[Any, ...]:
    """The first row of a query's result (``()`` when it has none)."""
    # Always fetchall(): in DuckDB 2.0 a partly read execute() result (fetchone) blocks
    # every later register()/execute() on the connection with ResourceInUseException.
    rows = con.execute(sql, params).fetchall()
    return tuple(rows[0]) if rows else ()


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection, failure: str) -> Iterator[None]:
    """Run the block in one transaction: committed at its end, rolled back on any error.

    A DuckDB error (from the block or the commit) is raised as
    ``CacheError(f"{failure}: {error}")``; anything else is re-raised as is.
    """
    con.begin()
    try:
        yield
        con.commit()
    except BaseException as exc:
        con.rollback()
        if isinstance(exc, duckdb.Error):
            raise CacheError(f"{failure}: {exc}") from exc
        raise


def upsert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    row: Mapping[str, Any],
    *,
    key: str,
    earliest: str,
    keep: Collection[str] = (),
) -> None:
    """Insert one row, or update the row with the same ``key``.

    On conflict every column of ``row`` is overwritten except ``key``, the columns in
    ``keep`` (left as stored) and ``earliest`` (the earlier of the stored and new value).
    """
    cols = list(row)
    sets = ", ".join(
        f"{c} = least({table}.{c}, excluded.{c})" if c == earliest else f"{c} = excluded.{c}"
        for c in cols
        if c != key and c not in keep
    )
    con.execute(
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {sets}",
        list(row.values()),
    )
