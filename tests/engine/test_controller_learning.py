"""How the controller learns a host's limit (issue 11), on fake time.

Two kinds of check: single decisions fed by hand (the rate measured between throttles,
parks, probes that must pay back, connection limits, a learned start; 503s are in
test_controller_503.py), and
seeded random token-bucket hosts driven by :mod:`tests.engine.bucket_host` whose
distribution of outcomes must stay inside bounds (hosts drawn, never tuned for).
"""

from __future__ import annotations

import random
import statistics

import pytest

from rdaplab.engine import controller as C
from rdaplab.engine.controller import HostController
from rdaplab.engine.learned import LearnedLimits
from rdaplab.engine.limiter import HostLimiter
from rdaplab.engine.profiles import Profile
from tests.engine.bucket_host import BucketHost, WindowHost, controller, drive


def make(rate: float = 2.0, conc: int = 2, **kw: object) -> HostController:
    limiter = HostLimiter("h:1", rate_per_s=None)
    return HostController(limiter, Profile(rate_per_s=rate, concurrency=conc), **kw)  # type: ignore[arg-type]


def answers(ctl: HostController, start: float, end: float, *, backlog: int = 10**6) -> float:
    """Answers sent at the controller's rate from ``start`` to ``end`` (latency 10 ms)."""
    t = start
    while t < end:
        ctl.on_answer(sent_at=t, now=t + 0.01, in_flight=1, backlog=backlog)
        t += 1.0 / ctl.rate
    return t


# -- single decisions ------------------------------------------------------------------------
def test_a_cut_goes_just_under_the_rate_measured_between_two_throttles():
    ctl = make(20.0)
    assert ctl.on_throttle(sent_at=0.0, now=0.01, in_flight=1) == "cut"
    # 12 answers in the 2 s between this throttle and the next: the host takes ~6/s.
    for i in range(12):
        t = 0.1 + i * (2.0 / 12)
        ctl.on_answer(sent_at=t, now=t + 0.01, in_flight=1, backlog=10**6)
    assert ctl.on_throttle(sent_at=2.1, now=2.11, in_flight=1) == "cut"
    measured = 12 / 2.1
    assert ctl.rate == pytest.approx(measured * C.ESTIMATE_MARGIN, rel=0.02)
    # The host cannot have accepted more than 13 in that span: that is the new ceiling.
    assert ctl.hi == pytest.approx(13 / 2.1, rel=0.02)


def test_throttles_without_retry_after_park_one_interval_then_double_while_they_repeat():
    ctl = make(10.0)
    d = ctl.on_throttle(sent_at=0.0, now=0.01, in_flight=1)
    first = ctl.park_s(d, None)
    assert first == pytest.approx(1.0 / ctl.rate)
    d = ctl.on_throttle(sent_at=1.0, now=1.01, in_flight=1)  # again, soon after
    assert ctl.park_s(d, None) == pytest.approx(2.0 / ctl.rate)
    # Requests already on the wire when the rate was cut: no park of their own.
    assert ctl.park_s("same_event", None) == 0.0
    assert ctl.park_s("concurrency", None) == 0.0
    # The host's own word wins.
    assert ctl.park_s(d, 3.0) == 3.0
    # A throttle long after the last starts a new streak.
    d = ctl.on_throttle(sent_at=30.0, now=30.01, in_flight=1)
    assert ctl.park_s(d, None) == pytest.approx(1.0 / ctl.rate)


def test_a_pinned_host_parks_for_the_callers_default():
    ctl = make(5.0)
    ctl.adaptive = False
    assert ctl.park_s("park", None) == float("inf")


def test_an_http_date_retry_after_is_read_with_its_one_second_resolution():
    # Retry-After 55 ms: "one request per 55 ms is fine" holds the cut up at ~18/s (less
    # the 5 % margin of any reading) ...
    plain = make(20.0)
    plain.on_throttle(sent_at=0.0, now=0.01, in_flight=1, retry_after_s=0.055)
    assert plain.rate == pytest.approx(C.ESTIMATE_MARGIN / 0.055)
    # ... but as an HTTP-date 55 ms away it names a whole second: up to 1.055 s.
    dated = make(20.0)
    dated.on_throttle(
        sent_at=0.0, now=0.01, in_flight=1, retry_after_s=0.055, retry_after_resolution_s=1.0
    )
    assert dated.rate == pytest.approx(20.0 * C.CUT_FACTOR)


