"""Property-based tests (hypothesis) of domain normalization on RDAP-shaped JSON.

The strategies build domain answers the way real servers bend RFC 9083: members missing,
mistyped (a string where an array belongs, a number where a string does), ``secureDNS``
in any casing, jCards in many shapes (structured and ``label``-parameter addresses,
nested arrays, nulls, non-string property names), JSContact ``jscard`` members, links
with spaces, RFC 9537 ``redacted`` members; then garbage is substituted anywhere.

Properties, through the functions the pipeline calls (``rdaplab.frames``):

1. normalization never raises; a body that is no JSON object is a ``parse_error`` row;
2. the frames built always have exactly the documented schemas;
3. normalizing documents one at a time equals normalizing them together, and the typed
   path's memos (keyed by a member's raw bytes) never carry a value to another document;
4. the typed fast path equals the tolerant generic path on every generated document.

The quirks of the real samples are tested with the real files at the end of this file.
Settings are derandomized, so CI runs the same examples every time.
"""

from __future__ import annotations

import contextlib
import copy
import json
from datetime import datetime, timezone
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rdaplab._data import responses_dir
from rdaplab.frames import (
    DOMAINS_SCHEMA,
    ENTITIES_SCHEMA,
    EVENTS_SCHEMA,
    NAMESERVERS_SCHEMA,
    REDACTIONS_SCHEMA,
    build_frames,
    normalize_result,
    normalize_results,
)
from rdaplab.models import NameResult, Response
from rdaplab.rdap.decode import ParseError, decode_json
from rdaplab.rdap.domain import parse_domain, parse_domain_doc
from rdaplab.rdap.fast import parse_body
from rdaplab.rdap.objects import object_class_error
from rdaplab.rdap.records import DomainRecord

PROPS = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)

# --------------------------------------------------------------------------- strategies

