"""Entities of an RDAP answer: one row per (entity, role), nested ones included.

Pure functions only. Tolerates capitalised roles (Namecheap), entities without roles
(AFRINIC), registrar abuse contacts nested inside the registrar entity, ICANN "REDACTED
FOR PRIVACY" remarks and placeholders; contact cards are read by :mod:`rdaplab.rdap.jcard`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any, cast

from rdaplab.rdap.decode import as_list, as_text
from rdaplab.rdap.jcard import jscontact_card, read_jscard, read_vcard
from rdaplab.rdap.records import EntityRow
from rdaplab.rdap.redactions import PLACEHOLDER_FIRST, Marks, is_placeholder, resolve_marks

__all__ = ["domain_level_iana", "read_entities"]

_MAX_ENTITY_DEPTH = 4  # registrar -> abuse is 2; deeper nesting is pathological

# Privacy/proxy services: registrars' services that publish their own contact data in
# place of the registrant's. Matched (case-insensitively, anywhere) in an entity's fn or
# org. Seen in datasets/responses: Namecheap's "WhoisGuard, Inc." (fn "WhoisGuard
# Protected", namecheap/bitcoin.org.json) and "Privacy service provided by Withheld for
# Privacy ehf" (namecheap/deep.surf.json). The others are the services of large registrars
# as they name themselves in registration data. Redaction wording ("REDACTED FOR
# PRIVACY", "Data Protected", "Withheld for Privacy Purposes": see is_placeholder) is
# deliberately absent: it says a value was withheld, not who stands in for the
# registrant -- those are the *read_redacted flags.
_PROXY_PATTERNS = (
    r"domains\s*by\s*proxy",  # GoDaddy: "Domains By Proxy, LLC"
    r"withheld\s*for\s*privacy\s*ehf",  # Namecheap (corpus)
    r"privacy\s+service\s+provided\s+by",  # Namecheap's org wording (corpus)
    r"whois\s*guard",  # Namecheap, earlier (corpus)
    r"contact\s*privacy\s*inc",  # Tucows / Hover: "Contact Privacy Inc. Customer 123"
    r"privacy\s*guardian",  # NameSilo: "PrivacyGuardian.org llc"
    r"perfect\s*privacy",  # Network Solutions / Web.com: "Perfect Privacy, LLC"
    r"super\s*privacy\s*service",  # Dynadot: "Super Privacy Service LTD c/o Dynadot"
    r"whois\s*privacy\s*(?:protection|service|corp)",  # Enom, Internet.bs
    r"identity\s*protect(?:ion)?\s*(?:service|limited|ltd)",  # 123-reg / Fasthosts
    r"private\s*by\s*design",  # Porkbun: "Private by Design, LLC"
    r"domain\s*protection\s*services",  # Name.com: "Domain Protection Services, Inc."
    r"whois\s*proxy",  # Key-Systems: "c/o whoisproxy.com"
    r"privacy\s*protect(?:ion)?\s*(?:\.org|org|service)",  # PrivacyProtect.org
    # generic self-descriptions of such services
    r"\bprivacy\s*(?:/|&|and)?\s*proxy\b",
    r"\bproxy\s*(?:service|protection)",
    r"\b(?:domain|whois|registrant)\s*privacy\s*(?:service|protection)",
)
_PROXY_RE = re.compile("|".join(_PROXY_PATTERNS), re.IGNORECASE)
# Roles a privacy/proxy service stands in for: the registrant, and the domain contacts
# that the same services fill with their own data (Namecheap does for all three).
# Registrar, reseller and abuse entities are the provider's own business data.
_PROXY_ROLES = frozenset({"registrant", "administrative", "technical", "billing"})


def _is_privacy_proxy(name: str | None, org: str | None) -> bool:
    """Whether an entity's fn or org names a privacy/proxy service (see _PROXY_PATTERNS)."""
    for text in (org, name):
        if text is None:
            continue
        # every pattern contains one of these words: most names are rejected without the
        # regex (its alternation is tried at each position, ~1.5 µs a string)
        low = text.lower()
        if ("priva" in low or "prox" in low or "whois" in low or "protect" in low) and (
            _PROXY_RE.search(text) is not None
        ):
            return True
    return False


def _remark_flags(entity: Mapping[str, Any]) -> tuple[bool, bool]:
    """(absent fields are redacted, email is redacted) from ICANN-style remarks/status."""
    absent = email = False
    for status in as_list(entity.get("status")):
        if isinstance(status, str) and status.strip().lower() == "removed":
            absent = True
    for remark in as_list(entity.get("remarks")):
        if not isinstance(remark, dict):
            continue
        title = remark.get("title")
        if isinstance(title, str):
            t = title.strip().casefold()
            if t.startswith("redacted for privacy"):
                absent = True
            elif t.startswith("email redacted"):
                email = True
        rtype = remark.get("type")
        if isinstance(rtype, str) and "redacted due to" in rtype.casefold():
            absent = True
    return absent, email


