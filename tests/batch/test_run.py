"""The one run loop: every entry point takes the same options, and a stream and a lookup of
the same input agree (frames and summary keys), against the loopback simulator."""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import rdaplab
from rdaplab import Cache, Limits, LookupOptions, Retry, StreamOptions
from rdaplab.batch.run import BatchRun
from rdaplab.rdap import Bootstrap

FAST = Limits(per_host_rate_per_s=None, per_host_concurrency=16, max_concurrency=32)
QUICK_RETRY = Retry(backoff_initial_s=0.01, backoff_max_s=0.05, retry_after_max_s=3.0)
VERISIGN = "verisign/google.com-2024.json"
SCENARIO = {
    "seed": 11,
    "registries": [
        {"name": "thin", "tlds": ["test"], "template": VERISIGN},
        {"name": "fat", "tlds": ["example"], "template": "pir/wikipedia.org.json"},
    ],
}
# Volatile per fetch: how long it took, when, and whether a repeat came from the cache.
VOLATILE = ["latency_ms", "fetched_at", "from_cache", "attempts"]


def names_3000() -> list[str]:
    names = [f"n{i % 2_600}.{'test' if i % 3 else 'example'}" for i in range(3_000)]
    names[7] = "-bad-.test"  # invalid
    names[8] = "who.nosuchtld"  # no RDAP service
    names[9] = "nx-gone.test"  # not found
    names[10] = "N1.TEST."  # the same name as n1.test, written otherwise
    return names


def test_every_entry_point_lists_every_option() -> None:
    options = [f.name for f in dataclasses.fields(LookupOptions)]
    for fn in (rdaplab.lookup, rdaplab.lookup_async, rdaplab.start, rdaplab.stream):
        params = inspect.signature(fn).parameters
        kinds = {p.kind for name, p in params.items() if name != "values"}
        assert kinds == {inspect.Parameter.KEYWORD_ONLY}, fn.__name__  # no **kwargs
        assert next(iter(params)) == "values"
        assert [n for n in params if n in options] == options, fn.__name__
        assert "Options" in (fn.__doc__ or "") and "max_age" in (fn.__doc__ or "")
    extra = set(inspect.signature(rdaplab.stream).parameters) - {"values", *options}
    assert extra == {"chunk_size", "max_pending", "batch_rows", "batch_interval_s"}
    with pytest.raises(TypeError):
        rdaplab.lookup(["a.test"], max_agee=3)  # type: ignore[call-arg]  # a typo fails loudly


def test_options_validate_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(rdaplab.InputError, match="kind"):
        rdaplab.lookup(["a.test"], kind="domains", cache=tmp_path / "c.duckdb")  # type: ignore[arg-type]
    with pytest.raises(rdaplab.InputError, match="privacy"):
        LookupOptions(privacy="paranoid")
    with pytest.raises(ValueError, match="chunk_size"):
        StreamOptions(chunk_size=0)
    assert not (tmp_path / "c.duckdb").exists()
    opts = LookupOptions(kind="ip", max_age=60, refresh=False)
    assert opts.max_age_s == 60 and LookupOptions(refresh=True).max_age_s == 0
    assert opts.kwargs()["kind"] == "ip"


async def _stream_all(values: list[str], **kw: Any) -> tuple[pl.DataFrame, list[Any]]:
    batches = []
    async with contextlib.aclosing(rdaplab.stream(values, **kw)) as it:
        async for batch in it:
            batches.append(batch)
    return pl.concat([b.domains for b in batches]).sort("row"), batches


