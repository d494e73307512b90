#!/usr/bin/env python
"""Scheduler efficiency: rdaplab's makespan against the lower bound and a chunked baseline.

The scenario (``datasets/scenarios/bench.json``) has 22 live registries with hidden,
different limits (token buckets from 0.5/s to 50/s, concurrency limits that reject or
queue, every throttle style, one escalating to hour-long blocks), 3 registrars reached by
referral and one dead host. :func:`bench_names` spreads names over them roughly in
proportion to what each can serve, so the lower bound (``Simulator.lower_bound``) is set
by several hosts at once. :func:`scheduler_efficiency` runs, against a fresh simulator
process each:

1. ``rdaplab.lookup_async`` with the library's default settings;
2. :func:`chunked_baseline`, the classic notebook loop (chunks of 10 names, 3 in flight,
   sleep 1 s between chunks, sleep ``Retry-After`` on a throttle).

Usage::

    python benchmarks/scheduler_bench.py               # 5,000 names (~20 minutes)
    python benchmarks/scheduler_bench.py --quick       # 300 names, scaled-down scenario
    python benchmarks/scheduler_bench.py --json out.json --no-baseline
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import email.utils
import json
import math
import queue
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp

import rdaplab
from rdaplab._data import datasets_dir
from rdaplab.rdap.decode import related_links
from rdaplab.simulator import Scenario, Simulator

SCENARIO_PATH = datasets_dir() / "scenarios" / "bench.json"
DEFAULT_N = 5_000
QUICK_N = 300
DEFAULT_SEED = 1

# Names per registry ~ what it can serve (min of rate and concurrency / latency) times a
# factor <= 1; factors of ~0.9-1.0 on several registries and on the registrars' referral
# load make the bound a tie between a handful of hosts, not one.
WEIGHTS: dict[str, float] = {
    "verisign": 50 * 0.12,  # thin: each name also costs a registrar request
    "pir": 40 * 0.08,
    "zdns": 35 * 0.08,
    "google-registry": 30 * 0.10,  # 4 concurrent x 100 ms allow 40/s: the rate binds
    "nominet": 10 * 0.95,
    "identity-digital": 8 * 1.00,
    "nominet-cymru": 8 * 0.90,  # 2 concurrent x 250 ms
    "centralnic": 8 * 0.97,  # queueing: 2 concurrent x 250 ms
    "afnic": 6 * 0.90,
    "pir-ngo": 12 * 0.25,
    "norid": 10 * 0.40,
    "cznic": 4 * 0.85,
    "zdns-notice": 3 * 0.70,
    "flexireg": 2.5 * 0.60,
    "uniregistry": 2 * 0.80,
    "verisign-cc": 1.5 * 0.90,
    "flexireg-tatar": 1.2 * 0.70,
    "identity-digital-b": 1 * 1.00,
    "centralnic-b": 0.8 * 0.80,
    "afnic-re": 0.7 * 0.90,
    "norid-sj": 0.6 * 0.60,
    "google-registry-b": 0.5 * 1.00,
    "dead-zip": 0.3,
}
NX_SHARE = 0.03  # names that do not exist (``nx-`` first label): a 404, no referral

# The quick variant: the same registries, faster (so 300 names exercise the same limits
# within seconds), and a shorter pause for the baseline.
QUICK_RATE_SCALE = 4.0
QUICK_LATENCY_SCALE = 0.25
QUICK_SLEEP_S = 0.25

_SYLLABLES = (
    "ka", "lo", "mi", "ra", "to", "ne", "su", "vi", "da", "po", "ze", "bu", "fi", "go",
    "shop", "tech", "net", "web", "blue", "data", "cloud", "media", "home", "art", "lab",
)  # fmt: skip


def load_scenario(*, quick: bool = False) -> dict[str, Any]:
    """The bench scenario as a mapping; ``quick`` scales rates up and latencies down."""
    raw: dict[str, Any] = json.loads(SCENARIO_PATH.read_text(encoding="utf-8"))
    if not quick:
        return raw
    raw = copy.deepcopy(raw)
    for reg in raw["registries"]:
        if reg.get("rate_limit"):
            reg["rate_limit"]["rate_per_s"] *= QUICK_RATE_SCALE
        if reg.get("latency_ms"):
            reg["latency_ms"] = {k: v * QUICK_LATENCY_SCALE for k, v in reg["latency_ms"].items()}
    raw["description"] = "bench.json, quick variant (rates x4, latencies / 4)"
    return raw


def bench_names(n: int, seed: int) -> list[str]:
    """``n`` distinct names spread over the bench registries by :data:`WEIGHTS` (seeded).

    Parameters
    ----------
    n
        How many names.
    seed
        Same seed, same list (order included).

    Returns
    -------
    list of str
        Lower-case A-labels; ~3 % have an ``nx-`` first label (not registered), a few
        are under the dead registry's TLDs.
    """
    rng = random.Random(seed)
    tlds = {r.name: r.tlds for r in Scenario.load(SCENARIO_PATH).registries if r.tlds}
    total = sum(WEIGHTS.values())
    # Largest remainder: exactly n names, each registry within one of its share.
    exact = {name: n * w / total for name, w in WEIGHTS.items()}
    counts = {name: math.floor(x) for name, x in exact.items()}
    by_remainder = sorted(exact, key=lambda k: (counts[k] - exact[k], k))
    for name in by_remainder[: n - sum(counts.values())]:
        counts[name] += 1
    out: list[str] = []
    serial = 0
    for name, count in counts.items():
        for i in range(count):
            words = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))
            label = f"{words}{serial:05d}"  # the serial keeps every name distinct
            serial += 1
            if rng.random() < NX_SHARE:
                label = f"nx-{label}"
            out.append(f"{label}.{tlds[name][i % len(tlds[name])]}")
    rng.shuffle(out)
    return out


# --------------------------------------------------------------------------- simulator process


class SimProcess:
    """``rdaplab simulate`` in a child process (the pattern of ``benchmarks/run.py``).

    Copied rather than imported: ``run.py`` imports engine internals that are changing.
    """

    def __init__(self, scenario: Mapping[str, Any], workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.scenario_path = workdir / "scenario.json"
        self.scenario_path.write_text(json.dumps(scenario), encoding="utf-8")
        self.bootstrap = workdir / "bootstrap"
        self.urls: dict[str, str] = {}  # registry name -> base URL (live ones)
        self._stderr = workdir / "simulator.stderr"
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> SimProcess:
        cmd = [sys.executable, "-m", "rdaplab", "simulate", "--scenario", str(self.scenario_path)]
        cmd += ["--port", "0", "--bootstrap-out", str(self.bootstrap)]
        with self._stderr.open("w") as err:
            self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        assert self._proc.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        stdout = self._proc.stdout

        def pump() -> None:  # readline blocks: a thread lets us wait with a deadline
            for line in stdout:
                lines.put(line)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + 60
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                self.__exit__()
                raise RuntimeError("the simulator did not start within 60 s") from None
            if line.startswith("bootstrap written"):
                return self
            url, _, what = line.partition("\t")
            if url.startswith("http://") and not what.startswith("dead"):
                self.urls[url.strip().rstrip("/").rsplit("/", 1)[-1]] = url.strip()
            if self._proc.poll() is not None:
                self.__exit__()
                raise RuntimeError(f"the simulator exited: {self._stderr.read_text()[-2000:]}")

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

    def hosts(self) -> dict[str, str]:
        """``host:port`` -> registry name."""
        return {url.split("/")[2]: name for name, url in self.urls.items()}

    def stats(self) -> dict[str, dict[str, Any]]:
        """Every registry's counters, from ``GET /_simulator/stats``."""
        url = next(iter(self.urls.values())).split("/", 3)
        with urllib.request.urlopen(f"{url[0]}//{url[2]}/_simulator/stats", timeout=10) as r:
            stats: dict[str, dict[str, Any]] = json.loads(r.read())
        return stats


