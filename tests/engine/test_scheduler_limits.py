"""Rate limits and connection limits told apart, against the real simulator (issue 11).

A registry that limits its *rate* and answers 429 with Retry-After as an HTTP-date must
not be taken for one that limits *connections* (the ceiling would drop to 1 and the batch
crawl), and a registry that refuses connections over a number must get that number as
its ceiling without its rate being cut to nothing. Both run ``rdaplab.lookup_async``
against a loopback :class:`~rdaplab.simulator.Simulator`, told nothing about the limits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import rdaplab
from rdaplab.store import Cache


def scenario(**registry: Any) -> dict[str, Any]:
    return {
        "seed": 3,
        "registries": [
            {
                "name": "r",
                "tlds": ["test"],
                "template": "verisign/google.com-2024.json",
                "not_found": "empty",
                **registry,
            }
        ],
    }


async def run(simulator: Any, tmp_path: Path, n: int, **registry: Any) -> tuple[Any, Any]:
    sim = await simulator(scenario(**registry))
    boot = tmp_path / "boot"
    sim.write_bootstrap(boot)
    names = [f"n{i}.test" for i in range(n)]
    cache = tmp_path / "c.duckdb"
    result = await rdaplab.lookup_async(names, bootstrap=boot, cache=cache, progress=False)
    with Cache(cache, read_only=True) as c:
        attempts = c.attempts()
    return result, attempts


async def test_a_rate_limit_with_http_date_retry_after_is_not_a_connection_limit(
    simulator: Any, tmp_path: Path
) -> None:
    rate = 20.0
    result, attempts = await run(
        simulator,
        tmp_path,
        120,
        rate_limit={"rate_per_s": rate, "burst": 2},
        retry_after="http-date",
        latency_ms={"mean": 40, "jitter": 10},
    )
    summary = result.summary
    assert summary["ok"] == 120
    (host,) = summary["hosts"]
    assert "concurrency" not in set(attempts["decision"].drop_nulls().to_list())
    assert host["concurrency_ceiling"] == rdaplab.Limits().per_host_max_concurrency
    # It found the rate: what it ran at in the end is within the limit, near it.
    assert 0.7 * rate <= host["rate_per_s"] <= 1.05 * rate
    assert int(attempts["throttled"].sum()) <= 6
    assert summary["throttled"] <= 0.06 * summary["requests"]


async def test_a_connection_limit_is_learned_as_a_ceiling_not_a_rate_cut(
    simulator: Any, tmp_path: Path
) -> None:
    result, attempts = await run(
        simulator,
        tmp_path,
        150,
        concurrency_limit=2,
        concurrency_mode="reject",
        latency_ms={"mean": 40, "jitter": 10},
    )
    summary = result.summary
    assert summary["ok"] == 150
    (host,) = summary["hosts"]
    assert host["concurrency_ceiling"] <= 2
    assert "concurrency" in set(attempts["decision"].drop_nulls().to_list())
    # 2 in flight at 40 ms is ~50/s: the rate was not cut far below what 2 connections do.
    assert host["rate_per_s"] >= 20.0
    assert summary["throttled"] <= 0.06 * summary["requests"]


@pytest.mark.slow
async def test_a_deep_bucket_is_found_in_few_refusals_against_the_simulator(
    simulator: Any, tmp_path: Path
) -> None:
    # 3/s with a burst of 10 and Retry-After "1": slow start drains the burst at 16/s,
    # and halving cuts took 5 refusals to find the rate. Read as a token bucket, the
    # refusals that follow the first pin it down (engine.bucket_model): 3, in 20.5 s.
    rate = 3.0
    result, attempts = await run(
        simulator,
        tmp_path,
        70,
        rate_limit={"rate_per_s": rate, "burst": 10},
        retry_after="seconds",
        latency_ms={"mean": 20, "jitter": 5},
    )
    summary = result.summary
    assert summary["ok"] == 70
    (host,) = summary["hosts"]
    assert int(attempts["throttled"].sum()) <= 4  # the rules alone: 5 (2026-12-07)
    assert 0.8 * rate <= host["rate_per_s"] <= 1.1 * rate
    assert summary["elapsed_s"] <= 1.35 * (70 - 10) / rate + 2.0
