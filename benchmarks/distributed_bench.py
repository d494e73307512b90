#!/usr/bin/env python
"""rdaplab past one machine, on Dask: the four targets of the issue "Past one machine on Dask".

Every registry is ``rdaplab simulate`` in its own process (``run.SimulatorProcess``), a
fresh one for every study (so its counters are the study's, and the scheduler's budget
learns a host it has never seen: a new port is a new host). The cluster is a Dask
``LocalCluster(n_workers=4, threads_per_worker=1, processes=True)``; studies go through
:func:`rdaplab.distributed.submit` into a store folder, one Dask task per bucket.

1. **Shared budget, learned** (``shared``): 4 workers, ``budget="cluster"``, one registry
   limited to 60/s (burst 3, 429 + Retry-After) that rdaplab was not told about (default
   :class:`~rdaplab.engine.Limits`, ``learned_limits=False``). Makespan (from ``submit``
   to the last bucket's ``done.json``) over the lower bound (the simulator's own,
   ``Simulator.lower_bound``: ``(N - burst) / 60 + mean latency``; ``N / 60`` beside it),
   and the throttled share of the requests (the study's attempts, cross-checked with the
   simulator's counters). Targets: ratio <= 1.25, throttled <= 1 %.
2. **Egress** (``egress``): a registry limited to 10/s *per client address*
   (``per_client``); 4 workers with ``budget="egress"``, each sending from its own
   loopback address (127.0.0.2-5), against one worker with one address, on the same names.
   Throughput ratio (names/s of four over names/s of one), target >= 3.5.
3. **A worker killed** (``kill``): as 1, and a worker running a bucket is SIGKILLed once a
   third of the names were answered (the simulator's counters). Every input row must be in
   ``rdaplab.scan(store)`` once, ``ok``; "fetched twice" = the registry's requests -
   throttled - N, against the bound of one second of commits plus what was in flight:
   the killed worker's share of the rate (the budget's learned rate at the kill / 4)
   x 1 s + its concurrency (16: the per-host ceiling a worker sends at under a shared
   budget, ``Limits.per_host_max_concurrency``).
4. **Reservation overhead** (``reserve``): ``DaskBudget.acquire`` round trips against a
   host without a rate (the scheduler's plugin registered with ``Limits(
   per_host_rate_per_s=None, adaptive=False)`` on a cluster of its own, so it grants at
   once), sequential, after a warm-up; from the driver (as a notebook would) and from a
   task on a worker (as a bucket does; another process than the scheduler's). Target:
   median <= 1 ms (the driver's).

What the targets do not fix is drawn from a seeded generator per seed: the registry's
mean latency (20-150 ms) and jitter (0-50 % of the mean), and the names (random labels
under ``.dev``). Each target runs over ``--seeds`` seeds (the reservation once); the
report gives each seed, the spread and the worst case, and a target counts as met only
if its worst seed meets it.

Usage::

    python benchmarks/distributed_bench.py                 # defaults (~7 minutes)
    python benchmarks/distributed_bench.py --full          # bigger sizes, 3 seeds (~25 min)
    python benchmarks/distributed_bench.py --quick         # tiny, for the smoke test
    python benchmarks/distributed_bench.py --only shared,reserve --seeds 3 --json out.json

``benchmarks/run.py --only distributed`` runs the default sizes as part of ``make bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import math
import os
import random
import signal
import socket
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import polars as pl
import run
from run import BenchError, SimulatorProcess

import rdaplab
from rdaplab.engine import Limits
from rdaplab.simulator import Scenario, Simulator

# The targets are set in run.py, with the other scenarios'.
TARGET_SHARED_RATIO = run.TARGET_DIST_SHARED_RATIO
TARGET_SHARED_THROTTLED = run.TARGET_DIST_THROTTLED_SHARE
TARGET_EGRESS_RATIO = run.TARGET_DIST_EGRESS_RATIO
TARGET_RESERVE_MEDIAN_MS = run.TARGET_DIST_RESERVE_MS

WORKERS = 4
SHARED_RATE, SHARED_BURST = 60.0, 3
EGRESS_RATE, EGRESS_BURST = 10.0, 2
EGRESS_ADDRESSES = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")
KILL_AT = 1 / 3  # of the names answered
RESERVE_HOST = "unlimited.invalid"
TEMPLATE = "google-registry/web.dev.json"
REGISTRY = "hidden"
PARTS = ("reserve", "shared", "egress", "kill")  # the order they run in (kill last)

_SYLLABLES = (
    "ka", "lo", "mi", "ra", "to", "ne", "su", "vi", "da", "po", "ze", "bu", "fi", "go",
    "shop", "tech", "net", "web", "blue", "data", "cloud", "media", "home", "art", "lab",
)  # fmt: skip


@dataclass(frozen=True)
class DistSizes:
    shared_n: int  # names per shared-budget study
    egress_n: int  # names per egress study (each side)
    kill_n: int  # names per killed-worker study
    seeds: int  # seeds per target (reserve: once)
    reserve_calls: int
    reserve_warmup: int
    buckets: int = 16  # 4 per worker


DEFAULT = DistSizes(
    shared_n=3_000, egress_n=400, kill_n=1_500, seeds=2, reserve_calls=500, reserve_warmup=50
)
FULL = DistSizes(
    shared_n=6_000, egress_n=1_600, kill_n=4_000, seeds=3, reserve_calls=2_000, reserve_warmup=100
)
QUICK = DistSizes(
    shared_n=300, egress_n=40, kill_n=300, seeds=1, reserve_calls=100, reserve_warmup=20
)


# --------------------------------------------------------------------------- the scenarios


def draw(seed: int) -> dict[str, float]:
    """What the targets leave open, drawn per seed: the registry's latency."""
    rng = random.Random(f"distributed-{seed}")
    mean = round(rng.uniform(20.0, 150.0), 1)
    return {"mean": mean, "jitter": round(mean * rng.uniform(0.0, 0.5), 1)}