short_text = st.text(max_size=10)
# msgspec encodes integers within 64 bits only; JSON has no NaN/Infinity
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    short_text,
    st.sampled_from(["", " ", "REDACTED FOR PRIVACY", "redacted@example.org", "-", "null"]),
)
garbage = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(short_text, inner, max_size=3),
    max_leaves=6,
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The well-formed value most of the time, else garbage of any type."""
    return st.one_of(strategy, strategy, strategy, garbage)


def one_or_many(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """An array as the RFC wants, a lone value where the array belongs, or null."""
    return st.one_of(
        st.lists(strategy, max_size=3), st.lists(strategy, max_size=3), strategy, st.none()
    )


labels = st.sampled_from(["example", "xn--bcher-kva", "Foo", "a-b", "ns1", "EXAMPLE"])
dns_names = st.builds(
    lambda parts, tld, dot, pad: f"{pad}{'.'.join(parts)}.{tld}{dot}{pad}",
    st.lists(labels, min_size=1, max_size=2),
    st.sampled_from(["com", "COM", "org", "xyz", "bücher"]),
    st.sampled_from(["", "."]),
    st.sampled_from(["", " "]),
)
dates = st.one_of(
    st.sampled_from(
        [
            "2020-01-02T03:04:05Z",
            "2020-01-02T03:04:05.123Z",
            "2020-01-02T03:04:05.1Z",
            "2020-01-02T03:04:05.1234567Z",
            "2020-01-02T03:04:05+0000",
            "2020-01-02T03:04:05+00:00",
            "2020-01-02T03:04:05-0530",
            "2020-01-02T03:04:05+01",
            "2020-01-02T03:04:05",
            "2020-01-02 03:04:05",
            "2020-01-02",
            " 2020-01-02T03:04:05Z ",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "2020-13-45T99:99:99Z",
            "2020W01",
            "20200102T030405Z",
            "not a date",
        ]
    ),
    st.datetimes(timezones=st.none() | st.just(timezone.utc)).map(lambda d: d.isoformat()),
    short_text,
)
actions = st.sampled_from(
    [
        "registration",
        "Registration",
        " expiration ",
        "last changed",
        "last update of RDAP database",
        "last update",
        "transfer",
        "",
    ]
)
events = st.fixed_dictionaries(
    {},
    optional={
        "eventAction": maybe(actions),
        "eventDate": maybe(dates),
        "eventActor": maybe(short_text),
    },
)
statuses = st.sampled_from(
    ["active", "clientHold", "client transfer prohibited", "serverDeleteProhibited", "OK", ""]
)

# jCard ------------------------------------------------------------------------------------
prop_names = st.one_of(
    st.sampled_from(
        [
            "fn",
            "FN",
            "org",
            "email",
            "EMAIL",
            "tel",
            "adr",
            "ADR",
            "kind",
            "version",
            "url",
            "ISO-3166-1-alpha-2",
            "contact-uri",
            "lang",
        ]
    ),
    st.integers(),
    st.none(),
    st.lists(short_text, max_size=1),
)
params = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.one_of(
                st.sampled_from(["voice", "fax", "work", "work,voice", "VOICE"]),
                st.lists(st.sampled_from(["voice", "fax", "work"]), max_size=2),
                garbage,
            ),
            "Type": st.lists(st.sampled_from(["voice", "fax"]), max_size=2),
            "cc": maybe(st.sampled_from(["NO", "us", "", "REDACTED"])),
            "CC": st.sampled_from(["FR", "de"]),
            "label": maybe(st.sampled_from(["1 Main St\nSpringfield\nUS", "PO Box 3646", ""])),
            "pref": maybe(st.just("1")),
        },
    ),
    garbage,
)
adr_components = st.one_of(short_text, st.lists(short_text, max_size=2), st.none(), garbage)
adr_values = st.one_of(
    st.lists(adr_components, min_size=7, max_size=7),  # structured, RFC 6350 order
    st.lists(adr_components, max_size=6),  # short
    st.lists(st.lists(adr_components, max_size=3), max_size=8),  # nested arrays
    st.sampled_from(["Storgata 1, Oslo", "", "REDACTED FOR PRIVACY"]),  # string adr
    st.none(),  # RIPE: the address is in the label parameter
)
prop_values = st.one_of(
    short_text,
    st.sampled_from(["tel:+1.5555551234", "fax:+1.5", "TEL: ", "Jane Doe", "x@example.org"]),
    st.lists(st.one_of(short_text, st.lists(short_text, max_size=2)), max_size=3),
    st.none(),
    garbage,
)
jcard_props = st.one_of(
    st.tuples(prop_names, params, st.sampled_from(["text", "uri", ""]), prop_values).map(list),
    st.tuples(st.just("adr"), params, st.just("text"), adr_values).map(list),
    st.lists(garbage, max_size=5),  # too short, or extra members
    garbage,
)
vcard_arrays = st.one_of(
    st.tuples(st.just("vcard"), st.lists(jcard_props, max_size=6)).map(list),
    st.lists(jcard_props, max_size=4),  # the property list without the "vcard" wrapper
    st.tuples(st.just("vcard"), st.lists(jcard_props, max_size=3), garbage).map(list),
    st.just(["vcard"]),
    garbage,
)
jscards = st.fixed_dictionaries(
    {},
    optional={
        "@type": st.sampled_from(["Card", "card"]),
        "version": st.just("1.0"),
        "kind": maybe(st.sampled_from(["individual", "org"])),
        "name": maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "full": maybe(short_text),
                    "components": st.lists(
                        st.fixed_dictionaries(
                            {"kind": st.sampled_from(["given", "surname", "title"])},
                            optional={"value": maybe(short_text)},
                        ),
                        max_size=3,
                    ),
                },
            )
        ),
        "organizations": maybe(
            st.dictionaries(
                st.sampled_from(["org", "o2"]),
                maybe(st.fixed_dictionaries({}, optional={"name": maybe(short_text)})),
                max_size=2,
            )
        ),
        "emails": maybe(
            st.dictionaries(
                st.sampled_from(["e1", "e2"]),
                maybe(st.fixed_dictionaries({}, optional={"address": maybe(short_text)})),
                max_size=2,
            )
        ),
        "phones": maybe(
            st.dictionaries(
                st.sampled_from(["p1", "p2"]),
                maybe(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "number": maybe(st.sampled_from(["tel:+1.5", "+49 30 1", ""])),
                            "features": maybe(
                                st.dictionaries(st.sampled_from(["voice", "fax"]), garbage)
                            ),
                        },
                    )
                ),
                max_size=2,
            )
        ),
        "addresses": maybe(
            st.dictionaries(
                st.sampled_from(["a1", "a2"]),
                maybe(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "countryCode": maybe(st.sampled_from(["CA", "it", ""])),
                            "full": maybe(short_text),
                            "components": st.lists(
                                st.fixed_dictionaries(
                                    {"kind": st.sampled_from(["country", "locality", "name"])},
                                    optional={"value": maybe(short_text)},
                                ),
                                max_size=3,
                            ),
                        },
                    )
                ),
                max_size=2,
            )
        ),
    },
)
roles = st.sampled_from(
    ["registrar", "Registrant", "administrative", "technical", "abuse", "billing", "reseller"]
)
remarks = one_or_many(
    maybe(
        st.fixed_dictionaries(
            {},
            optional={
                "title": maybe(st.sampled_from(["REDACTED FOR PRIVACY", "EMAIL REDACTED", "x"])),
                "type": maybe(st.sampled_from(["object redacted due to authorization", "x"])),
                "description": one_or_many(short_text),
            },
        )
    )
)
public_ids = one_or_many(
    maybe(
        st.fixed_dictionaries(
            {},
            optional={
                "type": maybe(st.sampled_from(["IANA Registrar ID", "iana", "Acme Inc."])),
                "identifier": maybe(st.sampled_from(["292", "1", ""])),
            },
        )
    )
)


def entity_strategy(nested: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    members = {
        "objectClassName": maybe(st.just("entity")),
        "handle": maybe(st.sampled_from(["292", "H1", " ", "REDACTED"])),
        "roles": one_or_many(maybe(roles)),
        "vcardArray": vcard_arrays,
        "jscard": maybe(jscards),
        "contact": maybe(jscards),
        "status": one_or_many(maybe(st.sampled_from(["removed", "active"]))),
        "remarks": remarks,
        "publicIds": public_ids,
        "entities": nested,
    }
    # most entities carry roles and a contact card: the members the parser reads
    required = ("roles", "vcardArray")
    rich = st.fixed_dictionaries(
        {k: members[k] for k in required},
        optional={k: v for k, v in members.items() if k not in required},
    )
    return st.one_of(rich, rich, st.fixed_dictionaries({}, optional=members))


def _entity_list(nested: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return one_or_many(maybe(entity_strategy(nested)))


# registrar -> abuse -> deeper: three levels are plenty (the parser stops at five)
entities = _entity_list(_entity_list(_entity_list(st.none())))
nameservers = one_or_many(
    maybe(
        st.fixed_dictionaries(
            {},
            optional={
                "objectClassName": st.just("nameserver"),
                "ldhName": maybe(dns_names),
                "unicodeName": maybe(dns_names),
                "ipAddresses": maybe(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "v4": one_or_many(maybe(st.sampled_from(["192.0.2.1", " 10.0.0.1"]))),
                            "v6": one_or_many(maybe(st.sampled_from(["2001:db8::1", ""]))),
                        },
                    )
                ),
            },
        )
    )
)
secure_dns_keys = st.sampled_from(
    [
        "secureDNS",
        "secureDNS",
        "secureDns",
        "securedns",
        "SECUREDNS",
        "ſecureDNS",
        "secureDNſ",
        "secure\u0044ns",
    ]
)
secure_dns_values = maybe(
    st.fixed_dictionaries(
        {},
        optional={
            "delegationSigned": maybe(st.sampled_from([True, False, "true", "FALSE ", "yes"])),
            "zoneSigned": st.booleans(),
            "dsData": maybe(st.lists(st.fixed_dictionaries({"keyTag": st.integers(0, 9)}))),
            "keyData": maybe(st.lists(garbage, max_size=1)),
        },
    )
)
hrefs = st.sampled_from(
    [
        "https://rdap.example/domain/a.com",
        " https://rdap.example/domain/a b.com \n",
        "http://rdap.example/rdap/domain/A.COM",
        "https://www.example/whois",
        "ftp://x/domain/y",
        "",
    ]
)
links = one_or_many(
    maybe(
        st.fixed_dictionaries(
            {},
            optional={
                "rel": maybe(st.sampled_from(["related", "self", " Related ", "alternate"])),
                "type": maybe(
                    st.sampled_from(
                        [
                            "application/rdap+json",
                            "Application/RDAP+JSON; charset=utf-8",
                            "text/html",
                        ]
                    )
                ),
                "href": maybe(hrefs),
                "value": short_text,
            },
        )
    )
)
redacted = one_or_many(
    maybe(
        st.fixed_dictionaries(
            {},
            optional={
                "name": maybe(
                    st.one_of(
                        st.fixed_dictionaries(
                            {},
                            optional={
                                "type": maybe(
                                    st.sampled_from(
                                        [
                                            "Registrant Name",
                                            "Tech Email",
                                            "Registrant Phone Ext",
                                            "Administrative Organization",
                                            "Registry Domain ID",
                                        ]
                                    )
                                ),
                                "description": maybe(short_text),
                            },
                        ),
                        short_text,
                    )
                ),
                "method": maybe(st.sampled_from(["removal", "emptyValue", "replacementValue"])),
                "prePath": maybe(
                    st.sampled_from(
                        [
                            "$.entities[?(@.roles[0]=='registrant')].vcardArray[1][?(@[0]=='fn')][3]",
                            "$.handle",
                        ]
                    )
                ),
                "postPath": maybe(short_text),
                "reason": maybe(
                    st.one_of(st.fixed_dictionaries({"description": maybe(short_text)}), short_text)
                ),
            },
        )
    )
)
notices = one_or_many(maybe(st.fixed_dictionaries({"title": maybe(short_text)})))

_DOC_MEMBERS = {
    "objectClassName": maybe(st.sampled_from(["domain", "Domain ", "entity"])),
    "ldhName": maybe(dns_names),
    "unicodeName": maybe(dns_names),
    "handle": maybe(st.sampled_from(["2138514_DOMAIN_COM-VRSN", "D1-LRMS", " "])),
    "status": one_or_many(maybe(statuses)),
    "events": one_or_many(maybe(events)),
    "entities": entities,
    "nameservers": nameservers,
    "links": links,
    "redacted": redacted,
    "notices": notices,
    "remarks": notices,
    "publicIds": public_ids,
    "errorCode": maybe(st.sampled_from([400, "400", "404"])),
    "port43": short_text,
    "rdapConformance": st.just(["rdap_level_0"]),
}
_RICH = ("objectClassName", "ldhName", "events", "entities", "nameservers", "links", "status")
_rich_docs = st.fixed_dictionaries(
    {k: _DOC_MEMBERS[k] for k in _RICH},
    optional={k: v for k, v in _DOC_MEMBERS.items() if k not in _RICH},
)
# a full answer, members mistyped or not; or any subset of the members
domain_docs = st.one_of(_rich_docs, _rich_docs, st.fixed_dictionaries({}, optional=_DOC_MEMBERS))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A domain answer, with a secureDNS member in some casing and garbage substituted."""
    # a copy: st.just/sampled_from hand out the same (mutable) objects every time
    doc: dict[str, Any] = copy.deepcopy(draw(domain_docs))
    for _ in range(draw(st.integers(0, 2))):
        doc[draw(secure_dns_keys)] = draw(secure_dns_values)
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        paths = _paths(doc)[1:]
        if not paths:
            break
        path = paths[draw(st.integers(0, len(paths) - 1))]
        parent: Any = doc
        for k in path[:-1]:
            parent = parent[k]
        parent[path[-1]] = draw(garbage)
    return doc


