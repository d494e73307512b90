"""Tolerant normalization of RDAP IP network and autnum answers into fixed-schema frames.

Pure functions (no I/O). :func:`normalize_network` and :func:`normalize_autnum` flatten
one decoded answer (RFC 9083 §5.4 and §5.5) into a dict with exactly the columns of
:data:`NETWORKS_SCHEMA` / :data:`AUTNUMS_SCHEMA`; :func:`networks_frame` and
:func:`autnums_frame` turn such dicts into Polars frames with exactly those schemas,
empty ones included. Dates, entities/jCards and status values go through the helpers of
:mod:`rdaplab.normalize`, so every object class is read the same tolerant way.

Tolerances, each needed by a real answer in ``datasets/responses``:

- zero-padded IPv4 addresses (ARIN ``074.125.000.000``), uppercase fully expanded IPv6
  (ARIN ``2001:4860:0000:...``), addresses with a ``/len`` suffix (RIPE ``62.239.237.0/32``)
  -- addresses are output in canonical compressed form;
- missing ``objectClassName`` (older RIPE captures), entities without ``roles`` (AFRINIC);
- ``cidr0_cidrs`` (the cidr0 extension) used when present and valid, else the CIDRs are
  computed from the start and end addresses;
- ``startAutnum`` as a string, an ``AS``-prefixed string, or missing.

Nothing here raises on a decoded document of any shape: unusable members become ``None``
or empty lists.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import polars as pl

from rdaplab.columns import build_frame
from rdaplab.frames.rows import outcome_row, result_key
from rdaplab.models import NameResult, Normalized, Response
from rdaplab.rdap.normalize import (
    EntityRow,
    EventRow,
    NameserverRow,
    ParseError,
    RedactionRow,
    _as_list,
    _entities,
    _nameservers,
    _redacted,
    _status_list,
    _text,
    decode_json,
    parse_datetime,
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
    "RIRS",
    "LinkRow",
    "ObjectRecord",
    "RemarkRow",
    "autnums_frame",
    "domain_remarks_and_links",
    "networks_frame",
    "normalize_autnum",
    "normalize_network",
    "normalize_object",
    "normalize_object_result",
    "object_frames",
    "rir_from_host",
]

RIRS = ("afrinic", "apnic", "arin", "lacnic", "ripe")

# Host suffixes of RDAP and whois servers -> RIR. National registries (NIRs) answer for
# address space their RIR delegated to them, so they map to that RIR.
_HOST_RIR: tuple[tuple[str, str], ...] = (
    ("arin.net", "arin"),
    ("ripe.net", "ripe"),
    ("apnic.net", "apnic"),
    ("lacnic.net", "lacnic"),
    ("afrinic.net", "afrinic"),
    ("registro.br", "lacnic"),  # NIC.br
    ("nic.br", "lacnic"),
    ("nic.mx", "lacnic"),  # NIC Mexico
    ("nic.ad.jp", "apnic"),  # JPNIC
    ("jpnic.net", "apnic"),
    ("nic.or.kr", "apnic"),  # KRNIC
    ("kisa.or.kr", "apnic"),
    ("twnic.net.tw", "apnic"),  # TWNIC
    ("twnic.tw", "apnic"),
    ("cnnic.cn", "apnic"),  # CNNIC
    ("cnnic.net.cn", "apnic"),
    ("idnic.net", "apnic"),  # IDNIC
    ("vnnic.vn", "apnic"),  # VNNIC
    ("irinn.in", "apnic"),  # IRINN
)

_Addr = ipaddress.IPv4Address | ipaddress.IPv6Address

# The object's own columns in each frame (around them: the query and the lookup's outcome,
# per input row); normalize_network/normalize_autnum return "query" plus these.
NETWORK_OBJECT_COLUMNS: tuple[str, ...] = tuple(NETWORKS_SCHEMA.names()[6:-5])
AUTNUM_OBJECT_COLUMNS: tuple[str, ...] = tuple(AUTNUMS_SCHEMA.names()[6:-5])
_OBJECT_COLUMNS = {"ip": NETWORK_OBJECT_COLUMNS, "asn": AUTNUM_OBJECT_COLUMNS}
_CLASS_NAMES = {
    "ip": "ip network",
    "asn": "autnum",
    "entity": "entity",
    "nameserver": "nameserver",
}


# --------------------------------------------------------------------------- helpers


def rir_from_host(host: object) -> str | None:
    """The RIR a server host name (RDAP or whois) belongs to, or None when unknown.

    Parameters
    ----------
    host
        ``"whois.arin.net"``, ``"rdap.db.ripe.net"``, ``"jpnic.rdap.apnic.net"``...;
        a full URL is accepted too.

    Returns
    -------
    str or None
        One of :data:`RIRS`.
    """
    if not isinstance(host, str):
        return None
    text = host.strip().lower()
    if "://" in text:
        try:
            text = urlsplit(text).hostname or ""
        except ValueError:
            return None
    text = text.rstrip(".")
    for suffix, rir in _HOST_RIR:
        if text == suffix or text.endswith("." + suffix):
            return rir
    return None


def _rir(doc: Mapping[str, Any], service_url: str | None) -> str | None:
    """RIR from what the answer says (port43, then its links), else the service asked."""
    rir = rir_from_host(doc.get("port43"))
    if rir is not None:
        return rir
    links = [ln for ln in _as_list(doc.get("links")) if isinstance(ln, dict)]
    # the self link names the server that answered; other links may point elsewhere
    links.sort(key=lambda ln: ln.get("rel") != "self")
    for link in links:
        rir = rir_from_host(link.get("href"))
        if rir is not None:
            return rir
    return rir_from_host(service_url)


def _parse_address(value: object) -> _Addr | None:
    """A served start/end address, tolerating zero padding and a ``/len`` suffix."""
    text = _text(value)
    if text is None or not isinstance(value, str):
        return None
    text = text.split("/", 1)[0].strip()
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    parts = text.split(".")
    if len(parts) == 4 and all(p.isdigit() and p.isascii() for p in parts):
        # ARIN once served "074.125.000.000": decimal with zero padding, not octal.
        try:
            return ipaddress.IPv4Address(".".join(str(int(p)) for p in parts))
        except ValueError:
            return None
    return None


def _cidr0(value: object, version: int | None) -> list[str]:
    """Prefixes listed in a ``cidr0_cidrs`` member (invalid items are skipped)."""
    out: list[str] = []
    for item in _as_list(value):
        if not isinstance(item, dict):
            continue
        prefix = item.get("v4prefix") if version != 6 else None
        if prefix is None:
            prefix = item.get("v6prefix") if version != 4 else None
        length = item.get("length")
        if isinstance(length, str) and length.strip().isdigit():
            length = int(length)
        if not isinstance(prefix, str) or not isinstance(length, int) or isinstance(length, bool):
            continue
        addr = _parse_address(prefix)
        if addr is None or not 0 <= length <= addr.max_prefixlen:
            continue
        text = str(ipaddress.ip_network((addr, length), strict=False))
        if text not in out:
            out.append(text)
    return out


def _range_cidrs(start: _Addr | None, end: _Addr | None) -> list[str]:
    """The minimal CIDR cover of start..end (empty for reversed or mixed ranges)."""
    if start is None or end is None or start.version != end.version or int(start) > int(end):
        return []
    return [str(n) for n in ipaddress.summarize_address_range(start, end)]


def _dates(doc: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """(registration, last changed) from ``events``; "last update" stands in for the latter."""
    registration = last_changed = last_update = None
    for ev in _as_list(doc.get("events")):
        if not isinstance(ev, dict):
            continue
        action = _text(ev.get("eventAction"))
        if action is None:
            continue
        key = action.lower()
        if key == "registration" and registration is None:
            registration = parse_datetime(ev.get("eventDate"))
        elif key == "last changed" and last_changed is None:
            last_changed = parse_datetime(ev.get("eventDate"))
        elif key == "last update" and last_update is None:
            last_update = parse_datetime(ev.get("eventDate"))
    return registration, last_changed or last_update


def _abuse(doc: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(email, handle) of the abuse contact.

    Entities listed on the object itself win over ones nested in another entity (ARIN
    nests the organization's abuse POC inside the registrant); among those, the first
    abuse entity with an email wins, else the first abuse entity.
    """
    if "entities" not in doc:
        return None, None
    rows, _, _ = _entities(doc.get("entities"), "registry", frozenset())
    abuse = [r for r in rows if r.role == "abuse"]
    if not abuse:
        return None, None
    abuse.sort(key=lambda r: (r.parent_handle is not None, r.email is None))
    best = abuse[0]
    return best.email, best.handle


