"""Altair charts of change over time: changes by kind, transfers, renewal versus drop.

Each function takes a frame of ``rdaplab.diff`` (``DIFF_SCHEMA``; diffs of consecutive
snapshot pairs may be concatenated) or of ``rdaplab.expiry_outcomes``, aggregates it with
its ``*_data`` twin in :mod:`~rdaplab.notebook.charts.changes_data` and returns a plain
Altair chart, or a "no data" chart (see :mod:`~rdaplab.notebook.charts.marks`). They take
these frames, not a LookupResult: a diff compares two snapshots, a result is one.
"""

from __future__ import annotations

from typing import Any, Literal, cast

import altair as alt
import polars as pl

from rdaplab.frames.diff import CHANGE_CATEGORIES
from rdaplab.notebook.charts.changes_data import (
    EXPIRY_FATES,
    changes_by_kind_data,
    changes_frame,
    expiry_fates_data,
    month_range,
    snapshot_pairs,
    transfer_flows_data,
)
from rdaplab.notebook.charts.inputs import Data, as_float
from rdaplab.notebook.charts.marks import color_scale, described, no_data

__all__ = ["CATEGORY_COLORS", "FATE_COLORS", "changes_by_kind", "expiry_fates", "transfer_flows"]

#: Colours of the diff categories: real changes, names that came or went, failures.
CATEGORY_COLORS = {"change": "#4c78a8", "presence": "#f58518", "error": "#d1495b"}
_OTHER_COLOR = "#b0b0b0"


def _peak(values: pl.Series) -> int:
    """The largest count of ``values`` (0 when empty)."""
    return int(as_float(values.max()))


def _count_axis(peak: int | None = None) -> alt.Axis:
    """An axis of name counts: integer labels only; at most ``peak`` ticks when small."""
    extra: dict[str, Any] = {}
    if peak is not None and 0 < peak < 10:
        extra["tickCount"] = peak  # (tickMinStep alone does not stop 0.5 steps)
    return alt.Axis(format="d", labelExpr="datum.value % 1 ? '' : datum.label", **extra)


#: Colours of the expiry fates, from kept (greens) to lost (reds); unknown is grey.
FATE_COLORS = dict(
    zip(
        EXPIRY_FATES,
        ("#4c9a6a", "#72b7b2", "#9ecae9", "#eeca3b", "#f58518", "#e45756", "#b22222", "#bab0ac"),
        strict=True,
    )
)


def changes_by_kind(
    changes: Data,
    *,
    over_time: bool | None = None,
    x: Literal["snapshot", "date"] = "snapshot",
    width: int = 420,
    height: int | None = None,
    title: str | None = None,
) -> alt.TopLevelMixin:
    """Names per change kind, coloured by category (``change``, ``presence``, ``error``).

    One pair of snapshots: a bar per change kind, grouped by category (real changes
    first, then names that came or went, then failures and missing values, which are not
    changes). Several pairs (diffs of consecutive snapshots concatenated): one panel per
    category, a stacked bar per snapshot pair coloured by change kind.

    Parameters
    ----------
    changes
        A diff frame (``rdaplab.diff``, ``DIFF_SCHEMA``), or several concatenated.
    over_time
        Draw per snapshot pair; ``None``: when the frame holds several pairs.
    x
        Over time, the x axis: the later snapshot's label (``"snapshot"``) or its day
        (``"date"``, from ``after_fetched_at``).
    width, height, title
        Chart size (height defaults to 20 px per bar, 140 px per panel over time) and
        title.

    Examples
    --------
    >>> import polars as pl
    >>> frame = pl.DataFrame({"domain": ["a.com", "a.com", "b.com", "c.com"],
    ...     "change": ["transfer", "transfer", "transfer", "became_unreachable"],
    ...     "category": ["change", "change", "change", "error"]})
    >>> changes_by_kind_data(frame).select("category", "change", "names").rows()
    [('change', 'transfer', 2), ('error', 'became_unreachable', 1)]
    """
    frame = changes_frame(changes)
    counts = changes_by_kind_data(frame, over_time=over_time, x=x)
    title = title or "Changes by kind"
    if counts.height == 0:
        return no_data("changes_by_kind", title, width, height or 120, "no changes")
    if "snapshot" in counts.columns:
        return _changes_over_time(counts, x, width, height, title)
    pairs = snapshot_pairs(frame)
    subtitle = None
    if pairs.height == 1 and (pairs["before_snapshot"][0] or pairs["after_snapshot"][0]):
        subtitle = f"{pairs['before_snapshot'][0]} → {pairs['after_snapshot'][0]}"
    colors = {**CATEGORY_COLORS}
    for category in counts["category"].unique(maintain_order=True).to_list():
        colors.setdefault(category, _OTHER_COLOR)
    base = alt.Chart(counts).encode(
        y=alt.Y("change:N", sort=counts["change"].to_list(), title=None),
        x=alt.X("names:Q", title="names", axis=_count_axis(_peak(counts["names"]))),
        tooltip=["category:N", "change:N", "names:Q"],
    )
    chart = alt.layer(
        base.mark_bar().encode(color=alt.Color("category:N", scale=color_scale(colors))),
        base.mark_text(align="left", dx=3, color="#333333").encode(text="names:Q"),
    ).properties(
        title=alt.TitleParams(title, subtitle=subtitle) if subtitle else title,
        width=width,
        height=height or max(60, 20 * counts.height),
    )
    return cast(alt.TopLevelMixin, described(chart, "changes_by_kind", empty=False))


