"""Query kinds (rdaplab.rdap.kinds), IP network / autnum parsing (rdaplab.rdap.objects) and
their frames (rdaplab.frames.objects)."""

from __future__ import annotations

import copy
import ipaddress
import json
import random
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from rdaplab._data import responses_dir
from rdaplab.frames.objects import (
    AUTNUM_OBJECT_COLUMNS,
    AUTNUMS_SCHEMA,
    NETWORK_OBJECT_COLUMNS,
    NETWORKS_SCHEMA,
    autnums_frame,
    networks_frame,
)
from rdaplab.rdap.kinds import Query, detect_kind, normalize_queries, normalize_query
from rdaplab.rdap.objects import RIRS, parse_autnum, parse_network, parse_object, rir_from_host

UTC = timezone.utc
RESPONSES = responses_dir()
# The APNIC history file is an rdap-history "records" answer, not an ip network object.
IP_FILES = sorted(p for p in RESPONSES.glob("*/ip-*.json") if "history" not in p.name)
AUTNUM_FILES = sorted(RESPONSES.glob("*/autnum-*.json"))
DIR_RIR = {
    "arin": "arin",
    "ripe": "ripe",
    "apnic": "apnic",
    "lacnic": "lacnic",
    "afrinic": "afrinic",
    "registro-br": "lacnic",
}


def load(rel: str) -> dict[str, Any]:
    return json.loads((RESPONSES / rel).read_text(encoding="utf-8"))


def dt(s: str) -> datetime:
    return datetime.fromisoformat(s).astimezone(UTC)


# --------------------------------------------------------------------------- kinds


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("192.0.2.1", "ip"),
        ("  192.0.2.1 ", "ip"),
        ("010.0.0.1", "ip"),  # invalid, but IP-shaped: never a domain
        ("1.2.3", "ip"),
        ("192.0.2.0/24", "ip"),
        ("192.0.2.0/33", "ip"),
        ("2001:db8::1", "ip"),
        ("::ffff:192.0.2.1", "ip"),
        ("fe80::1%eth0", "ip"),
        ("AS15169", "asn"),
        ("as15169", "asn"),
        ("15169", "asn"),
        ("AS0", "asn"),
        ("AS4294967296", "asn"),
        ("AS1.10", "asn"),
        (15169, "asn"),
        ("example.com", "domain"),
        ("bücher.de", "domain"),
        ("xn--bcher-kva.de", "domain"),
        ("1.1.1.in-addr.arpa", "domain"),
        ("GOGL-ARIN", "domain"),  # auto never guesses entity
        ("ns1.example.com", "domain"),  # ... nor nameserver
        ("AS-FOO", "domain"),  # an as-set name, not a number
        (None, "domain"),
        (True, "domain"),
        (1.5, "domain"),
    ],
)
def test_detect_kind(value: object, kind: str) -> None:
    assert detect_kind(value) == kind
    assert normalize_query(value).kind == kind


@pytest.mark.parametrize(
    ("value", "query", "path"),
    [
        ("192.0.2.1", "192.0.2.1", "ip/192.0.2.1"),
        (" 2001:DB8:0:0::1 ", "2001:db8::1", "ip/2001:db8::1"),
        ("2001:0db8::/32", "2001:db8::/32", "ip/2001:db8::/32"),
        ("2001:db8::1/32", "2001:db8::/32", "ip/2001:db8::/32"),  # host bits cleared
        ("192.0.2.7/24", "192.0.2.0/24", "ip/192.0.2.0/24"),
        ("192.0.2.1/32", "192.0.2.1/32", "ip/192.0.2.1/32"),
        ("0.0.0.0/0", "0.0.0.0/0", "ip/0.0.0.0/0"),
        ("::ffff:192.0.2.1", "192.0.2.1", "ip/192.0.2.1"),  # IPv4-mapped -> IPv4
        ("::ffff:192.0.2.0/120", "192.0.2.0/24", "ip/192.0.2.0/24"),
        ("::ffff:0:0/95", "::fffe:0:0/95", "ip/::fffe:0:0/95"),  # wider than IPv4: stays v6
        ("[2001:db8::1]", "2001:db8::1", "ip/2001:db8::1"),
        ("AS15169", "15169", "autnum/15169"),
        ("as15169", "15169", "autnum/15169"),
        ("15169", "15169", "autnum/15169"),
        (15169, "15169", "autnum/15169"),
        ("AS0", "0", "autnum/0"),
        ("AS4294967295", "4294967295", "autnum/4294967295"),
        ("AS015169", "15169", "autnum/15169"),
        ("AS1.10", "65546", "autnum/65546"),  # asdot (RFC 5396)
        ("Example.COM.", "example.com", "domain/example.com"),
        ("Bücher.de", "xn--bcher-kva.de", "domain/xn--bcher-kva.de"),
    ],
)
def test_normalize_query_valid(value: object, query: str, path: str) -> None:
    q = normalize_query(value)
    assert (q.query, q.path, q.error) == (query, path, None)
    assert q.valid and q.raw is value


