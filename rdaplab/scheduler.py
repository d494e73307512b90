"""Dispatching fetches to registry hosts: per-host queues, retries, referrals.

Each registry host (``host:port``) gets a :class:`~rdaplab.limiter.HostLimiter`, a queue of
jobs and at most ``max_concurrency`` worker tasks, spawned on demand and ended when the
queue is empty, so the number of tasks is bounded by hosts x per-host concurrency, never by
the input size. A global semaphore caps requests in flight over all hosts; waiting for one
host (a park after ``429``, a slow pacer, a dead host) never holds a slot another host
could use.

One *lookup* (one distinct query) is a chain of jobs: the registry answer at depth 0 and,
when it carries an RDAP ``related`` link (the thin-registry case), the registrar answer at
depth 1 and so on up to ``max_referral_depth``. A referral job runs on the registrar's own
host queue, so a slow registrar delays only its own work.

Retry policy, per URL:

- ``429`` (and ``503`` with ``Retry-After``): the host is parked for ``Retry-After`` (both
  forms; capped; a default when absent) and the request tried again, up to
  ``Retry.max_throttled`` times, then the row ends as ``rate_limited``.
- other ``5xx``, timeouts, connection errors and unparseable bodies: exponential backoff
  with full jitter, up to ``Retry.max_attempts`` attempts in all.
- a host with ``Retry.dead_host_after`` consecutive connection failures is marked down for
  the rest of the batch: its queued and future jobs fail at once as ``connection_error``.
- other ``4xx``: ``http_error`` at once (content-aware throttle detection is the adaptive
  scheduler's job).

No exception escapes for one row: every job ends in a finished lookup.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from rdaplab.client import HttpResult, RdapClient, authority, check_url_policy
from rdaplab.errors import FetchError
from rdaplab.limiter import HostLimiter
from rdaplab.models import Attempt, NameResult, Response
from rdaplab.normalize import ParseError, decode_json, error_detail, related_links

log = logging.getLogger("rdaplab")


@dataclass(frozen=True, slots=True)
class Limits:
    """Politeness limits. Per-host values are starting points the scheduler may tune.

    Parameters
    ----------
    max_concurrency
        Requests in flight at once over all hosts.
    per_host_concurrency
        Requests in flight at once to one host.
    per_host_rate_per_s
        Sustained requests per second to one host (``None``: unpaced).
    per_host_burst
        Requests that may go back to back before pacing applies.
    hosts
        Per-host overrides: ``{"rdap.example.net": {"rate_per_s": 1, "concurrency": 2}}``;
        keys are host names or ``host:port``.
    """

    max_concurrency: int = 64
    per_host_concurrency: int = 4
    per_host_rate_per_s: float | None = 5.0
    per_host_burst: int = 2
    hosts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def limiter_for(self, host: str) -> HostLimiter:
        conf = dict(self.hosts.get(host) or self.hosts.get(host.rsplit(":", 1)[0]) or {})
        return HostLimiter(
            host,
            rate_per_s=conf.get("rate_per_s", self.per_host_rate_per_s),
            burst=int(conf.get("burst", self.per_host_burst)),
            max_concurrency=int(conf.get("concurrency", self.per_host_concurrency)),
        )


@dataclass(frozen=True, slots=True)
class Retry:
    """Retry settings (units in the names)."""

    max_attempts: int = 4
    max_throttled: int = 8
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    retry_after_default_s: float = 5.0
    retry_after_max_s: float = 300.0
    dead_host_after: int = 5
    max_referral_depth: int = 2

    def backoff_s(self, failures: int, rng: random.Random) -> float:
        """Full-jitter exponential backoff before retry number ``failures``."""
        cap = min(self.backoff_max_s, self.backoff_initial_s * (2 ** (failures - 1)))
        return rng.uniform(0.0, cap)


@dataclass(slots=True)
class _Lookup:
    kind: str
    key: str
    lookup_id: str
    result: NameResult
    visited: set[str] = field(default_factory=set)
    finished: bool = False


@dataclass(slots=True)
class _Job:
    lookup: _Lookup
    url: str
    depth: int


@dataclass(slots=True)
class _Host:
    authority: str
    limiter: HostLimiter
    jobs: deque[_Job] = field(default_factory=deque)
    workers: int = 0
    down_reason: str | None = None
    consecutive_conn_failures: int = 0
    requests: int = 0
    throttled: int = 0


class Scheduler:
    """Runs lookups against registry hosts politely; see the module docstring."""

    def __init__(
        self,
        client: RdapClient,
        *,
        batch_id: str,
        limits: Limits | None = None,
        retry: Retry | None = None,
        on_attempt: Callable[[Attempt], None] | None = None,
        on_done: Callable[[NameResult], None] | None = None,
        seed: int | None = None,
    ) -> None:
        self.client = client
        self.batch_id = batch_id
        self.limits = limits or Limits()
        self.retry = retry or Retry()
        self._on_attempt = on_attempt or (lambda a: None)
        self._on_done = on_done or (lambda r: None)
        self._rng = random.Random(seed)
        self._global = asyncio.Semaphore(self.limits.max_concurrency)
        self._hosts: dict[str, _Host] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()

    # -- public ------------------------------------------------------------------------
    @property
    def hosts(self) -> Mapping[str, _Host]:
        return self._hosts

    @property
    def pending(self) -> int:
        return self._pending

    def submit(self, result: NameResult, url: str) -> None:
        """Start a lookup whose registry answer is at ``url``; ``result`` is filled in."""
        lookup = _Lookup(result.query_kind, result.key, uuid.uuid4().hex, result)
        lookup.visited.add(url.lower())
        self._pending += 1
        self._idle.clear()
        self._enqueue(_Job(lookup, url, 0))

    async def join(self) -> None:
        """Wait until every submitted lookup has finished."""
        await self._idle.wait()

    async def aclose(self) -> None:
        """Cancel all workers (used on interrupt); finished lookups are already reported."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- queues and workers --------------------------------------------------------------
    def _host(self, url: str) -> _Host:
        key = authority(url)
        host = self._hosts.get(key)
        if host is None:
            host = self._hosts[key] = _Host(key, self.limits.limiter_for(key))
        return host

    def _enqueue(self, job: _Job) -> None:
        host = self._host(job.url)
        if host.down_reason is not None:
            self._job_failed(job, FetchError("connection_error", host.down_reason))
            return
        host.jobs.append(job)
        if host.workers < host.limiter.max_concurrency and host.workers < len(host.jobs):
            host.workers += 1
            task = asyncio.create_task(self._worker(host), name=f"rdaplab:{host.authority}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _worker(self, host: _Host) -> None:
        try:
            while host.jobs:
                job = host.jobs.popleft()
                try:
                    await self._run_job(host, job)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a bug must cost one row, not the batch
                    log.exception("rdaplab: unexpected error for %s", job.url)
                    self._job_failed(job, FetchError("http_error", f"unexpected: {exc!r}"))
        finally:
            host.workers -= 1

    # -- one job -----------------------------------------------------------------------------
    async def _run_job(self, host: _Host, job: _Job) -> None:
        failures = 0
        throttled = 0
        while True:
            if host.down_reason is not None:
                self._job_failed(job, FetchError("connection_error", host.down_reason))
                return
            res: HttpResult | None = None
            err: FetchError | None = None
            async with host.limiter.slot(), self._global:
                stats = host.limiter.statistics()
                started = datetime.now(timezone.utc)
                try:
                    res = await self.client.get(job.url)
                except FetchError as exc:
                    err = exc
            host.requests += 1
            job.lookup.result.attempts += 1
            attempt_no = failures + throttled + 1

            if err is not None:
                self._record(job, host, started, None, err, attempt_no, stats)
                if err.kind == "connection_error":
                    host.consecutive_conn_failures += 1
                    if host.consecutive_conn_failures >= self.retry.dead_host_after:
                        self._mark_down(host, err)
                failures += 1
                if failures >= self.retry.max_attempts or err.kind == "http_error":
                    self._job_failed(job, err)
                    return
                await asyncio.sleep(self.retry.backoff_s(failures, self._rng))
                continue

            assert res is not None
            host.consecutive_conn_failures = 0
            status = res.status
            if status == 429 or (status == 503 and "retry-after" in res.headers):
                throttled += 1
                host.throttled += 1
                wait = res.retry_after_s
                wait = self.retry.retry_after_default_s if wait is None else wait
                wait = min(wait, self.retry.retry_after_max_s)
                host.limiter.park(wait)
                self._record(job, host, started, res, None, attempt_no, stats, throttled=True)
                if throttled > self.retry.max_throttled:
                    self._job_failed(
                        job,
                        FetchError(
                            "rate_limited",
                            f"HTTP {status} from {host.authority} {throttled} times",
                            status=status,
                            retry_after_s=wait,
                        ),
                    )
                    return
                continue
            if 200 <= status < 300:
                try:
                    doc = decode_json(res.body)
                except ParseError as exc:
                    perr = FetchError("parse_error", f"HTTP {status} body: {exc}", status=status)
                    self._record(job, host, started, res, perr, attempt_no, stats)
                    failures += 1
                    if failures >= self.retry.max_attempts:
                        self._job_failed(job, perr)
                        return
                    await asyncio.sleep(self.retry.backoff_s(failures, self._rng))
                    continue
                self._record(job, host, started, res, None, attempt_no, stats)
                self._job_answered(job, res, doc)
                return
            if status == 404:
                self._record(job, host, started, res, None, attempt_no, stats)
                self._job_not_found(job, res)
                return
            if status >= 500:
                herr = FetchError("http_error", _status_detail(res), status=status)
                self._record(job, host, started, res, herr, attempt_no, stats)
                failures += 1
                if failures >= self.retry.max_attempts:
                    self._job_failed(job, herr)
                    return
                await asyncio.sleep(self.retry.backoff_s(failures, self._rng))
                continue
            herr = FetchError("http_error", _status_detail(res), status=status)
            self._record(job, host, started, res, herr, attempt_no, stats)
            self._job_failed(job, herr)
            return

    # -- outcomes ------------------------------------------------------------------------------
    def _response(self, job: _Job, res: HttpResult, doc: Any = None) -> Response:
        return Response(
            query_kind=job.lookup.kind,
            query=job.lookup.key,
            depth=job.depth,
            url=res.url,
            final_url=res.final_url,
            status=res.status,
            headers=res.headers,
            body=res.body,
            fetched_at=res.started_at,
            latency_ms=res.latency_ms,
            batch_id=self.batch_id,
            lookup_id=job.lookup.lookup_id,
            document=doc,
        )

    def _job_answered(self, job: _Job, res: HttpResult, doc: Any) -> None:
        lookup = job.lookup
        result = lookup.result
        result.responses.append(self._response(job, res, doc))
        result.latency_ms = (result.latency_ms or 0.0) + res.latency_ms
        if job.depth == 0:
            result.outcome = "ok"
            result.http_status = res.status
            result.fetched_at = res.started_at
        else:
            result.referral_status = "followed"
            result.registrar_url = job.url
        if job.depth < self.retry.max_referral_depth and isinstance(doc, dict):
            for href in related_links(doc):
                if href.lower() in lookup.visited:
                    continue  # loop: a registrar pointing back at itself or the registry
                lookup.visited.add(href.lower())
                try:
                    check_url_policy(href)
                except FetchError as exc:
                    self._referral_failed(result, f"referral refused: {exc.detail}")
                    break
                self._enqueue(_Job(lookup, href, job.depth + 1))
                return
        self._finish(lookup)

    def _job_not_found(self, job: _Job, res: HttpResult) -> None:
        lookup = job.lookup
        result = lookup.result
        if job.depth == 0:
            result.responses.append(self._response(job, res))
            result.outcome = "not_found"
            result.http_status = 404
            result.fetched_at = res.started_at
            result.latency_ms = (result.latency_ms or 0.0) + res.latency_ms
        else:  # the registry knows the name but the registrar does not: keep registry data
            self._referral_failed(result, f"referral {job.url}: HTTP 404")
        self._finish(lookup)

    def _job_failed(self, job: _Job, err: FetchError) -> None:
        lookup = job.lookup
        result = lookup.result
        if job.depth == 0:
            result.outcome = "error"
            result.error_kind = err.kind
            result.error_detail = err.detail
            result.http_status = err.status
        else:
            self._referral_failed(result, f"referral {job.url}: {err.kind}: {err.detail}")
        self._finish(lookup)

    @staticmethod
    def _referral_failed(result: NameResult, detail: str) -> None:
        # A registrar that answered stays "followed" even if its own onward link fails.
        if result.referral_status != "followed":
            result.referral_status = "referral_failed"
            result.error_detail = detail

    def _finish(self, lookup: _Lookup) -> None:
        if lookup.finished:  # never count a lookup twice, even after an unexpected error
            return
        lookup.finished = True
        try:
            if lookup.result.responses:
                lookup.result.responses[0].referral_status = lookup.result.referral_status
            self._on_done(lookup.result)
        except Exception:  # a failing callback must not leave join() waiting forever
            log.exception("rdaplab: error while finishing %s", lookup.key)
        finally:
            self._pending -= 1
            if self._pending == 0:
                self._idle.set()

    def _mark_down(self, host: _Host, err: FetchError) -> None:
        if host.down_reason is not None:
            return
        host.down_reason = (
            f"host {host.authority} unreachable after "
            f"{host.consecutive_conn_failures} consecutive connection failures ({err.detail})"
        )
        log.warning("rdaplab: %s; failing its remaining rows", host.down_reason)
        while host.jobs:
            self._job_failed(host.jobs.popleft(), FetchError("connection_error", host.down_reason))

    def _record(
        self,
        job: _Job,
        host: _Host,
        started: datetime,
        res: HttpResult | None,
        err: FetchError | None,
        attempt_no: int,
        stats: Any,
        *,
        throttled: bool = False,
    ) -> None:
        self._on_attempt(
            Attempt(
                batch_id=self.batch_id,
                host=host.authority,
                url=job.url,
                query_kind=job.lookup.kind,
                query=job.lookup.key,
                started_at=started,
                latency_ms=res.latency_ms if res is not None else _elapsed_ms(started),
                status=res.status if res is not None else None,
                bytes=len(res.body) if res is not None else 0,
                retry_after_s=res.retry_after_s if res is not None else None,
                error_kind=("rate_limited" if throttled else (err.kind if err else None)),
                error_detail=err.detail if err else None,
                attempt=attempt_no,
                throttled=throttled,
                rate_limit=stats.rate_per_s,
                concurrency_limit=stats.max_concurrency,
            )
        )


def _elapsed_ms(started: datetime) -> float:
    return (datetime.now(timezone.utc) - started).total_seconds() * 1000.0


def _status_detail(res: HttpResult) -> str:
    detail = f"HTTP {res.status}"
    if res.body:
        try:
            doc = decode_json(res.body)
        except ParseError:
            return detail
        text = error_detail(doc, res.status)
        if text:
            detail = text if text.startswith("HTTP") else f"{detail}: {text}"
    return detail