def _changes_over_time(
    counts: pl.DataFrame, x: str, width: int, height: int | None, title: str
) -> alt.TopLevelMixin:
    """One panel per category (in category order), a stacked bar per snapshot pair."""
    order = counts.unique("snapshot").sort("order", "snapshot")["snapshot"].to_list()
    present = set(counts["category"].to_list())
    categories = [c for c in CHANGE_CATEGORIES if c in present]
    categories += sorted(present - set(categories))
    panel = (
        alt.Chart(counts)
        .mark_bar()
        .encode(
            x=alt.X(
                "snapshot:O",
                sort=order,
                title="snapshot (day)" if x == "date" else "snapshot (the later one of each pair)",
                axis=alt.Axis(labelAngle=-30, labelLimit=160),
            ),
            y=alt.Y("names:Q", title="names", axis=_count_axis()),
            color=alt.Color("change:N", scale=alt.Scale(scheme="tableau20"), title="change"),
            order=alt.Order("change:N"),
            tooltip=["snapshot:N", "category:N", "change:N", "names:Q"],
        )
        .properties(width=width, height=height or 140)
    )
    chart = (
        panel.facet(row=alt.Row("category:N", sort=categories, title=None))
        .resolve_scale(y="independent")
        .properties(title=title)
    )
    return cast(alt.TopLevelMixin, described(chart, "changes_by_kind", empty=False))


def transfer_flows(
    changes: Data,
    *,
    top: int = 10,
    kind: Literal["bars", "heatmap"] = "bars",
    width: int = 420,
    height: int | None = None,
    title: str | None = None,
) -> alt.TopLevelMixin:
    """Transfers between registrars: the ``top`` flows ``A → B``, ranked.

    A transfer is a name whose ``registrar`` changed between two snapshots (else whose
    ``registrar_iana_id`` did, shown as ``IANA 292``); a name counts once per snapshot
    pair.

    Parameters
    ----------
    changes
        A diff frame (``rdaplab.diff``), or several concatenated.
    top
        Flows shown; the rest are one ``Other (N flows)`` bar (bars only).
    kind
        ``"bars"`` (one bar per flow) or ``"heatmap"`` (losing registrar per row,
        gaining registrar per column, the ``top`` flows only).
    width, height, title
        Chart size (height defaults to 22 px per row) and title.

    Examples
    --------
    >>> import polars as pl
    >>> frame = pl.DataFrame({"domain": ["a.com", "b.com", "c.com"],
    ...     "change": ["transfer"] * 3, "field": ["registrar"] * 3,
    ...     "before": ["Gandi", "Gandi", "OVH"], "after": ["OVH", "OVH", "Gandi"]})
    >>> transfer_flows_data(frame, top=1).select("flow", "transfers").rows()
    [('Gandi → OVH', 2), ('Other (1 flows)', 1)]
    """
    flows = transfer_flows_data(changes, top=top)
    title = title or "Transfers between registrars"
    if flows.height == 0:
        return no_data("transfer_flows", title, width, height or 120, "no transfers")
    tooltip = ["from_registrar:N", "to_registrar:N", "transfers:Q"]
    if kind == "heatmap":
        cells = flows.filter(pl.col("from_registrar").is_not_null())
        rows = cells["from_registrar"].n_unique()
        base = alt.Chart(cells).encode(
            x=alt.X("to_registrar:N", title="to", axis=alt.Axis(labelAngle=-30)),
            y=alt.Y("from_registrar:N", title="from"),
            tooltip=tooltip,
        )
        chart = alt.layer(
            base.mark_rect().encode(
                color=alt.Color("transfers:Q", scale=alt.Scale(scheme="blues"), title="transfers")
            ),
            base.mark_text(color="#222222").encode(text="transfers:Q"),
        ).properties(title=title, width=width, height=height or max(60, 28 * rows))
    else:
        base = alt.Chart(flows).encode(
            y=alt.Y("flow:N", sort=flows["flow"].to_list(), title=None),
            x=alt.X(
                "transfers:Q",
                title="names transferred",
                axis=_count_axis(_peak(flows["transfers"])),
            ),
            tooltip=["flow:N", *tooltip],
        )
        chart = alt.layer(
            base.mark_bar(color="#4c78a8"),
            base.mark_text(align="left", dx=3).encode(text="transfers:Q"),
        ).properties(title=title, width=width, height=height or max(60, 22 * flows.height))
    return cast(alt.TopLevelMixin, described(chart, "transfer_flows", empty=False))


