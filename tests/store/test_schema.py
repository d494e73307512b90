"""Tests of rdaplab.store.schema: the registered migrations on real DuckDB files."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from rdaplab.errors import CacheError
from rdaplab.store import Cache
from rdaplab.store.schema import MIGRATIONS, SCHEMA_VERSION


def test_migrations_applied_once_and_reopen_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dir" / "c.duckdb"  # parent dirs are created
    with Cache(path) as cache:
        assert cache.schema_version == SCHEMA_VERSION
        assert cache.path == str(path)
    with Cache(path) as cache:
        assert cache.schema_version == SCHEMA_VERSION
    con = duckdb.connect(str(path))
    try:
        rows = con.execute("SELECT version, description FROM schema_migrations").fetchall()
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    finally:
        con.close()
    assert sorted(rows) == [(v, d) for v, d, _ in MIGRATIONS]
    assert {"responses", "attempts", "batches", "schema_migrations"} <= tables


def test_file_from_newer_rdaplab_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    Cache(path).close()
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_migrations VALUES (?, 'future', now())", [SCHEMA_VERSION + 1])
    con.close()
    with pytest.raises(CacheError, match="newer") as info:
        Cache(path)
    assert str(path) in str(info.value)
