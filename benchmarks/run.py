#!/usr/bin/env python
"""rdaplab benchmarks (``make bench``): the scenarios of the scheduler issues.

1. scheduler: 22 simulated registries with hidden limits, 5,000 names; rdaplab's makespan
   over the lower bound and throttled share, next to the classic chunked baseline
   (``scheduler_bench.py``; ~2 min for rdaplab, ~15 min for the baseline);
1b. generated: 30 seeded random scenarios (``generated.py``, issue 11): the distribution
   of makespan over the lower bound, the throttled share of each, blocks (~25 min);
2. client: rdaplab end to end vs a bare aiohttp GET loop, zero-latency registry (< 1 min);
3. warm: 100,000 cached names replayed to frames, and normalization docs/s (``warm.py``);
4. memory: streaming 100,000 and 1,000,000 names, peak RSS of each (``memory.py``;
   ~20 min);
5. jobs: the same names as a plain stream, as a job run by a worker, and through the
   service's ``POST /batch-lookup`` (``jobs_bench.py``, issue 13; < 1 min);
6. distributed: rdaplab on a 4-worker Dask LocalCluster (``distributed_bench.py``, issue
   "Past one machine on Dask"): a learned shared budget's makespan and throttles, egress
   addresses' throughput, a worker SIGKILLed mid-study, the reservation round trip (~7 min).

Every simulator runs as a separate process, so the server's CPU is not charged to the
client. Comparisons are made within one run: the machine is noisy, read the ratios.

Usage::

    python benchmarks/run.py                      # the full suite (~70 minutes)
    python benchmarks/run.py --only generated --scenarios 10 --seed-base 100
    python benchmarks/run.py --quick              # tiny sizes, targets not enforced (~1 min)
    python benchmarks/run.py --only client,warm   # some scenarios
    python benchmarks/run.py --no-baseline        # skip the chunked baseline (~15 min)
    python benchmarks/run.py --json results.json  # also write every number
    python benchmarks/run.py --report-only        # exit 0 even when a target is missed

Exit status: 0 when every target was met (or not enforced: ``--quick``, ``--report-only``),
1 when a target was missed, 2 when a benchmark is invalid (it did not do what it
measures, e.g. wrong answer counts, or crashed): its numbers are void.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import functools
import gc
import io
import json
import os
import platform
import pstats
import queue
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

import rdaplab
from rdaplab.engine import Limits

# Sibling modules; benchmarks/ is on sys.path when this file runs as a script, not when
# a test imports it by path. memory.py imports this module, so it is imported lazily.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import generated as gen  # noqa: E402
import jobs_bench as jb  # noqa: E402
import scheduler_bench as sb  # noqa: E402
import warm as wm  # noqa: E402

T = TypeVar("T")

SCENARIOS = ("scheduler", "generated", "client", "warm", "memory", "jobs", "distributed")

# Targets from the scheduler issue.
TARGET_MAKESPAN_RATIO = 1.15  # rdaplab makespan <= 1.15 x the lower bound
TARGET_THROTTLED_SHARE = 0.02  # throttled answers <= 2 % of requests
TARGET_CLIENT_RATIO = 0.50  # rdaplab end-to-end lookups/s >= 50 % of a bare aiohttp loop
TARGET_REPLAY_NAMES = 100_000  # ... names replayed from the cache in
TARGET_REPLAY_S = 5.0  # ... at most this many seconds
TARGET_NORMALIZE_DOCS_PER_S = 100_000.0
TARGET_PEAK_MB = 400.0  # streaming 1,000,000 names
# Issue 13 (set here; measured 0.97 and 1.01, 0.96 and 0.98 in two runs on 5,000 names):
# a job and a batch-lookup cost little over the stream they run; the first NDJSON row
# comes within a second.
TARGET_JOB_RATIO = 0.90  # a job's names/s >= 0.9 x the plain stream's
TARGET_BATCH_LOOKUP_RATIO = 0.85  # POST /batch-lookup names/s >= 0.85 x the stream's
TARGET_FIRST_ROW_S = 1.0
TARGET_MEMORY_RATIO = 1.2  # ... within 1.2 x the peak at 100,000
# Issue "Past one machine on Dask" (distributed_bench.py; each met by its worst seed):
TARGET_DIST_SHARED_RATIO = 1.25  # 4 workers, one learned budget: makespan <= 1.25 x bound
TARGET_DIST_THROTTLED_SHARE = 0.01  # ... and throttled <= 1 % of requests
TARGET_DIST_EGRESS_RATIO = 3.5  # 4 egress addresses >= 3.5 x the names/s of one
TARGET_DIST_RESERVE_MS = 1.0  # DaskBudget.acquire round trip, median

# Zero latency, no limits, no faults: the client is the only thing measured.
SCENARIO: dict[str, Any] = {
    "seed": 7,
    "description": "rdaplab client overhead: one zero-latency registry without limits",
    "registries": [{"name": "fast", "tlds": ["dev"], "template": "google-registry/web.dev.json"}],
}


class BenchError(RuntimeError):
    """A benchmark did not do what it measures (wrong counts): its numbers are void."""


@dataclass(frozen=True)
class Sizes:
    n: int  # client overhead: names per measured run
    concurrency: int
    repeats: int  # client overhead: alternating runs of each side; the best is kept
    warmup: int  # names fetched (by both sides) before anything is measured
    sched_n: int  # scheduler: names
    warm_n: int  # warm: names replayed from the cache
    docs_n: int  # warm: documents for the normalization throughput
    memory_sizes: tuple[int, ...]  # memory: names per streaming run (smallest first)
    jobs_n: int = jb.DEFAULT_N  # jobs: names per side and run
    gen_scenarios: int = gen.DEFAULT_SCENARIOS  # generated: how many seeded scenarios
    dist_quick: bool = False  # distributed: distributed_bench.QUICK sizes, else DEFAULT


DEFAULT_SIZES = Sizes(
    n=5_000,
    concurrency=16,
    repeats=3,
    warmup=300,
    sched_n=sb.DEFAULT_N,
    warm_n=TARGET_REPLAY_NAMES,
    docs_n=20_000,
    memory_sizes=(100_000, 1_000_000),
)
QUICK_SIZES = Sizes(
    n=300,
    concurrency=8,
    repeats=1,
    warmup=50,
    sched_n=sb.QUICK_N,
    warm_n=3_000,
    docs_n=2_000,
    memory_sizes=(5_000, 15_000),  # what memory.streaming_memory(quick=True) runs
    gen_scenarios=gen.QUICK_SCENARIOS,  # tiny ones (generate(seed, quick=True))
    jobs_n=jb.QUICK_N,
    dist_quick=True,
)


# --------------------------------------------------------------------------- simulator process


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


class SimulatorProcess:
    """``rdaplab simulate`` in a child process: the server gets its own core and GIL."""

    def __init__(self, scenario: dict[str, Any], workdir: Path) -> None:
        self.workdir = workdir
        self.scenario_path = workdir / "scenario.json"
        self.scenario_path.write_text(json.dumps(scenario), encoding="utf-8")
        self.bootstrap = workdir / "bootstrap"
        self.urls: dict[str, str] = {}
        self._proc: subprocess.Popen[str] | None = None
        self._stderr = workdir / "simulator.stderr"

    def __enter__(self) -> SimulatorProcess:
        cmd = [sys.executable, "-m", "rdaplab", "simulate", "--scenario", str(self.scenario_path)]
        cmd += ["--port", "0", "--bootstrap-out", str(self.bootstrap)]
        with self._stderr.open("w") as err:
            self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        assert self._proc.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        stdout = self._proc.stdout

        # A reader thread lets us wait for readiness with a deadline (readline blocks).
        def pump() -> None:
            for line in stdout:
                lines.put(line)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + 60
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                self.__exit__()
                raise BenchError("the simulator did not start within 60 s") from None
            if line.startswith("bootstrap written"):
                return self
            url = line.split("\t", 1)[0].strip()
            if url.startswith("http://"):
                self.urls[url.rstrip("/").rsplit("/", 1)[-1]] = url
            if self._proc.poll() is not None:
                self.__exit__()
                raise BenchError(f"the simulator exited: {self._stderr.read_text()[-2000:]}")

    def __exit__(self, *exc: object) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()  # SIGTERM: run_forever stops cleanly
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def cpu_seconds(self) -> float | None:
        return _cpu_seconds(self._proc.pid) if self._proc is not None else None


@dataclass
class Timed:
    """Wall and CPU seconds of one measured run (client = this process, all threads)."""

    wall_s: float
    client_cpu_s: float
    server_cpu_s: float | None

    def server_busy(self) -> float | None:
        return None if self.server_cpu_s is None else self.server_cpu_s / self.wall_s


async def timed(sim: SimulatorProcess, fn: Callable[[], Awaitable[T]]) -> tuple[T, Timed]:
    gc.collect()  # garbage of the previous run must not be collected during this one
    s0, c0, t0 = sim.cpu_seconds(), time.process_time(), time.perf_counter()
    out = await fn()
    wall, cpu, s1 = time.perf_counter() - t0, time.process_time() - c0, sim.cpu_seconds()
    server = None if s0 is None or s1 is None else s1 - s0
    return out, Timed(wall, cpu, server)


@contextlib.contextmanager
def profiled(path: Path | None) -> Iterator[None]:
    """cProfile the block into ``path`` (no-op for None)."""
    if path is None:
        yield
        return
    prof = cProfile.Profile()
    prof.enable()
    try:
        yield
    finally:
        prof.disable()
        prof.dump_stats(str(path))


def top_functions(path: Path, limit: int = 12) -> str:
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.sort_stats("tottime").print_stats(limit)
    return out.getvalue()


# --------------------------------------------------------------------------- client overhead


async def bare_loop(base_url: str, names: Sequence[str], concurrency: int) -> int:
    """The floor: C workers doing GET + read on one aiohttp session. Returns 200 answers."""
    headers = {"Accept": "application/rdap+json, application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    ok = 0
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        todo = iter(names)

        async def worker() -> None:
            nonlocal ok
            for name in todo:
                async with session.get(f"{base_url}domain/{name}") as resp:
                    await resp.read()
                    ok += resp.status == 200

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok


def unpaced(concurrency: int) -> Limits:
    return Limits(
        per_host_rate_per_s=None, per_host_concurrency=concurrency, max_concurrency=concurrency
    )


async def rdaplab_run(
    names: Sequence[str], cache: Path, bootstrap: Path, limits: Limits
) -> rdaplab.LookupResult:
    return await rdaplab.lookup_async(
        list(names), cache=cache, bootstrap=bootstrap, limits=limits, progress=False
    )


def _check(result: rdaplab.LookupResult, *, ok: int, requests: int | None, what: str) -> None:
    s = result.summary
    if s["ok"] != ok or (requests is not None and s["requests"] != requests):
        raise BenchError(
            f"{what}: expected ok={ok} requests={requests}, got ok={s['ok']} "
            f"requests={s['requests']} errors={s['error_kinds']}"
        )


async def client_overhead(sizes: Sizes, tmp: Path, profile_dir: Path | None) -> dict[str, Any]:
    """rdaplab end to end vs a bare aiohttp loop, same C, same zero-latency registry."""
    with SimulatorProcess(SCENARIO, tmp) as sim:
        base, boot, c = sim.urls["fast"], sim.bootstrap, sizes.concurrency
        names = [f"co-{i:07d}.dev" for i in range(sizes.n)]
        limits = unpaced(c)

        # Warm-up (not measured): imports, connection set-up, DuckDB's first file, caches.
        warm = [f"warmup-{i:05d}.dev" for i in range(sizes.warmup)]
        await bare_loop(base, warm, c)
        await rdaplab_run(warm, tmp / "co-warmup.duckdb", boot, limits)

        bare: list[Timed] = []
        ours: list[Timed] = []
        for rep in range(sizes.repeats):
            # Alternate the sides so drift on a noisy machine hits both alike.
            got, t = await timed(sim, lambda: bare_loop(base, names, c))
            if got != len(names):
                raise BenchError(f"bare loop: {got} of {len(names)} answers were 200")
            bare.append(t)
            run = functools.partial(rdaplab_run, names, tmp / f"co-{rep}.duckdb", boot, limits)
            result, t = await timed(sim, run)
            _check(result, ok=len(names), requests=len(names), what="client overhead")
            ours.append(t)

        if profile_dir is not None:
            with profiled(profile_dir / "client_overhead.prof"):
                await rdaplab_run(names, tmp / "co-profile.duckdb", boot, limits)

    best_bare = min(bare, key=lambda t: t.wall_s)
    best_ours = min(ours, key=lambda t: t.wall_s)
    n = len(names)
    bare_cpu = min(t.client_cpu_s for t in bare) / n
    ours_cpu = min(t.client_cpu_s for t in ours) / n
    ratio = best_bare.wall_s / best_ours.wall_s  # = rdaplab lookups/s ÷ bare lookups/s
    return {
        "n": n,
        "concurrency": c,
        "repeats": sizes.repeats,
        "bare_per_s": n / best_bare.wall_s,
        "rdaplab_per_s": n / best_ours.wall_s,
        "ratio": ratio,
        "bare_cpu_us_per_name": bare_cpu * 1e6,
        "rdaplab_cpu_us_per_name": ours_cpu * 1e6,
        "cpu_ratio": bare_cpu / ours_cpu,
        "bare_server_busy": best_bare.server_busy(),
        "rdaplab_server_busy": best_ours.server_busy(),
        "target_met": ratio >= TARGET_CLIENT_RATIO,
        "runs": {"bare": [asdict(t) for t in bare], "rdaplab": [asdict(t) for t in ours]},
    }


# --------------------------------------------------------------------------- the other three


async def scheduler(
    sizes: Sizes, tmp: Path, *, quick: bool, baseline: bool, seed: int
) -> dict[str, Any]:
    """``scheduler_bench.scheduler_efficiency`` plus the counts that make it valid.

    The makespan only means something if rdaplab answered every name it could: a client
    that gives up on throttled names finishes early. So the live names (not under the
    dead registry) must all end ``ok`` or ``not_found`` (the ``nx-`` ones).
    """
    n = sizes.sched_n
    res = await sb.scheduler_efficiency(tmp, n=n, quick=quick, seed=seed, baseline=baseline)
    names = sb.bench_names(n, seed)  # the same list (seeded) the benchmark looked up
    raw = sb.load_scenario(quick=quick)
    regs = raw["registries"]
    dead_tlds = {t for r in regs if r.get("dead") for t in r.get("tlds", [])}
    live = [name for name in names if name.rsplit(".", 1)[-1] not in dead_tlds]
    nx = sum(name.startswith("nx-") for name in live)
    ours = res["rdaplab"]
    if ours["ok"] + ours["not_found"] + ours["errors"] != n or ours["requests"] < len(live):
        raise BenchError(
            f"scheduler: {n} names but ok={ours['ok']} not_found={ours['not_found']} "
            f"errors={ours['errors']} requests={ours['requests']}"
        )
    res["registries"] = sum(1 for r in regs if r.get("role") != "registrar" and not r.get("dead"))
    res["registrars"] = sum(1 for r in regs if r.get("role") == "registrar")
    res["live_names"] = len(live)
    res["nx_names"] = nx
    res["rdaplab"]["complete"] = ours["ok"] == len(live) - nx and ours["not_found"] == nx
    return res


async def warm(sizes: Sizes, tmp: Path) -> dict[str, Any]:
    """``warm.warm_replay_100k`` (the real size) and ``warm.normalize_throughput``."""
    replay = await wm.warm_replay_100k(tmp, n=sizes.warm_n)
    docs = await wm.render_bodies([f"tp-{i:07d}.dev" for i in range(sizes.docs_n)])
    norm = wm.normalize_throughput(docs)
    if norm["n"] != sizes.docs_n:
        raise BenchError(f"normalization: {norm['n']} of {sizes.docs_n} documents")
    return {"replay": replay, "normalize": norm}


def generated(sizes: Sizes, tmp: Path, *, quick: bool, seed_base: int) -> dict[str, Any]:
    """``generated.run_suite`` over seeds ``seed_base ..``, and the distribution.

    A scenario whose live names were not all answered (or that hit its time limit) is
    invalid: it has no ratio and fails the "every scenario valid" target, but the others
    still count (one bad draw must not void thirty numbers).
    """
    seeds = list(range(seed_base, seed_base + sizes.gen_scenarios))
    runs = gen.run_suite(seeds, tmp, quick=quick, log=lambda line: print(line, flush=True))
    if not runs:
        raise BenchError("generated: no scenario ran")
    return {"quick": quick, "seeds": seeds, "summary": gen.summarize(runs), "runs": runs}


def memory(sizes: Sizes, tmp: Path, *, quick: bool) -> dict[str, Any]:
    """``memory.streaming_memory``: each size streamed in its own child process."""
    import memory as mem  # here, not at the top: memory.py imports this module

    res = mem.streaming_memory(tmp, sizes=sizes.memory_sizes, quick=quick)
    if set(res["sizes"]) != set(sizes.memory_sizes):
        raise BenchError(f"memory: ran sizes {sorted(res['sizes'])}, not {sizes.memory_sizes}")
    return res


async def jobs(sizes: Sizes, tmp: Path) -> dict[str, Any]:
    """``jobs_bench.jobs_overhead`` against the zero-latency registry in its own process."""
    with SimulatorProcess(SCENARIO, tmp) as sim:
        try:
            return await jb.jobs_overhead(
                tmp, sim.bootstrap, n=sizes.jobs_n, concurrency=sizes.concurrency,
                repeats=sizes.repeats,
            )  # fmt: skip
        except ValueError as exc:
            raise BenchError(str(exc)) from exc


def distributed(sizes: Sizes, tmp: Path) -> dict[str, Any]:
    """``distributed_bench.run_all``: its four parts on Dask LocalClusters of this machine.

    A study that did not answer every name ok (shared budget, egress) raises BenchError
    there: its makespan is void. The killed worker's rows are a target, not validity.
    """
    import distributed_bench as db  # here, not at the top: distributed_bench imports run

    dist_sizes = db.QUICK if sizes.dist_quick else db.DEFAULT
    return db.run_all(dist_sizes, tmp, log=lambda line: print(line, flush=True))


# --------------------------------------------------------------------------- report


def _fmt(value: float | None, spec: str = ",.0f") -> str:
    return "n/a" if value is None else format(value, spec)


def _pct(value: float | None, spec: str = ".0%") -> str:
    return "n/a" if value is None else format(value, spec)


def _share(part: float, whole: float) -> str:
    return f"{part / whole:.0%}" if whole > 0 else ""


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


def report_scheduler(res: dict[str, Any]) -> str:
    out = [
        f"\n## 1. Scheduler efficiency: {res['n']:,} names, {res['registries']} registries "
        f"with hidden limits (+ {res['registrars']} registrars, 1 dead), lower bound "
        f"{res['bound_s']:.1f} s{' (quick: rates x4, latencies / 4)' if res['quick'] else ''}\n"
    ]
    sides = [("rdaplab (default settings)", res["rdaplab"])]
    if res["baseline"] is not None:
        sides.append(("chunked baseline (10 names, 3 in flight, sleep)", res["baseline"]))
    rows = [
        [
            label,
            f"{s['makespan_s']:.1f}",
            _fmt(s["ratio_to_bound"], ".2f"),
            f"{s['requests']:,}",
            f"{s['throttled']:,}",
            _pct(s["throttled_share"], ".1%"),
            str(s["blocks"]),
            f"{s['ok']:,}",
            f"{s['not_found']:,}",
            f"{s['errors']:,}",
        ]
        for label, s in sides
    ]
    head = ["client", "makespan s", "÷ bound", "requests", "throttled", "throttled ÷ requests"]
    out.append(_table([*head, "blocks", "ok", "not found", "errors"], rows))
    if res["baseline"] is None:
        out.append("\nchunked baseline: skipped (--no-baseline)")
    out.append(
        f"\nlive names {res['live_names']:,} ({res['nx_names']} not registered); "
        f"rdaplab errors by kind: {res['rdaplab']['error_kinds'] or 'none'}"
    )

    def cell(row: dict[str, Any], side: str) -> str:
        st = row.get(side)
        return "-" if not st else f"{st['requests']}/{st['throttled']}/{st['blocks']}"

    host_rows = [
        [
            r["registry"],
            r["binding"] or "-",
            str(r["needed"]),
            f"{r['bound_s']:.1f}",
            cell(r, "rdaplab"),
            cell(r, "baseline"),
        ]
        for r in res["per_host"]
    ]
    out.append("\nper registry (requests/throttled/blocks seen by the simulator):\n")
    out.append(
        _table(
            ["registry", "binding", "needed", "bound s", "rdaplab r/t/b", "baseline r/t/b"],
            host_rows,
        )
    )
    return "\n".join(out)


def report_generated(res: dict[str, Any]) -> str:
    d = res["summary"]
    out = [
        f"\n## 1b. Generated scenarios: {d['scenarios']} seeded random scenarios "
        f"(seeds {res['seeds'][0]}..{res['seeds'][-1]}{', quick' if res['quick'] else ''}), "
        "rdaplab with default settings vs each lower bound\n"
    ]
    out.append(gen.report(res["runs"], d))
    return "\n".join(out)


def report_client(co: dict[str, Any]) -> str:
    out = [
        f"\n## 2. Client overhead: {co['n']:,} names, concurrency {co['concurrency']}, "
        f"zero-latency registry (best of {co['repeats']})\n"
    ]
    rows = [
        [
            "bare aiohttp GET loop",
            _fmt(co["bare_per_s"]),
            _fmt(co["bare_cpu_us_per_name"]),
            _pct(co["bare_server_busy"]),
        ],
        [
            "rdaplab lookup_async",
            _fmt(co["rdaplab_per_s"]),
            _fmt(co["rdaplab_cpu_us_per_name"]),
            _pct(co["rdaplab_server_busy"]),
        ],
    ]
    out.append(_table(["client", "lookups/s", "client CPU µs/name", "server CPU busy"], rows))
    out.append(
        f"\nrdaplab ÷ bare: throughput {co['ratio']:.2f}, CPU per name {co['cpu_ratio']:.2f}"
    )
    if (co["bare_server_busy"] or 0) > 0.9:
        out.append(
            "note: the simulator was saturated during the bare loop, so the bare rate is the "
            "server's ceiling and the throughput ratio flatters rdaplab; the CPU ratio does not."
        )
    return "\n".join(out)


def report_warm(res: dict[str, Any]) -> str:
    rp, nm = res["replay"], res["normalize"]
    out = [f"\n## 3. Warm cache: {rp['n']:,} cached names replayed to frames, 0 requests\n"]
    rows = [
        ["fill the cache (not measured)", f"{rp['fill_s']:.2f}", ""],
        ["replay: lookup_async, all from cache", f"{rp['seconds']:.2f}", "100%"],
        *([f"  {label}", f"{secs:.2f}", _share(secs, rp["seconds"])]
          for label, secs in rp["phases_s"].items()),
        ["  rest of lookup_async", f"{rp['phases_other_s']:.2f}",
         _share(rp["phases_other_s"], rp["seconds"])],
    ]  # fmt: skip
    out.append(_table(["phase", "seconds", "share of replay"], rows))
    out.append(
        f"\nreplay: {_fmt(rp['names_per_s'])} names/s; normalization inside it "
        f"{_fmt(rp['docs_per_s'])} docs/s\n"
    )
    n = nm["n"]
    rows = [
        ["normalize_results (batch, as lookup_async)", f"{nm['normalize_s']:.3f}",
         _fmt(nm["docs_per_s"])],
        ["normalize_result (one call per document)", f"{nm['per_call_s']:.3f}",
         _fmt(nm["per_call_docs_per_s"])],
        ["build_frames", f"{nm['frames_s']:.3f}", _fmt(nm["frames_rows_per_s"])],
        ["batch + build_frames (documents -> frames)", f"{nm['normalize_s'] + nm['frames_s']:.3f}",
         _fmt(nm["end_to_end_docs_per_s"])],
    ]  # fmt: skip
    out.append(_table([f"normalization of {n:,} documents (best pass)", "seconds", "docs/s"], rows))
    return "\n".join(out)


def report_memory(res: dict[str, Any]) -> str:
    out = ["\n## 4. Streaming memory: rdaplab.stream over a CSV, one child process per size\n"]
    rows = [
        [
            f"{n:,}",
            f"{r['peak_rss_mb']:.1f}",
            f"{r['wall_s']:.1f}",
            _fmt(r["names_per_s"]),
            str(r["batches"]),
            _fmt(r["cache_mb"]),
        ]
        for n, r in sorted(res["sizes"].items())
    ]
    out.append(_table(["names", "peak RSS MB", "wall s", "names/s", "batches", "cache MB"], rows))
    out.append(f"\npeak RSS largest ÷ smallest: {res['ratio_1m_to_100k']:.2f}")
    return "\n".join(out)


def report_jobs(res: dict[str, Any]) -> str:
    per_s = res["per_s"]
    first = res["first_row_s"]
    return "\n".join(
        [
            f"\n### Jobs and the service ({res['n']:,} names, concurrency "
            f"{res['concurrency']}, best of {res['repeats']})\n",
            _table(
                ["side", "names/s", "÷ stream"],
                [
                    ["rdaplab.stream", _fmt(per_s["stream"]), "1.00"],
                    ["job + worker", _fmt(per_s["job"]), f"{res['job_ratio']:.2f}"],
                    [
                        "POST /batch-lookup (NDJSON)",
                        _fmt(per_s["batch_lookup"]),
                        f"{res['batch_lookup_ratio']:.2f}",
                    ],
                ],
            ),
            f"\nfirst NDJSON row after {_fmt(first, '.2f')} s",
        ]
    )


def report_distributed(res: dict[str, Any]) -> str:
    import distributed_bench as db

    sizes = res["sizes"]
    head = (
        f"\n## 6. Distributed: {res['workers']} Dask workers (LocalCluster), "
        f"{sizes['buckets']} buckets per study, seeds {res['seeds'][0]}..{res['seeds'][-1]}"
    )
    return head + "\n" + db.report(res)


REPORTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "scheduler": report_scheduler,
    "generated": report_generated,
    "client": report_client,
    "warm": report_warm,
    "memory": report_memory,
    "jobs": report_jobs,
    "distributed": report_distributed,
}


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per target of the scenarios that ran: scenario, target, measured, met."""
    rows: list[dict[str, Any]] = []

    def add(scenario: str, target: str, measured: str, met: bool) -> None:
        rows.append({"scenario": scenario, "target": target, "measured": measured, "met": met})

    if "scheduler" in results:
        s = results["scheduler"]
        r = s["rdaplab"]
        ratio = r["ratio_to_bound"]
        add(
            "scheduler",
            f"rdaplab makespan ≤ {TARGET_MAKESPAN_RATIO} × lower bound",
            f"{_fmt(ratio, '.2f')} × ({r['makespan_s']:.1f} s ÷ {s['bound_s']:.1f} s)",
            ratio is not None and ratio <= TARGET_MAKESPAN_RATIO,
        )
        add(
            "scheduler",
            f"rdaplab throttled ≤ {TARGET_THROTTLED_SHARE:.0%} of requests",
            f"{r['throttled_share']:.2%} ({r['throttled']:,} of {r['requests']:,})",
            r["throttled_share"] <= TARGET_THROTTLED_SHARE,
        )
        add(
            "scheduler",
            "rdaplab answers every live name (else the makespan is void)",
            f"{r['ok'] + r['not_found']:,} of {s['live_names']:,}",
            bool(r["complete"]),
        )
    if "generated" in results:
        _generated_targets(results["generated"]["summary"], add)
    if "client" in results:
        co = results["client"]
        add(
            "client",
            f"rdaplab lookups/s ≥ {TARGET_CLIENT_RATIO:.2f} × bare aiohttp loop",
            f"{co['ratio']:.2f} ×",
            co["ratio"] >= TARGET_CLIENT_RATIO,
        )
    if "warm" in results:
        rp, nm = results["warm"]["replay"], results["warm"]["normalize"]
        exact = rp["n"] == TARGET_REPLAY_NAMES
        replay_s = rp["extrapolated_100k_s"]
        add(
            "warm",
            f"{TARGET_REPLAY_NAMES:,} cached names to frames ≤ {TARGET_REPLAY_S:.0f} s",
            f"{replay_s:.2f} s" + ("" if exact else f" (extrapolated from {rp['n']:,})"),
            replay_s <= TARGET_REPLAY_S,
        )
        add(
            "warm",
            f"normalization ≥ {TARGET_NORMALIZE_DOCS_PER_S:,.0f} docs/s (normalize_results)",
            f"{nm['docs_per_s']:,.0f} docs/s",
            nm["docs_per_s"] >= TARGET_NORMALIZE_DOCS_PER_S,
        )
    if "memory" in results:
        m = results["memory"]
        big, small = max(m["sizes"]), min(m["sizes"])
        add(
            "memory",
            f"peak RSS streaming {big:,} names ≤ {TARGET_PEAK_MB:.0f} MB",
            f"{m['peak_mb_1m']:.1f} MB",
            m["peak_mb_1m"] <= TARGET_PEAK_MB,
        )
        add(
            "memory",
            f"peak RSS at {big:,} ≤ {TARGET_MEMORY_RATIO} × peak at {small:,}",
            f"{m['ratio_1m_to_100k']:.2f} ×",
            m["ratio_1m_to_100k"] <= TARGET_MEMORY_RATIO,
        )
    if "jobs" in results:
        j = results["jobs"]
        add(
            "jobs",
            f"a job's names/s ≥ {TARGET_JOB_RATIO:.2f} × the plain stream's",
            f"{j['job_ratio']:.2f} ×",
            j["job_ratio"] >= TARGET_JOB_RATIO,
        )
        add(
            "jobs",
            f"POST /batch-lookup names/s ≥ {TARGET_BATCH_LOOKUP_RATIO:.2f} × the stream's",
            f"{j['batch_lookup_ratio']:.2f} ×",
            j["batch_lookup_ratio"] >= TARGET_BATCH_LOOKUP_RATIO,
        )
        first = j["first_row_s"]
        add(
            "jobs",
            f"first NDJSON row ≤ {TARGET_FIRST_ROW_S:.0f} s",
            f"{_fmt(first, '.2f')} s",
            first is not None and first <= TARGET_FIRST_ROW_S,
        )
    if "distributed" in results:
        _distributed_targets(results["distributed"]["summary"], add)
    return rows


