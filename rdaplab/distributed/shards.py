"""Sharded studies on a Dask cluster: ``submit``, the :class:`Study` handle, one task per bucket.

The input is split by a stable hash of each name's normalized query (``blake2b`` of
``kind:query``, 64 bits, mod ``buckets``) into buckets fixed for the life of the store: a
name always lands in the same bucket, so it is fetched once however the input is ordered
or rerun, and a store can be resumed by any number of workers. Each bucket is one Dask
task that runs :func:`rdaplab.stream` over the bucket's rows with its own DuckDB cache
and writes finished rows to Parquet parts as they come (:mod:`rdaplab.distributed.store`).

Why by name and not by registry host: with a budget per source address (``"egress"``),
every worker must reach every host, or the host that dominates a study (``.com``) gets no
speed-up; with one cluster budget, the budget already does the per-host work.

Fault tolerance is Dask's: a task whose worker dies is run again elsewhere (up to
``distributed.scheduler.allowed-failures``), and the rerun resumes from the bucket's
parts and cache: only what the dead worker had not committed (about a second of answers)
and what it had in flight are fetched twice. Resubmitting with the same store skips
finished buckets.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from rdaplab._version import __version__
from rdaplab.batch import LookupOptions, LookupResult, StreamBatch, stream
from rdaplab.batch.inputs import open_source
from rdaplab.batch.plan import plan_queries
from rdaplab.batch.result import make_result
from rdaplab.batch.summary import SummaryBuilder
from rdaplab.distributed.store import StudyStore, scan
from rdaplab.errors import InputError
from rdaplab.jobs.job import JOB_OPTIONS, SUMMARY_COLUMNS
from rdaplab.jobs.parts import PartWriter, batch_frames

__all__ = ["BUDGETS", "EGRESS_ENV", "Study", "bucket_of", "run_bucket", "submit"]

log = logging.getLogger("rdaplab")

BUDGETS = ("cluster", "egress", "none")
#: A worker's source address for ``budget="egress"`` when no mapping names it.
EGRESS_ENV = "RDAPLAB_SOURCE_ADDRESS"
BACKLOG_EVERY_S = 2.0  # how often a bucket recounts the study's buckets left
PARTITION_CHUNK = 200_000
_ROWED = ("domains", "networks", "autnums", "queries")
# Options a bucket's batch takes from submit: a job's, and (a study has no worker
# settings of its own) the politeness, bootstrap and timeouts; the column is submit's.
_STUDY_OPTIONS = (
    *(o for o in JOB_OPTIONS if o != "column"),
    "limits",
    "retry",
    "timeouts",
    "bootstrap",
    "bootstrap_overrides",
)


def bucket_of(key: str, buckets: int) -> int:
    """The bucket of a normalized query key: stable across runs, machines and versions."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % buckets


# -- the input, split -------------------------------------------------------------------------
def _partition(values: Any, column: str | None, kind: str, st: StudyStore, buckets: int) -> int:
    """Split the input into the store's bucket input files; returns the row count.

    Read in chunks (never whole); each chunk's rows are grouped by bucket and written as
    a piece per bucket, then each bucket's pieces are joined into its ``input.parquet``.
    """
    source = open_source(values, column, PARTITION_CHUNK)
    tmp = st.root / "_partition"
    tmp.mkdir(parents=True, exist_ok=True)
    first = 0
    for n, chunk in enumerate(source.chunks):
        rows, _ = plan_queries(chunk, kind)
        ids = [bucket_of(key, buckets) for _, key in rows]
        frame = pl.DataFrame(
            {
                "row": pl.Series(range(first, first + len(chunk)), dtype=pl.Int64),
                "value": [None if v is None else str(v) for v in chunk],
                "bucket": pl.Series(ids, dtype=pl.Int64),
            },
            schema={"row": pl.Int64, "value": pl.String, "bucket": pl.Int64},
        )
        first += len(chunk)
        for (bucket,), part in frame.partition_by("bucket", as_dict=True).items():
            part.drop("bucket").write_parquet(tmp / f"b{bucket:05d}-{n:06d}.parquet")
    pieces: dict[int, list[Path]] = {}
    for path in tmp.glob("b*-*.parquet"):
        pieces.setdefault(int(path.name[1:6]), []).append(path)
    for bucket, paths in pieces.items():
        frame = pl.concat([pl.read_parquet(p) for p in sorted(paths)]).sort("row")
        st.files(bucket).write_input(frame)
        for path in paths:
            path.unlink()
    with contextlib.suppress(OSError):
        tmp.rmdir()
    return first


