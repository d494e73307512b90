"""Dispatching fetches to registry hosts: adaptive per-host pacing, retries, referrals.

Each registry host (``host:port``) gets a :class:`~rdaplab.engine.limiter.HostLimiter`
driven by a :class:`~rdaplab.engine.controller.HostController` (which learns the host's
rate and concurrency limits from what it answers), a queue of jobs per priority class, a
circuit breaker (:mod:`rdaplab.engine.breaker`), and at most ``concurrency`` worker tasks
(plus one for each job waiting out a delay of its own, such as a backoff), spawned on
demand and ended when the queue is empty, so the number of tasks is bounded by hosts x
per-host concurrency plus those waits, never by the input size. A
:class:`~rdaplab.engine.limiter.FairShare` caps requests in flight over all hosts and
hands freed slots to the host with the fewest in flight, so one slow, throttled or dead
registry never delays the others: waiting for one host (a park, a slow pacer, an open
breaker) holds nothing another host could use. The settings (:class:`Limits`,
:class:`Retry`) are in :mod:`rdaplab.engine.config`.

One *lookup* (one distinct query) is a chain of jobs: the registry answer at depth 0 and,
when it carries an RDAP ``related`` link (the thin-registry case), the registrar answer at
depth 1 and so on up to ``max_referral_depth``. A referral job runs on the registrar's own
host queue, with its lookup's priority.

Per answer (throttle signals are recognised by :func:`rdaplab.engine.throttle.classify`: 429,
503 + Retry-After, 403 HTML "queries exceeded", 422 "too fast", a 200 carrying only a
"Rate Limit Notice"):

- *throttle*: the host is parked for ``Retry-After`` (both forms; capped; a default when
  absent), its controller cuts the rate, and the request is tried again, up to
  ``Retry.max_throttled`` times; then the row ends as ``rate_limited``.
- *quota* (a daily allowance used up: the text says so, or Retry-After is hours away) and
  *block* (the host says we are blocked), and a configured ``daily_budget`` reached: the
  host's remaining rows end at once as ``rate_limited`` (retryable on a later run) rather
  than a retry storm.
- other ``5xx``, timeouts, connection errors and unparseable bodies: exponential backoff
  with full jitter, up to ``Retry.max_attempts`` attempts in all.
- circuit breaker: ``Retry.dead_host_after`` consecutive connection failures or 5xx (not
  timeouts: those can be our own stalls) open the host's breaker: its queued and new jobs fail at once (``connection_error`` or
  ``http_error``) for ``Retry.breaker_cooldown_s``; then one probe request is let through
  (half-open): an answer closes the breaker, a failure opens it again for twice as long.
- other ``4xx``: ``http_error`` at once.

Every attempt is reported with the limiter state in force, the requests in flight, the
throttle signal seen and the controller's decision (the attempts log). No exception
escapes for one row: every job ends in a finished lookup.

What happens to a host is also reported, when ``on_host_event`` is given, as
``on_host_event(kind, host, fields)`` with plain values (the batch layer turns them into
event records; the engine knows nothing of them):

- ``host_throttled``: ``status``, ``retry_after_s``, ``decision``, ``reason``;
- ``host_parked``: ``seconds`` (a park started or was extended);
- ``breaker_opened`` / ``breaker_closed``: ``reason``;
- ``host_exhausted``: ``cause`` (``quota``, ``block`` or ``daily_budget``), ``reason``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import random
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from rdaplab.engine.breaker import Breaker
from rdaplab.engine.budget import Budget, learns, local_limits
from rdaplab.engine.client import HttpResult, RdapClient, authority, check_url_policy
from rdaplab.engine.config import PRIORITIES, Limits, Retry, priority_index
from rdaplab.engine.controller import HostController
from rdaplab.engine.learned import LearnedLimits
from rdaplab.engine.limiter import FairShare, HostLimiter
from rdaplab.engine.throttle import Signal, classify
from rdaplab.engine.windows import Window
from rdaplab.errors import ErrorKind, FetchError
from rdaplab.models import Attempt, NameResult, Response
from rdaplab.rdap.decode import ParseError, decode_json, error_detail, referral_links

log = logging.getLogger("rdaplab")

HORIZON_EVERY_S = 0.2  # how stale the batch's remaining-time estimate may be
QUIET_RECHECK_S = 30.0  # a host outside its quiet hours looks again at least this often


@dataclass(slots=True)
class _Lookup:
    kind: str
    key: str
    lookup_id: str
    result: NameResult
    priority: int = 2
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
    controller: HostController
    breaker: Breaker
    queues: tuple[deque[_Job], ...] = field(
        default_factory=lambda: tuple(deque() for _ in PRIORITIES)
    )
    workers: int = 0
    busy: int = 0  # workers running a job
    waiting: int = 0  # ... of them, waiting out a delay of their own job's (see _wait_aside)
    active: int = 0  # requests on the wire now
    # Quota, block or daily budget: the rest of the host's rows end as rate_limited.
    exhausted: str | None = None
    budget_left: int | None = None
    requests: int = 0
    throttled: int = 0
    answered: int = 0
    first_at: float | None = None
    last_at: float | None = None
    window: Window | None = None  # its quiet hours, when the batch keeps to them
    # Referrals: answers that could have referred (2xx and 404), the referrals they made
    # per registrar host, and the hosts whose answers referred here (see _backlog).
    referable: int = 0
    refers_to: dict[str, int] = field(default_factory=dict)
    fed_by: list[_Host] = field(default_factory=list)

    @property
    def limiter(self) -> HostLimiter:
        return self.controller.limiter

    @property
    def queued(self) -> int:
        return sum(len(q) for q in self.queues)

    @property
    def down_reason(self) -> str | None:
        """Why the host fails its rows now (open breaker or exhausted), else None."""
        if self.exhausted is not None:
            return self.exhausted
        return self.breaker.reason if self.breaker.state == "open" else None

    def expected_referrals(self, target: str) -> float:
        """Referrals to ``target`` this host's waiting jobs will likely still make."""
        made = self.refers_to.get(target, 0)
        if not made:
            return 0.0
        return (self.queued + self.busy) * made / max(1, self.referable)

    def pop(self) -> _Job | None:
        for queue in self.queues:
            if queue:
                return queue.popleft()
        return None


