"""Tolerant parsing of RDAP (RFC 9083) domain answers into :class:`DomainRecord`.

Pure functions only (no I/O, no asyncio). Real servers bend the RFC in many small ways;
each tolerance exists because a response in ``datasets/responses`` needs it (dates and
values: :mod:`rdaplab.rdap.decode`; contact cards: :mod:`rdaplab.rdap.jcard`; entities:
:mod:`rdaplab.rdap.entities`; redactions: :mod:`rdaplab.rdap.redactions`). Here:

- ``ldhName`` with a trailing dot (Com Laude, ZDNS, Nominet nameservers);
- ``secureDns`` instead of ``secureDNS`` (AFNIC);
- ``nameServers`` instead of ``nameservers`` (legacy RIR reverse-DNS domain objects), read
  when ``nameservers`` is absent or null;
- "last update" standing in for "last changed" (MarkMonitor);
- the registrar's IANA id at the domain level (Namecheap).

Anything unusable becomes ``None`` or an empty list; nothing here raises on a decoded
document. :func:`rdaplab.rdap.fast.parse_body` is the fast path for raw bodies; the
member readers below are shared with it, so both give the same record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rdaplab.rdap.decode import (
    as_list,
    as_text,
    dns_name,
    get_ci,
    read_date,
    related_links,
    status_list,
)
from rdaplab.rdap.entities import domain_level_iana, read_entities
from rdaplab.rdap.records import DomainRecord, EventRow, NameserverRow
from rdaplab.rdap.redactions import NO_MARKS, read_redacted

__all__ = [
    "dnssec_value",
    "merge_records",
    "parse_domain",
    "parse_domain_doc",
    "read_nameservers",
]

# --------------------------------------------------------------------------- members
# One function per member, shared by the tolerant and the typed path (which memoizes them
# by the member's raw JSON), so both paths compute the same rows by construction.


def dnssec_value(sd: object) -> bool | None:
    if not isinstance(sd, dict):
        return None
    signed = sd.get("delegationSigned")
    if isinstance(signed, bool):
        return signed
    if isinstance(signed, str) and signed.strip().lower() in ("true", "false"):
        return signed.strip().lower() == "true"
    if sd.get("dsData") or sd.get("keyData"):
        return True
    return None


def _dnssec(doc: Mapping[str, Any]) -> bool | None:
    sd = doc.get("secureDNS")
    if sd is None:
        sd = get_ci(doc, "secureDNS")  # AFNIC serves "secureDns"
    return dnssec_value(sd)


def _addresses(value: object) -> list[str]:
    return [a.strip() for a in as_list(value) if isinstance(a, str) and a.strip()]


def read_nameservers(value: object, source: str) -> tuple[list[str], list[NameserverRow]]:
    """(distinct names, one row per distinct name) of a ``nameservers`` member."""
    names: list[str] = []
    rows: list[NameserverRow] = []
    for ns in as_list(value):
        if not isinstance(ns, dict):
            continue
        name = dns_name(ns.get("ldhName")) or dns_name(ns.get("unicodeName"))
        if name is None or name in names:
            continue
        names.append(name)
        ips = ns.get("ipAddresses")
        if isinstance(ips, dict):
            row = NameserverRow(source, name, _addresses(ips.get("v4")), _addresses(ips.get("v6")))
        else:
            row = NameserverRow(source, name)
        rows.append(row)
    return names, rows


# --------------------------------------------------------------------------- documents


def parse_domain_doc(doc: Mapping[str, Any], source: str) -> DomainRecord:
    """Everything one answer says, before the registry/registrar merge (tolerant path)."""
    rec = DomainRecord()
    get = doc.get
    rec.object_class = as_text(get("objectClassName"))
    rec.handle = as_text(get("handle"))
    rec.ldh_name = dns_name(get("ldhName"))
    rec.unicode_name = dns_name(get("unicodeName"))

    last_update = None
    for ev in as_list(get("events")):
        if not isinstance(ev, dict):
            continue
        action = as_text(ev.get("eventAction"))
        date, text = read_date(ev.get("eventDate"))
        rec.events.append(EventRow(source, action, date, as_text(ev.get("eventActor")), text))
        if action is None or date is None:
            continue
        key = action.lower()
        if key == "registration":
            if rec.registration_date is None:
                rec.registration_date = date
        elif key == "expiration":
            if rec.expiration_date is None:
                rec.expiration_date = date
        elif key == "last changed":
            if rec.last_changed_date is None:
                rec.last_changed_date = date
        elif key == "last update" and last_update is None:
            last_update = date  # MarkMonitor's name for "last changed"
    if rec.last_changed_date is None:
        rec.last_changed_date = last_update

    rec.rdap_status = status_list(get("status"))
    ns = get("nameservers")
    if ns is None:
        ns = get("nameServers")  # the legacy spelling; the fast path reads the same two
    rec.nameservers, rec.nameserver_rows = read_nameservers(ns, source)
    rec.dnssec = _dnssec(doc)
    marks = NO_MARKS
    if "redacted" in doc:
        rec.redactions, marks = read_redacted(get("redacted"), source)
    if "entities" in doc:
        rec.entities, rec.registrar, iana = read_entities(get("entities"), source, marks)
        if iana is None and rec.registrar:
            iana = domain_level_iana(get("publicIds"), rec.registrar)
        rec.registrar_iana_id = iana
    links = related_links(doc) if "links" in doc else []
    rec.registrar_url = links[0] if links else None
    notices = get("notices")
    rec.notices_count = len(notices) if isinstance(notices, list) else 0
    remarks = get("remarks")
    rec.remarks_count = len(remarks) if isinstance(remarks, list) else 0
    return rec


def merge_records(reg: DomainRecord | None, rar: DomainRecord | None) -> DomainRecord:
    """Merge a registry record with its registrar record (see :func:`parse_domain`).

    ``reg`` is updated in place and returned; missing records yield the other one, or an
    empty record. ``registrar_registration_date`` is set from ``rar`` (when given).
    """
    if reg is None:
        if rar is None:
            return DomainRecord()
        rar.registrar_registration_date = rar.registration_date
        return rar
    if rar is None:
        return reg
    # the registrar's own date, kept whichever answer registration_date comes from
    reg.registrar_registration_date = rar.registration_date
    for name in (
        "object_class",
        "handle",
        "ldh_name",
        "unicode_name",
        "registrar",
        "registrar_iana_id",
        "registration_date",  # the registrar's only when the registry serves none
        "expiration_date",
        "last_changed_date",
        "dnssec",
    ):
        if getattr(reg, name) is None:
            setattr(reg, name, getattr(rar, name))
    if not reg.rdap_status:
        reg.rdap_status = rar.rdap_status
    if not reg.nameservers:
        reg.nameservers = rar.nameservers
    reg.events.extend(rar.events)
    reg.entities.extend(rar.entities)
    reg.nameserver_rows.extend(rar.nameserver_rows)
    reg.redactions.extend(rar.redactions)
    reg.notices_count += rar.notices_count
    reg.remarks_count += rar.remarks_count
    return reg


def parse_domain(
    registry_doc: Mapping[str, Any] | None, registrar_doc: Mapping[str, Any] | None = None
) -> DomainRecord:
    """Flatten a domain answer, merging the registrar's referral answer if given.

    Merge rule (thin registries such as .com/.net): the registry answer is authoritative
    for every field it carries (handle, names, dates, status, nameservers, DNSSEC,
    registrar); the registrar answer only fills fields the registry lacks. The two often
    disagree on the registration time (google.com: Verisign 04:00Z, MarkMonitor 07:00Z):
    ``registrar_registration_date`` keeps the registrar's own value (None without a
    registrar answer or without a readable registration event in it). Events,
    entities, nameserver rows and redactions from both answers are kept, tagged with
    ``source`` ``"registry"`` or ``"registrar"``.

    Parameters
    ----------
    registry_doc
        Decoded depth-0 answer (any object class; non-mappings are ignored).
    registrar_doc
        Decoded registrar answer, if a referral was followed.

    Returns
    -------
    DomainRecord
        Never raises on decoded JSON; missing data are None or empty lists.
    """
    reg = parse_domain_doc(registry_doc, "registry") if isinstance(registry_doc, Mapping) else None
    rar = (
        parse_domain_doc(registrar_doc, "registrar") if isinstance(registrar_doc, Mapping) else None
    )
    return merge_records(reg, rar)