# -- one bucket, on a worker ------------------------------------------------------------------
def _worker_egress(egress: Mapping[str, str] | None) -> str | None:
    """This worker's source address: the mapping's entry for it, else $RDAPLAB_SOURCE_ADDRESS."""
    if egress:
        with contextlib.suppress(Exception):
            from distributed import get_worker

            worker = get_worker()
            for key in (worker.address, worker.name, str(worker.name)):
                if key in egress:
                    return egress[key]
    return os.environ.get(EGRESS_ENV) or None


def run_bucket(
    store: str,
    bucket: int,
    options: dict[str, Any],
    *,
    budget: str = "cluster",
    egress: Mapping[str, str] | None = None,
    run_id: str = "",
) -> dict[str, Any]:
    """Look up one bucket's rows (a Dask task; callable directly too). Returns its manifest.

    Resumes: rows already in the bucket's parts are skipped, and answers already in its
    cache are not fetched again (they count as fresh for the whole study).
    """
    st = StudyStore(store)
    done = st.done(bucket)
    if done is not None:
        return done
    files = st.files(bucket)
    inp = files.read_input()
    finished = files.done_rows()
    todo = inp.filter(~pl.col("row").is_in(finished.implode())) if finished.len() else inp
    opts = dict(options)
    source_address = _worker_egress(egress) if budget == "egress" else None
    if source_address is not None:
        opts["source_address"] = source_address
    shared: Any = None
    if budget != "none":
        from rdaplab.engine.dask_budget import DaskBudget

        scope = (
            f"egress:{source_address or socket.gethostname()}" if budget == "egress" else "cluster"
        )
        opts["budget"] = shared = DaskBudget.from_worker(
            scope=scope, limits=opts.get("limits"), retry=opts.get("retry")
        )
    t0 = time.monotonic()
    if todo.height:
        rows_map = todo["row"]
        parts = PartWriter(files)
        scaled_at = -math.inf
        study_buckets = st.bucket_ids()  # fixed for the study: listed once, not per recount

        def scale_backlog() -> None:
            # The controller raises a rate only when the work left pays for the risk;
            # a bucket's own queue is a fraction of the study's (16 buckets on 4
            # workers: a quarter, and the 60/s host of the bench stayed at 50/s for
            # 13 s, its queue "too short" for a probe, while 2,300 names waited).
            nonlocal scaled_at
            if shared is None or time.monotonic() - scaled_at < BACKLOG_EVERY_S:
                return
            scaled_at = time.monotonic()
            started, waiting = st.work_left(study_buckets)
            shared.backlog_scale = 1.0 + waiting / max(1, started)

        def on_batch(batch: StreamBatch) -> None:
            parts.add(batch_frames(batch, rows_map))
            scale_backlog()

        async def consume() -> None:
            it: Any = stream(
                todo["value"].to_list(),
                cache=st.cache_path(bucket),
                progress=False,
                batch_interval_s=0.5,
                **opts,
            )
            async with contextlib.aclosing(it) as batches:
                async for batch in batches:
                    on_batch(batch)

        try:
            asyncio.run(consume())
        finally:
            parts.flush()  # every row handed over, whatever stopped the run
            files.compact()
            _save_segments(st, bucket)
    else:  # every row was in parts: a killed run's attempts may still wait to be saved
        _save_segments(st, bucket)
    manifest = _bucket_manifest(st, bucket, inp.height, time.monotonic() - t0, run_id)
    manifest["fetched_rows"] = todo.height
    st.mark_done(bucket, manifest)
    return manifest


