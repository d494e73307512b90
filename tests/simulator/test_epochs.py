"""Epochs: the simulator's names change over time (transfers, renewals, drops...)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

import aiohttp
import pytest

from rdaplab._data import datasets_dir, responses_dir
from rdaplab.rdap.domain import parse_domain
from rdaplab.simulator import (
    CHANGE_KINDS,
    DEFAULT_CHANGE_RATES,
    REGISTRARS,
    Scenario,
    Simulator,
    SimulatorThread,
)

VERISIGN = "verisign/google.com-2024.json"
_HOSTPORT = re.compile(rb"127\.0\.0\.1:\d+")
NAMES = [f"shop-{i}.com" for i in range(6)]
THICK = [f"shop-{i}.{tld}" for i in range(3) for tld in ("org", "fr", "no")]


def scenario(changes: dict[str, float] | None = None, seed: int = 11) -> dict[str, Any]:
    """A thin .com registry referring to 2 registrars, thick .org / .fr / .no ones."""
    raw: dict[str, Any] = {
        "seed": seed,
        "registries": [
            {
                "name": "thin",
                "tlds": ["com"],
                "template": VERISIGN,
                "refer_to": ["markmonitor", "namecheap"],
                "not_found": "empty",
            },
            {"name": "pir", "tlds": ["org"], "template": "pir/wikipedia.org.json"},
            {"name": "afnic", "tlds": ["fr"], "template": "afnic/afnic.fr.json"},
            {"name": "norid", "tlds": ["no"], "template": "norid/norway.no.json"},
            {
                "name": "markmonitor",
                "role": "registrar",
                "tlds": [],
                "template": "markmonitor/GOOGLE.COM-2024.json",
                "registrar_name": "MarkMonitor Inc.",
                "registrar_iana_id": "292",
            },
            {
                "name": "namecheap",
                "role": "registrar",
                "tlds": [],
                "template": "namecheap/bitcoin.org.json",
                "registrar_name": "NameCheap, Inc.",
                "registrar_iana_id": "1068",
            },
        ],
    }
    if changes is not None:
        raw["changes"] = changes
    return raw


def only(kind: str, **more: float) -> dict[str, Any]:
    return scenario({kind: 1.0, **more})


async def fetch(url: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return r.status, await r.read()


async def served(sim: Simulator, name: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The registry answer for ``name`` (None on 404) and its registrar's, if it refers."""
    reg = {"com": "thin", "org": "pir", "fr": "afnic", "no": "norid"}[name.rsplit(".", 1)[1]]
    status, body = await fetch(sim.base_url(reg) + f"domain/{name}")
    if status == 404:
        return None, None
    assert status == 200, (name, status)
    doc = json.loads(body)
    related = [link["href"] for link in doc.get("links", []) if link.get("rel") == "related"]
    if not related:
        return doc, None
    status, body = await fetch(related[0])
    assert status == 200, related[0]
    return doc, json.loads(body)


def registrar_of(doc: dict[str, Any]) -> tuple[str | None, str | None]:
    rec = parse_domain(doc)
    return rec.registrar, rec.registrar_iana_id


async def assert_expected_matches(sim: Simulator, name: str) -> None:
    """What rdaplab's parser reads from the answers is what ``expected()`` says."""
    reg_doc, rar_doc = await served(sim, name)
    exp = sim.expected(name)
    if reg_doc is None:
        assert exp is None, name
        return
    assert exp is not None, name
    rec = parse_domain(reg_doc, rar_doc)
    assert rec.handle == exp.handle
    assert (rec.registrar, rec.registrar_iana_id) == (exp.registrar, exp.registrar_iana_id)
    assert rec.registration_date == exp.registration_date, name
    assert rec.expiration_date == exp.expiration_date, name
    assert rec.last_changed_date == exp.last_changed_date, name
    assert rec.nameservers == exp.nameservers, name
    assert rec.rdap_status == (exp.status or []), name
    assert rec.dnssec == exp.dnssec, name
    assert rec.registrar_url == exp.registrar_url
    if rar_doc is not None:  # the registrar agrees on what it carries
        rar = parse_domain(rar_doc)
        rar_name, rar_iana = registrar_of(rar_doc)
        assert rar_name == exp.registrar and rar_iana in (None, exp.registrar_iana_id)
        assert (rar.registration_date, rar.expiration_date) == (
            exp.registration_date,
            exp.expiration_date,
        )
        assert rar.nameservers == exp.nameservers
        added = {"client hold", "redemption period", "pending delete"} & set(exp.status or [])
        assert added <= set(rar.rdap_status)  # its own template's statuses, plus the changes
        assert rar.dnssec == exp.dnssec


