"""The simulator's RIR role: ip / autnum / entity / nameserver answers over real HTTP."""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from rdaplab._data import datasets_dir
from rdaplab.rdap.bootstrap import Bootstrap
from rdaplab.rdap.objects import parse_autnum, parse_network
from rdaplab.simulator import Scenario, Simulator, SimulatorThread

RIRS_FILE = datasets_dir() / "scenarios" / "rirs.json"
RIR_NAMES = ("arin", "ripe", "apnic", "lacnic", "afrinic")


def rirs(**changes: dict[str, Any]) -> dict[str, Any]:
    """rirs.json without latency or limits, plus per-registry ``changes``."""
    raw = json.loads(RIRS_FILE.read_text())
    for reg in raw["registries"]:
        for key in ("latency_ms", "rate_limit", "person_quota"):
            reg.pop(key, None)
        reg.update(changes.get(reg["name"], {}))
    return raw


async def get(url: str) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return r.status, dict(r.headers), await r.read()


def sample_addresses(sim: Simulator, name: str, n: int = 6) -> list[str]:
    """Addresses spread over every range of one RIR (both families)."""
    spec = next(s for s in sim.scenario.registries if s.name == name)
    out = []
    for text in spec.ip_ranges:
        net = ipaddress.ip_network(text)
        for i in range(n):
            offset = (i * 7919 * 2**20 + i * 104729) % net.num_addresses
            out.append(str(net.network_address + offset))
    return out


# --------------------------------------------------------------------------- answers


async def test_every_ip_answer_normalizes_to_the_expected_network(simulator):
    sim = await simulator(rirs())
    for name in RIR_NAMES:
        base = sim.base_url(name)
        for addr in sample_addresses(sim, name):
            status, _, body = await get(f"{base}ip/{addr}")
            exp = sim.expected_object("ip", addr)
            assert status == 200 == exp.status and exp.registry == name and exp.rir == name
            row = parse_network(json.loads(body), addr, base)
            assert row["handle"] == exp.handle
            assert (row["start_address"], row["end_address"]) == (
                exp.start_address,
                exp.end_address,
            )
            assert row["cidrs"] == exp.cidrs and row["ip_version"] == exp.ip_version
            assert row["name"] == exp.name and row["country"] == exp.country
            assert row["rir"] == name
            assert row["parent_handle"] == exp.parent_handle
            net = ipaddress.ip_network(exp.cidrs[0])
            assert ipaddress.ip_address(addr) in net
            owner = [
                r for r in next(s for s in sim.scenario.registries if s.name == name).ip_ranges
            ]
            assert any(
                net.subnet_of(ipaddress.ip_network(o))
                for o in owner
                if ipaddress.ip_network(o).version == net.version
            )  # type: ignore[arg-type]


async def test_ip_answers_are_deterministic_and_shared_within_a_network(simulator):
    sim = await simulator(rirs())
    first = sim.expected_object("ip", "13.64.1.2")
    net = ipaddress.ip_network(first.cidrs[0])
    other = str(net.broadcast_address)  # another address of the same network
    a = (await get(sim.base_url("arin") + "ip/13.64.1.2"))[2]
    b = (await get(sim.base_url("arin") + f"ip/{other}"))[2]
    assert a == b  # one network, one object, whatever address was asked
    # A prefix query names the network it asks for, or the simulated one inside it.
    status, _, body = await get(sim.base_url("arin") + "ip/13.0.0.0/8")
    doc = json.loads(body)
    assert status == 200 and parse_network(doc)["cidrs"] == ["13.0.0.0/8"]
    exp = sim.expected_object("ip", f"{net.network_address}/{net.prefixlen}")
    assert exp.cidrs == first.cidrs and exp.query == str(net)


