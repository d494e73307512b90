"""The job dashboard: a self-contained page, its JSON, and the page in headless Chromium
with a job running (two snapshots a few seconds apart: elements present, numbers moving)."""

from __future__ import annotations

import asyncio
import base64
import json
from html.parser import HTMLParser
from typing import Any

import aiohttp
import pytest

import tests.notebook.test_report as report_tests
from rdaplab.engine import Limits
from rdaplab.service.dashboard import charts_available
from tests.service.helpers import names, scenario, service, wait_for

chromium = report_tests.chromium  # the headless Chromium fixture of the report tests
TOKEN = "dash-token"
# 8 requests a second, not adaptive: a job of 120 names runs for about 15 s
SLOW = Limits(per_host_rate_per_s=8.0, per_host_burst=1, per_host_concurrency=2, adaptive=False)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if a.get("id"):
            self.ids.add(str(a["id"]))


async def _submit(svc: Any, n: int, name: str = "dashboard study") -> str:
    resp = await svc.client.post("/jobs", json={"names": names(n), "name": name})
    assert resp.status == 201
    return (await resp.json())["id"]


async def test_the_page_is_one_self_contained_file(simulator, tmp_path):
    sim = await simulator(scenario())
    async with service(sim, tmp_path) as svc:
        resp = await svc.client.get("/")
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
        csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "connect-src 'self'" in csp
        html = await resp.text()
    page = _Tags()
    page.feed(html)
    for tag, attrs in page.tags:
        # nothing loaded from anywhere: no src, no stylesheet link, no external font
        assert "src" not in attrs, (tag, attrs)
        assert tag not in ("link", "iframe", "img", "object", "embed"), (tag, attrs)
    assert "@import" not in html and "@font-face" not in html
    assert {"running", "running-done", "registries-body", "jobs-body", "alerts-list"} <= page.ids
    assert "fetch(path" in html and "api/dashboard" in html
    if charts_available():
        assert "rdaplab-vega-bundle" in page.ids and "vegaEmbed" in html
        assert {"chart-progress", "chart-throughput", "chart-host_rates"} <= page.ids


async def test_the_dashboard_json_follows_a_running_job(simulator, tmp_path):
    sim = await simulator(scenario())
    async with service(sim, tmp_path, worker=True, limits=SLOW) as svc:
        empty = await (await svc.client.get("/api/dashboard")).json()
        assert empty["running"] is None and empty["jobs"] == []
        job_id = await _submit(svc, 60)

        async def running() -> dict[str, Any] | None:
            data = await (await svc.client.get("/api/dashboard")).json()
            run = data["running"]
            return data if run is not None and run["done"] > 0 and data["registries"] else None

        first = await wait_for(running, timeout=20)
        await asyncio.sleep(1.5)
        second = await (await svc.client.get("/api/dashboard")).json()
        charts = await (await svc.client.get("/api/dashboard/charts")).json()
    assert first["running"]["id"] == job_id == first["jobs"][0]["id"]
    assert first["running"]["name"] == "dashboard study"
    assert second["running"]["done"] > first["running"]["done"]
    assert second["running"]["requests"] > first["running"]["requests"]
    assert second["running"]["eta_s"] is not None and second["running"]["rate_per_s"] > 0
    host = second["registries"][0]
    assert host["host"].startswith("127.0.0.1:")
    assert host["done"] > 0 and host["requests_1m"] > 0
    assert host["rate_per_s"] == 8.0  # the pace the job's scheduler keeps now
    assert host["concurrency_limit"] == 2
    assert second["service"]["worker_job"] == job_id
    if charts_available():
        assert charts["source"] == "job" and charts["job_id"] == job_id and charts["running"]
        assert set(charts["charts"]) == {"progress", "throughput", "host_rates"}
        for name, spec in charts["charts"].items():
            assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/"), name
            assert not spec.get("description", "").endswith(":empty"), name
    else:
        assert charts["charts"] == {}


_STATE_JS = """
JSON.stringify({
  refreshes: Number(document.body.dataset.refreshes),
  error: document.getElementById("error").hidden ? null : document.getElementById("error").textContent,
  runningShown: !document.getElementById("running-job").hidden,
  runningName: document.getElementById("running-name").textContent,
  done: Number(document.getElementById("running-done").dataset.value),
  requests: Number(document.getElementById("running-requests").dataset.value),
  percent: document.getElementById("running-percent").textContent,
  bar: document.querySelector("#running-bar .fill").style.width,
  eta: document.getElementById("running-eta").textContent,
  jobs: Array.from(document.querySelectorAll("#jobs-body tr.job")).map(function (tr) {
    return {id: tr.dataset.id, state: tr.dataset.state}; }),
  hosts: Array.from(document.querySelectorAll("#registries-body tr")).map(function (tr) {
    return {host: tr.dataset.host, done: tr.querySelector("td.done").textContent}; }),
  charts: Array.from(document.querySelectorAll("figure.chart")).map(function (fig) {
    var svg = fig.querySelector("svg.marks");
    return {id: fig.id, hidden: fig.hidden, draws: Number(fig.dataset.draws || 0),
      items: svg ? svg.querySelectorAll("g.role-mark > *").length : 0,
      error: fig.querySelector(".chart-error") ? fig.textContent : null};
  })
})
"""