def _same_shape(a: Any, b: Any, path: str = "summary") -> None:
    """Same keys at every level (dicts, and the rows of lists of dicts)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), (path, set(a) ^ set(b))
        for k in a:
            _same_shape(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and a and isinstance(a[0], dict):
        assert isinstance(b, list) and b, path
        _same_shape(a[0], b[0], f"{path}[0]")


async def test_a_stream_and_a_lookup_of_the_same_names_agree(simulator, tmp_path):
    sim = await simulator(SCENARIO)
    boot = sim.write_bootstrap(tmp_path / "boot")
    names = names_3000()
    common = {"bootstrap": boot, "limits": FAST, "retry": QUICK_RETRY, "progress": False}

    result = await rdaplab.lookup_async(names, cache=tmp_path / "lookup.duckdb", **common)
    streamed, batches = await _stream_all(
        names, cache=tmp_path / "stream.duckdb", chunk_size=700, **common
    )

    assert len(batches) > 1 and streamed["row"].to_list() == list(range(3_000))
    assert result.domains.drop(VOLATILE).equals(streamed.drop(["row", *VOLATILE]))
    assert set(result.domains["outcome"]) == {"ok", "not_found", "error"}

    with Cache(tmp_path / "stream.duckdb", read_only=True) as cache:
        stored = rdaplab.load_result(cache, batch_id=batches[0].batch_id).summary
    _same_shape(result.summary, stored)
    for key in ("total", "ok", "not_found", "error", "error_kinds", "kinds"):
        assert result.summary[key] == stored[key], key
    assert stored["streamed"] is True and result.summary["streamed"] is False
    assert result.summary["error_kinds"] == {"invalid_query": 1, "no_rdap_service": 1}
    # The stream asked once per name still in flight; repeats of finished names hit the
    # cache it had just written, so it sent no more requests than the lookup.
    assert stored["requests"] <= result.summary["requests"] + 2
    assert {h["host"] for h in stored["hosts"]} == {h["host"] for h in result.summary["hosts"]}


async def test_the_run_loop_driven_by_hand(simulator, tmp_path):
    """The interface later layers drive: chunks in, finished rows out, a summary."""
    sim = await simulator(SCENARIO)
    boot = Bootstrap.load(sim.write_bootstrap(tmp_path / "boot"))
    options = LookupOptions(limits=FAST, retry=QUICK_RETRY, progress=False)
    with Cache(tmp_path / "c.duckdb") as store:
        taken: list[Any] = []
        async with BatchRun(options, store=store, bootstrap=boot) as run:
            await run.admit(["a.test", "b.example", "a.test"])
            await run.admit(["c.test", "bad..test"])
            while run.pending:
                await run.wait()
                taken += run.take()
            taken += run.take()
            run.completed = True
        assert sorted(row for row, _, _ in taken) == [0, 1, 2, 3, 4]
        frames = run.frames(sorted(taken))
        assert frames.domains["query"].to_list() == [
            "a.test",
            "b.example",
            "a.test",
            "c.test",
            "bad..test",
        ]
        assert run.summary is not None and run.summary["total"] == 5
        assert run.summary["unique"] == 3 and run.summary["requests"] == 3
        assert run.summary["stopped_early"] is False
        assert store.batch(run.batch_id) is not None


async def test_a_cancelled_run_keeps_its_answers_and_records_no_summary(simulator, tmp_path):
    slow = {"name": "slow", "tlds": ["test"], "latency_ms": {"mean": 50}, "template": VERISIGN}
    sim = await simulator({"seed": 2, "registries": [slow]})
    boot = Bootstrap.load(sim.write_bootstrap(tmp_path / "boot"))
    one = Limits(per_host_rate_per_s=None, per_host_concurrency=1, adaptive=False)
    options = LookupOptions(limits=one, retry=QUICK_RETRY, progress=False)
    with Cache(tmp_path / "c.duckdb") as store:
        run = BatchRun(options, store=store, bootstrap=boot)
        with pytest.raises(BaseException) as info:
            async with run:
                await run.admit([f"x{i}.test" for i in range(40)])
                while len(run.ready) < 3:
                    await run.wait()
                run.cancel()
                await run.drain()
        assert "CancelledError" in type(info.value).__name__
        assert run.summary is None
        kept = store.queries("domain")
        assert 3 <= len(kept) < 40  # what arrived is committed, the rest was dropped
