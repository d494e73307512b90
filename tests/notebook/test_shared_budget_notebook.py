"""notebooks/shared-budget.ipynb in a real kernel (nbclient): one budget held by a Dask
scheduler for several processes behind one address, against the simulator (offline).

The notebook asserts its own measurements (every name answered, shared throttled share
<= 2 %, learned rate near the simulator's hidden 20/s, fewer throttles than three budgets
alone, a sharded study through the same budget); this test runs it and re-reads the
figures it printed. About 35 s.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

pytestmark = pytest.mark.slow

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "shared-budget.ipynb"


def _text(nb: nbformat.NotebookNode) -> str:
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            out.append(o.get("text", "") or str(o.get("data", {}).get("text/plain", "")))
    return "\n".join(out)


def _charts_shown(nb: nbformat.NotebookNode) -> int:
    """Chart outputs carrying both a drawn PNG and the Vega-Lite spec (offline renderer)."""
    n = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" in data and any(k.startswith("application/vnd.vegalite") for k in data):
                n += 1
    return n


def test_shared_budget_notebook_executes_in_a_real_kernel(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(
        not c.get("outputs") and not c.get("execution_count")
        for c in nb.cells
        if c.cell_type == "code"
    ), "notebooks are kept stripped of outputs"
    assert "widgets" not in nb.metadata, "no stored widget state in git"

    t0 = time.monotonic()
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError on any failing cell (its asserts included)
    elapsed = time.monotonic() - t0
    text = _text(nb)

    match = re.search(
        r"throttled: ([\d.]+)% with a budget each, ([\d.]+)% with one shared budget; "
        r"learned ([\d.]+)/s for a limit of (\d+)/s",
        text,
    )
    assert match, text[-3000:]
    alone, shared, learned, limit = (float(g) for g in match.groups())
    assert shared <= 2.0 and alone > 2 * shared, (alone, shared)
    assert 0.6 * limit <= learned <= 1.1 * limit, (learned, limit)

    study = re.search(r"(\d+) rows, (\d+) requests \((\d+) slots from the shared budget\)", text)
    assert study, text[-3000:]
    rows, requests, slots = map(int, study.groups())
    assert rows == 40 and requests == slots >= rows

    assert _charts_shown(nb) >= 1
    # The registry's own count of the shared run: every request from one address.
    assert re.search(r"the registry saw: \{'127\.0\.0\.1': \(\d+, \d+\)\}", text)
    print(f"shared-budget notebook: {elapsed:.1f} s; {match.group(0)}")
