"""rdaplab in a real Jupyter kernel (ipykernel via nbclient), not only in pytest's loop."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


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


def _stripped(name: str) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert all(
        not c.get("outputs") and not c.get("execution_count")
        for c in nb.cells
        if c.cell_type == "code"
    ), f"{name}: notebooks are kept stripped of outputs"
    assert "widgets" not in nb.metadata, f"{name}: no stored widget state in git"
    return nb


def _progress_bars(nb: nbformat.NotebookNode) -> list[dict[str, Any]]:
    """The rdaplab progress bars in the executed notebook's saved widget state."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    return [
        m["state"]
        for m in state.get("state", {}).values()
        if m.get("model_name") == "IntProgressModel" and m["state"].get("description") == "rdaplab"
    ]


def _charts_shown(nb: nbformat.NotebookNode) -> int:
    """Chart outputs carrying both a drawn PNG and the Vega-Lite spec (offline renderer)."""
    n = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" in data and any(k.startswith("application/vnd.vegalite") for k in data):
                n += 1
    return n


def test_quickstart_notebook_executes_in_a_real_kernel(tmp_path):
    nb = _execute(_stripped("quickstart.ipynb"), tmp_path)
    text = _text(nb)
    assert "<LookupResult 300 rows" in text
    assert re.search(r"(\d+) cache hits for \1 answered names", text)
    assert re.search(r"(\d+) rows finished so far", text)
    assert "<LookupResult 100 rows" in text  # the background batch's result
    # The progress widgets reached their totals (the batch of 300 rows has 283 distinct
    # names; the background batch 100 rows): the bar's value equals its max at the end.
    bars = _progress_bars(nb)
    assert len(bars) >= 2, bars
    assert all(b["value"] == b["max"] > 0 for b in bars), bars
    assert all(b["bar_style"] in ("success", "warning") for b in bars), bars
    # Charts rendered as Vega-Lite specs, and the report was written.
    assert _charts_shown(nb) >= 3
    assert re.search(r"report.html \d+\.\d MB", text)


def test_registration_patterns_notebook_executes_in_a_real_kernel(tmp_path):
    nb = _execute(_stripped("registration-patterns.ipynb"), tmp_path)
    assert _charts_shown(nb) >= 4
    bars = _progress_bars(nb)
    assert bars and all(b["value"] == b["max"] for b in bars)
    assert "'study.html'" in _text(nb) and "'study.parquet'" in _text(nb)


def test_batch_strategies_notebook_executes_in_a_real_kernel(tmp_path):
    nb = _execute(_stripped("batch-strategies.ipynb"), tmp_path)
    text = _text(nb)
    assert re.search(r"adaptive: [\d.]+ x the lower bound", text)
    assert _charts_shown(nb) >= 2


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


def _run_cell(kc: Any, code: str, *, timeout: float = 120) -> dict[str, Any]:
    """Execute one cell on a kernel client; collect its text output and any error."""
    msg_id = kc.execute(code)
    out: dict[str, Any] = {"text": "", "error": None}
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            out["text"] += content["text"]
        elif kind == "error":
            out["error"] = (content["ename"], content["evalue"])
        elif kind == "status" and content["execution_state"] == "idle":
            return out


SLOW_SCENARIO = {
    "registries": [
        {
            "name": "r",
            "tlds": ["test"],
            "template": "verisign/google.com-2024.json",
            "latency_ms": {"mean": 40, "jitter": 5},
        }
    ]
}


def test_a_kernel_interrupt_stops_the_batch_cleanly_and_a_rerun_resumes(tmp_path):
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        setup = _run_cell(
            kc,
            "import rdaplab, time\nfrom rdaplab import Limits, Cache\n"
            "from rdaplab.simulator import SimulatorThread\n"
            f"sim = SimulatorThread({SLOW_SCENARIO!r}); sim.start()\n"
            f"boot = sim.write_bootstrap({str(tmp_path / 'boot')!r})\n"
            f"cache = {str(tmp_path / 'k.duckdb')!r}\n"
            "names = [f'n{i:03d}.test' for i in range(150)]\n"
            "kw = dict(cache=cache, bootstrap=boot, progress=False,\n"
            "          limits=Limits(per_host_rate_per_s=None, per_host_concurrency=1,"
            " adaptive=False))",
        )
        assert setup["error"] is None, setup
        # 150 names at ~40 ms, one at a time: ~6 s. Interrupt it after ~1.5 s.
        msg_id = kc.execute("result = rdaplab.lookup(names, **kw)")
        time.sleep(1.5)
        km.interrupt_kernel()
        error = None
        while True:
            msg = kc.get_iopub_msg(timeout=60)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "error":
                error = (msg["content"]["ename"], msg["content"]["evalue"])
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        assert error is not None and error[0] == "BatchInterrupted", error
        assert "run the same call again" in error[1]
        done = int(re.search(r"after (\d+) of 150", error[1]).group(1))
        assert 5 <= done < 150

        check = _run_cell(
            kc,
            "import threading\n"
            "print('threads', [t.name for t in threading.enumerate() if t.name == 'rdaplab-batch'])\n"
            "with Cache(cache) as c:\n"
            "    print('cached', len(c.queries('domain')))\n"
            "again = rdaplab.lookup(names, **kw)\n"
            "print('again', again.summary['cache_hits'], again.summary['requests'],"
            " again.summary['ok'] + again.summary['not_found'])",
        )
        assert check["error"] is None, check
        assert "threads []" in check["text"]  # no batch thread left behind
        cached = int(re.search(r"cached (\d+)", check["text"]).group(1))
        assert done <= cached < 150
        hits, requests, answered = map(
            int, re.search(r"again (\d+) (\d+) (\d+)", check["text"]).groups()
        )
        assert answered == 150  # the same kernel runs the batch again, to the end
        assert hits == cached and requests == 150 - cached  # nothing fetched twice
        _run_cell(kc, "sim.stop()")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_changes_over_time_notebook_executes_in_a_real_kernel(tmp_path):
    nb = _execute(_stripped("changes-over-time.ipynb"), tmp_path)
    text = _text(nb)
    # its own checks against what the simulator changed passed, with every kind present
    match = re.search(r"(\d+) transfers, (\d+) drops, (\d+) names left alone: all as made", text)
    assert match and all(int(g) > 0 for g in match.groups()), text[-2000:]
    assert _charts_shown(nb) >= 3
    assert re.search(r"report.html [\d,]+ bytes", text)
