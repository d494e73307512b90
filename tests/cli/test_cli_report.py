"""``rdaplab report CACHE_OR_RESULTS --out report.html``: from a cache, a batch, a results file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import rdaplab
from rdaplab.cli import main
from rdaplab.engine import Limits
from rdaplab.notebook.report import chart_slugs
from rdaplab.simulator import SimulatorThread

SCENARIO = {
    "seed": 3,
    "registries": [
        {
            "name": "verisign",
            "tlds": ["com"],
            "template": "verisign/google.com-2024.json",
            "not_found": "empty",
            "latency_ms": {"mean": 5, "jitter": 2},
        },
        {
            "name": "pir",
            "tlds": ["org"],
            "template": "pir/wikipedia.org.json",
            "latency_ms": {"mean": 5, "jitter": 2},
        },
    ],
}
NAMES = [f"name{i}.com" for i in range(8)] + ["nx-gone.com", "wiki.org", "site.org", "bad name"]


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, rdaplab.LookupResult]:
    """A cache file holding one batch, and that batch's result."""
    tmp = tmp_path_factory.mktemp("cli-report")
    cache = tmp / "cache.duckdb"
    with SimulatorThread(SCENARIO) as sim:
        result = rdaplab.lookup(
            NAMES,
            cache=cache,
            bootstrap=sim.write_bootstrap(tmp / "bootstrap"),
            progress=False,
            limits=Limits(per_host_rate_per_s=50, per_host_concurrency=4),
        )
    return cache, result


def _totals(html: str) -> dict[str, str]:
    section = re.search(r'<section id="totals">.*?</section>', html, re.S)
    assert section is not None
    return dict(
        re.findall(r'<tr data-key="([a-z_]+)"><th[^>]*>[^<]*</th><td[^>]*>([^<]*)</td>', section[0])
    )


def test_report_from_a_cache_with_images(batch, tmp_path: Path, capsys) -> None:
    cache, result = batch
    out = tmp_path / "cache-report.html"
    rc = main(["report", str(cache), "--out", str(out), "--title", "Weekly", "--png", "--svg"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    html = out.read_text("utf-8")
    assert "<title>Weekly</title>" in html and f"<dd>{cache}</dd>" in html
    totals = _totals(html)
    # Every cached name once; the invalid value was never looked up, so it is not cached.
    assert int(totals["total"]) == result.summary["unique"] == len(NAMES) - 1
    assert int(totals["requests"]) == result.summary["requests"]  # the attempts log
    assert "elapsed_s" not in totals, "a whole cache has no one batch's wall time"
    charts = re.findall(r"<figcaption>([^<]*)</figcaption>", html)
    assert charts and f"{len(charts)} charts" in captured.out
    written = sorted(p.name for p in tmp_path.iterdir() if p != out)
    slugs = chart_slugs(charts)
    assert written == sorted(f"cache-report-{s}.{f}" for s in slugs for f in ("png", "svg"))
    assert captured.out.count("\nwrote ") == len(written)


def test_report_of_one_batch(batch, tmp_path: Path, capsys) -> None:
    cache, result = batch
    out = tmp_path / "batch.html"
    assert main(["report", str(cache), "--out", str(out), "--batch", result.batch_id]) == 0
    html = out.read_text("utf-8")
    assert f"<dd>{result.batch_id}</dd>" in html
    totals = _totals(html)
    for key in ("total", "ok", "not_found", "error", "requests"):
        assert int(totals[key].replace(",", "")) == result.summary[key], key
    assert float(totals["elapsed_s"]) == pytest.approx(result.summary["elapsed_s"], abs=0.051)
    assert "wrote the report to" in capsys.readouterr().out


def test_report_from_a_results_file(batch, tmp_path: Path) -> None:
    _, result = batch
    results = result.write(tmp_path / "results.parquet")
    out = tmp_path / "results.html"
    assert main(["report", str(results), "--out", str(out)]) == 0
    totals = _totals(out.read_text("utf-8"))
    assert int(totals["total"]) == result.summary["total"]
    assert int(totals["ok"]) == result.summary["ok"]
    assert totals["requests"] == "0"  # a results file has no attempts log


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "no such file"),
        ("unknown", "expected a DuckDB cache"),
        ("no-folder", "does not exist"),
        ("not-html", "a report is an HTML file"),
        ("unknown-batch", "batch"),
        ("batch-of-results", "batch_id and as_of apply to a cache file"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(
    batch, tmp_path: Path, capsys, case: str, message: str
) -> None:
    cache, result = batch
    notes = tmp_path / "notes.txt"
    notes.write_text("not a cache\n")
    results = result.write(tmp_path / "results.csv")
    out = str(tmp_path / "r.html")
    argv = {
        "missing": [str(tmp_path / "nope.duckdb"), "--out", out],
        "unknown": [str(notes), "--out", out],
        "no-folder": [str(cache), "--out", str(tmp_path / "missing" / "r.html")],
        "not-html": [str(cache), "--out", str(tmp_path / "r.pdf")],
        "unknown-batch": [str(cache), "--out", out, "--batch", "0" * 32],
        "batch-of-results": [str(results), "--out", out, "--batch", result.batch_id],
    }[case]
    before = sorted(tmp_path.iterdir())
    assert main(["report", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rdaplab: error: "), captured.err
    assert message in lines[0]
    assert sorted(tmp_path.iterdir()) == before, "nothing written"


def test_out_is_required(batch, capsys) -> None:
    cache, _ = batch
    with pytest.raises(SystemExit) as exc:
        main(["report", str(cache)])
    assert exc.value.code == 2
    assert "--out" in capsys.readouterr().err


@pytest.mark.slow
def test_report_command_runs_as_a_program(batch, tmp_path: Path) -> None:
    cache, _ = batch
    out = tmp_path / "r.html"
    proc = subprocess.run(
        [sys.executable, "-m", "rdaplab", "report", str(cache), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 300_000 and f"wrote the report to {out}" in proc.stdout