def test_no_probe_above_a_proven_rate_when_the_work_left_cannot_pay_for_it():
    def settle(backlog: int) -> HostController:
        ctl = make(10.0)
        ctl.on_throttle(sent_at=0.0, now=0.01, in_flight=1)
        answers(ctl, 0.1, 30.0, backlog=backlog)
        return ctl

    few = settle(backlog=C.PAYBACK_REQUESTS - 1)
    many = settle(backlog=10**6)
    # Far under the throttled rate, steps are cheap either way; close under it they are
    # likely throttles, taken only with enough work left to spend one on.
    assert few.hi == many.hi == 10.0
    assert few.rate <= C.RISKY_SHARE * few.hi + 1e-9 < many.rate


def test_a_park_is_not_proof_of_the_rate_after_it():
    # A second-long Retry-After after a cut: the host's bucket refills meanwhile, so the
    # answers right after the park say nothing of the cut rate until a proof's time of
    # them has passed (counted from the park's end, not from the cut).
    ctl = make(10.0)
    d = ctl.on_throttle(sent_at=0.0, now=0.01, in_flight=1)
    assert d == "cut" and ctl.park_s(d, 2.0) == 2.0
    cut_rate, proof = ctl.rate, ctl._proof_s()
    t = answers(ctl, 2.02, 2.02 + 0.8 * proof)
    assert ctl.lo is None
    answers(ctl, t, 2.02 + 1.6 * proof)
    assert ctl.lo == pytest.approx(cut_rate, rel=0.05)


def test_the_horizon_reads_the_rate_a_ramping_host_can_reach():
    ramping = make(2.0, 4)
    ramping.on_answer(sent_at=0.0, now=0.05, in_flight=1, backlog=100)
    # In slow start with no ceiling known: what its connections allow at its latency.
    assert ramping.hi is None
    assert ramping.reachable_rate == pytest.approx(
        min(ramping.max_rate, ramping.conc_ceiling / ramping.base_latency)
    )
    assert ramping.reachable_rate > ramping.rate
    ramping.on_throttle(sent_at=0.1, now=0.15, in_flight=1)
    assert ramping.reachable_rate == ramping.rate  # a ceiling known: its rate
    pinned = HostController(
        HostLimiter("h:1", rate_per_s=None), Profile(rate_per_s=3.0, adaptive=False)
    )
    assert pinned.reachable_rate == 3.0


def test_the_first_cut_reads_what_was_accepted_since_the_first_request_only():
    # Seed 1's 3.9/s registry: answers to requests sent at 0 and 0.5 s, the third (at
    # 4/s) refused. Two answers in the 0.76 s since the first request are 2.6/s: the
    # cut lands there, not at the 2/s of a look-back reaching before the batch began.
    ctl = make(2.0)
    ctl.on_answer(sent_at=0.0, now=0.0064, in_flight=1, backlog=30)
    assert ctl.on_answer(sent_at=0.5, now=0.5064, in_flight=1, backlog=29) == "raise"
    assert ctl.on_throttle(sent_at=0.755, now=0.756, in_flight=1, retry_after_s=1.0) == "cut"
    assert ctl.rate == pytest.approx(2 / 0.756, rel=0.01)


