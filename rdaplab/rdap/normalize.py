"""Tolerant normalization of RDAP (RFC 9083) answers into flat records.

Pure functions only (no I/O, no asyncio). Real servers bend the RFC in many small ways;
each tolerance below exists because a response in ``datasets/responses`` needs it:

- ``errorCode`` sent as a JSON string (APNIC) and empty error bodies (Verisign 404);
- dates with ``+0000`` offsets (MarkMonitor), without any zone (Namecheap), with one or
  two fractional digits (CentralNic, Nominet) -- all become tz-aware UTC;
- ``ldhName`` with a trailing dot (Com Laude, ZDNS, Nominet nameservers);
- ``secureDns`` instead of ``secureDNS`` (AFNIC), capitalised roles and jCard parameter
  names (Namecheap), ``null`` jCard values (RIPE), short or string ``adr`` values
  (Namecheap sends 4-5 components, AFRINIC fills them out of order), addresses only in the
  ``label`` parameter (RIPE, APNIC; ARIN escapes its newlines as a literal ``\\n``);
- registrar abuse contacts nested inside the registrar entity;
- RFC 9537 ``redacted`` members and ICANN "REDACTED FOR PRIVACY" remarks/placeholders.

Anything unusable becomes ``None`` or an empty list; nothing here raises on a decoded
document except :func:`decode_json` on invalid JSON.

:func:`parse_body` is the fast path for raw bodies (the warm cache replay): msgspec decodes
only the members used into typed structs, and members that repeat across answers
(registrar entities, nameserver sets) are flattened once and memoized by their raw bytes.
A body the types do not fit takes the tolerant path whole, so both give the same record.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
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
    "merge_records",
    "normalize_domain",
    "parse_body",
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
    ("'label'", "address"),
    ("'addresses'", "address"),  # JSContact
)
# Words of the address parts of the ICANN/RFC 9537 redaction names ("Registrant Street",
# "Registrant City", "Registrant Postal Code", "Registrant State/Province", Nominet's
# "Registrant Region"); "country" is its own field and is matched first.
_ADDRESS_WORDS = ("street", "city", "postal", "postcode", "zip", "state", "province",
                  "region", "locality", "address")  # fmt: skip


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
    if any(word in text for word in _ADDRESS_WORDS):
        return "address"
    if "organi" in text:
        return (
            None if ("type" in text or "ident" in text or text.endswith(" id")) else "organization"
        )
    if text.endswith("name") and "domain" not in text:
        return "name"
    return None


def _path_field(p: str) -> str | None:
    """The contact field a (casefolded, single-quoted) JSONPath points into."""
    if "'adr'" in p:
        # ...[?(@[0]=='adr')][3][6] is the country name, [1].cc the country code parameter
        tail = p.rstrip()
        return "country" if tail.endswith("[6]") or tail.endswith("cc") else "address"
    return next((f for word, f in _PATH_FIELDS if word in p), None)


def _redaction_target(name: str | None, path: str | None) -> tuple[str, str] | None:
    """(role, field) an RFC 9537 entry covers, when recognisable; else None."""
    text = name.casefold() if name else ""
    p = path.replace('"', "'").casefold() if path else ""
    role = next((r for word, r in _ROLE_WORDS if word in text), None)
    if role is None and p:
        role = next((r for word, r in _ROLE_WORDS if f"'{word}" in p), None)
    fld = _redaction_field(text) if text else None
    if fld is None and p:
        fld = _path_field(p)
    if role is None or fld is None:
        return None
    return role, fld


def _redactions(value: object, source: str) -> list[RedactionRow]:
    rows: list[RedactionRow] = []
    for item in _as_list(value):
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
_MAX_ADR_DEPTH = 3  # adr value -> component -> nested street array; deeper is garbage


def _address_lines(value: object, out: list[str], depth: int = 0) -> None:
    """Append the non-empty lines of an address value: strings (split on CRLF, CR, LF and
    a literal backslash-n), numbers (postal codes), nested arrays in order; each line
    stripped."""
    if isinstance(value, str):
        if "\n" in value or "\r" in value or "\\" in value:
            value = value.replace("\\r\\n", "\n").replace("\\n", "\n")
            value = value.replace("\r\n", "\n").replace("\r", "\n")
            for line in value.split("\n"):
                line = line.strip()
                if line:
                    out.append(line)
        else:
            value = value.strip()
            if value:
                out.append(value)
    elif isinstance(value, list):
        if depth < _MAX_ADR_DEPTH:
            for v in value:
                _address_lines(v, out, depth + 1)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out.append(str(value))


def _adr_text(value: object, params: object) -> str | None:
    """The postal address of a jCard ``adr`` property as one text, lines joined by "\\n".

    The structured value's components in order (post office box, extended address,
    street, locality, region, postal code, country name; RFC 6350 §6.3.1), one line per
    non-empty part: a nested array (multi-line street, RFC 7095 §3.3.1.3) gives a line per
    item, a string where the array belongs is read as the whole address, nulls are
    skipped. Short arrays (Namecheap sends 4-5 parts) and parts in the wrong slots
    (AFRINIC) read naturally this way, since nothing depends on the position. When the
    value holds no text (``null``, all empty strings: RIPE, APNIC, ARIN), the ``label``
    parameter is used instead, its newlines real or a literal backslash-n (ARIN).
    """
    lines: list[str] = []
    if isinstance(value, list):
        # the usual flat array of strings inline (what _address_lines does for it)
        for v in value:
            if v.__class__ is str and "\n" not in v and "\r" not in v and "\\" not in v:
                v = v.strip()
                if v:
                    lines.append(v)
            elif v is not None:
                _address_lines(v, lines, 1)
    elif value is not None:
        _address_lines(value, lines)
    if not lines and isinstance(params, dict) and params:
        label = params.get("label")
        if label is None:
            label = _get_ci(params, "label")
        _address_lines(label, lines)
    return "\n".join(lines) if lines else None


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


_Card = tuple[str | None, str | None, str | None, str | None, str | None]
# _Card plus the kind (lowercased) and the postal address, what the entity walk reads
_KindCard = tuple[
    str | None, str | None, str | None, str | None, str | None, str | None, str | None
]
_NO_CARD: _KindCard = (None, None, None, None, None, None, None)


def _vcard(vcard: object) -> _Card:
    """(name, organization, email, phone, country) from a jCard ``vcardArray``.

    Phone prefers a ``voice`` tel (``tel:`` URI prefix removed), else the first non-fax
    tel. Country is a code when served (``cc`` parameter of ``adr`` or the
    ``ISO-3166-1-alpha-2`` property), else the ``adr`` country-name as served.
    """
    return _vcard_kind(vcard)[:5]


def _vcard_kind(vcard: object) -> _KindCard:
    """:func:`_vcard` plus the ``kind`` property, lowercased, and the postal address (the
    first ``adr`` with any text, see :func:`_adr_text`; else a ``label`` property's text),
    in one pass over the card."""
    name = org = email = phone = other_phone = cc = country_name = kind = None
    address = label_prop = None
    if not isinstance(vcard, list) or not vcard:
        return _NO_CARD
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
            if address is None:
                address = _adr_text(prop[3], params)
        elif cc is None and pname == "iso-3166-1-alpha-2":
            cc = value if isinstance(value, str) else None
        elif pname == "kind" and kind is None and isinstance(value, str):
            kind = value.lower()
        elif pname == "label" and label_prop is None:
            # vCard 3's delivery label property, served by a few: the address if no adr is
            lines: list[str] = []
            _address_lines(prop[3], lines)
            label_prop = "\n".join(lines) or None
    return (name, org, email, phone or other_phone, cc or country_name, kind,
            address if address is not None else label_prop)  # fmt: skip


# JSContact (RFC 9553) cards, served by some RIRs instead of jCard (draft-ietf-regext-rdap-
# jscontact names the entity member "jscontact_card", earlier drafts "jscard"; "contact" is
# seen in experiments). The first member holding an object is read.
_JSCARD_MEMBERS = ("jscontact_card", "jscard", "contact")


def _js_items(value: object) -> list[dict[str, Any]]:
    """The objects of a JSContact map (``{"id": {...}}``); an array of them is tolerated."""
    if isinstance(value, dict):
        value = list(value.values())
    return [v for v in _as_list(value) if isinstance(v, dict)]


def _jscard(card: object) -> _Card:
    """(name, organization, email, phone, country) from a JSContact card, like :func:`_vcard`.

    Name is ``name.full``, else the ``name.components`` values joined; phone prefers one
    with the ``voice`` feature and skips fax-only numbers; country is an address's
    ``countryCode``, else its ``country`` component.
    """
    return _jscard_kind(card)[:5]


def _jscard_kind(card: object) -> _KindCard:
    """:func:`_jscard` plus the card's ``kind`` (RFC 9553 §2.1.4), lowercased."""
    if not isinstance(card, dict):
        return _NO_CARD
    name = None
    n = card.get("name")
    if isinstance(n, dict):
        name = _jtext(n.get("full"))
        if name is None:
            parts = [_jtext(c.get("value")) for c in _js_items(n.get("components"))]
            name = " ".join(p for p in parts if p) or None
    else:
        name = _jtext(n)
    org = next((t for o in _js_items(card.get("organizations")) if (t := _jtext(o.get("name")))),
               None)  # fmt: skip
    email = next((t for e in _js_items(card.get("emails")) if (t := _jtext(e.get("address")))),
                 None)  # fmt: skip
    phone = other_phone = None
    for p in _js_items(card.get("phones")):
        number = _jtext(p.get("number"))
        if number is not None and number[:4].lower() == "tel:":
            number = number[4:].strip() or None
        if number is None:
            continue
        features = p.get("features")
        if isinstance(features, dict):
            features = [k for k, v in features.items() if v]
        kinds = {f.lower() for f in _as_list(features) if isinstance(f, str)}
        if "voice" in kinds:
            phone = number
            break
        if other_phone is None and kinds != {"fax"}:
            other_phone = number
    country = address = None
    for a in _js_items(card.get("addresses")):
        if address is None:
            address = _js_address(a)
        if country is None:
            country = _jtext(a.get("countryCode"))
        if country is None:
            country = next((_jtext(c.get("value")) for c in _js_items(a.get("components"))
                            if c.get("kind") == "country"), None)  # fmt: skip
        if country is not None and address is not None:
            break
    kind = _jtext(card.get("kind"))
    return (name, org, email, phone or other_phone, country, kind.lower() if kind else None,
            address)  # fmt: skip


# RFC 9553 §2.5.1.2 component kinds that make up the street line ("54321", "Oak St");
# every other kind (locality, region, postcode, country, district, ...) is a line of its own.
_JS_STREET_KINDS = frozenset(
    {"number", "name", "direction", "building", "floor", "apartment", "room", "block",
     "subblock"}
)  # fmt: skip
# Members of pre-RFC JSContact drafts, in address order (street may be an array).
_JS_OLD_MEMBERS = ("postOfficeBox", "extension", "street", "locality", "region", "postcode",
                   "country")  # fmt: skip


def _js_address(addr: Mapping[str, Any]) -> str | None:
    """A JSContact address as one text, lines joined by "\\n" (like :func:`_adr_text`).

    ``full`` (``fullAddress`` in drafts) when given; else the ``components`` in order,
    street kinds joined on one line (by the ``separator`` component between them, else a
    space), the others one line each; else the draft members ``street``, ``locality``, ...
    """
    lines: list[str] = []
    full = addr.get("full")
    _address_lines(full if full is not None else addr.get("fullAddress"), lines)
    if lines:
        return "\n".join(lines)
    comps = addr.get("components")
    if comps is not None:
        street: list[str] = []
        sep = " "
        for c in _as_list(comps):
            if not isinstance(c, dict):
                continue
            ckind = c.get("kind")
            ckind = ckind.lower() if isinstance(ckind, str) else ""
            value = c.get("value")
            if ckind == "separator":
                sep = value if isinstance(value, str) and value.strip() else " "
                continue
            text = _jtext(value)
            if text is None:
                continue
            if ckind in _JS_STREET_KINDS:
                if street:
                    street.append(sep)
                street.append(text)
            else:
                if street:
                    lines.append("".join(street).strip())
                    street = []
                _address_lines(text, lines)
            sep = " "
        if street:
            lines.append("".join(street).strip())
    else:
        for member in _JS_OLD_MEMBERS:
            value = addr.get(member)
            if isinstance(value, list):  # street components: {"type": ..., "value": ...}
                value = [v.get("value") if isinstance(v, dict) else v for v in value]
            _address_lines(value, lines)
    return "\n".join(line for line in lines if line) or None


# --------------------------------------------------------------------------- entities


# Privacy/proxy services: registrars' services that publish their own contact data in
# place of the registrant's. Matched (case-insensitively, anywhere) in an entity's fn or
# org. Seen in datasets/responses: Namecheap's "WhoisGuard, Inc." (fn "WhoisGuard
# Protected", namecheap/bitcoin.org.json) and "Privacy service provided by Withheld for
# Privacy ehf" (namecheap/deep.surf.json). The others are the services of large registrars
# as they name themselves in registration data. Redaction wording ("REDACTED FOR
# PRIVACY", "Data Protected", "Withheld for Privacy Purposes": see is_placeholder) is
# deliberately absent: it says a value was withheld, not who stands in for the
# registrant -- those are the *_redacted flags.
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
    marks: AbstractSet[tuple[str, str]],
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
        vcard = ent.get("vcardArray")
        if vcard is None and ("jscontact_card" in ent or "jscard" in ent or "contact" in ent):
            # no jCard: the JSContact card, when there is one (the jCard wins otherwise)
            card = next((c for m in _JSCARD_MEMBERS if isinstance(c := ent.get(m), dict)), None)
            name, org, email, phone, country, kind, address = _jscard_kind(card)
        else:
            name, org, email, phone, country, kind, address = _vcard_kind(vcard)
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
                if line[:1] in _PLACEHOLDER_FIRST and is_placeholder(line):
                    adr_r = True
                    break
        proxy = _is_privacy_proxy(name, org)
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
            _walk_entities(ent["entities"], source, marks, out, registrars, handle, depth + 1)


def _registrar_entity(
    registrars: list[tuple[int, dict[str, Any], str | None]],
) -> tuple[str | None, str | None]:
    """(name, IANA id from its own publicIds) of the shallowest entity with role registrar."""
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
    return name, iana


def _domain_level_iana(public_ids: object, name: str) -> str | None:
    """Namecheap puts ``{"type": "<registrar name>", "identifier": "<IANA id>"}`` at the
    domain level instead of on the registrar entity."""
    folded = name.casefold()
    for pid in _as_list(public_ids):
        if isinstance(pid, dict):
            ptype = pid.get("type")
            if isinstance(ptype, str) and ptype.strip().casefold() == folded:
                return _text(pid.get("identifier"))
    return None


# --------------------------------------------------------------------------- members
# One function per member, shared by the tolerant and the typed path (which memoizes them
# by the member's raw JSON), so both paths compute the same rows by construction.


def _dnssec_value(sd: object) -> bool | None:
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
        sd = _get_ci(doc, "secureDNS")  # AFNIC serves "secureDns"
    return _dnssec_value(sd)


def _addresses(value: object) -> list[str]:
    return [a.strip() for a in _as_list(value) if isinstance(a, str) and a.strip()]


def _status_list(value: object) -> list[str]:
    out: list[str] = []
    for status in _as_list(value):
        text = _status_value(status)
        if text is not None and text not in out:
            out.append(text)
    return out


def _nameservers(value: object, source: str) -> tuple[list[str], list[NameserverRow]]:
    """(distinct names, one row per distinct name) of a ``nameservers`` member."""
    names: list[str] = []
    rows: list[NameserverRow] = []
    for ns in _as_list(value):
        if not isinstance(ns, dict):
            continue
        name = _dns_name(ns.get("ldhName")) or _dns_name(ns.get("unicodeName"))
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


_NO_MARKS: frozenset[tuple[str, str]] = frozenset()


def _redacted(value: object, source: str) -> tuple[list[RedactionRow], frozenset[tuple[str, str]]]:
    """(rows, the (role, field) pairs they cover) of a ``redacted`` member."""
    rows = _redactions(value, source)
    marks = set()
    for r in rows:
        target = _redaction_target(r.name, r.path)
        if target is not None:
            marks.add(target)
    return rows, frozenset(marks) if marks else _NO_MARKS


def _entities(
    value: object, source: str, marks: frozenset[tuple[str, str]]
) -> tuple[list[EntityRow], str | None, str | None]:
    """(rows, registrar name, registrar IANA id from the entity) of an ``entities`` member."""
    rows: list[EntityRow] = []
    registrars: list[tuple[int, dict[str, Any], str | None]] = []
    _walk_entities(value, source, marks, rows, registrars)
    name, iana = _registrar_entity(registrars)
    return rows, name, iana


# --------------------------------------------------------------------------- documents


def _parse_doc(doc: Mapping[str, Any], source: str) -> DomainRecord:
    """Everything one answer says, before the registry/registrar merge (tolerant path)."""
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

    rec.rdap_status = _status_list(get("status"))
    rec.nameservers, rec.nameserver_rows = _nameservers(get("nameservers"), source)
    rec.dnssec = _dnssec(doc)
    marks = _NO_MARKS
    if "redacted" in doc:
        rec.redactions, marks = _redacted(get("redacted"), source)
    if "entities" in doc:
        rec.entities, rec.registrar, iana = _entities(get("entities"), source, marks)
        if iana is None and rec.registrar:
            iana = _domain_level_iana(get("publicIds"), rec.registrar)
        rec.registrar_iana_id = iana
    links = related_links(doc) if "links" in doc else []
    rec.registrar_url = links[0] if links else None
    notices = get("notices")
    rec.notices_count = len(notices) if isinstance(notices, list) else 0
    remarks = get("remarks")
    rec.remarks_count = len(remarks) if isinstance(remarks, list) else 0
    return rec


# --------------------------------------------------------------------------- typed fast path
# msgspec decodes only the members used, into Structs, skipping the rest in C (notices
# and remarks are only counted). Members that repeat across answers (status, nameservers,
# redacted, entities: same registrar, same DNS host) stay raw JSON and their rows are
# memoized by those bytes; a miss runs the tolerant member function above. Any document
# the types do not fit (a lone object where an array belongs, a non-object event or
# link, ...) takes the tolerant path whole, so the output never depends on the path.

_NULL_RAW = msgspec.Raw(b"null")


class _Event(msgspec.Struct, gc=False):
    # str, not Any: ~7 % faster to decode; a number here sends the answer down the
    # tolerant path, which stringifies it
    eventAction: str | None = None  # JSON member names
    # str, not datetime: msgspec rounds digits past the microsecond (".9999999Z" becomes
    # the next second) where parse_datetime truncates, and the decoded value cannot tell
    eventDate: str | None = None
    eventActor: str | None = None


class _Link(msgspec.Struct, gc=False):
    href: str | None = None
    rel: str | None = None
    type: str | None = None


class _SecureDNS(msgspec.Struct, gc=False):
    # the members _dnssec_value reads; an object is all it takes (no dict is built)
    delegationSigned: Any = None
    dsData: Any = None
    keyData: Any = None


class _DomainDoc(msgspec.Struct, gc=False):
    objectClassName: Any = None
    handle: Any = None
    ldhName: Any = None
    unicodeName: Any = None
    events: list[_Event] | None = None
    status: msgspec.Raw = _NULL_RAW
    nameservers: msgspec.Raw = _NULL_RAW
    secureDNS: _SecureDNS | None = None  # a non-object sends the body down the tolerant path
    secureDns: _SecureDNS | None = None  # AFNIC's spelling
    redacted: msgspec.Raw = _NULL_RAW
    entities: msgspec.Raw = _NULL_RAW
    links: list[_Link] | None = None
    notices: list[msgspec.Raw] | None = None
    remarks: list[msgspec.Raw] | None = None
    publicIds: Any = None


_typed_decoder = msgspec.json.Decoder(_DomainDoc)
_fromisoformat = datetime.fromisoformat
# Rows built on the hot path get their fields set one by one on an empty instance: calling
# a dataclass's (Python) __init__ costs more than the stores (test_fast_path_sets_every_field
# keeps the field lists in step; the dataclasses have no __post_init__).
_new_object = object.__new__

# Other spellings of "secureDNS" (any case: AFNIC sends "secureDns"; "ſ" folds to "s"; a
# JSON \u escape may spell any letter) are top-level keys a Struct field cannot match
# case-insensitively. When the exact key is absent or null, parse_body counts them. Both
# "s" are left out of the pattern: either may be a (UTF-8) "ſ" ("secureDNſ" casefolds to
# "securedns"; found by tests/rdap/test_properties.py).
_FOLDED_KEY = b"ecuredn"
# escapes that can spell one of its letters: ASCII letters (\u0041-\u007a) and "ſ"
_LETTER_ESCAPES = (b"\\u004", b"\\u005", b"\\u006", b"\\u007", b"\\u017f", b"\\u017F")

_MEMO_MAX = 1024  # entries per memo; cleared when full (answers are mostly alike)
_MEMO_ENTRY_MAX = 16_384  # bytes of raw JSON
_BUCKET_MAX = 8  # entries of one byte length (per key) compared before giving up
_seen_once: set[int] = set()


class _RawMemo:
    """Values computed from a member's raw JSON (plus a small key), found without hashing it.

    Entries are bucketed by ``(key, byte length)`` and a lookup compares the raw bytes
    with each entry of its bucket (a ``memcmp``, usually decided in a few bytes): copying
    and hashing a 1-2 KB member costs more (~0.2 ns a byte) than the rest of its lookup.
    Values are remembered from a member's second sighting on: members seen once
    (registrant contacts, custom nameservers) would otherwise crowd out those that repeat
    (registrar entities, DNS hosts). Members over ``_MEMO_ENTRY_MAX`` bytes are not kept,
    a full memo is emptied and a full bucket drops its oldest entry, so memory stays
    bounded (~16 MB a memo) and a lookup compares at most ``_BUCKET_MAX`` entries.
    """

    __slots__ = ("buckets", "size")

    def __init__(self) -> None:
        self.buckets: dict[Any, list[tuple[msgspec.Raw, Any]]] = {}
        self.size = 0

    def put(self, bucket_key: Any, raw: msgspec.Raw, value: Any) -> None:
        """Remember ``value`` for ``raw`` under ``bucket_key`` (which ends with its length)."""
        if len(raw) > _MEMO_ENTRY_MAX:
            return
        data = bytes(raw)  # a copy: the entry must not keep the whole answer alive
        seen = hash((bucket_key, data))
        if seen not in _seen_once:
            if len(_seen_once) >= 8 * _MEMO_MAX:
                _seen_once.clear()
            _seen_once.add(seen)
            return
        if self.size >= _MEMO_MAX:
            self.buckets.clear()
            self.size = 0
        bucket = self.buckets.setdefault(bucket_key, [])
        if len(bucket) >= _BUCKET_MAX:
            del bucket[0]
            self.size -= 1
        bucket.append((msgspec.Raw(data), value))
        self.size += 1


# One memo per member, keyed by its raw JSON (and the source tag the rows carry): entities
# repeat per registrar, nameservers per DNS host, status per registry, independently.
# Values: status -> tuple of str; nameservers -> (names, rows); redacted -> (rows, marks);
# entities (also keyed by the redaction marks) -> (rows, registrar, IANA id).
_status_memo = _RawMemo()
_ns_memo = _RawMemo()
_redacted_memo = _RawMemo()
_entities_memo = _RawMemo()


def _first_related(links: list[_Link]) -> str | None:
    """``related_links(doc)[0]`` for typed links (same rules, see :func:`related_links`)."""
    self_raw: str | None = None  # the last self link's href, cleaned only if needed
    candidates: list[str] = []
    for link in links:
        href = link.href
        if href is None:
            continue
        rel = link.rel
        if rel != "self":  # the usual link, checked before any string work
            rel = rel.strip().lower() if rel is not None else ""
            if rel != "self":
                if rel != "related":
                    continue
                href = href.strip().replace(" ", "%20")
                ltype = link.type
                if ltype is not None:
                    if ltype.split(";", 1)[0].strip().lower() != "application/rdap+json":
                        continue
                elif "/domain/" not in href.lower():
                    continue
                if href[:8].lower() == "https://" or href[:7].lower() == "http://":
                    candidates.append(href)
                continue
        self_raw = href
    if not candidates:
        return None
    self_href = self_raw.strip().replace(" ", "%20") if self_raw is not None else None
    for href in candidates:
        if href != self_href:
            return href
    return None


def _parse_typed(d: _DomainDoc, sd: _SecureDNS | None, source: str) -> DomainRecord:
    """:func:`_parse_doc` for a document that fit :class:`_DomainDoc`; ``sd`` is its
    ``secureDNS`` member, under the spelling :func:`_get_ci` would find (or None)."""
    v = d.objectClassName
    object_class = (v.strip() or None) if v.__class__ is str else _text(v)
    v = d.handle
    handle = (v.strip() or None) if v.__class__ is str else _text(v)

    events: list[EventRow] = []
    reg_date = exp_date = changed = last_update = None
    evs = d.events
    if evs:
        append = events.append
        for ev in evs:
            action = ev.eventAction
            if action is not None:
                action = action.strip() or None
            v = ev.eventDate
            date: datetime | None
            if v is None:
                date = None
            else:
                # parse_datetime inlined for the usual "...Z" / "+00:00": fromisoformat
                # rejects surrounding whitespace, so no strip() is needed to agree with it,
                # and no string under parse_datetime's 8 characters carries a zone
                try:
                    date = _fromisoformat(v)
                except ValueError:
                    date = parse_datetime(v)
                else:
                    if date.tzinfo is not UTC:
                        date = parse_datetime(v)
            actor = ev.eventActor
            if actor is not None:
                actor = actor.strip() or None
            row = _new_object(EventRow)  # EventRow(source, action, date, actor)
            row.source = source
            row.action = action
            row.date = date
            row.actor = actor
            append(row)
            if action is None or date is None:
                continue
            key = action.lower()
            if key == "registration":
                if reg_date is None:
                    reg_date = date
            elif key == "expiration":
                if exp_date is None:
                    exp_date = date
            elif key == "last changed":
                if changed is None:
                    changed = date
            elif key == "last update" and last_update is None:
                last_update = date
    if changed is None:
        changed = last_update

    # Memo lookups: for ... else computes the value when no entry matched (see _RawMemo).
    raw = d.status
    if raw is _NULL_RAW:
        status: list[str] = []
    else:
        bk: Any = len(raw)
        for cand, found in _status_memo.buckets.get(bk, ()):
            if cand == raw:
                st = found
                break
        else:
            st = tuple(_status_list(_decoder.decode(raw)))
            _status_memo.put(bk, raw, st)
        status = list(st)

    raw = d.nameservers
    if raw is _NULL_RAW:
        ns_names: list[str] = []
        ns_rows: list[NameserverRow] = []
    else:
        bk = (source, len(raw))
        for cand, found in _ns_memo.buckets.get(bk, ()):
            if cand == raw:
                ns = found
                break
        else:
            names, rows = _nameservers(_decoder.decode(raw), source)
            ns = (tuple(names), tuple(rows))
            _ns_memo.put(bk, raw, ns)
        ns_names, ns_rows = list(ns[0]), list(ns[1])

    raw = d.redacted
    marks = _NO_MARKS
    if raw is _NULL_RAW:
        redactions: list[RedactionRow] = []
    else:
        bk = (source, len(raw))
        for cand, found in _redacted_memo.buckets.get(bk, ()):
            if cand == raw:
                red = found
                break
        else:
            red_rows, marks = _redacted(_decoder.decode(raw), source)
            red = (tuple(red_rows), marks)
            _redacted_memo.put(bk, raw, red)
        redactions, marks = list(red[0]), red[1]

    raw = d.entities
    registrar = iana = None
    if raw is _NULL_RAW:
        entities: list[EntityRow] = []
    else:
        bk = (source, marks, len(raw))
        for cand, found in _entities_memo.buckets.get(bk, ()):
            if cand == raw:
                ent = found
                break
        else:
            ent_rows, registrar, iana = _entities(_decoder.decode(raw), source, marks)
            ent = (tuple(ent_rows), registrar, iana)
            _entities_memo.put(bk, raw, ent)
        entities = list(ent[0])
        registrar, iana = ent[1], ent[2]
    if iana is None and registrar:
        iana = _domain_level_iana(d.publicIds, registrar)

    if sd is None:
        dnssec = None
    else:
        dnssec = sd.delegationSigned
        if dnssec.__class__ is not bool:
            dnssec = _dnssec_value(
                {"delegationSigned": dnssec, "dsData": sd.dsData, "keyData": sd.keyData}
            )
    v = d.ldhName
    ldh = (v.strip().rstrip(".").lower() or None) if v.__class__ is str else None
    v = d.unicodeName
    uname = (v.strip().rstrip(".").lower() or None) if v.__class__ is str else None

    rec = _new_object(DomainRecord)  # every field, in declaration order
    rec.object_class = object_class
    rec.handle = handle
    rec.ldh_name = ldh
    rec.unicode_name = uname
    rec.registrar = registrar
    rec.registrar_iana_id = iana
    rec.registrar_url = _first_related(d.links) if d.links else None
    rec.registration_date = reg_date
    rec.expiration_date = exp_date
    rec.last_changed_date = changed
    rec.rdap_status = status
    rec.nameservers = ns_names
    rec.dnssec = dnssec
    rec.events = events
    rec.entities = entities
    rec.nameserver_rows = ns_rows
    rec.redactions = redactions
    rec.notices_count = len(d.notices) if d.notices is not None else 0
    rec.remarks_count = len(d.remarks) if d.remarks is not None else 0
    return rec


class _Head(msgspec.Struct, gc=False):
    objectClassName: Any = None
    ldhName: Any = None
    unicodeName: Any = None
    handle: Any = None
    errorCode: Any = None
    links: list[_Link] | None = None


_head_decoder = msgspec.json.Decoder(_Head)


def _check_object(kind: Any, ldh: Any, uname: Any, handle: Any, error_code: Any) -> None:
    """A 2xx answer must carry an object: ``{}`` or an RDAP error body is not one."""
    if kind or ldh or uname or handle:
        return
    if error_code is not None:
        raise ParseError(f"an RDAP error (errorCode {error_code!r}) answered with a 2xx status")
    raise ParseError("no RDAP object in the answer (no objectClassName, ldhName or handle)")


def referral_links(body: bytes | str) -> list[str]:
    """:func:`related_links` of a raw body, reading only its links; checks the JSON.

    What the engine needs from a fresh answer before it is normalized: is it a readable
    RDAP object, and does it refer onwards? The rest of the body is skipped in C (the
    answer is normalized once, later, on the fast path).

    Raises
    ------
    ParseError
        When :func:`decode_json` does (empty, invalid, non-object), and for an object
        that is no RDAP object (``{}``, an RDAP error body sent with a 2xx status).
    """
    try:
        head = _head_decoder.decode(body)
    except msgspec.ValidationError:
        doc = decode_json(body)  # not an object, or odd links: the tolerant way
        _check_object(doc.get("objectClassName"), doc.get("ldhName"), doc.get("unicodeName"),
                      doc.get("handle"), doc.get("errorCode"))  # fmt: skip
        return related_links(doc)
    except msgspec.DecodeError:
        decode_json(body)  # raises the ParseError decode_json would
        raise  # pragma: no cover - decode_json always raises here
    _check_object(head.objectClassName, head.ldhName, head.unicodeName, head.handle,
                  head.errorCode)  # fmt: skip
    if not head.links:
        return []
    links = [{"href": k.href, "rel": k.rel, "type": k.type} for k in head.links]
    return related_links({"links": links})


def parse_body(body: bytes | str, source: str = "registry") -> DomainRecord:
    """Decode and flatten one raw answer: ``normalize_domain(decode_json(body))``, faster.

    Bodies are decoded straight into typed structures holding only the members used;
    those the types do not fit fall back to the tolerant path, so the result is always
    what :func:`normalize_domain` gives for the decoded body (rows tagged ``source``).
    Row objects (events aside) may be shared between records: treat them as read-only.

    Parameters
    ----------
    body
        Raw response body.
    source
        ``"registry"`` or ``"registrar"``.

    Returns
    -------
    DomainRecord
        The record of this one answer (merge two with :func:`merge_records`).

    Raises
    ------
    ParseError
        Exactly when :func:`decode_json` does (empty, invalid, non-object).
    """
    if body.__class__ is bytes:
        try:
            d = _typed_decoder.decode(body)
        except msgspec.DecodeError:
            pass  # mistyped, invalid or not an object: the tolerant path says which
        else:
            sd = d.secureDNS
            if sd is not None:
                return _parse_typed(d, sd, source)
            if b"\\u" not in body or not any(e in body for e in _LETTER_ESCAPES):
                spellings = body.lower().count(_FOLDED_KEY)
                if spellings == 0:
                    return _parse_typed(d, None, source)
                if spellings == 1 and d.secureDns is not None:
                    # The one spelling is AFNIC's, at the top level: what _get_ci finds.
                    return _parse_typed(d, d.secureDns, source)
    return _parse_doc(decode_json(body), source)


def merge_records(reg: DomainRecord | None, rar: DomainRecord | None) -> DomainRecord:
    """Merge a registry record with its registrar record (see :func:`normalize_domain`).

    ``reg`` is updated in place and returned; missing records yield the other one, or an
    empty record.
    """
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
    return merge_records(reg, rar)