def _distributed_targets(d: dict[str, Any], add: Callable[[str, str, str, bool], None]) -> None:
    """The Dask issue's targets, each met only by its worst seed."""
    sh, eg, kl, rv = d["shared"], d["egress"], d["kill"], d["reserve"]
    add(
        "distributed",
        f"4 workers, learned shared budget: makespan ≤ {TARGET_DIST_SHARED_RATIO} × lower bound",
        f"worst {sh['worst_ratio']:.2f} × (seed {sh['worst_ratio_seed']}); median "
        f"{sh['ratio']['median']:.2f} ×",
        sh["worst_ratio"] <= TARGET_DIST_SHARED_RATIO,
    )
    add(
        "distributed",
        f"4 workers, learned shared budget: throttled ≤ {TARGET_DIST_THROTTLED_SHARE:.0%}",
        f"max {sh['worst_throttled_share']:.2%} (seed {sh['worst_throttled_seed']})",
        sh["worst_throttled_share"] <= TARGET_DIST_THROTTLED_SHARE,
    )
    add(
        "distributed",
        f"4 egress addresses ≥ {TARGET_DIST_EGRESS_RATIO} × one address's names/s",
        f"worst {eg['worst_ratio']:.2f} × (seed {eg['worst_seed']}); median "
        f"{eg['ratio']['median']:.2f} ×",
        eg["worst_ratio"] >= TARGET_DIST_EGRESS_RATIO,
    )
    add(
        "distributed",
        "worker SIGKILLed: every row in scan(store) once, ok",
        "yes" if kl["rows_once_ok"] else "NO",
        bool(kl["rows_once_ok"]),
    )
    add(
        "distributed",
        "worker SIGKILLed: fetched twice ≤ rate share × 1 s + concurrency",
        f"worst {kl['worst_fetched_twice']} ≤ {kl['worst_bound']:.1f} (seed {kl['worst_seed']})",
        bool(kl["within_bound"]),
    )
    add(
        "distributed",
        f"DaskBudget.acquire round trip median ≤ {TARGET_DIST_RESERVE_MS:.0f} ms",
        f"{rv['median_ms']:.3f} ms (p90 {rv['p90_ms']:.3f} ms)",
        rv["median_ms"] <= TARGET_DIST_RESERVE_MS,
    )


