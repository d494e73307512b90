"""The fast path for raw domain answers (the warm cache replay): :func:`parse_body`.

msgspec decodes only the members used into typed structs, and members that repeat
across answers (registrar entities, nameserver sets) are flattened once and memoized by
their raw bytes. A body the types do not fit takes the tolerant path
(:func:`rdaplab.rdap.domain.parse_domain_doc`) whole, so both give the same record; the
tests hold them equal on the whole corpus and on mutations of it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec

from rdaplab.rdap.decode import (
    UTC,
    TypedLink,
    as_text,
    decode_json,
    json_decoder,
    parse_datetime,
    status_list,
)
from rdaplab.rdap.domain import dnssec_value, parse_domain_doc, read_nameservers
from rdaplab.rdap.entities import domain_level_iana, read_entities
from rdaplab.rdap.records import DomainRecord, EventRow
from rdaplab.rdap.redactions import NO_MARKS, Marks, read_redacted

__all__ = ["parse_body"]

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


class _SecureDNS(msgspec.Struct, gc=False):
    # the members dnssec_value reads; an object is all it takes (no dict is built)
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
    nameServers: msgspec.Raw = _NULL_RAW  # legacy spelling, as parse_domain_doc reads it
    secureDNS: _SecureDNS | None = None  # a non-object sends the body down the tolerant path
    secureDns: _SecureDNS | None = None  # AFNIC's spelling
    redacted: msgspec.Raw = _NULL_RAW
    entities: msgspec.Raw = _NULL_RAW
    links: list[TypedLink] | None = None
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

    def lookup(
        self,
        bucket_key: Any,
        raw: msgspec.Raw,
        build: Callable[[Any, str, Marks], Any],
        source: str,
        marks: Marks,
    ) -> Any:
        """The value remembered for ``raw`` under ``bucket_key``, else
        ``build(decoded raw, source, marks)`` (remembered by :meth:`put`)."""
        for cand, found in self.buckets.get(bucket_key, ()):
            if cand == raw:
                return found
        value = build(json_decoder.decode(raw), source, marks)
        self.put(bucket_key, raw, value)
        return value


# One memo per member, keyed by its raw JSON (and the source tag the rows carry): entities
# repeat per registrar, nameservers per DNS host, status per registry, independently.
# Values: status -> tuple of str; nameservers -> (names, rows); redacted -> (rows, marks);
# entities (also keyed by the redaction marks) -> (rows, registrar, IANA id).
_status_memo = _RawMemo()
_ns_memo = _RawMemo()
_redacted_memo = _RawMemo()
_entities_memo = _RawMemo()


# What the memos hold, built from a decoded member (tuples: memoized values are shared).
def _status(value: Any, source: str, marks: Marks) -> tuple[str, ...]:
    return tuple(status_list(value))


def _nameservers(value: Any, source: str, marks: Marks) -> tuple[Any, Any]:
    names, rows = read_nameservers(value, source)
    return tuple(names), tuple(rows)


def _redacted(value: Any, source: str, marks: Marks) -> tuple[Any, Any]:
    rows, found = read_redacted(value, source)
    return tuple(rows), found


def _entities(value: Any, source: str, marks: Marks) -> tuple[Any, ...]:
    rows, registrar, iana = read_entities(value, source, marks)
    return tuple(rows), registrar, iana


# ... and stand in for an absent (null) member.
_NO_NAMESERVERS: tuple[Any, Any] = ((), ())
_NO_REDACTIONS: tuple[Any, Any] = ((), NO_MARKS)
_NO_ENTITIES: tuple[Any, ...] = ((), None, None)


def _first_related(links: list[TypedLink]) -> str | None:
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


def _typed_events(
    evs: list[_Event], source: str
) -> tuple[list[EventRow], datetime | None, datetime | None, datetime | None]:
    """(rows, registration, expiration, last changed dates) of typed ``events``, like
    :func:`parse_domain_doc` reads them."""
    events: list[EventRow] = []
    reg_date = exp_date = changed = last_update = None
    append = events.append
    for ev in evs:
        action = ev.eventAction
        if action is not None:
            action = action.strip() or None
        v = ev.eventDate
        date: datetime | None
        text: str | None = None
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
            if date is None:
                text = v.strip() or None  # read_date's text of a string
        actor = ev.eventActor
        if actor is not None:
            actor = actor.strip() or None
        row = _new_object(EventRow)  # EventRow(source, action, date, actor, date_text)
        row.source = source
        row.action = action
        row.date = date
        row.actor = actor
        row.date_text = text
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
    return events, reg_date, exp_date, changed if changed is not None else last_update


def _parse_typed(d: _DomainDoc, sd: _SecureDNS | None, source: str) -> DomainRecord:
    """:func:`parse_domain_doc` for a document that fit :class:`_DomainDoc`; ``sd`` is its
    ``secureDNS`` member, under the spelling :func:`get_ci` would find (or None)."""
    if d.events:
        events, reg_date, exp_date, changed = _typed_events(d.events, source)
    else:
        events, reg_date, exp_date, changed = [], None, None, None

    # The memoized members (see _RawMemo.lookup): tuples, copied into the record's lists.
    raw = d.status
    st: Any = (
        () if raw is _NULL_RAW else _status_memo.lookup(len(raw), raw, _status, source, NO_MARKS)
    )
    raw = d.nameservers
    if raw is _NULL_RAW or raw == _NULL_RAW:  # absent or null: the legacy spelling, if any
        raw = d.nameServers
    if raw is _NULL_RAW or raw == _NULL_RAW:
        ns: Any = _NO_NAMESERVERS
    else:
        ns = _ns_memo.lookup((source, len(raw)), raw, _nameservers, source, NO_MARKS)
    raw = d.redacted
    if raw is _NULL_RAW:
        red: Any = _NO_REDACTIONS
    else:
        red = _redacted_memo.lookup((source, len(raw)), raw, _redacted, source, NO_MARKS)
    marks = red[1]
    raw = d.entities
    if raw is _NULL_RAW:
        ent: Any = _NO_ENTITIES
    else:
        ent = _entities_memo.lookup((source, marks, len(raw)), raw, _entities, source, marks)
    registrar, iana = ent[1], ent[2]
    if iana is None and registrar:
        iana = domain_level_iana(d.publicIds, registrar)

    if sd is None:
        dnssec = None
    else:
        dnssec = sd.delegationSigned
        if dnssec.__class__ is not bool:
            dnssec = dnssec_value(
                {"delegationSigned": dnssec, "dsData": sd.dsData, "keyData": sd.keyData}
            )

    rec = _new_object(DomainRecord)  # every field, in declaration order
    v = d.objectClassName
    rec.object_class = (v.strip() or None) if v.__class__ is str else as_text(v)
    v = d.handle
    rec.handle = (v.strip() or None) if v.__class__ is str else as_text(v)
    v = d.ldhName
    rec.ldh_name = (v.strip().rstrip(".").lower() or None) if v.__class__ is str else None
    v = d.unicodeName
    rec.unicode_name = (v.strip().rstrip(".").lower() or None) if v.__class__ is str else None
    rec.registrar = registrar
    rec.registrar_iana_id = iana
    rec.registrar_url = _first_related(d.links) if d.links else None
    rec.registration_date = reg_date
    rec.registrar_registration_date = None  # merge_records sets it
    rec.expiration_date = exp_date
    rec.last_changed_date = changed
    rec.rdap_status = list(st)
    rec.nameservers = list(ns[0])
    rec.dnssec = dnssec
    rec.events = events
    rec.entities = list(ent[0])
    rec.nameserver_rows = list(ns[1])
    rec.redactions = list(red[0])
    rec.notices_count = len(d.notices) if d.notices is not None else 0
    rec.remarks_count = len(d.remarks) if d.remarks is not None else 0
    return rec


def parse_body(body: bytes | str, source: str = "registry") -> DomainRecord:
    """Decode and flatten one raw answer: ``parse_domain(decode_json(body))``, faster.

    Bodies are decoded straight into typed structures holding only the members used;
    those the types do not fit fall back to the tolerant path, so the result is always
    what :func:`parse_domain` gives for the decoded body (rows tagged ``source``).
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
                    # The one spelling is AFNIC's, at the top level: what get_ci finds.
                    return _parse_typed(d, d.secureDns, source)
    return parse_domain_doc(decode_json(body), source)
