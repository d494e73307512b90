"""503 + Retry-After: throttle or fault (fake time).

A registry that throttles with 503 and one whose 503s are passing faults answer alike;
only how the 503s follow the rate tells them apart. A lone 503 delays only its request;
a second within a minute is a throttle until one comes where no throttle could; then
the controller takes back what its 503s cut and reads them by pattern. Single decisions
are fed by hand; the populations are seeded random token-bucket hosts
(:mod:`tests.engine.bucket_host`), drawn, never tuned for.
"""

from __future__ import annotations

import random
import statistics

from rdaplab.engine import controller as C
from rdaplab.engine.controller import HostController
from rdaplab.engine.limiter import HostLimiter
from rdaplab.engine.profiles import Profile
from tests.engine.bucket_host import BucketHost, controller, drive
from tests.engine.test_controller_learning import random_hosts


def make(rate: float) -> HostController:
    return HostController(HostLimiter("h:1", rate_per_s=None), Profile(rate_per_s=rate))


def answers(ctl: HostController, start: float, n: int) -> float:
    """``n`` answers sent at the controller's rate from ``start`` (latency 10 ms)."""
    t = start
    for _ in range(n):
        ctl.on_answer(sent_at=t, now=t + 0.01, in_flight=1, backlog=10**6)
        t += 1.0 / ctl.rate
    return t


def fault(ctl: HostController, t: float, retry_after_s: float = 1.0) -> str:
    return ctl.on_throttle(
        sent_at=t, now=t + 0.01, in_flight=1, weak=True, retry_after_s=retry_after_s
    )


def test_a_lone_503_delays_its_request_and_a_second_within_a_minute_is_a_throttle():
    # The second, as a 429 would be: refused there, so that rate is the ceiling, and the
    # host parks for its Retry-After (a 503-throttling registry whose 503s only delayed
    # their own requests until 3 came in 20 answers: 177 of 450 seeded hosts blocked).
    ctl = make(10.0)
    t = answers(ctl, 0.0, 15)
    rate = ctl.rate
    assert fault(ctl, t) == "park"
    assert ctl.rate == rate and ctl.hi is None and ctl.cuts == 0
    t = answers(ctl, t + 0.05, 30)  # more answers than the pattern window holds
    rate = ctl.rate
    assert fault(ctl, t) == "cut"
    assert ctl.hi == rate and ctl.rate < rate
    assert ctl.park_s("cut", 1.0) == 1.0
    assert not ctl.statistics().faults_503


def test_the_first_503s_before_ten_answers_cut_but_set_no_ceiling():
    # Two faults in a 25/s host's first three requests held it under 2/s for 112 s: the
    # ceiling they set was never disproved. Now they cut, and slow start goes on.
    ctl = make(2.0)
    assert fault(ctl, 0.5) == "park"  # lone (and not the first request: that one was answered)
    ctl2 = make(2.0)
    t = answers(ctl2, 0.0, 2)
    assert fault(ctl2, t) == "park"
    assert fault(ctl2, t + 0.5) == "cut"
    assert ctl2.hi is None and ctl2.phase == "start"


def test_a_503_well_under_a_rate_answered_many_times_in_a_row_is_a_fault():
    # 40 answers in a row at 10/s: a token bucket with a burst of up to 10 has a rate
    # of at least 7.5/s, and refuses nothing at 7/s. The two 503s before were cuts; the
    # third, under 7/s, shows faults: the cuts are taken back and it only parks.
    ctl = make(10.0)
    ctl.phase = "search"  # no slow start: the rate stays at 10/s while proving itself
    ctl.hi = 10.5
    t = answers(ctl, 0.0, C.SUSTAINED_ANSWERS + 5)
    rate, hi = ctl.rate, ctl.hi
    decisions = []
    while ctl.rate > C.FAULT_RATE_SHARE * rate:
        decisions.append(fault(ctl, t))
        t = answers(ctl, t + 0.05, 3)
    assert decisions[0] == "park" and set(decisions[1:]) == {"cut"}
    assert fault(ctl, t) == "park"
    assert ctl.statistics().faults_503
    assert ctl.rate == rate and ctl.hi == hi
    assert not ctl.cautious(t)  # the 503s no longer count as refusals


