"""Fixed-schema Polars frames built from the engine's :class:`~rdaplab.models.NameResult`.

The schemas below are a contract with users (documented column by column in
``docs/schemas.md``): every frame has exactly these columns, in this order, with these
dtypes, even when empty or when every lookup failed.

``build_frames`` decodes and normalizes each distinct key's stored bodies once, then fans
the ``domains`` rows out to the input rows (duplicates included, input order kept). The
detail frames (``events``, ``entities``, ``nameservers``, ``redactions``) have rows per
distinct domain, never repeated for duplicate inputs. Frames are built column-wise.

Stored bodies are normalized on the typed fast path (:func:`rdaplab.rdap.fast.parse_body`);
the tests hold it equal to the tolerant path on the whole corpus and on mutations of it.
Big batches pause the cyclic GC (:func:`normalize_results`, :func:`build_frames`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import polars as pl

from rdaplab._gc import gc_paused
from rdaplab.columns import build_frame
from rdaplab.frames.objects import normalize_object_result, object_frames
from rdaplab.frames.rows import outcome_row
from rdaplab.models import NameResult, Normalized, Response
from rdaplab.rdap.decode import ParseError, decode_json
from rdaplab.rdap.domain import merge_records, parse_domain
from rdaplab.rdap.fast import parse_body
from rdaplab.rdap.objects import object_class_error
from rdaplab.rdap.records import DomainRecord, EntityRow, EventRow, NameserverRow, RedactionRow
from rdaplab.schemas import (
    DOMAINS_SCHEMA,
    ENTITIES_SCHEMA,
    EVENTS_SCHEMA,
    NAMESERVERS_SCHEMA,
    QUERIES_SCHEMA,
    REDACTIONS_SCHEMA,
    Frames,
)

__all__ = ["build_frames", "normalize_result", "normalize_results", "queries_from_domains"]


def _domain_keys(frame: pl.DataFrame) -> pl.DataFrame:
    """A domain detail frame's ``query_kind`` and ``key`` columns, from ``domain``."""
    return frame.with_columns(
        query_kind=pl.lit("domain", pl.Utf8) if frame.height else pl.col("query_kind"),
        key=pl.col("domain"),
    )


def _document(resp: Response) -> Any:
    return resp.document if resp.document is not None else decode_json(resp.body)


# Stands in for a missing record when building columns: every field is None.
_NO_RECORD: Any = SimpleNamespace(**{f: None for f in DomainRecord.__dataclass_fields__})


def _pick_bodies(responses: Sequence[Response]) -> tuple[Response | None, Response | None]:
    """(registry 200 answer at depth 0, deepest 200 answer at depth >= 1)."""
    registry: Response | None = None
    registrar: Response | None = None
    for resp in responses:
        if resp.status != 200:
            continue
        if resp.depth == 0:
            if registry is None:
                registry = resp
        elif registrar is None or resp.depth > registrar.depth:
            registrar = resp
    return registry, registrar


def _class_error(record: DomainRecord) -> str | None:
    """Why a domain answer's record is of another object class, or None (the usual)."""
    served = record.object_class
    if served is None or served == "domain":
        return None
    return object_class_error("domain", served)


