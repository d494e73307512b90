"""The worker: runs a cache's queued jobs, one at a time, highest priority first.

``rdaplab worker --cache PATH`` (or :meth:`Worker.run`, or the web service, which runs
one) holds the cache open and loops: pick the job it may run now, run it as a stream
(:func:`rdaplab.stream`) over the input rows no earlier run finished, write each batch of
finished rows as a Parquet part, and every ``poll_s`` seconds look at the ledger: a
pause or cancel request, the end of the job's window, its deadline, or a job of higher
priority stops the run at once (what was fetched is in the cache; rows finished since
the last part are answered from the cache by the next run).

A worker that dies leaves its job ``running`` with a stale heartbeat; the next worker
takes it over (at once when the dead worker was on the same machine, else after
``stale_after_s``), and the run starts again from the parts and the cache: a killed
worker loses at most the answers of its last second (the cache commits every second).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from rdaplab._aio import wait_event
from rdaplab.batch import StreamBatch, stream
from rdaplab.batch.events import BatchStarted, Event, EventHandler, Progress
from rdaplab.engine import authority
from rdaplab.engine.windows import Window
from rdaplab.errors import RdapLabError
from rdaplab.jobs.events import JobStateChanged
from rdaplab.jobs.job import _cache_path
from rdaplab.jobs.ledger import Ledger
from rdaplab.jobs.parts import JobFiles, PartWriter, batch_frames
from rdaplab.store import Cache

__all__ = ["Worker"]

log = logging.getLogger("rdaplab")

IDLE_POLL_S = 0.05
_ROWED = ("domains", "networks", "autnums", "queries")
_DETAIL = ("events", "entities", "nameservers", "redactions", "remarks", "links")


def _alive(worker: str | None) -> bool | None:
    """Whether the worker ``host:pid`` runs (None: on another machine, cannot tell)."""
    if not worker:
        return False
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    if int(pid) == os.getpid():
        return None  # another Worker of this process: only its heartbeat can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


@dataclass
class _Progress:
    """A job's counters: what earlier runs finished plus this run's."""

    done: int = 0
    ok: int = 0
    not_found: int = 0
    errors: int = 0
    cache_hits: int = 0
    requests_before: int = 0
    throttled_before: int = 0
    requests: int = 0
    throttled: int = 0
    hosts: dict[str, dict[str, float]] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)
    run_done: int = 0
    run_t0: float = field(default_factory=time.monotonic)

    def add(self, queries: pl.DataFrame) -> None:
        self.done += queries.height
        self.run_done += queries.height
        outcome = queries["outcome"]
        self.ok += int((outcome == "ok").sum())
        self.not_found += int((outcome == "not_found").sum())
        self.errors += int((outcome == "error").sum())
        self.cache_hits += int(queries["from_cache"].fill_null(False).sum())
        counts = queries.group_by("registry_url").agg(
            pl.len().alias("n"), (pl.col("outcome") == "error").sum().alias("e")
        )
        for url, n, e in counts.iter_rows():
            if url is None:
                continue
            host = self.hosts.setdefault(authority(url), {"done": 0.0, "errors": 0.0})
            host["done"] += n
            host["errors"] += e

    def live(self, event: Progress) -> None:
        """This run's figures from its batch's progress event: requests, throttles, and
        each host's pace, queue and requests in flight now."""
        self.requests, self.throttled = event.requests, event.throttled
        self.alerts = list(event.alerts)
        for host, figures in event.hosts.items():
            mine = self.hosts.setdefault(host, {"done": 0.0, "errors": 0.0})
            for key in ("requests", "throttled", "rate_per_s", "in_flight", "queued"):
                if key in figures:
                    mine[key] = float(figures[key])

    def fields(self, total: int | None) -> dict[str, Any]:
        elapsed = time.monotonic() - self.run_t0
        rate = self.run_done / elapsed if elapsed > 0 and self.run_done else None
        left = None if total is None else max(0, total - self.done)
        return {
            "done": self.done,
            "ok": self.ok,
            "not_found": self.not_found,
            "errors": self.errors,
            "cache_hits": self.cache_hits,
            "requests": self.requests_before + self.requests,
            "throttled": self.throttled_before + self.throttled,
            "rate_per_s": rate,
            "eta_s": left / rate if rate and left is not None else None,
            "hosts": self.hosts,
            "alerts": self.alerts,
        }


