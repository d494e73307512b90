"""Tests of rdaplab.store.cache against real DuckDB files (and ``:memory:``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from rdaplab.errors import CacheError
from rdaplab.models import Attempt
from rdaplab.store import Cache
from rdaplab.store.schema import ATTEMPTS_DTYPES, SCHEMA_VERSION
from tests.store.helpers import NOW, PYTHON, REPO, UTC, attempt, fresh, resp

# -- round trips ---------------------------------------------------------------------


def test_responses_round_trip_values_and_timezones(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    paris = timezone(timedelta(hours=1))
    r = resp("xn--bcher-kva.example", body=b'{"x": "caf\xc3\xa9 \xff"}', referral_status="followed")
    r.fetched_at = datetime(2025, 3, 1, 13, 0, 0, 123456, tzinfo=paris)  # == 12:00 UTC
    r.headers = {"content-type": "application/rdap+json", "retry-after": "5"}
    with Cache(path) as cache:
        cache.store_responses([r])
    with Cache(path) as cache:
        got = cache.lookup_fresh(
            "domain", ["xn--bcher-kva.example"], max_age_s=60, not_found_ttl_s=60, now=NOW
        )
        df = cache.responses("domain")
    (back,) = got["xn--bcher-kva.example"].responses
    assert back.fetched_at == datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert back.fetched_at.tzinfo is UTC
    assert back.headers == r.headers
    # Invalid UTF-8 is replaced (the body column is text); the original length is kept.
    assert back.body == '{"x": "café \ufffd"}'.encode()
    assert (back.url, back.final_url, back.status, back.depth) == (r.url, r.url, 200, 0)
    assert (back.latency_ms, back.batch_id, back.referral_status) == (12.5, "b1", "followed")
    assert back.lookup_id  # generated for an empty one
    assert df.height == 1
    assert df["body_bytes"][0] == len(r.body)
    assert df.schema["fetched_at"] == pl.Datetime("us", "UTC")
    assert df.schema["status"] == pl.Int16
    assert json.loads(df["headers"][0]) == r.headers


def test_refuses_statuses_other_than_2xx_and_404() -> None:
    with Cache(":memory:") as cache:
        for status in (429, 500, 503, 301, 403):
            with pytest.raises(ValueError, match=str(status)):
                cache.store_responses([resp("ok.com"), resp("bad.com", status=status)])
        assert cache.info()["responses"] == 0  # the whole call is refused
        cache.store_responses([resp("a.com", status=204), resp("b.com", status=404)])
        assert cache.info()["responses_by_kind"] == {"domain": {204: 1, 404: 1}}


def test_attempts_round_trip_dtypes_and_values(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    rows = [
        attempt("a.com", started_at=NOW - timedelta(seconds=2)),
        attempt(
            "b.com",
            batch_id="b2",
            started_at=datetime(2025, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))),
            status=None,
            bytes=0,
            error_kind="timeout",
            error_detail="read timed out",
            attempt=3,
            throttled=True,
            rate_limit=2.5,
            concurrency_limit=4,
            retry_after_s=7.0,
        ),
        attempt("c.com", started_at=datetime(2025, 3, 1, 12, 0, 1)),  # naive: taken as UTC
    ]
    with Cache(path) as cache:
        cache.store_attempts(rows)
    with Cache(path) as cache:
        df = cache.attempts()
        only_b2 = cache.attempts("b2")
        none = cache.attempts("nope")
    assert list(df.columns) == list(Attempt.__dataclass_fields__)
    assert dict(df.schema) == ATTEMPTS_DTYPES
    assert none.height == 0 and dict(none.schema) == ATTEMPTS_DTYPES
    assert df["query"].to_list() == ["a.com", "b.com", "c.com"]  # oldest first
    assert df["started_at"].to_list() == [
        NOW - timedelta(seconds=2),
        NOW,
        NOW + timedelta(seconds=1),
    ]
    b = only_b2.row(0, named=True)
    assert only_b2.height == 1
    assert b["status"] is None and b["error_kind"] == "timeout"
    assert (b["attempt"], b["throttled"], b["rate_limit"], b["concurrency_limit"]) == (
        3,
        True,
        2.5,
        4,
    )
    assert (b["retry_after_s"], b["error_detail"], b["bytes"]) == (7.0, "read timed out", 0)


# -- lookup_fresh --------------------------------------------------------------------


def test_lookup_fresh_max_age_and_shorter_not_found_ttl() -> None:
    with Cache(":memory:") as cache:
        cache.store_responses(
            [
                resp("ok-new.com", age_s=100),
                resp("ok-old.com", age_s=4000),  # older than max_age
                resp("nf-new.com", status=404, age_s=300),
                resp("nf-old.com", status=404, age_s=900),  # older than the 404 TTL
            ]
        )
        assert set(fresh(cache, ["ok-new.com", "ok-old.com", "nf-new.com", "nf-old.com"])) == {
            "ok-new.com",
            "nf-new.com",
        }
        # the 404 window is min(not_found_ttl_s, max_age_s)
        got = fresh(cache, ["nf-new.com", "nf-old.com"], max_age_s=200, not_found_ttl_s=10_000)
        assert got == {}
        got = fresh(cache, ["nf-new.com", "nf-old.com"], max_age_s=10_000, not_found_ttl_s=1000)
        assert set(got) == {"nf-new.com", "nf-old.com"}
        never = fresh(cache, ["ok-old.com"], max_age_s=float("inf"), not_found_ttl_s=0)
        assert list(never) == ["ok-old.com"]
        # other kinds and unknown names are simply absent
        assert cache.lookup_fresh("ip", ["ok-new.com"], max_age_s=1e9, not_found_ttl_s=1e9) == {}
        assert fresh(cache, []) == {}


def test_lookup_fresh_newest_wins_and_stale_newest_is_not_replaced() -> None:
    with Cache(":memory:") as cache:
        cache.store_responses(
            [
                resp("a.com", age_s=500, lookup_id="a-old", body=b'{"v": 1}'),
                resp("a.com", age_s=50, lookup_id="a-new", body=b'{"v": 2}'),
                resp("a.com", age_s=300, lookup_id="a-mid", body=b'{"v": 3}'),
                # deleted domain: a 404 newer than the 200, but past the 404 TTL
                resp("gone.com", age_s=1000, lookup_id="g-200"),
                resp("gone.com", status=404, age_s=700, lookup_id="g-404"),
            ]
        )
        got = fresh(cache, ["a.com", "a.com", "gone.com"])  # duplicates are fine
        assert list(got) == ["a.com"]
        (only,) = got["a.com"].responses
        assert (only.lookup_id, only.body) == ("a-new", b'{"v": 2}')


def test_lookup_fresh_returns_referrals_with_their_registry_answer() -> None:
    with Cache(":memory:") as cache:
        cache.store_responses(
            [
                resp("r.com", depth=1, lookup_id="L2", age_s=9),  # stored before its head
                resp("r.com", lookup_id="L2", age_s=10, referral_status="followed"),
                resp("r.com", depth=2, lookup_id="L2", age_s=8),
                resp("r.com", depth=1, lookup_id="L1", age_s=99),  # an older lookup's
                resp("r.com", lookup_id="L1", age_s=100, referral_status="followed"),
                resp("solo.com", lookup_id="S", referral_status="referral_failed"),
            ]
        )
        # Empty lookup ids are generated per query within one call: still linked.
        cache.store_responses([resp("gen.com", age_s=5), resp("gen.com", depth=1, age_s=4)])
        got = fresh(cache, ["r.com", "solo.com", "gen.com"])
    r = got["r.com"].responses
    assert [(x.depth, x.lookup_id) for x in r] == [(0, "L2"), (1, "L2"), (2, "L2")]
    assert r[0].referral_status == "followed" and r[1].url.startswith("https://registrar.")
    assert [x.depth for x in got["solo.com"].responses] == [0]
    gen = got["gen.com"].responses
    assert [x.depth for x in gen] == [0, 1] and gen[0].lookup_id == gen[1].lookup_id


class _CountingConnection:
    """Delegates to a real DuckDB connection, counting statements run."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self.statements: list[str] = []

    def execute(self, sql: str, *args: Any) -> Any:
        self.statements.append(sql)
        return self._con.execute(sql, *args)

    def sql(self, sql: str, *args: Any) -> Any:
        self.statements.append(sql)
        return self._con.sql(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def test_lookup_fresh_is_one_set_query_for_50k_names() -> None:
    n = 50_000
    with Cache(":memory:") as cache:
        cache.store_responses([resp(f"n{i}.com", age_s=i % 7200) for i in range(n)])
        counting = _CountingConnection(cache._c)
        cache._con = counting  # type: ignore[assignment]
        try:
            start = time.perf_counter()
            got = fresh(cache, [f"n{i}.com" for i in range(n)] + ["absent.com"])
            elapsed = time.perf_counter() - start
        finally:
            cache._con = counting._con
    assert len(counting.statements) == 1
    assert len(got) == sum(1 for i in range(n) if i % 7200 <= 3600)
    assert got["n7.com"].responses[0].query == "n7.com"
    assert elapsed < 10  # generous: correctness is the point, not a benchmark


# -- batches, info -------------------------------------------------------------------


def test_batches_begin_resume_end(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    with Cache(path) as cache:
        cache.begin_batch("B", started_at=NOW, total=10, unique=8, settings={"rate": 2.0})
        cache.begin_batch(  # resume: keeps the first start, clears finished_at
            "B", started_at=NOW + timedelta(hours=1), total=10, unique=8, settings={"rate": 1}
        )
        cache.end_batch("B", finished_at=NOW + timedelta(hours=2), summary={"ok": 7})
        with pytest.raises(CacheError, match="never begun"):
            cache.end_batch("nope", finished_at=NOW, summary={})
    con = duckdb.connect(str(path))
    try:
        ((started, finished, total, unique, settings, summary, version),) = con.execute(
            "SELECT started_at, finished_at, total, unique_queries, settings, summary, "
            "rdaplab_version FROM batches"
        ).fetchall()
    finally:
        con.close()
    assert started == NOW and finished == NOW + timedelta(hours=2)
    assert (total, unique) == (10, 8)
    assert json.loads(settings) == {"rate": 1} and json.loads(summary) == {"ok": 7}
    assert version


def test_info_numbers(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    with Cache(path) as cache:
        empty = cache.info()
        assert (empty["responses"], empty["attempts"], empty["batches"]) == (0, 0, 0)
        assert empty["oldest_fetched_at"] is None
        cache.store_responses(
            [
                resp("a.com", age_s=10),
                resp("b.com", status=404, age_s=20),
                resp("a.com", depth=1, lookup_id="x", age_s=5),
                resp("1.2.3.4", kind="ip", age_s=30),
            ]
        )
        cache.store_attempts([attempt("a.com"), attempt("b.com", status=404)])
        cache.begin_batch("b1", started_at=NOW, total=3, unique=3, settings={})
        info = cache.info()
    assert info["path"] == str(path)
    assert info["file_size_bytes"] > 0
    assert info["schema_version"] == SCHEMA_VERSION
    assert info["responses"] == 4
    assert info["responses_by_kind"] == {"domain": {200: 2, 404: 1}, "ip": {200: 1}}
    assert (info["attempts"], info["batches"]) == (2, 1)
    assert info["oldest_fetched_at"] == NOW - timedelta(seconds=30)
    assert info["newest_fetched_at"] == NOW - timedelta(seconds=5)


# -- other processes -----------------------------------------------------------------


@pytest.mark.slow
def test_rows_survive_sigkill_after_store_returns(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    code = textwrap.dedent(
        """
        import sys, time
        from datetime import datetime, timezone
        from rdaplab.store.cache import Cache
        from rdaplab.models import Attempt, Response
        now = datetime.now(timezone.utc)
        cache = Cache(sys.argv[1])
        cache.store_responses([
            Response("domain", f"k{i}.com", 0, "u", "u", 200, {}, b"{}", now, 1.0, "kb", f"L{i}")
            for i in range(500)
        ])
        cache.store_attempts([
            Attempt("kb", "h:443", "u", "domain", f"k{i}.com", now, 1.0, 200, 2, None, None)
            for i in range(700)
        ])
        print("stored", flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen(
        [PYTHON, "-c", code, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == b"stored", proc.stderr.read() if proc.stderr else b""
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with Cache(path) as cache:
        info = cache.info()
        got = cache.lookup_fresh(
            "domain", ["k0.com", "k499.com"], max_age_s=3600, not_found_ttl_s=60
        )
    assert (info["responses"], info["attempts"]) == (500, 700)
    assert set(got) == {"k0.com", "k499.com"}


def test_batch_row_leaves_the_connection_usable(tmp_path) -> None:
    # DuckDB 2.0: a half-read result blocks later .sql() on the same connection
    cache = Cache(tmp_path / "c.duckdb")
    try:
        cache.begin_batch(
            "b1", started_at=datetime.now(timezone.utc), total=1, unique=1, settings={}
        )
        assert cache.batch("b1")["batch_id"] == "b1"
        assert cache.attempts("b1").height == 0  # a .sql() read right after
        assert cache.batch("nope") is None
        assert cache.batches().height == 1
    finally:
        cache.close()
