"""Smoke test of the benchmark harness: ``benchmarks/run.py --quick`` in a subprocess.

It checks that every scenario runs against a real simulator process and reports plausible
numbers; it does not check performance targets (those are for ``--strict`` runs).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "run.py"


def _result_lines(stdout: str) -> dict[str, dict[str, str]]:
    """``RESULT <scenario> key=value ...`` lines as {scenario: {key: value}}."""
    out: dict[str, dict[str, str]] = {}
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            _, scenario, *pairs = line.split()
            out[scenario] = dict(pair.split("=", 1) for pair in pairs)
    return out


@pytest.mark.slow
def test_quick_run_reports_every_scenario(tmp_path: Path) -> None:
    out_json = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", str(out_json)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    stdout = proc.stdout
    for heading in ("## 1. Client overhead", "## 2. Warm cache replay", "## 3. Politeness"):
        assert heading in stdout
    assert re.search(r"\| rdaplab lookup_async +\| [\d,]+ ", stdout)
    assert re.search(r"\| bare aiohttp GET loop +\| [\d,]+ ", stdout)

    rows = _result_lines(stdout)
    assert set(rows) == {"client_overhead", "warm_replay", "politeness"}

    co = rows["client_overhead"]
    assert float(co["rdaplab_per_s"]) > 0
    assert float(co["bare_per_s"]) > 0
    assert 0 < float(co["ratio"]) < 2
    assert 0 < float(co["cpu_ratio"]) < 2
    assert co["target_met"] in ("True", "False")

    wr = rows["warm_replay"]
    assert float(wr["names_per_s"]) > 0
    assert float(wr["docs_per_s"]) > 0
    assert float(wr["extrapolated_100k_s"]) > 0

    po = rows["politeness"]
    assert float(po["default_makespan_s"]) > 0
    assert float(po["rate20_makespan_s"]) > 0
    assert 0 <= float(po["default_throttled_ratio"]) < 1
    assert 0 <= float(po["rate20_throttled_ratio"]) < 1

    # The JSON carries the same numbers plus the detail behind them.
    data = json.loads(out_json.read_text())
    assert data["meta"]["sizes"]["n"] == 300
    assert data["client_overhead"]["rdaplab_per_s"] == pytest.approx(
        float(co["rdaplab_per_s"]), abs=0.1
    )
    replay = data["warm_replay"]
    # the phases timed inside lookup_async cannot add up to more than the whole call
    assert 0 < sum(replay["phases_s"].values()) <= replay["replay_s"]
    assert replay["phases_s"]["build_frames"] > 0
    variants = {v["limits"]: v for v in data["politeness"]["variants"]}
    assert len(variants) == 3
    for v in variants.values():
        assert v["ok"] + v["rate_limited"] == v["names"]
        assert v["requests"] >= v["names"]
        assert v["makespan_s"] >= v["lower_bound_s"]
    # Pacing at the hidden rate beats the default 5/s pacing (whose floor is 1.6 s here).
    paced = variants["per_host_rate_per_s=20"]
    assert paced["makespan_s"] < variants["default Limits()"]["makespan_s"]