async def _snapshot(cdp: Any, name: str) -> tuple[dict[str, Any], bytes]:
    state = json.loads(await cdp.evaluate(_STATE_JS))
    shot = await cdp.call("Page.captureScreenshot", format="png")
    png = base64.b64decode(shot["data"])
    report_tests.ARTIFACTS.mkdir(exist_ok=True)
    (report_tests.ARTIFACTS / f"dashboard-{name}.png").write_bytes(png)
    return state, png


@pytest.mark.slow
async def test_the_dashboard_in_headless_chromium_moves_with_the_job(simulator, tmp_path, chromium):
    sim = await simulator(scenario(latency_ms={"mean": 30, "jitter": 5}))
    async with service(sim, tmp_path, token=TOKEN, worker=True, limits=SLOW) as svc:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        resp = await svc.client.post(
            "/jobs", json={"names": names(120), "name": "chromium study"}, headers=auth
        )
        job_id = (await resp.json())["id"]
        await wait_for(lambda: svc.worker.current == job_id, timeout=20)
        page_url = svc.url(f"/?token={TOKEN}")
        origin = svc.url("/")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{chromium}/json/list") as r:
                targets = await r.json()
            page_ws = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
            async with http.ws_connect(page_ws, max_msg_size=0) as ws:
                cdp = report_tests.DevTools(ws)
                try:
                    for domain in ("Page", "Runtime", "Log", "Network"):
                        await cdp.call(f"{domain}.enable")
                    await cdp.call(
                        "Emulation.setDeviceMetricsOverride",
                        width=1280, height=1400, deviceScaleFactor=1, mobile=False,
                    )  # fmt: skip
                    await cdp.call("Page.navigate", url=page_url)
                    await asyncio.wait_for(cdp.wait_for_event("Page.loadEventFired"), 20)

                    async def ready() -> bool:
                        s = json.loads(await cdp.evaluate(_STATE_JS))
                        drawn = not charts_available() or all(c["items"] for c in s["charts"])
                        return s["runningShown"] and s["done"] > 0 and drawn

                    await wait_for(ready, timeout=20, interval=0.2)
                    first, png1 = await _snapshot(cdp, "1")
                    await asyncio.sleep(3.0)
                    second, png2 = await _snapshot(cdp, "2")
                finally:
                    await cdp.close()
        status = await (await svc.client.get(f"/jobs/{job_id}", headers=auth)).json()
    # (1) the elements are there: the running job, its bar, the jobs table, the registry
    for snap in (first, second):
        assert snap["error"] is None, snap["error"]
        assert snap["runningShown"] and snap["runningName"] == "chromium study"
        assert snap["jobs"] == [{"id": job_id, "state": "running"}]
        assert len(snap["hosts"]) == 1 and snap["hosts"][0]["host"].startswith("127.0.0.1:")
        assert snap["percent"].endswith("%") and snap["bar"].endswith("%")
    # (2) the numbers move: rows done, requests, the bar, the page refreshed meanwhile
    assert second["done"] > first["done"] > 0, (first, second)
    assert second["requests"] > first["requests"]
    assert float(second["bar"].rstrip("%")) > float(first["bar"].rstrip("%"))
    assert second["refreshes"] >= first["refreshes"] + 2
    assert png1 != png2
    # (3) the charts are drawn, with data marks, and redrawn as the job runs
    if charts_available():
        assert [c["id"] for c in second["charts"]] == [
            "chart-progress", "chart-throughput", "chart-host_rates",
        ]  # fmt: skip
        for chart in second["charts"]:
            assert chart["error"] is None and not chart["hidden"], chart
            assert chart["items"] > 0, chart
        progress = {c["id"]: c for c in first["charts"]}["chart-progress"]
        assert {c["id"]: c for c in second["charts"]}["chart-progress"]["draws"] > progress["draws"]
    # (4) no console errors, and nothing fetched but the service itself
    assert cdp.errors() == []
    fetched = cdp.fetched()
    assert fetched and all(u.startswith((origin, "data:", "blob:")) for u in fetched), fetched
    assert any("/api/dashboard/charts" in u for u in fetched) == charts_available()
    assert status["state"] in ("running", "done")
    print(
        f"\ndashboard: rows done {first['done']} -> {second['done']} in 3 s; "
        f"{second['refreshes'] - first['refreshes']} refreshes"
    )
