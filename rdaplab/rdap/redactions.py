"""Withheld contact data: RFC 9537 ``redacted`` members and redaction placeholders.

Pure functions only. :func:`read_redacted` reads a ``redacted`` member into rows and the
(role, field) pairs they cover, by the entry's name ("Registrant Email", ...) or its
JSONPath; :func:`is_placeholder` tells a value such as ``"REDACTED FOR PRIVACY"`` from
real data.
"""

from __future__ import annotations

from rdaplab.rdap.decode import as_list, as_text
from rdaplab.rdap.records import RedactionRow

__all__ = ["NO_MARKS", "PLACEHOLDER_FIRST", "is_placeholder", "read_redacted"]

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
PLACEHOLDER_FIRST = frozenset(
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
    if value[0] not in PLACEHOLDER_FIRST:  # cheap reject: most values are real data
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
    for item in as_list(value):
        if not isinstance(item, dict):
            continue
        name = item.get("name")
        reason = item.get("reason")
        if isinstance(name, dict):
            name_text = as_text(name.get("type")) or as_text(name.get("description"))
        else:
            name_text = as_text(name)
        if isinstance(reason, dict):
            reason_text = as_text(reason.get("description")) or as_text(reason.get("type"))
        else:
            reason_text = as_text(reason)
        path = (
            as_text(item.get("prePath"))
            or as_text(item.get("postPath"))
            or as_text(item.get("replacementPath"))
        )
        rows.append(RedactionRow(source, name_text, as_text(item.get("method")), path, reason_text))
    return rows


NO_MARKS: frozenset[tuple[str, str]] = frozenset()


def read_redacted(
    value: object, source: str
) -> tuple[list[RedactionRow], frozenset[tuple[str, str]]]:
    """(rows, the (role, field) pairs they cover) of a ``redacted`` member."""
    rows = _redactions(value, source)
    marks = set()
    for r in rows:
        target = _redaction_target(r.name, r.path)
        if target is not None:
            marks.add(target)
    return rows, frozenset(marks) if marks else NO_MARKS
