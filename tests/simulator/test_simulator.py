"""The loopback registry simulator, exercised with a real aiohttp client."""

from __future__ import annotations

import asyncio
import email.utils
import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from rdaplab._data import bootstrap_dir, datasets_dir, responses_dir
from rdaplab.simulator import Scenario, Simulator, SimulatorThread

TEMPLATE = "verisign/google.com-2024.json"
_DATE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:?\d\d)?$")
FAULT_KEYS = (
    "rate_limit",
    "concurrency_limit",
    "error_rate",
    "malformed_rate",
    "slow_body_rate",
    "drop_rate",
    "not_found_rate",
)


def one(**overrides: Any) -> dict[str, Any]:
    """A one-registry scenario serving ``.test`` from the Verisign template."""
    reg = {"name": "reg", "tlds": ["test"], "template": TEMPLATE, **overrides}
    return {"seed": 7, "registries": [reg]}


def parse_date(value: str) -> datetime:
    """RDAP event dates in every style the templates use (zone-less means UTC)."""
    m = _DATE.match(value)
    assert m, value
    base = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    tz = m.group(2)
    if not tz or tz == "Z":
        return base.replace(tzinfo=timezone.utc)
    digits = tz[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return base.replace(tzinfo=timezone(offset if tz[0] == "+" else -offset))


def events(doc: dict[str, Any]) -> dict[str, datetime]:
    return {e["eventAction"]: parse_date(e["eventDate"]) for e in doc.get("events", [])}


def registrar_entity(doc: dict[str, Any]) -> dict[str, Any]:
    return next(e for e in doc["entities"] if "registrar" in [r.lower() for r in e["roles"]])


def vcard(entity: dict[str, Any], prop: str) -> str | None:
    for item in entity.get("vcardArray", ["vcard", []])[1]:
        if item[0] == prop:
            return str(item[3])
    return None


async def get(url: str) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return r.status, dict(r.headers), await r.read()


def no_faults() -> dict[str, Any]:
    raw = json.loads((datasets_dir() / "scenarios" / "default.json").read_text())
    for reg in raw["registries"]:
        for key in FAULT_KEYS:
            reg.pop(key, None)
    return raw


# --------------------------------------------------------------------------- templating


async def test_verisign_answer_matches_expected_and_keeps_upper_case(simulator):
    sim = await simulator(no_faults())
    status, headers, body = await get(sim.base_url("verisign") + "domain/Example-Shop.com")
    assert status == 200
    assert headers["Content-Type"].startswith("application/rdap+json")
    doc = json.loads(body)
    exp = sim.expected("EXAMPLE-SHOP.COM.")
    assert exp is not None and exp.registry == "verisign"
    assert doc["ldhName"] == "EXAMPLE-SHOP.COM"  # Verisign's upper-case style kept
    assert doc["handle"] == exp.handle and exp.handle.endswith("_DOMAIN_COM-VRSN")
    ev = events(doc)
    assert ev["registration"] == exp.registration_date
    assert ev["expiration"] == exp.expiration_date
    assert ev["last changed"] == exp.last_changed_date
    assert exp.registration_date < exp.last_changed_date <= exp.expiration_date
    assert [n["ldhName"] for n in doc["nameservers"]] == [n.upper() for n in exp.nameservers]
    assert 2 <= len(exp.nameservers) <= 4 and exp.nameservers == sorted(exp.nameservers)
    reg = registrar_entity(doc)
    assert vcard(reg, "fn") == exp.registrar
    assert reg["publicIds"] == [{"type": "IANA Registrar ID", "identifier": exp.registrar_iana_id}]
    self_link = next(link for link in doc["links"] if link["rel"] == "self")
    assert self_link["href"] == sim.base_url("verisign") + "domain/EXAMPLE-SHOP.COM"


async def test_expected_values_are_stable_across_processes(simulator):
    # Pinned values catch any accidental use of Python's salted hash().
    sim = await simulator(no_faults())
    exp = sim.expected("example.com")
    assert exp is not None
    assert exp.handle == "992644121_DOMAIN_COM-VRSN"
    assert exp.registration_date == datetime(2001, 6, 30, 23, 35, 17, tzinfo=timezone.utc)
    assert exp.nameservers == [f"ns{i}.ultradns.org" for i in range(1, 5)]


async def test_every_default_registry_serves_its_expected_values(simulator):
    sim = await simulator(no_faults())
    for spec in sim.scenario.registries:
        if spec.role != "registry" or spec.dead:
            continue
        name = f"bright-harbor.{spec.tlds[0]}"
        status, _, body = await get(sim.base_url(spec.name) + f"domain/{name}")
        assert status == 200, spec.name
        doc = json.loads(body)
        exp = sim.expected(name)
        assert exp is not None and exp.registry == spec.name
        tpl = json.loads((responses_dir() / spec.template).read_text())
        want = name.upper() if tpl["ldhName"].isupper() else name
        assert doc["ldhName"] == want + ("." if tpl["ldhName"].endswith(".") else "")
        assert doc.get("handle") == exp.handle, spec.name
        ev = events(doc)
        if "registration" in ev:
            assert ev["registration"] == exp.registration_date, spec.name
        if "expiration" in ev:
            assert ev["expiration"] == exp.expiration_date, spec.name
        served_ns = [n["ldhName"].lower().rstrip(".") for n in doc.get("nameservers", [])]
        assert served_ns == exp.nameservers, spec.name
        if exp.registrar is not None:
            assert vcard(registrar_entity(doc), "fn") == exp.registrar, spec.name


async def test_idn_a_label_gets_unicode_name_and_zdns_trailing_dot(simulator):
    sim = await simulator(no_faults())
    status, _, body = await get(sim.base_url("zdns") + "domain/XN--BCHER-KVA.top")
    assert status == 200
    doc = json.loads(body)
    assert doc["ldhName"] == "xn--bcher-kva.top."  # the template's real trailing-dot quirk
    assert doc["unicodeName"] == "bücher.top."
    exp = sim.expected("bücher.top")
    assert exp is not None and exp.name == "xn--bcher-kva.top"
    assert exp.unicode_name == "bücher.top"
    assert [n["ldhName"] for n in doc["nameservers"]] == [n + "." for n in exp.nameservers]
    status, _, body = await get(sim.base_url("zdns") + "domain/bücher.top")  # U-label query
    assert status == 200 and json.loads(body)["ldhName"] == "xn--bcher-kva.top."


async def test_registry_refers_to_registrar_and_both_agree(simulator):
    sim = await simulator(no_faults())
    seen: set[str] = set()
    for i in range(12):  # enough names to hit both verisign referral targets
        name = f"harbor-{i}.com"
        _, _, body = await get(sim.base_url("verisign") + f"domain/{name}")
        doc = json.loads(body)
        exp = sim.expected(name)
        assert exp is not None and exp.registrar_url is not None
        related = [link for link in doc["links"] if link["rel"] == "related"]
        assert len(related) == 1
        assert related[0]["type"] == "application/rdap+json"
        assert related[0]["href"] == exp.registrar_url
        target = "markmonitor" if "/markmonitor/" in exp.registrar_url else "namecheap"
        assert exp.registrar_url == sim.base_url(target) + f"domain/{name.upper()}"
        seen.add(target)
        status, _, rbody = await get(exp.registrar_url)
        assert status == 200
        rdoc = json.loads(rbody)
        assert rdoc["ldhName"] == name  # registrar templates are lower case
        assert rdoc["handle"] == exp.handle
        rev = events(rdoc)
        assert rev["registration"] == exp.registration_date
        assert rev["expiration"] == exp.expiration_date
        assert [n["ldhName"] for n in rdoc["nameservers"]] == exp.nameservers
        ent = registrar_entity(rdoc)
        assert (vcard(ent, "fn") or vcard(ent, "org")) == exp.registrar
        assert (
            exp.registrar
            == {"markmonitor": "MarkMonitor Inc.", "namecheap": "NameCheap, Inc."}[target]
        )
        assert not [link for link in rdoc["links"] if link["rel"] == "related"]
    assert seen == {"markmonitor", "namecheap"}


async def test_registrar_rejects_names_it_does_not_sponsor(simulator):
    sim = await simulator(no_faults())
    name = next(
        f"n{i}.com"
        for i in range(50)
        if "/namecheap/" in (sim.expected(f"n{i}.com").registrar_url or "")  # type: ignore[union-attr]
    )
    status, _, _ = await get(sim.base_url("markmonitor") + f"domain/{name}")
    assert status == 404


async def test_not_found_styles(simulator):
    sim = await simulator(no_faults())
    assert sim.expected("nx-blue.com") is None
    status, _, body = await get(sim.base_url("verisign") + "domain/nx-blue.com")
    assert (status, body) == (404, b"")
    status, headers, body = await get(sim.base_url("pir") + "domain/my-nonexistent-site.org")
    assert status == 404 and headers["Content-Type"].startswith("application/rdap+json")
    doc = json.loads(body)
    assert doc["errorCode"] == 404 and doc["title"] == "Object not found"  # PIR's real body
    # A name outside the registry's TLDs, and one that is not a name at all.
    assert (await get(sim.base_url("pir") + "domain/fine.com"))[0] == 404
    assert (await get(sim.base_url("pir") + "domain/-bad-.org"))[0] == 400


async def test_not_found_rate_is_a_stable_hash(simulator):
    sim = await simulator(one(not_found_rate=0.5))
    names = [f"w{i}.test" for i in range(40)]
    missing = {n for n in names if sim.expected(n) is None}
    assert 5 < len(missing) < 35
    for name in names[:10]:
        status, _, _ = await get(sim.base_url("reg") + f"domain/{name}")
        assert status == (404 if name in missing else 200)


# --------------------------------------------------------------------------- limits


async def test_rate_limit_retry_after_seconds(simulator):
    sim = await simulator(one(rate_limit={"rate_per_s": 0.5, "burst": 2}))
    url = sim.base_url("reg") + "domain/a.test"
    statuses = []
    for _ in range(3):
        status, headers, body = await get(url)
        statuses.append(status)
    assert statuses == [200, 200, 429]
    assert headers["Retry-After"] == "2"  # one token at 0.5/s
    assert json.loads(body)["errorCode"] == 429
    st = sim.stats()["reg"]
    assert (st.requests, st.throttled, st.by_status) == (3, 1, {200: 2, 429: 1})


async def test_rate_limit_retry_after_http_date(simulator):
    sim = await simulator(one(rate_limit={"rate_per_s": 0.25, "burst": 1}, retry_after="http-date"))
    url = sim.base_url("reg") + "domain/a.test"
    assert (await get(url))[0] == 200
    status, headers, _ = await get(url)
    assert status == 429
    assert headers["Retry-After"].endswith(" GMT")
    when = email.utils.parsedate_to_datetime(headers["Retry-After"])
    delta = (when - datetime.now(timezone.utc)).total_seconds()
    assert 2.0 < delta <= 5.0  # about 4 s until the next token


@pytest.mark.parametrize(("style", "status"), [("403-html", 403), ("422-rdap", 422)])
async def test_other_throttle_styles(simulator, style, status):
    sim = await simulator(one(rate_limit={"rate_per_s": 0.1, "burst": 1}, throttle_style=style))
    url = sim.base_url("reg") + "domain/a.test"
    await get(url)
    got, headers, body = await get(url)
    assert got == status
    if style == "403-html":
        assert headers["Content-Type"].startswith("text/html") and b"exceeded" in body
    else:
        assert json.loads(body)["errorCode"] == 422
    assert sim.stats()["reg"].throttled == 1


async def test_throttle_style_503_says_what_a_fault_says(simulator):
    # A registry that throttles with 503 + Retry-After: status, headers and body are the
    # injected 503 fault's, so only the rate can tell the two apart.
    scen = one(rate_limit={"rate_per_s": 0.25, "burst": 1}, throttle_style="503")
    scen["registries"].append(
        {"name": "faulty", "tlds": ["fault"], "template": TEMPLATE, "error_rate": 1.0}
    )
    sim = await simulator(scen)
    await get(sim.base_url("reg") + "domain/a.test")
    got, headers, body = await get(sim.base_url("reg") + "domain/a.test")
    assert got == 503 and 2 <= int(headers["Retry-After"]) <= 4
    assert headers["Content-Type"].startswith("application/rdap+json")
    assert sim.stats()["reg"].throttled == 1
    for i in range(40):  # a fault is one of 500, 502, 503: find a 503
        status, fault_headers, fault_body = await get(sim.base_url("faulty") + f"domain/{i}.fault")
        if status == 503:
            break
    assert status == 503 and fault_headers["Retry-After"] == "1"
    assert json.loads(fault_body) == json.loads(body)
    assert sim.stats()["faulty"].throttled == 0


async def test_concurrency_limit_reject(simulator):
    sim = await simulator(one(concurrency_limit=2, latency_ms={"mean": 300, "jitter": 0}))
    url = sim.base_url("reg") + "domain/a.test"
    results = await asyncio.gather(*(get(url) for _ in range(5)))
    statuses = sorted(r[0] for r in results)
    assert statuses == [200, 200, 429, 429, 429]
    st = sim.stats()["reg"]
    # Rejections leave at once, so at most one of them overlaps the two admitted requests.
    assert st.peak_in_flight == 3 and st.throttled == 3 and st.in_flight == 0


async def test_concurrency_limit_queue(simulator):
    sim = await simulator(
        one(concurrency_limit=2, concurrency_mode="queue", latency_ms={"mean": 60, "jitter": 0})
    )
    url = sim.base_url("reg") + "domain/a.test"
    t0 = time.monotonic()
    results = await asyncio.gather(*(get(url) for _ in range(6)))
    assert [r[0] for r in results] == [200] * 6
    assert time.monotonic() - t0 >= 0.17  # three waves of two
    assert sim.stats()["reg"].peak_in_flight == 6


# --------------------------------------------------------------------------- faults


async def test_dead_registry_refuses_connections_quickly(simulator):
    sim = await simulator(one(dead=True))
    url = sim.base_url("reg") + "domain/a.test"
    t0 = time.monotonic()
    with pytest.raises(aiohttp.ClientConnectorError):
        await get(url)
    assert time.monotonic() - t0 < 1.0
    assert sim.expected("a.test") is None


async def test_dropped_connection(simulator):
    sim = await simulator(one(drop_rate=1.0))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await get(sim.base_url("reg") + "domain/a.test")
    st = sim.stats()["reg"]
    # aiohttp silently retries an idempotent request once on a fresh connection.
    assert 1 <= st.requests == st.dropped <= 2 and st.by_status == {}


async def test_malformed_body(simulator):
    sim = await simulator(one(malformed_rate=1.0))
    status, headers, body = await get(sim.base_url("reg") + "domain/a.test")
    assert status == 200 and headers["Content-Type"].startswith("application/rdap+json")
    assert body.startswith(b"{")
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)


