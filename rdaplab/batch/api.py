"""The batch API: ``lookup``, ``lookup_async``, ``start`` (a :class:`Batch` in the
background) and ``stream`` — four ways of driving the one run loop
(:class:`~rdaplab.batch.run.BatchRun`), with the same options (:class:`LookupOptions`).

``lookup`` runs the batch with ``asyncio.run`` when no loop is running (scripts, the CLI),
and otherwise (a notebook cell) on a dedicated event-loop thread while the cell waits:
nest-asyncio patches the running loop instead, which is archived and breaks on Python
>= 3.12 and ipykernel >= 7 (see docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import polars as pl

from rdaplab.batch.background import BackgroundRun
from rdaplab.batch.inputs import Source, next_chunk, open_source, read_named_values
from rdaplab.batch.options import LookupOptions, StreamOptions, takes_options
from rdaplab.batch.plan import priority_resolver
from rdaplab.batch.progress import ProgressSnapshot, Renderer, resolve_renderer
from rdaplab.batch.result import LookupResult, make_result
from rdaplab.batch.run import BatchRun, FinishedRow
from rdaplab.errors import BatchInterrupted, InputError
from rdaplab.rdap import Bootstrap
from rdaplab.rdap.psl import PublicSuffixes
from rdaplab.schemas import (
    AUTNUMS_SCHEMA,
    DOMAINS_SCHEMA,
    LINKS_SCHEMA,
    NETWORKS_SCHEMA,
    QUERIES_SCHEMA,
    REMARKS_SCHEMA,
    Frames,
    empty,
)
from rdaplab.store import Cache

__all__ = ["Batch", "StreamBatch", "lookup", "lookup_async", "start", "stream"]

log = logging.getLogger("rdaplab")

# DuckDB's buffer manager otherwise keeps up to 80 % of RAM of the (growing) file cached
# (measured: a 256 MB cap alone put the peak RSS of a 40k-name stream at 510 MB).
STREAM_MEMORY_LIMIT = "64MB"


def _open_cache(options: LookupOptions, *, streamed: bool) -> tuple[Cache, bool]:
    """(the store, whether this batch opened it and must close it)."""
    cache = options.cache
    if isinstance(cache, Cache):
        return cache, False
    retention_s = options.privacy_settings.retention_s
    if streamed and (cache is None or str(cache) != ":memory:"):
        # (in memory, the data itself lives in the buffer pool: no cap)
        return Cache(cache, memory_limit=STREAM_MEMORY_LIMIT, retention=retention_s), True
    return Cache(cache, retention=retention_s), True


def _suffixes(options: LookupOptions) -> PublicSuffixes | None:
    """The Public Suffix List a batch maps domains with (read before the cache opens)."""
    return PublicSuffixes.load(options.psl) if options.registered_domain else None


@dataclass
class _Live:
    """What a running batch shares with its :class:`Batch` handle (read from other threads)."""

    run: BatchRun | None = None
    renderer: Renderer | None = None
    use_renderer: bool = False  # the handle resolved the renderer: use it as given
    cache_path: str | None = None


#: ``lookup(values, cluster=client)`` runs here: set by :mod:`rdaplab.distributed` (a layer
#: above this one; ``import rdaplab`` imports it, without Dask).
cluster_lookup: Callable[[Any, LookupOptions], LookupResult] | None = None


def _no_cluster(options: LookupOptions, where: str) -> None:
    if options.cluster is not None:
        raise InputError(
            f"cluster= is an option of rdaplab.lookup only, not of {where}: for a study on "
            "a Dask cluster from here use rdaplab.distributed.submit(...)"
        )


async def _run_lookup(values: Any, options: LookupOptions, live: _Live) -> LookupResult:
    _no_cluster(options, "lookup_async/start")
    raw, column = read_named_values(values, column=options.column)
    priorities = priority_resolver(options.priority, values, total=len(raw))
    boot = Bootstrap.load(options.bootstrap, options.bootstrap_overrides)
    suffixes = _suffixes(options)
    store, own_cache = _open_cache(options, streamed=False)
    if not own_cache and options.privacy_settings.retention_s is not None:
        store.purge_personal(older_than_s=options.privacy_settings.retention_s)
    live.cache_path = str(store.path)
    renderer = live.renderer if live.use_renderer else resolve_renderer(options.progress)
    run = live.run = BatchRun(
        options,
        store=store,
        bootstrap=boot,
        total=len(raw),
        renderer=renderer,
        column=column,
        suffixes=suffixes,
    )
    try:
        async with run:
            await run.admit(raw, priorities=priorities)
            await run.drain()
            run.completed = True
        finished = sorted(run.ready, key=itemgetter(0))  # input order
        frames = run.frames(finished)
        attempts = store.attempts(run.batch_id)
        assert run.summary is not None
        return make_result(frames, attempts, run.summary, run.batch_id, str(store.path))
    finally:
        if own_cache:
            store.close()


@takes_options(LookupOptions)
async def lookup_async(values: Any, options: LookupOptions) -> LookupResult:
    """Look up domain names, IPs, ASNs, entities or nameservers over RDAP; the async form
    of :func:`lookup` (same arguments)."""
    return await _run_lookup(values, options, _Live())


@takes_options(LookupOptions)
def lookup(values: Any, options: LookupOptions) -> LookupResult:
    """Look up domain names (and IPs, ASNs, entities, nameservers) over RDAP and return
    normalized frames.

    Works in scripts and inside a running event loop (a Jupyter cell): there the batch
    runs on a dedicated event-loop thread while the cell waits, redrawing the progress
    widget (see docs/notebooks.md). :func:`start` is the same batch in the background.

    Parameters
    ----------
    values
        A Polars Series/DataFrame/LazyFrame, a pandas Series, a list of values, or a path
        to a CSV, Parquet or text file.

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
    InputError
        A bad option or input, before anything is sent.

    Examples
    --------
    >>> import rdaplab
    >>> result = rdaplab.lookup(["example.com", "nic.fr"])  # doctest: +SKIP
    >>> result.domains.select("domain", "outcome", "registrar")  # doctest: +SKIP
    """
    if options.cluster is not None:
        if cluster_lookup is None:  # pragma: no cover  (import rdaplab sets it)
            raise InputError("cluster= needs rdaplab.distributed, which did not load")
        return cluster_lookup(values, options)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_run_lookup(values, options, _Live()))
    # A running loop (a notebook cell): the batch gets its own loop thread while this
    # thread waits, redrawing the progress widget from here (the kernel's main thread).
    return _start(values, options).result()


@takes_options(LookupOptions)
def start(values: Any, options: LookupOptions) -> Batch:
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
    return _start(values, options)


def _start(values: Any, options: LookupOptions) -> Batch:
    _no_cluster(options, "start")
    live = _Live(renderer=resolve_renderer(options.progress), use_renderer=True)
    _attach_to_caller(live.renderer)
    run: BackgroundRun[LookupResult] = BackgroundRun(lambda: _run_lookup(values, options, live))
    return Batch(run, live)


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
        run = self._live.run
        return None if run is None else run.tracker.snapshot(finished=self.done())

    def partial(self) -> pl.DataFrame:
        """The ``domains`` rows finished so far, in input order (same schema as the result).

        Rows still queued or in flight are left out; once the batch is done this is the
        whole ``domains`` frame.
        """
        if self._result is not None:
            return self._result.domains
        run = self._live.run
        if run is None:
            return empty(DOMAINS_SCHEMA)
        finished = sorted(list(run.ready), key=itemgetter(0))  # one atomic copy, then sort
        return run.frames(finished).domains

    def result(self, timeout: float | None = None) -> LookupResult:
        """Wait for the batch and return its :class:`LookupResult`.

        An interrupt while waiting (Ctrl-C, the notebook's stop button) cancels the batch:
        what was fetched stays in the cache and :class:`~rdaplab.BatchInterrupted` is
        raised, carrying the finished rows. Raises ``TimeoutError`` if ``timeout`` seconds
        pass first (the batch goes on).
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
        run = self._live.run
        partial = None
        with contextlib.suppress(Exception):  # best effort: the error must still surface
            partial = self.partial()
        exc = BatchInterrupted(
            done=run.tracker.done if run else 0,
            total=run.tracker.total if run else 0,
            cache_path=self._live.cache_path,
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


# --------------------------------------------------------------------------- streaming


@dataclass
class StreamBatch:
    """Rows that finished since the previous batch, and the stream's progress.

    Attributes
    ----------
    domains
        One row per domain input row finished in this batch: ``row`` (0-based input row
        index, Int64) followed by the columns of ``rdaplab.schemas.DOMAINS_SCHEMA``.
        Sorted by ``row`` within the batch; batches come in completion order, so
        concatenate and ``sort("row")`` to restore input order.
    events, entities, nameservers, redactions, remarks, links
        Rows per distinct object of this batch (a query repeated in two batches has its
        details in both). Domain remarks and links are not built in a stream.
    networks, autnums, queries
        Like ``domains``, with ``row`` first: IP and ASN rows, and every row of every kind.
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
    networks: pl.DataFrame = field(default_factory=lambda: empty(NETWORKS_SCHEMA))
    autnums: pl.DataFrame = field(default_factory=lambda: empty(AUTNUMS_SCHEMA))
    queries: pl.DataFrame = field(default_factory=lambda: empty(QUERIES_SCHEMA))
    remarks: pl.DataFrame = field(default_factory=lambda: empty(REMARKS_SCHEMA))
    links: pl.DataFrame = field(default_factory=lambda: empty(LINKS_SCHEMA))

    def __repr__(self) -> str:
        total = "?" if self.total is None else f"{self.total:,}"
        return (
            f"<StreamBatch {self.domains.height:,} rows; {self.done:,}/{total} done, "
            f"{self.rate_per_s:,.1f}/s>"
        )


def _with_rows(frame: pl.DataFrame, rows: list[int]) -> pl.DataFrame:
    return frame.insert_column(0, pl.Series("row", rows, dtype=pl.Int64)).sort("row")


def _stream_batch(
    run: BatchRun, ready: list[FinishedRow], *, done: int, total: int | None, t0: float
) -> StreamBatch:
    ready.sort(key=itemgetter(0))
    frames: Frames = run.frames(ready)
    by_kind: dict[str, list[int]] = {"domain": [], "ip": [], "asn": []}
    for row, _, entry in ready:
        rows = by_kind.get(entry.result.query_kind)
        if rows is not None:
            rows.append(row)
    elapsed = time.monotonic() - t0
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = max(0.0, (total - done) / rate) if total is not None and rate > 0 else None
    return StreamBatch(
        domains=_with_rows(frames.domains, by_kind["domain"]),
        events=frames.events,
        entities=frames.entities,
        nameservers=frames.nameservers,
        redactions=frames.redactions,
        done=done,
        total=total,
        elapsed_s=elapsed,
        eta_s=eta,
        rate_per_s=rate,
        batch_id=run.batch_id,
        networks=_with_rows(frames.networks, by_kind["ip"]),
        autnums=_with_rows(frames.autnums, by_kind["asn"]),
        queries=_with_rows(frames.queries, [row for row, _, _ in ready]),
        remarks=frames.remarks,
        links=frames.links,
    )


@takes_options(StreamOptions)
def stream(values: Any, options: StreamOptions) -> AsyncIterator[StreamBatch]:
    """Look up values over RDAP, yielding results in batches as they complete.

    For inputs larger than memory: the input is read ``chunk_size`` rows at a time, only
    while fewer than ``max_pending`` lookups are outstanding, and finished rows are
    handed over and forgotten, so memory stays flat whatever the input size. Every answer
    is committed to the cache as it arrives, as in :func:`lookup`; the summary recorded in
    the cache has the same keys as a lookup's.

    Parameters
    ----------
    values
        A Polars LazyFrame (collected in streaming batches), a path to a CSV, TSV, Parquet
        or text file (scanned, never read whole), a Polars or pandas Series/DataFrame, a
        list, or any iterable of values (consumed incrementally).

    Yields
    ------
    StreamBatch
        Finished rows (with their input ``row`` index), detail frames and progress.

    Notes
    -----
    A cache opened here (a path or ``None``) is given a DuckDB ``memory_limit`` of 64 MB;
    pass a :class:`~rdaplab.Cache` to choose your own. Leaving the ``async for`` early
    does not stop the lookups in flight until the generator is closed: wrap it in
    :func:`contextlib.aclosing` (or call ``aclose()``) so that a ``break`` cancels them at
    once. A stream that ends normally, or is closed early, records its summary in the
    cache's ``batches`` table (``stopped_early`` tells them apart); a cancelled or failed
    one leaves its batch unfinished, like an interrupted :func:`lookup`.

    Examples
    --------
    >>> import contextlib, rdaplab
    >>> async def main():  # doctest: +SKIP
    ...     async with contextlib.aclosing(rdaplab.stream("names.csv")) as batches:
    ...         async for batch in batches:
    ...             batch.domains.write_parquet(f"part-{batch.done}.parquet")
    ...             print(f"{batch.done:,}/{batch.total:,} ETA {batch.eta_s or 0:.0f}s")
    """
    _no_cluster(options, "stream")
    priorities = priority_resolver(options.priority, streaming=True)  # before any work
    return _stream(values, options, priorities)


async def _stream(
    values: Any, options: StreamOptions, priorities: Any
) -> AsyncIterator[StreamBatch]:
    source = open_source(values, options.column, options.chunk_size)
    try:
        boot = Bootstrap.load(options.bootstrap, options.bootstrap_overrides)
        suffixes = _suffixes(options)
        store, own_cache = _open_cache(options, streamed=True)
        try:
            if options.privacy_settings.retention_s is not None:
                store.purge_personal(older_than_s=options.privacy_settings.retention_s)
            run = BatchRun(
                options,
                store=store,
                bootstrap=boot,
                total=source.total,
                renderer=resolve_renderer(options.progress),
                threaded_writes=False,  # flat memory first: see docs/streaming.md
                streamed=True,
                column=source.column,
                suffixes=suffixes,
            )
            async with run, contextlib.aclosing(_drive(run, source, options, priorities)) as it:
                async for batch in it:
                    yield batch
        finally:
            if own_cache:
                store.close()
    finally:
        close = getattr(source.chunks, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):  # e.g. still running in a reader thread
                close()


async def _drive(
    run: BatchRun, source: Source, options: StreamOptions, priorities: Any
) -> AsyncGenerator[StreamBatch, None]:
    """Read ahead while few lookups are outstanding and few rows wait; hand rows over in
    batches of ``batch_rows`` or every ``batch_interval_s``."""
    batch_rows = options.batch_rows or options.chunk_size
    t0 = time.monotonic()
    done = 0
    exhausted = False
    last_yield = time.monotonic()
    while True:
        while (
            not exhausted
            and len(run.ready) < batch_rows
            and (not run.pending or run.pending + options.chunk_size <= options.max_pending)
        ):
            chunk = await next_chunk(source)
            if chunk is None:
                exhausted = True
                break
            await run.admit(chunk, priorities=priorities)
        drained = exhausted and not run.pending
        since = time.monotonic() - last_yield
        if run.ready and (
            drained or len(run.ready) >= batch_rows or since >= options.batch_interval_s
        ):
            ready = run.take()
            done += len(ready)
            yield _stream_batch(run, ready, done=done, total=source.total, t0=t0)
            last_yield = time.monotonic()
            continue
        if drained:
            run.completed = True
            return
        await run.wait(max(0.0, options.batch_interval_s - since) if run.ready else None)