def normalize_result(result: NameResult) -> Normalized:
    """Decode and normalize one key's kept answers; never raises.

    Bodies read back from the cache take the typed fast path (:func:`parse_body`);
    answers the engine already decoded (``Response.document``) are normalized from that
    document. Both give the same record.

    Parameters
    ----------
    result
        The key's result with its ``responses`` (registry answer first).

    Returns
    -------
    Normalized
        A registry body that does not decode, a shape the parser cannot handle, or an
        object of another class than ``domain`` (its ``objectClassName``) gives
        ``outcome="error"``, ``error_kind="parse_error"``; a registrar body that does not
        decode, or is of another class, is dropped and ``referral_status`` becomes
        ``"referral_failed"``.
    """
    if result.query_kind != "domain":
        return normalize_object_result(result)
    responses = result.responses
    if len(responses) == 1:  # the usual cached answer: one registry body, no referral
        only = responses[0]
        if only.status == 200 and only.depth == 0 and only.document is None:
            try:
                record = parse_body(only.body, "registry")
            except Exception:
                return _normalize_bodies(result, only, None)  # says which failure it was
            if record.object_class is not None and record.object_class != "domain":
                return _normalize_bodies(result, only, None)  # the class check is there
            outcome, kind, detail = result.outcome, result.error_kind, result.error_detail
            return Normalized(record, outcome, kind, detail, result.referral_status)
    outcome, kind, detail = result.outcome, result.error_kind, result.error_detail
    registry, registrar = _pick_bodies(responses)
    if registry is None:
        # not_found, errors, or a result without kept answers: nothing to normalize
        return Normalized(None, outcome, kind, detail, result.referral_status)
    if registry.document is None and (registrar is None or registrar.document is None):
        return _normalize_bodies(result, registry, registrar)
    try:
        registry_doc = _document(registry)
    except ParseError as exc:
        detail = f"registry answer: {exc}"[:200]
        return Normalized(None, "error", "parse_error", detail, result.referral_status)
    if isinstance(registry_doc, Mapping):
        reason = object_class_error("domain", registry_doc.get("objectClassName"))
        if reason is not None:
            detail = f"registry answer: {reason}"[:200]
            return Normalized(None, "error", "parse_error", detail, result.referral_status)
    registrar_doc = None
    referral_status = result.referral_status
    if registrar is not None:
        try:
            registrar_doc = _document(registrar)
        except ParseError:
            # the registry answer stands on its own; a broken referral body is dropped
            referral_status = "referral_failed"
        else:
            if isinstance(registrar_doc, Mapping) and object_class_error(
                "domain", registrar_doc.get("objectClassName")
            ):
                registrar_doc = None  # an object of another class: dropped, as broken
                referral_status = "referral_failed"
    try:
        record = parse_domain(registry_doc, registrar_doc)
    except Exception as exc:  # a shape the tolerant parser missed: one row, not the batch
        detail = f"registry answer could not be normalized: {exc!r}"[:200]
        return Normalized(None, "error", "parse_error", detail, referral_status)
    return Normalized(record, outcome, kind, detail, referral_status)


def _normalize_bodies(
    result: NameResult, registry: Response, registrar: Response | None
) -> Normalized:
    """:func:`normalize_result` from raw bodies, on the fast path; same outcomes."""
    failure: Exception | None = None
    try:
        reg = parse_body(registry.body, "registry")
    except ParseError as exc:
        detail = f"registry answer: {exc}"[:200]
        return Normalized(None, "error", "parse_error", detail, result.referral_status)
    except Exception as exc:  # reported after the registrar body, as parse_domain would
        reg, failure = None, exc
    if reg is not None:
        reason = _class_error(reg)
        if reason is not None:
            detail = f"registry answer: {reason}"[:200]
            return Normalized(None, "error", "parse_error", detail, result.referral_status)
    rar = None
    referral_status = result.referral_status
    if registrar is not None:
        try:
            rar = parse_body(registrar.body, "registrar")
        except ParseError:
            referral_status = "referral_failed"
        except Exception as exc:
            failure = failure or exc
        else:
            if _class_error(rar) is not None:
                rar = None  # an object of another class: dropped, as a broken body is
                referral_status = "referral_failed"
    if failure is not None:
        detail = f"registry answer could not be normalized: {failure!r}"[:200]
        return Normalized(None, "error", "parse_error", detail, referral_status)
    return Normalized(
        merge_records(reg, rar),
        result.outcome,
        result.error_kind,
        result.error_detail,
        referral_status,
    )


def normalize_results(results: Iterable[NameResult]) -> dict[str, Normalized]:
    """:func:`normalize_result` for many keys at once, keyed by ``result.key``.

    The cyclic garbage collector is paused meanwhile: the records are acyclic, and on a
    big batch the full collections their allocation triggers rescan the whole heap
    (measured: half the normalization time at 10^5 cached names).

    Parameters
    ----------
    results
        Results with their ``responses``; left unchanged.

    Returns
    -------
    dict[str, Normalized]
        One entry per distinct ``result.key``, in input order.
    """
    out: dict[str, Normalized] = {}
    with gc_paused():
        for result in results:
            # normalize_result's fast path inlined (one call less per key): the usual
            # cached answer is one registry body, no referral, not decoded yet
            responses = result.responses
            if len(responses) == 1 and result.query_kind == "domain":
                only = responses[0]
                if only.status == 200 and only.depth == 0 and only.document is None:
                    try:
                        record = parse_body(only.body)
                    except Exception:
                        out[result.key] = _normalize_bodies(result, only, None)  # which failure
                    else:
                        oc = record.object_class
                        if oc is not None and oc != "domain":  # another class, or a spelling
                            out[result.key] = _normalize_bodies(result, only, None)
                            continue
                        out[result.key] = Normalized(
                            record,
                            result.outcome,
                            result.error_kind,
                            result.error_detail,
                            result.referral_status,
                        )
                    continue
            out[result.key] = normalize_result(result)
    return out


