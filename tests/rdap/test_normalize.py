"""Tests for rdaplab.normalize against the real responses in datasets/responses."""

from __future__ import annotations

import copy
import dataclasses
import random
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import msgspec
import pytest

from rdaplab._data import responses_dir
from rdaplab.frames import normalize_result, normalize_results
from rdaplab.models import NameResult, Response
from rdaplab.rdap import fast as fast_module
from rdaplab.rdap.decode import (
    ParseError,
    _fix_iso,
    decode_json,
    error_detail,
    parse_datetime,
    read_date,
    related_links,
)
from rdaplab.rdap.domain import merge_records, parse_domain, parse_domain_doc
from rdaplab.rdap.fast import (
    _BUCKET_MAX,
    _MEMO_MAX,
    _entities_memo,
    _ns_memo,
    _status_memo,
    parse_body,
)
from rdaplab.rdap.records import DomainRecord, EventRow
from rdaplab.rdap.redactions import is_placeholder

ALL_FILES = sorted(responses_dir().glob("*/*.json"))


def load(rel: str) -> dict[str, Any]:
    doc = decode_json((responses_dir() / rel).read_bytes())
    assert isinstance(doc, dict)
    return doc


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def entity(rec: DomainRecord, role: str, source: str | None = None) -> Any:
    rows = [e for e in rec.entities if e.role == role and (source is None or e.source == source)]
    assert rows, f"no {role} entity"
    return rows[0]


# --------------------------------------------------------------------------- every file


def test_dataset_is_present() -> None:
    assert len(ALL_FILES) >= 80


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_response_decodes_and_normalizes(path: Path) -> None:
    doc = decode_json(path.read_bytes())
    rec = parse_domain(doc)  # any object class: must never raise
    assert isinstance(rec, DomainRecord)
    # also as the registrar half of a merge, and with itself
    parse_domain(None, doc)
    parse_domain(doc, doc)
    related_links(doc)
    error_detail(doc, 200)
    for ev in rec.events:
        assert ev.date is None or ev.date.tzinfo is timezone.utc


# --------------------------------------------------------------------------- hand-checked

CLIENT_3 = ["client delete prohibited", "client transfer prohibited", "client update prohibited"]
ALL_6 = [
    *CLIENT_3,
    "server delete prohibited",
    "server transfer prohibited",
    "server update prohibited",
]
GOOGLE_NS = [f"ns{i}.google.com" for i in (1, 2, 3, 4)]

# file, handle, ldh_name, registrar, iana id, registration, expiration, last changed,
# status, nameservers, dnssec -- read off the JSON files by eye.
EXPECTED = [
    (
        "verisign/google.com-2024.json",
        "2138514_DOMAIN_COM-VRSN",
        "google.com",
        "MarkMonitor Inc.",
        "292",
        utc(1997, 9, 15, 4),
        utc(2028, 9, 14, 4),
        utc(2019, 9, 9, 15, 39, 4),
        ALL_6,
        GOOGLE_NS,
        False,
    ),
    (
        "verisign/GOOGLE.COM-2021.json",  # older Verisign format: no "last changed" event
        "2138514_DOMAIN_COM-VRSN",
        "google.com",
        "MarkMonitor Inc.",
        "292",
        utc(1997, 9, 15, 4),
        utc(2028, 9, 14, 4),
        None,
        ALL_6,
        GOOGLE_NS,
        True,
    ),
    (
        "verisign/HHGAMES.COM-2025.json",
        "88133367_DOMAIN_COM-VRSN",
        "hhgames.com",
        "Sea Wasp, LLC",
        "411",
        utc(2002, 7, 4, 19, 15, 32),
        utc(2026, 7, 4, 19, 21, 2),
        utc(2025, 4, 16, 4, 27, 20),
        CLIENT_3,
        [f"ns{i}.fabulous.com" for i in (1, 2, 3, 4)],
        False,
    ),
    (
        "verisign/example.com-2026.json",
        "2336799_DOMAIN_COM-VRSN",
        "example.com",
        "RESERVED-Internet Assigned Numbers Authority",
        "376",
        utc(1995, 8, 14, 4),
        utc(2027, 8, 13, 4),
        utc(2026, 8, 14, 8, 1, 43),
        CLIENT_3,
        ["elliott.ns.cloudflare.com", "hera.ns.cloudflare.com"],
        True,
    ),
    (
        "markmonitor/GOOGLE.COM-2024.json",  # +0000 offsets, "last update" action
        "2138514_DOMAIN_COM-VRSN",
        "google.com",
        "MarkMonitor Inc.",
        "292",
        utc(1997, 9, 15, 7),
        utc(2028, 9, 13, 7),
        utc(2019, 9, 9, 15, 39, 4),
        [
            "client update prohibited",
            "client transfer prohibited",
            "client delete prohibited",
            "server update prohibited",
            "server transfer prohibited",
            "server delete prohibited",
        ],
        GOOGLE_NS,
        False,
    ),
    (
        "namecheap/bitcoin.org.json",  # zone-less dates, IANA id at the domain level
        "D153621148-LROR",
        "bitcoin.org",
        "NAMECHEAP INC",
        "1068",
        utc(2008, 8, 18, 13, 19, 55),
        utc(2029, 8, 18, 13, 19, 55),
        utc(2019, 11, 24, 13, 58, 35),
        ["client transfer prohibited"],
        ["dns1.registrar-servers.com", "dns2.registrar-servers.com"],
        False,
    ),
    (
        "pir/wikipedia.org.json",  # handle redacted (RFC 9537 removal)
        None,
        "wikipedia.org",
        "MarkMonitor Inc.",
        "292",
        utc(2001, 1, 13, 0, 12, 14, 754000),
        utc(2027, 1, 13, 0, 12, 14),
        utc(2026, 8, 12, 8, 47, 19, 410000),
        CLIENT_3,
        ["ns0.wikimedia.org", "ns1.wikimedia.org", "ns2.wikimedia.org"],
        False,
    ),
    (
        "nominet/bbc.co.uk.json",
        "D_7090031-UK",
        "bbc.co.uk",
        "British Broadcasting Corporation",
        None,
        utc(1994, 12, 13, 3, 49, 48),
        utc(2034, 12, 13, 3, 49, 48),
        utc(2025, 10, 29, 3, 51, 11, 9091),
        ["server delete prohibited", "server transfer prohibited", "server update prohibited"],
        [
            "ddns0.bbc.co.uk",
            "ddns0.bbc.com",
            "ddns1.bbc.co.uk",
            "ddns1.bbc.com",
            "dns0.bbc.co.uk",
            "dns0.bbc.com",
            "dns1.bbc.co.uk",
            "dns1.bbc.com",
        ],
        False,
    ),
    (
        "afnic/afnic.fr.json",  # "secureDns" casing
        "DOM000000181261-FRNIC",
        "afnic.fr",
        "Registry Operations",
        "9999",
        utc(2001, 12, 10, 23),
        utc(2029, 7, 18, 8, 26, 59),
        utc(2022, 9, 28, 11, 21, 2),
        ["active"],
        ["ns2.nic.fr", "ns1.nic.fr", "ns3.nic.fr"],
        True,
    ),
    (
        "afnic/lemonde.fr.json",
        "DOM000000024309-FRNIC",
        "lemonde.fr",
        "NAMESHIELD",
        "1251",
        utc(2005, 8, 2, 14, 16, 36),
        utc(2025, 6, 9, 22, 8, 9),
        utc(2024, 6, 12, 22, 9, 39, 881923),
        [
            "server update prohibited",
            "server transfer prohibited",
            "server delete prohibited",
            "server recover prohibited",
        ],
        [f"ns-cloud-b{i}.googledomains.com" for i in (4, 2, 3, 1)],
        None,
    ),
    (
        "norid/norway.no.json",  # no status, no expiration, no secureDNS
        "NOR34044D-NORID",
        "norway.no",
        "Domeneshop AS",
        None,
        utc(2017, 1, 24, 12, 9, 23),
        None,
        utc(2021, 1, 14, 5, 16, 59),
        [],
        [
            "ns1-09.azure-dns.com",
            "ns2-09.azure-dns.net",
            "ns3-09.azure-dns.org",
            "ns4-09.azure-dns.info",
        ],
        None,
    ),
    (
        "cznic/example.cz.json",  # registrar entity without jCard
        "example.cz",
        "example.cz",
        None,
        None,
        utc(2004, 8, 30, 22, 55),
        utc(2019, 8, 30, 12),
        None,
        ["active"],
        ["ns2.pipni.cz", "ns3.pipni.cz", "ns.pipni.cz"],
        None,
    ),
    (
        "centralnic/abc.xyz.json",
        "D2192285-CNIC",
        "abc.xyz",
        "MarkMonitor Inc.",
        "292",
        utc(2014, 3, 20, 12, 59, 17),
        utc(2027, 3, 20, 23, 59, 59),
        utc(2026, 3, 6, 12, 0, 40),
        ["client transfer prohibited", "client update prohibited", "client delete prohibited"],
        ["ns2.google.com", "ns4.google.com", "ns3.google.com", "ns1.google.com"],
        False,
    ),
    (
        "google-registry/web.dev.json",
        "2E35D5AB3-DEV",
        "web.dev",
        "MarkMonitor Inc.",
        "292",
        utc(2018, 10, 29, 15, 57, 39, 435000),
        utc(2027, 10, 29, 15, 57, 39, 435000),
        utc(2026, 10, 3, 10, 22, 38, 601000),
        ALL_6,
        [f"ns{i}.zdns.google" for i in (1, 2, 3, 4)],
        False,
    ),
    (
        "identity-digital/google.ai.json",
        "6eddd132ab114b12bd2bd4cf9c492a04-DONUTS",
        "google.ai",
        "MarkMonitor Inc.",
        "292",
        utc(2017, 12, 16, 5, 37, 20),
        utc(2027, 9, 25, 5, 37, 20),
        utc(2026, 8, 12, 11, 4, 42, 526000),
        CLIENT_3,
        [f"ns{i}.zdns.google" for i in (2, 3, 4, 1)],
        False,
    ),
    (
        "zdns/bitcoin.top.json",  # trailing-dot names
        "D20141118G10001G_19970343-top",
        "bitcoin.top",
        "成都西维数码科技有限公司",
        "1556",
        utc(2014, 11, 17, 16, 0, 29),
        utc(2021, 11, 17, 16, 0, 29),
        utc(2020, 9, 14, 20, 40, 57),
        ["active"],
        ["ns1.72dns.com", "ns2.idc1.cn"],
        False,
    ),
    (
        "flexireg/home.moscow.json",
        "20211019192813345912_c936bef81d9614db04ffc278b29daf5a_domain-FIR",
        "home.moscow",
        'Limited Liability Company "Registrar of domain names REG.RU"',
        "1606",
        utc(2021, 10, 19, 19, 28, 12),
        utc(2024, 10, 19, 19, 28, 12),
        utc(2023, 11, 20, 18, 36, 22),
        ["client transfer prohibited"],
        ["ns1.reg.ru", "ns2.reg.ru"],
        False,
    ),
    (
        "uniregistry/microsoft.click.json",  # registrar entity without publicIds
        "DO_a7aec7e93f5797ee898b23cefe340fe3-UR",
        "microsoft.click",
        "MarkMonitor Inc.",
        None,
        utc(2014, 11, 12, 19, 15, 55, 283000),
        utc(2024, 11, 12, 19, 15, 55, 283000),
        utc(2023, 10, 17, 10, 47, 21, 733000),
        ["client update prohibited", "client transfer prohibited", "client delete prohibited"],
        [
            "ns4-08.azure-dns.info",
            "ns2-08.azure-dns.net",
            "ns3-08.azure-dns.org",
            "ns1-08.azure-dns.com",
        ],
        False,
    ),
    (
        "comlaude/amazon.cyou.json",  # trailing-dot names
        "D186296929-CNIC",
        "amazon.cyou",
        "NOM-IQ Ltd dba Com Laude",
        "470",
        utc(2020, 5, 14),
        utc(2021, 5, 14),
        utc(2021, 3, 29, 22, 55, 53),
        ["client delete prohibited", "client update prohibited"],
        ["nsgbr.comlaude.co.uk", "nssui.comlaude.ch", "nsusa.comlaude.net"],
        False,
    ),
]