def encode(doc: Any, style: int) -> bytes:
    """Bytes as different servers write them: compact, pretty, ASCII-escaped."""
    if style == 0:
        return msgspec.json.encode(doc)
    if style == 1:
        return json.dumps(doc, ensure_ascii=False, indent=1).encode()
    return json.dumps(doc, ensure_ascii=True).encode()


bodies = st.builds(encode, documents(), st.integers(0, 2))
not_objects = st.one_of(
    st.builds(encode, garbage.filter(lambda v: not isinstance(v, dict)), st.integers(0, 2)),
    st.binary(max_size=20),
    st.builds(lambda b, n: b[: max(1, len(b) - n)], bodies, st.integers(1, 30)),  # truncated
    st.sampled_from([b"", b" \n", b"<html>502 Bad Gateway</html>", b"\xff\xfe{}", b"[{}]"]),
)

# --------------------------------------------------------------------------- helpers


def result(key: str, *raws: bytes, decoded: bool = False) -> NameResult:
    """A cached-looking result: the registry body, then referral bodies by depth."""
    responses = []
    for depth, raw in enumerate(raws):
        resp = Response("domain", key, depth, "u", "u", 200, {}, raw, T0, 1.0)
        if decoded:
            with contextlib.suppress(ParseError):
                resp.document = decode_json(raw)
        responses.append(resp)
    res = NameResult("domain", key, "ok", tld="test", http_status=200, fetched_at=T0)
    res.responses = responses
    return res


