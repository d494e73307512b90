"""Bounds on a token bucket's rate from admissions and refusals (engine.bucket_model)."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rdaplab.engine.bucket_model import MAX_ADMITTED, contradicted, rate_bounds
from tests.engine.bucket_host import BucketHost


def _traffic(
    rate: float, burst: int, sends: list[float], jitter_s: float = 0.0, seed: int = 0
) -> tuple[list[float], list[float]]:
    """Send times of admitted and refused requests at a real token bucket."""
    host = BucketHost(rate_per_s=rate, burst=burst)
    rng = random.Random(seed)
    admitted: list[float] = []
    refused: list[float] = []
    last_arrival = 0.0
    for t in sends:
        last_arrival = max(last_arrival, t + rng.uniform(0.0, jitter_s))
        (admitted if host.admit(last_arrival) else refused).append(t)
    return admitted, refused


def _schedule(rng: random.Random, n: int) -> list[float]:
    """Sends at rates that change now and then (as a controller's do), with pauses."""
    t, out = 0.0, []
    rate = rng.uniform(0.5, 80.0)
    for _ in range(n):
        if rng.random() < 0.08:
            rate = rng.uniform(0.5, 80.0)
        if rng.random() < 0.03:
            t += rng.uniform(0.2, 3.0)  # a park
        t += 1.0 / rate
        out.append(t)
    return out


@settings(max_examples=150, deadline=None)
@given(
    rate=st.floats(0.3, 60.0),
    burst=st.integers(1, 12),
    n=st.integers(5, 300),
    seed=st.integers(0, 10_000),
)
def test_the_true_rate_and_burst_are_always_inside_the_bounds(
    rate: float, burst: int, n: int, seed: int
) -> None:
    sends = _schedule(random.Random(seed), n)
    admitted, refused = _traffic(rate, burst, sends)
    b = rate_bounds(admitted, refused, full_at=0.0)
    if not refused:
        assert b is None
        return
    if b is None:
        # Only when too long a history has no refusal to start reading from.
        assert len(admitted) > MAX_ADMITTED
        return
    assert b.low <= rate < b.high * (1 + 1e-9)
    assert b.bursts[0] <= burst <= b.bursts[1]


@settings(max_examples=60, deadline=None)
@given(rate=st.floats(0.5, 40.0), burst=st.integers(1, 10), seed=st.integers(0, 10_000))
def test_arrival_jitter_within_the_slack_keeps_the_true_rate_inside(
    rate: float, burst: int, seed: int
) -> None:
    sends = _schedule(random.Random(seed), 200)
    admitted, refused = _traffic(rate, burst, sends, jitter_s=0.004, seed=seed)
    b = rate_bounds(admitted, refused, full_at=0.0, slack_s=0.004)
    if b is not None:  # jitter may also rule every burst out: then no bounds
        assert b.low <= rate * (1 + 1e-9)
        assert rate < b.high * (1 + 1e-9)


@settings(max_examples=80, deadline=None)
@given(rate=st.floats(0.4, 60.0), burst=st.integers(1, 12), seed=st.integers(0, 10_000))
def test_a_real_token_bucket_is_never_contradicted(rate: float, burst: int, seed: int) -> None:
    # What the controller reads a 503 by: a throttler's refusals must always fit.
    sends = _schedule(random.Random(seed), 250)
    admitted, refused = _traffic(rate, burst, sends, jitter_s=0.004, seed=seed)
    assert not contradicted(admitted, refused, full_at=0.0, slack_s=0.004, max_burst_s=30.0)


def test_a_refusal_at_a_fraction_of_the_rate_the_answers_proved_fits_no_bucket() -> None:
    # A 10/s bucket (burst 3), sent at 12/s and then 9.5/s (two real refusals), then at
    # 3/s with one more "refusal": no bucket fits that one (a fault), where the real
    # refusals alone fit one.
    sends = [i / 12 for i in range(1, 25)] + [2.0 + i / 9.5 for i in range(1, 30)]
    sends += [5.2 + i / 3 for i in range(1, 4)]
    admitted, refused = _traffic(10.0, 3, sends)
    assert len(refused) == 2
    kw = {"full_at": 0.0, "slack_s": 0.005, "max_burst_s": 30.0}
    assert not contradicted(admitted, refused, **kw)  # type: ignore[arg-type]
    assert contradicted(admitted, [*refused, sends[-1] + 0.3], **kw)  # type: ignore[arg-type]
    # No reading to make (no refusal) is no contradiction either.
    assert not contradicted(admitted, [], **kw)  # type: ignore[arg-type]


def test_refusals_after_halving_cuts_pin_a_deep_bucket_down() -> None:
    """Slow start to 32/s, then the cuts of the old rules: 11, 5.5, 2.75/s (generated seed
    6's 1.67/s registrar with a burst of 10): two refusals after the first bound it."""
    sends: list[float] = []
    t = 0.0
    for rate, until in ((2, 0.5), (4, 0.75), (8, 1.0), (16, 1.25), (32, 1.45)):
        while t < until:
            t += 1.0 / rate
            sends.append(t)
    first = len(sends)
    for rate, start in ((11.0, 2.45), (5.5, 3.8), (2.75, 5.9)):
        t = start
        for _ in range(8):
            sends.append(t)
            t += 1.0 / rate
    admitted, refused = _traffic(1.67, 10, sorted(sends))
    assert refused, "the slow start overran the bucket"
    early = rate_bounds(admitted, refused[:1], full_at=0.0)
    assert early is not None and early.high > 10  # one refusal says little
    at_second = [t for t in refused if t > sends[first - 1]][:1]
    later = rate_bounds(
        [t for t in admitted if t < at_second[0]], refused[:1] + at_second, full_at=0.0
    )
    assert later is not None
    assert later.low <= 1.67 < later.high < 3.0
    final = rate_bounds(admitted, refused, full_at=0.0)
    assert final is not None
    assert 1.5 < final.low <= 1.67 < final.high < 1.9
    assert final.bursts[0] <= 10 <= final.bursts[1]


def test_no_refusal_no_bounds_and_a_non_bucket_gives_none() -> None:
    assert rate_bounds([0.0, 0.1, 0.2], []) is None
    # Refused right after the first admission (a burst of 1), then admitted at 2/s for
    # ten seconds (at least 2/s), then refused 0.6 s after an admission (under 1.67/s
    # with a burst of 1): no token bucket does all three.
    admitted = [0.0, *(0.5 * i for i in range(1, 21))]
    assert rate_bounds(admitted, [0.01, 10.6], full_at=0.0) is None
    assert rate_bounds(admitted, [0.01], full_at=0.0) is not None


def test_a_long_history_is_read_from_a_refusal() -> None:
    """Past MAX_ADMITTED admissions the reading starts at a refusal (under one token)."""
    rate, burst = 5.0, 3
    sends = [i / 6.0 for i in range(3 * MAX_ADMITTED)]  # 6/s at a 5/s host
    admitted, refused = _traffic(rate, burst, sends)
    b = rate_bounds(admitted, refused, full_at=0.0)
    assert b is not None
    assert b.low <= rate < b.high
    assert b.high - b.low < 0.5  # hundreds of answers at 6/s: tight
    assert math.isfinite(b.high)


def test_the_slack_only_widens_the_bounds() -> None:
    sends = _schedule(random.Random(7), 150)
    admitted, refused = _traffic(4.0, 5, sends)
    tight = rate_bounds(admitted, refused, full_at=0.0)
    loose = rate_bounds(admitted, refused, full_at=0.0, slack_s=0.01)
    assert tight is not None and loose is not None
    assert loose.low <= tight.low and loose.high >= tight.high


@pytest.mark.parametrize("rate, burst", [(1.0, 1), (45.0, 1), (5.0, 10)])
def test_one_refusal_in_slow_start_cannot_tell_a_fast_shallow_host_from_a_slow_deep_one(
    rate: float, burst: int
) -> None:
    sends, t = [], 0.0
    for r in (2, 4, 8, 16, 32, 64):
        for _ in range(max(1, r // 4)):
            t += 1.0 / r
            sends.append(t)
    admitted, refused = _traffic(rate, burst, sends)
    if not refused:
        pytest.skip("no refusal in this slow start")
    b = rate_bounds(admitted, refused[:1], full_at=0.0)
    assert b is not None
    assert b.low <= rate < b.high