def _country(value: object) -> str | None:
    text = _text(value)
    return text.upper() if text is not None and len(text) == 2 else text


def _autnum_number(value: object) -> int | None:
    """An AS number served as an int, a digit string or ``AS``-prefixed string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        text = value.strip()
        if text[:2].upper() == "AS":
            text = text[2:]
        if not (text.isdigit() and text.isascii() and len(text) <= 12):
            return None
        value = int(text)
    if isinstance(value, int) and 0 <= value <= 4_294_967_295:
        return value
    return None


def _as_doc(doc: object) -> Mapping[str, Any]:
    return doc if isinstance(doc, Mapping) else {}


# --------------------------------------------------------------------------- objects


def normalize_network(
    doc: object, query: str | None = None, service_url: str | None = None
) -> dict[str, Any]:
    """Flatten one IP network answer into a :data:`NETWORKS_SCHEMA` row.

    Parameters
    ----------
    doc
        The decoded answer; anything that is not a mapping yields a row of nulls.
    query
        The normalized query (``Query.query``), copied into the ``query`` column.
    service_url
        The base URL the query was sent to; used for ``rir`` only when the answer names
        no known RIR host in ``port43`` or its links.

    Returns
    -------
    dict
        Exactly the keys of :data:`NETWORKS_SCHEMA`, in order.
    """
    d = _as_doc(doc)
    start = _parse_address(d.get("startAddress"))
    end = _parse_address(d.get("endAddress"))
    version_text = _text(d.get("ipVersion"))
    version: int | None = None
    if version_text is not None and version_text.lower() in ("v4", "v6", "4", "6"):
        version = int(version_text[-1])
    elif start is not None:
        version = start.version
    cidrs = _cidr0(d.get("cidr0_cidrs"), version) if "cidr0_cidrs" in d else []
    if not cidrs:
        cidrs = _range_cidrs(start, end)
    registration, last_changed = _dates(d)
    abuse_email, abuse_handle = _abuse(d)
    return {
        "query": query,
        "handle": _text(d.get("handle")),
        "start_address": str(start) if start is not None else None,
        "end_address": str(end) if end is not None else None,
        "cidrs": cidrs,
        "ip_version": version,
        "name": _text(d.get("name")),
        "type": _text(d.get("type")),
        "country": _country(d.get("country")),
        "parent_handle": _text(d.get("parentHandle")),
        "rir": _rir(d, service_url),
        "registration_date": registration,
        "last_changed_date": last_changed,
        "abuse_email": abuse_email,
        "abuse_handle": abuse_handle,
        "rdap_status": _status_list(d.get("status")),
    }


def normalize_autnum(
    doc: object, query: str | None = None, service_url: str | None = None
) -> dict[str, Any]:
    """Flatten one autnum answer into an :data:`AUTNUMS_SCHEMA` row.

    Parameters
    ----------
    doc
        The decoded answer; anything that is not a mapping yields a row of nulls.
    query
        The normalized query (``Query.query``, the AS number as text).
    service_url
        The base URL the query was sent to (fallback for ``rir``).

    Returns
    -------
    dict
        Exactly the keys of :data:`AUTNUMS_SCHEMA`, in order.
    """
    d = _as_doc(doc)
    registration, last_changed = _dates(d)
    abuse_email, abuse_handle = _abuse(d)
    return {
        "query": query,
        "handle": _text(d.get("handle")),
        "start_autnum": _autnum_number(d.get("startAutnum")),
        "end_autnum": _autnum_number(d.get("endAutnum")),
        "name": _text(d.get("name")),
        "type": _text(d.get("type")),
        "country": _country(d.get("country")),
        "rir": _rir(d, service_url),
        "registration_date": registration,
        "last_changed_date": last_changed,
        "abuse_email": abuse_email,
        "abuse_handle": abuse_handle,
        "rdap_status": _status_list(d.get("status")),
    }


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
    """A frame with exactly :data:`NETWORKS_SCHEMA` from :func:`normalize_network` rows.

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
    """A frame with exactly :data:`AUTNUMS_SCHEMA` from :func:`normalize_autnum` rows.

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


# --------------------------------------------------------------------------- records


@dataclass(slots=True)
class RemarkRow:
    """One ``remarks`` item of an object (RFC 9083 §4.3)."""

    source: str
    title: str | None
    type: str | None
    description: str | None  # the description lines, joined with newlines


@dataclass(slots=True)
class LinkRow:
    """One ``links`` item of an object (RFC 9083 §4.2)."""

    source: str
    rel: str | None
    href: str | None
    type: str | None
    value: str | None


@dataclass(slots=True)
class ObjectRecord:
    """The flat view of one IP network, autnum, entity or nameserver answer.

    ``row`` is the :data:`NETWORKS_SCHEMA` / :data:`AUTNUMS_SCHEMA` object columns for
    ``ip`` / ``asn`` answers, ``None`` for the other kinds (an entity answer is its own
    first ``entities`` row, a nameserver answer its ``nameserver_rows`` row).
    """

    kind: str
    row: dict[str, Any] | None = None
    events: list[EventRow] = field(default_factory=list)
    entities: list[EntityRow] = field(default_factory=list)
    nameserver_rows: list[NameserverRow] = field(default_factory=list)
    redactions: list[RedactionRow] = field(default_factory=list)
    remarks: list[RemarkRow] = field(default_factory=list)
    links: list[LinkRow] = field(default_factory=list)


def _check_object(kind: str, doc: object) -> Mapping[str, Any]:
    """The answer as a mapping, or ParseError when a 2xx body carries no RDAP object."""
    if not isinstance(doc, Mapping):
        raise ParseError(f"the answer is a JSON {type(doc).__name__}, not an object")
    markers = ("objectClassName", "handle", "ldhName", "unicodeName", "startAddress")
    if any(doc.get(m) for m in markers) or doc.get("startAutnum") is not None:
        return doc
    if doc.get("errorCode") is not None:
        raise ParseError(
            f"an RDAP error (errorCode {doc.get('errorCode')!r}) answered with a 2xx status"
        )
    raise ParseError(f"no RDAP {_CLASS_NAMES.get(kind, kind)} in the answer")


def _events(doc: Mapping[str, Any], source: str) -> list[EventRow]:
    out = []
    for ev in _as_list(doc.get("events")):
        if isinstance(ev, dict):
            action = _text(ev.get("eventAction"))
            out.append(
                EventRow(
                    source, action, parse_datetime(ev.get("eventDate")), _text(ev.get("eventActor"))
                )
            )
    return out


def _remarks(doc: Mapping[str, Any], source: str) -> list[RemarkRow]:
    out = []
    for item in _as_list(doc.get("remarks")):
        if not isinstance(item, dict):
            continue
        lines = [t.rstrip() for t in _as_list(item.get("description")) if isinstance(t, str)]
        text = "\n".join(lines).strip() or None
        out.append(RemarkRow(source, _text(item.get("title")), _text(item.get("type")), text))
    return out


def _links(doc: Mapping[str, Any], source: str) -> list[LinkRow]:
    out = []
    for item in _as_list(doc.get("links")):
        if not isinstance(item, dict):
            continue
        href = item.get("href")
        # Some servers put spaces in links (a real quirk): kept as text, stripped.
        out.append(
            LinkRow(
                source,
                _text(item.get("rel")),
                href.strip() if isinstance(href, str) and href.strip() else None,
                _text(item.get("type")),
                _text(item.get("value")),
            )
        )
    return out


def normalize_object(
    kind: str, doc: object, query: str | None = None, service_url: str | None = None
) -> ObjectRecord:
    """Flatten one ``ip``, ``asn``, ``entity`` or ``nameserver`` answer.

    Parameters
    ----------
    kind
        The query kind the answer is for.
    doc
        The decoded answer.
    query, service_url
        As for :func:`normalize_network`.

    Returns
    -------
    ObjectRecord
        The object's row (ip/asn), events, entities (for an entity answer the entity
        itself first, with its nested entities under it), nameserver row (nameserver
        answers), RFC 9537 redactions, remarks and links.

    Raises
    ------
    ParseError
        When ``doc`` is not an RDAP object (not a mapping, ``{}``, an error body).
    """
    d = _check_object(kind, doc)
    rec = ObjectRecord(kind)
    if kind == "ip":
        rec.row = normalize_network(d, query, service_url)
    elif kind == "asn":
        rec.row = normalize_autnum(d, query, service_url)
    rec.events = _events(d, "registry")
    marks: frozenset[tuple[str, str]] = frozenset()
    if "redacted" in d:
        rec.redactions, marks = _redacted(d.get("redacted"), "registry")
    if kind == "entity":
        rec.entities, _, _ = _entities([d], "registry", marks)
    elif "entities" in d:
        rec.entities, _, _ = _entities(d.get("entities"), "registry", marks)
    if kind == "nameserver":
        _, rec.nameserver_rows = _nameservers([d], "registry")
    rec.remarks = _remarks(d, "registry")
    rec.links = _links(d, "registry")
    return rec


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
        record = normalize_object(result.query_kind, doc, result_key(result), result.registry_url)
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
            rm += [("domain", domain, x) for x in _remarks(doc, source)]
            ln += [("domain", domain, x) for x in _links(doc, source)]
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
