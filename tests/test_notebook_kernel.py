"""rdaplab in a real Jupyter kernel (ipykernel via nbclient), not only in pytest's loop."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _execute(nb: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    client = NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()  # raises CellExecutionError on any failing cell
    return nb


def _text(nb: nbformat.NotebookNode) -> str:
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            out.append(o.get("text", "") or str(o.get("data", {}).get("text/plain", "")))
    return "\n".join(out)


def test_quickstart_notebook_executes_in_a_real_kernel(tmp_path):
    nb = nbformat.read(NOTEBOOKS / "quickstart.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        "notebooks are kept stripped of outputs"
    )
    _execute(nb, tmp_path)
    text = _text(nb)
    assert "<LookupResult 300 rows" in text
    assert re.search(r"(\d+) cache hits for \1 answered names", text)


def test_sync_lookup_twice_and_top_level_await_in_one_kernel(tmp_path):
    scenario = {
        "registries": [{"name": "r", "tlds": ["test"], "template": "verisign/google.com-2024.json"}]
    }
    cells = [
        "import rdaplab\nfrom rdaplab.simulator import SimulatorThread\n"
        f"sim = SimulatorThread({scenario!r}); sim.start()\n"
        f"boot = sim.write_bootstrap({str(tmp_path / 'boot')!r})\n"
        f"cache = {str(tmp_path / 'k.duckdb')!r}",
        "import asyncio\nasyncio.get_running_loop()  # the kernel's loop is running",
        "r1 = rdaplab.lookup(['a.test', 'b.test'], cache=cache, bootstrap=boot, progress=False)\n"
        "print('first', r1.summary['ok'], r1.summary['requests'])",
        "r2 = rdaplab.lookup(['a.test', 'c.test'], cache=cache, bootstrap=boot, progress=False)\n"
        "print('second', r2.summary['ok'], r2.summary['requests'], r2.summary['cache_hits'])",
        "r3 = await rdaplab.lookup_async(['d.test'], cache=cache, bootstrap=boot, progress=False)\n"
        "print('third', r3.summary['ok'], r3.summary['requests'])",
        "sim.stop()",
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    _execute(nb, tmp_path)
    text = _text(nb)
    assert "first 2 2" in text
    assert "second 2 1 1" in text
    assert "third 1 1" in text