def is_json_object(raw: bytes) -> bool:
    try:
        decode_json(raw)
    except ParseError:
        return False
    return True


def is_domain_answer(raw: bytes) -> bool:
    """A JSON object whose objectClassName, if any, is "domain" (issue 12: an answer of
    another class is a parse_error)."""
    if not is_json_object(raw):
        return False
    return object_class_error("domain", decode_json(raw).get("objectClassName")) is None


def assert_same_as_tolerant(raw: bytes, source: str) -> DomainRecord | None:
    """parse_body (fast) agrees with the generic decode + parse_domain_doc (tolerant)."""
    try:
        want = parse_domain_doc(decode_json(raw), source)
    except ParseError as exc:
        with pytest.raises(ParseError) as got:
            parse_body(raw, source)
        assert str(got.value) == str(exc)
        return None
    # repr, not ==: it also tells a naive datetime or another tzinfo object apart
    assert repr(parse_body(raw, source)) == repr(want), raw[:400]
    assert repr(parse_body(raw, source)) == repr(want), raw[:400]  # memos warm now
    return want


# --------------------------------------------------------------------------- properties


@PROPS
@given(bodies, st.sampled_from(["registry", "registrar"]))
def test_fast_path_equals_tolerant_path(raw: bytes, source: str) -> None:
    assert_same_as_tolerant(raw, source)


