"""What changed between two snapshots of the same domains: the rows of ``rdaplab.diff``.

Pure frame logic: two ``domains`` frames in (``DOMAINS_SCHEMA``), one row per name and
changed field out (``DIFF_SCHEMA``). The batch layer takes the snapshots from the cache.

Three categories keep what researchers count apart:

- ``change``: both snapshots answered and a field differs (a transfer, a renewal...);
- ``presence``: the name came (``appeared``) or went (``disappeared``: now ``not_found``),
  or one snapshot did not look it up at all (``not_looked_up_*``);
- ``error``: either snapshot failed for the name (``became_unreachable``, ``recovered``,
  ``unreachable``), or one snapshot lacks a value the other has (``*_missing``,
  ``*_added``: a referral that failed once, a field redacted once): not a real change.

The registry's values are compared (``registration_date``, not
``registrar_registration_date``): the registrar's copy is a second opinion, not the record.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

import polars as pl

from rdaplab.rdap.psl import PublicSuffixes
from rdaplab.schemas import DIFF_SCHEMA, DOMAINS_SCHEMA, empty

__all__ = [
    "CHANGE_CATEGORIES",
    "CHANGE_KINDS",
    "diff_domains",
    "expiry_outcomes",
    "nameserver_provider",
]

#: change kind -> category (the closed vocabulary of ``DIFF_SCHEMA.change``).
CHANGE_KINDS: Final[dict[str, str]] = {
    "transfer": "change",
    "re_registered": "change",
    "registration_date_changed": "change",
    "renewed": "change",
    "expiration_earlier": "change",
    "status_changed": "change",
    "nameservers_changed": "change",
    "ns_provider_changed": "change",
    "dnssec_enabled": "change",
    "dnssec_disabled": "change",
    "handle_changed": "change",
    "appeared": "presence",
    "disappeared": "presence",
    "not_looked_up_before": "presence",
    "not_looked_up_after": "presence",
    "became_unreachable": "error",
    "recovered": "error",
    "unreachable": "error",
    "value_missing": "error",
    "value_added": "error",
}
CHANGE_CATEGORIES: Final = ("change", "presence", "error")

# The fields compared when both snapshots answered, in output order.
_SCALARS: Final = (
    "registrar",
    "registrar_iana_id",
    "handle",
    "registration_date",
    "expiration_date",
    "dnssec",
)
_SETS: Final = ("rdap_status", "nameservers")
_KEEP: Final = ("domain", "outcome", "error_kind", "fetched_at", *_SCALARS, *_SETS)


def diff_domains(
    before: pl.DataFrame,
    after: pl.DataFrame,
    *,
    before_label: str = "before",
    after_label: str = "after",
    psl: PublicSuffixes | None = None,
) -> pl.DataFrame:
    """What changed for each name between two ``domains`` frames.

    Parameters
    ----------
    before, after
        ``domains`` frames (``DOMAINS_SCHEMA``) of two snapshots; a name's first row
        counts when it repeats. Rows without a ``domain`` (unusable input) are left out.
    before_label, after_label
        Written to ``before_snapshot`` / ``after_snapshot`` (batch ids or dates).
    psl
        The Public Suffix List telling nameserver providers apart (default: the one
        lookups use).

    Returns
    -------
    pl.DataFrame
        ``DIFF_SCHEMA``, one row per name and changed field, sorted by domain and field
        order; names that did not change have no row.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, timezone
    >>> from rdaplab.schemas import DOMAINS_SCHEMA
    >>> def snap(registrar, expires):
    ...     row = {"domain": "example.com", "outcome": "ok", "registrar": registrar,
    ...            "expiration_date": datetime(expires, 1, 1, tzinfo=timezone.utc)}
    ...     return pl.DataFrame([row]).select(
    ...         pl.col(c) if c in row else pl.lit(None).alias(c) for c in DOMAINS_SCHEMA
    ...     ).cast(dict(DOMAINS_SCHEMA))
    >>> d = diff_domains(snap("Gandi SAS", 2026), snap("OVH sas", 2027))
    >>> d.select("change", "field", "before", "after").rows()
    [('transfer', 'registrar', 'Gandi SAS', 'OVH sas'), ('renewed', 'expiration_date', '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z')]
    """
    b = _prepared(before)
    a = _prepared(after)
    joined = b.join(a, on="domain", how="full", coalesce=True, suffix="_a")
    # a name that failed in either snapshot is reported (as an error row), changed or not
    differs = pl.col("outcome").ne_missing(pl.col("outcome_a")) | (
        (pl.col("outcome") == "error") | (pl.col("outcome_a") == "error")
    ).fill_null(False)
    for name in (*_SCALARS, *_SETS):
        differs = differs | pl.col(name).ne_missing(pl.col(f"{name}_a"))
    changed = joined.filter(differs).sort("domain")
    suffixes = psl if psl is not None else (PublicSuffixes.load() if changed.height else None)
    out: list[dict[str, Any]] = []
    for row in changed.iter_rows(named=True):
        out.extend(_rows_of(row, suffixes))
    if not out:
        return empty(DIFF_SCHEMA)
    for item in out:
        item["before_snapshot"] = before_label
        item["after_snapshot"] = after_label
    return pl.DataFrame(out, schema=DIFF_SCHEMA)


def _prepared(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per name, sets as sorted lowercase lists (order and case carry no meaning)."""
    missing = [c for c in _KEEP if c not in frame.columns]
    if missing:
        raise ValueError(f"not a domains frame: no column {', '.join(missing)}")
    return (
        frame.select(_KEEP)
        .cast({c: DOMAINS_SCHEMA[c] for c in _KEEP})
        .filter(pl.col("domain").is_not_null())
        .unique("domain", keep="first", maintain_order=True)
        .with_columns(
            pl.col("nameservers").list.eval(
                pl.element().str.to_lowercase().str.strip_chars_end(".")
            ),
            pl.col("rdap_status").list.eval(pl.element().str.to_lowercase()),
            pl.col("registrar").str.strip_chars(),
        )
        .with_columns(pl.col(c).list.unique().list.sort() for c in _SETS)
        .with_columns(pl.lit(True).alias("present"))
    )


