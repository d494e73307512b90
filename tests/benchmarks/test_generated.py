"""The scenario generator of issue 11 (``benchmarks/generated.py``) and its place in run.py.

Fast: determinism per seed, the targets and exit logic over synthetic runs. Slow: 60
seeds stay within the documented ranges and load in the simulator, and ``run.py --quick
--only generated`` runs three tiny scenarios against real simulator processes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from rdaplab.simulator import Scenario, Simulator

from .test_benchmarks_smoke import ROOT, SCRIPT, _result_lines, run

gen = sys.modules["generated"]  # imported by run.py (benchmarks/ is on sys.path)


def test_generate_is_a_function_of_the_seed():
    for seed in (1, 2, 17):
        first = gen.generate(seed)
        assert gen.generate(seed) == first
        assert json.loads(json.dumps(first[0])) == first[0]  # plain JSON, as written to disk
    assert gen.generate(1)[0] != gen.generate(2)[0]
    assert gen.generate(3, quick=True) == gen.generate(3, quick=True)
    assert gen.generate(3, quick=True) != gen.generate(3)


def _check_ranges(seed: int, scenario: dict[str, Any], names: list[str], quick: bool) -> float:
    regs = scenario["registries"]
    lo, hi = gen.QUICK_HOSTS if quick else gen.HOSTS
    assert lo <= len(regs) <= hi, seed
    for r in regs:
        if r.get("dead"):
            continue
        lat = r["latency_ms"]
        assert gen.LATENCY_MS[0] <= lat["mean"] <= gen.LATENCY_MS[1], (seed, r)
        assert 0 <= lat["jitter"] <= lat["mean"], (seed, r)
        assert r.get("rate_limit") or r.get("concurrency_limit"), (seed, r)  # a finite bound
        if r.get("rate_limit"):
            assert gen.RATE_PER_S[0] <= r["rate_limit"]["rate_per_s"] <= gen.RATE_PER_S[1]
            assert gen.BURST[0] <= r["rate_limit"]["burst"] <= gen.BURST[1]
        if r.get("concurrency_limit"):
            assert gen.CONN_LIMIT[0] <= r["concurrency_limit"] <= gen.CONN_LIMIT[1]
    n_lo, n_hi = gen.QUICK_NAMES if quick else gen.NAMES
    assert n_lo <= len(names) <= n_hi, seed
    assert len(set(names)) == len(names)
    spec = Scenario.load(scenario)  # every field is one the simulator really serves
    bound = Simulator(spec).lower_bound(names)
    b_lo, b_hi = gen.QUICK_BOUND_S if quick else gen.BOUND_S
    assert b_lo <= bound["bound_s"] <= b_hi, seed
    assert bound["names"] == gen.live_and_nx(scenario, names)[0]
    for name, host in bound["hosts"].items():  # quotas never bind the bound
        quota = next(r for r in regs if r["name"] == name).get("daily_quota")
        assert quota is None or quota > host["requests"] * 1.4
    return float(bound["bound_s"])


@pytest.mark.slow
def test_sixty_seeds_stay_in_range_and_cover_every_shape():
    # 60 seeds (~1,000 hosts) draw every shape; 200 took 86 s of the suite's ten minutes.
    seen: Counter[str] = Counter()
    bounds = []
    for seed in range(1, 61):
        scenario, names = gen.generate(seed)
        bounds.append(_check_ranges(seed, scenario, names, quick=False))
        regs = scenario["registries"]
        shapes = {
            f"{r.get('throttle_style', '429')}/{r.get('retry_after', 'seconds')}"
            for r in regs
            if r.get("rate_limit")
        }
        seen.update(shapes)
        seen.update({"style:" + s.split("/")[0] for s in shapes})
        for r in regs:
            seen["dead"] += bool(r.get("dead"))
            seen["registrar"] += r.get("role") == "registrar"
            seen["thin"] += bool(r.get("refer_to"))
            seen["block_after"] += bool(r.get("block_after"))
            seen["daily_quota"] += bool(r.get("daily_quota"))
            seen["error_rate"] += bool(r.get("error_rate"))
            seen["queue"] += r.get("concurrency_mode") == "queue"
            seen["reject-503"] += r.get("concurrency_status") == 503
            seen["reject-429"] += r.get("concurrency_status") == 429
    for style, retry_after in gen.THROTTLE_SHAPES:
        assert seen[f"style:{style}"] > 0, style
        if retry_after:
            assert seen[f"{style}/{retry_after}"] > 0
    for key in ("dead", "registrar", "thin", "block_after", "daily_quota", "error_rate",
                "queue", "reject-503", "reject-429"):  # fmt: skip
        assert seen[key] > 0, key
    bounds.sort()
    assert bounds[len(bounds) // 2] < 40  # most bounds modest (a full run must stay short)
    assert sum(b <= 60 for b in bounds) >= 0.8 * len(bounds)


def test_quick_scenarios_are_tiny_and_valid():
    for seed in (1, 2, 3, 4):
        scenario, names = gen.generate(seed, quick=True)
        _check_ranges(seed, scenario, names, quick=True)


def _run(seed: int, ratio: float | None, *, share: float = 0.01, blocks=(), bound=20.0):
    return {
        "seed": seed,
        "valid": ratio is not None,
        "invalid_reason": None if ratio is not None else "answered ok=1 of 2",
        "ratio": ratio,
        "bound_s": bound,
        "makespan_s": (ratio or 3.0) * bound,
        "throttled_share": share,
        "throttled": int(share * 1000),
        "requests": 1000,
        "blocks": list(blocks),
        "hosts": 5,
        "names": 500,
        "run_s": 30.0,
    }


def test_summary_quantiles_and_worst_seed():
    runs = [_run(s, 1.0 + s / 100) for s in range(1, 11)]  # ratios 1.01 .. 1.10
    d = gen.summarize(runs)
    assert d["median"] == pytest.approx(1.055) and d["p90"] == pytest.approx(1.091)
    assert (d["worst"], d["worst_seed"], d["min"], d["min_seed"]) == (1.1, 10, 1.01, 1)
    assert d["worst_allowance_met"] and d["blocks"] == 0 and d["invalid_seeds"] == []
    assert d["worst_excess_s"] == pytest.approx(1.1 * 20 - (1.6 * 20 + 3))


@pytest.mark.parametrize(
    ("runs", "missed"),
    [
        ([_run(s, 1.1) for s in range(10)], set()),
        ([_run(s, 1.3) for s in range(10)], {"median"}),
        ([_run(s, 1.1) for s in range(8)] + [_run(8, 1.5), _run(9, 1.5)], {"90th"}),
        ([_run(s, 1.1) for s in range(9)] + [_run(9, 1.8, bound=20)], {"worst"}),
        ([_run(s, 1.1) for s in range(9)] + [_run(9, 1.1, share=0.03)], {"throttled"}),
        ([_run(s, 1.1) for s in range(9)] + [_run(9, 1.1, blocks=["r01"])], {"block"}),
        ([_run(s, 1.1) for s in range(9)] + [_run(9, None)], {"worst", "every scenario"}),
    ],
)
def test_generated_targets_and_exit_status(runs: list[dict[str, Any]], missed: set[str]):
    results: dict[str, Any] = {
        "generated": {"summary": gen.summarize(runs), "runs": runs, "seeds": [0], "quick": False},
        "invalid": {},
    }
    results["targets"] = rows = run.targets(results)
    assert len(rows) == 7 and {r["scenario"] for r in rows} == {"generated"}
    got = {key for r in rows if not r["met"] for key in missed if key in r["target"]}
    assert got == missed
    assert sum(not r["met"] for r in rows) == len(missed)
    assert run.exit_status(results, enforce=True) == (1 if missed else 0)
    line = run.result_line("generated", results["generated"], not missed)
    assert line.startswith("RESULT generated scenarios=10 ")


def test_scenarios_and_seed_base_flags():
    args = run.parse_args(["--only", "generated", "--scenarios", "7", "--seed-base", "40"])
    assert args.scenarios == ["generated"]
    assert (args.sizes.gen_scenarios, args.seed_base) == (7, 40)
    assert run.parse_args([]).sizes.gen_scenarios == gen.DEFAULT_SCENARIOS == 30
    assert run.parse_args(["--quick"]).sizes.gen_scenarios == gen.QUICK_SCENARIOS == 3
    assert "generated" in run.parse_args([]).scenarios


@pytest.mark.slow
def test_quick_generated_runs_three_valid_scenarios(tmp_path: Path) -> None:
    out_json = tmp_path / "gen.json"
    cmd = [sys.executable, str(SCRIPT), "--quick", "--only", "generated", "--json", str(out_json)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "## 1b. Generated scenarios" in proc.stdout
    row = _result_lines(proc.stdout)["generated"]
    assert (row["scenarios"], row["valid"], row["seed_base"]) == ("3", "3", "1")
    assert float(row["median"]) > 0 and float(row["worst"]) >= float(row["min"]) > 0
    assert 0 <= float(row["throttled_max"]) < 1
    data = json.loads(out_json.read_text())
    assert data["invalid"] == {}
    runs = data["generated"]["runs"]
    assert [r["seed"] for r in runs] == [1, 2, 3]
    for r in runs:
        assert r["valid"] and r["quick"], r["invalid_reason"]
        assert r["ok"] + r["not_found"] == r["live_names"] and r["not_found"] == r["nx_names"]
        assert r["requests"] >= r["live_names"] and r["makespan_s"] > 0
        assert r["ratio"] == pytest.approx(r["makespan_s"] / r["bound_s"], rel=0.01)
        assert r["run_s"] < r["timeout_s"] + 30
        assert r["per_host"] and all("server" in h for h in r["per_host"])
        # The attempts-log digest is there for every host that was sent anything.
        for h in r["per_host"]:
            if h["server"]["requests"]:
                assert isinstance(h["attempts"], dict) and h["attempts"]["attempts"] > 0, h
                if h.get("rate"):
                    assert "found_s" in h["attempts"]
    assert {t["scenario"] for t in data["targets"]} == {"generated"}


@pytest.mark.slow
def test_a_seed_run_twice_into_one_keep_directory_starts_from_a_fresh_cache(tmp_path: Path):
    # The second run of seed 2 once answered from the first one's cache (a 0.27 x
    # "makespan" on 8 requests); each run now keeps its own directory.
    runs = gen.run_suite([2, 2], tmp_path / "unused", quick=True, keep=tmp_path, log=None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed-2", "seed-2-2"]
    assert all(r["valid"] and r["requests"] >= r["live_names"] for r in runs)
    assert (tmp_path / "seed-2-2" / "rdaplab.duckdb").exists()