# --------------------------------------------------------------------------- epoch 0


async def test_epoch_zero_serves_exactly_what_it_always_did(simulator):
    plain = await simulator(scenario())
    churn = await simulator(scenario(dict.fromkeys(CHANGE_KINDS, 1.0)), epoch=0)
    assert plain.epoch == churn.epoch == 0
    for name in [*NAMES, *THICK, "nx-gone.com"]:
        assert churn.changes(name) == []
        a, b = plain.expected(name), churn.expected(name)
        if a is not None and b is not None:
            a.registrar_url = b.registrar_url = None  # different ports
        assert a == b
        for reg in ("thin", "pir", "afnic", "norid", "markmonitor", "namecheap"):
            a = await fetch(plain.base_url(reg) + f"domain/{name}")
            b = await fetch(churn.base_url(reg) + f"domain/{name}")
            assert a[0] == b[0] and _HOSTPORT.sub(b"H", a[1]) == _HOSTPORT.sub(b"H", b[1])


async def test_epoch_zero_pinned_values_and_new_expected_fields(simulator):
    sim = await simulator(scenario())
    exp = sim.expected("example.com")
    assert exp is not None  # the values test_simulator.py pins for the default scenario
    assert exp.handle == "992644121_DOMAIN_COM-VRSN"
    assert exp.registration_date == datetime(2001, 6, 30, 23, 35, 17, tzinfo=timezone.utc)
    assert exp.nameservers == [f"ns{i}.ultradns.org" for i in range(1, 5)]
    assert exp.dnssec is False and exp.status is not None and "client hold" not in exp.status
    fr = sim.expected("shop-0.fr")
    assert fr is not None and fr.dnssec is True and fr.status == ["active"]  # AFNIC's template
    no = sim.expected("shop-0.no")
    assert no is not None and no.dnssec is None and no.status is None  # Norid carries neither
    for name in [*NAMES[:2], *THICK]:
        await assert_expected_matches(sim, name)


# --------------------------------------------------------------------------- each change


async def test_transfer_moves_a_thin_name_to_the_other_registrar(simulator):
    sim = await simulator(only("transfer"))
    before = {n: sim.expected(n) for n in NAMES}
    sim.epoch = 1
    for name in NAMES:
        old, new = before[name], sim.expected(name)
        assert old is not None and new is not None
        assert sim.changes(name) == [(1, "transfer")]
        assert old.registrar_url is not None and new.registrar_url is not None
        assert new.registrar_url != old.registrar_url  # the other referral target
        assert new.registrar != old.registrar and new.registrar_iana_id != old.registrar_iana_id
        assert new.handle == old.handle and new.registration_date == old.registration_date
        assert new.last_changed_date is not None and old.last_changed_date is not None
        assert new.last_changed_date > old.last_changed_date
        reg_doc, rar_doc = await served(sim, name)
        assert reg_doc is not None and rar_doc is not None
        assert registrar_of(reg_doc) == (new.registrar, new.registrar_iana_id)
        assert registrar_of(rar_doc)[0] == new.registrar  # registrar templates carry no ID
        status, _ = await fetch(old.registrar_url)  # the losing registrar no longer has it
        assert status == 404
        await assert_expected_matches(sim, name)


async def test_transfer_on_a_thick_registry_picks_another_registrar(simulator):
    sim = await simulator(only("transfer"))
    before = {n: sim.expected(n) for n in THICK}
    sim.set_epoch(1)
    for name in THICK:
        old, new = before[name], sim.expected(name)
        assert old is not None and new is not None
        if old.registrar is not None:  # CZ.NIC-style templates carry no name; these do
            assert new.registrar in [r[0] for r in REGISTRARS]
            assert new.registrar != old.registrar
        await assert_expected_matches(sim, name)
    # PIR's template has a "transfer" event: it moves to the transfer's date.
    reg_doc, _ = await served(sim, "shop-0.org")
    assert reg_doc is not None
    transfer = next(e["eventDate"] for e in reg_doc["events"] if e["eventAction"] == "transfer")
    assert transfer.startswith("2026-01")


