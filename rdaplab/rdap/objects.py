"""Tolerant parsing of RDAP IP network, autnum, entity and nameserver answers.

Pure functions (no I/O, no frames). :func:`parse_network` and :func:`parse_autnum`
flatten one decoded answer (RFC 9083 §5.4 and §5.5) into a dict with exactly the object
columns of :data:`~rdaplab.schemas.NETWORKS_SCHEMA` / :data:`~rdaplab.schemas.AUTNUMS_SCHEMA`
(plus ``query``); :func:`parse_object` reads any of the four kinds into an
:class:`~rdaplab.rdap.records.ObjectRecord`. Dates, entities/jCards and status values go
through the readers the domain parser uses, so every object class is read the same
tolerant way. :mod:`rdaplab.frames.objects` builds the frames.

Tolerances, each needed by a real answer in ``datasets/responses``:

- zero-padded IPv4 addresses (ARIN ``074.125.000.000``), uppercase fully expanded IPv6
  (ARIN ``2001:4860:0000:...``), addresses with a ``/len`` suffix (RIPE ``62.239.237.0/32``)
  -- addresses are output in canonical compressed form;
- missing ``objectClassName`` (older RIPE captures) when the answer has the members of
  the class asked for (:func:`object_class_error`), entities without ``roles`` (AFRINIC);
- ``cidr0_cidrs`` (the cidr0 extension) used when present and valid, else the CIDRs are
  computed from the start and end addresses;
- ``startAutnum`` as a string, an ``AS``-prefixed string, or missing.

Nothing here raises on a decoded document of any shape (but :func:`parse_object` on one
that is no RDAP object, or an object of another class than asked for): unusable members
become ``None`` or empty lists.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from rdaplab.rdap.decode import (
    ParseError,
    as_list,
    as_text,
    parse_datetime,
    read_date,
    status_list,
)
from rdaplab.rdap.domain import read_nameservers
from rdaplab.rdap.entities import read_entities
from rdaplab.rdap.records import EventRow, LinkRow, ObjectRecord, RemarkRow
from rdaplab.rdap.redactions import NO_MARKS, read_redacted

__all__ = [
    "OBJECT_CLASSES",
    "RIRS",
    "object_class_error",
    "parse_autnum",
    "parse_network",
    "parse_object",
    "read_links",
    "read_remarks",
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

_CLASS_NAMES = {
    "ip": "ip network",
    "asn": "autnum",
    "entity": "entity",
    "nameserver": "nameserver",
}
# The objectClassName (RFC 9083 §5) a lookup of each query kind must answer with.
OBJECT_CLASSES = {"domain": "domain", **_CLASS_NAMES}

# Members only an object of the class has: an answer that omits objectClassName is taken
# for the class asked for when it has one of them (real: old RIPE IP network answers,
# datasets/responses/ripe/ip-62.239.237.1.json and ip-2a00_2381_ffff__1.json).
_CLASS_MEMBERS = {
    "ip": ("startAddress", "endAddress", "ipVersion", "cidr0_cidrs"),
    "asn": ("startAutnum", "endAutnum"),
    "entity": ("vcardArray", "jscontact_card", "jscard", "roles"),
    "nameserver": ("ipAddresses", "ldhName", "unicodeName"),
}
# Members of a domain answer: a nameserver answer has none of them.
_DOMAIN_MEMBERS = ("nameservers", "nameServers", "secureDNS", "secureDns", "variants")


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
    links = [ln for ln in as_list(doc.get("links")) if isinstance(ln, dict)]
    # the self link names the server that answered; other links may point elsewhere
    links.sort(key=lambda ln: ln.get("rel") != "self")
    for link in links:
        rir = rir_from_host(link.get("href"))
        if rir is not None:
            return rir
    return rir_from_host(service_url)


def _parse_address(value: object) -> _Addr | None:
    """A served start/end address, tolerating zero padding and a ``/len`` suffix."""
    text = as_text(value)
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
    for item in as_list(value):
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
    for ev in as_list(doc.get("events")):
        if not isinstance(ev, dict):
            continue
        action = as_text(ev.get("eventAction"))
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
    rows, _, _ = read_entities(doc.get("entities"), "registry", NO_MARKS)
    abuse = [r for r in rows if r.role == "abuse"]
    if not abuse:
        return None, None
    abuse.sort(key=lambda r: (r.parent_handle is not None, r.email is None))
    best = abuse[0]
    return best.email, best.handle


def _country(value: object) -> str | None:
    text = as_text(value)
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


def parse_network(
    doc: object, query: str | None = None, service_url: str | None = None
) -> dict[str, Any]:
    """Flatten one IP network answer into a :data:`~rdaplab.schemas.NETWORKS_SCHEMA` row.

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
        Exactly the keys of :data:`~rdaplab.schemas.NETWORKS_SCHEMA`, in order.
    """
    d = _as_doc(doc)
    start = _parse_address(d.get("startAddress"))
    end = _parse_address(d.get("endAddress"))
    version_text = as_text(d.get("ipVersion"))
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
        "handle": as_text(d.get("handle")),
        "start_address": str(start) if start is not None else None,
        "end_address": str(end) if end is not None else None,
        "cidrs": cidrs,
        "ip_version": version,
        "name": as_text(d.get("name")),
        "type": as_text(d.get("type")),
        "country": _country(d.get("country")),
        "parent_handle": as_text(d.get("parentHandle")),
        "rir": _rir(d, service_url),
        "registration_date": registration,
        "last_changed_date": last_changed,
        "abuse_email": abuse_email,
        "abuse_handle": abuse_handle,
        "rdap_status": status_list(d.get("status")),
    }


def parse_autnum(
    doc: object, query: str | None = None, service_url: str | None = None
) -> dict[str, Any]:
    """Flatten one autnum answer into an :data:`~rdaplab.schemas.AUTNUMS_SCHEMA` row.

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
        Exactly the keys of :data:`~rdaplab.schemas.AUTNUMS_SCHEMA`, in order.
    """
    d = _as_doc(doc)
    registration, last_changed = _dates(d)
    abuse_email, abuse_handle = _abuse(d)
    return {
        "query": query,
        "handle": as_text(d.get("handle")),
        "start_autnum": _autnum_number(d.get("startAutnum")),
        "end_autnum": _autnum_number(d.get("endAutnum")),
        "name": as_text(d.get("name")),
        "type": as_text(d.get("type")),
        "country": _country(d.get("country")),
        "rir": _rir(d, service_url),
        "registration_date": registration,
        "last_changed_date": last_changed,
        "abuse_email": abuse_email,
        "abuse_handle": abuse_handle,
        "rdap_status": status_list(d.get("status")),
    }


# --------------------------------------------------------------------------- objects


def object_class_error(
    kind: str, served: object, doc: Mapping[str, Any] | None = None
) -> str | None:
    """Why an answer is not an object of the class a ``kind`` lookup asks for, or None.

    Parameters
    ----------
    kind
        The query kind: ``domain``, ``ip``, ``asn``, ``entity`` or ``nameserver``.
    served
        The answer's ``objectClassName`` member as served (compared case-insensitively,
        spaces collapsed: ``"IP Network"`` is an ``ip network``).
    doc
        The answer, to tell from its members what a non-domain answer without
        ``objectClassName`` is (see ``_CLASS_MEMBERS``); None skips that check.

    Returns
    -------
    str or None
        E.g. ``"expected objectClassName 'ip network', got 'domain'"``. A domain answer
        without ``objectClassName`` stays tolerated, as it always was: RFC 9083 requires
        the member and every domain answer in ``datasets/responses`` carries it, so no
        real answer argues for turning that tolerance into an error.
    """
    expected = OBJECT_CLASSES.get(kind)
    if expected is None:
        return None
    text = as_text(served)
    if text is not None:
        if text == expected or " ".join(text.split()).casefold() == expected:
            return None
        return f"expected objectClassName {expected!r}, got {text!r}"
    if kind == "domain" or doc is None:
        return None
    members = _CLASS_MEMBERS[kind]
    if any(doc.get(m) is not None for m in members) and not (
        kind == "nameserver" and any(doc.get(m) is not None for m in _DOMAIN_MEMBERS)
    ):
        return None
    return (
        f"expected objectClassName {expected!r}, got none, and the answer has no member "
        f"of one ({', '.join(members)})"
    )


def _object_doc(kind: str, doc: object) -> Mapping[str, Any]:
    """The answer as a mapping, or ParseError when a 2xx body carries no RDAP object or
    an object of another class than ``kind`` asks for."""
    if not isinstance(doc, Mapping):
        raise ParseError(f"the answer is a JSON {type(doc).__name__}, not an object")
    markers = ("objectClassName", "handle", "ldhName", "unicodeName", "startAddress")
    if any(doc.get(m) for m in markers) or doc.get("startAutnum") is not None:
        reason = object_class_error(kind, doc.get("objectClassName"), doc)
        if reason is not None:
            raise ParseError(reason)
        return doc
    if doc.get("errorCode") is not None:
        raise ParseError(
            f"an RDAP error (errorCode {doc.get('errorCode')!r}) answered with a 2xx status"
        )
    raise ParseError(f"no RDAP {_CLASS_NAMES.get(kind, kind)} in the answer")


def _events(doc: Mapping[str, Any], source: str) -> list[EventRow]:
    out = []
    for ev in as_list(doc.get("events")):
        if isinstance(ev, dict):
            action = as_text(ev.get("eventAction"))
            date, text = read_date(ev.get("eventDate"))
            out.append(EventRow(source, action, date, as_text(ev.get("eventActor")), text))
    return out


def read_remarks(doc: Mapping[str, Any], source: str) -> list[RemarkRow]:
    out = []
    for item in as_list(doc.get("remarks")):
        if not isinstance(item, dict):
            continue
        lines = [t.rstrip() for t in as_list(item.get("description")) if isinstance(t, str)]
        text = "\n".join(lines).strip() or None
        out.append(RemarkRow(source, as_text(item.get("title")), as_text(item.get("type")), text))
    return out


def read_links(doc: Mapping[str, Any], source: str) -> list[LinkRow]:
    out = []
    for item in as_list(doc.get("links")):
        if not isinstance(item, dict):
            continue
        href = item.get("href")
        # Some servers put spaces in links (a real quirk): kept as text, stripped.
        out.append(
            LinkRow(
                source,
                as_text(item.get("rel")),
                href.strip() if isinstance(href, str) and href.strip() else None,
                as_text(item.get("type")),
                as_text(item.get("value")),
            )
        )
    return out


def parse_object(
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
        As for :func:`parse_network`.

    Returns
    -------
    ObjectRecord
        The object's row (ip/asn), events, entities (for an entity answer the entity
        itself first, with its nested entities under it), nameserver row (nameserver
        answers), RFC 9537 redactions, remarks and links.

    Raises
    ------
    ParseError
        When ``doc`` is not an RDAP object (not a mapping, ``{}``, an error body), or is
        an object of another class than ``kind`` asks for (:func:`object_class_error`).
    """
    d = _object_doc(kind, doc)
    rec = ObjectRecord(kind)
    if kind == "ip":
        rec.row = parse_network(d, query, service_url)
    elif kind == "asn":
        rec.row = parse_autnum(d, query, service_url)
    rec.events = _events(d, "registry")
    marks = NO_MARKS
    if "redacted" in d:
        rec.redactions, marks = read_redacted(d.get("redacted"), "registry")
    if kind == "entity":
        rec.entities, _, _ = read_entities([d], "registry", marks, self_entity=True)
    elif "entities" in d:
        rec.entities, _, _ = read_entities(d.get("entities"), "registry", marks)
    if kind == "nameserver":
        _, rec.nameserver_rows = read_nameservers([d], "registry")
    rec.remarks = read_remarks(d, "registry")
    rec.links = read_links(d, "registry")
    return rec