class Scheduler:
    """Runs lookups against registry hosts politely; see the module docstring.

    Parameters
    ----------
    client
        The HTTP client.
    batch_id
        Written to every attempt and response.
    limits, retry
        Politeness and retry settings.
    on_attempt, on_done
        Called for every attempt and every finished lookup.
    budget_used
        ``host -> requests sent to it in the last 24 hours`` (from the cache), for hosts
        with a ``daily_budget``.
    learned
        ``host -> LearnedLimits or None``: what an earlier batch learned about a host
        (from the cache); its controller starts from there instead of slow-starting.
    budget
        A :class:`~rdaplab.engine.Budget` shared with other processes: each request also
        waits for its slot there, and every answer is reported to it. ``None``: this
        process alone (nothing more to wait for).
    on_host_event
        ``(kind, host, fields)``: called when a host throttles, is parked, its breaker
        opens or closes, or it is exhausted (see the module). It runs on the loop between
        requests: it must be quick; an exception it raises is logged once and ignored.
    quiet_hours_only
        Send to a host whose profile names ``quiet_hours`` only inside them: outside, its
        queue waits (its workers look again at least every ``QUIET_RECHECK_S``) while the
        other hosts go on.
    seed
        Seed of the backoff jitter.
    """

    def __init__(
        self,
        client: RdapClient,
        *,
        batch_id: str,
        limits: Limits | None = None,
        retry: Retry | None = None,
        on_attempt: Callable[[Attempt], None] | None = None,
        on_done: Callable[[NameResult], None] | None = None,
        budget_used: Callable[[str], int] | None = None,
        budget: Budget | None = None,
        learned: Callable[[str], LearnedLimits | None] | None = None,
        on_host_event: Callable[[str, str, dict[str, Any]], None] | None = None,
        quiet_hours_only: bool = False,
        seed: int | None = None,
    ) -> None:
        self.client = client
        self.batch_id = batch_id
        self._budget_learns = learns(budget)
        self.limits = limits or Limits()
        if self._budget_learns:  # the shared budget paces and learns; this process sends
            self.limits = local_limits(self.limits)
        self.retry = retry or Retry()
        self._on_attempt = on_attempt or (lambda a: None)
        self._on_done = on_done or (lambda r: None)
        self._budget_used = budget_used
        self._budget = budget
        self._learned = learned
        self._on_host_event = on_host_event
        self._quiet_hours_only = quiet_hours_only
        self._host_event_failed = False
        self._rng = random.Random(seed)
        self._global = FairShare(self.limits.max_concurrency)
        self._hosts: dict[str, _Host] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending = 0
        self._horizon_at = -math.inf
        self._horizon_s = 0.0
        self._idle = asyncio.Event()
        self._idle.set()

    # -- public ------------------------------------------------------------------------
    @property
    def hosts(self) -> Mapping[str, _Host]:
        return self._hosts

    @property
    def pending(self) -> int:
        return self._pending

    def submit(self, result: NameResult, url: str, *, priority: str | int | None = None) -> None:
        """Start a lookup whose registry answer is at ``url``; ``result`` is filled in.

        ``priority`` is one of :data:`PRIORITIES` (default ``normal``): within each host,
        higher classes are sent first.
        """
        query = result.key if result.query is None else result.query
        lookup = _Lookup(
            result.query_kind, query, uuid.uuid4().hex, result, priority_index(priority)
        )
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

    def host_statistics(self) -> list[dict[str, Any]]:
        """Per host: what the controller learned and what was sent (for the summary)."""
        out = []
        for name, host in self._hosts.items():
            st = host.controller.statistics()
            span = (host.last_at or 0.0) - (host.first_at or 0.0)
            out.append(
                {
                    "host": name,
                    "profile": host.controller.profile.source,
                    "phase": st.phase,
                    "rate_per_s": _r(st.rate_per_s),
                    "concurrency": st.concurrency,
                    # Throttled hosts: the rate proven clean; the others: the best seen
                    # (their limit, if any, is higher).
                    "learned_max_rate_per_s": _r(
                        st.lo_rate_per_s
                        if st.hi_rate_per_s is not None and st.lo_rate_per_s is not None
                        else max(st.best_rate_per_s or 0.0, st.lo_rate_per_s or 0.0) or None
                    ),
                    "throttled_at_rate_per_s": _r(st.hi_rate_per_s),
                    "concurrency_ceiling": st.concurrency_ceiling,
                    "base_latency_ms": _r(st.base_latency_ms),
                    "throttle_events": st.throttle_events,
                    "faults_503": st.faults_503,
                    "server_errors": st.server_errors,
                    "breaker": host.breaker.state,
                    "exhausted": host.exhausted,
                    "requests": host.requests,
                    "answered": host.answered,
                    "active_s": round(span, 3),
                    "queued": host.queued,
                    # ... and the referrals still expected from the hosts referring here
                    "backlog": self._backlog(host),
                }
            )
        return out

    # -- queues and workers --------------------------------------------------------------
    def _host(self, url: str) -> _Host:
        key = authority(url)
        host = self._hosts.get(key)
        if host is None:
            hint = self._learned(key) if self._learned is not None else None
            controller = self.limits.controller_for(
                key, learned=hint, max_park_s=self.retry.retry_after_default_s
            )
            breaker = Breaker(key, self.retry)
            if self._on_host_event is not None:
                breaker.on_change = functools.partial(self._breaker_changed, key)
            host = self._hosts[key] = _Host(key, controller, breaker)
            quiet = controller.profile.quiet_hours
            if quiet_hours := (quiet if self._quiet_hours_only else None):
                host.window = Window.parse(quiet_hours)
            budget = controller.profile.daily_budget
            if budget is not None:
                used = self._budget_used(key) if self._budget_used is not None else 0
                host.budget_left = max(0, budget - used)
                if host.budget_left == 0:
                    host.exhausted = (
                        f"daily budget of {budget} requests for {key} used up "
                        f"({used} in the last 24 hours)"
                    )
                    self._host_event(
                        "host_exhausted", key, cause="daily_budget", reason=host.exhausted
                    )
        return host

    # -- host events -----------------------------------------------------------------------
    def _host_event(self, kind: str, host: str, **fields: Any) -> None:
        """Report what happened to a host (nothing to do without ``on_host_event``)."""
        if self._on_host_event is None:
            return
        try:
            self._on_host_event(kind, host, fields)
        except Exception:  # a monitor must never break the batch
            if not self._host_event_failed:
                self._host_event_failed = True
                with contextlib.suppress(Exception):
                    log.exception("rdaplab: the host event callback raised (logged once)")

    def _report_throttle(
        self, host: _Host, status: int | None, signal: Signal, decision: str
    ) -> None:
        if self._on_host_event is not None:  # (no dict built per throttle without one)
            self._host_event(
                "host_throttled",
                host.authority,
                status=status,
                retry_after_s=signal.retry_after_s,
                decision=decision,
                reason=signal.reason,
            )

    def _report_park(self, host: _Host, before: float) -> None:
        """A park that starts, or is extended notably (not the microseconds each throttle
        of one burst adds to the park it already caused)."""
        after = host.limiter.parked_for()
        if (before <= 0.0 and after > 0.0) or after - before > max(0.05, 0.25 * before):
            self._host_event("host_parked", host.authority, seconds=after)

    def _breaker_changed(self, host: str, state: str, reason: str) -> None:
        self._host_event(
            "breaker_opened" if state == "open" else "breaker_closed", host, reason=reason
        )

    def _enqueue(self, job: _Job) -> None:
        host = self._host(job.url)
        if self._fail_fast(host, job):
            return
        host.queues[job.lookup.priority].append(job)
        self._spawn(host)

    def _spawn(self, host: _Host) -> None:
        # Busy workers stay busy: a job arriving now needs an idle worker of its own. A
        # worker waiting out its own job's delay takes no slot: one more may run.
        want = min(host.limiter.max_concurrency + host.waiting, host.busy + host.queued)
        while host.workers < want:
            host.workers += 1
            task = asyncio.create_task(self._worker(host), name=f"rdaplab:{host.authority}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _fail_fast(self, host: _Host, job: _Job) -> bool:
        """End ``job`` now if its host is exhausted or its breaker is open."""
        if host.exhausted is not None:
            self._job_failed(job, FetchError("rate_limited", host.exhausted))
            return True
        refusal = host.breaker.refusal()
        if refusal is not None:
            self._job_failed(job, refusal)
            return True
        return False

    async def _worker(self, host: _Host) -> None:
        try:
            while True:
                # Too many workers after a concurrency cut: this one retires.
                if host.workers > host.limiter.max_concurrency + host.waiting:
                    return
                if host.window is not None and not host.window.is_open(time.time()):
                    # Outside the registry's quiet hours: the queue waits, nothing is sent.
                    wait_s = host.window.seconds_until_open(time.time())
                    await asyncio.sleep(min(max(wait_s, 0.05), QUIET_RECHECK_S))
                    continue
                job = host.pop()
                if job is None:
                    return
                host.busy += 1
                try:
                    await self._run_job(host, job)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a bug must cost one row, not the batch
                    with contextlib.suppress(Exception):  # nor a broken log stream
                        log.exception("rdaplab: unexpected error for %s", job.url)
                    err = FetchError("http_error", f"unexpected: {exc!r}")
                    if host.breaker.state == "half_open":  # its verdict must not hang others
                        self._drain(host, host.breaker.open("http_error", err, again=True))
                    self._job_failed(job, err)
                finally:
                    host.busy -= 1
                    host.breaker.job_ended(job, exhausted=host.exhausted is not None)
                self._spawn(host)  # the controller may have raised the concurrency
        finally:
            host.workers -= 1

    # -- one job -----------------------------------------------------------------------------
    async def _run_job(self, host: _Host, job: _Job) -> None:
        failures = 0
        throttled = 0
        ctl = host.controller
        breaker = host.breaker

        def exhausted() -> bool:
            return host.exhausted is not None

        while True:
            if self._fail_fast(host, job):
                return
            probe = breaker.state != "closed"
            was_half_open = breaker.state == "half_open"
            if not await breaker.gate(job, exhausted):
                if not self._fail_fast(host, job):
                    self._job_failed(job, FetchError("rate_limited", host.exhausted or ""))
                return
            if breaker.state == "half_open" and not was_half_open:
                breaker.probe_owner = job
            probe = probe or breaker.state == "half_open"
            res: HttpResult | None = None
            err: FetchError | None = None
            grant: Any = None
            async with host.limiter.slot(), self._global.slot(host.authority):
                if self._budget is not None:  # the shared slot, after our own host's
                    try:
                        grant = await self._budget.acquire(host.authority)
                    except FetchError as exc:  # the budget is out of reach: fail closed
                        self._job_failed(job, exc)
                        return
                if host.exhausted is not None:  # decided while we waited
                    self._job_failed(job, FetchError("rate_limited", host.exhausted))
                    return
                stats = host.limiter.statistics()
                host.active += 1
                in_flight = host.active
                if host.budget_left is not None:
                    host.budget_left -= 1
                    if host.budget_left <= 0:  # this is the last request the budget allows
                        self._budget_spent(host)
                started = datetime.now(timezone.utc)
                sent_at = _now()
                host.first_at = sent_at if host.first_at is None else host.first_at
                try:
                    res = await self.client.get(job.url)
                except FetchError as exc:
                    err = exc
                finally:
                    host.active -= 1
            now = _now()
            host.last_at = now
            host.requests += 1
            job.lookup.result.attempts += 1
            attempt_no = failures + throttled + 1
            rec = _Rec(job, host, started, stats, in_flight, attempt_no)

            if err is not None:
                failures += 1
                # Connection failures count toward the breaker; a timeout does not: it is
                # as likely a stall on our side (a busy loop, a slow disk) as the host's.
                decision = (
                    self._count_failure(host, err.kind, err, probe)
                    if err.kind != "timeout"
                    else None
                )
                self._record(rec, None, err, decision=decision)
                if failures >= self.retry.max_attempts or err.kind == "http_error":
                    self._job_failed(job, err)
                    return
                await self._wait_aside(host, self.retry.backoff_s(failures, self._rng))
                continue

            assert res is not None
            host.answered += 1
            status = res.status
            links: list[str] = []
            # Throttle first: a notice-only 200 is a throttle, not an unreadable answer.
            signal = classify(status, res.headers, res.body, retry_after_s=res.retry_after_s)
            if self._budget is not None:
                self._report_to_budget(
                    host, signal, status, grant, in_flight, res.retry_after_resolution_s
                )
            if 200 <= status < 300 and signal is None:
                try:
                    # Validity and onward links only: the body is normalized once, later.
                    links = referral_links(res.body)
                    if job.lookup.kind != "domain":
                        links = []  # referrals are a domain thing (thin registries)
                except ParseError as exc:
                    host.breaker.ok(probe)
                    perr = FetchError("parse_error", f"HTTP {status} body: {exc}", status=status)
                    decision = ctl.on_answer(
                        sent_at=sent_at, now=now, in_flight=in_flight, backlog=self._backlog(host)
                    )
                    self._record(rec, res, perr, decision=decision)
                    failures += 1
                    if failures >= self.retry.max_attempts:
                        self._job_failed(job, perr)
                        return
                    await self._wait_aside(host, self.retry.backoff_s(failures, self._rng))
                    continue
            if signal is not None:
                host.breaker.ok(probe)  # the host is up; it is just saying no
                throttled += 1
                host.throttled += 1
                if signal.kind != "throttle":
                    self._report_throttle(host, status, signal, "stop_host")
                    self._exhaust(host, signal)
                    self._record(rec, res, None, signal=signal, decision="stop_host")
                    self._job_failed(
                        job, FetchError("rate_limited", host.exhausted or "", status=status)
                    )
                    return
                weak = status == 503 and signal.scope == "rate"
                decision = ctl.on_throttle(
                    sent_at=sent_at,
                    now=now,
                    in_flight=in_flight,
                    retry_after_s=signal.retry_after_s,
                    weak=weak,
                    retry_after_resolution_s=res.retry_after_resolution_s,
                    connections=signal.scope == "connections",
                    backlog=self._backlog(host),
                    horizon_s=self._horizon_for(host, now),
                )
                wait = self._throttle_wait(ctl.park_s(decision, signal.retry_after_s), signal)
                self._report_throttle(host, status, signal, decision)
                if (weak and decision == "park") or decision == "concurrency":
                    # A 503 + Retry-After read as a passing fault (the host has shown
                    # faults), or one request over a connection limit (the ceiling is
                    # the fix): that request waits as told; the host's others go on.
                    self._record(rec, res, None, signal=signal, decision=decision)
                    if throttled <= self.retry.max_throttled:
                        await self._wait_aside(host, wait)
                        continue
                else:
                    parked = host.limiter.parked_for()
                    host.limiter.park(wait)
                    if self._on_host_event is not None:
                        self._report_park(host, parked)
                    self._record(rec, res, None, signal=signal, decision=decision)
                if throttled > self.retry.max_throttled:
                    self._job_failed(
                        job,
                        FetchError(
                            "rate_limited",
                            f"{signal.reason} from {host.authority} {throttled} times",
                            status=status,
                            retry_after_s=wait,
                        ),
                    )
                    return
                continue
            # 501: the server does not implement this query (RFC 7480 §5.5; RIPE answers
            # nameserver queries so). Permanent, and no sign of a sick server.
            if status >= 500 and status != 501:
                if _server_error(status):
                    ctl.on_server_error(now=now)
                failures += 1
                herr = FetchError("http_error", _status_detail(res), status=status)
                decision = self._count_failure(host, "http_error", herr, probe)
                self._record(rec, res, herr, decision=decision)
                if failures >= self.retry.max_attempts:
                    self._job_failed(job, herr)
                    return
                await self._wait_aside(host, self.retry.backoff_s(failures, self._rng))
                continue
            host.breaker.ok(probe)
            decision = ctl.on_answer(
                sent_at=sent_at,
                now=now,
                in_flight=in_flight,
                backlog=self._backlog(host),
                success=200 <= status < 300,
                horizon_s=self._horizon(now),
            )
            if 200 <= status < 300:
                self._record(rec, res, None, decision=decision)
                self._job_answered(host, job, res, links)
                return
            if status == 404:
                self._record(rec, res, None, decision=decision)
                host.referable += 1
                self._job_not_found(job, res)
                return
            herr = FetchError("http_error", _status_detail(res), status=status)
            self._record(rec, res, herr, decision=decision)
            self._job_failed(job, herr)
            return

    async def _wait_aside(self, host: _Host, seconds: float) -> None:
        """Wait out a delay of one job's own (a backoff, a fault's Retry-After) while the
        host goes on: the worker is counted aside, so another takes the next job. Held
        by the sleeper, a host run at 2 workers with a 503 fault every 12 answers stopped
        for 0.85 s after every second one (1 s Retry-After each)."""
        host.waiting += 1
        self._spawn(host)
        try:
            await asyncio.sleep(seconds)
        finally:
            host.waiting -= 1

    def _backlog(self, host: _Host) -> int:
        """Requests still to come for ``host``: its queue, and the referrals to it that the
        jobs waiting at the hosts referring to it will likely make.

        A registrar fed by a thin registry's referrals has a short queue however much
        work is on its way: counted by its queue alone, it looked done well inside the
        batch and was not raised (generated seed 54: a 31.6/s registrar sat at 2/s for
        2.5 s, then at 32/s, while its registry sent it 300 names, and ended the batch).
        """
        coming = sum(feeder.expected_referrals(host.authority) for feeder in host.fed_by)
        return host.queued + round(coming)

    def _horizon_for(self, host: _Host, now: float) -> float | None:
        """The horizon a throttle at ``host`` weighs its cut against, or None: no cut to
        what the host alone needs.

        A host whose answers refer to registrars feeds them at its own pace: however short
        its own queue, a cut to what that queue needs starves them. Generated seed 8: a
        thin registry of 91 names (35.7/s, 4.7 % of its answers 503 faults), cut on its
        faults to what its queue needed and below, fed its 2.8/s registrar at 1.5-1.8/s:
        1.09-1.56 x over four runs. Without that cut: 5.4-7.2/s, done in 16-20 s, and
        the batch at 1.02 x (two runs). It still raises nothing while off the path
        (judged on its answers, with the batch's horizon): never off the path at all,
        seed 26's thin registries climbed from 8/s to their limits for no gain and were
        refused 9 more times (2.6 % of the batch; 1.0 % before, 1.2 % with this).
        """
        if host.refers_to:
            return None
        return self._horizon(now)

    def _horizon(self, now: float) -> float:
        """How long the batch still needs: its slowest host's queue at the rate it can reach.

        Recomputed at most every HORIZON_EVERY_S (it is read on every answer).
        """
        if now - self._horizon_at < HORIZON_EVERY_S:
            return self._horizon_s
        longest = 0.0
        for host in self._hosts.values():
            work = self._backlog(host) + host.busy
            rate = host.controller.reachable_rate
            if work and host.down_reason is None and rate > 0:
                longest = max(longest, work / rate)
        self._horizon_at, self._horizon_s = now, longest
        return longest

    def _report_to_budget(
        self,
        host: _Host,
        signal: Signal | None,
        status: int,
        grant: Any,
        in_flight: int,
        resolution_s: float = 0.0,
    ) -> None:
        assert self._budget is not None
        throttled = signal is not None
        retry_after_s = None if signal is None else signal.retry_after_s
        if not self._budget_learns:
            self._budget.report(host.authority, throttled=throttled, retry_after_s=retry_after_s)
            return
        report: Any = self._budget.report
        report(
            host.authority,
            throttled=throttled,
            retry_after_s=retry_after_s,
            grant=grant,
            in_flight=in_flight,
            # waiting here includes the jobs waiting for a grant (the budget paces them;
            # without them a 16-name bucket reported no backlog and was never raised)
            backlog=self._backlog(host) + max(0, host.busy - host.active - 1),
            weak=signal is not None and status == 503 and signal.scope == "rate",
            success=200 <= status < 300,
            server_error=not throttled and _server_error(status),
            retry_after_resolution_s=resolution_s if throttled else 0.0,
            source=self.batch_id,  # whose backlog this is: the budget sums them
        )

    def _throttle_wait(self, park_s: float, signal: Signal) -> float:
        """The park: the host's Retry-After (capped), else the controller's, jittered."""
        if signal.retry_after_s is not None:
            return min(park_s, self.retry.retry_after_max_s)
        if self._budget_learns:
            return 0.0  # the shared budget parks every process; its next grant waits
        if not math.isfinite(park_s):
            return self.retry.retry_after_default_s
        # +-20 %: hosts throttled together must not come back in lockstep.
        return min(park_s * self._rng.uniform(0.8, 1.2), self.retry.retry_after_default_s)

    # -- breaker and exhaustion ------------------------------------------------------------
    def _count_failure(
        self, host: _Host, kind: ErrorKind, err: FetchError, probe: bool
    ) -> str | None:
        """A connection failure or 5xx: maybe open the breaker; returns the decision."""
        opened = host.breaker.failure(kind, err, probe)
        if opened is None:
            return None
        self._drain(host, opened)
        return "breaker_open"

    def _exhaust(self, host: _Host, signal: Signal) -> None:
        if host.exhausted is not None:
            return
        what = "blocked us" if signal.kind == "block" else "says its quota is used up"
        when = f"; retry after {signal.retry_after_s:.0f} s" if signal.retry_after_s else ""
        host.exhausted = f"{host.authority} {what} ({signal.reason}){when}"
        host.breaker.probe_done.set()  # anyone waiting on a probe: the host is done
        log.warning("rdaplab: %s; its remaining rows end as rate_limited", host.exhausted)
        self._host_event(
            "host_exhausted",
            host.authority,
            cause="block" if signal.kind == "block" else "quota",
            reason=host.exhausted,
        )
        self._drain(host, FetchError("rate_limited", host.exhausted))

    def _budget_spent(self, host: _Host) -> None:
        budget = host.controller.profile.daily_budget
        host.exhausted = (
            f"daily budget of {budget} requests for {host.authority} used up "
            "(configured; counted over the last 24 hours)"
        )
        host.breaker.probe_done.set()
        log.warning("rdaplab: %s; its remaining rows end as rate_limited", host.exhausted)
        self._host_event(
            "host_exhausted", host.authority, cause="daily_budget", reason=host.exhausted
        )
        self._drain(host, FetchError("rate_limited", host.exhausted))

    def _drain(self, host: _Host, err: FetchError) -> None:
        for queue in host.queues:
            while queue:
                self._job_failed(queue.popleft(), err)

    # -- outcomes ------------------------------------------------------------------------------
    def _response(self, job: _Job, res: HttpResult) -> Response:
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
        )

    def _job_answered(self, host: _Host, job: _Job, res: HttpResult, links: list[str]) -> None:
        lookup = job.lookup
        result = lookup.result
        host.referable += 1
        result.responses.append(self._response(job, res))
        result.latency_ms = (result.latency_ms or 0.0) + res.latency_ms
        if job.depth == 0:
            result.outcome = "ok"
            result.http_status = res.status
            result.fetched_at = res.started_at
        else:
            result.referral_status = "followed"
            result.registrar_url = job.url
        if job.depth < self.retry.max_referral_depth:
            for href in links:
                if href.lower() in lookup.visited:
                    continue  # loop: a registrar pointing back at itself or the registry
                lookup.visited.add(href.lower())
                try:
                    check_url_policy(href)
                except FetchError as exc:
                    self._referral_failed(result, f"referral refused: {exc.detail}")
                    break
                self._count_referral(host, href)
                self._enqueue(_Job(lookup, href, job.depth + 1))
                return
        self._finish(lookup)

    def _count_referral(self, source: _Host, href: str) -> None:
        target = self._host(href)
        if target is source:
            return
        if target.authority not in source.refers_to:
            source.refers_to[target.authority] = 0
            target.fed_by.append(source)
        source.refers_to[target.authority] += 1

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

    def _record(
        self,
        rec: _Rec,
        res: HttpResult | None,
        err: FetchError | None,
        *,
        signal: Signal | None = None,
        decision: str | None = None,
    ) -> None:
        job, host = rec.job, rec.host
        self._on_attempt(
            Attempt(
                batch_id=self.batch_id,
                host=host.authority,
                url=job.url,
                query_kind=job.lookup.kind,
                query=job.lookup.key,
                started_at=rec.started,
                latency_ms=res.latency_ms if res is not None else _elapsed_ms(rec.started),
                status=res.status if res is not None else None,
                bytes=len(res.body) if res is not None else 0,
                retry_after_s=res.retry_after_s if res is not None else None,
                error_kind=("rate_limited" if signal else (err.kind if err else None)),
                error_detail=signal.reason if signal else (err.detail if err else None),
                attempt=rec.attempt_no,
                throttled=signal is not None,
                rate_limit=rec.stats.rate_per_s,
                concurrency_limit=rec.stats.max_concurrency,
                in_flight=rec.in_flight,
                priority=PRIORITIES[job.lookup.priority],
                signal=signal.kind if signal else None,
                decision=decision,
            )
        )


@dataclass(slots=True)
class _Rec:
    """What an attempt record needs from the moment it was sent."""

    job: _Job
    host: _Host
    started: datetime
    stats: Any
    in_flight: int
    attempt_no: int


def _now() -> float:
    return asyncio.get_running_loop().time()


def _r(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def _elapsed_ms(started: datetime) -> float:
    return (datetime.now(timezone.utc) - started).total_seconds() * 1000.0


def _server_error(status: int) -> bool:
    """A 5xx that shows the host has faults (``HostController.on_server_error``): not 501
    (a query the server does not implement) nor 503 (which may be overload)."""
    return status >= 500 and status not in (501, 503)


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
