"""Personal data in raw RDAP answers: who is an individual, and what to strip.

Pure functions on decoded documents and bodies (no I/O, no frames): the frames' redaction
(:mod:`rdaplab.frames.redact`) and the store's ``has_pii`` column both decide with
:func:`is_individual`; ``privacy="strict"`` strips bodies with :func:`strip_pii_from_body`
before they are cached. Who is an individual, and exactly what is blanked, is documented
in ``docs/privacy.md``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

import msgspec

from rdaplab.models import NameResult
from rdaplab.rdap.jcard import (
    JSCONTACT_MEMBERS,
    entity_kind,
    has_card,
    jscontact_card,
    vcard_properties,
    vcard_text,
)

__all__ = [
    "ORG_KINDS",
    "ORG_NAME_PATTERN",
    "ORG_ROLES",
    "PERSONAL_VCARD_PROPERTIES",
    "body_has_pii",
    "entity_kinds",
    "is_individual",
    "kinds_from_results",
    "looks_like_org",
    "strip_pii_from_body",
]

# jCard/JSContact ``kind`` values that are not a natural person (RFC 6350 6.1.4 and its
# extensions, RFC 9553 2.1.4: "individual" is the only personal one).
ORG_KINDS: Final = frozenset({"org", "group", "application", "location", "device"})


# jCard properties removed from individual entities by strip_pii_from_body.
PERSONAL_VCARD_PROPERTIES: Final = frozenset(
    {"fn", "n", "nickname", "email", "tel", "adr", "label", "impp", "geo", "photo", "bday"}
)
# JSContact (draft-ietf-regext-rdap-jscontact) members removed likewise.
_PERSONAL_JSCONTACT: Final = ("name", "nickNames", "emails", "phones", "addresses")
# Contact cards (jCard and JSContact, whichever entity member holds the latter) are read by
# rdaplab.rdap.jcard, as the normalized entity rows are.


# Roles whose entity data is always kept: the registrar is a business, never personal
# data here, and so is whatever is nested under it (its abuse contact).
_KEEP_ROLES: Final = frozenset({"registrar"})
# Roles kept unless the entity says it is an individual: abuse contacts are mailboxes of
# organizations by policy (RIR abuse-c must be a role object; ICANN RAA registrar abuse).
ORG_ROLES: Final = frozenset({"abuse"})

# An unlabelled contact whose name ends in a legal form, or says what kind of body it is,
# is an organization. Shared by the frames (Rust regex) and the bodies (Python re) path.
ORG_NAME_PATTERN: Final = (
    r"(?i)(?:(?:^|[\s,.(])(?:inc|incorporated|llc|l\.l\.c|ltd|limited|gmbh|ag|corp"
    r"|corporation|co|company|plc|sa|s\.a|sas|s\.a\.s|srl|s\.r\.l|sarl|bv|b\.v|nv|n\.v"
    r"|oy|ab|a/s|pty|kk|k\.k|spa|s\.p\.a|llp|lp|ug|kg)\.?\)?\s*$"
    r"|\b(?:association|foundation|university|institute|ministry|government|registry"
    r"|society|council|department|team|hostmaster|webmaster|postmaster|administrator"
    r"|support|operations|noc)\b)"
)
_ORG_NAME_RE: Final = re.compile(ORG_NAME_PATTERN)

_DECODER: Final = msgspec.json.Decoder()


def looks_like_org(name: str | None, organization: str | None) -> bool:
    """True when an entity of unknown ``kind`` reads as an organization.

    An organization name with no personal name (``fn`` absent, ``org`` present), a name
    equal to the organization (ARIN role accounts), or a name with a legal form or an
    institutional word ("Inc.", "GmbH", "Registry", "NOC", ...).
    """
    if not name or not name.strip():
        return bool(organization and organization.strip())
    if organization and name.strip().casefold() == organization.strip().casefold():
        return True
    return _ORG_NAME_RE.search(name) is not None


def is_individual(
    *,
    kind: str | None,
    roles: Iterable[str | None],
    name: str | None,
    organization: str | None,
    under_registrar: bool = False,
) -> bool:
    """Whether an entity's contact data is personal data of a natural person.

    Parameters
    ----------
    kind
        The jCard ``kind`` (``individual``, ``org``, ``group``, ...) or None.
    roles
        The entity's roles (lowercased).
    name, organization
        Its ``fn`` and ``org``.
    under_registrar
        Nested (at any depth) under an entity with role ``registrar``.

    Returns
    -------
    bool
        False for registrar data (the role, or nested under it, whatever the kind);
        True for ``kind == "individual"``; False for ``org``/``group``/... kinds; with
        no kind, False for abuse contacts and organization-looking names
        (:func:`looks_like_org`), True otherwise (privacy by default).
    """
    role_set = {r for r in roles if r}
    if under_registrar or role_set & _KEEP_ROLES:
        return False
    k = kind.strip().lower() if isinstance(kind, str) else None
    if k == "individual":
        return True
    if k in ORG_KINDS:
        return False
    if role_set & ORG_ROLES:
        return False
    return not looks_like_org(name, organization)


def entity_kinds(document: Any) -> dict[str, str]:
    """Entity handle -> jCard ``kind`` for every entity in a decoded RDAP document.

    Nested entities, search results and embedded objects included; entities without a
    handle or a kind are left out. Feed the result (merged over a batch) to
    :func:`redact_frames` so it can tell individuals from organizations exactly.
    """
    out: dict[str, str] = {}
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if has_card(node):
                handle = node.get("handle")
                kind = entity_kind(node)
                if isinstance(handle, str) and kind:
                    out.setdefault(handle, kind)
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, (dict, list)))
    return out


def kinds_from_results(results: Iterable[NameResult]) -> dict[str, str]:
    """:func:`entity_kinds` over every 200 answer of ``results`` (bodies decoded once).

    Bodies without the substring ``"kind"`` are skipped undecoded; bodies that are not
    JSON are ignored.
    """
    out: dict[str, str] = {}
    for result in results:
        for resp in result.responses:
            if resp.status != 200:
                continue
            doc = resp.document
            if doc is None:
                raw = bytes(resp.body)
                if b'"kind"' not in raw:
                    continue
                try:
                    doc = _DECODER.decode(raw)
                except (msgspec.DecodeError, UnicodeDecodeError):
                    continue
            for handle, kind in entity_kinds(doc).items():
                out.setdefault(handle, kind)
    return out


# --------------------------------------------------------------------------- bodies


def _roles(ent: Mapping[str, Any]) -> list[str]:
    roles = ent.get("roles")
    if isinstance(roles, str):
        roles = [roles]
    if not isinstance(roles, list):
        return []
    return [r.strip().lower() for r in roles if isinstance(r, str)]


def _personal_entity(ent: Mapping[str, Any], under_registrar: bool) -> bool:
    props = vcard_properties(ent) or []
    card = jscontact_card(ent)
    name = vcard_text(props, "fn")
    org = vcard_text(props, "org")
    if name is None and isinstance(card, dict):
        jname = card.get("name")
        if isinstance(jname, dict) and isinstance(jname.get("full"), str):
            name = jname["full"]
    return is_individual(
        kind=entity_kind(ent),
        roles=_roles(ent),
        name=name,
        organization=org,
        under_registrar=under_registrar,
    )


def _walk(node: Any, under_registrar: bool, strip: bool) -> bool:
    """Find (and with ``strip``, remove) personal data; True when there was some."""
    found = False
    if isinstance(node, list):
        for item in node:
            if isinstance(item, (dict, list)):
                found = _walk(item, under_registrar, strip) or found
                if found and not strip:
                    return True
        return found
    if not isinstance(node, dict):
        return False
    is_entity = has_card(node)
    child_under = under_registrar
    if is_entity:
        child_under = under_registrar or "registrar" in _roles(node)
        if _personal_entity(node, under_registrar):
            props = vcard_properties(node)
            if props is not None:
                kept = [
                    p
                    for p in props
                    if not (
                        isinstance(p, list)
                        and p
                        and isinstance(p[0], str)
                        and p[0].lower() in PERSONAL_VCARD_PROPERTIES
                    )
                ]
                if len(kept) != len(props):
                    found = True
                    if strip:
                        props[:] = kept
            card = jscontact_card(node)
            if isinstance(card, dict):
                for member in _PERSONAL_JSCONTACT:
                    if member in card:
                        found = True
                        if strip:
                            del card[member]
            if found and not strip:
                return True
    for key, value in node.items():
        if isinstance(value, (dict, list)):
            under = child_under if key == "entities" else False
            found = _walk(value, under, strip) or found
            if found and not strip:
                return True
    return found


def _decode(body: str | bytes) -> tuple[str, Any]:
    """(body as text, decoded JSON or the sentinel _NOT_JSON)."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else bytes(body)
    text = body if isinstance(body, str) else raw.decode("utf-8", "replace")
    try:
        return text, _DECODER.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return text, _NOT_JSON