@pytest.mark.parametrize(
    ("value", "kind", "reason"),
    [
        ("010.0.0.1", "ip", "Leading zeros"),
        ("1.2.3", "ip", "Expected 4 octets"),
        ("256.1.1.1", "ip", "invalid IP address"),
        ("192.0.2.0/33", "ip", "/33 exceeds /32"),
        ("2001:db8::/129", "ip", "/129 exceeds /128"),
        ("192.0.2.0/", "ip", "invalid prefix length"),
        ("192.0.2.0/-1", "ip", "invalid prefix length"),
        ("192.0.2.0/24/1", "ip", "invalid prefix length"),
        ("/24", "ip", "no address"),
        ("fe80::1%eth0", "ip", "zone index"),
        ("2001:db8::g", "ip", "invalid IP address"),
        ("AS4294967296", "asn", "out of range"),
        ("99999999999999999999", "asn", "out of range"),
        ("AS65536.1", "asn", "asdot"),
        ("bad_label.com", "domain", "characters other than"),
        ("com", "domain", "bare TLD"),
        ("", "domain", "empty"),
        (None, "domain", "None"),
        (float("nan"), "domain", "NaN"),
    ],
)
def test_normalize_query_invalid(value: object, kind: str, reason: str) -> None:
    q = normalize_query(value)
    assert q.kind == kind
    assert q.query is None and q.path is None and not q.valid
    assert q.error is not None and reason in q.error


def test_idns_stay_domains() -> None:
    # non-ASCII shapes are never IPs or ASNs, even with digits and ideographic dots
    q = normalize_query("\u0431\u0443\u043a\u0432\u0430\u3002com")  # Cyrillic, ideographic stop
    assert q.kind == "domain" and q.query == "xn--80abd5a7b.com", q
    # a homograph (Cyrillic a among Latin letters) is still a domain, an invalid one
    h = normalize_query("\u0430pple\u3002com")
    assert h.kind == "domain" and not h.valid and "mixed scripts" in (h.error or "")
    assert normalize_query("１２３.com").kind == "domain"  # fullwidth digits
    q2 = normalize_query("a\u200db.com")  # ZWJ outside its CONTEXTJ context
    assert q2.kind == "domain" and not q2.valid and "IDNA" in (q2.error or "")


def test_explicit_kinds() -> None:
    e = normalize_query(" ZG39-ARIN ", kind="entity")
    assert (e.kind, e.query, e.path) == ("entity", "ZG39-ARIN", "entity/ZG39-ARIN")
    assert normalize_query("17769837000100", "entity").path == "entity/17769837000100"
    # handles are opaque: reserved URL characters are percent-encoded, case kept
    assert normalize_query("a/b?c", "entity").path == "entity/a%2Fb%3Fc"
    assert not normalize_query("has space", "entity").valid
    assert not normalize_query("", "entity").valid
    assert not normalize_query("x" * 256, "entity").valid
    assert not normalize_query(12, "entity").valid

    ns = normalize_query("NS1.Example.COM.", kind="nameserver")
    assert (ns.kind, ns.query, ns.path) == (
        "nameserver",
        "ns1.example.com",
        "nameserver/ns1.example.com",
    )
    assert normalize_query("ns1.bücher.de", "nameserver").unicode_name == "ns1.bücher.de"
    assert not normalize_query("192.0.2.1", "nameserver").valid

    # explicit kinds do not re-detect
    assert normalize_query("192.0.2.1", "domain").error is not None  # all-numeric TLD
    assert normalize_query("example.com", "ip").kind == "ip"
    assert not normalize_query("example.com", "ip").valid
    assert not normalize_query("example.com", "asn").valid
    assert normalize_query("15169", "asn").asn == 15169
    assert normalize_query("15169", "ip").error is not None
    assert normalize_query(True, "asn").error is not None  # bool is not a number here