def _save_segments(st: StudyStore, bucket: int) -> None:
    """Copy every run's summary and attempts from the bucket's cache beside its parts,
    the runs of a killed worker included (their attempts were committed every second;
    a SIGKILL skips the ``finally`` that would have saved them)."""
    from rdaplab.store import Cache

    files = st.files(bucket)
    if not st.cache_path(bucket).exists():
        return
    with Cache(st.cache_path(bucket)) as cache:
        saved = {p.name.removesuffix(".json") for p in files.segments.glob("*.json")}
        for batch_id in cache.batches()["batch_id"].to_list():
            if batch_id in saved:
                continue
            row = cache.batch(batch_id)
            summary = json.loads(row["summary"]) if row is not None and row.get("summary") else None
            st.files(bucket).write_segment(batch_id, summary, cache.attempts(batch_id))


def _bucket_manifest(
    st: StudyStore, bucket: int, rows: int, wall_s: float, run_id: str
) -> dict[str, Any]:
    files = st.files(bucket)
    queries = files.finished_queries()
    attempts = files.attempts()
    outcomes = queries["outcome"].value_counts() if queries.height else None
    counts = {} if outcomes is None else dict(outcomes.iter_rows())
    worker = None
    with contextlib.suppress(Exception):
        from distributed import get_worker

        worker = get_worker().address
    return {
        "bucket": bucket,
        "rows": rows,
        "finished_rows": queries.height,
        "ok": int(counts.get("ok", 0)),
        "not_found": int(counts.get("not_found", 0)),
        "error": int(counts.get("error", 0)),
        "requests": attempts.height,
        "throttled": int(attempts["throttled"].sum()) if attempts.height else 0,
        "wall_s": round(wall_s, 3),
        "worker": worker,
        "run_id": run_id,
    }


# -- the driver -------------------------------------------------------------------------------
class Study:
    """A sharded study submitted to a Dask cluster (:func:`submit` returns one).

    Attributes
    ----------
    store
        The study's folder (read it with :func:`rdaplab.scan`).
    futures
        The Dask futures of the buckets this run submitted (released as each finishes).
    """

    def __init__(self, store: StudyStore, client: Any, futures: dict[int, Any], total: int) -> None:
        self.store = store
        self.client = client
        self.futures = futures
        self.total = total
        self.buckets = store.manifest()["buckets"]
        self._errors: dict[int, str] = {}
        self._lock = threading.Lock()
        for bucket, future in list(futures.items()):
            future.add_done_callback(self._release(bucket))

    def _release(self, bucket: int) -> Callable[[Any], None]:
        # A finished bucket's future is let go: its result is on disk, and a future the
        # driver still held would be recomputed if the worker holding it died.
        def done(future: Any) -> None:
            with self._lock:
                if future.status == "error":
                    with contextlib.suppress(Exception):
                        self._errors[bucket] = repr(future.exception())
                elif future.status == "cancelled":
                    self._errors[bucket] = "cancelled"
                self.futures.pop(bucket, None)

        return done

    # -- progress -----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Buckets done/running/failed, rows finished (from the parts) and requests."""
        buckets = self.store.bucket_ids()
        done = [b for b in buckets if self.store.done(b) is not None]
        rows = 0
        for bucket in buckets:
            with contextlib.suppress(Exception):
                rows += self.store.files(bucket).done_rows().n_unique()
        with self._lock:
            failed = dict(self._errors)
            running = len(self.futures)
        return {
            "store": str(self.store.root),
            "buckets": len(buckets),
            "buckets_done": len(done),
            "buckets_running": running,
            "buckets_failed": failed,
            "rows": self.total,
            "rows_done": rows,
            "percent": round(100.0 * rows / self.total, 1) if self.total else 100.0,
            "complete": len(done) == len(buckets),
        }

    def done(self) -> bool:
        with self._lock:
            return not self.futures

    def wait(self, timeout: float | None = None, *, poll_s: float = 0.5) -> dict[str, Any]:
        """Wait until every bucket of this run ended; returns :meth:`status`."""
        end = None if timeout is None else time.monotonic() + timeout
        while not self.done():
            if end is not None and time.monotonic() >= end:
                raise TimeoutError(f"the study at {self.store.root} is still running")
            time.sleep(poll_s)
        return self.status()

    def progress(self, *, every_s: float = 1.0) -> None:
        """Show progress until the study ends: a widget in a notebook, lines elsewhere."""
        bar = _widget(self.total)
        while True:
            st = self.status()
            if bar is not None:
                bar.value = st["rows_done"]
                bar.description = f"{st['buckets_done']}/{st['buckets']} buckets"
            else:
                print(
                    f"rdaplab study: {st['rows_done']:,}/{st['rows']:,} rows "
                    f"({st['percent']}%), {st['buckets_done']}/{st['buckets']} buckets",
                    flush=True,
                )
            if self.done():
                return
            time.sleep(every_s)

    def cancel(self) -> None:
        """Cancel the buckets not finished yet (what they fetched stays in their caches
        and parts; resubmitting with the same store goes on from there)."""
        with self._lock:
            futures = list(self.futures.values())
        if futures:
            self.client.cancel(futures)

    def result(self) -> LookupResult:
        """The study's rows as a :class:`~rdaplab.LookupResult`: every per-row frame in
        input order, the attempts of every bucket, and a lookup's summary keys. For
        studies too large for memory, use :func:`rdaplab.scan` instead."""
        return load_study(self.store)

    def __repr__(self) -> str:
        st = self.status()
        return (
            f"<rdaplab.distributed.Study {st['store']}: {st['rows_done']:,}/{st['rows']:,} "
            f"rows, {st['buckets_done']}/{st['buckets']} buckets>"
        )


