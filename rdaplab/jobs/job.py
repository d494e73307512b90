"""Jobs: a study submitted once, run by a worker for as long as it takes.

:func:`submit` records a job in the cache's job ledger (:mod:`rdaplab.jobs.ledger`) and
copies its input beside it; a :class:`~rdaplab.jobs.Worker` (``rdaplab worker``, or the
web service) runs it. Any process can follow and steer it through its :class:`Job`
handle: ``status()``, ``pause()``, ``resume()``, ``cancel()``, ``result()``.

>>> import rdaplab
>>> job = rdaplab.jobs.submit("names.csv", cache="study.duckdb", window="22:00-06:00")  # doctest: +SKIP
>>> job.status().state  # doctest: +SKIP
'queued'
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rdaplab.batch import LookupOptions, LookupResult
from rdaplab.batch.inputs import read_named_values
from rdaplab.batch.result import make_result
from rdaplab.batch.summary import SummaryBuilder
from rdaplab.engine.windows import Window, parse_deadline, parse_duration_s
from rdaplab.errors import InputError
from rdaplab.jobs.ledger import FINAL_STATES, Ledger
from rdaplab.jobs.parts import JobFiles
from rdaplab.store.connection import default_cache_path

__all__ = ["PRIORITIES", "Job", "JobStatus", "list_jobs", "submit", "warm_up"]

REGISTRY_WINDOW = "registry"

# What SummaryBuilder.add_queries reads of a queries frame.
SUMMARY_COLUMNS = ("query_kind", "outcome", "error_kind", "registry_url", "from_cache", "key")

# Higher runs first; ``idle`` (warm-up) runs only when nothing else is queued.
PRIORITIES = {"critical": 40, "high": 30, "normal": 20, "low": 10, "idle": 0}

# The batch options a job keeps (JSON in the ledger): the worker process rebuilds the
# LookupOptions from them. Limits, bootstrap and timeouts are the worker's settings.
JOB_OPTIONS = (
    "kind",
    "column",
    "registered_domain",
    "psl_private",
    "max_age",
    "not_found_max_age",
    "refresh",
    "redact_pii",
    "fields",
    "privacy",
    "retention",
    "purpose",
    "legal_basis",
    "learned_limits",
    "user_agent",
    "quiet_hours_only",
)


def _cache_path(cache: str | Path | None) -> Path:
    return default_cache_path() if cache is None else Path(cache).expanduser()


def _priority(value: str | int) -> tuple[int, str]:
    if isinstance(value, int):
        name = next((k for k, v in PRIORITIES.items() if v == value), str(value))
        return value, name
    try:
        return PRIORITIES[value], value
    except KeyError:
        raise InputError(
            f"priority must be one of {', '.join(PRIORITIES)} or an integer; got {value!r}"
        ) from None


@dataclass(frozen=True)
class JobStatus:
    """A job as its ledger has it now.

    Attributes
    ----------
    id, name, state
        ``state`` is one of ``queued``, ``running``, ``paused``, ``done``, ``failed``,
        ``cancelled``.
    done, total, percent
        Input rows finished, input rows, and their ratio in percent.
    rate_per_s, eta_s
        Rows finished per second in the current run, and the seconds left at that rate
        (None when not running or unknown).
    requests, throttled, throttled_share
        HTTP requests sent for this job, how many were throttled, and their ratio.
    ok, not_found, errors, cache_hits
        Rows by outcome, and rows answered from the cache.
    registries
        Per registry host: ``done``, ``errors``, ``requests``, ``throttled``,
        ``rate_per_s`` (the current run's figures).
    priority, window, deadline_at
        The job's scheduling: its priority class, its daily window (``22:00-06:00``) and
        its deadline (epoch seconds).
    paused_by
        ``user`` or ``window`` for a paused job.
    message
        What happened last (``deadline reached``, ``preempted by ...``, an error).
    created_at, started_at, finished_at, updated_at
        Epoch seconds.
    segments, batch_ids
        The job's runs so far (each a batch in the cache).
    alerts
        The monitoring alerts active in the running batch (docs/events.md), e.g.
        ``throttled_share``.
    """

    id: str
    name: str | None
    state: str
    done: int
    total: int | None
    percent: float | None
    rate_per_s: float | None
    eta_s: float | None
    requests: int
    throttled: int
    throttled_share: float
    ok: int
    not_found: int
    errors: int
    cache_hits: int
    registries: dict[str, dict[str, float]] = field(default_factory=dict)
    priority: str = "normal"
    window: str | None = None
    deadline_at: float | None = None
    paused_by: str | None = None
    message: str | None = None
    created_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    updated_at: float | None = None
    worker: str | None = None
    segments: int = 0
    batch_ids: tuple[str, ...] = ()
    alerts: tuple[str, ...] = ()

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> JobStatus:
        total = row["total"]
        done = row["done"] or 0
        requests = row["requests"] or 0
        running = row["state"] == "running"
        return cls(
            id=row["id"],
            name=row["name"],
            state=row["state"],
            done=done,
            total=total,
            percent=round(100.0 * done / total, 2) if total else (100.0 if total == 0 else None),
            rate_per_s=row["rate_per_s"] if running else None,
            eta_s=row["eta_s"] if running else None,
            requests=requests,
            throttled=row["throttled"] or 0,
            throttled_share=(row["throttled"] or 0) / requests if requests else 0.0,
            ok=row["ok"],
            not_found=row["not_found"],
            errors=row["errors"],
            cache_hits=row["cache_hits"],
            registries=row["hosts"] or {},
            priority=row["priority_name"],
            window=row["time_window"],
            deadline_at=row["deadline_at"],
            paused_by=row["paused_by"],
            message=row["message"],
            created_at=row["created_at"],
            started_at=row["first_started_at"],
            finished_at=row["finished_at"],
            updated_at=row["updated_at"],
            worker=row["worker"],
            segments=row["segments"],
            batch_ids=tuple(row["batch_ids"] or ()),
            alerts=tuple(row.get("alerts") or ()) if running else (),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the web service's ``GET /jobs/ID``)."""
        out = asdict(self)
        out["batch_ids"] = list(self.batch_ids)
        out["alerts"] = list(self.alerts)
        return out

    def line(self) -> str:
        """One line for a terminal."""
        total = "?" if self.total is None else f"{self.total:,}"
        pct = "" if self.percent is None else f" {self.percent:5.1f}%"
        eta = f", ETA {self.eta_s:,.0f}s" if self.eta_s is not None else ""
        rate = f", {self.rate_per_s:,.1f}/s" if self.rate_per_s else ""
        thr = f", throttled {100 * self.throttled_share:.1f}%" if self.requests else ""
        msg = f" ({self.message})" if self.message else ""
        label = f" {self.name}" if self.name else ""
        return (
            f"{self.id[:12]}{label} [{self.state}] {self.done:,}/{total}{pct}{rate}{eta}{thr}{msg}"
        )


class Job:
    """A handle on one job (any process may hold one; the ledger is the truth)."""

    def __init__(self, job_id: str, cache: str | Path | None = None) -> None:
        self.cache = _cache_path(cache)
        self._ledger = Ledger(self.cache, create=False)
        self.id = self._ledger.get(job_id)["id"]  # a unique prefix resolves to the id
        self.files = JobFiles(self._ledger.dir / self.id)

    def status(self) -> JobStatus:
        """The job's state and progress now."""
        return JobStatus.from_row(self._ledger.get(self.id))

    def log(self) -> list[dict[str, Any]]:
        """The job's state changes: ``at`` (epoch seconds), ``state``, ``message``."""
        return self._ledger.log(self.id)

    def pause(self) -> str:
        """Pause the job (a running one stops within a worker's poll interval; what it
        fetched is kept). Returns the state it is in now."""
        return self._ledger.request(self.id, "pause")

    def resume(self) -> str:
        """Queue a paused job again."""
        return self._ledger.request(self.id, "resume")

    def cancel(self) -> str:
        """Cancel the job; the rows it finished stay readable with :meth:`result`."""
        return self._ledger.request(self.id, "cancel")

    def wait(self, timeout: float | None = None, *, poll_s: float = 0.25) -> JobStatus:
        """Wait until the job is done, failed or cancelled (``TimeoutError`` after
        ``timeout`` seconds)."""
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            status = self.status()
            if status.state in FINAL_STATES:
                return status
            if end is not None and time.monotonic() >= end:
                raise TimeoutError(f"job {self.id} is still {status.state} after {timeout} s")
            time.sleep(poll_s)

    def result(self) -> LookupResult:
        """The rows finished so far, as a :class:`~rdaplab.LookupResult` (the whole result
        once the job is done): per-row frames in input order, the job's attempts, and a
        summary of the job with each of its runs' summaries under ``segments``."""
        status = self.status()
        frames = self.files.frames()
        attempts = self.files.attempts()
        segments = self.files.summaries()
        batch_id = status.batch_ids[-1] if status.batch_ids else ""
        # The keys of a lookup's summary (per registry and per host included), over the
        # rows finished so far and every attempt of the job's runs.
        counts = SummaryBuilder()
        q = frames.queries
        if set(SUMMARY_COLUMNS) <= set(q.columns):  # (fields= may have dropped some)
            counts.add_queries(q)
        summary: dict[str, Any] = counts.build(
            batch_id=batch_id,
            elapsed_s=sum(float(s.get("elapsed_s") or 0.0) for s in segments),
            cache=None,
            attempts_of=None,
            attempts=attempts,
        )
        summary.update(
            job=status.to_dict(),
            complete=status.state == "done" and status.done == status.total,
            segments=segments,
        )
        return make_result(frames, attempts, summary, batch_id, str(self.cache))

    def __repr__(self) -> str:
        return f"<rdaplab.jobs.Job {self.status().line()}>"


def _options(kind: str, options: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(options) - set(JOB_OPTIONS))
    if unknown:
        raise InputError(
            f"a job cannot keep option(s) {', '.join(unknown)}: jobs keep "
            f"{', '.join(JOB_OPTIONS)} (limits, bootstrap and timeouts are the worker's)"
        )
    opts = {"kind": kind, **options}
    for key in ("max_age", "not_found_max_age", "retention"):
        if isinstance(opts.get(key), timedelta | str):
            opts[key] = parse_duration_s(opts[key])
    if opts.get("fields") is not None:
        opts["fields"] = list(opts["fields"])
    LookupOptions(**opts)  # every bad value fails now, not in the worker
    return opts


def _record(
    cache: str | Path | None,
    *,
    values: list[Any] | None,
    column: str | None,
    source: str,
    input_source: str | None,
    options: dict[str, Any],
    priority: str | int,
    window: str | Window | None,
    deadline: str | float | datetime | timedelta | None,
    name: str | None,
) -> Job:
    path = _cache_path(cache)
    rank, rank_name = _priority(priority)
    if window == REGISTRY_WINDOW:  # each host inside its own quiet hours, not one window
        options = {**options, "quiet_hours_only": True}
        window = None
    win = window if isinstance(window, Window) or window is None else Window.parse(window)
    now = time.time()
    deadline_at = None if deadline is None else parse_deadline(deadline, now=now)
    ledger = Ledger(path)
    job_id = uuid.uuid4().hex
    files = JobFiles(ledger.dir / job_id)
    total = files.create(values) if values is not None else None
    if values is None:
        files.parts.mkdir(parents=True, exist_ok=True)
        files.segments.mkdir(parents=True, exist_ok=True)
    ledger.insert(
        {
            "id": job_id,
            "name": name,
            "state": "queued",
            "priority": rank,
            "priority_name": rank_name,
            "options": options,
            "input_column": column,
            "input_source": input_source,
            "source": source,
            "time_window": None if win is None else str(win),
            "deadline_at": deadline_at,
            "created_at": now,
            "updated_at": now,
            "total": total,
        }
    )
    return Job(job_id, path)


def submit(
    input: Any,
    *,
    cache: str | Path | None = None,
    kind: str = "auto",
    priority: str | int = "normal",
    window: str | Window | None = None,
    deadline: str | float | datetime | timedelta | None = None,
    name: str | None = None,
    refresh_older_than: str | float | timedelta | None = None,
    **options: Any,
) -> Job:
    """Submit a lookup job: a worker runs it (``rdaplab worker --cache PATH``).

    Parameters
    ----------
    input
        What :func:`rdaplab.lookup` takes: a Polars/pandas column or frame, a list, or a
        CSV/Parquet/text file. It is copied beside the ledger at once.
    cache
        The cache file the job's answers go to (its ledger is ``<cache>.jobs/``);
        ``None``: the default cache.
    kind
        As :func:`rdaplab.lookup`'s ``kind``.
    priority
        ``critical``, ``high``, ``normal``, ``low`` or ``idle`` (or an integer, higher
        first). A worker runs the highest-priority job it may run, and stops a lower one
        for it (the lower one is queued again and carries on afterwards).
    window
        ``"22:00-06:00"`` (local time, or ``"22:00-06:00 Europe/Paris"``): the job runs
        only inside this daily span, pauses at its end and resumes at the next.
        ``"registry"``: each registry host is asked only inside the quiet hours its
        profile names (``Profile.quiet_hours``; hosts without any are asked at any
        time), the job itself running whenever a worker is free.
    deadline
        A date-time (ISO text or ``datetime``) or a duration from now (``"12h"``): the job
        stops at it with what it has (state ``done``, message ``deadline reached``).
    name
        A label for listings.
    refresh_older_than
        Fetch again only the answers older than this (``"30d"``); fresher ones are read
        from the cache. (Same as ``max_age``.)
    **options
        Other :class:`~rdaplab.LookupOptions` fields a job keeps: ``column``,
        ``registered_domain``, ``max_age``, ``not_found_max_age``, ``refresh``,
        ``redact_pii``, ``fields``, ``privacy``, ``retention``, ``purpose``,
        ``legal_basis``, ``learned_limits``, ``user_agent``, ``psl_private``.

    Returns
    -------
    Job
    """
    if refresh_older_than is not None:
        options["max_age"] = parse_duration_s(refresh_older_than)
    opts = _options(kind, options)
    values, column = read_named_values(input, column=options.get("column"))
    source = str(Path(input).resolve()) if isinstance(input, str | Path) else None
    return _record(
        cache,
        values=values,
        column=column,
        source="values",
        input_source=source,
        options={k: v for k, v in opts.items() if k != "column"},
        priority=priority,
        window=window,
        deadline=deadline,
        name=name,
    )


def warm_up(
    cache: str | Path | None = None,
    *,
    older_than: str | float | timedelta = "30d",
    kind: str = "domain",
    priority: str | int = "idle",
    window: str | Window | None = None,
    deadline: str | float | datetime | timedelta | None = None,
    name: str | None = None,
    **options: Any,
) -> Job:
    """Submit a job that fetches again every ``kind`` query of the cache whose newest
    answer is older than ``older_than``, the stalest first; the old answers stay until
    new ones replace them. At the default ``idle`` priority it runs only while no other
    job may, and yields to any other job within a worker's poll interval.

    The stale queries are read by the worker when the job first starts (the cache may be
    held by a worker when this is called).
    """
    age_s = parse_duration_s(older_than)
    opts = _options(kind, {**options, "max_age": age_s, "registered_domain": False})
    return _record(
        cache,
        values=None,
        column=None,
        source="stale",
        input_source=f"queries of kind {kind} older than {age_s:.0f} s",
        options=opts,
        priority=priority,
        window=window,
        deadline=deadline,
        name=name or f"warm-up ({kind}, older than {older_than})",
    )


def list_jobs(cache: str | Path | None = None) -> list[JobStatus]:
    """Every job of a cache, oldest first (none when no job was ever submitted)."""
    try:
        ledger = Ledger(_cache_path(cache), create=False)
    except InputError:
        return []
    return [JobStatus.from_row(row) for row in ledger.all()]
