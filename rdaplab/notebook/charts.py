"""Altair charts of a lookup batch: thin functions returning plain ``alt.Chart`` objects.

Every function takes a :class:`~rdaplab.lookup.LookupResult` or the relevant Polars frame
(``domains``, ``attempts`` or ``nameservers``, see docs/schemas.md) and returns an Altair
chart you can restyle (``.properties(width=...)``, ``.configure_axis(...)``, ...).

Frames are aggregated in Polars first, so a chart embeds at most a few hundred rows
whatever the batch size: notebooks and reports stay light. Labels for registries and hosts
are readable: a registry is its base URL without the scheme (``rdap.verisign.com/com/v1``)
and a host its ``host:port``; on loopback (the bundled simulator) both become the URL's
first path segment (``verisign``), which is the simulated registry's name.

A chart whose input has no usable rows is a "no data" text chart (it never raises); its
``description`` says so (``"rdaplab:<chart>:empty"``; :func:`is_empty` reads it), and
:func:`report_charts` leaves such charts out. (Not ``usermeta``: Vega-Lite allows it only
on a top-level spec, so charts carrying it could not be concatenated or layered.) The ``rdaplab`` theme is opt-in: :func:`enable_theme`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal, cast

import altair as alt
import polars as pl

if TYPE_CHECKING:
    from rdaplab.batch import LookupResult

__all__ = [
    "CHARTS",
    "ResultCharts",
    "disable_offline",
    "disable_theme",
    "enable_offline",
    "enable_theme",
    "errors",
    "errors_data",
    "expiry_calendar",
    "expiry_calendar_data",
    "host_rates",
    "host_rates_data",
    "is_empty",
    "latency",
    "latency_data",
    "nameserver_concentration",
    "nameserver_concentration_data",
    "provider_of",
    "registrar_share",
    "registrar_share_data",
    "registrations_by_year",
    "registrations_by_year_data",
    "registry_mix",
    "registry_mix_data",
    "report_charts",
    "throughput",
    "throughput_data",
]

Data = Any  # a LookupResult, or a pl.DataFrame / pl.LazyFrame (a pandas frame is converted)

OUTCOME_COLORS = {"ok": "#4c9a6a", "not_found": "#b0b0b0", "error": "#d1495b"}
ATTEMPT_COLORS = {"answered": "#4c78a8", "throttled": "#f58518", "error": "#d1495b"}
NONE_LABEL = "(none)"
MAX_BUCKETS = 100  # time series: at most this many points per series
HOST_BUCKETS = 60  # per-host panels are narrow: fewer points (the spec stays small)
_STEPS_S = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
_SCHEME = r"^[A-Za-z][A-Za-z0-9+.-]*://"
_LOOPBACK = r"^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$"
# Second-level labels under which registries sell names (co.uk, com.au, ...): a provider
# is then three labels, not two. A short list, not the Public Suffix List.
_SLD_LABELS = ("co", "com", "net", "org", "ac", "gov", "edu", "ne", "or", "ltd", "plc")


# ----------------------------------------------------------------------------- inputs


def _frame(data: Data, name: str, needs: Sequence[str] = ()) -> pl.DataFrame:
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


def _is_attempts(frame: pl.DataFrame) -> bool:
    return {"host", "started_at", "url"} <= set(frame.columns)


def _url_label(url: pl.Expr) -> pl.Expr:
    """Readable label of a URL: no scheme, no trailing slash; loopback -> first path segment."""
    bare = url.str.replace(_SCHEME, "").str.strip_chars_end("/")
    host = bare.str.extract(r"^([^/]+)", 1)
    first = bare.str.extract(r"^[^/]+/([^/]+)", 1)
    return pl.when(host.str.contains(_LOOPBACK) & first.is_not_null()).then(first).otherwise(bare)


def _host_label() -> pl.Expr:
    """Label of an attempt's host (``host`` column, or the simulator registry's name)."""
    first = pl.col("url").str.replace(_SCHEME, "").str.extract(r"^[^/]+/([^/]+)", 1)
    return (
        pl.when(pl.col("host").str.contains(_LOOPBACK) & first.is_not_null())
        .then(first)
        .otherwise(pl.col("host"))
    )


def _registry_label() -> pl.Expr:
    return _url_label(pl.col("registry_url")).fill_null(NONE_LABEL)


def _elapsed_s(col: pl.Expr, start: Any) -> pl.Expr:
    return (col - pl.lit(start)).dt.total_microseconds() / 1e6


def _num(value: Any) -> float:
    """A Polars scalar (``Series.max()`` and friends) as a float; null is 0."""
    return float(value) if value is not None else 0.0


def _bucket_width(span_s: float, max_buckets: int = MAX_BUCKETS) -> float:
    """A round bucket width giving at most ``max_buckets`` buckets over ``span_s``."""
    for step in _STEPS_S:
        if span_s / step <= max_buckets:
            return float(step)
    return float(math.ceil(span_s / max_buckets / 3600) * 3600)


# ----------------------------------------------------------------------------- helpers


def _meta(chart: Any, name: str, *, empty: bool) -> Any:
    # description is valid on every kind of spec, nested ones included (usermeta is not).
    return chart.properties(description=f"rdaplab:{name}" + (":empty" if empty else ""))


def _no_data(name: str, title: str, width: int, height: int, why: str = "no data") -> alt.Chart:
    chart = (
        alt.Chart(pl.DataFrame({"message": [why]}))
        .mark_text(fontSize=14, color="#888888")
        .encode(text="message:N")
        .properties(title=title, width=width, height=height)
    )
    return cast(alt.Chart, _meta(chart, name, empty=True))


def is_empty(chart: alt.TopLevelMixin) -> bool:
    """Whether ``chart`` is an rdaplab "no data" placeholder.

    Examples
    --------
    >>> import polars as pl
    >>> from rdaplab.frames import DOMAINS_SCHEMA
    >>> is_empty(registry_mix(pl.DataFrame(schema=DOMAINS_SCHEMA)))
    True
    """
    description = getattr(chart, "description", alt.Undefined)
    return (
        isinstance(description, str)
        and description.startswith("rdaplab:")
        and description.endswith(":empty")
    )


def _scale(colors: dict[str, str]) -> alt.Scale:
    return alt.Scale(domain=list(colors), range=list(colors.values()))


def _order(frame: pl.DataFrame, label: str, weight: str) -> list[str]:
    """Labels sorted by their summed ``weight``, largest first (an explicit axis order)."""
    totals = (
        frame.group_by(label)
        .agg(pl.col(weight).sum())
        .sort([weight, label], descending=[True, False])
    )
    return [str(v) for v in totals[label].to_list()]


# ----------------------------------------------------------------------------- latency


def _latency_samples(
    data: Data, source: Literal["auto", "attempts", "domains"], top: int
) -> tuple[pl.DataFrame, str]:
    """``group``, ``latency_ms`` samples of the ``top`` groups with the most samples."""
    frame: pl.DataFrame
    if source == "auto":
        if isinstance(data, pl.DataFrame | pl.LazyFrame):
            frame = _frame(data, "attempts or domains")
        else:
            attempts = _frame(data, "attempts")
            frame = attempts if attempts.height else _frame(data, "domains")
    else:
        frame = _frame(data, source)
    if _is_attempts(frame):
        kind = "host"
        frame = _frame(frame, "attempts", ("latency_ms",))
        samples = frame.select(group=_host_label(), latency_ms=pl.col("latency_ms"))
    else:
        kind = "registry"
        frame = _frame(frame, "domains", ("registry_url", "latency_ms", "from_cache"))
        # Fetched rows only: cached rows carry no new timing and failures have none.
        samples = frame.filter(~pl.col("from_cache").fill_null(False)).select(
            group=_registry_label(), latency_ms=pl.col("latency_ms")
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
    samples, kind = _latency_samples(data, source, top)
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
    >>> chart = latency(pl.DataFrame(schema=ATTEMPTS_SCHEMA))  # zero rows: "no data"
    >>> is_empty(chart)
    True
    """
    ecdf, group = latency_data(data, source=source, top=top)
    title = title or f"Latency per {group}"
    if ecdf.height == 0:
        return _no_data("latency", title, width, height)
    order = _order(ecdf.group_by("group").agg(n=pl.col("n").first()), "group", "n")
    if kind == "ecdf":
        chart = (
            alt.Chart(ecdf)
            .mark_line(interpolate="step-after")
            .encode(
                x=alt.X(
                    "latency_ms:Q", title="latency (ms)", scale=alt.Scale(type="log", nice=False)
                ),
                y=alt.Y("fraction:Q", title="share answered within", axis=alt.Axis(format="%")),
                color=alt.Color("group:N", title=group, sort=order),
                tooltip=[
                    alt.Tooltip("group:N", title=group),
                    alt.Tooltip("latency_ms:Q", format=".1f"),
                    alt.Tooltip("fraction:Q", format=".1%"),
                    alt.Tooltip("n:Q", title="samples"),
                ],
            )
            .properties(title=title, width=width, height=height)
        )
        return cast(alt.TopLevelMixin, _meta(chart, "latency", empty=False))
    # Box statistics from the ECDF points would be approximate: use the samples.
    frame = _box_stats(data, source, top)
    base = alt.Chart(frame).encode(
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
    ).properties(title=title, width=width, height=height)
    return cast(alt.TopLevelMixin, _meta(layered, "latency", empty=False))


