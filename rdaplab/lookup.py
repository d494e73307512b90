"""One batch end to end: input -> normalize -> bootstrap -> cache -> scheduler -> frames.

``lookup_async`` is the whole pipeline; ``lookup`` runs it from synchronous code, including
a notebook cell whose event loop is already running (then the batch runs on a dedicated
event-loop thread: nest-asyncio patches the running loop instead, which is archived and
breaks on Python >= 3.12 and ipykernel >= 7, see docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl

from rdaplab._version import __version__
from rdaplab.bootstrap import Bootstrap
from rdaplab.cache import Cache
from rdaplab.client import RdapClient, Timeouts, authority
from rdaplab.errors import InputError
from rdaplab.frames import Frames, Normalized, build_frames, normalize_result
from rdaplab.inputs import read_values
from rdaplab.models import Attempt, NameResult, Response
from rdaplab.names import normalize_domains
from rdaplab.progress import ProgressTracker, Renderer, resolve_renderer
from rdaplab.scheduler import PRIORITIES, Limits, Retry, Scheduler, priority_index

log = logging.getLogger("rdaplab")

DEFAULT_MAX_AGE_S = 86_400.0  # a day: registration data changes slowly
DEFAULT_NOT_FOUND_MAX_AGE_S = 3_600.0  # names get registered: re-ask sooner
FLUSH_EVERY_S = 1.0  # a kill loses at most about this much fetched work
FLUSH_ROWS = 500
INVALID_PREFIX = "\x00invalid:"  # keys of invalid inputs never collide with real names


@dataclass
class LookupResult:
    """The normalized frames and summary of one batch.

    Attributes
    ----------
    domains
        One row per input row, in input order (schema: ``rdaplab.frames.DOMAINS_SCHEMA``).
    events, entities, nameservers, redactions
        Rows per distinct domain looked up (see docs/schemas.md).
    attempts
        Every HTTP attempt of this batch (``rdaplab.frames.ATTEMPTS_SCHEMA``).
    summary
        Totals and per-registry statistics (see docs/quickstart.md).
    """

    domains: pl.DataFrame
    events: pl.DataFrame
    entities: pl.DataFrame
    nameservers: pl.DataFrame
    redactions: pl.DataFrame
    attempts: pl.DataFrame
    summary: dict[str, Any]
    batch_id: str
    cache_path: str | None = None
    _extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"<LookupResult {s['total']:,} rows ({s['unique']:,} unique): ok {s['ok']:,}, "
            f"not_found {s['not_found']:,}, error {s['error']:,}; requests {s['requests']:,}, "
            f"cache hits {s['cache_hits']:,}, {s['elapsed_s']:.1f}s>"
        )

    def write(self, path: str | Path) -> Path:
        """Write the ``domains`` frame as Parquet, CSV or JSON, chosen by the extension."""
        return write_frame(self.domains, path)


OUTPUT_SUFFIXES = (".parquet", ".pq", ".csv", ".json", ".ndjson", ".jsonl")


def check_output_path(path: str | Path) -> Path:
    """Raise :class:`InputError` for an output path rdaplab cannot write, before any work."""
    path = Path(path)
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise InputError(
            f"cannot write {path}: unknown format {path.suffix or '(no extension)'!r}; "
            "use .parquet, .csv, .json or .ndjson"
        )
    if not path.parent.exists():
        raise InputError(f"cannot write {path}: folder {path.parent} does not exist")
    return path


def write_frame(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write a frame as Parquet, CSV (lists joined by spaces), JSON or NDJSON."""
    path = check_output_path(path)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        frame.write_parquet(path)
    elif suffix == ".csv":
        # CSV has no lists: join them so the file stays one row per name.
        flat = frame.with_columns(
            pl.col(c).list.join(" ") for c, t in frame.schema.items() if isinstance(t, pl.List)
        )
        flat.write_csv(path)
    elif suffix == ".json":
        frame.write_json(path)
    else:
        frame.write_ndjson(path)
    return path


