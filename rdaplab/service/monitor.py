"""What the service knows live of the batches running in its process.

Every batch the service runs (each ``POST /batch-lookup``, and each run of a job by the
service's worker) is given an ``on_event`` handler (:meth:`Monitor.handler`); the
:class:`Monitor` keeps the newest ``progress`` record of each running batch (per host:
queued, in flight, pace now), the rows finished per source and outcome, the alerts and
the recent host events (throttles, parks, breakers) and job state changes. ``/metrics``
and the dashboard read it, and ``GET /events`` streams every record to its subscribers
(:meth:`Monitor.subscribe`). Handlers run on the event loop's thread and only update
dicts, deques and queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HOST_EVENT_KINDS", "LiveBatch", "Monitor"]

HOST_EVENT_KINDS = (
    "host_throttled",
    "host_parked",
    "breaker_opened",
    "breaker_closed",
    "host_exhausted",
)
OUTCOMES = ("ok", "not_found", "errors")


@dataclass
class LiveBatch:
    """A batch running now: where it comes from and its newest progress record."""

    batch_id: str
    source: str  # "batch_lookup" or "job"
    job_id: str | None
    started_at: float
    total: int | None
    progress: dict[str, Any] = field(default_factory=dict)
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (seconds since the start, rows done, requests) of each progress record, for charts
    history: deque[tuple[float, int, int]] = field(default_factory=lambda: deque(maxlen=3600))
    finished: bool = False


class Monitor:
    """Live state of the process's batches, fed by their events (see the module)."""

    def __init__(self, *, keep_alerts: int = 50, keep_events: int = 100) -> None:
        self.running: dict[str, LiveBatch] = {}
        # Rows finished by batches that ended: (source, outcome) -> rows.
        self._rows: Counter[tuple[str, str]] = Counter()
        self._cache_hits: Counter[str] = Counter()
        self.batches_finished: Counter[tuple[str, str]] = Counter()  # (source, ending)
        self.alert_counts: Counter[str] = Counter()
        self.job_transitions: Counter[str] = Counter()  # new state -> times a job moved
        self.alerts: deque[dict[str, Any]] = deque(maxlen=keep_alerts)
        self.host_events: deque[dict[str, Any]] = deque(maxlen=keep_events)
        self.latest: LiveBatch | None = None  # the batch that started last (for charts)
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self.events_dropped = 0  # records a slow GET /events client did not take in time

    @contextlib.contextmanager
    def subscribe(self, *, max_queued: int = 10_000) -> Iterator[asyncio.Queue[dict[str, Any]]]:
        """A queue receiving every event record from now on (``GET /events``); a client
        that falls ``max_queued`` records behind loses the oldest."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=max_queued)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    def _publish(self, record: dict[str, Any]) -> None:
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
                self.events_dropped += 1
            queue.put_nowait(record)

    def handler(
        self,
        source: str,
        *,
        job_id: Callable[[], str | None] | None = None,
        chain: Callable[[Any], None] | None = None,
    ) -> Callable[[Any], None]:
        """An ``on_event`` callable for one source of batches (``job_id`` tells which job
        a starting batch runs; ``chain`` also receives every event)."""

        def on_event(event: Any) -> None:
            self.observe(source, event, job_id=job_id() if job_id is not None else None)
            if chain is not None:
                chain(event)

        return on_event

    def observe(self, source: str, event: Any, *, job_id: str | None = None) -> None:
        """Take one event record (an object with ``kind`` and ``to_dict()``)."""
        data: dict[str, Any] = event.to_dict()
        kind = data.get("kind")
        if self._subscribers:
            self._publish({"source": source, **({"job_id": job_id} if job_id else {}), **data})
        batch_id = str(data.get("batch_id", ""))
        live: LiveBatch | None
        if kind == "batch_started":
            live = LiveBatch(
                batch_id=batch_id,
                source=source,
                job_id=job_id,
                started_at=float(data.get("at") or time.time()),
                total=data.get("total"),
            )
            self.running[batch_id] = live
            self.latest = live
        elif kind == "progress":
            live = self.running.get(batch_id)
            if live is not None:
                live.progress = data
                if data.get("total") is not None:
                    live.total = data["total"]
                live.history.append(
                    (
                        float(data.get("elapsed_s") or 0.0),
                        int(data.get("done") or 0),
                        int(data.get("requests") or 0),
                    )
                )
        elif kind == "alert":
            record = {**data, "source": source, "active": True}
            self.alerts.append(record)
            self.alert_counts[str(data.get("name"))] += 1
            live = self.running.get(batch_id)
            if live is not None:
                live.alerts[str(data.get("name"))] = record
        elif kind == "alert_cleared":
            live = self.running.get(batch_id)
            if live is not None:
                cleared = live.alerts.pop(str(data.get("name")), None)
                if cleared is not None:
                    cleared["active"] = False
        elif kind in HOST_EVENT_KINDS:
            self.host_events.append({**data, "source": source})
        elif kind == "job_state":  # the worker moved a job (rdaplab.jobs.events)
            self.host_events.append({**data, "source": source})
            self.job_transitions[str(data.get("state"))] += 1
        elif kind == "batch_finished":
            live = self.running.pop(batch_id, None)
            src = live.source if live is not None else source
            for outcome in OUTCOMES:
                self._rows[(src, outcome)] += int(data.get(outcome) or 0)
            self._cache_hits[src] += int(data.get("cache_hits") or 0)
            ending = (
                "cancelled" if data.get("cancelled") else "failed" if data.get("error") else "done"
            )
            self.batches_finished[(src, ending)] += 1
            if live is not None:
                live.finished = True
                for alert in live.alerts.values():
                    alert["active"] = False

    # -- reading ----------------------------------------------------------------------------
    def rows(self) -> dict[tuple[str, str], int]:
        """Rows finished since the service started: (source, outcome) -> rows, where
        outcome is ``ok``, ``not_found`` or ``errors`` (ended batches plus the newest
        progress of the running ones)."""
        out = Counter(self._rows)
        for live in self.running.values():
            for outcome in OUTCOMES:
                out[(live.source, outcome)] += int(live.progress.get(outcome) or 0)
        return dict(out)

    def cache_hits(self) -> dict[str, int]:
        """Rows answered from the cache since the service started, per source."""
        out = Counter(self._cache_hits)
        for live in self.running.values():
            out[live.source] += int(live.progress.get("cache_hits") or 0)
        return dict(out)

    def hosts(self) -> dict[str, dict[str, float]]:
        """Per registry host, summed over the running batches: ``queued``, ``in_flight``,
        ``rate_per_s`` (the pace now), ``requests``, ``throttled``, ``done``, ``errors``."""
        out: dict[str, dict[str, float]] = {}
        for live in self.running.values():
            for host, figures in (live.progress.get("hosts") or {}).items():
                acc = out.setdefault(host, {})
                for key, value in figures.items():
                    if isinstance(value, int | float):
                        acc[key] = acc.get(key, 0.0) + float(value)
        return out

    def active_alerts(self) -> list[dict[str, Any]]:
        return [a for live in self.running.values() for a in live.alerts.values()]

    def batch_of_job(self, job_id: str) -> LiveBatch | None:
        for live in self.running.values():
            if live.job_id == job_id:
                return live
        return None
