"""Altair charts of the research views: registrations by year, registrars, expiries, nameservers.

Each function aggregates with its ``*_data`` twin in
:mod:`~rdaplab.notebook.charts.research_data` and returns a plain Altair chart, or a "no
data" chart (see :mod:`~rdaplab.notebook.charts.marks`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, cast

import altair as alt
import polars as pl

from rdaplab.notebook.charts.inputs import Data
from rdaplab.notebook.charts.marks import described, no_data
from rdaplab.notebook.charts.research_data import (
    expiry_calendar_data,
    nameserver_concentration_data,
    registrar_share_data,
    registrations_by_year_data,
)

__all__ = [
    "expiry_calendar",
    "nameserver_concentration",
    "registrar_share",
    "registrations_by_year",
]


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
        return no_data("registrations_by_year", title, width, height)
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
    return cast(alt.TopLevelMixin, described(chart, "registrations_by_year", empty=False))


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
        return no_data("registrar_share", title, width, height or 120, "no registrar data")
    return _share_bars(share, "registrar", "registrar_share", title, width, height)


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
        return no_data("expiry_calendar", title, width, height, "no expirations in the window")
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
    return cast(alt.TopLevelMixin, described(chart, "expiry_calendar", empty=False))


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
        return no_data("nameserver_concentration", title, width, height or 120)
    return _share_bars(
        share, "provider", "nameserver_concentration", title, width, height, color="#72b7b2"
    )


def _share_bars(
    share: pl.DataFrame,
    key: str,
    name: str,
    title: str,
    width: int,
    height: int | None,
    **bar: Any,
) -> alt.TopLevelMixin:
    """Horizontal bars of ``share`` per ``key`` in ``rank`` order, each labelled with its
    share (height defaults to 22 px per bar); ``bar`` styles the bars."""
    base = alt.Chart(share).encode(
        y=alt.Y(f"{key}:N", sort=alt.EncodingSortField("rank"), title=None),
        x=alt.X("share:Q", title="share of domains", axis=alt.Axis(format="%")),
        tooltip=[f"{key}:N", "domains:Q", alt.Tooltip("share:Q", format=".1%")],
    )
    chart = alt.layer(
        base.mark_bar(**bar),
        base.mark_text(align="left", dx=3).encode(text=alt.Text("share:Q", format=".1%")),
    ).properties(title=title, width=width, height=height or max(60, 22 * share.height))
    return cast(alt.TopLevelMixin, described(chart, name, empty=False))