def draw_names(n: int, seed: int) -> list[str]:
    """``n`` distinct seeded names under ``.dev`` (a random label, then a serial)."""
    rng = random.Random(f"distributed-names-{seed}")
    out = []
    for i in range(n):
        label = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 3)))
        out.append(f"{label}{i:05d}.dev")
    rng.shuffle(out)
    return out


def scenario(seed: int, *, rate: float, burst: int, per_client: bool) -> dict[str, Any]:
    limit: dict[str, Any] = {"rate_per_s": rate, "burst": burst}
    if per_client:
        limit["per_client"] = True
    reg = {
        "name": REGISTRY,
        "tlds": ["dev"],
        "template": TEMPLATE,
        "rate_limit": limit,
        "latency_ms": draw(seed),
    }
    return {
        "seed": seed,
        "description": f"distributed bench: one registry, {rate:g}/s"
        + (" per client address" if per_client else ""),
        "registries": [reg],
    }


def lower_bound(scen: dict[str, Any], names: Sequence[str]) -> float:
    return float(Simulator(Scenario.load(scen)).lower_bound(names)["bound_s"])


def sim_stats(sim: SimulatorProcess) -> dict[str, Any]:
    """The registry's counters, from ``GET /_simulator/stats``."""
    url = sim.urls[REGISTRY]
    base = url.split(f"/{REGISTRY}/", 1)[0]
    with urllib.request.urlopen(f"{base}/_simulator/stats", timeout=10) as resp:
        data: dict[str, Any] = json.loads(resp.read())
    return dict(data[REGISTRY])


def _port(sim: SimulatorProcess) -> str:
    return sim.urls[REGISTRY].split("/")[2]  # "127.0.0.1:PORT"


def central_stats(client: Any, sim: SimulatorProcess) -> dict[str, dict[str, Any]]:
    """The scheduler's budget rows for this simulator's host, by scope."""
    from rdaplab.distributed import budget_statistics

    host = _port(sim)
    return {v["scope"]: v for v in budget_statistics(client).values() if v["host"] == host}


def _bindable(addr: str) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((addr, 0))
        except OSError:
            return False
    return True


def _stats(values: Sequence[float]) -> dict[str, float | None]:
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return {"min": None, "median": None, "max": None}
    return {"min": vals[0], "median": statistics.median(vals), "max": vals[-1]}


def _percentile(sorted_vals: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    k = max(0, min(len(sorted_vals) - 1, math.ceil(q * len(sorted_vals)) - 1))
    return sorted_vals[k]


# --------------------------------------------------------------------------- one study


def cluster(n_workers: int) -> Any:
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    )


@dataclass
class StudyRun:
    makespan_s: float  # submit -> the last bucket's done.json
    wall_s: float  # submit -> Study.wait() returned (polls every 50 ms)
    rows: int
    ok: int
    distinct_rows: int
    stored_twice: int  # rows in more than one part (scan keeps one)
    requests: int  # the study's attempts
    throttled: int
    buckets: int
    buckets_failed: dict[str, str]
    ramp_s: float | None  # seconds until a 1 s window reached 90 % of the rate


