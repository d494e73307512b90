"""Postal addresses and the privacy/proxy flag of entities (EntityRow.address,
address_redacted, privacy_proxy), on both normalization paths, in frames and lookups."""

from __future__ import annotations

import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import msgspec
import polars as pl
import pytest

import rdaplab
from rdaplab import Limits
from rdaplab._data import responses_dir
from rdaplab.frames import ENTITIES_SCHEMA, build_frames
from rdaplab.frames.redact import PERSONAL_COLUMNS, redact_frames
from rdaplab.models import NameResult, Response
from rdaplab.rdap.decode import ParseError, decode_json
from rdaplab.rdap.domain import parse_domain_doc
from rdaplab.rdap.fast import parse_body
from rdaplab.rdap.pii import strip_pii_from_body
from rdaplab.rdap.records import DomainRecord, EntityRow
from rdaplab.rdap.redactions import _redaction_target
from rdaplab.simulator import SimulatorThread

ALL_FILES = sorted(responses_dir().glob("*/*.json"))
NOW = datetime(2025, 1, 1, tzinfo=timezone.utc)


def both_paths(body: bytes, source: str = "registry") -> DomainRecord:
    """The fast path's record, twice (the second may come from the memo), checked
    against the tolerant path."""
    fast = parse_body(body, source)
    assert fast == parse_domain_doc(decode_json(body), source)
    assert parse_body(body, source) == fast
    return fast


def real(rel: str) -> DomainRecord:
    return both_paths((responses_dir() / rel).read_bytes())


def row(rec: DomainRecord, handle: str | None, role: str) -> EntityRow:
    [found] = [e for e in rec.entities if e.handle == handle and e.role == role]
    return found


def entity_doc(*entities: dict[str, Any], **top: Any) -> bytes:
    doc = {"objectClassName": "domain", "ldhName": "x.test", "entities": list(entities), **top}
    return msgspec.json.encode(doc)


def adr_entity(*props: list[Any], roles: tuple[str, ...] = ("registrant",)) -> dict[str, Any]:
    return {"handle": "H", "roles": list(roles), "vcardArray": ["vcard", [*props]]}


def address_of(*props: list[Any]) -> str | None:
    return both_paths(entity_doc(adr_entity(*props))).entities[0].address


# -- real answers ---------------------------------------------------------------------------


def test_structured_addresses_of_real_answers() -> None:
    # AFNIC: street as a nested array of three lines, empty region skipped
    pick = row(real("afnic/afnic.fr.json"), "JP-FRNIC", "technical")
    assert pick.address == (
        "immeuble le Stephenson\n1, rue Stephenson\nHall A2 - 3eme etage\n"
        "Montigny-Le-Bretonneux\n78180\nFR"
    )
    # MarkMonitor: nested street with an empty item, empty country name
    mm = row(real("markmonitor/you.tube.json"), "292", "registrar")
    assert mm.address == "10400 W Overland Road\nPMB 171\nBoise\nID\n83709"
    # LACNIC serves both; the structured value wins (it is not empty)
    lacnic = row(real("lacnic/autnum-28000.json"), "UY-LACN-LACNIC", "registrant")
    assert lacnic.address == "Esquina 6 de Abril\nRambla República de México\nMontevideo\n11400\nUY"
    # Namecheap's short (4 and 5 part) arrays read in order
    nc = row(real("namecheap/deep.surf.json"), "ixyiw4j0ic5srny9", "registrant")
    assert nc.address == "Kalkofnsvegur 2\nReykjavik\nCapital Region\n101\nIS"
    assert not nc.address_redacted


def test_label_parameter_addresses_of_real_answers() -> None:
    # APNIC: all-empty structured value, the label has real newlines
    jnic = row(real("apnic/autnum-2515.json"), "JNIC1-AP", "administrative")
    assert (
        jnic.address == "Uchikanda OS Bldg 4F, 2-12-6 Uchi-Kanda\nChiyoda-ku, Tokyo 101-0047, Japan"
    )
    # ARIN: the label's newlines are a literal backslash-n in the decoded string
    gogl = row(real("arin/ip-2001_4860__.json"), "GOGL", "registrant")
    assert gogl.address == "1600 Amphitheatre Parkway\nMountain View\nCA\n94043\nUnited States"
    # RIPE: a null value beside the label (the entity object itself, as an entity)
    ams = msgspec.json.decode((responses_dir() / "ripe/entity-AMS346-RIPE.json").read_bytes())
    rec = both_paths(entity_doc(ams))
    assert rec.entities[0].address == "Avd. Federico Anaya, 52\n37004 Salamanca\nSPAIN"


