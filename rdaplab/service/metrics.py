"""``GET /metrics``: the Prometheus text exposition format, version 0.0.4.

Written by hand (``prometheus_client`` is not a dependency): every family has its
``# HELP`` and ``# TYPE`` lines before its samples, names start with ``rdaplab_``,
counters end in ``_total``, label values are escaped (backslash, double quote, newline),
histogram buckets are cumulative and end with ``le="+Inf"`` equal to ``_count``.

Where the figures come from:

- the cache's ``attempts`` log since the service started (every request any batch of this
  process sent: batch-lookups and jobs): requests, throttles, HTTP statuses, failed
  attempts by error kind, the latency histogram, the pacer rate and concurrency limit in
  force at each host's last attempt;
- the running batches' events (:class:`~rdaplab.service.monitor.Monitor`): rows by
  outcome, cache hits, per host in flight / queued / pace now, alerts;
- the job ledger: each job's state and progress.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from rdaplab.jobs import STATES, list_jobs
from rdaplab.service.state import ServiceState
from rdaplab.store.monitoring import LATENCY_BUCKETS_S

__all__ = ["CONTENT_TYPE", "Exposition", "collect", "escape_label"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_NAME = re.compile(r"^rdaplab_[a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

Labels = Mapping[str, Any]


def escape_label(value: Any) -> str:
    """A label value as the text format writes it between double quotes."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _value(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    for name in labels:
        if not _LABEL.match(name) or name.startswith("__"):
            raise ValueError(f"bad label name {name!r}")
    inner = ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items())
    return "{" + inner + "}"