def test_a_503_under_the_rate_its_own_retry_after_allows_is_a_fault():
    # Retry-After "1" (one-second resolution) says one request in two seconds is fine.
    ctl = make(0.4)
    assert fault(ctl, 0.0) == "park"
    assert ctl.statistics().faults_503 and ctl.rate == 0.4 and ctl.cuts == 0


def test_at_a_host_with_faults_a_lone_503_parks_its_request_but_a_pattern_cuts():
    ctl = make(0.4)
    assert fault(ctl, 0.0) == "park"  # under what its Retry-After allows: faults
    ctl.phase, ctl.rate = "search", 10.0
    t = answers(ctl, 1.0, 30)
    assert fault(ctl, t) == "park"
    assert ctl.rate >= 10.0 and ctl.cuts == 0
    rate = ctl.rate
    t = answers(ctl, t + 0.02, 5)
    # Six in a row: far more than a host with about one fault in 15 answers shows.
    decisions = [fault(ctl, t + i * 0.01) for i in range(6)]
    assert "cut" in decisions and ctl.rate < rate


def test_503s_that_no_token_bucket_explains_are_faults():
    # Sent steadily at 20/s, with a 503 now and then: each is a cut until the answers
    # with them read as no token bucket (one refused right after the host took more
    # than that rate for seconds); no rate that runs long enough to count comes first.
    host = BucketHost(1000.0, 10, 0.02)
    ctl = controller(start_per_s=20.0)
    rng = random.Random(5)
    drive(host, ctl, requests=800, faults=0.03, fault_rng=rng)
    assert ctl.statistics().faults_503
    assert ctl.rate >= 20.0


def test_hosts_that_throttle_with_503_fare_as_those_that_throttle_with_429():
    # Unseen seeded hosts refusing with 503 + Retry-After instead of 429: as many
    # refusals and blocks (7 refusals a minute start one) as with 429, at the same
    # makespans. As built: 4.7 refusals per host against 3.0 (a lone 503 costs one
    # more), none blocked, median 1.099 x against 1.069 x; on the old rule (3 in 20
    # answers) 15.7 refusals per host and 50 of 120 blocked.
    def run(refusals_503: bool) -> tuple[list[float], list[int], int]:
        ratios, refusals, blocked = [], [], 0
        jitter = random.Random(3)
        for rate, burst, latency, n in random_hosts(21, 120):
            host = BucketHost(rate, burst, latency, retry_after=True, block_after=7)
            run = drive(host, controller(), requests=n, jitter=jitter, refusals_503=refusals_503)
            ratios.append(run.elapsed_s / (max(0, n - burst) / rate + latency))
            refusals.append(run.throttles)
            blocked += host.blocked
        return ratios, refusals, blocked

    r429, n429, b429 = run(False)
    r503, n503, b503 = run(True)
    assert b503 <= b429 + 1
    assert statistics.mean(n503) <= 1.8 * statistics.mean(n429)
    assert statistics.median(r503) <= 1.05 * statistics.median(r429)


def fault_ratios(hosts: list[tuple[float, int, float, int, float]]) -> list[float]:
    """Makespan / bound of each (rate, burst, latency, requests, fault share) host, sorted,
    driven with the simulator's jitter and that share of admitted requests a 503 fault."""
    ratios = []
    jitter, faults = random.Random(1), random.Random(2)
    for rate, burst, latency, n, share in hosts:
        host = BucketHost(rate, burst, latency, retry_after=True)
        run = drive(host, controller(), requests=n, jitter=jitter, faults=share, fault_rng=faults)
        ratios.append(run.elapsed_s / (max(0, n - burst) / rate + latency))
    return sorted(ratios)


def test_hosts_with_503_faults_are_not_cut_to_a_crawl():
    # Unseen seeded hosts answering 1-5 % of requests with a 503 + Retry-After fault. On
    # the old rule (3 in 20 answers a throttle) the cuts compounded: median 1.15 x,
    # p90 3.9 x, worst 92 x the bound; as built 1.16 / 1.64 / 14 x.
    shares = random.Random(6)
    ratios = fault_ratios([(*h, shares.uniform(0.01, 0.05)) for h in random_hosts(22, 120)])
    assert statistics.median(ratios) <= 1.3
    assert ratios[int(0.9 * len(ratios))] <= 2.0
    assert ratios[-1] <= 15.0


