"""What a host's answers prove about its token bucket: bounds on its rate, any burst.

A registry that limits the rate runs, as far as anyone can tell from outside, a token
bucket: ``rate`` tokens a second into a bucket of ``burst``, one taken per request it
admits, a refusal when none is left. Each answer is then a constraint on the pair
(rate, burst): an admitted request had a token, a refused one had none. With the
bucket's level at time ``t`` written as the classic min-plus expression

    tokens(t) = min( start + rate (t - t0) - A[t0, t),  min_s  burst + rate (t - s) - A[s, t) )

(``A[s, t)`` the admitted requests from ``s`` up to ``t``, ``s`` running over admission
times), every admission at ``t`` asks ``tokens(t) >= 1``, so for each window of ``m``
admissions over a span ``d``, ``rate >= (m - burst) / d``; every refusal at ``T`` asks
``tokens(T) < 1``, so for some window of the ``m`` admissions before it,
``rate < (m + 1 - burst) / (T - s)``. For each burst the rates left form an interval;
bursts whose interval is empty are ruled out. What remains bounds the rate whatever the
burst: :func:`rate_bounds` returns ``(lowest, highest)`` over the bursts still possible.

Why it matters: one refusal alone cannot tell a 45/s host with a burst of 1 from a 5/s
host with a burst of 10 (the controller's rules guess and halve), but the refusals that
follow, read together with every admission since the first request, pin the pair down
within a few percent after two or three of them (a 1.67/s host with a burst of 10,
refused at 32, 11, 5.5 and 2.75/s by halving cuts, was bounded to 1.19-2.38/s at the
second refusal and 1.32-1.77/s at the third).

Times are when requests left (the host's clock is not seen): a constant network delay
cancels out of every difference, and ``slack_s`` widens each span by what the delay's
variation may add or take. A host that is no token bucket (a sliding window, a
connection limit, a bucket shared with other clients) can leave no burst possible:
then there are no bounds, and the caller keeps its own rules.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["RateBounds", "contradicted", "rate_bounds"]

#: The deepest burst read one by one. When deeper ones cannot be ruled out, the lower
#: bound is only what holds for any burst; when none up to here fits, there are no
#: bounds.
MAX_BURST = 64
#: The most admissions a reading looks at (the most recent ones); the cost is about
#: this squared.
MAX_ADMITTED = 256
#: The most refusals read: the first two and the latest (each holds on its own, so any
#: of them bound the rate; the cost grows with their number).
MAX_REFUSED = 8


@dataclass(frozen=True, slots=True)
class RateBounds:
    """What the answers prove: ``low <= rate < high``, for a burst in ``bursts``."""

    low: float  # 0.0: no lower bound
    high: float  # math.inf: no upper bound
    bursts: tuple[int, float]  # the smallest and largest burst possible (inf: no limit)


def rate_bounds(
    admitted: Sequence[float],
    refused: Sequence[float],
    *,
    slack_s: float = 0.0,
    full_at: float | None = None,
    max_burst_s: float = math.inf,
) -> RateBounds | None:
    """Bounds on a token bucket's rate from when admitted and refused requests left.

    Parameters
    ----------
    admitted, refused
        Send times (seconds, one clock) of the requests the host admitted and refused.
        Order does not matter.
    slack_s
        How much a request's arrival may differ from its send time, relative to the
        others (network jitter): spans are widened by it where that is conservative.
    full_at
        When the bucket was known full (the first request to a host that nobody else
        uses): the reading starts there. Without it, or when more than
        :data:`MAX_ADMITTED` admissions followed, it starts at a refusal, where the
        bucket held under one token.
    max_burst_s
        The most seconds of its rate a burst is taken to hold (``burst <= rate x
        max_burst_s``). Without it, a host that refuses everything for a while (a
        counter per minute, spent) reads as a deep bucket refilling almost never.

    Returns
    -------
    RateBounds or None
        None when there is no refusal to read (or, past :data:`MAX_ADMITTED`
        admissions, none to start from), or when no burst fits the answers (not a
        token bucket, or noise beyond ``slack_s``).

    Examples
    --------
    Three requests half a second apart were admitted and one sent a quarter second
    after them refused: the host runs under 4/s with a burst of at most 3 (with a burst
    of 1, between 2/s and 4/s; of 3, under 0.8/s).

    >>> b = rate_bounds([0.0, 0.5, 1.0], [1.25], full_at=0.0)
    >>> (b.low, b.high, b.bursts)
    (0.0, 4.0, (1, 3))
    """
    return _read(admitted, refused, slack_s, full_at, max_burst_s)[1]


def contradicted(
    admitted: Sequence[float],
    refused: Sequence[float],
    *,
    slack_s: float = 0.0,
    full_at: float | None = None,
    max_burst_s: float = math.inf,
) -> bool:
    """Whether the answers rule out every token bucket (as :func:`rate_bounds` reads
    them): True only where there was a reading to make and no burst fits it.

    >>> contradicted([0.0, 0.5, 1.0], [1.25], full_at=0.0)
    False

    Forty requests admitted at 10/s, then one refused six seconds later: a bucket
    deep enough to let the forty through (and holding at most 30 s of its rate) has
    refilled by then, so none fits (a fault, not a throttle). Refused at once, it fits:

    >>> admitted = [i / 10 for i in range(40)]
    >>> contradicted(admitted, [10.0], full_at=0.0, max_burst_s=30.0)
    True
    >>> contradicted(admitted, [4.0], full_at=0.0, max_burst_s=30.0)
    False
    """
    read, bounds = _read(admitted, refused, slack_s, full_at, max_burst_s)
    return read and bounds is None


def _read(
    admitted: Sequence[float],
    refused: Sequence[float],
    slack_s: float,
    full_at: float | None,
    max_burst_s: float,
) -> tuple[bool, RateBounds | None]:
    """(whether there was a reading to make, its bounds or None if no burst fits)."""
    acc = sorted(admitted)
    ref = sorted(refused)
    if not ref:
        return False, None
    # Where the reading starts: the full bucket, or a refusal (under one token there).
    start: float | None = None
    start_tokens = 0.0
    if full_at is not None and len(acc) <= MAX_ADMITTED:
        start, start_tokens = full_at, math.inf  # "full": the burst, whatever it is
    else:
        # The earliest refusal with at most MAX_ADMITTED admissions after it.
        start = next(
            (t for t in ref if len(acc) - bisect.bisect_left(acc, t) <= MAX_ADMITTED), None
        )
        if start is None:
            return False, None
        start_tokens = 1.0
    acc = [t for t in acc if t >= start]
    ref = [t for t in ref if t > start]
    if not ref:
        return False, None
    if len(ref) > MAX_REFUSED:
        ref = ref[:2] + ref[2 - MAX_REFUSED :]
    n = len(acc)
    # The shortest span of m consecutive admissions (plus slack: arrivals may have been
    # that much further apart than the sends).
    min_span = [math.inf] * (n + 1)
    for m in range(2, n + 1):
        min_span[m] = min(acc[i + m - 1] - acc[i] for i in range(n - m + 1)) + slack_s
    # From a refusal (not a full bucket), admissions count from it: the bucket held
    # under one token there, so j admissions by t ask rate >= (j - 1 + 1 - <1) / span.
    init_low = 0.0
    if start_tokens == 1.0:
        for j, t in enumerate(acc, start=1):
            if j >= 2:
                init_low = max(init_low, (j - 1) / (t - start + slack_s))
    # So it did at every refusal read: the admissions after each bound the rate from
    # below whatever the burst (a bucket refilling slower could not let them through).
    for t_ref in ref:
        k = bisect.bisect_right(acc, t_ref)
        for j in range(2, n - k + 1):
            init_low = max(init_low, (j - 1) / (acc[k + j - 1] - t_ref + slack_s))
    # Per refusal, the admissions before it, newest first (what each window reaches).
    before: list[tuple[list[float], float]] = []
    for t_ref in ref:
        k = bisect.bisect_left(acc, t_ref)
        spans = [t_ref - acc[k - m] - slack_s for m in range(1, k + 1)]
        # Under one token at a refusal that starts the reading: k admissions and this
        # refusal since then ask rate < (k + 1) / span (any burst).
        init = 0.0
        if start_tokens == 1.0:
            span = t_ref - start - slack_s
            init = (k + 1) / span if span > 0 else math.inf
        before.append((spans, init))
    # A full bucket of b takes b admissions to empty before its first refusal: deeper
    # ones are ruled out. From a refusal, any depth above the admissions read fits
    # the same (no window holds that many), so n + 1 stands for all of them.
    deepest = n + 1
    if start_tokens != 1.0:
        deepest = bisect.bisect_left(acc, ref[0]) + 1
    most = min(MAX_BURST, deepest)
    feasible: list[tuple[int, float, float]] = []
    for burst in range(1, most + 1):
        low = max(init_low, burst / max_burst_s)
        for m in range(burst + 1, n + 1):
            low = max(low, (m - burst) / min_span[m])
        high = math.inf
        for spans, best in before:
            for m in range(burst, len(spans) + 1):
                if best >= high:
                    break  # this refusal cannot lower the bound any more
                span = spans[m - 1]
                best = max(best, (m + 1 - burst) / span if span > 0 else math.inf)
            high = min(high, best)
            if high <= low:
                break  # this burst is ruled out
        if low < high:
            feasible.append((burst, low, high))
    if not feasible:
        return True, None
    low = min(f[1] for f in feasible)
    deepest_fits: float = feasible[-1][0]
    if most < deepest:
        # Deeper bursts than were read may fit too, with lower rates.
        low = max(init_low, most / max_burst_s)
        deepest_fits = math.inf
    elif start_tokens == 1.0 and deepest_fits == deepest:
        deepest_fits = math.inf  # from a refusal, n + 1 stood for every deeper burst
    return True, RateBounds(
        low=low,
        high=max(f[2] for f in feasible),
        bursts=(feasible[0][0], deepest_fits),
    )