@pytest.mark.parametrize("row", EXPECTED, ids=lambda r: r[0])
def test_hand_checked_domain(row: tuple[Any, ...]) -> None:
    path, handle, ldh, registrar, iana, reg, exp, changed, status, ns, dnssec = row
    rec = parse_domain(load(path))
    assert rec.object_class == "domain"
    assert rec.handle == handle
    assert rec.ldh_name == ldh
    assert rec.registrar == registrar
    assert rec.registrar_iana_id == iana
    assert rec.registration_date == reg
    assert rec.expiration_date == exp
    assert rec.last_changed_date == changed
    assert rec.rdap_status == status
    assert rec.nameservers == ns
    assert rec.dnssec is dnssec


def test_markmonitor_contacts_redacted_by_remark() -> None:
    rec = parse_domain(load("markmonitor/GOOGLE.COM-2024.json"))
    registrant = entity(rec, "registrant")
    assert registrant.organization == "Google LLC"
    assert registrant.country == "US"
    assert registrant.name is None
    # "REDACTED FOR PRIVACY" remark: absent fields were withheld, served ones were not
    assert registrant.name_redacted and registrant.email_redacted and registrant.phone_redacted
    assert not registrant.organization_redacted and not registrant.country_redacted
    registrar = entity(rec, "registrar")
    assert registrar.organization == "MarkMonitor Inc."
    assert not any(
        (registrar.name_redacted, registrar.email_redacted, registrar.organization_redacted)
    )


def test_identity_digital_registrant_contact() -> None:
    rec = parse_domain(load("identity-digital/google.ai.json"))
    registrant = entity(rec, "registrant")
    assert (registrant.name, registrant.organization) == ("Domain Administrator", "Google LLC")
    assert registrant.email == "dns-admin@google.com"
    assert registrant.phone == "+1.6502530000"  # voice preferred over fax, "tel:" dropped
    assert registrant.country == "US"  # from the adr "cc" parameter
    assert not registrant.name_redacted
    # one row per role of the same entity
    assert {e.role for e in rec.entities if e.handle == registrant.handle} == {
        "registrant",
        "technical",
        "administrative",
    }


# --------------------------------------------------------------------------- merge