async def test_server_errors(simulator):
    sim = await simulator(one(error_rate=1.0))
    seen: dict[int, dict[str, str]] = {}
    for i in range(15):
        status, headers, _ = await get(sim.base_url("reg") + f"domain/e{i}.test")
        seen[status] = headers
    assert set(seen) == {500, 502, 503}
    assert seen[503]["Retry-After"] == "1"
    assert sum(sim.stats()["reg"].by_status.values()) == 15


async def test_faults_replay_identically_per_attempt(simulator):
    async def run() -> list[int]:
        sim = await simulator(one(error_rate=0.5))
        url = sim.base_url("reg") + "domain/a.test"
        return [(await get(url))[0] for _ in range(8)]

    first, second = await run(), await run()
    assert first == second
    assert 200 in first and any(s >= 500 for s in first)  # retries eventually differ


async def test_slow_body_is_dribbled(simulator):
    sim = await simulator(one(slow_body_rate=1.0, slow_body_ms=300))
    t0 = time.monotonic()
    async with aiohttp.ClientSession() as s, s.get(sim.base_url("reg") + "domain/a.test") as r:
        headers_at = time.monotonic() - t0
        body = await r.read()
    total = time.monotonic() - t0
    assert r.status == 200 and json.loads(body)["ldhName"] == "A.TEST"
    assert total >= 0.28 and total - headers_at >= 0.2  # the wait was in the body


