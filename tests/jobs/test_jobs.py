"""Durable jobs end to end: a real worker, the loopback simulator, real DuckDB and SQLite
files."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from rdaplab import Cache, Limits, jobs
from rdaplab.engine import authority
from rdaplab.errors import InputError

VERISIGN = "verisign/google.com-2024.json"


def scenario(**kw: Any) -> dict[str, Any]:
    return {
        "seed": 7,
        "registries": [{"name": "r", "tlds": ["test"], "template": VERISIGN, **kw}],
    }


def paced(rate: float) -> Limits:
    """A fixed pace: the job's length is known (``rate`` names a second)."""
    return Limits(per_host_rate_per_s=rate, per_host_concurrency=4, adaptive=False, profiles={})


async def wait_for(
    predicate: Callable[[], bool], *, timeout_s: float = 30.0, what: str = "it"
) -> None:
    end = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@pytest.fixture
async def registry(simulator: Any, tmp_path: Path) -> Any:
    sim = await simulator(scenario(latency_ms={"mean": 3, "jitter": 1}))
    sim.boot = sim.write_bootstrap(tmp_path / "boot")
    return sim


def names(n: int, prefix: str = "job") -> list[str]:
    return [f"{prefix}{i}.test" for i in range(n)]


async def test_a_submitted_job_is_run_by_a_worker_and_its_result_is_in_input_order(
    registry: Any, tmp_path: Path
) -> None:
    cache = tmp_path / "study.duckdb"
    wanted = names(60)
    job = jobs.submit(pl.Series("domain", wanted), cache=cache, name="first")
    assert job.status().state == "queued"
    assert job.status().total == 60
    events: list[Any] = []
    worker = jobs.Worker(
        cache, bootstrap=registry.boot, limits=paced(200), poll_s=0.1, on_event=events.append
    )
    assert await worker.run(until_idle=True) == 1
    status = job.status()
    assert status.state == "done", status
    assert (status.done, status.ok, status.errors) == (60, 60, 0)
    assert status.requests == registry.stats()["r"].requests == 60
    [host] = status.registries
    assert status.registries[host]["done"] == 60
    result = job.result()
    assert result.domains["domain"].to_list() == wanted
    assert result.summary["complete"] is True
    assert result.attempts.height == 60
    # a lookup's summary keys, per registry and per host, from the job's own attempts
    summary = result.summary
    assert (summary["total"], summary["ok"], summary["requests"]) == (60, 60, 60)
    [reg] = summary["registries"]
    assert (reg["names"], reg["ok"], reg["requests"], reg["throttled"]) == (60, 60, 60, 0)
    assert reg["latency_ms_p50"] is not None and reg["achieved_rate_per_s"] > 0
    [host_row] = summary["hosts"]
    assert host_row["host"] == host and host_row["requests"] == 60
    assert summary["segments"][0]["batch_id"] == status.batch_ids[0]
    for row in result.domains.head(5).iter_rows(named=True):
        assert row["handle"] == registry.expected(row["domain"]).handle
    assert [s.id for s in jobs.list(cache)] == [job.id]
    assert [e["state"] for e in job.log()] == ["queued", "running", "done"]
    # the worker's events: the job's state changes around its batch's own events
    kinds = [e.kind for e in events]
    assert kinds[0] == "job_state" and kinds[-1] == "job_state"
    assert kinds[1] == "batch_started" and kinds[-2] == "batch_finished"
    assert "progress" in kinds
    first, last = events[0], events[-1]
    assert (first.previous, first.state, first.job_id) == ("queued", "running", job.id)
    assert (last.previous, last.state, last.batch_id) == ("running", "done", status.batch_ids[0])
    assert {e.batch_id for e in events[1:-1]} == {status.batch_ids[0]}
    assert last.to_dict()["kind"] == "job_state"


