"""Learning one host's limits from what it says, and running right at them.

A :class:`HostController` owns the knobs of one :class:`~rdaplab.engine.limiter.HostLimiter`
(rate, concurrency, park) and turns feedback into settings:

*Rate* is found by bracketing. ``lo`` is the highest rate proven clean (sustained, busy,
for a proof period with no throttle); ``hi`` the lowest rate at which the host throttled
us. Until the first throttle the rate grows multiplicatively each clean window (slow
start); a throttle sets ``hi`` and cuts the rate (to ``lo``, or a multiplicative cut when
``lo`` is unknown or wrong, harder when throttles come in quick succession); clean proof
periods move the rate halfway up the gap until ``lo`` and ``hi`` are within a few percent,
where it stays, re-probing after a long clean spell in case the limit was raised. Every
throttle also parks the host for ``Retry-After`` (capped; a default when absent).

*Pacing* may send a request a little early (``HostLimiter.set_catch_up``) to make up for
a timer that fired late, while the host has no known ceiling: otherwise every late timer
delays all later requests, and at 100/s a loop 1 ms late sends 91/s.

*Concurrency* follows rate x observed latency (Little's law) with headroom, within a
ceiling: the batch's per-host maximum, a profile's, or one learned when throttles happen
only above a number of requests in flight (a connection-limited host).

*Latency* is watched as in gradient/Vegas-style limiters: when a window's mean latency is
well above the host's base latency (requests queue at the server), the rate is cut gently
even without an explicit signal.

*503 + Retry-After* is either a throttle or a passing fault, and the two differ only in
how they move with the rate. A lone one (the host's only one in the last minute and in
its last answers) delays only its own request. A second within the minute is a
throttle, handled as a ``429`` (a registry throttling so is otherwise refused over and
over on its way to a block), until the host shows its 503s are faults: one comes where a
throttle cannot, at a rate well under one answered cleanly for many requests, under the
rate its own Retry-After allows, on its very first request, or where no token bucket
fits the answers with it (:func:`~rdaplab.engine.bucket_model.contradicted`); or the
host answered server errors (500, 502, 504: :meth:`HostController.on_server_error`),
since a backend that fails so fails with 503 too. From then
on the host "has faults": the cuts its 503s caused are taken back (those a token bucket
explains stay, when two of its 503s came together: a registry can throttle with 503 and
have faults too), and a 503 cuts only in a pattern: more of them lately than the host's
share of faults explains, three in a row, or two close together above any rate it proved.

Throttles from requests sent before the last cut belong to the same event and do not cut
again. Everything reads ``now`` from the caller (the loop clock), so the logic is tested
with fake time. Each call returns the *decision* it took (``"raise"``, ``"cut"``,
``"slow"``...), which the scheduler writes to the attempts log.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import NamedTuple

from rdaplab.engine.bucket_model import RateBounds, contradicted, rate_bounds
from rdaplab.engine.learned import LearnedLimits
from rdaplab.engine.limiter import HostLimiter
from rdaplab.engine.profiles import Profile

__all__ = ["ControllerStatistics", "HostController"]

SLOW_START_FACTOR = 2.0  # per clean window before the first throttle
CUT_FACTOR = 0.8  # multiplicative cut when no proven-clean rate is known
HARD_CUT_FACTOR = 0.5  # ... when the previous cut did not help (few answers in between)
LO_MARGIN = 0.95  # a proven rate later throttled: settle this far below it
# What was sent lags the pacer by a little: a rate proven this close under the one
# refused was that rate (a proof of 39.7/s at 40/s, refused at 40/s, was no floor).
SAME_RATE_SHARE = 0.98
SETTLE_GAP = 0.08  # lo and hi this close (relative): stop searching
REPROBE_AFTER_S = 60.0  # clean at a settled rate this long: look for a raised limit
PROOF_MIN_S = 2.0  # a rate is proven clean after this long busy without throttles...
PROOF_MIN_REQUESTS = 4  # ... and at least this many answers
PROOF_GAP_S = 0.3  # ... and longer close under a throttled rate: 0.3 s / relative gap
PROOF_MAX_S = 15.0
FAR_BELOW = 1.5  # hi above this x the rate: far from the limit ...
PROOF_FAR_S = 1.0  # ... where a rate is proven sooner
WINDOW_MIN_S = 0.5
WINDOW_MIN_REQUESTS = 4
START_WINDOW_REQUESTS = 1  # slow start: windows of 2+ answers at 2/s would cost seconds
START_WINDOW_MIN_S = 0.25
START_WINDOW_RTTS = 1.5
WINDOW_SLACK = 0.95  # a window ends this close to its length
# A slow-start window this full was clean at its rate whatever the host's burst (bursts
# run to 10 requests; at 10, a bursty host's first window passed for its rate): the first
# throttle's cut goes no lower than that rate.
CLEAN_WINDOW_REQUESTS = 20
# The first throttle in slow start cuts at most to half the rate refused (the last one
# that ran clean, as TCP halves), once more answers came back than any burst holds.
START_CUT_SHARE = 0.5
START_CUT_MIN_ANSWERS = 20
ACCEPTED_SPAN_S = 1.0  # "what the host let through lately", at the first throttle
LATENCY_TOLERANCE = 2.0  # a window's mean latency above this x base means queueing
LATENCY_SLACK_S = 0.05  # ... and above base by at least this much (jitter is normal)
LATENCY_CUT = 0.9
# A latency judgement rests on this many answers (pooled over short windows) and a base
# from as many: in slow start a window holds one answer, and two single answers in a row
# above 2 x the fastest so far are common at 50 % jitter (seed 2 of the Dask bench: a
# 73 +- 36 ms registry cut to 3.6/s at 2.5 s and settled under a ceiling of 4/s).
LATENCY_MIN_ANSWERS = 8
MAX_STEP = 0.25  # raise at most this share of the rate per proven step
# The pacer may send this share of an interval early, to make up for a late timer (a
# loop 1 ms late sent 92/s at a 100/s setting, 82/s at 90/s, in generated seeds 9 and
# 19), at most CATCH_UP_MAX_S, at a host with no known ceiling (hi).
CATCH_UP_SHARE = 0.25
CATCH_UP_MAX_S = 0.005
CONCURRENCY_HEADROOM = 2.0
FLOOR_SHARE = 0.25  # of the starting rate: the lowest cut without a Retry-After
MIN_RATE_PER_S = 1 / 120  # one request per two minutes: slower is a block, not a rate
# The host's rate measured between two throttles (its bucket empty at both): used when
# at least this many answers came in between, over at least this long, within this long.
ESTIMATE_MIN_ANSWERS = 2
ESTIMATE_MIN_S = 0.5
ESTIMATE_SHORT_ANSWERS = 3  # ... or this many over a shorter span
ESTIMATE_FLOOR_ANSWERS = 5  # a span with a raise inside: only a floor, from this many
LONG_PARK_INTERVALS = 2.0  # a park this many request intervals long lets the bucket fill
ESTIMATE_MAX_S = 10.0  # longer, and the bucket may have filled (and overflowed) between
ESTIMATE_MARGIN = 0.95  # run this far under the measured rate
ESTIMATE_CUT = 0.9  # ... and at least this far under the rate that was throttled
# A probe above a rate proven clean risks a throttle, a park and a cut: worth it only
# when the time the step saves on the host's remaining work exceeds this ...
PROBE_COST_S = 0.5
# A host whose queue takes under this share of the batch's remaining time (its slowest
# host's, at the rates in force) raises nothing: it is not what the batch waits for.
OFF_PATH_SHARE = 0.5
OFF_PATH_CUT_SHARE = 0.7  # a throttled host off the path: cut to finish in this share
# Registries escalate repeated violations to blocks (LACNIC: a ban after a few minutes
# over; the simulator: N refusals within a window). After this many refusals within
# CAUTION_WINDOW_S the host is handled with care: no slow-start doubling and no step
# into the last 10 % under hi (steps far below it stay); one more, and cuts go deeper.
CAUTION_THROTTLES = 3
CAUTION_WINDOW_S = 60.0
CAUTION_CUT = 0.8
CAUTION_STOP_EVENTS = 5  # ... and no raise at all after this many throttle events
CAUTION_HEADROOM = 1.05  # cautious: no raise above this x the highest rate measured
# ... or proven, when the proof held this many answers: ten times the deepest burst seen
# (10), so at most a tenth of them can have been a full bucket draining. At 30 (three
# bursts) a 4.4/s host with a burst of 10 looked clean 1.4/s over its rate for 7 s, and
# the step to it was the 5th refusal in a minute: 96 of 240 seeded hosts blocked at 5
# refusals, against 82 before the rule and 78 with it at 100.
CAUTION_PROOF_ANSWERS = 100
PAYBACK_REQUESTS = 50  # ... and, for a step close under hi (likely to be throttled),
RISKY_SHARE = 0.9  # above this share of it: this many requests wait (1 throttle in 50)
# Throttles without Retry-After: park one request interval at the cut rate, doubling for
# each further throttle event within STREAK_S of the last (the cut does the real work).
STREAK_S = 10.0
# A reading of the host's bucket (bucket_model) widens spans by this much, plus this
# share of the spread of its latencies: arrivals stray from send times by the network's
# jitter, which the spread bounds.
ARRIVAL_SLACK_S = 0.005
ARRIVAL_SLACK_SHARE = 0.25
MAX_BURST_S = 30.0  # ... takes a host's burst to hold at most this long of its rate,
ANSWER_LAG_MIN_S = 0.05  # ... reads a refusal this long after it left, plus
ANSWER_LAG_FACTOR = 1.5  # ... this x the slowest recent answer,
BOUNDS_MAX_CUT = 0.5  # ... cuts no deeper than this x what the rules chose,
BOUNDS_REFUTED_SHARE = 1.02  # ... and is off once refused at or under this x its low bound
# Unconfirmed, a reading still caps probes of a host whose refusals cost a Retry-After
# park, when it holds at most this deep a burst (a fixed-window counter misread as a
# bucket reads deep), at this share of its high bound.
SHALLOW_BURST = 10
SHALLOW_PROBE_SHARE = 0.98
# 503 + Retry-After at a host known to have faults: a throttle when WEAK_MIN of the last
# WEAK_RECENT answers carried it, and WEAK_DEVIATIONS more than the host's share of them
# explains (read with a prior of one in WEAK_PRIOR_ANSWERS answers).
WEAK_RECENT = 20
WEAK_MIN = 3
WEAK_PRIOR_ANSWERS = 40
WEAK_DEVIATIONS = 2.5
# ... or when the last WEAK_RUN answers all carried it: faults come one by one (three in a
# row is one in 37,000 answers at 3 %), refusals over a limit in runs.
WEAK_RUN = 3
# ... or, above the highest rate it proved, the second 503 within the answers in which
# its share of faults expects WEAK_PROBE_FAULTS of them: a probe over a limit.
WEAK_PROBE_FAULTS = 0.2
# Two 503s sent within this many request intervals of each other (or in a row) show
# refusals: learning faults then takes back only the cuts no token bucket explains.
WEAK_PAIR_INTERVALS = 2.0
# Not known to have faults, a host's 503 is a throttle when it is its WEAK_STRICT_COUNT-th
# in CAUTION_WINDOW_S (or WEAK_MIN in WEAK_RECENT answers); before it answered
# EARLY_ANSWERS requests, that throttle sets no ceiling and keeps slow start.
WEAK_STRICT_COUNT = 2
EARLY_ANSWERS = 10
# A host has faults once a 503 comes at this share of a rate it answered this many
# requests in a row at: a token bucket (burst <= 10) lets that many through only under
# 4/3 of its rate, and refuses nothing under it.
SUSTAINED_ANSWERS = 40
FAULT_RATE_SHARE = 0.7
# ... or once it answered this many server errors (500, 502, 504: no throttle says so).
SERVER_ERRORS_FOR_FAULTS = 2


class _WeakCut(NamedTuple):
    """A cut a 503 made: when its request left and came back, and what the controller
    held before it (taken back if the 503 turns out to be a fault)."""

    sent_at: float
    at: float
    rate: float
    hi: float | None
    lo: float | None
    told_park_s: float  # what a failed probe costs (a 503 fault's park is no such cost)
    last_park_s: float


@dataclass(frozen=True, slots=True)
class ControllerStatistics:
    """What the controller believes about its host (a snapshot)."""

    host: str
    rate_per_s: float | None
    concurrency: int
    lo_rate_per_s: float | None  # highest rate proven clean
    best_rate_per_s: float | None  # highest rate answered over a clean window
    hi_rate_per_s: float | None  # lowest rate throttled
    concurrency_ceiling: int
    base_latency_ms: float | None
    latency_ms: float | None  # recent mean
    phase: str  # "start", "search", "settled", "pinned"
    throttle_events: int
    cuts: int
    raises: int
    # Its 503s + Retry-After came where no throttle could, or it answered server errors:
    # its 503s are passing faults unless in a pattern (module doc).
    faults_503: bool = False
    server_errors: int = 0  # 500, 502, 504 answered (on_server_error)


class HostController:
    """Adaptive rate and concurrency for one host; see the module docstring.

    Parameters
    ----------
    limiter
        The limiter whose knobs this controller turns.
    profile
        Starting point and ceilings (:mod:`rdaplab.engine.profiles`).
    max_rate_per_s, max_concurrency
        The batch's ceilings for any host.
    learned
        What an earlier batch learned about this host (:mod:`rdaplab.engine.learned`):
        an adaptive controller starts from its aged rate, with its throttled rate as
        the ceiling to search under, instead of slow-starting from the profile.
    max_park_s
        The longest park the caller applies after a throttle without Retry-After (the
        scheduler's ``Retry.retry_after_default_s``): a longer one is never asked for,
        so the controller's idea of when the host next hears from it stays true.
    """

    def __init__(
        self,
        limiter: HostLimiter,
        profile: Profile,
        *,
        max_rate_per_s: float = 100.0,
        max_concurrency: int = 16,
        learned: LearnedLimits | None = None,
        max_park_s: float = 5.0,
    ) -> None:
        self.limiter = limiter
        self.max_park_s = max_park_s
        self.profile = profile
        self.adaptive = profile.adaptive
        # The batch's ceiling bounds what the controller learns, not a rate the user pinned.
        ceilings = [max_rate_per_s] if self.adaptive else [math.inf]
        if profile.max_rate_per_s:
            ceilings.append(profile.max_rate_per_s)
        self.max_rate = max(MIN_RATE_PER_S, min(ceilings))
        self.conc_max = max(1, min(max_concurrency, profile.max_concurrency or max_concurrency))
        self.conc_ceiling = self.conc_max
        # No starting rate means unpaced, which only a pinned (non-adaptive) host can be.
        self.unpaced = profile.rate_per_s is None
        if self.unpaced:
            self.adaptive = False
        start = profile.rate_per_s if profile.rate_per_s is not None else self.max_rate
        self.rate = min(self.max_rate, max(MIN_RATE_PER_S, start))
        self.concurrency = max(1, min(self.conc_ceiling, profile.concurrency))
        self.lo: float | None = None
        self._hi: float | None = None
        self.phase = "start" if self.adaptive else "pinned"
        self.base_latency: float | None = None
        self.lat_ewma: float | None = None
        self.throttle_events = 0
        self.best_rate = 0.0  # the highest rate answered in a clean window
        self.cuts = 0
        self.raises = 0
        self._last_cut_at = -math.inf
        self._oks_since_cut = 0
        self._clean_since: float | None = None  # when the current rate started, clean
        self._proof_checked = False  # the rate in force was found proven (see _proof_due)
        self._clean_oks = 0
        self._win_start: float | None = None
        self._win_oks = 0
        self._win_lat = 0.0
        self._win_in_flight = 0
        self._conc_from_limit = False  # the ceiling was learned from throttles
        self._levels: dict[int, list[int]] = {}  # in flight at send -> [answers, throttles]
        self._slow_windows = 0
        self._lat_sum, self._lat_n = 0.0, 0  # answers' latency pooled toward a judgement
        self._weak: deque[bool] = deque(maxlen=WEAK_RECENT)  # recent answers: weak signal?
        self._has_faults = False  # its 503s came where no throttle could (module doc)
        self._server_errors = 0  # 500, 502, 504 answered (on_server_error)
        self._weak_seen = 0  # 503s + Retry-After, all told
        self._weak_throttles = 0  # ... of which read as refusals once it has faults
        self._weak_paired = False  # two of them came together: refusals, not faults
        self._weak_recent_sent: deque[float] = deque(maxlen=8)  # when the last few left
        self._weak_times: deque[float] = deque(maxlen=64)
        # Until then, each 503 is a throttle. Since the last plain one, each cut they made
        # and when their requests left (read by the bucket model): what is taken back if
        # they turn out to be faults.
        self._weak_cuts: list[_WeakCut] = []
        self._weak_sent: set[float] = set()
        self._rate_since = -math.inf  # the rate in force was set then ...
        self._rate_answers = 0  # ... and this many answers to requests sent since came back
        self._sustained_max = 0.0  # the highest rate SUSTAINED_ANSWERS came back at
        self._answered_sent: deque[float] = deque(maxlen=4096)  # sent_at of non-throttles
        self._answered_at: deque[float] = deque(maxlen=256)  # ... and when they came back
        self._first_sent: float | None = None  # the first answered request left then
        self._refused_sent: deque[float] = deque(maxlen=256)  # sent_at of rate refusals
        self._first_request: float | None = None  # the host's bucket was full then
        # A refusal is read (bucket_model) once every request sent before it is answered
        # (admissions answer a latency later than refusals): from then on.
        self._bounds_due: float | None = None
        # The host refused at a rate its answers said it takes (the low bound): it is no
        # plain token bucket, or arrivals stray more than the slack allows. Rules only.
        self._bounds_refuted = False
        self._refuted_by_weak = False  # ... by a 503 (read as a refusal)
        self._bounds_low = 0.0  # the last low bound acted on
        # Bounds are acted on once they have predicted a refusal (see _within).
        self._bounds_trusted = False
        self._bounds_predicted: float | None = None  # the last untrusted high bound
        self._probe_cap: float | None = None  # no probe above this (see _within)
        self._refusal_told = False  # the last refusal carried a Retry-After
        self._answers = 0  # answers that were not refusals
        self._last_thr_sent: float | None = None  # the host's bucket was empty then
        self._clean_start_rate = 0.0  # answered over a full slow-start window, clean
        self._streak = 0  # throttle events in a row (each within STREAK_S of the last)
        self._last_event_at = -math.inf
        self._last_raise_at = -math.inf
        self._park_end = -math.inf  # when the last park (host-wide) ended
        self._measured_max = 0.0  # the highest rate measured between two throttles
        # The highest rate proven over CAUTION_PROOF_ANSWERS answers, apart from lo (which a
        # throttle lowers by inference): what caution may trust.
        self._proven_max = 0.0
        self._refusals: deque[float] = deque(maxlen=64)  # when throttles came back
        self._events: deque[float] = deque(maxlen=64)  # ... those that were new events
        self._last_park_s = 0.0  # how long the last cut parked the host
        self._told_park_s = 0.0  # ... of it, what the host's Retry-After asked for
        self._last_thr_at = -math.inf  # when the last throttle came back
        self._base_samples: deque[float] = deque(maxlen=200)
        # Without the host's own word (Retry-After), never cut below this: throttles
        # that do not stop when the rate drops are not about the rate.
        self.floor_rate = max(MIN_RATE_PER_S, self.rate * FLOOR_SHARE)
        self._cuts_unproven = 0  # cuts since a rate was last proven clean
        self.learned_from: LearnedLimits | None = None
        if self.adaptive and learned is not None and learned.usable:
            self._start_from(learned)
            self._apply()  # rate x (unknown) latency: enough workers for the known rate
            return
        start_concurrency = self.concurrency
        self._apply()
        # Start at the profile's concurrency; rate x latency takes over after a window.
        self.concurrency = start_concurrency
        self.limiter.set_concurrency(start_concurrency)

    @property
    def hi(self) -> float | None:
        """The lowest rate the host refused (or its answers prove it refuses), if any."""
        return self._hi

    @hi.setter
    def hi(self, value: float | None) -> None:
        self._hi = value
        self._pace()  # no catch-up under a known ceiling

    def _start_from(self, learned: LearnedLimits) -> None:
        """Start near what an earlier batch learned (aged), not from the profile."""
        start = learned.start_rate_per_s()
        assert start is not None
        self.learned_from = learned
        self.rate = min(self.max_rate, max(MIN_RATE_PER_S, start))
        self.floor_rate = max(MIN_RATE_PER_S, self.rate * FLOOR_SHARE)
        if learned.throttled_at_per_s is not None and learned.throttled_at_per_s > self.rate:
            # Its ceiling then: search under it (a raised limit shows as clean above it).
            self.hi = learned.throttled_at_per_s
            self.phase = "search"
        if learned.concurrency_ceiling is not None:
            self.conc_ceiling = max(1, min(self.conc_max, learned.concurrency_ceiling))
            self._conc_from_limit = True

    # -- feedback -------------------------------------------------------------------------
    def on_server_error(self, *, now: float) -> None:
        """A server error that is no throttle (500, 502, 504; not a 503, which may be one).

        A host that fails so has faults, and the 503s it sends with a Retry-After are
        read as faults too until they form a pattern (:meth:`_weak_pattern`): a backend
        that fails with 500 and 502 fails with 503 as well. Read as throttles, the first
        of them cut a 100/s host with 4 % errors to 56/s for 3 s (generated seed 9),
        though its 500s and 502s had come first.
        """
        self._server_errors += 1
        if self._server_errors >= SERVER_ERRORS_FOR_FAULTS and not self._has_faults:
            self._learn_faults(now)

    def on_answer(
        self,
        *,
        sent_at: float,
        now: float,
        in_flight: int,
        backlog: int,
        success: bool = True,
        horizon_s: float | None = None,
    ) -> str | None:
        """An answer that was not a throttle (2xx, 404, other errors from the server).

        ``backlog`` is the number of requests waiting for this host (``True`` counts as
        one): only a host with work waiting says anything about a higher rate, and a
        probe above a known ceiling needs enough of it to pay back. ``horizon_s`` is how
        long the whole batch still needs at the rates in force (its slowest host): a
        host that would finish in well under that does not raise its rate at all, since
        going faster there cannot end the batch sooner and every step risks a throttle.

        Only successes (``2xx``) define the host's base latency: a not-found or an error
        can be answered much faster than a real lookup, and one such answer must not make
        every ordinary answer look queued.
        """
        latency = max(0.0, now - sent_at)
        self._oks_since_cut += 1
        # Every answer that was not a refusal took a token from the host's bucket.
        self._answered_sent.append(sent_at)
        self._answered_at.append(now)
        self._answers += 1
        if self._first_sent is None or sent_at < self._first_sent:
            self._first_sent = sent_at
        if self._first_request is None or sent_at < self._first_request:
            self._first_request = sent_at
        self._weak.append(False)
        if sent_at >= self._rate_since:
            self._rate_answers += 1
            if self._rate_answers >= SUSTAINED_ANSWERS:
                self._sustained_max = max(self._sustained_max, self.rate)

        self._levels.setdefault(in_flight, [0, 0])[0] += 1
        if success:
            self._base_samples.append(latency)
            if self.base_latency is None:
                self.base_latency = latency
        self.lat_ewma = latency if self.lat_ewma is None else 0.8 * self.lat_ewma + 0.2 * latency
        if not self.adaptive:
            return None
        if self._bounds_due is not None and now >= self._bounds_due:
            decision = self._bounds_now_due(now)
            if decision is not None:
                return decision
        if sent_at <= self._last_cut_at:
            return None  # sent at the old rate: says nothing about the new one
        if self._win_start is None:
            self._win_start = now  # the window opens with this answer; count what follows
            self._clean_since = now if self._clean_since is None else self._clean_since
            return None
        if self._clean_since is None:
            self._clean_since = now
        self._win_oks += 1
        self._clean_oks += 1
        self._win_lat += latency
        self._win_in_flight += in_flight
        if self.phase == "start":
            # Slow start: short windows, but never shorter than a round trip (answers to
            # the previous rate's requests say nothing of this one).
            lag = START_WINDOW_RTTS * (self.lat_ewma or 0.0)
            window = max(START_WINDOW_MIN_S, lag, START_WINDOW_REQUESTS / self.rate)
        else:
            window = max(WINDOW_MIN_S, WINDOW_MIN_REQUESTS / self.rate)
        # A window of one request interval ends with the answer one interval on, whose
        # span jitters around it by milliseconds: a strict comparison missed it half the
        # time and waited a whole extra interval (half a second at 2/s).
        if now - self._win_start < window * WINDOW_SLACK and not self._proof_due(now):
            return None
        return self._end_window(now, backlog, horizon_s)

    def _proof_due(self, now: float) -> bool:
        """The rate in force has just become proven (a window ends there, not later).

        At slow rates a window is seconds long: a proof completed just after one began
        waited for the next to end (8 s at 0.5/s before a raise).
        """
        if self.phase == "start" or self._clean_since is None or self._proof_checked:
            return False
        clean_from = max(self._clean_since, self._park_end)
        if now - clean_from >= self._proof_s() and self._clean_oks >= PROOF_MIN_REQUESTS:
            self._proof_checked = True
            return True
        return False

    def on_throttle(
        self,
        *,
        sent_at: float,
        now: float,
        in_flight: int,
        retry_after_s: float | None = None,
        weak: bool = False,
        retry_after_resolution_s: float = 0.0,
        connections: bool = False,
        backlog: int | None = None,
        horizon_s: float | None = None,
    ) -> str:
        """A throttle signal for a request sent at ``sent_at``; returns the decision.

        ``retry_after_s`` (the host's own wait) bounds the new rate from below: one
        request per Retry-After is what the host just said it accepts; an HTTP-date
        names a whole second, and so does whole delta-seconds (rounded, and "1" is said
        for any wait under a second), so ``retry_after_resolution_s`` (1 s then) is added before
        reading a rate from it. A ``weak`` signal (``503`` + Retry-After: overload *or*
        a passing fault) is a throttle until the host shows it has faults (module doc);
        then it cuts only in a pattern, and alone it only delays that request (decision
        ``"park"`` for a weak signal: the caller parks that request, not the host).
        ``connections``: the host said
        it refuses *connections* over a number ("too many connections"), so the
        concurrency ceiling drops below ``in_flight`` and the rate is left alone.

        Between two throttles the host's bucket was empty at both ends, so the answers
        it gave in between are its rate: a cut goes just under that measurement.
        """
        prev_thr = self._last_thr_sent
        if prev_thr is None or sent_at > prev_thr:
            self._last_thr_sent = sent_at
        self._last_thr_at = now
        self._refusals.append(now)
        if not self.adaptive:
            if sent_at > self._last_cut_at:
                self.throttle_events += 1
                self._last_cut_at = now  # one event per burst of throttles, for counting
                return "park"
            return "same_event"
        if connections:
            self._levels.setdefault(in_flight, [0, 0])[1] += 1
            if in_flight - 1 < self.conc_ceiling or not self._conc_from_limit:
                self.conc_ceiling = max(1, min(self.conc_ceiling, in_flight - 1))
                self._conc_from_limit = True
                self._update_concurrency()
            return "concurrency"
        if self.lo is not None and self.rate <= self.lo:
            # Refused at a rate proven clean: only such throttles can tell a connection
            # limit (under a rate limit, throttles follow the rate, and with it the
            # number in flight, so counting them all would mistake one for the other).
            self._levels.setdefault(in_flight, [0, 0])[1] += 1
            self._conc_from_throttles()
        if self._conc_from_limit and in_flight > self.conc_ceiling:
            return "concurrency"  # over the host's connection limit, not its rate
        if self._first_request is None or sent_at < self._first_request:
            self._first_request = sent_at
        told = None
        if retry_after_s is not None and retry_after_s + retry_after_resolution_s > 0:
            told = 1.0 / (retry_after_s + retry_after_resolution_s)
        fresh = sent_at > self._last_cut_at
        if weak and fresh and not self._has_faults and self._fault_shown(told, sent_at):
            self._learn_faults(now)
        faulty = weak and self._has_faults
        if weak:
            self._weak_times.append(now)
            if not self._has_faults and (
                (self._weak and self._weak[-1])
                or any(
                    abs(sent_at - t) <= WEAK_PAIR_INTERVALS / self.rate
                    for t in self._weak_recent_sent
                )
            ):
                self._weak_paired = True
            self._weak_recent_sent.append(sent_at)
        if weak and fresh and not faulty and self._weak_lone(now):
            # Alone in the last minute and the last answers: that request waits as told
            # and the host goes on, but the rate is no longer counted proven.
            self._weak.append(True)
            self._weak_seen += 1
            self._clean_since, self._clean_oks = now, 0
            self._proof_checked = False
            return "park"
        if not faulty or self._weak_pattern(pending=True):
            self._refused_sent.append(sent_at)  # the bucket was empty: see bucket_model
            if weak and not faulty:
                self._weak_sent.add(sent_at)
            # A reading from 503s does not cap probes: a fault read as a refusal bounds
            # the rate under what it is (a 26/s host with 3 % faults held at 1.5/s). At
            # a host with faults, those in a pattern were refusals.
            self._refusal_told = retry_after_s is not None and (not weak or faulty)
            due = sent_at + self._answer_lag_s()
            self._bounds_due = due if self._bounds_due is None else max(self._bounds_due, due)
        if sent_at <= self._last_cut_at:
            return "same_event"  # sent before we slowed down: already answered for
        # Among the host's first 503s, before it answered EARLY_ANSWERS requests: cut,
        # but neither a ceiling nor the end of slow start (two early faults held a 25/s
        # host under 2/s for 112 s).
        early = weak and not faulty and self._answers < EARLY_ANSWERS
        early = early and len(self._weak_times) <= WEAK_STRICT_COUNT
        hi_before, phase_before = self.hi, self.phase
        if weak:
            self._weak.append(True)
            self._weak_seen += 1
            if faulty and not self._weak_pattern():
                return "park"  # a fault: that request waits, the rate and its proof stand
            if faulty:
                # Answered for by this cut: the share is read afresh, and of faults only.
                self._weak_throttles += sum(self._weak)
                self._weak.clear()
            else:
                self._weak_cuts.append(
                    _WeakCut(
                        sent_at=sent_at,
                        at=now,
                        rate=self.rate,
                        hi=self.hi,
                        lo=self.lo,
                        told_park_s=self._told_park_s,
                        last_park_s=self._last_park_s,
                    )
                )
        else:
            # A plain throttle: the cuts before it stand whatever the 503s were.
            self._weak_cuts = []
            self._weak_sent.clear()
        self.throttle_events += 1
        self._events.append(now)
        self._streak = self._streak + 1 if now - self._last_event_at <= STREAK_S else 1
        self._last_event_at = now
        sent_rate = self.rate
        # Throttled again right after a cut, before 3 answers came back: cut harder (a
        # rate "proven" earlier was a full bucket draining, not the host's rate).
        quick = self._oks_since_cut < 3 and self.cuts > 0
        self.hi = sent_rate if self.hi is None else min(self.hi, sent_rate)
        if self._proven_max >= sent_rate:
            self._proven_max = 0.0  # refused where it was proven: that was a bucket draining
        if self.lo is not None and self.lo >= sent_rate * SAME_RATE_SHARE:
            # "Proven clean" was slightly wrong (a deep bucket drains slowly), or proven
            # at the very rate refused (what was sent lags the pacer by a little): below.
            self.lo = min(self.lo, sent_rate) * LO_MARGIN
        measurement = self._measured_rate(prev_thr, sent_at, now)
        floor = None
        ceiling = None
        if measurement is not None and not measurement[2]:
            # Only bounds: at least the floor, and the ceiling to search under.
            floor = measurement[0] * ESTIMATE_MARGIN
            self._measured_max = max(self._measured_max, measurement[0])
            ceiling = measurement[1]
            if ceiling is not None:
                self.hi = min(self.hi, ceiling)
                if self._proven_max > ceiling:
                    self._proven_max = 0.0
                if self.lo is not None and self.lo > ceiling:
                    self.lo = measurement[0]  # "proven" above the most it takes: a burst
            measurement = None
        if measurement is not None:
            measured, most, _ = measurement
            assert most is not None
            self._measured_max = max(self._measured_max, measured)
            # Over a short span the host cannot have accepted more than that: the
            # ceiling to search under is the measurement, not the rate that overshot.
            self.hi = min(self.hi, most)
            if self._proven_max > most:
                self._proven_max = 0.0
            new = min(sent_rate * ESTIMATE_CUT, measured * ESTIMATE_MARGIN)
            if self.lo is not None and self.lo > new:
                # Measured, not inferred: a "proven" rate above it was a deep bucket
                # draining, not the host's rate.
                self.lo = new
        elif prev_thr is None:
            # The first throttle: what the host let through lately tells where between
            # the last clean rate and this one its limit is.
            new = sent_rate * CUT_FACTOR
            accepted = self._accepted_rate(now)
            if accepted is not None:
                new = min(new, accepted)
            if self.lo is not None and self.lo < sent_rate:
                new = max(new, self.lo)
            if self._clean_start_rate < sent_rate:
                new = max(new, ESTIMATE_MARGIN * self._clean_start_rate)
            if self.phase == "start" and self._answers >= START_CUT_MIN_ANSWERS:
                # Answers at a quarter of the rate two windows back say little: the cut
                # to 8/s of a 21/s host cost 6 s of a 10 s batch (generated seed 54).
                new = max(new, START_CUT_SHARE * sent_rate)
        elif quick:
            new = sent_rate * HARD_CUT_FACTOR
            if self.lo is not None and self.lo > new:
                self.lo = new
        elif self.lo is not None:
            new = max(self.lo, sent_rate * self._cut_factor())
        else:
            # Cut after cut with nothing proven in between: the limit is further down
            # than the last cut assumed, so each cut goes deeper (fewer throttles).
            new = sent_rate * self._cut_factor()
        if ceiling is not None:
            new = min(new, ceiling * ESTIMATE_MARGIN)
        if floor is not None:
            new = max(new, min(floor, sent_rate * ESTIMATE_CUT))
        if backlog and horizon_s:
            # Off the critical path: what the host needs to finish well inside the
            # batch's remaining time is enough, and every refusal spared counts (toward
            # a block, and in the share of requests refused).
            need = backlog / (OFF_PATH_CUT_SHARE * horizon_s)
            if need < new:
                new = max(need, new * HARD_CUT_FACTOR)
        if self._recent_refusals(now) > CAUTION_THROTTLES:
            new *= CAUTION_CUT  # refused again and again: well clear of the limit
        self._cuts_unproven += 1
        if told is not None and told < sent_rate:
            # ... with the margin of any reading: at exactly its rate a host with a burst
            # of 1 refuses whenever two requests arrive a hair closer than one interval.
            new = max(new, told * ESTIMATE_MARGIN)
        elif told is None:
            new = max(new, self.floor_rate)
        if self._bounds_low and sent_rate <= self._bounds_low * BOUNDS_REFUTED_SHARE:
            self._bounds_refuted = True
            self._refuted_by_weak = weak  # then a sign of faults instead (_learn_faults)
        if self._bounds_predicted is not None and sent_rate > self._bounds_predicted:
            self._bounds_trusted = True  # refused above the bound, as it said
        bounds = self._bucket_bounds(now)
        if bounds is not None:
            new = self._within(new, bounds)
        else:
            self._bounds_predicted = self._probe_cap = None
        self.phase = "search"
        self._set_rate(new, now)
        self.cuts += 1
        if early:
            self.hi = hi_before
            self.phase = phase_before
        return "cut"

    def _fault_shown(self, told: float | None, sent_at: float) -> bool:
        """A 503 at the rate in force is no throttle: that rate is well under one the host
        answered SUSTAINED_ANSWERS requests in a row at, or under what its Retry-After
        said it takes (one request per wait); or it answered the host's very first
        request, when any bucket is full."""
        if self.rate <= FAULT_RATE_SHARE * self._sustained_max:
            return True
        if (
            self._answers == 0
            and not self._refused_sent
            and sent_at <= (self._first_request or 0.0)
        ):
            return True
        return told is not None and self.rate <= told * ESTIMATE_MARGIN

    def _weak_lone(self, now: float) -> bool:
        """A 503 (at a host not known to have faults) that is the host's only one in the
        last minute and in the last WEAK_RECENT answers: it only delays its request.

        Rare faults at a fast host are rare per answer; a throttle over the limit is
        not, and refused twice in a minute the host is handled as refusing. Every 503 a
        throttle cost hosts with 0.3-2 % faults (20-60/s) median 1.38 -> 1.55 x, worst
        3.5 -> 18 x (an early fault set a ceiling nothing then disproved); none of them
        one, 503-throttles were refused 14.7 times per host and 177 of 450 blocked.
        """
        recent = sum(1 for t in self._weak_times if t > now - CAUTION_WINDOW_S)
        return recent < WEAK_STRICT_COUNT and sum(self._weak) + 1 < WEAK_MIN

    def _weak_pattern(self, *, pending: bool = False) -> bool:
        """At a host with faults, whether its recent 503s are a throttle all the same:
        WEAK_MIN of the last WEAK_RECENT answers, and more than its share explains; or
        the last WEAK_RUN answers in a row; or, at a rate above any it proved, two among
        the few answers in which its share expects WEAK_PROBE_FAULTS of a fault.
        ``pending``: as if the 503 in hand were already counted.

        Three in twenty is common on a host with 5 % faults (1 in 13 windows): read as
        a throttle each time, a 33.6/s host with 4.5 % faults was cut to 0.5/s. Its
        share counts the 503s read as faults only: with the refusals in, a host that
        throttles with 503 and has faults too was refused 5-8 times before each cut.
        """
        recent = [*self._weak, True][-WEAK_RECENT:] if pending else list(self._weak)
        p = self._fault_share()
        if self.rate * SAME_RATE_SHARE > max(self.lo or 0.0, self._sustained_max):
            # Probing above what it proved: two close together are a limit passed.
            span = max(2, min(WEAK_RECENT, round(WEAK_PROBE_FAULTS / p)))
            if sum(recent[-span:]) >= 2:
                return True
        k, n = sum(recent), len(recent)
        if k < WEAK_MIN:
            return False
        if n >= WEAK_RUN and all(recent[-WEAK_RUN:]):
            return True
        return k >= n * p + WEAK_DEVIATIONS * math.sqrt(n * p * (1.0 - p)) + 1.0

    def _fault_share(self) -> float:
        """The host's share of answers that are 503 faults (503s read as refusals left
        out), with a prior of one in WEAK_PRIOR_ANSWERS."""
        faults = max(0, self._weak_seen - self._weak_throttles)
        return (faults + 1) / (self._answers + faults + WEAK_PRIOR_ANSWERS)

    def _weak_no_bucket(self, now: float) -> bool:
        """Whether the 503s read as refusals leave no token bucket possible, where the
        host's plain refusals alone (if any) fit one: they were faults."""
        if self._first_request is None or (self._bounds_refuted and not self._refuted_by_weak):
            return False
        refused = self._readable_refusals(now)
        if not any(t in self._weak_sent for t in refused):
            return False
        return self._no_bucket(refused) and not self._no_bucket(
            [t for t in refused if t not in self._weak_sent]
        )

    def _learn_faults(self, now: float) -> None:
        """The host's 503s are (at least some of them) faults: take back what they cut.

        Which ones: if two of its 503s came together (in a row, or sent within
        WEAK_PAIR_INTERVALS request intervals), some were refusals, and read in the order
        they left, a 503 stays one while a token bucket fits it with the refusals before
        it (:meth:`_weak_faults`); the first that none fits, and every cut from it on, is
        taken back. Otherwise all of them are. The rate, ``hi`` and ``lo`` go back to
        where the first cut taken back found them, and so does what a failed probe is
        reckoned to cost (the faults' Retry-After parked the host, a refusal's may not:
        a 49/s host whose 503 faults carried HTTP-date waits of up to 1.9 s was taken
        back to 40/s and never probed again, a step to 50/s not paying for such a
        park; generated seed 28). The bucket reading forgets the faults, and their cuts
        no longer count toward caution.

        A 26/s host with 3 % faults, cut from 16/s to 0.89/s by four of them before they
        were shown to be faults, climbed back to 24/s. A 10/s host refusing with 503s,
        cut by them from 32/s to 8.6/s and then by a fault to 6.3/s, goes back to 8.6/s:
        with every cut taken back it went back to 32/s, overshot again, and such hosts
        were blocked (7 refusals a minute), 303 of 450 in ``controller_pop``'s ``mixed``.
        Judged so at every host, paired or not, hosts with faults alone kept the cuts
        of faults that fit a bucket at the rate they came at (``rare``: p90 1.80 ->
        2.08 x).
        """
        self._has_faults = True
        cuts, self._weak_cuts = self._weak_cuts, []
        if self._weak_sent:
            # Without two 503s together, nothing shows any was a refusal: all go.
            faults = self._weak_faults(now) if self._weak_paired else set(self._weak_sent)
            self._refused_sent = deque(
                (t for t in self._refused_sent if t not in faults), maxlen=256
            )
            # Those kept were refusals: the host's share of faults is read without them.
            self._weak_throttles += len(self._weak_sent) - len(faults)
            self._weak_sent = set()
            if faults:
                self._bounds_trusted = False
                self._bounds_predicted = self._probe_cap = None
                self._bounds_low = 0.0
                if self._refuted_by_weak:
                    self._bounds_refuted = self._refuted_by_weak = False
            cuts = [cut for cut in cuts if cut.sent_at >= min(faults, default=math.inf)]
        if not cuts:
            return
        first = cuts[0]
        rate, lo = first.rate, first.lo
        times = {cut.at for cut in cuts}
        self.hi = first.hi
        self._told_park_s, self._last_park_s = first.told_park_s, first.last_park_s
        if lo is not None and (self.lo is None or lo > self.lo):
            self.lo = lo
        self._refusals = deque((t for t in self._refusals if t not in times), maxlen=64)
        self._events = deque((t for t in self._events if t not in times), maxlen=64)
        self._cuts_unproven = 0
        self._streak = 0
        if self.hi is None and self.phase != "pinned":
            self.phase = "start"
        if rate > self.rate:
            self._set_rate(rate, now)

    def _no_bucket(self, refused: list[float]) -> bool:
        """Whether no token bucket fits the answers with ``refused`` as the refusals."""
        return contradicted(
            self._answered_sent,
            refused,
            slack_s=self._arrival_slack_s(),
            full_at=self._first_request,
            max_burst_s=MAX_BURST_S,
        )

    def _weak_faults(self, now: float) -> set[float]:
        """The send times of the 503s read as refusals that were faults: in the order
        they left, each one no token bucket fits with the host's plain refusals and the
        503s kept before it. All of them when the plain refusals fit none (nothing to
        tell them by), or when their reading is not complete yet.
        """
        if self._first_request is None:
            return set(self._weak_sent)
        readable = self._readable_refusals(now)
        kept = [t for t in readable if t not in self._weak_sent]
        if kept and self._no_bucket(kept):
            return set(self._weak_sent)
        faults = set()
        complete = now - self._answer_lag_s()
        for t in sorted(self._weak_sent):
            if t > complete or self._no_bucket([*kept, t]):  # in any order
                faults.add(t)
            else:
                kept.append(t)
        return faults

    def _readable_refusals(self, now: float) -> list[float]:
        """When the refusals left whose earlier requests have all been answered by ``now``
        (read before then, a refusal looks like a bucket that admitted less)."""
        complete = now - self._answer_lag_s()
        return [t for t in self._refused_sent if t <= complete]

    def _bucket_bounds(self, now: float) -> RateBounds | None:
        """What every admission and refusal so far proves of the host's rate, if a token
        bucket fits them (:mod:`rdaplab.engine.bucket_model`).

        Only refusals whose earlier requests have all been answered are read: a refusal
        comes back at once, the admissions sent just before it a latency later, and
        read without them it looks like a bucket that admitted less (a 29/s host read
        as under 13.5/s).
        """
        if self._bounds_refuted:
            return None
        refused = self._readable_refusals(now)
        if len(refused) < 2 or self._first_request is None:
            return None  # one refusal cannot tell a shallow fast bucket from a deep slow one
        return rate_bounds(
            self._answered_sent,
            refused,
            slack_s=self._arrival_slack_s(),
            full_at=self._first_request,
            max_burst_s=MAX_BURST_S,
        )

    def _bounds_now_due(self, now: float) -> str | None:
        """A refusal became readable (its earlier requests answered): act on the bounds."""
        self._bounds_due = None
        if self._weak_sent and not self._has_faults and self._weak_no_bucket(now):
            self._learn_faults(now)
        bounds = self._bucket_bounds(now)
        if bounds is None:
            self._bounds_predicted = self._probe_cap = None
            return None
        new = self._within(self.rate, bounds)
        if new < self.rate:
            self.phase = "search"
            self._set_rate(new, now)
            self.cuts += 1
            return "cut"
        if new > self.rate and self.phase != "start":
            self._set_rate(new, now)
            self.raises += 1
            self._last_raise_at = now
            return "raise"
        return None

    def _within(self, new: float, bounds: RateBounds) -> float:
        """``new`` moved within what the host's answers prove (``bounds``).

        Every answer since the first request, read as a token bucket: the rate is under
        ``bounds.high`` and at least ``bounds.low`` whatever the burst, where the rules
        only guess (a 1.67/s host with a burst of 10, refused at 32/s, was cut to 11,
        5.5 and 2.75/s, refused at each; at the second refusal its answers said
        1.19-2.38/s). But a host that is no token bucket can look like a deep one with
        a slow rate (a counter of 18 requests per 12 s, after its first window, reads
        as a burst of 18 at 0.1/s), and a rate cut to that confirms itself: no cut goes
        below BOUNDS_MAX_CUT x what the rules chose, and a bound that would have is not
        taken as the host's ceiling (``hi``) either. Nor are bounds acted on at all
        before they earn it: once a refusal came at a rate over the high bound read
        before it, as the bound said it would. A counter's bounds lie far under its
        rate, and the rules' rate in between draws no refusal: on seeded fixed-window
        hosts this keeps about the rules' outcome (median 1.151 x, p90 1.86 x, against
        1.159 and 1.80 without the reading), where acting on bounds as soon as they were tight
        (within 15 %) cost 1.175 and 1.97 (a counter of 17 per 3.2 s, spent, read as
        0.63-0.65/s and was held there: 84 s for a 23 s bound).
        """
        if not self._bounds_trusted:
            self._bounds_predicted = bounds.high
            self._probe_cap = None
            if self._refusal_told and bounds.bursts[1] <= SHALLOW_BURST:
                # Unconfirmed but cheap to heed where a refusal is dear: a Retry-After
                # parks the host a whole second. On seeded token-bucket hosts that
                # answer one, refusals per host fell 3.42 -> 3.00 at the same makespans
                # (median 1.067 -> 1.070, p90 1.185 -> 1.179). Not without one: a
                # refusal then costs one request interval, and a fixed-window counter
                # that names no reset (windows of up to 10 read as shallow buckets
                # too) was held at a quarter of its rate (window p90 1.83 -> 2.00).
                self._probe_cap = bounds.high * SHALLOW_PROBE_SHARE
                return max(min(new, bounds.high * ESTIMATE_MARGIN), new * BOUNDS_MAX_CUT)
            return new
        capped = bounds.high * ESTIMATE_MARGIN
        if capped >= new * BOUNDS_MAX_CUT:
            self.hi = bounds.high if self.hi is None else min(self.hi, bounds.high)
            if self._proven_max >= bounds.high:
                self._proven_max = 0.0
        out = max(min(new, capped), new * BOUNDS_MAX_CUT)
        if bounds.low > out:
            out = self._bounds_low = bounds.low
        if self.lo is not None and self.lo >= bounds.high:
            self.lo = bounds.low or None  # "proven" over what it can take: a burst draining
        if bounds.low > (self.lo or 0.0):
            self.lo = bounds.low
        return out

    def _answer_lag_s(self) -> float:
        """How long after a request left its answer is surely back (the slowest lately)."""
        if not self._base_samples:
            return ANSWER_LAG_MIN_S
        recent = list(self._base_samples)[-50:]
        return ANSWER_LAG_MIN_S + ANSWER_LAG_FACTOR * max(recent)

    def _arrival_slack_s(self) -> float:
        """How far a request's arrival may stray from its send time, relative to others:
        a part of the spread of its latencies (the network's share of it is unknown)."""
        if len(self._base_samples) < 4:
            return ARRIVAL_SLACK_S
        ranked = sorted(self._base_samples)
        spread = ranked[(len(ranked) * 9) // 10] - ranked[len(ranked) // 10]
        return ARRIVAL_SLACK_S + ARRIVAL_SLACK_SHARE * spread

    def park_s(self, decision: str | None, retry_after_s: float | None) -> float:
        """How long to park the host after a throttle that got ``decision``.

        The host's own Retry-After when it gave one. Without one: nothing for a throttle
        already answered for (sent before the cut) or over a connection limit (the
        ceiling is the fix); after a cut, one request interval at the new rate, doubled
        for each further throttle in a row, so a host that keeps refusing is left alone
        longer while a single overshoot costs a fraction of a second. The park is also
        remembered (when the host will next hear from us, and how long a cut parks it):
        the next measurement and the price of a probe depend on it.
        """
        if retry_after_s is not None:
            park = retry_after_s
        elif decision not in ("cut", "park"):
            return 0.0
        elif not self.adaptive:
            return math.inf  # the caller's default wait: a pinned rate cannot adapt
        else:
            park = (2.0 ** max(0, self._streak - 1)) / self.rate
            park = min(park, self.max_park_s)
        if decision == "cut":
            self._last_park_s = park
            self._told_park_s = park if retry_after_s is not None else 0.0
        if decision in ("cut", "park", "same_event"):
            # When the host will next hear from us (what its bucket did meanwhile
            # matters to the next measurement).
            self._park_end = max(self._park_end, self._last_thr_at + park)
        return park

    def _measured_rate(
        self, prev_thr: float | None, sent_at: float, now: float
    ) -> tuple[float, float | None, bool] | None:
        """What the answers since the previous throttle say of the host's rate, or None.

        Returns ``(rate, most, exact)``. The host's bucket was empty at the previous
        throttle and at this one, so what it accepted in between is its rate, give or
        take one request: ``answers / span``, at most ``(answers + 1) / span`` (exact).
        Requests sent just before this throttle may still be on their way back, so the
        count stops a latency before ``now``. Too few answers for a rate still bound it.

        Two things break "empty all along", leaving bounds (``exact`` False, ``rate`` a
        floor, ``most`` a ceiling or None): a raise inside the span (part of it went out
        under the host's rate), or a long park (a Retry-After of a second at a host that
        refills in a fraction of one): its bucket filled, and what overflowed is lost,
        so ``(answers - 1) / span`` is a floor; what it sent after the park includes what
        it stored, so ``(answers after + 1) / span after`` is a ceiling.
        """
        if prev_thr is None:
            return None
        lag = 1.5 * (self.lat_ewma or 0.0)
        end = min(sent_at, now - lag)
        span = end - prev_thr
        if not 0 < span <= ESTIMATE_MAX_S:
            return None
        answers = sum(1 for t in self._answered_sent if prev_thr < t < end)
        parked_until = self._park_end if self._park_end > prev_thr else prev_thr
        long_park = (parked_until - prev_thr) * self.rate > LONG_PARK_INTERVALS
        if self._last_raise_at >= prev_thr or long_park:
            if span < ESTIMATE_MIN_S or answers < ESTIMATE_FLOOR_ANSWERS:
                return None
            most = None
            after = end - parked_until
            if long_park and after >= ESTIMATE_MIN_S and self._last_raise_at < prev_thr:
                sent_after = sum(1 for t in self._answered_sent if parked_until <= t < end)
                most = (sent_after + 1) / after
            return (answers - 1) / span, most, False
        if span < ESTIMATE_MIN_S and answers < ESTIMATE_SHORT_ANSWERS:
            return None  # a burst of refusals: too short to say anything
        most = (answers + 1) / span
        measured = (answers + 0.5) / span if answers < ESTIMATE_MIN_ANSWERS else answers / span
        if (parked_until - prev_thr) * most >= 1.0:
            # Parked a whole interval of the most it can be: a shallow bucket may have
            # filled and overflowed, so answers / span is only at least its rate.
            return measured, math.inf, True
        return measured, most, True

    def _accepted_rate(self, now: float) -> float | None:
        """Answers per second lately (what the host let through), over >= 1 s.

        A shorter look back (0.5 s) cut less after a slow-start overshoot and cost more
        throttles on slow hosts than it saved time on fast ones (measured on seeded
        token-bucket hosts).
        """
        span = max(ACCEPTED_SPAN_S, 4.0 / self.rate, 2.0 * (self.lat_ewma or 0.0))
        if self._first_sent is not None:
            # Not from before the first request: 2 answers in the 0.75 s since then are
            # 2.7/s, not 2/s (a 3.9/s host cut to 2/s for a 31-request batch, seed 1).
            span = min(span, max(1e-3, now - self._first_sent))
        recent = sum(1 for t in self._answered_at if t >= now - span)
        return recent / span if recent >= 2 else None

    # -- decisions ------------------------------------------------------------------------
    def _end_window(self, now: float, backlog: int, horizon_s: float | None = None) -> str | None:
        start = self._win_start if self._win_start is not None else now
        span = max(1e-9, now - start)
        oks, lat_total = self._win_oks, self._win_lat
        in_flight = self._win_in_flight / max(1, self._win_oks)
        if oks >= WINDOW_MIN_REQUESTS:
            self.best_rate = max(self.best_rate, oks / span)
        self._win_start, self._win_oks, self._win_lat, self._win_in_flight = now, 0, 0.0, 0
        if self._base_samples:
            # A low percentile of recent successes, not the minimum: one outlier must not
            # set the bar (and old samples age out).
            ranked = sorted(self._base_samples)
            self.base_latency = ranked[len(ranked) // 10]
        base = self.base_latency or 0.0
        self._lat_sum += lat_total
        self._lat_n += oks
        judged = self._lat_n >= LATENCY_MIN_ANSWERS and len(self._base_samples) >= (
            LATENCY_MIN_ANSWERS
        )
        if judged:
            lat = self._lat_sum / self._lat_n
            self._lat_sum, self._lat_n = 0.0, 0
        if judged and lat > max(LATENCY_TOLERANCE * base, base + LATENCY_SLACK_S):
            # Requests queue at the server: it is at capacity. Two such judgements in a
            # row (one can be a pause on our side) make the rate a ceiling and cut
            # gently, before the host has to say so.
            self._slow_windows += 1
            if self._slow_windows < 2:
                return None
            self._slow_windows = 0
            self.hi = self.rate if self.hi is None else min(self.hi, self.rate)
            self.phase = "search"
            # Gradient (Vegas-style): the in-flight count that would see base latency.
            fit = math.ceil(in_flight * base / max(lat, 1e-9)) + 1
            self.conc_ceiling = max(1, min(self.conc_ceiling, fit))
            self._set_rate(self.rate * LATENCY_CUT, now)
            self.cuts += 1
            return "slow"
        if judged:
            self._slow_windows = 0
        # Only a host that used its rate tells us anything about a higher one.
        busy = backlog and (oks >= 0.7 * self.rate * span or in_flight >= self.concurrency - 0.5)
        if not busy:
            self._update_concurrency()
            return None
        # A park is not proof: the host's bucket refills meanwhile, and the burst it then
        # lets through looks clean at any rate (a raise 0.4 s after a 1 s park, counted
        # from the cut, was refused again at once).
        clean_from = None if self._clean_since is None else max(self._clean_since, self._park_end)
        proven = (
            clean_from is not None
            and now - clean_from >= self._proof_s()
            and self._clean_oks >= PROOF_MIN_REQUESTS
        )
        if proven:
            # What was really sent counts, not the pacer's setting (sends can lag it).
            span = now - (clean_from or now)
            achieved = min(self.rate, self._clean_oks / max(1e-9, span))
            if self.lo is None or achieved > self.lo:
                self.lo = achieved
            if self._clean_oks >= CAUTION_PROOF_ANSWERS:
                # Also under an inferred lo: a 60/s host cut to 46/s under an lo of 57/s
                # (0.95 x a refused 60.7/s) proved 46/s, then 48/s, and no proof counted;
                # caution read a floor of 47/s and held it there for 30 s (1.32 x).
                # Over the span the answers can cover: none of a proof's first latency
                # is in (a 50/s host proved 48/s after 2.5 s, and 1.05 x that never paid
                # for a step). lo keeps the lower reading: cuts fall back to it.
                covered = span - min(self.lat_ewma or 0.0, 0.5 * span)
                sent = min(self.rate, self._clean_oks / max(1e-9, covered))
                self._proven_max = max(self._proven_max, sent)
            self._cuts_unproven = 0
            self._streak = 0
            if self.conc_ceiling < self.conc_max and not self._conc_from_limit:
                self.conc_ceiling += 1  # a proven rate earns back a learned-away slot
        if self.phase == "start" and oks >= CLEAN_WINDOW_REQUESTS:
            self._clean_start_rate = max(self._clean_start_rate, oks / span)
        cautious = self.cautious(now)
        if (
            (cautious and self.phase == "start")
            or sum(1 for t in self._events if t > now - CAUTION_WINDOW_S) >= CAUTION_STOP_EVENTS
            or (horizon_s is not None and backlog / self.rate < OFF_PATH_SHARE * horizon_s)
        ):
            # Off the critical path (at this rate the host is done well before the
            # batch), or refused often lately (a block may be near: generated seed 60's
            # registrar, blocking at 6 refusals a minute, was raised after its 5th and
            # blocked): no step up.
            self._update_concurrency()
            return None
        if self.phase == "start":
            return self._raise(self.rate * SLOW_START_FACTOR, now)
        if self.hi is None:
            return self._raise(self.rate * 1.1, now) if proven else None
        gap = self.hi - self.rate
        target = self.rate + max(min(gap / 2, MAX_STEP * self.rate), 0.01 * self.rate)
        known = self._measured_max or self.lo
        proven_rate = self._proven_max  # 0.0 until a rate is proven over many answers
        if proven_rate:
            # Proven over more answers than a burst holds: the host's rate, whatever the
            # floors measured across parks say (a 60/s host held at 50/s for a minute by
            # a floor of 34/s read across a 1 s Retry-After).
            known = max(known or 0.0, proven_rate)
        if cautious and known:
            # Refused again and again: trust what was measured over what a full bucket
            # let through after a park; climb no further than just above it. Before any
            # measurement, what was proven: a full step there was the 4th refusal in a
            # minute (a caution cut, x 0.8) for 4 workers sharing a 60/s host (1.52 x).
            # The step is judged as capped (risky or not, what it saves).
            target = min(target, CAUTION_HEADROOM * known)
        if cautious and target > proven_rate:
            # No step into the last 10 % under hi, but the part of one below it: dropping
            # the whole step held a 60/s host at 55.4/s (0.9 x hi = 56.8) for 40 s.
            target = min(target, max(self.rate, RISKY_SHARE * self.hi))
        # A probe above what is proven risks a throttle and a park: worth it only when
        # the host has enough work left to earn that back at the higher rate.
        saved_s = backlog / self.rate - backlog / max(self.rate, target)
        # Back up to a rate proven over many answers is no probe (a caution cut went
        # below it): a 60/s host cut to 45/s under a proven 58/s stayed at 53/s for 40 s.
        risky = target > RISKY_SHARE * self.hi and target > proven_rate
        # A probe that fails costs the host's park (a Retry-After of a second at a fast
        # host is many requests) and the climb back: two parks for a step likely to fail;
        # for any other, the park the host's Retry-After asks for (on seeded 15-60/s hosts
        # answering Retry-After: 1, 3.34 -> 3.17 throttles per host at the same
        # makespans). Not a park of our own choosing: that one starts short again once
        # the throttles stop coming in a row.
        if risky:
            cost_s = max(PROBE_COST_S, 2.0 * self._last_park_s)
        else:
            cost_s = max(PROBE_COST_S, self._told_park_s)
        pays = saved_s >= cost_s and (not risky or (backlog >= PAYBACK_REQUESTS and not cautious))
        if gap <= SETTLE_GAP * self.hi:
            self.phase = "settled"
            if (
                pays
                and self._clean_since is not None
                and now - self._clean_since >= REPROBE_AFTER_S
            ):
                self.hi *= 1.1  # look again: registries raise limits, estimates age
                self.phase = "search"
            return None
        if not proven or not pays:
            return None
        if self._probe_cap is not None and not self._bounds_trusted:
            target = min(target, self._probe_cap)
            if target <= self.rate:
                return None
        self.phase = "search"
        return self._raise(target, now)

    def _cut_factor(self) -> float:
        """x0.8, deeper for each further cut with nothing proven in between (to x0.5)."""
        return max(HARD_CUT_FACTOR, CUT_FACTOR - 0.1 * self._cuts_unproven)

    def _proof_s(self) -> float:
        """How long a rate must stay clean to count as proven.

        Longer close under a known throttled rate: a host's bucket drains at only the
        excess rate there, so a too-high rate takes a while to show itself.
        """
        proof = max(PROOF_MIN_S, PROOF_MIN_REQUESTS / self.rate)
        if self.hi is not None and self.hi > FAR_BELOW * self.rate:
            # Far under the rate that was throttled: a 25 % step cannot overshoot much,
            # so prove it quicker (a short batch would end before the climb does).
            proof = max(PROOF_FAR_S, PROOF_MIN_REQUESTS / self.rate)
        if self.hi is not None and self.hi > self.rate:
            proof = max(proof, min(PROOF_MAX_S, PROOF_GAP_S / ((self.hi - self.rate) / self.hi)))
        return proof

    def _raise(self, new: float, now: float) -> str | None:
        new = min(self.max_rate, new)
        if new <= self.rate * 1.0001:
            self._update_concurrency()
            return None
        self._set_rate(new, now)
        self.raises += 1
        self._last_raise_at = now
        return "raise"

    def _set_rate(self, new: float, now: float) -> None:
        new = max(MIN_RATE_PER_S, min(self.max_rate, new))
        if new < self.rate:
            self._last_cut_at = now
            self._oks_since_cut = 0
        self.rate = new
        self._rate_since, self._rate_answers = now, 0
        self._clean_since = now
        self._clean_oks = 0
        self._proof_checked = False
        self._win_start, self._win_oks, self._win_lat, self._win_in_flight = now, 0, 0.0, 0
        self._apply()

    def _conc_from_throttles(self) -> None:
        """Throttled often at k in flight and never below: the host limits connections.

        Counted per in-flight level (ours, which can run ahead of the server's count, so
        successes happen at k too): the smallest level with a high throttle share and
        clean levels under it is one over the host's connection limit.
        """
        clean_below = 0
        for k in sorted(self._levels):
            ok, thr = self._levels[k]
            if thr >= 2 and thr / (ok + thr) >= 0.25:
                if k > 1 and clean_below >= 5 and k - 1 < self.conc_ceiling:
                    self.conc_ceiling = k - 1
                    self._conc_from_limit = True
                    self.hi = None  # those throttles were about connections, not the rate
                    self._update_concurrency()
                return
            if thr:
                return
            clean_below += ok

    def _update_concurrency(self) -> None:
        if not self.adaptive:
            return  # pinned: the profile's concurrency, set once in _apply
        latency = self.lat_ewma if self.lat_ewma is not None else 0.5
        need = math.ceil(self.rate * latency * CONCURRENCY_HEADROOM) + 1
        self.concurrency = max(1, min(self.conc_ceiling, need))
        self.limiter.set_concurrency(self.concurrency)

    def _apply(self) -> None:
        if not self.adaptive:
            self.limiter.set_rate(None if self.unpaced else self.rate, burst=self.profile.burst)
            self.limiter.set_concurrency(self.concurrency)
            return
        # Pace smoothly (burst 1): registries' buckets forgive a steady flow, not bursts.
        self.limiter.set_rate(self.rate, burst=1)
        self._pace()
        self._update_concurrency()

    def _pace(self) -> None:
        """How early the pacer may send to make up for late timers (``set_catch_up``).

        A share of an interval, never more than CATCH_UP_MAX_S, and only while the host
        has no known ceiling (``hi``): under a refused rate its limit may be anywhere
        above the rate proven, and a request sent early eats the margin that arrival
        jitter needs (a 10.5/s host with a burst of 1 refused a request at 9.8/s).
        A pinned rate is the user's, kept to the letter.
        """
        if not self.adaptive:
            return
        catch_up = 0.0
        if self._hi is None:
            catch_up = min(CATCH_UP_SHARE / self.rate, CATCH_UP_MAX_S)
        self.limiter.set_catch_up(catch_up)

    def cautious(self, now: float) -> bool:
        """Refused CAUTION_THROTTLES times within CAUTION_WINDOW_S: stay well clear."""
        return self._recent_refusals(now) >= CAUTION_THROTTLES

    def _recent_refusals(self, now: float) -> int:
        return sum(1 for t in self._refusals if t > now - CAUTION_WINDOW_S)

    @property
    def reachable_rate(self) -> float:
        """The fastest this host may yet run: its rate once a ceiling is known, else the most
        its settings and connections allow.

        The batch's horizon is read with it: a host still ramping up from its starting rate
        would otherwise look like the slowest of all and make every other host seem off the
        critical path (so none of them would ramp up either).
        """
        if self.hi is not None or not self.adaptive:
            return self.rate
        most = self.max_rate
        if self.base_latency:
            most = min(most, self.conc_ceiling / self.base_latency)
        return max(self.rate, most)

    # -- reporting ---------------------------------------------------------------------------
    @property
    def concurrency_learned(self) -> bool:
        """Whether the concurrency ceiling was learned from the host's refusals."""
        return self._conc_from_limit

    def statistics(self) -> ControllerStatistics:
        return ControllerStatistics(
            host=self.limiter.host,
            rate_per_s=None if self.unpaced else self.rate,
            concurrency=self.concurrency,
            lo_rate_per_s=self.lo,
            best_rate_per_s=self.best_rate or None,
            hi_rate_per_s=self.hi,
            concurrency_ceiling=self.conc_ceiling,
            base_latency_ms=None if self.base_latency is None else self.base_latency * 1000,
            latency_ms=None if self.lat_ewma is None else self.lat_ewma * 1000,
            phase=self.phase,
            throttle_events=self.throttle_events,
            cuts=self.cuts,
            raises=self.raises,
            faults_503=self._has_faults,
            server_errors=self._server_errors,
        )
