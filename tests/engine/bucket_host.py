"""A host with a token bucket, on fake time, driving one HostController (no I/O).

For the controller's own logic only (the scheduler and the real simulator are tested
against a loopback server elsewhere): requests leave at the controller's pace, at most
its concurrency in flight, and reach the host half a latency later, where a token
bucket (``rate_per_s``, ``burst``, full at the start) admits or refuses them; the answer
comes back after the other half. A refusal parks sending for the controller's
:meth:`~rdaplab.engine.controller.HostController.park_s`.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field

from rdaplab.engine.config import Retry
from rdaplab.engine.controller import HostController
from rdaplab.engine.limiter import HostLimiter
from rdaplab.engine.profiles import Profile

PARK_CAP_S = Retry().retry_after_default_s


@dataclass
class BucketHost:
    rate_per_s: float
    burst: int = 1
    latency_s: float = 0.05
    #: Refusals carry Retry-After in whole seconds (at least 1, as the simulator's do).
    retry_after: bool = False
    #: Refusals within 60 s that would start a block (the simulator's escalation);
    #: ``blocked`` records that it happened (the host keeps answering, for the test).
    block_after: int | None = None
    tokens: float = field(init=False)
    last: float = field(init=False, default=0.0)
    refusals: list[float] = field(init=False, default_factory=list)
    blocked: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def admit(self, t: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (t - self.last) * self.rate_per_s)
        self.last = t
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return self._refuse(t)

    def _refuse(self, t: float) -> bool:
        """Record a refusal at ``t`` (and a block it starts); always False."""
        self.refusals.append(t)
        if self.block_after is not None:
            recent = [r for r in self.refusals if r > t - 60.0]
            self.blocked = self.blocked or len(recent) >= self.block_after
        return False

    def retry_after_s(self) -> float | None:
        if not self.retry_after:
            return None
        return float(max(1, math.ceil((1.0 - self.tokens) / self.rate_per_s)))


class WindowHost(BucketHost):
    """No token bucket: a counter of ``burst`` requests per window of ``burst /
    rate_per_s`` seconds, reset at each window's start (fixed windows, as "N requests a
    minute" limits often are). A spent window refuses everything until the next, whose
    whole count is then free at once. Retry-After (when asked for) names the reset.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        self.window_s = self.burst / self.rate_per_s
        self._window = 0
        self._count = 0

    def admit(self, t: float) -> bool:
        self.last = t
        window = int(t // self.window_s)
        if window != self._window:
            self._window, self._count = window, 0
        if self._count < self.burst:
            self._count += 1
            return True
        return self._refuse(t)

    def retry_after_s(self) -> float | None:
        if not self.retry_after:
            return None
        return float(max(1, math.ceil((self._window + 1) * self.window_s - self.last)))


@dataclass
class Run:
    ctl: HostController
    sent: list[tuple[float, float, bool]]  # (sent_at, rate then, admitted)
    elapsed_s: float

    @property
    def throttles(self) -> int:
        return sum(1 for _, _, ok in self.sent if not ok)

    def first_time_within(self, rate_per_s: float, share: float) -> float | None:
        """When the rate first entered [share x rate, rate] and stayed until the end."""
        inside = None
        for t, r, _ in self.sent:
            if share * rate_per_s <= r <= rate_per_s * 1.0001:
                inside = t if inside is None else inside
            else:
                inside = None
        return inside


def controller(start_per_s: float = 2.0, concurrency: int = 2) -> HostController:
    limiter = HostLimiter("h:1", rate_per_s=None)
    return HostController(limiter, Profile(rate_per_s=start_per_s, concurrency=concurrency))


def drive(
    host: BucketHost,
    ctl: HostController,
    *,
    requests: int,
    jitter: random.Random | None = None,
    faults: float = 0.0,
    fault_rng: random.Random | None = None,
    refusals_503: bool = False,
) -> Run:
    """Send ``requests`` successful requests (refused ones are retried); fake time.

    With ``jitter``, as the simulator does: a request reaches the bucket 0-4 ms after it
    left (it admits on arrival) and its answer comes back after the latency +-30 %.
    With ``faults``, that share of admitted requests (drawn from ``fault_rng``) is
    answered as the simulator's injected errors are: a ``503`` with a Retry-After of a
    second, a weak signal. As the scheduler does, a ``"park"`` decision on it delays only
    that request (it rejoins the queue and the host goes on); a cut parks the host. With
    ``refusals_503`` the host's own refusals are such 503s too (a registry that
    throttles so): the same weak signal.
    """
    rng = fault_rng or random.Random(0)
    t = 0.0  # when the next request may leave (pacer and parks)
    last_arrival = 0.0
    last = -math.inf  # when the last request left: the pacer's interval counts from it
    # (arrives, sent_at, in_flight, ok, Retry-After, a fault)
    answers: list[tuple[float, float, int, bool, float | None, bool]] = []
    sent: list[tuple[float, float, bool]] = []
    done = 0
    queued = requests
    end = 0.0
    while done < requests:
        in_flight = len(answers)
        # The limiter re-plans on a rate change: the next send is one interval (at the
        # rate now in force) after the last one, or the end of a park.
        nxt = max(t, last + 1.0 / ctl.rate, end)
        # Answers due before the next send (or a full window) are handled first.
        if answers and (in_flight >= ctl.concurrency or answers[0][0] <= nxt or queued == 0):
            arrives, sent_at, level, ok, wait, fault = heapq.heappop(answers)
            end = max(end, arrives)
            if ok and not fault:
                done += 1
                ctl.on_answer(sent_at=sent_at, now=arrives, in_flight=level, backlog=queued)
            else:
                queued += 1
                weak = fault or refusals_503
                # Whole seconds, as the client reports them (a one-second resolution).
                d = ctl.on_throttle(
                    sent_at=sent_at,
                    now=arrives,
                    in_flight=level,
                    retry_after_s=wait,
                    retry_after_resolution_s=0.0 if wait is None else 1.0,
                    weak=weak,
                )
                if weak and d == "park":
                    continue  # that request waits; the host goes on
                park = ctl.park_s(d, wait)
                # The scheduler caps a park without Retry-After at its default wait.
                t = max(t, arrives + (park if wait is not None else min(park, PARK_CAP_S)))
            continue
        if queued == 0:
            break
        t = last = nxt
        if jitter is None:
            ok = host.admit(t + host.latency_s / 2)
            back = t + (host.latency_s if ok else host.latency_s / 2)
        else:
            last_arrival = max(last_arrival, t + jitter.uniform(0.0, 0.004))
            latency = host.latency_s * jitter.uniform(0.7, 1.3)
            ok = host.admit(last_arrival)
            back = last_arrival + (latency if ok else 0.002)
        queued -= 1
        sent.append((t, ctl.rate, ok))
        fault = ok and faults > 0.0 and rng.random() < faults
        wait = 1.0 if fault else None if ok else host.retry_after_s()
        heapq.heappush(answers, (back, t, in_flight + 1, ok, wait, fault))
    return Run(ctl, sent, end)