async def test_pause_stops_a_running_job_and_resume_carries_on_without_fetching_twice(
    registry: Any, tmp_path: Path
) -> None:
    cache = tmp_path / "study.duckdb"
    wanted = names(120)
    job = jobs.submit(wanted, cache=cache)
    worker = jobs.Worker(cache, bootstrap=registry.boot, limits=paced(40), poll_s=0.1)
    task = asyncio.create_task(worker.run())
    try:
        await wait_for(lambda: job.status().done >= 20, what="20 rows")
        assert job.pause() == "running"  # a request: the worker acts on it
        paused_at = time.monotonic()
        await wait_for(lambda: job.status().state == "paused", what="the pause")
        assert time.monotonic() - paused_at < 1.0
        sent = registry.stats()["r"].requests
        await asyncio.sleep(0.5)
        assert registry.stats()["r"].requests == sent  # nothing is sent while paused
        partial = job.result()
        assert 0 < partial.domains.height < 120
        assert partial.summary["complete"] is False
        assert job.status().paused_by == "user"

        assert job.resume() == "queued"
        await wait_for(lambda: job.status().state == "done", what="the end")
    finally:
        worker.stop()
        await task
    result = job.result()
    assert result.domains["domain"].to_list() == wanted
    assert (result.domains["outcome"] == "ok").all()
    # Each name was fetched once (the answers of the first run came from the cache), but
    # for the requests in flight when it paused (at most the concurrency, 4): cancelled,
    # their answers were never read.
    sent = registry.stats()["r"].requests
    assert 120 <= sent <= 124
    status = job.status()
    assert status.segments == 2 and len(status.batch_ids) == 2
    assert status.requests <= sent


async def test_cancel_ends_a_queued_job_at_once_and_a_running_one_within_a_poll(
    registry: Any, tmp_path: Path
) -> None:
    cache = tmp_path / "study.duckdb"
    queued = jobs.submit(names(5, "q"), cache=cache)
    assert queued.cancel() == "cancelled"
    with pytest.raises(InputError, match="cancelled"):
        queued.resume()
    job = jobs.submit(names(200), cache=cache)
    worker = jobs.Worker(cache, bootstrap=registry.boot, limits=paced(40), poll_s=0.1)
    task = asyncio.create_task(worker.run())
    try:
        await wait_for(lambda: job.status().done >= 10, what="10 rows")
        job.cancel()
        await wait_for(lambda: job.status().state == "cancelled", what="the cancel")
    finally:
        worker.stop()
        await task
    sent = registry.stats()["r"].requests
    assert sent < 200
    rows = job.result().domains.height
    assert 0 < rows <= sent
    assert queued.result().domains.height == 0  # never ran, never sent a request


async def test_a_higher_priority_job_preempts_and_the_lower_one_carries_on_after(
    registry: Any, tmp_path: Path
) -> None:
    cache = tmp_path / "study.duckdb"
    low = jobs.submit(names(150, "low"), cache=cache, priority="low")
    worker = jobs.Worker(cache, bootstrap=registry.boot, limits=paced(60), poll_s=0.1)
    task = asyncio.create_task(worker.run())
    try:
        await wait_for(lambda: registry.stats()["r"].requests >= 20, what="20 requests")
        high = jobs.submit(names(30, "high"), cache=cache, priority="high")
        await wait_for(lambda: high.status().state == "done", what="the high job")
        assert low.status().state in ("queued", "running")
        assert low.status().done < 150  # it yielded: the high one did not wait for it
        await wait_for(lambda: low.status().state == "done", what="the low job")
    finally:
        worker.stop()
        await task
    messages = [e["message"] or "" for e in low.log()]
    assert any(m.startswith("preempted by job") for m in messages), messages
    assert low.result().domains["domain"].to_list() == names(150, "low")
    assert 180 <= registry.stats()["r"].requests <= 184  # + what was in flight at the switch


async def test_a_window_keeps_a_job_out_of_its_closed_hours_and_pauses_it_at_the_end(
    registry: Any, tmp_path: Path
) -> None:
    cache = tmp_path / "study.duckdb"
    now = {"t": time.mktime((2026, 12, 6, 12, 0, 0, 0, 0, -1))}  # local noon
    job = jobs.submit(names(150), cache=cache, window="22:00-06:00")
    worker = jobs.Worker(
        cache, bootstrap=registry.boot, limits=paced(40), poll_s=0.1, clock=lambda: now["t"]
    )
    assert await worker.run(until_idle=True) == 0  # noon: closed
    assert job.status().state == "queued"
    now["t"] += 10.5 * 3600  # 22:30
    task = asyncio.create_task(worker.run())
    try:
        await wait_for(lambda: registry.stats()["r"].requests >= 20, what="20 requests")
        now["t"] += 8 * 3600  # 06:30: the window has closed
        await wait_for(lambda: job.status().state == "paused", what="the window's end")
        status = job.status()
        assert status.paused_by == "window"
        assert status.message is not None and "22:00" in status.message
        sent = registry.stats()["r"].requests
        await asyncio.sleep(0.4)
        assert registry.stats()["r"].requests == sent
        now["t"] += 16 * 3600  # 22:30 the next day: it resumes by itself
        await wait_for(lambda: job.status().state == "done", what="the end")
    finally:
        worker.stop()
        await task
    assert job.result().domains.height == 150
    assert 150 <= registry.stats()["r"].requests <= 154


