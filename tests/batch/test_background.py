"""Background batches (rdaplab.start), results rebuilt from disk, and the df.rdap namespace."""

from __future__ import annotations

import _thread
import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import rdaplab
from rdaplab import Cache, Limits, Retry
from rdaplab.frames import DOMAINS_SCHEMA
from rdaplab.simulator import SimulatorThread

VERISIGN = "verisign/google.com-2024.json"
FAST = Limits(per_host_rate_per_s=None, per_host_concurrency=8)
QUICK_RETRY = Retry(backoff_initial_s=0.01, backoff_max_s=0.05, retry_after_max_s=3.0)


def _scenario(latency_ms: float = 2, **kw: Any) -> dict[str, Any]:
    return {
        "seed": 5,
        "registries": [
            {
                "name": "r",
                "tlds": ["test"],
                "template": VERISIGN,
                "latency_ms": {"mean": latency_ms, "jitter": 1},
                **kw,
            },
            {"name": "gone", "tlds": ["dead"], "template": VERISIGN, "dead": True},
        ],
    }


@pytest.fixture
def sim_env(tmp_path: Path):
    def make(**kw: Any) -> dict[str, Any]:
        sim = SimulatorThread(_scenario(**kw))
        sim.start()
        started.append(sim)
        boot = sim.write_bootstrap(tmp_path / "boot")
        return {
            "bootstrap": boot,
            "cache": tmp_path / "c.duckdb",
            "progress": False,
            "retry": QUICK_RETRY,
            "limits": FAST,
        }

    started: list[SimulatorThread] = []
    yield make
    for sim in started:
        sim.stop()


def names(n: int, tld: str = "test") -> list[str]:
    return [f"name{i:04d}.{tld}" for i in range(n)]


def test_start_returns_at_once_and_partial_grows_in_input_order(sim_env):
    # 60 names at ~40 ms each with 2 in flight: about 1.2 s of batch to watch.
    kw = sim_env(latency_ms=40)
    kw["limits"] = Limits(per_host_rate_per_s=None, per_host_concurrency=2, adaptive=False)
    values = names(60)
    t0 = time.monotonic()
    handle = rdaplab.start(values, **kw)
    assert time.monotonic() - t0 < 0.5  # it did not wait for the batch
    seen: list[int] = []
    while not handle.done():
        part = handle.partial()
        assert part.schema == DOMAINS_SCHEMA
        if part.height:
            order = [values.index(q) for q in part["query"].to_list()]
            assert order == sorted(order)  # finished rows keep the input order
            assert set(part["outcome"].to_list()) <= {"ok", "not_found", "error"}
        seen.append(part.height)
        time.sleep(0.1)
    result = handle.result()
    assert result.domains.height == 60
    assert any(0 < n < 60 for n in seen), seen  # a look while the batch was running
    assert seen == sorted(seen)
    assert handle.partial().equals(result.domains)
    assert handle.progress is not None and handle.progress.done == 60
    assert "done: 60/60" in repr(handle)


def test_result_timeout_leaves_the_batch_running(sim_env):
    kw = sim_env(latency_ms=30)
    kw["limits"] = Limits(per_host_rate_per_s=None, per_host_concurrency=1, adaptive=False)
    handle = rdaplab.start(names(20), **kw)
    with pytest.raises(TimeoutError):
        handle.result(timeout=0.05)
    assert handle.result().summary["ok"] + handle.result().summary["not_found"] == 20


def test_cancel_keeps_what_was_fetched_and_a_rerun_fetches_only_the_rest(sim_env):
    kw = sim_env(latency_ms=30)
    kw["limits"] = Limits(per_host_rate_per_s=None, per_host_concurrency=1, adaptive=False)
    values = names(80)
    handle = rdaplab.start(values, **kw)
    while (handle.progress is None or handle.progress.done < 10) and not handle.done():
        time.sleep(0.02)
    handle.cancel()
    assert handle.done()
    with pytest.raises(asyncio.CancelledError):
        handle.result()
    with Cache(kw["cache"]) as cache:
        cached = set(cache.queries("domain")) & set(values)
    assert 10 <= len(cached) < 80
    again = rdaplab.lookup(values, **kw)
    assert again.summary["cache_hits"] >= len(cached) - 1  # at most one lost in flight
    assert again.summary["requests"] <= 80 - len(cached) + 1


