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
import time
import uuid
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl

from rdaplab._version import __version__
from rdaplab.batch.background import BackgroundRun
from rdaplab.batch.inputs import read_values
from rdaplab.batch.privacy import PrivacySettings
from rdaplab.batch.progress import ProgressSnapshot, ProgressTracker, Renderer, resolve_renderer
from rdaplab.engine import (
    PRIORITIES,
    Limits,
    RdapClient,
    Retry,
    Scheduler,
    Timeouts,
    authority,
    priority_index,
)
from rdaplab.errors import BatchInterrupted, InputError
from rdaplab.frames import (
    AUTNUMS_SCHEMA,
    LINKS_SCHEMA,
    NETWORKS_SCHEMA,
    QUERIES_SCHEMA,
    REMARKS_SCHEMA,
    Frames,
    Normalized,
    build_frames,
    empty,
    normalize_result,
    queries_from_domains,
)
from rdaplab.models import Attempt, NameResult, Response
from rdaplab.rdap import (
    KINDS,
    Bootstrap,
    detect_kind,
    normalize_domains,
    normalize_queries,
    normalize_query,
)
from rdaplab.store import Cache

log = logging.getLogger("rdaplab")

DEFAULT_MAX_AGE_S = 86_400.0  # a day: registration data changes slowly
DEFAULT_NOT_FOUND_MAX_AGE_S = 3_600.0  # names get registered: re-ask sooner
FLUSH_EVERY_S = 1.0  # a kill loses at most about this much fetched work
FLUSH_ROWS = 500
INVALID_PREFIX = "\x00invalid:"  # keys of invalid inputs never collide with real names
# The RDAP path segment of each kind (RFC 9082 §3.1).
_PATH_SEGMENT = {
    "domain": "domain/",
    "ip": "ip/",
    "asn": "autnum/",
    "entity": "entity/",
    "nameserver": "nameserver/",
}