async def test_a_deadline_stops_a_job_with_what_it_has(registry: Any, tmp_path: Path) -> None:
    cache = tmp_path / "study.duckdb"
    job = jobs.submit(names(300), cache=cache, deadline="3s")
    worker = jobs.Worker(cache, bootstrap=registry.boot, limits=paced(40), poll_s=0.1)
    await asyncio.wait_for(worker.run(until_idle=True), 20)
    status = job.status()
    assert status.state == "done"
    assert status.message == "deadline reached"
    assert 0 < status.done < 300
    assert job.result().domains.height == status.done
    late = jobs.submit(names(5, "late"), cache=cache, deadline="0s")
    assert await worker.run(until_idle=True) == 0
    assert late.status().state == "done" and late.status().done == 0


async def test_refresh_and_warm_up_fetch_only_what_is_stale(registry: Any, tmp_path: Path) -> None:
    cache = tmp_path / "study.duckdb"
    first = jobs.submit(names(20), cache=cache)
    worker = jobs.Worker(cache, bootstrap=registry.boot, limits=paced(200), poll_s=0.1)
    await worker.run(until_idle=True)
    assert first.status().state == "done"
    registry.reset_stats()
    # Everything is minutes old: a refresh of what is older than a day fetches nothing...
    fresh = jobs.submit(names(20), cache=cache, refresh_older_than="1d")
    await worker.run(until_idle=True)
    assert fresh.status().cache_hits == 20
    assert registry.stats()["r"].requests == 0
    # ... and a warm-up of what is older than 0 s fetches every stored query again.
    await asyncio.sleep(0.01)
    warm = jobs.warm_up(cache, older_than=0)
    assert warm.status().priority == "idle"
    await worker.run(until_idle=True)
    assert warm.status().state == "done"
    assert warm.status().total == 20
    assert registry.stats()["r"].requests == 20
    with Cache(cache) as store:
        assert store.stale_queries("domain", older_than_s=3600) == []


def test_bad_submissions_fail_before_anything_is_recorded(tmp_path: Path) -> None:
    cache = tmp_path / "study.duckdb"
    with pytest.raises(InputError, match="window"):
        jobs.submit(["a.test"], cache=cache, window="22-6")
    with pytest.raises(InputError, match="priority"):
        jobs.submit(["a.test"], cache=cache, priority="urgent")
    with pytest.raises(InputError, match="cannot keep"):
        jobs.submit(["a.test"], cache=cache, limits=paced(1))
    with pytest.raises(InputError, match="deadline"):
        jobs.submit(["a.test"], cache=cache, deadline="next tuesday")
    with pytest.raises(InputError, match="memory"):
        jobs.submit(["a.test"], cache=":memory:")
    assert jobs.list(cache) == []
    with pytest.raises(InputError, match="no job"):
        jobs.Job("deadbeef", cache)


async def test_a_hosts_daily_budget_is_shared_by_every_job_of_the_cache(
    registry: Any, tmp_path: Path
) -> None:
    cache = tmp_path / "study.duckdb"
    host = authority(registry.base_url("r"))
    limits = Limits(
        per_host_rate_per_s=200,
        per_host_concurrency=4,
        adaptive=False,
        profiles={},
        hosts={host: {"daily_budget": 15}},
    )
    first = jobs.submit(names(10, "a"), cache=cache)
    second = jobs.submit(names(10, "b"), cache=cache)
    worker = jobs.Worker(cache, bootstrap=registry.boot, limits=limits, poll_s=0.1)
    assert await worker.run(until_idle=True) == 2
    assert first.status().ok == 10
    rows = second.result().domains
    assert rows.height == 10
    assert (rows["outcome"] == "ok").sum() == 5  # what the day's budget had left
    assert set(rows.filter(pl.col("outcome") == "error")["error_kind"]) == {"rate_limited"}
    assert registry.stats()["r"].requests == 15


