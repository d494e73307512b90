"""HostController on fake time: feedback is fed directly, ``now`` is a plain number.

The tests use the module's constants (slow-start factor, cut factors, settle gap...) rather
than copies of their values, so they check the behaviour, not a tuning.
"""

from __future__ import annotations

import itertools

import pytest

from rdaplab.engine import controller as C
from rdaplab.engine.config import Limits
from rdaplab.engine.controller import HostController
from rdaplab.engine.limiter import HostLimiter
from rdaplab.engine.profiles import PROFILES, Profile


def make(
    rate: float = 2.0, conc: int = 2, *, max_rate: float = 100.0, max_conc: int = 16, **kw
) -> HostController:
    limiter = HostLimiter("h:1", rate_per_s=None)  # constructed outside a loop on purpose
    profile = Profile(rate_per_s=rate, concurrency=conc, **kw)
    return HostController(limiter, profile, max_rate_per_s=max_rate, max_concurrency=max_conc)


class Feed:
    """Answers arriving at a share of the controller's current rate, on a fake clock."""

    def __init__(self, ctl: HostController, t: float = 0.0) -> None:
        self.ctl = ctl
        self.t = t
        self.log: list[tuple[float, str, float]] = []  # (time, decision, rate after)

    def run(
        self,
        seconds: float,
        *,
        latency: float = 0.05,
        backlog: int = 10**6,
        share: float = 1.0,
        in_flight: int = 1,
        until: str | None = None,
    ) -> list[str]:
        decisions: list[str] = []
        end = self.t + seconds
        while self.t < end:
            self.t += 1.0 / (self.ctl.rate * share)
            d = self.ctl.on_answer(
                sent_at=self.t - latency, now=self.t, in_flight=in_flight, backlog=backlog
            )
            if d is not None:
                decisions.append(d)
                self.log.append((self.t, d, self.ctl.rate))
            if until is not None and (d == until or self.ctl.phase == until):
                break
        return decisions

    def throttle(self, *, sent_ago: float = 0.05, in_flight: int = 1) -> str:
        self.t += 0.001
        return self.ctl.on_throttle(sent_at=self.t - sent_ago, now=self.t, in_flight=in_flight)


def test_slow_start_doubles_the_rate_each_clean_busy_window_up_to_the_ceiling():
    ctl = make(2.0, max_rate=50.0)
    feed = Feed(ctl)
    decisions = feed.run(30)
    assert decisions and set(decisions) == {"raise"}
    rates = [rate for _, _, rate in feed.log]
    expected, r = [], 2.0
    while r < 50.0:
        r = min(50.0, r * C.SLOW_START_FACTOR)
        expected.append(r)
    assert rates == pytest.approx(expected)
    # One raise per window, never two in the same window.
    times = [t for t, _, _ in feed.log]
    assert all(b - a >= C.START_WINDOW_MIN_S - 1e-9 for a, b in itertools.pairwise(times))
    assert ctl.limiter.rate_per_s == pytest.approx(50.0)
    assert ctl.phase == "start" and ctl.hi is None and ctl.raises == len(expected)


def test_no_raise_without_a_backlog_or_when_the_rate_is_not_used():
    idle = make(2.0)
    assert Feed(idle).run(30, backlog=False) == []
    assert idle.rate == 2.0 and idle.raises == 0
    # Work is queued, but answers arrive at a third of the rate (the pacer is not what
    # limits): a faster rate would prove nothing.
    slow = make(2.0)
    assert Feed(slow).run(30, share=0.3) == []
    assert slow.rate == 2.0


def test_half_used_rate_is_not_busy_in_the_first_window_either():
    half = make(2.0)
    assert Feed(half).run(30, share=0.5) == []
    assert half.rate == 2.0


