"""Streaming lookups: inputs larger than memory, results in batches as they complete.

:func:`stream` is :func:`~rdaplab.lookup.lookup_async` cut into chunks. The input is read
``chunk_size`` rows at a time (files and lazy frames are scanned, never read whole); each
chunk is normalized, matched against the bootstrap registry and answered from the cache
in one set query, and the rest is handed to one :class:`~rdaplab.scheduler.Scheduler`
shared by the whole stream (so per-host limits and learning carry over from chunk to
chunk). The next chunk is read only while fewer than ``max_pending`` lookups are
outstanding, and finished rows are yielded as :class:`StreamBatch` objects and forgotten:
memory depends on ``chunk_size`` and ``max_pending``, not on the input size.

Duplicates: within a chunk, and against lookups still in flight, a name is looked up once.
Across chunks nothing remembers every name; the cache does that job (an answer received
earlier in the stream is committed before the next chunk's cache query, so a repeat is a
fresh cache hit), see docs/streaming.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections.abc import (
    AsyncGenerator,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
    Sized,
)
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from rdaplab._version import __version__
from rdaplab.batch.inputs import FILE_SUFFIXES, _is_pandas, _pick_column, read_values
from rdaplab.batch.lookup import (
    DEFAULT_MAX_AGE_S,
    DEFAULT_NOT_FOUND_MAX_AGE_S,
    INVALID_PREFIX,
    _add_host_learning,
    _CacheWriter,
    _fill_from_cache,
    _host_progress,
    _seconds,
)
from rdaplab.batch.privacy import PrivacySettings
from rdaplab.batch.progress import ProgressTracker, Renderer, resolve_renderer
from rdaplab.engine import Limits, RdapClient, Retry, Scheduler, Timeouts, authority, priority_index
from rdaplab.errors import InputError
from rdaplab.frames import Normalized, build_frames, normalize_result
from rdaplab.models import Attempt, NameResult
from rdaplab.rdap import Bootstrap, normalize_domains
from rdaplab.store import Cache

__all__ = ["StreamBatch", "stream"]

log = logging.getLogger("rdaplab")

DEFAULT_CHUNK_SIZE = 10_000
DEFAULT_MAX_PENDING = 20_000
# DuckDB's buffer manager otherwise keeps up to 80 % of RAM of the (growing) file cached
# (measured: a 256 MB cap alone put the peak RSS of a 40k-name stream at 510 MB).
DEFAULT_MEMORY_LIMIT = "64MB"


@dataclass
class StreamBatch:
    """Rows that finished since the previous batch, and the stream's progress.

    Attributes
    ----------
    domains
        One row per input row finished in this batch: ``row`` (0-based input row index,
        Int64) followed by the columns of ``rdaplab.frames.DOMAINS_SCHEMA``. Sorted by
        ``row`` within the batch; batches come in completion order, so concatenate and
        ``sort("row")`` to restore input order.
    events, entities, nameservers, redactions
        Rows per distinct domain of this batch (a name repeated in two batches has its
        details in both).
    done
        Input rows finished so far (this batch included).
    total
        Input rows, or ``None`` when unknown (a plain iterator).
    elapsed_s, rate_per_s, eta_s
        Seconds since the stream started, finished rows per second, and the estimated
        seconds left (``None`` while the rate or the total is unknown).
    batch_id
        The id of the stream's row in the cache's ``batches`` table.
    """

    domains: pl.DataFrame
    events: pl.DataFrame
    entities: pl.DataFrame
    nameservers: pl.DataFrame
    redactions: pl.DataFrame
    done: int
    total: int | None
    elapsed_s: float
    eta_s: float | None
    rate_per_s: float
    batch_id: str = ""

    def __repr__(self) -> str:
        total = "?" if self.total is None else f"{self.total:,}"
        return (
            f"<StreamBatch {self.domains.height:,} rows; {self.done:,}/{total} done, "
            f"{self.rate_per_s:,.1f}/s>"
        )


# --------------------------------------------------------------------------- input


@dataclass
class _Source:
    total: int | None
    chunks: Iterator[list[Any]]
    blocking: bool  # reading a chunk may take a while (file, query): do it off the loop


def _chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def _frame_chunks(series: pl.Series, size: int) -> Iterator[list[Any]]:
    for start in range(0, series.len(), size):
        yield read_values(series.slice(start, size))


def _open_source(values: Any, column: str | None, size: int) -> _Source:
    """The input as chunks of at most about ``size`` values, and its row count if cheap."""
    if isinstance(values, pl.LazyFrame):
        name = _pick_column(values.collect_schema().names(), column, "the LazyFrame")
        lazy = values.select(pl.col(name))
        total = int(lazy.select(pl.len()).collect().item())
        batches = lazy.collect_batches(chunk_size=size)
        return _Source(total, (df[name].to_list() for df in batches), blocking=True)
    if isinstance(values, pl.DataFrame):
        name = _pick_column(values.columns, column, "the DataFrame")
        values = values[name]
    if isinstance(values, pl.Series):
        return _Source(values.len(), _frame_chunks(values, size), blocking=False)
    if isinstance(values, Path) or (
        isinstance(values, str) and values.lower().endswith(FILE_SUFFIXES)
    ):
        return _open_file(Path(values), column, size)
    if isinstance(values, str):
        return _Source(1, iter([[values]]), blocking=False)
    if _is_pandas(values):
        if hasattr(values, "columns"):
            name = _pick_column([str(c) for c in values.columns], column, "the DataFrame")
            values = values[name]
        series = values
        return _Source(
            len(series),
            (list(series.iloc[i : i + size].tolist()) for i in range(0, len(series), size)),
            blocking=False,
        )
    if isinstance(values, Iterable):
        size_hint: int | None = len(values) if isinstance(values, Sized) else None
        return _Source(size_hint, _chunked(values, size), blocking=False)
    raise InputError(
        f"cannot stream {type(values).__name__!s}: pass a Polars/pandas column or frame, a "
        "LazyFrame, an iterable of names, or a file path"
    )


def _open_file(path: Path, column: str | None, size: int) -> _Source:
    if not path.exists():
        raise InputError(f"input file not found: {path}")
    if not path.is_file():
        raise InputError(f"input is not a file: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv"):
            sep = "\t" if suffix == ".tsv" else ","
            # Polars counts rows and reads the header cheaply (no values are kept); pyarrow's
            # streaming reader then reads the one column block by block.
            scan = pl.scan_csv(path, separator=sep, infer_schema=False)
            name = _pick_column(scan.collect_schema().names(), column, str(path))
            total = int(scan.select(pl.len()).collect().item())
            return _Source(total, _csv_chunks(path, sep, name, size), blocking=True)
        if suffix in (".parquet", ".pq"):
            pf = pq.ParquetFile(path)
            name = _pick_column(pf.schema_arrow.names, column, str(path))
            total = pf.metadata.num_rows
            pf.close()
            return _Source(total, _parquet_chunks(path, name, size), blocking=True)
        total = sum(1 for _ in _text_lines(path))
        return _Source(total, _chunked(_text_lines(path), size), blocking=True)
    except (pl.exceptions.PolarsError, pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc


def _csv_chunks(path: Path, sep: str, name: str, size: int) -> Iterator[list[Any]]:
    # Names stay strings ("1.1" must not become a float); an empty field is null, as in
    # Polars' read_csv used by lookup().
    convert = pa_csv.ConvertOptions(
        include_columns=[name],
        column_types={name: pa.string()},
        strings_can_be_null=True,
        null_values=[""],
    )
    reader = pa_csv.open_csv(
        path,
        read_options=pa_csv.ReadOptions(block_size=1 << 20),
        parse_options=pa_csv.ParseOptions(delimiter=sep),
        convert_options=convert,
        # The system allocator hands freed blocks back; Arrow's default pool keeps them.
        memory_pool=pa.system_memory_pool(),
    )
    try:
        pending: list[Any] = []
        for batch in reader:
            pending.extend(batch.column(0).to_pylist())
            while len(pending) >= size:
                yield pending[:size]
                del pending[:size]
        if pending:
            yield pending
    except pa.ArrowException as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    finally:
        reader.close()


def _parquet_chunks(path: Path, name: str, size: int) -> Iterator[list[Any]]:
    with pq.ParquetFile(path) as pf:
        for batch in pf.iter_batches(batch_size=size, columns=[name]):
            yield batch.column(0).to_pylist()


def _text_lines(path: Path) -> Iterator[str]:
    # Same rules as inputs.read_file: one name per line, blanks and # comments skipped.
    with path.open(encoding="utf-8-sig") as fh:
        for line in fh:
            text = line.strip()
            if text and not text.startswith("#"):
                yield text


# --------------------------------------------------------------------------- the stream


@dataclass(slots=True)
class _Entry:
    """One lookup (a distinct name of a chunk, or an invalid value) and its waiting rows."""

    result: NameResult
    url: str | None = None
    rows: list[tuple[int, Any]] = field(default_factory=list)  # (input row index, value)
    record: Normalized | None = None


class _Stats:
    """Running totals for the summary (the stream keeps no per-row history)."""

    def __init__(self) -> None:
        self.rows = 0
        self.lookups = 0
        self.outcomes = {"ok": 0, "not_found": 0, "error": 0}
        self.error_kinds: dict[str, int] = {}
        self.cache_hits = 0
        self.cache_hit_rows = 0
        self.requests = 0
        self.throttled = 0
        self.hosts: dict[str, dict[str, Any]] = {}
        self.registries: dict[str, dict[str, int]] = {}

    def attempt(self, a: Attempt) -> None:
        self.requests += 1
        self.throttled += a.throttled
        h = self.hosts.setdefault(
            a.host, {"requests": 0, "throttled": 0, "errors": 0, "latency_ms_sum": 0.0}
        )
        h["requests"] += 1
        h["throttled"] += a.throttled
        h["errors"] += a.error_kind is not None
        h["latency_ms_sum"] += a.latency_ms

    def finished(self, entry: _Entry, record: Normalized) -> None:
        n = len(entry.rows)
        self.outcomes[record.outcome] = self.outcomes.get(record.outcome, 0) + n
        if record.error_kind is not None:
            self.error_kinds[record.error_kind] = self.error_kinds.get(record.error_kind, 0) + n
        if entry.result.from_cache:
            self.cache_hits += 1
            self.cache_hit_rows += n
        url = entry.result.registry_url
        if url is not None:
            r = self.registries.setdefault(
                url, {"names": 0, "ok": 0, "not_found": 0, "error": 0, "from_cache": 0}
            )
            r["names"] += 1
            r[record.outcome] = r.get(record.outcome, 0) + 1
            r["from_cache"] += entry.result.from_cache

    def summary(self, batch_id: str, elapsed_s: float) -> dict[str, Any]:
        hosts = [
            {
                "host": host,
                "requests": h["requests"],
                "throttled": h["throttled"],
                "errors": h["errors"],
                "throttled_share": round(h["throttled"] / h["requests"], 4),
                "latency_ms_mean": round(h["latency_ms_sum"] / h["requests"], 1),
            }
            for host, h in sorted(self.hosts.items(), key=lambda kv: -kv[1]["requests"])
        ]
        registries = [
            {"registry_url": url, "host": authority(url), **r}
            for url, r in sorted(self.registries.items(), key=lambda kv: -kv[1]["names"])
        ]
        return {
            "batch_id": batch_id,
            "streamed": True,
            "total": self.rows,
            "unique": self.lookups,
            "ok": self.outcomes.get("ok", 0),
            "not_found": self.outcomes.get("not_found", 0),
            "error": self.outcomes.get("error", 0),
            "error_kinds": dict(sorted(self.error_kinds.items())),
            "requests": self.requests,
            "throttled": self.throttled,
            "cache_hits": self.cache_hits,
            "cache_hit_rows": self.cache_hit_rows,
            "elapsed_s": round(elapsed_s, 3),
            "registries": registries,
            "hosts": hosts,
        }


async def stream(
    values: Any,
    *,
    column: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
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
    max_pending: int = DEFAULT_MAX_PENDING,
    batch_rows: int | None = None,
    batch_interval_s: float = 1.0,
    priority: Any = None,
    redact_pii: bool = True,
    fields: Sequence[str] | None = None,
    privacy: str = "default",
    retention: float | timedelta | None = None,
    purpose: str | None = None,
    legal_basis: str | None = None,
) -> AsyncGenerator[StreamBatch, None]:
    """Look up domain names over RDAP, yielding results in batches as they complete.

    For inputs larger than memory: the input is read ``chunk_size`` rows at a time, only
    while fewer than ``max_pending`` lookups are outstanding, and finished rows are
    handed over and forgotten, so memory stays flat whatever the input size. Every answer
    is committed to the cache as it arrives, as in :func:`~rdaplab.lookup.lookup`.

    Parameters
    ----------
    values
        A Polars LazyFrame (collected in streaming batches), a path to a CSV, TSV, Parquet
        or text file (scanned, never read whole), a Polars or pandas Series/DataFrame, a
        list, or any iterable of names (consumed incrementally).
    column
        Column holding the names, for frames and tabular files (default ``domain``).
    chunk_size
        Input rows read, normalized and checked against the cache at a time.
    cache, bootstrap, bootstrap_overrides, max_age, not_found_max_age, refresh, progress,
    limits, retry, timeouts, user_agent
        As in :func:`~rdaplab.lookup.lookup`. A cache opened here (a path or ``None``) is
        given a DuckDB ``memory_limit`` of 64 MB; pass a :class:`~rdaplab.cache.Cache`
        to choose your own.
    max_pending
        Lookups outstanding before reading more input stops (backpressure).
    priority
        ``critical``, ``high``, ``normal`` or ``low`` for every name, a mapping
        ``name -> class`` or a function of the (normalized) name; higher classes are sent
        first at each host. (A priority *column* needs the whole input: use
        :func:`~rdaplab.lookup.lookup`, or a mapping built from the column.)
    batch_rows, batch_interval_s
        A batch is yielded once ``batch_rows`` rows (default ``chunk_size``) have
        finished, or ``batch_interval_s`` after the previous one, whichever comes first.

    Yields
    ------
    StreamBatch
        Finished rows (with their input ``row`` index), detail frames and progress.

    Notes
    -----
    Leaving the ``async for`` early does not stop the lookups in flight until the
    generator is closed: wrap it in :func:`contextlib.aclosing` (or call ``aclose()``) so
    that a ``break`` cancels them at once. Answers received before that are kept in the
    cache. A stream that ends normally, or is closed early, records its summary in the
    cache's ``batches`` table (``stopped_early`` tells them apart); a cancelled or failed
    one leaves its batch unfinished, like an interrupted :func:`~rdaplab.lookup.lookup`.

    Examples
    --------
    >>> import contextlib, rdaplab
    >>> async def main():  # doctest: +SKIP
    ...     async with contextlib.aclosing(rdaplab.stream("names.csv")) as batches:
    ...         async for batch in batches:
    ...             batch.domains.write_parquet(f"part-{batch.done}.parquet")
    ...             print(f"{batch.done:,}/{batch.total:,} ETA {batch.eta_s or 0:.0f}s")
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, not {chunk_size}")
    priority_of = _priority_function(priority)
    if max_pending < 1:
        raise ValueError(f"max_pending must be >= 1, not {max_pending}")
    run = _Stream(
        chunk_size=chunk_size,
        max_pending=max_pending,
        batch_rows=batch_rows or chunk_size,
        batch_interval_s=batch_interval_s,
        max_age_s=0.0 if refresh else _seconds(max_age, DEFAULT_MAX_AGE_S),
        nf_age_s=0.0 if refresh else _seconds(not_found_max_age, DEFAULT_NOT_FOUND_MAX_AGE_S),
    )
    run.priority_of = priority_of
    run.rules = PrivacySettings.from_args(
        redact_pii=redact_pii,
        fields=fields,
        privacy=privacy,
        purpose=purpose,
        legal_basis=legal_basis,
        retention=retention,
    )
    source = _open_source(values, column, chunk_size)
    boot = Bootstrap.load(bootstrap, bootstrap_overrides)
    own_cache = not isinstance(cache, Cache)
    store = cache if isinstance(cache, Cache) else _open_cache(cache)
    if run.rules.retention_s is not None:
        store.purge_personal(older_than_s=run.rules.retention_s)
    batches = run.run(
        source,
        boot,
        store,
        progress=progress,
        settings={"refresh": refresh, "chunk_size": chunk_size, "max_pending": max_pending},
        client_kwargs={"timeouts": timeouts, "user_agent": user_agent},
        limits=limits,
        retry=retry,
    )
    try:
        # aclosing: closing this generator early must close the inner one now, not at GC.
        async with contextlib.aclosing(batches):
            async for batch in batches:
                yield batch
    finally:
        close = getattr(source.chunks, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):  # e.g. still running in a reader thread
                close()
        if own_cache:
            store.close()