async def test_renew_adds_a_year(simulator):
    sim = await simulator(only("renew"))
    before = {n: sim.expected(n) for n in NAMES + THICK}
    sim.epoch = 1
    for name, old in before.items():
        new = sim.expected(name)
        assert old is not None and new is not None and sim.changes(name) == [(1, "renew")]
        if old.expiration_date is None:
            assert new.expiration_date is None  # Norid publishes no expiration
        else:
            assert new.expiration_date is not None
            assert new.expiration_date.year == old.expiration_date.year + 1
            assert new.expiration_date.replace(year=old.expiration_date.year) == old.expiration_date
        await assert_expected_matches(sim, name)


async def test_drop_makes_names_not_found(simulator):
    sim = await simulator(only("drop"))
    urls = {n: sim.expected(n).registrar_url for n in NAMES}  # type: ignore[union-attr]
    sim.epoch = 1
    for name in NAMES:
        assert sim.expected(name) is None and sim.changes(name) == [(1, "drop")]
        assert await fetch(sim.base_url("thin") + f"domain/{name}") == (404, b"")  # empty 404
        assert (await fetch(urls[name]))[0] == 404  # and the registrar forgot it too
    for name in THICK:
        assert await served(sim, name) == (None, None)
        assert sim.expected(name) is None


async def test_drop_and_reregister_in_one_epoch_is_a_new_registration(simulator):
    sim = await simulator(scenario({"drop": 1.0, "reregister": 1.0}))
    before = {n: sim.expected(n) for n in NAMES + THICK}
    sim.epoch = 1
    for name, old in before.items():
        new = sim.expected(name)
        assert old is not None and new is not None
        assert sim.changes(name) == [(1, "drop"), (1, "reregister")]
        if old.registration_date is not None:
            assert new.registration_date is not None
            assert new.registration_date > old.registration_date
            assert new.registration_date > datetime(2025, 12, 31, tzinfo=timezone.utc)
        if old.handle is not None and old.handle != name:  # CZ.NIC-style handles are names
            assert new.handle != old.handle
        await assert_expected_matches(sim, name)


async def test_reregister_alone_does_nothing_to_registered_names(simulator):
    sim = await simulator(only("reregister"), epoch=3)
    assert all(sim.changes(n) == [] for n in NAMES + THICK)
    assert sim.expected("nx-never.com") is None and sim.changes("nx-never.com") == []


async def test_ns_move_changes_provider(simulator):
    sim = await simulator(only("ns_move"))
    before = {n: sim.expected(n) for n in NAMES + THICK}
    sim.epoch = 1
    for name, old in before.items():
        new = sim.expected(name)
        assert old is not None and new is not None and sim.changes(name) == [(1, "ns_move")]
        providers = {ns.split(".", 1)[1] for ns in new.nameservers}
        assert len(providers) == 1 and providers != {ns.split(".", 1)[1] for ns in old.nameservers}
        assert len(new.nameservers) == len(old.nameservers)
        reg_doc, _ = await served(sim, name)
        assert reg_doc is not None
        served_ns = [n["ldhName"].lower().rstrip(".") for n in reg_doc["nameservers"]]
        assert served_ns == new.nameservers
        await assert_expected_matches(sim, name)


async def test_dnssec_on_signs_and_adds_secure_dns_where_missing(simulator):
    sim = await simulator(only("dnssec_on"))
    sim.epoch = 1
    for name in [*NAMES, "shop-0.org", "shop-0.no"]:
        assert sim.changes(name) == [(1, "dnssec_on")]
        reg_doc, rar_doc = await served(sim, name)
        assert reg_doc is not None
        assert reg_doc["secureDNS"]["delegationSigned"] is True
        assert reg_doc["secureDNS"]["dsData"][0]["digestType"] == 2
        if rar_doc is not None:
            assert rar_doc["secureDNS"]["delegationSigned"] is True
        assert sim.expected(name).dnssec is True  # type: ignore[union-attr]
        await assert_expected_matches(sim, name)
    # Norid's template has no secureDNS: the member is added.
    assert "secureDNS" not in json.loads((responses_dir() / "norid/norway.no.json").read_text())
    # AFNIC's template is signed already: nothing to switch on.
    assert sim.changes("shop-0.fr") == []