def test_invalid_kind_raises() -> None:
    with pytest.raises(ValueError, match="kind must be"):
        normalize_query("x.com", kind="network")
    with pytest.raises(ValueError, match="kind must be"):
        normalize_queries(["x.com"], kind="Domain")


def test_query_asn_property() -> None:
    assert normalize_query("AS13335").asn == 13335
    assert normalize_query("192.0.2.1").asn is None
    assert normalize_query("AS4294967296").asn is None


def test_ipv4_prefix_fast_path_matches_ipaddress() -> None:
    rng = random.Random(5)
    for _ in range(3000):
        addr = ".".join(str(rng.randrange(256)) for _ in range(4))
        length = rng.randrange(33)
        q = normalize_query(f"{addr}/{length}")
        assert q.query == str(ipaddress.ip_network(f"{addr}/{length}", strict=False))


def test_ipv6_normalization_matches_ipaddress() -> None:
    rng = random.Random(6)
    for _ in range(1000):
        addr = ipaddress.IPv6Address(rng.getrandbits(128))
        if addr.ipv4_mapped is not None:
            continue
        text = addr.exploded.upper()
        assert normalize_query(text).query == str(addr)


def test_normalize_queries_order_and_memo() -> None:
    values = ["AS1", "192.0.2.1", "AS1", 1, None, "example.com", True]
    out = normalize_queries(values)
    assert [q.kind for q in out] == ["asn", "ip", "asn", "asn", "domain", "domain", "domain"]
    assert out[0] is out[2]  # same string, one result object
    assert out[3].raw == 1 and out[3].query == "1"
    assert out[6].raw is True and not out[6].valid
    assert normalize_queries(["x.com"], "nameserver")[0].path == "nameserver/x.com"
    assert normalize_queries([]) == []
    assert all(isinstance(q, Query) for q in out)


def test_normalize_queries_100k_is_fast() -> None:
    rng = random.Random(1)
    values: list[object] = []
    for i in range(100_000):
        k = i % 5
        if k == 0:
            values.append(".".join(str(rng.randrange(256)) for _ in range(4)))
        elif k == 1:
            values.append(f"2001:db8:{rng.randrange(65536):x}::{rng.randrange(65536):x}")
        elif k == 2:
            values.append(f"AS{rng.randrange(1 << 32)}")
        elif k == 3:
            values.append(f"{rng.randrange(1, 224)}.{rng.randrange(256)}.0.0/16")
        else:
            values.append(f"name{i}.example.com")
    t0 = time.perf_counter()
    out = normalize_queries(values)
    elapsed = time.perf_counter() - t0
    assert len(out) == 100_000 and all(q.valid for q in out)
    # ~0.5 s on a laptop; the loose bound only catches accidental quadratic behaviour
    assert elapsed < 5.0, elapsed


# --------------------------------------------------------------------------- networks


def test_ip_files_present() -> None:
    assert len(IP_FILES) >= 20
    assert {p.parent.name for p in IP_FILES} >= {"arin", "ripe", "apnic", "lacnic", "afrinic"}