def test_merge_google_com_registry_and_registrar() -> None:
    registry = load("verisign/google.com-2024.json")
    registrar = load("markmonitor/GOOGLE.COM-2024.json")
    rec = parse_domain(registry, registrar)
    # registry is authoritative (Verisign's dates differ from MarkMonitor's by hours)
    assert rec.handle == "2138514_DOMAIN_COM-VRSN"
    assert rec.expiration_date == utc(2028, 9, 14, 4)
    assert rec.registration_date == utc(1997, 9, 15, 4)
    # ... and the registrar's own registration time is kept beside it (07:00:00.000+0000)
    assert rec.registrar_registration_date == utc(1997, 9, 15, 7)
    assert rec.last_changed_date == utc(2019, 9, 9, 15, 39, 4)
    assert rec.rdap_status == ALL_6
    assert rec.nameservers == GOOGLE_NS
    assert rec.dnssec is False
    assert (rec.registrar, rec.registrar_iana_id) == ("MarkMonitor Inc.", "292")
    assert rec.registrar_url == "https://rdap.markmonitor.com/rdap/domain/GOOGLE.COM"
    # both answers' events and entities are kept, tagged by source
    assert [e.source for e in rec.events] == ["registry"] * 4 + ["registrar"] * 4
    assert {(e.source, e.role) for e in rec.entities} == {
        ("registry", "registrar"),
        ("registry", "abuse"),
        ("registrar", "administrative"),
        ("registrar", "registrant"),
        ("registrar", "technical"),
        ("registrar", "registrar"),
        ("registrar", "abuse"),
    }
    assert entity(rec, "registrant", "registrar").organization == "Google LLC"


def test_merge_registrar_fills_missing_fields() -> None:
    registry = load("verisign/GOOGLE.COM-2021.json")  # lacks a "last changed" event
    registrar = load("markmonitor/google.com-2021.json")
    rec = parse_domain(registry, registrar)
    assert rec.last_changed_date == utc(2019, 9, 9, 15, 39, 4)  # from the registrar
    assert rec.dnssec is True  # registry value wins over the registrar's False


def test_registration_date_sources() -> None:
    registry = load("verisign/google.com-2024.json")
    registrar = load("markmonitor/GOOGLE.COM-2024.json")
    alone = parse_domain(registry)  # no registrar answer: no registrar date
    assert (alone.registration_date, alone.registrar_registration_date) == (
        utc(1997, 9, 15, 4),
        None,
    )
    # the registry serves no registration event: the registrar's date fills it
    no_reg = copy.deepcopy(registry)
    no_reg["events"] = [e for e in no_reg["events"] if e["eventAction"] != "registration"]
    rec = parse_domain(no_reg, registrar)
    assert rec.registration_date == rec.registrar_registration_date == utc(1997, 9, 15, 7)
    # an unreadable registry date is no registration date either (its text is kept)
    odd = copy.deepcopy(registry)
    odd["events"][0]["eventDate"] = "1997-09-31T04:00:00Z"
    rec = parse_domain(odd, registrar)
    assert rec.registration_date == utc(1997, 9, 15, 7)
    assert [(e.source, e.date, e.date_text) for e in rec.events[:1]] == [
        ("registry", None, "1997-09-31T04:00:00Z")
    ]
    # the registrar serves none: null, the registry's stands
    bare = copy.deepcopy(registrar)
    bare["events"] = [e for e in bare["events"] if e["eventAction"] != "registration"]
    rec = parse_domain(registry, bare)
    assert (rec.registration_date, rec.registrar_registration_date) == (
        utc(1997, 9, 15, 4),
        None,
    )
    # the fast path, merged the same way
    for reg_doc, rar_doc in ((registry, registrar), (no_reg, registrar), (odd, registrar),
                             (registry, bare)):  # fmt: skip
        reg_raw, rar_raw = msgspec.json.encode(reg_doc), msgspec.json.encode(rar_doc)
        got = merge_records(parse_body(reg_raw), parse_body(rar_raw, "registrar"))
        assert repr(got) == repr(parse_domain(reg_doc, rar_doc))


def test_registrar_answer_alone() -> None:
    rec = parse_domain(None, load("markmonitor/abc.xyz.json"))
    assert rec.ldh_name == "abc.xyz"
    assert rec.registrar_registration_date == rec.registration_date is not None
    assert {e.source for e in rec.entities} == {"registrar"}
    assert parse_domain(None, None) == DomainRecord()


# --------------------------------------------------------------------------- quirks


def test_quirk_plus0000_offsets() -> None:
    rec = parse_domain(load("markmonitor/abc.xyz.json"))
    assert rec.expiration_date == utc(2025, 3, 20, 7)
    assert rec.last_changed_date == utc(2019, 11, 7, 17, 16, 24)


def test_quirk_zone_less_dates_are_utc() -> None:
    rec = parse_domain(load("namecheap/deep.surf.json"))
    assert rec.registration_date == utc(2020, 7, 1, 14, 5, 58)
    assert rec.expiration_date == utc(2021, 7, 1, 14, 5, 58)


def test_quirk_trailing_dot_ldh_names() -> None:
    rec = parse_domain(load("comlaude/amazon.ooo.json"))
    assert rec.ldh_name == "amazon.ooo"
    assert rec.unicode_name == "amazon.ooo"
    assert all(not n.endswith(".") for n in rec.nameservers)
    bbc = parse_domain(load("nominet/bbc.co.uk.json"))
    assert bbc.nameserver_rows[0].nameserver == "ddns0.bbc.co.uk"
    assert bbc.nameserver_rows[0].ipv4 == ["148.163.199.1"]
    assert bbc.nameserver_rows[0].ipv6 == ["2607:f740:e04e::1"]


def test_quirk_null_jcard_value() -> None:
    # RIPE serves ["adr", {"label": ...}, "text", null]; embed that entity in a domain
    djvg = load("ripe/entity-DJVG.json")
    doc = {"objectClassName": "domain", "ldhName": "x.example", "entities": [djvg]}
    rec = parse_domain(doc)
    row = rec.entities[0]
    assert row.handle == "DJVG"
    assert row.country is None and not row.country_redacted


def test_quirk_secure_dns_casing() -> None:
    doc = load("afnic/afnic.fr.json")
    assert "secureDNS" not in doc and "secureDns" in doc
    assert parse_domain(doc).dnssec is True


def test_quirk_missing_object_class_name() -> None:
    doc = load("ripe/ip-62.239.237.1.json")
    assert "objectClassName" not in doc
    rec = parse_domain(doc)
    assert rec.object_class is None
    assert rec.handle == "62.239.237.0 - 62.239.237.255"
    dom = load("verisign/google.com-2024.json")
    del dom["objectClassName"]
    assert parse_domain(dom).handle == "2138514_DOMAIN_COM-VRSN"


def test_quirk_spaces_in_links() -> None:
    doc = load("afrinic/ip-196.216.2.1.json")
    assert related_links(doc) == []  # only a self link (with spaces) is served
    synthetic = {
        "links": [
            {
                "rel": "related",
                "type": "application/rdap+json",
                "href": " https://r.example/domain/a b \n",
            },
        ]
    }
    assert related_links(synthetic) == ["https://r.example/domain/a%20b"]