# --------------------------------------------------------------------------- plumbing


async def test_write_bootstrap_is_iana_shaped(simulator, tmp_path: Path):
    sim = await simulator(no_faults())
    out = sim.write_bootstrap(tmp_path / "boot")
    dns = json.loads((out / "dns.json").read_text())
    assert set(dns) >= {"publication", "version", "services", "description"}
    assert dns["version"] == "1.0"
    datetime.strptime(dns["publication"], "%Y-%m-%dT%H:%M:%SZ")
    mapping = {tld: urls for tlds, urls in dns["services"] for tld in tlds}
    assert mapping["com"] == mapping["net"] == [sim.base_url("verisign")]
    assert mapping["zip"] == [sim.base_url("dead-zip")]
    assert "markmonitor" not in json.dumps(dns)  # registrars are not in the DNS bootstrap
    for fname in ("ipv4.json", "ipv6.json", "asn.json", "object-tags.json"):
        assert (out / fname).read_bytes() == (bootstrap_dir() / fname).read_bytes()
    # The dead registry's port really refuses connections.
    with pytest.raises(aiohttp.ClientConnectorError):
        await get(mapping["zip"][0] + "domain/a.zip")


async def test_fixed_ports_are_consecutive(simulator):
    scen = {
        "registries": [
            {"name": "a", "tlds": ["aa"], "template": TEMPLATE},
            {"name": "b", "tlds": ["bb"], "template": TEMPLATE, "dead": True},
        ]
    }
    for _ in range(5):  # a free pair can be taken between probe and bind; retry
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        try:
            sim = await simulator(scen, port=port)
        except OSError:
            continue
        assert sim.base_url("a") == f"http://127.0.0.1:{port}/a/"
        assert sim.base_url("b") == f"http://127.0.0.1:{port + 1}/b/"
        return
    pytest.skip("no two consecutive free ports")