def run_study(
    client: Any,
    names: list[str],
    store: Path,
    sim: SimulatorProcess,
    *,
    budget: str,
    buckets: int,
    timeout_s: float,
    egress: Sequence[str] | None = None,
    during: Callable[[Any], None] | None = None,
    ramp_rate: float | None = None,
) -> StudyRun:
    """Submit ``names`` as a study, wait, and read back what the store holds."""
    from rdaplab import distributed as rd

    gc.collect()
    t0_wall, t0 = time.time(), time.perf_counter()
    study = rd.submit(
        names,
        client=client,
        store=store,
        buckets=buckets,
        budget=budget,
        egress=list(egress) if egress is not None else None,
        bootstrap=sim.bootstrap,
        learned_limits=False,
    )
    try:
        if during is not None:
            during(study)
        status = study.wait(timeout=timeout_s, poll_s=0.05)
    except TimeoutError:
        study.cancel()
        raise BenchError(f"study at {store} not done within {timeout_s:.0f} s") from None
    wall = time.perf_counter() - t0
    done = [study.store.done(b) for b in study.store.bucket_ids()]
    finished = [d["finished_at"] for d in done if d]
    makespan = (max(finished) - t0_wall) if finished else wall
    queries = rdaplab.scan(store, "queries").collect()
    raw_rows = pl.scan_parquet(study.store.files_of("queries")).select("row").collect()
    attempts = rdaplab.scan(store, "attempts").collect()
    ramp = None
    if ramp_rate is not None and attempts.height:
        ts = attempts["started_at"].dt.epoch("us") / 1e6
        start = float(ts.min())
        counts = sorted(float(t) - start for t in ts)
        j = 0
        for i, t in enumerate(counts):  # sliding 1 s window ending at each send
            while counts[j] < t - 1.0:
                j += 1
            if i - j + 1 >= 0.9 * ramp_rate:
                ramp = round(t, 2)
                break
    return StudyRun(
        makespan_s=makespan,
        wall_s=wall,
        rows=queries.height,
        ok=int((queries["outcome"] == "ok").sum()),
        distinct_rows=queries["row"].n_unique(),
        stored_twice=raw_rows.height - raw_rows["row"].n_unique(),
        requests=attempts.height,
        throttled=int(attempts["throttled"].sum()) if attempts.height else 0,
        buckets=len(done),
        buckets_failed={str(k): v for k, v in status["buckets_failed"].items()},
        ramp_s=ramp,
    )


def _complete(run: StudyRun, n: int, what: str) -> None:
    """A makespan or a throughput is void unless every row was answered ok."""
    if run.rows != n or run.ok != n or run.distinct_rows != n or run.buckets_failed:
        raise BenchError(
            f"{what}: {n} names but rows={run.rows} ok={run.ok} distinct={run.distinct_rows} "
            f"failed buckets={run.buckets_failed}"
        )


# --------------------------------------------------------------------------- 1. shared budget


def shared(client: Any, seed: int, n: int, buckets: int, work: Path) -> dict[str, Any]:
    names = draw_names(n, seed)
    scen = scenario(seed, rate=SHARED_RATE, burst=SHARED_BURST, per_client=False)
    bound = lower_bound(scen, names)
    with SimulatorProcess(scen, _fresh(work / f"shared-{seed}")) as sim:
        run = run_study(
            client, names, sim.workdir / "store", sim, budget="cluster", buckets=buckets,
            timeout_s=10 * n / SHARED_RATE + 120, ramp_rate=SHARED_RATE,
        )  # fmt: skip
        stats = sim_stats(sim)
        central = central_stats(client, sim).get("cluster", {})
    _complete(run, n, f"shared seed {seed}")
    return {
        "seed": seed,
        "n": n,
        "latency_ms": scen["registries"][0]["latency_ms"],
        "bound_s": bound,
        "rate_bound_s": n / SHARED_RATE,
        "makespan_s": run.makespan_s,
        "ratio": run.makespan_s / bound,
        "ratio_rate_bound": run.makespan_s / (n / SHARED_RATE),
        "requests": run.requests,
        "throttled": run.throttled,
        "throttled_share": run.throttled / run.requests if run.requests else 0.0,
        "sim_requests": stats["requests"],
        "sim_throttled": stats["throttled"],
        "sim_throttled_share": stats["throttled"] / stats["requests"] if stats["requests"] else 0,
        "learned_rate_per_s": central.get("rate_per_s"),
        "central": _central_summary(central),
        "ramp_s": run.ramp_s,
        "run": asdict(run),
    }