def test_quirk_jcard_strings_where_arrays_expected() -> None:
    doc = {
        "objectClassName": "domain",
        "entities": {  # a lone object instead of an array
            "roles": "registrant",  # a string instead of an array
            "vcardArray": [
                "vcard",
                [
                    ["fn", {}, "text", ["Jane", "Doe"]],  # array where a string is expected
                    ["adr", {"CC": "NO"}, "text", "Storgata 1, Oslo"],  # string adr
                    ["tel", {"type": "work,voice"}, "uri", "tel:+47.1"],
                    "garbage",
                    ["email"],
                ],
            ],
        },
        "status": "active",
        "nameservers": {"ldhName": "NS1.EXAMPLE.NO."},
    }
    rec = parse_domain(doc)
    row = rec.entities[0]
    assert (row.role, row.name, row.country, row.phone) == (
        "registrant",
        "Jane, Doe",
        "NO",
        "+47.1",
    )
    assert row.email is None
    assert rec.rdap_status == ["active"]
    assert rec.nameservers == ["ns1.example.no"]


def test_quirk_capitalised_roles_and_params() -> None:
    rec = parse_domain(load("namecheap/bitcoin.org.json"))
    registrant = entity(rec, "registrant")  # served as "Registrant"
    assert registrant.phone == "+507.8365503"  # {"Type": ["voice"]}
    assert registrant.name == "WhoisGuard Protected"
    assert registrant.name_redacted  # proxy placeholder name
    assert registrant.organization == "WhoisGuard, Inc."
    assert not registrant.organization_redacted  # the proxy's own name is real data


def test_quirk_nested_entities() -> None:
    rec = parse_domain(load("verisign/HHGAMES.COM-2025.json"))
    abuse = entity(rec, "abuse")
    assert abuse.parent_handle == "411"
    assert abuse.email == "abuse@fabulous.com"
    assert abuse.phone == "+1.5045078209"
    assert abuse.name is None  # "" is not a value
    assert entity(rec, "registrar").parent_handle is None


def test_quirk_rfc9537_redacted_nominet() -> None:
    rec = parse_domain(load("nominet/bbc.co.uk.json"))
    assert len(rec.redactions) == 12
    first = rec.redactions[0]
    assert (first.name, first.method, first.reason) == (
        "Registrant Name",
        "emptyValue",
        "Server policy",
    )
    assert first.path == "$.entities[?(@.roles[0]=='registrant')].vcardArray[1][?(@[0]=='fn')][3]"
    assert rec.redactions[2].name == "Registrant Organisation Type"  # description fallback
    registrant = entity(rec, "registrant")
    assert registrant.email == "redacted@nominet.uk"  # replacementValue, kept as served
    assert registrant.name is None
    assert registrant.name_redacted
    assert registrant.organization_redacted
    assert registrant.email_redacted
    assert registrant.phone_redacted
    assert registrant.country_redacted
    registrar = entity(rec, "registrar")
    assert not registrar.name_redacted and not registrar.email_redacted


def test_quirk_rfc9537_redacted_handle_pir() -> None:
    rec = parse_domain(load("pir/wikipedia.org.json"))
    assert [(r.name, r.method, r.path) for r in rec.redactions] == [
        ("Registry Domain ID", "removal", "$.handle")
    ]
    assert rec.handle is None


def test_quirk_redaction_by_path_only() -> None:
    doc = {
        "objectClassName": "domain",
        "entities": [
            {"roles": ["technical"], "vcardArray": ["vcard", [["fn", {}, "text", "T"]]]},
            {"roles": ["registrant"], "vcardArray": ["vcard", [["fn", {}, "text", "R"]]]},
        ],
        "redacted": [
            {
                "name": {"description": "something"},
                "prePath": "$.entities[?(@.roles[0]==\"technical\")].vcardArray[1][?(@[0]=='email')]",
                "method": "removal",
            }
        ],
    }
    rec = parse_domain(doc)
    assert entity(rec, "technical").email_redacted
    assert not entity(rec, "registrant").email_redacted


@pytest.mark.parametrize(
    "value",
    [
        "REDACTED FOR PRIVACY",
        "Redacted for privacy",
        "REDACTED",
        "Data Protected",
        "Not Disclosed",
        "Withheld for Privacy Purposes",
        "redacted@nominet.uk",
        "Please query the RDDS service of the Registrar of Record identified in this output",
    ],
)
def test_placeholders_detected(value: str) -> None:
    assert is_placeholder(value)
    doc = {
        "objectClassName": "domain",
        "entities": [
            {
                "roles": ["registrant"],
                "vcardArray": [
                    "vcard",
                    [["fn", {}, "text", value], ["email", {}, "text", value]],
                ],
            }
        ],
    }
    row = parse_domain(doc).entities[0]
    assert row.name == value  # kept as served, flagged
    assert row.name_redacted and row.email_redacted
    assert not row.phone_redacted  # absent, and nothing says it was withheld


@pytest.mark.parametrize("value", ["Google LLC", "WhoisGuard, Inc.", "Reddit Inc.", "", None, 3])
def test_real_values_are_not_placeholders(value: object) -> None:
    assert not is_placeholder(value)


def test_removed_status_marks_absent_fields() -> None:
    rec = parse_domain(load("markmonitor/you.tube.json"))
    billing = entity(rec, "billing")
    assert billing.name is None and billing.name_redacted and billing.country_redacted


def test_email_redacted_remark() -> None:
    rec = parse_domain(load("zdns/bitcoin.top.json"))
    registrant = entity(rec, "registrant")
    assert registrant.organization == "Wang Shao Gang"
    assert registrant.country == "CN"
    assert registrant.email_redacted and not registrant.organization_redacted


def test_status_camel_case_and_duplicates() -> None:
    doc = {"status": ["clientTransferProhibited", "client transfer prohibited", "ok", 5, None]}
    assert parse_domain(doc).rdap_status == ["client transfer prohibited", "ok", "5"]


def test_nameservers_deduplicated_in_order() -> None:
    doc = {
        "nameservers": [
            {"ldhName": "NS2.X.COM."},
            {"ldhName": "ns1.x.com"},
            {"ldhName": "ns2.x.com"},
            {"unicodeName": "ns3.x.com"},
            {"ldhName": None},
            "junk",
        ]
    }
    assert parse_domain(doc).nameservers == ["ns2.x.com", "ns1.x.com", "ns3.x.com"]


def test_dnssec_variants() -> None:
    assert parse_domain({"secureDNS": {"delegationSigned": "true"}}).dnssec is True
    assert parse_domain({"securedns": {"dsData": [{"keyTag": 1}]}}).dnssec is True
    assert parse_domain({"secureDNS": {"zoneSigned": False}}).dnssec is None
    assert parse_domain({"secureDNS": "yes"}).dnssec is None