async def test_dnssec_off_unsigns_afnic_names_only(simulator):
    sim = await simulator(only("dnssec_off"))
    sim.epoch = 1
    reg_doc, _ = await served(sim, "shop-1.fr")
    assert reg_doc is not None
    assert reg_doc["secureDns"]["delegationSigned"] is False  # AFNIC's spelling kept
    assert "dsData" not in reg_doc["secureDns"] and "secureDNS" not in reg_doc
    assert sim.expected("shop-1.fr").dnssec is False  # type: ignore[union-attr]
    assert sim.changes("shop-1.fr") == [(1, "dnssec_off")]
    assert sim.changes("shop-1.com") == [] and sim.changes("shop-1.no") == []  # unsigned
    await assert_expected_matches(sim, "shop-1.fr")


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("hold", "client hold"),
        ("redemption", "redemption period"),
        ("pending_delete", "pending delete"),
    ],
)
async def test_status_changes_add_rfc8056_values(simulator, kind, value):
    sim = await simulator(only(kind))
    before = {n: sim.expected(n) for n in NAMES + THICK}
    sim.epoch = 1
    for name, old in before.items():
        new = sim.expected(name)
        assert old is not None and new is not None and sim.changes(name) == [(1, kind)]
        assert new.status is not None and new.status[-1] == value
        kept = [s for s in old.status or [] if s != "active"]
        assert new.status == [*kept, value]  # the template's other statuses stay
        reg_doc, rar_doc = await served(sim, name)
        assert reg_doc is not None and reg_doc["status"][-1] == value
        if rar_doc is not None:
            assert value in rar_doc["status"]
        await assert_expected_matches(sim, name)
    assert before["shop-0.fr"].status == ["active"]  # type: ignore[union-attr]
    assert sim.expected("shop-0.fr").status == [value]  # type: ignore[union-attr]
    assert sim.expected("shop-0.no").status == [value]  # type: ignore[union-attr]


# --------------------------------------------------------------------------- over time


async def test_changes_accumulate_over_epochs(simulator):
    sim = await simulator(scenario({"transfer": 1.0, "renew": 1.0, "hold": 1.0}))
    e0 = sim.expected("shop-0.com")
    sim.epoch = 2
    e2 = sim.expected("shop-0.com")
    assert e0 is not None and e2 is not None
    assert sim.changes("shop-0.com") == [
        (1, "transfer"), (1, "renew"), (1, "hold"), (2, "transfer"), (2, "renew"),
    ]  # fmt: skip
    assert e2.expiration_date.year == e0.expiration_date.year + 2  # type: ignore[union-attr]
    assert e2.registrar == e0.registrar  # two registrars: transferred there and back
    assert e2.status is not None and e2.status.count("client hold") == 1  # stays, once
    await assert_expected_matches(sim, "shop-0.com")
    sim.epoch = 0
    assert sim.expected("shop-0.com") == e0 and sim.changes("shop-0.com") == []


async def test_a_name_dropped_in_one_epoch_comes_back_in_a_later_one(simulator):
    sim = await simulator(scenario({"drop": 0.5, "reregister": 0.5, "renew": 1.0}), epoch=2)
    names = [f"cycle-{i}.org" for i in range(200)]
    name = next(n for n in names if sim.changes(n) == [(1, "drop"), (2, "reregister")])
    sim.epoch = 1
    assert sim.expected(name) is None
    assert (await fetch(sim.base_url("pir") + f"domain/{name}"))[0] == 404
    sim.epoch = 2
    exp = sim.expected(name)
    assert exp is not None and exp.registration_date is not None
    assert exp.registration_date >= datetime(2026, 1, 30, tzinfo=timezone.utc)  # in epoch 2
    assert (
        exp.expiration_date is not None
        and exp.expiration_date.year == exp.registration_date.year + 1
    )
    await assert_expected_matches(sim, name)
    # Renewed every epoch the name existed at its start, never while dropped.
    kept = next(n for n in names if sim.changes(n) == [(1, "renew"), (2, "renew")])
    await assert_expected_matches(sim, kept)


def test_changes_are_deterministic_and_depend_on_the_seed():
    rates = dict(DEFAULT_CHANGE_RATES)
    names = [f"name-{i}.{t}" for i in range(150) for t in ("com", "org", "fr", "no")]

    def history(seed: int) -> dict[str, list[tuple[int, str]]]:
        sim = Simulator(scenario(rates, seed=seed), epoch=4)  # no server needed
        return {n: sim.changes(n) for n in names}

    first, again, other = history(5), history(5), history(6)
    assert first == again != other
    kinds = {k for h in first.values() for _, k in h}
    assert kinds >= {"transfer", "renew", "drop", "ns_move", "hold"}
    assert all(h == sorted(h, key=lambda p: p[0]) for h in first.values())