def test_rfc9537_address_marks_of_a_real_answer() -> None:
    # Nominet lists "Registrant Street", "Registrant City", "Registrant Postal Code"
    reg = row(real("nominet/bbc.co.uk.json"), None, "registrant")
    assert reg.address is None and reg.address_redacted
    abuse = row(real("nominet/bbc.co.uk.json"), None, "abuse")
    assert not abuse.address_redacted  # marks are per role


@pytest.mark.parametrize(
    ("name", "path", "target"),
    [
        ("Registrant Street", None, ("registrant", "address")),
        ("Registrant City", None, ("registrant", "address")),
        ("Registrant Postal Code", None, ("registrant", "address")),
        ("Registrant State/Province", None, ("registrant", "address")),
        ("Registrant Region", None, ("registrant", "address")),  # Nominet
        ("Tech Street", None, ("technical", "address")),
        ("Registrant Country", None, ("registrant", "country")),
        ("Registrant Email", None, ("registrant", "email")),
        ("Registrant Identifier Label", None, None),  # not an address label
        (
            None,
            "$.entities[?(@.roles[0]=='admin')].vcardArray[1][?(@[0]=='adr')][3][2]",
            ("administrative", "address"),
        ),
        (
            None,
            "$.entities[?(@.roles[0]=='registrant')].vcardArray[1][?(@[0]=='adr')][3][6]",
            ("registrant", "country"),
        ),
    ],
)
def test_redaction_names_and_paths_of_addresses(
    name: str | None, path: str | None, target: tuple[str, str] | None
) -> None:
    assert _redaction_target(name, path) == target


def test_real_privacy_proxies_and_only_them() -> None:
    # Namecheap: "WhoisGuard, Inc." and "Privacy service provided by Withheld for Privacy
    # ehf" stand in for the registrant and the admin/tech contacts
    for rel in ("namecheap/bitcoin.org.json", "namecheap/deep.surf.json"):
        rec = real(rel)
        flagged = {e.role for e in rec.entities if e.privacy_proxy}
        assert flagged == {"registrant", "administrative", "technical"}, rel
        assert not row(rec, None, "registrar").privacy_proxy
    # "REDACTED FOR PRIVACY" answers (MarkMonitor, Com Laude, Nominet...) are redactions,
    # not proxies: nothing else in the corpus is flagged
    proxies: set[str] = set()
    redacted_names = 0
    for path in ALL_FILES:
        try:
            rec = both_paths(path.read_bytes())
        except ParseError:
            continue
        redacted_names += sum(e.name_redacted for e in rec.entities)
        if any(e.privacy_proxy for e in rec.entities):
            proxies.add(f"{path.parent.name}/{path.name}")
    assert proxies == {"namecheap/bitcoin.org.json", "namecheap/deep.surf.json"}
    assert redacted_names > 10


def test_the_corpus_addresses_agree_between_paths_and_are_clean() -> None:
    addresses = 0
    for path in ALL_FILES:
        try:
            rec = both_paths(path.read_bytes())
        except ParseError:
            continue
        for e in rec.entities:
            if e.address is not None:
                addresses += 1
                lines = e.address.split("\n")
                assert all(line and line == line.strip() for line in lines), e.address
                assert "\\n" not in e.address
    assert addresses > 200