def _widget(total: int) -> Any:
    try:
        from IPython import get_ipython

        if get_ipython() is None or "IPKernelApp" not in get_ipython().config:
            return None
        import ipywidgets
        from IPython.display import display
    except Exception:
        return None
    bar = ipywidgets.IntProgress(min=0, max=max(1, total), description="buckets")
    display(bar)
    return bar


def load_study(store: str | Path | StudyStore) -> LookupResult:
    """Every finished row of a study as a :class:`~rdaplab.LookupResult` (input order)."""
    from rdaplab.schemas import Frames

    st = store if isinstance(store, StudyStore) else StudyStore(store)
    manifest = st.manifest()
    frames: dict[str, pl.DataFrame] = {}
    for name in Frames.__dataclass_fields__:
        frame = scan(st, name).collect()
        # per-row frames: once per row, in the study's order; details: once each
        frames[name] = frame.drop("row") if name in _ROWED else frame.unique(maintain_order=True)
    result_frames = Frames(**frames)
    attempts = scan(st, "attempts").collect()
    counts = SummaryBuilder()
    if set(SUMMARY_COLUMNS) <= set(result_frames.queries.columns):
        counts.add_queries(result_frames.queries)
    buckets = [st.done(b) for b in st.bucket_ids()]
    summary: dict[str, Any] = counts.build(
        batch_id=manifest.get("study_id", ""),
        elapsed_s=max((b["wall_s"] for b in buckets if b), default=0.0),
        cache=None,
        attempts_of=None,
        attempts=attempts,
    )
    summary.update(
        study=str(st.root),
        buckets=manifest["buckets"],
        buckets_done=sum(1 for b in buckets if b),
        complete=all(buckets),
    )
    study_id = str(manifest.get("study_id", ""))
    return make_result(result_frames, attempts, summary, study_id, str(st.root))


