"""A batch starts each host from what earlier batches learned (kept in the cache, aged),
and saves what it learned when it ends: real DuckDB files, the loopback simulator."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import rdaplab
from rdaplab import Cache, Limits, LookupOptions, Retry
from rdaplab.batch.learned import MIN_REQUESTS_TO_SAVE, learned_limits
from rdaplab.batch.run import BatchRun
from rdaplab.engine import authority
from rdaplab.rdap import Bootstrap

VERISIGN = "verisign/google.com-2024.json"
QUICK_RETRY = Retry(backoff_initial_s=0.01, backoff_max_s=0.05, retry_after_max_s=0.5)
# Adaptive, starting at 8/s (the profile's start here; 2/s by default would make the
# first batch's slow start take seconds longer).
START = 8.0
ADAPTIVE = Limits(per_host_rate_per_s=START)
# A registry that throttles above 20/s: the first batch meets its limit within a second.
THROTTLED = {
    "seed": 3,
    "registries": [
        {
            "name": "r",
            "tlds": ["test"],
            "template": VERISIGN,
            "rate_limit": {"rate_per_s": 20, "burst": 2},
            "retry_after": "seconds",
            "latency_ms": {"mean": 2},
        }
    ],
}


def names(n: int, prefix: str = "n") -> list[str]:
    return [f"{prefix}{i}.test" for i in range(n)]


async def lookup(boot: Path, values: list[str], cache: Any, **kw: Any) -> rdaplab.LookupResult:
    kw.setdefault("limits", ADAPTIVE)
    return await rdaplab.lookup_async(
        values, bootstrap=boot, cache=cache, retry=QUICK_RETRY, progress=False, **kw
    )


def host_row(result: rdaplab.LookupResult) -> dict[str, Any]:
    (row,) = result.summary["hosts"]
    return row


def first_rates(result: rdaplab.LookupResult, n: int = 3) -> list[float]:
    return result.attempts.sort("started_at")["rate_limit"].head(n).to_list()


async def started(simulator: Any, tmp_path: Path) -> tuple[Path, str]:
    sim = await simulator(THROTTLED)
    boot = sim.write_bootstrap(tmp_path / "boot")
    return boot, authority(sim.base_url("r"))


async def test_the_second_batch_starts_from_what_the_first_learned(simulator, tmp_path):
    boot, host = await started(simulator, tmp_path)
    cache = tmp_path / "c.duckdb"

    first = await lookup(boot, names(30), cache)
    assert host_row(first)["started_from"] == "profile"
    assert host_row(first)["throttled"] >= 1  # it met the registry's limit
    assert first_rates(first) == [START] * 3
    with Cache(cache) as store:
        saved = store.host_limits(host)
    assert saved is not None and saved["batch_id"] == first.summary["batch_id"]
    learned = host_row(first)["learned_max_rate_per_s"]
    assert saved["rate_per_s"] == learned
    assert saved["throttled_at_per_s"] == host_row(first)["throttled_at_rate_per_s"]
    assert saved["requests"] == host_row(first)["requests"] >= MIN_REQUESTS_TO_SAVE
    assert saved["age_s"] < 60

    second = await lookup(boot, names(8, "m"), cache)
    assert host_row(second)["started_from"] == "learned"
    # Its controller started at the aged rate: a fresh figure is trusted at 90 %.
    for rate in first_rates(second):
        assert rate == pytest.approx(0.9 * learned, rel=0.01)
    assert all(r == "ok" for r in second.domains["outcome"])


async def test_learned_limits_false_starts_from_the_profile(simulator, tmp_path):
    boot, host = await started(simulator, tmp_path)
    cache = tmp_path / "c.duckdb"
    with Cache(cache) as store:
        store.save_host_limits([{"host": host, "rate_per_s": 15.0, "throttled_at_per_s": 20.0}])

    off = await lookup(boot, names(5), cache, learned_limits=False)
    assert host_row(off)["started_from"] == "profile"
    assert first_rates(off) == [START] * 3

    on = await lookup(boot, names(5, "m"), cache)
    assert host_row(on)["started_from"] == "learned"
    assert first_rates(on)[0] == pytest.approx(0.9 * 15.0)
    # Five requests teach nothing worth keeping: the earlier figure stays.
    with Cache(cache) as store:
        kept = store.host_limits(host)
    assert kept is not None and kept["rate_per_s"] == 15.0 and kept["batch_id"] is None


async def test_trust_decays_with_age_and_a_month_old_figure_is_ignored(simulator, tmp_path):
    boot, host = await started(simulator, tmp_path)
    cache = tmp_path / "c.duckdb"
    now = datetime.now(timezone.utc)

    with Cache(cache) as store:
        store.save_host_limits(
            [{"host": host, "rate_per_s": 15.0}], learned_at=now - timedelta(hours=5)
        )
    day_old = await lookup(boot, names(4), cache)
    assert host_row(day_old)["started_from"] == "learned"
    assert first_rates(day_old)[0] == pytest.approx(0.7 * 15.0)  # within a day: 70 %

    with Cache(cache) as store:
        store.save_host_limits(
            [{"host": host, "rate_per_s": 15.0}], learned_at=now - timedelta(days=31)
        )
    too_old = await lookup(boot, names(4, "m"), cache)
    assert host_row(too_old)["started_from"] == "profile"
    assert first_rates(too_old) == [START] * 3


async def test_pinned_hosts_are_not_saved_and_a_memory_cache_works(simulator, tmp_path):
    boot, host = await started(simulator, tmp_path)
    pinned = Limits(per_host_rate_per_s=15.0, adaptive=False)
    with Cache(":memory:") as store:
        result = await lookup(boot, names(MIN_REQUESTS_TO_SAVE + 5), store, limits=pinned)
        assert result.summary["requests"] >= MIN_REQUESTS_TO_SAVE
        assert host_row(result)["started_from"] == "profile"
        assert store.host_limits_frame().is_empty()  # a pinned rate was not learned

        store.save_host_limits([{"host": host, "rate_per_s": 12.0}])
        again = await lookup(boot, names(3, "m"), store)
        assert host_row(again)["started_from"] == "learned"
        assert first_rates(again)[0] == pytest.approx(0.9 * 12.0)


async def test_a_cancelled_batch_still_saves_what_it_learned(simulator, tmp_path):
    boot, host = await started(simulator, tmp_path)
    options = LookupOptions(limits=ADAPTIVE, retry=QUICK_RETRY, progress=False)
    with Cache(tmp_path / "c.duckdb") as store:
        run = BatchRun(options, store=store, bootstrap=Bootstrap.load(boot))
        with pytest.raises(asyncio.CancelledError):
            async with run:
                await run.admit(names(200))
                while run.tracker.requests < MIN_REQUESTS_TO_SAVE + 5:
                    await run.wait(0.05)
                run.cancel()
                await run.wait()
        assert run.summary is None  # no summary for a cancelled batch ...
        saved = store.host_limits(host)
        # ... but what it learned about the host is kept.
        assert saved is not None and saved["batch_id"] == run.batch_id
        assert saved["requests"] >= MIN_REQUESTS_TO_SAVE and saved["rate_per_s"] > 0


def test_a_row_becomes_learned_limits_only_when_usable() -> None:
    row = {"host": "h:443", "rate_per_s": 10.0, "throttled_at_per_s": None,
           "concurrency_ceiling": 4, "age_s": 10.0}  # fmt: skip
    got = learned_limits(row)
    assert got is not None and got.concurrency_ceiling == 4 and got.start_rate_per_s() == 9.0
    assert learned_limits(None) is None
    assert learned_limits({**row, "age_s": 31 * 86_400.0}) is None  # too old
    assert learned_limits({**row, "rate_per_s": 0.0}) is None  # invalid
    assert learned_limits({**row, "age_s": -1.0}) is None
    assert learned_limits({"host": "h:443"}) is None


async def test_a_clean_batch_started_from_a_learned_figure_does_not_lower_it(simulator, tmp_path):
    # The host takes 20/s; the figure says 15/s. A batch too small to climb back from
    # 90 % of it is never throttled: its own "best rate" (13.5/s) must not replace 15.
    boot, host = await started(simulator, tmp_path)
    cache = tmp_path / "c.duckdb"
    with Cache(cache) as store:
        store.save_host_limits([{"host": host, "rate_per_s": 15.0, "throttled_at_per_s": 21.0}])
    result = await lookup(boot, names(MIN_REQUESTS_TO_SAVE + 5), cache)
    assert host_row(result)["started_from"] == "learned"
    assert int(result.attempts["throttled"].sum()) == 0
    with Cache(cache) as store:
        kept = store.host_limits(host)
    assert kept is not None and kept["rate_per_s"] >= 15.0
    assert kept["batch_id"] == result.batch_id  # saved again (a fresh date), not lowered