_NOT_JSON: Final = object()


def strip_pii_from_body(body: str | bytes) -> str:
    """Remove personal data of individual entities from a raw RDAP JSON body.

    Every entity (any object with a ``vcardArray``, at any depth: nested entities,
    search results, embedded networks) that :func:`is_individual` calls a natural person
    loses its jCard properties in :data:`PERSONAL_VCARD_PROPERTIES` (``fn``, ``n``,
    ``nickname``, ``email``, ``tel``, ``adr``, ``label``, ``impp``, ``geo``, ``photo``,
    ``bday``) and its JSContact ``name``/``nickNames``/``emails``/``phones``/``addresses``.
    Handles, roles, ``kind``, ``org``, events, links, remarks and everything else stay.

    Parameters
    ----------
    body
        The body as received (bytes are decoded as UTF-8, invalid bytes replaced).

    Returns
    -------
    str
        The body unchanged (as text) when nothing was removed or it is not JSON (then it
        has no entities); else the document re-serialized as compact JSON (key order
        kept, non-ASCII kept as is). Never raises.
    """
    text, doc = _decode(body)
    if doc is _NOT_JSON or (
        "vcardArray" not in text and not any(m in text for m in JSCONTACT_MEMBERS)
    ):
        return text
    try:
        if not _walk(doc, False, strip=True):
            return text
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    except (RecursionError, ValueError, TypeError):  # absurdly deep documents
        return text


def body_has_pii(body: str | bytes, document: Any = None) -> bool:
    """Whether a raw body holds personal data that :func:`strip_pii_from_body` removes.

    A cheap substring check first (no ``vcardArray`` and no JSContact card: False), then
    a walk of the decoded document (``document`` when the caller already decoded it).
    A body that mentions ``vcardArray`` but is not valid JSON counts as holding personal
    data (it cannot be stripped, so retention must still find it). Never raises.
    """
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else bytes(body)
    if b"vcardArray" not in raw and not any(m.encode() in raw for m in JSCONTACT_MEMBERS):
        return False
    if document is None:
        try:
            document = _DECODER.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError):
            return True
    try:
        return _walk(document, False, strip=False)
    except RecursionError:
        return True