def _generated_targets(d: dict[str, Any], add: Callable[[str, str, str, bool], None]) -> None:
    """Issue 11's targets over the generated scenarios (ratios of valid runs only)."""
    n, valid = d["scenarios"], d["valid"]

    def ratio(key: str) -> str:
        return "n/a" if d[key] is None else f"{d[key]:.2f} ×"

    add(
        "generated",
        f"median makespan ≤ {gen.TARGET_MEDIAN} × lower bound",
        ratio("median"),
        d["median"] is not None and d["median"] <= gen.TARGET_MEDIAN,
    )
    add(
        "generated",
        f"90th percentile ≤ {gen.TARGET_P90} × lower bound",
        ratio("p90"),
        d["p90"] is not None and d["p90"] <= gen.TARGET_P90,
    )
    excess = d["worst_excess_s"]
    add(
        "generated",
        f"worst ≤ {gen.TARGET_WORST_RATIO} × bound + {gen.TARGET_WORST_SLACK_S:.0f} s",
        f"{ratio('worst')} (seed {d['worst_seed']}); largest excess "
        + ("n/a" if excess is None else f"{excess:+.1f} s (seed {d['worst_excess_seed']})"),
        bool(d["worst_allowance_met"]),
    )
    share = d["throttled_max"]
    add(
        "generated",
        f"throttled ≤ {gen.TARGET_THROTTLED_SHARE:.0%} of requests in every scenario",
        ("n/a" if share is None else f"max {share:.2%} (seed {d['throttled_max_seed']}); ")
        + f"{len(d['throttled_over_target'])} of {n} over",
        not d["throttled_over_target"],
    )
    add(
        "generated",
        "no host escalates to a block",
        f"{d['blocks']} block(s)"
        + (f" (seeds {d['blocked_seeds']})" if d["blocked_seeds"] else ""),
        d["blocks"] == 0,
    )
    hosts, met = d.get("found_hosts", 0), d.get("found_within_target", 0)
    add(
        "generated",
        f"every rate limit found within 10 % in ≤ {gen.TARGET_FOUND_S:.0f} s of busy traffic "
        f"(hosts busy ≥ {gen.FOUND_BUSY_S:.0f} s)",
        f"{met} of {hosts} (median {d.get('found_median_s')} s, p90 {d.get('found_p90_s')} s, "
        f"never {d.get('found_never', 0)})",
        met == hosts,  # no eligible host (quick runs): nothing missed
    )
    add(
        "generated",
        "every scenario valid (all live names answered within its time limit)",
        f"{valid} of {n}"
        + (f" (invalid seeds {d['invalid_seeds']})" if d["invalid_seeds"] else ""),
        valid == n,
    )