def _walk_entities(
    entities: object,
    source: str,
    marks: AbstractSet[tuple[str, str]],
    out: list[EntityRow],
    registrars: list[tuple[int, dict[str, Any], str | None]],
    parent: str | None = None,
    depth: int = 0,
    flags: dict[int, set[str]] | None = None,
) -> None:
    """Append one row per (entity, role), depth first; collect registrar entities.

    ``marks`` are (role, field) pairs flagged for every entity with that role; ``flags``
    the fields flagged per entity (by ``id``), from RFC 9537 paths that select it.
    """
    for ent in as_list(entities):
        if not isinstance(ent, dict):
            continue
        handle = as_text(ent.get("handle"))
        vcard = ent.get("vcardArray")
        if vcard is None and ("jscontact_card" in ent or "jscard" in ent or "contact" in ent):
            # no jCard: the JSContact card, when there is one (the jCard wins otherwise)
            name, org, email, phone, country, kind, address = read_jscard(jscontact_card(ent))
        else:
            name, org, email, phone, country, kind, address = read_vcard(vcard)
        absent = email_flag = False
        if "remarks" in ent or "status" in ent:
            absent, email_flag = _remark_flags(ent)
        # placeholder value, or value missing from an entity marked as redacted
        fn_r = is_placeholder(name) if name is not None else absent
        org_r = is_placeholder(org) if org is not None else absent
        email_r = email_flag or (is_placeholder(email) if email is not None else absent)
        tel_r = is_placeholder(phone) if phone is not None else absent
        cc_r = is_placeholder(country) if country is not None else absent
        # an address is redacted when any of its lines is a placeholder (a redacted street
        # next to a served city is still a redacted address)
        if address is None:
            adr_r = absent
        else:
            adr_r = False
            for line in address.split("\n"):  # is_placeholder's cheap reject inlined
                if line[:1] in PLACEHOLDER_FIRST and is_placeholder(line):
                    adr_r = True
                    break
        proxy = _is_privacy_proxy(name, org)
        roles: list[str | None] = [
            r.strip().lower() for r in as_list(ent.get("roles")) if isinstance(r, str)
        ]
        own = flags.get(id(ent)) if flags else None
        if own:  # fields an RFC 9537 path flags on this very entity, whatever its role
            fn_r = fn_r or "name" in own
            org_r = org_r or "organization" in own
            email_r = email_r or "email" in own
            tel_r = tel_r or "phone" in own
            cc_r = cc_r or "country" in own
            adr_r = adr_r or "address" in own
        for role in roles or [None]:
            if marks and role is not None:
                out.append(
                    EntityRow(
                        source, handle, role, parent, name, org, email, phone, country,
                        fn_r or (role, "name") in marks,
                        org_r or (role, "organization") in marks,
                        email_r or (role, "email") in marks,
                        tel_r or (role, "phone") in marks,
                        cc_r or (role, "country") in marks,
                        kind,
                        address,
                        adr_r or (role, "address") in marks,
                        proxy and role in _PROXY_ROLES,
                    )
                )  # fmt: skip
            else:
                out.append(
                    EntityRow(
                        source, handle, role, parent, name, org, email, phone, country,
                        fn_r, org_r, email_r, tel_r, cc_r, kind, address, adr_r,
                        proxy and role in _PROXY_ROLES,
                    )
                )  # fmt: skip
            if role == "registrar":
                registrars.append((depth, ent, name or org))
        if depth < _MAX_ENTITY_DEPTH and "entities" in ent:
            _walk_entities(
                ent["entities"], source, marks, out, registrars, handle, depth + 1, flags
            )


def _registrar_entity(
    registrars: list[tuple[int, dict[str, Any], str | None]],
) -> tuple[str | None, str | None]:
    """(name, IANA id from its own publicIds) of the shallowest entity with role registrar."""
    if not registrars:
        return None, None
    _, ent, name = min(registrars, key=lambda r: r[0])
    iana = None
    for pid in as_list(ent.get("publicIds")):
        if isinstance(pid, dict):
            ptype = pid.get("type")
            if isinstance(ptype, str) and "iana" in ptype.lower():
                iana = as_text(pid.get("identifier"))
                if iana:
                    break
    return name, iana


def domain_level_iana(public_ids: object, name: str) -> str | None:
    """Namecheap puts ``{"type": "<registrar name>", "identifier": "<IANA id>"}`` at the
    domain level instead of on the registrar entity."""
    folded = name.casefold()
    for pid in as_list(public_ids):
        if isinstance(pid, dict):
            ptype = pid.get("type")
            if isinstance(ptype, str) and ptype.strip().casefold() == folded:
                return as_text(pid.get("identifier"))
    return None


def read_entities(
    value: object, source: str, marks: Marks, *, self_entity: bool = False
) -> tuple[list[EntityRow], str | None, str | None]:
    """(rows, registrar name, registrar IANA id from the entity) of an ``entities`` member.

    ``marks`` come from the answer's ``redacted`` member (:func:`read_redacted`); their
    JSONPaths are evaluated against ``{"entities": value}`` -- every path into the
    entities selects there what it selects in the whole answer -- or, when
    ``self_entity`` (an entity answer: ``value`` is ``[answer]``), against the answer.
    """
    rows: list[EntityRow] = []
    registrars: list[tuple[int, dict[str, Any], str | None]] = []
    # without a PathMark, every mark is a (role, field) pair
    role_marks = cast("frozenset[tuple[str, str]]", marks)
    flags: dict[int, set[str]] | None = None
    if marks and any(m.__class__ is not tuple for m in marks):
        if self_entity:
            items = as_list(value)
            root: Any = items[0] if items else None
        else:
            root = {"entities": as_list(value)}
        role_marks, flags = resolve_marks(marks, root, self_entity)
    _walk_entities(value, source, role_marks, rows, registrars, flags=flags)
    name, iana = _registrar_entity(registrars)
    return rows, name, iana