def _central_summary(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("rate_per_s", "phase", "lo_rate_per_s", "hi_rate_per_s", "throttle_events", "cuts")
    more = ("raises", "grants", "refusals", "late_slots", "throttles", "parks", "decisions")
    return {k: row.get(k) for k in (*keys, *more)}


def _fresh(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=False)
    return path


# --------------------------------------------------------------------------- 2. egress


def egress(
    four: Any, one: Any, seed: int, n: int, buckets: int, work: Path, *, first: str
) -> dict[str, Any]:
    # The same work per address on both sides (n names each): throughput that scales with
    # the addresses, not a fixed job split four ways (whose ramp-up and last bucket would
    # be most of a short run).
    all_names = draw_names(n * len(EGRESS_ADDRESSES), seed)
    scen = scenario(seed, rate=EGRESS_RATE, burst=EGRESS_BURST, per_client=True)
    bound_one = lower_bound(scen, all_names[:n])  # one client address
    sides = {"four": (four, list(EGRESS_ADDRESSES)), "one": (one, [EGRESS_ADDRESSES[0]])}
    side_names = {"four": all_names, "one": all_names[:n]}
    order = [first, *(s for s in sides if s != first)]
    out: dict[str, Any] = {
        "seed": seed,
        "n": n,
        "latency_ms": scen["registries"][0]["latency_ms"],
        "bound_one_s": bound_one,
        "order": order,
    }
    for side in order:
        client, addresses = sides[side]
        names = side_names[side]
        with SimulatorProcess(scen, _fresh(work / f"egress-{seed}-{side}")) as sim:
            run = run_study(
                client, names, sim.workdir / "store", sim, budget="egress", buckets=buckets,
                egress=addresses, timeout_s=10 * n / EGRESS_RATE + 120,
            )  # fmt: skip
            stats = sim_stats(sim)
            central = central_stats(client, sim)
        _complete(run, len(names), f"egress seed {seed} ({side})")
        by_client = {a: c["requests"] for a, c in stats["by_client"].items()}
        if set(by_client) != set(addresses):
            raise BenchError(f"egress {side}: requests came from {sorted(by_client)}")
        out[side] = {
            "makespan_s": run.makespan_s,
            "names": len(names),
            "names_per_s": len(names) / run.makespan_s,
            "requests": run.requests,
            "throttled": run.throttled,
            "throttled_share": run.throttled / run.requests if run.requests else 0.0,
            "sim_requests": stats["requests"],
            "sim_throttled": stats["throttled"],
            "by_client": by_client,
            "learned_rate_per_s": {
                scope: row.get("rate_per_s") for scope, row in sorted(central.items())
            },
            "run": asdict(run),
        }
    out["ratio"] = out["four"]["names_per_s"] / out["one"]["names_per_s"]
    return out


# --------------------------------------------------------------------------- 3. worker killed


def kill(client: Any, seed: int, n: int, buckets: int, work: Path) -> dict[str, Any]:
    names = draw_names(n, seed)
    scen = scenario(seed, rate=SHARED_RATE, burst=SHARED_BURST, per_client=False)
    killed: dict[str, Any] = {}
    with SimulatorProcess(scen, _fresh(work / f"kill-{seed}")) as sim:

        def kill_one(study: Any) -> None:
            deadline = time.monotonic() + 10 * n / SHARED_RATE + 60
            while time.monotonic() < deadline and not study.done():
                st = sim_stats(sim)
                if st["requests"] - st["throttled"] >= KILL_AT * n:
                    break
                time.sleep(0.1)
            else:
                raise BenchError(f"kill seed {seed}: the study ended before a third was done")
            pids = client.run(os.getpid)
            busy = {w: list(keys) for w, keys in client.processing().items() if keys}
            victim = sorted(busy)[0] if busy else sorted(pids)[0]
            central = central_stats(client, sim).get("cluster", {})
            st = sim_stats(sim)
            os.kill(pids[victim], signal.SIGKILL)
            killed.update(
                worker=victim,
                pid=pids[victim],
                tasks=busy.get(victim, []),
                at_answered=st["requests"] - st["throttled"],
                at_s=round(time.time() - t_submit[0], 2),
                rate_per_s=central.get("rate_per_s"),
            )

        t_submit = [time.time()]
        run = run_study(
            client, names, sim.workdir / "store", sim, budget="cluster", buckets=buckets,
            timeout_s=10 * n / SHARED_RATE + 180, during=kill_one,
        )  # fmt: skip
        stats = sim_stats(sim)
    rate = killed.get("rate_per_s") or SHARED_RATE
    concurrency = Limits().per_host_max_concurrency
    bound = rate / WORKERS * 1.0 + concurrency
    twice = stats["requests"] - stats["throttled"] - n
    rows_ok = run.rows == n and run.ok == n and run.distinct_rows == n
    return {
        "seed": seed,
        "n": n,
        "latency_ms": scen["registries"][0]["latency_ms"],
        "killed": killed,
        "makespan_s": run.makespan_s,
        "rows": run.rows,
        "ok": run.ok,
        "distinct_rows": run.distinct_rows,
        "stored_twice": run.stored_twice,
        "buckets_failed": run.buckets_failed,
        "rows_once_ok": rows_ok and not run.buckets_failed,
        "sim_requests": stats["requests"],
        "sim_throttled": stats["throttled"],
        "store_attempts": run.requests,  # the killed run's attempts are not in the store
        "fetched_twice": twice,
        "bound": bound,
        "bound_terms": {"rate_share_per_s": rate / WORKERS, "concurrency": concurrency},
        "within_bound": twice <= bound,
    }


# --------------------------------------------------------------------------- 4. reservations


async def _reserve_loop(
    address: str, limits: Limits | None, calls: int, warmup: int
) -> dict[str, Any]:
    from rdaplab.engine.dask_budget import DaskBudget

    budget = DaskBudget(address, limits=limits)
    try:
        for _ in range(warmup):
            await budget.acquire(RESERVE_HOST)
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            await budget.acquire(RESERVE_HOST)
            times.append(time.perf_counter() - t0)
        row = (await budget.statistics()).get(f"cluster|{RESERVE_HOST}", {})
    finally:
        await budget.aclose()
    return {"times_s": times, "rate_per_s": row.get("rate_per_s"), "refusals": row.get("refusals")}


def _reserve_in_task(address: str, calls: int, warmup: int) -> dict[str, Any]:
    """On a worker, in the task's own event loop, as a bucket reserves."""
    return asyncio.run(_reserve_loop(address, None, calls, warmup))


def _summarize_ms(times_s: Sequence[float]) -> dict[str, float]:
    ms = sorted(t * 1000 for t in times_s)
    return {
        "median_ms": statistics.median(ms),
        "p90_ms": _percentile(ms, 0.90),
        "p99_ms": _percentile(ms, 0.99),
        "max_ms": ms[-1],
        "min_ms": ms[0],
    }


def reserve(calls: int, warmup: int) -> dict[str, Any]:
    """Round trips from the driver (its loop; the scheduler runs in this process's IO
    thread, as in any LocalCluster) and from a task on a worker (another process)."""
    import cloudpickle
    from distributed import Client

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    limits = Limits(per_host_rate_per_s=None, adaptive=False)
    with cluster(1) as lc, Client(lc) as client:
        address = client.scheduler.address
        gc.collect()
        driver = asyncio.run(_reserve_loop(address, limits, calls, warmup))  # registers first
        worker = client.submit(_reserve_in_task, address, calls, warmup, pure=False).result()
    if driver["rate_per_s"] is not None or driver["refusals"]:
        raise BenchError(f"reserve: the host was paced ({driver['rate_per_s']}/s), not unlimited")
    return {
        "calls": calls,
        "warmup": warmup,
        "driver": _summarize_ms(driver["times_s"]),
        "worker": _summarize_ms(worker["times_s"]),
    }


# --------------------------------------------------------------------------- the suite


def run_all(
    sizes: DistSizes,
    work: Path,
    *,
    seed_base: int = 1,
    parts: Sequence[str] = PARTS,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every part asked for (in :data:`PARTS` order), with its summary."""
    from distributed import Client

    seeds = list(range(seed_base, seed_base + sizes.seeds))
    res: dict[str, Any] = {"sizes": asdict(sizes), "seeds": seeds, "workers": WORKERS}
    if "egress" in parts and not all(_bindable(a) for a in EGRESS_ADDRESSES):
        raise BenchError(f"egress: {', '.join(EGRESS_ADDRESSES)} are not local addresses here")
    if "reserve" in parts:
        t = time.perf_counter()
        res["reserve"] = reserve(sizes.reserve_calls, sizes.reserve_warmup)
        d = res["reserve"]["driver"]
        log(f"  reserve: median {d['median_ms']:.3f} ms, p90 {d['p90_ms']:.3f} ms "
            f"({time.perf_counter() - t:.0f} s)")  # fmt: skip
    if not set(parts) & {"shared", "egress", "kill"}:
        return summarize(res)
    with cluster(WORKERS) as lc, Client(lc) as client:
        client.wait_for_workers(WORKERS, timeout=120)
        if "shared" in parts:
            res["shared"] = []
            for seed in seeds:
                t = time.perf_counter()
                r = shared(client, seed, sizes.shared_n, sizes.buckets, work)
                res["shared"].append(r)
                log(f"  shared seed {seed}: {r['makespan_s']:.1f} s / bound {r['bound_s']:.1f} s "
                    f"= {r['ratio']:.3f}, throttled {r['throttled_share']:.2%}, learned "
                    f"{r['learned_rate_per_s']}/s ({time.perf_counter() - t:.0f} s)")  # fmt: skip
        if "egress" in parts:
            res["egress"] = []
            with cluster(1) as lc1, Client(lc1) as one:
                one.wait_for_workers(1, timeout=120)
                for i, seed in enumerate(seeds):
                    t = time.perf_counter()
                    first = "four" if i % 2 == 0 else "one"  # drift hits both sides alike
                    r = egress(client, one, seed, sizes.egress_n, sizes.buckets, work, first=first)
                    res["egress"].append(r)
                    log(f"  egress seed {seed}: four {r['four']['makespan_s']:.1f} s, one "
                        f"{r['one']['makespan_s']:.1f} s: {r['ratio']:.2f} x "
                        f"({time.perf_counter() - t:.0f} s)")  # fmt: skip
        if "kill" in parts:
            res["kill"] = []
            for seed in seeds:
                client.wait_for_workers(WORKERS, timeout=120)  # the nanny's restart
                t = time.perf_counter()
                r = kill(client, seed, sizes.kill_n, sizes.buckets, work)
                res["kill"].append(r)
                log(f"  kill seed {seed}: rows once ok {r['rows_once_ok']}, fetched twice "
                    f"{r['fetched_twice']} (bound {r['bound']:.0f}) "
                    f"({time.perf_counter() - t:.0f} s)")  # fmt: skip
    return summarize(res)


def summarize(res: dict[str, Any]) -> dict[str, Any]:
    """The distribution over seeds and the worst case of each target; ``met`` per target."""
    summary: dict[str, Any] = {}
    if res.get("shared"):
        runs = res["shared"]
        worst = max(runs, key=lambda r: r["ratio"])
        worst_t = max(runs, key=lambda r: r["throttled_share"])
        summary["shared"] = {
            "ratio": _stats([r["ratio"] for r in runs]),
            "throttled_share": _stats([r["throttled_share"] for r in runs]),
            "learned_rate_per_s": _stats([r["learned_rate_per_s"] for r in runs]),
            "worst_ratio": worst["ratio"],
            "worst_ratio_seed": worst["seed"],
            "worst_throttled_share": worst_t["throttled_share"],
            "worst_throttled_seed": worst_t["seed"],
            "ratio_met": worst["ratio"] <= TARGET_SHARED_RATIO,
            "throttled_met": worst_t["throttled_share"] <= TARGET_SHARED_THROTTLED,
        }
    if res.get("egress"):
        runs = res["egress"]
        worst = min(runs, key=lambda r: r["ratio"])
        summary["egress"] = {
            "ratio": _stats([r["ratio"] for r in runs]),
            "worst_ratio": worst["ratio"],
            "worst_seed": worst["seed"],
            "met": worst["ratio"] >= TARGET_EGRESS_RATIO,
        }
    if res.get("kill"):
        runs = res["kill"]
        worst = max(runs, key=lambda r: r["fetched_twice"] - r["bound"])
        summary["kill"] = {
            "rows_once_ok": all(r["rows_once_ok"] for r in runs),
            "fetched_twice": _stats([r["fetched_twice"] for r in runs]),
            "worst_fetched_twice": worst["fetched_twice"],
            "worst_bound": worst["bound"],
            "worst_seed": worst["seed"],
            "within_bound": all(r["within_bound"] for r in runs),
        }
    if res.get("reserve"):
        d = res["reserve"]["driver"]
        summary["reserve"] = {**d, "met": d["median_ms"] <= TARGET_RESERVE_MEDIAN_MS}
    res["summary"] = summary
    return res


# --------------------------------------------------------------------------- report


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _lat(r: dict[str, Any]) -> str:
    return f"{r['latency_ms']['mean']:.0f} ± {r['latency_ms']['jitter']:.0f}"


def report(res: dict[str, Any]) -> str:
    """The tables of each part that ran (markdown)."""
    out: list[str] = []
    s = res["summary"]
    if res.get("shared"):
        n = res["shared"][0]["n"]
        out.append(
            f"\n### 6.1 Shared budget, learned: {n:,} names, {WORKERS} workers, budget "
            f'"cluster", one registry at {SHARED_RATE:g}/s (burst {SHARED_BURST}) rdaplab '
            "was not told about\n"
        )
        rows = [
            [
                str(r["seed"]), _lat(r), f"{r['makespan_s']:.1f}", f"{r['bound_s']:.1f}",
                f"{r['ratio']:.3f}", f"{r['ratio_rate_bound']:.3f}",
                f"{r['throttled']:,}/{r['requests']:,} ({r['throttled_share']:.2%})",
                f"{r['sim_throttled']:,}/{r['sim_requests']:,}",
                _num(r["learned_rate_per_s"]), "never" if r["ramp_s"] is None else str(r["ramp_s"]),
            ]
            for r in res["shared"]
        ]  # fmt: skip
        head = ["seed", "latency ms", "makespan s", "bound s", "÷ bound", f"÷ N/{SHARED_RATE:g}",
                "throttled (attempts)", "sim throttled/requests", "learned /s",
                "90 % of rate after s"]  # fmt: skip
        out.append(_table(head, rows))
        d = s["shared"]
        out.append(
            f"\nratio min/median/max {d['ratio']['min']:.3f} / {d['ratio']['median']:.3f} / "
            f"{d['ratio']['max']:.3f} (worst seed {d['worst_ratio_seed']}); throttled worst "
            f"{d['worst_throttled_share']:.2%} (seed {d['worst_throttled_seed']})"
        )
    if res.get("egress"):
        n = res["egress"][0]["n"]
        out.append(
            f"\n### 6.2 Egress: {n:,} names per address, a registry at {EGRESS_RATE:g}/s per client "
            f"address; {WORKERS} workers x 1 address each vs 1 worker x 1 address\n"
        )
        rows = []
        for r in res["egress"]:
            f, o = r["four"], r["one"]
            rows.append(
                [
                    str(r["seed"]), _lat(r), f"{f['makespan_s']:.1f}", f"{f['names_per_s']:.1f}",
                    f"{o['makespan_s']:.1f}", f"{o['names_per_s']:.1f}", f"{r['ratio']:.2f}",
                    f"{f['throttled']}/{f['requests']}, {o['throttled']}/{o['requests']}",
                    r["order"][0],
                ]
            )  # fmt: skip
        head = ["seed", "latency ms", "four s", "four names/s", "one s", "one names/s",
                "four ÷ one", "throttled four, one", "ran first"]  # fmt: skip
        out.append(_table(head, rows))
        d = s["egress"]
        out.append(
            f"\nratio min/median/max {d['ratio']['min']:.2f} / {d['ratio']['median']:.2f} / "
            f"{d['ratio']['max']:.2f} (worst seed {d['worst_seed']})"
        )
    if res.get("kill"):
        n = res["kill"][0]["n"]
        out.append(
            f"\n### 6.3 A worker SIGKILLed at ~⅓: {n:,} names, {WORKERS} workers, budget "
            f'"cluster", {SHARED_RATE:g}/s\n'
        )
        rows = [
            [
                str(r["seed"]), _lat(r), f"{r['killed'].get('at_answered')} @ "
                f"{r['killed'].get('at_s')} s", f"{r['makespan_s']:.1f}",
                f"{r['distinct_rows']:,}/{r['n']:,} ok {r['ok']:,}",
                str(r["stored_twice"]), f"{r['sim_requests']:,}/{r['sim_throttled']}",
                f"{r['store_attempts']:,}", str(r["fetched_twice"]), f"{r['bound']:.1f}",
                "yes" if r["rows_once_ok"] and r["within_bound"] else "NO",
            ]
            for r in res["kill"]
        ]  # fmt: skip
        head = ["seed", "latency ms", "killed at (answered)", "makespan s", "rows in scan",
                "rows stored twice", "sim requests/throttled", "attempts in store",
                "fetched twice", "bound", "ok"]  # fmt: skip
        out.append(_table(head, rows))
        out.append(
            "\nbound = the killed worker's share of the rate (the budget's learned rate at "
            f"the kill ÷ {WORKERS}) × 1 s + its concurrency "
            f"({Limits().per_host_max_concurrency}); attempts in store: rdaplab.scan(store, "
            '"attempts") (the killed run\'s are saved batch by batch; those in flight at the '
            "kill are lost)"
        )
    if res.get("reserve"):
        r = res["reserve"]
        out.append(
            f"\n### 6.4 Reservation overhead: {r['calls']} sequential DaskBudget.acquire after "
            f"{r['warmup']} warm-up, unlimited host\n"
        )
        rows = [
            [side, *(f"{r[side][k]:.3f}" for k in ("median_ms", "p90_ms", "p99_ms", "max_ms"))]
            for side in ("driver", "worker")
        ]
        out.append(_table(["from", "median ms", "p90 ms", "p99 ms", "max ms"], rows))
    return "\n".join(out)


def targets(res: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(target, measured, met) per target of the parts that ran (worst seed)."""
    s = res["summary"]
    rows: list[tuple[str, str, bool]] = []
    if "shared" in s:
        d = s["shared"]
        rows.append(
            (
                f"shared budget: makespan ≤ {TARGET_SHARED_RATIO} × lower bound (worst seed)",
                f"{d['worst_ratio']:.3f} × (seed {d['worst_ratio_seed']}; median "
                f"{d['ratio']['median']:.3f})",
                d["ratio_met"],
            )
        )
        rows.append(
            (
                f"shared budget: throttled ≤ {TARGET_SHARED_THROTTLED:.0%} of requests",
                f"max {d['worst_throttled_share']:.2%} (seed {d['worst_throttled_seed']})",
                d["throttled_met"],
            )
        )
    if "egress" in s:
        d = s["egress"]
        rows.append(
            (
                f"egress: {WORKERS} addresses ≥ {TARGET_EGRESS_RATIO} × one's names/s",
                f"{d['worst_ratio']:.2f} × (worst, seed {d['worst_seed']}; median "
                f"{d['ratio']['median']:.2f})",
                d["met"],
            )
        )
    if "kill" in s:
        d = s["kill"]
        rows.append(
            (
                "worker killed: every row in scan(store) once, ok",
                "yes" if d["rows_once_ok"] else "NO",
                d["rows_once_ok"],
            )
        )
        rows.append(
            (
                "worker killed: fetched twice ≤ rate share × 1 s + concurrency",
                f"{d['worst_fetched_twice']} ≤ {d['worst_bound']:.1f} (worst, seed "
                f"{d['worst_seed']})",
                d["within_bound"],
            )
        )
    if "reserve" in s:
        d = s["reserve"]
        rows.append(
            (
                f"reservation round trip median ≤ {TARGET_RESERVE_MEDIAN_MS:.0f} ms",
                f"{d['median_ms']:.3f} ms (p90 {d['p90_ms']:.3f} ms)",
                d["met"],
            )
        )
    return rows


def result_lines(res: dict[str, Any]) -> list[str]:
    """``RESULT distributed.<part> key=value ...``: one line per part (target group)."""
    s = res["summary"]
    lines = []
    if "shared" in s:
        d = s["shared"]
        lines.append(
            f"RESULT distributed.shared n={res['shared'][0]['n']} seeds={len(res['shared'])} "
            f"ratio_median={d['ratio']['median']:.3f} ratio_worst={d['worst_ratio']:.3f} "
            f"throttled_worst={d['worst_throttled_share']:.4f} "
            f"learned_rate_median={_num(d['learned_rate_per_s']['median'])} "
            f"target_met={d['ratio_met'] and d['throttled_met']}"
        )
    if "egress" in s:
        d = s["egress"]
        lines.append(
            f"RESULT distributed.egress n={res['egress'][0]['n']} seeds={len(res['egress'])} "
            f"ratio_median={d['ratio']['median']:.3f} ratio_worst={d['worst_ratio']:.3f} "
            f"target_met={d['met']}"
        )
    if "kill" in s:
        d = s["kill"]
        lines.append(
            f"RESULT distributed.kill n={res['kill'][0]['n']} seeds={len(res['kill'])} "
            f"rows_once_ok={d['rows_once_ok']} fetched_twice_worst={d['worst_fetched_twice']} "
            f"bound={d['worst_bound']:.1f} target_met={d['rows_once_ok'] and d['within_bound']}"
        )
    if "reserve" in s:
        d = s["reserve"]
        lines.append(
            f"RESULT distributed.reserve calls={res['reserve']['calls']} "
            f"median_ms={d['median_ms']:.3f} p90_ms={d['p90_ms']:.3f} "
            f"worker_median_ms={res['reserve']['worker']['median_ms']:.3f} target_met={d['met']}"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="rdaplab on Dask: the four targets of the issue.")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true", help="bigger sizes, 3 seeds (~25 min)")
    size.add_argument("--quick", action="store_true", help="tiny sizes (smoke)")
    p.add_argument("--seeds", type=int, help="seeds per target (default 2, full 3, quick 1)")
    p.add_argument("--seed-base", type=int, default=1, help="the first seed")
    p.add_argument("--only", metavar="LIST", help=f"parts to run (default {','.join(PARTS)})")
    p.add_argument("--json", metavar="PATH", help="also write every number as JSON")
    args = p.parse_args(argv)
    sizes = FULL if args.full else QUICK if args.quick else DEFAULT
    if args.seeds:
        sizes = DistSizes(**(asdict(sizes) | {"seeds": args.seeds}))
    parts = [s.strip() for s in (args.only or ",".join(PARTS)).split(",") if s.strip()]
    if set(parts) - set(PARTS):
        p.error(f"--only: choose from {','.join(PARTS)}")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rdaplab-dist-bench-") as tmp:
        res = run_all(sizes, Path(tmp), seed_base=args.seed_base, parts=parts)
    res["total_s"] = round(time.perf_counter() - t0, 1)
    print(report(res))
    rows = targets(res)
    print("\n" + _table(["target", "measured", "met"],
                        [[t, m, "yes" if ok else "NO"] for t, m, ok in rows]))  # fmt: skip
    print()
    for line in result_lines(res):
        print(line)
    print(f"\ntotal {res['total_s']:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2, default=str) + "\n")
    return 0 if all(ok for _, _, ok in rows) else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
