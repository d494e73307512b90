"""Snapshots, diff and history end to end: batches against the loopback simulator kept in
a real DuckDB cache file, then read back as they stood at each batch or date."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import rdaplab
from rdaplab import Cache, InputError, Limits, Retry
from rdaplab._data import datasets_dir
from rdaplab.batch import HISTORY_SCHEMA
from rdaplab.cli import main
from rdaplab.schemas import DIFF_SCHEMA, DOMAINS_SCHEMA

FAST = Limits(per_host_rate_per_s=None, per_host_concurrency=8)
SCENARIO = {
    "seed": 5,
    "registries": [{"name": "t", "tlds": ["test"], "template": "verisign/google.com-2024.json"}],
}
NAMES = ["a.test", "b.test", "c.test", "nx-gone.test"]


async def run(sim: Any, tmp_path: Path, values: Any, **kw: Any) -> rdaplab.LookupResult:
    boot = tmp_path / "bootstrap"
    if not boot.exists():
        sim.write_bootstrap(boot)
    kw.setdefault("cache", tmp_path / "cache.duckdb")
    return await rdaplab.lookup_async(values, bootstrap=boot, limits=FAST, progress=False, **kw)


def fetched(result: rdaplab.LookupResult) -> dict[str, Any]:
    return dict(result.domains.select("domain", "fetched_at").rows())


async def test_a_batch_snapshot_is_the_cache_as_it_stood_at_that_batch(simulator, tmp_path):
    sim = await simulator(SCENARIO)
    first = await run(sim, tmp_path, NAMES)
    second = await run(sim, tmp_path, NAMES[:2])  # all cache hits: nothing fetched
    third = await run(sim, tmp_path, NAMES, refresh=True)  # everything fetched again
    cache = tmp_path / "cache.duckdb"

    one = rdaplab.snapshot(cache, first.batch_id)
    assert one.domains.schema == DOMAINS_SCHEMA
    # the first batch's own answers, not the third's newer ones; and not cache hits
    assert fetched(one) == fetched(first) != fetched(third)
    assert one.domains["from_cache"].to_list() == [False] * 4
    assert one.summary["snapshot"] == {
        "batch_id": first.batch_id,
        "as_of": one.summary["snapshot"]["as_of"],
    }

    two = rdaplab.snapshot(cache, second.batch_id)
    # a batch that fetched nothing still covers the names it asked for (cache hits)
    assert sorted(two.domains["domain"]) == ["a.test", "b.test"]
    assert two.domains["from_cache"].to_list() == [True, True]
    assert fetched(two) == {k: fetched(first)[k] for k in ("a.test", "b.test")}

    assert fetched(rdaplab.snapshot(cache, "latest")) == fetched(third)
    assert fetched(rdaplab.snapshot(cache, "previous")) == fetched(two)
    # a time: every name known by then, with its newest answer up to then
    at_second = second.summary["started_at"]
    by_time = rdaplab.snapshot(cache, at_second)
    assert fetched(by_time) == fetched(first)
    day_before = (third.domains["fetched_at"].min() - timedelta(days=1)).date()
    assert rdaplab.snapshot(cache, day_before).domains.height == 0


async def test_a_name_a_batch_could_not_answer_is_an_error_in_its_snapshot(simulator, tmp_path):
    sim = await simulator(SCENARIO)
    first = await run(sim, tmp_path, NAMES)
    boot = tmp_path / "bootstrap"
    await sim.stop()  # the registry is gone: the next batch's requests are refused
    failed = await rdaplab.lookup_async(
        NAMES,
        bootstrap=boot,
        limits=FAST,
        progress=False,
        cache=tmp_path / "cache.duckdb",
        refresh=True,
        retry=Retry(max_attempts=1, dead_host_after=100),
    )
    assert set(failed.domains["outcome"]) == {"error"}
    cache = tmp_path / "cache.duckdb"
    snap = rdaplab.snapshot(cache, failed.batch_id).domains
    # the earlier answers are kept in the cache, but this batch did not get them
    assert set(snap["outcome"]) == {"error"}
    assert set(snap["error_kind"]) == {"connection_error"}
    changes = rdaplab.diff(first.batch_id, failed.batch_id, cache=cache)
    assert changes.schema == DIFF_SCHEMA
    assert changes.select("domain", "change", "category").rows() == [
        ("a.test", "became_unreachable", "error"),
        ("b.test", "became_unreachable", "error"),
        ("c.test", "became_unreachable", "error"),
        ("nx-gone.test", "became_unreachable", "error"),
    ]
    # the default snapshot of a time still has the answers (the newest kept ones)
    assert set(rdaplab.snapshot(cache, "2999-01-01").domains["outcome"]) == {"ok", "not_found"}


async def test_diff_of_unchanged_batches_and_of_different_lists(simulator, tmp_path):
    sim = await simulator(SCENARIO)
    first = await run(sim, tmp_path, NAMES)
    second = await run(sim, tmp_path, [*NAMES[1:], "d.test"], refresh=True)
    cache = tmp_path / "cache.duckdb"
    d = rdaplab.diff(first.batch_id, second.batch_id, cache=cache)
    # the simulator serves the same values: only the lists differ
    assert d.select("domain", "change", "category").rows() == [
        ("a.test", "not_looked_up_after", "presence"),
        ("d.test", "not_looked_up_before", "presence"),
    ]
    assert set(d["before_snapshot"]) == {first.batch_id}
    # results work as snapshots too, and agree with the stored batches
    assert (
        rdaplab.diff(first, second)
        .drop("before_snapshot", "after_snapshot")
        .equals(d.drop("before_snapshot", "after_snapshot"))
    )
    with pytest.raises(InputError, match="neither a batch"):
        rdaplab.diff("no-such-batch", "latest", cache=cache)
    with pytest.raises(InputError, match="needs the cache"):
        rdaplab.diff(first.batch_id, "latest")


async def test_history_lists_every_batch_that_looked_a_name_up(simulator, tmp_path):
    sim = await simulator(SCENARIO)
    first = await run(sim, tmp_path, NAMES)
    second = await run(sim, tmp_path, ["A.test."])  # a cache hit, spelled differently
    third = await run(sim, tmp_path, NAMES, refresh=True)
    cache = tmp_path / "cache.duckdb"
    h = rdaplab.history(cache, "A.TEST")
    assert h.schema == HISTORY_SCHEMA
    assert h["snapshot"].to_list() == [first.batch_id, second.batch_id, third.batch_id]
    assert h["from_cache"].to_list() == [False, True, False]
    assert h["domain"].unique().to_list() == ["a.test"]
    assert h["snapshot_at"].is_sorted()
    assert third.history("a.test").equals(h)
    everything = rdaplab.history(cache)
    assert everything.group_by("domain").len().sort("domain").rows() == [
        ("a.test", 3), ("b.test", 2), ("c.test", 2), ("nx-gone.test", 2),
    ]  # fmt: skip
    assert rdaplab.history(cache, "never-looked-up.test").height == 0
    with Cache(cache) as store:  # resumes may record a batch's queries again: read once
        store.record_batch_queries(first.batch_id, "domain", ["a.test"])
        assert store.queries("domain", batch_id=first.batch_id, asked=True) == sorted(NAMES)


async def test_history_needs_a_cache_file(simulator, tmp_path):
    sim = await simulator(SCENARIO)
    result = await run(sim, tmp_path, NAMES[:1], cache=":memory:")
    with pytest.raises(InputError, match="no cache file"):
        result.history("a.test")


async def test_diff_and_history_commands(simulator, tmp_path, capsys):
    sim = await simulator(SCENARIO)
    first = await run(sim, tmp_path, NAMES)
    await run(sim, tmp_path, [*NAMES[1:], "d.test"], refresh=True)
    cache = str(tmp_path / "cache.duckdb")
    out = tmp_path / "changes.parquet"
    assert main(["diff", cache, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2 names changed between" in text and "not_looked_up_after" in text
    written = pl.read_parquet(out)
    assert written.schema == DIFF_SCHEMA and written.height == 2
    assert main(["diff", cache, "--from", first.batch_id, "--to", first.batch_id]) == 0
    assert "no changes between" in capsys.readouterr().out
    assert main(["diff", cache, "--category", "change", "--json"]) == 0
    assert '"rows": 0' in capsys.readouterr().out
    assert main(["diff", cache, "--from", "yesterday-ish"]) == 2
    assert "neither a batch" in capsys.readouterr().err
    assert main(["cache", "batches", "--cache", cache]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1 + 2  # header, 2 batches
    assert main(["history", cache, "b.test"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("b.test ") for line in lines)
    assert main(["history", cache, "--out", str(tmp_path / "h.csv")]) == 0
    assert pl.read_csv(tmp_path / "h.csv").height == 4 + 4  # two batches of four names


# ------------------------------------------------------------------ against scripted changes

# What each simulated change (rdaplab.simulator.epochs) must show up as in the diff.
EXPECTED_KIND = {
    "transfer": "transfer",
    "renew": "renewed",
    "ns_move": "ns_provider_changed",
    "hold": "status_changed",
    "redemption": "status_changed",
    "pending_delete": "status_changed",
    "dnssec_off": "dnssec_disabled",
}


async def test_the_diff_finds_every_scripted_change_and_nothing_else(simulator, tmp_path):
    """Two snapshots across one epoch of the changes scenario: each name's diff rows are
    what the simulator says happened to it, and names it left alone have none."""
    sim = await simulator(datasets_dir() / "scenarios" / "changes.json")
    names = [f"shop{i}.{tld}" for i in range(40) for tld in ("com", "org", "fr", "no", "dev")]
    first = await run(sim, tmp_path, names)
    served_before = {n: sim.expected(n) for n in names}
    sim.epoch = 1
    second = await run(sim, tmp_path, names, refresh=True)
    changes = rdaplab.diff("previous", "latest", cache=tmp_path / "cache.duckdb")
    assert set(changes["before_snapshot"]) == {first.batch_id}
    assert set(changes["after_snapshot"]) == {second.batch_id}
    by_name: dict[str, set[str]] = {}
    for domain, change in changes.select("domain", "change").iter_rows():
        by_name.setdefault(domain, set()).add(change)
    seen: dict[str, int] = {}
    for name in names:
        happened = [kind for _, kind in sim.changes(name)]
        got = by_name.get(name, set())
        before = served_before[name]
        for kind in happened:
            seen[kind] = seen.get(kind, 0) + 1
        if not happened:
            assert not got, (name, got)
        elif "reregister" in happened:
            assert "re_registered" in got and not got & {"transfer", "renewed"}, (name, got)
        elif "drop" in happened:
            assert got == {"disappeared"}, (name, got)
        else:
            for kind in happened:
                want = EXPECTED_KIND.get(kind)
                if kind == "renew" and before is not None and before.expiration_date is None:
                    continue  # a registry that publishes no expiration (Norid): unseen
                if kind == "dnssec_on":  # a template without secureDNS: unknown -> true
                    assert got & {"dnssec_enabled", "value_added"}, (name, got)
                    continue
                assert want in got, (name, kind, got)
            assert not got & {"re_registered", "disappeared", "appeared"}, (name, got)
    # the scenario's rates make every kind happen among 200 names
    assert set(seen) >= {*EXPECTED_KIND, "drop", "reregister", "dnssec_on"}, seen
    statuses = changes.filter(pl.col("change") == "status_changed")["added"].explode()
    assert set(statuses.drop_nulls()) >= {"client hold", "redemption period", "pending delete"}
    fates = rdaplab.expiry_outcomes("previous", "latest", cache=tmp_path / "cache.duckdb")
    assert set(fates["fate"]) <= {
        "renewed", "dropped", "re_registered", "redemption", "pending_delete", "hold",
        "unchanged", "unknown",
    }  # fmt: skip
    for domain, fate in fates.select("domain", "fate").iter_rows():
        happened = {kind for _, kind in sim.changes(domain)}
        if fate == "renewed":
            assert "renew" in happened
        elif fate == "dropped":
            assert "drop" in happened and "reregister" not in happened
        elif fate == "unchanged":
            assert not happened & {"renew", "drop", "reregister"}
