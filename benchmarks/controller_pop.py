"""Seeded token-bucket host populations on fake time, to compare controllers side by side.

The generated scenarios (``generated.py``) take half an hour and their noise is larger
than most controller changes. This drives :class:`~rdaplab.engine.controller.HostController`
alone against seeded populations of token-bucket hosts on fake time, in seconds, and
prints per population: makespan ÷ bound (median, p90, worst), refusals per host (mean,
p90, max), the 90th percentile of the refused share, hosts that would have been blocked
(7 refusals within 60 s) and hosts whose ``hi`` (the lowest rate refused) ended under
0.95 × their rate: without jitter a false ceiling, with it also a refusal just under the
rate after a drain. Pass controller modules (files) to compare, e.g. a copy with one change::

    python benchmarks/controller_pop.py                         # the installed controller
    python benchmarks/controller_pop.py rdaplab/engine/controller.py /tmp/variant.py
    python benchmarks/controller_pop.py --only slow,short

Populations (``--seeds``, default 1,2,3; 150 hosts per seed, or 120 for ``suite``):

- ``suite``: the unit tests' hosts (``tests/engine/test_controller_learning.random_hosts``:
  0.5-60/s, burst 1-10, 5-300 ms, 20-60 s of work), no jitter, whole-second Retry-After;
- ``all``: 0.5-60/s, 15-60 s of work; ``slow``: 0.5-3/s; ``short``: 3-60/s with 5-10 s of
  work (where fixed costs decide). These three add what the simulator does: a request is
  admitted on arrival, 0-4 ms after it left, and its answer comes back after the
  latency ±30 %.
- ``window``: no token bucket at all: fixed-window counters of 1-30 requests per window
  (0.5-50/s in the long run, ``tests.engine.bucket_host.WindowHost``), with the jitter,
  half of them naming the reset in Retry-After. The controller reads answers as a token
  bucket (``rdaplab.engine.bucket_model``); this is where that reading is wrong, and it
  must do no harm. The bound is requests / rate.
- ``faults``: the ``all`` hosts, each answering 1-5 % of its admitted requests with the
  simulator's injected fault, a ``503`` with Retry-After (a weak signal, also what a
  throttle can look like): where a fault must not pass for a throttle.
- ``503``: the ``all`` hosts refusing with ``503`` + Retry-After instead of ``429``, the
  same weak signal: where a throttle must not pass for a fault (``blocked`` matters).
- ``rare``: fast hosts (20-60/s, 8-30 s of work) with rare such faults, 0.3-2 % of
  admitted requests: rare per answer, frequent per minute (generated seed 30's
  52.5/s registry with 3.2 % injected errors, a third of them 503s).
- ``mixed``: the ``503`` hosts (refusing with ``503`` + Retry-After) that also answer
  0.5-3 % of admitted requests with the 503 fault: a throttler that *has* faults
  (generated seed 21's 12.6/s registry), where learning the faults must not unlearn
  the throttle.

A ratio here is one host's; a batch's makespan is its slowest host's, so the tails matter
more than the medians. Nothing here is a target: the targets are the real runs'.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import random
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rdaplab.engine.limiter import HostLimiter  # noqa: E402
from rdaplab.engine.profiles import Profile  # noqa: E402
from tests.engine.bucket_host import BucketHost, WindowHost, drive  # noqa: E402
from tests.engine.test_controller_learning import random_hosts  # noqa: E402

Host = tuple[float, int, float, int]  # rate/s, burst, latency s, requests
POPULATIONS = ("suite", "all", "slow", "short", "window", "faults", "503", "rare", "mixed")
#: Share of admitted requests answered with a 503 fault, per population.
FAULT_SHARES = {"faults": (0.01, 0.05), "rare": (0.003, 0.02), "mixed": (0.005, 0.03)}
BLOCK_AFTER = 7


def load(path: str | None) -> ModuleType:
    """The controller module at ``path`` (None: the installed one), under its own name."""
    if path is None:
        import rdaplab.engine.controller as installed

        return installed
    name = f"controller_pop_{abs(hash(path))}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def draw(seed: int, n: int, lo: float, hi: float, work_s: tuple[float, float]) -> list[Host]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        rate = 10 ** rng.uniform(math.log10(lo), math.log10(hi))
        burst = rng.randint(1, 10)
        latency = 10 ** rng.uniform(-2.3, -0.52)
        out.append((rate, burst, latency, max(10, int(rate * rng.uniform(*work_s)))))
    return out


def population(name: str, seeds: Sequence[int]) -> tuple[list[Host], bool]:
    """The hosts of population ``name`` and whether they get the simulator's jitter."""
    hosts: list[Host] = []
    for seed in seeds:
        if name == "window":
            rng = random.Random(seed)
            for _ in range(150):
                rate = 10 ** rng.uniform(math.log10(0.5), math.log10(50.0))
                count = rng.randint(1, 30)
                latency = 10 ** rng.uniform(-2.3, -0.52)
                hosts.append((rate, count, latency, max(10, int(rate * rng.uniform(15, 60)))))
        elif name == "suite":
            hosts += random_hosts(10 + seed, 120)
        elif name in ("all", "faults", "503", "mixed"):
            hosts += draw(seed, 150, 0.5, 60.0, (15.0, 60.0))
        elif name == "slow":
            hosts += draw(seed, 150, 0.5, 3.0, (15.0, 60.0))
        elif name == "short":
            hosts += draw(seed, 150, 3.0, 60.0, (5.0, 10.0))
        elif name == "rare":
            hosts += draw(seed, 150, 20.0, 60.0, (8.0, 30.0))
        else:
            raise ValueError(f"unknown population {name!r}: one of {', '.join(POPULATIONS)}")
    return hosts, name != "suite"