def build_frames(
    rows: Sequence[tuple[object, str]],
    results: Mapping[str, NameResult],
    normalized: Mapping[str, Normalized] | None = None,
) -> Frames:
    """Build the five result frames.

    Parameters
    ----------
    rows
        One ``(query as given, key)`` per input row, in input order; ``key`` indexes
        ``results``.
    results
        One :class:`~rdaplab.models.NameResult` per distinct key.
    normalized
        Already normalized keys (from :func:`normalize_result`); the others are
        normalized here from their ``responses``.

    Returns
    -------
    Frames
        ``domains`` has one row per input row (same order); the other frames have rows per
        distinct domain. A stored 200 registry body that fails to decode turns the row
        into ``outcome="error"``, ``error_kind="parse_error"``; a registrar body that fails
        to decode is ignored and the row's ``referral_status`` becomes
        ``"referral_failed"``. Bad bodies never raise.

    Raises
    ------
    KeyError
        When a row's key has no entry in ``results`` (a caller bug, not a data problem).
    """
    # The cyclic GC is paused: building 10^5-row columns of acyclic values otherwise
    # triggers full collections that rescan the whole heap (measured: ~10x at 10^5 rows).
    with gc_paused():
        return _build_frames(rows, results, normalized)


def _build_frames(
    rows: Sequence[tuple[object, str]],
    results: Mapping[str, NameResult],
    normalized: Mapping[str, Normalized] | None,
) -> Frames:
    done = normalized or {}
    normalized = {
        key: done[key] if key in done else normalize_result(name_result)
        for key, name_result in results.items()
    }
    if all(r.query_kind == "domain" for r in results.values()):
        frames = _domain_frames(rows, results, normalized)
        frames.queries = queries_from_domains(frames.domains)
        return frames
    # A mixed batch: domain rows as usual, the other kinds through frames.objects.
    domain_rows: list[tuple[object, str]] = []
    other_rows: list[tuple[object, str]] = []
    for row in rows:
        result = results.get(row[1])
        if result is None:
            raise KeyError(f"build_frames: no NameResult for key {row[1]!r}")
        (domain_rows if result.query_kind == "domain" else other_rows).append(row)
    frames = _domain_frames(domain_rows, results, normalized)
    objs = object_frames(other_rows, results, normalized)
    for name in ("events", "entities", "nameservers", "redactions", "remarks", "links"):
        setattr(frames, name, pl.concat([getattr(frames, name), getattr(objs, name)]))
    frames.networks, frames.autnums = objs.networks, objs.autnums
    frames.queries = _queries_frame(rows, results, normalized)
    return frames


def queries_from_domains(domains: pl.DataFrame) -> pl.DataFrame:
    return domains.with_columns(query_kind=pl.lit("domain", pl.Utf8), key=pl.col("domain")).select(
        QUERIES_SCHEMA.names()
    )


def _queries_frame(
    rows: Sequence[tuple[object, str]],
    results: Mapping[str, NameResult],
    normalized: Mapping[str, Normalized],
) -> pl.DataFrame:
    per_row = [outcome_row(q, results[key], normalized[key]) for q, key in rows]
    columns = {name: [r[name] for r in per_row] for name in QUERIES_SCHEMA.names()}
    return build_frame(columns, QUERIES_SCHEMA)