@dataclass
class LookupResult:
    """The normalized frames and summary of one batch.

    Attributes
    ----------
    domains
        One row per domain input row, in input order (``rdaplab.frames.DOMAINS_SCHEMA``).
    events, entities, nameservers, redactions
        Rows per distinct object looked up, keyed by ``query_kind`` and ``key`` (and
        ``domain`` for domains); see docs/schemas.md.
    attempts
        Every HTTP attempt of this batch (``rdaplab.frames.ATTEMPTS_SCHEMA``).
    summary
        Totals and per-registry statistics (see docs/quickstart.md).
    networks, autnums
        One row per IP / ASN input row, in input order (``NETWORKS_SCHEMA``,
        ``AUTNUMS_SCHEMA``; see docs/objects.md).
    remarks, links
        The remarks and links of IP network, autnum, entity and nameserver objects.
    queries
        One row per input row of every kind: what happened to it (``QUERIES_SCHEMA``).
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
    networks: pl.DataFrame = field(default_factory=lambda: empty(NETWORKS_SCHEMA))
    autnums: pl.DataFrame = field(default_factory=lambda: empty(AUTNUMS_SCHEMA))
    # remarks/links of the other kinds; domain rows are added on first read (see remarks)
    object_remarks: pl.DataFrame = field(default_factory=lambda: empty(REMARKS_SCHEMA), repr=False)
    object_links: pl.DataFrame = field(default_factory=lambda: empty(LINKS_SCHEMA), repr=False)
    queries: pl.DataFrame = field(default_factory=lambda: empty(QUERIES_SCHEMA))
    _extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"<LookupResult {s['total']:,} rows ({s['unique']:,} unique): ok {s['ok']:,}, "
            f"not_found {s['not_found']:,}, error {s['error']:,}; requests {s['requests']:,}, "
            f"cache hits {s['cache_hits']:,}, {s['elapsed_s']:.1f}s>"
        )

    @property
    def remarks(self) -> pl.DataFrame:
        """``remarks`` of every object (``REMARKS_SCHEMA``); see :attr:`links`."""
        return self._details()[0]

    @property
    def links(self) -> pl.DataFrame:
        """``links`` of every object (``LINKS_SCHEMA``).

        Rows of IP networks, autnums, entities and nameservers are built with the batch;
        rows of domains the first time this (or :attr:`remarks`) is read, from the cached
        bodies (the domain fast path skips them to keep normalization fast). Without the
        cache file (gone, or in use by another process) only the other kinds' rows are
        there, with a warning.
        """
        return self._details()[1]

    def _details(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        got = self._extra.get("details")
        if got is None:
            got = self._extra["details"] = _with_domain_details(self)
        return got

    def write(self, path: str | Path, frame: str = "auto") -> Path:
        """Write one frame as Parquet, CSV or JSON, chosen by the extension.

        ``frame="auto"`` writes ``domains`` when every row is a domain (or there are no
        rows), ``networks`` / ``autnums`` when every row is an IP / ASN, else ``queries``
        (one row per input row of every kind). Any frame can be named instead.
        """
        return write_frame(getattr(self, self._frame_name(frame)), path)

    def _frame_name(self, frame: str = "auto") -> str:
        names = ("domains", "networks", "autnums", "queries", "events", "entities",
                 "nameservers", "redactions", "remarks", "links", "attempts")  # fmt: skip
        if frame != "auto":
            if frame not in names:
                raise InputError(f"no frame {frame!r}; choose from {', '.join(names)}")
            return frame
        kinds = set(self.summary.get("kinds") or {})
        if kinds <= {"domain"}:
            return "domains"
        if kinds == {"ip"}:
            return "networks"
        if kinds == {"asn"}:
            return "autnums"
        return "queries"

    @property
    def charts(self) -> Any:
        """Altair charts of this batch: ``result.charts.latency()``, ... (see docs/charts.md).

        Needs the notebook extra: ``pip install 'rdaplab[notebook]'``.
        """
        from rdaplab.notebook.charts import ResultCharts

        return ResultCharts(self)

    def report(self, path: str | Path, **kwargs: Any) -> Path:
        """Write a self-contained HTML report (tables and charts) that opens offline.

        Keyword arguments go to :func:`rdaplab.report.write_report` (``title``,
        ``images=("png", "svg")``). See docs/report.md.
        """
        from rdaplab.notebook.report import write_report

        return write_report(self, path, **kwargs)

    def _repr_html_(self) -> str:
        # A notebook shows the summary line and the first rows, not a wall of columns.
        import html

        first = self.domains if self.domains.height or not self.queries.height else self.queries
        head = first.head(5)._repr_html_()
        return f"<p><code>{html.escape(repr(self))}</code></p>{head}"


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
    redact_pii: bool = True,
    fields: Sequence[str] | None = None,
    privacy: str = "default",
    retention: float | timedelta | None = None,
    purpose: str | None = None,
    legal_basis: str | None = None,
    kind: str = "auto",
) -> LookupResult:
    """Look up names, IPs, ASNs, entities or nameservers over RDAP; the async form of
    :func:`lookup` (same arguments)."""
    return await _lookup(
        values,
        _Live(),
        kind=kind,
        redact_pii=redact_pii,
        fields=fields,
        privacy=privacy,
        retention=retention,
        purpose=purpose,
        legal_basis=legal_basis,
        column=column,
        cache=cache,
        bootstrap=bootstrap,
        bootstrap_overrides=bootstrap_overrides,
        max_age=max_age,
        not_found_max_age=not_found_max_age,
        refresh=refresh,
        progress=progress,
        limits=limits,
        retry=retry,
        timeouts=timeouts,
        user_agent=user_agent,
        priority=priority,
    )


@dataclass
class _Live:
    """What a running batch shares with its :class:`Batch` handle (read from other threads).

    Filled in as the batch goes; readers copy the dicts (one C-level copy under the GIL).
    """

    rows: list[tuple[object, str]] | None = None
    results: dict[str, NameResult] | None = None
    records: dict[str, Normalized] = field(default_factory=dict)
    prefinished: frozenset[str] = frozenset()  # invalid / no-service keys: done at once
    tracker: ProgressTracker | None = None
    cache_path: str | None = None
    renderer: Renderer | None = None
    use_renderer: bool = False  # the handle resolved the renderer: use it as given
    rules: PrivacySettings | None = None  # redaction and minimization, as for the result


async def _lookup(
    values: Any,
    live: _Live,
    *,
    column: str | None,
    cache: Cache | str | Path | None,
    bootstrap: Bootstrap | str | Path | None,
    bootstrap_overrides: Mapping[str, str | Sequence[str]] | None,
    max_age: float | timedelta | None,
    not_found_max_age: float | timedelta | None,
    refresh: bool,
    progress: bool | Renderer | None,
    limits: Limits | None,
    retry: Retry | None,
    timeouts: Timeouts | None,
    user_agent: str | None,
    priority: Any,
    redact_pii: bool = True,
    fields: Sequence[str] | None = None,
    privacy: str = "default",
    retention: float | timedelta | None = None,
    purpose: str | None = None,
    legal_basis: str | None = None,
    kind: str = "auto",
) -> LookupResult:
    t0 = time.monotonic()
    if kind != "auto" and kind not in KINDS:
        raise InputError(f"kind must be 'auto' or one of {', '.join(KINDS)}; got {kind!r}")
    rules = PrivacySettings.from_args(
        redact_pii=redact_pii,
        fields=fields,
        privacy=privacy,
        purpose=purpose,
        legal_basis=legal_basis,
        retention=retention,
    )
    started_at = datetime.now(timezone.utc)
    batch_id = uuid.uuid4().hex
    raw = read_values(values, column=column)
    boot = Bootstrap.load(bootstrap, bootstrap_overrides)
    max_age_s = 0.0 if refresh else _seconds(max_age, DEFAULT_MAX_AGE_S)
    nf_age_s = 0.0 if refresh else _seconds(not_found_max_age, DEFAULT_NOT_FOUND_MAX_AGE_S)

    # 1. Normalize every row; each distinct key is looked up once.
    rows, results = plan_queries(raw, kind)
    priorities = resolve_priorities(priority, values, raw, rows)

    # 2. Bootstrap: a query without an RDAP service is an error row, never a request.
    to_fetch = route_queries(results, boot)
    unique = sum(1 for k in results if not k.startswith(INVALID_PREFIX))

    own_cache = not isinstance(cache, Cache)
    # retention= purges stored answers holding personal data past it, as the cache opens.
    store = cache if isinstance(cache, Cache) else Cache(cache, retention=rules.retention_s)
    if not own_cache and rules.retention_s is not None:
        store.purge_personal(older_than_s=rules.retention_s)
    renderer = live.renderer if live.use_renderer else resolve_renderer(progress)
    tracker = ProgressTracker(len(results), renderer)
    records: dict[str, Normalized] = live.records
    live.rows, live.results, live.tracker = rows, results, tracker
    live.rules = rules
    live.prefinished = frozenset(k for k in results if k not in to_fetch)
    live.cache_path = str(store.path)
    host_done: dict[str, list[int]] = {}  # registry host -> [done, errors]
    host_of: dict[str, str] = {}  # registry URL -> host, computed once
    writer = _CacheWriter(store)
    failed = False
    scheduler: Scheduler | None = None
    fetch_s = 0.0
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

        # 3. One set query per kind for everything the cache can answer.
        hits = (
            cached_lookups(store, results, to_fetch, max_age_s=max_age_s, nf_age_s=nf_age_s)
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
                rules.prepare_for_cache(result.responses)  # strict: no personal data stored
                writer.add_responses(result.responses)
            result.responses = []  # the writer holds the bodies until they are committed
            if result.registry_url:
                host = host_of.get(result.registry_url)
                if host is None:
                    host = host_of[result.registry_url] = authority(result.registry_url)
                counts = host_done.setdefault(host, [0, 0])
                counts[0] += 1
                counts[1] += record.outcome == "error"
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
                tracker.hosts_source = lambda: _host_progress(scheduler, host_done)
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
        frames = rules.apply(frames)  # after the summary, which counts the full rows
        _add_host_learning(summary, scheduler, fetch_s)
        summary["unique"] = unique
        summary["started_at"] = started_at.isoformat()
        summary["cache"] = str(store.path)
        summary["privacy"] = {
            "redact_pii": rules.redact_pii,
            "privacy": rules.privacy,
            "fields": list(rules.fields) if rules.fields is not None else None,
            "retention_s": rules.retention_s,
        }
        finished_at = datetime.now(timezone.utc)
        store.end_batch(batch_id, finished_at=finished_at, summary=summary)
        rules.record(
            store,
            batch_id,
            ran_at=started_at,
            objects=_objects_by_kind(results),
            finished_at=finished_at,
        )
        cache_path = str(store.path)
    finally:
        if own_cache:
            store.close()
    return _make_result(frames, attempts, summary, batch_id, cache_path)


def plan_queries(
    raw: Sequence[object], kind: str = "auto"
) -> tuple[list[tuple[object, str]], dict[str, NameResult]]:
    """Normalize every input value into ``(value, key)`` rows and one result per key.

    Domains are keyed by their A-label name (the fast path: a batch of domains never
    pays for kind detection beyond a shape check); the other kinds by their RDAP path
    (``ip/192.0.2.0/24``, ``autnum/15169``, ``entity/X``, ``nameserver/ns1.example``), so
    kinds never collide; invalid values by ``INVALID_PREFIX`` + their repr, with the
    kind they were taken for and the reason in ``error_detail``.
    """
    kinds = [kind] * len(raw) if kind != "auto" else _detect_kinds(raw)
    rows: list[tuple[object, str]] = []
    results: dict[str, NameResult] = {}
    domain_at = [i for i, k in enumerate(kinds) if k == "domain"]
    names = iter(normalize_domains([raw[i] for i in domain_at]) if domain_at else [])
    others = iter(
        normalize_queries([v for v, k in zip(raw, kinds, strict=True) if k != "domain"], kind)
        if len(domain_at) < len(raw)
        else []
    )
    for value, k in zip(raw, kinds, strict=True):
        if k == "domain":
            norm = next(names)
            if norm.name is None:
                key = f"{INVALID_PREFIX}{value!r}"
                if key not in results:
                    results[key] = NameResult(
                        "domain", key, "error", error_kind="invalid_query", error_detail=norm.error
                    )
            else:
                key = norm.name
                if key not in results:
                    results[key] = NameResult(
                        "domain", key, "error", unicode_name=norm.unicode_name, tld=norm.tld
                    )
        else:
            q = next(others)
            if q.path is None or q.query is None:
                key = f"{INVALID_PREFIX}{q.kind}:{value!r}"
                if key not in results:
                    results[key] = NameResult(
                        q.kind, key, "error", error_kind="invalid_query", error_detail=q.error
                    )
            else:
                key = q.path
                if key not in results:
                    tld = q.query.rsplit(".", 1)[-1] if q.kind == "nameserver" else None
                    results[key] = NameResult(
                        q.kind,
                        key,
                        "error",
                        unicode_name=q.unicode_name,
                        tld=tld,
                        query=q.query,
                    )
        rows.append((value, key))
    return rows, results


# Every value auto-detection could call an IP or an ASN matches this (a superset: ':' or
# '/' anywhere, or only digits, dots, "AS" letters and whitespace); the rest are domains.
_NOT_SURELY_DOMAIN = r"[:/]|^[\s\x1c-\x1f0-9.AaSs]+$"


def _detect_kinds(raw: Sequence[object]) -> list[str]:
    """:func:`detect_kind` of every value; all-string inputs are screened in Polars first
    (a batch of domains then costs ~10 ms per 10^5 values instead of ~100 ms)."""
    if not raw or not all(type(v) is str for v in raw):
        return [detect_kind(v) for v in raw]
    maybe = pl.Series(raw, dtype=pl.String).str.contains(_NOT_SURELY_DOMAIN)
    if not maybe.any():
        return ["domain"] * len(raw)
    return [detect_kind(v) if m else "domain" for v, m in zip(raw, maybe.to_list(), strict=True)]


def route_queries(results: Mapping[str, NameResult], boot: Bootstrap) -> dict[str, str]:
    """Key -> URL of every result the bootstrap has a service for; the others become
    ``no_rdap_service`` errors (``registry_url`` is set on the routed ones)."""
    to_fetch: dict[str, str] = {}
    for key, result in results.items():
        if result.error_kind == "invalid_query":
            continue
        kind = result.query_kind
        query = result.key if result.query is None else result.query
        if kind == "domain":
            match = boot.domain(key)
            why = f"no RDAP service for .{result.tld} in the bootstrap registry"
        elif kind == "nameserver":
            match = boot.domain(query)
            why = f"no RDAP service for .{result.tld} (nameserver {query}) in the bootstrap"
        elif kind == "ip":
            match = boot.ip(query)
            why = f"no RDAP service for {query} in the IANA IP bootstrap (ipv4.json/ipv6.json)"
        elif kind == "asn":
            match = boot.asn(int(query))
            why = f"no RDAP service for AS{query} in the IANA ASN bootstrap (asn.json)"
        else:  # entity: only handles with a registered object tag (RFC 8521) are routable
            match = boot.entity(query)
            tag = query.rpartition("-")[2] if "-" in query else None
            why = (
                f"no RDAP service for the object tag {tag!r} of {query} (object-tags.json)"
                if tag
                else f"the entity handle {query!r} has no object tag (RFC 8521): "
                "no way to tell which registry holds it"
            )
        if match is None:
            result.error_kind = "no_rdap_service"
            result.error_detail = why
            continue
        result.registry_url = match.base_url
        path = f"domain/{key}" if kind == "domain" else key
        to_fetch[key] = f"{match.base_url}{path}"
    return to_fetch


def cached_lookups(
    store: Cache,
    results: Mapping[str, NameResult],
    to_fetch: Mapping[str, str],
    *,
    max_age_s: float,
    nf_age_s: float,
) -> dict[str, Any]:
    """Fresh cached answers for the keys in ``to_fetch``, keyed like ``results``."""
    by_kind: dict[str, list[str]] = {}
    for key in to_fetch:
        by_kind.setdefault(results[key].query_kind, []).append(key)
    hits: dict[str, Any] = {}
    for kind, keys in by_kind.items():
        if kind == "domain":  # keyed by the query itself: no translation (10^5 keys)
            hits.update(
                store.lookup_fresh(kind, keys, max_age_s=max_age_s, not_found_ttl_s=nf_age_s)
            )
            continue
        key_of = {results[k].query or k: k for k in keys}
        found = store.lookup_fresh(
            kind, list(key_of), max_age_s=max_age_s, not_found_ttl_s=nf_age_s
        )
        hits.update({key_of[q]: v for q, v in found.items()})
    return hits


def _objects_by_kind(results: Mapping[str, NameResult]) -> dict[str, int]:
    """Distinct valid objects looked up, per kind (for the audit trail)."""
    out: dict[str, int] = {}
    for key, result in results.items():
        if not key.startswith(INVALID_PREFIX):
            out[result.query_kind] = out.get(result.query_kind, 0) + 1
    return out or {"domain": 0}


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


def _host_progress(
    scheduler: Scheduler, host_done: Mapping[str, list[int]]
) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, host in scheduler.hosts.items():
        stats = host.limiter.statistics()
        done, errors = host_done.get(name, (0, 0))
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
    d = frames.queries
    if d.height == 0 and frames.domains.height:  # frames built without it (stream batches)
        d = queries_from_domains(frames.domains)
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
        "kinds": {k: int(n) for k, n in sorted(d.group_by("query_kind").len().iter_rows())},
    }
    return summary


def _per_registry(queries: pl.DataFrame, attempts: pl.DataFrame) -> list[dict[str, Any]]:
    """Per registry base URL: names, outcomes, and the attempts sent to that registry.

    ``queries`` has the columns of ``rdaplab.frames.QUERIES_SCHEMA``. Attempts are
    attributed by URL prefix, not by host: registries can share a host
    (``rdap.verisign.com/com/v1/`` and ``/net/v1/``), and referrals to a registrar are
    not the registry's requests (they are in ``hosts``).
    """
    looked_up = queries.filter(pl.col("registry_url").is_not_null()).unique(["query_kind", "key"])
    names = looked_up.group_by("registry_url").agg(
        names=pl.len(),
        ok=(pl.col("outcome") == "ok").sum(),
        not_found=(pl.col("outcome") == "not_found").sum(),
        error=(pl.col("outcome") == "error").sum(),
        from_cache=pl.col("from_cache").sum(),
    )
    sent = attempts.join(
        looked_up.select("query_kind", "key", "registry_url"),
        left_on=["query_kind", "query"],
        right_on=["query_kind", "key"],
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
    runs on a dedicated event-loop thread while the cell waits, redrawing the progress
    widget (see docs/notebooks.md). :func:`start` is the same batch in the background.

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
        ``None``: a live widget in a notebook, a text line on a terminal, else silent;
        ``True``: the widget or the text line; ``False``: silent; or a callable receiving
        :class:`~rdaplab.progress.ProgressSnapshot` objects.
    limits, retry, timeouts, user_agent
        Politeness limits, retry settings, HTTP timeouts and the User-Agent.
    priority
        Dispatch order: a class, a column, a per-row sequence, a mapping or a function
        (docs/scheduler.md).
    redact_pii
        Blank the names, emails and phones of *individual* contacts in the frames
        (default True; organizations and registrars stay). ``False`` keeps them, and the
        cache's audit trail records that (docs/privacy.md).
    fields
        Keep only these columns in the frames (data minimization); join keys stay.
    privacy
        ``"strict"`` also strips personal data from raw bodies before they are cached.
    retention
        Seconds (or ``timedelta``) a cached answer holding personal data is kept; older
        ones are purged when the cache is opened.
    purpose, legal_basis
        Recorded with the batch in the cache's audit trail (``rdaplab audit``).

    Returns
    -------
    LookupResult

    Raises
    ------
    BatchInterrupted
        Ctrl-C or a notebook interrupt while the batch ran in a notebook cell: the batch
        stopped cleanly, what was fetched is cached, the finished rows are in ``.partial``.
        (In a script the interrupt arrives as a plain ``KeyboardInterrupt``, after the
        same clean stop.)

    Examples
    --------
    >>> import rdaplab
    >>> result = rdaplab.lookup(["example.com", "nic.fr"])  # doctest: +SKIP
    >>> result.domains.select("domain", "outcome", "registrar")  # doctest: +SKIP
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(lookup_async(values, **kwargs))
    # A running loop (a notebook cell): the batch gets its own loop thread while this
    # thread waits, redrawing the progress widget from here (the kernel's main thread).
    return start(values, **kwargs).result()


def start(values: Any, **kwargs: Any) -> Batch:
    """Start a lookup batch in the background and return a handle to it at once.

    Takes the same arguments as :func:`lookup`. The batch runs on its own event-loop
    thread, so the notebook stays usable: look at ``handle.partial()`` while it runs,
    then take ``handle.result()`` (or ``await handle``). In a notebook, the progress
    widget is shown below the cell and redrawn from the kernel's loop.

    Returns
    -------
    Batch

    Examples
    --------
    >>> import rdaplab
    >>> handle = rdaplab.start(["example.com", "nic.fr"])  # doctest: +SKIP
    >>> handle.partial()  # the rows finished so far  # doctest: +SKIP
    >>> result = handle.result()  # waits  # doctest: +SKIP
    """
    live = _Live()
    progress = kwargs.pop("progress", None)
    full = _lookup_kwargs(kwargs, progress)  # a misspelt argument fails here, not later
    live.renderer = resolve_renderer(progress)
    live.use_renderer = True
    _attach_to_caller(live.renderer)
    run: BackgroundRun[LookupResult] = BackgroundRun(lambda: _lookup(values, live, **full))
    return Batch(run, live)


_LOOKUP_DEFAULTS: dict[str, Any] = {
    "column": None,
    "cache": None,
    "bootstrap": None,
    "bootstrap_overrides": None,
    "max_age": None,
    "not_found_max_age": None,
    "refresh": False,
    "limits": None,
    "retry": None,
    "timeouts": None,
    "user_agent": None,
    "priority": None,
    "redact_pii": True,
    "fields": None,
    "privacy": "default",
    "retention": None,
    "purpose": None,
    "legal_basis": None,
    "kind": "auto",
}


def _lookup_kwargs(kwargs: dict[str, Any], progress: Any) -> dict[str, Any]:
    unknown = set(kwargs) - set(_LOOKUP_DEFAULTS)
    if unknown:
        raise TypeError(f"start() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
    return {**_LOOKUP_DEFAULTS, **kwargs, "progress": progress}


def _attach_to_caller(renderer: Renderer | None) -> None:
    """Let a widget renderer redraw on the caller's loop (the kernel's), if it can."""
    attach = getattr(renderer, "attach_loop", None)
    if attach is None:
        return
    with contextlib.suppress(RuntimeError):  # no loop here: the waiting thread pumps
        attach(asyncio.get_running_loop())


class Batch:
    """A lookup batch running in the background, started by :func:`start`.

    The batch keeps running whatever the notebook does meanwhile; everything it fetches
    is committed to the cache as it arrives.
    """

    def __init__(self, run: BackgroundRun[LookupResult], live: _Live) -> None:
        self._run = run
        self._live = live
        self._result: LookupResult | None = None

    def done(self) -> bool:
        """True once the batch has finished (or failed, or was cancelled)."""
        return self._run.done()

    @property
    def progress(self) -> ProgressSnapshot | None:
        """A snapshot of the counts so far (None before the batch has read its input)."""
        tracker = self._live.tracker
        return None if tracker is None else tracker.snapshot(finished=self.done())

    def partial(self) -> pl.DataFrame:
        """The ``domains`` rows finished so far, in input order (same schema as the result).

        Rows still queued or in flight are left out; once the batch is done this is the
        whole ``domains`` frame.
        """
        if self._result is not None:
            return self._result.domains
        live = self._live
        rows, results = live.rows, live.results
        if rows is None or results is None:
            from rdaplab.frames import DOMAINS_SCHEMA, empty

            return empty(DOMAINS_SCHEMA)
        records = dict(live.records)  # one atomic copy: the batch thread adds to it
        finished = live.prefinished.union(records)
        done_rows = [row for row in rows if row[1] in finished]
        frames = build_frames(done_rows, results, records)
        return (live.rules.apply(frames) if live.rules else frames).domains

    def result(self, timeout: float | None = None) -> LookupResult:
        """Wait for the batch and return its :class:`LookupResult`.

        An interrupt while waiting (Ctrl-C, the notebook's stop button) cancels the batch:
        what was fetched stays in the cache and :class:`~rdaplab.errors.BatchInterrupted`
        is raised, carrying the finished rows. Raises ``TimeoutError`` if ``timeout``
        seconds pass first (the batch goes on).
        """
        if self._result is None:
            pump = getattr(self._live.renderer, "pump", None)
            try:
                self._result = self._run.wait(timeout, pump=pump)
            except KeyboardInterrupt as exc:
                raise self._interrupted() from exc
            finally:
                if pump is not None and self._run.done():
                    pump()  # the last snapshot (the bar at its end)
        return self._result

    def cancel(self) -> None:
        """Stop the batch; what was fetched stays in the cache. ``result()`` then raises."""
        self._run.cancel()

    def __await__(self) -> Generator[Any, None, LookupResult]:
        return self._await().__await__()

    async def _await(self) -> LookupResult:
        if self._result is None:
            try:
                self._result = await self._run
            except asyncio.CancelledError:
                log.warning("%s", self._interrupted())
                raise
        return self._result

    def _interrupted(self) -> BatchInterrupted:
        live = self._live
        tracker = live.tracker
        partial = None
        with contextlib.suppress(Exception):  # best effort: the error must still surface
            partial = self.partial()
        exc = BatchInterrupted(
            done=tracker.done if tracker else 0,
            total=tracker.total if tracker else 0,
            cache_path=live.cache_path,
            partial=partial,
        )
        log.warning("rdaplab: %s", exc)
        return exc

    def __repr__(self) -> str:
        snap = self.progress
        state = "done" if self.done() else "running"
        if snap is None:
            return f"<rdaplab.Batch {state}>"
        return f"<rdaplab.Batch {state}: {snap.done:,}/{snap.total:,} names>"


RESULT_SUFFIXES = (".parquet", ".pq", ".csv", ".json", ".ndjson", ".jsonl")
CACHE_SUFFIXES = (".duckdb", ".db", ".ddb")


def load_result(
    source: str | Path | Cache, *, batch_id: str | None = None, redact_pii: bool = True
) -> LookupResult:
    """Rebuild a :class:`LookupResult` from a cache file or a saved results file.

    For reports and charts of work done earlier, without any network access.

    Parameters
    ----------
    source
        A DuckDB cache (a :class:`~rdaplab.cache.Cache` or a ``.duckdb``/``.db`` file): the
        frames hold every cached domain's newest answer, normalized again, and the
        attempts log. Or a results file written by :meth:`LookupResult.write` (``.parquet``,
        ``.csv``, ``.json``, ``.ndjson``): ``domains`` only, the other frames empty.
    batch_id
        With a cache: only the names answered in this batch and its attempts, with the
        summary the batch recorded. (Names that batch served from the cache are not
        recorded per batch; its summary still counts them.)
    redact_pii
        Blank individual contacts in the frames rebuilt from a cache (as lookups do).

    Raises
    ------
    InputError
        The file is missing, of an unknown kind, or the batch is not in the cache.

    Examples
    --------
    >>> result = rdaplab.load_result("rdaplab.duckdb")  # doctest: +SKIP
    >>> result.report("report.html")  # doctest: +SKIP
    """
    if isinstance(source, Cache):
        return _result_from_cache(source, batch_id, redact_pii)
    path = Path(source)
    if not path.exists():
        raise InputError(f"cannot load {path}: no such file")
    suffix = path.suffix.lower()
    if suffix in RESULT_SUFFIXES:
        if batch_id is not None:
            raise InputError("batch_id applies to a cache file, not to a results file")
        return _result_from_file(path)
    if suffix in CACHE_SUFFIXES or _is_duckdb_file(path):
        with Cache(path, read_only=True) as cache:
            return _result_from_cache(cache, batch_id, redact_pii)
    raise InputError(
        f"cannot load {path}: expected a DuckDB cache (.duckdb) or a results file "
        "(.parquet, .csv, .json, .ndjson)"
    )


def _is_duckdb_file(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(12)[8:12] == b"DUCK"  # DuckDB's magic bytes follow the checksum
    except OSError:
        return False


def _result_from_file(path: Path) -> LookupResult:
    from rdaplab.frames import (
        ATTEMPTS_SCHEMA,
        DOMAINS_SCHEMA,
        ENTITIES_SCHEMA,
        EVENTS_SCHEMA,
        NAMESERVERS_SCHEMA,
        REDACTIONS_SCHEMA,
        empty,
    )

    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            raw = pl.read_parquet(path)
        elif suffix == ".csv":
            raw = pl.read_csv(path, infer_schema_length=None)
        elif suffix == ".json":
            raw = pl.read_json(path)
        else:
            raw = pl.read_ndjson(path)
    except Exception as exc:  # polars raises several kinds for unreadable files
        raise InputError(f"cannot read {path}: {exc}") from exc
    missing = [c for c in ("domain", "outcome") if c not in raw.columns]
    if missing:
        raise InputError(f"{path} is not an rdaplab results file: no column {', '.join(missing)}")
    domains = _conform(raw, DOMAINS_SCHEMA)
    frames = Frames(
        domains=domains,
        events=empty(EVENTS_SCHEMA),
        entities=empty(ENTITIES_SCHEMA),
        nameservers=empty(NAMESERVERS_SCHEMA),
        redactions=empty(REDACTIONS_SCHEMA),
    )
    attempts = empty(ATTEMPTS_SCHEMA)
    summary = summarize(frames, attempts, {}, batch_id="", elapsed_s=0.0)
    summary["unique"] = domains["domain"].n_unique()
    summary["cache_hits"] = int(domains["from_cache"].sum())
    summary["source"] = str(path)
    return _make_result(frames, attempts, summary, "")


def _conform(frame: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """Give a frame read back from a file the contract's columns and dtypes."""
    exprs = []
    for name, dtype in schema.items():
        if name not in frame.columns:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
            continue
        col = pl.col(name)
        current = frame.schema[name]
        if isinstance(dtype, pl.List) and current == pl.String():
            # CSV joins lists with spaces (write_frame): split them back.
            col = pl.when(col == "").then(pl.lit([], dtype)).otherwise(col.str.split(" "))
        elif isinstance(dtype, pl.Datetime) and current == pl.String():
            col = col.str.to_datetime(time_zone="UTC", strict=False)
        exprs.append(col.cast(dtype, strict=False).alias(name))
    return frame.select(exprs)


def _make_result(
    frames: Frames,
    attempts: pl.DataFrame,
    summary: dict[str, Any],
    batch_id: str,
    cache_path: str | None = None,
) -> LookupResult:
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
        networks=frames.networks,
        autnums=frames.autnums,
        object_remarks=frames.remarks,
        object_links=frames.links,
        queries=(
            frames.queries
            if frames.queries.height or not frames.domains.height
            else queries_from_domains(frames.domains)
        ),
    )