# -- synthetic shapes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prop", "address"),
    [
        # RFC 7095 structured value, a multi-line street as a nested array
        (
            [
                "adr",
                {},
                "text",
                ["", "Suite 5", ["1 Main St", "Bldg 2"], "Springfield", "IL", "62701", "USA"],
            ],
            "Suite 5\n1 Main St\nBldg 2\nSpringfield\nIL\n62701\nUSA",
        ),
        # nulls anywhere, numbers for the postal code, whitespace-only parts
        (
            [
                "adr",
                {},
                "text",
                [None, "  ", ["1 Main St", None, ""], "Springfield", None, 62701, ["", "US"]],
            ],
            "1 Main St\nSpringfield\n62701\nUS",
        ),
        # a string where the array belongs: the whole address
        (["adr", {}, "text", "1 Main St\nSpringfield"], "1 Main St\nSpringfield"),
        (["adr", {}, "text", "1 Main St, Springfield"], "1 Main St, Springfield"),
        # empty structured value: the label parameter, its newlines real or escaped
        (
            [
                "adr",
                {"label": "1 Main St\nSpringfield\n\nUS"},
                "text",
                ["", "", "", "", "", "", ""],
            ],
            "1 Main St\nSpringfield\nUS",
        ),
        (
            ["adr", {"label": "1 Main St\\nSpringfield\\r\\nUS"}, "text", None],
            "1 Main St\nSpringfield\nUS",
        ),
        (["adr", {"LABEL": " 1 Main St \r\nSpringfield "}, "text", []], "1 Main St\nSpringfield"),
        (["adr", {"label": ["1 Main St", "Springfield"]}, "text", ""], "1 Main St\nSpringfield"),
        # a non-empty structured value wins over the label
        (
            ["adr", {"label": "Elsewhere"}, "text", ["", "", "1 Main St", "", "", "", ""]],
            "1 Main St",
        ),
        # nothing usable
        (["adr", {}, "text", ["", "", "", "", "", "", ""]], None),
        (["adr", {"label": 5.5}, "text", [[[[["too deep"]]]]]], "5.5"),
        (["adr", "not-params", "text", {"street": "odd"}], None),
        # property names are case-insensitive; vCard 3's label property as a fallback
        (["ADR", {}, "text", ["", "", "1 Main St", "", "", "", ""]], "1 Main St"),
        (["label", {}, "text", "1 Main St\nSpringfield"], "1 Main St\nSpringfield"),
    ],
)
def test_jcard_address_shapes(prop: list[Any], address: str | None) -> None:
    assert address_of(prop) == address


def test_first_adr_with_text_wins_and_label_property_is_a_fallback() -> None:
    empty = ["adr", {}, "text", ["", "", "", "", "", "", ""]]
    first = ["adr", {"type": "work"}, "text", ["", "", "1 Work St", "", "", "", ""]]
    second = ["adr", {"type": "home"}, "text", ["", "", "2 Home St", "", "", "", ""]]
    label = ["label", {}, "text", "3 Label St"]
    assert address_of(empty, label, first, second) == "1 Work St"
    assert address_of(empty, label) == "3 Label St"
    assert address_of(["adr", {}, "text", None], ["adr", {}, "text", "x"]) == "x"


def test_placeholders_and_absent_addresses_are_redacted() -> None:
    placeholder = ["adr", {}, "text", ["", "", "REDACTED FOR PRIVACY", "Springfield", "", "",
                                       "US"]]  # fmt: skip
    rec = both_paths(entity_doc(adr_entity(placeholder)))
    assert rec.entities[0].address == "REDACTED FOR PRIVACY\nSpringfield\nUS"  # as served
    assert rec.entities[0].address_redacted
    assert not address_redacted_of(["adr", {}, "text", ["", "", "1 Main St", "", "", "", ""]])
    # no address on an entity marked redacted (ICANN remark): redacted
    marked = {**adr_entity(["fn", {}, "text", "X"]), "remarks": [{"title": "REDACTED FOR PRIVACY"}]}
    assert both_paths(entity_doc(marked)).entities[0].address_redacted
    # an RFC 9537 entry for the role marks it, whatever is served
    red = [{"name": {"type": "Registrant Street"}, "method": "removal"}]
    served = adr_entity(["adr", {}, "text", ["", "", "", "Springfield", "", "", ""]])
    tech = adr_entity(["fn", {}, "text", "T"], roles=("technical",))
    rec = both_paths(entity_doc(served, tech, redacted=red))
    assert [(e.role, e.address_redacted) for e in rec.entities] == [
        ("registrant", True),
        ("technical", False),
    ]


def address_redacted_of(*props: list[Any]) -> bool:
    return both_paths(entity_doc(adr_entity(*props))).entities[0].address_redacted


