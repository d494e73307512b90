"""The benchmark harness: ``benchmarks/run.py --quick`` in a subprocess, and its exit logic.

The slow test checks that all four scenarios run against real simulator processes and
report plausible, consistent numbers; it does not check the performance targets (a quick
run does not enforce them, the full ``make bench`` does).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "run.py"
SCENARIOS = {"scheduler", "generated", "client", "warm", "memory", "jobs", "distributed"}


def _load_run() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


run = _load_run()


def _result_lines(stdout: str) -> dict[str, dict[str, str]]:
    """``RESULT <scenario> key=value ...`` lines as {scenario: {key: value}}."""
    out: dict[str, dict[str, str]] = {}
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            _, scenario, *pairs = line.split()
            out[scenario] = dict(pair.split("=", 1) for pair in pairs)
    return out


def test_only_selects_scenarios_in_suite_order_and_rejects_unknown(capsys):
    args = run.parse_args(["--only", "warm, client", "--strict"])
    assert args.scenarios == ["client", "warm"]
    assert args.sizes == run.DEFAULT_SIZES
    assert run.parse_args(["--quick"]).sizes.memory_sizes == (5_000, 15_000)
    with pytest.raises(SystemExit) as exc:
        run.parse_args(["--only", "client,politeness"])
    assert exc.value.code == 2
    assert "politeness" in capsys.readouterr().err


def _results(*, ratio: float, throttled: float, invalid: dict[str, str]) -> dict[str, Any]:
    side = {
        "makespan_s": 80.0 * ratio,
        "ratio_to_bound": ratio,
        "throttled_share": throttled,
        "throttled": int(throttled * 6000),
        "requests": 6000,
        "ok": 4825,
        "not_found": 155,
        "complete": True,
    }
    return {
        "scheduler": {"bound_s": 80.0, "live_names": 4980, "rdaplab": side},
        "invalid": invalid,
    }


@pytest.mark.parametrize(
    ("ratio", "throttled", "met"),
    [(1.15, 0.02, True), (1.16, 0.0, False), (1.0, 0.021, False)],
)
def test_scheduler_targets_and_exit_status(ratio: float, throttled: float, met: bool):
    results = _results(ratio=ratio, throttled=throttled, invalid={})
    results["targets"] = rows = run.targets(results)
    assert [r["scenario"] for r in rows] == ["scheduler"] * 3
    assert all(r["met"] for r in rows) is met
    assert run.exit_status(results, enforce=True) == (0 if met else 1)
    assert run.exit_status(results, enforce=False) == 0  # --quick, --report-only
    results["invalid"] = {"memory": "RuntimeError: wrong counts"}
    assert run.exit_status(results, enforce=False) == 2


@pytest.mark.slow
def test_quick_run_reports_every_scenario(tmp_path: Path) -> None:
    out_json = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", str(out_json)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    # A quick run never enforces targets: anything but 0 is a broken harness (2 = invalid).
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    stdout = proc.stdout
    for heading in (
        "## 1. Scheduler efficiency",
        "## 1b. Generated scenarios",
        "## 2. Client overhead",
        "## 3. Warm cache",
        "## 4. Streaming memory",
        "## 6. Distributed",
        "## Targets",
    ):
        assert heading in stdout
    assert "targets are reported, not enforced" in stdout

    rows = _result_lines(stdout)
    assert set(rows) == SCENARIOS
    for row in rows.values():
        assert row["target_met"] in ("True", "False")

    sched = rows["scheduler"]
    assert int(sched["n"]) == 300 and int(sched["registries"]) >= 20
    assert float(sched["bound_s"]) > 0
    for side in ("rdaplab", "baseline"):
        assert float(sched[f"{side}_ratio"]) > 0
        assert 0 <= float(sched[f"{side}_throttled_share"]) < 1
        assert int(sched[f"{side}_requests"]) >= int(sched[f"{side}_ok"]) > 0

    co = rows["client"]
    assert int(co["n"]) == 300
    assert float(co["rdaplab_per_s"]) > 0 and float(co["bare_per_s"]) > 0
    assert 0 < float(co["ratio"]) < 2 and 0 < float(co["cpu_ratio"]) < 2

    wr = rows["warm"]
    assert int(wr["n"]) == 3000 and int(wr["docs"]) == 2000
    assert float(wr["replay_s"]) > 0 and float(wr["docs_per_s"]) > 0
    assert float(wr["extrapolated_100k_s"]) == pytest.approx(
        float(wr["replay_s"]) * 100_000 / 3000, rel=0.01
    )

    jb = rows["jobs"]
    assert int(jb["n"]) == 300 and float(jb["stream_per_s"]) > 0
    assert 0 < float(jb["job_ratio"]) < 2 and 0 < float(jb["batch_lookup_ratio"]) < 2
    assert 0 < float(jb["first_row_s"]) < float(jb["n"]) / float(jb["stream_per_s"]) + 5

    dist = rows["distributed"]
    assert int(dist["shared_n"]) == 300 and int(dist["egress_n"]) == 40
    assert int(dist["kill_n"]) == 300 and int(dist["seeds"]) == 1
    assert float(dist["shared_ratio_worst"]) >= 1.0 - 1e-9  # never under the lower bound
    assert 0 <= float(dist["shared_throttled_worst"]) < 1
    assert float(dist["egress_ratio_worst"]) > 0
    assert dist["kill_rows_once_ok"] == "True"  # a killed worker loses no row, in any mode
    assert 0 < float(dist["reserve_median_ms"]) <= float(dist["reserve_p90_ms"])

    mem = rows["memory"]
    assert mem["sizes"] == "5000,15000"
    assert float(mem["peak_mb_5000"]) > 0 and float(mem["peak_mb_15000"]) > 0
    assert float(mem["ratio"]) == pytest.approx(
        float(mem["peak_mb_15000"]) / float(mem["peak_mb_5000"]), rel=0.01
    )

    # The JSON carries the same numbers plus the detail behind them, and the counts add up.
    data = json.loads(out_json.read_text())
    assert data["invalid"] == {}
    assert data["meta"]["quick"] is True and set(data["meta"]["scenarios"]) == SCENARIOS
    s = data["scheduler"]
    ours = s["rdaplab"]
    assert ours["ok"] + ours["not_found"] + ours["errors"] == s["n"] == 300
    assert ours["complete"] is True  # every live name answered: the makespan is comparable
    assert ours["requests"] >= s["live_names"]
    assert s["baseline"]["names"] == 300
    assert len(s["per_host"]) >= 20
    assert data["client"]["rdaplab_per_s"] == pytest.approx(float(co["rdaplab_per_s"]), abs=0.1)
    replay = data["warm"]["replay"]
    # the phases timed inside lookup_async cannot add up to more than the whole call
    assert 0 < sum(replay["phases_s"].values()) <= replay["seconds"]
    assert replay["phases_s"]["normalize_results"] > 0
    assert data["warm"]["normalize"]["n"] == 2000
    for n, res in data["memory"]["sizes"].items():
        assert res["rows"] == res["ok"] == res["done"] == int(n)
    targets = data["targets"]
    assert {t["scenario"] for t in targets} == SCENARIOS and len(targets) == 24
    assert data["generated"]["summary"]["valid"] == 3  # tests/benchmarks/test_generated.py
    assert all(isinstance(t["met"], bool) for t in targets)


def _controller_pop() -> ModuleType:
    """benchmarks/controller_pop.py, loaded as a module (benchmarks/ is no package)."""
    spec = importlib.util.spec_from_file_location(
        "controller_pop", ROOT / "benchmarks" / "controller_pop.py"
    )
    assert spec is not None and spec.loader is not None
    pop = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pop)
    return pop


def test_controller_populations_compare_controllers_side_by_side(tmp_path: Path) -> None:
    # The fake-time population tool (benchmarks/controller_pop.py): one line per
    # controller and population, and a module given as a file is the one measured.
    pop = _controller_pop()
    variant = tmp_path / "variant.py"
    source = (ROOT / "rdaplab" / "engine" / "controller.py").read_text()
    # A controller that never grows past its start: slower, and never refused.
    variant.write_text(source.replace("SLOW_START_FACTOR = 2.0", "SLOW_START_FACTOR = 1.0"))
    lines: list[str] = []
    assert pop.main(["--only", "suite", "--seeds", "1", str(variant)], out=lines.append) == 0
    assert pop.main(["--only", "suite", "--seeds", "1"], out=lines.append) == 0
    assert lines[0].startswith("== suite: 120 hosts") and lines[2].startswith("== suite")
    flat, ours = lines[1], lines[3]
    assert flat.startswith("variant.py") and ours.startswith("installed")

    def median(line: str) -> float:
        return float(line.split("ratio median ")[1].split()[0])

    assert median(flat) > 2 * median(ours)  # held at 2/s: far from hosts of up to 60/s


def test_controller_populations_include_hosts_that_are_no_token_bucket() -> None:
    # Fixed-window counters: where the controller's token-bucket reading is wrong.
    pop = _controller_pop()
    lines: list[str] = []
    assert pop.main(["--only", "window", "--seeds", "1"], out=lines.append) == 0
    assert lines[0] == "== window: 150 hosts, arrival and latency jitter"
    median = float(lines[1].split("ratio median ")[1].split()[0])
    assert 1.0 <= median < 1.5


def test_controller_populations_include_503_faults_and_503_throttles() -> None:
    # The weak signal both ways: 503 faults that must not pass for throttles, and 503
    # throttles that must not pass for faults (on the same 0.5-60/s hosts as ``all``).
    pop = _controller_pop()
    lines: list[str] = []
    assert pop.main(["--only", "all,faults,503", "--seeds", "1"], out=lines.append) == 0
    assert [line.split(":")[0] for line in lines[::2]] == ["== all", "== faults", "== 503"]

    def refusals(line: str) -> float:
        return float(line.split("refusals mean ")[1].split()[0])

    plain, faulty, weak = lines[1], lines[3], lines[5]
    # Faults are no refusals (the host admitted those requests) ...
    assert refusals(faulty) <= refusals(plain) + 1.0
    # ... and from its second in a minute a 503 throttle is handled as a 429 until the
    # host shows faults: refused a little more often (2026-12-07, seeds 1-3: 4.6 against
    # 2.9; when 503s counted only 3 in 20 answers, 14.7, and 177 of 450 hosts blocked).
    assert refusals(weak) <= 1.8 * refusals(plain)

    def blocked(line: str) -> int:
        return int(line.split("blocked at 7/min ")[1].split("/")[0])

    assert blocked(weak) <= blocked(plain) + 1


def test_controller_populations_include_503_throttlers_with_faults() -> None:
    # `mixed`: the 503-throttling hosts with 0.5-3 % 503 faults as well, where learning
    # the faults must not unlearn the throttle (seed 1, 2026-12-07: 36 of 150 blocked at
    # 7 refusals a minute and 10.7 refusals per host; 98 and 44.6 when every cut a 503
    # made was taken back once the faults showed).
    pop = _controller_pop()
    lines: list[str] = []
    assert pop.main(["--only", "503,mixed", "--seeds", "1"], out=lines.append) == 0
    assert [line.split(":")[0] for line in lines[::2]] == ["== 503", "== mixed"]

    def field(line: str, name: str) -> float:
        return float(line.split(name)[1].split()[0].split("/")[0])

    weak, mixed = lines[1], lines[3]
    assert field(mixed, "refusals mean ") <= 4.0 * field(weak, "refusals mean ")
    assert field(mixed, "blocked at 7/min ") <= 50