def _with_domain_details(result: LookupResult) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(remarks, links): the domain rows, read from the cache, then the other kinds'."""
    remarks, links = result.object_remarks, result.object_links
    d = result.domains
    if d.height == 0 or not result.cache_path or result.cache_path == ":memory:":
        return remarks, links
    ok = d.filter((pl.col("outcome") == "ok") & pl.col("domain").is_not_null())["domain"]
    keys: list[str] = ok.unique(maintain_order=True).to_list()
    if not keys:
        return remarks, links
    from rdaplab.frames import domain_remarks_and_links

    try:
        if not Path(result.cache_path).is_file():
            raise FileNotFoundError(result.cache_path)
        store = Cache(result.cache_path)
        try:
            found = store.lookup_fresh(
                "domain", keys, max_age_s=float("inf"), not_found_ttl_s=float("inf")
            )
        finally:
            store.close()
    except Exception as exc:  # a convenience view: never fail the caller over it
        log.warning(
            "rdaplab: domain remarks/links not available (cache %s: %s)", result.cache_path, exc
        )
        return remarks, links
    dom_remarks, dom_links = domain_remarks_and_links(
        (k, found[k].responses) for k in keys if k in found
    )
    # fields= minimization applies to these rows too: keep the columns the batch kept
    return (
        pl.concat([dom_remarks.select(remarks.columns), remarks]),
        pl.concat([dom_links.select(links.columns), links]),
    )