def result_line(scenario: str, res: dict[str, Any] | None, met: bool | None) -> str:
    """``RESULT <scenario> key=value ...``: one machine-readable line (no spaces in values)."""
    if res is None:
        return f"RESULT {scenario} invalid=True"
    kv: dict[str, Any] = {}
    if scenario == "scheduler":
        kv |= {"n": res["n"], "registries": res["registries"], "bound_s": res["bound_s"]}
        for side in ("rdaplab", "baseline"):
            s = res[side]
            if s is None:
                kv["baseline"] = "skipped"
                continue
            kv |= {
                f"{side}_makespan_s": s["makespan_s"],
                f"{side}_ratio": s["ratio_to_bound"],
                f"{side}_throttled_share": s["throttled_share"],
                f"{side}_requests": s["requests"],
                f"{side}_ok": s["ok"],
            }
    elif scenario == "generated":
        d = res["summary"]
        kv |= {
            "scenarios": d["scenarios"],
            "valid": d["valid"],
            "seed_base": res["seeds"][0],
            "median": d["median"],
            "p90": d["p90"],
            "worst": d["worst"],
            "worst_seed": d["worst_seed"],
            "min": d["min"],
            "worst_excess_s": d["worst_excess_s"],
            "throttled_max": d["throttled_max"],
            "throttled_max_seed": d["throttled_max_seed"],
            "blocks": d["blocks"],
            "run_s": d["run_s_total"],
        }
    elif scenario == "client":
        kv |= {
            "n": res["n"],
            "rdaplab_per_s": round(res["rdaplab_per_s"], 1),
            "bare_per_s": round(res["bare_per_s"], 1),
            "ratio": round(res["ratio"], 3),
            "cpu_ratio": round(res["cpu_ratio"], 3),
        }
    elif scenario == "warm":
        rp, nm = res["replay"], res["normalize"]
        kv |= {
            "n": rp["n"],
            "replay_s": round(rp["seconds"], 3),
            "extrapolated_100k_s": round(rp["extrapolated_100k_s"], 3),
            "names_per_s": round(rp["names_per_s"], 1),
            "docs": nm["n"],
            "docs_per_s": round(nm["docs_per_s"], 1),
        }
    elif scenario == "jobs":
        kv |= {
            "n": res["n"],
            "stream_per_s": round(res["per_s"]["stream"], 1),
            "job_ratio": round(res["job_ratio"], 3),
            "batch_lookup_ratio": round(res["batch_lookup_ratio"], 3),
            "first_row_s": res["first_row_s"],
        }
    elif scenario == "distributed":
        d = res["summary"]
        sh, eg, kl, rv = d["shared"], d["egress"], d["kill"], d["reserve"]
        kv |= {
            "shared_n": res["shared"][0]["n"],
            "seeds": len(res["seeds"]),
            "shared_ratio_worst": round(sh["worst_ratio"], 3),
            "shared_ratio_median": round(sh["ratio"]["median"], 3),
            "shared_throttled_worst": round(sh["worst_throttled_share"], 4),
            "egress_n": res["egress"][0]["n"],
            "egress_ratio_worst": round(eg["worst_ratio"], 3),
            "kill_n": res["kill"][0]["n"],
            "kill_rows_once_ok": kl["rows_once_ok"],
            "kill_fetched_twice_worst": kl["worst_fetched_twice"],
            "kill_bound": round(kl["worst_bound"], 1),
            "reserve_median_ms": round(rv["median_ms"], 3),
            "reserve_p90_ms": round(rv["p90_ms"], 3),
        }
    elif scenario == "memory":
        sizes = sorted(res["sizes"])
        kv |= {
            "sizes": ",".join(str(n) for n in sizes),
            **{f"peak_mb_{n}": res["sizes"][n]["peak_rss_mb"] for n in sizes},
            "ratio": res["ratio_1m_to_100k"],
        }
    kv["target_met"] = met
    return f"RESULT {scenario} " + " ".join(f"{k}={v}" for k, v in kv.items())


