"""Withheld contact data: RFC 9537 ``redacted`` members and redaction placeholders.

Pure functions only. :func:`read_redacted` reads a ``redacted`` member into rows and the
marks that say which entity fields they cover: a :class:`PathMark` for an entry with a
JSONPath (RFC 9535, evaluated by ``python-jsonpath`` against the answer's entities in
:func:`resolve_marks`, so wildcards and descendant paths such as
``$..entities[*].vcardArray[1][?(@[0]=='email')]`` select the entities they name), and a
(role, field) pair for an entry known by its name only ("Registrant Email", ...).
:func:`is_placeholder` tells a value such as ``"REDACTED FOR PRIVACY"`` from real data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:  # python-jsonpath loads with the first JSONPath redaction (~40 ms)
    from jsonpath import JSONPathMatch

from rdaplab.rdap.decode import as_list, as_text
from rdaplab.rdap.records import RedactionRow

__all__ = [
    "NO_MARKS",
    "PLACEHOLDER_FIRST",
    "Marks",
    "PathMark",
    "is_placeholder",
    "read_redacted",
    "resolve_marks",
]

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


def _redactions(value: object, source: str) -> list[tuple[RedactionRow, dict[str, Any]]]:
    rows: list[tuple[RedactionRow, dict[str, Any]]] = []
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
        row = RedactionRow(source, name_text, as_text(item.get("method")), path, reason_text)
        rows.append((row, item))
    return rows


# --------------------------------------------------------------------------- JSONPath marks


@dataclass(frozen=True, slots=True)
class PathMark:
    """An RFC 9537 entry whose JSONPath is evaluated against the answer's entities.

    ``paths`` are the entry's paths that parse, the ones into the answer as served first
    (``postPath``, ``replacementPath``, then ``prePath``, which points into the answer
    before redaction); ``removal`` is its method; ``field`` the contact field its name
    gives, if any; ``fallback`` the (role, field) pair its name (and the path's words)
    give, applied by role when no path selects an entity.
    """

    paths: tuple[str, ...]
    removal: bool
    field: str | None
    fallback: tuple[str, str] | None


Mark = tuple[str, str] | PathMark
Marks = frozenset[Mark]

NO_MARKS: Marks = frozenset()

_PATH_MEMBERS = ("postPath", "replacementPath", "prePath")


@lru_cache(maxsize=512)
def _compiled(path: str) -> Any:
    """The compiled JSONPath, or None when python-jsonpath cannot parse it (RFC 9537 lets
    a server send paths in other languages; tolerant parsing never raises on them)."""
    import jsonpath
    from jsonpath import JSONPath

    try:
        compiled = jsonpath.compile(path)
    except Exception:  # JSONPathSyntaxError and friends: the path is ignored
        return None
    segments = getattr(compiled, "segments", None)
    if not isinstance(compiled, JSONPath) or not isinstance(segments, tuple):
        return None  # a union of paths ("$.a | $.b"): not a redaction path
    if compiled.pseudo_root:
        return None  # python-jsonpath's "^" extension: no RFC 9535 path
    return compiled


@lru_cache(maxsize=512)
def _segment_keys(path: str) -> tuple[str, ...]:
    """The canonical text of each segment of a compiled path (keys of shared prefixes)."""
    return tuple(str(seg) for seg in _compiled(path).segments)


# Matches of path prefixes in one root, by the prefix's segment texts: entries of one
# redacted member share most of their prefixes ($.entities[?(...)].vcardArray[1]).
_Levels: TypeAlias = "dict[tuple[str, ...], list[JSONPathMatch]]"


def _levels(path: str, root: Any, memo: _Levels) -> list[list[JSONPathMatch]]:
    """The matches of every prefix of ``path`` in ``root``, shortest first ([root] first):
    the library's own evaluation (``JSONPath.finditer``), one segment at a time, so that
    the prefixes a removal is cut back to cost nothing more."""
    from jsonpath import JSONPathMatch

    compiled = _compiled(path)
    keys = _segment_keys(path)
    matches = memo.get(())
    if matches is None:
        start = JSONPathMatch(filter_context={}, obj=root, parent=None,
                              path=compiled.env.root_token, parts=(), root=root)  # fmt: skip
        matches = memo[()] = [start]
    levels = [matches]
    for k, segment in enumerate(compiled.segments, 1):
        got = memo.get(keys[:k])
        if got is None:
            try:
                got = list(segment.resolve(matches)) if matches else []
            except Exception:  # a filter the library cannot evaluate on this data
                got = []
            memo[keys[:k]] = got
        matches = got
        levels.append(matches)
    return levels


def _entity_at(
    root: Any, parts: tuple[Any, ...], self_entity: bool
) -> tuple[dict[str, Any] | None, tuple[Any, ...]]:
    """(the innermost entity on the way to ``parts``, the rest of ``parts`` below it).

    Entities are the objects reached from the root by ``entities[i]`` steps (nested
    entities included); ``root`` itself is one when ``self_entity`` (an entity answer).
    """
    ent: dict[str, Any] | None = root if self_entity and isinstance(root, dict) else None
    node = root
    k = 0
    while k + 1 < len(parts) and parts[k] == "entities" and isinstance(parts[k + 1], int):
        lst = node.get("entities") if isinstance(node, dict) else None
        if not isinstance(lst, list) or not 0 <= parts[k + 1] < len(lst):
            break
        node = lst[parts[k + 1]]
        if not isinstance(node, dict):
            break
        ent = node
        k += 2
    return ent, parts[k:]


_VCARD_FIELDS = {
    "fn": "name",
    "org": "organization",
    "email": "email",
    "e-mail": "email",
    "tel": "phone",
    "adr": "address",
    "label": "address",
    "iso-3166-1-alpha-2": "country",
}
_JSCONTACT_FIELDS = {
    "name": "name",
    "organizations": "organization",
    "emails": "email",
    "phones": "phone",
    "addresses": "address",
}


def _located_field(ent: Mapping[str, Any], rest: tuple[Any, ...]) -> str | None:
    """The contact field at ``rest`` below an entity (``vcardArray[1][i]...``, a JSContact
    member), from the property the location falls in."""
    if len(rest) >= 3 and rest[0] == "vcardArray" and rest[1] == 1 and isinstance(rest[2], int):
        vcard = ent.get("vcardArray")
        props = vcard[1] if isinstance(vcard, list) and len(vcard) > 1 else None
        if not isinstance(props, list) or not 0 <= rest[2] < len(props):
            return None
        prop = props[rest[2]]
        if not isinstance(prop, list) or not prop or not isinstance(prop[0], str):
            return None
        field = _VCARD_FIELDS.get(prop[0].lower())
        tail = rest[3:]
        if field == "address" and prop[0].lower() == "adr" and tail[:2] in ((3, 6), (1, "cc")):
            return "country"
        return field
    if len(rest) >= 2 and rest[0] in ("jscontact_card", "jscard", "contact"):
        if rest[1] == "addresses" and any(p in ("countryCode", "country") for p in rest):
            return "country"
        return _JSCONTACT_FIELDS.get(rest[1]) if isinstance(rest[1], str) else None
    return None


def _path_flags(
    mark: PathMark, root: Any, self_entity: bool, memo: _Levels
) -> list[tuple[dict[str, Any], str]] | None:
    """(entity, field) pairs a path entry covers in ``root``, or None when none of its
    paths selects an entity (the caller then falls back to the entry's name).

    A path that selects members in the answer (``postPath``: ``emptyValue``,
    ``partialValue``, ``replacementValue``) flags the entities they belong to, with the
    field of each member. A removed member is not in the answer: its ``prePath`` is cut
    back, one segment at a time, until it selects something, and the entities so selected
    are flagged -- less those where the whole path still selects the member (for a
    removal, a member still served was not removed).
    """
    for path in mark.paths:
        levels = _levels(path, root, memo)
        textual = _path_field(path.replace('"', "'").casefold())
        full: list[tuple[dict[str, Any], str]] = []
        for match in levels[-1]:
            ent, rest = _entity_at(root, tuple(match.parts), self_entity)
            if ent is None:
                continue
            field = mark.field or _located_field(ent, rest) or textual
            if field is not None:
                full.append((ent, field))
        if full and not mark.removal:
            return full
        field = mark.field or textual
        if field is None:
            continue
        for found in reversed(levels[1:-1]):  # the longest prefix that selects anything
            if not found:
                continue
            served = {id(ent) for ent, _ in full}
            out: list[tuple[dict[str, Any], str]] = []
            seen: set[int] = set()
            for match in found:
                ent, _ = _entity_at(root, tuple(match.parts), self_entity)
                if ent is not None and id(ent) not in seen and id(ent) not in served:
                    seen.add(id(ent))
                    out.append((ent, field))
            if out or served:
                return out
            break  # the first prefix that selects anything selects no entity
    return None


def resolve_marks(
    marks: Iterable[Mark], root: Any, self_entity: bool = False
) -> tuple[frozenset[tuple[str, str]], dict[int, set[str]]]:
    """(role marks, fields flagged per entity ``id``) of ``marks`` in ``root``.

    Parameters
    ----------
    marks
        From :func:`read_redacted`.
    root
        What the paths are evaluated against: ``{"entities": [...]}`` built from an
        answer's ``entities`` member, or the entity itself for an entity answer.
    self_entity
        ``root`` is an entity (``$`` is the entity: RIPE's ``$.vcardArray[1][...]``).
    """
    roles: set[tuple[str, str]] = set()
    flags: dict[int, set[str]] = {}
    memo: _Levels = {}
    for mark in marks:
        if not isinstance(mark, PathMark):
            roles.add(mark)
            continue
        found = _path_flags(mark, root, self_entity, memo)
        if found is None:
            if mark.fallback is not None:
                roles.add(mark.fallback)
            continue
        for ent, field in found:
            flags.setdefault(id(ent), set()).add(field)
    return frozenset(roles), flags


def read_redacted(value: object, source: str) -> tuple[list[RedactionRow], Marks]:
    """(rows, the marks they set) of a ``redacted`` member.

    An entry with a path python-jsonpath parses gives a :class:`PathMark` (resolved against
    the entities by :func:`resolve_marks`); one without (no path, one that does not parse,
    or a ``pathLang`` other than ``jsonpath``, the RFC's default) gives the (role, field)
    pair its name and path words name, as RFC 9537 allows (``name.type`` alone identifies
    a registered redaction).
    """
    items = _redactions(value, source)
    rows = [row for row, _ in items]
    marks: set[Mark] = set()
    for row, item in items:
        paths = []
        lang = as_text(item.get("pathLang"))
        for member in _PATH_MEMBERS if lang is None or lang.casefold() == "jsonpath" else ():
            text = as_text(item.get(member))
            if text is not None and text not in paths and _compiled(text) is not None:
                paths.append(text)
        target = _redaction_target(row.name, row.path)
        if paths:
            fld = _redaction_field(row.name.casefold()) if row.name else None
            method = (row.method or "").casefold()
            # RFC 9537: "removal" is the default method
            removal = method in ("", "removal")
            marks.add(PathMark(tuple(paths), removal, fld, target))
        elif target is not None:
            marks.add(target)
    return rows, frozenset(marks) if marks else NO_MARKS