@pytest.mark.parametrize(
    ("addr", "address"),
    [
        (
            {"full": "4321 Rue Somewhere\nQuebec\nQC\nG1V 2M2\nCanada", "countryCode": "CA"},
            "4321 Rue Somewhere\nQuebec\nQC\nG1V 2M2\nCanada",
        ),
        # RFC 9553 components: street kinds on one line, joined by their separator
        (
            {
                "components": [
                    {"kind": "number", "value": "54321"},
                    {"kind": "separator", "value": " "},
                    {"kind": "name", "value": "Oak St"},
                    {"kind": "locality", "value": "Reston"},
                    {"kind": "region", "value": "VA"},
                    {"kind": "postcode", "value": "20190"},
                    {"kind": "country", "value": "USA"},
                ],
                "countryCode": "US",
            },
            "54321 Oak St\nReston\nVA\n20190\nUSA",
        ),
        (
            {
                "components": [
                    {"kind": "name", "value": "Oak St"},
                    {"kind": "number", "value": "5"},
                    "junk",
                    {"kind": "locality", "value": None},
                ]
            },
            "Oak St 5",
        ),
        # an earlier draft's members
        (
            {
                "street": [{"type": "name", "value": "1 Main St"}],
                "locality": "Springfield",
                "postcode": "62701",
                "country": "US",
            },
            "1 Main St\nSpringfield\n62701\nUS",
        ),
        ({"fullAddress": "1 Main St\\nSpringfield"}, "1 Main St\nSpringfield"),
        ({"countryCode": "US"}, None),
    ],
)
def test_jscontact_addresses(addr: dict[str, Any], address: str | None) -> None:
    card = {"@type": "Card", "kind": "individual", "addresses": {"a1": addr}}
    rec = both_paths(entity_doc({"handle": "J", "roles": ["registrant"], "jscontact_card": card}))
    assert rec.entities[0].address == address


def test_jscontact_first_address_with_text_wins() -> None:
    card = {"addresses": [{"countryCode": "US"}, {"full": "2 Second St"}, {"full": "3 Third"}]}
    rec = both_paths(entity_doc({"roles": ["registrant"], "jscard": card}))
    assert rec.entities[0].address == "2 Second St"
    assert rec.entities[0].country == "US"  # the country still comes from the first address


@pytest.mark.parametrize(
    ("fn", "org", "proxy"),
    [
        ("Registration Private", "Domains By Proxy, LLC", True),
        ("Redacted for Privacy", "Privacy service provided by Withheld for Privacy ehf", True),
        ("Contact Privacy Inc. Customer 0123456", None, True),
        (None, "PrivacyGuardian.org llc", True),
        ("WhoisGuard Protected", None, True),
        ("Perfect Privacy, LLC", None, True),
        ("Super Privacy Service LTD c/o Dynadot", None, True),
        ("Whois Privacy Protection Service, Inc.", None, True),
        ("Identity Protection Service", "Identity Protect Limited", True),
        ("Domain Administrator", "See PrivacyGuardian.org", True),
        ("Privacy/Proxy service", None, True),
        # redaction wording is not a proxy service
        ("REDACTED FOR PRIVACY", "REDACTED FOR PRIVACY", False),
        ("Withheld for Privacy Purposes", None, False),
        ("Data Protected", "Data Protected", False),
        ("Jane Doe", "Proxima Centauri Ltd", False),
        (None, None, False),
    ],
)
def test_privacy_proxy_patterns(fn: str | None, org: str | None, proxy: bool) -> None:
    props = [p for p in (["fn", {}, "text", fn] if fn else None,
                         ["org", {}, "text", org] if org else None) if p]  # fmt: skip
    roles = ("registrant", "administrative", "technical", "billing", "registrar", "abuse")
    rec = both_paths(entity_doc(adr_entity(*props, roles=roles)))
    got = {e.role: e.privacy_proxy for e in rec.entities}
    assert got == {r: proxy and r not in ("registrar", "abuse") for r in roles}


def test_entity_rows_are_shared_through_the_memo_with_the_new_fields() -> None:
    ent = adr_entity(["org", {}, "text", "Domains By Proxy, LLC"],
                     ["adr", {"label": "1 Main St"}, "text", None])  # fmt: skip
    for source in ("registry", "registrar", "registry"):
        rec = both_paths(entity_doc(ent), source)
        e = rec.entities[0]
        assert (e.source, e.address, e.privacy_proxy) == (source, "1 Main St", True)


# -- frames, privacy, lookups ---------------------------------------------------------------