def _box_stats(
    data: Data, source: Literal["auto", "attempts", "domains"], top: int
) -> pl.DataFrame:
    samples, _ = _latency_samples(data, source, top)
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


# ----------------------------------------------------------------------------- outcomes


def errors_data(data: Data, *, by: Literal["registry", "tld"] = "registry") -> pl.DataFrame:
    """Error rows of the domains frame counted per ``by`` label and ``error_kind``."""
    d = _frame(data, "domains", ("outcome", "error_kind", by + "_url" if by == "registry" else by))
    label = _registry_label() if by == "registry" else pl.col("tld").fill_null(NONE_LABEL)
    return (
        d.filter(pl.col("outcome") == "error")
        .group_by(label.alias(by), pl.col("error_kind").fill_null("unknown"))
        .agg(rows=pl.len().cast(pl.Int64))
        .sort(by, "error_kind")
    )


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
        return _no_data("errors", title, width, height or 120, "no errors")
    order = _order(counts, by, "rows")
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
    return cast(alt.TopLevelMixin, _meta(chart, "errors", empty=False))


def registry_mix_data(data: Data) -> pl.DataFrame:
    """Distinct names per registry and outcome, with their ``share`` of all names."""
    d = _frame(data, "domains", ("domain", "outcome", "registry_url"))
    d = d.filter(pl.col("domain").is_not_null()).unique("domain")
    counts = d.group_by(registry=_registry_label(), outcome=pl.col("outcome")).agg(
        names=pl.len().cast(pl.Int64)
    )
    total = counts["names"].sum() if counts.height else 0
    return counts.with_columns(share=pl.col("names") / max(total, 1)).sort("registry", "outcome")


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
        return _no_data("registry_mix", title, width, height or 120)
    order = _order(mix, "registry", "names")
    chart = (
        alt.Chart(mix)
        .mark_bar()
        .encode(
            x=alt.X("sum(share):Q", title="share of names", axis=alt.Axis(format="%")),
            y=alt.Y("registry:N", sort=order, title="registry"),
            color=alt.Color("outcome:N", scale=_scale(OUTCOME_COLORS), title="outcome"),
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
    return cast(alt.TopLevelMixin, _meta(chart, "registry_mix", empty=False))


# ----------------------------------------------------------------------------- attempts log


def throughput_data(data: Data, *, bucket_s: float | None = None) -> pl.DataFrame:
    """Attempts completed per second in time buckets, per result class.

    Columns: ``t_s`` (bucket start, seconds since the first request), ``result``
    (``answered``, ``throttled``, ``error``), ``requests`` and ``per_s``. Every bucket has a
    row for every class (zeros filled) so stacked areas do not interpolate over gaps.
    """
    a = _frame(data, "attempts", ("started_at", "latency_ms", "throttled", "error_kind"))
    if a.height == 0:
        return pl.DataFrame(
            schema={"t_s": pl.Float64, "result": pl.Utf8, "requests": pl.Int64, "per_s": pl.Float64}
        )
    start = a["started_at"].min()
    done = a.select(
        t=_elapsed_s(
            pl.col("started_at") + pl.duration(microseconds=pl.col("latency_ms") * 1000), start
        ),
        result=pl.when(pl.col("throttled"))
        .then(pl.lit("throttled"))
        .when(pl.col("error_kind").is_not_null())
        .then(pl.lit("error"))
        .otherwise(pl.lit("answered")),
    )
    width = float(bucket_s) if bucket_s else _bucket_width(_num(done["t"].max()))
    counts = done.group_by(
        t_s=((pl.col("t") / width).floor() * width).round(3), result=pl.col("result")
    ).agg(requests=pl.len().cast(pl.Int64))
    n = int(_num(counts["t_s"].max()) / width) + 1
    grid = pl.DataFrame({"t_s": [round(i * width, 3) for i in range(n)]}).join(
        pl.DataFrame({"result": list(ATTEMPT_COLORS)}), how="cross"
    )
    return (
        grid.join(counts, on=["t_s", "result"], how="left")
        .with_columns(pl.col("requests").fill_null(0))
        .with_columns(per_s=pl.col("requests") / width)
        .sort("t_s", "result")
    )


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
    >>> is_empty(throughput(pl.DataFrame(schema=ATTEMPTS_SCHEMA)))
    True
    """
    rates = throughput_data(data, bucket_s=bucket_s)
    title = title or "Throughput (completed requests per second)"
    if rates.height == 0:
        return _no_data("throughput", title, width, height, "no attempts log")
    chart = (
        alt.Chart(rates)
        .mark_area(interpolate="step-after")
        .encode(
            x=alt.X("t_s:Q", title="seconds since the first request"),
            y=alt.Y("per_s:Q", stack="zero", title="requests / s"),
            color=alt.Color("result:N", scale=_scale(ATTEMPT_COLORS), title="result"),
            order=alt.Order("result:N"),
            tooltip=["t_s:Q", "result:N", "requests:Q", alt.Tooltip("per_s:Q", format=".1f")],
        )
        .properties(title=title, width=width, height=height)
    )
    return cast(alt.TopLevelMixin, _meta(chart, "throughput", empty=False))


RATE_PANEL = "rate (req/s)"
CONCURRENCY_PANEL = "concurrency"


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
    needs = (
        "host",
        "url",
        "started_at",
        "rate_limit",
        "concurrency_limit",
        "in_flight",
        "decision",
    )
    a = _frame(data, "attempts", needs)
    schema = {
        "host": pl.Utf8,
        "t_s": pl.Float64,
        "panel": pl.Utf8,
        "metric": pl.Utf8,
        "value": pl.Float64,
        "decision": pl.Utf8,
        "count": pl.Int64,
    }
    if a.height == 0:
        return pl.DataFrame(schema=schema)
    start = a["started_at"].min()
    a = a.with_columns(label=_host_label(), t=_elapsed_s(pl.col("started_at"), start))
    busiest = a.group_by("label").len().sort(["len", "label"], descending=[True, False])
    kept = busiest.head(top) if hosts is None else busiest.filter(pl.col("label").is_in(hosts))
    a = a.filter(pl.col("label").is_in(kept["label"].implode()))
    if a.height == 0:
        return pl.DataFrame(schema=schema)
    width = float(bucket_s) if bucket_s else _bucket_width(_num(a["t"].max()), HOST_BUCKETS)
    a = a.with_columns(t_s=((pl.col("t") / width).floor() * width).round(3))
    sent = a.group_by("label", "t_s").agg(
        achieved=pl.len() / width,
        # Summed in sorted order: a float mean's last bits follow the summation order
        # (group_by's varies run to run) and would move step points and rounding.
        rate_limit=pl.col("rate_limit").sort().mean().round(3),
        concurrency_limit=pl.col("concurrency_limit").max().cast(pl.Float64),
        in_flight=pl.col("in_flight").max().cast(pl.Float64),
    )
    # Every bucket of every host: nothing sent is a rate of 0, not a gap the line spans.
    n = int(_num(a["t_s"].max()) / width) + 1
    grid = kept.select("label").join(
        pl.DataFrame({"t_s": [round(i * width, 3) for i in range(n)]}), how="cross"
    )
    per = grid.join(sent, on=["label", "t_s"], how="left").with_columns(
        pl.col("achieved", "in_flight").fill_null(0.0)
    )
    names = {
        "achieved": ("achieved rate", RATE_PANEL),
        "rate_limit": ("pacer rate", RATE_PANEL),
        "concurrency_limit": ("concurrency limit", CONCURRENCY_PANEL),
        "in_flight": ("max in flight", CONCURRENCY_PANEL),
    }
    metrics = (
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
    decisions = (
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
    cols = ["label", "t_s", "panel", "metric", "value", "decision", "count"]
    out = pl.concat([metrics.select(cols), decisions.select(cols)]).with_columns(
        pl.col("value").round(3)
    )
    # Sorted on every key: group_by's order varies run to run, and a chart's data must not.
    return (
        out.rename({"label": "host"})
        .cast(schema)  # type: ignore[arg-type]
        .sort("host", "panel", "metric", "t_s", "decision", nulls_last=True)
    )


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
    >>> is_empty(host_rates(pl.DataFrame(schema=ATTEMPTS_SCHEMA)))
    True
    """
    frame = host_rates_data(data, top=top, hosts=hosts, bucket_s=bucket_s)
    title = title or "Rate and concurrency per host"
    if frame.height == 0:
        return _no_data("host_rates", title, 2 * width, height, "no attempts log")
    host_order = _order(frame.filter(pl.col("metric") == "achieved rate"), "host", "value")
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
    return cast(alt.TopLevelMixin, _meta(chart, "host_rates", empty=False))


# ----------------------------------------------------------------------------- research views


def _distinct_ok(data: Data, column: str) -> pl.DataFrame:
    """One row per distinct answered domain (the research views count domains, not rows)."""
    d = _frame(data, "domains", ("domain", "outcome", column))
    return d.filter(pl.col("domain").is_not_null() & (pl.col("outcome") == "ok")).unique(
        "domain", keep="first"
    )


def registrations_by_year_data(
    data: Data, *, by: Literal["tld", "registry", "registrar"] | None = None
) -> pl.DataFrame:
    """Distinct domains per registration year (every year between the first and last)."""
    d = _distinct_ok(data, "registration_date").filter(pl.col("registration_date").is_not_null())
    keys: list[pl.Expr] = [pl.col("registration_date").dt.year().cast(pl.Int32).alias("year")]
    if by == "registry":
        keys.append(_registry_label().alias("registry"))
    elif by is not None:
        keys.append(pl.col(by).fill_null(NONE_LABEL).alias(by))
    counts = d.group_by(keys).agg(domains=pl.len().cast(pl.Int64))
    if counts.height == 0 or by is not None:
        return counts.sort(counts.columns[:-1])
    years = pl.DataFrame(
        {"year": range(int(counts["year"].min()), int(counts["year"].max()) + 1)},  # type: ignore[arg-type]
        schema={"year": pl.Int32},
    )
    return years.join(counts, on="year", how="left").with_columns(pl.col("domains").fill_null(0))


def registrations_by_year(
    data: Data,
    *,
    by: Literal["tld", "registry", "registrar"] | None = None,
    width: int = 480,
    height: int = 220,
    title: str | None = None,
) -> alt.TopLevelMixin:
    """Distinct answered domains per year of their ``registration`` event.

    Parameters
    ----------
    data
        A LookupResult or a domains frame.
    by
        Colour the bars by ``"tld"``, ``"registry"`` or ``"registrar"`` (stacked).
    width, height, title
        Chart size and title.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, timezone
    >>> frame = pl.DataFrame({"domain": ["a.com", "b.com"], "outcome": ["ok", "ok"],
    ...     "registration_date": [datetime(1999, 1, 1, tzinfo=timezone.utc),
    ...                           datetime(2001, 5, 1, tzinfo=timezone.utc)]})
    >>> registrations_by_year_data(frame)["domains"].to_list()
    [1, 0, 1]
    """
    counts = registrations_by_year_data(data, by=by)
    title = title or "Registrations by year"
    if counts.height == 0:
        return _no_data("registrations_by_year", title, width, height)
    enc: dict[str, Any] = {
        "x": alt.X("year:O", title="year of registration"),
        "y": alt.Y("sum(domains):Q", title="domains"),
        "tooltip": ["year:O", "domains:Q"] + ([f"{by}:N"] if by else []),
    }
    if by:
        enc["color"] = alt.Color(f"{by}:N", title=by)
    chart = (
        alt.Chart(counts)
        .mark_bar()
        .encode(**enc)
        .properties(title=title, width=width, height=height)
    )
    return cast(alt.TopLevelMixin, _meta(chart, "registrations_by_year", empty=False))


def registrar_share_data(data: Data, *, top: int = 10) -> pl.DataFrame:
    """Registrar market share among distinct answered domains naming a registrar.

    The ``top`` registrars by domains, the rest grouped as ``Other (N registrars)``.
    Columns: ``registrar``, ``domains``, ``share`` (adds up to 1), ``rank``.
    """
    d = _distinct_ok(data, "registrar").filter(pl.col("registrar").is_not_null())
    counts = (
        d.group_by("registrar")
        .agg(domains=pl.len().cast(pl.Int64))
        .sort(["domains", "registrar"], descending=[True, False])
    )
    total = int(counts["domains"].sum()) if counts.height else 0
    head, rest = counts.head(top), counts.slice(top)
    if rest.height:
        other = pl.DataFrame(
            {
                "registrar": [f"Other ({rest.height} registrars)"],
                "domains": [rest["domains"].sum()],
            },
            schema=head.schema,
        )
        head = pl.concat([head, other])
    return head.with_columns(
        share=pl.col("domains") / max(total, 1), rank=pl.int_range(1, pl.len() + 1)
    )


def registrar_share(
    data: Data,
    *,
    top: int = 10,
    width: int = 420,
    height: int | None = None,
    title: str | None = None,
) -> alt.TopLevelMixin:
    """Registrar market share: bars of the ``top`` registrars, others grouped.

    Shares are of the distinct answered domains whose answer names a registrar (many
    ccTLDs do not); they add up to 1.

    Parameters
    ----------
    data
        A LookupResult or a domains frame.
    top
        Registrars shown; the rest are one ``Other (N registrars)`` bar.
    width, height, title
        Chart size (height defaults to 22 px per bar) and title.

    Examples
    --------
    >>> import polars as pl
    >>> frame = pl.DataFrame({"domain": ["a.com", "b.com", "c.com"], "outcome": ["ok"] * 3,
    ...                       "registrar": ["X", "X", "Y"]})
    >>> registrar_share_data(frame, top=1)["registrar"].to_list()
    ['X', 'Other (1 registrars)']
    """
    share = registrar_share_data(data, top=top)
    title = title or "Registrar market share"
    if share.height == 0:
        return _no_data("registrar_share", title, width, height or 120, "no registrar data")
    base = alt.Chart(share).encode(
        y=alt.Y("registrar:N", sort=alt.EncodingSortField("rank"), title=None),
        x=alt.X("share:Q", title="share of domains", axis=alt.Axis(format="%")),
        tooltip=["registrar:N", "domains:Q", alt.Tooltip("share:Q", format=".1%")],
    )
    chart = alt.layer(
        base.mark_bar(),
        base.mark_text(align="left", dx=3).encode(text=alt.Text("share:Q", format=".1%")),
    ).properties(title=title, width=width, height=height or max(60, 22 * share.height))
    return cast(alt.TopLevelMixin, _meta(chart, "registrar_share", empty=False))


def expiry_calendar_data(
    data: Data, *, months: int = 24, start: datetime | None = None
) -> pl.DataFrame:
    """Distinct domains expiring in each calendar month from ``start``'s month on.

    Columns: ``month`` (``YYYY-MM``), ``year``, ``month_num`` (1-12), ``domains`` (every
    month of the window, zeros included). Domains already expired or expiring later than
    the window are left out.
    """
    now = start or datetime.now(timezone.utc)
    first = datetime(now.year, now.month, 1, tzinfo=timezone.utc)
    month_starts = [
        datetime(
            first.year + (first.month - 1 + i) // 12,
            (first.month - 1 + i) % 12 + 1,
            1,
            tzinfo=timezone.utc,
        )
        for i in range(months + 1)
    ]
    grid = pl.DataFrame(
        {
            "month": [m.strftime("%Y-%m") for m in month_starts[:-1]],
            "year": [m.year for m in month_starts[:-1]],
            "month_num": [m.month for m in month_starts[:-1]],
        },
        schema={"month": pl.Utf8, "year": pl.Int32, "month_num": pl.Int32},
    )
    d = _distinct_ok(data, "expiration_date").filter(
        (pl.col("expiration_date") >= pl.lit(first))
        & (pl.col("expiration_date") < pl.lit(month_starts[-1]))
    )
    counts = d.group_by(month=pl.col("expiration_date").dt.strftime("%Y-%m")).agg(
        domains=pl.len().cast(pl.Int64)
    )
    return grid.join(counts, on="month", how="left").with_columns(pl.col("domains").fill_null(0))


def expiry_calendar(
    data: Data,
    *,
    months: int = 24,
    start: datetime | None = None,
    kind: Literal["bars", "heatmap"] = "bars",
    width: int = 520,
    height: int = 200,
    title: str | None = None,
) -> alt.TopLevelMixin:
    """Expirations by month ahead: bars per month, or a year x month heatmap.

    Parameters
    ----------
    data
        A LookupResult or a domains frame (``expiration_date`` of distinct answered
        domains; many ccTLDs do not publish it).
    months
        Months shown, from the current month (or ``start``'s) on.
    start
        The first month (default: now, UTC).
    kind
        ``"bars"`` or ``"heatmap"`` (rows are years, columns months).
    width, height, title
        Chart size and title.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, timezone
    >>> frame = pl.DataFrame({"domain": ["a.com"], "outcome": ["ok"],
    ...     "expiration_date": [datetime(2030, 3, 9, tzinfo=timezone.utc)]})
    >>> cal = expiry_calendar_data(frame, months=3, start=datetime(2030, 2, 1))
    >>> cal.select("month", "domains").rows()
    [('2030-02', 0), ('2030-03', 1), ('2030-04', 0)]
    """
    cal = expiry_calendar_data(data, months=months, start=start)
    title = title or f"Expirations in the next {months} months"
    if int(cal["domains"].sum()) == 0:
        return _no_data("expiry_calendar", title, width, height, "no expirations in the window")
    tooltip = ["month:N", "domains:Q"]
    if kind == "heatmap":
        chart = (
            alt.Chart(cal)
            .mark_rect()
            .encode(
                x=alt.X("month_num:O", title="month"),
                y=alt.Y("year:O", title="year"),
                color=alt.Color("domains:Q", scale=alt.Scale(scheme="blues"), title="domains"),
                tooltip=tooltip,
            )
            .properties(title=title, width=width, height=height)
        )
    else:
        chart = (
            alt.Chart(cal)
            .mark_bar()
            .encode(
                x=alt.X("month:O", title="expiration month"),
                y=alt.Y("domains:Q", title="domains expiring"),
                tooltip=tooltip,
            )
            .properties(title=title, width=width, height=height)
        )
    return cast(alt.TopLevelMixin, _meta(chart, "expiry_calendar", empty=False))


def provider_of(nameserver: pl.Expr) -> pl.Expr:
    """The nameserver provider: the registrable domain of a nameserver host, by heuristic.

    The last two labels (``ns1.google.com`` -> ``google.com``), or three when the
    second-to-last label is a common second-level label under a two-letter ccTLD
    (``dns1.nic.co.uk`` -> ``nic.co.uk``). Not the Public Suffix List: providers under
    other multi-label suffixes are merged at the suffix.

    Examples
    --------
    >>> import polars as pl
    >>> s = pl.Series(["ns1.google.com", "a.ns.nic.co.uk", "ns2.Example.NET.", "localhost"])
    >>> s.to_frame("ns").select(provider_of(pl.col("ns")))["ns"].to_list()
    ['google.com', 'nic.co.uk', 'example.net', 'localhost']
    """
    labels = nameserver.str.to_lowercase().str.strip_chars_end(".").str.split(".")
    n = labels.list.len()
    sld = labels.list.get(-2, null_on_oob=True)
    tld = labels.list.get(-1, null_on_oob=True)
    three = (n >= 3) & sld.is_in(list(_SLD_LABELS)) & (tld.str.len_chars() == 2)
    return (
        pl.when(three)
        .then(labels.list.slice(-3).list.join("."))
        .otherwise(labels.list.slice(-2).list.join("."))
    )


def nameserver_concentration_data(data: Data, *, top: int = 10) -> pl.DataFrame:
    """Share of domains using each nameserver provider (``top`` providers, others grouped).

    From the ``nameservers`` frame of a LookupResult (or a nameservers frame), else from the
    ``nameservers`` list column of a domains frame. A domain counts once per provider; a
    domain using several providers counts for each, so shares can add up to more than 1.
    Columns: ``provider``, ``domains``, ``share`` (of domains with any nameserver), ``rank``.
    """
    pairs: pl.DataFrame
    ns = None
    if not isinstance(data, pl.DataFrame | pl.LazyFrame):
        ns = _frame(data, "nameservers")
        if ns.height == 0:
            ns = None
    if ns is None:
        frame = _frame(data, "domains", ("domain",))
        if "nameserver" in frame.columns:  # a nameservers frame
            ns = frame
        else:  # a domains frame: its list column
            frame = _frame(frame, "domains", ("domain", "nameservers"))
            ns = (
                frame.filter(pl.col("domain").is_not_null())
                .select("domain", nameserver=pl.col("nameservers"))
                .explode("nameserver")
            )
    pairs = (
        ns.drop_nulls("nameserver")
        .select("domain", provider=provider_of(pl.col("nameserver")))
        .unique()
    )
    total = pairs["domain"].n_unique() if pairs.height else 0
    counts = (
        pairs.group_by("provider")
        .agg(domains=pl.len().cast(pl.Int64))
        .sort(["domains", "provider"], descending=[True, False])
    )
    head, rest = counts.head(top), counts.slice(top)
    if rest.height:
        # Domains using any of the other providers, each counted once.
        others = pairs.filter(pl.col("provider").is_in(rest["provider"].implode()))
        other = pl.DataFrame(
            {
                "provider": [f"Other ({rest.height} providers)"],
                "domains": [others["domain"].n_unique()],
            },
            schema=head.schema,
        )
        head = pl.concat([head, other])
    return head.with_columns(
        share=pl.col("domains") / max(total, 1), rank=pl.int_range(1, pl.len() + 1)
    )


def nameserver_concentration(
    data: Data,
    *,
    top: int = 10,
    width: int = 420,
    height: int | None = None,
    title: str | None = None,
) -> alt.TopLevelMixin:
    """Share of domains per nameserver provider (see :func:`provider_of`).

    Parameters
    ----------
    data
        A LookupResult (its ``nameservers`` frame, or the domains' ``nameservers`` lists
        for a result loaded from a results file), a nameservers frame or a domains frame.
    top
        Providers shown; the rest are one ``Other (N providers)`` bar (domains using any
        of them, counted once).
    width, height, title
        Chart size (height defaults to 22 px per bar) and title.

    Examples
    --------
    >>> import polars as pl
    >>> ns = pl.DataFrame({"domain": ["a.com", "a.com", "b.com"],
    ...                    "nameserver": ["ns1.google.com", "ns2.google.com", "ns1.x.net"]})
    >>> nameserver_concentration_data(ns).select("provider", "share").rows()
    [('google.com', 0.5), ('x.net', 0.5)]
    """
    share = nameserver_concentration_data(data, top=top)
    title = title or "Nameserver providers (share of domains)"
    if share.height == 0:
        return _no_data("nameserver_concentration", title, width, height or 120)
    base = alt.Chart(share).encode(
        y=alt.Y("provider:N", sort=alt.EncodingSortField("rank"), title=None),
        x=alt.X("share:Q", title="share of domains", axis=alt.Axis(format="%")),
        tooltip=["provider:N", "domains:Q", alt.Tooltip("share:Q", format=".1%")],
    )
    chart = alt.layer(
        base.mark_bar(color="#72b7b2"),
        base.mark_text(align="left", dx=3).encode(text=alt.Text("share:Q", format=".1%")),
    ).properties(title=title, width=width, height=height or max(60, 22 * share.height))
    return cast(alt.TopLevelMixin, _meta(chart, "nameserver_concentration", empty=False))


# ----------------------------------------------------------------------------- together

ChartFunction = Callable[..., alt.TopLevelMixin]

#: The charts of a batch in report order: (function name, title).
CHARTS: tuple[tuple[str, str], ...] = (
    ("registry_mix", "Registry mix"),
    ("errors", "Errors by kind and registry"),
    ("latency", "Latency"),
    ("throughput", "Throughput"),
    ("host_rates", "Rate and concurrency per host"),
    ("registrations_by_year", "Registrations by year"),
    ("registrar_share", "Registrar market share"),
    ("expiry_calendar", "Expiry calendar"),
    ("nameserver_concentration", "Nameserver providers"),
)


def _function(name: str) -> ChartFunction:
    return cast(ChartFunction, globals()[name])


def report_charts(
    result: LookupResult, *, names: Sequence[str] | None = None
) -> dict[str, alt.TopLevelMixin]:
    """Every chart of a batch, title -> chart, in report order, without the empty ones.

    Charts with no data (e.g. throughput and host rates for a result loaded from a
    results file, whose attempts frame is empty; errors for a batch without errors) are
    omitted.

    Parameters
    ----------
    result
        A LookupResult.
    names
        Restrict to these chart function names (see ``CHARTS``).

    Examples
    --------
    >>> charts = report_charts(result)  # doctest: +SKIP
    >>> list(charts)  # doctest: +SKIP
    ['Registry mix', 'Errors by kind and registry', 'Latency', 'Throughput', ...]
    """
    out: dict[str, alt.TopLevelMixin] = {}
    for name, title in CHARTS:
        if names is not None and name not in names:
            continue
        chart = _function(name)(result)
        if not is_empty(chart):
            out[title] = chart
    return out


class ResultCharts:
    """The chart functions bound to one LookupResult (``result.charts``).

    Each method has the module function's name and keywords, e.g.
    ``result.charts.latency(kind="box")`` is ``rdaplab.charts.latency(result, kind="box")``.

    Examples
    --------
    >>> charts = ResultCharts(result)  # doctest: +SKIP
    >>> charts.registrar_share(top=5)  # doctest: +SKIP
    """

    def __init__(self, result: LookupResult) -> None:
        self._result = result

    def __repr__(self) -> str:
        names = ", ".join(f"{name}()" for name, _ in CHARTS)
        return f"<ResultCharts: {names}; all() for every chart with data>"

    def _repr_markdown_(self) -> str:
        rows = "\n".join(f"- `{name}()`: {title}" for name, title in CHARTS)
        return f"**Charts of this result** (`result.charts.NAME(...)`):\n\n{rows}\n"

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *(name for name, _ in CHARTS)})

    def all(self) -> dict[str, alt.TopLevelMixin]:
        """Every chart with data, title -> chart (:func:`report_charts`)."""
        return report_charts(self._result)

    def latency(self, **kwargs: Any) -> alt.TopLevelMixin:
        """:func:`rdaplab.charts.latency` of this result."""
        return latency(self._result, **kwargs)

    def errors(self, **kwargs: Any) -> alt.TopLevelMixin:
        """:func:`rdaplab.charts.errors` of this result."""
        return errors(self._result, **kwargs)

    def registry_mix(self, **kwargs: Any) -> alt.TopLevelMixin:
        """:func:`rdaplab.charts.registry_mix` of this result."""
        return registry_mix(self._result, **kwargs)

    def throughput(self, **kwargs: Any) -> alt.TopLevelMixin:
        """:func:`rdaplab.charts.throughput` of this result."""
        return throughput(self._result, **kwargs)

    def host_rates(self, **kwargs: Any) -> alt.TopLevelMixin:
        """:func:`rdaplab.charts.host_rates` of this result."""
        return host_rates(self._result, **kwargs)

    def registrations_by_year(self, **kwargs: Any) -> alt.TopLevelMixin:
        """:func:`rdaplab.charts.registrations_by_year` of this result."""
        return registrations_by_year(self._result, **kwargs)

    def registrar_share(self, **kwargs: Any) -> alt.TopLevelMixin:
        """:func:`rdaplab.charts.registrar_share` of this result."""
        return registrar_share(self._result, **kwargs)

    def expiry_calendar(self, **kwargs: Any) -> alt.TopLevelMixin:
        """:func:`rdaplab.charts.expiry_calendar` of this result."""
        return expiry_calendar(self._result, **kwargs)

    def nameserver_concentration(self, **kwargs: Any) -> alt.TopLevelMixin:
        """:func:`rdaplab.charts.nameserver_concentration` of this result."""
        return nameserver_concentration(self._result, **kwargs)


