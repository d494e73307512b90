"""The shared budget's logic (rdaplab.engine.central), on a fake clock, and SharedBudget:
several batches of one process sharing one budget against a real loopback registry."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest

import rdaplab
from rdaplab import Limits, Retry
from rdaplab.engine.budget import LocalBudget, learns, local_limits
from rdaplab.engine.central import CentralBudget, Feedback, Grant, SharedBudget, feedback_of
from rdaplab.engine.controller import HostController

PINNED = Limits(per_host_rate_per_s=10.0, per_host_burst=1, adaptive=False)


def test_slots_follow_the_rate_and_are_granted_at_most_the_horizon_ahead() -> None:
    budget = CentralBudget(PINNED, horizon_s=0.25)
    waits = [budget.reserve("cluster", "h", now=0.0) for _ in range(3)]
    assert [g.granted for g in waits] == [True, True, True]
    assert [round(g.wait_s, 3) for g in waits] == [0.0, 0.1, 0.2]
    refused = budget.reserve("cluster", "h", now=0.0)
    assert not refused.granted and refused.wait_s == pytest.approx(0.05)
    # after that wait, the slot is within the horizon and granted
    again = budget.reserve("cluster", "h", now=refused.wait_s)
    assert again.granted and again.wait_s == pytest.approx(0.25)
    # another host and another scope have budgets of their own
    assert budget.reserve("cluster", "other", now=0.0).wait_s == 0.0
    assert budget.reserve("egress:127.0.0.2", "h", now=0.0).wait_s == 0.0
    assert [g.grant_id for g in waits] == [1, 2, 3]


def test_a_rate_change_replans_the_interval_still_owed() -> None:
    # Slow start doubles 2/s -> 4/s: the next slot comes a quarter second after the last
    # one, not the half second promised at 2/s (its windows then saw half the new rate).
    budget = CentralBudget(Limits(per_host_rate_per_s=2.0), horizon_s=0.05)
    first = budget.reserve("cluster", "h", now=0.0)
    assert first.granted and first.wait_s == 0.0
    ctl = budget._hosts[("cluster", "h")].controller
    ctl.limiter.set_rate(4.0, burst=1)  # raised at once (the controller does in feedback)
    nxt = budget.reserve("cluster", "h", now=0.0)
    assert not nxt.granted  # the slot is 0.25, beyond the 0.05 s horizon (at 2/s: 0.5)
    assert not budget.reserve("cluster", "h", now=0.19).granted
    assert budget.reserve("cluster", "h", now=0.2).granted
    # a cut stretches what is owed the same way: 0.25 s owed at 4/s is 1 s at 1/s
    ctl.limiter.set_rate(1.0, burst=1)
    assert not budget.reserve("cluster", "h", now=0.25).granted
    assert budget.reserve("cluster", "h", now=1.21).granted


def test_a_refused_asker_comes_back_soon_while_paced_but_not_before_a_park_ends() -> None:
    budget = CentralBudget(Limits(per_host_rate_per_s=1.0), horizon_s=0.05)
    assert budget.reserve("cluster", "h", now=0.0).granted
    paced = budget.reserve("cluster", "h", now=0.0)
    # the slot is 1 s away, but a raise can bring it closer: ask again soon
    assert not paced.granted and paced.wait_s == pytest.approx(0.1)
    budget.feedback("cluster", "h", [Feedback(True, 0.01, 1, retry_after_s=5.0)], now=0.1)
    parked = budget.reserve("cluster", "h", now=0.1)
    assert not parked.granted and parked.wait_s == pytest.approx(5.0 - 0.05)


async def test_shared_budget_requests_for_a_host_ask_one_at_a_time() -> None:
    limits = Limits(per_host_rate_per_s=50.0, per_host_burst=1, adaptive=False)
    budget = SharedBudget(limits, horizon_s=0.01)
    calls = 0
    reserve = budget.central.reserve

    def counting(*args: object, **kwargs: object) -> Grant:
        nonlocal calls
        calls += 1
        return reserve(*args, **kwargs)  # type: ignore[arg-type]

    budget.central.reserve = counting  # type: ignore[method-assign]
    got = await asyncio.gather(*(budget.acquire("h") for _ in range(20)))
    assert sorted(g for g, _ in got) == list(range(1, 21))
    starts = sorted(t for _, t in got)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 1 / 50 * 0.8  # still paced at the rate
    # 20 grants at 50/s take 0.38 s: with each waiting request asking for itself at
    # every "ask again" this was hundreds of calls
    assert calls <= 20 + 20 * 3


def test_a_throttle_from_one_process_parks_every_process() -> None:
    budget = CentralBudget(PINNED, retry=Retry(retry_after_max_s=60.0), horizon_s=0.05)
    grant = budget.reserve("cluster", "h", now=0.0)
    budget.feedback(
        "cluster", "h", [Feedback(True, 0.05, grant.grant_id, retry_after_s=3.0)], now=1.0
    )
    nxt = budget.reserve("cluster", "h", now=1.0)
    assert not nxt.granted and nxt.wait_s == pytest.approx(3.0 - 0.05)  # parked 3 s
    assert budget.reserve("cluster", "h", now=4.0).granted
    stats = budget.statistics(now=1.0)["cluster|h"]
    assert stats["throttles"] == 1 and stats["parks"] == 1 and stats["parked_for_s"] == 3.0


def test_slots_promised_before_a_cut_count_as_sent_before_it() -> None:
    """Their throttles are the same event, not new ones that cut the rate again."""
    budget = CentralBudget(Limits(per_host_rate_per_s=20.0), horizon_s=0.25)
    now = 0.0
    grants = [budget.reserve("cluster", "h", now=now) for _ in range(4)]
    ctl = budget._hosts[("cluster", "h")].controller
    budget.feedback("cluster", "h", [Feedback(True, 0.02, grants[0].grant_id)], now=0.1)
    rate_after_cut = ctl.rate
    assert ctl.cuts == 1
    # the other promised slots come back throttled too: one event, no further cut
    late = [Feedback(True, 0.02, g.grant_id) for g in grants[1:]]
    budget.feedback("cluster", "h", late, now=0.3)
    assert ctl.cuts == 1 and ctl.rate == rate_after_cut
    assert budget.statistics(now=0.3)["cluster|h"]["decisions"]["same_event"] == 3
    # a slot granted after the cut is news again
    fresh = budget.reserve("cluster", "h", now=5.0)
    budget.feedback("cluster", "h", [Feedback(True, 0.02, fresh.grant_id)], now=5.1)
    assert ctl.cuts == 2


def test_the_backlog_is_summed_over_processes() -> None:
    budget = CentralBudget()
    state = budget._host("cluster", "h")
    assert state.backlog("a", 100, 0.0) == 100
    assert state.backlog("b", 50, 0.1) == 150
    assert state.backlog("a", 80, 0.2) == 130
    assert state.backlog("b", 10, 10.0) == 10  # "a" stopped reporting: it finished
    assert state.backlog(None, 7, 10.0) == 7


def test_wire_forms_round_trip() -> None:
    g = Grant(True, 0.1, 3, 12.5)
    assert Grant.from_wire(g.to_wire()) == g
    f = Feedback(True, 0.2, 4, 2, 9, 1.5, True, False, 1.0, True)
    assert Feedback.from_wire(f.to_wire()) == f
    # A worker of before the resolution was carried sends 8 fields: read as 0 s; one of
    # before server errors were, 9: read as none.
    assert Feedback.from_wire(f.to_wire()[:8]) == Feedback(True, 0.2, 4, 2, 9, 1.5, True, False)
    assert Feedback.from_wire(f.to_wire()[:9]) == Feedback(
        True, 0.2, 4, 2, 9, 1.5, True, False, 1.0
    )


def test_server_errors_reported_by_a_worker_reach_the_central_controller() -> None:
    # A worker's 500s and 502s tell the host's controller it has faults, as they do the
    # scheduler's own controller in one process: its 503s are then read as faults.
    budget = CentralBudget()
    for i in range(3):
        grant = budget.reserve("cluster", "h", now=0.01 * i)
        event = feedback_of(
            throttled=False,
            retry_after_s=None,
            grant=(grant.grant_id, 0.01 * i),
            now=0.01 * i + 0.005,
            success=False,
            server_error=i < 2,
        )
        budget.feedback("cluster", "h", [Feedback.from_wire(event.to_wire())], now=0.01 * i)
    assert budget._host("cluster", "h").controller.statistics().faults_503


def test_the_central_controller_reads_a_retry_after_with_its_resolution(monkeypatch) -> None:
    # A worker reports the Retry-After's resolution with the throttle (1 s for an
    # HTTP-date or whole seconds), and the central controller reads the rate it allows
    # with it, as the scheduler's own controller does in one process.
    seen: list[float] = []
    original = HostController.on_throttle

    def spy(self: HostController, **kw: Any) -> str:
        seen.append(kw["retry_after_resolution_s"])
        return original(self, **kw)

    monkeypatch.setattr(HostController, "on_throttle", spy)
    budget = CentralBudget()
    for resolution_s in (1.0, 0.0):
        grant = budget.reserve("cluster", f"h{resolution_s}", now=0.0)
        event = feedback_of(
            throttled=True,
            retry_after_s=1.0,
            retry_after_resolution_s=resolution_s,
            grant=(grant.grant_id, 0.0),
            now=0.05,
        )
        wire = Feedback.from_wire(event.to_wire())  # as it crosses to the scheduler
        budget.feedback("cluster", f"h{resolution_s}", [wire], now=0.05)
    assert seen == [1.0, 0.0]


def test_local_limits_stop_pacing_and_learning_but_keep_the_rest() -> None:
    limits = Limits(
        per_host_max_concurrency=8,
        hosts={"rdap.example": {"rate_per_s": 1, "daily_budget": 500}},
    )
    local = local_limits(limits)
    profile = local.profile_for("rdap.example")
    assert profile.rate_per_s is None and not profile.adaptive and profile.daily_budget == 500
    assert local.profile_for("rdap.lacnic.net").max_concurrency == 1  # a published cap
    assert local.profile_for("rdap.lacnic.net").rate_per_s is None
    assert local.profile_for("unknown.example").concurrency == 8
    assert learns(SharedBudget()) and not learns(LocalBudget()) and not learns(None)


LIMITED = {
    "seed": 5,
    "registries": [
        {
            "name": "lim",
            "tlds": ["test"],
            "template": "google-registry/web.dev.json",
            "latency_ms": {"mean": 15, "jitter": 3},
            "rate_limit": {"rate_per_s": 20, "burst": 2},
        }
    ],
}


async def _three_batches(sim_boot: Path, tmp: Path, budget: object, tag: str) -> list[dict]:
    names = [[f"{tag}{b}n{i}.test" for i in range(40)] for b in range(3)]
    results = await asyncio.gather(
        *[
            rdaplab.lookup_async(
                ns,
                cache=tmp / f"{tag}{b}.duckdb",
                bootstrap=sim_boot,
                budget=budget,
                progress=False,
                learned_limits=False,
                limits=PACED_15,
            )
            for b, ns in enumerate(names)
        ]
    )
    return [r.summary for r in results]


PACED_15 = Limits(per_host_rate_per_s=15.0, adaptive=False)


@pytest.mark.slow
async def test_batches_sharing_a_budget_stay_under_a_limit_they_each_would_break(
    simulator, tmp_path: Path
) -> None:
    """Three batches each pacing itself at 15/s against a 20/s host (three notebooks
    behind one address): alone they are refused, sharing one budget they are not."""
    sim = await simulator(LIMITED)
    boot = sim.write_bootstrap(tmp_path / "boot")
    alone = await _three_batches(boot, tmp_path, None, "a")
    shared_budget = SharedBudget(PACED_15)
    shared = await _three_batches(boot, tmp_path, shared_budget, "s")
    alone_thr = sum(s["throttled"] for s in alone) / sum(s["requests"] for s in alone)
    shared_thr = sum(s["throttled"] for s in shared) / sum(s["requests"] for s in shared)
    assert all(s["ok"] == 40 for s in shared) and all(s["ok"] == 40 for s in alone)
    assert shared_thr <= 0.02 and alone_thr >= 0.05, (shared_thr, alone_thr)
    (stats,) = shared_budget.statistics().values()
    assert stats["answers"] == 120 and stats["rate_per_s"] == 15.0