def submit(
    values: Any,
    *,
    client: Any,
    store: str | Path,
    buckets: int = 1024,
    budget: str = "cluster",
    column: str | None = None,
    egress: Mapping[str, str] | Sequence[str] | None = None,
    retries: int = 3,
    **options: Any,
) -> Study:
    """Run a study of ``values`` on a Dask cluster, sharded by name into ``buckets``.

    Parameters
    ----------
    values
        Anything :func:`rdaplab.stream` reads (a file, a frame, a list); read in chunks.
    client
        A ``distributed.Client``.
    store
        The study's folder, on storage every worker can reach. Submitting again with the
        same store goes on from what it holds: finished buckets are skipped, the others
        resume from their parts and caches. The input is split only on the first submit.
    buckets
        Fixed for the life of the store (a store split into 1,024 cannot be read as 256).
    budget
        ``"cluster"`` (default): one politeness budget per registry host for every worker,
        held and learned by the Dask scheduler. ``"egress"``: one per source address,
        each worker sending from its own (``egress``); only for addresses you may use:
        registries limit per client address, and spreading over addresses to go past a
        registry's limit breaks their terms of use (docs/distributed.md). ``"none"``:
        each bucket paces itself alone (tests, or a cluster of one worker).
    egress
        ``budget="egress"``: the source address of each worker, ``{worker address or
        name: "192.0.2.10"}``, or a list handed out to the workers in order. Workers not
        named use ``$RDAPLAB_SOURCE_ADDRESS``.
    retries
        Times a bucket is run again after its worker died (Dask's ``retries``).
    **options
        Lookup options of the study's batches (``kind``, ``max_age``, ``limits``,
        ``privacy``, ...).
    """
    if budget not in BUDGETS:
        raise InputError(f"budget must be one of {', '.join(BUDGETS)}; got {budget!r}")
    if not isinstance(buckets, int) or not 1 <= buckets <= 100_000:
        raise InputError(f"buckets must be an integer from 1 to 100,000; got {buckets!r}")
    unknown = sorted(set(options) - set(_STUDY_OPTIONS))
    if unknown:
        raise InputError(
            f"a study cannot take option(s) {', '.join(unknown)}; it takes "
            f"{', '.join(_STUDY_OPTIONS)}"
        )
    LookupOptions(**options)  # every bad value fails now, not on a worker
    kind = options.get("kind", "auto")
    st = StudyStore(store)
    if st.exists():
        manifest = st.manifest()
        if manifest["buckets"] != buckets:
            raise InputError(
                f"{st.root} was split into {manifest['buckets']} buckets, not {buckets}: "
                "a store keeps its buckets (use a new store)"
            )
        total = int(manifest["total"])
    else:
        st.root.mkdir(parents=True, exist_ok=True)
        total = _partition(values, column, kind, st, buckets)
        manifest = {
            "version": 1,
            "study_id": uuid.uuid4().hex,
            "buckets": buckets,
            "hash": "blake2b-64(normalized query key) mod buckets",
            "kind": kind,
            "column": column,
            "total": total,
            "created_at": time.time(),
            "rdaplab": __version__,
            "runs": [],
        }
    run_id = uuid.uuid4().hex[:12]
    manifest["runs"].append({"run_id": run_id, "started_at": time.time(), "budget": budget})
    st.write_manifest(manifest)
    egress_map = _egress_map(client, egress) if budget == "egress" else None
    todo = [b for b in st.bucket_ids() if st.done(b) is None]
    futures: dict[int, Any] = {}
    for bucket in todo:
        futures[bucket] = client.submit(
            run_bucket,
            str(st.root),
            bucket,
            options,
            budget=budget,
            egress=egress_map,
            run_id=run_id,
            key=f"rdaplab-bucket-{manifest['study_id'][:8]}-{bucket:05d}",
            retries=retries,
            pure=False,
        )
    return Study(st, client, futures, total)


def _egress_map(
    client: Any, egress: Mapping[str, str] | Sequence[str] | None
) -> dict[str, str] | None:
    if egress is None:
        return None
    if isinstance(egress, Mapping):
        return {str(k): str(v) for k, v in egress.items()}
    workers = sorted(client.scheduler_info()["workers"])
    if len(egress) < len(workers):
        raise InputError(
            f"egress lists {len(egress)} addresses for {len(workers)} workers: name one per worker"
        )
    return dict(zip(workers, egress, strict=False))


def lookup_on_cluster(values: Any, options: LookupOptions) -> LookupResult:
    """``rdaplab.lookup(values, cluster=client)``: a study in a temporary store, loaded."""
    opts = {k: v for k, v in options.kwargs().items() if k in _STUDY_OPTIONS}
    defaults = LookupOptions().kwargs()
    opts = {k: v for k, v in opts.items() if v != defaults.get(k)}
    with tempfile.TemporaryDirectory(prefix="rdaplab-study-") as tmp:
        names = values
        study = submit(
            names,
            client=options.cluster,
            store=Path(tmp) / "study",
            buckets=_small_buckets(options.cluster),
            column=options.column,
            **opts,
        )
        study.wait()
        status = study.status()
        if status["buckets_failed"]:
            raise InputError(f"the study failed in buckets {status['buckets_failed']}")
        return study.result()


def _small_buckets(client: Any) -> int:
    with contextlib.suppress(Exception):
        return max(1, 4 * len(client.scheduler_info()["workers"]))
    return 16