def test_interrupt_while_waiting_raises_batch_interrupted_with_the_finished_rows(sim_env):
    kw = sim_env(latency_ms=30)
    kw["limits"] = Limits(per_host_rate_per_s=None, per_host_concurrency=1, adaptive=False)
    values = names(100)
    handle = rdaplab.start(values, **kw)

    def interrupt_when_started() -> None:
        while handle.progress is None or handle.progress.done < 5:
            time.sleep(0.01)
        _thread.interrupt_main()  # what Ctrl-C / a kernel interrupt delivers

    threading.Thread(target=interrupt_when_started, daemon=True).start()
    with pytest.raises(rdaplab.BatchInterrupted) as info:
        handle.result()
    exc = info.value
    assert isinstance(exc, KeyboardInterrupt)
    assert exc.total == 100 and 5 <= exc.done < 100
    assert exc.partial is not None and exc.partial.height >= 5
    assert "run the same call again" in str(exc) and str(kw["cache"]) in str(exc)
    assert handle.done()
    with Cache(kw["cache"]) as cache:
        assert set(exc.partial["domain"].to_list()) <= set(cache.queries("domain"))


async def test_await_a_handle_from_a_running_loop(sim_env):
    handle = rdaplab.start(names(5), **sim_env())
    result = await handle
    assert result.domains.height == 5


async def test_lookup_inside_a_running_loop_uses_a_batch_thread(sim_env):
    kw = sim_env()
    result = rdaplab.lookup(names(3), **kw)  # a loop is running here, as in a notebook
    assert result.summary["total"] == 3
    assert not [t for t in threading.enumerate() if t.name == "rdaplab-batch"]


def test_start_rejects_unknown_arguments(sim_env):
    with pytest.raises(TypeError, match="colum"):
        rdaplab.start(["a.test"], colum="x", **sim_env())


# load_result: reports and charts of earlier work, offline.


def test_load_result_from_a_cache_rebuilds_the_same_frames(sim_env, tmp_path):
    kw = sim_env()
    values = [*names(12), "bad..name", "x.dead"]
    first = rdaplab.lookup(values, **kw)
    loaded = rdaplab.load_result(kw["cache"])
    want = first.domains.filter(pl.col("domain").is_not_null()).unique("domain")
    got = loaded.domains
    assert got.schema == DOMAINS_SCHEMA
    assert sorted(got["domain"].to_list()) == sorted(want["domain"].to_list())
    cols = ["domain", "outcome", "registrar", "registration_date", "nameservers", "handle"]
    assert got.sort("domain").select(cols).equals(want.sort("domain").select(cols))
    dead = got.filter(pl.col("domain") == "x.dead").row(0, named=True)
    assert dead["outcome"] == "error" and dead["error_kind"] == "connection_error"
    assert loaded.attempts.height == first.attempts.height
    assert loaded.events.height == first.events.height

    # One batch: its names (cache hits included: its snapshot) and the summary it recorded.
    second = rdaplab.lookup([*names(14)], **kw)  # 12 hits, 2 new
    only = rdaplab.load_result(kw["cache"], batch_id=second.batch_id)
    assert sorted(only.domains["domain"].to_list()) == names(14)
    fetched_here = only.domains.filter(~pl.col("from_cache"))["domain"].to_list()
    assert sorted(fetched_here) == ["name0012.test", "name0013.test"]
    assert only.summary["cache_hits"] == 12 and only.summary["total"] == 14
    with pytest.raises(rdaplab.InputError, match="no batch"):
        rdaplab.load_result(kw["cache"], batch_id="nope")


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".json", ".ndjson"])
def test_load_result_from_a_results_file(sim_env, tmp_path, suffix):
    result = rdaplab.lookup([*names(6), "x.dead"], **sim_env())
    path = result.write(tmp_path / f"out{suffix}")
    loaded = rdaplab.load_result(path)
    assert loaded.domains.schema == DOMAINS_SCHEMA
    cols = ["domain", "outcome", "error_kind", "registrar", "nameservers", "registration_date"]
    assert loaded.domains.select(cols).equals(result.domains.select(cols))
    assert loaded.attempts.height == 0 and loaded.events.height == 0
    assert loaded.summary["ok"] == result.summary["ok"]
    assert loaded.summary["error_kinds"] == result.summary["error_kinds"]


