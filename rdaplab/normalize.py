"""Tolerant normalization of RDAP (RFC 9083) answers into flat records.

Pure functions only (no I/O, no asyncio). Real servers bend the RFC in many small ways;
each tolerance below exists because a response in ``datasets/responses`` needs it:

- ``errorCode`` sent as a JSON string (APNIC) and empty error bodies (Verisign 404);
- dates with ``+0000`` offsets (MarkMonitor), without any zone (Namecheap), with one or
  two fractional digits (CentralNic, Nominet) -- all become tz-aware UTC;
- ``ldhName`` with a trailing dot (Com Laude, ZDNS, Nominet nameservers);
- ``secureDns`` instead of ``secureDNS`` (AFNIC), capitalised roles and jCard parameter
  names (Namecheap), ``null`` jCard values (RIPE), short or string ``adr`` values;
- registrar abuse contacts nested inside the registrar entity;
- RFC 9537 ``redacted`` members and ICANN "REDACTED FOR PRIVACY" remarks/placeholders.

Anything unusable becomes ``None`` or an empty list; nothing here raises on a decoded
document except :func:`decode_json` on invalid JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from typing import Any

import msgspec

__all__ = [
    "DomainRecord",
    "EntityRow",
    "EventRow",
    "NameserverRow",
    "ParseError",
    "RedactionRow",
    "decode_json",
    "error_detail",
    "is_placeholder",
    "normalize_domain",
    "parse_datetime",
    "related_links",
]

UTC = timezone.utc
_decoder = msgspec.json.Decoder()
_MAX_ENTITY_DEPTH = 4  # registrar -> abuse is 2; deeper nesting is pathological


class ParseError(ValueError):
    """A body is not a JSON object (invalid JSON, or a non-object top level)."""


# --------------------------------------------------------------------------- records


@dataclass(slots=True)
class EventRow:
    """One domain-level event (nested entity/nameserver events are not flattened)."""

    source: str  # "registry" | "registrar"
    action: str | None  # as served, stripped (e.g. "last update of RDAP database")
    date: datetime | None  # UTC; None when missing or unparseable
    actor: str | None


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
    registration_date: datetime | None = None
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


# --------------------------------------------------------------------------- small helpers


def _as_list(value: object) -> list[Any]:
    """A JSON array as a list; a lone scalar/object as a one-item list; null as []."""
    if isinstance(value, list):
        return value
    if value is None:
        return []
    return [value]


def _text(value: object) -> str | None:
    """A stripped non-empty string, or None (numbers are stringified: ids are text)."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _dns_name(value: object) -> str | None:
    """Lowercase DNS name without the trailing root dot."""
    if not isinstance(value, str):
        return None
    value = value.strip().rstrip(".").lower()
    return value or None


def _get_ci(doc: Mapping[str, Any], key: str) -> Any:
    """``doc[key]`` with a case-insensitive fallback (``secureDns``, ``Type``, ...)."""
    value = doc.get(key)
    if value is not None:
        return value
    folded = key.casefold()
    for k, v in doc.items():
        if isinstance(k, str) and k.casefold() == folded:
            return v
    return None


def _status_value(value: object) -> str | None:
    """RFC 8056 spelling: EPP camelCase (``clientHold``) becomes ``client hold``."""
    text = _text(value)
    if text is None:
        return None
    if " " not in text and not text.islower():
        parts: list[str] = []
        start = 0
        for i in range(1, len(text)):
            if text[i].isupper() and not text[i - 1].isupper():
                parts.append(text[start:i])
                start = i
        parts.append(text[start:])
        text = " ".join(parts)
    return text.lower()


# --------------------------------------------------------------------------- JSON & dates


