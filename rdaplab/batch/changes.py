"""Change over time: snapshots of the cache, what changed between two, a name's history.

Every batch keeps its answers in the cache, so a study rerun months later already holds
both snapshots. A *snapshot* is the ``domains`` frame as it stood at a batch (the names
it looked up, each with its newest answer up to the batch's end) or at a date (every
name known by then). :func:`diff` compares two (``rdaplab.frames.diff``: one row per name
and changed field), :func:`history` lays a name's values out across every batch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timezone
from pathlib import Path

import polars as pl

from rdaplab.batch.load import batch_domains, load_result, parse_as_of
from rdaplab.batch.result import LookupResult, register_result_extension
from rdaplab.errors import InputError
from rdaplab.frames.diff import diff_domains
from rdaplab.frames.diff import expiry_outcomes as frame_expiry_outcomes
from rdaplab.rdap import normalize_domains
from rdaplab.rdap.psl import PublicSuffixes
from rdaplab.schemas import DOMAINS_SCHEMA, UTC_US
from rdaplab.store import Cache

__all__ = [
    "HISTORY_SCHEMA",
    "Snapshot",
    "diff",
    "expiry_outcomes",
    "history",
    "resolve_snapshot",
    "snapshot",
]

#: A name's values across batches: which snapshot, when, then the ``domains`` columns.
HISTORY_SCHEMA = pl.Schema({"snapshot": pl.Utf8(), "snapshot_at": UTC_US} | dict(DOMAINS_SCHEMA))

# What a snapshot may be given as: a result, a domains frame, a batch id, a time.
Snapshot = LookupResult | pl.DataFrame | str | datetime | date


@contextlib.contextmanager
def _opened(cache: Cache | str | Path | None) -> Iterator[Cache]:
    if cache is None:
        raise InputError("a batch id or a date needs the cache it refers to (cache=...)")
    if isinstance(cache, Cache):
        yield cache
        return
    path = Path(cache)
    if not path.exists():
        raise InputError(f"cannot open cache {path}: no such file")
    with Cache(path, read_only=True) as opened:
        yield opened


def resolve_snapshot(cache: Cache, at: str | datetime | date) -> tuple[str | None, datetime | None]:
    """(batch id, None) or (None, as-of time) for ``at``: a batch id of ``cache``,
    ``"latest"`` / ``"previous"`` (the newest batch and the one before it), or a time."""
    if isinstance(at, str):
        text = at.strip()
        ids = cache.batches().sort("started_at")["batch_id"].to_list()
        if text in ("latest", "previous"):
            need = 1 if text == "latest" else 2
            if len(ids) < need:
                raise InputError(
                    f"cache {cache.path} holds {len(ids)} batch(es): no {text!r} batch"
                )
            return ids[-need], None
        if text in ids:
            return text, None
        try:
            return None, parse_as_of(text)
        except InputError:
            raise InputError(
                f"{at!r} is neither a batch of {cache.path} (rdaplab cache batches lists "
                "them) nor a date (YYYY-MM-DD or ISO 8601)"
            ) from None
    return None, parse_as_of(at)


def snapshot(
    cache: Cache | str | Path, at: str | datetime | date = "latest", *, redact_pii: bool = True
) -> LookupResult:
    """The cache as it stood at a batch or a time, as a :class:`LookupResult`.

    Parameters
    ----------
    cache
        A :class:`~rdaplab.Cache` or a cache file.
    at
        A batch id; ``"latest"`` or ``"previous"``; or a time (datetime, date meaning
        the end of that UTC day, or ISO text). A batch's snapshot holds the names it
        looked up (cache hits included), each with its newest answer up to the batch's
        end; a name the batch could not answer is an error row. A time's snapshot holds
        every name known by then with its newest answer up to then.
    redact_pii
        Blank individual contacts (as lookups do).

    Examples
    --------
    >>> march = rdaplab.snapshot("study.duckdb", "2026-03-31")  # doctest: +SKIP
    >>> march.domains  # doctest: +SKIP
    """
    with _opened(cache) as store:
        batch_id, as_of = resolve_snapshot(store, at)
        return load_result(store, batch_id=batch_id, as_of=as_of, redact_pii=redact_pii)


def _domains_of(
    value: Snapshot, cache: Cache | str | Path | None
) -> tuple[pl.DataFrame, str, datetime | None]:
    """(domains frame, label, snapshot time) of one side of a diff."""
    if isinstance(value, LookupResult):
        label = value.batch_id or str(value.summary.get("source", "result"))
        return value.domains, label, _finished(value)
    if isinstance(value, pl.DataFrame):
        return value, "frame", None
    if isinstance(value, (str, datetime, date)):
        with _opened(cache) as store:
            batch_id, as_of = resolve_snapshot(store, value)
            result = load_result(store, batch_id=batch_id, as_of=as_of)
            label = batch_id if batch_id is not None else as_of.isoformat()  # type: ignore[union-attr]
            return result.domains, label, as_of if as_of is not None else _finished(result)
    raise InputError(
        "a snapshot is a LookupResult, a domains frame, a batch id or a date, "
        f"not {type(value).__name__}"
    )


def _finished(result: LookupResult) -> datetime | None:
    fetched = result.domains["fetched_at"].drop_nulls()
    return fetched.max() if fetched.len() else None  # type: ignore[return-value]


def diff(
    before: Snapshot,
    after: Snapshot,
    *,
    cache: Cache | str | Path | None = None,
    psl: PublicSuffixes | str | Path | None = None,
) -> pl.DataFrame:
    """What changed for each name between two snapshots.

    Parameters
    ----------
    before, after
        Each a :class:`LookupResult`, a ``domains`` frame, or (with ``cache``) a batch
        id, ``"latest"`` / ``"previous"``, or a date / time (see :func:`snapshot`).
    cache
        The cache that batch ids and dates refer to.
    psl
        The Public Suffix List that tells nameserver providers apart (default: the one
        lookups use).

    Returns
    -------
    pl.DataFrame
        One row per name and changed field (``rdaplab.frames.DIFF_SCHEMA``): ``change``
        (``transfer``, ``renewed``, ``re_registered``, ``status_changed``,
        ``ns_provider_changed``, ``dnssec_enabled``, ``appeared``, ``disappeared``,
        ``became_unreachable``, ...; docs/changes.md lists them), ``field``,
        ``category`` (``change``, ``presence``, ``error``: failures and missing values
        are kept apart from real changes), the values ``before`` / ``after`` as text,
        ``added`` / ``removed`` members of set fields, and both snapshots' outcomes,
        fetch times and labels. Registry values are compared (``registration_date``,
        not ``registrar_registration_date``).

    Examples
    --------
    >>> changes = rdaplab.diff("previous", "latest", cache="study.duckdb")  # doctest: +SKIP
    >>> changes.filter(pl.col("change") == "transfer")  # doctest: +SKIP
    """
    suffixes = PublicSuffixes.load(psl)
    b, b_label, _ = _domains_of(before, cache)
    a, a_label, _ = _domains_of(after, cache)
    return diff_domains(b, a, before_label=b_label, after_label=a_label, psl=suffixes)


def expiry_outcomes(
    before: Snapshot,
    after: Snapshot,
    *,
    cache: Cache | str | Path | None = None,
    until: datetime | None = None,
) -> pl.DataFrame:
    """Renewal versus drop: the fate of the names due to expire between two snapshots.

    Every name answered ``ok`` in ``before`` whose ``expiration_date`` falls at or before
    ``until`` (default: the later snapshot's time), with what ``after`` says became of it
    (``fate``: ``renewed``, ``dropped``, ``re_registered``, ``redemption``,
    ``pending_delete``, ``hold``, ``unchanged``, ``unknown``). Snapshots as in
    :func:`diff`.

    Returns
    -------
    pl.DataFrame
        ``domain``, ``expiration_date``, ``new_expiration_date``, ``fate``.
    """
    b, _, _ = _domains_of(before, cache)
    a, _, a_time = _domains_of(after, cache)
    if until is None:
        until = a_time or datetime.now(timezone.utc)
    return frame_expiry_outcomes(b, a, until=until)


def history(
    cache: Cache | str | Path, names: str | Sequence[str] | None = None, *, redact_pii: bool = True
) -> pl.DataFrame:
    """Names' values across every stored batch, oldest first.

    Parameters
    ----------
    cache
        A :class:`~rdaplab.Cache` or a cache file.
    names
        One name or several (normalized as lookups do: ``Example.COM.`` is
        ``example.com``; IDNs as A-labels); ``None``: every domain in the cache.
    redact_pii
        Blank individual contacts.

    Returns
    -------
    pl.DataFrame
        ``HISTORY_SCHEMA``: ``snapshot`` (the batch id), ``snapshot_at`` (its end),
        then the ``domains`` columns: one row per name and batch that looked it up
        (``from_cache`` says when the batch reused an earlier answer), ordered by
        name then time.

    Examples
    --------
    >>> rdaplab.history("study.duckdb", "example.com")  # doctest: +SKIP
    """
    wanted: list[str] | None = None
    if names is not None:
        raw = [names] if isinstance(names, str) else list(names)
        wanted = [n.name or str(n.raw) for n in normalize_domains(raw)]
    frames: list[pl.DataFrame] = []
    with _opened(cache) as store:
        keys = wanted if wanted is not None else store.queries("domain")
        for batch_id in store.batches_with("domain", keys):
            domains = batch_domains(
                store, batch_id, None if wanted is None else set(wanted), redact_pii=redact_pii
            )
            if domains.height == 0:
                continue
            row = store.batch(batch_id) or {}
            at = row.get("finished_at") or row.get("started_at")
            frames.append(
                domains.unique("domain", keep="first", maintain_order=True).select(
                    pl.lit(batch_id, pl.Utf8()).alias("snapshot"),
                    pl.lit(at).cast(UTC_US).alias("snapshot_at"),
                    pl.all(),
                )
            )
    if not frames:
        return pl.DataFrame(schema=HISTORY_SCHEMA)
    out = pl.concat(frames, how="vertical_relaxed").cast(HISTORY_SCHEMA)
    return out.sort("domain", "snapshot_at", maintain_order=True)


def _result_history(result: LookupResult, name: str | None = None) -> pl.DataFrame:
    """``result.history(name)``: :func:`history` on the result's cache file."""
    path = result.cache_path
    if not path or path == ":memory:" or not Path(path).exists():
        raise InputError(
            "this result has no cache file to read history from; look names up with "
            "a cache file (cache=PATH), or call rdaplab.history(cache, name)"
        )
    redact = bool((result.summary.get("privacy") or {}).get("redact_pii", True))
    return history(path, name, redact_pii=redact)


register_result_extension("history", _result_history)