@pytest.mark.parametrize("extra", [0, 5])
def test_a_slow_start_throttle_after_more_answers_than_a_burst_halves_the_rate(extra):
    # Slow start to 64/s, ``extra`` answers at 64/s, then a refusal. What came back in
    # the last second was mostly sent at 8-32/s (about 15/s): a cut to that would leave
    # a 45/s host at a third of its rate. Once more answers came back than any burst
    # holds (START_CUT_MIN_ANSWERS), the cut goes no lower than half the refused rate.
    ctl = make(2.0)
    t = 0.0
    while ctl.rate < 64 or extra:
        extra -= ctl.rate >= 64
        ctl.on_answer(sent_at=t, now=t + 0.005, in_flight=1, backlog=10**6)
        t += 1 / ctl.rate
    accepted = ctl._accepted_rate(t)
    assert accepted is not None and accepted < 0.5 * 64
    answers = ctl._answers
    assert ctl.on_throttle(sent_at=t, now=t + 0.005, in_flight=1) == "cut"
    if answers >= C.START_CUT_MIN_ANSWERS:
        assert ctl.rate == pytest.approx(C.START_CUT_SHARE * 64)
    else:  # a burst could hold every answer: what was accepted is all it proves
        assert ctl.rate == pytest.approx(accepted)


def test_a_step_must_also_pay_for_the_park_a_failed_probe_would_cost():
    # The same host, cut from 20/s to 16/s, 100 requests queued: a step to 18/s saves
    # ~0.7 s. Worth it when a throttle costs a short park; not when the host answers
    # with Retry-After: 1 (a second idle if the probe fails).
    def after_cut(retry_after_s: float | None) -> HostController:
        ctl = make(20.0)
        d = ctl.on_throttle(sent_at=0.0, now=0.01, in_flight=1, retry_after_s=retry_after_s)
        park = ctl.park_s(d, retry_after_s)
        answers(ctl, 0.01 + park, 6.0 + park, backlog=100)
        return ctl

    cheap, dear = after_cut(None), after_cut(1.0)
    assert cheap.hi == dear.hi == 20.0
    assert cheap.raises >= 1 and cheap.rate > 16.0
    assert dear.raises == 0 and dear.rate == pytest.approx(16.0)


@pytest.mark.parametrize("rate", [30.0, 34.3, 40.0, 50.0])
@pytest.mark.parametrize("burst", [8, 9, 10])
def test_a_bursty_hosts_first_slow_start_window_is_not_taken_for_its_rate(monkeypatch, rate, burst):
    # A slow-start window of 10-16 answers can be a full bucket draining (bursts run to
    # 10): only a window of CLEAN_WINDOW_REQUESTS floors the first cut. At 10, a 34/s
    # host with a burst of 9 was cut to 1.7 x its rate and refused again at once. (The
    # halving floor is switched off here to see this rule alone.)
    monkeypatch.setattr(C, "START_CUT_SHARE", 0.0)
    ctl = controller()
    cuts: list[float] = []
    on_throttle = ctl.on_throttle

    def record(*args: object, **kwargs: object) -> str | None:
        decision = on_throttle(*args, **kwargs)  # type: ignore[arg-type]
        if decision == "cut":
            cuts.append(ctl.rate)
        return decision

    ctl.on_throttle = record  # type: ignore[method-assign]
    drive(BucketHost(rate, burst, 0.025), ctl, requests=300)
    assert cuts and cuts[0] <= rate


@pytest.mark.parametrize("events", [C.CAUTION_STOP_EVENTS - 1, C.CAUTION_STOP_EVENTS])
def test_after_enough_throttle_events_in_a_minute_nothing_is_raised(events):
    # Generated seed 60: a registrar cut five times in 12 s was raised after 12 s clean
    # and blocked at its sixth refusal. From CAUTION_STOP_EVENTS events a minute on, the
    # rate stays put (one fewer still lets a cautious step through).
    ctl = make(10.0)
    t = 0.0
    for _ in range(events):
        ctl.on_throttle(sent_at=t, now=t + 0.01, in_flight=1)
        t = answers(ctl, t + 0.02, t + 1.0)
    rate, raises = ctl.rate, ctl.raises
    answers(ctl, t, t + 20.0)  # clean and busy, well within the minute
    if events >= C.CAUTION_STOP_EVENTS:
        assert ctl.raises == raises and ctl.rate == rate
    else:
        assert ctl.raises > raises and ctl.rate > rate


def test_connection_refusals_set_the_ceiling_and_leave_the_rate():
    ctl = make(10.0, 4)
    answers(ctl, 0.0, 2.0)
    rate = ctl.rate
    assert ctl.on_throttle(sent_at=2.0, now=2.01, in_flight=3, connections=True) == "concurrency"
    assert ctl.conc_ceiling == 2 and ctl.rate == rate and ctl.cuts == 0
    assert ctl.limiter.max_concurrency <= 2


