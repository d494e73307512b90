"""lookup(kind=...): IP networks, autnums, entities and nameservers end to end.

A loopback aiohttp server serves real RIR answers from ``datasets/responses`` (ARIN and
RIPE NCC bodies, a real RIPE 501 for nameservers), routed by bootstrap files written for
the test; the simulator-based tests (RIR quotas, every RIR) are in
``tests/batch/test_lookup_rirs.py``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

import rdaplab
from rdaplab._data import responses_dir
from rdaplab.batch.plan import detect_kinds as _detect_kinds
from rdaplab.frames import (
    AUTNUMS_SCHEMA,
    ENTITIES_SCHEMA,
    EVENTS_SCHEMA,
    LINKS_SCHEMA,
    NETWORKS_SCHEMA,
    QUERIES_SCHEMA,
    REMARKS_SCHEMA,
)
from rdaplab.frames.objects import NETWORK_OBJECT_COLUMNS
from rdaplab.rdap.kinds import detect_kind

# path on the test server -> (status, dataset file or inline body)
ROUTES: dict[str, tuple[int, str]] = {
    "/arin/ip/74.125.225.229": (200, "arin/ip-74.125.225.229.json"),
    "/arin/ip/74.125.0.0/16": (200, "arin/ip-74.125.225.229.json"),
    "/arin/ip/2001:4860:4860::8888": (200, "arin/ip-2001_4860_4860__8888.json"),
    "/arin/autnum/13335": (200, "arin/autnum-13335.json"),
    "/arin/entity/ZG39-ARIN": (200, "arin/entity-ZG39-ARIN.json"),
    "/arin/ip/192.0.2.1": (200, "{}"),
    "/arin/ip/74.1.2.3": (
        200,
        "arin/ip-192.198.0.0.json",
    ),  # a person as abuse contact  # a 2xx without an object: parse_error
    "/arin/autnum/64500": (404, '{"errorCode": 404, "title": "Not Found"}'),
    "/ripe/ip/62.239.237.1": (200, "ripe/ip-62.239.237.1.json"),
    "/ripe/autnum/205697": (200, "ripe/autnum-205697.json"),
    "/ripe/entity/AMS346-RIPE": (200, "ripe/entity-AMS346-RIPE.json"),
    "/dom/nameserver/ns1.example.test": (501, "ripe/error-501-nameserver.json"),
    "/dom/nameserver/ns1.nic.fr": (200, "afnic/nameserver-ns1.nic.fr.json"),
    "/dom/domain/lemonde.fr": (200, "afnic/lemonde.fr.json"),
}


def _body(ref: str) -> bytes:
    if ref.startswith("{"):
        return ref.encode()
    return (responses_dir() / ref).read_bytes()


@pytest.fixture
async def server() -> AsyncIterator[dict[str, Any]]:
    hits: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        path = request.path
        hits.append(path)
        status, ref = ROUTES.get(path, (404, '{"errorCode": 404, "title": "not here"}'))
        return web.Response(status=status, body=_body(ref), content_type="application/rdap+json")

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield {"base": f"http://127.0.0.1:{port}", "hits": hits}
    finally:
        await runner.cleanup()


def _bootstrap(directory: Path, base: str) -> Path:
    def doc(services: list[Any]) -> str:
        return json.dumps(
            {"version": "1.0", "publication": "2026-11-28T00:00:00Z", "services": services}
        )

    arin, ripe = f"{base}/arin/", f"{base}/ripe/"
    directory.mkdir()
    (directory / "dns.json").write_text(doc([[["test", "fr"], [f"{base}/dom/"]]]))
    (directory / "ipv4.json").write_text(
        doc([[["74.0.0.0/8", "192.0.2.0/24"], [arin]], [["62.0.0.0/8"], [ripe]]])
    )
    (directory / "ipv6.json").write_text(doc([[["2001:4800::/23"], [arin]]]))
    (directory / "asn.json").write_text(
        doc([[["13335", "64500-64510"], [arin]], [["205697"], [ripe]]])
    )
    (directory / "object-tags.json").write_text(
        doc([[["x@arin.test"], ["ARIN"], [arin]], [["x@ripe.test"], ["RIPE"], [ripe]]])
    )
    return directory


async def _lookup(server: dict[str, Any], tmp_path: Path, values: Any, **kw: Any) -> Any:
    boot = tmp_path / "boot"
    if not boot.exists():
        _bootstrap(boot, server["base"])
    kw.setdefault("cache", str(tmp_path / "c.duckdb"))
    # a loopback server: no need to start at the polite default of 2 requests/s
    kw.setdefault("limits", rdaplab.Limits(per_host_rate_per_s=100, per_host_concurrency=8))
    kw.setdefault("retry", rdaplab.Retry(backoff_initial_s=0.02, backoff_max_s=0.05))
    return await rdaplab.lookup_async(values, bootstrap=boot, progress=False, **kw)


MIXED = [
    "74.125.225.229",
    "AS13335",
    "lemonde.fr",
    "62.239.237.1",
    "as205697",
    "2001:4860:4860::8888",
    "74.125.225.229",  # a duplicate: two rows, one request
    "192.0.2.1",
    "64500",
    "010.0.0.1",  # invalid: leading zeros
    "10.0.0.1",  # no service in this bootstrap
    "74.125.1.2/16",  # host bits cleared: ip/74.125.0.0/16
]


async def test_mixed_batch_fills_each_frame_for_its_rows(server, tmp_path) -> None:
    r = await _lookup(server, tmp_path, MIXED)
    q = r.queries
    assert q.schema == QUERIES_SCHEMA and q.height == len(MIXED)
    assert q["query"].to_list() == MIXED
    assert q["query_kind"].to_list() == [
        "ip", "asn", "domain", "ip", "asn", "ip", "ip", "ip", "asn", "ip", "ip", "ip"
    ]  # fmt: skip
    assert q["outcome"].to_list() == [
        "ok", "ok", "ok", "ok", "ok", "ok", "ok", "error", "not_found", "error", "error", "ok"
    ]  # fmt: skip
    assert q["error_kind"].to_list()[7:11] == [
        "parse_error", None, "invalid_query", "no_rdap_service"
    ]  # fmt: skip
    assert "leading zeros" in q["error_detail"][9].lower()
    assert "10.0.0.1" in q["error_detail"][10]

    # per-kind frames: one row per input row of that kind, in input order
    assert r.domains["query"].to_list() == ["lemonde.fr"]
    assert r.domains["outcome"].to_list() == ["ok"]
    net = r.networks
    assert net.schema == NETWORKS_SCHEMA
    assert net["query"].to_list() == [
        "74.125.225.229", "62.239.237.1", "2001:4860:4860::8888", "74.125.225.229",
        "192.0.2.1", "010.0.0.1", "10.0.0.1", "74.125.1.2/16",
    ]  # fmt: skip
    assert net["key"].to_list() == [
        "74.125.225.229", "62.239.237.1", "2001:4860:4860::8888", "74.125.225.229",
        "192.0.2.1", None, "10.0.0.1", "74.125.0.0/16",
    ]  # fmt: skip
    google = net.row(0, named=True)
    assert google["handle"] == "NET-74-125-0-0-1"
    assert google["start_address"] == "74.125.0.0" and google["end_address"] == "74.125.255.255"
    assert google["cidrs"] == ["74.125.0.0/16"] and google["ip_version"] == 4
    assert google["rir"] == "arin" and google["from_cache"] is False
    assert google["registry_url"] == f"{server['base']}/arin/"
    assert google["registration_date"] is not None
    bt = net.row(1, named=True)
    assert (bt["rir"], bt["country"], bt["name"]) == ("ripe", "GB", "BT-CORPORATE")
    assert net.row(2, named=True)["ip_version"] == 6
    aut = r.autnums
    assert aut.schema == AUTNUMS_SCHEMA
    assert aut["query"].to_list() == ["AS13335", "as205697", "64500"]
    assert aut["key"].to_list() == ["13335", "205697", "64500"]
    assert aut["start_autnum"].to_list() == [13335, 205697, None]
    assert aut["name"].to_list() == ["CLOUDFLARENET", "ALOJALIA", None]
    assert aut["rir"].to_list() == ["arin", "ripe", None]

    # one request per distinct valid routable query (the duplicate is not re-asked); the
    # unreadable answer is asked again like any parse error
    per_query = dict(r.attempts.group_by("query").len().iter_rows())
    assert per_query.pop("192.0.2.1") == rdaplab.Retry().max_attempts
    assert set(per_query.values()) == {1} and len(per_query) == 8
    assert r.summary["total"] == len(MIXED) and r.summary["unique"] == 10
    assert r.summary["kinds"] == {"asn": 3, "domain": 1, "ip": 8}
    assert (r.summary["ok"], r.summary["not_found"], r.summary["error"]) == (8, 1, 3)


async def test_detail_frames_are_keyed_by_kind_and_query(server, tmp_path) -> None:
    r = await _lookup(server, tmp_path, MIXED)
    for frame, schema in (
        (r.events, EVENTS_SCHEMA),
        (r.entities, ENTITIES_SCHEMA),
        (r.remarks, REMARKS_SCHEMA),
        (r.links, LINKS_SCHEMA),
    ):
        assert frame.schema == schema
    ev = r.events
    # domain rows keep their domain; other kinds have none, and say whose they are
    assert ev.filter(pl.col("query_kind") == "domain")["domain"].unique().to_list() == [
        "lemonde.fr"
    ]
    assert ev.filter(pl.col("query_kind") != "domain")["domain"].null_count() == (
        ev.filter(pl.col("query_kind") != "domain").height
    )
    keys = set(ev.select("query_kind", "key").unique().iter_rows())
    assert ("ip", "74.125.225.229") in keys and ("asn", "13335") in keys
    # the duplicate input row does not duplicate details
    dup = ev.filter((pl.col("query_kind") == "ip") & (pl.col("key") == "74.125.225.229"))
    assert dup.height == 2  # the ARIN answer has two events
    # remarks and links of RIR objects
    rm = r.remarks.filter(pl.col("key") == "13335")
    assert rm.height == 1 and rm["description"][0]
    ln = r.links.filter((pl.col("query_kind") == "ip") & (pl.col("key") == "62.239.237.1"))
    assert ln.height == 2
    assert ln.filter(pl.col("rel") == "self")["href"].to_list() == [
        "https://rdap.db.ripe.net/ip/62.239.237.1"
    ]
    # abuse contact of the autnum is an entity row of that autnum
    ents = r.entities.filter((pl.col("query_kind") == "asn") & (pl.col("key") == "13335"))
    assert "abuse" in ents["role"].to_list()
    assert r.autnums.row(0, named=True)["abuse_email"] is not None


async def test_entity_and_nameserver_kinds(server, tmp_path) -> None:
    r = await _lookup(
        server, tmp_path, ["ZG39-ARIN", "AMS346-RIPE", "NOTAG", "X-UNKNOWN"], kind="entity"
    )
    q = r.queries
    assert q["query_kind"].unique().to_list() == ["entity"]
    assert q["outcome"].to_list() == ["ok", "ok", "error", "error"]
    assert q["error_kind"].to_list()[2:] == ["no_rdap_service", "no_rdap_service"]
    assert "no object tag" in q["error_detail"][2]
    assert "'UNKNOWN'" in q["error_detail"][3]
    ents = r.entities.filter(pl.col("query_kind") == "entity")
    # the looked-up entity is its own first row, with no parent
    top = ents.filter(pl.col("handle") == pl.col("key"))
    assert sorted(top["key"].to_list()) == ["AMS346-RIPE", "ZG39-ARIN"]
    assert top["parent_handle"].null_count() == top.height
    assert r.domains.height == 0 and r.networks.height == 0

    ns = await _lookup(
        server, tmp_path, ["ns1.example.test", "NS1.EXAMPLE.TEST."], kind="nameserver"
    )
    row = ns.queries.row(0, named=True)
    assert row["key"] == "ns1.example.test"
    assert (row["outcome"], row["error_kind"], row["http_status"]) == ("error", "http_error", 501)
    assert ns.queries["key"].to_list() == ["ns1.example.test"] * 2
    assert ns.summary["requests"] == 1

    fr = await _lookup(server, tmp_path, ["ns1.nic.fr"], kind="nameserver")
    assert fr.queries["outcome"].to_list() == ["ok"]
    row = fr.nameservers.row(0, named=True)
    assert (row["query_kind"], row["key"], row["nameserver"]) == (
        "nameserver",
        "ns1.nic.fr",
        "ns1.nic.fr",
    )
    assert row["ipv4"] and row["ipv6"]


async def test_non_domain_answers_are_cached_per_kind(server, tmp_path) -> None:
    first = await _lookup(server, tmp_path, ["AS13335", "74.125.225.229", "ZG39-ARIN"])
    assert first.summary["requests"] == 2  # ZG39-ARIN is a domain-shaped value under auto
    assert first.queries["query_kind"].to_list() == ["asn", "ip", "domain"]
    before = len(server["hits"])
    again = await _lookup(server, tmp_path, ["AS13335", "74.125.225.229"])
    assert len(server["hits"]) == before  # nothing asked again
    assert again.queries["from_cache"].to_list() == [True, True]
    same = ["key", "outcome", *NETWORK_OBJECT_COLUMNS]
    assert again.networks.select(same).equals(first.networks.head(1).select(same))
    assert again.autnums["name"].to_list() == ["CLOUDFLARENET"]
    cache = rdaplab.Cache(tmp_path / "c.duckdb")
    try:
        kinds = cache.responses().group_by("query_kind").len().sort("query_kind").rows()
        assert kinds == [("asn", 1), ("ip", 1)]
        assert cache.responses("ip")["query"].to_list() == ["74.125.225.229"]
        audit = cache.audits()
        assert json.loads(audit["objects"][-1]) == {"asn": 1, "ip": 1}
    finally:
        cache.close()


async def test_explicit_kind_and_bad_kind(server, tmp_path) -> None:
    # explicit kinds override the shape: "13335" as an ASN, "lemonde.fr" as a domain
    r = await _lookup(server, tmp_path, ["13335"], kind="asn")
    assert r.autnums["name"].to_list() == ["CLOUDFLARENET"]
    ip_as_domain = await _lookup(server, tmp_path, ["74.125.225.229"], kind="domain")
    assert ip_as_domain.domains["error_kind"].to_list() == ["invalid_query"]
    with pytest.raises(rdaplab.InputError, match="kind must be"):
        await _lookup(server, tmp_path, ["x"], kind="network")


async def test_domain_batches_keep_their_shape(server, tmp_path) -> None:
    """A domains-only batch: same frames as before kinds existed, plus queries."""
    r = await _lookup(server, tmp_path, ["lemonde.fr", "nope.invalid"])
    assert r.networks.height == 0 and r.autnums.height == 0
    assert r.queries.select("query", "key", "outcome").rows() == [
        ("lemonde.fr", "lemonde.fr", "ok"),
        ("nope.invalid", "nope.invalid", "error"),
    ]
    assert r.entities["query_kind"].unique().to_list() == ["domain"]
    assert r.entities["key"].equals(r.entities["domain"].alias("key"))


async def test_load_result_rebuilds_every_kind_from_the_cache(server, tmp_path) -> None:
    live = await _lookup(server, tmp_path, MIXED)
    loaded = rdaplab.load_result(tmp_path / "c.duckdb", batch_id=live.batch_id)
    # the cache keeps normalized queries, not the raw input: compare on the keys
    same = ["key", "outcome", *NETWORK_OBJECT_COLUMNS]
    want = live.networks.filter(pl.col("key").is_not_null()).unique("key").sort("key")
    got = loaded.networks.sort("key")
    # 10.0.0.1 had no service: never attempted, so not in the cache
    assert got.select(same).equals(want.filter(pl.col("key") != "10.0.0.1").select(same))
    assert loaded.autnums.sort("key")["name"].to_list() == ["CLOUDFLARENET", "ALOJALIA", None]
    assert loaded.domains["domain"].to_list() == ["lemonde.fr"]
    parse = loaded.queries.filter(pl.col("key") == "192.0.2.1").row(0, named=True)
    assert (parse["outcome"], parse["error_kind"]) == ("error", "parse_error")


async def test_privacy_covers_every_kind(server, tmp_path) -> None:
    """A person (jCard kind individual) is blanked wherever rdaplab copied their data."""
    r = await _lookup(server, tmp_path, ["74.1.2.3", "ZG39-ARIN"], kind="auto")
    net = r.networks.row(0, named=True)
    assert net["abuse_handle"] == "PETSI-ARIN"
    assert net["abuse_email"] is None  # the abuse contact is Daniel Petsinger himself
    person = r.entities.filter((pl.col("key") == "74.1.2.3") & (pl.col("handle") == "PETSI-ARIN"))
    assert person.height == 7 and person["pii_redacted"].all()
    assert person["name"].null_count() == 7 and person["email"].null_count() == 7
    org = r.entities.filter(pl.col("handle") == "DP-41").row(0, named=True)
    assert org["name"] == "Radio Link Internet" and not org["pii_redacted"]
    # opting out keeps it all, and says so in the summary
    kept = await _lookup(server, tmp_path, ["74.1.2.3"], redact_pii=False)
    assert kept.networks["abuse_email"].to_list() == ["daniel.petsinger@radiolinkinternet.com"]
    assert kept.summary["privacy"]["redact_pii"] is False


async def test_domain_remarks_and_links_are_read_back_on_demand(server, tmp_path) -> None:
    r = await _lookup(server, tmp_path, ["lemonde.fr", "AS13335", "lemonde.fr"])
    assert "details" not in r._extra  # nothing read yet: the batch did not pay for it
    links = r.links
    doc = json.loads((responses_dir() / "afnic/lemonde.fr.json").read_bytes())
    dom = links.filter(pl.col("query_kind") == "domain")
    assert dom["href"].to_list() == [ln["href"].strip() for ln in doc["links"]]
    assert dom["key"].to_list() == ["lemonde.fr"]  # once, not per input row
    assert links.filter(pl.col("query_kind") == "asn").height == 2  # ARIN's two links
    # the same frames, read again, come from memory
    assert r.links is links
    rm = r.remarks
    assert rm.filter(pl.col("query_kind") == "asn").height == 1
    assert rm.filter(pl.col("query_kind") == "domain").height == len(doc.get("remarks", []))


async def test_details_without_the_cache_file_keep_the_other_kinds(server, tmp_path) -> None:
    r = await _lookup(server, tmp_path, ["lemonde.fr", "AS13335"])
    (tmp_path / "c.duckdb").unlink()
    assert r.links["query_kind"].unique().to_list() == ["asn"]


_SHAPES = list("aAsS09.:/ \t\x1c-x\u3002\uff10")


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.text(alphabet=st.sampled_from(_SHAPES), max_size=12), min_size=1, max_size=20))
def test_batch_kind_detection_equals_detect_kind(values: list[str]) -> None:
    """The Polars screen in front of detect_kind never calls an IP or ASN a domain."""
    assert _detect_kinds(values) == [detect_kind(v) for v in values]


def test_batch_kind_detection_on_odd_values() -> None:
    odd = ["a.com", "1.2.3.4", " AS15169 ", "as1.10", "2001:db8::1", "\x1c1.2.3.4", "AS-FOO", ""]
    assert _detect_kinds(odd) == [detect_kind(v) for v in odd]
    assert _detect_kinds([1, "a.com", None]) == ["asn", "domain", "domain"]  # not all str
