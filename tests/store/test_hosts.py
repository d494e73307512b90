"""Tests of rdaplab.store.hosts: each host's learned limits, on real DuckDB files."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from rdaplab.errors import CacheError
from rdaplab.store import Cache
from rdaplab.store.schema import HOST_LIMITS_SCHEMA, MIGRATIONS, SCHEMA_VERSION
from tests.store.helpers import NOW, UTC


def _old_file(path: Path, up_to: int) -> None:
    """A cache file as an rdaplab with migrations 1..``up_to`` left it, with one batch."""
    con = duckdb.connect(str(path))
    try:
        con.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
            "description VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
        )
        for version, description, sql in MIGRATIONS:
            if version <= up_to:
                con.execute(sql)
                con.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, description, NOW]
                )
        con.execute(
            "INSERT INTO batches (batch_id, started_at, total, unique_queries, settings, "
            "rdaplab_version) VALUES ('old', ?, 3, 3, '{}', '0.1')",
            [NOW],
        )
    finally:
        con.close()


def test_the_migration_adds_host_limits_to_an_existing_older_file(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    _old_file(path, up_to=3)
    with pytest.raises(CacheError, match="open it once without read_only"):
        Cache(path, read_only=True)  # an older file needs its migration first
    with Cache(path) as cache:
        assert cache.schema_version == SCHEMA_VERSION >= 4
        assert cache.batch("old") is not None  # what was there is kept
        assert cache.host_limits_frame().is_empty()
        assert cache.save_host_limits([{"host": "h:443", "rate_per_s": 5.0}]) == 1
    with Cache(path, read_only=True) as cache:
        assert cache.host_limits("h:443") is not None
        described = cache._c.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'host_limits' ORDER BY ordinal_position"
        ).fetchall()
    assert described == [
        ("host", "VARCHAR"),
        ("rate_per_s", "DOUBLE"),
        ("throttled_at_per_s", "DOUBLE"),
        ("concurrency_ceiling", "INTEGER"),
        ("learned_at", "TIMESTAMP WITH TIME ZONE"),
        ("batch_id", "VARCHAR"),
        ("requests", "BIGINT"),
        ("throttle_events", "INTEGER"),
    ]


def test_save_and_load_round_trip_with_ages(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    with Cache(path) as cache:
        saved = cache.save_host_limits(
            [
                {
                    "host": "rdap.a.example:443",
                    "rate_per_s": 9.5,
                    "throttled_at_per_s": 12.0,
                    "concurrency_ceiling": 3,
                    "requests": 420,
                    "throttle_events": 4,
                },
                {"host": "rdap.b.example:443", "rate_per_s": 2.5, "batch_id": "other"},
            ],
            batch_id="B1",
            learned_at=NOW - timedelta(hours=2),
        )
        assert saved == 2
    with Cache(path) as cache:  # reopened: it is on disk
        a = cache.host_limits("rdap.a.example:443", now=NOW)
        b = cache.host_limits("rdap.b.example:443", now=NOW)
        frame = cache.host_limits_frame(now=NOW)
    assert a == {
        "host": "rdap.a.example:443",
        "rate_per_s": 9.5,
        "throttled_at_per_s": 12.0,
        "concurrency_ceiling": 3,
        "learned_at": NOW - timedelta(hours=2),
        "batch_id": "B1",
        "requests": 420,
        "throttle_events": 4,
        "age_s": 7200.0,
    }
    assert a["learned_at"].tzinfo is UTC
    assert b is not None and b["batch_id"] == "other" and b["throttled_at_per_s"] is None
    assert b["concurrency_ceiling"] is None and b["requests"] is None
    assert frame.schema == HOST_LIMITS_SCHEMA
    assert frame["host"].to_list() == ["rdap.a.example:443", "rdap.b.example:443"]
    assert frame["age_s"].to_list() == [7200.0, 7200.0]
    assert frame.row(0, named=True) == a


def test_newest_wins_and_rows_without_a_rate_are_skipped() -> None:
    with Cache(":memory:") as cache:  # in memory too
        cache.save_host_limits(
            [{"host": "h:443", "rate_per_s": 8.0, "throttled_at_per_s": 10.0}],
            learned_at=NOW - timedelta(days=3),
        )
        saved = cache.save_host_limits(
            [
                {"host": "h:443", "rate_per_s": 4.0},
                {"host": "none:443", "rate_per_s": None},
                {"host": "zero:443", "rate_per_s": 0.0},
                {"host": "nan:443", "rate_per_s": float("nan")},
                {"host": "inf:443", "rate_per_s": float("inf")},
                {"host": "", "rate_per_s": 3.0},
                {
                    "host": "odd:443",
                    "rate_per_s": 1.0,
                    "concurrency_ceiling": 0,
                    "throttled_at_per_s": -1.0,
                },
            ],
            learned_at=NOW,
        )
        assert saved == 2
        h = cache.host_limits("h:443", now=NOW + timedelta(seconds=30))
        assert h is not None and (h["rate_per_s"], h["throttled_at_per_s"]) == (4.0, None)
        assert h["age_s"] == 30.0
        odd = cache.host_limits("odd:443", now=NOW)
        assert odd is not None and (odd["concurrency_ceiling"], odd["throttled_at_per_s"]) == (
            None,
            None,
        )
        assert cache.host_limits("none:443") is None
        # A learned_at ahead of the clock (another machine's) is age 0, never negative.
        assert cache.host_limits("h:443", now=NOW - timedelta(hours=1))["age_s"] == 0.0  # type: ignore[index]
        assert cache.save_host_limits([]) == 0


def test_forget_one_host_every_port_of_a_name_or_all(tmp_path: Path) -> None:
    with Cache(tmp_path / "c.duckdb") as cache:
        cache.save_host_limits(
            {"host": h, "rate_per_s": 1.0}
            for h in ("a.example:443", "a.example:8443", "b.example:443", "[::1]:8080")
        )
        assert cache.forget_host_limits("a.example:8443") == 1
        assert cache.forget_host_limits("nobody.example") == 0
        assert cache.forget_host_limits("[::1]") == 1  # a bare name: every port of it
        assert cache.host_limits_frame()["host"].to_list() == ["a.example:443", "b.example:443"]
        assert cache.forget_host_limits() == 2
        assert cache.host_limits_frame().is_empty()


def test_a_read_only_cache_reads_but_refuses_to_save(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    with Cache(path) as cache:
        cache.save_host_limits([{"host": "h:443", "rate_per_s": 3.0}])
    with Cache(path, read_only=True) as cache:
        assert cache.host_limits_frame().height == 1
        with pytest.raises(CacheError, match="read-only"):
            cache.save_host_limits([{"host": "h:443", "rate_per_s": 4.0}])
        with pytest.raises(CacheError, match="read-only"):
            cache.forget_host_limits()


def test_host_limits_survive_a_purge_and_its_compaction(tmp_path: Path) -> None:
    with Cache(tmp_path / "c.duckdb") as cache:
        cache.save_host_limits([{"host": "h:443", "rate_per_s": 3.0}], learned_at=NOW)
        cache.purge()  # answers and attempts go; what was learned about hosts stays
        frame = cache.host_limits_frame(now=NOW)
    assert frame.select("host", "rate_per_s", "age_s").to_dicts() == [
        {"host": "h:443", "rate_per_s": 3.0, "age_s": 0.0}
    ]
