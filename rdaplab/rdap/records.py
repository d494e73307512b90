"""The flat records RDAP answers are parsed into (plain dataclasses, no behaviour).

:class:`DomainRecord` and its rows come from :mod:`rdaplab.rdap.domain` (tolerant) and
:mod:`rdaplab.rdap.fast` (typed); :class:`ObjectRecord` and its rows from
:mod:`rdaplab.rdap.objects`. The frames turn them into columns field by field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "DomainRecord",
    "EntityRow",
    "EventRow",
    "LinkRow",
    "NameserverRow",
    "ObjectRecord",
    "RedactionRow",
    "RemarkRow",
]


@dataclass(slots=True)
class EventRow:
    """One domain-level event (nested entity/nameserver events are not flattened)."""

    source: str  # "registry" | "registrar"
    action: str | None  # as served, stripped (e.g. "last update of RDAP database")
    date: datetime | None  # UTC; None when missing or unparseable
    actor: str | None
    # the eventDate as served (stripped; a non-string value as JSON) when it is there but
    # ``date`` could not be read from it, else None: an unreadable date is never lost
    date_text: str | None = None


@dataclass(slots=True)
class EntityRow:
    """One (entity, role) pair; nested entities carry their parent's handle."""

    source: str
    handle: str | None
    role: str | None  # lowercased; None when the entity lists no role
    parent_handle: str | None
    name: str | None
    organization: str | None
    email: str | None
    phone: str | None
    country: str | None
    name_redacted: bool = False
    organization_redacted: bool = False
    email_redacted: bool = False
    phone_redacted: bool = False
    country_redacted: bool = False
    # jCard/JSContact ``kind`` lowercased ("individual", "org", "group", "location", or
    # whatever the server sent); new fields go last, with a default, so positional
    # constructions written before them still hold
    kind: str | None = None
    # postal address, one line per non-empty part, joined by "\n" (see _adr_text)
    address: str | None = None
    address_redacted: bool = False
    # the entity is a privacy/proxy service standing in for the registrant (see _PROXY_RE);
    # only ever True on domain contact rows (_PROXY_ROLES)
    privacy_proxy: bool = False


@dataclass(slots=True)
class NameserverRow:
    """One distinct nameserver of the domain, with its glue addresses if served."""

    source: str
    nameserver: str  # lowercase, no trailing dot
    ipv4: list[str] = field(default_factory=list)
    ipv6: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RedactionRow:
    """One RFC 9537 ``redacted`` member."""

    source: str
    name: str | None  # name.type, else name.description
    method: str | None  # removal | emptyValue | partialValue | replacementValue
    path: str | None  # prePath, else postPath, else replacementPath
    reason: str | None  # reason.description, else reason.type


@dataclass(slots=True)
class DomainRecord:
    """The flat view of one domain answer (registry answer merged with the registrar's)."""

    object_class: str | None = None
    handle: str | None = None
    ldh_name: str | None = None  # lowercase, no trailing dot
    unicode_name: str | None = None
    registrar: str | None = None
    registrar_iana_id: str | None = None
    registrar_url: str | None = None  # first rel="related" RDAP link of the registry answer
    # the registry's (depth-0 answer's) date; the registrar's when the registry serves none
    registration_date: datetime | None = None
    # the registrar's (referral answer's) own date; set by merge_records, None without one
    registrar_registration_date: datetime | None = None
    expiration_date: datetime | None = None
    last_changed_date: datetime | None = None
    rdap_status: list[str] = field(default_factory=list)
    nameservers: list[str] = field(default_factory=list)
    dnssec: bool | None = None
    events: list[EventRow] = field(default_factory=list)
    entities: list[EntityRow] = field(default_factory=list)
    nameserver_rows: list[NameserverRow] = field(default_factory=list)
    redactions: list[RedactionRow] = field(default_factory=list)
    notices_count: int = 0
    remarks_count: int = 0


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

    ``row`` is the :data:`~rdaplab.schemas.NETWORKS_SCHEMA` /
    :data:`~rdaplab.schemas.AUTNUMS_SCHEMA` object columns for ``ip`` / ``asn`` answers,
    ``None`` for the other kinds (an entity answer is its own first ``entities`` row, a
    nameserver answer its ``nameserver_rows`` row).
    """

    kind: str
    row: dict[str, Any] | None = None
    events: list[EventRow] = field(default_factory=list)
    entities: list[EntityRow] = field(default_factory=list)
    nameserver_rows: list[NameserverRow] = field(default_factory=list)
    redactions: list[RedactionRow] = field(default_factory=list)
    remarks: list[RemarkRow] = field(default_factory=list)
    links: list[LinkRow] = field(default_factory=list)
