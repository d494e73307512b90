"""Judging a batch's figures against :class:`~rdaplab.batch.events.AlertThresholds`.

:class:`AlertMonitor` counts what each request and each fetched lookup did into one
pending slice (a request costs a few integer increments: no clock read, no object);
:meth:`AlertMonitor.evaluate`, called by the run loop about once a second, files the
pending counts into a ring of time slices covering the sliding window (``window_s``, in
ten slices), sums the window and decides which alerts start or end an episode. It knows nothing of events or handlers: the run loop turns its verdicts into
:class:`~rdaplab.batch.events.Alert` / :class:`~rdaplab.batch.events.AlertCleared`
records and shows the active ones in the progress snapshots.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass

from rdaplab.batch.events import AlertThresholds

__all__ = ["AlertMonitor", "Verdict"]

# Latency histogram bucket edges (ms): 1 ms x 1.1^i, up to ~10 minutes. A percentile read
# from it, interpolated within its bucket, is within a few percent of the exact one.
_EDGES_MS: tuple[float, ...] = tuple(1.1**i for i in range(140))
_SLICES = 10


class _Slice:
    """Counts of one slice of the window."""

    __slots__ = ("errors", "hist", "lookups", "requests", "throttled")

    def __init__(self) -> None:
        self.requests = 0
        self.throttled = 0
        self.lookups = 0
        self.errors = 0
        self.hist = [0] * (len(_EDGES_MS) + 1)

    def reset(self) -> None:
        self.requests = self.throttled = self.lookups = self.errors = 0
        hist = self.hist
        for i in range(len(hist)):
            hist[i] = 0

    def merge(self, other: _Slice) -> None:
        """Add ``other``'s counts to these."""
        self.requests += other.requests
        self.throttled += other.throttled
        self.lookups += other.lookups
        self.errors += other.errors
        if other.requests:
            hist = self.hist
            for i, count in enumerate(other.hist):
                if count:
                    hist[i] += count


@dataclass(frozen=True, slots=True)
class Verdict:
    """An alert that starts (``raised``) or ends an episode at this evaluation."""

    name: str
    raised: bool
    value: float
    threshold: float
    message: str


def _pct(share: float) -> str:
    return f"{100.0 * share:.3g} %"


def percentile_ms(hist: list[int], q: float) -> float | None:
    """The ``q`` quantile (0..1) of a latency histogram over :data:`_EDGES_MS`, in ms."""
    n = sum(hist)
    if n == 0:
        return None
    target = q * n
    seen = 0
    for i, count in enumerate(hist):
        if count and seen + count >= target:
            low = _EDGES_MS[i - 1] if i > 0 else 0.0
            high = _EDGES_MS[i] if i < len(_EDGES_MS) else _EDGES_MS[-1] * 1.1
            return low + (high - low) * max(0.0, target - seen) / count
        seen += count
    return _EDGES_MS[-1]


