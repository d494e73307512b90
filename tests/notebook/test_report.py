"""Self-contained HTML reports: content checked in Python, rendering in headless Chromium."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import polars as pl
import pytest

import rdaplab
from rdaplab.engine import Limits
from rdaplab.errors import InputError
from rdaplab.notebook.report import ReportFiles, chart_slugs, export_report, write_report
from rdaplab.simulator import SimulatorThread
from tests.notebook.scenario import MARKMONITOR, nominet, registry, verisign

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
TITLE = "Sample batch (simulated registries)"
ONE_DECIMAL = 0.051  # the tables show one decimal: half a unit, plus float noise

# Three registries and a registrar: ok, not-found, throttled (nominet's 4/s), referrals.
SCENARIO = {
    "seed": 7,
    "registries": [
        verisign(("com", "net"), latency=(8, 4)),
        registry("pir", "pir/wikipedia.org.json", ("org",), latency=(10, 4)),
        nominet(4, 2, latency=(10, 4)),
        registry(
            "markmonitor",
            MARKMONITOR,
            role="registrar",
            registrar_name="MarkMonitor Inc.",
            registrar_iana_id="292",
            latency=(8, 4),
        ),
    ],
}


def _names() -> list[str]:
    sample = pl.read_csv(ROOT / "datasets" / "sample" / "domains.csv")["domain"]
    picked: list[str] = []
    for tld, n in ((".com", 24), (".org", 8), (".uk", 8)):
        picked += sample.filter(sample.str.ends_with(tld)).head(n).to_list()
    return [*picked, "not a name", "nic.zz", picked[0]]  # invalid, no service, duplicate


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> rdaplab.LookupResult:
    tmp = tmp_path_factory.mktemp("report-batch")
    with SimulatorThread(SCENARIO) as sim:
        boot = sim.write_bootstrap(tmp / "bootstrap")
        return rdaplab.lookup(
            _names(),
            cache=tmp / "cache.duckdb",
            bootstrap=boot,
            progress=False,
            limits=Limits(per_host_rate_per_s=20, per_host_concurrency=4),
        )


@pytest.fixture(scope="module")
def report(result: rdaplab.LookupResult, tmp_path_factory: pytest.TempPathFactory) -> ReportFiles:
    out = tmp_path_factory.mktemp("report") / "batch.html"
    return export_report(result, out, title=TITLE, images=("png", "svg"))


class _Page(HTMLParser):
    """Collects tags with their attributes, table cells by data-key, and script texts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.rows: dict[str, list[list[tuple[str | None, str]]]] = {}
        self.text: list[str] = []
        self._section: str | None = None
        self._script: dict[str, str | None] | None = None
        self._cell: tuple[str | None, list[str]] | None = None
        self._row: list[tuple[str | None, str]] | None = None
        self._row_key: str | None = None
        self._in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "section":
            self._section = a.get("id")
        elif tag == "script":
            self._script = a
            self.text = []
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and not self._in_head:
            self._row, self._row_key = [], a.get("data-key")
        elif tag in ("td", "th") and self._row is not None:
            self._cell = (a.get("data-key"), [])

    def handle_endtag(self, tag: str) -> None:
        if tag == "thead":
            self._in_head = False
        elif tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self.text)))
            self._script = None
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append((self._cell[0], "".join(self._cell[1]).strip()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._section:
            if self._row_key is not None:
                self._row.insert(0, ("__key__", self._row_key))
            self.rows.setdefault(self._section, []).append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self.text.append(data)
        if self._cell is not None:
            self._cell[1].append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text("utf-8"))
    return page


def _num(text: str) -> float:
    return float(text.replace(",", "").rstrip("%"))


def _keyed(page: _Page, section: str) -> dict[str, list[str]]:
    """Rows of a key/value or counts table: data-key -> the cells after the header cell."""
    return {
        dict(row)["__key__"]: [v for _, v in row[2:]]
        for row in page.rows.get(section, [])
        if row and row[0][0] == "__key__"
    }


def _table(page: _Page, section: str) -> list[dict[str, str]]:
    """Body rows of a column table as dicts keyed by each cell's data-key."""
    return [{k: v for k, v in row if k} for row in page.rows.get(section, []) if row[0][0]]


# --- content ------------------------------------------------------------------------------


def test_report_is_self_contained_and_offline(report: ReportFiles) -> None:
    text = report.html.read_text("utf-8")
    page = _parse(report.html)
    remote = [
        (tag, attr, value)
        for tag, attrs in page.tags
        for attr, value in attrs.items()
        if attr in ("src", "href", "data", "srcset") and value and not value.startswith("#")
    ]
    assert remote == [], "the report must load nothing, from anywhere"
    assert not re.search(r"@import|url\(\s*['\"]?https?:", text)
    bundles = [s for a, s in page.scripts if a.get("id") == "rdaplab-vega-bundle"]
    assert len(bundles) == 1, "the Vega libraries are inlined exactly once"
    assert "window.vegaEmbed=" in bundles[0] and len(bundles[0]) > 300_000
    assert "vegaEmbed(" in text


def test_report_embeds_every_chart_spec(result: rdaplab.LookupResult, report: ReportFiles) -> None:
    from rdaplab.notebook.report import _chart_specs

    expected = _chart_specs(result)
    assert expected, "the batch has data to chart"
    page = _parse(report.html)
    specs = [json.loads(s) for a, s in page.scripts if "rdaplab-spec" in (a.get("class") or "")]
    assert specs == list(expected.values())
    assert all(s["$schema"].startswith("https://vega.github.io/schema/vega-lite/") for s in specs)
    targets = [a["data-target"] for a, _ in page.scripts if a.get("data-target")]
    ids = {a.get("id") for t, a in page.tags if t == "div"}
    assert set(targets) <= ids and len(set(targets)) == len(specs)
    assert report.charts == tuple(expected)


def test_totals_and_counts_match_the_summary(
    result: rdaplab.LookupResult, report: ReportFiles
) -> None:
    s = result.summary
    page = _parse(report.html)
    totals = {k: _num(v[0]) for k, v in _keyed(page, "totals").items()}
    for key in ("total", "unique", "ok", "not_found", "error", "requests", "cache_hits"):
        assert totals[key] == s[key], key
    assert totals["throttled"] == s["throttled"] > 0, "nominet's 4/s limit throttled the batch"
    assert totals["elapsed_s"] == pytest.approx(s["elapsed_s"], abs=ONE_DECIMAL)
    outcomes = {k: _num(v[0]) for k, v in _keyed(page, "outcomes").items()}
    assert outcomes == {k: s[k] for k in ("ok", "not_found", "error")}
    kinds = {k: _num(v[0]) for k, v in _keyed(page, "error-kinds").items()}
    assert kinds == s["error_kinds"]
    assert {"invalid_query", "no_rdap_service"} <= set(kinds)


def test_registry_and_host_tables_match_the_summary(
    result: rdaplab.LookupResult, report: ReportFiles
) -> None:
    page = _parse(report.html)
    registries = _table(page, "registries")
    assert [r["registry_url"] for r in registries] == [
        r["registry_url"] for r in result.summary["registries"]
    ]
    for row, reg in zip(registries, result.summary["registries"], strict=True):
        for key in ("names", "ok", "not_found", "error", "requests", "throttled"):
            assert _num(row[key]) == reg[key], key
        assert _num(row["latency_ms_p50"]) == pytest.approx(reg["latency_ms_p50"], abs=ONE_DECIMAL)
    hosts = _table(page, "hosts")
    assert [h["host"] for h in hosts] == [h["host"] for h in result.summary["hosts"]]
    for row, host in zip(hosts, result.summary["hosts"], strict=True):
        assert _num(row["requests"]) == host["requests"]
        assert _num(row["throttled_share"]) == pytest.approx(
            100 * host["throttled_share"], abs=ONE_DECIMAL
        )
        if host.get("learned_max_rate_per_s") is not None:
            assert _num(row["learned_max_rate_per_s"]) == pytest.approx(
                host["learned_max_rate_per_s"], abs=ONE_DECIMAL
            )
    assert any(_num(h["throttled"]) > 0 for h in hosts)


def test_header_has_provenance_and_title(result: rdaplab.LookupResult, report: ReportFiles) -> None:
    text = report.html.read_text("utf-8")
    assert f"<title>{TITLE}</title>" in text and f"<h1>{TITLE}</h1>" in text
    header = re.search(r"<header>.*?</header>", text, re.S)
    assert header is not None
    for value in (result.batch_id, result.cache_path, rdaplab.__version__):
        assert f"<dd>{value}</dd>" in header.group(0)


def test_report_holds_no_bodies_or_contacts(result: rdaplab.LookupResult, report: ReportFiles):
    text = report.html.read_text("utf-8").lower()
    # The templates carry vCards, emails and phone numbers: none may reach the report.
    for needle in ('"vcardarray"', "tel:", "abusecomplaints@markmonitor.com"):
        assert needle not in text, needle
    # Aggregates only: no looked-up name appears (the rows stay in the frames).
    leaked = [d for d in result.domains["domain"].drop_nulls().unique() if d in text]
    assert leaked == []


def test_untrusted_text_is_escaped(result: rdaplab.LookupResult, tmp_path: Path) -> None:
    evil = "</script><script>alert(1)</script>"
    summary = json.loads(json.dumps(result.summary))
    summary["registries"][0]["registry_url"] = evil
    summary["hosts"][0]["host"] = evil
    bad = dataclasses.replace(result, summary=summary)
    path = write_report(bad, tmp_path / "evil.html", title="Batch <one> & co")
    text = path.read_text("utf-8")
    assert "<title>Batch &lt;one&gt; &amp; co</title>" in text and "<one>" not in text
    assert "alert(1)" in text and "<script>alert(1)" not in text
    scripts = _parse(path).scripts
    assert all("alert" not in body for _, body in scripts), "escaped inside the spec JSON too"
    page = _parse(path)
    assert _table(page, "registries")[0]["registry_url"] == evil


def test_images_are_written_beside_the_report(report: ReportFiles) -> None:
    slugs = chart_slugs(report.charts)
    expected = [
        report.html.with_name(f"batch-{slug}.{fmt}") for slug in slugs for fmt in ("png", "svg")
    ]
    assert list(report.images) == expected
    for i, path in enumerate(expected):
        data = path.read_bytes()
        if path.suffix == ".png":
            width, height = struct.unpack(">II", data[16:24])  # IHDR comes first
            assert data.startswith(b"\x89PNG\r\n\x1a\n") and width > 100 and height > 50
            if i == 0:  # decoding is slow in pure Python: one image shows they are drawn
                _, _, bpp, rows = decode_png(data)
                assert len(_colours(rows, bpp, (0, 0, width, height))) > 2
        else:
            assert data.lstrip().startswith(b"<svg") and b"</svg>" in data


def test_result_report_method_writes_the_same_report(
    result: rdaplab.LookupResult, tmp_path: Path
) -> None:
    path = result.report(tmp_path / "method.html", title="Via the result")
    assert path == tmp_path / "method.html"
    page = _parse(path)
    assert _num(_keyed(page, "totals")["total"][0]) == result.summary["total"]
    assert "<title>Via the result</title>" in path.read_text("utf-8")


def test_chart_slugs_are_file_safe_and_unique() -> None:
    assert chart_slugs(["Latency (ms) / registry", "Latency ms registry", "!!!"]) == [
        "latency-ms-registry",
        "latency-ms-registry-2",
        "chart",
    ]


def test_domains_only_result_still_reports(result: rdaplab.LookupResult, tmp_path: Path) -> None:
    """A result read back from a results file has only ``domains`` and a bare summary."""
    bare = dataclasses.replace(
        result,
        summary={},
        events=result.events.clear(),
        entities=result.entities.clear(),
        nameservers=result.nameservers.clear(),
        redactions=result.redactions.clear(),
        attempts=result.attempts.clear(),
        cache_path=None,
    )
    page = _parse(write_report(bare, tmp_path / "bare.html"))
    totals = {k: v[0] for k, v in _keyed(page, "totals").items()}
    assert _num(totals["total"]) == result.domains.height
    assert _num(totals["ok"]) == result.summary["ok"]
    assert totals["requests"] == "—"
    kinds = {k: _num(v[0]) for k, v in _keyed(page, "error-kinds").items()}
    assert kinds == result.summary["error_kinds"]
    assert "registries" not in page.rows and "hosts" not in page.rows


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("report.pdf", {}, "a report is an HTML file"),
        ("missing/report.html", {}, "does not exist"),
        ("report.html", {"images": ("gif",)}, "unknown image format 'gif'"),
    ],
)
def test_bad_arguments_raise_before_writing(
    result: rdaplab.LookupResult, tmp_path: Path, name: str, kwargs: Any, message: str
) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        write_report(result, tmp_path / name, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_missing_vl_convert_gives_an_install_hint(
    result: rdaplab.LookupResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "vl_convert", None)  # "not installed" for import
    with pytest.raises(InputError, match=re.escape("pip install 'rdaplab[notebook]'")):
        write_report(result, tmp_path / "r.html")


# --- headless Chromium --------------------------------------------------------------------


def decode_png(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """Width, height, bytes per pixel and unfiltered rows of an 8-bit RGB/RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(b"".join(idat)), width * bpp
    prev, rows = bytearray(stride), []
    for y in range(height):
        start = y * (stride + 1)
        kind_, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind_ == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif kind_ == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev, strict=True))
        elif kind_ in (3, 4):
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
                if kind_ == 3:
                    line[i] = (line[i] + ((a + b) >> 1)) & 255
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                    line[i] = (line[i] + pred) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def _colours(rows: list[bytes], bpp: int, box: tuple[int, int, int, int]) -> set[bytes]:
    """The distinct RGB colours inside ``box`` = (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    return {
        row[x * bpp : x * bpp + 3]
        for row in rows[max(0, y0) : y1]
        for x in range(max(0, x0), min(x1, len(row) // bpp))
    }


def _chromium() -> str:
    found = (
        os.environ.get("RDAPLAB_CHROMIUM")
        or shutil.which("chromium")
        or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    )
    if found is None:
        hint = "headless Chromium is needed: apt-get install chromium (Debian/Ubuntu)"
        if os.environ.get("CI"):
            pytest.fail(hint)
        pytest.skip(hint)
    return found


CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
)


class DevTools:
    """A tiny Chrome DevTools Protocol client over one page's websocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self._next = 0
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data:
                fut = self._waiting.pop(data["id"])
                if "error" in data:
                    fut.set_exception(RuntimeError(f"CDP error: {data['error']}"))
                else:
                    fut.set_result(data.get("result", {}))
            else:
                self.events.append(data)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next += 1
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[self._next] = fut
        await self.ws.send_json({"id": self._next, "method": method, "params": params})
        return await asyncio.wait_for(fut, timeout=30)

    async def evaluate(self, expression: str) -> Any:
        reply = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in reply, reply
        return reply["result"].get("value")

    async def wait_for_event(self, method: str) -> dict[str, Any]:
        while True:
            for event in self.events:
                if event["method"] == method:
                    return event
            await asyncio.sleep(0.05)

    def errors(self) -> list[dict[str, Any]]:
        """The page's exceptions, console errors and assertion failures, and error logs."""
        return [
            e["params"]
            for e in self.events
            if e["method"] == "Runtime.exceptionThrown"
            or (
                e["method"] == "Runtime.consoleAPICalled"
                and e["params"]["type"] in ("error", "assert")
            )
            or (e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
        ]

    def fetched(self) -> list[str]:
        """Every URL the page requested."""
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e["method"] == "Network.requestWillBeSent"
        ]

    async def close(self) -> None:
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[int]:
    """A headless Chromium with a fresh profile; yields its DevTools port."""
    binary = _chromium()
    profile = tmp_path / "chromium-profile"
    log = (tmp_path / "chromium.log").open("wb")
    proc = subprocess.Popen(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        port_file = profile / "DevToolsActivePort"  # written once it listens
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if not port_file.exists():
            log.flush()
            tail = (tmp_path / "chromium.log").read_text(errors="replace")[-2000:]
            pytest.fail(f"Chromium did not start (exit {proc.poll()}):\n{tail}")
        yield int(port_file.read_text().split()[0])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# Per chart: an <svg class="marks">, its data-mark items (not axes or legends), any error.
_CHART_STATE_JS = """
JSON.stringify(Array.from(document.querySelectorAll("figure.chart")).map(function (fig) {
  var vis = fig.querySelector(".vis"), svg = vis.querySelector("svg.marks");
  var r = (svg || vis).getBoundingClientRect();
  var error = vis.classList.contains("chart-error") ? vis.textContent : null;
  return {id: fig.id, svg: !!svg, error: error,
    items: svg ? svg.querySelectorAll("g.role-mark > *").length : 0,
    rect: [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height]};
}))
"""


async def _drawn(cdp: DevTools) -> list[dict[str, Any]]:
    while True:
        state: list[dict[str, Any]] = json.loads(await cdp.evaluate(_CHART_STATE_JS))
        if all(c["svg"] and c["items"] for c in state) or any(c["error"] for c in state):
            return state
        await asyncio.sleep(0.1)


@pytest.mark.slow
async def test_report_renders_in_headless_chromium(report: ReportFiles, chromium: int) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{chromium}/json/list") as resp:
            targets = await resp.json()
        page_ws = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        async with http.ws_connect(page_ws, max_msg_size=0) as ws:
            cdp = DevTools(ws)
            try:
                for domain in ("Page", "Runtime", "Log", "Network"):
                    await cdp.call(f"{domain}.enable")
                await cdp.call(
                    "Emulation.setDeviceMetricsOverride",
                    width=1280, height=900, deviceScaleFactor=1, mobile=False,
                )  # fmt: skip
                await cdp.call("Page.navigate", url=report.html.resolve().as_uri())
                await asyncio.wait_for(cdp.wait_for_event("Page.loadEventFired"), 20)
                # vega-embed draws asynchronously: wait for every chart (or an error).
                state = await asyncio.wait_for(_drawn(cdp), 20)
                title = await cdp.evaluate("document.title")
                metrics = await cdp.call("Page.getLayoutMetrics")
                height = int(min(metrics["cssContentSize"]["height"], 8000))
                await cdp.call(
                    "Emulation.setDeviceMetricsOverride",
                    width=1280, height=height, deviceScaleFactor=1, mobile=False,
                )  # fmt: skip
                shot = await cdp.call("Page.captureScreenshot", format="png")
            finally:
                await cdp.close()

    png = base64.b64decode(shot["data"])
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "report-screenshot.png").write_bytes(png)

    # (1) it renders
    assert title == TITLE
    # (2) every chart is drawn: SVG with data marks, and its pixels are not one colour
    assert len(state) == len(report.charts) > 0
    for chart in state:
        assert chart["error"] is None, chart
        assert chart["svg"] and chart["items"] > 0, chart
    width, img_height, bpp, rows = decode_png(png)
    assert (width, img_height) == (1280, height)
    coloured = 0
    for chart in state:
        x, y, w, h = (round(v) for v in chart["rect"])
        colours = _colours(rows, bpp, (x, y, x + w, y + h))
        assert len(colours) > 2, f"{chart['id']} is blank in the screenshot"
        coloured += sum(1 for c in colours if max(c) - min(c) > 40)
    assert coloured > 0, "data marks are coloured; the charts show only greys"
    # (3) no console errors, no exceptions, and nothing fetched from anywhere
    assert cdp.errors() == []
    fetched = cdp.fetched()
    assert fetched and all(u.startswith(("file:", "data:", "blob:")) for u in fetched), fetched