def _domain_frames(
    rows: Sequence[tuple[object, str]],
    results: Mapping[str, NameResult],
    normalized: Mapping[str, Normalized],
) -> Frames:

    # Gather the row objects once, then build each column with one comprehension: per-cell
    # list appends were most of the cost at 10^5 rows.
    res_rows: list[NameResult] = []
    norm_rows: list[Normalized] = []
    queries: list[str | None] = []
    detailed: dict[str, DomainRecord] = {}  # details once per distinct domain, not per row
    for query, key in rows:
        result = results.get(key)
        if result is None:
            raise KeyError(f"build_frames: no NameResult for key {key!r}")
        norm = normalized[key]
        res_rows.append(result)
        norm_rows.append(norm)
        queries.append(query if query.__class__ is str else None if query is None else str(query))
        rec = norm.record
        if rec is not None and result.key not in detailed:
            detailed[result.key] = rec
    recs = [n.record if n.record is not None else _NO_RECORD for n in norm_rows]

    d: dict[str, list[Any]] = {
        "query": queries,
        "domain": [None if r.error_kind == "invalid_query" else r.key for r in res_rows],
        "unicode_name": [
            rec.unicode_name if rec.unicode_name else r.unicode_name
            for rec, r in zip(recs, res_rows, strict=True)
        ],
        "outcome": [n.outcome for n in norm_rows],
        "error_kind": [n.error_kind for n in norm_rows],
        "error_detail": [n.error_detail for n in norm_rows],
        "tld": [r.tld for r in res_rows],
        "registry_url": [r.registry_url for r in res_rows],
        "handle": [rec.handle for rec in recs],
        "registrar": [rec.registrar for rec in recs],
        "registrar_iana_id": [rec.registrar_iana_id for rec in recs],
        "registrar_url": [r.registrar_url for r in res_rows],
        "referral_status": [n.referral_status for n in norm_rows],
        "registration_date": [rec.registration_date for rec in recs],
        "registrar_registration_date": [rec.registrar_registration_date for rec in recs],
        "expiration_date": [rec.expiration_date for rec in recs],
        "last_changed_date": [rec.last_changed_date for rec in recs],
        "rdap_status": [rec.rdap_status for rec in recs],
        "nameservers": [rec.nameservers for rec in recs],
        "dnssec": [rec.dnssec for rec in recs],
        "http_status": [r.http_status for r in res_rows],
        "attempts": [r.attempts for r in res_rows],
        "latency_ms": [r.latency_ms for r in res_rows],
        "from_cache": [r.from_cache for r in res_rows],
        "fetched_at": [r.fetched_at for r in res_rows],
    }

    ev_dom: list[str] = []
    evs: list[EventRow] = []
    en_dom: list[str] = []
    ens: list[EntityRow] = []
    ns_dom: list[str] = []
    nss: list[NameserverRow] = []
    rd_dom: list[str] = []
    rds: list[RedactionRow] = []
    for domain, rec in detailed.items():
        if rec.events:
            evs += rec.events
            ev_dom += [domain] * len(rec.events)
        if rec.entities:
            ens += rec.entities
            en_dom += [domain] * len(rec.entities)
        if rec.nameserver_rows:
            nss += rec.nameserver_rows
            ns_dom += [domain] * len(rec.nameserver_rows)
        if rec.redactions:
            rds += rec.redactions
            rd_dom += [domain] * len(rec.redactions)

    ev: dict[str, list[Any]] = {
        "domain": ev_dom,
        "source": [e.source for e in evs],
        "action": [e.action for e in evs],
        "date": [e.date for e in evs],
        "date_text": [e.date_text for e in evs],
        "actor": [e.actor for e in evs],
    }
    en: dict[str, list[Any]] = {
        "domain": en_dom,
        "source": [x.source for x in ens],
        "handle": [x.handle for x in ens],
        "role": [x.role for x in ens],
        "parent_handle": [x.parent_handle for x in ens],
        "name": [x.name for x in ens],
        "organization": [x.organization for x in ens],
        "email": [x.email for x in ens],
        "phone": [x.phone for x in ens],
        "country": [x.country for x in ens],
        "name_redacted": [x.name_redacted for x in ens],
        "organization_redacted": [x.organization_redacted for x in ens],
        "email_redacted": [x.email_redacted for x in ens],
        "phone_redacted": [x.phone_redacted for x in ens],
        "country_redacted": [x.country_redacted for x in ens],
        "pii_redacted": [False] * len(ens),
        "kind": [x.kind for x in ens],
        "address": [x.address for x in ens],
        "address_redacted": [x.address_redacted for x in ens],
        "privacy_proxy": [x.privacy_proxy for x in ens],
    }
    ns: dict[str, list[Any]] = {
        "domain": ns_dom,
        "source": [n.source for n in nss],
        "nameserver": [n.nameserver for n in nss],
        "ipv4": [n.ipv4 for n in nss],
        "ipv6": [n.ipv6 for n in nss],
    }
    rd: dict[str, list[Any]] = {
        "domain": rd_dom,
        "source": [r.source for r in rds],
        "name": [r.name for r in rds],
        "method": [r.method for r in rds],
        "path": [r.path for r in rds],
        "reason": [r.reason for r in rds],
    }

    return Frames(
        domains=build_frame(d, DOMAINS_SCHEMA),
        events=_domain_keys(build_frame(ev, EVENTS_SCHEMA)),
        entities=_domain_keys(build_frame(en, ENTITIES_SCHEMA)),
        nameservers=_domain_keys(build_frame(ns, NAMESERVERS_SCHEMA)),
        redactions=_domain_keys(build_frame(rd, REDACTIONS_SCHEMA)),
    )
