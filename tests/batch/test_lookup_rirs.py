"""IP, ASN, entity and nameserver lookups against the simulator's five RIRs.

The simulator (``datasets/scenarios/rirs.json``) serves answers templated from the real
ARIN, RIPE NCC, APNIC, LACNIC and AFRINIC responses in ``datasets/``, routes them with
the ipv4/ipv6/asn/object-tags bootstrap files it writes, and behaves like the RIRs:
RIPE-style quotas counted in personal-data objects, LACNIC's 10 queries a minute.
``expected_object`` is the simulator's own truth for every answer.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import rdaplab
from rdaplab import cli
from rdaplab.simulator import Scenario, SimulatorThread

RIRS = Scenario.load(Path(__file__).parents[2] / "datasets" / "scenarios" / "rirs.json")
FAST = {
    "progress": False,
    "limits": rdaplab.Limits(per_host_rate_per_s=50, per_host_concurrency=4),
    "retry": rdaplab.Retry(backoff_initial_s=0.02, backoff_max_s=0.05),
}

IPS = ["13.64.1.2", "62.239.237.1", "1.1.1.1", "200.3.14.10", "196.216.2.1", "2600:1f18::1"]
ASNS = ["AS13335", "AS8283", "2515", "as28000", "AS37271"]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with SimulatorThread(RIRS) as s:
        s.boot = s.write_bootstrap(tmp_path_factory.mktemp("rirs") / "boot")
        yield s


def _check_network(row: dict[str, Any], want: Any) -> None:
    assert want.status == 200
    got = (row["handle"], row["start_address"], row["end_address"], row["cidrs"], row["name"])
    assert got == (want.handle, want.start_address, want.end_address, want.cidrs, want.name)
    assert (row["country"], row["rir"], row["ip_version"]) == (
        want.country, want.rir, want.ip_version
    )  # fmt: skip
    assert row["parent_handle"] == want.parent_handle


def test_every_rir_in_one_mixed_batch(sim, tmp_path) -> None:
    values = [*IPS, *ASNS, "example.com", "10.0.0.1", "AS64512"]
    r = rdaplab.lookup(values, bootstrap=sim.boot, cache=str(tmp_path / "c.duckdb"), **FAST)
    assert r.queries["query"].to_list() == values
    assert r.queries["outcome"].to_list() == ["ok"] * 12 + ["error", "error"]
    assert r.queries["error_kind"].to_list()[-2:] == ["no_rdap_service"] * 2
    assert r.networks["rir"].to_list()[:6] == ["arin", "ripe", "apnic", "lacnic", "afrinic", "arin"]
    for row in r.networks.head(6).iter_rows(named=True):
        _check_network(row, sim.expected_object("ip", row["query"]))
    for row in r.autnums.iter_rows(named=True):
        want = sim.expected_object("autnum", row["key"])
        assert (row["handle"], row["start_autnum"], row["end_autnum"], row["name"]) == (
            want.handle, want.start_autnum, want.end_autnum, want.name
        )  # fmt: skip
        assert row["rir"] == want.rir
    assert r.domains["outcome"].to_list() == ["ok"]
    # every request stayed on loopback (links in the real answers point at real RIRs)
    assert r.attempts["host"].str.starts_with("127.0.0.1:").all()
    # entities of every object, e.g. ARIN's registrant of the network with its handle
    ents = r.entities.filter(pl.col("query_kind") == "ip")
    assert set(ents["key"]) <= set(r.networks["key"])
    assert ents.height > 0 and r.events.filter(pl.col("query_kind") == "asn").height > 0
    stats = sim.stats()
    assert sum(s.by_kind.get("ip", 0) for s in stats.values()) >= 6


def test_entities_and_nameservers_match_the_simulator(sim, tmp_path) -> None:
    handles = ["ZG39-ARIN", "AMS346-RIPE", "WOL-AFRINIC", "NOTAG"]
    r = rdaplab.lookup(
        handles, kind="entity", bootstrap=sim.boot, cache=str(tmp_path / "c.duckdb"), **FAST
    )
    for handle, outcome in zip(handles, r.queries["outcome"], strict=True):
        want = sim.expected_object("entity", handle)
        if want.status is None:  # untagged: the bootstrap cannot route it
            assert outcome == "error"
            continue
        assert outcome == ("ok" if want.found else "not_found"), handle
        top = r.entities.filter((pl.col("key") == handle) & pl.col("parent_handle").is_null())
        assert set(top["handle"]) == {want.handle}
    ns = rdaplab.lookup(
        ["ns1.google.com"], kind="nameserver", bootstrap=sim.boot, **FAST,
        cache=str(tmp_path / "c.duckdb"),
    )  # fmt: skip
    want = sim.expected_object("nameserver", "ns1.google.com")
    row = ns.nameservers.row(0, named=True)
    assert ns.queries["outcome"].to_list() == ["ok"]
    assert row["nameserver"] == want.ldh_name.lower()
    assert sorted(row["ipv4"] + row["ipv6"]) == sorted(want.ip_addresses)


def test_a_ripe_style_person_quota_stops_the_host_not_the_batch(tmp_path) -> None:
    """RIPE counts personal-data objects per day; once refused, ask no more that day."""
    scenario = {
        "seed": 3,
        "registries": [
            {
                "name": "ripe",
                "role": "rir",
                "rir": "ripe",
                "asn_ranges": ["204800-213403"],
                "person_quota": 6,  # the autnum answers carry 5 persons each
                "quota_day_s": 3,
                "retry_after": "none",
                "autnum_templates": ["ripe/autnum-205697.json"],
            },
            {"name": "arin", "role": "rir", "rir": "arin", "asn_ranges": ["13312-15359"]},
        ],
    }
    values = [f"AS{205000 + i}" for i in range(12)] + ["AS13335", "AS13336"]
    cache = str(tmp_path / "c.duckdb")
    with SimulatorThread(scenario) as s:
        boot = s.write_bootstrap(tmp_path / "boot")
        assert s.expected_object("autnum", 205000).persons == 5
        # one at a time, so which answer crosses the quota is known
        serial = {**FAST, "limits": rdaplab.Limits(per_host_rate_per_s=50, per_host_concurrency=1)}
        first = rdaplab.lookup(values, bootstrap=boot, cache=cache, **serial)
        ripe = s.stats()["ripe"]
        kinds = first.queries["error_kind"].to_list()
        # 2 answers spend the quota (counted after serving, as RIPE does), then 1 refusal
        assert first.queries["outcome"].to_list()[:2] == ["ok", "ok"]
        assert kinds[2:12] == ["rate_limited"] * 10
        assert ripe.person_quota_rejections == 1 and ripe.requests == 3
        assert "quota" in first.queries["error_detail"][5]
        # the other RIR is not affected
        assert first.queries["outcome"].to_list()[12:] == ["ok", "ok"]
        decisions = first.attempts.filter(pl.col("signal") == "quota")["decision"].to_list()
        assert decisions == ["stop_host"]
        # next (simulated) day: a rerun asks only for what is missing
        time.sleep(3.2)
        second = rdaplab.lookup(values, bootstrap=boot, cache=cache, **serial)
        asked = set(second.attempts["query"])
        assert asked.isdisjoint({"205000", "205001", "13335", "13336"})
        assert second.queries["from_cache"].to_list()[:2] == [True, True]
        assert second.queries.filter(pl.col("outcome") == "ok").height == 6


def test_lacnic_style_limit_is_learned_without_a_retry_storm(tmp_path) -> None:
    """LACNIC answers 429 + Retry-After past 10 queries a minute (burst 10, then 1/6 s).

    rirs.json has the real numbers (tests/simulator/test_simulator_objects.py checks them at the
    HTTP level); here the same shape, ten times faster, so the engine test takes seconds.
    """
    scenario = {
        "seed": 5,
        "registries": [
            {
                "name": "lacnic",
                "role": "rir",
                "rir": "lacnic",
                "ip_ranges": ["200.0.0.0/8"],
                "rate_limit": {"rate_per_s": 10 / 6, "burst": 5},
                "throttle_style": "429-notice",
                "retry_after": "seconds",
            }
        ],
    }
    ips = [f"200.{i}.1.1" for i in range(1, 11)]  # 10 distinct networks
    with SimulatorThread(scenario) as s:
        boot = s.write_bootstrap(tmp_path / "boot")
        t0 = time.monotonic()
        r = rdaplab.lookup(
            ips, bootstrap=boot, cache=str(tmp_path / "c.duckdb"), progress=False,
            retry=rdaplab.Retry(backoff_initial_s=0.02, backoff_max_s=0.05),
        )  # fmt: skip
        elapsed = time.monotonic() - t0
        served = s.stats()["lacnic"]
    assert r.queries["outcome"].to_list() == ["ok"] * 10
    throttled = int(r.attempts["throttled"].sum())
    assert throttled == served.throttled
    # 5 at once, then one per 0.6 s: >= ~3 s; discovering the limit costs a few 429s,
    # each honoured (the host is parked for its Retry-After, never hammered)
    assert elapsed >= 2.5
    assert throttled <= 4, r.attempts.select("query", "status", "decision")
    sent = r.attempts.with_columns(
        arrived=pl.col("started_at") + pl.duration(milliseconds=pl.col("latency_ms"))
    )
    for row in sent.filter(pl.col("throttled")).iter_rows(named=True):
        # requests already in flight when the 429 arrived do not count; the next one sent
        # after it must wait (most of) the Retry-After
        later = sent.filter(pl.col("started_at") > row["arrived"])["started_at"]
        if later.len():
            gap = (later.min() - row["arrived"]).total_seconds()  # type: ignore[operator]
            assert gap >= 0.8 * (row["retry_after_s"] or 0) - 0.3, (row, gap)
    assert r.networks["rir"].unique().to_list() == ["lacnic"]


def test_cli_lookup_kind_ip_writes_networks(sim, tmp_path, capsys) -> None:
    src = tmp_path / "ips.txt"
    src.write_text("\n".join(IPS[:3]) + "\n")
    out = tmp_path / "nets.csv"
    code = cli.main(
        [
            "lookup", str(src), "--kind", "ip", "--bootstrap", str(sim.boot),
            "--cache", str(tmp_path / "c.duckdb"), "--out", str(out), "--no-progress",
        ]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert f"wrote 3 rows (networks) to {out}" in printed
    frame = pl.read_csv(out)
    assert frame["query"].to_list() == IPS[:3]
    assert frame["rir"].to_list() == ["arin", "ripe", "apnic"]
