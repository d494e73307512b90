"""The budget held by a Dask scheduler and sharded studies, on real Dask clusters
(LocalCluster) against a loopback simulator in a thread: no mocks, no network."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

distributed = pytest.importorskip("distributed")

import rdaplab  # noqa: E402
from rdaplab import InputError, Limits  # noqa: E402
from rdaplab.distributed import budget_statistics, connect, submit  # noqa: E402
from rdaplab.distributed.shards import bucket_of  # noqa: E402
from rdaplab.engine.dask_budget import DaskBudget  # noqa: E402
from rdaplab.simulator import SimulatorThread  # noqa: E402

SCENARIO = {
    "seed": 7,
    "registries": [
        {
            "name": "lim",
            "tlds": ["test"],
            "template": "google-registry/web.dev.json",
            "latency_ms": {"mean": 10, "jitter": 2},
            "rate_limit": {"rate_per_s": 20, "burst": 2},
        },
        {
            "name": "free",
            "tlds": ["example"],
            "template": "pir/wikipedia.org.json",
            "latency_ms": {"mean": 5, "jitter": 1},
        },
        {
            "name": "kill",
            "tlds": ["kill"],
            "template": "google-registry/web.dev.json",
            "latency_ms": {"mean": 10, "jitter": 2},
            "rate_limit": {"rate_per_s": 20, "burst": 2},
        },
        {
            "name": "pc",
            "tlds": ["pc"],
            "template": "google-registry/web.dev.json",
            "latency_ms": {"mean": 5, "jitter": 1},
            "rate_limit": {"rate_per_s": 10, "burst": 2, "per_client": True},
        },
    ],
}
FAST = Limits(per_host_rate_per_s=None, per_host_concurrency=8, adaptive=False)
PACED_15 = Limits(per_host_rate_per_s=15.0, adaptive=False)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    with SimulatorThread(SCENARIO) as s:
        boot = s.write_bootstrap(tmp_path_factory.mktemp("boot"))
        yield s, boot


@pytest.fixture(scope="module")
def scheduler():
    """A scheduler with no workers, reachable by other processes (tcp, not inproc)."""
    with (
        distributed.LocalCluster(
            n_workers=0, processes=False, protocol="tcp", dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def cluster():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _stats(sim, name: str):
    return sim.stats()[name]


# -- the budget ---------------------------------------------------------------------------------
def test_a_lookup_takes_its_slots_from_the_scheduler(sim, scheduler, tmp_path: Path) -> None:
    _, boot = sim
    names = [f"b{i}.example" for i in range(30)]
    result = rdaplab.lookup(names, cache=tmp_path / "c.duckdb", bootstrap=boot, budget=scheduler)
    assert result.summary["ok"] == 30
    (host,) = budget_statistics(scheduler).values()
    # every request had a slot (a slot given up by a process woken too late was not sent)
    sent = host["grants"] - host["late_slots"]
    assert sent == result.summary["requests"] and host["answers"] == 30
    # A second registration (another notebook, other limits) keeps the state learned so far.
    again = rdaplab.lookup(
        names[:5],
        cache=tmp_path / "d.duckdb",
        bootstrap=boot,
        budget=scheduler.scheduler.address,
        limits=PACED_15,
    )
    assert again.summary["ok"] == 5
    now = next(iter(budget_statistics(scheduler).values()))
    assert now["grants"] - now["late_slots"] == sent + 5


def test_slots_from_the_scheduler_are_placed_on_this_process_s_clock(scheduler) -> None:
    # One machine, one monotonic clock: the offset found from round trips is ~0, and
    # each request goes out at its slot (slot n at the first slot + (n - 1) / rate: the
    # waiters keep the schedule busy), never more than one interval after it.
    rate = 25.0
    paced = Limits(per_host_rate_per_s=rate, per_host_burst=1, adaptive=False)

    async def go() -> tuple[list[tuple[int, float]], DaskBudget]:
        budget = DaskBudget.from_client(scheduler, limits=paced)
        try:
            got = await asyncio.gather(*(budget.acquire("clock.invalid") for _ in range(12)))
        finally:
            await budget.aclose()
        return sorted(got), budget

    got, budget = asyncio.run(go())
    assert budget.clock.offset is not None and abs(budget.clock.offset) < 0.02
    assert len(got) == 12 and got[-1][0] == 12 + budget.late_slots  # numbered in order
    # How late each went, against the least late (the clock's offset cancels out).
    phase = [sent - (grant_id - 1) / rate for grant_id, sent in got]
    late = [p - min(phase) for p in phase]
    if budget.late_slots == 0:  # a slot given up moves the schedule after it
        assert max(late) <= 1 / rate + 0.01, late
        # sent at their slots, not one answer's trip after: mostly within milliseconds
        assert statistics.median(late) < 0.5 / rate, late


def test_a_process_has_one_reservation_in_the_air_per_host(scheduler) -> None:
    # 24 requests waiting for one host at 25/s: only the first of them is held at the
    # scheduler, the others queue in the process. Each held there for itself, every one
    # of them woke and asked the budget again at each slot (~300 times here; 2,500 a
    # second on the scheduler's loop in the Dask bench, 64 requests waiting).
    paced = Limits(per_host_rate_per_s=25.0, per_host_burst=1, adaptive=False)

    async def go() -> list[tuple[int, float]]:
        budget = DaskBudget.from_client(scheduler, limits=paced)
        try:
            return await asyncio.gather(*(budget.acquire("herd.invalid") for _ in range(24)))
        finally:
            await budget.aclose()

    got = asyncio.run(go())
    assert len({grant_id for grant_id, _ in got}) == 24
    host = budget_statistics(scheduler)["cluster|herd.invalid"]
    assert host["grants"] == 24
    # one held request, asking again at each slot and at most every 0.1 s between them
    assert host["refusals"] <= 3 * 24, host["refusals"]


def test_an_unreachable_scheduler_fails_closed(sim, tmp_path: Path) -> None:
    s, boot = sim
    before = _stats(s, "free").requests
    result = rdaplab.lookup(
        ["x1.example", "x2.example"],
        cache=tmp_path / "c.duckdb",
        bootstrap=boot,
        budget="tcp://127.0.0.1:9",
        retry=rdaplab.Retry(max_attempts=1),
    )
    d = result.domains
    assert d["error_kind"].to_list() == ["rate_limited", "rate_limited"]
    assert (
        "cannot be reached" in d["error_detail"][0] and "nothing was sent" in d["error_detail"][0]
    )
    assert _stats(s, "free").requests == before  # nothing reached the registry


def test_a_bad_budget_is_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="budget must be"):
        rdaplab.lookup(["a.example"], cache=tmp_path / "c.duckdb", budget=42)
    with pytest.raises(InputError, match="source_address"):
        rdaplab.lookup(["a.example"], cache=tmp_path / "c.duckdb", source_address="nope")
    assert not (tmp_path / "c.duckdb").exists()


def test_a_dask_budget_travels_without_its_connection() -> None:
    import pickle

    budget = DaskBudget("tcp://127.0.0.1:8786", scope="egress:127.0.0.2")
    copy = pickle.loads(pickle.dumps(budget))
    assert (copy.address, copy.scope, copy._rpc) == (budget.address, budget.scope, None)
    with pytest.raises(ValueError, match="scope"):
        DaskBudget("tcp://127.0.0.1:8786", scope="mine")


CHILD = """
import json, sys, rdaplab
addr, boot, cache, tag = sys.argv[1:5]
limits = rdaplab.Limits(per_host_rate_per_s=15.0, adaptive=False)
r = rdaplab.lookup([f"{tag}n{i}.test" for i in range(40)], cache=cache, bootstrap=boot,
                   budget=None if addr == "-" else addr, limits=limits, progress=False,
                   learned_limits=False)
