"""``POST /batch-lookup``: a batch whose rows are sent as they complete (NDJSON or SSE).

The request names the values (a JSON object ``{"names": [...], ...options}`` or a
``text/plain`` body of one value per line, options then in the query string); the batch
runs as :func:`rdaplab.stream` on the service's open cache and every stream batch (each
half second) is written at once: one ``row`` record per finished input row, then one
``progress`` record; the last record is the ``summary``. A client that closes its
connection cancels the handler (``handler_cancellation``), which cancels the batch: what
arrived is in the cache, nothing more is sent to the registries.

Batch-lookups run one at a time and, while one runs, the worker runs no job
(``worker.hold()``): each registry host is paced by one scheduler at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar, cast

import msgspec
import polars as pl
from aiohttp import web

from rdaplab.batch import StreamBatch, StreamOptions, stream
from rdaplab.engine.windows import parse_duration_s
from rdaplab.errors import InputError, RdapLabError
from rdaplab.service.state import STATE, LookupProgress, ServiceState

__all__ = ["LOOKUP_OPTIONS", "batch_lookup", "parse_options"]

T = TypeVar("T")

log = logging.getLogger("rdaplab")

NDJSON = "application/x-ndjson"
SSE = "text/event-stream"
BATCH_INTERVAL_S = 0.5  # a stream batch (rows + a progress record) at least this often
HEARTBEAT_S = 15.0  # a keep-alive when nothing else was written for this long
WORKER_YIELD_S = 30.0  # how long a batch-lookup waits for the worker's job to stop

_BOOL = ("registered_domain", "psl_private", "refresh", "redact_pii", "learned_limits")
_DURATION = ("max_age", "not_found_max_age")
_TEXT = ("kind", "privacy", "purpose", "legal_basis")
#: The options a batch-lookup takes (JSON-safe fields of :class:`rdaplab.LookupOptions`).
#: Not ``retention`` (it deletes answers from the shared cache), nor limits, bootstrap or
#: timeouts (the service's).
LOOKUP_OPTIONS = (*_BOOL, *_DURATION, *_TEXT, "fields", "priority")
_ROW_FRAMES = ("domains", "networks", "autnums")


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in (
        "1",
        "true",
        "yes",
        "on",
        "0",
        "false",
        "no",
        "off",
    ):
        return value.lower() in ("1", "true", "yes", "on")
    raise InputError(f"{name} must be true or false, not {value!r}")


def parse_options(raw: dict[str, Any], *, from_query: bool = False) -> dict[str, Any]:
    """Batch options from a request (JSON values, or query-string text): checked, typed."""
    unknown = sorted(set(raw) - set(LOOKUP_OPTIONS))
    if unknown:
        raise InputError(
            f"unknown option(s) {', '.join(unknown)}; a batch-lookup takes "
            f"{', '.join(LOOKUP_OPTIONS)}"
        )
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if value is None:
            continue
        if name in _BOOL:
            out[name] = _bool(name, value)
        elif name in _DURATION:
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise InputError(f"{name} must be seconds or a duration such as 30d")
            out[name] = parse_duration_s(value)
        elif name in _TEXT:
            if not isinstance(value, str):
                raise InputError(f"{name} must be a string, not {value!r}")
            out[name] = value
        elif name == "fields":
            if from_query and isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InputError("fields must be a list of column names")
            out[name] = value
        elif name == "priority":
            ok = isinstance(value, str) or (
                isinstance(value, dict)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
            )
            if not ok:
                raise InputError("priority must be a class name or a mapping name -> class")
            out[name] = value
    return out


async def _read_request(request: web.Request) -> tuple[list[Any], dict[str, Any]]:
    """(the values, the options) of a batch-lookup request."""
    query = {k: v for k, v in request.query.items() if k not in ("format", "token")}
    if request.content_type == "application/json":
        try:
            body = await request.json(loads=msgspec.json.decode)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"the body is not valid JSON: {exc}") from None
        if isinstance(body, list):
            body = {"names": body}
        if not isinstance(body, dict):
            raise InputError('the JSON body must be an object {"names": [...], ...options}')
        body = dict(body)
        names = body.pop("names", None)
        if not isinstance(names, list):
            raise InputError('the JSON body needs "names": a list of values')
        for value in names:
            if isinstance(value, dict | list):
                raise InputError(f"a value must be a string or a number, not {value!r}")
        return names, parse_options({**body, **query}, from_query=bool(query))
    text = await request.text()
    names = [line.strip() for line in text.splitlines() if line.strip()]
    return names, parse_options(query, from_query=True)


def wants_sse(request: web.Request) -> bool:
    fmt = request.query.get("format")
    if fmt is not None:
        if fmt not in ("ndjson", "sse"):
            raise InputError(f"format must be ndjson or sse, not {fmt!r}")
        return fmt == "sse"
    return SSE in request.headers.get("Accept", "")


class _Writer:
    """Writes records as NDJSON lines or SSE events; remembers when it last wrote."""

    def __init__(self, response: web.StreamResponse, sse: bool) -> None:
        self.response = response
        self.sse = sse
        self.last = time.monotonic()

    def encode(self, record: dict[str, Any]) -> bytes:
        data = msgspec.json.encode(record, enc_hook=str)
        if self.sse:
            return b"event: " + record["type"].encode() + b"\ndata: " + data + b"\n\n"
        return data + b"\n"

    async def write(self, records: list[dict[str, Any]]) -> None:
        if records:
            await self.response.write(b"".join(self.encode(r) for r in records))
            self.last = time.monotonic()

    async def heartbeat(self, progress: dict[str, Any]) -> None:
        if self.sse:
            await self.response.write(b": keep-alive\n\n")
            self.last = time.monotonic()
        else:
            await self.write([progress])


async def _pump(task: asyncio.Future[T], beat: Callable[[], Awaitable[None]]) -> T:
    """Wait for ``task``, calling ``beat`` every HEARTBEAT_S meanwhile."""
    while True:
        done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_S)
        if done:
            return task.result()
        await beat()


async def _next(it: AsyncIterator[T], beat: Callable[[], Awaitable[None]]) -> T | None:
    """The next item of ``it`` (None at its end), with heartbeats; cancelling the caller
    cancels the pending step, which ends the generator."""
    step: asyncio.Future[T] = asyncio.ensure_future(it.__anext__())
    try:
        return await _pump(step, beat)
    except StopAsyncIteration:
        return None
    finally:
        if not step.done():
            step.cancel()
            await asyncio.gather(step, return_exceptions=True)


def _row_records(batch: StreamBatch) -> Iterator[dict[str, Any]]:
    """One record per input row of the batch, in row order: its domains, networks or
    autnums row, else its queries row (entities, nameservers)."""
    records: list[tuple[int, dict[str, Any]]] = []
    seen: set[int] = set()
    frames: list[tuple[str, pl.DataFrame]] = [(n, getattr(batch, n)) for n in _ROW_FRAMES]
    for name, frame in frames:
        for rec in frame.to_dicts():
            seen.add(rec["row"])
            records.append((rec["row"], _record(name, rec)))
    queries = batch.queries
    if seen and queries.height:
        queries = queries.filter(~pl.col("row").is_in(sorted(seen)))
    for rec in queries.to_dicts():
        records.append((rec["row"], _record("queries", rec)))
    records.sort(key=lambda item: item[0])
    return (rec for _, rec in records)


def _record(frame: str, fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "row", "row": fields.pop("row"), "frame": frame}
    for key, value in fields.items():
        # networks' and autnums' own "type" column would shadow the record's type
        out["object_type" if key in ("type", "frame") else key] = value
    return out


def _progress(batch: StreamBatch | None, total: int, t0: float) -> dict[str, Any]:
    if batch is None:
        return {
            "type": "progress",
            "done": 0,
            "total": total,
            "percent": 0.0 if total else 100.0,
            "rate_per_s": 0.0,
            "eta_s": None,
            "elapsed_s": round(time.monotonic() - t0, 3),
        }
    percent = 100.0 * batch.done / total if total else 100.0
    return {
        "type": "progress",
        "done": batch.done,
        "total": total,
        "percent": round(percent, 2),
        "rate_per_s": round(batch.rate_per_s, 3),
        "eta_s": None if batch.eta_s is None else round(batch.eta_s, 3),
        "elapsed_s": round(batch.elapsed_s, 3),
    }


@contextlib.contextmanager
def _hold(state: ServiceState) -> Iterator[None]:
    worker = state.worker
    if worker is None:
        yield
        return
    with worker.hold():
        yield


async def _worker_idle(state: ServiceState) -> None:
    """Wait (a poll interval or so) until the worker's running job has stopped."""
    worker = state.worker
    end = time.monotonic() + WORKER_YIELD_S
    while worker is not None and worker.current is not None and time.monotonic() < end:  # noqa: ASYNC110  (the worker has no event to wait on)
        await asyncio.sleep(0.05)


