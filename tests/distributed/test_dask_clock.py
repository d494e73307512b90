"""DaskBudget's side of a reservation, as pure client logic: the scheduler's clock placed
on this process's, sends at the slot however late the answer came, and slots given up
when this process wakes too late for them; and the backlog a study's bucket reports for
the buckets waiting behind it. The scheduler is a fake RPC here (it answers
what the real plugin answers, on a clock of its own); tests/distributed/test_dask.py runs
the same path against a real scheduler."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("distributed")

from rdaplab.engine.central import Grant
from rdaplab.engine.dask_budget import (
    LATE_INTERVALS,
    MAX_LATE_DROPS,
    DaskBudget,
    SchedulerClock,
)

OFFSET = 1000.0  # the fake scheduler's clock runs this far ahead of ours


def test_the_clock_offset_is_bounded_by_each_round_trip() -> None:
    clock = SchedulerClock()
    # sent at 0, answered at 0.010; the scheduler held the request 8 ms: 1000.001 .. 1000.009
    clock.sample(sent=0.0, arrived=0.010, received=1000.001, replied=1000.009)
    assert 999.999 <= clock.offset <= 1000.001  # type: ignore[operator]
    # a faster round trip narrows it; a slower one cannot widen it again
    clock.sample(sent=1.0, arrived=1.0004, received=1001.0002, replied=1001.0002)
    assert clock.offset == pytest.approx(1000.0, abs=2e-4)
    clock.sample(sent=2.0, arrived=2.5, received=1002.1, replied=1002.2)
    assert clock.offset == pytest.approx(1000.0, abs=2e-4)
    assert clock.local(1003.25) == pytest.approx(3.25, abs=2e-4)


def test_the_clock_follows_a_drift_it_can_no_longer_explain() -> None:
    clock = SchedulerClock()
    clock.sample(sent=0.0, arrived=0.001, received=1000.0005, replied=1000.0005)
    # the scheduler's clock jumped 50 ms ahead: the old bounds contradict the new ones
    clock.sample(sent=5.0, arrived=5.001, received=1005.0505, replied=1005.0505)
    assert clock.offset == pytest.approx(1000.05, abs=1e-3)


def test_only_the_last_samples_count() -> None:
    clock = SchedulerClock(samples=4)
    for i in range(4):
        clock.sample(
            sent=i, arrived=i + 0.001, received=1000 + i + 0.0005, replied=1000 + i + 0.0005
        )
    # a slow drift of 0.4 ms, inside the old bounds' width only after they age out
    for i in range(4, 8):
        clock.sample(
            sent=i,
            arrived=i + 0.001,
            received=1000.0004 + i + 0.0005,
            replied=1000.0004 + i + 0.0005,
        )
    assert clock.offset == pytest.approx(1000.0004, abs=1e-4)


class FakeScheduler:
    """The plugin's answers: slots at ``rate`` on a clock OFFSET ahead, the answer delayed
    by ``trip_s`` on its way back; ``late_first``: the first ``n`` grants name slots
    already ``late_by_s`` past when they are made."""

    def __init__(self, rate: float, *, trip_s: float = 0.0, late_first: int = 0,
                 late_by_s: float = 0.0, version: int = 2) -> None:  # fmt: skip
        self.rate, self.trip_s = rate, trip_s
        self.late_first, self.late_by_s = late_first, late_by_s
        self.version = version
        self.next_slot = -1.0
        self.grants = 0
        self.calls: list[dict[str, Any]] = []

    def _now(self) -> float:
        return asyncio.get_running_loop().time() + OFFSET

    async def rdaplab_reserve(self, **kw: Any) -> list[Any]:
        self.calls.append(kw)
        received = self._now()
        slot = max(received, self.next_slot)
        if self.grants < self.late_first:
            slot = received - self.late_by_s
        self.next_slot = slot + 1 / self.rate
        self.grants += 1
        grant = Grant(True, max(0.0, slot - received), self.grants, self.rate, slot)
        replied = self._now()
        if self.trip_s:
            await asyncio.sleep(self.trip_s)  # the answer's trip back
        if self.version == 1:
            return grant.to_wire()[:4]
        return [*grant.to_wire(), received, replied]


def _budget(fake: FakeScheduler) -> DaskBudget:
    budget = DaskBudget("tcp://fake:1")
    budget._rpc, budget._registered = fake, True
    budget._loop = asyncio.get_running_loop()
    return budget


async def test_a_request_goes_at_its_slot_not_one_trip_late() -> None:
    fake = FakeScheduler(rate=20.0, trip_s=0.0)
    budget = _budget(fake)
    await budget.acquire("h")  # a quick round trip places the scheduler's clock
    fake.trip_s = 0.1  # now every answer takes 100 ms to come back
    fake.next_slot = fake._now() + 0.15  # ... for a slot 150 ms ahead
    slot_local = fake.next_slot - OFFSET
    _, began = await budget.acquire("h")
    assert budget.clock.offset == pytest.approx(OFFSET, abs=5e-3)
    # sent at the slot (a loaded machine's timers run some ms late), not 100 ms after it
    assert slot_local - 0.002 <= began <= slot_local + 0.05
    assert budget.late_slots == 0


async def test_a_slot_woken_up_too_late_for_is_given_up_and_counted() -> None:
    interval = 1 / 20.0
    fake = FakeScheduler(rate=20.0, late_first=2, late_by_s=(LATE_INTERVALS + 0.5) * interval)
    budget = _budget(fake)
    grant_id, _ = await budget.acquire("h")
    assert grant_id == 3 and budget.late_slots == 2
    # the scheduler hears of each slot given up with the next reservation
    assert [c["late"] for c in fake.calls] == [0, 1, 1]


async def test_a_stalled_process_still_gets_through() -> None:
    fake = FakeScheduler(rate=20.0, late_first=100, late_by_s=1.0)
    budget = _budget(fake)
    grant_id, _ = await budget.acquire("h")
    assert grant_id == MAX_LATE_DROPS + 1 and budget.late_slots == MAX_LATE_DROPS


async def test_a_version_1_plugin_is_still_followed() -> None:
    fake = FakeScheduler(rate=20.0, version=1, late_first=1, late_by_s=1.0)
    budget = _budget(fake)
    grant_id, _ = await budget.acquire("h")  # no clock to place the slot: no drop either
    assert grant_id == 1 and budget.clock.offset is None and budget.late_slots == 0


async def test_the_backlog_reported_is_scaled_for_the_buckets_waiting() -> None:
    budget = _budget(FakeScheduler(rate=20.0))
    budget.backlog_scale = 4.0  # 3 buckets wait for each one running
    t = asyncio.get_running_loop().time()
    for backlog in (10, 0):
        budget.report("h", throttled=False, retry_after_s=None, grant=(1, t), backlog=backlog)
    (events,) = budget._pending.values()
    assert [e[4] for e in events] == [40, 0]  # Feedback.backlog on the wire


def test_a_study_s_buckets_left_are_counted_from_its_folder(tmp_path) -> None:
    from rdaplab.distributed.store import StudyStore

    st = StudyStore(tmp_path / "study")
    for bucket, state in enumerate(["done", "running", "running", "waiting", "waiting", "waiting"]):
        folder = st.bucket_dir(bucket)
        folder.mkdir(parents=True)
        (folder / "input.parquet").write_bytes(b"")
        if state != "waiting":
            st.cache_path(bucket).write_bytes(b"")
        if state == "done":
            st.done_path(bucket).write_text("{}")
    assert st.work_left() == (2, 3)