def expiry_fates(
    expiry: Data,
    *,
    by_month: bool = True,
    width: int = 480,
    height: int | None = None,
    title: str | None = None,
) -> alt.TopLevelMixin:
    """Renewal versus drop: what became of the names due to expire, per expiration month.

    The fates of ``rdaplab.expiry_outcomes`` (``renewed``, ``re_registered``,
    ``unchanged``, ``hold``, ``redemption``, ``pending_delete``, ``dropped``,
    ``unknown``), stacked per month of the old ``expiration_date`` (UTC; months without
    names are shown empty, up to ten years), or one bar per fate with its share.

    Parameters
    ----------
    expiry
        An ``expiry_outcomes`` frame: ``domain``, ``expiration_date``, ``fate``.
    by_month
        Stack per expiration month; ``False``: one bar per fate.
    width, height, title
        Chart size (height defaults to 220 px, or 22 px per fate) and title.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, timezone
    >>> frame = pl.DataFrame({"domain": ["a.com", "b.com", "c.com"],
    ...     "expiration_date": [datetime(2026, 3, 9, tzinfo=timezone.utc)] * 3,
    ...     "fate": ["renewed", "dropped", "renewed"]})
    >>> expiry_fates_data(frame, by_month=False).select("fate", "names").rows()
    [('renewed', 2), ('dropped', 1)]
    """
    counts = expiry_fates_data(expiry, by_month=by_month)
    title = title or "Renewal versus drop (names due to expire)"
    if counts.height == 0:
        return no_data("expiry_fates", title, width, height or 120, "no names due to expire")
    present = counts.unique("fate").sort("fate_order", "fate")["fate"].to_list()
    scale = color_scale({f: FATE_COLORS.get(f, _OTHER_COLOR) for f in present})
    color = alt.Color("fate:N", scale=scale, sort=present, title="fate")
    chart: Any
    if by_month:
        months = month_range(counts["month"].to_list())
        peak = _peak(counts.group_by("month").agg(pl.col("names").sum())["names"])
        chart = (
            alt.Chart(counts)
            .mark_bar()
            .encode(
                x=alt.X(
                    "month:O",
                    scale=alt.Scale(domain=months),
                    title="expiration month",
                    axis=alt.Axis(labelAngle=-45),
                ),
                y=alt.Y("names:Q", title="names", axis=_count_axis(peak)),
                color=color,
                order=alt.Order("fate_order:Q"),
                tooltip=["month:N", "fate:N", "names:Q"],
            )
            .properties(title=title, width=width, height=height or 220)
        )
    else:
        base = alt.Chart(counts).encode(
            y=alt.Y("fate:N", sort=present, title=None),
            x=alt.X("names:Q", title="names", axis=_count_axis(_peak(counts["names"]))),
            tooltip=["fate:N", "names:Q", alt.Tooltip("share:Q", format=".1%")],
        )
        chart = alt.layer(
            base.mark_bar().encode(color=color),
            base.mark_text(align="left", dx=3).encode(text=alt.Text("share:Q", format=".1%")),
        ).properties(title=title, width=width, height=height or max(60, 22 * counts.height))
    return cast(alt.TopLevelMixin, described(chart, "expiry_fates", empty=False))
