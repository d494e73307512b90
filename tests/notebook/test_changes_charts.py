"""Change-over-time charts and the report's Changes section, on hand-built snapshots.

Three snapshots of nine names (s1 in January, s2 in June, s3 in September) whose every
change is written out below; the expected counts are counted by hand from that list.
"""

from __future__ import annotations

import asyncio
import json
import struct
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp
import altair as alt
import polars as pl
import pytest

import tests.notebook.test_report as report_tests
from rdaplab.batch import LookupResult
from rdaplab.errors import InputError
from rdaplab.frames import (
    ATTEMPTS_SCHEMA,
    ENTITIES_SCHEMA,
    EVENTS_SCHEMA,
    NAMESERVERS_SCHEMA,
    REDACTIONS_SCHEMA,
    empty,
)
from rdaplab.frames.diff import diff_domains, expiry_outcomes
from rdaplab.notebook import charts
from rdaplab.notebook.charts import changes_data
from rdaplab.notebook.report import ReportFiles, chart_slugs, export_report, render_html
from rdaplab.schemas import DIFF_SCHEMA, DOMAINS_SCHEMA

chromium = report_tests.chromium  # the headless Chromium fixture of the report tests


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


S1, S2, S3 = utc(2026, 1, 15), utc(2026, 6, 1), utc(2026, 9, 1)
GANDI = {"registrar": "Gandi SAS", "registrar_iana_id": "81"}
OVH = {"registrar": "OVH", "registrar_iana_id": "433"}
BASE: dict[str, Any] = {
    "outcome": "ok",
    **GANDI,
    "registration_date": utc(2010, 5, 1),
    "rdap_status": ["active"],
    "nameservers": ["ns1.gandi.net"],
    "dnssec": False,
}

# name -> (s1, s2, s3) overrides of BASE.
#   s1 -> s2: transfers a, b (Gandi -> OVH), c (IANA id only: 81 -> 99), h (OVH -> Gandi);
#             renewed a, i; disappeared d; became_unreachable e; appeared f;
#             dnssec_enabled + status_changed g.
#   s2 -> s3: transfer a (OVH -> Gandi); recovered e; appeared d.
#   due to expire by s2 (expiry_outcomes(s1, s2)): a renewed, g pending_delete (March),
#   c unchanged, d dropped (April), e unknown, i renewed (May); b and h expire later,
#   f was not found.
SNAPSHOTS: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    "dom-a.test": (
        {"expiration_date": utc(2026, 3, 10)},
        {**OVH, "expiration_date": utc(2027, 3, 10)},
        {**GANDI, "expiration_date": utc(2027, 3, 10)},
    ),
    "dom-b.test": ({"expiration_date": utc(2027, 1, 1)}, {**OVH, "expiration_date": utc(2027, 1, 1)}, {**OVH, "expiration_date": utc(2027, 1, 1)}),
    "dom-c.test": ({"expiration_date": utc(2026, 4, 5)}, {"registrar_iana_id": "99", "expiration_date": utc(2026, 4, 5)}, {"registrar_iana_id": "99", "expiration_date": utc(2026, 4, 5)}),
    "dom-d.test": ({"expiration_date": utc(2026, 4, 5)}, {"outcome": "not_found"}, {"expiration_date": utc(2027, 6, 1)}),
    "dom-e.test": ({"expiration_date": utc(2026, 5, 1)}, {"outcome": "error", "error_kind": "timeout"}, {"expiration_date": utc(2026, 5, 1)}),
    "dom-f.test": ({"outcome": "not_found"}, {"expiration_date": utc(2027, 2, 1)}, {"expiration_date": utc(2027, 2, 1)}),
    "dom-g.test": ({"expiration_date": utc(2026, 3, 1)}, {"expiration_date": utc(2026, 3, 1), "dnssec": True, "rdap_status": ["pending delete"]}, {"expiration_date": utc(2026, 3, 1), "dnssec": True, "rdap_status": ["pending delete"]}),
    "dom-h.test": ({**OVH, "expiration_date": utc(2028, 1, 1)}, {"expiration_date": utc(2028, 1, 1)}, {"expiration_date": utc(2028, 1, 1)}),
    "dom-i.test": ({"expiration_date": utc(2026, 5, 20)}, {"expiration_date": utc(2027, 5, 20)}, {"expiration_date": utc(2027, 5, 20)}),
}  # fmt: skip