def exit_status(results: dict[str, Any], *, enforce: bool) -> int:
    """2 if a scenario is invalid, else 1 if an enforced target was missed, else 0."""
    if results.get("invalid"):
        return 2
    if enforce and not all(t["met"] for t in results.get("targets", [])):
        return 1
    return 0


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="rdaplab benchmarks: the four scenarios of the scheduler issue.",
        epilog="Exit status: 0 targets met (or not enforced), 1 a target missed, 2 invalid.",
    )
    p.add_argument("--quick", action="store_true", help="tiny sizes, targets not enforced")
    p.add_argument(
        "--only",
        metavar="LIST",
        help=f"comma-separated scenarios to run (default all: {','.join(SCENARIOS)})",
    )
    p.add_argument("--no-baseline", action="store_true", help="skip the chunked baseline")
    p.add_argument("--json", metavar="PATH", help="also write every number as JSON")
    p.add_argument("--report-only", action="store_true", help="exit 0 when a target is missed")
    p.add_argument("--strict", action="store_true", help=argparse.SUPPRESS)  # the default now
    p.add_argument("--seed", type=int, default=sb.DEFAULT_SEED, help="scheduler name seed")
    p.add_argument(
        "--scenarios",
        dest="gen_scenarios",
        type=int,
        metavar="N",
        help=f"generated: how many seeded scenarios (default {gen.DEFAULT_SCENARIOS}, "
        f"quick {gen.QUICK_SCENARIOS})",
    )
    p.add_argument(
        "--seed-base",
        type=int,
        default=gen.DEFAULT_SEED_BASE,
        help="generated: the first seed (seeds S .. S+N-1)",
    )
    p.add_argument("--n", type=int, help="client overhead: names per run (default 5,000)")
    p.add_argument("--concurrency", type=int, help="client overhead concurrency (default 16)")
    p.add_argument("--repeats", type=int, help="client overhead runs per side (default 3)")
    p.add_argument("--profile", metavar="DIR", help="cProfile rdaplab's client run into DIR")
    args = p.parse_args(argv)
    only = [s.strip() for s in (args.only or ",".join(SCENARIOS)).split(",") if s.strip()]
    unknown = sorted(set(only) - set(SCENARIOS))
    if unknown or not only:
        p.error(f"--only: unknown scenario(s) {unknown}; choose from {','.join(SCENARIOS)}")
    args.scenarios = [s for s in SCENARIOS if s in only]
    base = QUICK_SIZES if args.quick else DEFAULT_SIZES
    args.sizes = Sizes(
        **(
            asdict(base)
            | {
                "n": args.n or base.n,
                "concurrency": args.concurrency or base.concurrency,
                "repeats": args.repeats or base.repeats,
                "gen_scenarios": args.gen_scenarios or base.gen_scenarios,
            }
        )
    )
    return args


