"""Render the pictures of docs/charts.md: one PNG per chart of a demo batch.

Runs the demo (the bundled sample against the bundled simulator, offline, ~20 s), then
writes ``docs/img/<chart>.png`` at scale 1 with vl-convert::

    .venv/bin/python docs/img/make_images.py

The ``rdaplab`` theme is enabled so the pictures show it; the charts are otherwise the
defaults of ``rdaplab.charts``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import altair as alt
import vl_convert as vlc

import rdaplab
from rdaplab import charts
from rdaplab._data import datasets_dir
from rdaplab.simulator import SimulatorThread

OUT = Path(__file__).resolve().parent
MAX_BYTES = 150_000


def render(chart: alt.TopLevelMixin, path: Path) -> int:
    """Write ``chart`` as a PNG at scale 1 (fonts/libraries bundled in vl-convert)."""
    png = vlc.vegalite_to_png(json.dumps(chart.to_dict()), scale=1)
    path.write_bytes(png)
    return len(png)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="rdaplab-img-") as tmp, SimulatorThread() as sim:
        boot = sim.write_bootstrap(Path(tmp) / "bootstrap")
        result = rdaplab.lookup(
            datasets_dir() / "sample" / "domains.csv",
            bootstrap=boot,
            cache=str(Path(tmp) / "cache.duckdb"),
            progress=False,
        )
    print(result)
    charts.enable_theme()
    try:
        views = {name: getattr(charts, name)(result) for name, _ in charts.CHARTS}
        # Two hosts keep the PNG small: the busiest and the throttling one (default: six).
        views["host_rates"] = charts.host_rates(result, hosts=["verisign", "nominet"])
        views["latency_box"] = charts.latency(result, kind="box")
        views["expiry_calendar_heatmap"] = charts.expiry_calendar(result, kind="heatmap")
        too_big = []
        for name, chart in views.items():
            size = render(chart, OUT / f"{name}.png")
            print(f"{name}.png: {size / 1000:.0f} KB")
            if size > MAX_BYTES:
                too_big.append(name)
    finally:
        charts.disable_theme()
    if too_big:
        print(f"over {MAX_BYTES / 1000:.0f} KB: {', '.join(too_big)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