class AlertMonitor:
    """Counts a batch's requests and lookups over a sliding window; judges the alerts.

    Parameters
    ----------
    thresholds
        What to alert on.
    clock
        Monotonic seconds (injectable for tests).

    Attributes
    ----------
    active
        ``{alert name: message}`` of the alerts in an episode now.
    """

    def __init__(
        self, thresholds: AlertThresholds, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.thresholds = thresholds
        self.active: dict[str, str] = {}
        self._clock = clock
        self._t0 = clock()
        self._slice_s = thresholds.window_s / _SLICES
        self._ring = [_Slice() for _ in range(_SLICES)]
        self._index = int(self._t0 // self._slice_s)
        self._cur = _Slice()  # counts since the last evaluation, filed there

    # -- counting (per request: a few increments) ------------------------------------------
    def add_attempt(self, latency_ms: float, throttled: bool) -> None:
        """One request sent (answered or failed) and how long it took."""
        cur = self._cur
        cur.requests += 1
        if throttled:
            cur.throttled += 1
        cur.hist[bisect_left(_EDGES_MS, latency_ms)] += 1

    def add_lookup(self, error: bool) -> None:
        """One lookup sent to a registry finished (``error``: it ended as an error)."""
        cur = self._cur
        cur.lookups += 1
        if error:
            cur.errors += 1

    # -- judging (about once a second) -----------------------------------------------------
    def _file(self, now: float) -> None:
        """Expire the slices that left the window; file the pending counts in the slice of
        ``now`` (they arrived since the last evaluation, about a second ago)."""
        index = int(now // self._slice_s)
        if index > self._index:
            for step in range(1, min(index - self._index, _SLICES) + 1):
                self._ring[(self._index + step) % _SLICES].reset()
            self._index = index
        self._ring[self._index % _SLICES].merge(self._cur)
        self._cur.reset()

    def evaluate(self, *, rows: int, cache_hits: int) -> list[Verdict]:
        """Judge the window (and the batch's cache hits: ``cache_hits`` of ``rows`` finished
        rows); the alerts that start or end an episode now."""
        now = self._clock()
        self._file(now)
        t = self.thresholds
        span = min(t.window_s, max(now - self._t0, 0.0))
        requests = throttled = lookups = errors = 0
        hist = [0] * (len(_EDGES_MS) + 1)
        for part in self._ring:
            requests += part.requests
            throttled += part.throttled
            lookups += part.lookups
            errors += part.errors
            if part.requests:
                for i, count in enumerate(part.hist):
                    if count:
                        hist[i] += count
        out: list[Verdict] = []
        enough = t.min_requests
        if t.throttled_share is not None and requests >= enough:
            share = throttled / requests
            self._judge(
                out,
                "throttled_share",
                share,
                t.throttled_share,
                above=True,
                message=(
                    f"throttled share {_pct(share)}: {throttled:,} of {requests:,} requests "
                    f"in the last {span:.0f} s (limit {_pct(t.throttled_share)})"
                ),
            )
        if t.error_share is not None and lookups >= enough:
            share = errors / lookups
            self._judge(
                out,
                "error_share",
                share,
                t.error_share,
                above=True,
                message=(
                    f"error share {_pct(share)}: {errors:,} of {lookups:,} lookups finished "
                    f"in the last {span:.0f} s (limit {_pct(t.error_share)})"
                ),
            )
        if t.p99_latency_s is not None and requests >= enough:
            p99_ms = percentile_ms(hist, 0.99)
            if p99_ms is not None:
                p99 = p99_ms / 1000.0
                self._judge(
                    out,
                    "p99_latency_s",
                    p99,
                    t.p99_latency_s,
                    above=True,
                    message=(
                        f"p99 latency {p99:.2f} s over {requests:,} requests in the last "
                        f"{span:.0f} s (limit {t.p99_latency_s:g} s)"
                    ),
                )
        if t.min_cache_hit_share is not None and rows >= enough:
            share = cache_hits / rows
            self._judge(
                out,
                "cache_hit_share",
                share,
                t.min_cache_hit_share,
                above=False,
                message=(
                    f"cache hit share {_pct(share)}: {cache_hits:,} of {rows:,} rows "
                    f"(floor {_pct(t.min_cache_hit_share)})"
                ),
            )
        return out

    def _judge(
        self,
        out: list[Verdict],
        name: str,
        value: float,
        threshold: float,
        *,
        above: bool,
        message: str,
    ) -> None:
        h = self.thresholds.hysteresis
        if above:
            crossed = value > threshold
            back = value <= threshold * (1.0 - h)
        else:
            crossed = value < threshold
            back = value >= min(1.0, threshold * (1.0 + h))
        if name in self.active:
            if back:
                del self.active[name]
                out.append(Verdict(name, False, value, threshold, message))
            else:
                self.active[name] = message  # the latest figures, for the widget
        elif crossed:
            self.active[name] = message
            out.append(Verdict(name, True, value, threshold, message))