async def batch_lookup(request: web.Request) -> web.StreamResponse:
    """The handler of ``POST /batch-lookup`` (see the module)."""
    state = request.app[STATE]
    names, options = await _read_request(request)
    sse = wants_sse(request)
    finished: dict[str, Any] = {}

    def on_finished(event: Any) -> None:
        if getattr(event, "kind", None) == "batch_finished":
            finished.update(event.to_dict())

    extra: dict[str, Any] = {}
    if "on_event" in StreamOptions.__dataclass_fields__:
        extra["on_event"] = state.monitor.handler("batch_lookup", chain=on_finished)
    # Building the stream checks every option now: a bad one is a 400, not a broken stream.
    batches = cast(
        "AsyncGenerator[StreamBatch, None]",
        stream(
            names,
            cache=state.cache,
            bootstrap=state.bootstrap,
            limits=state.limits,
            retry=state.retry,
            progress=False,
            batch_interval_s=BATCH_INTERVAL_S,
            **extra,
            **options,
        ),
    )
    state.lookup_seq += 1
    live = LookupProgress(id=state.lookup_seq, total=len(names))
    state.lookups[live.id] = live
    ending = "cancelled"
    response = web.StreamResponse(
        headers={
            "Content-Type": f"{SSE}; charset=utf-8" if sse else NDJSON,
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # no proxy buffering: rows as they complete
        }
    )
    out = _Writer(response, sse)
    try:
        await response.prepare(request)
        t0 = time.monotonic()
        last: list[StreamBatch | None] = [None]

        async def beat() -> None:
            await out.heartbeat(_progress(last[0], len(names), t0))

        async with contextlib.aclosing(batches):
            turn = asyncio.ensure_future(state.lookup_lock.acquire())
            try:
                await _pump(turn, beat)
            except BaseException:
                if turn.done() and not turn.cancelled() and turn.exception() is None:
                    state.lookup_lock.release()
                turn.cancel()
                raise
            try:
                with _hold(state):
                    await _worker_idle(state)
                    live.waiting = False
                    t0 = time.monotonic()
                    ending = await _run(state, batches, out, live, last, beat, finished, t0)
            finally:
                state.lookup_lock.release()
        await response.write_eof()
    except ConnectionError:  # the client went away as we wrote: the batch is closed
        ending = "cancelled"
    except Exception as exc:  # the response has started: say so in it, then end it
        log.exception("rdaplab service: a batch-lookup failed")
        ending = "failed"
        with contextlib.suppress(Exception):
            await response.write(
                out.encode({"type": "error", "error": f"{type(exc).__name__}: {exc}"})
            )
            await response.write_eof()
    finally:
        state.lookups.pop(live.id, None)
        state.lookup_endings[ending] += 1
    return response


