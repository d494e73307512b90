"""Polars aggregations of change over time: changes by kind, transfers, renewal versus drop.

Pure Polars (no Altair): each ``*_data`` function returns the small frame its chart in
:mod:`~rdaplab.notebook.charts.changes_charts` draws. The inputs are the frames of
``rdaplab.diff`` (``DIFF_SCHEMA``: one row per name and changed field, several snapshot
pairs may be concatenated) and ``rdaplab.expiry_outcomes`` (``domain``,
``expiration_date``, ``new_expiration_date``, ``fate``). Names count once per change kind
and snapshot pair, whatever the number of rows (a transfer has a row for ``registrar``
and one for ``registrar_iana_id``).
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from rdaplab.frames.diff import CHANGE_CATEGORIES, CHANGE_KINDS
from rdaplab.notebook.charts.inputs import Data, frame_of

#: The fates of ``rdaplab.expiry_outcomes``, from kept to lost (the charts' order).
EXPIRY_FATES = (
    "renewed",
    "re_registered",
    "unchanged",
    "hold",
    "redemption",
    "pending_delete",
    "dropped",
    "unknown",
)

_PAIR = ("before_snapshot", "after_snapshot")
_TIMES = ("after_fetched_at", "before_fetched_at")
_MAX_MONTHS = 120  # expiry months: a contiguous axis up to ten years, else the months seen


def changes_frame(data: Data, needs: tuple[str, ...] = ("domain", "change")) -> pl.DataFrame:
    """A diff frame (``DIFF_SCHEMA``), its ``category`` filled in from the change kind."""
    frame = frame_of(data, "changes", needs)
    category = pl.col("change").replace_strict(CHANGE_KINDS, default=None, return_dtype=pl.Utf8)
    if "category" in frame.columns:
        category = pl.col("category").fill_null(category)
    for column in _PAIR:
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.Utf8).alias(column))
    for column in _TIMES:
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.Datetime("us", "UTC")).alias(column))
    return frame.filter(
        pl.col("domain").is_not_null() & pl.col("change").is_not_null()
    ).with_columns(
        category.fill_null("other").alias("category"),
        pl.col(list(_PAIR)).cast(pl.Utf8).fill_null(""),
    )


def snapshot_pairs(data: Data) -> pl.DataFrame:
    """The snapshot pairs of a diff frame, oldest first.

    A frame of ``rdaplab.diff`` holds one pair; diffs of consecutive snapshots concatenated
    hold several. A pair's time (``snapshot_at``) is its newest ``after_fetched_at`` (else
    its newest ``before_fetched_at``). Pairs that chain (each one's earlier snapshot is
    the previous one's later snapshot: ``a → b``, ``b → c``) are in that order; others
    are ordered by time, then by label.

    Columns: ``before_snapshot``, ``after_snapshot``, ``snapshot_at`` (may be null),
    ``label`` (the later snapshot's label, or ``before → after`` when two pairs share
    it), ``order`` (0, 1, ...).

    Examples
    --------
    >>> import polars as pl
    >>> frame = pl.DataFrame({"domain": ["a.com", "a.com"], "change": ["renewed"] * 2,
    ...     "before_snapshot": ["b2", "b1"], "after_snapshot": ["b3", "b2"]})
    >>> snapshot_pairs(frame).select("label", "order").rows()
    [('b2', 0), ('b3', 1)]
    """
    frame = changes_frame(data)
    pairs = frame.group_by(list(_PAIR)).agg(pl.col(list(_TIMES)).max())
    at = pl.coalesce([pl.col(c) for c in _TIMES])
    pairs = pairs.select(*_PAIR, at.alias("snapshot_at")).sort(
        ["snapshot_at", *_PAIR], nulls_last=True
    )
    chain = _chained(pairs.select(_PAIR).rows())
    if chain is not None:
        pairs = (
            pairs.join(
                pl.DataFrame(chain, schema=list(_PAIR), orient="row").with_row_index("chain"),
                on=list(_PAIR),
            )
            .sort("chain")
            .drop("chain")
        )
    shared = pl.col("after_snapshot").is_duplicated()
    label = (
        pl.when(shared)
        .then(pl.format("{} → {}", "before_snapshot", "after_snapshot"))
        .otherwise(pl.col("after_snapshot"))
    )
    return pairs.with_columns(label=label, order=pl.int_range(0, pl.len(), dtype=pl.Int64))


def _chained(pairs: list[tuple[str, str]]) -> list[tuple[str, str]] | None:
    """``pairs`` in chain order (``a → b``, ``b → c``, ...) when they form one chain."""
    if len(pairs) < 2:
        return None
    following = {before: (before, after) for before, after in pairs}
    afters = {after for _, after in pairs}
    starts = [pair for pair in pairs if pair[0] not in afters]
    if len(following) != len(pairs) or len(starts) != 1:
        return None
    chain = [starts[0]]
    while chain[-1][1] in following and len(chain) < len(pairs):
        chain.append(following[chain[-1][1]])
    return chain if len(chain) == len(pairs) else None


def _category_rank() -> pl.Expr:
    ranks = {c: i for i, c in enumerate(CHANGE_CATEGORIES)}
    return pl.col("category").replace_strict(ranks, default=len(ranks), return_dtype=pl.Int64)


def changes_by_kind_data(
    data: Data,
    *,
    over_time: bool | None = None,
    x: Literal["snapshot", "date"] = "snapshot",
) -> pl.DataFrame:
    """Distinct names per change kind, or per kind and snapshot pair.

    Parameters
    ----------
    data
        A diff frame (``rdaplab.diff``), or several concatenated.
    over_time
        Count per snapshot pair too; ``None``: when the frame holds several pairs.
    x
        Over time, label each pair by its later snapshot (``"snapshot"``) or by that
        snapshot's day (``"date"``, ``YYYY-MM-DD`` of its newest ``after_fetched_at``;
        pairs of one day count together).

    Returns
    -------
    pl.DataFrame
        ``category``, ``change``, ``names`` and ``rank`` (category order ``change``,
        ``presence``, ``error``, then most names first); over time ``snapshot``,
        ``order`` (the x order), ``category``, ``change``, ``names``.
    """
    frame = changes_frame(data)
    pairs = snapshot_pairs(frame)
    if over_time is None:
        over_time = pairs.height > 1
    if not over_time:
        counts = frame.group_by("category", "change").agg(
            names=pl.col("domain").n_unique().cast(pl.Int64)
        )
        counts = counts.sort(
            [_category_rank(), pl.col("names"), pl.col("change")],
            descending=[False, True, False],
        )
        return counts.with_columns(rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int64))
    if x == "date":
        pairs = pairs.with_columns(
            label=pl.col("snapshot_at").dt.strftime("%Y-%m-%d").fill_null("(unknown)")
        )
        pairs = pairs.with_columns(order=pl.col("order").min().over("label"))
    elif x != "snapshot":
        raise ValueError(f"x is 'snapshot' or 'date', not {x!r}")
    rows = frame.join(pairs.select(*_PAIR, "label", "order"), on=list(_PAIR), how="left")
    return (
        rows.group_by(pl.col("label").alias("snapshot"), "order", "category", "change")
        .agg(names=pl.col("domain").n_unique().cast(pl.Int64))
        .sort(["order", _category_rank(), "change"])
    )


def change_counts(data: Data) -> pl.DataFrame:
    """Distinct names per category, change kind and snapshot pair: the report's table.

    Columns: ``category``, ``change``, ``before_snapshot``, ``after_snapshot``, ``order``
    (of the pair, see :func:`snapshot_pairs`), ``names``; in category order, then most
    names (over every pair) first.
    """
    frame = changes_frame(data)
    pairs = snapshot_pairs(frame).select(*_PAIR, "order")
    counts = (
        frame.group_by("category", "change", *_PAIR)
        .agg(names=pl.col("domain").n_unique().cast(pl.Int64))
        .join(pairs, on=list(_PAIR), how="left")
    )
    total = pl.col("names").sum().over("category", "change")
    return counts.sort(
        [_category_rank(), total, pl.col("change"), pl.col("order")],
        descending=[False, True, False, False],
    ).select("category", "change", *_PAIR, "order", "names")


def transfers(data: Data) -> pl.DataFrame:
    """One row per transferred name and snapshot pair: who it left, who it went to.

    Registrar names when the ``registrar`` field changed, else the IANA ids of a
    ``registrar_iana_id`` change (as ``IANA 292``).

    Columns: ``domain``, ``before_snapshot``, ``after_snapshot``, ``from_registrar``,
    ``to_registrar``.
    """
    frame = changes_frame(data, ("domain", "change", "field", "before", "after"))
    moves = frame.filter(
        (pl.col("change") == "transfer")
        & pl.col("field").is_in(["registrar", "registrar_iana_id"])
        & pl.col("before").is_not_null()
        & pl.col("after").is_not_null()
    )
    named = pl.col("field") == "registrar"

    def label(column: str) -> pl.Expr:
        value = pl.col(column).str.strip_chars()
        return pl.when(named).then(value).otherwise(pl.format("IANA {}", value))

    return (
        moves.with_columns(preferred=pl.when(named).then(0).otherwise(1))
        .sort("domain", *_PAIR, "preferred")
        .unique(["domain", *_PAIR], keep="first", maintain_order=True)
        .select(
            "domain",
            *_PAIR,
            label("before").alias("from_registrar"),
            label("after").alias("to_registrar"),
        )
    )


def transfer_flows_data(data: Data, *, top: int = 10) -> pl.DataFrame:
    """Transfers between registrars: the ``top`` flows (from -> to), the rest grouped.

    A name counts once per snapshot pair (see :func:`transfers`).

    Columns: ``flow`` (``A → B``, or ``Other (N flows)``), ``from_registrar``,
    ``to_registrar`` (null for the grouped row), ``transfers``, ``rank``.

    Examples
    --------
    >>> import polars as pl
    >>> frame = pl.DataFrame({"domain": ["a.com", "a.com", "b.com"],
    ...     "change": ["transfer"] * 3, "field": ["registrar", "registrar_iana_id", "registrar"],
    ...     "before": ["Gandi", "81", "Gandi"], "after": ["OVH", "433", "OVH"]})
    >>> transfer_flows_data(frame).select("flow", "transfers").rows()
    [('Gandi → OVH', 2)]
    """
    moves = transfers(data)
    counts = (
        moves.group_by("from_registrar", "to_registrar")
        .agg(transfers=pl.len().cast(pl.Int64))
        .sort(["transfers", "from_registrar", "to_registrar"], descending=[True, False, False])
        .select(
            pl.format("{} → {}", "from_registrar", "to_registrar").alias("flow"),
            "from_registrar",
            "to_registrar",
            "transfers",
        )
    )
    head, rest = counts.head(max(top, 0)), counts.slice(max(top, 0))
    if rest.height:
        other = pl.DataFrame(
            {
                "flow": [f"Other ({rest.height} flows)"],
                "from_registrar": [None],
                "to_registrar": [None],
                "transfers": [int(rest["transfers"].sum())],
            },
            schema=head.schema,
        )
        head = pl.concat([head, other])
    return head.with_columns(rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int64))


def expiry_fates_data(data: Data, *, by_month: bool = True) -> pl.DataFrame:
    """Names per fate (``rdaplab.expiry_outcomes``), per expiration month or overall.

    Parameters
    ----------
    data
        An ``expiry_outcomes`` frame: ``domain``, ``expiration_date``, ``fate``.
    by_month
        Count per calendar month (UTC) of the old ``expiration_date`` too.

    Returns
    -------
    pl.DataFrame
        By month: ``month`` (``YYYY-MM``), ``fate``, ``fate_order``, ``names`` (only the
        months and fates with names). Overall: ``fate``, ``fate_order``, ``names``,
        ``share`` (of the names due to expire), every fate with names.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, timezone
    >>> frame = pl.DataFrame({"domain": ["a.com", "b.com", "c.com"],
    ...     "expiration_date": [datetime(2026, m, 9, tzinfo=timezone.utc) for m in (3, 3, 4)],
    ...     "fate": ["renewed", "dropped", "renewed"]})
    >>> expiry_fates_data(frame).select("month", "fate", "names").rows()
    [('2026-03', 'renewed', 1), ('2026-03', 'dropped', 1), ('2026-04', 'renewed', 1)]
    """
    frame = frame_of(data, "expiry", ("domain", "expiration_date", "fate"))
    d = frame.filter(pl.col("domain").is_not_null()).unique("domain", keep="first")
    order = {f: i for i, f in enumerate(EXPIRY_FATES)}
    fate_order = pl.col("fate").replace_strict(order, default=len(order), return_dtype=pl.Int64)
    d = d.with_columns(pl.col("fate").fill_null("unknown")).with_columns(fate_order=fate_order)
    if not by_month:
        counts = d.group_by("fate", "fate_order").agg(names=pl.len().cast(pl.Int64))
        return counts.sort("fate_order", "fate").with_columns(
            share=pl.col("names") / max(d.height, 1)
        )
    d = d.filter(pl.col("expiration_date").is_not_null())
    return (
        d.group_by(month=pl.col("expiration_date").dt.strftime("%Y-%m"), fate="fate")
        .agg(pl.col("fate_order").first(), names=pl.len().cast(pl.Int64))
        .sort("month", "fate_order", "fate")
        .select("month", "fate", "fate_order", "names")
    )


def month_range(months: list[str]) -> list[str]:
    """Every ``YYYY-MM`` from the first to the last of ``months`` (when at most ten
    years apart; else ``months`` sorted): the x axis of the expiry chart, gaps shown."""
    seen = sorted(set(months))
    if not seen:
        return []
    (y0, m0), (y1, m1) = (tuple(int(p) for p in seen[i].split("-")) for i in (0, -1))
    span = (y1 - y0) * 12 + (m1 - m0) + 1
    if span > _MAX_MONTHS:
        return seen
    return [f"{y0 + (m0 - 1 + i) // 12:04d}-{(m0 - 1 + i) % 12 + 1:02d}" for i in range(span)]
