"""Tests of rdaplab.store.maintenance: purges and compaction of real DuckDB files."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import polars as pl

from rdaplab.store import Cache
from rdaplab.store.schema import SCHEMA_VERSION
from tests.store.helpers import NOW, attempt, fresh, resp


def test_purge_removes_old_rows_and_shrinks_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    big = b'{"padding": "' + os.urandom(1500).hex().encode() + b'"}'
    with Cache(path) as cache:
        cache.store_responses([resp(f"old{i}.com", age_s=90_000, body=big) for i in range(3000)])
        cache.store_responses([resp(f"new{i}.com", age_s=10, body=big) for i in range(100)])
        cache.store_attempts([attempt("old.com", started_at=NOW - timedelta(days=2))])
        cache.store_attempts([attempt("new.com")])
        cache.begin_batch(
            "gone", started_at=NOW - timedelta(days=2), total=1, unique=1, settings={}
        )
        max_id = cache.responses()["response_id"].max()
        report = cache.purge(older_than_s=86_400, now=NOW)
        assert report["responses_removed"] == 3000
        assert report["attempts_removed"] == 1
        assert report["batches_removed"] == 1  # "gone": started before the cutoff, no rows
        assert report["bytes_after"] < report["bytes_before"] / 3
        assert path.stat().st_size == report["bytes_after"]
        assert not path.with_name(path.name + ".compact").exists()
        # still usable after the file swap; ids keep growing (sequence state copied)
        assert len(fresh(cache, [f"new{i}.com" for i in range(100)], max_age_s=60)) == 100
        cache.store_responses([resp("after.com")])
        assert cache.responses().filter(pl.col("query") == "after.com")["response_id"][0] > max_id
        assert cache.schema_version == SCHEMA_VERSION
        everything = cache.purge()
    assert everything["responses_removed"] == 101
    with Cache(path) as cache:
        info = cache.info()
    assert (info["responses"], info["attempts"], info["batches"]) == (0, 0, 0)


def test_purge_drops_batches_with_nothing_left() -> None:
    with Cache(":memory:") as cache:
        cache.begin_batch("old", started_at=NOW - timedelta(days=3), total=1, unique=1, settings={})
        cache.begin_batch(
            "kept", started_at=NOW - timedelta(days=3), total=1, unique=1, settings={}
        )
        cache.store_responses([resp("k.com", batch_id="kept")])
        report = cache.purge(older_than_s=86_400, now=NOW)
        assert report["batches_removed"] == 1
        assert cache.info()["batches"] == 1