def fast_hosts(seed: int, n: int) -> list[tuple[float, int, float, int, float]]:
    """(20-60/s, burst 1-10, 5-300 ms, 8-30 s of work, 0.3-2 % of answers a 503 fault)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        rate = 10 ** rng.uniform(1.3, 1.78)
        burst, latency = rng.randint(1, 10), 10 ** rng.uniform(-2.3, -0.52)
        out.append((rate, burst, latency, int(rate * rng.uniform(8, 30)), rng.uniform(0.003, 0.02)))
    return out


def test_rare_503_faults_at_fast_hosts_set_no_ceiling_that_holds_them_down():
    # Rare per answer, frequent per minute (generated seed 30's 52.5/s registry). With
    # every 503 a throttle until shown otherwise, an early fault set a ceiling nothing
    # disproved: 1.52 / 2.11 / 9.3 x (median / p90 / worst) on these unseen hosts; as
    # built 1.45 / 1.79 / 4.3 x (1.35 / 1.69 / 5.1 x when 503s only counted in a
    # pattern, which got 503-throttling hosts blocked). Tuned on seed 77's hosts.
    ratios = fault_ratios(fast_hosts(78, 200))
    assert statistics.median(ratios) <= 1.5
    assert ratios[int(0.9 * len(ratios))] <= 1.95
    assert ratios[-1] <= 7.0


def test_at_a_host_with_faults_three_503s_in_a_row_are_a_throttle():
    # Faults come one by one (three in a row: one in 37,000 answers at 3 %).
    ctl = make(0.4)
    assert fault(ctl, 0.0) == "park"  # under what its Retry-After allows: faults
    ctl.phase, ctl.rate, ctl.hi = "search", 10.0, 10.5
    t = answers(ctl, 1.0, C.SUSTAINED_ANSWERS + 5)  # 10/s proven: no probe
    assert [fault(ctl, t + i * 0.01) for i in range(3)] == ["park", "park", "cut"]


def test_at_a_host_with_faults_two_503s_close_together_above_its_proven_rate_cut():
    # Probing above any rate it answered SUSTAINED_ANSWERS times in a row, a second 503
    # among the few answers in which its share of faults expects one is a limit passed;
    # at a proven rate the same two are faults.
    def two_faults(proven: int) -> list[str]:
        ctl = make(0.4)
        assert fault(ctl, 0.0) == "park"
        ctl.phase, ctl.rate, ctl.hi = "search", 10.0, 10.5
        t = answers(ctl, 1.0, proven)
        return [fault(ctl, t), fault(ctl, t + 0.05)]

    assert two_faults(C.SUSTAINED_ANSWERS + 5) == ["park", "park"]
    assert two_faults(C.SUSTAINED_ANSWERS - 5) == ["park", "cut"]


def test_a_host_that_throttles_with_503_keeps_its_cuts_when_it_shows_a_fault():
    # Refused twice in a row at 32/s (two 503s together: refusals, not faults), it is
    # cut; later 503s cut it further until one comes where no token bucket could refuse:
    # it has faults too. Only the cuts no bucket explains are taken back, not the one
    # from 32/s (every cut taken back, such hosts went back to overshooting and were
    # blocked at 7 refusals a minute: 303 of 450 in controller_pop's `mixed`).
    ctl = make(32.0)
    ctl.phase = "search"
    t = answers(ctl, 0.0, 12)
    assert fault(ctl, t) == "park"
    assert fault(ctl, t + 0.5 / ctl.rate) == "cut"  # sent right after the first
    t = answers(ctl, t + 1.0, C.SUSTAINED_ANSWERS + 5)
    for _ in range(10):
        if ctl.statistics().faults_503:
            break
        fault(ctl, t)
        t = answers(ctl, t + 0.05, 3)
    assert ctl.statistics().faults_503
    assert ctl.rate < C.SAME_RATE_SHARE * 32.0
    assert ctl.hi is not None and ctl.hi <= 32.0  # its refusal there still stands


def test_hosts_that_throttle_with_503_and_have_faults_are_rarely_blocked():
    # Unseen seeded hosts refusing with 503 + Retry-After that also answer 0.5-3 % of
    # admitted requests with the 503 fault (generated seed 21's 12.6/s registry). Once
    # the faults showed, every cut was taken back and refusals were read by pattern:
    # 31.5 refusals per host, 89 of 120 blocked (7 a minute start one). As built:
    # 14.8 per host, 30 blocked; makespans median 1.14 -> 1.17 x, p90 1.44 -> 1.72 x.
    jitter, faults, shares = random.Random(4), random.Random(5), random.Random(6)
    refusals, blocked = [], 0
    for rate, burst, latency, n in random_hosts(23, 120):
        host = BucketHost(rate, burst, latency, retry_after=True, block_after=7)
        run = drive(
            host,
            controller(),
            requests=n,
            jitter=jitter,
            faults=shares.uniform(0.005, 0.03),
            fault_rng=faults,
            refusals_503=True,
        )
        refusals.append(run.throttles)
        blocked += host.blocked
    assert blocked <= 40
    assert statistics.mean(refusals) <= 20.0


def test_server_errors_show_faults_so_its_503s_park_their_requests():
    # A backend that fails with 500 and 502 fails with 503 too: read as throttles, the
    # first 503s cut a 100/s host with 4 % errors to 56/s (generated seed 9).
    def second_503(server_errors: int) -> tuple[str, HostController]:
        ctl = make(10.0)
        t = answers(ctl, 0.0, 15)
        for _ in range(server_errors):
            ctl.on_server_error(now=t)
        assert fault(ctl, t) == "park"  # lone: parks either way
        t = answers(ctl, t + 0.05, 30)
        return fault(ctl, t), ctl

    decision, ctl = second_503(0)
    assert decision == "cut" and not ctl.statistics().faults_503
    decision, ctl = second_503(C.SERVER_ERRORS_FOR_FAULTS - 1)
    assert decision == "cut"  # one server error is not yet a pattern of faults
    decision, ctl = second_503(C.SERVER_ERRORS_FOR_FAULTS)
    assert decision == "park" and ctl.statistics().faults_503 and ctl.cuts == 0


def test_server_errors_take_back_the_cuts_earlier_503s_made():
    ctl = make(10.0)
    t = answers(ctl, 0.0, 15)
    assert fault(ctl, t) == "park"
    t = answers(ctl, t + 0.05, 30)
    rate = ctl.rate
    assert fault(ctl, t) == "cut" and ctl.rate < rate
    for _ in range(C.SERVER_ERRORS_FOR_FAULTS):
        ctl.on_server_error(now=t + 0.5)
    assert ctl.rate == rate and ctl.statistics().faults_503


def test_at_a_host_with_server_errors_503s_in_a_row_are_still_a_throttle():
    ctl = make(10.0)
    ctl.phase, ctl.hi = "search", 10.5
    for _ in range(C.SERVER_ERRORS_FOR_FAULTS):
        ctl.on_server_error(now=0.0)
    t = answers(ctl, 0.0, C.SUSTAINED_ANSWERS + 5)
    assert [fault(ctl, t + i * 0.01) for i in range(3)] == ["park", "park", "cut"]


def test_faults_taken_back_leave_no_park_behind_to_price_a_probe():
    # A 49/s host whose 503 faults carried HTTP-date waits of up to 1.9 s was taken back
    # to 40/s and then never probed: a step to 50/s saved less than such a park. The
    # fault's park is no price of a probe; the host's own refusals (none yet) set it.
    def raises_after_faults_learned() -> int:
        ctl = make(40.0)
        ctl.phase, ctl.hi = "search", 64.0
        t = answers(ctl, 0.0, 15)
        assert fault(ctl, t, retry_after_s=1.9) == "park"  # lone
        t = answers(ctl, t + 0.05, 30)
        assert fault(ctl, t, retry_after_s=1.9) == "cut"
        ctl.park_s("cut", 1.9)  # as the scheduler asks, and parks the host so long
        for _ in range(C.SERVER_ERRORS_FOR_FAULTS):
            ctl.on_server_error(now=t + 1.9)
        assert ctl.rate == 40.0 and ctl.hi == 64.0  # the cut is taken back
        t += 2.0
        decisions = []
        for _ in range(120):  # 3 s at 40/s with 200 names waiting: 1 s saved at 50/s
            decisions.append(ctl.on_answer(sent_at=t, now=t + 0.01, in_flight=1, backlog=200))
            t += 1.0 / ctl.rate
        return decisions.count("raise")

    assert raises_after_faults_learned() >= 1