async def test_template_quirks_survive_templating(simulator):
    sim = await simulator(rirs())
    seen: dict[str, set[str]] = {}
    for name in ("arin", "ripe"):
        for addr in sample_addresses(sim, name, 30):
            exp = sim.expected_object("ip", addr)
            seen.setdefault(name, set()).add(exp.template or "")
            doc = json.loads((await get(sim.base_url(name) + f"ip/{addr}"))[2])
            start = doc["startAddress"]
            if exp.template == "ripe/ip-62.239.237.1.json":
                assert start.endswith("/32") and "objectClassName" not in doc  # as RIPE served
            if exp.template == "arin/ip-74.125.225.229.json" and exp.ip_version == 4:
                assert re.fullmatch(r"\d{3}\.\d{3}\.\d{3}\.\d{3}", start)  # zero-padded
            # Everything else of the template is kept: notices, port43, entities.
            tpl = json.loads(
                (Path(datasets_dir()) / "responses" / (exp.template or "")).read_text()
            )
            assert doc.get("port43") == tpl.get("port43")
            assert len(doc.get("entities", [])) == len(tpl.get("entities", []))

            def texts(d: dict[str, Any]) -> list[Any]:
                return [(n.get("title"), n.get("description")) for n in d.get("notices", [])]

            assert texts(doc) == texts(tpl)  # links are pointed here, the words are kept
    assert len(seen["arin"]) >= 3 and len(seen["ripe"]) >= 2  # templates rotate per network


async def test_autnum_answers(simulator):
    sim = await simulator(rirs())
    for name, number in (
        ("arin", 13335),
        ("ripe", 49100),
        ("apnic", 9300),
        ("lacnic", 28001),
        ("afrinic", 327700),
        ("arin", 1),
    ):
        base = sim.base_url(name)
        status, _, body = await get(f"{base}autnum/{number}")
        exp = sim.expected_object("autnum", f"AS{number}")
        assert status == 200 == exp.status and exp.registry == name
        row = parse_autnum(json.loads(body), str(number), base)
        assert row["handle"] == exp.handle == f"AS{number}"
        assert row["start_autnum"] == row["end_autnum"] == exp.start_autnum == number
        assert row["name"] == exp.name and row["country"] == exp.country and row["rir"] == name
    # LACNIC names an AS by its number; a NIC.br template prints the bare number as handle.
    lacnic = sim.expected_object("autnum", 28001)
    assert lacnic.name in ("28001", "ASN28001")
    assert (await get(sim.base_url("arin") + "autnum/13335"))[2] == (
        await get(sim.base_url("arin") + "autnum/13335")
    )[2]


async def test_entity_answers_and_tags(simulator):
    sim = await simulator(rirs())
    status, _, body = await get(sim.base_url("ripe") + "entity/ab12-ripe")
    doc = json.loads(body)
    exp = sim.expected_object("entity", "ab12-ripe")
    assert status == 200 and doc["handle"] == exp.handle == "AB12-RIPE"
    assert doc["objectClassName"] == "entity" and exp.registry == "ripe"
    self_link = next(ln for ln in doc["links"] if ln["rel"] == "self")
    assert self_link["href"] == sim.base_url("ripe") + "entity/AB12-RIPE"
    # No link points back at the real RIR's RDAP service.
    assert "rdap.db.ripe.net" not in body.decode()
    # A foreign tag is not found, with the registry's not_found_template (RIPE's real 404).
    status, _, body = await get(sim.base_url("ripe") + "entity/JNIC1-AP")
    assert status == 404 and json.loads(body)["errorCode"] == 404
    assert sim.expected_object("entity", "JNIC1-AP", registry="ripe").status == 404
    # Untagged handles are answered by the RIR asked, but no bootstrap entry routes them.
    assert (await get(sim.base_url("arin") + "entity/GOVI"))[0] == 200
    assert sim.expected_object("entity", "GOVI").status is None
    # LACNIC has no entity in the corpus: NIC.br's (its NIR) stands in.
    lac = sim.expected_object("entity", "XY1-LACNIC")
    assert lac.status == 200 and (lac.template or "").startswith("registro-br/")
    # APNIC has none at all: the class is answered 501.
    assert (await get(sim.base_url("apnic") + "entity/X1-AP"))[0] == 501