@pytest.mark.parametrize("path", IP_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_real_network_normalizes(path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    row = parse_network(doc, query="q")
    assert list(row) == ["query", *NETWORK_OBJECT_COLUMNS]
    assert row["query"] == "q"
    assert row["handle"]
    start = ipaddress.ip_address(row["start_address"])
    end = ipaddress.ip_address(row["end_address"])
    assert start.version == end.version == row["ip_version"]
    assert str(start) == row["start_address"]  # canonical compressed form
    assert int(start) <= int(end)
    assert row["rir"] == DIR_RIR[path.parent.name]
    assert row["cidrs"]
    for cidr in row["cidrs"]:
        net = ipaddress.ip_network(cidr)  # strict: no host bits
        assert int(start) <= int(net.network_address) <= int(net.broadcast_address) <= int(end)
    for key in ("registration_date", "last_changed_date"):
        assert row[key] is None or row[key].tzinfo is not None
    assert row["abuse_email"] is None or "@" in row["abuse_email"]
    frame = networks_frame([row])
    assert frame.schema == NETWORKS_SCHEMA and frame.height == 1


def test_arin_network_exact() -> None:
    row = parse_network(load("arin/ip-13.64.0.0.json"), query="13.64.0.0")
    assert row == {
        "query": "13.64.0.0",
        "handle": "NET-13-64-0-0-1",
        "start_address": "13.64.0.0",
        "end_address": "13.107.255.255",
        "cidrs": ["13.64.0.0/11", "13.96.0.0/13", "13.104.0.0/14"],
        "ip_version": 4,
        "name": "MSFT",
        "type": "DIRECT ALLOCATION",
        "country": None,
        "parent_handle": "NET-13-0-0-0-0",
        "rir": "arin",
        "registration_date": dt("2015-03-26T13:58:18-04:00"),
        "last_changed_date": dt("2021-12-14T20:28:53-05:00"),
        # ARIN nests the abuse POC inside the registrant org entity
        "abuse_email": "abuse@microsoft.com",
        "abuse_handle": "MAC74-ARIN",
        "rdap_status": ["active"],
    }


def test_arin_zero_padded_and_expanded_addresses() -> None:
    row = parse_network(load("arin/ip-74.125.225.229.json"))
    assert (row["start_address"], row["end_address"]) == ("74.125.0.0", "74.125.255.255")
    assert row["cidrs"] == ["74.125.0.0/16"]  # computed: no cidr0 in this capture
    row6 = parse_network(load("arin/ip-2001_4860_4860__8888.json"))
    assert row6["start_address"] == "2001:4860::"
    assert row6["end_address"] == "2001:4860:ffff:ffff:ffff:ffff:ffff:ffff"
    assert row6["cidrs"] == ["2001:4860::/32"]
    # the network's own abuse POC wins over the one nested in the registrant
    assert (row6["abuse_handle"], row6["abuse_email"]) == ("ZG39-ARIN", "arin-contact@google.com")


def test_ripe_network_with_prefix_suffixed_addresses() -> None:
    row = parse_network(load("ripe/ip-62.239.237.1.json"))
    assert (row["start_address"], row["end_address"]) == ("62.239.237.0", "62.239.237.255")
    assert row["cidrs"] == ["62.239.237.0/24"]
    assert (row["country"], row["type"], row["rir"]) == ("GB", "ASSIGNED PA", "ripe")
    assert (row["abuse_handle"], row["abuse_email"]) == ("BTCR3-RIPE", "zzdnsr@bt.com")
    v6 = parse_network(load("ripe/ip-2a00_2381_ffff__1.json"))  # no objectClassName
    assert v6["cidrs"] == ["2a00:2381:ffff::/64"] and v6["ip_version"] == 6


def test_lacnic_network_exact() -> None:
    row = parse_network(load("lacnic/ip-200.3.14.10.json"))
    assert row["handle"] == "200.3.12.0/22"
    assert (row["start_address"], row["end_address"]) == ("200.3.12.0", "200.3.15.255")
    assert row["cidrs"] == ["200.3.12.0/22"]
    assert row["parent_handle"] == "200.0.0.0/8"
    assert row["type"] == "ASSIGNED" and row["rir"] == "lacnic"
    assert row["registration_date"] == datetime(2008, 9, 2, 14, 19, 50, tzinfo=UTC)
    assert (row["abuse_handle"], row["abuse_email"]) == ("EXAMPLE-PERSON-1", "person-1@example.net")


def test_afrinic_network_exact() -> None:
    row = parse_network(load("afrinic/ip-196.216.2.1.json"))
    assert row["handle"] == "196.216.2.0 - 196.216.3.255"
    assert row["cidrs"] == ["196.216.2.0/23"]
    assert (row["name"], row["type"], row["country"]) == ("ORG-AFNC1-AFRINIC", "ASSIGNED PI", "ZA")
    assert row["last_changed_date"] == datetime(2020, 8, 18, 12, 16, tzinfo=UTC)
    assert row["abuse_email"] is None and row["abuse_handle"] is None  # no abuse role served
    # older capture: range not a single prefix, entities without roles
    old = parse_network(load("afrinic/ip-196.11.240.215.json"))
    assert old["cidrs"] == [
        "196.11.239.0/24",
        "196.11.240.0/22",
        "196.11.244.0/23",
        "196.11.246.0/24",
    ]


def test_apnic_network_exact() -> None:
    row = parse_network(load("apnic/ip-1.1.1.1.json"), service_url="https://rdap.apnic.net/")
    assert (row["handle"], row["name"], row["country"]) == (
        "1.1.1.0 - 1.1.1.255",
        "APNIC-LABS",
        "AU",
    )
    assert row["cidrs"] == ["1.1.1.0/24"] and row["type"] == "ASSIGNED PORTABLE"
    assert row["registration_date"] == datetime(2011, 8, 10, 23, 12, 35, tzinfo=UTC)
    assert (row["abuse_handle"], row["abuse_email"]) == (
        "IRT-APNICRANDNET-AU",
        "helpdesk@apnic.net",
    )
    assert row["rir"] == "apnic"


def test_cidr0_preferred_then_fallback() -> None:
    doc = {"startAddress": "10.0.0.0", "endAddress": "10.0.1.255", "ipVersion": "v4"}
    assert parse_network(doc)["cidrs"] == ["10.0.0.0/23"]
    doc["cidr0_cidrs"] = [
        {"v4prefix": "10.0.0.0", "length": 24},
        {"v4prefix": "10.0.1.0", "length": "24"},
    ]
    assert parse_network(doc)["cidrs"] == ["10.0.0.0/24", "10.0.1.0/24"]
    # unusable cidr0 items are skipped; none usable -> computed from the range
    doc["cidr0_cidrs"] = [{"v4prefix": "x", "length": 24}, {"v6prefix": "::", "length": 99}, 5]
    assert parse_network(doc)["cidrs"] == ["10.0.0.0/23"]
    # reversed or mixed-family ranges give no CIDRs rather than an error
    assert parse_network({"startAddress": "10.0.1.0", "endAddress": "10.0.0.0"})["cidrs"] == []
    assert parse_network({"startAddress": "10.0.0.0", "endAddress": "::1"})["cidrs"] == []


def test_rir_sources() -> None:
    assert rir_from_host("whois.arin.net") == "arin"
    assert rir_from_host("https://jpnic.rdap.apnic.net/autnum/2515") == "apnic"
    assert rir_from_host("rdap.registro.br") == "lacnic"
    assert rir_from_host("WHOIS.RIPE.NET.") == "ripe"
    assert rir_from_host("notripe.net") is None
    assert rir_from_host("https://rdap.example.com/") is None
    assert rir_from_host(None) is None
    assert rir_from_host("http://[::1") is None  # unparseable URL
    # port43 first, then links, then the service that was asked
    assert (
        parse_network(
            {"port43": "whois.lacnic.net"}, service_url="https://rdap.arin.net/registry/"
        )["rir"]
        == "lacnic"
    )
    doc = {
        "links": [
            {"rel": "copyright", "href": "https://www.arin.net/"},
            {"rel": "self", "href": "https://rdap.db.ripe.net/ip/1"},
        ]
    }
    assert parse_network(doc)["rir"] == "ripe"
    assert parse_network({}, service_url="https://rdap.afrinic.net/rdap/")["rir"] == "afrinic"
    assert parse_network({})["rir"] is None
    assert set(DIR_RIR.values()) <= set(RIRS)


# --------------------------------------------------------------------------- autnums


@pytest.mark.parametrize("path", AUTNUM_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_real_autnum_normalizes(path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    number = int(path.stem.split("-")[1])
    row = parse_autnum(doc, query=str(number))
    assert list(row) == ["query", *AUTNUM_OBJECT_COLUMNS]
    assert row["start_autnum"] == row["end_autnum"] == number
    assert row["handle"] and row["name"]
    assert row["rir"] == DIR_RIR[path.parent.name]
    assert row["last_changed_date"] is not None
    assert autnums_frame([row]).schema == AUTNUMS_SCHEMA


def test_ripe_autnum_exact() -> None:
    row = parse_autnum(load("ripe/autnum-205697.json"), query="205697")
    assert row == {
        "query": "205697",
        "handle": "AS205697",
        "start_autnum": 205697,
        "end_autnum": 205697,
        "name": "ALOJALIA",
        "type": None,
        "country": None,
        "rir": "ripe",
        "registration_date": datetime(2017, 6, 22, 9, 35, 50, tzinfo=UTC),
        "last_changed_date": datetime(2023, 6, 29, 15, 39, 42, tzinfo=UTC),
        "abuse_email": "abuse@alojalia.com",
        "abuse_handle": "AR37103-RIPE",
        "rdap_status": ["active"],
    }


def test_other_autnums_exact() -> None:
    apnic = parse_autnum(load("apnic/autnum-9269.json"))
    assert (apnic["name"], apnic["country"], apnic["abuse_handle"]) == (
        "HKBN-AS-AP",
        "HK",
        "IRT-HKBN-HK",
    )
    lacnic = parse_autnum(load("lacnic/autnum-28000.json"))
    assert (lacnic["type"], lacnic["rir"]) == ("DIRECT ALLOCATION", "lacnic")
    afrinic = parse_autnum(load("afrinic/autnum-37271.json"))
    assert afrinic["registration_date"] == datetime(2010, 10, 25, 10, 14, tzinfo=UTC)
    assert afrinic["rir"] == "afrinic" and afrinic["name"] == "ORG-WCL1-AFRINIC"
    br = parse_autnum(load("registro-br/autnum-53170.json"))  # handle without "AS"
    assert (br["handle"], br["country"], br["rir"], br["rdap_status"]) == (
        "53170",
        "BR",
        "lacnic",
        [],
    )
    assert (br["abuse_handle"], br["abuse_email"]) == ("BRI2", None)
    arin = parse_autnum(load("arin/autnum-13335.json"))
    assert arin["registration_date"] == datetime(2010, 7, 14, 22, 35, 57, tzinfo=UTC)  # -04:00
    assert arin["abuse_email"] == "abuse@cloudflare.com"


@pytest.mark.parametrize(
    ("served", "number"),
    [
        (15169, 15169),
        ("15169", 15169),
        ("AS15169", 15169),
        (" as15169 ", 15169),
        (15169.0, 15169),
        (0, 0),
        (4294967295, 4294967295),
        (4294967296, None),
        (-1, None),
        (True, None),
        ("AS", None),
        ("x", None),
        (15169.5, None),
        (None, None),
        ([1], None),
    ],
)
def test_autnum_number_tolerance(served: object, number: int | None) -> None:
    assert parse_autnum({"startAutnum": served})["start_autnum"] == number


# --------------------------------------------------------------------------- frames & tolerance


def test_frames_exact_schema() -> None:
    assert networks_frame([]).schema == NETWORKS_SCHEMA
    assert autnums_frame([]).schema == AUTNUMS_SCHEMA
    assert networks_frame([]).height == 0
    # missing keys become nulls, extra keys are ignored, lists stay lists
    f = networks_frame([{"handle": "H", "extra": 1}, parse_network(None)])
    assert f.schema == NETWORKS_SCHEMA
    assert f["handle"].to_list() == ["H", None]
    assert f["cidrs"].to_list() == [[], []]
    rows = [parse_network(json.loads(p.read_text(encoding="utf-8"))) for p in IP_FILES]
    frame = networks_frame(rows)
    assert frame.schema == NETWORKS_SCHEMA and frame.height == len(IP_FILES)
    assert frame["ip_version"].drop_nulls().unique().sort().to_list() == [4, 6]
    autnums = autnums_frame(
        parse_autnum(json.loads(p.read_text(encoding="utf-8"))) for p in AUTNUM_FILES
    )
    assert autnums.schema == AUTNUMS_SCHEMA and autnums.height == len(AUTNUM_FILES)
    assert autnums["start_autnum"].dtype == pl.Int64


def test_non_object_documents_give_null_rows() -> None:
    for doc in (
        None,
        [],
        "x",
        5,
        {"startAddress": 5, "events": "x", "entities": {"roles": "abuse"}},
    ):
        row = parse_network(doc)
        assert list(row) == ["query", *NETWORK_OBJECT_COLUMNS] and row["start_address"] is None
        assert list(parse_autnum(doc)) == ["query", *AUTNUM_OBJECT_COLUMNS]


_ODD: list[Any] = [
    None,
    0,
    -1,
    1.5,
    True,
    "",
    "x",
    " v6 ",
    [],
    [None],
    [1, "a"],
    {},
    {"a": 1},
    [[]],
    [{}],
]


def _mutate(node: Any, rng: random.Random) -> Any:
    """Replace one random member (at any depth) of a JSON document with an odd value."""
    if isinstance(node, dict) and node and rng.random() < 0.8:
        key = rng.choice(list(node))
        node[key] = _mutate(node[key], rng) if rng.random() < 0.6 else rng.choice(_ODD)
        return node
    if isinstance(node, list) and node and rng.random() < 0.8:
        i = rng.randrange(len(node))
        node[i] = _mutate(node[i], rng) if rng.random() < 0.6 else rng.choice(_ODD)
        return node
    return rng.choice(_ODD)


def test_mutated_real_documents_never_raise() -> None:
    rng = random.Random(9)
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in (*IP_FILES, *AUTNUM_FILES)]
    net_rows: list[dict[str, Any]] = []
    aut_rows: list[dict[str, Any]] = []
    for _ in range(40):
        for doc in docs:
            mutated = copy.deepcopy(doc)
            for _ in range(rng.randrange(1, 6)):
                mutated = _mutate(mutated, rng)
            net_rows.append(parse_network(mutated))
            aut_rows.append(parse_autnum(mutated))
    # every top-level member replaced by every odd value, one at a time
    for doc in docs:
        for key in doc:
            for odd in _ODD:
                mutated = dict(doc)
                mutated[key] = odd
                net_rows.append(parse_network(mutated))
                aut_rows.append(parse_autnum(mutated))
    assert networks_frame(net_rows).schema == NETWORKS_SCHEMA
    assert autnums_frame(aut_rows).schema == AUTNUMS_SCHEMA
    for row in net_rows:
        assert isinstance(row["cidrs"], list) and isinstance(row["rdap_status"], list)
        assert row["ip_version"] in (None, 4, 6)


def test_object_events_keep_unreadable_date_text() -> None:
    doc = load("arin/ip-13.64.0.0.json")
    doc["events"] = [
        {"eventAction": "registration", "eventDate": "2016-12-31T23:59:60-05:00"},
        {"eventAction": "last changed", "eventDate": "2020-13-01T00:00:00Z"},
    ]
    rec = parse_object("ip", doc)
    assert [(e.action, e.date, e.date_text) for e in rec.events] == [
        ("registration", datetime(2017, 1, 1, 4, 59, 59, 999999, tzinfo=UTC), None),
        ("last changed", None, "2020-13-01T00:00:00Z"),
    ]
    assert rec.row is not None
    assert rec.row["registration_date"] == datetime(2017, 1, 1, 4, 59, 59, 999999, tzinfo=UTC)
    assert rec.row["last_changed_date"] is None


def test_mistyped_members_are_ignored_not_fatal() -> None:
    doc = load("arin/ip-13.64.0.0.json")
    doc["cidr0_cidrs"] = {"v4prefix": "13.64.0.0", "length": 11}  # lone object, not array
    doc["events"] = [{"eventAction": "registration", "eventDate": "garbage"}, 3]
    doc["rdap_status"] = "active"  # string for array
    doc["ipVersion"] = 4
    row = parse_network(doc)
    assert row["cidrs"] == ["13.64.0.0/11"]
    assert row["registration_date"] is None
    assert row["last_changed_date"] is None
    assert row["rdap_status"] == ["active"]
    assert row["ip_version"] == 4
