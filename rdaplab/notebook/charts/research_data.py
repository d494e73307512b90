"""Polars aggregations of the research views: registrations, registrars, expiries, nameservers.

Pure Polars (no Altair): each ``*_data`` function returns the small frame its chart in
:mod:`~rdaplab.notebook.charts.research_charts` draws. Domains count once (distinct
answered names), whatever the number of input rows.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import polars as pl

from rdaplab.notebook.charts.inputs import (
    NONE_LABEL,
    Data,
    distinct_answered,
    frame_of,
    registry_label,
)
from rdaplab.rdap.psl import PublicSuffixes


def registrations_by_year_data(
    data: Data, *, by: Literal["tld", "registry", "registrar"] | None = None
) -> pl.DataFrame:
    """Distinct domains per registration year (every year between the first and last)."""
    d = distinct_answered(data, "registration_date").filter(
        pl.col("registration_date").is_not_null()
    )
    keys: list[pl.Expr] = [pl.col("registration_date").dt.year().cast(pl.Int32).alias("year")]
    if by == "registry":
        keys.append(registry_label().alias("registry"))
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


def registrar_share_data(data: Data, *, top: int = 10) -> pl.DataFrame:
    """Registrar market share among distinct answered domains naming a registrar.

    The ``top`` registrars by domains, the rest grouped as ``Other (N registrars)``.
    Columns: ``registrar``, ``domains``, ``share`` (adds up to 1), ``rank``.
    """
    d = distinct_answered(data, "registrar").filter(pl.col("registrar").is_not_null())
    return _top_shares(d.select("domain", "registrar"), "registrar", top, "registrars")


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
    d = distinct_answered(data, "expiration_date").filter(
        (pl.col("expiration_date") >= pl.lit(first))
        & (pl.col("expiration_date") < pl.lit(month_starts[-1]))
    )
    counts = d.group_by(month=pl.col("expiration_date").dt.strftime("%Y-%m")).agg(
        domains=pl.len().cast(pl.Int64)
    )
    return grid.join(counts, on="month", how="left").with_columns(pl.col("domains").fill_null(0))


def provider_of(nameserver: pl.Expr, *, psl: PublicSuffixes | str | Path | None = None) -> pl.Expr:
    """The nameserver provider: the registrable domain of a nameserver host.

    Taken with the Public Suffix List (its ICANN section, as lookups use it:
    :mod:`rdaplab.rdap.psl`): ``ns1.google.com`` -> ``google.com``, ``dns1.nic.co.uk`` ->
    ``nic.co.uk``, ``ns.x.gouv.fr`` -> ``x.gouv.fr``. A host without one (a single label,
    a public suffix itself) is its own provider. ``psl``: a list file, else the one lookups
    use (the refreshed copy, or the bundled snapshot).

    Examples
    --------
    >>> import polars as pl
    >>> s = pl.Series(["ns1.google.com", "a.ns.nic.co.uk", "ns2.Example.NET.", "localhost"])
    >>> s.to_frame("ns").select(provider_of(pl.col("ns")))["ns"].to_list()
    ['google.com', 'nic.co.uk', 'example.net', 'localhost']
    """
    hosts = nameserver.str.to_lowercase().str.strip_chars_end(".")
    return hosts.map_batches(lambda s: _providers(s, psl), return_dtype=pl.String)


def _providers(hosts: pl.Series, psl: PublicSuffixes | str | Path | None) -> pl.Series:
    """Each distinct host mapped once: its registrable domain, or itself."""
    suffixes = PublicSuffixes.load(psl)
    mapping = {}
    for host in hosts.unique().drop_nulls().to_list():
        found = suffixes.registrable(host) if host else None
        if found is not None and found != host:
            mapping[host] = found
    return hosts.replace(mapping) if mapping else hosts


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
        ns = frame_of(data, "nameservers")
        if ns.height == 0:
            ns = None
    if ns is None:
        frame = frame_of(data, "domains", ("domain",))
        if "nameserver" in frame.columns:  # a nameservers frame
            ns = frame
        else:  # a domains frame: its list column
            frame = frame_of(frame, "domains", ("domain", "nameservers"))
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
    return _top_shares(pairs, "provider", top, "providers")


def _top_shares(pairs: pl.DataFrame, key: str, top: int, plural: str) -> pl.DataFrame:
    """Distinct domains per ``key`` of (``domain``, ``key``) pairs: the ``top`` values,
    then one ``Other (N plural)`` row (domains with any of the others, counted once).

    Columns: ``key``, ``domains``, ``share`` (of the domains in ``pairs``), ``rank``.
    """
    total = pairs["domain"].n_unique() if pairs.height else 0
    counts = (
        pairs.group_by(key)
        .agg(domains=pl.len().cast(pl.Int64))
        .sort(["domains", key], descending=[True, False])
    )
    head, rest = counts.head(top), counts.slice(top)
    if rest.height:
        others = pairs.filter(pl.col(key).is_in(rest[key].implode()))
        other = pl.DataFrame(
            {
                key: [f"Other ({rest.height} {plural})"],
                "domains": [others["domain"].n_unique()],
            },
            schema=head.schema,
        )
        head = pl.concat([head, other])
    return head.with_columns(
        share=pl.col("domains") / max(total, 1), rank=pl.int_range(1, pl.len() + 1)
    )
