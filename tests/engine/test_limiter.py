"""HostLimiter: pacing, bursts, concurrency, parks and run-time changes, on a virtual clock."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from rdaplab.engine.limiter import HostLimiter
from tests.engine.virtual_clock import VirtualClockLoop


@pytest.fixture
def vloop():
    v = VirtualClockLoop()
    yield v
    v.close()


async def _grant_times(limiter: HostLimiter, n: int, hold_s: float = 0.0) -> list[float]:
    loop = asyncio.get_running_loop()
    times: list[float] = []

    async def one() -> None:
        async with limiter.slot():
            times.append(loop.time())
            if hold_s:
                await asyncio.sleep(hold_s)

    await asyncio.gather(*(one() for _ in range(n)))
    return sorted(times)


def test_pacer_spaces_requests_at_the_rate(vloop):
    async def main():
        limiter = HostLimiter("h:1", rate_per_s=4.0, burst=1, max_concurrency=100)
        return await _grant_times(limiter, 9)

    times = vloop.run(main())
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps == pytest.approx([0.25] * 8, abs=1e-6)


def test_burst_allows_back_to_back_then_paces(vloop):
    async def main():
        limiter = HostLimiter("h:1", rate_per_s=2.0, burst=3, max_concurrency=100)
        return await _grant_times(limiter, 5)

    times = vloop.run(main())
    assert times[:3] == pytest.approx([times[0]] * 3)
    assert times[3] - times[0] == pytest.approx(0.5, abs=1e-6)
    assert times[4] - times[3] == pytest.approx(0.5, abs=1e-6)


def test_concurrency_limit_bounds_in_flight(vloop):
    peak = 0

    async def main():
        nonlocal peak
        limiter = HostLimiter("h:1", rate_per_s=None, max_concurrency=3)

        async def one():
            nonlocal peak
            async with limiter.slot():
                peak = max(peak, limiter.in_flight)
                await asyncio.sleep(1.0)

        await asyncio.gather(*(one() for _ in range(9)))
        return asyncio.get_running_loop().time()

    end = vloop.run(main())
    assert peak == 3
    assert end == pytest.approx(3.0, abs=1e-6)  # 9 jobs, 3 at a time, 1 s each


def test_park_delays_everyone_and_never_shortens(vloop):
    async def main():
        loop = asyncio.get_running_loop()
        limiter = HostLimiter("h:1", rate_per_s=None, max_concurrency=10)
        limiter.park(5.0)
        limiter.park(2.0)  # shorter park must not shorten the first
        assert limiter.parked_for() == pytest.approx(5.0)
        t = await _grant_times(limiter, 3)
        return t, loop.time(), limiter.statistics()

    times, _end, stats = vloop.run(main())
    assert all(x == pytest.approx(5.0) for x in times)
    assert stats.parks == 1 and stats.granted == 3


def test_park_during_wait_is_honoured(vloop):
    async def main():
        loop = asyncio.get_running_loop()
        limiter = HostLimiter("h:1", rate_per_s=1.0, burst=1, max_concurrency=10)
        times: list[float] = []

        async def one():
            async with limiter.slot():
                times.append(loop.time())

        tasks = [asyncio.create_task(one()) for _ in range(3)]
        await asyncio.sleep(0.5)  # first granted at 0, second waits for t=1
        limiter.park(10.0)  # now nothing may go before t=10.5
        await asyncio.gather(*tasks)
        return times

    times = vloop.run(main())
    assert times[0] == pytest.approx(0.0)
    assert times[1] == pytest.approx(10.5)
    assert times[2] >= 10.5


def test_rate_and_concurrency_change_at_run_time(vloop):
    async def main():
        loop = asyncio.get_running_loop()
        limiter = HostLimiter("h:1", rate_per_s=1.0, burst=1, max_concurrency=1)
        times: list[float] = []

        async def one():
            async with limiter.slot():
                times.append(loop.time())

        tasks = [asyncio.create_task(one()) for _ in range(5)]
        await asyncio.sleep(0.1)
        limiter.set_rate(10.0)
        limiter.set_concurrency(5)
        await asyncio.gather(*tasks)
        return times, limiter.statistics()

    times, stats = vloop.run(main())
    assert times[-1] < 1.5  # at 1/s the fifth would have waited until t=4
    assert stats.rate_per_s == 10.0 and stats.max_concurrency == 5 and stats.in_flight == 0


def test_cancelled_waiter_releases_its_place(vloop):
    async def main():
        limiter = HostLimiter("h:1", rate_per_s=None, max_concurrency=1)
        order: list[str] = []

        async def hold():
            async with limiter.slot():
                order.append("hold")
                await asyncio.sleep(1)

        async def wait(name):
            async with limiter.slot():
                order.append(name)

        t1 = asyncio.create_task(hold())
        await asyncio.sleep(0)
        t2 = asyncio.create_task(wait("cancelled"))
        t3 = asyncio.create_task(wait("after"))
        await asyncio.sleep(0.1)
        t2.cancel()
        await asyncio.gather(t1, t3, t2, return_exceptions=True)
        return order, limiter.in_flight

    order, in_flight = vloop.run(main())
    assert order == ["hold", "after"]
    assert in_flight == 0


@pytest.mark.parametrize(
    "kwargs",
    [{"rate_per_s": 0}, {"rate_per_s": -1}, {"burst": 0}, {"max_concurrency": 0}],
)
def test_invalid_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        HostLimiter("h:1", **kwargs)


def test_a_lowered_concurrency_holds_for_requests_already_waiting_their_turn(vloop):
    # Four requests hold slots while the pacer spaces them (1/s); the concurrency drops
    # to 1 before the last three are sent: none of them may go while another is out.
    active = peak = 0

    async def main():
        limiter = HostLimiter("h:1", rate_per_s=1.0, max_concurrency=4)

        async def one():
            nonlocal active, peak
            async with limiter.slot():
                active += 1
                peak = max(peak, active)
                await asyncio.sleep(5.0)  # on the wire for a while
                active -= 1

        tasks = [asyncio.create_task(one()) for _ in range(4)]
        await asyncio.sleep(0.5)  # the first is sent; three wait for the pacer
        limiter.set_concurrency(1)
        await asyncio.gather(*tasks)
        return asyncio.get_running_loop().time()

    end = vloop.run(main())
    assert peak == 1
    assert end >= 4 * 5.0 - 1e-6  # one at a time once lowered


@pytest.mark.parametrize(
    ("before", "after", "expected_second_s"),
    [
        # A raise from 1/s to 10/s at t=0.1: the 0.9 s still owed is a tenth of it at the new
        # rate, so the second request leaves at 0.19 instead of waiting for t=1.0.
        (1.0, 10.0, 0.1 + 0.9 / 10),
        # A cut from 10/s to 1/s at t=0.05: the 0.05 s owed becomes half a second.
        (10.0, 1.0, 0.05 + 0.05 * 10),
    ],
)
def test_a_rate_change_re_plans_the_next_send(vloop, before, after, expected_second_s):
    async def main():
        loop = asyncio.get_running_loop()
        limiter = HostLimiter("h:1", rate_per_s=before, burst=1, max_concurrency=10)
        times: list[float] = []

        async def one():
            async with limiter.slot():
                times.append(loop.time())

        start = loop.time()
        first = asyncio.create_task(one())
        await first
        second = asyncio.create_task(one())
        await asyncio.sleep(0.1 if after > before else 0.05)
        limiter.set_rate(after)
        await second
        return [t - start for t in times]

    times = vloop.run(main())
    assert times[0] == pytest.approx(0.0, abs=1e-6)
    assert times[1] == pytest.approx(expected_second_s, abs=1e-6)


def _late_grants(limiter: HostLimiter, late_s: list[float]) -> list[float]:
    """Grant times of requests that each ask ``late_s[i]`` after the previous grant's turn
    (the pacer's next slot), as a worker whose timer fired that late would."""

    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        times: list[float] = []
        interval = 1.0 / (limiter.rate_per_s or 1.0)
        for late in late_s:
            if times:
                # The next turn is one interval after the last grant; arrive late for it.
                await asyncio.sleep(max(0.0, times[-1] + interval + late - loop.time()))
            async with limiter.slot():
                times.append(loop.time())
        return times

    v = VirtualClockLoop()
    try:
        return v.run(main())
    finally:
        v.close()


def test_without_catch_up_a_late_request_delays_every_later_one():
    limiter = HostLimiter("h:1", rate_per_s=100.0, burst=1, max_concurrency=10)
    assert limiter.catch_up_s == 0.0
    times = _late_grants(limiter, [0.0] + [0.001] * 10)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Each lands 1 ms late and the next counts from there: 11 ms apart, 91/s.
    assert gaps == pytest.approx([0.011] * 10, abs=1e-6)


def test_catch_up_keeps_the_average_rate_and_bounds_how_close_two_requests_come():
    limiter = HostLimiter("h:1", rate_per_s=100.0, burst=1, max_concurrency=10)
    limiter.set_catch_up(0.002)
    lateness = [0.0, 0.0015, 0.0, 0.0019, 0.0005, 0.0, 0.001, 0.0, 0.0, 0.0]
    times = [0.0]

    async def main() -> list[float]:
        # Workers whose timers aim at the pacer's turn (less the catch-up) and fire late.
        loop = asyncio.get_running_loop()
        out: list[float] = []
        for late in lateness:
            async with limiter.slot():
                out.append(loop.time())
            turn = limiter._tat - limiter.catch_up_s  # when the next may leave
            await asyncio.sleep(max(0.0, turn - loop.time()) + late)
        return out

    v = VirtualClockLoop()
    try:
        times = v.run(main())
    finally:
        v.close()
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Late timers cost nothing as long as they are later than the catch-up allows...
    assert times[-1] - times[0] == pytest.approx(0.09 - 0.002 + lateness[-2], abs=1e-6)
    # ... and no two requests come closer than an interval less the catch-up.
    assert min(gaps) >= 0.01 - 0.002 - 1e-9
    assert min(gaps) < 0.01  # one did make up for a late one


def test_catch_up_must_not_be_negative():
    limiter = HostLimiter("h:1", rate_per_s=1.0)
    with pytest.raises(ValueError, match="catch_up_s"):
        limiter.set_catch_up(-0.001)