def test_a_throttle_cuts_ends_slow_start_and_sets_hi():
    ctl = make(2.0)
    feed = Feed(ctl)
    feed.run(60, until="raise")
    feed.run(60, until="raise")
    feed.run(60, until="raise")
    top = ctl.rate
    assert top == pytest.approx(2.0 * C.SLOW_START_FACTOR**3)
    assert feed.throttle() == "cut"
    assert ctl.hi == pytest.approx(top) and ctl.phase == "search" and ctl.cuts == 1
    # The first cut goes to what the host let through lately, at most a CUT_FACTOR cut.
    assert ctl.floor_rate <= ctl.rate <= top * C.CUT_FACTOR + 1e-9
    assert ctl.limiter.rate_per_s == pytest.approx(ctl.rate)
    # Slow start is over: from now on the rate creeps up in bounded steps, never past hi.
    before = ctl.rate
    feed.log.clear()
    feed.run(20)
    previous = before
    for _, decision, rate in feed.log:
        assert decision == "raise"
        assert rate <= previous * (1 + C.MAX_STEP) + 1e-9
        assert rate <= top + 1e-9
        previous = rate
    assert ctl.phase in ("search", "settled")


def test_throttles_sent_before_the_last_cut_are_the_same_event():
    ctl = make(8.0)
    feed = Feed(ctl)
    feed.run(3)
    assert feed.throttle() == "cut"
    rate, cuts, events = ctl.rate, ctl.cuts, ctl.throttle_events
    # Requests already on the wire at the old rate come back throttled too: no new cut.
    for ago in (0.002, 0.5, 5.0):
        assert feed.throttle(sent_ago=ago) == "same_event"
    assert (ctl.rate, ctl.cuts, ctl.throttle_events) == (rate, cuts, events)
    # A request sent after the cut, throttled before anything got through: cut harder,
    # and (the fifth refusal within a minute) harder still, to keep clear of a block.
    assert feed.throttle(sent_ago=0.0001) == "cut"
    assert ctl.rate == pytest.approx(rate * C.HARD_CUT_FACTOR * C.CAUTION_CUT)
    assert ctl.throttle_events == events + 1


def test_proven_rates_raise_toward_hi_and_settle_below_it():
    ctl = make(10.0)
    feed = Feed(ctl)
    assert feed.throttle() == "cut"
    hi = ctl.hi
    assert hi == 10.0 and ctl.rate < hi
    feed.run(300, until="settled")
    assert ctl.phase == "settled"
    rates = [rate for _, d, rate in feed.log if d == "raise"]
    assert len(rates) >= 2 and rates == sorted(rates)
    assert all(rate <= hi + 1e-9 for rate in rates)
    assert hi - ctl.rate <= C.SETTLE_GAP * hi + 1e-9
    assert ctl.lo is not None and ctl.lo <= ctl.rate
    # Each step waited for the previous rate to be proven (a proof period, 12+ answers).
    times = [t for t, d, _ in feed.log if d == "raise"]
    assert all(b - a >= C.PROOF_MIN_S - 1e-9 for a, b in itertools.pairwise(times))
    # Settled: a further stretch shorter than the re-probe period changes nothing.
    settled_rate = ctl.rate
    assert feed.run(C.REPROBE_AFTER_S / 2) == []
    assert ctl.rate == settled_rate and ctl.phase == "settled"


def test_a_long_clean_spell_at_the_settled_rate_reprobes_above_the_old_hi():
    ctl = make(10.0)
    feed = Feed(ctl)
    feed.throttle()
    feed.run(300, until="settled")
    old_hi = ctl.hi
    assert old_hi is not None
    feed.run(C.REPROBE_AFTER_S + 30)
    assert ctl.hi is not None and ctl.hi > old_hi


def test_latency_growth_slows_the_rate_without_an_explicit_signal():
    ctl = make(4.0)
    feed = Feed(ctl)
    assert feed.run(5, latency=0.05, backlog=False) == []
    before = ctl.rate
    decisions = feed.run(10, latency=0.8, backlog=False, until="slow")
    assert decisions and decisions[-1] == "slow"
    assert ctl.rate == pytest.approx(before * C.LATENCY_CUT)
    assert ctl.hi == pytest.approx(before) and ctl.phase == "search"
    # Jitter within the tolerance is not queueing.
    calm = make(4.0)
    calm_feed = Feed(calm)
    calm_feed.run(5, latency=0.05, backlog=False)
    assert calm_feed.run(20, latency=0.08, backlog=False) == []
    assert calm.rate == 4.0


