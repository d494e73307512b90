"""``import rdaplab`` stays cheap: no Altair, ipywidgets or vl-convert, at most 0.5 s.

The notebook layer registers the progress widget and ``df.rdap`` when rdaplab is
imported; the heavy libraries load only when a chart, a report or a widget is made.
Each measurement runs in a fresh interpreter; the best of three absorbs machine noise.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("altair", "ipywidgets", "vl_convert")
BUDGET_S = 0.5

PROBE = f"""
import json, sys, time
t = time.perf_counter()
import rdaplab
elapsed = time.perf_counter() - t
print(json.dumps({{"s": elapsed, "loaded": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""


def _probe(code: str = PROBE) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_rdaplab_loads_no_heavy_library_and_is_fast():
    runs = [_probe() for _ in range(3)]
    for run in runs:
        assert run["loaded"] == [], f"import rdaplab loaded {run['loaded']}"
    best = min(float(str(run["s"])) for run in runs)
    assert best <= BUDGET_S, f"import rdaplab took {best:.3f} s (best of 3), budget {BUDGET_S} s"


def test_the_notebook_layer_adds_little_to_the_import():
    # What import rdaplab spends in the notebook modules themselves (the widget renderer
    # and df.rdap registration), from -X importtime: cumulative microseconds per module.
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import rdaplab"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    spent = {}
    for line in out.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = (part.strip() for part in line.split("|"))
            if name.startswith("rdaplab.notebook"):
                spent[name] = int(cumulative)
    assert set(spent) == {
        "rdaplab.notebook",
        "rdaplab.notebook.accessor",
        "rdaplab.notebook.widget",
    }
    assert sum(spent.values()) <= 50_000, spent  # 50 ms; a few ms on an idle machine


@pytest.mark.parametrize("path", ["rdaplab.charts", "rdaplab.notebook.charts"])
def test_the_chart_module_is_what_loads_altair(path):
    # The check above means something: the charts do load Altair, on first use, reached
    # as rdaplab.charts or (the notebooks' spelling) rdaplab.notebook.charts.
    run = _probe(
        f"import json, sys, rdaplab; {path}.enable_theme; "
        f"print(json.dumps({{'s': 0, 'loaded': [m for m in {HEAVY!r} if m in sys.modules]}}))"
    )
    assert run["loaded"] == ["altair"]