def snapshot(index: int, at: datetime) -> pl.DataFrame:
    rows = [
        {**BASE, "domain": name, "query": name, "tld": "test", "fetched_at": at, **sides[index]}
        for name, sides in SNAPSHOTS.items()
    ]
    return pl.DataFrame(
        [{c: r.get(c) for c in DOMAINS_SCHEMA} for r in rows], schema=DOMAINS_SCHEMA
    )


FIRST = diff_domains(snapshot(0, S1), snapshot(1, S2), before_label="s1", after_label="s2")
SECOND = diff_domains(snapshot(1, S2), snapshot(2, S3), before_label="s2", after_label="s3")
BOTH = pl.concat([SECOND, FIRST])  # out of order on purpose: the pairs chain s1 -> s2 -> s3
EXPIRY = expiry_outcomes(snapshot(0, S1), snapshot(1, S2), until=S2)
EMPTY_DIFF = pl.DataFrame(schema=DIFF_SCHEMA)

FIRST_COUNTS = [  # (category, change, names) in chart order
    ("change", "transfer", 4),
    ("change", "renewed", 2),
    ("change", "dnssec_enabled", 1),
    ("change", "status_changed", 1),
    ("presence", "appeared", 1),
    ("presence", "disappeared", 1),
    ("error", "became_unreachable", 1),
]
SECOND_COUNTS = [("change", "transfer", 1), ("presence", "appeared", 1), ("error", "recovered", 1)]


def _rows(chart: alt.TopLevelMixin) -> list[dict[str, Any]]:
    sets = chart.to_dict().get("datasets", {})
    assert len(sets) == 1, list(sets)
    return next(iter(sets.values()))