# ----------------------------------------------------------------------------- theme

THEME = "rdaplab"
_previous_theme: list[str] = []


def _theme() -> alt.theme.ThemeConfig:
    font = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
    return {
        "config": {
            "font": font,
            "view": {"continuousWidth": 420, "continuousHeight": 260, "stroke": None},
            "title": {"fontSize": 14, "anchor": "start", "color": "#222222"},
            "axis": {
                "labelFontSize": 11,
                "titleFontSize": 12,
                "titleFontWeight": "normal",
                "gridColor": "#e6e6e6",
                "domainColor": "#888888",
                "tickColor": "#888888",
            },
            "legend": {"labelFontSize": 11, "titleFontSize": 12, "titleFontWeight": "normal"},
            "range": {
                "category": [
                    "#4c78a8",
                    "#f58518",
                    "#54a24b",
                    "#e45756",
                    "#72b7b2",
                    "#eeca3b",
                    "#b279a2",
                    "#ff9da6",
                    "#9d755d",
                    "#bab0ac",
                ]
            },
            "bar": {"cornerRadiusEnd": 2},
        }
    }


def enable_theme() -> None:
    """Register (once) and enable the ``rdaplab`` Altair theme for every chart.

    It is opt-in: importing rdaplab changes nothing. :func:`disable_theme` restores the
    theme that was active before.

    Examples
    --------
    >>> import altair as alt
    >>> enable_theme()
    >>> alt.theme.active
    'rdaplab'
    >>> disable_theme()
    >>> alt.theme.active
    'default'
    """
    if THEME not in alt.theme.names():
        alt.theme.register(THEME, enable=False)(_theme)
    if alt.theme.active != THEME:
        _previous_theme.append(alt.theme.active)
    alt.theme.enable(THEME)


