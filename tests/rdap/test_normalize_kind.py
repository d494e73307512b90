"""The jCard/JSContact ``kind`` of entities (EntityRow.kind), on both normalization paths."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from rdaplab._data import responses_dir
from rdaplab.rdap.decode import ParseError, decode_json
from rdaplab.rdap.domain import parse_domain_doc
from rdaplab.rdap.fast import _entities_memo, parse_body
from rdaplab.rdap.pii import entity_kinds
from rdaplab.rdap.records import DomainRecord, EntityRow

ALL_FILES = sorted(responses_dir().glob("*/*.json"))
ARIN_REV = "arin/domain-152.112.149.in-addr.arpa.json"


def both_paths(body: bytes, source: str = "registry") -> DomainRecord:
    """The record of the fast path, after checking that the tolerant path agrees."""
    fast = parse_body(body, source)
    assert fast == parse_domain_doc(decode_json(body), source)
    return fast


def kinds_of(rec: DomainRecord) -> dict[tuple[str | None, str | None], str | None]:
    return {(e.handle, e.role): e.kind for e in rec.entities}


def test_kind_and_later_fields_come_last_with_defaults() -> None:
    names = [f.name for f in dataclasses.fields(EntityRow)]
    assert names[-4:] == ["kind", "address", "address_redacted", "privacy_proxy"]
    # positional constructions written before the fields existed still work
    row = EntityRow("registry", "H1", "registrant", None, "Jane", None, None, None, None)
    assert row.kind is None and row.country_redacted is False
    assert row.address is None and row.address_redacted is False and not row.privacy_proxy


def test_kinds_of_a_real_arin_answer() -> None:
    rec = both_paths((responses_dir() / ARIN_REV).read_bytes())
    kinds = kinds_of(rec)
    assert kinds[("FFH1-ARIN", "dns")] == "individual"  # nested under the registrant org
    assert kinds[("KLANG2-ARIN", "routing")] == "group"
    assert {kinds[k] for k in kinds if k[0] == "ARINL"} <= {"org"}
    # every role row of one entity carries its kind
    assert {e.kind for e in rec.entities if e.handle == "FFH1-ARIN"} == {"individual"}


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_served_kind_reaches_the_rows(path: Any) -> None:
    raw = path.read_bytes()
    try:
        rec = both_paths(raw)
    except ParseError:
        return
    served = entity_kinds(json.loads(raw))  # handle -> kind, an independent reader
    rows = {e.handle: e.kind for e in rec.entities if e.handle in served}
    for handle, kind in rows.items():
        assert kind == served[handle], (handle, kind, served[handle])


def test_the_corpus_has_kinds_of_each_sort() -> None:
    kinds: set[str | None] = set()
    for path in ALL_FILES:
        try:
            kinds |= {e.kind for e in parse_body(path.read_bytes()).entities}
        except ParseError:
            continue
    assert {"individual", "org", "group", None} <= kinds


def _domain(*entities: dict[str, Any]) -> bytes:
    return json.dumps(
        {"objectClassName": "domain", "ldhName": "example.com", "entities": list(entities)}
    ).encode()


def _jcard(*props: list[Any]) -> dict[str, Any]:
    return {"vcardArray": ["vcard", [["version", {}, "text", "4.0"], *props]]}


@pytest.mark.parametrize(
    ("prop", "kind"),
    [
        (["kind", {}, "text", "individual"], "individual"),
        (["kind", {}, "text", " ORG "], "org"),  # stripped and lowercased
        (["KIND", {}, "text", "Group"], "group"),  # property names are case-insensitive
        (["kind", {}, "text", "location"], "location"),
        (["kind", {}, "text", "x-robot"], "x-robot"),  # whatever the server sent
        (["kind", {}, "text", ["org"]], "org"),  # a structured value, joined
        (["kind", {}, "text", ""], None),
        (["kind", {}, "text", None], None),  # RIPE-style null value
        (["kind", {}, "text", 7], "7"),
        (["fn", {}, "text", "No Kind"], None),
    ],
)
def test_jcard_kind_values(prop: list[Any], kind: str | None) -> None:
    ent = {"handle": "E1", "roles": ["registrant"], **_jcard(prop)}
    rec = both_paths(_domain(ent))
    assert [e.kind for e in rec.entities] == [kind]


def test_first_kind_wins_and_roles_share_it() -> None:
    ent = {
        "handle": "E1",
        "roles": ["administrative", "technical"],
        **_jcard(["kind", {}, "text", "org"], ["kind", {}, "text", "individual"]),
    }
    rec = both_paths(_domain(ent))
    assert [(e.role, e.kind) for e in rec.entities] == [
        ("administrative", "org"),
        ("technical", "org"),
    ]


@pytest.mark.parametrize("member", ["jscontact_card", "jscard", "contact"])
def test_jscontact_kind(member: str) -> None:
    card = {"@type": "Card", "version": "1.0", "kind": "Org", "name": {"full": "ACME"}}
    ent = {"handle": "J1", "roles": ["registrant"], member: card}
    rec = both_paths(_domain(ent))
    (row,) = rec.entities
    assert (row.name, row.kind) == ("ACME", "org")


def test_jcard_wins_over_jscontact_and_a_kindless_card_is_none() -> None:
    both = {
        "handle": "B1",
        "roles": ["registrant"],
        **_jcard(["fn", {}, "text", "Jane Doe"], ["kind", {}, "text", "individual"]),
        "jscontact_card": {"kind": "org", "name": {"full": "ACME"}},
    }
    kindless = {"handle": "K1", "roles": ["technical"], "jscard": {"name": {"full": "Bo"}}}
    rec = both_paths(_domain(both, kindless))
    assert [(e.name, e.kind) for e in rec.entities] == [("Jane Doe", "individual"), ("Bo", None)]


def test_nested_entities_keep_their_own_kind() -> None:
    abuse = {"roles": ["abuse"], **_jcard(["kind", {}, "text", "group"])}
    registrar = {
        "handle": "R1",
        "roles": ["registrar"],
        **_jcard(["fn", {}, "text", "Registrar Inc."], ["kind", {}, "text", "org"]),
        "entities": [abuse],
    }
    rec = both_paths(_domain(registrar))
    assert [(e.role, e.parent_handle, e.kind) for e in rec.entities] == [
        ("registrar", None, "org"),
        ("abuse", "R1", "group"),
    ]


def test_the_fast_path_memo_keeps_kinds_apart() -> None:
    # Two entities members of the same byte length (one memo bucket) that differ only in
    # their kind: each sighting, memoized or not, must give its own kind.
    _entities_memo.buckets.clear()
    _entities_memo.size = 0
    org = _domain({"handle": "M1", "roles": ["registrant"], **_jcard(["kind", {}, "text", "org"])})
    ind = org.replace(b'"org"', b'"ind"')
    assert len(org) == len(ind) and org != ind
    for _ in range(4):  # remembered from the second sighting on
        assert [e.kind for e in parse_body(org).entities] == ["org"]
        assert [e.kind for e in parse_body(ind).entities] == ["ind"]
    assert _entities_memo.size == 2  # both were memoized, side by side
    # memoized rows are shared between records: they still compare equal to fresh ones
    assert parse_body(org) == parse_domain_doc(decode_json(org), "registry")
