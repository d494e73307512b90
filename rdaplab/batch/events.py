"""What a batch tells a monitor as it runs: event records and alert thresholds.

A batch given ``on_event=handler`` (an option of ``lookup``, ``lookup_async``, ``start``
and ``stream``) calls ``handler(event)`` with one of the records below. Each is a frozen
dataclass sharing three fields with :class:`Event`:

``kind``
    A stable string naming the record (``"batch_started"``, ``"progress"``, ...): the
    contract for code that dispatches on it, and the ``kind`` key of :meth:`Event.to_dict`.
``at``
    When it happened, in epoch seconds (``time.time()``).
``batch_id``
    The batch it belongs to (as in ``result.summary["batch_id"]`` and the cache).

The kinds, in the order a batch emits them: :class:`BatchStarted` first; then, in any
order, :class:`Progress` (at most once every ``event_interval_s``, and once at the end),
:class:`HostThrottled`, :class:`HostParked`, :class:`BreakerOpened`,
:class:`BreakerClosed`, :class:`HostExhausted`, :class:`Alert` and :class:`AlertCleared`;
:class:`BatchFinished` last, however the batch ended (done, stopped early, cancelled or
failed). :meth:`Event.to_dict` gives a JSON-ready dict, as served over NDJSON.

Handlers run on the batch's event-loop thread, between lookups: they must be quick (append
to a list, put on a queue, a log line) and must not block. A handler that raises is
logged once (logger ``rdaplab``) and the batch goes on; it keeps receiving events.

Alerts (:class:`AlertThresholds`, option ``alerts=``) are the usual batch-monitoring
thresholds, judged over a sliding window; each is raised once per *episode*: an
:class:`Alert` when the figure crosses its threshold, an :class:`AlertCleared` when it is
back on the right side with some margin (``hysteresis``), and only then can it be raised
again. Nothing is judged before ``min_requests`` samples. See docs/events.md.

Other layers add their own kinds by subclassing :class:`Event` (the jobs layer's job state
changes), each with its own ``kind`` default::

    @dataclass(frozen=True, slots=True, kw_only=True)
    class JobState(Event):
        kind: str = field(default="job_state", init=False)
        job_id: str
        state: str

>>> BatchStarted(batch_id="b1", total=3, cache="c.duckdb", at=0.0).to_dict()["kind"]
'batch_started'
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeAlias

__all__ = [
    "EVENT_TYPES",
    "Alert",
    "AlertCleared",
    "AlertThresholds",
    "BatchFinished",
    "BatchStarted",
    "BreakerClosed",
    "BreakerOpened",
    "Event",
    "EventHandler",
    "HostExhausted",
    "HostParked",
    "HostThrottled",
    "Progress",
    "kind_of",
]


def _json_ready(value: Any) -> Any:
    """``value`` as JSON types: tuples as lists, mappings with str keys, and non-finite
    floats as None (strict JSON has no NaN or Infinity)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_ready(v) for v in value]
    return str(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """The base of every event record (see the module).

    Attributes
    ----------
    kind
        The record's stable name; set by each subclass, not passed in.
    at
        Epoch seconds (``time.time()``) when it happened.
    batch_id
        The batch it belongs to.
    """

    kind: str = field(default="event", init=False)
    at: float = field(default_factory=time.time)
    batch_id: str

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict (``kind`` first), e.g. for ``json.dumps``."""
        return {f.name: _json_ready(getattr(self, f.name)) for f in fields(self)}


EventHandler: TypeAlias = Callable[[Event], None]
"""What ``on_event=`` takes: a quick callable receiving each :class:`Event`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchStarted(Event):
    """The batch opened its cache and is about to take input (always the first event).

    Attributes
    ----------
    total
        Input rows, when known up front (None: a stream of unknown length).
    cache
        The cache file's path (``":memory:"`` for an in-memory cache).
    streamed
        Whether the rows are handed over chunk by chunk (``stream``).
    """

    kind: str = field(default="batch_started", init=False)
    total: int | None
    cache: str
    streamed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchFinished(Event):
    """The batch ended (always the last event), with the key figures of its summary.

    Attributes
    ----------
    total, done
        Input rows (those read, for a stream of unknown length), and rows finished.
    ok, not_found, errors
        Finished rows by outcome.
    requests, throttled
        HTTP requests sent, and answers that were throttles.
    cache_hits
        Rows answered from the cache.
    elapsed_s
        Seconds from start to end.
    stopped_early
        The caller stopped before every row was admitted and taken (a stream left early,
        a cancel, an interrupt, an error).
    cancelled
        Cancelled or interrupted: no summary was recorded.
    error
        What ended the batch when it failed (``"TypeName: message"``), else None.
    """

    kind: str = field(default="batch_finished", init=False)
    total: int
    done: int
    ok: int
    not_found: int
    errors: int
    requests: int
    throttled: int
    cache_hits: int
    elapsed_s: float
    stopped_early: bool
    cancelled: bool = False
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Progress(Event):
    """A snapshot of the batch, at most once every ``event_interval_s`` and once at the end.

    Attributes
    ----------
    done, total
        Rows finished, and input rows (None while a stream's length is unknown; the last
        snapshot has the rows read).
    percent
        ``100 * done / total`` (None when ``total`` is unknown); never decreases for a
        batch of known length.
    rate_per_s, eta_s
        Rows finished per second since the start, and the seconds left at that rate
        (None before the first row; 0 at the end).
    elapsed_s
        Seconds since the start.
    ok, not_found, errors, cache_hits
        Finished rows by outcome; rows answered from the cache.
    requests, throttled
        HTTP requests sent so far, and throttled answers among them.
    hosts
        Per registry host (``host:port``): ``queued``, ``in_flight``, ``requests``,
        ``throttled``, ``rate_per_s`` (its pace now), ``done`` and ``errors`` (lookups).
    alerts
        Names of the alerts active now (see :class:`Alert`).
    finished
        The last snapshot of the batch.
    """

    kind: str = field(default="progress", init=False)
    done: int
    total: int | None
    percent: float | None
    rate_per_s: float
    eta_s: float | None
    elapsed_s: float
    ok: int
    not_found: int
    errors: int
    cache_hits: int
    requests: int
    throttled: int
    hosts: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    alerts: tuple[str, ...] = ()
    finished: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class HostThrottled(Event):
    """A registry host answered with a throttle (429, 503 + Retry-After, a quota...).

    Attributes
    ----------
    host
        ``host:port``.
    status
        The HTTP status of the answer.
    retry_after_s
        The Retry-After it carried, in seconds (None: none).
    decision
        What the scheduler's controller decided: ``cut`` (a lower rate), ``park``,
        ``concurrency`` (a lower ceiling), ``same_event`` (a throttle of a burst already
        acted on), ``stop_host`` (a quota or a block: see :class:`HostExhausted`), ...
    reason
        What the answer said (``"HTTP 429"``, ``"quota exceeded"``...).
    """

    kind: str = field(default="host_throttled", init=False)
    host: str
    status: int | None
    retry_after_s: float | None
    decision: str | None
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class HostParked(Event):
    """Nothing will be sent to a host for ``seconds`` (a Retry-After, or a back-off).

    Emitted when a park starts or is extended.
    """

    kind: str = field(default="host_parked", init=False)
    host: str
    seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerOpened(Event):
    """A host's circuit breaker opened after consecutive failures: its queued rows fail
    at once until a probe after the cool-down answers."""

    kind: str = field(default="breaker_opened", init=False)
    host: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerClosed(Event):
    """A host's circuit breaker closed again: the probe was answered."""

    kind: str = field(default="breaker_closed", init=False)
    host: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HostExhausted(Event):
    """A host will get no more requests in this batch: its remaining rows end as
    ``rate_limited`` (retryable on a later run).

    Attributes
    ----------
    host
        ``host:port``.
    cause
        ``quota`` (the host says its allowance is used up), ``block`` (it says we are
        blocked) or ``daily_budget`` (the profile's ``daily_budget`` is spent).
    reason
        The full explanation, as logged.
    """

    kind: str = field(default="host_exhausted", init=False)
    host: str
    cause: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert(Event):
    """A monitored figure crossed its threshold (once per episode; see the module).

    Attributes
    ----------
    name
        ``throttled_share``, ``error_share``, ``p99_latency_s`` or ``cache_hit_share``
        (the :class:`AlertThresholds` field it comes from, without ``min_``).
    message
        One readable line, e.g. ``"throttled share 12.0 % over the last 60 s (limit 5 %)"``.
    value, threshold
        The figure and the threshold it crossed (shares as fractions, latency in seconds).
    level
        ``"warning"``.
    """

    kind: str = field(default="alert", init=False)
    name: str
    message: str
    value: float
    threshold: float
    level: str = "warning"


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertCleared(Event):
    """An alert's episode ended: its figure is back on the right side of the threshold,
    with the ``hysteresis`` margin. The same alert can be raised again after this."""

    kind: str = field(default="alert_cleared", init=False)
    name: str
    value: float
    threshold: float


def kind_of(cls: type[Event]) -> str:
    """The ``kind`` an event class stamps on its records (a slotted class attribute is a
    descriptor, not the default: the dataclass field holds it)."""
    return next(str(f.default) for f in fields(cls) if f.name == "kind")


#: The batch layer's event kinds and their records.
EVENT_TYPES: Mapping[str, type[Event]] = {
    kind_of(cls): cls
    for cls in (
        BatchStarted,
        Progress,
        HostThrottled,
        HostParked,
        BreakerOpened,
        BreakerClosed,
        HostExhausted,
        Alert,
        AlertCleared,
        BatchFinished,
    )
}


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertThresholds:
    """When a batch raises :class:`Alert` events (and shows a warning in the progress
    widget). ``None`` turns one alert off; :meth:`off` turns them all off.

    Parameters
    ----------
    throttled_share
        Alert when more than this fraction of the requests of the window were throttled
        (default 0.05: 5 %).
    error_share
        Alert when more than this fraction of the lookups sent to registries that
        finished in the window ended as errors (default 0.10). Input errors
        (``invalid_query``, ``no_rdap_service``) never count: they are no registry's
        doing.
    p99_latency_s
        Alert when the 99th percentile of the window's request latencies is above this
        many seconds (default 5; estimated from a histogram, within a few percent).
    min_cache_hit_share
        Alert when the share of finished rows answered from the cache is below this floor
        (over the whole batch). Default None (off): meaningful for repeat runs only.
    min_requests
        Samples (requests, lookups or rows) the window needs before a figure is judged:
        no alert on the first few requests.
    window_s
        The sliding window, in seconds, over which the shares and the latency are taken.
    hysteresis
        An episode ends when the figure is back under ``(1 - hysteresis) * threshold``
        (over ``(1 + hysteresis) * floor`` for the cache floor).
    """

    throttled_share: float | None = 0.05
    error_share: float | None = 0.10
    p99_latency_s: float | None = 5.0
    min_cache_hit_share: float | None = None
    min_requests: int = 20
    window_s: float = 60.0
    hysteresis: float = 0.2

    def __post_init__(self) -> None:
        for name in ("throttled_share", "error_share", "min_cache_hit_share"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a fraction in [0, 1] or None, not {value!r}")
        if self.p99_latency_s is not None and not self.p99_latency_s > 0:
            raise ValueError(f"p99_latency_s must be > 0 or None, not {self.p99_latency_s!r}")
        if self.min_requests < 1:
            raise ValueError(f"min_requests must be >= 1, not {self.min_requests!r}")
        if not self.window_s > 0:
            raise ValueError(f"window_s must be > 0, not {self.window_s!r}")
        if not 0.0 <= self.hysteresis < 1.0:
            raise ValueError(f"hysteresis must be in [0, 1), not {self.hysteresis!r}")

    @classmethod
    def off(cls) -> AlertThresholds:
        """Thresholds that never raise an alert."""
        return cls(throttled_share=None, error_share=None, p99_latency_s=None)
