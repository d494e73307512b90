"""Fixed-schema frames of IP network, autnum, entity and nameserver answers.

The answers are parsed by :mod:`rdaplab.rdap.objects` (:func:`~rdaplab.rdap.objects.parse_network`
and :func:`~rdaplab.rdap.objects.parse_autnum` give dicts with exactly the object columns
of :data:`NETWORKS_SCHEMA` / :data:`AUTNUMS_SCHEMA`); :func:`networks_frame` and
:func:`autnums_frame` turn such dicts into Polars frames with exactly those schemas,
empty ones included, and :func:`object_frames` builds a batch's frames from its records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl

from rdaplab.columns import build_frame
from rdaplab.frames.rows import outcome_row, result_key
from rdaplab.models import NameResult, Normalized, Response
from rdaplab.rdap.decode import ParseError, decode_json
from rdaplab.rdap.objects import parse_object, read_links, read_remarks
from rdaplab.rdap.records import (
    EntityRow,
    EventRow,
    LinkRow,
    NameserverRow,
    ObjectRecord,
    RedactionRow,
    RemarkRow,
)
from rdaplab.schemas import (
    AUTNUMS_SCHEMA,
    DOMAINS_SCHEMA,
    ENTITIES_SCHEMA,
    EVENTS_SCHEMA,
    LINKS_SCHEMA,
    NAMESERVERS_SCHEMA,
    NETWORKS_SCHEMA,
    REDACTIONS_SCHEMA,
    REMARKS_SCHEMA,
    Frames,
    empty,
)

__all__ = [
    "AUTNUMS_SCHEMA",
    "AUTNUM_OBJECT_COLUMNS",
    "NETWORKS_SCHEMA",
    "NETWORK_OBJECT_COLUMNS",
    "autnums_frame",
    "domain_remarks_and_links",
    "networks_frame",
    "normalize_object_result",
    "object_frames",
]

# The object's own columns in each frame (around them: the query and the lookup's outcome,
# per input row); rdaplab.rdap.objects.parse_network/parse_autnum return "query" plus these.
NETWORK_OBJECT_COLUMNS: tuple[str, ...] = tuple(NETWORKS_SCHEMA.names()[6:-5])
AUTNUM_OBJECT_COLUMNS: tuple[str, ...] = tuple(AUTNUMS_SCHEMA.names()[6:-5])
_OBJECT_COLUMNS = {"ip": NETWORK_OBJECT_COLUMNS, "asn": AUTNUM_OBJECT_COLUMNS}


# --------------------------------------------------------------------------- frames


def _frame(records: Iterable[Mapping[str, Any]], schema: pl.Schema) -> pl.DataFrame:
    """Column-wise frame with exactly ``schema``; missing keys are nulls."""
    rows = list(records)
    columns = {}
    for name, dtype in schema.items():
        values = [r.get(name) for r in rows]
        if dtype == pl.List(pl.Utf8()):  # a mistyped list member becomes an empty list
            values = [v if isinstance(v, list) else [] for v in values]
        columns[name] = values
    return build_frame(columns, schema)


def networks_frame(records: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """A frame with exactly :data:`NETWORKS_SCHEMA` from :func:`~rdaplab.rdap.objects.parse_network` rows.

    Parameters
    ----------
    records
        Row dicts (missing keys become nulls; extra keys are ignored).

    Returns
    -------
    polars.DataFrame
        One row per record, in order; zero rows (same schema) for no records.
    """
    return _frame(records, NETWORKS_SCHEMA)


def autnums_frame(records: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """A frame with exactly :data:`AUTNUMS_SCHEMA` from :func:`~rdaplab.rdap.objects.parse_autnum` rows.

    Parameters
    ----------
    records
        Row dicts (missing keys become nulls; extra keys are ignored).

    Returns
    -------
    polars.DataFrame
        One row per record, in order; zero rows (same schema) for no records.
    """
    return _frame(records, AUTNUMS_SCHEMA)


def _registry_answer(responses: Sequence[Response]) -> Response | None:
    for resp in responses:
        if resp.depth == 0 and 200 <= resp.status < 300:
            return resp
    return None


def normalize_object_result(result: NameResult) -> Normalized:
    """:func:`rdaplab.frames.normalize_result` for the non-domain kinds; never raises.

    A 2xx body that does not decode, or decodes to no RDAP object, gives
    ``outcome="error"``, ``error_kind="parse_error"``.
    """
    answer = _registry_answer(result.responses)
    if answer is None:
        return Normalized(None, result.outcome, result.error_kind, result.error_detail, None)
    try:
        doc = answer.document if answer.document is not None else decode_json(answer.body)
        record = parse_object(result.query_kind, doc, result_key(result), result.registry_url)
    except ParseError as exc:
        return Normalized(None, "error", "parse_error", f"registry answer: {exc}"[:200], None)
    except Exception as exc:  # a shape the tolerant parser missed: one row, not the batch
        detail = f"registry answer could not be normalized: {exc!r}"[:200]
        return Normalized(None, "error", "parse_error", detail, None)
    return Normalized(record, result.outcome, result.error_kind, result.error_detail, None)


def object_frames(
    rows: Sequence[tuple[object, str]],
    results: Mapping[str, NameResult],
    normalized: Mapping[str, Normalized],
) -> Frames:
    """Frames of the non-domain rows of a batch (``domains`` and ``queries`` left empty).

    ``networks`` / ``autnums`` get one row per input row of kind ``ip`` / ``asn`` (input
    order, duplicates kept); the detail frames rows per distinct object, with
    ``query_kind`` and ``key`` (the normalized query) saying whose they are.
    """
    per_kind: dict[str, list[dict[str, Any]]] = {"ip": [], "asn": []}
    seen: set[str] = set()
    ev: list[tuple[str, str, EventRow]] = []
    en: list[tuple[str, str, EntityRow]] = []
    ns: list[tuple[str, str, NameserverRow]] = []
    rd: list[tuple[str, str, RedactionRow]] = []
    rm: list[tuple[str, str, RemarkRow]] = []
    ln: list[tuple[str, str, LinkRow]] = []
    for query, key in rows:
        result = results[key]
        norm = normalized[key]
        rec = norm.record if isinstance(norm.record, ObjectRecord) else None
        kind = result.query_kind
        obj_key = result_key(result)
        if kind in per_kind:
            row = outcome_row(query, result, norm)
            if rec is not None and rec.row is not None:
                for col in _OBJECT_COLUMNS[kind]:
                    if col in rec.row:
                        row[col] = rec.row[col]
            per_kind[kind].append(row)
        if rec is None or obj_key is None or key in seen:
            continue
        seen.add(key)
        ev += [(kind, obj_key, x) for x in rec.events]
        en += [(kind, obj_key, x) for x in rec.entities]
        ns += [(kind, obj_key, x) for x in rec.nameserver_rows]
        rd += [(kind, obj_key, x) for x in rec.redactions]
        rm += [(kind, obj_key, x) for x in rec.remarks]
        ln += [(kind, obj_key, x) for x in rec.links]

    detail = _detail_frame

    return Frames(
        domains=empty(DOMAINS_SCHEMA),
        events=detail(ev, EVENTS_SCHEMA),
        entities=detail(en, ENTITIES_SCHEMA),
        nameservers=detail(ns, NAMESERVERS_SCHEMA),
        redactions=detail(rd, REDACTIONS_SCHEMA),
        networks=_frame(per_kind["ip"], NETWORKS_SCHEMA),
        autnums=_frame(per_kind["asn"], AUTNUMS_SCHEMA),
        remarks=detail(rm, REMARKS_SCHEMA),
        links=detail(ln, LINKS_SCHEMA),
    )


def domain_remarks_and_links(
    answers: Iterable[tuple[str, Sequence[Response]]],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The ``remarks`` and ``links`` rows of domain answers, read from their raw bodies.

    The domain fast path skips remarks and links (they would cost every batch ~10 % of
    its normalization speed); a :class:`~rdaplab.LookupResult` builds these rows the first
    time ``result.remarks`` / ``result.links`` is read, from the cached bodies.

    Parameters
    ----------
    answers
        ``(domain, responses)`` pairs: the registry answer (depth 0) and its referrals;
        the registry answer and the deepest 2xx referral are read, like the domain
        frames (sources ``registry`` and ``registrar``).

    Returns
    -------
    tuple of polars.DataFrame
        ``(remarks, links)`` with :data:`REMARKS_SCHEMA` / :data:`LINKS_SCHEMA`;
        unreadable bodies contribute nothing.
    """
    rm: list[tuple[str, str, RemarkRow]] = []
    ln: list[tuple[str, str, LinkRow]] = []
    for domain, responses in answers:
        ok = [r for r in responses if 200 <= r.status < 300]
        registry = next((r for r in ok if r.depth == 0), None)
        if registry is None:
            continue
        picked = [(registry, "registry")]
        referrals = [r for r in ok if r.depth > 0]
        if referrals:
            picked.append((max(referrals, key=lambda r: r.depth), "registrar"))
        for resp, source in picked:
            try:
                doc = decode_json(resp.body)
            except ParseError:
                continue
            if not isinstance(doc, Mapping):
                continue
            rm += [("domain", domain, x) for x in read_remarks(doc, source)]
            ln += [("domain", domain, x) for x in read_links(doc, source)]
    return _detail_frame(rm, REMARKS_SCHEMA), _detail_frame(ln, LINKS_SCHEMA)


def _detail_frame(items: list[tuple[str, str, Any]], schema: pl.Schema) -> pl.DataFrame:
    """A detail frame from ``(query_kind, key, row)`` triples (``domain`` = key of domains)."""
    columns: dict[str, list[Any]] = {}
    for name in schema.names():
        if name == "domain":
            columns[name] = [k if q == "domain" else None for q, k, _ in items]
        elif name == "query_kind":
            columns[name] = [q for q, _, _ in items]
        elif name == "key":
            columns[name] = [k for _, k, _ in items]
        elif name == "pii_redacted":
            columns[name] = [False] * len(items)
        else:
            columns[name] = [getattr(x, name, None) for _, _, x in items]
    return build_frame(columns, schema)
