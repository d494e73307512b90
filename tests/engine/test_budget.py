"""The shared-budget seam: a Budget passed as ``budget=`` is asked once per request and
hears every answer; two batches sharing one budget share its pace."""

from __future__ import annotations

import asyncio
from pathlib import Path

import rdaplab
from rdaplab import Limits, Retry
from rdaplab.engine import Budget, LocalBudget

FAST = Limits(per_host_rate_per_s=None, per_host_concurrency=8, max_concurrency=16)
QUICK_RETRY = Retry(backoff_initial_s=0.01, backoff_max_s=0.05, retry_after_max_s=3.0)
SCENARIO = {
    "seed": 4,
    "registries": [{"name": "r", "tlds": ["test"], "template": "verisign/google.com-2024.json"}],
}


class PacedBudget:
    """One request every ``interval_s`` over everyone using it (as a shared store would)."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.granted: list[tuple[str, float]] = []
        self.reports: list[tuple[str, bool]] = []
        self._next = 0.0

    async def acquire(self, host: str) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        at = max(now, self._next)
        self._next = at + self.interval_s
        await asyncio.sleep(at - now)
        self.granted.append((host, loop.time()))

    def report(self, host: str, *, throttled: bool, retry_after_s: float | None) -> None:
        self.reports.append((host, throttled))


def test_the_default_and_a_custom_budget_satisfy_the_protocol() -> None:
    assert isinstance(LocalBudget(), Budget)
    assert isinstance(PacedBudget(0.1), Budget)


async def test_two_batches_sharing_one_budget_share_its_pace(simulator, tmp_path: Path) -> None:
    sim = await simulator(SCENARIO)
    boot = sim.write_bootstrap(tmp_path / "boot")
    budget = PacedBudget(0.02)
    common = {"bootstrap": boot, "limits": FAST, "retry": QUICK_RETRY, "progress": False}
    first, second = await asyncio.gather(
        rdaplab.lookup_async(
            [f"a{i}.test" for i in range(15)], cache=tmp_path / "a.duckdb", budget=budget, **common
        ),
        rdaplab.lookup_async(
            [f"b{i}.test" for i in range(15)], cache=tmp_path / "b.duckdb", budget=budget, **common
        ),
    )
    requests = first.summary["requests"] + second.summary["requests"]
    assert requests == 30 and len(budget.granted) == 30 and len(budget.reports) == 30
    times = sorted(t for _, t in budget.granted)
    # One pace for both batches, not one each: 30 slots 20 ms apart span >= 29 x 20 ms
    # (a wake-up can lag its slot, so single gaps vary; the span cannot shrink).
    assert times[-1] - times[0] >= 29 * 0.02 * 0.95
    sent = sorted([*first.attempts["started_at"], *second.attempts["started_at"]])
    assert (sent[-1] - sent[0]).total_seconds() >= 29 * 0.02 * 0.9
    assert {host for host, _ in budget.granted} == {h["host"] for h in first.summary["hosts"]}
    assert not any(throttled for _, throttled in budget.reports)
    # Without a budget the same batch is not held to that pace.
    alone = await rdaplab.lookup_async(
        [f"c{i}.test" for i in range(15)], cache=tmp_path / "c.duckdb", **common
    )
    assert alone.summary["requests"] == 15
    assert alone.summary["fetch_s"] < 14 * 0.02