class Exposition:
    """Families of samples written in the text format (see the module)."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._names: set[str] = set()

    def _head(self, name: str, kind: str, help_text: str) -> None:
        if not _NAME.match(name):
            raise ValueError(f"metric names start with rdaplab_: {name!r}")
        if name in self._names:
            raise ValueError(f"metric family {name} written twice")
        if kind == "counter" and not name.endswith("_total"):
            raise ValueError(f"a counter's name ends in _total: {name!r}")
        self._names.add(name)
        self._lines.append(f"# HELP {name} {_escape_help(help_text)}")
        self._lines.append(f"# TYPE {name} {kind}")

    def family(
        self,
        name: str,
        kind: str,
        help_text: str,
        samples: Iterable[tuple[Labels, float]],
    ) -> None:
        """A counter or gauge family: ``samples`` are (labels, value)."""
        assert kind in ("counter", "gauge"), kind
        self._head(name, kind, help_text)
        for labels, value in samples:
            self._lines.append(f"{name}{_labels(labels)} {_value(value)}")

    def histogram(
        self,
        name: str,
        help_text: str,
        series: Iterable[tuple[Labels, Iterable[tuple[float, int]], float, int]],
    ) -> None:
        """A histogram: per series (labels, cumulative (upper bound, count) pairs, sum,
        count); the ``+Inf`` bucket is added (equal to the count)."""
        self._head(name, "histogram", help_text)
        for labels, buckets, total, count in series:
            for bound, n in buckets:
                le = {**labels, "le": _value(float(bound))}
                self._lines.append(f"{name}_bucket{_labels(le)} {_value(n)}")
            inf = {**labels, "le": "+Inf"}
            self._lines.append(f"{name}_bucket{_labels(inf)} {_value(count)}")
            self._lines.append(f"{name}_sum{_labels(labels)} {_value(total)}")
            self._lines.append(f"{name}_count{_labels(labels)} {_value(count)}")

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"


async def collect(state: ServiceState) -> str:
    """The metrics page now."""
    store = state.cache
    since = state.started_at
    hosts, errors = await asyncio.to_thread(
        lambda: (store.host_figures(since), store.error_counts(since))
    )
    jobs = await asyncio.to_thread(list_jobs, state.cache_path)
    monitor = state.monitor
    live_hosts = monitor.hosts()
    out = Exposition()
    out.family(
        "rdaplab_service_start_time_seconds",
        "gauge",
        "When the service started, in seconds since the epoch.",
        [({}, state.started_epoch)],
    )
    # -- requests (the attempts log since the service started) ------------------------------
    out.family(
        "rdaplab_requests_total",
        "counter",
        "HTTP requests sent to each registry host since the service started.",
        [({"host": h.host}, h.requests) for h in hosts],
    )
    out.family(
        "rdaplab_throttled_total",
        "counter",
        "Requests answered with a throttle (429, 503 + Retry-After, a quota ...) per host.",
        [({"host": h.host}, h.throttled) for h in hosts],
    )
    out.family(
        "rdaplab_responses_total",
        "counter",
        'Requests per host by HTTP status code ("none": no HTTP answer).',
        [({"host": h.host, "code": code}, n) for h in hosts for code, n in h.statuses.items()],
    )
    out.family(
        "rdaplab_request_errors_total",
        "counter",
        "Failed requests per host by error kind (timeout, connection_error, http_error, ...).",
        [({"host": host, "error_kind": kind}, n) for host, kind, n in errors],
    )
    out.histogram(
        "rdaplab_request_latency_seconds",
        "Request latency per registry host, in seconds.",
        [
            (
                {"host": h.host},
                zip(LATENCY_BUCKETS_S, h.buckets, strict=True),
                h.latency_sum_s,
                h.requests,
            )
            for h in hosts
        ],
    )
    out.family(
        "rdaplab_host_learned_rate_per_second",
        "gauge",
        "The pacer rate the scheduler had learned for each host at its last request.",
        [({"host": h.host}, h.rate_limit) for h in hosts if h.rate_limit is not None],
    )
    out.family(
        "rdaplab_host_concurrency_limit",
        "gauge",
        "The concurrency limit in force for each host at its last request.",
        [({"host": h.host}, h.concurrency_limit) for h in hosts if h.concurrency_limit is not None],
    )
    # -- the running batches (their events) -------------------------------------------------
    for key, name, help_text in (
        ("in_flight", "rdaplab_host_in_flight", "Requests in flight per host now."),
        ("queued", "rdaplab_host_queued", "Lookups queued per host now."),
        (
            "rate_per_s",
            "rdaplab_host_rate_per_second",
            "The pace each host's scheduler allows now, in requests per second.",
        ),
    ):
        out.family(
            name,
            "gauge",
            help_text,
            [
                ({"host": host}, figures.get(key, 0.0))
                for host, figures in sorted(live_hosts.items())
            ],
        )
    rows = monitor.rows()
    out.family(
        "rdaplab_rows_total",
        "counter",
        "Input rows finished by outcome (ok, not_found, error), per source "
        "(batch_lookup or job), since the service started.",
        [
            ({"source": source, "outcome": "error" if outcome == "errors" else outcome}, n)
            for (source, outcome), n in sorted(rows.items())
        ],
    )
    out.family(
        "rdaplab_cache_hits_total",
        "counter",
        "Input rows answered from the cache, per source.",
        [({"source": source}, n) for source, n in sorted(monitor.cache_hits().items())],
    )
    out.family(
        "rdaplab_lookup_row_errors_total",
        "counter",
        "Rows served by POST /batch-lookup that ended as errors, by error kind.",
        [
            ({"error_kind": kind}, n)
            for (outcome, kind), n in sorted(state.lookup_rows.items())
            if outcome == "error"
        ],
    )
    out.family(
        "rdaplab_batches_total",
        "counter",
        "Batches that ended, per source and ending (done, cancelled, failed).",
        [
            ({"source": source, "ending": ending}, n)
            for (source, ending), n in sorted(monitor.batches_finished.items())
        ],
    )
    out.family(
        "rdaplab_batch_lookups_in_progress",
        "gauge",
        "POST /batch-lookup requests running or waiting for their turn.",
        [({}, len(state.lookups))],
    )
    out.family(
        "rdaplab_alerts_total",
        "counter",
        "Alerts raised (throttled share, error share, p99 latency, cache hit share).",
        [({"alert": name}, n) for name, n in sorted(monitor.alert_counts.items())],
    )
    active: dict[str, int] = {}
    for alert in monitor.active_alerts():
        active[str(alert.get("name"))] = active.get(str(alert.get("name")), 0) + 1
    out.family(
        "rdaplab_alerts_active",
        "gauge",
        "Running batches with this alert active now.",
        [({"alert": name}, n) for name, n in sorted(active.items())],
    )
    # -- jobs (the ledger) -----------------------------------------------------------------
    by_state = dict.fromkeys(STATES, 0)
    for job in jobs:
        by_state[job.state] = by_state.get(job.state, 0) + 1
    out.family(
        "rdaplab_jobs",
        "gauge",
        "Jobs of the cache's ledger by state.",
        [({"state": s}, n) for s, n in by_state.items()],
    )
    out.family(
        "rdaplab_job_transitions_total",
        "counter",
        "Times the service's worker moved a job to each state since the service started.",
        [({"state": s}, n) for s, n in sorted(monitor.job_transitions.items())],
    )
    out.family(
        "rdaplab_job_info",
        "gauge",
        "One series per job: its name and priority class (value 1).",
        [({"job": j.id, "name": j.name or "", "priority": j.priority}, 1) for j in jobs],
    )
    out.family(
        "rdaplab_job_state",
        "gauge",
        "1 for the state each job is in, 0 for the others.",
        [({"job": j.id, "state": s}, int(j.state == s)) for j in jobs for s in STATES],
    )
    out.family(
        "rdaplab_job_done_rows",
        "gauge",
        "Input rows each job has finished.",
        [({"job": j.id}, j.done) for j in jobs],
    )
    out.family(
        "rdaplab_job_total_rows",
        "gauge",
        "Input rows of each job.",
        [({"job": j.id}, j.total) for j in jobs if j.total is not None],
    )
    out.family(
        "rdaplab_job_rate_per_second",
        "gauge",
        "Rows per second of each running job's current run.",
        [({"job": j.id}, j.rate_per_s) for j in jobs if j.rate_per_s is not None],
    )
    out.family(
        "rdaplab_job_eta_seconds",
        "gauge",
        "Seconds each running job has left at its current rate.",
        [({"job": j.id}, j.eta_s) for j in jobs if j.eta_s is not None],
    )
    out.family(
        "rdaplab_job_requests_total",
        "counter",
        "HTTP requests sent for each job.",
        [({"job": j.id}, j.requests) for j in jobs],
    )
    out.family(
        "rdaplab_job_throttled_total",
        "counter",
        "Throttled requests of each job.",
        [({"job": j.id}, j.throttled) for j in jobs],
    )
    return out.text()