def test_concurrency_ceiling_is_learned_when_throttles_come_only_above_k_in_flight():
    ctl = make(8.0, 8, max_conc=16)
    feed = Feed(ctl)
    for k in (1, 2, 3, 4):
        feed.run(1.0, latency=1.0, in_flight=k)
    # At a rate proven clean, a rate limit (if any) far above it.
    ctl.lo, ctl.hi, ctl.phase = ctl.rate, ctl.rate * 2, "search"
    assert ctl.concurrency > 4  # rate x latency wants more than the host allows
    decisions = [feed.throttle(in_flight=5, sent_ago=0.0005) for _ in range(3)]
    # Refused at a proven rate, only ever above 4 in flight: a connection limit.
    assert "concurrency" in decisions
    assert ctl.conc_ceiling == 4
    assert ctl.concurrency <= 4 and ctl.limiter.max_concurrency <= 4
    assert ctl.statistics().concurrency_ceiling == 4
    # A ceiling the host taught us stays, however clean the answers under it are.
    feed.run(60, latency=1.0, in_flight=4)
    assert ctl.conc_ceiling == 4 and ctl.limiter.max_concurrency <= 4


def test_throttles_without_clean_answers_below_do_not_set_a_concurrency_ceiling():
    ctl = make(8.0, 8, max_conc=16)
    feed = Feed(ctl)
    feed.run(2, latency=0.5, backlog=False, in_flight=4)
    for _ in range(3):
        feed.throttle(in_flight=2)  # a rate limit: throttled at 2 after clean answers at 4
    assert ctl.conc_ceiling == 16


def test_a_pinned_profile_never_changes():
    ctl = make(3.0, 2, adaptive=False, burst=2)
    assert ctl.phase == "pinned"
    feed = Feed(ctl)
    seen = set(feed.run(20))
    seen |= set(feed.run(10, latency=2.0))
    for _ in range(5):
        seen.add(feed.throttle(in_flight=2))
    seen |= set(feed.run(10))
    assert seen <= {"park", "same_event"} and "park" in seen
    lim = ctl.limiter
    assert (ctl.rate, lim.rate_per_s, lim.burst, lim.max_concurrency) == (3.0, 3.0, 2, 2)
    st = ctl.statistics()
    assert (st.phase, st.cuts, st.raises, st.hi_rate_per_s) == ("pinned", 0, 0, None)


def test_a_rate_typed_in_limits_hosts_is_pinned_through_the_controller():
    ctl = Limits(hosts={"rdap.example.net": {"rate_per_s": 3}}).controller_for(
        "rdap.example.net:443"
    )
    feed = Feed(ctl)
    feed.run(20)
    feed.throttle()
    feed.run(5)
    assert ctl.rate == 3.0 and ctl.limiter.rate_per_s == 3.0 and ctl.phase == "pinned"


def test_a_published_maximum_is_never_exceeded():
    lacnic = PROFILES["rdap.lacnic.net"]
    assert lacnic.max_rate_per_s is not None
    ctl = HostController(HostLimiter("rdap.lacnic.net:443", rate_per_s=None), lacnic)
    feed = Feed(ctl)
    feed.run(600)
    assert ctl.rate <= lacnic.max_rate_per_s + 1e-12
    assert ctl.limiter.rate_per_s is not None
    assert ctl.limiter.rate_per_s <= lacnic.max_rate_per_s + 1e-12
    assert ctl.limiter.max_concurrency <= (lacnic.max_concurrency or 1)


def test_unpaced_profile_is_not_adaptive():
    ctl = make(None)  # type: ignore[arg-type]
    assert not ctl.adaptive and ctl.limiter.rate_per_s is None
    assert ctl.statistics().rate_per_s is None
    ctl.on_throttle(sent_at=0.0, now=0.1, in_flight=1)
    assert ctl.limiter.rate_per_s is None


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        (Limits(hosts={"rdap.example.net": {"concurrency": 1}}), 1),
        (Limits(per_host_rate_per_s=20.0, per_host_concurrency=2), 2),
    ],
)
def test_an_adaptive_host_starts_at_the_profiles_concurrency(limits, expected):
    ctl = limits.controller_for("rdap.example.net:443")
    assert ctl.adaptive
    assert ctl.limiter.max_concurrency == expected