def _rows_of(row: dict[str, Any], suffixes: PublicSuffixes | None) -> Iterable[dict[str, Any]]:
    """The diff rows of one joined name (before's columns bare, after's with ``_a``)."""
    before_out, after_out = row["outcome"], row["outcome_a"]
    base = {
        "domain": row["domain"],
        "before_outcome": before_out,
        "after_outcome": after_out,
        "before_fetched_at": row["fetched_at"],
        "after_fetched_at": row["fetched_at_a"],
    }

    def emit(change: str, field: str, before: Any, after: Any, **extra: Any) -> dict[str, Any]:
        return {
            **base,
            "change": change,
            "field": field,
            "category": CHANGE_KINDS[change],
            "before": before,
            "after": after,
            "added": extra.get("added"),
            "removed": extra.get("removed"),
        }

    if not row["present"]:
        return [emit("not_looked_up_before", "outcome", None, _outcome_text(row, "_a"))]
    if not row["present_a"]:
        return [emit("not_looked_up_after", "outcome", _outcome_text(row, ""), None)]
    b_text, a_text = _outcome_text(row, ""), _outcome_text(row, "_a")
    if before_out == "error" or after_out == "error":
        if before_out == after_out == "error":
            kind = "unreachable"
        else:
            kind = "became_unreachable" if after_out == "error" else "recovered"
        return [emit(kind, "outcome", b_text, a_text)]
    if before_out != after_out:
        kind = "appeared" if after_out == "ok" else "disappeared"
        return [emit(kind, "outcome", b_text, a_text)]
    if before_out != "ok":  # not found in both
        return []
    rows = list(_field_rows(row, emit, suffixes))
    old_reg, new_reg = row["registration_date"], row["registration_date_a"]
    if old_reg is not None and new_reg is not None and new_reg > old_reg:
        # Dropped and registered again: its new registrar is not a transfer, its new
        # expiry not a renewal. Every row of the name says so (``field`` says what differs).
        for item in rows:
            if item["category"] == "change":
                item["change"] = "re_registered"
    return rows