async def _run(
    state: ServiceState,
    batches: AsyncIterator[StreamBatch],
    out: _Writer,
    live: LookupProgress,
    last: list[StreamBatch | None],
    beat: Callable[[], Awaitable[None]],
    finished: dict[str, Any],
    t0: float,
) -> str:
    counts: Counter[tuple[str, str]] = Counter()
    cache_hits = 0
    batch_id = ""
    try:
        while True:
            batch = await _next(batches, beat)
            if batch is None:
                break
            last[0] = batch
            batch_id = batch.batch_id
            q = batch.queries  # fields= may have dropped error_kind or from_cache
            if "error_kind" not in q.columns:
                q = q.with_columns(error_kind=pl.lit(None, pl.String))
            for outcome, kind, n in q.group_by("outcome", "error_kind").len().iter_rows():
                counts[(str(outcome), kind or "")] += int(n)
            if "from_cache" in q.columns:
                cache_hits += int(q["from_cache"].fill_null(False).sum())
            progress = _progress(batch, live.total, t0)
            live.batch_id, live.done = batch_id, batch.done
            live.percent, live.rate_per_s, live.eta_s = (
                progress["percent"],
                progress["rate_per_s"],
                progress["eta_s"],
            )
            await out.write([*_row_records(batch), progress])
    except (RdapLabError, ValueError) as exc:  # e.g. unreadable bootstrap files
        await out.write([{"type": "error", "error": f"{type(exc).__name__}: {exc}"}])
        return "failed"
    finally:
        state.lookup_rows.update(counts)
    outcomes: Counter[str] = Counter()
    error_kinds: Counter[str] = Counter()
    for (outcome, kind), n in counts.items():
        outcomes[outcome] += n
        if outcome == "error":
            error_kinds[kind] += n
    done = sum(outcomes.values())
    summary = {
        "type": "summary",
        "done": done,
        "total": live.total,
        "ok": outcomes["ok"],
        "not_found": outcomes["not_found"],
        "errors": outcomes["error"],
        "error_kinds": dict(sorted(error_kinds.items())),
        "cache_hits": cache_hits,
        "requests": finished.get("requests"),
        "throttled": finished.get("throttled"),
        "elapsed_s": round(time.monotonic() - t0, 3),
        "batch_id": batch_id or finished.get("batch_id", ""),
    }
    await out.write([summary])
    return "done"
