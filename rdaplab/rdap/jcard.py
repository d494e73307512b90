"""Readers of entity contact cards: jCard (RFC 7095 ``vcardArray``) and JSContact
(RFC 9553, draft-ietf-regext-rdap-jscontact).

Pure functions only, tolerant of the quirks real servers send: capitalised property and
parameter names (Namecheap), ``null`` values (RIPE), short or string ``adr`` values
(Namecheap sends 4-5 components, AFRINIC fills them out of order), addresses only in the
``label`` parameter (RIPE, APNIC; ARIN escapes its newlines as a literal ``\\n``).

:func:`read_vcard` and :func:`read_jscard` give what the normalized entity rows hold;
:func:`entity_kind`, :func:`vcard_text` and :func:`has_card` are what
:mod:`rdaplab.rdap.pii` reads to decide who is an individual.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from rdaplab.rdap.decode import as_list, as_text, get_ci

__all__ = [
    "JSCONTACT_MEMBERS",
    "Card",
    "entity_kind",
    "has_card",
    "jscontact_card",
    "read_jscard",
    "read_vcard",
    "vcard_properties",
    "vcard_text",
]


def _jtext(value: object) -> str | None:
    """A jCard text value; structured (array) values are joined with ", "."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, list):
        parts = [v.strip() for v in value if isinstance(v, str) and v.strip()]
        return ", ".join(parts) or None
    return as_text(value)


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
            label = get_ci(params, "label")
        _address_lines(label, lines)
    return "\n".join(lines) if lines else None


def _has_digit(text: str) -> bool:
    return any(c.isdigit() for c in text)


def _adr_country(value: list[Any]) -> str | None:
    """The country name of a structured ``adr`` value of 7 or more components.

    RFC 6350 puts it at index 6. Some servers send 8 components, one more before the
    country (the postal code then at 6, the country at 7): with exactly 8, when item 6 is
    empty or holds a digit (a postal code; no country name has one) and item 7 is text
    without digits, item 7 is the country. Longer values (RFC 9554 appends room, floor,
    ... after the country) keep index 6.
    """
    country = _jtext(value[6])
    if len(value) == 8 and (country is None or _has_digit(country)):
        last = _jtext(value[7])
        if last is not None and not _has_digit(last):
            return last
        return None  # a postal code is no country
    return country


def _param_types(params: object) -> str:
    """The jCard ``type`` parameter as one lowercase string ("work,voice")."""
    if not isinstance(params, dict) or not params:
        return ""
    t = params.get("type")
    if t is None:
        t = get_ci(params, "type")  # Namecheap sends "Type"
    if isinstance(t, str):
        return t.lower()
    if isinstance(t, list):
        return ",".join(x for x in t if isinstance(x, str)).lower()
    return ""


# (name, organization, email, phone, country, kind (lowercased), postal address)
Card = tuple[str | None, str | None, str | None, str | None, str | None, str | None, str | None]
_NO_CARD: Card = (None, None, None, None, None, None, None)


def read_vcard(vcard: object) -> Card:
    """(name, organization, email, phone, country, kind, address) from a jCard
    ``vcardArray``, in one pass over the card.

    Phone prefers a ``voice`` tel (``tel:`` URI prefix removed), else the first non-fax
    tel. Country is a code when served (``cc`` parameter of ``adr`` or the
    ``ISO-3166-1-alpha-2`` property), else the ``adr`` country-name as served. Kind is the
    ``kind`` property, lowercased; the address the first ``adr`` with any text (see
    :func:`_adr_text`), else a ``label`` property's text.
    """
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
                cc = as_text(get_ci(params, "cc"))
            if country_name is None and isinstance(value, list) and len(value) >= 7:
                country_name = _adr_country(value)
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
JSCONTACT_MEMBERS = ("jscontact_card", "jscard", "contact")


def _js_items(value: object) -> list[dict[str, Any]]:
    """The objects of a JSContact map (``{"id": {...}}``); an array of them is tolerated."""
    if isinstance(value, dict):
        value = list(value.values())
    return [v for v in as_list(value) if isinstance(v, dict)]


def read_jscard(card: object) -> Card:
    """(name, organization, email, phone, country, kind, address) from a JSContact card,
    like :func:`read_vcard`.

    Name is ``name.full``, else the ``name.components`` values joined; phone prefers one
    with the ``voice`` feature and skips fax-only numbers; country is an address's
    ``countryCode``, else its ``country`` component; kind is the card's ``kind`` (RFC 9553
    §2.1.4), lowercased.
    """
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
        kinds = {f.lower() for f in as_list(features) if isinstance(f, str)}
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
        for c in as_list(comps):
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


# --------------------------------------------------------------------------- whole entities


def jscontact_card(node: Mapping[str, Any]) -> dict[str, Any] | None:
    """The entity's JSContact card, whichever of :data:`JSCONTACT_MEMBERS` holds it."""
    for member in JSCONTACT_MEMBERS:
        card = node.get(member)
        if isinstance(card, dict):
            return card
    return None


def has_card(node: Mapping[str, Any]) -> bool:
    """Whether an object carries a contact card (a ``vcardArray`` or a JSContact card)."""
    return "vcardArray" in node or jscontact_card(node) is not None


def vcard_properties(ent: Mapping[str, Any]) -> list[Any] | None:
    """The property list of an entity's well-formed ``vcardArray`` (``["vcard", [...]]``)."""
    vcard = ent.get("vcardArray")
    if isinstance(vcard, list) and len(vcard) > 1 and isinstance(vcard[1], list):
        return vcard[1]
    return None


def _values_of(props: list[Any], wanted: str) -> Iterator[Any]:
    """The values of the properties named ``wanted`` (lowercase; names compared
    case-insensitively), in order."""
    for prop in props:
        if (
            isinstance(prop, list)
            and len(prop) >= 4
            and isinstance(prop[0], str)
            and prop[0].lower() == wanted
        ):
            yield prop[3]


def vcard_text(props: list[Any], wanted: str) -> str | None:
    """The first text value (as served, not stripped; an array joined with ", ") of a
    property named ``wanted``."""
    for value in _values_of(props, wanted):
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            return ", ".join(v for v in value if isinstance(v, str)) or None
    return None


def entity_kind(ent: Mapping[str, Any]) -> str | None:
    """An entity's ``kind``, lowercased: the first jCard ``kind`` text, else the JSContact
    card's."""
    props = vcard_properties(ent)
    if props is not None:
        for value in _values_of(props, "kind"):
            if isinstance(value, str):
                return value.strip().lower() or None
    card = jscontact_card(ent)
    if isinstance(card, dict) and isinstance(card.get("kind"), str):
        return str(card["kind"]).strip().lower() or None
    return None