def _field_rows(
    row: dict[str, Any], emit: Any, suffixes: PublicSuffixes | None
) -> Iterable[dict[str, Any]]:
    for name in _SCALARS:
        old, new = row[name], row[f"{name}_a"]
        if old == new:
            continue
        if old is None or new is None:
            kind = "value_added" if old is None else "value_missing"
            yield emit(kind, name, _text(old), _text(new))
            continue
        if name in ("registrar", "registrar_iana_id"):
            kind = "transfer"
        elif name == "handle":
            kind = "handle_changed"
        elif name == "registration_date":
            kind = "re_registered" if new > old else "registration_date_changed"
        elif name == "expiration_date":
            kind = "renewed" if new > old else "expiration_earlier"
        else:  # dnssec
            kind = "dnssec_enabled" if new else "dnssec_disabled"
        yield emit(kind, name, _text(old), _text(new))
    for name in _SETS:
        old_set, new_set = row[name] or [], row[f"{name}_a"] or []
        if old_set == new_set:
            continue
        added = sorted(set(new_set) - set(old_set))
        removed = sorted(set(old_set) - set(new_set))
        if name == "rdap_status":
            kind = "status_changed"
        elif not old_set or not new_set:
            # a registry that stopped (or started) listing nameservers, not a move
            kind = "value_added" if not old_set else "value_missing"
        else:
            providers_old = {nameserver_provider(h, suffixes) for h in old_set}
            providers_new = {nameserver_provider(h, suffixes) for h in new_set}
            kind = (
                "ns_provider_changed" if providers_old != providers_new else "nameservers_changed"
            )
        yield emit(kind, name, _text(old_set), _text(new_set), added=added, removed=removed)


def nameserver_provider(host: str, psl: PublicSuffixes | None = None) -> str:
    """A nameserver's provider: its registrable domain by the Public Suffix List (ICANN
    section), or the host itself when it has none (``ns1.example.co.uk`` ->
    ``example.co.uk``)."""
    host = host.lower().rstrip(".")
    found = (psl or PublicSuffixes.load()).registrable(host) if host else None
    return found or host


def _outcome_text(row: dict[str, Any], suffix: str) -> str | None:
    outcome = row[f"outcome{suffix}"]
    kind = row[f"error_kind{suffix}"]
    return f"error: {kind}" if outcome == "error" and kind else outcome


def _text(value: Any) -> str | None:
    """A compared value as text: ISO dates in UTC, sorted sets joined by ", "."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S") + (
            f".{value.microsecond:06d}Z" if value.microsecond else "Z"
        )
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(value)
    return str(value)


def expiry_outcomes(before: pl.DataFrame, after: pl.DataFrame, *, until: datetime) -> pl.DataFrame:
    """What became of the names whose registration was due to expire by ``until``.

    For renewal-versus-drop studies: every name answered ``ok`` in ``before`` with an
    ``expiration_date`` at or before ``until`` (normally the later snapshot's time),
    and its fate in ``after``: ``renewed`` (a later expiration), ``dropped`` (now
    ``not_found``), ``re_registered`` (a new registration date), ``redemption`` /
    ``pending_delete`` / ``hold`` (the status says it is on its way out), ``unchanged``
    (same expiration: a registry that renews late, or not yet deleted), ``unknown``
    (the later snapshot failed or did not look it up).

    Returns
    -------
    pl.DataFrame
        ``domain``, ``expiration_date`` (before), ``new_expiration_date``, ``fate``.
    """
    b = _prepared(before).filter((pl.col("outcome") == "ok") & (pl.col("expiration_date") <= until))
    a = _prepared(after).select(
        "domain",
        pl.col("outcome").alias("outcome_a"),
        pl.col("expiration_date").alias("new_expiration_date"),
        pl.col("registration_date").alias("registration_date_a"),
        pl.col("rdap_status").alias("status_a"),
    )
    joined = b.join(a, on="domain", how="left")
    status = pl.col("status_a")
    fate = (
        pl.when(pl.col("outcome_a").is_null() | (pl.col("outcome_a") == "error"))
        .then(pl.lit("unknown"))
        .when(pl.col("outcome_a") == "not_found")
        .then(pl.lit("dropped"))
        .when(pl.col("registration_date_a") > pl.col("registration_date"))
        .then(pl.lit("re_registered"))
        .when(status.list.contains("pending delete"))
        .then(pl.lit("pending_delete"))
        .when(status.list.contains("redemption period"))
        .then(pl.lit("redemption"))
        .when(pl.col("new_expiration_date") > pl.col("expiration_date"))
        .then(pl.lit("renewed"))
        .when(status.list.contains("client hold") | status.list.contains("server hold"))
        .then(pl.lit("hold"))
        .otherwise(pl.lit("unchanged"))
    )
    return joined.select(
        "domain", "expiration_date", "new_expiration_date", fate.alias("fate")
    ).sort("expiration_date", "domain")