print(json.dumps([r.summary["ok"], r.summary["requests"], r.summary["throttled"]]))
"""


@pytest.mark.slow
def test_processes_behind_one_address_share_one_budget(sim, scheduler, tmp_path: Path) -> None:
    """Three processes, each pacing itself at 15/s, against a 20/s host: alone they are
    refused; with the scheduler's budget, one 15/s for all of them, they are not."""
    _, boot = sim

    def run(addr: str, tag: str) -> list[list[int]]:
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    CHILD,
                    addr,
                    str(boot),
                    str(tmp_path / f"{tag}{i}.duckdb"),
                    f"{tag}{i}",
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in range(3)
        ]
        return [json.loads(p.communicate(timeout=120)[0].strip().splitlines()[-1]) for p in procs]

    shared = run(scheduler.scheduler.address, "s")
    alone = run("-", "a")
    assert all(ok == 40 for ok, _, _ in shared + alone)
    shared_thr = sum(t for _, _, t in shared) / sum(r for _, r, _ in shared)
    alone_thr = sum(t for _, _, t in alone) / sum(r for _, r, _ in alone)
    assert shared_thr <= 0.02 and alone_thr >= 0.05, (shared_thr, alone_thr)


# -- studies ------------------------------------------------------------------------------------
JUNK = [None, "", "bad..name", "x" * 300]