def _fields(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set().union(
            *(
                {v} if k == "field" and isinstance(v, str) else _fields(v)
                for k, v in node.items()
                if k != "datasets"
            )
        )
    if isinstance(node, list):
        return set().union(*(_fields(v) for v in node))
    return set()


def _check(chart: alt.TopLevelMixin, name: str) -> dict[str, Any]:
    """A drawn chart: validates, combines, encodes only columns of its one dataset."""
    assert not charts.is_empty(chart)
    spec = chart.to_dict()
    assert spec["description"] == f"rdaplab:{name}"
    alt.vconcat(chart, chart).to_dict()
    columns = set().union(*(r.keys() for r in _rows(chart)))
    assert _fields(spec) <= columns, _fields(spec) - columns
    return spec


# ----------------------------------------------------------------------------- the frames


def test_the_hand_built_snapshots_give_the_changes_listed_above():
    assert FIRST.height == 14  # a: 2 transfer rows + renewed; b, h: 2; g: 2; c, d, e, f, i: 1
    assert set(FIRST["after_snapshot"]) == {"s2"} and set(SECOND["after_snapshot"]) == {"s3"}
    fates = dict(EXPIRY.select("domain", "fate").iter_rows())
    assert fates == {
        "dom-g.test": "pending_delete",
        "dom-a.test": "renewed",
        "dom-c.test": "unchanged",
        "dom-d.test": "dropped",
        "dom-e.test": "unknown",
        "dom-i.test": "renewed",
    }


# ----------------------------------------------------------------------------- changes by kind


def test_changes_by_kind_counts_names_per_kind_in_category_order():
    data = charts.changes_by_kind_data(FIRST)
    assert data.select("category", "change", "names").rows() == FIRST_COUNTS
    assert data["rank"].to_list() == list(range(1, 8))
    chart = charts.changes_by_kind(FIRST)
    spec = _check(chart, "changes_by_kind")
    assert [(r["category"], r["change"], r["names"]) for r in _rows(chart)] == FIRST_COUNTS
    assert spec["title"]["subtitle"] == "s1 → s2"
    bars = spec["layer"][0]["encoding"]
    assert bars["y"]["sort"] == [c for _, c, _ in FIRST_COUNTS]
    assert bars["color"]["scale"] == {
        "domain": ["change", "presence", "error"],
        "range": ["#4c78a8", "#f58518", "#d1495b"],
    }


def test_changes_by_kind_over_time_follows_the_chain_of_snapshots():
    # Several pairs: over time by default, pairs in chain order whatever the row order.
    pairs = changes_data.snapshot_pairs(BOTH)
    assert pairs.select("before_snapshot", "after_snapshot", "label", "order").rows() == [
        ("s1", "s2", "s2", 0),
        ("s2", "s3", "s3", 1),
    ]
    data = charts.changes_by_kind_data(BOTH)
    got = {(s, cat, ch): n for s, _, cat, ch, n in data.iter_rows()}
    expected = {("s2", *row[:2]): row[2] for row in FIRST_COUNTS}
    expected |= {("s3", *row[:2]): row[2] for row in SECOND_COUNTS}
    assert got == expected
    spec = _check(charts.changes_by_kind(BOTH), "changes_by_kind")
    assert spec["facet"]["row"]["field"] == "category"
    assert spec["facet"]["row"]["sort"] == ["change", "presence", "error"]
    assert spec["spec"]["encoding"]["x"]["sort"] == ["s2", "s3"]
    # By day: each pair's later snapshot's newest fetch.
    by_day = charts.changes_by_kind_data(BOTH, x="date")
    assert by_day.unique("snapshot").sort("order")["snapshot"].to_list() == [
        "2026-06-01",
        "2026-09-01",
    ]
    assert by_day.filter(pl.col("change") == "transfer")["names"].to_list() == [4, 1]
    # Forced totals: a name counts once per kind over every pair (a moved twice).
    totals = charts.changes_by_kind_data(BOTH, over_time=False)
    assert dict(totals.select("change", "names").iter_rows())["transfer"] == 4
    assert charts.changes_by_kind_data(FIRST, over_time=True)["snapshot"].unique().to_list() == [
        "s2"
    ]


# ----------------------------------------------------------------------------- transfers


def test_transfer_flows_prefer_registrar_names_and_fall_back_to_iana_ids():
    moves = changes_data.transfers(FIRST)
    assert moves.height == 4, "a name with two transfer rows (name and IANA id) counts once"
    flows = charts.transfer_flows_data(FIRST)
    assert flows.select("flow", "transfers", "rank").rows() == [
        ("Gandi SAS → OVH", 2, 1),
        ("IANA 81 → IANA 99", 1, 2),
        ("OVH → Gandi SAS", 1, 3),
    ]
    top1 = charts.transfer_flows_data(FIRST, top=1)
    assert top1.select("flow", "from_registrar", "transfers").rows() == [
        ("Gandi SAS → OVH", "Gandi SAS", 2),
        ("Other (2 flows)", None, 2),
    ]
    # Two pairs: a name moving in each counts in each.
    assert charts.transfer_flows_data(BOTH).select("flow", "transfers").rows() == [
        ("Gandi SAS → OVH", 2),
        ("OVH → Gandi SAS", 2),
        ("IANA 81 → IANA 99", 1),
    ]
    spec = _check(charts.transfer_flows(FIRST, top=1), "transfer_flows")
    assert spec["layer"][0]["encoding"]["y"]["sort"] == ["Gandi SAS → OVH", "Other (2 flows)"]
    heat = charts.transfer_flows(FIRST, kind="heatmap")
    _check(heat, "transfer_flows")
    cells = {(r["from_registrar"], r["to_registrar"]): r["transfers"] for r in _rows(heat)}
    assert cells == {
        ("Gandi SAS", "OVH"): 2,
        ("IANA 81", "IANA 99"): 1,
        ("OVH", "Gandi SAS"): 1,
    }


# ----------------------------------------------------------------------------- expiry fates


def test_expiry_fates_per_month_and_overall():
    data = charts.expiry_fates_data(EXPIRY)
    assert data.select("month", "fate", "names").rows() == [
        ("2026-03", "renewed", 1),
        ("2026-03", "pending_delete", 1),
        ("2026-04", "unchanged", 1),
        ("2026-04", "dropped", 1),
        ("2026-05", "renewed", 1),
        ("2026-05", "unknown", 1),
    ]
    overall = charts.expiry_fates_data(EXPIRY, by_month=False)
    assert overall.select("fate", "names").rows() == [
        ("renewed", 2),
        ("unchanged", 1),
        ("pending_delete", 1),
        ("dropped", 1),
        ("unknown", 1),
    ]
    assert overall["share"].sum() == pytest.approx(1.0)
    spec = _check(charts.expiry_fates(EXPIRY), "expiry_fates")
    assert spec["encoding"]["x"]["scale"]["domain"] == ["2026-03", "2026-04", "2026-05"]
    colors = spec["encoding"]["color"]["scale"]
    assert colors["domain"] == ["renewed", "unchanged", "pending_delete", "dropped", "unknown"]
    assert colors["range"][0] == charts.changes_charts.FATE_COLORS["renewed"]
    _check(charts.expiry_fates(EXPIRY, by_month=False), "expiry_fates")
    # Months without names keep their place on the axis (up to ten years).
    assert changes_data.month_range(["2026-11", "2027-02"]) == [
        "2026-11",
        "2026-12",
        "2027-01",
        "2027-02",
    ]
    assert changes_data.month_range(["2001-01", "2026-01"]) == ["2001-01", "2026-01"]


# ----------------------------------------------------------------------------- empty & shape


def test_empty_frames_give_no_data_charts():
    no_transfers = FIRST.filter(pl.col("change") != "transfer")
    for chart, name in (
        (charts.changes_by_kind(EMPTY_DIFF), "changes_by_kind"),
        (charts.changes_by_kind(EMPTY_DIFF, over_time=True), "changes_by_kind"),
        (charts.transfer_flows(EMPTY_DIFF), "transfer_flows"),
        (charts.transfer_flows(no_transfers, kind="heatmap"), "transfer_flows"),
        (charts.expiry_fates(EXPIRY.clear()), "expiry_fates"),
        (charts.expiry_fates(EXPIRY.clear(), by_month=False), "expiry_fates"),
    ):
        assert charts.is_empty(chart), name
        spec = chart.to_dict()
        assert spec["description"] == f"rdaplab:{name}:empty"
        assert spec["mark"]["type"] == "text"
    assert charts.report_change_charts(EMPTY_DIFF, EXPIRY.clear()) == {}
    assert list(charts.report_change_charts(no_transfers)) == ["Changes by kind"]
    assert list(charts.report_change_charts(expiry=EXPIRY)) == ["Renewal versus drop"]
    with pytest.raises(ValueError, match="missing columns: expiration_date, fate"):
        charts.expiry_fates(FIRST)


def test_the_change_data_does_not_depend_on_row_order_and_is_polars_only():
    for function, frame in (
        (charts.changes_by_kind_data, FIRST),
        (charts.changes_by_kind_data, BOTH),
        (charts.transfer_flows_data, BOTH),
        (charts.expiry_fates_data, EXPIRY),
        (changes_data.change_counts, BOTH),
    ):
        expected = function(frame)
        for seed in range(3):
            assert function(frame.sample(fraction=1.0, shuffle=True, seed=seed)).equals(expected)
    source = Path(changes_data.__file__).read_text("utf-8")
    assert "import altair" not in source and "vl_convert" not in source


def test_the_change_charts_are_in_their_own_catalog_not_on_result_charts():
    assert [name for name, _ in charts.CHANGE_CHARTS] == [
        "changes_by_kind",
        "transfer_flows",
        "expiry_fates",
    ]
    assert not {name for name, _ in charts.CHANGE_CHARTS} & set(charts.CATALOG)
    for name, _ in charts.CHANGE_CHARTS:
        assert getattr(charts, name).__doc__.count(">>>") >= 1, name


# ----------------------------------------------------------------------------- the report


def _result(domains: pl.DataFrame) -> LookupResult:
    return LookupResult(
        domains=domains,
        events=empty(EVENTS_SCHEMA),
        entities=empty(ENTITIES_SCHEMA),
        nameservers=empty(NAMESERVERS_SCHEMA),
        redactions=empty(REDACTIONS_SCHEMA),
        attempts=empty(ATTEMPTS_SCHEMA),
        summary={},
        batch_id="s3",
    )


CHANGE_TITLES = ("Changes by kind", "Transfers between registrars", "Renewal versus drop")


@pytest.fixture(scope="module")
def result() -> LookupResult:
    return _result(snapshot(2, S3))


@pytest.fixture(scope="module")
def report(result: LookupResult, tmp_path_factory: pytest.TempPathFactory) -> ReportFiles:
    out = tmp_path_factory.mktemp("changes-report") / "changes.html"
    return export_report(
        result, out, title="Changes", images=("png", "svg"), changes=BOTH, expiry=EXPIRY
    )


def test_report_has_the_changes_section_with_its_tables(report: ReportFiles):
    page = report_tests._parse(report.html)
    ids = {a.get("id") for tag, a in page.tags if tag == "section"}
    assert {"changes", "change-counts", "transfers", "expiry-fates"} <= ids
    text = report.html.read_text("utf-8")
    assert '<th scope="col" data-key="pair-0">s1 → s2</th>' in text
    assert '<th scope="col" data-key="pair-1">s2 → s3</th>' in text
    assert '<b data-key="before">s1</b> to <b data-key="after">s2</b>' in text
    counts = {
        row["__key__"]: (row["category"], row["change"], row["pair-0"], row["pair-1"])
        for row in report_tests._table(page, "change-counts")
    }
    first, second = {r[1]: r[2] for r in FIRST_COUNTS}, {r[1]: r[2] for r in SECOND_COUNTS}
    assert counts == {
        f"{cat}/{change}": (cat, change, str(first.get(change, 0)), str(second.get(change, 0)))
        for cat, change, _ in FIRST_COUNTS + SECOND_COUNTS
    }
    order = [key for key in counts]
    assert (
        order.index("change/transfer")
        < order.index("presence/appeared")
        < order.index("error/recovered")
    ), "categories kept apart, real changes first"
    transfers = [
        (r["from"], r["to"], r["transfers"]) for r in report_tests._table(page, "transfers")
    ]
    assert transfers == [
        ("Gandi SAS", "OVH", "2"),
        ("OVH", "Gandi SAS", "2"),
        ("IANA 81", "IANA 99", "1"),
    ]
    fates = report_tests._keyed(page, "expiry-fates")
    assert fates == {
        "renewed": ["2", "33.3%"],
        "unchanged": ["1", "16.7%"],
        "pending_delete": ["1", "16.7%"],
        "dropped": ["1", "16.7%"],
        "unknown": ["1", "16.7%"],
    }
    leaked = [name for name in SNAPSHOTS if name in text]
    assert leaked == [], "aggregates only: no looked-up name in the report"


def test_report_embeds_the_change_charts_and_their_images(report: ReportFiles):
    page = report_tests._parse(report.html)
    specs = [json.loads(s) for a, s in page.scripts if "rdaplab-spec" in (a.get("class") or "")]
    expected = charts.report_change_charts(BOTH, EXPIRY)
    assert list(expected) == list(CHANGE_TITLES)
    assert specs[-3:] == [c.to_dict() for c in expected.values()]
    assert [s["description"] for s in specs[-3:]] == [
        "rdaplab:changes_by_kind",
        "rdaplab:transfer_flows",
        "rdaplab:expiry_fates",
    ]
    targets = [a["data-target"] for a, _ in page.scripts if a.get("data-target")]
    assert len(set(targets)) == len(targets) == len(specs)
    bundles = [s for a, s in page.scripts if a.get("id") == "rdaplab-vega-bundle"]
    assert len(bundles) == 1, "the Vega libraries are inlined once"
    assert report.charts[-3:] == CHANGE_TITLES
    assert len(report.charts) == len(specs)
    slugs = chart_slugs(report.charts)
    assert slugs[-3:] == ["changes-by-kind", "transfers-between-registrars", "renewal-versus-drop"]
    for slug in slugs[-3:]:
        png = report.html.with_name(f"changes-{slug}.png")
        svg = report.html.with_name(f"changes-{slug}.svg")
        assert png in report.images and svg in report.images
        data = png.read_bytes()
        width, height = struct.unpack(">II", data[16:24])
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and width > 100 and height > 50
        assert svg.read_text("utf-8").lstrip().startswith("<svg")


def test_report_of_no_changes_and_of_expiry_only(result: LookupResult, tmp_path: Path):
    files = export_report(result, tmp_path / "none.html", changes=EMPTY_DIFF, expiry=EXPIRY.clear())
    text = files.html.read_text("utf-8")
    assert '<section id="changes">' in text and "No name changed between the two snapshots" in text
    assert "No transfers." in text and "No name was due to expire" in text
    assert not set(CHANGE_TITLES) & set(files.charts)
    page = render_html(result, {}, expiry=EXPIRY, bundle="(bundle)")
    assert '<section id="expiry-fates">' in page and 'id="change-counts"' not in page
    assert "rdaplab:expiry_fates" in page and page.count('class="rdaplab-spec"') == 1
    with pytest.raises(ValueError, match="bundle"):
        render_html(result, {}, expiry=EXPIRY)
    plain = render_html(result, {})
    assert 'id="changes"' not in plain


def test_result_report_passes_the_frames_on(result: LookupResult, tmp_path: Path):
    path = result.report(tmp_path / "method.html", changes=FIRST, expiry=EXPIRY)
    text = path.read_text("utf-8")
    assert '<section id="changes">' in text and "rdaplab:transfer_flows" in text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"changes": "previous"}, "changes= is a frame of rdaplab.diff, not str"),
        ({"changes": snapshot(0, S1)}, "changes= is a frame of rdaplab.diff; this one has no column change"),
        ({"expiry": FIRST}, "expiry= is a frame of rdaplab.expiry_outcomes; this one has no column expiration_date, fate"),
    ],
)  # fmt: skip
def test_wrong_frames_raise_before_writing(
    result: LookupResult, tmp_path: Path, kwargs: dict[str, Any], message: str
):
    with pytest.raises(InputError, match=message):
        export_report(result, tmp_path / "bad.html", **kwargs)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
async def test_change_charts_render_in_headless_chromium(report: ReportFiles, chromium: int):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{chromium}/json/list") as resp:
            targets = await resp.json()
        page_ws = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        async with http.ws_connect(page_ws, max_msg_size=0) as ws:
            cdp = report_tests.DevTools(ws)
            try:
                for domain in ("Page", "Runtime", "Log"):
                    await cdp.call(f"{domain}.enable")
                await cdp.call("Page.navigate", url=report.html.resolve().as_uri())
                await asyncio.wait_for(cdp.wait_for_event("Page.loadEventFired"), 20)
                state = await asyncio.wait_for(report_tests._drawn(cdp), 20)
            finally:
                await cdp.close()
    drawn = {chart["id"]: chart for chart in state}
    assert len(drawn) == len(report.charts)
    for slug in ("changes-by-kind", "transfers-between-registrars", "renewal-versus-drop"):
        chart = drawn[f"chart-{slug}"]
        assert chart["error"] is None, chart
        assert chart["svg"] and chart["items"] > 0, chart
        assert chart["rect"][2] > 100 and chart["rect"][3] > 50, chart
    assert cdp.errors() == []