@PROPS
@given(st.one_of(bodies, not_objects), st.one_of(st.none(), bodies, not_objects), st.booleans())
def test_normalization_never_raises(raw: bytes, referral: bytes | None, decoded: bool) -> None:
    raws = (raw,) if referral is None else (raw, referral)
    res = result("a.test", *raws, decoded=decoded)
    norm = normalize_result(res)
    if is_domain_answer(raw):
        assert norm.record is not None and norm.outcome == "ok" and norm.error_kind is None
        if referral is not None and not is_domain_answer(referral):
            assert norm.referral_status == "referral_failed"
    else:
        assert norm.record is None
        assert (norm.outcome, norm.error_kind) == ("error", "parse_error")
        assert norm.error_detail and norm.error_detail.startswith("registry answer")
    # the engine's other entry point: documents it already decoded give the same record
    again = normalize_result(result("a.test", *raws, decoded=not decoded))
    assert repr(again) == repr(norm)


@PROPS
@given(st.lists(st.one_of(bodies, bodies, not_objects), min_size=1, max_size=5))
def test_frames_match_schemas(raws: list[bytes]) -> None:
    results = {f"d{i}.test": result(f"d{i}.test", raw) for i, raw in enumerate(raws)}
    rows: list[tuple[object, str]] = [(k.upper(), k) for k in results] + [(None, "d0.test")]
    frames = build_frames(rows, results)
    assert frames.domains.schema == DOMAINS_SCHEMA
    assert frames.events.schema == EVENTS_SCHEMA
    assert frames.entities.schema == ENTITIES_SCHEMA
    assert frames.nameservers.schema == NAMESERVERS_SCHEMA
    assert frames.redactions.schema == REDACTIONS_SCHEMA
    assert frames.domains.height == len(rows)
    parsed = [k for k, raw in zip(results, raws, strict=True) if is_domain_answer(raw)]
    outcomes = dict(zip(frames.domains["domain"], frames.domains["outcome"], strict=False))
    assert [k for k in results if outcomes[k] == "ok"] == parsed
    # the frames hold what the tolerant parser says, row for row
    want_events = sum(
        len(parse_domain(decode_json(raw)).events) for raw in raws if is_domain_answer(raw)
    )
    assert frames.events.height == want_events


_MEMBERS = ("status", "nameservers", "redacted", "entities", "events", "links", "publicIds")


