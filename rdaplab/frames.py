"""Fixed-schema Polars frames built from the engine's :class:`~rdaplab.models.NameResult`.

The schemas below are a contract with users (documented column by column in
``docs/schemas.md``): every frame has exactly these columns, in this order, with these
dtypes, even when empty or when every lookup failed.

``build_frames`` decodes and normalizes each distinct key's stored bodies once, then fans
the ``domains`` rows out to the input rows (duplicates included, input order kept). The
detail frames (``events``, ``entities``, ``nameservers``, ``redactions``) have rows per
distinct domain, never repeated for duplicate inputs. Frames are built column-wise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
import pyarrow as pa

from rdaplab.models import NameResult, Response
from rdaplab.normalize import DomainRecord, ParseError, decode_json, normalize_domain

__all__ = [
    "ATTEMPTS_SCHEMA",
    "DOMAINS_SCHEMA",
    "ENTITIES_SCHEMA",
    "EVENTS_SCHEMA",
    "NAMESERVERS_SCHEMA",
    "REDACTIONS_SCHEMA",
    "Frames",
    "build_frames",
    "empty",
]

_UTC_US = pl.Datetime("us", "UTC")
_STR_LIST = pl.List(pl.Utf8())

DOMAINS_SCHEMA = pl.Schema(
    {
        "query": pl.Utf8(),
        "domain": pl.Utf8(),
        "unicode_name": pl.Utf8(),
        "outcome": pl.Utf8(),
        "error_kind": pl.Utf8(),
        "error_detail": pl.Utf8(),
        "tld": pl.Utf8(),
        "registry_url": pl.Utf8(),
        "handle": pl.Utf8(),
        "registrar": pl.Utf8(),
        "registrar_iana_id": pl.Utf8(),
        "registrar_url": pl.Utf8(),
        "referral_status": pl.Utf8(),
        "registration_date": _UTC_US,
        "expiration_date": _UTC_US,
        "last_changed_date": _UTC_US,
        "rdap_status": _STR_LIST,
        "nameservers": _STR_LIST,
        "dnssec": pl.Boolean(),
        "http_status": pl.Int16(),
        "attempts": pl.Int32(),
        "latency_ms": pl.Float64(),
        "from_cache": pl.Boolean(),
        "fetched_at": _UTC_US,
    }
)

EVENTS_SCHEMA = pl.Schema(
    {
        "domain": pl.Utf8(),
        "source": pl.Utf8(),
        "action": pl.Utf8(),
        "date": _UTC_US,
        "actor": pl.Utf8(),
    }
)

ENTITIES_SCHEMA = pl.Schema(
    {
        "domain": pl.Utf8(),
        "source": pl.Utf8(),
        "handle": pl.Utf8(),
        "role": pl.Utf8(),
        "parent_handle": pl.Utf8(),
        "name": pl.Utf8(),
        "organization": pl.Utf8(),
        "email": pl.Utf8(),
        "phone": pl.Utf8(),
        "country": pl.Utf8(),
        "name_redacted": pl.Boolean(),
        "organization_redacted": pl.Boolean(),
        "email_redacted": pl.Boolean(),
        "phone_redacted": pl.Boolean(),
        "country_redacted": pl.Boolean(),
    }
)

NAMESERVERS_SCHEMA = pl.Schema(
    {
        "domain": pl.Utf8(),
        "source": pl.Utf8(),
        "nameserver": pl.Utf8(),
        "ipv4": _STR_LIST,
        "ipv6": _STR_LIST,
    }
)

REDACTIONS_SCHEMA = pl.Schema(
    {
        "domain": pl.Utf8(),
        "source": pl.Utf8(),
        "name": pl.Utf8(),
        "method": pl.Utf8(),
        "path": pl.Utf8(),
        "reason": pl.Utf8(),
    }
)

# Mirrors rdaplab.models.Attempt field by field (the cache returns attempts in it).
ATTEMPTS_SCHEMA = pl.Schema(
    {
        "batch_id": pl.Utf8(),
        "host": pl.Utf8(),
        "url": pl.Utf8(),
        "query_kind": pl.Utf8(),
        "query": pl.Utf8(),
        "started_at": _UTC_US,
        "latency_ms": pl.Float64(),
        "status": pl.Int16(),
        "bytes": pl.Int64(),
        "retry_after_s": pl.Float64(),
        "error_kind": pl.Utf8(),
        "error_detail": pl.Utf8(),
        "attempt": pl.Int16(),
        "throttled": pl.Boolean(),
        "rate_limit": pl.Float64(),
        "concurrency_limit": pl.Int32(),
    }
)


@dataclass
class Frames:
    """The normalized result of a batch: one frame per table."""

    domains: pl.DataFrame
    events: pl.DataFrame
    entities: pl.DataFrame
    nameservers: pl.DataFrame
    redactions: pl.DataFrame


def empty(schema: pl.Schema) -> pl.DataFrame:
    """A zero-row frame with exactly ``schema``."""
    return pl.DataFrame(schema=schema)


_PA_UTC_US = pa.timestamp("us", tz="UTC")


def _list_series(name: str, values: list[Any]) -> pl.Series:
    """A List(String) column via one Arrow ListArray (Polars' per-row path is ~15x slower)."""
    offsets = [0]
    flat: list[str] = []
    nulls: list[bool] = []
    for v in values:
        if v is None:
            nulls.append(True)
        else:
            flat.extend(v)
            nulls.append(False)
        offsets.append(len(flat))
    arr = pa.ListArray.from_arrays(
        pa.array(offsets, pa.int32()), pa.array(flat, pa.string()), mask=pa.array(nulls, pa.bool_())
    )
    return pl.Series(name, arr).cast(_STR_LIST)


def _frame(columns: dict[str, list[Any]], schema: pl.Schema) -> pl.DataFrame:
    series = []
    for name, dtype in schema.items():
        values = columns[name]
        if dtype == _STR_LIST:
            series.append(_list_series(name, values))
        elif dtype == _UTC_US:
            # Arrow converts aware datetimes in C; same result as Polars, ~6x faster
            series.append(pl.Series(name, pa.array(values, _PA_UTC_US)).cast(_UTC_US))
        else:
            series.append(pl.Series(name, values, dtype=dtype))
    return pl.DataFrame(series)


def _columns(schema: pl.Schema) -> dict[str, list[Any]]:
    return {name: [] for name in schema.names()}


@dataclass(slots=True)
class Normalized:
    """One distinct key after decoding: the record, or the reason it failed.

    Small next to the raw bodies: the engine normalizes each answer as soon as it arrives
    and lets the bodies go once the cache has them.
    """

    record: DomainRecord | None
    outcome: str
    error_kind: str | None
    error_detail: str | None
    referral_status: str | None


def _document(resp: Response) -> Any:
    return resp.document if resp.document is not None else decode_json(resp.body)


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


def normalize_result(result: NameResult) -> Normalized:
    outcome, kind, detail = result.outcome, result.error_kind, result.error_detail
    registry, registrar = _pick_bodies(result.responses)
    if registry is None:
        # not_found, errors, or a result without kept answers: nothing to normalize
        return Normalized(None, outcome, kind, detail, result.referral_status)
    try:
        registry_doc = _document(registry)
    except ParseError as exc:
        detail = f"registry answer: {exc}"[:200]
        return Normalized(None, "error", "parse_error", detail, result.referral_status)
    registrar_doc = None
    referral_status = result.referral_status
    if registrar is not None:
        try:
            registrar_doc = _document(registrar)
        except ParseError:
            # the registry answer stands on its own; a broken referral body is dropped
            referral_status = "referral_failed"
    try:
        record = normalize_domain(registry_doc, registrar_doc)
    except Exception as exc:  # a shape the tolerant parser missed: one row, not the batch
        detail = f"registry answer could not be normalized: {exc!r}"[:200]
        return Normalized(None, "error", "parse_error", detail, referral_status)
    return Normalized(record, outcome, kind, detail, referral_status)


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
    done = normalized or {}
    normalized = {
        key: done[key] if key in done else normalize_result(name_result)
        for key, name_result in results.items()
    }

    d = _columns(DOMAINS_SCHEMA)
    ev = _columns(EVENTS_SCHEMA)
    en = _columns(ENTITIES_SCHEMA)
    ns = _columns(NAMESERVERS_SCHEMA)
    rd = _columns(REDACTIONS_SCHEMA)
    detailed: set[str] = set()

    for query, key in rows:
        result = results.get(key)
        if result is None:
            raise KeyError(f"build_frames: no NameResult for key {key!r}")
        norm = normalized[key]
        d["query"].append(None if query is None else str(query))
        rec = norm.record
        # An invalid value has no normalized name (its key is internal to the engine).
        d["domain"].append(None if result.error_kind == "invalid_query" else result.key)
        d["unicode_name"].append(
            rec.unicode_name if rec is not None and rec.unicode_name else result.unicode_name
        )
        d["outcome"].append(norm.outcome)
        d["error_kind"].append(norm.error_kind)
        d["error_detail"].append(norm.error_detail)
        d["tld"].append(result.tld)
        d["registry_url"].append(result.registry_url)
        d["registrar_url"].append(result.registrar_url)
        d["referral_status"].append(norm.referral_status)
        d["http_status"].append(result.http_status)
        d["attempts"].append(result.attempts)
        d["latency_ms"].append(result.latency_ms)
        d["from_cache"].append(result.from_cache)
        d["fetched_at"].append(result.fetched_at)
        if rec is None:
            for name in (
                "handle",
                "registrar",
                "registrar_iana_id",
                "registration_date",
                "expiration_date",
                "last_changed_date",
                "rdap_status",
                "nameservers",
                "dnssec",
            ):
                d[name].append(None)
            continue
        d["handle"].append(rec.handle)
        d["registrar"].append(rec.registrar)
        d["registrar_iana_id"].append(rec.registrar_iana_id)
        d["registration_date"].append(rec.registration_date)
        d["expiration_date"].append(rec.expiration_date)
        d["last_changed_date"].append(rec.last_changed_date)
        d["rdap_status"].append(rec.rdap_status)
        d["nameservers"].append(rec.nameservers)
        d["dnssec"].append(rec.dnssec)

        domain = result.key
        if domain in detailed:
            continue  # details once per distinct domain, not per duplicate input row
        detailed.add(domain)
        _append_details(domain, rec, ev, en, ns, rd)

    return Frames(
        domains=_frame(d, DOMAINS_SCHEMA),
        events=_frame(ev, EVENTS_SCHEMA),
        entities=_frame(en, ENTITIES_SCHEMA),
        nameservers=_frame(ns, NAMESERVERS_SCHEMA),
        redactions=_frame(rd, REDACTIONS_SCHEMA),
    )


def _append_details(
    domain: str,
    rec: DomainRecord,
    ev: dict[str, list[Any]],
    en: dict[str, list[Any]],
    ns: dict[str, list[Any]],
    rd: dict[str, list[Any]],
) -> None:
    for e in rec.events:
        ev["domain"].append(domain)
        ev["source"].append(e.source)
        ev["action"].append(e.action)
        ev["date"].append(e.date)
        ev["actor"].append(e.actor)
    for x in rec.entities:
        en["domain"].append(domain)
        en["source"].append(x.source)
        en["handle"].append(x.handle)
        en["role"].append(x.role)
        en["parent_handle"].append(x.parent_handle)
        en["name"].append(x.name)
        en["organization"].append(x.organization)
        en["email"].append(x.email)
        en["phone"].append(x.phone)
        en["country"].append(x.country)
        en["name_redacted"].append(x.name_redacted)
        en["organization_redacted"].append(x.organization_redacted)
        en["email_redacted"].append(x.email_redacted)
        en["phone_redacted"].append(x.phone_redacted)
        en["country_redacted"].append(x.country_redacted)
    for n in rec.nameserver_rows:
        ns["domain"].append(domain)
        ns["source"].append(n.source)
        ns["nameserver"].append(n.nameserver)
        ns["ipv4"].append(n.ipv4)
        ns["ipv6"].append(n.ipv6)
    for r in rec.redactions:
        rd["domain"].append(domain)
        rd["source"].append(r.source)
        rd["name"].append(r.name)
        rd["method"].append(r.method)
        rd["path"].append(r.path)
        rd["reason"].append(r.reason)
