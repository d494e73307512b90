"""What every chart aggregation starts from: the input frame, readable labels, time buckets.

Pure Polars (no Altair). ``Data`` is what a chart accepts: a LookupResult (duck-typed:
its ``domains``, ``attempts`` or ``nameservers`` frame is read), a Polars DataFrame or
LazyFrame, or a pandas frame (converted).

A registry is labelled by its base URL without the scheme (``rdap.verisign.com/com/v1``)
and a host by its ``host:port``; on loopback (the bundled simulator) both become the URL's
first path segment (``verisign``), the simulated registry's name.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import polars as pl

Data = Any  # a LookupResult, or a pl.DataFrame / pl.LazyFrame (a pandas frame is converted)

# The result classes of an attempt (throughput), in stacking order.
ATTEMPT_RESULTS = ("answered", "throttled", "error")
NONE_LABEL = "(none)"
MAX_BUCKETS = 100  # time series: at most this many points per series
HOST_BUCKETS = 60  # per-host panels are narrow: fewer points (the spec stays small)
_STEPS_S = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
_SCHEME = r"^[A-Za-z][A-Za-z0-9+.-]*://"
_LOOPBACK = r"^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$"


def frame_of(data: Data, name: str, needs: Sequence[str] = ()) -> pl.DataFrame:
    """The ``name`` frame of a LookupResult, or ``data`` itself as a Polars DataFrame.

    Raises ``ValueError`` when the frame lacks a column in ``needs`` (e.g. an attempts
    frame given where a domains frame is needed): an empty frame is fine, a wrong one not.
    """
    frame: pl.DataFrame
    if isinstance(data, pl.DataFrame):
        frame = data
    elif isinstance(data, pl.LazyFrame):
        frame = data.collect()
    elif isinstance(getattr(data, name, None), pl.DataFrame):
        frame = getattr(data, name)
    elif hasattr(data, "to_dict") and hasattr(data, "columns"):  # pandas
        frame = pl.from_pandas(data)
    else:
        raise TypeError(f"expected a LookupResult or a Polars DataFrame, got {type(data).__name__}")
    missing = [c for c in needs if c not in frame.columns]
    if missing:
        raise ValueError(
            f"this chart needs the {name} frame (see docs/schemas.md); missing columns: "
            f"{', '.join(missing)}"
        )
    return frame


def is_attempts(frame: pl.DataFrame) -> bool:
    return {"host", "started_at", "url"} <= set(frame.columns)


def url_label(url: pl.Expr) -> pl.Expr:
    """Readable label of a URL: no scheme, no trailing slash; loopback -> first path segment."""
    bare = url.str.replace(_SCHEME, "").str.strip_chars_end("/")
    host = bare.str.extract(r"^([^/]+)", 1)
    first = bare.str.extract(r"^[^/]+/([^/]+)", 1)
    return pl.when(host.str.contains(_LOOPBACK) & first.is_not_null()).then(first).otherwise(bare)


def host_label() -> pl.Expr:
    """Label of an attempt's host (``host`` column, or the simulator registry's name)."""
    first = pl.col("url").str.replace(_SCHEME, "").str.extract(r"^[^/]+/([^/]+)", 1)
    return (
        pl.when(pl.col("host").str.contains(_LOOPBACK) & first.is_not_null())
        .then(first)
        .otherwise(pl.col("host"))
    )


def registry_label() -> pl.Expr:
    return url_label(pl.col("registry_url")).fill_null(NONE_LABEL)


def elapsed_s(col: pl.Expr, start: Any) -> pl.Expr:
    return (col - pl.lit(start)).dt.total_microseconds() / 1e6


def as_float(value: Any) -> float:
    """A Polars scalar (``Series.max()`` and friends) as a float; null is 0."""
    return float(value) if value is not None else 0.0


def bucket_width(span_s: float, max_buckets: int = MAX_BUCKETS) -> float:
    """A round bucket width giving at most ``max_buckets`` buckets over ``span_s``."""
    for step in _STEPS_S:
        if span_s / step <= max_buckets:
            return float(step)
    return float(math.ceil(span_s / max_buckets / 3600) * 3600)


def order_by_weight(frame: pl.DataFrame, label: str, weight: str) -> list[str]:
    """Labels sorted by their summed ``weight``, largest first (an explicit axis order)."""
    totals = (
        frame.group_by(label)
        .agg(pl.col(weight).sum())
        .sort([weight, label], descending=[True, False])
    )
    return [str(v) for v in totals[label].to_list()]


def distinct_answered(data: Data, column: str) -> pl.DataFrame:
    """One row per distinct answered domain (the research views count domains, not rows)."""
    d = frame_of(data, "domains", ("domain", "outcome", column))
    return d.filter(pl.col("domain").is_not_null() & (pl.col("outcome") == "ok")).unique(
        "domain", keep="first"
    )
