"""A sharded study on disk, and reading it: ``rdaplab.scan``, a DuckDB view, ``compact``.

Layout (one folder; shared storage when workers are on several machines)::

    store/
      study.json                  # buckets, hash, kind, options, rdaplab version, runs
      buckets/b00007/input.parquet        # the bucket's rows: row (the study's), value
      buckets/b00007/cache.duckdb         # the bucket's rdaplab cache: resume, raw answers
      buckets/b00007/parts/NNNNNN-<frame>.parquet   # finished rows (row = the study's)
      buckets/b00007/segments/<batch>.json, <batch>-attempts.parquet   # each run
      buckets/b00007/done.json            # the bucket's manifest, once it is finished

A bucket folder is a job folder (:class:`rdaplab.jobs.parts.JobFiles`): parts are written
as rows finish (a killed worker leaves whole files or none), and a rerun skips the rows
already in parts. Each bucket has its own DuckDB file because DuckDB lets one process
write a file: no bucket waits for another, and no merge step is needed to read the study.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import polars as pl

from rdaplab.errors import InputError
from rdaplab.jobs.parts import _SCHEMAS, JobFiles
from rdaplab.schemas import ATTEMPTS_SCHEMA, empty

__all__ = ["FRAMES", "StudyStore", "compact", "connect", "scan"]

STUDY_FILE = "study.json"
#: What :func:`scan` reads: the per-row frames, their detail frames, and the attempts.
FRAMES = (*_SCHEMAS, "attempts")
_ROWED = ("domains", "networks", "autnums", "queries")


class StudyStore:
    """The folder of one sharded study (see the module)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()
        self.manifest_path = self.root / STUDY_FILE
        self.buckets_dir = self.root / "buckets"

    # -- the manifest -----------------------------------------------------------------------
    def exists(self) -> bool:
        return self.manifest_path.exists()

    def manifest(self) -> dict[str, Any]:
        if not self.exists():
            raise InputError(f"{self.root} is not an rdaplab study (no {STUDY_FILE})")
        data: dict[str, Any] = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        return data

    def write_manifest(self, data: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.manifest_path.with_name(STUDY_FILE + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
        os.replace(tmp, self.manifest_path)

    # -- buckets ----------------------------------------------------------------------------
    def bucket_dir(self, bucket: int) -> Path:
        return self.buckets_dir / f"b{bucket:05d}"

    def files(self, bucket: int) -> JobFiles:
        return JobFiles(self.bucket_dir(bucket))

    def cache_path(self, bucket: int) -> Path:
        return self.bucket_dir(bucket) / "cache.duckdb"

    def done_path(self, bucket: int) -> Path:
        return self.bucket_dir(bucket) / "done.json"

    def bucket_ids(self) -> list[int]:
        """Buckets with input (a bucket no name hashed to has no folder)."""
        if not self.buckets_dir.exists():
            return []
        return sorted(
            int(p.name[1:])
            for p in self.buckets_dir.iterdir()
            if p.name.startswith("b") and (p / "input.parquet").exists()
        )

    def work_left(self, buckets: list[int] | None = None) -> tuple[int, int]:
        """``(started, waiting)``: buckets begun and not finished (their cache exists), and
        buckets not begun, from the folder alone (two file checks a bucket). ``buckets``:
        the study's :meth:`bucket_ids`, when the caller already listed them."""
        started = waiting = 0
        for bucket in self.bucket_ids() if buckets is None else buckets:
            if self.done_path(bucket).exists():
                continue
            if self.cache_path(bucket).exists():
                started += 1
            else:
                waiting += 1
        return started, waiting

    def done(self, bucket: int) -> dict[str, Any] | None:
        """The bucket's manifest once it is finished, else None."""
        path = self.done_path(bucket)
        if not path.exists():
            return None
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def mark_done(self, bucket: int, manifest: dict[str, Any]) -> None:
        path = self.done_path(bucket)
        tmp = path.with_name("done.json.tmp")
        tmp.write_text(json.dumps({**manifest, "finished_at": time.time()}, default=str))
        os.replace(tmp, path)

    # -- files ------------------------------------------------------------------------------
    def files_of(self, frame: str) -> list[Path]:
        """``frame``'s Parquet files over every bucket."""
        if not self.buckets_dir.exists():
            return []
        if frame == "attempts":
            return sorted(self.buckets_dir.glob("*/segments/*-attempts.parquet"))
        return sorted(self.buckets_dir.glob(f"*/parts/*-{frame}.parquet"))


def _schema(frame: str) -> dict[str, pl.DataType]:
    if frame == "attempts":
        return dict(empty(ATTEMPTS_SCHEMA).schema)
    schema = dict(empty(_SCHEMAS[frame]).schema)
    return {"row": pl.Int64(), **schema} if frame in _ROWED else schema


def scan(store: str | Path | StudyStore, frame: str = "domains") -> pl.LazyFrame:
    """The results of a sharded study as a lazy Polars frame over its Parquet parts.

    No merge step: each bucket's parts are read where they lie, finished buckets and
    buckets still running alike (a row is in a part once it finished). Per-row frames
    (``domains``, ``networks``, ``autnums``, ``queries``) carry the study's input ``row``
    and hold each row once (a row a killed worker wrote twice is kept once).

    Parameters
    ----------
    store
        The study's folder (``rdaplab.distributed.submit(..., store=...)``).
    frame
        One of :data:`FRAMES`: ``domains`` (default), ``networks``, ``autnums``,
        ``queries``, ``events``, ``entities``, ``nameservers``, ``redactions``,
        ``remarks``, ``links`` or ``attempts``.

    Examples
    --------
    >>> lf = rdaplab.scan("studies/zone-2026-12")  # doctest: +SKIP
    >>> lf.group_by("registrar").len().sort("len", descending=True).collect()  # doctest: +SKIP
    """
    st = store if isinstance(store, StudyStore) else StudyStore(store)
    if frame not in FRAMES:
        raise InputError(f"frame must be one of {', '.join(FRAMES)}; got {frame!r}")
    st.manifest()  # a clear error for a folder that is not a study
    files = st.files_of(frame)
    if not files:
        return pl.LazyFrame(schema=_schema(frame))
    lf = pl.scan_parquet(files, missing_columns="insert", extra_columns="ignore")
    if frame in _ROWED:
        return lf.unique("row", keep="first").sort("row")
    return lf


def connect(store: str | Path | StudyStore, *, frames: tuple[str, ...] = FRAMES) -> Any:
    """An in-memory DuckDB connection with one view per frame over the study's Parquet
    parts (``SELECT registrar, count(*) FROM domains GROUP BY ALL``)."""
    import duckdb

    st = store if isinstance(store, StudyStore) else StudyStore(store)
    st.manifest()
    con = duckdb.connect()
    for frame in frames:
        lf = scan(st, frame)
        # The view reads the files at query time; an empty frame is a typed empty table.
        files = st.files_of(frame)
        if files:
            listing = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
            src = f"read_parquet([{listing}], union_by_name = true)"
            if frame in _ROWED:
                src = f"(SELECT * FROM {src} QUALIFY row_number() OVER (PARTITION BY row) = 1)"
            con.execute(f'CREATE VIEW "{frame}" AS SELECT * FROM {src}')
        else:
            con.register(f"_{frame}_empty", lf.collect().to_arrow())
            con.execute(f'CREATE VIEW "{frame}" AS SELECT * FROM "_{frame}_empty"')
    return con


def compact(store: str | Path | StudyStore) -> dict[str, int]:
    """Merge each bucket's small Parquet parts into one (``rdaplab store compact``).

    Optional: :func:`scan` reads any number of parts; fewer, larger files read faster on
    shared storage. Safe while no worker writes the study. Returns ``{"buckets": n,
    "parts_merged": m}``.
    """
    st = store if isinstance(store, StudyStore) else StudyStore(store)
    st.manifest()
    merged = 0
    buckets = st.bucket_ids()
    for bucket in buckets:
        merged += st.files(bucket).compact()
    return {"buckets": len(buckets), "parts_merged": merged}
