"""A job's input and results on disk, beside the ledger: ``<cache>.jobs/<job id>/``.

- ``input.parquet``: the values to look up (``row``, ``value``), written once at submit,
  so the job does not depend on a file that may move or a notebook that may close;
- ``parts/NNNNNN-<frame>.parquet``: the rows finished so far, one set of files per
  :class:`~rdaplab.StreamBatch` (each written to a temporary name, then renamed: a killed
  worker leaves whole files or none);
- ``segments/<batch id>.json`` and ``segments/<batch id>-attempts.parquet``: each run of
  the job (a segment ends with a pause, a window's end, a preemption, the deadline or
  the end) records its summary and its attempts, copied from the cache by the worker,
  so that the result can be read while a worker holds the cache.

A row is finished once it is in a ``queries`` part; a resumed job skips those rows.
"""

from __future__ import annotations

import json
import os
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

__all__ = ["JobFiles"]

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

    def read_input(self) -> pl.DataFrame:
        return pl.read_parquet(self.input)

    # -- parts ----------------------------------------------------------------------------
    def _next_seq(self) -> int:
        names = [p.name.split("-", 1)[0] for p in self.parts.glob("*-queries.parquet")]
        return max((int(n) for n in names if n.isdigit()), default=0) + 1

    def write_part(self, frames: dict[str, pl.DataFrame]) -> None:
        """One :class:`StreamBatch`'s frames (``row`` already the job's input row). The
        ``queries`` file is written last: it is what marks the rows finished."""
        seq = self._next_seq()
        for name, frame in frames.items():
            if name != "queries" and frame.height:
                _write_atomic(frame, self.parts / f"{seq:06d}-{name}.parquet")
        _write_atomic(frames["queries"], self.parts / f"{seq:06d}-queries.parquet")

    def _scan(self, name: str) -> pl.DataFrame | None:
        files = sorted(self.parts.glob(f"*-{name}.parquet"))
        if not files:
            return None
        return pl.concat([pl.read_parquet(f) for f in files], how="vertical_relaxed")

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