def test_load_result_errors_are_clear(tmp_path):
    with pytest.raises(rdaplab.InputError, match="no such file"):
        rdaplab.load_result(tmp_path / "missing.duckdb")
    odd = tmp_path / "x.txt"
    odd.write_text("hello")
    with pytest.raises(rdaplab.InputError, match="expected a DuckDB cache"):
        rdaplab.load_result(odd)
    other = tmp_path / "other.parquet"
    pl.DataFrame({"a": [1]}).write_parquet(other)
    with pytest.raises(rdaplab.InputError, match="not an rdaplab results file"):
        rdaplab.load_result(other)


# df.rdap / lf.rdap


def test_dataframe_namespace_appends_result_columns_row_for_row(sim_env):
    kw = sim_env()
    df = pl.DataFrame(
        {"domain": ["Name0001.TEST", "bad..x", "name0002.test", "Name0001.TEST"], "g": [1, 2, 3, 4]}
    )
    out = df.rdap.lookup("domain", **kw)
    assert out.columns[:2] == ["domain", "g"]
    assert out["g"].to_list() == [1, 2, 3, 4]
    assert out["domain"].to_list() == df["domain"].to_list()  # the input column untouched
    assert out["domain_rdap"].to_list() == ["name0001.test", None, "name0002.test", "name0001.test"]
    assert out["outcome"][1] == "error" and out["error_kind"][1] == "invalid_query"
    assert out.schema["registration_date"] == DOMAINS_SCHEMA["registration_date"]
    slim = df.rdap.lookup("domain", columns=["outcome", "registrar"], **kw)
    assert slim.columns == ["domain", "g", "outcome", "registrar"]
    with pytest.raises(rdaplab.InputError, match="no column 'nope'"):
        df.rdap.lookup("nope", **kw)
    with pytest.raises(rdaplab.InputError, match="unknown result column"):
        df.rdap.lookup("domain", columns=["registrant_email"], **kw)
    assert df.rdap.lookup_result("domain", **kw).summary["total"] == 4


def test_lazyframe_namespace_defers_the_batch_until_collect(sim_env):
    kw = sim_env()
    lf = pl.LazyFrame({"name": names(4), "k": ["a", "b", "a", "b"]})
    lazy = lf.rdap.lookup("name", **kw)
    with Cache(kw["cache"]) as cache:
        assert cache.queries("domain") == []  # nothing ran yet
    schema = lazy.collect_schema()
    assert schema["k"] == pl.String and schema["outcome"] == pl.String
    out = lazy.filter(pl.col("k") == "a").collect()
    assert out["name"].to_list() == ["name0000.test", "name0002.test"]
    assert out["domain"].to_list() == ["name0000.test", "name0002.test"]
    with Cache(kw["cache"]) as cache:
        assert len(cache.queries("domain")) == 4  # the filter did not shrink the batch


def test_pandas_series_and_plain_lists_are_accepted(sim_env):
    pd = pytest.importorskip("pandas")
    kw = sim_env()
    from_pandas = rdaplab.lookup(pd.Series(["name0001.test", None, "name0002.test"]), **kw)
    assert from_pandas.domains["outcome"].to_list()[1] == "error"
    assert from_pandas.domains["error_kind"].to_list()[1] == "invalid_query"
    from_list = rdaplab.lookup(["name0001.test", "name0002.test"], **kw)
    assert from_list.summary["cache_hits"] == 2