def _results(*rels: str) -> dict[str, NameResult]:
    out: dict[str, NameResult] = {}
    for rel in rels:
        body = (responses_dir() / rel).read_bytes()
        key = decode_json(body)["ldhName"].lower().rstrip(".")
        resp = Response("domain", key, 0, "", "", 200, {}, body, NOW, 1.0)
        res = NameResult("domain", key, "ok", http_status=200)
        res.responses = [resp]
        out[key] = res
    return out


def test_frames_carry_the_columns_and_redaction_blanks_individual_addresses() -> None:
    results = _results("afnic/afnic.fr.json", "namecheap/deep.surf.json")
    frames = build_frames([(k, k) for k in results], results)
    ent = frames.entities
    assert ent.schema == ENTITIES_SCHEMA
    assert ent.columns[-5:] == ["address", "address_redacted", "privacy_proxy", "query_kind", "key"]
    assert "address" in PERSONAL_COLUMNS
    person = ent.filter(pl.col("handle") == "JP-FRNIC").row(0, named=True)
    assert person["address"].startswith("immeuble le Stephenson\n")
    red = redact_frames(frames).entities
    person = red.filter(pl.col("handle") == "JP-FRNIC").row(0, named=True)
    assert person["address"] is None and person["pii_redacted"]
    rar = red.filter(pl.col("role") == "registrar")
    assert rar["address"].null_count() == 0  # registrar addresses stay
    # the Namecheap proxy rows say kind=individual: blanked, but still flagged as proxies
    proxies = red.filter(pl.col("privacy_proxy"))
    assert proxies.height == 3 and proxies["address"].null_count() == 3
    assert (
        proxies["organization"].to_list()
        == ["Privacy service provided by Withheld for Privacy ehf"] * 3
    )


def test_strict_mode_strips_label_only_addresses_of_individuals() -> None:
    person = {"handle": "P", "roles": ["technical"], "vcardArray": ["vcard", [
        ["fn", {}, "text", "Jane Doe"], ["kind", {}, "text", "individual"],
        ["adr", {"label": "1 Secret Lane\\nSpringfield"}, "text", ["", "", "", "", "", "", ""]],
    ]]}  # fmt: skip
    org = {"handle": "O", "roles": ["registrant"], "vcardArray": ["vcard", [
        ["fn", {}, "text", "Acme"], ["kind", {}, "text", "org"],
        ["adr", {"label": "1 Acme Way"}, "text", None],
    ]]}  # fmt: skip
    stripped = strip_pii_from_body(entity_doc(person, org))
    assert "Secret Lane" not in stripped and "1 Acme Way" in stripped
    rec = both_paths(stripped.encode())
    assert [e.address for e in rec.entities] == [None, "1 Acme Way"]


def test_lookup_on_the_simulator_blanks_individual_addresses_by_default() -> None:
    names = ["alpha.fr", "beta.fr", "zeta.com"]
    with SimulatorThread() as sim, tempfile.TemporaryDirectory() as tmp:
        kw: dict[str, Any] = {
            "bootstrap": sim.write_bootstrap(Path(tmp) / "boot"),
            "cache": Path(tmp) / "c.duckdb",
            "progress": False,
            "limits": Limits(per_host_rate_per_s=None, per_host_concurrency=8),
        }
        redacted = rdaplab.lookup(names, **kw).entities
        kept = rdaplab.lookup(names, redact_pii=False, **kw).entities
    assert redacted.schema == kept.schema == ENTITIES_SCHEMA
    tech = pl.col("handle") == "JP-FRNIC"
    assert redacted.filter(tech).height == 2 and redacted.filter(tech)["address"].null_count() == 2
    assert kept.filter(tech)["address"].str.starts_with("immeuble le Stephenson").all()
    # registrar addresses are never blanked
    rar = pl.col("role") == "registrar"
    assert redacted.filter(rar)["address"].equals(kept.filter(rar)["address"])
    assert redacted.filter(rar)["address"].drop_nulls().len() >= 3
    # the Namecheap referral of zeta.com: a proxy registrant, flagged either way
    for frame in (redacted, kept):
        reg = frame.filter((pl.col("domain") == "zeta.com") & (pl.col("role") == "registrant"))
        assert reg["privacy_proxy"].to_list() == [True]
    assert kept.filter(pl.col("privacy_proxy"))["address"].str.contains("Panama").all()