def run_scenario(
    name: str, args: argparse.Namespace, tmp: Path, profile_dir: Path | None
) -> dict[str, Any]:
    sizes: Sizes = args.sizes
    work = tmp / name
    work.mkdir(parents=True, exist_ok=True)
    if name == "scheduler":
        return asyncio.run(
            scheduler(sizes, work, quick=args.quick, baseline=not args.no_baseline, seed=args.seed)
        )
    if name == "generated":
        return generated(sizes, work, quick=args.quick, seed_base=args.seed_base)
    if name == "client":
        return asyncio.run(client_overhead(sizes, work, profile_dir))
    if name == "warm":
        return asyncio.run(warm(sizes, work))
    if name == "jobs":
        return asyncio.run(jobs(sizes, work))
    if name == "distributed":
        return distributed(sizes, work)  # synchronous: Dask clients run their own loop
    return memory(sizes, work, quick=args.quick)


def _expected(name: str, args: argparse.Namespace) -> str:
    s: Sizes = args.sizes
    full = not args.quick
    if name == "scheduler":
        if args.no_baseline:
            return f"{s.sched_n:,} names, rdaplab only" + (" (~2 min)" if full else "")
        return f"{s.sched_n:,} names, rdaplab + baseline" + (" (~2 + ~15 min)" if full else "")
    if name == "generated":
        return f"{s.gen_scenarios} seeded scenarios from seed {args.seed_base}" + (
            " (~25 min)" if full else " (tiny)"
        )
    if name == "client":
        return f"{s.n:,} names x {s.repeats} per side" + (" (< 1 min)" if full else "")
    if name == "warm":
        return f"{s.warm_n:,} names replayed, {s.docs_n:,} documents normalized" + (
            " (~1 min)" if full else ""
        )
    if name == "jobs":
        return f"{s.jobs_n:,} names x {s.repeats} per side" + (" (< 1 min)" if full else "")
    if name == "distributed":
        import distributed_bench as db

        d = db.QUICK if s.dist_quick else db.DEFAULT
        return (
            f"{db.WORKERS} Dask workers, {d.seeds} seed(s): {d.shared_n:,} names shared budget, "
            f"{d.egress_n:,} per egress side, {d.kill_n:,} with a worker killed, "
            f"{d.reserve_calls} reservations" + (" (~7 min)" if full else "")
        )
    sizes = " and ".join(f"{n:,}" for n in s.memory_sizes)
    return f"streaming {sizes} names" + (" (~20 min)" if full else "")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    profile_dir = Path(args.profile) if args.profile else None
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "rdaplab": rdaplab.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "quick": args.quick,
        "scenarios": args.scenarios,
        "baseline": not args.no_baseline,
        "seed": args.seed,
        "seed_base": args.seed_base,
        "sizes": asdict(args.sizes),
    }
    print(
        f"rdaplab {meta['rdaplab']} benchmarks, {meta['date']}, Python {meta['python']}, "
        f"{meta['cpu_count']} CPUs{' (quick)' if args.quick else ''}: "
        f"{', '.join(args.scenarios)}",
        flush=True,
    )
    results: dict[str, Any] = {"meta": meta}
    invalid: dict[str, str] = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rdaplab-bench-") as tmp:
        for name in args.scenarios:
            print(f"\n[{time.strftime('%H:%M:%S')}] {name}: {_expected(name, args)}", flush=True)
            started = time.perf_counter()
            try:
                res = run_scenario(name, args, Path(tmp), profile_dir)
            except Exception as exc:  # one void scenario must not lose the others' numbers
                invalid[name] = f"{type(exc).__name__}: {exc}"
                if not isinstance(exc, RuntimeError):  # BenchError and the modules' checks
                    traceback.print_exc()
                print(f"benchmark invalid: {name}: {invalid[name]}", file=sys.stderr, flush=True)
                continue
            res["scenario_s"] = round(time.perf_counter() - started, 1)
            results[name] = res
            print(REPORTS[name](res), flush=True)
    results["invalid"] = invalid
    results["targets"] = rows = targets(results)
    meta["total_s"] = round(time.perf_counter() - t0, 1)

    enforce = not (args.quick or args.report_only)
    print("\n## Targets (scheduler issue)\n")
    if rows:
        print(
            _table(
                ["scenario", "target", "measured", "met"],
                [
                    [t["scenario"], t["target"], t["measured"], "yes" if t["met"] else "NO"]
                    for t in rows
                ],
            )
        )
    if args.quick:
        print("\nquick mode: tiny sizes; targets are reported, not enforced.")
    elif args.report_only:
        print("\n--report-only: targets are reported, not enforced.")
    for name, why in invalid.items():
        print(f"\n{name}: INVALID, no numbers ({why})")
    if profile_dir is not None and "client" in results:
        print("\n## cProfile: rdaplab client run (top by own time)\n")
        print(top_functions(profile_dir / "client_overhead.prof"))

    print()
    for name in args.scenarios:
        mine = [t["met"] for t in rows if t["scenario"] == name]
        print(result_line(name, results.get(name), all(mine) if mine else None))
    print(f"\ntotal {meta['total_s']:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
    status = exit_status(results, enforce=enforce)
    if status == 1:
        print("a target was missed (exit 1; --report-only to exit 0)", file=sys.stderr)
    elif status == 2:
        print(f"invalid benchmark(s): {', '.join(invalid)} (exit 2)", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
