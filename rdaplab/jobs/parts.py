"""A job's input and results on disk, beside the ledger: ``<cache>.jobs/<job id>/``.

- ``input.parquet``: the values to look up (``row``, ``value``), written once at submit,
  so the job does not depend on a file that may move or a notebook that may close;
- ``parts/NNNNNN-<frame>.parquet``: the rows finished so far, one set of files per
  ``PART_ROWS`` rows or ``PART_EVERY_S`` seconds (:class:`PartWriter`; each file written
  to a temporary name, then renamed: a killed worker leaves whole files or none), the
  small ones merged every ``COMPACT_PARTS`` parts and when a run ends
  (:meth:`JobFiles.compact`), so a job of days keeps tens of files, not one per second;
- ``segments/<batch id>.json`` and ``segments/<batch id>-attempts.parquet``: each run of
  the job (a segment ends with a pause, a window's end, a preemption, the deadline or
  the end) records its summary and its attempts, copied from the cache by the worker,
  so that the result can be read while a worker holds the cache.

A row is finished once it is in a ``queries`` part; a resumed job skips those rows (the
rows a killed worker had not written yet are answered from the cache by the next run).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import polars as pl

from rdaplab.schemas import (
    ATTEMPTS_SCHEMA,
    AUTNUMS_SCHEMA,
    DOMAINS_SCHEMA,
    ENTITIES_SCHEMA,
    EVENTS_SCHEMA,
    LINKS_SCHEMA,
    NAMESERVERS_SCHEMA,
    NETWORKS_SCHEMA,
    QUERIES_SCHEMA,
    REDACTIONS_SCHEMA,
    REMARKS_SCHEMA,
    Frames,
    empty,
)

__all__ = ["COMPACT_PARTS", "PART_EVERY_S", "PART_ROWS", "JobFiles", "PartWriter", "batch_frames"]

PART_ROWS = 5_000  # rows buffered before a part is written ...
PART_EVERY_S = 1.0  # ... or seconds since the last part (a kill loses no more: the cache
#                     commits as often, so what is in neither is about a second's work)
COMPACT_PARTS = 64  # small parts merged into one once there are this many
BIG_PART_ROWS = 100_000  # a part this large is left alone by later merges

_SCHEMAS = {
    "domains": DOMAINS_SCHEMA,
    "networks": NETWORKS_SCHEMA,
    "autnums": AUTNUMS_SCHEMA,
    "queries": QUERIES_SCHEMA,
    "events": EVENTS_SCHEMA,
    "entities": ENTITIES_SCHEMA,
    "nameservers": NAMESERVERS_SCHEMA,
    "redactions": REDACTIONS_SCHEMA,
    "remarks": REMARKS_SCHEMA,
    "links": LINKS_SCHEMA,
}
_ROWED = ("domains", "networks", "autnums", "queries")  # one row per input row


_DETAIL = ("events", "entities", "nameservers", "redactions", "remarks", "links")


def batch_frames(batch: Any, rows: pl.Series) -> dict[str, pl.DataFrame]:
    """A stream batch's frames for a part: the per-row frames' ``row`` (an index into the
    values streamed) mapped to ``rows`` (the job's or study's own row numbers)."""
    frames: dict[str, pl.DataFrame] = {}
    for name in _ROWED:
        frame: pl.DataFrame = getattr(batch, name)
        frames[name] = frame.with_columns(rows.gather(frame["row"]).alias("row"))
    for name in _DETAIL:
        frames[name] = getattr(batch, name)
    return frames


def _write_atomic(frame: pl.DataFrame, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    frame.write_parquet(tmp)
    os.replace(tmp, path)


class JobFiles:
    """The files of one job (see the module)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.input = root / "input.parquet"
        self.parts = root / "parts"
        self.segments = root / "segments"

    def create(self, values: list[Any]) -> int:
        """Write the job's input; returns its row count."""
        self.parts.mkdir(parents=True, exist_ok=True)
        self.segments.mkdir(parents=True, exist_ok=True)
        strings = [None if v is None else str(v) for v in values]
        frame = pl.DataFrame(
            {"row": pl.Series(range(len(strings)), dtype=pl.Int64), "value": strings},
            schema={"row": pl.Int64, "value": pl.String},
        )
        _write_atomic(frame, self.input)
        return frame.height

    def write_input(self, frame: pl.DataFrame) -> int:
        """Write an input frame (``row`` Int64, ``value`` String) as it is: a shard of a
        larger study keeps the study's row numbers."""
        self.parts.mkdir(parents=True, exist_ok=True)
        self.segments.mkdir(parents=True, exist_ok=True)
        _write_atomic(frame.select(pl.col("row").cast(pl.Int64), pl.col("value")), self.input)
        return frame.height

    def read_input(self) -> pl.DataFrame:
        return pl.read_parquet(self.input)

    # -- parts ----------------------------------------------------------------------------
    def _next_seq(self) -> int:
        seq = getattr(self, "_seq", None)
        if seq is None:  # the folder is read once; then this object counts
            names = [p.name.split("-", 1)[0] for p in self.parts.glob("*-*.parquet")]
            seq = max((int(n) for n in names if n.isdigit()), default=0)
        self._seq: int = seq + 1
        return self._seq

    def write_part(self, frames: dict[str, pl.DataFrame]) -> None:
        """One part: frames (``row`` already the job's input row) of finished rows. The
        ``queries`` file is written last: it is what marks the rows finished."""
        seq = self._next_seq()
        for name, frame in frames.items():
            if name != "queries" and frame.height:
                _write_atomic(frame, self.parts / f"{seq:06d}-{name}.parquet")
        _write_atomic(frames["queries"], self.parts / f"{seq:06d}-queries.parquet")

    def _small_parts(self) -> dict[str, list[Path]]:
        """seq -> its files, for the parts of fewer than ``BIG_PART_ROWS`` rows."""
        out: dict[str, list[Path]] = {}
        for path in self.parts.glob("*-*.parquet"):
            out.setdefault(path.name.split("-", 1)[0], []).append(path)
        small = {}
        for seq, paths in out.items():
            queries = [p for p in paths if p.name.endswith("-queries.parquet")]
            if not queries:
                continue  # a part a kill left without its queries file: rewritten later
            rows = pl.scan_parquet(queries[0]).select(pl.len()).collect().item()
            if rows < BIG_PART_ROWS:
                small[seq] = paths
        return small

    def compact(self, *, min_parts: int = 2) -> int:
        """Merge the small parts into one when there are ``min_parts`` of them (the worker
        does it every ``COMPACT_PARTS`` parts and when a run ends), so a job of days keeps
        tens of files, and each merge reads at most ``BIG_PART_ROWS`` rows. The merged
        files are renamed into place before the old ones go: a kill in between leaves
        rows twice, never none (:meth:`frames` keeps each row once). Returns how many
        parts were merged."""
        small = self._small_parts()
        if len(small) < min_parts:
            return 0
        merged: dict[str, pl.DataFrame] = {}
        for name in _SCHEMAS:
            files = sorted(
                p for ps in small.values() for p in ps if p.name.endswith(f"-{name}.parquet")
            )
            if files:
                frame = pl.concat([pl.read_parquet(f) for f in files], how="vertical_relaxed")
                merged[name] = frame.unique("row", keep="first") if name in _ROWED else frame
        self.write_part(merged)
        for paths in small.values():
            for path in paths:
                path.unlink(missing_ok=True)
        return len(small)

    def _scan(self, name: str) -> pl.DataFrame | None:
        files = sorted(self.parts.glob(f"*-{name}.parquet"))
        if not files:
            return None
        return pl.concat([pl.read_parquet(f) for f in files], how="vertical_relaxed")

    def finished_queries(self) -> pl.DataFrame:
        """The ``queries`` rows finished so far, each row once (``row`` kept)."""
        frame = self._scan("queries")
        if frame is None:
            return empty(QUERIES_SCHEMA).insert_column(0, pl.Series("row", [], dtype=pl.Int64))
        return frame.unique("row", keep="first", maintain_order=True)

    def done_rows(self) -> pl.Series:
        """The input rows finished so far (Int64)."""
        files = sorted(self.parts.glob("*-queries.parquet"))
        if not files:
            return pl.Series("row", [], dtype=pl.Int64)
        return pl.concat([pl.read_parquet(f, columns=["row"]) for f in files])["row"]

    def frames(self) -> Frames:
        """Every frame of the rows finished so far: the per-row frames in input order
        (without ``row``), the detail frames once per distinct row."""
        out: dict[str, pl.DataFrame] = {}
        for name, schema in _SCHEMAS.items():
            frame = self._scan(name)
            if frame is None:
                out[name] = empty(schema)
            elif name in _ROWED:
                # a row in two parts (finished, then finished again by a run resumed
                # before the first part was known) is kept once
                out[name] = frame.unique("row", keep="first").sort("row").drop("row")
            else:
                out[name] = frame.unique(maintain_order=True)
        return Frames(**out)

    # -- segments ---------------------------------------------------------------------------
    def write_segment(
        self, batch_id: str, summary: dict[str, Any] | None, attempts: pl.DataFrame
    ) -> None:
        self.segments.mkdir(parents=True, exist_ok=True)
        _write_atomic(attempts, self.segments / f"{batch_id}-attempts.parquet")
        tmp = self.segments / f"{batch_id}.json.tmp"
        tmp.write_text(json.dumps(summary, default=str))
        os.replace(tmp, self.segments / f"{batch_id}.json")

    def attempts(self) -> pl.DataFrame:
        files = sorted(self.segments.glob("*-attempts.parquet"))
        if not files:
            return empty(ATTEMPTS_SCHEMA)
        return pl.concat([pl.read_parquet(f) for f in files], how="vertical_relaxed")

    def summaries(self) -> list[dict[str, Any]]:
        out = []
        for path in sorted(self.segments.glob("*.json"), key=lambda p: p.stat().st_mtime):
            data = json.loads(path.read_text())
            if data is not None:
                out.append(data)
        return out


