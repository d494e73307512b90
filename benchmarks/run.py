#!/usr/bin/env python
"""rdaplab benchmarks (``make bench``): client overhead, warm cache replay, politeness.

Every comparison is measured side by side in one run of this script, against one loopback
simulator process (``rdaplab simulate``) so that the server has its own CPU and its cost
is not charged to the client. The machine is noisy: read the ratios, not the absolute
rates across runs. See docs/benchmarks.md.

Usage::

    python benchmarks/run.py                      # the default sizes (~2 minutes)
    python benchmarks/run.py --quick              # tiny sizes (the smoke test)
    python benchmarks/run.py --json results.json  # also write the results
    python benchmarks/run.py --profile DIR        # + cProfile of two paths, top functions
    python benchmarks/run.py --strict             # exit 1 when a target is not met
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import functools
import gc
import importlib
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
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

import rdaplab
from rdaplab.bootstrap import Bootstrap
from rdaplab.cache import Cache
from rdaplab.frames import build_frames, normalize_result
from rdaplab.lookup import DEFAULT_MAX_AGE_S, DEFAULT_NOT_FOUND_MAX_AGE_S, _fill_from_cache
from rdaplab.models import NameResult
from rdaplab.scheduler import Limits

T = TypeVar("T")
# The module, not the function ``rdaplab.lookup`` that shadows it on the package.
LOOKUP_MODULE = importlib.import_module("rdaplab.lookup")

# Targets from the scheduler issue; printed, and enforced only with --strict.
TARGET_CLIENT_RATIO = 0.50  # rdaplab end-to-end lookups/s >= 50 % of a bare aiohttp loop
TARGET_REPLAY_NAMES = 100_000  # ... names replayed from the cache in
TARGET_REPLAY_S = 5.0  # ... at most this many seconds
TARGET_NORMALIZE_DOCS_PER_S = 100_000.0

HIDDEN_RATE_PER_S = 20.0  # the politeness registries' hidden token bucket
HIDDEN_BURST = 5

SCENARIO: dict[str, Any] = {
    "seed": 7,
    "description": "rdaplab benchmarks: one fast registry, three with the same hidden limit",
    "registries": [
        # Zero latency, no limits, no faults: the client is the only thing measured.
        {"name": "fast", "tlds": ["dev"], "template": "google-registry/web.dev.json"},
        # One registry per politeness variant, so the variants run concurrently without
        # sharing a token bucket.
        *(
            {
                "name": f"hidden-{tld}",
                "tlds": [tld],
                "template": "nominet/bbc.co.uk.json",
                "rate_limit": {"rate_per_s": HIDDEN_RATE_PER_S, "burst": HIDDEN_BURST},
                "retry_after": "seconds",
                "throttle_style": "429",
                "latency_ms": {"mean": 20, "jitter": 10},
            }
            for tld in ("uk", "fr", "de")
        ),
    ],
}

# (label, TLD of its registry, limits): the politeness variants.
POLITENESS_VARIANTS: tuple[tuple[str, str, Limits], ...] = (
    ("default Limits()", "uk", Limits()),
    ("per_host_rate_per_s=20", "fr", Limits(per_host_rate_per_s=HIDDEN_RATE_PER_S)),
    ("unpaced (rate None)", "de", Limits(per_host_rate_per_s=None)),
)


class BenchError(RuntimeError):
    """A benchmark did not do what it measures (wrong counts): its numbers are void."""


@dataclass(frozen=True)
class Sizes:
    n: int  # client overhead: names per measured run
    warm_n: int  # warm replay: names in the cache
    polite_n: int  # politeness: names per variant
    concurrency: int
    repeats: int  # client overhead: alternating runs of each side; the best is kept
    warmup: int  # names fetched (by both sides) before anything is measured


DEFAULT_SIZES = Sizes(n=5_000, warm_n=20_000, polite_n=300, concurrency=16, repeats=3, warmup=300)
QUICK_SIZES = Sizes(n=300, warm_n=500, polite_n=10, concurrency=8, repeats=1, warmup=50)


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


# Phases of one lookup_async call: (label, owner, attribute). The attributes are looked up
# by lookup_async at call time, so wrapping them times the real run from inside. One that
# no longer exists (a refactor) is skipped, not an error.
_PHASES: tuple[tuple[str, Any, str], ...] = (
    ("open cache (Cache.__init__)", Cache, "__init__"),
    ("Bootstrap.load", Bootstrap, "load"),
    ("normalize_domains", LOOKUP_MODULE, "normalize_domains"),
    ("begin_batch", Cache, "begin_batch"),
    ("Cache.lookup_fresh", Cache, "lookup_fresh"),
    ("normalize_result (per cached answer)", LOOKUP_MODULE, "normalize_result"),
    ("build_frames", LOOKUP_MODULE, "build_frames"),
    ("Cache.attempts", Cache, "attempts"),
    ("summarize", LOOKUP_MODULE, "summarize"),
    ("end_batch", Cache, "end_batch"),
    ("Cache.close", Cache, "close"),
)


@contextlib.contextmanager
def phase_timer() -> Iterator[dict[str, float]]:
    """Time the calls ``lookup_async`` makes (wall seconds per phase); restores them after."""
    present = [(label, owner, attr) for label, owner, attr in _PHASES if attr in vars(owner)]
    spent: dict[str, float] = {label: 0.0 for label, _, _ in present}
    saved: list[tuple[Any, str, Any]] = []

    def wrap(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - t0

        return timed_call

    try:
        for label, owner, attr in present:
            raw = vars(owner)[attr]  # the raw classmethod object, not a bound method
            saved.append((owner, attr, raw))
            if isinstance(raw, classmethod):
                setattr(owner, attr, classmethod(wrap(label, raw.__func__)))
            else:
                setattr(owner, attr, wrap(label, raw))
        yield spent
    finally:
        for owner, attr, raw in reversed(saved):
            setattr(owner, attr, raw)


# --------------------------------------------------------------------------- the two clients


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
            return None

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


# --------------------------------------------------------------------------- scenarios


async def client_overhead(
    sim: SimulatorProcess, sizes: Sizes, tmp: Path, profile_dir: Path | None
) -> dict[str, Any]:
    """Scenario 1: rdaplab end to end vs a bare aiohttp loop, same C, same registry."""
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
        cache = tmp / f"co-{rep}.duckdb"
        result, t = await timed(sim, functools.partial(rdaplab_run, names, cache, boot, limits))
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
    ratio = (n / best_ours.wall_s) / (n / best_bare.wall_s)
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
        "target_ratio": TARGET_CLIENT_RATIO,
        "target_met": ratio >= TARGET_CLIENT_RATIO,
        "runs": {"bare": [asdict(t) for t in bare], "rdaplab": [asdict(t) for t in ours]},
    }


async def warm_replay(
    sim: SimulatorProcess, sizes: Sizes, tmp: Path, profile_dir: Path | None
) -> dict[str, Any]:
    """Scenario 2: a batch answered entirely from the cache, then its phases one by one."""
    boot, c = sim.bootstrap, sizes.concurrency
    names = [f"warm-{i:07d}.dev" for i in range(sizes.warm_n)]
    cache_path = tmp / "warm.duckdb"
    n = len(names)

    result, fill = await timed(sim, lambda: rdaplab_run(names, cache_path, boot, unpaced(c)))
    _check(result, ok=n, requests=n, what="warm replay fill")
    with phase_timer() as phases:
        result, replay = await timed(sim, lambda: rdaplab_run(names, cache_path, boot, unpaced(c)))
    _check(result, ok=n, requests=0, what="warm replay")
    if result.summary["cache_hits"] != n:
        raise BenchError(f"warm replay: {result.summary['cache_hits']} of {n} from the cache")

    if profile_dir is not None:
        with profiled(profile_dir / "warm_replay.prof"):
            await rdaplab_run(names, cache_path, boot, unpaced(c))

    # The phases, called directly the way lookup_async calls them.
    with Cache(cache_path) as cache:
        gc.collect()
        t0 = time.perf_counter()
        hits = cache.lookup_fresh(
            "domain",
            names,
            max_age_s=DEFAULT_MAX_AGE_S,
            not_found_ttl_s=DEFAULT_NOT_FOUND_MAX_AGE_S,
        )
        read_s = time.perf_counter() - t0
    if len(hits) != n:
        raise BenchError(f"Cache.lookup_fresh returned {len(hits)} of {n} names")
    results: dict[str, NameResult] = {}
    for name in names:
        res = NameResult("domain", name, "error", unicode_name=name, tld="dev")
        _fill_from_cache(res, hits[name].responses)
        results[name] = res
    rows: list[tuple[object, str]] = [(name, name) for name in names]

    gc.collect()
    t0 = time.perf_counter()
    normalized = {name: normalize_result(results[name]) for name in names}
    normalize_s = time.perf_counter() - t0

    gc.collect()
    t0 = time.perf_counter()
    frames = build_frames(rows, results, normalized)
    frames_s = time.perf_counter() - t0
    if frames.domains.height != n or frames.domains["registrar"].null_count() == n:
        raise BenchError("build_frames: wrong row count or no registrar parsed")

    replay_100k_s = replay.wall_s * TARGET_REPLAY_NAMES / n  # linear extrapolation
    # Documents in, frames out: what replaying costs after the cache read.
    docs_per_s = n / (normalize_s + frames_s)
    return {
        "n": n,
        "fill_s": fill.wall_s,
        "fill_per_s": n / fill.wall_s,
        "replay_s": replay.wall_s,
        "replay_names_per_s": n / replay.wall_s,
        "replay_cpu_s": replay.client_cpu_s,
        "cache_read_s": read_s,
        "normalize_s": normalize_s,
        "normalize_docs_per_s": n / normalize_s,
        "frames_s": frames_s,
        "frames_rows_per_s": n / frames_s,
        "docs_per_s": docs_per_s,
        "phases_s": dict(phases),
        "phases_other_s": max(0.0, replay.wall_s - sum(phases.values())),
        "extrapolated_100k_s": replay_100k_s,
        "target_replay_met": replay_100k_s <= TARGET_REPLAY_S,
        "target_normalize_met": docs_per_s >= TARGET_NORMALIZE_DOCS_PER_S,
    }


async def politeness(sim: SimulatorProcess, sizes: Sizes, tmp: Path) -> dict[str, Any]:
    """Scenario 3: a hidden 20/s limit; the variants run concurrently, one registry each."""
    n = sizes.polite_n

    async def one(label: str, tld: str, limits: Limits) -> dict[str, Any]:
        names = [f"polite-{i:05d}.{tld}" for i in range(n)]
        t0 = time.perf_counter()
        res = await rdaplab_run(names, tmp / f"polite-{tld}.duckdb", sim.bootstrap, limits)
        makespan = time.perf_counter() - t0
        s = res.summary
        lower = max(0.0, (n - HIDDEN_BURST) / HIDDEN_RATE_PER_S)
        return {
            "limits": label,
            "names": n,
            "ok": s["ok"],
            "rate_limited": s["error_kinds"].get("rate_limited", 0),
            "other_errors": s["error"] - s["error_kinds"].get("rate_limited", 0),
            "requests": s["requests"],
            "throttled": s["throttled"],
            "throttled_ratio": s["throttled"] / s["requests"] if s["requests"] else 0.0,
            "makespan_s": makespan,
            "lower_bound_s": lower,
            "makespan_over_lb": makespan / lower if lower else None,
        }

    gc.collect()
    variants = await asyncio.gather(*(one(*v) for v in POLITENESS_VARIANTS))
    for v in variants:
        if v["ok"] + v["rate_limited"] != n or v["other_errors"]:
            raise BenchError(f"politeness {v['limits']}: unexpected outcomes {v}")
    return {
        "hidden_rate_per_s": HIDDEN_RATE_PER_S,
        "hidden_burst": HIDDEN_BURST,
        "variants": variants,
    }


# --------------------------------------------------------------------------- report


def _fmt(value: float | None, spec: str = ",.0f") -> str:
    return "n/a" if value is None else format(value, spec)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _share(part: float, whole: float) -> str:
    return f"{part / whole:.0%} of replay" if whole > 0 else ""


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


def report(results: dict[str, Any]) -> str:
    out: list[str] = []
    co = results["client_overhead"]
    out.append(
        f"\n## 1. Client overhead: {co['n']:,} names, concurrency {co['concurrency']}, "
        f"zero-latency registry (best of {co['repeats']})\n"
    )
    out.append(
        _table(
            ["client", "lookups/s", "client CPU µs/name", "server CPU busy"],
            [
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
            ],
        )
    )
    out.append(
        f"\nrdaplab ÷ bare: throughput {co['ratio']:.2f}, CPU per name {co['cpu_ratio']:.2f}; "
        f"target throughput ≥ {TARGET_CLIENT_RATIO:.2f}: {_met(co['target_met'])}"
    )
    if (co["bare_server_busy"] or 0) > 0.9:
        out.append(
            "note: the simulator was saturated during the bare loop, so the bare rate is the "
            "server's ceiling and the throughput ratio flatters rdaplab; the CPU ratio does not."
        )

    wr = results["warm_replay"]
    out.append(f"\n## 2. Warm cache replay: {wr['n']:,} names, 0 requests\n")
    rows = [
        ["fill: fetch into an empty cache", f"{wr['fill_s']:.2f}",
         f"{_fmt(wr['fill_per_s'])} names/s"],
        ["replay: lookup_async, all from cache", f"{wr['replay_s']:.2f}",
         f"{_fmt(wr['replay_names_per_s'])} names/s"],
        *([f"  {label}", f"{secs:.2f}", _share(secs, wr["replay_s"])]
          for label, secs in wr["phases_s"].items()),
        ["  rest of lookup_async", f"{wr['phases_other_s']:.2f}",
         _share(wr["phases_other_s"], wr["replay_s"])],
        ["direct: Cache.lookup_fresh", f"{wr['cache_read_s']:.2f}",
         f"{_fmt(wr['n'] / wr['cache_read_s'])} names/s"],
        ["direct: frames.normalize_result", f"{wr['normalize_s']:.2f}",
         f"{_fmt(wr['normalize_docs_per_s'])} docs/s"],
        ["direct: build_frames (records given)", f"{wr['frames_s']:.2f}",
         f"{_fmt(wr['frames_rows_per_s'])} rows/s"],
        ["direct: both (documents -> frames)", f"{wr['normalize_s'] + wr['frames_s']:.2f}",
         f"{_fmt(wr['docs_per_s'])} docs/s"],
    ]  # fmt: skip
    out.append(_table(["phase", "seconds", "rate or share"], rows))
    out.append(
        f"\n{TARGET_REPLAY_NAMES:,} names ≤ {TARGET_REPLAY_S:.0f} s: extrapolated "
        f"{wr['extrapolated_100k_s']:.1f} s, {_met(wr['target_replay_met'])}; "
        f"normalization (documents -> frames) ≥ {TARGET_NORMALIZE_DOCS_PER_S:,.0f} docs/s: "
        f"{_fmt(wr['docs_per_s'])}, {_met(wr['target_normalize_met'])}"
    )

    po = results["politeness"]
    out.append(
        f"\n## 3. Politeness: hidden limit {po['hidden_rate_per_s']:.0f}/s burst "
        f"{po['hidden_burst']}, 429 + Retry-After seconds (variants run concurrently)\n"
    )
    out.append(
        _table(
            [
                "limits",
                "names",
                "ok",
                "rate_limited",
                "requests",
                "throttled ÷ requests",
                "makespan s",
                "lower bound s",
                "makespan ÷ bound",
            ],
            [
                [
                    v["limits"],
                    str(v["names"]),
                    str(v["ok"]),
                    str(v["rate_limited"]),
                    str(v["requests"]),
                    f"{v['throttled_ratio']:.2f}",
                    f"{v['makespan_s']:.1f}",
                    f"{v['lower_bound_s']:.1f}",
                    _fmt(v["makespan_over_lb"], ".2f"),
                ]
                for v in po["variants"]
            ],
        )
    )

    # One machine-readable line per scenario (the smoke test reads these).
    default, matched = po["variants"][0], po["variants"][1]
    out.append("")
    out.append(
        f"RESULT client_overhead rdaplab_per_s={co['rdaplab_per_s']:.1f} "
        f"bare_per_s={co['bare_per_s']:.1f} ratio={co['ratio']:.3f} "
        f"cpu_ratio={co['cpu_ratio']:.3f} target_met={co['target_met']}"
    )
    out.append(
        f"RESULT warm_replay names_per_s={wr['replay_names_per_s']:.1f} "
        f"docs_per_s={wr['docs_per_s']:.1f} "
        f"extrapolated_100k_s={wr['extrapolated_100k_s']:.2f} "
        f"target_met={wr['target_replay_met'] and wr['target_normalize_met']}"
    )
    out.append(
        f"RESULT politeness default_makespan_s={default['makespan_s']:.2f} "
        f"default_throttled_ratio={default['throttled_ratio']:.3f} "
        f"rate20_makespan_s={matched['makespan_s']:.2f} "
        f"rate20_throttled_ratio={matched['throttled_ratio']:.3f}"
    )
    return "\n".join(out)


def targets_met(results: dict[str, Any]) -> bool:
    wr = results["warm_replay"]
    return bool(
        results["client_overhead"]["target_met"]
        and wr["target_replay_met"]
        and wr["target_normalize_met"]
    )


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes (seconds; for tests)")
    p.add_argument("--json", metavar="PATH", help="write the results as JSON")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is not met")
    p.add_argument("--n", type=int, help="client overhead: names per run (default 5,000)")
    p.add_argument("--warm-n", type=int, help="warm replay: names (default 20,000)")
    p.add_argument("--polite-n", type=int, help="politeness: names per variant (default 300)")
    p.add_argument("--concurrency", type=int, help="client overhead concurrency C (default 16)")
    p.add_argument("--repeats", type=int, help="client overhead runs per side (default 3)")
    p.add_argument("--profile", metavar="DIR", help="cProfile two paths into DIR, print tops")
    args = p.parse_args(argv)
    base = QUICK_SIZES if args.quick else DEFAULT_SIZES
    args.sizes = Sizes(
        n=args.n or base.n,
        warm_n=args.warm_n or base.warm_n,
        polite_n=args.polite_n or base.polite_n,
        concurrency=args.concurrency or base.concurrency,
        repeats=args.repeats or base.repeats,
        warmup=base.warmup,
    )
    return args


async def run_all(sizes: Sizes, tmp: Path, profile_dir: Path | None) -> dict[str, Any]:
    with SimulatorProcess(SCENARIO, tmp) as sim:
        step = lambda what: print(f"[{time.strftime('%H:%M:%S')}] {what}", flush=True)  # noqa: E731
        step(f"client overhead: {sizes.n:,} names x {sizes.repeats} per side")
        co = await client_overhead(sim, sizes, tmp, profile_dir)
        step(f"warm cache replay: {sizes.warm_n:,} names")
        wr = await warm_replay(sim, sizes, tmp, profile_dir)
        step(f"politeness: {sizes.polite_n} names x {len(POLITENESS_VARIANTS)} variants")
        po = await politeness(sim, sizes, tmp)
    return {"client_overhead": co, "warm_replay": wr, "politeness": po}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes: Sizes = args.sizes
    profile_dir = Path(args.profile) if args.profile else None
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "rdaplab": rdaplab.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "sizes": asdict(sizes),
    }
    print(
        f"rdaplab {meta['rdaplab']} benchmarks, {meta['date']}, Python {meta['python']}, "
        f"{meta['cpu_count']} CPUs{' (quick)' if args.quick else ''}",
        flush=True,
    )
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rdaplab-bench-") as tmp:
        try:
            results = asyncio.run(run_all(sizes, Path(tmp), profile_dir))
        except BenchError as exc:
            print(f"benchmark invalid: {exc}", file=sys.stderr)
            return 2
    results["meta"] = meta | {"total_s": time.perf_counter() - t0}
    print(report(results))
    if profile_dir is not None:
        for name in ("client_overhead", "warm_replay"):
            print(f"\n## cProfile: {name} (top by own time)\n")
            print(top_functions(profile_dir / f"{name}.prof"))
    print(f"\ntotal {results['meta']['total_s']:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
    if args.strict and not targets_met(results):
        print("--strict: a target was not met", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