def _result_from_cache(cache: Cache, batch_id: str | None, redact_pii: bool) -> LookupResult:
    import json

    attempts = cache.attempts(batch_id)
    stored: dict[str, Any] | None = None
    if batch_id is not None:
        row = cache.batch(batch_id)
        if row is None:
            raise InputError(f"no batch {batch_id!r} in the cache {cache.path}")
        stored = row
    results: dict[str, NameResult] = {}
    rows: list[tuple[object, str]] = []
    for kind in KINDS:
        queries = cache.queries(kind, batch_id=batch_id)
        if not queries:
            continue
        found = cache.lookup_fresh(
            kind, queries, max_age_s=float("inf"), not_found_ttl_s=float("inf")
        )
        keys: dict[str, str] = {}  # stored query -> result key
        if kind == "domain":
            for query, norm in zip(queries, normalize_domains(queries), strict=True):
                results[query] = NameResult(
                    "domain", query, "error", unicode_name=norm.unicode_name, tld=norm.tld
                )
                keys[query] = query
        else:
            for query in queries:
                # the key a lookup gives it (entity handles are percent-encoded in paths)
                path = normalize_query(query, kind).path or f"{_PATH_SEGMENT[kind]}{query}"
                results[path] = NameResult(kind, path, "error", query=query)
                keys[query] = path
        for query, key in keys.items():
            rows.append((query, key))
            if query in found:
                _fill_from_cache(results[key], found[query].responses)
                url = found[query].responses[0].url
                results[key].registry_url = url.rsplit(_PATH_SEGMENT[kind], 1)[0]
        failed_only = [q for q in queries if q not in found]  # attempted, never answered
        if failed_only:
            last = (
                attempts.filter((pl.col("query_kind") == kind) & pl.col("query").is_in(failed_only))
                .group_by("query")
                .agg(
                    pl.col("error_kind").last(),
                    pl.col("error_detail").last(),
                    pl.col("url").first(),
                )
            )
            for query, error_kind, detail, url in last.iter_rows():
                result = results[keys[query]]
                result.error_kind = error_kind or "http_error"
                result.error_detail = detail
                result.registry_url = url.rsplit(_PATH_SEGMENT[kind], 1)[0]
    from rdaplab.frames import normalize_results

    records = normalize_results([r for r in results.values() if r.responses])
    frames = build_frames(rows, results, records)
    summary = summarize(frames, attempts, results, batch_id=batch_id or "", elapsed_s=0.0)
    frames = PrivacySettings(redact_pii=redact_pii).apply(frames)
    summary["unique"] = len(results)
    summary["cache"] = str(cache.path)
    if stored is not None and stored.get("summary"):
        # The batch's own numbers (its cache hits, elapsed time, learned rates) win.
        summary = {**summary, **json.loads(stored["summary"])}
    return _make_result(frames, attempts, summary, batch_id or "", str(cache.path))