def measure(
    module: ModuleType,
    hosts: Sequence[Host],
    jitter: bool,
    seed: int,
    window: bool = False,
    faults: tuple[float, float] | None = None,
    refusals_503: bool = False,
) -> dict[str, Any]:
    rng = random.Random(seed) if jitter else None
    fault_rng, share_rng = random.Random(seed + 1), random.Random(seed + 2)
    ratios, refusals, shares = [], [], []
    blocked = hi_under = 0
    for i, (rate, burst, latency, n) in enumerate(hosts):
        if window:
            host: BucketHost = WindowHost(rate, burst, latency, retry_after=i % 2 == 0)
            host.block_after = BLOCK_AFTER
        else:
            host = BucketHost(rate, burst, latency, retry_after=True, block_after=BLOCK_AFTER)
        ctl = module.HostController(
            HostLimiter("h:1", rate_per_s=None), Profile(rate_per_s=2.0, concurrency=2)
        )
        share = share_rng.uniform(*faults) if faults else 0.0
        run = drive(
            host,
            ctl,
            requests=n,
            jitter=rng,
            faults=share,
            fault_rng=fault_rng,
            refusals_503=refusals_503,
        )
        sent, end = run.sent, run.elapsed_s
        bound = (n / rate if window else max(0, n - burst) / rate) + latency
        ratios.append(end / bound)
        refused = sum(1 for _, _, ok in sent if not ok)
        refusals.append(refused)
        shares.append(refused / len(sent))
        blocked += host.blocked
        hi_under += ctl.hi is not None and ctl.hi < 0.95 * rate
    ratios.sort()
    refusals.sort()
    shares.sort()
    p90 = int(0.9 * len(ratios))
    return {
        "hosts": len(ratios),
        "median": statistics.median(ratios),
        "p90": ratios[p90],
        "worst": ratios[-1],
        "refusals_mean": statistics.mean(refusals),
        "refusals_p90": refusals[p90],
        "refusals_max": refusals[-1],
        "share_p90": shares[p90],
        "blocked": blocked,
        "hi_under_rate": hi_under,
    }


def line(label: str, m: dict[str, Any]) -> str:
    return (
        f"{label:28s} ratio median {m['median']:.3f} p90 {m['p90']:.3f} worst {m['worst']:.3f}"
        f" | refusals mean {m['refusals_mean']:.2f} p90 {m['refusals_p90']} max"
        f" {m['refusals_max']} | refused share p90 {m['share_p90']:.3f} | blocked at"
        f" {BLOCK_AFTER}/min {m['blocked']}/{m['hosts']} | hi under 0.95 x rate {m['hi_under_rate']}"
    )


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("controllers", nargs="*", help="controller module files (default: installed)")
    p.add_argument("--only", default=",".join(POPULATIONS), help="populations, comma-separated")
    p.add_argument("--seeds", default="1,2,3", help="population seeds, comma-separated")
    args = p.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s]
    paths: list[str | None] = list(args.controllers) or [None]
    modules = [(path or "installed", load(path)) for path in paths]
    for name in [n for n in args.only.split(",") if n]:
        hosts, jitter = population(name, seeds)
        out(f"== {name}: {len(hosts)} hosts{', arrival and latency jitter' if jitter else ''}")
        for label, module in modules:
            m = measure(
                module,
                hosts,
                jitter,
                seed=seeds[0] * 7,
                window=name == "window",
                faults=FAULT_SHARES.get(name),
                refusals_503=name in ("503", "mixed"),
            )
            out(line(Path(label).name, m))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
