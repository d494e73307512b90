"""Polars aggregations of how a batch ran: latency, errors, registry mix, throughput, rates.

Pure Polars (no Altair): each ``*_data`` function returns the small frame its chart in
:mod:`~rdaplab.notebook.charts.batch_charts` draws, at most a few hundred rows whatever
the batch size. Every output is sorted on its keys: ``group_by``'s order varies run to
run, and a chart's data must not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import polars as pl

from rdaplab.notebook.charts.inputs import (
    ATTEMPT_RESULTS,
    HOST_BUCKETS,
    NONE_LABEL,
    Data,
    as_float,
    bucket_width,
    elapsed_s,
    frame_of,
    host_label,
    is_attempts,
    registry_label,
)


def latency_samples(
    data: Data, source: Literal["auto", "attempts", "domains"], top: int
) -> tuple[pl.DataFrame, str]:
    """``group``, ``latency_ms`` samples of the ``top`` groups with the most samples."""
    frame: pl.DataFrame
    if source == "auto":
        if isinstance(data, pl.DataFrame | pl.LazyFrame):
            frame = frame_of(data, "attempts or domains")
        else:
            attempts = frame_of(data, "attempts")
            frame = attempts if attempts.height else frame_of(data, "domains")
    else:
        frame = frame_of(data, source)
    if is_attempts(frame):
        kind = "host"
        frame = frame_of(frame, "attempts", ("latency_ms",))
        samples = frame.select(group=host_label(), latency_ms=pl.col("latency_ms"))
    else:
        kind = "registry"
        frame = frame_of(frame, "domains", ("registry_url", "latency_ms", "from_cache"))
        # Fetched rows only: cached rows carry no new timing and failures have none.
        samples = frame.filter(~pl.col("from_cache").fill_null(False)).select(
            group=registry_label(), latency_ms=pl.col("latency_ms")
        )
    samples = samples.drop_nulls("latency_ms")
    groups = samples.group_by("group").len().sort(["len", "group"], descending=[True, False])
    return samples.filter(pl.col("group").is_in(groups["group"].head(top).implode())), kind


def latency_data(
    data: Data,
    *,
    source: Literal["auto", "attempts", "domains"] = "auto",
    top: int = 10,
    points: int = 50,
) -> tuple[pl.DataFrame, str]:
    """Latency samples reduced to an ECDF with about ``points`` rows per group.

    Returns the frame (``group``, ``latency_ms``, ``fraction``, ``n``) and the group kind
    (``"host"`` for attempts, ``"registry"`` for domains). Each kept row is an exact ECDF
    point: ``fraction`` of the group's samples are at most ``latency_ms``.
    """
    samples, kind = latency_samples(data, source, top)
    ranked = samples.sort("group", "latency_ms").with_columns(
        i=pl.int_range(1, pl.len() + 1).over("group"), n=pl.len().over("group")
    )
    # Keep the rows where floor(i * points / n) steps: ~points exact ECDF points per group.
    keep = (pl.col("i") == 1) | (
        (pl.col("i") * points) // pl.col("n") != ((pl.col("i") - 1) * points) // pl.col("n")
    )
    ecdf = ranked.filter(keep).select(
        "group",
        pl.col("latency_ms").round(2),
        fraction=(pl.col("i") / pl.col("n")).round(4),
        n=pl.col("n").cast(pl.Int64),
    )
    return ecdf, kind


def box_stats(data: Data, source: Literal["auto", "attempts", "domains"], top: int) -> pl.DataFrame:
    samples, _ = latency_samples(data, source, top)
    samples = samples.rename({"latency_ms": "v"})
    v = pl.col("v")
    return (
        samples.drop_nulls("v")
        .group_by("group")
        .agg(
            p05=v.quantile(0.05, "linear"),
            q1=v.quantile(0.25, "linear"),
            median=v.median(),
            q3=v.quantile(0.75, "linear"),
            p95=v.quantile(0.95, "linear"),
            n=pl.len().cast(pl.Int64),
        )
        .sort("group")
    )


def errors_data(data: Data, *, by: Literal["registry", "tld"] = "registry") -> pl.DataFrame:
    """Error rows of the domains frame counted per ``by`` label and ``error_kind``."""
    d = frame_of(
        data, "domains", ("outcome", "error_kind", by + "_url" if by == "registry" else by)
    )
    label = registry_label() if by == "registry" else pl.col("tld").fill_null(NONE_LABEL)
    return (
        d.filter(pl.col("outcome") == "error")
        .group_by(label.alias(by), pl.col("error_kind").fill_null("unknown"))
        .agg(rows=pl.len().cast(pl.Int64))
        .sort(by, "error_kind")
    )


def registry_mix_data(data: Data) -> pl.DataFrame:
    """Distinct names per registry and outcome, with their ``share`` of all names."""
    d = frame_of(data, "domains", ("domain", "outcome", "registry_url"))
    d = d.filter(pl.col("domain").is_not_null()).unique("domain")
    counts = d.group_by(registry=registry_label(), outcome=pl.col("outcome")).agg(
        names=pl.len().cast(pl.Int64)
    )
    total = counts["names"].sum() if counts.height else 0
    return counts.with_columns(share=pl.col("names") / max(total, 1)).sort("registry", "outcome")


def throughput_data(data: Data, *, bucket_s: float | None = None) -> pl.DataFrame:
    """Attempts completed per second in time buckets, per result class.

    Columns: ``t_s`` (bucket start, seconds since the first request), ``result``
    (``answered``, ``throttled``, ``error``), ``requests`` and ``per_s``. Every bucket has a
    row for every class (zeros filled) so stacked areas do not interpolate over gaps.
    """
    a = frame_of(data, "attempts", ("started_at", "latency_ms", "throttled", "error_kind"))
    if a.height == 0:
        return pl.DataFrame(
            schema={"t_s": pl.Float64, "result": pl.Utf8, "requests": pl.Int64, "per_s": pl.Float64}
        )
    start = a["started_at"].min()
    done = a.select(
        t=elapsed_s(
            pl.col("started_at") + pl.duration(microseconds=pl.col("latency_ms") * 1000), start
        ),
        result=pl.when(pl.col("throttled"))
        .then(pl.lit("throttled"))
        .when(pl.col("error_kind").is_not_null())
        .then(pl.lit("error"))
        .otherwise(pl.lit("answered")),
    )
    width = float(bucket_s) if bucket_s else bucket_width(as_float(done["t"].max()))
    counts = done.group_by(
        t_s=((pl.col("t") / width).floor() * width).round(3), result=pl.col("result")
    ).agg(requests=pl.len().cast(pl.Int64))
    # round, not int: 0.3 / 0.1 is 2.9999999999999996, and the last bucket would drop
    n = round(as_float(counts["t_s"].max()) / width) + 1
    grid = pl.DataFrame({"t_s": [round(i * width, 3) for i in range(n)]}).join(
        pl.DataFrame({"result": list(ATTEMPT_RESULTS)}), how="cross"
    )
    return (
        grid.join(counts, on=["t_s", "result"], how="left")
        .with_columns(pl.col("requests").fill_null(0))
        .with_columns(per_s=pl.col("requests") / width)
        .sort("t_s", "result")
    )


RATE_PANEL = "rate (req/s)"
CONCURRENCY_PANEL = "concurrency"


_HOST_RATES_NEEDS = (
    "host",
    "url",
    "started_at",
    "rate_limit",
    "concurrency_limit",
    "in_flight",
    "decision",
)
_HOST_RATES_SCHEMA = {
    "host": pl.Utf8,
    "t_s": pl.Float64,
    "panel": pl.Utf8,
    "metric": pl.Utf8,
    "value": pl.Float64,
    "decision": pl.Utf8,
    "count": pl.Int64,
}
# Attempts-log column -> (metric name, panel) of the host rates chart.
_HOST_METRICS = {
    "achieved": ("achieved rate", RATE_PANEL),
    "rate_limit": ("pacer rate", RATE_PANEL),
    "concurrency_limit": ("concurrency limit", CONCURRENCY_PANEL),
    "in_flight": ("max in flight", CONCURRENCY_PANEL),
}


def host_rates_data(
    data: Data,
    *,
    top: int = 6,
    hosts: Sequence[str] | None = None,
    bucket_s: float | None = None,
) -> pl.DataFrame:
    """Per host and time bucket: achieved rate, pacer rate, concurrency limit, in flight.

    Long format: ``host``, ``t_s``, ``panel`` (``rate (req/s)`` or ``concurrency``),
    ``metric``, ``value``, ``decision`` (null on metric rows; on decision rows the
    scheduler's decision, ``value`` placing it on the rate panel) and ``count``.
    Only the ``top`` hosts with the most requests are kept, or the ``hosts`` named (by
    their label: ``host:port``, or the simulator registry's name).
    """
    a = frame_of(data, "attempts", _HOST_RATES_NEEDS)
    if a.height == 0:
        return pl.DataFrame(schema=_HOST_RATES_SCHEMA)
    start = a["started_at"].min()
    a = a.with_columns(label=host_label(), t=elapsed_s(pl.col("started_at"), start))
    busiest = a.group_by("label").len().sort(["len", "label"], descending=[True, False])
    kept = busiest.head(top) if hosts is None else busiest.filter(pl.col("label").is_in(hosts))
    a = a.filter(pl.col("label").is_in(kept["label"].implode()))
    if a.height == 0:
        return pl.DataFrame(schema=_HOST_RATES_SCHEMA)
    width = float(bucket_s) if bucket_s else bucket_width(as_float(a["t"].max()), HOST_BUCKETS)
    a = a.with_columns(t_s=((pl.col("t") / width).floor() * width).round(3))
    per = _per_host_bucket(a, kept, width)
    cols = ["label", "t_s", "panel", "metric", "value", "decision", "count"]
    out = pl.concat(
        [_metric_steps(per).select(cols), _decision_points(a, per).select(cols)]
    ).with_columns(pl.col("value").round(3))
    # Sorted on every key: group_by's order varies run to run, and a chart's data must not.
    return (
        out.rename({"label": "host"})
        .cast(_HOST_RATES_SCHEMA)  # type: ignore[arg-type]
        .sort("host", "panel", "metric", "t_s", "decision", nulls_last=True)
    )


def _per_host_bucket(a: pl.DataFrame, kept: pl.DataFrame, width: float) -> pl.DataFrame:
    """One row per kept host and bucket (``label``, ``t_s``): the metrics of the bucket."""
    sent = a.group_by("label", "t_s").agg(
        achieved=pl.len() / width,
        # Summed in sorted order: a float mean's last bits follow the summation order
        # (group_by's varies run to run) and would move step points and rounding.
        rate_limit=pl.col("rate_limit").sort().mean().round(3),
        concurrency_limit=pl.col("concurrency_limit").max().cast(pl.Float64),
        in_flight=pl.col("in_flight").max().cast(pl.Float64),
    )
    # Every bucket of every host: nothing sent is a rate of 0, not a gap the line spans.
    n = int(as_float(a["t_s"].max()) / width) + 1
    grid = kept.select("label").join(
        pl.DataFrame({"t_s": [round(i * width, 3) for i in range(n)]}), how="cross"
    )
    return grid.join(sent, on=["label", "t_s"], how="left").with_columns(
        pl.col("achieved", "in_flight").fill_null(0.0)
    )


def _metric_steps(per: pl.DataFrame) -> pl.DataFrame:
    """The metric rows, long: only the points where a step line changes."""
    names = _HOST_METRICS
    return (
        per.unpivot(index=["label", "t_s"], on=list(names), variable_name="key", value_name="value")
        .drop_nulls("value")
        .sort("label", "key", "t_s")
        # Step lines only need the points where a value changes (and each series' ends):
        # limits change rarely, so this keeps the spec small without losing anything.
        .filter(
            (pl.col("value") != pl.col("value").shift(1).over("label", "key"))
            .fill_null(True)
            .or_(pl.col("t_s").shift(-1).over("label", "key").is_null())
        )
        .with_columns(
            metric=pl.col("key").replace_strict({k: v[0] for k, v in names.items()}),
            panel=pl.col("key").replace_strict({k: v[1] for k, v in names.items()}),
            decision=pl.lit(None, pl.Utf8),
            count=pl.lit(None, pl.Int64),
        )
    )


def _decision_points(a: pl.DataFrame, per: pl.DataFrame) -> pl.DataFrame:
    """The scheduler's decisions per host and bucket, placed on the rate panel."""
    return (
        a.filter(pl.col("decision").is_not_null())
        .group_by("label", "t_s", "decision")
        .agg(count=pl.len().cast(pl.Int64))
        .join(per.select("label", "t_s", "rate_limit", "achieved"), on=["label", "t_s"])
        .with_columns(
            value=pl.coalesce("rate_limit", "achieved"),
            metric=pl.lit("decision"),
            panel=pl.lit(RATE_PANEL),
        )
    )