def decode_json(body: bytes | str) -> Any:
    """Decode an RDAP body; the top level must be a JSON object.

    Parameters
    ----------
    body
        Raw response body.

    Returns
    -------
    dict
        The decoded object.

    Raises
    ------
    ParseError
        With a short reason, on empty bodies, invalid JSON or a non-object top level.
    """
    if not body or (isinstance(body, (bytes, str)) and not body.strip()):
        raise ParseError("empty body")
    try:
        doc = _decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise ParseError(f"invalid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ParseError(f"top-level JSON {type(doc).__name__} is not an object")
    return doc


def _fix_iso(s: str) -> str:
    """Rewrite ISO-8601 variants Python 3.10's ``fromisoformat`` refuses."""
    if s[-1] in "Zz":
        s = s[:-1] + "+00:00"
    # split off a numeric offset (+HHMM, +HH:MM, +HH) after the time part
    tpos = max(s.find("T"), s.find("t"), s.find(" "))
    offset = ""
    if tpos > 0:
        for sign in "+-":
            k = s.rfind(sign)
            if k > tpos:
                offset = s[k:]
                s = s[:k]
                break
    if offset:
        digits = offset[1:].replace(":", "")
        if len(digits) == 2:
            digits += "00"
        offset = f"{offset[0]}{digits[:2]}:{digits[2:4]}"
    dot = s.rfind(".")
    if dot > tpos > 0:  # fractional seconds: pad or truncate to 6 digits
        frac = s[dot + 1 :]
        s = s[:dot] if not frac else f"{s[:dot]}.{(frac + '000000')[:6]}"
    if tpos > 0 and s[tpos] != "T":
        s = f"{s[:tpos]}T{s[tpos + 1 :]}"
    return s + offset


def parse_datetime(value: object) -> datetime | None:
    """Parse a tolerant ISO-8601 timestamp into an aware UTC datetime.

    Accepts ``Z``/``+0000``/``+00:00`` offsets, any number of fractional digits, dates
    without a zone (taken as UTC: RDAP dates are UTC in practice) and bare dates.

    Parameters
    ----------
    value
        Usually a string from ``eventDate``; anything else yields None.

    Returns
    -------
    datetime or None
        Aware UTC datetime; None on garbage (never raises).
    """
    if not isinstance(value, str):
        return None
    s = value.strip()
    if len(s) < 8:
        return None
    try:
        dt = datetime.fromisoformat(s)  # fast path: Python 3.11+ takes most variants
    except ValueError:
        try:
            dt = datetime.fromisoformat(_fix_iso(s))
        except (ValueError, IndexError):
            return None
    try:
        if dt.tzinfo is None:
            return dt.replace(tzinfo=UTC)
        if dt.utcoffset() == timedelta(0):
            return dt if dt.tzinfo is UTC else dt.replace(tzinfo=UTC)
        return dt.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


# --------------------------------------------------------------------------- links & errors


def related_links(doc: Mapping[str, Any] | None) -> list[str]:
    """Referral targets: hrefs of ``rel="related"`` links that point to RDAP answers.

    A link qualifies when its ``type`` is ``application/rdap+json`` (parameters and case
    ignored) or, when ``type`` is missing, when its href has an RDAP lookup path
    (``/domain/``) -- some registries omit the type, and a typed ``text/html`` link must
    not be followed. Hrefs are stripped; inner spaces are percent-encoded; only http(s)
    URLs are kept; the answer's own ``self`` URL and duplicates are dropped.

    Parameters
    ----------
    doc
        A decoded RDAP object (anything else yields []).

    Returns
    -------
    list of str
        Hrefs in document order.
    """
    if not isinstance(doc, Mapping):
        return []
    out: list[str] = []
    self_href: str | None = None
    candidates: list[str] = []
    for link in _as_list(doc.get("links")):
        if not isinstance(link, dict):
            continue
        href = link.get("href")
        if not isinstance(href, str):
            continue
        href = href.strip().replace(" ", "%20")
        rel = link.get("rel")
        rel = rel.strip().lower() if isinstance(rel, str) else ""
        if rel == "self":
            self_href = href
            continue
        if rel != "related":
            continue
        ltype = link.get("type")
        if isinstance(ltype, str):
            if ltype.split(";", 1)[0].strip().lower() != "application/rdap+json":
                continue
        elif "/domain/" not in href.lower():
            continue
        if href[:8].lower() == "https://" or href[:7].lower() == "http://":
            candidates.append(href)
    for href in candidates:
        if href != self_href and href not in out:
            out.append(href)
    return out


def error_detail(doc: object, status: int) -> str:
    """A short human description of an error answer.

    Parameters
    ----------
    doc
        The decoded error body (RFC 9083 section 6), or None/anything for empty or
        non-JSON bodies.
    status
        HTTP status code.

    Returns
    -------
    str
        E.g. ``"HTTP 404: Object not found"``; the body's ``errorCode`` is mentioned when
        it disagrees with the HTTP status (it may be a string, as APNIC sends it).
    """
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    head = f"HTTP {status}"
    if not isinstance(doc, Mapping):
        return f"{head} {reason} (no RDAP error body)".replace("  ", " ")
    title = _text(doc.get("title"))
    desc_parts = [d.strip() for d in _as_list(doc.get("description")) if isinstance(d, str)]
    desc = " ".join(p for p in desc_parts if p) or None
    text = title or desc or reason
    if desc and title and desc.casefold() != title.casefold():
        text = f"{title} - {desc}"
    code = doc.get("errorCode")
    try:
        code_int = int(code) if code is not None and not isinstance(code, bool) else None
    except (TypeError, ValueError):
        code_int = None
    if code_int is not None and code_int != status:
        text = f"{text} (errorCode {code_int})"
    out = f"{head}: {text}" if text else head
    return out if len(out) <= 200 else out[:197] + "..."


# --------------------------------------------------------------------------- redaction

# Values servers put where personal data was withheld (compared casefolded, stripped).
_PLACEHOLDERS = frozenset(
    {
        "redacted",
        "redacted for privacy",
        "redacted for privacy purposes",
        "data redacted",
        "data protected",
        "data protected, not disclosed",
        "not disclosed",
        "non-public data",
        "not available",
        "withheld",
        "withheld for privacy",
        "withheld for privacy purposes",
        "whoisguard protected",
        "privacy protected",
        "gdpr masked",
        "gdpr redacted",
        "statutory masking enabled",
        "hidden",
        "private",
    }
)
_PLACEHOLDER_PREFIXES = (
    "redacted",
    "please query the",
    "please contact the registrar",
    "not disclosed",
    "data protected",
)


# First characters any placeholder can start with (leading whitespace included).
_PLACEHOLDER_FIRST = frozenset(
    {c for p in (*_PLACEHOLDERS, *_PLACEHOLDER_PREFIXES) for c in (p[0], p[0].upper())}
    | set(" \t\n\r")
)


def is_placeholder(value: object) -> bool:
    """True when a contact value is a redaction placeholder, not real data.

    Examples: ``"REDACTED FOR PRIVACY"``, ``"Redacted for privacy"``, ``"Data Protected"``,
    ``"Withheld for Privacy Purposes"``, ``"redacted@nominet.uk"``, ``"Please query the
    RDDS service of the Registrar of Record..."``. A privacy/proxy *organization* (e.g.
    ``"WhoisGuard, Inc."``) is real data about the proxy and is not a placeholder.
    """
    if not isinstance(value, str) or not value:
        return False
    if value[0] not in _PLACEHOLDER_FIRST:  # cheap reject: most values are real data
        return False
    s = value.strip().casefold().rstrip(".")
    return s in _PLACEHOLDERS or s.startswith(_PLACEHOLDER_PREFIXES)


_ROLE_WORDS = (
    ("registrant", "registrant"),
    ("admin", "administrative"),
    ("tech", "technical"),
    ("billing", "billing"),
)
_PATH_FIELDS = (
    ("'fn'", "name"),
    ("'org'", "organization"),
    ("'email'", "email"),
    ("'e-mail'", "email"),
    ("'tel'", "phone"),
    ("'voice'", "phone"),
)


def _redaction_field(text: str) -> str | None:
    """The contact field a redaction name ("Registrant Email", ...) is about."""
    if "email" in text or "e-mail" in text:
        return "email"
    if "fax" in text:
        return None
    if "phone" in text or "voice" in text:
        return None if "ext" in text else "phone"
    if "country" in text:
        return "country"
    if "organi" in text:
        return (
            None if ("type" in text or "ident" in text or text.endswith(" id")) else "organization"
        )
    if text.endswith("name") and "domain" not in text:
        return "name"
    return None


def _redaction_target(name: str | None, path: str | None) -> tuple[str, str] | None:
    """(role, field) an RFC 9537 entry covers, when recognisable; else None."""
    text = name.casefold() if name else ""
    p = path.replace('"', "'").casefold() if path else ""
    role = next((r for word, r in _ROLE_WORDS if word in text), None)
    if role is None and p:
        role = next((r for word, r in _ROLE_WORDS if f"'{word}" in p), None)
    fld = _redaction_field(text) if text else None
    if fld is None and p:
        fld = next((f for word, f in _PATH_FIELDS if word in p), None)
    if role is None or fld is None:
        return None
    return role, fld


def _redactions(doc: Mapping[str, Any], source: str) -> list[RedactionRow]:
    rows: list[RedactionRow] = []
    for item in _as_list(doc.get("redacted")):
        if not isinstance(item, dict):
            continue
        name = item.get("name")
        reason = item.get("reason")
        if isinstance(name, dict):
            name_text = _text(name.get("type")) or _text(name.get("description"))
        else:
            name_text = _text(name)
        if isinstance(reason, dict):
            reason_text = _text(reason.get("description")) or _text(reason.get("type"))
        else:
            reason_text = _text(reason)
        path = (
            _text(item.get("prePath"))
            or _text(item.get("postPath"))
            or _text(item.get("replacementPath"))
        )
        rows.append(RedactionRow(source, name_text, _text(item.get("method")), path, reason_text))
    return rows


# --------------------------------------------------------------------------- jCard


def _jtext(value: object) -> str | None:
    """A jCard text value; structured (array) values are joined with ", "."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, list):
        parts = [v.strip() for v in value if isinstance(v, str) and v.strip()]
        return ", ".join(parts) or None
    return _text(value)


_VCARD_NAMES = frozenset({"version", "fn", "org", "email", "tel", "adr", "kind", "url"})


def _param_types(params: object) -> str:
    """The jCard ``type`` parameter as one lowercase string ("work,voice")."""
    if not isinstance(params, dict) or not params:
        return ""
    t = params.get("type")
    if t is None:
        t = _get_ci(params, "type")  # Namecheap sends "Type"
    if isinstance(t, str):
        return t.lower()
    if isinstance(t, list):
        return ",".join(x for x in t if isinstance(x, str)).lower()
    return ""


def _vcard(vcard: object) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    """(name, organization, email, phone, country) from a jCard ``vcardArray``.

    Phone prefers a ``voice`` tel (``tel:`` URI prefix removed), else the first non-fax
    tel. Country is a code when served (``cc`` parameter of ``adr`` or the
    ``ISO-3166-1-alpha-2`` property), else the ``adr`` country-name as served.
    """
    name = org = email = phone = other_phone = cc = country_name = None
    if not isinstance(vcard, list) or not vcard:
        return None, None, None, None, None
    props = vcard[1] if len(vcard) > 1 and isinstance(vcard[1], list) else vcard
    for prop in props:
        if not isinstance(prop, list) or len(prop) < 4:
            continue
        pname = prop[0]
        if not isinstance(pname, str) or pname not in _VCARD_NAMES:
            if not isinstance(pname, str):
                continue
            pname = pname.lower()  # property names are case-insensitive
        value = prop[3]
        if isinstance(value, str):  # fast path: the usual shape
            value = value.strip() or None
        elif value is not None:
            value = _jtext(value) if pname != "adr" else value
        if pname == "fn":
            if name is None:
                name = value
        elif pname == "email":
            if email is None:
                email = value
        elif pname == "tel":
            if phone is not None or not isinstance(value, str):
                continue
            if value[:4].lower() == "tel:":
                value = value[4:].strip()
                if not value:
                    continue
            types = _param_types(prop[1])
            if "voice" in types:
                phone = value
            elif other_phone is None and "fax" not in types and value[:4].lower() != "fax:":
                other_phone = value
        elif pname == "org":
            if org is None:
                org = value
        elif pname == "adr":
            params = prop[1]
            if cc is None and isinstance(params, dict) and params:
                cc = _text(_get_ci(params, "cc"))
            if country_name is None and isinstance(value, list) and len(value) >= 7:
                country_name = _jtext(value[6])
        elif cc is None and pname == "iso-3166-1-alpha-2":
            cc = value if isinstance(value, str) else None
    return name, org, email, phone or other_phone, cc or country_name


# --------------------------------------------------------------------------- entities


def _remark_flags(entity: Mapping[str, Any]) -> tuple[bool, bool]:
    """(absent fields are redacted, email is redacted) from ICANN-style remarks/status."""
    absent = email = False
    for status in _as_list(entity.get("status")):
        if isinstance(status, str) and status.strip().lower() == "removed":
            absent = True
    for remark in _as_list(entity.get("remarks")):
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
    marks: set[tuple[str, str]],
    out: list[EntityRow],
    registrars: list[tuple[int, dict[str, Any], str | None]],
    parent: str | None = None,
    depth: int = 0,
) -> None:
    """Append one row per (entity, role), depth first; collect registrar entities."""
    for ent in _as_list(entities):
        if not isinstance(ent, dict):
            continue
        handle = _text(ent.get("handle"))
        name, org, email, phone, country = _vcard(ent.get("vcardArray"))
        absent = email_flag = False
        if "remarks" in ent or "status" in ent:
            absent, email_flag = _remark_flags(ent)
        # placeholder value, or value missing from an entity marked as redacted
        fn_r = is_placeholder(name) if name is not None else absent
        org_r = is_placeholder(org) if org is not None else absent
        email_r = email_flag or (is_placeholder(email) if email is not None else absent)
        tel_r = is_placeholder(phone) if phone is not None else absent
        cc_r = is_placeholder(country) if country is not None else absent
        roles: list[str | None] = [
            r.strip().lower() for r in _as_list(ent.get("roles")) if isinstance(r, str)
        ]
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
                    )
                )  # fmt: skip
            else:
                out.append(
                    EntityRow(
                        source, handle, role, parent, name, org, email, phone, country,
                        fn_r, org_r, email_r, tel_r, cc_r,
                    )
                )  # fmt: skip
            if role == "registrar":
                registrars.append((depth, ent, name or org))
        if depth < _MAX_ENTITY_DEPTH and "entities" in ent:
            _walk_entities(ent["entities"], source, marks, out, registrars, handle, depth + 1)


def _registrar(
    doc: Mapping[str, Any], registrars: list[tuple[int, dict[str, Any], str | None]]
) -> tuple[str | None, str | None]:
    """(name, IANA id) of the shallowest entity with role "registrar"."""
    if not registrars:
        return None, None
    _, ent, name = min(registrars, key=lambda r: r[0])
    iana = None
    for pid in _as_list(ent.get("publicIds")):
        if isinstance(pid, dict):
            ptype = pid.get("type")
            if isinstance(ptype, str) and "iana" in ptype.lower():
                iana = _text(pid.get("identifier"))
                if iana:
                    break
    if iana is None and name:
        # Namecheap puts {"type": "<registrar name>", "identifier": "<IANA id>"} at the
        # domain level instead of on the registrar entity.
        folded = name.casefold()
        for pid in _as_list(doc.get("publicIds")):
            if isinstance(pid, dict):
                ptype = pid.get("type")
                if isinstance(ptype, str) and ptype.strip().casefold() == folded:
                    iana = _text(pid.get("identifier"))
                    break
    return name, iana


# --------------------------------------------------------------------------- documents


def _dnssec(doc: Mapping[str, Any]) -> bool | None:
    sd = doc.get("secureDNS")
    if sd is None:
        sd = _get_ci(doc, "secureDNS")  # AFNIC serves "secureDns"
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


def _addresses(value: object) -> list[str]:
    return [a.strip() for a in _as_list(value) if isinstance(a, str) and a.strip()]


def _parse_doc(doc: Mapping[str, Any], source: str) -> DomainRecord:
    """Everything one answer says, before the registry/registrar merge."""
    rec = DomainRecord()
    get = doc.get
    rec.object_class = _text(get("objectClassName"))
    rec.handle = _text(get("handle"))
    rec.ldh_name = _dns_name(get("ldhName"))
    rec.unicode_name = _dns_name(get("unicodeName"))

    last_update = None
    for ev in _as_list(get("events")):
        if not isinstance(ev, dict):
            continue
        action = _text(ev.get("eventAction"))
        date = parse_datetime(ev.get("eventDate"))
        rec.events.append(EventRow(source, action, date, _text(ev.get("eventActor"))))
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

    for status in _as_list(get("status")):
        value = _status_value(status)
        if value is not None and value not in rec.rdap_status:
            rec.rdap_status.append(value)

    for ns in _as_list(get("nameservers")):
        if not isinstance(ns, dict):
            continue
        name = _dns_name(ns.get("ldhName")) or _dns_name(ns.get("unicodeName"))
        if name is None or name in rec.nameservers:
            continue
        rec.nameservers.append(name)
        ips = ns.get("ipAddresses")
        if isinstance(ips, dict):
            row = NameserverRow(source, name, _addresses(ips.get("v4")), _addresses(ips.get("v6")))
        else:
            row = NameserverRow(source, name)
        rec.nameserver_rows.append(row)

    rec.dnssec = _dnssec(doc)
    marks: set[tuple[str, str]] = set()
    if "redacted" in doc:
        rec.redactions = _redactions(doc, source)
        for r in rec.redactions:
            target = _redaction_target(r.name, r.path)
            if target is not None:
                marks.add(target)
    if "entities" in doc:
        registrars: list[tuple[int, dict[str, Any], str | None]] = []
        _walk_entities(get("entities"), source, marks, rec.entities, registrars)
        rec.registrar, rec.registrar_iana_id = _registrar(doc, registrars)
    links = related_links(doc) if "links" in doc else []
    rec.registrar_url = links[0] if links else None
    notices = get("notices")
    rec.notices_count = len(notices) if isinstance(notices, list) else 0
    remarks = get("remarks")
    rec.remarks_count = len(remarks) if isinstance(remarks, list) else 0
    return rec


def normalize_domain(
    registry_doc: Mapping[str, Any] | None, registrar_doc: Mapping[str, Any] | None = None
) -> DomainRecord:
    """Flatten a domain answer, merging the registrar's referral answer if given.

    Merge rule (thin registries such as .com/.net): the registry answer is authoritative
    for every field it carries (handle, names, dates, status, nameservers, DNSSEC,
    registrar); the registrar answer only fills fields the registry lacks. Events,
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
    reg = _parse_doc(registry_doc, "registry") if isinstance(registry_doc, Mapping) else None
    rar = _parse_doc(registrar_doc, "registrar") if isinstance(registrar_doc, Mapping) else None
    if reg is None:
        return rar if rar is not None else DomainRecord()
    if rar is None:
        return reg
    for name in (
        "object_class",
        "handle",
        "ldh_name",
        "unicode_name",
        "registrar",
        "registrar_iana_id",
        "registration_date",
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