@st.composite
def related_pairs(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """Two answers sharing some members byte for byte (same registrar, same DNS host) and
    differing in others, encoded alike so the shared members have the same raw bytes."""
    one, two = draw(documents()), draw(documents())
    shared = draw(st.sets(st.sampled_from(_MEMBERS)))
    for member in shared:
        if member in one:
            two[member] = one[member]
        else:
            two.pop(member, None)
    style = draw(st.sampled_from([0, 2]))  # compact encodings: same member, same bytes
    return encode(one, style), encode(two, style)


@PROPS
@given(st.lists(related_pairs(), min_size=1, max_size=3), st.randoms(use_true_random=False))
def test_one_at_a_time_equals_together(pairs: list[tuple[bytes, bytes]], rnd: Any) -> None:
    raws = [raw for pair in pairs for raw in pair]
    sequence = raws * 3  # members are memoized from their second sighting on
    rnd.shuffle(sequence)
    for raw in sequence:  # interleaved: each document sees the memos the others filled
        assert_same_as_tolerant(raw, "registry")
    results = [result(f"d{i}.test", raw) for i, raw in enumerate(sequence)]
    together = normalize_results(results)
    for res in results:
        alone = normalize_result(res)
        assert repr(together[res.key]) == repr(alone)
        if alone.record is not None:
            assert repr(alone.record) == repr(parse_domain(decode_json(res.responses[0].body)))


@PROPS
@given(bodies, bodies)
def test_registry_and_registrar_merge_equals_tolerant_merge(reg: bytes, rar: bytes) -> None:
    norm = normalize_result(result("a.test", reg, rar))
    if not is_domain_answer(reg):
        assert norm.error_kind == "parse_error"
        return
    rar_doc = decode_json(rar) if is_domain_answer(rar) else None
    assert repr(norm.record) == repr(parse_domain(decode_json(reg), rar_doc))


@pytest.mark.parametrize(
    "raw",
    [
        # found by these properties: a raw UTF-8 "ſ" as the last letter ("secureDNſ"
        # casefolds to "securedns") escaped the fast path's count of other spellings
        '{"secureDNſ": {"delegationSigned": true}}'.encode(),
        '{"secureDNſ": {"delegationSigned": true}, "secureDns": null}'.encode(),
        '{"ſecureDNſ": {"dsData": [{"keyTag": 1}]}}'.encode(),
    ],
)
def test_found_examples(raw: bytes) -> None:
    assert assert_same_as_tolerant(raw, "registry") is not None
    assert parse_body(raw).dnssec is True


# --------------------------------------------------------------------------- jCard / JSContact


def _entity_doc(entity: dict[str, Any]) -> bytes:
    return msgspec.json.encode(
        {"objectClassName": "domain", "ldhName": "x.test", "entities": [entity]}
    )


def test_jscontact_card_without_jcard() -> None:
    card = {
        "@type": "Card",
        "version": "1.0",
        "name": {
            "components": [{"kind": "given", "value": "Jane"}, {"kind": "surname", "value": "Doe"}]
        },
        "organizations": {"org": {"name": "Example Org"}},
        "emails": {"e": {"address": "jane@example.org"}},
        "phones": {
            "f": {"number": "tel:+1.2", "features": {"fax": True}},
            "v": {"number": "tel:+1.1", "features": {"voice": True}},
        },
        "addresses": {"a": {"components": [{"kind": "country", "value": "Italy"}]}},
    }
    for member in ("jscard", "contact"):
        raw = _entity_doc({"handle": "J1", "roles": ["registrant"], member: card})
        rec = assert_same_as_tolerant(raw, "registry")
        assert rec is not None
        row = rec.entities[0]
        assert (row.name, row.organization, row.email, row.phone, row.country) == (
            "Jane Doe",
            "Example Org",
            "jane@example.org",
            "+1.1",
            "Italy",
        )
    # the jCard wins when both are served; an odd card gives empty columns, not an error
    both = _entity_doc({"vcardArray": ["vcard", [["fn", {}, "text", "V"]]], "jscard": card})
    assert parse_body(both).entities[0].name == "V"
    odd = _entity_doc({"jscard": {"name": "Plain", "phones": [{"number": 5}], "addresses": 3}})
    row = parse_body(odd).entities[0]
    assert (row.name, row.phone, row.country) == ("Plain", "5", None)


def test_label_and_structured_addresses_never_raise() -> None:
    # Addresses feed `country` and the `address` column (tests/test_entities_address.py).
    djvg = (responses_dir() / "ripe" / "entity-DJVG.json").read_bytes()  # adr null + label
    rec = assert_same_as_tolerant(_entity_doc(msgspec.json.decode(djvg)), "registry")
    assert rec is not None and rec.entities[0].country is None
    assert rec.entities[0].address  # from the label parameter
    structured = [
        "adr",
        {"label": "1 Main St\nSpringfield\nUS", "cc": "us"},
        "text",
        ["", ["Suite 1", None], ["1 Main St", "Bldg 2"], "Springfield", "", "12345", ["US"]],
    ]
    rec = assert_same_as_tolerant(_entity_doc({"vcardArray": ["vcard", [structured]]}), "registry")
    assert rec is not None and rec.entities[0].country == "us"  # the cc parameter first
    assert rec.entities[0].address == "Suite 1\n1 Main St\nBldg 2\nSpringfield\n12345\nUS"
    nested = ["adr", {}, "text", ["", "", "", "", "", "", ["Norway", ["NO"]]]]
    rec = assert_same_as_tolerant(_entity_doc({"vcardArray": ["vcard", [nested]]}), "registry")
    assert rec is not None and rec.entities[0].country == "Norway"


# --------------------------------------------------------------------------- real quirks
# The tolerant parser's handling of each quirk is tested in tests/test_normalize.py
# (test_quirk_*, test_error_detail_real_bodies); here the same real files go through the
# pipeline the batch uses: raw cached body -> normalize_results (fast path) -> frames.


def _frames_of(rel: str) -> Any:
    raw = (responses_dir() / rel).read_bytes()
    res = result("q.test", raw)
    norm = normalize_results([res])
    return build_frames([("q.test", "q.test")], {"q.test": res}, norm)


def test_real_quirk_plus0000_dates() -> None:  # markmonitor: "+0000" offsets
    dom = _frames_of("markmonitor/abc.xyz.json").domains.row(0, named=True)
    assert dom["expiration_date"] == datetime(2025, 3, 20, 7, tzinfo=timezone.utc)


def test_real_quirk_zone_less_dates() -> None:  # namecheap: dates without a zone are UTC
    dom = _frames_of("namecheap/deep.surf.json").domains.row(0, named=True)
    assert dom["registration_date"] == datetime(2020, 7, 1, 14, 5, 58, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "rel", ["comlaude/amazon.ooo.json", "comlaude/amazon.cyou.json", "zdns/bitcoin.top.json"]
)
def test_real_quirk_trailing_dots(rel: str) -> None:
    raw = (responses_dir() / rel).read_bytes()
    assert b'."' in raw  # the quirk is really in the file
    frames = _frames_of(rel)
    names = frames.nameservers["nameserver"].to_list() + frames.domains["nameservers"][0].to_list()
    assert names and not any(n.endswith(".") for n in names)


def test_real_quirk_secure_dns_casing() -> None:  # afnic: "secureDns"
    assert _frames_of("afnic/afnic.fr.json").domains["dnssec"].to_list() == [True]


def test_real_quirk_spaces_in_links() -> None:
    # afrinic: a self link whose href has unescaped spaces; nothing to follow, no error.
    # The answer is an "ip network": looked up as one (as a domain it is a parse_error).
    raw = (responses_dir() / "afrinic/ip-196.216.2.1.json").read_bytes()
    key = "ip/196.216.2.1"
    res = NameResult("ip", key, "ok", http_status=200, fetched_at=T0, query="196.216.2.1")
    res.responses = [Response("ip", "196.216.2.1", 0, "u", "u", 200, {}, raw, T0, 1.0)]
    frames = build_frames([("196.216.2.1", key)], {key: res}, normalize_results([res]))
    assert frames.networks["outcome"].to_list() == ["ok"]
    assert frames.links.filter(frames.links["href"].str.contains(" ")).height >= 1
    assert _frames_of("afrinic/ip-196.216.2.1.json").domains["error_kind"].to_list() == [
        "parse_error"
    ]
    doc = decode_json(raw)
    assert any(" " in link["href"] for link in doc["links"])


@pytest.mark.parametrize("rel", ["ripe/ip-62.239.237.1.json", "ripe/ip-2a00_2381_ffff__1.json"])
def test_real_quirk_missing_object_class_name(rel: str) -> None:
    raw = (responses_dir() / rel).read_bytes()
    assert '"objectClassName"' not in raw.decode()[:200]  # not at the top level
    frames = _frames_of(rel)
    assert frames.domains["outcome"].to_list() == ["ok"]
    assert frames.domains["handle"][0]  # the object still parsed


def test_real_quirk_string_error_code() -> None:
    # apnic serves errorCode "400" as a string; error_detail's reading of it is tested in
    # test_normalize.py::test_error_detail_real_bodies. Stored with a 200 status it is no
    # domain answer, yet normalizing it never raises.
    raw = (responses_dir() / "apnic/error-400-entity-HH11825JP.json").read_bytes()
    assert decode_json(raw)["errorCode"] == "400"
    assert assert_same_as_tolerant(raw, "registry") is not None
    assert _frames_of("apnic/error-400-entity-HH11825JP.json").domains.height == 1