def _seconds(value: float | timedelta | None, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


class _CacheWriter:
    """Buffers answers and attempts and commits them in small bulk transactions.

    Adding never writes (workers must not fail because the disk did); the flusher task
    commits every ``FLUSH_EVERY_S`` or sooner when ``FLUSH_ROWS`` are waiting. A failed
    commit keeps its rows buffered and ends the flusher with the error, which ends the batch.
    """

    def __init__(self, cache: Cache, *, threaded: bool = True) -> None:
        self.cache = cache
        self.threaded = threaded
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self.responses: list[Response] = []
        self.attempts: list[Attempt] = []
        self._wake = asyncio.Event()

    def add_attempt(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)
        self._check_size()

    def add_responses(self, responses: Sequence[Response]) -> None:
        self.responses.extend(responses)
        self._check_size()

    def _check_size(self) -> None:
        if len(self.responses) + len(self.attempts) >= FLUSH_ROWS:
            self._wake.set()

    def flush(self) -> None:
        """Commit everything buffered, now, from this thread."""
        responses, attempts = self.responses, self.attempts
        self.responses, self.attempts = [], []
        self._write(responses, attempts)

    async def flush_async(self) -> None:
        """Commit what is buffered on a worker thread, so the event loop keeps fetching.

        DuckDB releases the GIL while it inserts, so on two cores the writes overlap the
        network work. The rows are taken out of the buffers first (new ones keep
        arriving); a write that fails puts them back, and a cancelled flush still waits
        for its write: those rows are nowhere else.
        """
        if not self.threaded:
            self.flush()
            return
        responses, attempts = self.responses, self.attempts
        if not responses and not attempts:
            return
        self.responses, self.attempts = [], []
        loop = asyncio.get_running_loop()
        # One writer thread of our own: writes stay in order, and one thread means one
        # allocator arena (a pool of threads costs ~100 MB of peak memory).
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="rdaplab-cache"
            )
        write = loop.run_in_executor(self._executor, self._write, responses, attempts)
        try:
            await asyncio.shield(write)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await write  # the error, if any, put the rows back for the final flush
            raise

    def close(self) -> None:
        """Stop the writer thread (after the last write)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _write(self, responses: list[Response], attempts: list[Attempt]) -> None:
        try:
            if responses:
                self.cache.store_responses(responses)
        except BaseException:
            self.responses[:0] = responses  # keep them, oldest first, for the next flush
            self.attempts[:0] = attempts
            raise
        try:
            if attempts:
                self.cache.store_attempts(attempts)
        except BaseException:
            self.attempts[:0] = attempts
            raise

    async def run_periodic(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=FLUSH_EVERY_S)
            self._wake.clear()
            await self.flush_async()


async def lookup_async(
    values: Any,
    *,
    column: str | None = None,
    cache: Cache | str | Path | None = None,
    bootstrap: Bootstrap | str | Path | None = None,
    bootstrap_overrides: Mapping[str, str | Sequence[str]] | None = None,
    max_age: float | timedelta | None = None,
    not_found_max_age: float | timedelta | None = None,
    refresh: bool = False,
    progress: bool | Renderer | None = None,
    limits: Limits | None = None,
    retry: Retry | None = None,
    timeouts: Timeouts | None = None,
    user_agent: str | None = None,
    priority: Any = None,
) -> LookupResult:
    """Look up domain names over RDAP; the async form of :func:`lookup` (same arguments)."""
    t0 = time.monotonic()
    started_at = datetime.now(timezone.utc)
    batch_id = uuid.uuid4().hex
    raw = read_values(values, column=column)
    boot = Bootstrap.load(bootstrap, bootstrap_overrides)
    max_age_s = 0.0 if refresh else _seconds(max_age, DEFAULT_MAX_AGE_S)
    nf_age_s = 0.0 if refresh else _seconds(not_found_max_age, DEFAULT_NOT_FOUND_MAX_AGE_S)

    # 1. Normalize every row; each distinct key is looked up once.
    normalized = normalize_domains(raw)
    rows: list[tuple[object, str]] = []
    results: dict[str, NameResult] = {}
    for value, norm in zip(raw, normalized, strict=True):
        if norm.name is None:
            key = f"{INVALID_PREFIX}{value!r}"
            if key not in results:
                results[key] = NameResult(
                    "domain",
                    key,
                    "error",
                    error_kind="invalid_query",
                    error_detail=norm.error,
                )
        else:
            key = norm.name
            if key not in results:
                results[key] = NameResult(
                    "domain", key, "error", unicode_name=norm.unicode_name, tld=norm.tld
                )
        rows.append((value, key))

    priorities = resolve_priorities(priority, values, raw, rows)

    # 2. Bootstrap: a name without an RDAP service is an error row, never a request.
    to_fetch: dict[str, str] = {}
    for key, result in results.items():
        if result.error_kind == "invalid_query":
            continue
        match = boot.domain(key)
        if match is None:
            result.error_kind = "no_rdap_service"
            result.error_detail = f"no RDAP service for .{result.tld} in the bootstrap registry"
            continue
        result.registry_url = match.base_url
        to_fetch[key] = f"{match.base_url}domain/{key}"
    unique = sum(1 for k in results if not k.startswith(INVALID_PREFIX))

    own_cache = not isinstance(cache, Cache)
    store = cache if isinstance(cache, Cache) else Cache(cache)
    tracker = ProgressTracker(len(results), resolve_renderer(progress))
    writer = _CacheWriter(store)
    failed = False
    scheduler: Scheduler | None = None
    fetch_s = 0.0
    records: dict[str, Normalized] = {}
    try:
        store.begin_batch(
            batch_id,
            started_at=started_at,
            total=len(rows),
            unique=unique,
            settings={
                "max_age_s": max_age_s,
                "not_found_max_age_s": nf_age_s,
                "refresh": refresh,
                "rdaplab": __version__,
            },
        )
        for result in results.values():
            if result.key not in to_fetch:
                tracker.add_done("error")

        # 3. One set query for everything the cache can answer.
        hits = (
            store.lookup_fresh(
                "domain", list(to_fetch), max_age_s=max_age_s, not_found_ttl_s=nf_age_s
            )
            if to_fetch and max_age_s > 0
            else {}
        )
        # One batch call: it pauses the cyclic GC, which otherwise rescans the whole heap
        # again and again while 10^5 records are built (measured: half the time).
        from rdaplab.frames import normalize_results

        cached_results = [results[key] for key in hits]
        for result in cached_results:
            _fill_from_cache(result, hits[result.key].responses)
        hits = {}  # the results hold the bodies until they are normalized
        records.update(normalize_results(cached_results))
        outcomes: dict[str, int] = {}
        for result in cached_results:
            result.responses = []  # the cache has the bodies; keep only the small record
            del to_fetch[result.key]
            outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
        for outcome, count in outcomes.items():
            tracker.add_done(outcome, count, from_cache=True)
        del cached_results

        # 4. Fetch the rest, committing answers in small batches as they arrive.
        def on_attempt(attempt: Attempt) -> None:
            tracker.add_request(throttled=attempt.throttled)
            writer.add_attempt(attempt)

        def on_done(result: NameResult) -> None:
            record = records[result.key] = normalize_result(result)
            if record.error_kind != "parse_error":
                # An answer we cannot read is not cached: the next run asks again.
                writer.add_responses(result.responses)
            result.responses = []  # the writer holds the bodies until they are committed
            tracker.add_done(record.outcome)

        if to_fetch:
            async with RdapClient(timeouts=timeouts, user_agent=user_agent) as client:
                scheduler = Scheduler(
                    client,
                    batch_id=batch_id,
                    limits=limits,
                    retry=retry,
                    on_attempt=on_attempt,
                    on_done=on_done,
                    budget_used=lambda host: store.host_requests(host, within_s=86_400.0),
                )
                tracker.hosts_source = lambda: _host_progress(scheduler)
                flusher = asyncio.create_task(writer.run_periodic())
                joiner = asyncio.create_task(scheduler.join())
                fetch_t0 = time.monotonic()
                try:
                    # Higher classes first everywhere: queues are per host and per class.
                    for key, url in to_fetch.items():
                        scheduler.submit(results[key], url, priority=priorities.get(key))
                    await asyncio.wait({joiner, flusher}, return_when=asyncio.FIRST_COMPLETED)
                    if flusher.done():  # the cache could not be written: stop the batch
                        flusher.result()
                finally:
                    for task in (joiner, flusher):
                        task.cancel()
                    await asyncio.gather(joiner, flusher, return_exceptions=True)
                    await scheduler.aclose()
                    fetch_s = time.monotonic() - fetch_t0
    except BaseException:
        failed = True  # interrupted (CancelledError, KeyboardInterrupt) or broken
        raise
    finally:
        try:
            writer.flush()  # whatever arrived is kept, even when interrupted
        except Exception:
            if not failed:
                raise
            log.exception("rdaplab: could not save the last answers to the cache")
        finally:
            writer.close()
            tracker.close()
            if failed and own_cache:
                store.close()

    # 5. Frames and summary.
    try:
        frames = build_frames(rows, results, records)
        attempts = store.attempts(batch_id)
        elapsed = time.monotonic() - t0
        summary = summarize(frames, attempts, results, batch_id=batch_id, elapsed_s=elapsed)
        _add_host_learning(summary, scheduler, fetch_s)
        summary["unique"] = unique
        summary["started_at"] = started_at.isoformat()
        summary["cache"] = str(store.path)
        store.end_batch(batch_id, finished_at=datetime.now(timezone.utc), summary=summary)
        cache_path = str(store.path)
    finally:
        if own_cache:
            store.close()
    return LookupResult(
        domains=frames.domains,
        events=frames.events,
        entities=frames.entities,
        nameservers=frames.nameservers,
        redactions=frames.redactions,
        attempts=attempts,
        summary=summary,
        batch_id=batch_id,
        cache_path=cache_path,
    )


def _fill_from_cache(result: NameResult, responses: list[Response]) -> None:
    registry = responses[0]
    result.from_cache = True
    result.responses = responses  # the caller's list (lookup_fresh's): no copy per key
    result.http_status = registry.status
    result.fetched_at = registry.fetched_at
    result.latency_ms = sum(r.latency_ms for r in responses)
    result.outcome = "ok" if 200 <= registry.status < 300 else "not_found"
    result.error_kind = None
    result.referral_status = registry.referral_status
    if len(responses) > 1:
        result.registrar_url = responses[-1].url


def _host_progress(scheduler: Scheduler) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, host in scheduler.hosts.items():
        stats = host.limiter.statistics()
        out[name] = {
            "queued": float(host.queued),
            "in_flight": float(stats.in_flight),
            "requests": float(host.requests),
            "throttled": float(host.throttled),
            "rate_per_s": float(stats.rate_per_s or 0.0),
        }
    return out


def resolve_priorities(
    priority: Any, values: Any, raw: Sequence[Any], rows: Sequence[tuple[object, str]]
) -> dict[str, int]:
    """Map each distinct key to a priority class index (the highest among its rows).

    ``priority`` may be ``None`` (all ``normal``), a class name for every row, the name of
    a column of the input frame or file, a sequence or Series with one class per input
    row, a mapping ``name -> class`` or a function ``name -> class`` (called with the
    normalized name; unknown names default to ``normal``).
    """
    if priority is None:
        return {}
    per_row: list[Any]
    if isinstance(priority, str):
        try:
            index = priority_index(priority)
        except ValueError:
            per_row = _priority_column(values, priority)
        else:
            return {key: index for _, key in rows}
    elif callable(priority):
        per_row = []
        for _, key in rows:
            try:
                per_row.append(None if key.startswith(INVALID_PREFIX) else priority(key))
            except Exception as exc:  # the user's function: say which name broke it
                raise InputError(f"priority function failed for {key!r}: {exc!r}") from None
    elif isinstance(priority, Mapping):
        per_row = [priority.get(key, priority.get(str(value))) for value, key in rows]
    else:
        per_row = list(priority)
    if len(per_row) != len(rows):
        raise InputError(
            f"priority has {len(per_row):,} values for {len(rows):,} input rows; "
            "give one class per row, a column name, a mapping or a function"
        )
    out: dict[str, int] = {}
    for (_, key), cls in zip(rows, per_row, strict=True):
        try:
            index = priority_index(cls)
        except ValueError as exc:
            raise InputError(f"priority for {key!r}: {exc}") from None
        out[key] = min(out.get(key, index), index)
    return out


def _priority_column(values: Any, column: str) -> list[Any]:
    if isinstance(values, (pl.DataFrame, pl.LazyFrame, str, Path)) or hasattr(values, "columns"):
        try:
            return read_values(values, column=column)
        except InputError as exc:
            raise InputError(
                f"priority={column!r} is neither a class nor a column: {exc}"
            ) from None
    raise InputError(
        f"priority={column!r} is not one of {', '.join(PRIORITIES)} "
        "(a column name works only when the input is a frame or a file)"
    )


def _add_host_learning(
    summary: dict[str, Any], scheduler: Scheduler | None, fetch_s: float
) -> None:
    """What each host's controller learned, and the lower bound it implies for this batch.

    A host needs at least ``requests / best sustained rate`` seconds; the batch, the
    largest of those (``lower_bound_s``). ``efficiency`` compares it with the time spent
    fetching: near 1.0 means the batch ran at the registries' limits.
    """
    learned = {h["host"]: h for h in scheduler.host_statistics()} if scheduler else {}
    bound = 0.0
    for row in summary["hosts"]:
        info = learned.get(row["host"])
        if info is None:
            continue
        rate = info["learned_max_rate_per_s"]  # None: too few answers to tell
        answered = info["answered"]
        host_bound = answered / rate if rate and info["exhausted"] is None else None
        if "achieved_rate_per_s" not in row:  # the stream's summary counts no spans
            span = info["active_s"]
            row["achieved_rate_per_s"] = round(info["requests"] / span, 2) if span else None
        row.update(
            {
                "rate_per_s": info["rate_per_s"],
                "learned_max_rate_per_s": info["learned_max_rate_per_s"],
                "throttled_at_rate_per_s": info["throttled_at_rate_per_s"],
                "concurrency": info["concurrency"],
                "concurrency_ceiling": info["concurrency_ceiling"],
                "phase": info["phase"],
                "breaker": info["breaker"],
                "exhausted": info["exhausted"],
                "profile": info["profile"],
                "lower_bound_s": None if host_bound is None else round(host_bound, 3),
            }
        )
        if host_bound is not None:
            bound = max(bound, host_bound)
    summary["fetch_s"] = round(fetch_s, 3)
    summary["lower_bound_s"] = round(bound, 3)
    summary["efficiency"] = round(bound / fetch_s, 3) if fetch_s > 0 and bound > 0 else None


def summarize(
    frames: Frames,
    attempts: pl.DataFrame,
    results: Mapping[str, NameResult],
    *,
    batch_id: str,
    elapsed_s: float,
) -> dict[str, Any]:
    """The batch summary: totals by outcome and error kind, requests, cache, per registry."""
    d = frames.domains
    by_outcome = dict(d.group_by("outcome").len().iter_rows())
    kinds = d.filter(pl.col("error_kind").is_not_null()).group_by("error_kind").len()
    throttled = int(attempts["throttled"].sum()) if attempts.height else 0
    summary: dict[str, Any] = {
        "batch_id": batch_id,
        "total": d.height,
        "unique": 0,
        "ok": int(by_outcome.get("ok", 0)),
        "not_found": int(by_outcome.get("not_found", 0)),
        "error": int(by_outcome.get("error", 0)),
        "error_kinds": {k: int(n) for k, n in sorted(kinds.iter_rows())},
        "requests": attempts.height,
        "throttled": throttled,
        "cache_hits": sum(1 for r in results.values() if r.from_cache),
        "cache_hit_rows": int(d["from_cache"].sum()),
        "elapsed_s": round(elapsed_s, 3),
        "registries": _per_registry(d, attempts),
        "hosts": _per_host(attempts),
    }
    return summary


def _per_registry(domains: pl.DataFrame, attempts: pl.DataFrame) -> list[dict[str, Any]]:
    """Per registry base URL: names, outcomes, and the attempts sent to that registry.

    Attempts are attributed by URL prefix, not by host: registries can share a host
    (``rdap.verisign.com/com/v1/`` and ``/net/v1/``), and referrals to a registrar are
    not the registry's requests (they are in ``hosts``).
    """
    looked_up = domains.filter(pl.col("registry_url").is_not_null()).unique("domain")
    names = looked_up.group_by("registry_url").agg(
        names=pl.len(),
        ok=(pl.col("outcome") == "ok").sum(),
        not_found=(pl.col("outcome") == "not_found").sum(),
        error=(pl.col("outcome") == "error").sum(),
        from_cache=pl.col("from_cache").sum(),
    )
    sent = attempts.join(
        looked_up.select("domain", "registry_url"), left_on="query", right_on="domain"
    ).filter(pl.col("url").str.starts_with(pl.col("registry_url")))
    per_registry = sent.group_by("registry_url").agg(
        host=pl.col("host").first(),
        requests=pl.len(),
        throttled=pl.col("throttled").sum(),
        latency_ms_p50=pl.col("latency_ms").quantile(0.5),
        latency_ms_p90=pl.col("latency_ms").quantile(0.9),
        latency_ms_p99=pl.col("latency_ms").quantile(0.99),
        span_s=(pl.col("started_at").max() - pl.col("started_at").min()).dt.total_microseconds()
        / 1e6,
    )
    joined = names.join(per_registry, on="registry_url", how="left")
    out = []
    for row in joined.sort("names", "registry_url", descending=[True, False]).iter_rows(named=True):
        requests = int(row["requests"] or 0)
        out.append(
            {
                "registry_url": row["registry_url"],
                "host": row["host"] or authority(row["registry_url"]),
                "names": int(row["names"]),
                "ok": int(row["ok"]),
                "not_found": int(row["not_found"]),
                "error": int(row["error"]),
                "from_cache": int(row["from_cache"]),
                "requests": requests,
                "throttled": int(row["throttled"] or 0),
                "latency_ms_p50": _round(row["latency_ms_p50"]),
                "latency_ms_p90": _round(row["latency_ms_p90"]),
                "latency_ms_p99": _round(row["latency_ms_p99"]),
                "achieved_rate_per_s": (
                    round(requests / row["span_s"], 2) if row["span_s"] else None
                ),
            }
        )
    return out


def _per_host(attempts: pl.DataFrame) -> list[dict[str, Any]]:
    """Every host asked in this batch (registries and referral targets alike)."""
    if attempts.height == 0:
        return []
    per_host = (
        attempts.group_by("host")
        .agg(
            requests=pl.len(),
            throttled=pl.col("throttled").sum(),
            errors=pl.col("error_kind").is_not_null().sum(),
            latency_ms_p50=pl.col("latency_ms").quantile(0.5),
            latency_ms_p90=pl.col("latency_ms").quantile(0.9),
            latency_ms_p99=pl.col("latency_ms").quantile(0.99),
            span_s=(pl.col("started_at").max() - pl.col("started_at").min()).dt.total_microseconds()
            / 1e6,
        )
        .sort("requests", descending=True)
    )
    return [
        {
            "host": row["host"],
            "requests": int(row["requests"]),
            "throttled": int(row["throttled"]),
            "errors": int(row["errors"]),
            "latency_ms_p50": _round(row["latency_ms_p50"]),
            "latency_ms_p90": _round(row["latency_ms_p90"]),
            "latency_ms_p99": _round(row["latency_ms_p99"]),
            "achieved_rate_per_s": (
                round(row["requests"] / row["span_s"], 2) if row["span_s"] else None
            ),
            "throttled_share": round(int(row["throttled"]) / int(row["requests"]), 4),
        }
        for row in per_host.iter_rows(named=True)
    ]


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


def lookup(values: Any, **kwargs: Any) -> LookupResult:
    """Look up domain names over RDAP and return normalized frames.

    Works in scripts and inside a running event loop (a Jupyter cell): there the batch
    runs on a dedicated event-loop thread while the cell waits.

    Parameters
    ----------
    values
        A Polars Series/DataFrame/LazyFrame, a pandas Series, a list of names, or a path to
        a CSV, Parquet or text file.
    column
        Column holding the names, for frames and tabular files (default ``domain``).
    cache
        A :class:`~rdaplab.cache.Cache`, a file path, ``":memory:"``, or ``None`` for the
        default file in the user's cache directory.
    bootstrap
        A :class:`~rdaplab.bootstrap.Bootstrap`, a directory of IANA bootstrap files, or
        ``None`` for the bundled snapshot.
    bootstrap_overrides
        ``{tld: url}`` for TLDs missing from IANA's registry (merged on top, warning when
        one shadows IANA).
    max_age, not_found_max_age
        Seconds (or ``timedelta``) a cached answer / not-found answer stays fresh.
    refresh
        Ignore cached answers (they are still stored).
    progress
        ``None``: a text line on a terminal; ``False``: silent; ``True``; or a callable
        receiving :class:`~rdaplab.progress.ProgressSnapshot` objects.
    limits, retry, timeouts, user_agent
        Politeness limits, retry settings, HTTP timeouts and the User-Agent.

    Returns
    -------
    LookupResult

    Examples
    --------
    >>> import rdaplab
    >>> result = rdaplab.lookup(["example.com", "nic.fr"])  # doctest: +SKIP
    >>> result.domains.select("domain", "outcome", "registrar")  # doctest: +SKIP
    """
    coro_factory = lambda: lookup_async(values, **kwargs)  # noqa: E731
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro_factory())
    return _run_on_loop_thread(coro_factory)


def _run_on_loop_thread(coro_factory: Any) -> LookupResult:
    """Run a batch on a private event-loop thread; Ctrl-C/interrupt cancels it cleanly."""
    loop = asyncio.new_event_loop()
    future: concurrent.futures.Future[LookupResult] = concurrent.futures.Future()
    task_holder: list[asyncio.Task[LookupResult]] = []

    def runner() -> None:
        asyncio.set_event_loop(loop)

        async def main() -> LookupResult:
            task = asyncio.current_task()
            assert task is not None
            task_holder.append(task)
            return await coro_factory()

        try:
            future.set_result(loop.run_until_complete(main()))
        except BaseException as exc:  # delivered to the waiting thread
            future.set_exception(exc)
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=runner, name="rdaplab-batch", daemon=True)
    thread.start()
    try:
        while True:
            try:
                result = future.result(timeout=0.1)  # short waits keep Ctrl-C responsive
            except concurrent.futures.TimeoutError:
                continue
            thread.join()  # the loop is closed: leave no thread behind
            return result
    except KeyboardInterrupt:
        if task_holder:
            loop.call_soon_threadsafe(task_holder[0].cancel)
        thread.join()
        log.warning("rdaplab: batch interrupted; answers received so far are in the cache")
        raise
