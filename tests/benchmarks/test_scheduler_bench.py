"""The scheduler benchmark: name generator, lower bound shape, chunked baseline, quick run."""

from __future__ import annotations

import email.utils
import importlib.util
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from rdaplab.simulator import Simulator

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "scheduler_bench", ROOT / "benchmarks" / "scheduler_bench.py"
)
assert _spec is not None and _spec.loader is not None
sb = importlib.util.module_from_spec(_spec)
sys.modules["scheduler_bench"] = sb
_spec.loader.exec_module(sb)


def test_bench_names_are_seeded_distinct_and_spread():
    names = sb.bench_names(1000, 5)
    assert names == sb.bench_names(1000, 5) and names != sb.bench_names(1000, 6)
    assert len(names) == len(set(names)) == 1000
    tlds = {n.rsplit(".", 1)[1] for n in names}
    assert {"com", "uk", "ai", "xyz", "page", "zip"} <= tlds
    assert 0.01 < sum(n.startswith("nx-") for n in names) / 1000 < 0.06


def test_default_bound_is_set_by_several_hosts():
    names = sb.bench_names(sb.DEFAULT_N, sb.DEFAULT_SEED)
    assert len(names) >= 5000
    bound = Simulator(sb.load_scenario()).lower_bound(names)
    assert 60 <= bound["bound_s"] <= 90
    near = [h for h, row in bound["hosts"].items() if row["bound_s"] >= 0.7 * bound["bound_s"]]
    assert len(near) >= 4, near
    assert {"concurrency", "rate"} <= {bound["hosts"][h]["binding"] for h in near}
    assert "dead-zip" not in bound["hosts"]


def _small_scenario() -> dict[str, Any]:
    return {
        "seed": 1,
        "registries": [
            {
                "name": "thin", "tlds": ["test"], "template": "verisign/google.com-2024.json",
                "refer_to": "rr", "rate_limit": {"rate_per_s": 20, "burst": 2},
                "retry_after": "none", "latency_ms": {"mean": 5, "jitter": 0},
            },
            {
                "name": "rr", "role": "registrar", "tlds": [],
                "template": "markmonitor/GOOGLE.COM-2024.json",
            },
            {"name": "gone", "tlds": ["gone"], "template": "google-registry/web.dev.json", "dead": True},
        ],
    }  # fmt: skip


async def test_chunked_baseline_retries_throttles_and_follows_referrals(simulator, tmp_path):
    sim = await simulator(_small_scenario())
    names = [f"n{i}.test" for i in range(12)] + ["nx-1.test", "x.gone", "y.nowhere", "n0.test"]
    boot = sim.write_bootstrap(tmp_path / "b")
    res = await sb.chunked_baseline(boot, names, sleep_s=0.01, default_wait_s=0.1)
    assert res["names"] == 15
    assert (res["ok"], res["not_found"], res["errors"]) == (12, 1, 2)
    assert res["referrals_followed"] == 12 and res["referral_errors"] == 0
    st = sim.stats()
    assert res["throttled"] == st["thin"].throttled > 0  # 3 in flight beat a burst of 2
    # Every answer the server gave was counted, and each name's requests were retried.
    assert res["requests"] == st["thin"].requests + st["rr"].requests + 1  # + the dead one
    assert st["thin"].requests == 13 + res["throttled"]
    assert st["thin"].by_status == {200: 12, 404: 1, 429: res["throttled"]}


async def test_chunked_baseline_treats_a_notice_as_a_throttle(simulator):
    scen = _small_scenario()
    scen["registries"][0].update(throttle_style="200-notice", refer_to=None)
    scen["registries"][0]["rate_limit"] = {"rate_per_s": 50, "burst": 1}
    sim = await simulator(scen)
    bases = {"test": sim.base_url("thin")}
    names = [f"a{i}.test" for i in range(6)]
    # Retries are plenty: three in flight against a burst of one throttle again and again.
    res = await sb.chunked_baseline(bases, names, sleep_s=0.0, default_wait_s=0.1, max_retries=10)
    assert res["ok"] == 6 and res["errors"] == 0 and res["throttled"] > 0


def test_retry_after_parsing():
    assert sb._retry_after_s("7", 5.0) == 7.0
    assert sb._retry_after_s(None, 5.0) == sb._retry_after_s("soon", 5.0) == 5.0
    when = email.utils.format_datetime(
        datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True
    )
    assert 28 <= sb._retry_after_s(when, 5.0) <= 30
    assert sb._retry_after_s("Thu, 01 Jan 2015 00:00:00 GMT", 5.0) == 0.0


@pytest.mark.slow
async def test_quick_scheduler_efficiency(tmp_path: Path):
    res = await sb.scheduler_efficiency(tmp_path, n=sb.QUICK_N, quick=True)
    assert res["n"] == sb.QUICK_N and res["bound_s"] > 0
    for side in ("rdaplab", "baseline"):
        r = res[side]
        assert r["makespan_s"] >= res["bound_s"] * 0.9  # nobody beats the bound
        assert r["ratio_to_bound"] == pytest.approx(r["makespan_s"] / res["bound_s"], rel=1e-2)
        assert r["requests"] >= res["bound"]["names"]
        assert 0 <= r["throttled_share"] < 1
        assert r["ok"] >= 0.8 * sb.QUICK_N
    # Both sides sent the same necessary requests (server view), plus their own retries.
    needed = sum(row["needed"] for row in res["per_host"])
    for side in ("rdaplab", "baseline"):
        assert sum(row[side]["requests"] for row in res["per_host"]) >= needed
    assert "report" not in res and "names" in sb.report(res)