def test_latency_jitter_in_slow_start_is_not_queueing():
    # A registry answering in 73 +- 36 ms (uniform), every answer on time: in slow start
    # a window holds one answer, and two single answers in a row above 2 x the fastest
    # were once enough for a "slow" cut that set hi at 4/s (the Dask bench, seed 2).
    import random

    slowed = []
    for seed in range(200):
        rng = random.Random(seed)
        ctl = make(2.0, max_rate=60.0)
        t = 0.0
        while t < 6.0 and ctl.rate < 60.0:
            t += 1.0 / ctl.rate
            lat = rng.uniform(0.037, 0.109)
            d = ctl.on_answer(sent_at=t - lat, now=t, in_flight=1, backlog=10**6)
            if d == "slow":
                slowed.append((seed, round(t, 2), ctl.rate))
                break
    assert slowed == []


def test_latency_judgement_pools_short_windows():
    # Queueing still shows at a slow host whose windows hold one or two answers each.
    ctl = make(1.0, max_rate=1.0)
    feed = Feed(ctl)
    feed.run(12, latency=0.05)
    decisions = feed.run(40, latency=0.6, until="slow")
    assert decisions[-1:] == ["slow"]
    # ... not on the first few slow answers: the second judgement rests on fresh ones only
    assert feed.t - 12 >= C.LATENCY_MIN_ANSWERS / 1.0
    assert ctl.hi == pytest.approx(1.0) and ctl.rate == pytest.approx(C.LATENCY_CUT)


def test_a_cautious_host_with_nothing_measured_climbs_from_what_it_proved():
    # Slow start's overshoot came back as 3 refusals at once (one event): cautious, and
    # no rate measured between two throttles yet. A full step from there (50 -> 62.5/s
    # for a 60/s host shared by 4 Dask workers) was the 4th refusal in a minute, a
    # caution cut to 40/s and 1.52 x the bound; now each step stays within
    # CAUTION_HEADROOM of the rate proven clean.
    ctl = make(25.0, max_rate=1000.0)
    feed = Feed(ctl)
    feed.run(0.6)
    assert ctl.phase == "start" and ctl.rate > 25.0
    assert feed.throttle() == "cut"
    assert [feed.throttle(), feed.throttle()] == ["same_event", "same_event"]
    assert ctl.cautious(feed.t) and ctl._measured_max == 0.0
    raises = []
    end = feed.t + 30.0
    while feed.t < end:
        feed.t += 1.0 / ctl.rate
        if ctl.on_answer(sent_at=feed.t - 0.05, now=feed.t, in_flight=1, backlog=10**6) == "raise":
            raises.append((ctl.lo, ctl.rate))  # lo as the proof just set it
    assert len(raises) >= 5, "a proven rate is still raised, step by step"
    assert all(lo is not None and rate <= C.CAUTION_HEADROOM * lo + 1e-9 for lo, rate in raises)


@pytest.mark.parametrize("rate", [2.0, 30.0, 100.0])
def test_the_pacer_may_make_up_for_late_timers_far_from_any_refused_rate(rate):
    ctl = make(rate)
    assert ctl.hi is None
    expected = min(C.CATCH_UP_SHARE / rate, C.CATCH_UP_MAX_S)
    assert ctl.limiter.catch_up_s == pytest.approx(expected)
    assert ctl.limiter.catch_up_s > 0


def test_the_pacer_never_sends_early_under_a_known_ceiling():
    # Whether hi comes first and the rate after, or the other way round; and back once
    # hi is gone (503 faults taken back, or a connection limit found instead).
    for order in ("hi first", "rate first"):
        ctl = make(2.0)
        if order == "hi first":
            ctl.hi = 50.0
            ctl._set_rate(40.0, 10.0)
        else:
            ctl._set_rate(40.0, 10.0)
            ctl.hi = 50.0
        assert ctl.limiter.catch_up_s == 0.0
        ctl.hi = None
        assert ctl.limiter.catch_up_s == pytest.approx(
            min(C.CATCH_UP_SHARE / 40.0, C.CATCH_UP_MAX_S)
        )


def test_a_pinned_rate_is_never_sent_early():
    ctl = make(3.0, 2, adaptive=False)
    assert ctl.limiter.catch_up_s == 0.0
