"""Altair charts of how a batch ran: latency, errors, registry mix, throughput, host rates.

Each function aggregates with its ``*_data`` twin in
:mod:`~rdaplab.notebook.charts.batch_data` and returns a plain Altair chart, or a "no
data" chart (see :mod:`~rdaplab.notebook.charts.marks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, cast

import altair as alt
import polars as pl

from rdaplab.notebook.charts.batch_data import (
    CONCURRENCY_PANEL,
    RATE_PANEL,
    box_stats,
    errors_data,
    host_rates_data,
    latency_data,
    registry_mix_data,
    throughput_data,
)
from rdaplab.notebook.charts.inputs import Data, order_by_weight
from rdaplab.notebook.charts.marks import (
    ATTEMPT_COLORS,
    OUTCOME_COLORS,
    color_scale,
    described,
    no_data,
)

__all__ = ["errors", "host_rates", "latency", "registry_mix", "throughput"]


def latency(
    data: Data,
    *,
    kind: Literal["ecdf", "box"] = "ecdf",
    source: Literal["auto", "attempts", "domains"] = "auto",
    top: int = 10,
    width: int = 420,
    height: int = 260,
    title: str | None = None,
) -> alt.TopLevelMixin:
    """Latency distribution per host (attempts log) or per registry (domains frame).

    Parameters
    ----------
    data
        A LookupResult (its ``attempts`` when not empty, else its ``domains``), an attempts
        frame (one sample per HTTP attempt, grouped by host) or a domains frame (the
        ``latency_ms`` of fetched rows: registry + registrar answer, grouped by registry).
    kind
        ``"ecdf"``: one step line per group (share of requests answered within x ms),
        reduced to at most 100 points per group; ``"box"``: 25-75 % box, median tick and
        5-95 % whiskers, computed in Polars.
    source
        Force ``"attempts"`` or ``"domains"`` of a LookupResult.
    top
        Groups shown: those with the most samples.
    width, height, title
        Chart size and title.

    Examples
    --------
    >>> import polars as pl
    >>> from rdaplab.frames import ATTEMPTS_SCHEMA
    >>> from rdaplab.notebook.charts import is_empty
    >>> chart = latency(pl.DataFrame(schema=ATTEMPTS_SCHEMA))  # zero rows: "no data"
    >>> is_empty(chart)
    True
    """
    ecdf, group = latency_data(data, source=source, top=top)
    title = title or f"Latency per {group}"
    if ecdf.height == 0:
        return no_data("latency", title, width, height)
    order = order_by_weight(ecdf.group_by("group").agg(n=pl.col("n").first()), "group", "n")
    chart: alt.Chart | alt.LayerChart
    if kind == "ecdf":
        chart = _ecdf_chart(ecdf, group, order)
    else:
        # Box statistics from the ECDF points would be approximate: use the samples.
        chart = _box_chart(box_stats(data, source, top), group, order)
    chart = chart.properties(title=title, width=width, height=height)
    return cast(alt.TopLevelMixin, described(chart, "latency", empty=False))


def _ecdf_chart(ecdf: pl.DataFrame, group: str, order: list[str]) -> alt.Chart:
    """One step line per group: the share of requests answered within x ms."""
    return (
        alt.Chart(ecdf)
        .mark_line(interpolate="step-after")
        .encode(
            x=alt.X("latency_ms:Q", title="latency (ms)", scale=alt.Scale(type="log", nice=False)),
            y=alt.Y("fraction:Q", title="share answered within", axis=alt.Axis(format="%")),
            color=alt.Color("group:N", title=group, sort=order),
            tooltip=[
                alt.Tooltip("group:N", title=group),
                alt.Tooltip("latency_ms:Q", format=".1f"),
                alt.Tooltip("fraction:Q", format=".1%"),
                alt.Tooltip("n:Q", title="samples"),
            ],
        )
    )


def _box_chart(stats: pl.DataFrame, group: str, order: list[str]) -> alt.LayerChart:
    """Per group: 5-95 % whiskers, a 25-75 % box and a median tick."""
    base = alt.Chart(stats).encode(
        y=alt.Y("group:N", title=group, sort=order),
        tooltip=[
            alt.Tooltip("group:N", title=group),
            alt.Tooltip("p05:Q", format=".1f"),
            alt.Tooltip("q1:Q", format=".1f"),
            alt.Tooltip("median:Q", format=".1f"),
            alt.Tooltip("q3:Q", format=".1f"),
            alt.Tooltip("p95:Q", format=".1f"),
            alt.Tooltip("n:Q", title="samples"),
        ],
    )
    x = alt.X("p05:Q", title="latency (ms)", scale=alt.Scale(type="log", nice=False))
    layered = alt.layer(
        base.mark_rule().encode(x=x, x2="p95:Q"),
        base.mark_bar(size=12, opacity=0.8).encode(x="q1:Q", x2="q3:Q"),
        base.mark_tick(color="black", size=14, thickness=2).encode(x="median:Q"),
    )
    return cast(alt.LayerChart, layered)


def errors(
    data: Data,
    *,
    by: Literal["registry", "tld"] = "registry",
    width: int = 420,
    height: int | None = None,
    title: str | None = None,
) -> alt.TopLevelMixin:
    """Failed rows by ``error_kind`` and registry: horizontal stacked bars.

    Counts rows of the ``domains`` frame whose ``outcome`` is ``error`` (input rows, as in
    ``summary["error_kinds"]``); rows without a registry (``invalid_query``,
    ``no_rdap_service``) are under ``(none)``.

    Parameters
    ----------
    data
        A LookupResult or a domains frame.
    by
        ``"registry"`` or ``"tld"`` on the y axis.
    width, height, title
        Chart size (height defaults to 22 px per bar) and title.

    Examples
    --------
    >>> import polars as pl
    >>> from rdaplab.frames import DOMAINS_SCHEMA
    >>> chart = errors(pl.DataFrame(schema=DOMAINS_SCHEMA))
    >>> chart.to_dict()["description"]
    'rdaplab:errors:empty'
    """
    counts = errors_data(data, by=by)
    title = title or f"Errors by kind and {by}"
    if counts.height == 0:
        return no_data("errors", title, width, height or 120, "no errors")
    order = order_by_weight(counts, by, "rows")
    chart = (
        alt.Chart(counts)
        .mark_bar()
        .encode(
            x=alt.X("sum(rows):Q", title="rows"),
            y=alt.Y(f"{by}:N", sort=order, title=by),
            color=alt.Color("error_kind:N", title="error kind"),
            tooltip=[f"{by}:N", "error_kind:N", alt.Tooltip("rows:Q", title="rows")],
        )
        .properties(title=title, width=width, height=height or max(60, 22 * len(order)))
    )
    return cast(alt.TopLevelMixin, described(chart, "errors", empty=False))


def registry_mix(
    data: Data, *, width: int = 420, height: int | None = None, title: str | None = None
) -> alt.TopLevelMixin:
    """Share of the distinct names served by each registry, split by outcome.

    Each valid distinct name counts once (duplicates and invalid inputs are left out);
    names under TLDs with no RDAP service are under ``(none)``. The shares add up to 1.

    Parameters
    ----------
    data
        A LookupResult or a domains frame.
    width, height, title
        Chart size (height defaults to 22 px per bar) and title.

    Examples
    --------
    >>> import polars as pl
    >>> frame = pl.DataFrame({"domain": ["a.com", "b.org"], "outcome": ["ok", "error"],
    ...                       "registry_url": ["https://rdap.verisign.com/com/v1/", None]})
    >>> registry_mix_data(frame)["share"].sum()
    1.0
    >>> chart = registry_mix(frame)
    """
    mix = registry_mix_data(data)
    title = title or "Registry mix (share of distinct names)"
    if mix.height == 0:
        return no_data("registry_mix", title, width, height or 120)
    order = order_by_weight(mix, "registry", "names")
    chart = (
        alt.Chart(mix)
        .mark_bar()
        .encode(
            x=alt.X("sum(share):Q", title="share of names", axis=alt.Axis(format="%")),
            y=alt.Y("registry:N", sort=order, title="registry"),
            color=alt.Color("outcome:N", scale=color_scale(OUTCOME_COLORS), title="outcome"),
            order=alt.Order("outcome:N"),
            tooltip=[
                "registry:N",
                "outcome:N",
                alt.Tooltip("names:Q"),
                alt.Tooltip("share:Q", format=".1%"),
            ],
        )
        .properties(title=title, width=width, height=height or max(60, 22 * len(order)))
    )
    return cast(alt.TopLevelMixin, described(chart, "registry_mix", empty=False))


def throughput(
    data: Data,
    *,
    bucket_s: float | None = None,
    width: int = 520,
    height: int = 220,
    title: str | None = None,
) -> alt.TopLevelMixin:
    """Completed requests per second over the batch, stacked by result.

    Each HTTP attempt of the attempts log counts when it completed (``started_at +
    latency_ms``) as ``answered``, ``throttled`` (a throttle signal) or ``error``.

    Parameters
    ----------
    data
        A LookupResult or an attempts frame (empty for a result loaded from a results
        file: the chart is then "no data").
    bucket_s
        Bucket width in seconds; default a round width giving at most 100 buckets.
    width, height, title
        Chart size and title.

    Examples
    --------
    >>> import polars as pl
    >>> from rdaplab.frames import ATTEMPTS_SCHEMA
    >>> throughput(pl.DataFrame(schema=ATTEMPTS_SCHEMA)).to_dict()["description"]
    'rdaplab:throughput:empty'
    """
    rates = throughput_data(data, bucket_s=bucket_s)
    title = title or "Throughput (completed requests per second)"
    if rates.height == 0:
        return no_data("throughput", title, width, height, "no attempts log")
    chart = (
        alt.Chart(rates)
        .mark_area(interpolate="step-after")
        .encode(
            x=alt.X("t_s:Q", title="seconds since the first request"),
            y=alt.Y("per_s:Q", stack="zero", title="requests / s"),
            color=alt.Color("result:N", scale=color_scale(ATTEMPT_COLORS), title="result"),
            order=alt.Order("result:N"),
            tooltip=["t_s:Q", "result:N", "requests:Q", alt.Tooltip("per_s:Q", format=".1f")],
        )
        .properties(title=title, width=width, height=height)
    )
    return cast(alt.TopLevelMixin, described(chart, "throughput", empty=False))


def host_rates(
    data: Data,
    *,
    top: int = 6,
    hosts: Sequence[str] | None = None,
    bucket_s: float | None = None,
    width: int = 300,
    height: int = 110,
    title: str | None = None,
) -> alt.TopLevelMixin:
    """What the scheduler did per host: achieved rate, pacer rate and concurrency over time.

    One row of panels per host (the ``top`` hosts with the most requests): on the left the
    requests started per second (``achieved rate``) and the pacer rate in force
    (``rate_limit`` of the attempts log) with the scheduler's decisions as points
    (``raise``, ``cut``, ``slow``, ``park``, ...); on the right the concurrency limit in
    force and the most requests in flight in each bucket.

    Parameters
    ----------
    data
        A LookupResult or an attempts frame.
    top
        Number of hosts shown (the busiest).
    hosts
        The hosts to show instead, by label (``host:port``, or the simulator registry's
        name), e.g. ``hosts=["rdap.nominet.uk"]``.
    bucket_s
        Bucket width in seconds (default: at most 60 buckets).
    width, height, title
        Size of one panel, and the title.

    Examples
    --------
    >>> import polars as pl
    >>> from rdaplab.frames import ATTEMPTS_SCHEMA
    >>> host_rates(pl.DataFrame(schema=ATTEMPTS_SCHEMA)).to_dict()["description"]
    'rdaplab:host_rates:empty'
    """
    frame = host_rates_data(data, top=top, hosts=hosts, bucket_s=bucket_s)
    title = title or "Rate and concurrency per host"
    if frame.height == 0:
        return no_data("host_rates", title, 2 * width, height, "no attempts log")
    host_order = order_by_weight(frame.filter(pl.col("metric") == "achieved rate"), "host", "value")
    x = alt.X("t_s:Q", title="seconds since the first request")
    base = alt.Chart()
    lines = (
        base.transform_filter(alt.datum.metric != "decision")
        .mark_line(interpolate="step-after")
        .encode(
            x=x,
            y=alt.Y("value:Q", title=None),
            color=alt.Color("metric:N", title="series"),
            tooltip=["host:N", "metric:N", "t_s:Q", alt.Tooltip("value:Q", format=".2f")],
        )
    )
    points = (
        base.transform_filter(alt.datum.metric == "decision")
        .mark_point(filled=True, size=40, color="black", opacity=0.7)
        .encode(
            x=x,
            y=alt.Y("value:Q"),
            shape=alt.Shape("decision:N", title="decision"),
            tooltip=["host:N", "decision:N", "t_s:Q", "count:Q"],
        )
    )
    chart = (
        alt.layer(lines, points, data=frame)
        .properties(width=width, height=height)
        .facet(
            row=alt.Row("host:N", sort=host_order, title=None),
            column=alt.Column("panel:N", sort=[RATE_PANEL, CONCURRENCY_PANEL], title=None),
        )
        .resolve_scale(y="independent")
        .properties(title=title)
    )
    return cast(alt.TopLevelMixin, described(chart, "host_rates", empty=False))