async def test_outside_ranges_invalid_and_unsupported(simulator):
    sim = await simulator(rirs())
    arin = sim.base_url("arin")
    cases = {
        "ip/62.1.1.1": 404,  # RIPE's space
        "ip/13.0.0.0/7": 404,  # broader than ARIN's /8
        "autnum/3000000": 404,
        "entity/X-RIPE": 404,
        "domain/example.com": 404,
        "ip/300.1.1.1": 400,
        "ip/13.0.0.1/33": 400,
        "ip/13.0.0.1/x": 400,
        "autnum/AS1": 400,
        "autnum/99999999999": 400,
        "entity/-ARIN": 400,
        "nameserver/ns1.example.com": 501,
    }
    for path, want in cases.items():
        status, headers, body = await get(arin + path)
        assert status == want, path
        assert headers["Content-Type"].startswith("application/rdap+json"), path
        assert json.loads(body)["errorCode"] == want, path
    assert sim.expected_object("ip", "62.1.1.1", registry="arin").status == 404
    assert sim.expected_object("ip", "300.1.1.1", registry="arin").status == 400
    assert sim.expected_object("ip", "192.0.2.1").status is None  # nobody's space
    # RIPE answers nameserver queries with its real 501 body.
    status, _, body = await get(sim.base_url("ripe") + "nameserver/ns1.example.com")
    assert status == 501 and json.loads(body)["description"] == ["Nameserver not supported"]
    # A domain registry still answers 501 for the RIR classes.
    assert (await get(sim.base_url("verisign") + "ip/13.1.1.1"))[0] == 501
    assert sim.expected_object("ip", "13.1.1.1", registry="verisign").status == 501


async def test_nameserver_from_a_domain_registry(simulator):
    sim = await simulator(rirs())
    base = sim.base_url("verisign")
    status, _, body = await get(base + "nameserver/NS1.Example-Host.com.")
    doc = json.loads(body)
    exp = sim.expected_object("nameserver", "ns1.example-host.com")
    assert status == 200 == exp.status and exp.registry == "verisign"
    assert doc["objectClassName"] == "nameserver"
    assert doc["ldhName"] == exp.ldh_name == "NS1.EXAMPLE-HOST.COM"  # Verisign's upper case
    assert "rdapConformance" in doc
    assert (await get(base + "nameserver/ns1.example.org"))[0] == 404  # not its TLD
    assert (await get(base + "nameserver/nx-host.com"))[0] == 404
    assert (await get(base + "nameserver/bad..name.com"))[0] == 400
    # Glue is kept when the template's nameservers carry it (documentation addresses).
    with_glue = {
        "registries": [
            {"name": "reg", "tlds": ["test"], "template": "afnic/afnic.fr.json"},
        ]
    }
    sim2 = await simulator(with_glue)
    tpl = json.loads((datasets_dir() / "responses" / "afnic" / "afnic.fr.json").read_text())
    status, _, body = await get(sim2.base_url("reg") + "nameserver/ns.host.test")
    doc = json.loads(body)
    exp = sim2.expected_object("nameserver", "ns.host.test")
    assert status == 200 and doc["ldhName"] == exp.ldh_name
    assert set(doc["ipAddresses"]) == set(tpl["nameservers"][0]["ipAddresses"]) == {"v4", "v6"}
    addrs = [a for v in doc["ipAddresses"].values() for a in v]
    assert addrs == exp.ip_addresses and len(addrs) == 2
    assert all(ipaddress.ip_address(a).is_private for a in addrs)  # documentation ranges
    nscfg = copy.deepcopy(with_glue)
    nscfg["registries"][0]["nameserver_queries"] = "501"
    sim3 = await simulator(nscfg)
    assert (await get(sim3.base_url("reg") + "nameserver/ns.host.test"))[0] == 501


# --------------------------------------------------------------------------- behaviours