def _open_cache(path: str | Path | None) -> Cache:
    if path is not None and str(path) == ":memory:":
        return Cache(path)  # the data itself lives in the buffer pool: no cap
    return Cache(path, memory_limit=DEFAULT_MEMORY_LIMIT)


class _Stream:
    """The state of one stream; ``run`` is the loop behind :func:`stream`."""

    def __init__(
        self,
        *,
        chunk_size: int,
        max_pending: int,
        batch_rows: int,
        batch_interval_s: float,
        max_age_s: float,
        nf_age_s: float,
    ) -> None:
        self.chunk_size = chunk_size
        self.max_pending = max_pending
        self.batch_rows = batch_rows
        self.batch_interval_s = batch_interval_s
        self.priority_of: Callable[[str], int | None] = lambda key: None
        self.rules = PrivacySettings()
        self.scheduler: Scheduler | None = None
        self.max_age_s = max_age_s
        self.nf_age_s = nf_age_s
        self.batch_id = uuid.uuid4().hex
        self.t0 = time.monotonic()
        self.stats = _Stats()
        self.inflight: dict[str, _Entry] = {}  # name -> its lookup while it is running
        self.ready: list[tuple[int, Any, _Entry]] = []  # finished rows not yet yielded
        self.done_rows = 0
        self.wake = asyncio.Event()

    # -- admission: one chunk of input --------------------------------------------------
    def admit(
        self,
        values: list[Any],
        boot: Bootstrap,
        store: Cache,
        writer: _CacheWriter,
        scheduler: Scheduler,
        tracker: ProgressTracker,
    ) -> None:
        first = self.stats.rows
        self.stats.rows += len(values)
        chunk: dict[str, _Entry] = {}
        new: list[_Entry] = []
        for offset, (value, norm) in enumerate(zip(values, normalize_domains(values), strict=True)):
            if norm.name is None:
                key = f"{INVALID_PREFIX}{value!r}"
                entry = chunk.get(key)
                if entry is None:
                    result = NameResult(
                        "domain", key, "error", error_kind="invalid_query", error_detail=norm.error
                    )
                    entry = chunk[key] = _Entry(result)
                    new.append(entry)
            else:
                key = norm.name
                entry = chunk.get(key) or self.inflight.get(key)
                if entry is None:
                    result = NameResult(
                        "domain", key, "error", unicode_name=norm.unicode_name, tld=norm.tld
                    )
                    entry = chunk[key] = _Entry(result)
                    new.append(entry)
            entry.rows.append((first + offset, value))
        del chunk
        self.stats.lookups += len(new)

        to_fetch: dict[str, _Entry] = {}
        for entry in new:
            result = entry.result
            if result.error_kind == "invalid_query":
                self.finish(entry, normalize_result(result), tracker)
                continue
            match = boot.domain(result.key)
            if match is None:
                result.error_kind = "no_rdap_service"
                result.error_detail = f"no RDAP service for .{result.tld} in the bootstrap registry"
                self.finish(entry, normalize_result(result), tracker)
                continue
            result.registry_url = match.base_url
            entry.url = f"{match.base_url}domain/{result.key}"
            to_fetch[result.key] = entry

        if to_fetch and self.max_age_s > 0:
            # Commit what finished earlier first: a repeat of it is then a cache hit.
            writer.flush()
            hits = store.lookup_fresh(
                "domain", list(to_fetch), max_age_s=self.max_age_s, not_found_ttl_s=self.nf_age_s
            )
            for key, cached in hits.items():
                entry = to_fetch.pop(key)
                _fill_from_cache(entry.result, cached.responses)
                record = normalize_result(entry.result)
                entry.result.responses = []  # the cache has the bodies
                self.finish(entry, record, tracker)
            del hits
        for key, entry in to_fetch.items():
            self.inflight[key] = entry
            assert entry.url is not None
            scheduler.submit(entry.result, entry.url, priority=self.priority_of(key))

    def finish(self, entry: _Entry, record: Normalized, tracker: ProgressTracker) -> None:
        entry.record = record
        self.stats.finished(entry, record)
        self.ready.extend((row, value, entry) for row, value in entry.rows)
        tracker.add_done(record.outcome, len(entry.rows), from_cache=entry.result.from_cache)
        entry.rows = []
        self.wake.set()

    # -- output ---------------------------------------------------------------------------
    def make_batch(self, total: int | None) -> StreamBatch:
        ready, self.ready = self.ready, []
        # Rows are keyed by their entry, not their name: two entries for one name (a cache
        # hit and a fetch, from two chunks) keep their own from_cache and attempts.
        tokens: dict[int, str] = {}
        results: dict[str, NameResult] = {}
        records: dict[str, Normalized] = {}
        rows: list[tuple[object, str]] = []
        for _, value, entry in ready:
            token = tokens.get(id(entry))
            if token is None:
                token = tokens[id(entry)] = str(len(tokens))
                results[token] = entry.result
                assert entry.record is not None
                records[token] = entry.record
            rows.append((value, token))
        frames = self.rules.apply(build_frames(rows, results, records))
        domains = frames.domains.insert_column(
            0, pl.Series("row", [r for r, _, _ in ready], dtype=pl.Int64)
        ).sort("row")
        self.done_rows += len(ready)
        elapsed = time.monotonic() - self.t0
        rate = self.done_rows / elapsed if elapsed > 0 else 0.0
        eta = None
        if total is not None and rate > 0:
            eta = max(0.0, (total - self.done_rows) / rate)
        return StreamBatch(
            domains=domains,
            events=frames.events,
            entities=frames.entities,
            nameservers=frames.nameservers,
            redactions=frames.redactions,
            done=self.done_rows,
            total=total,
            elapsed_s=elapsed,
            eta_s=eta,
            rate_per_s=rate,
            batch_id=self.batch_id,
        )

    # -- the loop -------------------------------------------------------------------------
    async def run(
        self,
        source: _Source,
        boot: Bootstrap,
        store: Cache,
        *,
        progress: bool | Renderer | None,
        settings: dict[str, Any],
        client_kwargs: dict[str, Any],
        limits: Limits | None,
        retry: Retry | None,
    ) -> AsyncGenerator[StreamBatch, None]:
        started_at = datetime.now(timezone.utc)
        settings = {
            **settings,
            "max_age_s": self.max_age_s,
            "not_found_max_age_s": self.nf_age_s,
            "rdaplab": __version__,
            "streamed": True,
        }
        store.begin_batch(
            self.batch_id,
            started_at=started_at,
            total=source.total or 0,
            unique=0,
            settings=settings,
        )
        tracker = ProgressTracker(source.total or 0, resolve_renderer(progress))
        writer = _CacheWriter(store, threaded=False)  # flat memory first: see docs/streaming.md
        stats = self.stats

        def on_attempt(attempt: Attempt) -> None:
            stats.attempt(attempt)
            tracker.add_request(throttled=attempt.throttled)
            writer.add_attempt(attempt)

        def on_done(result: NameResult) -> None:
            entry = self.inflight.pop(result.key)
            record = normalize_result(result)
            if record.error_kind != "parse_error":
                # An answer we cannot read is not cached: the next run asks again.
                for resp in result.responses:
                    resp.document = None  # normalized already: only the body is kept
                self.rules.prepare_for_cache(result.responses)  # strict: nothing personal
                writer.add_responses(result.responses)
            result.responses = []  # the writer holds the bodies until they are committed
            self.finish(entry, record, tracker)

        ended = False  # the input ran out and every row was yielded
        failed = False
        try:
            async with RdapClient(**client_kwargs) as client:
                sched = Scheduler(
                    client,
                    batch_id=self.batch_id,
                    limits=limits,
                    retry=retry,
                    on_attempt=on_attempt,
                    on_done=on_done,
                    budget_used=lambda host: store.host_requests(host, within_s=86_400.0),
                )
                self.scheduler = sched
                tracker.hosts_source = lambda: _host_progress(sched, {})
                flusher = asyncio.create_task(writer.run_periodic())
                try:
                    exhausted = False
                    last_yield = time.monotonic()
                    while True:
                        # Read ahead while few lookups are outstanding and few rows wait.
                        while (
                            not exhausted
                            and len(self.ready) < self.batch_rows
                            and (
                                not self.inflight
                                or len(self.inflight) + self.chunk_size <= self.max_pending
                            )
                        ):
                            values = await _next_chunk(source)
                            if values is None:
                                exhausted = True
                                break
                            self.admit(values, boot, store, writer, sched, tracker)
                            if source.total is None:
                                tracker.total = stats.rows
                        if flusher.done():  # the cache could not be written: stop
                            flusher.result()
                        drained = exhausted and not self.inflight
                        since = time.monotonic() - last_yield
                        if self.ready and (
                            drained
                            or len(self.ready) >= self.batch_rows
                            or since >= self.batch_interval_s
                        ):
                            yield self.make_batch(source.total)
                            last_yield = time.monotonic()
                            continue
                        if drained:
                            ended = True
                            break
                        self.wake.clear()
                        timeout = max(0.0, self.batch_interval_s - since) if self.ready else None
                        waiter = asyncio.ensure_future(self.wake.wait())
                        try:
                            await asyncio.wait(
                                {waiter, flusher},
                                timeout=timeout,
                                return_when=asyncio.FIRST_COMPLETED,
                            )
                        finally:
                            waiter.cancel()
                finally:
                    # Workers stop before the HTTP session closes under them.
                    flusher.cancel()
                    await asyncio.gather(flusher, return_exceptions=True)
                    await sched.aclose()
        except GeneratorExit:
            pass  # closed early by the consumer: a clean stop, summarized below
        except BaseException:
            failed = True  # cancelled or broken: the batch stays unfinished
            raise
        finally:
            try:
                writer.flush()  # whatever arrived is kept, even when stopped early
            except Exception:
                if not failed:
                    raise
                log.exception("rdaplab: could not save the last answers to the cache")
            finally:
                writer.close()
                tracker.close()
            if not failed:
                self._end(store, started_at, settings, stopped_early=not ended)

    def _end(
        self, store: Cache, started_at: datetime, settings: dict[str, Any], *, stopped_early: bool
    ) -> None:
        summary = self.stats.summary(self.batch_id, time.monotonic() - self.t0)
        _add_host_learning(summary, self.scheduler, time.monotonic() - self.t0)
        summary["stopped_early"] = stopped_early
        summary["started_at"] = started_at.isoformat()
        summary["cache"] = str(store.path)
        # Re-beginning records the final row counts (unknown up front for an iterator).
        store.begin_batch(
            self.batch_id,
            started_at=started_at,
            total=self.stats.rows,
            unique=self.stats.lookups,
            settings=settings,
        )
        finished_at = datetime.now(timezone.utc)
        store.end_batch(self.batch_id, finished_at=finished_at, summary=summary)
        self.rules.record(
            store,
            self.batch_id,
            ran_at=started_at,
            objects={"domain": self.stats.lookups},
            finished_at=finished_at,
        )


async def _next_chunk(source: _Source) -> list[Any] | None:
    if source.blocking:
        return await asyncio.to_thread(next, source.chunks, None)
    return next(source.chunks, None)


def _priority_function(priority: Any) -> Callable[[str], int | None]:
    """``stream``'s ``priority=`` as ``key -> class index``; checked before any work."""
    if priority is None:
        return lambda key: None
    if isinstance(priority, str):
        try:
            index = priority_index(priority)
        except ValueError as exc:
            raise InputError(f"priority: {exc}") from None
        return lambda key: index
    if isinstance(priority, Mapping):
        try:
            table = {k: priority_index(v) for k, v in priority.items()}
        except ValueError as exc:
            raise InputError(f"priority: {exc}") from None
        return lambda key: table.get(key)
    if callable(priority):

        def call(key: str) -> int | None:
            try:
                return priority_index(priority(key))
            except Exception as exc:
                raise InputError(f"priority for {key!r}: {exc!r}") from None

        return call
    raise InputError("stream(priority=...) takes a class name, a mapping or a function of the name")