def test_parts_are_buffered_and_merged_into_one_set_when_a_run_ends(tmp_path: Path) -> None:
    from rdaplab.jobs.parts import JobFiles, PartWriter

    files = JobFiles(tmp_path / "job")
    files.create([f"n{i}.test" for i in range(10)])

    def part(rows: list[int]) -> dict[str, pl.DataFrame]:
        q = pl.DataFrame(
            {"row": rows, "query": [f"n{r}.test" for r in rows], "outcome": ["ok"] * len(rows)}
        )
        return {"queries": q, "domains": q.select("row", domain="query")}

    writer = PartWriter(files, max_rows=4, max_age_s=3600)
    writer.add(part([0, 1]))
    assert files.done_rows().len() == 0  # buffered: 2 rows < 4
    writer.add(part([2, 3]))
    assert sorted(files.done_rows()) == [0, 1, 2, 3]  # 4 rows: written
    writer.add(part([5]))
    writer.flush()
    writer.add(part([4, 5]))  # a row finished twice (a resumed run) ...
    writer.flush()
    assert len(list(files.parts.glob("*-queries.parquet"))) == 3
    assert files.compact() == 3
    assert len(list(files.parts.glob("*-queries.parquet"))) == 1
    assert len(list(files.parts.glob("*-domains.parquet"))) == 1
    frames = files.frames()
    assert frames.domains["domain"].to_list() == [f"n{i}.test" for i in range(6)]  # ... once
    assert JobFiles(files.root).compact() == 0  # one set already: nothing to do
    assert len(list(files.parts.glob("*.parquet"))) == 2


def test_a_long_run_keeps_few_part_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rdaplab.jobs import parts as parts_module
    from rdaplab.jobs.parts import JobFiles, PartWriter

    monkeypatch.setattr(parts_module, "COMPACT_PARTS", 8)
    monkeypatch.setattr(parts_module, "BIG_PART_ROWS", 20)
    files = JobFiles(tmp_path / "job")
    files.create([f"n{i}.test" for i in range(100)])
    writer = PartWriter(files, max_rows=1, max_age_s=3600)
    for i in range(100):  # one part per row: 100 parts unmerged
        writer.add({"queries": pl.DataFrame({"row": [i], "outcome": ["ok"]})})
    count = len(list(files.parts.glob("*-queries.parquet")))
    assert count <= 100 // 20 + 8  # the big merged ones, and fewer than 8 small ones
    assert sorted(files.done_rows()) == list(range(100))


async def test_junk_rows_in_a_jobs_input_keep_the_frames_contract(
    registry: Any, tmp_path: Path
) -> None:
    from rdaplab.schemas import DOMAINS_SCHEMA, QUERIES_SCHEMA

    junk = ["ok0.test", None, "", "   ", "-bad-.test", "http://www.b.test/x?y", "x" * 300,
            "foo.es", "ok0.test", "\t\n"]  # fmt: skip
    cache = tmp_path / "study.duckdb"
    job = jobs.submit(pl.Series("domain", junk), cache=cache)
    await jobs.Worker(cache, bootstrap=registry.boot, limits=paced(200)).run(until_idle=True)
    assert job.status().state == "done" and job.status().done == len(junk)
    result = job.result()
    assert result.domains.schema == DOMAINS_SCHEMA and result.queries.schema == QUERIES_SCHEMA
    assert result.domains.height == result.queries.height == len(junk)  # one row per input row
    kinds = result.queries["error_kind"].to_list()
    assert kinds == [None, "invalid_query", "invalid_query", "invalid_query", "invalid_query",
                     None, "invalid_query", "no_rdap_service", None, "invalid_query"]  # fmt: skip
    out = tmp_path / "out.parquet"
    result.write(out, "domains")
    assert pl.read_parquet(out).schema == DOMAINS_SCHEMA
