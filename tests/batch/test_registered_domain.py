"""registered_domain=True end to end: URLs, host names and e-mail addresses looked up as
their registrable domain against the loopback simulator, once per registrable domain; and
a domain column with junk values still gives the domains frame."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import polars as pl

import rdaplab
from rdaplab import Cache, Limits
from rdaplab.frames import DOMAINS_SCHEMA

FAST = Limits(per_host_rate_per_s=None, per_host_concurrency=8)
SCENARIO = {
    "seed": 5,
    "registries": [
        {"name": "t", "tlds": ["test"], "template": "verisign/google.com-2024.json"},
        {"name": "uk", "tlds": ["uk"], "template": "nominet/bbc.co.uk.json"},
        {"name": "com", "tlds": ["com"], "template": "verisign/google.com-2024.json"},
    ],
}


async def run(sim: Any, tmp_path: Path, values: Any, **kw: Any) -> rdaplab.LookupResult:
    boot = tmp_path / "bootstrap"
    if not boot.exists():
        sim.write_bootstrap(boot)
    kw.setdefault("cache", tmp_path / "cache.duckdb")
    return await rdaplab.lookup_async(values, bootstrap=boot, limits=FAST, progress=False, **kw)


def served(sim: Any) -> dict[str, int]:
    return {name: s.requests for name, s in sim.stats().items()}


async def test_urls_hosts_and_addresses_are_looked_up_once_per_registrable_domain(
    simulator, tmp_path
):
    sim = await simulator(SCENARIO)
    values = [
        "alpha.test",
        "https://www.alpha.test/path?q=1",
        "WWW.Alpha.TEST.",
        "user@mail.alpha.test",
        "mailto:someone@alpha.test",
        "www.shop.co.uk",
        "http://user:pw@shop.co.uk:8080/",
        "co.uk",  # a public suffix: nothing to look up
        "152.112.149.in-addr.arpa",  # kept whole (no service for .arpa in this bootstrap)
    ]
    result = await run(sim, tmp_path, values)
    d = result.domains
    assert d.schema == DOMAINS_SCHEMA
    assert d["query"].to_list() == values  # every input row, as given, in order
    assert d["domain"].to_list() == [
        *["alpha.test"] * 5,
        *["shop.co.uk"] * 2,
        None,
        "152.112.149.in-addr.arpa",
    ]
    assert d["outcome"].to_list()[:7] == ["ok"] * 7
    assert served(sim) == {"t": 1, "uk": 1, "com": 0}  # one request per registrable domain
    bad = d.row(7, named=True)
    assert (bad["outcome"], bad["error_kind"]) == ("error", "invalid_query")
    assert "'co.uk' is a public suffix" in bad["error_detail"]
    s = result.summary
    assert (s["total"], s["unique"]) == (9, 3)
    assert s["kinds"] == {"domain": 9}
    rd = s["registered_domain"]
    assert rd["enabled"] is True and rd["psl_private"] is False
    assert rd["psl_source"] == "bundled" and rd["psl_version"][:2] == "20"
    assert rd["mapped_rows"] == 6  # the www, URL and address rows (not names given as is)
    assert s["input"] == {"column": None, "kind": "auto"}
    with Cache(tmp_path / "cache.duckdb") as cache:
        row = cache.batch(result.batch_id)
    assert row is not None
    settings = json.loads(row["settings"])
    assert settings["registered_domain"] is True and settings["psl_private"] is False
    assert settings["psl_version"] == rd["psl_version"]
    assert json.loads(row["summary"])["registered_domain"] == rd


async def test_registered_domain_off_and_the_private_section(simulator, tmp_path):
    sim = await simulator(SCENARIO)
    off = await run(sim, tmp_path, ["www.alpha.test", "x.y.test"], registered_domain=False)
    assert off.domains["domain"].to_list() == ["www.alpha.test", "x.y.test"]
    assert off.summary["registered_domain"]["enabled"] is False
    assert off.summary["registered_domain"]["mapped_rows"] == 0
    names = ["foo.blogspot.com", "https://bar.blogspot.com/"]
    icann = await run(sim, tmp_path, names)
    assert icann.domains["domain"].to_list() == ["blogspot.com", "blogspot.com"]
    private = await run(sim, tmp_path, names, psl_private=True, refresh=True)
    assert private.domains["domain"].to_list() == ["foo.blogspot.com", "bar.blogspot.com"]
    assert private.summary["registered_domain"]["psl_private"] is True


async def test_junk_values_keep_the_domains_frame(simulator, tmp_path):
    sim = await simulator(SCENARIO)
    junk = ["alpha.test", "http://", "1.2.3", "beta.test", "n/a", "https://www.gamma.test/"]
    # A plain list under kind="auto": the junk is invalid *domains* (no mixed batch).
    result = await run(sim, tmp_path, junk)
    d = result.domains
    assert d["query"].to_list() == junk and d.schema == DOMAINS_SCHEMA
    assert result.summary["kinds"] == {"domain": 6}
    assert result._frame_name() == "domains"
    assert result.networks.height == 0
    detail = dict(zip(d["query"], d["error_detail"], strict=True))
    assert detail["http://"] == "URL without a host name: 'http://'"
    assert detail["1.2.3"].startswith("taken for an IP address: invalid IP address")
    assert d["domain"].to_list() == ["alpha.test", None, None, "beta.test", None, "gamma.test"]
    # A column named for domains is domains, valid IPs and AS numbers included.
    frame = pl.DataFrame({"domain": [*junk, "10.0.0.1", "15169"]})
    named = await run(sim, tmp_path, frame)
    assert named.summary["kinds"] == {"domain": 8}
    assert named.summary["input"] == {"column": "domain", "kind": "domain"}
    assert named.domains.height == 8 and named._frame_name() == "domains"
    # ... and only there: values that really are of several kinds stay a mixed batch.
    # (10.0.0.1: no RDAP service in the bootstrap, so no request leaves the machine)
    mixed = await run(sim, tmp_path, ["alpha.test", "10.0.0.1", "http://"])
    assert set(mixed.summary["kinds"]) == {"domain", "ip"}
    assert mixed.summary["requests"] == 0  # alpha.test is cached by now
    assert mixed._frame_name() == "queries"


async def test_a_stream_maps_like_a_lookup(simulator, tmp_path):
    sim = await simulator(SCENARIO)
    sim.write_bootstrap(tmp_path / "bootstrap")
    urls = pl.Series("url", ["https://www.alpha.test/a", "alpha.test", "http://", "0"])
    batches = []
    stream = rdaplab.stream(
        urls,
        bootstrap=tmp_path / "bootstrap",
        cache=tmp_path / "s.duckdb",
        limits=FAST,
        progress=False,
    )
    async with contextlib.aclosing(stream) as it:
        async for batch in it:
            batches.append(batch)
    d = pl.concat([b.domains for b in batches]).sort("row")
    assert d["domain"].to_list() == ["alpha.test", "alpha.test", None, None]  # "0": a domain
    assert served(sim)["t"] == 1