def test_bad_shapes_never_raise() -> None:
    base = load("verisign/google.com-2024.json")
    for key in ("events", "entities", "nameservers", "status", "links", "secureDNS"):
        for junk in (None, 1, "x", [1, None, "y"], {"a": 1}):
            doc = copy.deepcopy(base)
            doc[key] = junk
            rec = parse_domain(doc)
            assert rec.handle == "2138514_DOMAIN_COM-VRSN"


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1997-09-15T04:00:00Z", utc(1997, 9, 15, 4)),
        ("2028-09-13T07:00:00.000+0000", utc(2028, 9, 13, 7)),
        ("2024-06-18T22:01:39+03:00", utc(2024, 6, 18, 19, 1, 39)),
        ("2008-08-18T13:19:55", utc(2008, 8, 18, 13, 19, 55)),
        ("2014-03-20T12:59:17.0Z", utc(2014, 3, 20, 12, 59, 17)),
        ("2026-10-05T23:37:43.98Z", utc(2026, 10, 5, 23, 37, 43, 980000)),
        ("2022-10-12T18:54:01.785057Z", utc(2022, 10, 12, 18, 54, 1, 785057)),
        ("2022-10-12T18:54:01.7850571234Z", utc(2022, 10, 12, 18, 54, 1, 785057)),
        ("2004-08-30T22:55:00+00:00", utc(2004, 8, 30, 22, 55)),
        ("2020-01-02 03:04:05z", utc(2020, 1, 2, 3, 4, 5)),
        ("2020-01-02T03:04:05-0500", utc(2020, 1, 2, 8, 4, 5)),
        ("2020-01-02T03:04:05+01", utc(2020, 1, 2, 2, 4, 5)),
        ("2020-01-02", utc(2020, 1, 2)),
        ("  2020-01-02T00:00:00Z ", utc(2020, 1, 2)),
        # odd forms real registries send, each hand-checked
        ("2016-12-31T23:59:60Z", utc(2016, 12, 31, 23, 59, 59, 999999)),  # leap second
        ("2016-12-31T23:59:60.5Z", utc(2016, 12, 31, 23, 59, 59, 999999)),
        ("2017-01-01T08:59:60+09:00", utc(2016, 12, 31, 23, 59, 59, 999999)),  # JST
        ("2016-12-31 23:59:60", utc(2016, 12, 31, 23, 59, 59, 999999)),
        ("2015-06-30T23:59:60.000+0000", utc(2015, 6, 30, 23, 59, 59, 999999)),
        ("2020-01-02T24:00:00Z", utc(2020, 1, 3)),  # the end of the day
        ("2020-12-31T24:00:00.000+0000", utc(2021, 1, 1)),
        ("2020-01-02T03:04:05", utc(2020, 1, 2, 3, 4, 5)),  # no zone
        ("2020-01-02 03:04:05", utc(2020, 1, 2, 3, 4, 5)),  # space, no zone
        ("2020-01-02 03:04:05Z", utc(2020, 1, 2, 3, 4, 5)),
        ("2020-01-02T03:04:05z", utc(2020, 1, 2, 3, 4, 5)),  # lowercase z
        ("2020-01-02t03:04:05z", utc(2020, 1, 2, 3, 4, 5)),
        ("2020-01-02T03:04:05+0000", utc(2020, 1, 2, 3, 4, 5)),
        ("2020-01-02T03:04:05-0000", utc(2020, 1, 2, 3, 4, 5)),
        ("2020-01-02T03:04:05 +0000", utc(2020, 1, 2, 3, 4, 5)),
        ("2020-01-02T03:04:05 UTC", utc(2020, 1, 2, 3, 4, 5)),
        ("2020-01-02 03:04:05GMT", utc(2020, 1, 2, 3, 4, 5)),
        ("2020-01-02T03:04:05.1234567Z", utc(2020, 1, 2, 3, 4, 5, 123456)),  # 7 digits
        ("2020-01-02T03:04:05.123456789+0000", utc(2020, 1, 2, 3, 4, 5, 123456)),
        ("2020-01-02T03:04:05.9999999Z", utc(2020, 1, 2, 3, 4, 5, 999999)),  # truncated
        ("2020-01-02T03:04:05.000000000000Z", utc(2020, 1, 2, 3, 4, 5)),
        ("2020-01-01", utc(2020, 1, 1)),  # date only: midnight UTC
    ],
)
def test_parse_datetime(text: str, expected: datetime) -> None:
    got = parse_datetime(text)
    assert got == expected
    assert got is not None and got.tzinfo is timezone.utc


@pytest.mark.parametrize(
    "junk", [None, "", "0", "not a date", "2020-13-45T99:99:99Z", 1700000000, [], "2020-01-02T"]
)
def test_parse_datetime_garbage(junk: object) -> None:
    assert parse_datetime(junk) is None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("2020-02-30T00:00:00Z", "2020-02-30T00:00:00Z"),  # no such day
        ("0000-00-00T00:00:00Z", "0000-00-00T00:00:00Z"),  # "unknown", as some write it
        (" 2020-01-02T24:00:01Z ", "2020-01-02T24:00:01Z"),  # past the end of the day
        ("2020-01-02T23:60:00Z", "2020-01-02T23:60:00Z"),  # minute 60 is no leap second
        ("9999-12-31T24:00:00Z", "9999-12-31T24:00:00Z"),  # past year 9999
        ("9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59-01:00"),
        ("not a date", "not a date"),
        ("UTC", "UTC"),
        (20200102, "20200102"),  # JSON values that are no string: as JSON
        (1.5, "1.5"),
        (True, "true"),
        ({"date": "2020"}, '{"date":"2020"}'),
        (None, None),  # nothing served: nothing to keep
        ("", None),
        ("  ", None),
    ],
)
def test_read_date_keeps_the_text_it_cannot_read(value: object, text: str | None) -> None:
    assert read_date(value) == (None, text)


def test_read_date_of_a_date() -> None:
    assert read_date(" 2016-12-31T23:59:60Z") == (utc(2016, 12, 31, 23, 59, 59, 999999), None)