# --------------------------------------------------------------------------- baseline


def _base_urls(source: Mapping[str, str] | str | Path) -> dict[str, str]:
    """TLD -> RDAP base URL, from a mapping or an IANA-format bootstrap directory."""
    if isinstance(source, Mapping):
        return {k.lower().strip("."): v for k, v in source.items()}
    doc = json.loads((Path(source) / "dns.json").read_text(encoding="utf-8"))
    return {tld.lower(): urls[0] for tlds, urls in doc["services"] for tld in tlds}


def _retry_after_s(value: str | None, default: float) -> float:
    if not value:
        return default
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _looks_throttled(status: int, doc: Any) -> bool:
    """What a careful notebook checks: the throttle statuses, or a 200 with no object."""
    if status in (429, 503, 403, 422):
        return True
    return status == 200 and not (isinstance(doc, dict) and "objectClassName" in doc)


async def chunked_baseline(
    base_urls_or_bootstrap: Mapping[str, str] | str | Path,
    names: Sequence[str],
    *,
    chunk: int = 10,
    concurrency: int = 3,
    sleep_s: float = 1.0,
    max_retries: int = 3,
    default_wait_s: float = 5.0,
    max_wait_s: float = 120.0,
    timeout_s: float = 30.0,
) -> dict[str, Any]:
    """The classic notebook loop: chunks, a few in flight, sleep between chunks.

    For each chunk of ``chunk`` names, fetch them with at most ``concurrency`` in flight
    (bare aiohttp); a throttle-looking answer (429, 503, 403, 422, or a 200 that carries
    no RDAP object) sleeps ``Retry-After`` (or ``default_wait_s``) and retries, up to
    ``max_retries`` times; a registry answer's RDAP ``related`` link (the first, chosen
    as rdaplab does) is fetched the same way. Then sleep ``sleep_s`` before the next
    chunk.

    Parameters
    ----------
    base_urls_or_bootstrap
        ``{tld: base_url}`` or a bootstrap directory holding ``dns.json``.
    names
        Lower-case domain names; duplicates are fetched once.

    Returns
    -------
    dict
        ``makespan_s, names, requests, throttled, ok, not_found, errors,
        referrals_followed, referral_errors``.
    """
    bases = _base_urls(base_urls_or_bootstrap)
    todo = list(dict.fromkeys(n.lower().rstrip(".") for n in names))
    counts = dict.fromkeys(
        ("requests", "throttled", "ok", "not_found", "errors", "referrals_followed"), 0
    )
    counts["referral_errors"] = 0

    async def get(session: aiohttp.ClientSession, url: str) -> tuple[int | None, Any]:
        for attempt in range(max_retries + 1):
            counts["requests"] += 1
            try:
                async with session.get(url) as resp:
                    body = await resp.read()
                    status, retry_after = resp.status, resp.headers.get("Retry-After")
            except (aiohttp.ClientError, asyncio.TimeoutError):
                return None, None
            try:
                doc = json.loads(body) if body else None
            except ValueError:
                doc = None
            if not _looks_throttled(status, doc):
                return status, doc
            counts["throttled"] += 1
            if attempt < max_retries:
                await asyncio.sleep(min(max_wait_s, _retry_after_s(retry_after, default_wait_s)))
        return status, doc

    async def one(session: aiohttp.ClientSession, sem: asyncio.Semaphore, name: str) -> None:
        base = bases.get(name.rsplit(".", 1)[-1])
        if base is None:
            counts["errors"] += 1
            return
        async with sem:
            status, doc = await get(session, f"{base}domain/{name}")
            if status == 404:
                counts["not_found"] += 1
                return
            if status != 200 or not isinstance(doc, dict) or "objectClassName" not in doc:
                counts["errors"] += 1
                return
            counts["ok"] += 1
            links = related_links(doc)
            if links:
                rstatus, rdoc = await get(session, links[0])
                good = rstatus == 200 and isinstance(rdoc, dict) and "objectClassName" in rdoc
                counts["referrals_followed" if good else "referral_errors"] += 1

    t0 = time.perf_counter()
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for i in range(0, len(todo), chunk):
            sem = asyncio.Semaphore(concurrency)
            await asyncio.gather(*(one(session, sem, n) for n in todo[i : i + chunk]))
            if i + chunk < len(todo):
                await asyncio.sleep(sleep_s)
    return {"makespan_s": round(time.perf_counter() - t0, 3), "names": len(todo), **counts}