async def test_person_quota_ripe_style(simulator):
    sim = await simulator(rirs(ripe={"person_quota": 3, "quota_day_s": 1.5, "retry_after": "none"}))
    base = sim.base_url("ripe")
    # Entities carrying a person: every RIPE entity template's top entity is one or more.
    served = 0
    handles = [f"P{i}-RIPE" for i in range(10)]
    statuses = []
    for h in handles:
        status, headers, body = await get(base + f"entity/{h}")
        statuses.append(status)
        if status == 200:
            served += sim.expected_object("entity", h).persons
        else:
            assert status == 429 and "Retry-After" not in headers
            doc = json.loads(body)
            assert doc["errorCode"] == 429 and doc["title"] == "Too Many Requests"
            assert doc["description"][0] == "%ERROR:201: access denied for 127.0.0.1"
    assert 200 in statuses and statuses[-1] == 429
    first_refusal = statuses.index(429)
    assert all(s == 429 for s in statuses[first_refusal:])
    st = sim.stats()["ripe"]
    assert st.persons_served == served >= 3  # the answer that crosses the quota is served
    assert st.person_quota_rejections == len(handles) - first_refusal
    assert st.by_kind == {"entity": len(handles)}
    await asyncio.sleep(1.6)  # the simulated day ends
    assert (await get(base + "entity/P0-RIPE"))[0] == 200


async def test_person_quota_counts_only_persons(simulator):
    sim = await simulator(rirs(arin={"person_quota": 1, "quota_day_s": 60}))
    base = sim.base_url("arin")
    # Autnums whose template carries no person never spend the quota.
    zero = [n for n in range(13312, 13400) if sim.expected_object("autnum", n).persons == 0][:5]
    assert zero
    for n in zero:
        assert (await get(base + f"autnum/{n}"))[0] == 200
    assert sim.stats()["arin"].persons_served == 0


async def test_lacnic_ten_a_minute(simulator):
    raw = json.loads(RIRS_FILE.read_text())
    sim = await simulator(raw)
    base = sim.base_url("lacnic")
    results = [await get(base + f"autnum/{28000 + i}") for i in range(11)]
    assert [r[0] for r in results[:10]] == [200] * 10
    status, headers, body = results[10]
    assert status == 429 and int(headers["Retry-After"]) >= 1
    notice = json.loads(body)["notices"][0]
    assert notice["title"] == "Rate Limit Notice"
    assert notice["description"] == ["Rate Limit is maxed at 10 queries per 1 minutes."]
    assert sim.stats()["lacnic"].throttled == 1


# --------------------------------------------------------------------------- bootstrap


async def test_bootstrap_routes_objects_to_the_simulated_rirs(simulator, tmp_path: Path):
    sim = await simulator(rirs())
    out = sim.write_bootstrap(tmp_path / "boot")
    boot = Bootstrap.load(out)
    for name in RIR_NAMES:
        for addr in sample_addresses(sim, name, 3):
            match = boot.ip(addr)
            assert match is not None and match.base_url == sim.base_url(name), addr
            assert sim.expected_object("ip", addr).registry == name
    for number, name in (
        (13335, "arin"),
        (8283, "ripe"),
        (9269, "apnic"),
        (28000, "lacnic"),
        (37271, "afrinic"),
    ):
        match = boot.asn(number)
        assert match is not None and match.base_url == sim.base_url(name)
    for handle, name in (
        ("ZG39-ARIN", "arin"),
        ("x-ripe", "ripe"),
        ("JNIC1-AP", "apnic"),
        ("A-LACNIC", "lacnic"),
        ("PP17-AFRINIC", "afrinic"),
    ):
        match = boot.entity(handle)
        assert match is not None and match.base_url == sim.base_url(name)
    assert boot.ip("192.0.2.1") is None  # only simulated space is listed
    assert boot.ip("13.0.0.0/8") is not None and boot.ip("2600:1234::/32") is not None
    dns = json.loads((out / "dns.json").read_text())
    assert dns["services"] == [[["com", "net"], [sim.base_url("verisign")]]]
    tags = json.loads((out / "object-tags.json").read_text())
    assert all(len(service) == 3 for service in tags["services"])