def disable_theme() -> None:
    """Go back to the theme that was active before :func:`enable_theme` (or ``default``)."""
    if alt.theme.active == THEME:
        alt.theme.enable(_previous_theme.pop() if _previous_theme else "default")


OFFLINE_RENDERER = "rdaplab-offline"
# The "+json" form: notebook files may hold a JSON object only under such a type (Altair's
# own "...v6.json" fails nbformat validation), and it is what Jupyter's Vega extensions use.
VEGALITE_MIME_TYPE = "application/vnd.vegalite.v6+json"
_previous_renderer: list[str] = []


def _offline_renderer(spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    import base64

    import vl_convert as vlc

    png = vlc.vegalite_to_png(spec, scale=1)
    return {
        # A frontend with a Vega-Lite extension draws the interactive chart from the spec;
        # every other one (offline JupyterLab, VS Code, GitHub's viewer) shows the PNG.
        VEGALITE_MIME_TYPE: spec,
        "image/png": base64.b64encode(png).decode("ascii"),
        "text/plain": f"<rdaplab chart: {spec.get('description', 'altair')}>",
    }


def enable_offline() -> None:
    """Show charts in notebooks without a network: a PNG plus the Vega-Lite spec.

    Altair's default renderer loads the Vega libraries from a CDN, so charts stay blank
    on an offline machine. This renderer draws each chart to PNG in the kernel
    (vl-convert, no browser needed) and also sends the spec, which frontends with a
    Vega-Lite extension show interactively. :func:`disable_offline` restores the
    previous renderer.

    Examples
    --------
    >>> import altair as alt
    >>> enable_offline()
    >>> alt.renderers.active
    'rdaplab-offline'
    >>> disable_offline()
    """
    if OFFLINE_RENDERER not in alt.renderers.names():
        alt.renderers.register(OFFLINE_RENDERER, _offline_renderer)
    if alt.renderers.active != OFFLINE_RENDERER:
        _previous_renderer.append(alt.renderers.active)
    alt.renderers.enable(OFFLINE_RENDERER)


def disable_offline() -> None:
    """Go back to the renderer that was active before :func:`enable_offline`."""
    if alt.renderers.active == OFFLINE_RENDERER:
        alt.renderers.enable(_previous_renderer.pop() if _previous_renderer else "default")