# --------------------------------------------------------------------------- the benchmark


def _side(
    makespan_s: float, bound_s: float, requests: int, throttled: int, stats: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "makespan_s": round(makespan_s, 3),
        "ratio_to_bound": round(makespan_s / bound_s, 3) if bound_s else None,
        "requests": requests,
        "throttled": throttled,
        "throttled_share": round(throttled / requests, 4) if requests else 0.0,
        "blocks": sum(int(s.get("blocks", 0)) for s in stats.values()),
        "blocked": sum(int(s.get("blocked", 0)) for s in stats.values()),
        "server_requests": sum(int(s["requests"]) for s in stats.values()),
        "server_throttled": sum(int(s["throttled"]) for s in stats.values()),
    }


async def scheduler_efficiency(
    tmp: Path,
    *,
    n: int,
    quick: bool = False,
    seed: int = DEFAULT_SEED,
    baseline: bool = True,
) -> dict[str, Any]:
    """rdaplab (default settings) vs the lower bound and the chunked baseline.

    Each side gets its own fresh simulator process (fresh token buckets, no blocks).

    Parameters
    ----------
    tmp
        A scratch directory (simulator files, the rdaplab cache).
    n
        Names (see :func:`bench_names`).
    quick
        The scaled-down scenario (rates x4, latencies / 4) and a 0.25 s baseline pause.
    seed
        Name-generator seed.
    baseline
        Also run :func:`chunked_baseline` (the slow part of a full run).

    Returns
    -------
    dict
        ``{"n", "quick", "bound_s", "bound": <Simulator.lower_bound>, "rdaplab": {...},
        "baseline": {...} | None, "per_host": [...], "simulator_stats": {"rdaplab": ...,
        "baseline": ...}}``. Each side has ``makespan_s, ratio_to_bound, requests,
        throttled, throttled_share, blocks, blocked`` (+ outcome counts); ``per_host``
        rows join the bound with each side's server-side requests, throttled and blocks.
    """
    scenario = load_scenario(quick=quick)
    names = bench_names(n, seed)
    bound = Simulator(scenario).lower_bound(names)
    bound_s = float(bound["bound_s"])

    with SimProcess(scenario, tmp / "sim-rdaplab") as sim:
        result = await rdaplab.lookup_async(
            names,
            bootstrap=sim.bootstrap,
            cache=tmp / "rdaplab.duckdb",
            progress=False,
            learned_limits=False,  # told nothing: every host learned from scratch
        )
        r_stats = sim.stats()
    s = result.summary
    ours = _side(float(s["elapsed_s"]), bound_s, int(s["requests"]), int(s["throttled"]), r_stats)
    ours.update(
        ok=s["ok"], not_found=s["not_found"], errors=s["error"], error_kinds=s["error_kinds"]
    )

    theirs: dict[str, Any] | None = None
    b_stats: dict[str, dict[str, Any]] = {}
    if baseline:
        with SimProcess(scenario, tmp / "sim-baseline") as sim:
            raw = await chunked_baseline(
                sim.bootstrap, names, sleep_s=QUICK_SLEEP_S if quick else 1.0
            )
            b_stats = sim.stats()
        theirs = _side(raw["makespan_s"], bound_s, raw["requests"], raw["throttled"], b_stats)
        theirs.update({k: v for k, v in raw.items() if k not in theirs})

    per_host = []
    for name in sorted(r_stats, key=lambda k: -bound["hosts"].get(k, {}).get("bound_s", 0)):
        hb = bound["hosts"].get(name, {})
        row: dict[str, Any] = {
            "registry": name,
            "needed": hb.get("requests", 0),
            "bound_s": round(hb.get("bound_s", 0.0), 2),
            "binding": hb.get("binding"),
        }
        for label, stats in (("rdaplab", r_stats), ("baseline", b_stats)):
            st = stats.get(name)
            if st is not None:
                row[label] = {k: st[k] for k in ("requests", "throttled", "blocks", "blocked")}
        per_host.append(row)
    return {
        "n": len(names),
        "quick": quick,
        "bound_s": round(bound_s, 3),
        "bound": bound,
        "rdaplab": ours,
        "baseline": theirs,
        "per_host": per_host,
        "simulator_stats": {"rdaplab": r_stats, "baseline": b_stats or None},
    }