async def test_help_and_unsupported_queries(simulator):
    sim = await simulator(one())
    status, _, body = await get(sim.base_url("reg") + "help")
    assert status == 200 and json.loads(body)["notices"]
    assert (await get(sim.base_url("reg") + "ip/192.0.2.1"))[0] == 501


def test_simulator_thread_from_sync_code():
    with SimulatorThread(one()) as sim:
        url = sim.base_url("reg") + "domain/Sync-Case.test"
        with urllib.request.urlopen(url, timeout=5) as resp:
            doc = json.loads(resp.read())
        exp = sim.expected("sync-case.test")
        assert exp is not None and doc["handle"] == exp.handle
        assert sim.stats()["reg"].by_status == {200: 1}
        sim.reset_stats()
        assert sim.stats()["reg"].requests == 0
    with pytest.raises(RuntimeError):
        sim.stats()


# --------------------------------------------------------------------------- scenarios


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"registries": []}, "non-empty list"),
        ({"registries": [{"name": "x", "tlds": ["t"]}]}, "missing required field 'template'"),
        ({"registries": [{"name": "x", "tlds": ["t"], "template": TEMPLATE, "colour": 1}]}, "unknown field"),
        ({"registries": [{"name": "x", "tlds": ["t"], "template": "nope/none.json"}]}, "not found"),
        ({"registries": [{"name": "x", "tlds": ["t"], "template": TEMPLATE, "role": "isp"}]}, "role must be"),
        ({"registries": [{"name": "x", "tlds": ["t"], "template": TEMPLATE, "error_rate": 2}]}, "error_rate"),
        ({"registries": [{"name": "x", "tlds": "t", "template": TEMPLATE}]}, "tlds must be a list"),
        ({"registries": [{"name": "x", "tlds": ["t"], "template": TEMPLATE, "rate_limit": {"burst": 3}}]}, "rate_per_s"),
        ({"registries": [{"name": "x", "tlds": ["t"], "template": TEMPLATE, "refer_to": "mm"}]}, "not a registrar"),
        (
            {"registries": [
                {"name": "x", "tlds": ["t"], "template": TEMPLATE},
                {"name": "y", "tlds": ["T"], "template": TEMPLATE},
            ]},
            "TLD 't' served by x and y",
        ),
        ({"seed": "1", "registries": [{"name": "x", "tlds": ["t"], "template": TEMPLATE}]}, "seed"),
        ([1, 2], "cannot load"),
    ],
)  # fmt: skip
def test_scenario_load_rejects_bad_input(raw, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Scenario.load(raw)


def test_scenario_load_rejects_bad_files(tmp_path: Path):
    with pytest.raises(ValueError, match="not found"):
        Scenario.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        Scenario.load(bad)


def test_default_scenario_is_complete():
    scen = Scenario.default()
    specs = {s.name: s for s in scen.registries}
    assert 12 <= sum(s.role == "registry" for s in scen.registries) <= 15
    assert {s.name for s in scen.registries if s.role == "registrar"} == {
        "markmonitor",
        "namecheap",
    }
    assert any(s.dead for s in scen.registries)
    for spec in scen.registries:
        assert (responses_dir() / spec.template).is_file(), spec.template
        if spec.not_found_template:
            assert (responses_dir() / spec.not_found_template).is_file()
    limited = [s for s in scen.registries if s.rate_limit and s.role == "registry"]
    assert {s.retry_after for s in limited} >= {"seconds", "http-date"}
    assert any(s.error_rate > 0 for s in scen.registries)
    assert specs["verisign"].not_found == "empty" and specs["verisign"].tlds == ["com", "net"]
    assert Scenario.load(datasets_dir() / "scenarios" / "default.json") == scen


def test_sample_is_reproducible(tmp_path: Path):
    sample = datasets_dir() / "sample"
    out = tmp_path / "domains.csv"
    subprocess.run(
        [sys.executable, str(sample / "make_sample.py"), "--out", str(out)], check=True, timeout=60
    )
    assert out.read_bytes() == (sample / "domains.csv").read_bytes()


# --------------------------------------------------------------------------- escalation, quotas


async def test_throttle_style_200_notice(simulator):
    sim = await simulator(
        one(rate_limit={"rate_per_s": 0.1, "burst": 1}, throttle_style="200-notice")
    )
    url = sim.base_url("reg") + "domain/a.test"
    assert (await get(url))[0] == 200
    status, headers, body = await get(url)
    assert status == 200 and headers["Content-Type"].startswith("application/rdap+json")
    doc = json.loads(body)
    assert "objectClassName" not in doc and "ldhName" not in doc
    assert doc["notices"][0]["title"] == "Rate Limit Notice"
    assert headers["Retry-After"] == "10"  # one token at 0.1/s
    assert sim.stats()["reg"].throttled == 1


async def test_daily_quota_rejects_until_the_day_resets(simulator):
    sim = await simulator(one(daily_quota=2, quota_day_s=1.0))
    url = sim.base_url("reg") + "domain/a.test"
    t0 = time.monotonic()
    assert [(await get(url))[0] for _ in range(2)] == [200, 200]
    for _ in range(2):
        status, headers, body = await get(url)
        assert status == 429
        doc = json.loads(body)
        assert doc["title"] == "Quota exceeded"
        assert doc["description"] == [
            "Daily query quota exhausted for this address; retry after the reset."
        ]
        assert headers["Retry-After"] == "1"  # seconds until the 1 s "day" ends, rounded up
    st = sim.stats()["reg"]
    assert (st.quota_rejections, st.throttled) == (2, 0)
    await asyncio.sleep(max(0.0, 1.05 - (time.monotonic() - t0)))
    assert (await get(url))[0] == 200  # a new day, a new quota


async def test_escalation_blocks_after_repeated_violations(simulator):
    sim = await simulator(
        one(rate_limit={"rate_per_s": 0.1, "burst": 1}, block_after=3, block_s=0.4)
    )
    url = sim.base_url("reg") + "domain/a.test"
    statuses = [(await get(url))[0] for _ in range(4)]
    assert statuses == [200, 429, 429, 429]  # the third violation starts the block
    status, headers, body = await get(url)
    assert status == 403 and "Retry-After" not in headers
    assert headers["Content-Type"].startswith("text/html")
    assert b"Access denied: your address has been blocked for abusive querying" in body
    st = sim.stats()["reg"]
    assert (st.blocks, st.blocked, st.throttled) == (1, 1, 3)
    await asyncio.sleep(0.45)
    assert (await get(url))[0] == 429  # block over; the bucket is still empty
    assert sim.stats()["reg"].blocks == 1


async def test_queueing_server_latency_grows_with_load(simulator):
    sim = await simulator(
        one(concurrency_limit=2, concurrency_mode="queue", latency_ms={"mean": 100, "jitter": 0})
    )
    url = sim.base_url("reg") + "domain/a.test"

    async def timed_get() -> float:
        t0 = time.monotonic()
        assert (await get(url))[0] == 200
        return time.monotonic() - t0

    await timed_get()  # warm up
    lat = sorted(await asyncio.gather(*(timed_get() for _ in range(6))))
    # Two at a time: waiting in the queue shows up as latency, in three waves.
    assert lat[1] < 0.19 and 0.19 < lat[2] < 0.29 and 0.29 < lat[5] < 0.5


async def test_stats_endpoint(simulator):
    sim = await simulator(one())
    await get(sim.base_url("reg") + "domain/a.test")
    status, _, body = await get(sim.base_url("reg").rsplit("/", 2)[0] + "/_simulator/stats")
    assert status == 200
    stats = json.loads(body)
    assert stats["reg"]["requests"] == 1 and stats["reg"]["by_status"] == {"200": 1}
    assert stats["reg"]["blocks"] == 0


def _bound_scenario() -> dict[str, Any]:
    return {
        "seed": 3,
        "registries": [
            {
                "name": "thin", "tlds": ["test"], "template": TEMPLATE, "refer_to": "rr",
                "rate_limit": {"rate_per_s": 2, "burst": 2}, "latency_ms": {"mean": 100, "jitter": 50},
            },
            {
                "name": "thick", "tlds": ["thick"], "template": TEMPLATE,
                "concurrency_limit": 2, "latency_ms": {"mean": 400, "jitter": 0},
                "daily_quota": 3, "quota_day_s": 10,
            },
            {
                "name": "rr", "role": "registrar", "tlds": [],
                "template": "markmonitor/GOOGLE.COM-2024.json",
                "concurrency_limit": 1, "latency_ms": {"mean": 200, "jitter": 0},
            },
            {"name": "gone", "tlds": ["gone"], "template": TEMPLATE, "dead": True},
        ],
    }  # fmt: skip


def test_lower_bound_counts_requests_and_takes_the_slowest_host():
    sim = Simulator(_bound_scenario())  # no server needed
    names = [f"n{i}.test" for i in range(10)] + ["N0.TEST.", "nx-a.test"]  # a dup, a 404
    names += ["a.thick", "b.thick", "c.thick", "d.thick", "x.gone", "y.unknown", "bad..name"]
    bound = sim.lower_bound(names)
    hosts = bound["hosts"]
    assert set(hosts) == {"thin", "thick", "rr"}  # dead and unknown add nothing
    assert bound["names"] == 15
    assert hosts["thin"]["requests"] == 11 and hosts["rr"]["requests"] == 10
    # (11 - 2 burst) / 2 per s + 0.1 s latency; 10 x 0.2 s / 1 at a time; 4 > quota 3.
    assert hosts["thin"]["bound_s"] == pytest.approx(4.6)
    assert hosts["thin"]["binding"] == "rate"
    assert hosts["rr"]["bound_s"] == pytest.approx(2.0)
    assert hosts["rr"]["binding"] == "concurrency"
    assert hosts["thick"]["quota_bound_s"] == 10 and hosts["thick"]["binding"] == "quota"
    assert bound["bound_s"] == pytest.approx(10.0)
    assert next(iter(hosts)) == "thick"  # sorted by bound, slowest first
    assert sim.lower_bound([])["bound_s"] == 0.0


def test_lower_bound_on_the_thread_wrapper_names_the_host():
    with SimulatorThread(_bound_scenario()) as sim:
        bound = sim.lower_bound(["a.test"])
        port = sim.base_url("thin").split(":")[2].split("/")[0]
        assert bound["hosts"]["thin"]["host"] == f"127.0.0.1:{port}"
        assert bound["hosts"]["rr"]["requests"] == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"daily_quota": 0}, "daily_quota"),
        ({"block_after": 2.5}, "block_after"),
        ({"block_s": 0}, "block_s"),
        ({"quota_day_s": -1}, "quota_day_s"),
        ({"throttle_style": "418"}, "throttle_style"),
    ],
)
def test_scenario_rejects_bad_escalation_fields(extra, message):
    with pytest.raises(ValueError, match=message):
        Scenario.load(one(**extra))


def test_bench_scenario_covers_every_behaviour():
    scen = Scenario.load(datasets_dir() / "scenarios" / "bench.json")
    regs = [s for s in scen.registries if s.role == "registry" and not s.dead]
    assert len(regs) >= 20
    rates = [s.rate_limit["rate_per_s"] for s in scen.registries if s.rate_limit]
    assert min(rates) == 0.5 and max(rates) == 50
    styles = {s.throttle_style for s in regs if s.rate_limit}
    assert styles == {"429", "403-html", "422-rdap", "200-notice"}
    assert {s.retry_after for s in regs if s.rate_limit} == {"seconds", "http-date", "none"}
    assert {(s.concurrency_mode, s.concurrency_status) for s in scen.registries
            if s.concurrency_limit} >= {("reject", 429), ("reject", 503), ("queue", 429)}  # fmt: skip
    assert any(s.block_after for s in regs) and any(s.dead for s in scen.registries)
    assert sum(s.role == "registrar" for s in scen.registries) >= 2
    lat = [s.latency_ms["mean"] for s in scen.registries if s.latency_ms]
    assert min(lat) >= 20 and max(lat) <= 300