# --------------------------------------------------------------------------- JSON & errors


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty body"),
        (b"   ", "empty body"),
        (b'{"a": ', "invalid JSON"),
        (b"<html>503</html>", "invalid JSON"),
        (b"[1, 2]", "not an object"),
        ('"text"', "not an object"),
    ],
)
def test_decode_json_errors(body: bytes | str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        decode_json(body)


def test_decode_json_accepts_str_and_bytes() -> None:
    assert decode_json('{"a": 1}') == {"a": 1}
    assert decode_json(b'{"a": [1]}') == {"a": [1]}


@pytest.mark.parametrize(
    ("path", "status", "expected"),
    [
        (
            "apnic/error-400-entity-HH11825JP.json",  # errorCode "400" as a string
            400,
            "HTTP 400: Bad Request - Request could not be understood, malformed syntax",
        ),
        ("ripe/error-400-entity-APR41-RIPE.json", 400, "HTTP 400: Invalid syntax."),
        ("ripe/error-404-entity-JNIC1-AP.json", 404, "HTTP 404: not found"),
        (
            "ripe/error-501-nameserver.json",
            501,
            "HTTP 501: 501 Not Implemented - Nameserver not supported",
        ),
        ("pir/markwatch-nonexistent-7f3kq9.org.json", 404, "HTTP 404: Object not found"),
    ],
)
def test_error_detail_real_bodies(path: str, status: int, expected: str) -> None:
    assert error_detail(load(path), status) == expected


def test_error_detail_string_error_code_mismatch() -> None:
    doc = load("apnic/error-400-entity-HH11825JP.json")
    assert error_detail(doc, 404).endswith("(errorCode 400)")


def test_error_detail_empty_and_odd_bodies() -> None:
    assert error_detail(None, 404) == "HTTP 404 Not Found (no RDAP error body)"
    assert error_detail(b"", 503) == "HTTP 503 Service Unavailable (no RDAP error body)"
    assert error_detail({}, 429) == "HTTP 429: Too Many Requests"
    assert error_detail({"errorCode": "x", "title": " "}, 599) == "HTTP 599"
    long = error_detail({"title": "t" * 500}, 500)
    assert len(long) == 200 and long.endswith("...")
    desc = error_detail(load("apnic/error-404-entity-AS5496JP.json"), 404)
    assert desc.startswith("HTTP 404: Not Found - The server has not found anything")


# --------------------------------------------------------------------------- links


def test_related_links_real() -> None:
    assert related_links(load("verisign/google.com-2024.json")) == [
        "https://rdap.markmonitor.com/rdap/domain/GOOGLE.COM"
    ]
    assert related_links(load("pir/wikipedia.org.json")) == [
        "https://rdap.markmonitor.com/rdap/domain/wikipedia.org"
    ]
    assert related_links(load("norid/norway.no.json")) == []


def test_related_links_filtering() -> None:
    doc = {
        "links": [
            {"rel": "self", "href": "https://reg.example/domain/a.example"},
            {"rel": "related", "href": "https://reg.example/domain/a.example"},  # self
            {"rel": "related", "type": "text/html", "href": "https://www.example/domain/x"},
            {"rel": "RELATED", "href": "https://rar.example/rdap/domain/a.example"},  # untyped
            {"rel": "related", "href": "https://rar.example/about"},  # untyped, not RDAP
            {
                "rel": "related",
                "type": "application/rdap+json; charset=utf-8",
                "href": "https://rar2.example/x",
            },
            {"rel": "related", "type": "application/rdap+json", "href": "ftp://x/domain/a"},
            {"rel": "related", "type": "application/rdap+json", "href": 5},
            "junk",
        ]
    }
    assert related_links(doc) == [
        "https://rar.example/rdap/domain/a.example",
        "https://rar2.example/x",
    ]
    assert related_links(None) == []
    assert related_links({"links": "nope"}) == []


@pytest.mark.parametrize(
    "text",
    [
        "2028-09-13T07:00:00.000+0000",
        "2014-03-20T12:59:17.0Z",
        "2020-01-02 03:04:05z",
        "2020-01-02T03:04:05+01",
        "2022-10-12T18:54:01.7850571234Z",
        "2020-01-02T03:04:05-0500",
    ],
)
def test_fix_iso_gives_python310_shape(text: str) -> None:
    # Python 3.10's fromisoformat only takes "T", 3- or 6-digit fractions and +HH:MM
    fixed = _fix_iso(text)
    date_part, time_part = fixed.split("T")
    assert len(date_part) == 10
    clock, _, offset = time_part.partition("+") if "+" in time_part else time_part.partition("-")
    assert len(offset) == 5 and offset[2] == ":"
    if "." in clock:
        assert len(clock.split(".")[1]) == 6
    assert datetime.fromisoformat(fixed) == parse_datetime(text)


# --------------------------------------------------------------------------- typed fast path
# parse_body decodes into typed structs and memoizes repeated members; it must give exactly
# what the tolerant path gives (parse_domain on the generic decode), on every real
# quirk and on mutated documents, and raise ParseError exactly when decode_json does.


def _tolerant(raw: bytes, source: str) -> DomainRecord:
    return parse_domain_doc(decode_json(raw), source)


def _same_as_tolerant(raw: bytes, source: str = "registry") -> None:
    try:
        want = _tolerant(raw, source)
    except ParseError as exc:
        with pytest.raises(ParseError) as got:
            parse_body(raw, source)
        assert str(got.value) == str(exc)
        return
    first = parse_body(raw, source)
    again = parse_body(raw, source)  # the memos are warm now
    # repr, not ==: it also tells a naive datetime or another tzinfo object apart
    assert repr(first) == repr(want), raw[:300]
    assert repr(again) == repr(want)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


_REPLACEMENTS: list[Any] = [
    "x", " Y ", "", 7, 3.5, None, True, [], {}, ["a", 1], {"a": 1}, "2020-01-01",
    "2020-01-01T00:00:00+0000", "REDACTED FOR PRIVACY",
]  # fmt: skip


def _mutate(doc: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Drop, wrap, unwrap, retype, re-case or replace one member anywhere in the tree."""
    doc = copy.deepcopy(doc)
    path = rng.choice(_paths(doc)[1:])
    parent: Any = doc
    for k in path[:-1]:
        parent = parent[k]
    last = path[-1]
    value = parent[last]
    op = rng.randrange(6)
    if op == 0:
        del parent[last]
    elif op == 1:
        parent[last] = [value]  # a lone value where one was, e.g. "events": [[...]]
    elif op == 2 and isinstance(value, list) and value:
        parent[last] = value[0]  # a lone object where an array belongs
    elif op == 3 and isinstance(parent, dict):
        parent[last.upper() if rng.random() < 0.5 else last.lower()] = parent.pop(last)
    elif op == 4 and isinstance(value, str):
        parent[last] = value.upper() if rng.random() < 0.5 else f" {value}  "
    else:
        parent[last] = rng.choice(_REPLACEMENTS)
    return doc


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fast_path_equals_tolerant_path_on_real_answers(path: Path) -> None:
    raw = path.read_bytes()
    for source in ("registry", "registrar"):
        _same_as_tolerant(raw, source)


def test_fast_path_is_taken_for_most_real_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    # Guards the speed: a struct change that sent everything to the tolerant path would
    # keep every equivalence test green.
    fast: list[str] = []
    real = fast_module._parse_typed

    def counting(d: Any, sd: Any, source: str) -> DomainRecord:
        fast.append(str(d.ldhName))
        return real(d, sd, source)

    monkeypatch.setattr(fast_module, "_parse_typed", counting)
    taken = 0
    for path in ALL_FILES:
        before = len(fast)
        parse_body(path.read_bytes())
        taken += len(fast) > before
    assert taken >= 0.9 * len(ALL_FILES)
    fast.clear()
    parse_body((responses_dir() / "afnic" / "afnic.fr.json").read_bytes())  # "secureDns"
    assert fast == ["afnic.fr"]


def test_fast_path_equals_tolerant_path_on_mutations() -> None:
    rng = random.Random(20251231)
    docs = [decode_json(p.read_bytes()) for p in ALL_FILES if p.stat().st_size < 60_000]
    for _ in range(3000):
        doc = rng.choice(docs)
        for _ in range(rng.choice((1, 1, 2, 3))):
            doc = _mutate(doc, rng)
        _same_as_tolerant(msgspec.json.encode(doc), rng.choice(("registry", "registrar")))


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"  \n",
        b"{",
        b"[]",
        b"null",
        b'"domain"',
        b"{}",
        b'{"objectClassName": "domain", "ldhName": "Example.COM."}',
        # case variants of secureDNS (AFNIC), with the exact key null or absent
        b'{"secureDns": {"delegationSigned": true}}',
        b'{"secureDNS": null, "secureDns": {"delegationSigned": true}}',
        b'{"secureDns": {"delegationSigned": true}, "secureDNS": null}',
        b'{"SECUREDNS": {"delegationSigned": "true"}}',
        b'{"secure\\u0044ns": {"delegationSigned": true}}',
        b'{"\\u017fecureDNS": {"delegationSigned": true}}',
        b'{"\\u017FecureDNS": {"delegationSigned": true}, "secureDns": null}',
        b'{"secureDns": {"delegationSigned": true}, "handle": "caf\\u00e9"}',
        b'{"secureDns": {"delegationSigned": true}, "entities": [{"secureDns": 1}]}',
        b'{"handle": "caf\\u00e9", "ldhName": "\\u0041.com"}',
        '{"\u017fecureDNS": {"delegationSigned": true}}'.encode(),
        # duplicate and escaped member names
        b'{"ldhName": "a.com", "ldhName": "b.com"}',
        b'{"entities": [], "entities": [{"roles": ["registrar"], '
        b'"vcardArray": ["vcard", [["fn", {}, "text", "X"]]]}]}',
        b'{"ldh\\u004eame": "esc.com"}',
        # lone objects and scalars where arrays belong, strings where objects belong
        b'{"events": {"eventAction": "expiration", "eventDate": "2030-01-01T00:00:00Z"}}',
        b'{"events": ["x", {"eventAction": "registration", "eventDate": "2020-01-01"}]}',
        b'{"links": {"rel": "related", "href": "https://r.example/domain/a.com"}}',
        b'{"notices": {"title": "x"}, "remarks": "x", "status": "clientHold"}',
        b'{"nameservers": "ns1.example.com", "entities": "x", "redacted": 5}',
        # events the inlined date parsing must treat like parse_datetime
        b'{"events": [{"eventAction": "registration", "eventDate": "2020W01"},'
        b'{"eventAction": "expiration", "eventDate": " 2030-01-01T00:00:00Z "},'
        b'{"eventAction": "last changed", "eventDate": "2021-02-03T04:05:06+0100"},'
        b'{"eventAction": "last update", "eventDate": "2021-02-03 04:05:06.1"},'
        b'{"eventAction": 5, "eventDate": 20200101, "eventActor": 7}]}',
    ],
)
def test_fast_path_equals_tolerant_path_on_odd_bodies(raw: bytes) -> None:
    _same_as_tolerant(raw)


def test_fast_path_memos_are_bounded_and_keyed_by_source() -> None:
    raw = (responses_dir() / "google-registry" / "web.dev.json").read_bytes()
    reg, rar = parse_body(raw, "registry"), parse_body(raw, "registrar")
    assert {e.source for e in reg.entities} == {"registry"}
    assert {e.source for e in rar.entities} == {"registrar"}
    assert {n.source for n in rar.nameserver_rows} == {"registrar"}
    for i in range(_MEMO_MAX + 10):
        once = b'{"status": ["active %d"]}' % i
        assert parse_body(once).rdap_status == [f"active {i}"]
        assert parse_body(once).rdap_status == [f"active {i}"]  # memoized the second time
        assert 0 < _status_memo.size <= _MEMO_MAX


def test_fast_path_records_do_not_share_lists() -> None:
    # merge_records extends the registry record's lists: a memoized list must not leak.
    raw = (responses_dir() / "google-registry" / "web.dev.json").read_bytes()
    one, two = parse_body(raw), parse_body(raw)
    merged = merge_records(one, parse_body(raw, "registrar"))
    assert len(merged.entities) == 2 * len(two.entities)
    assert len(parse_body(raw).entities) == len(two.entities)
    assert one.rdap_status is not two.rdap_status
    assert one.nameservers is not two.nameservers


def test_parse_body_merge_equals_normalize_domain() -> None:
    registry = (responses_dir() / "verisign" / "google.com-2024.json").read_bytes()
    registrar = (responses_dir() / "markmonitor" / "GOOGLE.COM-2024.json").read_bytes()
    want = parse_domain(decode_json(registry), decode_json(registrar))
    got = merge_records(parse_body(registry), parse_body(registrar, "registrar"))
    assert repr(got) == repr(want)
    assert got.registrar == "MarkMonitor Inc."


# --------------------------------------------------------------------------- fast path internals
# The typed path sets row fields without __init__, parses dates inline, finds memoized
# members by comparing bytes (no hashing) and is inlined into frames.normalize_results:
# each of those is checked against the tolerant path or the one-by-one call here.


def test_fast_path_sets_every_field() -> None:
    # Rows are built on empty instances: a field added to a dataclass (or a __post_init__)
    # must not be silently left unset on the fast path.
    for cls in (DomainRecord, EventRow):
        assert not hasattr(cls, "__post_init__"), cls
    record_fields = [f.name for f in dataclasses.fields(DomainRecord)]
    event_fields = [f.name for f in dataclasses.fields(EventRow)]
    assert event_fields == ["source", "action", "date", "actor", "date_text"]
    events = 0
    for path in ALL_FILES:
        try:
            rec = parse_body(path.read_bytes())
        except ParseError:
            continue
        for name in record_fields:
            getattr(rec, name)  # AttributeError if the fast path skipped it
        for ev in rec.events:
            for name in event_fields:
                getattr(ev, name)
            assert ev.source == "registry"
            events += 1
        assert rec == _tolerant(path.read_bytes(), "registry"), path
    assert events > 100


def _corpus_dates() -> list[str]:
    """Every eventDate string anywhere in datasets/responses (nested events included)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            date = node.get("eventDate")
            if isinstance(date, str):
                found.add(date)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for path in sorted(responses_dir().rglob("*.json")):
        try:
            walk(decode_json(path.read_bytes()))
        except ParseError:
            continue
    return sorted(found)


def _event_body(date: object) -> bytes:
    return msgspec.json.encode(
        {"ldhName": "a.test", "events": [{"eventAction": "registration", "eventDate": date}]}
    )


def _check_date(date: str) -> None:
    rec = parse_body(_event_body(date))
    assert len(rec.events) == 1  # a bad date never drops the row
    # repr: also tells a naive datetime or another tzinfo object apart
    assert repr(rec.events[0].date) == repr(parse_datetime(date)), date
    assert repr(rec.registration_date) == repr(parse_datetime(date)), date
    assert rec.events[0].date_text == read_date(date)[1], date
    _same_as_tolerant(_event_body(date))


def test_fast_path_dates_equal_parse_datetime_on_every_corpus_date() -> None:
    dates = _corpus_dates()
    assert len(dates) > 100
    # the corpus's odd forms are all there: +0000 offsets, zone-less, 1-2 fraction digits
    assert any(d.endswith("+0000") for d in dates)
    assert any(d[-1].isdigit() and "+" not in d[10:] and "-" not in d[10:] for d in dates)
    for date in dates:
        _check_date(date)
        assert parse_datetime(date) is not None, date


@pytest.mark.parametrize(
    "date",
    [
        "2020-01-02T03:04:05Z", "2020-01-02T03:04:05+00:00", "2020-01-02T03:04:05-00:00",
        "2020-01-02T03:04:05+0000", "2020-01-02T03:04:05+00", "2020-01-02T03:04:05",
        "2020-01-02T03:04:05+05:30", "2020-01-02T03:04:05-0800", "2020-01-02 03:04:05Z",
        "2020-01-02t03:04:05z", "2020-01-02T03:04:05.1Z", "2020-01-02T03:04:05.12Z",
        "2020-01-02T03:04:05.1234567Z", "2020-01-02T03:04:05.9999999Z",
        "2020-01-02T03:04:05.999999999+01:00", "2020-01-02T03:04:05.Z",
        "2020-01-02T03:04:05,5Z", "2020-01-02", "20200102", "20200102T030405Z", "2020W01",
        "2020W011T00Z", "2020-01-02T03:04Z", "2020-01-02T03Z", " 2020-01-02T03:04:05Z",
        "2020-01-02T03:04:05Z\n", "2020-01-02T24:00:00Z", "2020-01-02T23:59:60Z",
        "2020-02-30T00:00:00Z", "0000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59.9999999Z", "2020-01-02T03:04:05Zjunk",
        "2020-01-02T03:04:05+25:00", "\uff12\uff10\uff12\uff10-01-02T00:00:00Z", "", "Z",
        "2020-01", "not a date", "T", "2020-01-02T03:04:05+",
        "2016-12-31T23:59:60.5+0000", "2017-01-01T08:59:60+09:00", "2016-12-31 23:59:60",
        "2020-01-02T24:00:00.000+0000", "2020-01-02T24:00:01Z", "9999-12-31T24:00:00Z",
        "2020-01-02T03:04:05 UTC", "2020-01-02 03:04:05gmt", " 2020-02-30 ", "0000-00-00",
        "2020-01-02T03:04:05.123456789+0000", "2020-01-02T23:60:00Z", "  ",
    ],
)  # fmt: skip
def test_fast_path_dates_on_odd_strings(date: str) -> None:
    _check_date(date)


@pytest.mark.parametrize("date", [None, 20200102, 1.5, True, [], {}])
def test_fast_path_non_string_dates(date: object) -> None:
    rec = parse_body(_event_body(date))
    assert len(rec.events) == 1 and rec.events[0].date is None
    _same_as_tolerant(_event_body(date))


@pytest.mark.parametrize(
    "secure_dns",
    [
        b"true", b"[]", b'"yes"', b"1", b"{}", b'{"delegationSigned": "TRUE "}',
        b'{"delegationSigned": 1}', b'{"delegationSigned": null, "dsData": [{"keyTag": 1}]}',
        b'{"keyData": [{"flags": 257}]}', b'{"dsData": [], "keyData": []}',
        b'{"delegationSigned": true, "delegationSigned": false}',
        b'{"DelegationSigned": true}', b'{"delegation\\u0053igned": true}',
        b'{"zoneSigned": true, "delegationSigned": false, "maxSigLife": 604800}',
    ],
)  # fmt: skip
def test_fast_path_secure_dns_shapes(secure_dns: bytes) -> None:
    for key in (b"secureDNS", b"secureDns"):
        _same_as_tolerant(b'{"ldhName": "a.test", "%s": %s}' % (key, secure_dns))


@pytest.mark.parametrize(
    "links",
    [
        [{"rel": "self", "href": "https://r.example/domain/a"},
         {"rel": "related", "href": "https://r.example/domain/a"}],
        [{"rel": "related", "href": "https://r.example/domain/a"},
         {"rel": "self", "href": " https://r.example/domain/a "}],
        [{"rel": "self", "href": "https://x/domain/a"}, {"rel": "self", "href": "https://y/"},
         {"rel": "related", "href": "https://x/domain/a"}],
        [{"rel": " RELATED ", "href": " https://r.example/domain/a b "}],
        [{"rel": "related", "href": "https://r.example/a", "type": "text/html"},
         {"rel": "related", "href": "https://r.example/b"},
         {"rel": "related", "href": "ftp://r.example/domain/c"},
         {"rel": "related", "href": "HTTP://r.example/x", "type": "Application/RDAP+JSON; x=1"}],
        [{"rel": None, "href": "https://r.example/domain/a"}, {"href": "https://r/domain/b"},
         {"rel": "related"}, {"rel": "related", "href": None},
         {"rel": "Self", "href": "https://r/domain/c"}, {"rel": "related", "href": "https://r/domain/c"}],
    ],
)  # fmt: skip
def test_fast_path_links(links: list[dict[str, Any]]) -> None:
    raw = msgspec.json.encode({"ldhName": "a.test", "links": links})
    _same_as_tolerant(raw)
    want = related_links(decode_json(raw))
    assert parse_body(raw).registrar_url == (want[0] if want else None)


def test_memo_tells_same_length_members_apart() -> None:
    # Lookups compare bytes within a (key, length) bucket: members of one length must never
    # be confused, also past a full bucket (oldest entries are dropped, nothing is mixed).
    n = _BUCKET_MAX + 4
    bodies = [
        b'{"status": ["hold%02d"], "nameservers": [{"ldhName": "ns%02d.example"}], '
        b'"entities": [{"roles": ["registrar"], "vcardArray": ["vcard", [["fn", {}, "text", '
        b'"Registrar %02d"]]]}]}' % (i, i, i)
        for i in range(n)
    ]
    assert len({len(b) for b in bodies}) == 1
    for _ in range(3):  # seen once, memoized, then found
        for i, body in enumerate(bodies):
            rec = parse_body(body)
            assert rec.rdap_status == [f"hold{i:02d}"]
            assert rec.nameservers == [f"ns{i:02d}.example"]
            assert rec.registrar == f"Registrar {i:02d}"
            assert repr(rec) == repr(_tolerant(body, "registry"))
    for memo in (_status_memo, _ns_memo, _entities_memo):
        assert memo.buckets and all(len(b) <= _BUCKET_MAX for b in memo.buckets.values())
        assert memo.size == sum(len(b) for b in memo.buckets.values()) <= _MEMO_MAX


def test_memo_entities_keyed_by_redaction_marks() -> None:
    # The same entities member gives other flags when a redacted member marks a field.
    entities = (
        b'"entities": [{"roles": ["registrant"], "vcardArray": ["vcard", [["fn", {}, '
        b'"text", "Jo"], ["email", {}, "text", "jo@example.com"]]]}]'
    )
    marked = (
        b'{"redacted": [{"name": {"type": "Registrant Email"}, "method": "removal"}], %s}'
        % entities
    )
    plain = b"{%s}" % entities
    for _ in range(3):
        for body, flag in ((marked, True), (plain, False), (marked, True)):
            rec = parse_body(body)
            assert rec.entities[0].email_redacted is flag
            assert repr(rec) == repr(_tolerant(body, "registry"))


def test_memo_does_not_keep_answers_alive() -> None:
    # A memo entry holds a copy of the member, not a view that pins the whole answer.
    raw = (responses_dir() / "google-registry" / "web.dev.json").read_bytes()
    body = bytes(bytearray(raw))  # a fresh object only this test refers to
    before = sys.getrefcount(body)
    for _ in range(3):
        parse_body(body)
    assert sys.getrefcount(body) == before


def _one_body(key: str, body: bytes, status: int = 200, depth: int = 0) -> NameResult:
    now = datetime.now(timezone.utc)
    resp = Response("domain", key, depth, "", "", status, {}, body, now, 1.0)
    res = NameResult("domain", key, "ok", http_status=status, referral_status="x")
    res.responses = [resp]
    return res


def test_normalize_results_inlined_fast_path_matches_normalize_result() -> None:
    good = (responses_dir() / "google-registry" / "web.dev.json").read_bytes()
    results = [
        _one_body("ok.test", good),
        _one_body("empty.test", b""),
        _one_body("invalid.test", b"{"),
        _one_body("array.test", b"[]"),
        _one_body("odd.test", b'{"events": {"eventAction": "x"}, "entities": 5}'),
        _one_body("404.test", good, status=404),
        _one_body("deep.test", good, depth=1),
        _one_body("dup.test", b"{"),
        _one_body("dup.test", good),  # a repeated key: first position, last value
    ]
    decoded = _one_body("doc.test", good)
    decoded.responses[0].document = decode_json(good)
    results.append(decoded)
    batch = normalize_results(results)
    assert list(batch) == [
        "ok.test", "empty.test", "invalid.test", "array.test", "odd.test", "404.test",
        "deep.test", "dup.test", "doc.test",
    ]  # fmt: skip
    for res in results[:7] + results[8:]:
        assert repr(batch[res.key]) == repr(normalize_result(res)), res.key
    assert batch["invalid.test"].error_kind == "parse_error"
    assert batch["ok.test"].record is not None and batch["ok.test"].referral_status == "x"