def test_a_study_end_to_end(sim, cluster, tmp_path: Path) -> None:
    s, boot = sim
    names = [f"s{i}.example" for i in range(200)] + JUNK + ["S1.EXAMPLE."]
    store = tmp_path / "study"
    study = submit(names, client=cluster, store=store, buckets=8, bootstrap=boot, limits=FAST)
    status = study.wait(timeout=120)
    assert status["complete"] and status["rows_done"] == len(names) and not status["buckets_failed"]
    # every row once, in input order; junk rows classified
    lf = rdaplab.scan(store)
    d = lf.collect()
    assert d["row"].to_list() == list(range(len(names)))
    assert d.filter(pl.col("outcome") == "ok").height == 201
    assert d["error_kind"].drop_nulls().unique().to_list() == ["invalid_query"]
    result = study.result()
    assert result.domains.height == len(names) and result.summary["complete"] is True
    assert (
        result.domains["domain"][1] == "s1.example" and result.domains["domain"][-1] == "s1.example"
    )
    assert result.summary["requests"] == rdaplab.scan(store, "attempts").collect().height
    # the same name is in one bucket, whatever its case or trailing dot
    assert bucket_of("domain:s1.example", 8) == bucket_of("domain:s1.example", 8)
    # a DuckDB view over the same parts
    con = connect(store)
    assert con.execute("SELECT count(*) FROM domains").fetchone()[0] == len(names)
    # resubmitting: every bucket is done, nothing is fetched again
    requests = sum(v.requests for v in s.stats().values())
    again = submit(names, client=cluster, store=store, buckets=8, bootstrap=boot, limits=FAST)
    assert again.wait(timeout=60)["complete"] and not again.futures
    assert sum(v.requests for v in s.stats().values()) == requests
    with pytest.raises(InputError, match="buckets"):
        submit(names, client=cluster, store=store, buckets=16, bootstrap=boot)
    # the CLI reads and compacts it
    from rdaplab.cli import main

    assert main(["store", "compact", str(store)]) == 0
    assert rdaplab.scan(store).collect()["row"].to_list() == list(range(len(names)))


def test_lookup_on_a_cluster_returns_the_rows_in_order(sim, cluster, tmp_path: Path) -> None:
    _, boot = sim
    names = [f"c{i}.example" for i in range(40)] + ["bad..name"]
    result = rdaplab.lookup(names, cluster=cluster, bootstrap=boot, limits=FAST)
    assert result.domains["domain"].to_list()[:3] == ["c0.example", "c1.example", "c2.example"]
    assert result.domains.height == 41 and result.summary["ok"] == 40
    with pytest.raises(InputError, match="cluster"):
        rdaplab.stream(names, cluster=cluster)
    with pytest.raises(InputError, match="a study cannot take"):
        submit(names, client=cluster, store=tmp_path / "x", on_event=print)


def test_egress_budgets_send_each_worker_from_its_own_address(sim, cluster, tmp_path) -> None:
    """budget="egress": each worker sends from its address and has that address's budget
    (the simulator keys its limit by client address: each gets the whole 10/s)."""
    s, boot = sim
    names = [f"e{i}.pc" for i in range(60)]
    study = submit(
        names,
        client=cluster,
        store=tmp_path / "study",
        buckets=4,
        budget="egress",
        egress=["127.0.0.2", "127.0.0.3"],
        bootstrap=boot,
        learned_limits=False,
        limits=Limits(per_host_rate_per_s=8.0, adaptive=False),
    )
    assert study.wait(timeout=60)["complete"]
    assert (rdaplab.scan(study.store).collect()["outcome"] == "ok").all()
    by_client = _stats(s, "pc").by_client
    assert set(by_client) == {"127.0.0.2", "127.0.0.3"}, by_client
    assert sum(c.throttled for c in by_client.values()) == 0
    scopes = {v["scope"] for v in budget_statistics(cluster).values()}
    assert {"egress:127.0.0.2", "egress:127.0.0.3"} <= scopes
    with pytest.raises(InputError, match="egress lists"):
        submit(names, client=cluster, store=tmp_path / "x", budget="egress", egress=["127.0.0.2"])


@pytest.mark.slow
def test_a_killed_worker_s_bucket_resumes_elsewhere(sim, cluster, tmp_path: Path) -> None:
    """SIGKILL a worker mid-study: every row ends in the store once, and the names fetched
    twice are what the dead worker had not committed (about a second) plus in flight."""
    s, boot = sim
    n = 400
    names = [f"k{i}.kill" for i in range(n)]
    before = _stats(s, "kill")
    store = tmp_path / "study"
    study = submit(
        names, client=cluster, store=store, buckets=4, bootstrap=boot, learned_limits=False
    )
    pids = cluster.run(os.getpid)
    deadline = time.monotonic() + 60
    while _stats(s, "kill").requests - before.requests < n // 3:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    os.kill(next(iter(pids.values())), signal.SIGKILL)
    status = study.wait(timeout=120)
    assert status["complete"] and not status["buckets_failed"]
    d = rdaplab.scan(store).collect()
    assert d["row"].to_list() == list(range(n))
    bad = d.filter(pl.col("outcome") != "ok")
    assert bad.height == 0, bad.select("error_kind", "error_detail").row(0)
    after = _stats(s, "kill")
    fetched = (after.requests - before.requests) - (after.throttled - before.throttled)
    twice = fetched - n
    # 20/s shared by two workers: ~10/s x 1 s of commits + a worker's concurrency (16)
    assert 0 <= twice <= 10 + 16, twice
    # the dead worker's committed attempts are in the store too (not only the rerun's)
    stored = rdaplab.scan(store, "attempts").collect().height
    sent = after.requests - before.requests
    assert sent - 26 <= stored <= sent, (stored, sent)