def test_thread_wrapper_and_stats_fields():
    with SimulatorThread(rirs()) as sim:
        exp = sim.expected_object("asn", "AS13335")
        assert exp.kind == "autnum" and exp.found and exp.registry == "arin"
        sim.reset_stats()
        st = sim.stats()["arin"]
        assert st.persons_served == 0 and st.person_quota_rejections == 0 and st.by_kind == {}


# --------------------------------------------------------------------------- scenarios


def test_rirs_scenario_file():
    scen = Scenario.load(RIRS_FILE)
    specs = {s.name: s for s in scen.registries}
    assert {s.rir for s in scen.registries if s.role == "rir"} == set(RIR_NAMES)
    assert specs["ripe"].person_quota and specs["afrinic"].person_quota
    lacnic = specs["lacnic"].rate_limit or {}
    assert lacnic["burst"] == 10 and abs(lacnic["rate_per_s"] * 60 - 10) < 1e-9
    assert any(s.role == "registry" for s in scen.registries)
    assert specs["arin"].ip_templates and specs["arin"].entity_tags == ["ARIN"]
    assert specs["verisign"].nameserver_queries == "serve"
    assert specs["ripe"].nameserver_queries == "501"
    assert Scenario.load(RIRS_FILE) == scen


RIR = {"name": "x", "role": "rir", "rir": "arin", "ip_ranges": ["13.0.0.0/8"]}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rir": "iana"}, "rir must be one of"),
        ({"ip_ranges": ["13.1.0.0/8"]}, "host bits set"),
        ({"ip_ranges": ["nope"]}, "is not a CIDR prefix"),
        ({"ip_ranges": [], "asn_ranges": []}, "needs ip_ranges and/or asn_ranges"),
        ({"asn_ranges": ["5-1"]}, "asn_ranges entry '5-1'"),
        ({"asn_ranges": ["AS5"]}, "asn_ranges entry 'AS5'"),
        ({"entity_tags": ["AR-IN"]}, "entity_tags must be"),
        ({"tlds": ["com"]}, "serves no TLDs"),
        ({"ip_templates": ["arin/autnum-13335.json"]}, "not 'ip network'"),
        ({"ip_templates": ["arin/none.json"]}, "not found"),
        ({"nameserver_queries": "serve"}, "only a registry can serve"),
        ({"person_quota": 0}, "person_quota must be"),
    ],
)
def test_rir_validation(changes: dict[str, Any], message: str):
    with pytest.raises(ValueError, match=re.escape(message)):
        Scenario.load({"registries": [{**RIR, **changes}]})


def test_rir_scenario_level_validation():
    other = {**RIR, "name": "y", "rir": "ripe", "ip_ranges": ["13.64.0.0/10"]}
    with pytest.raises(ValueError, match="overlaps"):
        Scenario.load({"registries": [RIR, other]})
    a = {**RIR, "ip_ranges": [], "asn_ranges": ["1-100"]}
    b = {**RIR, "name": "y", "ip_ranges": [], "asn_ranges": [100], "entity_tags": ["Y"]}
    with pytest.raises(ValueError, match="AS ranges of x and y overlap"):
        Scenario.load({"registries": [a, b]})
    c = {**RIR, "name": "y", "ip_ranges": ["14.0.0.0/8"]}
    with pytest.raises(ValueError, match="entity tag 'ARIN'"):
        Scenario.load({"registries": [RIR, c]})
    with pytest.raises(ValueError, match="missing required field 'rir'"):
        Scenario.load({"registries": [{"name": "x", "role": "rir"}]})
    domain = {"name": "d", "tlds": ["t"], "template": "verisign/google.com-2024.json"}
    with pytest.raises(ValueError, match="ip_ranges is only for role 'rir'"):
        Scenario.load({"registries": [{**domain, "ip_ranges": ["13.0.0.0/8"]}]})