class PartWriter:
    """Buffers finished rows and writes them as a part every ``max_rows`` rows or
    ``max_age_s`` seconds (and at :meth:`flush`)."""

    def __init__(
        self, files: JobFiles, *, max_rows: int = PART_ROWS, max_age_s: float = PART_EVERY_S
    ) -> None:
        self.files = files
        self.max_rows = max_rows
        self.max_age_s = max_age_s
        self._frames: dict[str, list[pl.DataFrame]] = {}
        self._rows = 0
        self._since = time.monotonic()
        self.parts_written = 0

    def add(self, frames: dict[str, pl.DataFrame]) -> None:
        for name, frame in frames.items():
            if frame.height or name == "queries":
                self._frames.setdefault(name, []).append(frame)
        self._rows += frames["queries"].height
        self.flush_if_due()

    def flush_if_due(self) -> None:
        due = time.monotonic() - self._since >= self.max_age_s
        if self._rows and (self._rows >= self.max_rows or due):
            self.flush()

    def flush(self) -> None:
        if self._frames.get("queries"):
            self.files.write_part(
                {n: pl.concat(fs, how="vertical_relaxed") for n, fs in self._frames.items()}
            )
            self.parts_written += 1
            if self.parts_written % COMPACT_PARTS == 0:
                self.files.compact(min_parts=COMPACT_PARTS)
        self._frames = {}
        self._rows = 0
        self._since = time.monotonic()