def test_default_rates_apply_when_changes_is_absent():
    assert Scenario.load(scenario()).changes is None
    assert Scenario.load(scenario()).change_rates == {
        k: DEFAULT_CHANGE_RATES[k] for k in CHANGE_KINDS
    }
    assert DEFAULT_CHANGE_RATES["renew"] == 0.3 and DEFAULT_CHANGE_RATES["drop"] == 0.05
    given = Scenario.load(scenario({"renew": 1}))
    assert given.change_rates["renew"] == 1.0 and given.change_rates["drop"] == 0.0
    assert not any(Scenario.load(scenario({})).change_rates.values())
    sim = Simulator(scenario(), epoch=3)
    assert any(sim.changes(f"d{i}.com") for i in range(20))  # defaults do change names


# --------------------------------------------------------------------------- API and checks


async def test_epoch_is_settable_at_run_time_and_over_http(simulator):
    sim = await simulator(only("drop"))
    url = sim.base_url("pir") + "domain/shop-0.org"
    assert (await fetch(url))[0] == 200
    assert sim.set_epoch(1) == 1
    assert (await fetch(url))[0] == 404
    root = sim.base_url("pir").rsplit("/", 2)[0]
    async with aiohttp.ClientSession() as s:
        async with s.get(root + "/_simulator/epoch") as r:
            assert await r.json() == {"epoch": 1}
        async with s.post(root + "/_simulator/epoch", json={"epoch": 0}) as r:
            assert r.status == 200 and await r.json() == {"epoch": 0}
        async with s.post(root + "/_simulator/epoch", json={"epoch": -2}) as r:
            assert r.status == 400 and "epoch" in (await r.json())["description"][0]
    assert sim.epoch == 0 and (await fetch(url))[0] == 200
    for bad in (-1, "1", True, 1.5):
        with pytest.raises(ValueError, match="epoch must be a non-negative integer"):
            sim.epoch = bad  # type: ignore[assignment]
    with pytest.raises(ValueError, match="epoch"):
        Simulator(scenario(), epoch=-1)


def test_simulator_thread_passes_epochs_through():
    with SimulatorThread(only("renew"), epoch=1) as sim:
        assert sim.epoch == 1 and sim.changes("a.com") == [(1, "renew")]
        sim.epoch = 2
        assert sim.set_epoch(3) == 3 and len(sim.changes("a.com")) == 3


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"transfr": 0.1}, "changes: unknown kind(s) ['transfr']"),
        ({"drop": 1.5}, "changes['drop'] must be a number in [0, 1]"),
        ({"drop": -0.1}, "changes['drop'] must be a number in [0, 1]"),
        ({"renew": "0.3"}, "changes['renew'] must be a number in [0, 1]"),
        ({"hold": True}, "changes['hold'] must be a number in [0, 1]"),
        ([0.1], "changes must be an object"),
        ("all", "changes must be an object"),
    ],
)
def test_scenario_rejects_bad_changes(changes, message):
    raw = scenario()
    raw["changes"] = changes
    with pytest.raises(ValueError, match=re.escape(message)):
        Scenario.load(raw)


def test_scenario_object_validates_changes_too():
    with pytest.raises(ValueError, match="unknown kind"):
        Scenario(registries=Scenario.load(scenario()).registries, changes={"bogus": 1.0})


def test_changes_scenario_shows_every_kind_at_epoch_one():
    scen = Scenario.load(datasets_dir() / "scenarios" / "changes.json")
    assert scen.changes is not None and set(scen.changes) == set(CHANGE_KINDS)
    thin = [s for s in scen.registries if len(s.referrals) == 2]
    assert len(thin) == 1
    assert not any(s.rate_limit or s.concurrency_limit or s.latency_ms for s in scen.registries)
    tlds = [t for s in scen.registries if s.role == "registry" for t in s.tlds]
    sim = Simulator(scen, epoch=1)
    names = [f"site-{i}.{tlds[i % len(tlds)]}" for i in range(200)]
    seen = {kind for n in names for _, kind in sim.changes(n)}
    assert seen == set(CHANGE_KINDS)
