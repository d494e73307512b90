"""The one run loop: every batch (``lookup``, ``lookup_async``, ``start``, ``stream``) is a
:class:`BatchRun` driven by its caller.

Its interface is small on purpose (the jobs and the distributed layers drive it too)::

    async with BatchRun(options, store=cache, bootstrap=boot) as run:
        await run.admit(values)           # input chunks in (as many as you like)
        while run.pending:                # lookups still in flight
            await run.wait()              # until rows finish (or the cache breaks)
            rows = run.take()             # result chunks out: (row, value, Entry)
        run.cancel()                      # stop: what was fetched stays in the cache
    run.summary                           # set when the batch ended cleanly

Progress goes to ``run.tracker`` (a :class:`~rdaplab.batch.progress.ProgressTracker`,
which knows nothing of terminals or notebooks), and monitoring events
(:mod:`rdaplab.batch.events`) to ``options.on_event``: ``batch_started`` on entering,
``progress`` every ``options.event_interval_s`` and at the end, what the scheduler reports
of each host (throttles, parks, breakers, exhaustion), alerts once per episode
(:mod:`rdaplab.batch.monitor`), and ``batch_finished`` on leaving, however the batch
ended. Request slots come from each host's own limiter and controller, and from
``options.budget`` when it is shared with other processes.

Admitting a chunk normalizes it, looks each distinct query up once (a query already in
flight is not sent again), answers what the cache holds fresh in one set query per kind
(after committing what finished earlier, so a repeat is a cache hit), and hands the rest
to one :class:`~rdaplab.engine.Scheduler` that lives as long as the run, so what it learns
about each host carries from chunk to chunk; each host starts from what earlier batches
learned (kept in the cache, :mod:`rdaplab.batch.learned`), and what this one learned is
saved there when it ends. Answers are committed every second; a failure or a cancel keeps
everything that arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import TracebackType
from typing import Any

from rdaplab._gc import gc_paused
from rdaplab._version import __version__
from rdaplab.batch.events import Alert as AlertEvent
from rdaplab.batch.events import (
    AlertCleared,
    AlertThresholds,
    BatchFinished,
    BatchStarted,
    BreakerClosed,
    BreakerOpened,
    Event,
    HostExhausted,
    HostParked,
    HostThrottled,
    Progress,
)
from rdaplab.batch.inputs import kind_for
from rdaplab.batch.learned import learned_reader, save_learned_limits
from rdaplab.batch.monitor import AlertMonitor
from rdaplab.batch.options import LookupOptions
from rdaplab.batch.plan import (
    INVALID_PREFIX,
    PriorityResolver,
    cached_lookups,
    fill_from_cache,
    plan_queries,
    route_queries,
)
from rdaplab.batch.progress import ProgressTracker, Renderer
from rdaplab.batch.summary import SummaryBuilder, add_host_learning
from rdaplab.batch.writer import CacheWriter
from rdaplab.engine import RdapClient, Scheduler, authority
from rdaplab.frames import build_frames, normalize_result, normalize_results
from rdaplab.models import Attempt, NameResult, Normalized
from rdaplab.rdap import Bootstrap
from rdaplab.rdap.psl import DomainMapper, PublicSuffixes
from rdaplab.schemas import Frames
from rdaplab.store import Cache

__all__ = ["BatchRun", "Entry", "FinishedRow"]

log = logging.getLogger("rdaplab")


@dataclass(slots=True)
class Entry:
    """One lookup (a distinct query, or an invalid value) and the input rows waiting on it."""

    result: NameResult
    url: str | None = None
    rows: list[tuple[int, Any]] = field(default_factory=list)  # (input row index, value)
    record: Normalized | None = None


FinishedRow = tuple[int, Any, Entry]  # (input row index, value as given, its lookup)

# What the scheduler's host events (kind, host, fields) become.
_HOST_EVENTS: dict[str, Callable[..., Event]] = {
    "host_throttled": HostThrottled,
    "host_parked": HostParked,
    "breaker_opened": BreakerOpened,
    "breaker_closed": BreakerClosed,
    "host_exhausted": HostExhausted,
}


class BatchRun:
    """One batch: chunks of input in, finished rows and progress out (see the module).

    Parameters
    ----------
    options
        The batch's :class:`~rdaplab.LookupOptions` (``cache``, ``bootstrap`` and
        ``progress`` are resolved by the caller into ``store``, ``bootstrap``, ``renderer``).
    store, bootstrap
        The open cache and the bootstrap registry.
    total
        Input rows, when known up front (progress and the batches table).
    renderer
        Where progress snapshots go (None: nowhere).
    threaded_writes
        Commit on a writer thread (faster) instead of the loop's (flatter memory).
    streamed
        Recorded in the summary: the batch's rows were handed over chunk by chunk.
    column
        The name of the input column, when known: under ``kind="auto"`` a column named
        for domains (``domain``, ``url``, ``email``...) is all domains.
    suffixes
        The Public Suffix List of ``registered_domain`` (None: loaded from the options).
    """

    def __init__(
        self,
        options: LookupOptions,
        *,
        store: Cache,
        bootstrap: Bootstrap,
        total: int | None = None,
        renderer: Renderer | None = None,
        threaded_writes: bool = True,
        streamed: bool = False,
        column: str | None = None,
        suffixes: PublicSuffixes | None = None,
    ) -> None:
        self.options = options
        self.column = column
        self.kind = kind_for(options.kind, column)
        self.mapper: DomainMapper | None = None
        if options.registered_domain and self.kind in ("auto", "domain"):
            psl = suffixes if suffixes is not None else PublicSuffixes.load(options.psl)
            self.mapper = DomainMapper(psl, private=options.psl_private)
        self.rules = options.privacy_settings
        self.store = store
        self.bootstrap = bootstrap
        self.total = total
        self.streamed = streamed
        self.batch_id = uuid.uuid4().hex
        self.tracker = ProgressTracker(total or 0, renderer)
        self.summary: dict[str, Any] | None = None
        self.ready: list[FinishedRow] = []  # finished rows not yet taken
        self.admitted = 0  # input rows admitted so far
        self.completed = False  # the caller admitted everything and took every row
        self._inflight: dict[str, Entry] = {}  # key -> its lookup while it runs
        self._counts = SummaryBuilder()
        self._writer = CacheWriter(store, threaded=threaded_writes)
        self._wake = asyncio.Event()
        self._client: RdapClient | None = None
        self._scheduler: Scheduler | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._host_done: dict[str, list[int]] = {}  # registry host -> [done, errors]
        self._host_of: dict[str, str] = {}  # registry URL -> host, computed once
        self._t0 = time.monotonic()
        self._fetch_t0: float | None = None
        self._fetch_t1: float | None = None
        self._started_at = datetime.now(timezone.utc)
        self._cancelled = False
        # Monitoring: events for options.on_event, alerts for it and for the renderer.
        # Neither wanted: nothing is counted or built per request.
        self._on_event = options.on_event
        self._monitor: AlertMonitor | None = None
        if options.on_event is not None or renderer is not None:
            self._monitor = AlertMonitor(options.alerts or AlertThresholds())
        self._watcher: asyncio.Task[None] | None = None
        self._last_progress: tuple[int, int] | None = None  # (done, requests) last sent
        self._handler_failed = False

    # -- lifecycle --------------------------------------------------------------------------
    async def __aenter__(self) -> BatchRun:
        self._begin(total=self.total or 0, unique=0)
        if self._on_event is not None:
            self._emit(
                BatchStarted(
                    batch_id=self.batch_id,
                    total=self.total,
                    cache=str(self.store.path),
                    streamed=self.streamed,
                )
            )
        if self._monitor is not None:
            self._watcher = asyncio.create_task(self._watch(self.options.event_interval_s))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # A consumer leaving a stream early (GeneratorExit) is a clean stop, summarized;
        # a cancel or an error leaves the batch unfinished, as a killed process would.
        failed = exc_type is not None and not issubclass(exc_type, GeneratorExit)
        ended_by: BaseException | None = exc if failed else None
        try:
            await self._exit(failed)
        except BaseException as raised:
            ended_by = raised
            raise
        finally:
            if self._on_event is not None:
                self._emit(self._finished_event(ended_by))

    async def _exit(self, failed: bool) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
        try:
            await self._stop_fetching()
        finally:
            try:
                self._writer.flush()  # whatever arrived is kept, even when interrupted
            except Exception:
                if not failed:
                    raise
                log.exception("rdaplab: could not save the last answers to the cache")
            finally:
                self._writer.close()
                self._observe(finished=True)  # last alerts and progress, before the last draw
                self.tracker.close()
            # What the hosts taught this batch is kept however it ended (a cancelled or
            # interrupted batch learned as much as a finished one).
            try:
                save_learned_limits(self.store, self._scheduler, self.batch_id)
            except Exception:
                if not failed:
                    raise
                log.exception("rdaplab: could not save the hosts' learned limits to the cache")
        if not failed and not self._cancelled:
            self._end(stopped_early=not self.completed)

    def cancel(self) -> None:
        """Stop the batch: lookups in flight are dropped, what arrived is committed.

        :meth:`wait` then raises ``asyncio.CancelledError``; no summary is recorded.
        """
        self._cancelled = True
        self._wake.set()

    # -- input ------------------------------------------------------------------------------
    async def admit(
        self, values: Sequence[Any], *, priorities: PriorityResolver | None = None
    ) -> None:
        """Take one chunk of input rows (they follow the rows admitted before)."""
        # Planning builds a few objects per row: with the cyclic GC on, their allocation
        # triggers collections that rescan the whole heap again and again (measured: 1.1 s
        # of a 10^5-name warm replay). None of them is cyclic.
        with gc_paused():
            entries, to_fetch, classes = self._plan(values, priorities)
        if to_fetch:
            scheduler = await self._open_scheduler()
            for key, url in to_fetch.items():
                entry = entries[key]
                entry.url = url
                self._inflight[key] = entry
                scheduler.submit(entry.result, url, priority=classes.get(key))

    def _plan(
        self, values: Sequence[Any], priorities: PriorityResolver | None
    ) -> tuple[dict[str, Entry], dict[str, str], dict[str, int]]:
        """(new entries, key -> URL to fetch, key -> priority class) of one chunk; what
        needs no request (invalid, no service, fresh in the cache) is finished here."""
        first = self.admitted
        self.admitted += len(values)
        if self.total is None or self.admitted > self.total:
            self.tracker.total = self.admitted
        rows, results = plan_queries(values, self.kind, self.mapper)
        classes = priorities(first, values, rows) if priorities is not None else {}
        entries: dict[str, Entry] = {}
        for offset, (value, key) in enumerate(rows):
            entry = entries.get(key) or self._inflight.get(key)
            if entry is None:
                entry = entries[key] = Entry(results[key])
            entry.rows.append((first + offset, value))
        del rows
        new = {k: results[k] for k in entries}
        to_fetch = route_queries(new, self.bootstrap)
        self._record_asked(new, to_fetch)
        for key, entry in entries.items():
            if key not in to_fetch:  # invalid, or no RDAP service: done, never a request
                self._finish(entry, normalize_result(entry.result))
        self._answer_from_cache(entries, to_fetch)
        return entries, to_fetch, classes

    def _record_asked(self, results: dict[str, NameResult], to_fetch: dict[str, str]) -> None:
        """Record what this batch asks for, cache hits included: a snapshot of the batch
        (``rdaplab.diff``) covers every name it looked up, not only those it fetched."""
        by_kind: dict[str, list[str]] = {}
        for key in to_fetch:
            result = results[key]
            by_kind.setdefault(result.query_kind, []).append(result.query or key)
        for kind, queries in by_kind.items():
            self.store.record_batch_queries(self.batch_id, kind, queries)

    def _answer_from_cache(self, entries: dict[str, Entry], to_fetch: dict[str, str]) -> None:
        max_age_s = self.options.max_age_s
        if not to_fetch or max_age_s <= 0:
            return
        self._writer.flush()  # what finished earlier is committed: a repeat is a cache hit
        results = {k: entries[k].result for k in to_fetch}
        hits = cached_lookups(
            self.store,
            results,
            list(to_fetch),
            max_age_s=max_age_s,
            nf_age_s=self.options.not_found_max_age_s,
        )
        hit_entries = [entries[key] for key in hits]
        for entry in hit_entries:
            fill_from_cache(entry.result, hits[entry.result.key].responses)
            del to_fetch[entry.result.key]
        del hits  # the results hold the bodies until they are normalized
        # One batch call: it pauses the cyclic GC, which otherwise rescans the whole heap
        # again and again while 10^5 records are built (measured: half the time).
        records = normalize_results(e.result for e in hit_entries)
        for entry in hit_entries:
            entry.result.responses = []  # the cache has the bodies; keep the small record
            entry.record = records[entry.result.key]
        self._finish_many(hit_entries)

    # -- output -----------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Lookups in flight."""
        return len(self._inflight)

    def take(self) -> list[FinishedRow]:
        """The rows finished since the last call, in the order they finished."""
        ready, self.ready = self.ready, []
        return ready

    async def wait(self, timeout: float | None = None) -> None:
        """Return once more rows finish (or ``timeout`` seconds pass); raises what broke the
        cache writer, and ``CancelledError`` after :meth:`cancel`."""
        self._raise_if_stopped()
        self._wake.clear()
        waiter = asyncio.ensure_future(self._wake.wait())
        pending: set[asyncio.Future[Any]] = {waiter}
        if self._flusher is not None:
            pending.add(self._flusher)
        try:
            await asyncio.wait(pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        self._raise_if_stopped()

    async def drain(self) -> None:
        """Wait until no lookup is in flight."""
        while self._inflight:
            await self.wait()
        self._raise_if_stopped()

    def frames(self, rows: Sequence[FinishedRow]) -> Frames:
        """Normalized frames of finished rows, in the order given (redacted/minimized as the
        options say)."""
        with gc_paused():  # 10^5 rows: see admit
            return self.rules.apply(self._frames(rows))

    def _frames(self, rows: Sequence[FinishedRow]) -> Frames:
        # Rows are keyed by their entry, not their query: two entries for one query (a
        # cache hit and a fetch, from two chunks) keep their own from_cache and attempts.
        tokens: dict[int, str] = {}
        results: dict[str, NameResult] = {}
        records: dict[str, Normalized] = {}
        keyed: list[tuple[object, str]] = []
        for _, value, entry in rows:
            token = tokens.get(id(entry))
            if token is None:
                token = entry.result.key
                if token in results:
                    token = f"{token}\x00{len(tokens)}"
                tokens[id(entry)] = token
                results[token] = entry.result
                assert entry.record is not None
                records[token] = entry.record
            keyed.append((value, token))
        return build_frames(keyed, results, records)

    # -- internals --------------------------------------------------------------------------
    def _raise_if_stopped(self) -> None:
        if self._cancelled:
            raise asyncio.CancelledError
        if self._flusher is not None and self._flusher.done():
            self._flusher.result()  # the cache could not be written: stop the batch

    def _finish(self, entry: Entry, record: Normalized) -> None:
        entry.record = record
        result = entry.result
        n = len(entry.rows)
        self._counts.add(
            kind=result.query_kind,
            outcome=record.outcome,
            error_kind=record.error_kind,
            registry_url=result.registry_url,
            from_cache=result.from_cache,
            valid=not result.key.startswith(INVALID_PREFIX),
            rows=n,
        )
        self.ready.extend((row, value, entry) for row, value in entry.rows)
        self.tracker.add_done(record.outcome, n, from_cache=result.from_cache)
        entry.rows = []
        self._wake.set()

    def _finish_many(self, entries: list[Entry]) -> None:
        """:meth:`_finish` for many normalized entries at once (10^5 cache hits): counted
        per group of alike outcomes, not one by one."""
        groups: dict[tuple[Any, ...], list[int]] = {}
        ready = self.ready
        for entry in entries:
            result, record = entry.result, entry.record
            assert record is not None
            group = (
                result.query_kind,
                record.outcome,
                record.error_kind,
                result.registry_url,
                result.from_cache,
                not result.key.startswith(INVALID_PREFIX),
            )
            counts = groups.get(group)
            if counts is None:
                counts = groups[group] = [0, 0]
            counts[0] += len(entry.rows)
            counts[1] += 1
            ready.extend([(row, value, entry) for row, value in entry.rows])
            entry.rows = []
        for (kind, outcome, error_kind, url, from_cache, valid), (rows, n) in groups.items():
            self._counts.add(
                kind=kind,
                outcome=outcome,
                error_kind=error_kind,
                registry_url=url,
                from_cache=from_cache,
                valid=valid,
                rows=rows,
                queries=n,
            )
            self.tracker.add_done(outcome, rows, from_cache=from_cache)
        self._wake.set()

    def _on_attempt(self, attempt: Attempt) -> None:
        self.tracker.add_request(throttled=attempt.throttled)
        if self._monitor is not None:
            self._monitor.add_attempt(attempt.latency_ms, attempt.throttled)
        self._writer.add_attempt(attempt)

    def _on_done(self, result: NameResult) -> None:
        entry = self._inflight.pop(result.key)
        record = normalize_result(result)
        if record.error_kind != "parse_error":
            # An answer we cannot read is not cached: the next run asks again.
            for resp in result.responses:
                resp.document = None  # normalized already: only the body is kept
            self.rules.prepare_for_cache(result.responses)  # strict: nothing personal
            self._writer.add_responses(result.responses)
        result.responses = []  # the writer holds the bodies until they are committed
        if result.registry_url:
            host = self._host_of.get(result.registry_url)
            if host is None:
                host = self._host_of[result.registry_url] = authority(result.registry_url)
            counts = self._host_done.setdefault(host, [0, 0])
            counts[0] += 1
            counts[1] += record.outcome == "error"
        if not self._inflight:
            self._fetch_t1 = time.monotonic()
        if self._monitor is not None:
            self._monitor.add_lookup(record.outcome == "error")
        self._finish(entry, record)

    async def _open_scheduler(self) -> Scheduler:
        if self._scheduler is not None:
            return self._scheduler
        client = RdapClient(
            timeouts=self.options.timeouts,
            user_agent=self.options.user_agent,
            source_address=self.options.source_address,
        )
        await client.__aenter__()
        self._client = client
        store = self.store
        self._scheduler = scheduler = Scheduler(
            client,
            batch_id=self.batch_id,
            limits=self.options.limits,
            retry=self.options.retry,
            on_attempt=self._on_attempt,
            on_done=self._on_done,
            budget_used=lambda host: store.host_requests(host, within_s=86_400.0),
            budget=self.options.budget,
            learned=learned_reader(store) if self.options.learned_limits else None,
            on_host_event=self._on_host_event if self._on_event is not None else None,
            quiet_hours_only=self.options.quiet_hours_only,
        )
        self.tracker.hosts_source = self._host_progress
        self._flusher = asyncio.create_task(self._writer.run_periodic())
        self._fetch_t0 = time.monotonic()
        return scheduler

    async def _stop_fetching(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        if self._scheduler is not None:
            # Workers stop before the HTTP session closes under them.
            await self._scheduler.aclose()
        close_budget = getattr(self.options.budget, "aclose", None)
        if close_budget is not None:  # a shared budget: send the last answers' feedback
            with contextlib.suppress(Exception):
                await close_budget()
        if self._client is not None:
            await self._client.__aexit__(None, None, None)
        if self._fetch_t0 is not None and self._fetch_t1 is None:
            self._fetch_t1 = time.monotonic()

    # -- monitoring -------------------------------------------------------------------------
    def _emit(self, event: Event) -> None:
        """Hand ``event`` to ``options.on_event``; a handler that raises is logged once."""
        handler = self._on_event
        if handler is None:
            return
        try:
            handler(event)
        except Exception:  # a monitor must never break the batch
            if not self._handler_failed:
                self._handler_failed = True
                log.exception(
                    "rdaplab: the on_event handler raised on a %r event; the batch goes on "
                    "(further failures of this batch's handler are not logged)",
                    event.kind,
                )

    def _on_host_event(self, kind: str, host: str, fields: dict[str, Any]) -> None:
        cls = _HOST_EVENTS.get(kind)
        if cls is None:
            return
        self._emit(cls(batch_id=self.batch_id, host=host, **fields))

    async def _watch(self, interval_s: float) -> None:
        """Every ``interval_s``: judge the alerts and send a progress event."""
        while True:
            await asyncio.sleep(interval_s)
            self._observe(finished=False)

    def _observe(self, *, finished: bool) -> None:
        """Judge the alerts (events for the ones starting or ending an episode; the active
        ones shown by the renderer), then a progress event when anything moved (the last
        one always)."""
        monitor = self._monitor
        if monitor is None:
            return
        try:
            tracker = self.tracker
            verdicts = monitor.evaluate(rows=tracker.done, cache_hits=tracker.cache_hits)
            tracker.alerts = tuple(monitor.active.values())
            if self._on_event is None:
                if verdicts and not finished:
                    tracker.tick(force=True)
                return
            for v in verdicts:
                if v.raised:
                    self._emit(
                        AlertEvent(
                            batch_id=self.batch_id,
                            name=v.name,
                            message=v.message,
                            value=v.value,
                            threshold=v.threshold,
                        )
                    )
                else:
                    self._emit(
                        AlertCleared(
                            batch_id=self.batch_id,
                            name=v.name,
                            value=v.value,
                            threshold=v.threshold,
                        )
                    )
            if verdicts and not finished:
                tracker.tick(force=True)
            moved = (tracker.done, tracker.requests)
            if finished or moved != self._last_progress:
                self._last_progress = moved
                self._emit(self._progress_event(finished=finished))
        except Exception:  # a monitor must never break the batch
            log.exception("rdaplab: batch monitoring failed")

    def _progress_event(self, *, finished: bool) -> Progress:
        snap = self.tracker.snapshot(finished=finished)
        total: int | None = snap.total if (self.total is not None or finished) else None
        percent: float | None = None
        if total is not None:
            percent = (
                min(100.0, 100.0 * snap.done / total) if total else (100.0 if finished else 0.0)
            )
        monitor = self._monitor
        return Progress(
            batch_id=self.batch_id,
            done=snap.done,
            total=total,
            percent=percent,
            rate_per_s=snap.rate_per_s,
            eta_s=snap.eta_s if total is not None else None,
            elapsed_s=snap.elapsed_s,
            ok=snap.ok,
            not_found=snap.not_found,
            errors=snap.errors,
            cache_hits=snap.cache_hits,
            requests=snap.requests,
            throttled=snap.throttled,
            hosts=snap.hosts,
            alerts=tuple(monitor.active) if monitor is not None else (),
            finished=finished,
        )

    def _finished_event(self, ended_by: BaseException | None) -> BatchFinished:
        cancelled = self._cancelled or isinstance(
            ended_by, (asyncio.CancelledError, KeyboardInterrupt)
        )
        error = None
        if ended_by is not None and not cancelled:
            error = f"{type(ended_by).__name__}: {ended_by}"
        t = self.tracker
        # A clean end has the summary's figures (requests and throttles from the attempts
        # log); otherwise the tracker's counts.
        s: dict[str, Any] = self.summary or {
            "ok": t.ok,
            "not_found": t.not_found,
            "error": t.errors,
            "requests": t.requests,
            "throttled": t.throttled,
            "cache_hit_rows": t.cache_hits,
            "elapsed_s": round(time.monotonic() - self._t0, 3),
            "stopped_early": not self.completed,
        }
        return BatchFinished(
            batch_id=self.batch_id,
            total=max(t.total, t.done),
            done=t.done,
            ok=int(s["ok"]),
            not_found=int(s["not_found"]),
            errors=int(s["error"]),
            requests=int(s["requests"]),
            throttled=int(s["throttled"]),
            cache_hits=int(s["cache_hit_rows"]),
            elapsed_s=float(s["elapsed_s"]),
            stopped_early=bool(s["stopped_early"]),
            cancelled=cancelled,
            error=error,
        )

    def _host_progress(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        if self._scheduler is None:
            return out
        for name, host in self._scheduler.hosts.items():
            stats = host.limiter.statistics()
            done, errors = self._host_done.get(name, (0, 0))
            out[name] = {
                "queued": float(host.queued),
                "in_flight": float(stats.in_flight),
                "requests": float(host.requests),
                "throttled": float(host.throttled),
                "rate_per_s": float(stats.rate_per_s or 0.0),
                "done": float(done),
                "errors": float(errors),
            }
        return out

    def _begin(self, *, total: int, unique: int) -> None:
        self.store.begin_batch(
            self.batch_id,
            started_at=self._started_at,
            total=total,
            unique=unique,
            settings={
                **self.options.settings(),
                "kind_used": self.kind,
                "column": self.column,
                **(self.mapper.settings() if self.mapper is not None else {}),
                "rdaplab": __version__,
            },
        )

    def _end(self, *, stopped_early: bool) -> None:
        counts = self._counts
        summary = counts.build(
            batch_id=self.batch_id,
            elapsed_s=time.monotonic() - self._t0,
            cache=self.store,
            attempts_of=self.batch_id,
            streamed=self.streamed,
            stopped_early=stopped_early,
        )
        fetch_s = (self._fetch_t1 or time.monotonic()) - self._fetch_t0 if self._fetch_t0 else 0.0
        add_host_learning(summary, self._scheduler, fetch_s)
        rules = self.rules
        summary["started_at"] = self._started_at.isoformat()
        summary["cache"] = str(self.store.path)
        summary["input"] = {"column": self.column, "kind": self.kind}
        mapper = self.mapper
        summary["registered_domain"] = {
            "enabled": self.options.registered_domain,
            **(mapper.settings() if mapper is not None else DomainMapper.NOT_USED),
            "mapped_rows": mapper.mapped_rows if mapper is not None else 0,
        }
        summary["privacy"] = {
            "redact_pii": rules.redact_pii,
            "privacy": rules.privacy,
            "fields": list(rules.fields) if rules.fields is not None else None,
            "retention_s": rules.retention_s,
        }
        self._begin(total=counts.rows, unique=counts.unique)  # the final row counts
        finished_at = datetime.now(timezone.utc)
        # what rdaplab.snapshot(cache, batch_id) rebuilds: this batch, as of its end
        summary["snapshot"] = {"batch_id": self.batch_id, "as_of": finished_at.isoformat()}
        self.store.end_batch(self.batch_id, finished_at=finished_at, summary=summary)
        rules.record(
            self.store,
            self.batch_id,
            ran_at=self._started_at,
            objects=counts.objects or {"domain": 0},
            finished_at=finished_at,
        )
        self.summary = summary