class Worker:
    """Runs the queued jobs of one cache (see the module).

    Parameters
    ----------
    cache
        The cache file (its ledger is ``<cache>.jobs/``).
    poll_s
        How often the running job's ledger row is read (pause, cancel, window, deadline,
        a job of higher priority) and its progress written.
    stale_after_s
        A ``running`` job whose worker has not written for this long (and cannot be seen
        to be alive on this machine) is taken over.
    bootstrap, limits, retry, timeouts, budget
        Passed to every job's batch (as :func:`rdaplab.lookup` takes them).
    on_event
        Receives every event of the jobs' batches (:mod:`rdaplab.batch.events`) and a
        :class:`~rdaplab.jobs.events.JobStateChanged` whenever this worker moves a job;
        called on the worker's loop: it must be quick.
    clock
        Epoch seconds now (windows and deadlines); tests may pass their own.
    """

    def __init__(
        self,
        cache: str | Path | None = None,
        *,
        poll_s: float = 0.5,
        stale_after_s: float = 30.0,
        bootstrap: Any = None,
        limits: Any = None,
        retry: Any = None,
        timeouts: Any = None,
        budget: Any = None,
        on_event: EventHandler | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cache_path = _cache_path(cache)
        self.ledger = Ledger(self.cache_path)
        self.poll_s = poll_s
        self.stale_after_s = stale_after_s
        self.batch_settings = {
            "bootstrap": bootstrap,
            "limits": limits,
            "retry": retry,
            "timeouts": timeouts,
            "budget": budget,
        }
        self.clock = clock
        self.on_event = on_event
        self.progress: Progress | None = None  # the running job's latest snapshot
        self._handler_failed = False
        self.id = f"{socket.gethostname()}:{os.getpid()}"
        self.current: str | None = None  # the job running now
        self._stop = asyncio.Event()
        self._holds = 0

    def stop(self) -> None:
        """Stop after the running job's current poll (it goes back to ``queued``)."""
        self._stop.set()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Run no job while inside (the web service's interactive batches): a running job
        is queued again within a poll interval, so each registry host is paced by one
        scheduler at a time, and carries on after the last hold ends."""
        self._holds += 1
        try:
            yield
        finally:
            self._holds -= 1

    # -- events -------------------------------------------------------------------------------
    def _emit(self, event: Event) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception:  # a monitor's bug must not stop the jobs
            if not self._handler_failed:
                self._handler_failed = True
                log.exception("rdaplab: the worker's on_event handler raised (logged once)")

    def _transition(
        self,
        row: dict[str, Any],
        state: str,
        *,
        previous: str | None = None,
        message: str | None = None,
        **fields: Any,
    ) -> bool:
        """Move a job from the state it was read in; tell ``on_event`` when it moved."""
        before = previous or row["state"]
        moved = self.ledger.transition(
            row["id"], state, expect=(before,), message=message, **fields
        )
        if moved:
            ids = row.get("batch_ids") or []
            self._emit(
                JobStateChanged(
                    batch_id=ids[-1] if ids else "",
                    job_id=row["id"],
                    name=row["name"],
                    state=state,
                    previous=before,
                    message=message,
                    done=int(row.get("done") or 0),
                    total=row.get("total"),
                )
            )
        return moved

    # -- choosing ---------------------------------------------------------------------------
    def _runnable(self, row: dict[str, Any], now: float) -> bool:
        state = row["state"]
        window = Window.parse(row["time_window"]) if row["time_window"] else None
        if window is not None and not window.is_open(now):
            return False
        if state == "queued":
            return True
        if state == "paused":
            return row["paused_by"] == "window"
        if state == "running":
            if row["worker"] == self.id:
                return False
            alive = _alive(row["worker"])
            if alive is False:
                return True
            return now - (row["heartbeat_at"] or 0.0) > self.stale_after_s
        return False

    def _expire(self, row: dict[str, Any], now: float) -> None:
        """A job not running whose deadline passed ends with what it has."""
        past = row["deadline_at"] is not None and now >= row["deadline_at"]
        if past and row["state"] in ("queued", "paused"):
            self._transition(row, "done", message="deadline reached")

    def pick(self) -> dict[str, Any] | None:
        """The job to run now (claimed for this worker), or None."""
        now = self.clock()
        rows = self.ledger.all()
        for row in rows:
            self._expire(row, now)
        candidates = [r for r in self.ledger.all() if self._runnable(r, now)]
        candidates.sort(key=lambda r: (-r["priority"], r["seq"]))
        for row in candidates:
            claimed = self._transition(
                row,
                "running",
                message="taken over from a dead worker" if row["state"] == "running" else None,
                worker=self.id,
                heartbeat_at=now,
                control=None,
                paused_by=None,
                first_started_at=row["first_started_at"] or now,
                segments=row["segments"] + 1,
            )
            if claimed:
                return self.ledger.get(row["id"])
        return None

    def _stop_reason(self, job_id: str, priority: int) -> tuple[str, str, str | None] | None:
        """(new state, message, paused_by) when the running job must stop now."""
        row = self.ledger.get(job_id)
        now = self.clock()
        if row["state"] != "running" or row["worker"] != self.id:
            return "queued", "taken by another worker", None  # not ours any more
        if row["control"] == "cancel":
            return "cancelled", "cancelled", None
        if row["control"] == "pause":
            return "paused", "paused", "user"
        if row["deadline_at"] is not None and now >= row["deadline_at"]:
            return "done", "deadline reached", None
        window = Window.parse(row["time_window"]) if row["time_window"] else None
        if window is not None and not window.is_open(now):
            opens = window.next_open(now)
            return "paused", f"outside its window {window} until {opens:%H:%M}", "window"
        if self._stop.is_set():
            return "queued", "its worker stopped", None
        if self._holds:
            return "queued", "yielded to an interactive batch", None
        for other in self.ledger.all():
            if (
                other["id"] != job_id
                and other["priority"] > priority
                and self._runnable(other, now)
            ):
                return "queued", f"preempted by job {other['id'][:12]}", None
        return None

    # -- running ----------------------------------------------------------------------------
    async def run(self, *, until_idle: bool = False, store: Cache | None = None) -> int:
        """Run jobs until :meth:`stop` (or, with ``until_idle``, until none may run now).
        Returns how many runs it made. ``store``: the cache already open in this process
        (the web service's); by default the worker opens it, and holds it while it runs.
        """
        if store is None:
            with Cache(self.cache_path) as own:
                return await self.run(until_idle=until_idle, store=own)
        runs = 0
        while not self._stop.is_set():
            row = None if self._holds else self.pick()
            if row is None:
                if until_idle:
                    break
                await wait_event(self._stop, self.poll_s)
                continue
            runs += 1
            await self.run_job(row, store)
        return runs

    async def run_job(self, row: dict[str, Any], store: Cache) -> str:
        """Run one claimed job until it ends or must stop; returns its new state."""
        job_id = row["id"]
        self.current = job_id
        try:
            return await self._run(row, store)
        except Exception as exc:
            log.exception("rdaplab: job %s failed", job_id)
            message = f"{type(exc).__name__}: {exc}"
            self._transition(self.ledger.get(job_id), "failed", message=message)
            return "failed"
        finally:
            self.current = None

    def _input(self, row: dict[str, Any], files: JobFiles, store: Cache) -> pl.DataFrame:
        if row["source"] == "stale" and not files.input.exists():
            opts = row["options"]
            values = store.stale_queries(opts["kind"], older_than_s=float(opts["max_age"]))
            total = files.create(values)
            self.ledger.update(row["id"], total=total)
            row["total"] = total
        return files.read_input()

    def _options(self, row: dict[str, Any]) -> dict[str, Any]:
        opts = dict(row["options"])
        if row["first_started_at"] is not None and row["segments"] > 1:
            # A resumed job: what its earlier runs fetched counts as fresh, however long
            # ago they ran (the cache's resume, per job).
            since_s = max(0.0, time.time() - row["first_started_at"]) + 1.0
            fresh = 0.0 if opts.pop("refresh", False) else None
            base = opts.get("max_age")
            base_s = fresh if fresh is not None else (float(base) if base is not None else 86_400.0)
            opts["max_age"] = max(base_s, since_s)
            nf = opts.get("not_found_max_age")
            nf_s = fresh if fresh is not None else (float(nf) if nf is not None else 3_600.0)
            opts["not_found_max_age"] = max(nf_s, since_s)
        return opts

    async def _run(self, row: dict[str, Any], store: Cache) -> str:
        job_id = row["id"]
        files = JobFiles(self.ledger.dir / job_id)
        inp = self._input(row, files, store)
        finished = files.finished_queries()  # what earlier runs wrote, each row once
        done_rows = finished["row"]
        progress = self._progress_from_parts(finished, row)
        todo = inp.filter(~pl.col("row").is_in(done_rows.implode())) if done_rows.len() else inp
        if todo.height == 0:
            self.ledger.update(job_id, **progress.fields(row["total"]))
            self._transition(row, "done", previous="running")
            return "done"
        rows_map = todo["row"]
        name = row["input_column"]
        values: Any = todo["value"].alias(name) if name else todo["value"].to_list()
        batch_ids: list[str] = list(row["batch_ids"] or [])
        segment: dict[str, str] = {}
        last_update = 0.0

        def started(batch_id: str) -> None:
            if not segment:
                segment["batch_id"] = batch_id
                batch_ids.append(batch_id)
                row["batch_ids"] = batch_ids
                self.ledger.update(job_id, batch_ids=batch_ids)

        parts = PartWriter(files)

        def on_batch(batch: StreamBatch) -> None:
            started(batch.batch_id)
            frames = batch_frames(batch, rows_map)
            parts.add(frames)
            progress.add(frames["queries"])

        def on_event(event: Event) -> None:
            if isinstance(event, Progress):
                progress.live(event)
                self.progress = event
            elif isinstance(event, BatchStarted):
                started(event.batch_id)
            self._emit(event)

        async def consume() -> None:
            opts = {**self._options(row), **self.batch_settings, "on_event": on_event}
            # (an async generator: aclosing cancels its lookups when the run is stopped)
            it: Any = stream(values, cache=store, progress=False, batch_interval_s=0.5, **opts)
            async with contextlib.aclosing(it) as batches:
                async for batch in batches:
                    on_batch(batch)

        task = asyncio.create_task(consume(), name=f"rdaplab-job:{job_id}")
        outcome: tuple[str, str | None, str | None] | None = None
        # An idle (warm-up) job looks every 50 ms: it must yield to any other job within
        # about one request (a ledger read costs ~1 ms).
        poll_s = min(self.poll_s, IDLE_POLL_S) if row["priority"] <= 0 else self.poll_s
        while not task.done():
            await asyncio.wait({task}, timeout=poll_s)
            now = time.monotonic()
            if now - last_update >= max(1.0, self.poll_s) or task.done():
                last_update = now
                parts.flush_if_due()
                self.ledger.update(
                    job_id, heartbeat_at=self.clock(), **progress.fields(row["total"])
                )
            if task.done():
                break
            reason = self._stop_reason(job_id, row["priority"])
            if reason is not None:
                outcome = reason
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                break
        try:
            if outcome is None:
                task.result()  # an error in the batch fails the job (run_job records it)
                outcome = ("done", None, None)
        finally:
            self.progress = None
            parts.flush()  # every row this run handed over, whatever stopped it
            files.compact()  # the small parts of this run into one
        state, message, paused_by = outcome
        self._count_requests(store, segment.get("batch_id"), progress)
        self._save_segment(store, files, segment.get("batch_id"))
        self.ledger.update(
            job_id, **{**progress.fields(row["total"]), "rate_per_s": None, "eta_s": None}
        )
        if state == "queued" and message == "taken by another worker":
            return "queued"
        self._transition(
            row, state, previous="running", message=message, paused_by=paused_by, control=None
        )
        return state

    def _progress_from_parts(self, finished: pl.DataFrame, row: dict[str, Any]) -> _Progress:
        progress = _Progress(
            requests_before=row["requests"] or 0, throttled_before=row["throttled"] or 0
        )
        if finished.height:
            progress.add(finished)
        progress.run_done = 0
        progress.run_t0 = time.monotonic()
        return progress

    def _count_requests(self, store: Cache, batch_id: str | None, progress: _Progress) -> None:
        if batch_id is None:
            return
        try:
            per_host = store.attempt_counts(batch_id)
        except RdapLabError:  # the cache is busy or broken: the next poll will tell
            return
        progress.requests = sum(r for r, _ in per_host.values())
        progress.throttled = sum(t for _, t in per_host.values())
        for host, (requests, throttled) in per_host.items():
            figures = progress.hosts.setdefault(host, {"done": 0.0, "errors": 0.0})
            figures["requests"] = float(requests)
            figures["throttled"] = float(throttled)

    def _save_segment(self, store: Cache, files: JobFiles, batch_id: str | None) -> None:
        if batch_id is None:
            return
        row = store.batch(batch_id)
        summary = None
        if row is not None and row.get("summary"):
            summary = json.loads(row["summary"])
        files.write_segment(batch_id, summary, store.attempts(batch_id))