def report(res: Mapping[str, Any]) -> str:
    """A plain-text table of a :func:`scheduler_efficiency` result."""
    lines = [f"names {res['n']:,}  lower bound {res['bound_s']:.1f} s", ""]
    head = f"{'side':<10}{'makespan_s':>12}{'x bound':>9}{'requests':>10}{'throttled':>11}"
    lines += [head + f"{'blocks':>8}{'ok':>7}", "-" * 67]
    for side in ("rdaplab", "baseline"):
        r = res.get(side)
        if r:
            lines.append(
                f"{side:<10}{r['makespan_s']:>12.1f}{r['ratio_to_bound'] or 0:>9.2f}"
                f"{r['requests']:>10,}{r['throttled']:>11,}{r['blocks']:>8}{r['ok']:>7,}"
            )
    lines += ["", f"{'registry':<20}{'needed':>7}{'bound_s':>9} {'binding':<12}"
              f"{'rdaplab req/thr/blk':>20}{'baseline req/thr/blk':>22}"]  # fmt: skip
    for row in res["per_host"]:

        def cell(side: str, row: Mapping[str, Any] = row) -> str:
            st = row.get(side)
            return "-" if not st else f"{st['requests']}/{st['throttled']}/{st['blocks']}"

        lines.append(
            f"{row['registry']:<20}{row['needed']:>7}{row['bound_s']:>9.1f} "
            f"{row['binding'] or '-':<12}{cell('rdaplab'):>20}{cell('baseline'):>22}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--quick", action="store_true", help=f"{QUICK_N} names, scaled scenario")
    p.add_argument("--n", type=int, help=f"names (default {DEFAULT_N:,}, quick {QUICK_N})")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--no-baseline", action="store_true", help="skip the chunked baseline")
    p.add_argument("--json", type=Path, help="also write the result here")
    args = p.parse_args(argv)
    n = args.n or (QUICK_N if args.quick else DEFAULT_N)
    with tempfile.TemporaryDirectory(prefix="rdaplab-schedbench-") as tmp:
        res = asyncio.run(
            scheduler_efficiency(
                Path(tmp), n=n, quick=args.quick, seed=args.seed, baseline=not args.no_baseline
            )
        )
    print(report(res))
    if args.json:
        args.json.write_text(json.dumps(res, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