def test_a_rate_limit_is_not_taken_for_a_connection_limit():
    # Ramping up, throttles come with more requests in flight (a faster rate means more
    # on the wire): that pattern alone must not set a concurrency ceiling.
    host = BucketHost(8.0, burst=2, latency_s=0.25)
    ctl = controller()
    drive(host, ctl, requests=400)
    assert ctl.throttle_events >= 1
    assert ctl.conc_ceiling == ctl.conc_max


def test_a_learned_start_begins_near_the_learned_rate_with_its_ceiling():
    learned = LearnedLimits(host="h:1", rate_per_s=20.0, throttled_at_per_s=22.0, age_s=60)
    ctl = make(2.0, learned=learned)
    assert ctl.rate == pytest.approx(20.0 * learned.trust)
    assert ctl.hi == 22.0 and ctl.phase == "search" and ctl.learned_from is learned
    old = LearnedLimits(host="h:1", rate_per_s=20.0, age_s=60 * 86_400)
    assert make(2.0, learned=old).rate == 2.0
    pinned = Profile(rate_per_s=3.0, adaptive=False)
    ctl = HostController(HostLimiter("h:1", rate_per_s=None), pinned, learned=learned)
    assert ctl.rate == 3.0  # a pinned rate is the user's decision


# -- seeded random hosts -----------------------------------------------------------------------
def random_hosts(seed: int, n: int) -> list[tuple[float, int, float, int]]:
    """(rate/s 0.5-60 log-uniform, burst 1-10, latency 5-300 ms, requests: 20-60 s)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        rate = 10 ** rng.uniform(-0.3, 1.78)
        burst = rng.randint(1, 10)
        latency = 10 ** rng.uniform(-2.3, -0.52)
        out.append((rate, burst, latency, max(30, int(rate * rng.uniform(20, 60)))))
    return out


# (Retry-After in whole seconds?, median, p90, worst ratio, median throttled share,
# share of hosts ending within 10 % under their limit). Measured on seed 11 as built
# (cautious after 3 refusals a minute): no Retry-After 1.10 / 1.18 / 1.38, 1.5 %, 73 %;
# with it 1.15 / 1.29 / 1.58, 1.6 %, 59 % (a second-long park on every throttle costs
# time and hides the rate; caution then holds the rate near what was measured). Since a
# rate is raised as soon as it is proven (2026-12-05): 1.095 / 1.21 / 1.41, 1.5 %, 63 %
# and 1.149 / 1.256 / 1.476, 1.7 %, 57 % (before: 67 % and 58 % near, p90 1.226 and
# 1.268): a quicker climb ends a few more hosts just under 0.9 x their limit, after one
# more probe refused late in the run.
BOUNDS = [(False, 1.15, 1.25, 1.6, 0.03, 0.6), (True, 1.2, 1.35, 1.7, 0.03, 0.5)]


@pytest.mark.parametrize(("retry_after", "median", "p90", "worst", "share", "near"), BOUNDS)
def test_random_token_bucket_hosts_are_served_near_their_rate_with_few_throttles(
    retry_after, median, p90, worst, share, near
):
    ratios, shares, found = [], [], []
    for rate, burst, latency, n in random_hosts(11, 120):
        host = BucketHost(rate, burst, latency, retry_after=retry_after)
        run = drive(host, controller(), requests=n)
        bound = max(0.0, n - burst) / rate + latency
        ratios.append(run.elapsed_s / bound)
        shares.append(run.throttles / len(run.sent))
        # Within 10 % of the limit (and not above it) by the end of the run.
        found.append(0.9 * rate <= run.ctl.rate <= rate * 1.05)
    ratios.sort()
    assert statistics.median(ratios) <= median
    assert ratios[int(0.9 * len(ratios))] <= p90
    assert max(ratios) <= worst
    # Throttles: a handful per host whatever its size (2 % of a 30-request host is 0.6).
    assert statistics.median(shares) <= share
    assert sum(found) >= near * len(found)


def test_a_registrar_with_second_long_retry_after_is_run_near_its_rate():
    # Seed 17 of the generated bench: 5.86/s, burst 3, 170 ms, Retry-After "1". A park
    # of a second inside the measured span once made the ceiling 4.3/s: settled at 4.0.
    host = BucketHost(5.86, 3, 0.17, retry_after=True)
    run = drive(host, controller(), requests=507)
    bound = (507 - 3) / 5.86 + 0.17
    assert run.elapsed_s <= 1.15 * bound
    assert run.ctl.rate >= 0.85 * 5.86
    assert run.throttles <= 10


def test_a_host_off_the_critical_path_does_not_raise_its_rate():
    # 40 requests left at 2/s is 20 s; the batch needs 100 s more for its slowest host:
    # going faster here cannot end the batch sooner, and each step risks a throttle.
    def run(horizon_s: float | None) -> HostController:
        ctl = make(2.0)
        t = 0.0
        while t < 10.0:
            ctl.on_answer(sent_at=t, now=t + 0.01, in_flight=1, backlog=40, horizon_s=horizon_s)
            t += 1.0 / ctl.rate
        return ctl

    assert run(horizon_s=100.0).raises == 0
    # 20 s of a 30 s horizon: on the path, up to 4/s, where 10 s is off it again.
    on_path = run(horizon_s=30.0)
    assert on_path.raises == 1 and on_path.rate == 4.0
    assert run(horizon_s=None).raises >= 3


def test_few_random_hosts_are_driven_into_a_block():
    # The simulator's escalation: N refusals within 60 s start an hour-long block. At
    # N = 7 (the generator draws 5-20), 4 of these 240 hosts with whole-second
    # Retry-After were blocked as built (54 before the caution rule).
    blocked = 0
    for rate, burst, latency, n in random_hosts(11, 120) + random_hosts(12, 120):
        host = BucketHost(rate, burst, latency, retry_after=True, block_after=7)
        drive(host, controller(), requests=n)
        blocked += host.blocked
    assert blocked <= 8


def test_a_park_is_never_longer_than_the_callers_cap_nor_remembered_longer():
    # Four throttles in a row at 0.5/s asked for a 16 s park; the scheduler caps it at
    # its default (5 s), and the controller counted its proof from the 16 s park's end:
    # a 0.7/s host waited 12 s longer at a rate 30 % under its limit.
    ctl = make(0.5, max_park_s=5.0)
    for i in range(4):
        d = ctl.on_throttle(sent_at=10.0 * i, now=10.0 * i + 0.01, in_flight=1)
        assert ctl.park_s(d, None) <= 5.0
    assert ctl._park_end == pytest.approx(30.01 + 5.0)
    # The host's own Retry-After is not ours to cap here (the scheduler caps it).
    d = ctl.on_throttle(sent_at=40.0, now=40.01, in_flight=1)
    assert ctl.park_s(d, 30.0) == 30.0


def test_a_rate_is_raised_as_soon_as_it_is_proven_not_at_the_next_window_end():
    # At 0.5/s a window is 8 s: a proof completed a moment after a window began used to
    # wait for that window to end. A 0.7/s host, burst 1, 50 requests, no Retry-After:
    # the first raise after the last cut came 13 s after the park (26.75 s), now at the
    # proof's end (22.75 s); and the run is faster for it.
    host = BucketHost(0.7, 1, 0.05)
    run = drive(host, controller(), requests=50)
    last_cut = max(t for t, _, ok in run.sent if not ok)
    after = [(t, r) for t, r, _ in run.sent if t > last_cut]
    cut_to = after[0][1]
    raised = [t for t, r in after if r > cut_to]
    proof = max(C.PROOF_MIN_S, C.PROOF_MIN_REQUESTS / cut_to)
    park_end = last_cut + 5.0
    # The raise goes out with the first request after the proof's end (one interval).
    assert raised and raised[0] <= park_end + proof + 2 / cut_to
    assert run.elapsed_s <= 1.33 * (49 / 0.7 + 0.05)


def test_a_throttled_host_off_the_critical_path_is_cut_to_what_it_needs():
    # 40 requests left, the batch needs 100 s more: 40 / (0.7 x 100) = 0.57/s is enough,
    # but a cut never goes below half of what it would have been (a horizon can shrink).
    def cut(backlog: int | None, horizon_s: float | None) -> float:
        ctl = make(4.0)
        ctl.on_throttle(sent_at=0.0, now=0.01, in_flight=1, backlog=backlog, horizon_s=horizon_s)
        return ctl.rate

    normal = cut(None, None)
    assert cut(40, 100.0) == pytest.approx(normal * C.HARD_CUT_FACTOR)
    assert cut(40, 20.0) == pytest.approx(max(40 / (C.OFF_PATH_CUT_SHARE * 20.0), normal / 2))
    # On the path (its own queue is the horizon): the usual cut.
    assert cut(40, 40 / 4.0) == pytest.approx(normal)


@pytest.mark.parametrize("latency_s", [0.06, 0.1, 0.14])
def test_a_cautious_fast_host_climbs_back_to_what_it_proved(latency_s):
    # The Dask bench's registry: 60/s, burst 3, Retry-After "1". The slow-start overshoot
    # and one probe make three refusals in a minute (cautious). The caution cap then read
    # a floor of 34/s measured across the 1 s park as the host's rate, and a step judged
    # before that cap was "close under hi": held at 50/s (0.83 x) for a minute. A rate
    # proven over more answers than a burst holds counts as known, and the capped step
    # is judged as taken: 54-59/s within the same minute, with no more refusals.
    host = BucketHost(60.0, 3, latency_s, retry_after=True)
    run = drive(host, controller(), requests=6000)
    minute = sorted(rate for t, rate, _ in run.sent if 15.0 < t < 60.0)
    assert minute[len(minute) // 2] >= 0.88 * 60.0
    assert run.throttles <= 5


@pytest.mark.parametrize(("rate", "burst", "latency_s"), [(60.0, 6, 0.08), (30.0, 6, 0.05)])
def test_a_rate_proven_under_an_inferred_lo_still_counts_for_caution(rate, burst, latency_s):
    # 60/s, burst 6, 80 ms, Retry-After "1": refused at 60.7/s after 7 s clean there (a
    # bucket of 6 drains at 0.7/s), a 5th refusal. The caution cut went to 46/s, the
    # inferred lo (0.95 x 60.7) hid every later proof under it, and the cap read a floor
    # measured across a raise: 46/s for the last 30 s (1.32 x). A rate proven over 100
    # answers counts as known whatever lo says, and a refusal above it does not void it.
    host = BucketHost(rate, burst, latency_s, retry_after=True)
    n = int(rate * 50)
    run = drive(host, controller(), requests=n)
    assert run.elapsed_s <= 1.2 * ((n - burst) / rate + latency_s)
    assert run.throttles <= 5
    late = sorted(r for t, r, _ in run.sent if t > 25.0)
    assert late[len(late) // 2] >= 0.85 * rate


def test_a_cautious_step_stops_short_of_the_last_tenth_under_hi_rather_than_not_at_all():
    # 60/s, burst 3, 130 ms: four refusals (slow start's three, a probe at 63/s), then
    # 5 % steps back up from the caution cut. The step from 55.4/s (to 58.2) reached into
    # the last 10 % under hi (63.1/s), where a cautious host does not go, and was dropped
    # whole: 55.4/s until the refusals aged out of the minute. Its part below 0.9 x hi
    # is taken, and no more while the host is cautious.
    host = BucketHost(60.0, 3, 0.13, retry_after=True)
    run = drive(host, controller(), requests=6000)
    assert run.ctl.hi is not None and run.throttles <= 4
    held = [r for t, r, _ in run.sent if 25.0 < t < 60.0]
    assert min(held) == pytest.approx(max(held)) == pytest.approx(0.9 * run.ctl.hi)
    assert min(held) >= 0.93 * 60.0


def test_a_proof_after_a_park_counts_over_the_span_its_answers_can_cover():
    # Cautious (three refusals in a minute) and parked 1 s, a host then proves its rate
    # at 150 ms. No answer can come back in the proof's first latency, so counted over
    # the proof's whole length the rate read 3-6 % low, and 1.05 x that was no step at
    # all (the Dask bench's seeds 2 and 9 held 50/s for 15 s, and for good).
    ctl = make(50.0, conc=64)
    for i in range(3):
        d = ctl.on_throttle(sent_at=1.0, now=1.1 + 0.01 * i, in_flight=8, retry_after_s=1.0)
        ctl.park_s(d, 1.0)
    assert ctl.cautious(1.2) and ctl.hi == 50.0
    rate, t = ctl.rate, 1.12 + 1.0  # the cut rate; the park's end
    while t < 1.12 + 1.0 + 4.0 and ctl.rate == rate:
        ctl.on_answer(sent_at=t, now=t + 0.15, in_flight=8, backlog=2500)
        t += 1.0 / ctl.rate
    # Proven at the rate itself, not 3 % under it: the capped step is 5 %, taken.
    assert ctl.rate == pytest.approx(C.CAUTION_HEADROOM * rate, rel=0.01)


def test_a_rate_proven_at_the_very_rate_refused_is_no_floor_for_the_cut():
    # 38.5/s, burst 4, 71 ms: refused at 40/s after 40/s was "proven" (the burst drained
    # at 1.5/s over the 1 s proof). What was sent then read 39.7/s, a hair under the
    # pacer's 40: as lo it was no floor below the refused rate, and the cut went to it
    # (39.7/s, refused again 2.4 s later, one more second-long park). A proof within the
    # settle gap under the refused rate counts as that rate: the cut goes under it (and
    # since the host's answers are read as a token bucket, to just under its rate).
    host = BucketHost(38.49, 4, 0.0707, retry_after=True)
    run = drive(host, controller(), requests=249)
    refused = [r for _, r, ok in run.sent if not ok]
    assert len(refused) == 2 and refused[1] == pytest.approx(40.0)
    after = [r for t, r, ok in run.sent if t > 6.0]
    assert max(after) < 38.49  # under the host's rate: no third refusal
    assert run.elapsed_s <= 1.55 * (249 - 4) / 38.49


def test_no_ceiling_is_read_across_a_park_that_could_fill_a_shallow_bucket():
    # Between two refusals a host accepted what its rate refilled, give or take one:
    # (answers + 1) / span is the most it can be, unless the bucket filled during the
    # park and overflowed. A 1.54/s host with a burst of 1 fills in 0.65 s, so across a
    # 1 s park 1 answer in 1.6 s read "at most 1.24/s": the cut went to 1.18/s and no
    # step was ever risked under that false ceiling (0.77 x for the whole batch). Over
    # 480 seeded hosts, 4 ended with a ceiling under 0.95 x their rate; now none do.
    run = drive(BucketHost(1.54, 1, 0.007, retry_after=True), controller(), requests=34)
    assert run.ctl.hi is None or run.ctl.hi >= 1.54
    assert run.ctl.rate >= 1.24
    low = []
    for seed in (11, 12, 13, 14):
        for rate, burst, latency, n in random_hosts(seed, 120):
            ctl = drive(
                BucketHost(rate, burst, latency, retry_after=True), controller(), requests=n
            ).ctl
            if ctl.hi is not None and ctl.hi < 0.95 * rate:
                low.append((rate, burst, latency, ctl.hi))
    assert low == []


def test_a_slow_shallow_host_is_cut_to_the_middle_of_what_one_answer_says():
    # The 22-registry scenario's 1/s registry with a burst of 1 (whole-second
    # Retry-After). One answer between two refusals 1.5 s apart says the rate is under
    # 2/1.5 = 1.33/s and little more; cutting to 0.95 x that upper end walked down
    # 1.6 -> 1.2 -> 1.1 -> 1.0/s, a refusal at each, and the 4th refusal in a minute
    # made the host cautious (0.8/s for the rest). Halfway between answers / span and
    # that upper end, (answers + 0.5) / span, gets there in one refusal fewer.
    run = drive(BucketHost(1.0, 1, 0.07, retry_after=True), controller(), requests=68)
    assert run.throttles <= 3
    assert run.elapsed_s <= 1.1 * (67 / 1.0 + 0.07)


def test_the_rate_a_retry_after_allows_is_read_with_a_margin():
    # 0.5/s, burst 1, whole-second Retry-After. "1" (+ its second of resolution) says one
    # request per 2 s is fine: exactly the host's rate, which a burst of 1 refuses as
    # soon as two requests arrive a hair closer than 2 s. The floor held the cut there,
    # refused 24 s later (a 4th refusal, cautious: 0.4/s for the rest, 1.17 x).
    run = drive(BucketHost(0.5, 1, 0.1, retry_after=True), controller(), requests=34)
    assert run.throttles <= 3
    assert run.elapsed_s <= 1.1 * (33 / 0.5 + 0.1)


# -- the host's answers read as a token bucket (engine.bucket_model) ----------------------
def test_a_deep_slow_bucket_is_pinned_down_once_a_refusal_confirms_its_reading():
    # Generated seed 6's registrar: 1.67/s, burst 10, Retry-After "1". Halving cut after
    # halving cut (32 -> 10 -> 7 -> 2.8 -> 1.12/s) took 5-6 refusals and left it at 1.12/s
    # for good. Its answers bound the rate to 1.19-2.38/s after the second refusal; the
    # third, at 7/s, came over that bound as it said, and the cut went just under it.
    host = BucketHost(1.67, 10, 0.1, retry_after=True)
    run = drive(host, controller(), requests=120)
    assert run.throttles <= 4
    assert 0.95 * 1.67 <= run.ctl.rate <= 1.67
    assert run.ctl.hi is not None and run.ctl.hi <= 1.1 * 1.67
    assert run.elapsed_s <= 1.1 * (120 - 10) / 1.67


def test_a_fixed_window_counter_is_not_held_under_a_false_reading():
    # No token bucket: 18 requests per 12 s window. Spent in slow start, it refuses
    # everything for 10 s, which reads as a bucket of 18 refilling at 0.08-0.13/s; acting
    # on that (as soon as it was tight) held the host at 0.66/s. Unconfirmed, it is not
    # acted on, and the rules find the counter's long-run rate.
    host = WindowHost(1.5, 18, 0.01)
    run = drive(host, controller(), requests=84)
    assert run.ctl.rate >= 0.9 * 1.5
    assert run.ctl.hi is not None and run.ctl.hi >= 1.5
    assert run.elapsed_s <= 1.7 * 84 / 1.5


def test_an_unconfirmed_reading_caps_probes_where_a_refusal_costs_a_retry_after_park():
    # Generated seed 43: three slow hosts answering Retry-After took 3-4 refusals each
    # (4.7 % of the batch). After their second, the answers already bounded the rate
    # (a 1.11/s host under 1.28/s, a 4.47/s host under 5.61/s), and the probes that drew
    # the third refusal went over that bound (2.5/s, 5.6/s). Heeded unconfirmed where a
    # refusal costs a second-long park: fewer refusals, no slower.
    hosts = random_hosts(12, 120)
    throttles, ratios = [], []
    for rate, burst, latency, n in hosts:
        run = drive(BucketHost(rate, burst, latency, retry_after=True), controller(), requests=n)
        throttles.append(run.throttles)
        ratios.append(run.elapsed_s / (max(0, n - burst) / rate + latency))
    # As built: 3.02 refusals a host (3.38 without the cap), median 1.068 (1.063).
    assert statistics.mean(throttles) <= 3.2
    assert statistics.median(ratios) <= 1.1


def test_a_shallow_window_counter_naming_no_reset_is_not_held_under_an_unconfirmed_reading():
    # 3 requests per 2.9 s window, refusals without Retry-After: its answers read as a
    # shallow bucket at 0.4/s. Capping probes there (as with a Retry-After) held it at
    # 0.41 x its rate, 2.4 x its bound; a refusal costs only an interval, so probe.
    host = WindowHost(1.03, 3, 0.021)
    run = drive(host, controller(), requests=45)
    assert run.ctl.rate >= 0.8 * 1.03
    assert run.elapsed_s <= 1.5 * 45 / 1.03
