"""rdaplab.charts against a real simulator batch: specs validate, numbers match Polars."""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect
import json
import pkgutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import altair as alt
import polars as pl
import pytest
import vl_convert as vlc

import rdaplab
from rdaplab.batch import LookupResult
from rdaplab.frames import (
    ATTEMPTS_SCHEMA,
    DOMAINS_SCHEMA,
    ENTITIES_SCHEMA,
    EVENTS_SCHEMA,
    NAMESERVERS_SCHEMA,
    REDACTIONS_SCHEMA,
    empty,
)
from rdaplab.notebook import charts
from rdaplab.notebook.charts import inputs
from rdaplab.simulator import SimulatorThread
from tests.notebook.scenario import MARKMONITOR, VERISIGN, nominet, registry, verisign

# Small but varied: a thin registry referring to a registrar, a throttling registry
# (429 + Retry-After), one injecting 5xx, a dead one, plus not-found, no-service and
# invalid names.
SCENARIO = {
    "seed": 7,
    "registries": [
        verisign(("com",), latency=(5, 3)),
        nominet(15, 3, latency=(5, 3)),
        registry(
            "afnic",
            "afnic/afnic.fr.json",
            ("fr",),
            error_rate=0.2,
            retry_after="seconds",
            latency=(5, 3),
        ),
        registry("markmonitor", MARKMONITOR, role="registrar", latency=(5, 3)),
        registry("dead-zip", VERISIGN, ("zip",), dead=True),
    ],
}

NAMES = (
    [f"name{i}.com" for i in range(70)]
    + [f"nx-gone{i}.com" for i in range(10)]
    + [f"shop{i}.co.uk" for i in range(40)]
    + [f"site{i}.fr" for i in range(25)]
    + [f"file{i}.zip" for i in range(6)]
    + [f"nothing{i}.es" for i in range(4)]
    + ["-bad-.com", "a..b", ""]
    + ["name1.com", "NAME2.COM."]  # duplicates
)


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> LookupResult:
    tmp = tmp_path_factory.mktemp("charts")
    with SimulatorThread(SCENARIO) as sim:
        boot = sim.write_bootstrap(tmp / "boot")
        return rdaplab.lookup(
            NAMES,
            bootstrap=boot,
            cache=str(tmp / "c.duckdb"),
            progress=False,
            # Start faster than the default 2/s (still adaptive: nominet gets cut to 15/s).
            limits=rdaplab.Limits(per_host_rate_per_s=20, per_host_concurrency=4),
            retry=rdaplab.Retry(backoff_initial_s=0.05, backoff_max_s=0.2, retry_after_max_s=1),
        )


@pytest.fixture(scope="module")
def domains_only(result: LookupResult) -> LookupResult:
    """What a result loaded from a results file looks like: domains and nothing else."""
    return LookupResult(
        domains=result.domains,
        events=empty(EVENTS_SCHEMA),
        entities=empty(ENTITIES_SCHEMA),
        nameservers=empty(NAMESERVERS_SCHEMA),
        redactions=empty(REDACTIONS_SCHEMA),
        attempts=empty(ATTEMPTS_SCHEMA),
        summary={},
        batch_id="from-file",
    )


def _datasets(spec: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return spec.get("datasets", {})


def _rows(chart: alt.TopLevelMixin) -> list[dict[str, Any]]:
    """The one embedded dataset of a chart (every rdaplab chart has exactly one)."""
    sets = _datasets(chart.to_dict())
    assert len(sets) == 1, list(sets)
    return next(iter(sets.values()))


def _fields(node: Any) -> set[str]:
    """Every ``field`` an encoding (or a sort) of the spec refers to."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "field" and isinstance(value, str):
                found.add(value)
            else:
                found |= _fields(value)
    elif isinstance(node, list):
        for item in node:
            found |= _fields(item)
    return found


def _frame(chart: alt.TopLevelMixin) -> pl.DataFrame:
    return pl.DataFrame(_rows(chart), infer_schema_length=None)


# ----------------------------------------------------------------------------- the batch


def test_the_batch_has_what_the_charts_need(result):
    d, a = result.domains, result.attempts
    assert set(d["outcome"]) == {"ok", "not_found", "error"}
    assert {"invalid_query", "no_rdap_service", "connection_error"} <= set(d["error_kind"])
    assert a["throttled"].sum() > 0, "the rate-limited registry throttled"
    assert a["decision"].drop_nulls().len() > 0
    assert result.nameservers.height > 0


@pytest.mark.parametrize("name", [name for name, _ in charts.CHARTS])
def test_every_chart_validates_and_encodes_existing_fields(result, name):
    chart = getattr(charts, name)(result)
    assert not charts.is_empty(chart)
    spec = chart.to_dict()  # validates against the Vega-Lite schema
    assert spec["description"] == f"rdaplab:{name}"
    # Charts combine: Vega-Lite allows nested specs only what every spec kind allows.
    alt.vconcat(chart, chart).to_dict()
    alt.hconcat(chart, chart).to_dict()
    rows = _rows(chart)
    assert rows
    columns = set().union(*(r.keys() for r in rows))
    encoded = _fields({k: v for k, v in spec.items() if k != "datasets"})
    assert encoded, "the chart encodes something"
    assert encoded <= columns, encoded - columns
    assert len(json.dumps(spec)) < 80_000


@pytest.mark.parametrize(
    "kwargs", [{"kind": "box"}, {"source": "domains"}, {"source": "domains", "kind": "box"}]
)
def test_latency_variants_validate(result, kwargs):
    chart = charts.latency(result, **kwargs)
    spec = chart.to_dict()
    columns = set(_rows(chart)[0])
    assert _fields({k: v for k, v in spec.items() if k != "datasets"}) <= columns


def test_other_variants_validate(result):
    for chart in (
        charts.errors(result, by="tld"),
        charts.registrations_by_year(result, by="registrar"),
        charts.expiry_calendar(result, kind="heatmap", months=36),
        charts.host_rates(result, top=2, bucket_s=0.5),
        charts.throughput(result, bucket_s=1),
        charts.registrar_share(result, top=1),
        charts.nameserver_concentration(result.domains, top=3),
    ):
        spec = chart.to_dict()
        assert not charts.is_empty(chart)
        assert _fields({k: v for k, v in spec.items() if k != "datasets"}) <= set(_rows(chart)[0])


# ----------------------------------------------------------------------------- numbers


def test_errors_count_the_error_rows(result):
    rows = _frame(charts.errors(result))
    by_kind = dict(rows.group_by("error_kind").agg(pl.col("rows").sum()).iter_rows())
    assert by_kind == result.summary["error_kinds"]
    expected = result.domains.filter(pl.col("outcome") == "error").group_by("error_kind").len()
    assert by_kind == dict(expected.iter_rows())
    # The dead registry's rows are under its name, invalid ones under "(none)".
    assert set(rows.filter(pl.col("registry") == "dead-zip")["error_kind"]) == {"connection_error"}
    assert "invalid_query" in set(rows.filter(pl.col("registry") == "(none)")["error_kind"])


def test_registry_mix_shares_distinct_names(result):
    rows = _frame(charts.registry_mix(result))
    assert rows["share"].sum() == pytest.approx(1.0)
    names = dict(rows.group_by("registry").agg(pl.col("names").sum()).iter_rows())
    valid = {n.strip().lower().rstrip(".") for n in NAMES} - {"-bad-.com", "a..b", ""}
    assert sum(names.values()) == len(valid)
    assert names == {
        "verisign": 80,
        "nominet": 40,
        "afnic": 25,
        "dead-zip": 6,
        "(none)": 4,  # .es: no RDAP service
    }
    nx = rows.filter((pl.col("registry") == "verisign") & (pl.col("outcome") == "not_found"))
    assert nx["names"].to_list() == [10]


def test_registrar_share_matches_polars(result):
    rows = _frame(charts.registrar_share(result, top=10))
    assert rows["share"].sum() == pytest.approx(1.0)
    ok = result.domains.filter(pl.col("outcome") == "ok").unique("domain")
    expected = ok.drop_nulls("registrar")["registrar"].value_counts()
    assert dict(rows.select("registrar", "domains").iter_rows()) == dict(expected.iter_rows())
    top1 = _frame(charts.registrar_share(result, top=1))
    assert top1.height == 2 and top1["registrar"][1].startswith("Other (")
    assert top1["domains"].sum() == expected["count"].sum()
    assert top1["share"].sum() == pytest.approx(1.0)


def test_registrations_by_year_counts_distinct_domains(result):
    rows = _frame(charts.registrations_by_year(result))
    ok = result.domains.filter(pl.col("outcome") == "ok").unique("domain")
    years = ok["registration_date"].drop_nulls().dt.year().value_counts()
    expected = {int(y): int(n) for y, n in years.iter_rows()}
    got = {int(y): int(n) for y, n in rows.select("year", "domains").iter_rows() if n}
    assert got == expected
    assert rows["year"].to_list() == list(range(min(expected), max(expected) + 1))


def test_expiry_calendar_counts_the_window(result):
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    cal = charts.expiry_calendar_data(result, months=36, start=start)
    assert cal.height == 36 and cal["month"][0] == "2026-01" and cal["month"][-1] == "2028-12"
    ok = result.domains.filter(pl.col("outcome") == "ok").unique("domain")
    end = datetime(2029, 1, 1, tzinfo=timezone.utc)
    in_window = [d for d in ok["expiration_date"].drop_nulls() if start <= d < end]
    assert int(cal["domains"].sum()) == len(in_window) > 0
    march = sum(1 for d in in_window if (d.year, d.month) == (2027, 3))
    assert cal.filter(pl.col("month") == "2027-03")["domains"].item() == march
    # The chart shows the same numbers.
    chart_rows = _frame(charts.expiry_calendar(result, months=36, start=start))
    assert chart_rows["domains"].to_list() == cal["domains"].to_list()


def _provider(ns: str) -> str:
    labels = ns.lower().rstrip(".").split(".")
    return ".".join(labels[-2:])


def test_nameserver_concentration_matches_a_plain_python_count(result):
    rows = _frame(charts.nameserver_concentration(result, top=50))
    pairs = {
        (d, _provider(n)) for d, n in result.nameservers.select("domain", "nameserver").iter_rows()
    }
    domains = {d for d, _ in pairs}
    counts: dict[str, int] = {}
    for _, p in pairs:
        counts[p] = counts.get(p, 0) + 1
    assert dict(rows.select("provider", "domains").iter_rows()) == counts
    for provider, share in rows.select("provider", "share").iter_rows():
        assert share == pytest.approx(counts[provider] / len(domains))
    # From the domains' list column (a results file) the numbers are the same.
    from_lists = charts.nameserver_concentration_data(result.domains, top=50)
    assert dict(from_lists.select("provider", "domains").iter_rows()) == counts


def test_nameserver_others_count_each_domain_once():
    ns = pl.DataFrame(
        {
            "domain": ["a.com", "a.com", "b.com", "c.com", "c.com"],
            "nameserver": ["ns.big.net", "ns.x1.org", "ns.big.net", "ns.x1.org", "ns.x2.org"],
        }
    )
    rows = charts.nameserver_concentration_data(ns, top=1)
    assert rows.select("provider", "domains").rows() == [
        ("big.net", 2),
        ("Other (2 providers)", 2),  # a.com and c.com, c.com once although it uses both
    ]


def test_provider_heuristic():
    s = pl.DataFrame({"ns": ["NS1.Google.com.", "dns1.nic.co.uk", "a.b.c.de", "x.com.au", "tld"]})
    got = s.select(charts.provider_of(pl.col("ns")))["ns"].to_list()
    assert got == ["google.com", "nic.co.uk", "c.de", "x.com.au", "tld"]


def test_provider_is_the_registrable_domain_by_the_public_suffix_list(tmp_path):
    hosts = ["ns.x.gouv.fr", "ns1.a.blogspot.com", "co.uk", "NS2.Example.Kawasaki.JP.", None]
    s = pl.DataFrame({"ns": hosts})
    got = s.select(charts.provider_of(pl.col("ns")))["ns"].to_list()
    # gouv.fr is a public suffix; blogspot.com is one only in the private section; a
    # public suffix or a wildcard's child (*.kawasaki.jp) is its own provider
    assert got == ["x.gouv.fr", "blogspot.com", "co.uk", "ns2.example.kawasaki.jp", None]
    mine = tmp_path / "psl.dat"
    mine.write_text("// ===BEGIN ICANN DOMAINS===\nfr\n// ===END ICANN DOMAINS===\n")
    got = s.select(charts.provider_of(pl.col("ns"), psl=mine))["ns"].to_list()
    assert got[0] == "gouv.fr"  # the list given: gouv.fr is not a suffix there


def test_throughput_counts_every_attempt(result):
    rows = _frame(charts.throughput(result))
    a = result.attempts
    assert rows["requests"].sum() == a.height
    by = dict(rows.group_by("result").agg(pl.col("requests").sum()).iter_rows())
    assert by["throttled"] == a["throttled"].sum() > 0
    assert by["error"] == a.filter(~pl.col("throttled") & pl.col("error_kind").is_not_null()).height
    width = rows["t_s"].unique().sort().diff().drop_nulls().min()
    assert rows["per_s"].to_list() == pytest.approx([n / width for n in rows["requests"]])


def test_host_rates_follow_the_attempts_log(result):
    frame = charts.host_rates_data(result, top=10)
    a = result.attempts.with_columns(label=pl.col("url").str.extract(r"^https?://[^/]+/([^/]+)", 1))
    assert set(frame["host"]) == set(a["label"])
    limits = frame.filter(pl.col("metric") == "concurrency limit")
    got = dict(limits.group_by("host").agg(pl.col("value").max()).iter_rows())
    want = dict(a.group_by("label").agg(pl.col("concurrency_limit").max()).iter_rows())
    assert got == {h: float(v) for h, v in want.items()}
    decisions = frame.filter(pl.col("metric") == "decision")
    assert decisions["count"].sum() == a["decision"].drop_nulls().len()
    # The throttling registry was cut and the pacer rate shown is one the log recorded.
    assert "cut" in set(decisions.filter(pl.col("host") == "nominet")["decision"])
    rates = set(a.filter(pl.col("label") == "nominet")["rate_limit"].round(3))
    pacer = frame.filter((pl.col("host") == "nominet") & (pl.col("metric") == "pacer rate"))
    assert pacer.height and set(pacer["value"]) <= {round(r, 3) for r in _bucket_means(a)} | rates
    top2 = charts.host_rates_data(result, top=2)
    busiest = a.group_by("label").len().sort("len", descending=True)["label"].head(2)
    assert set(top2["host"]) == set(busiest)


def _bucket_means(a: pl.DataFrame) -> list[float]:
    # A bucket's pacer rate is the mean of the rates in force: allow any such mean.
    frame = charts.host_rates_data(a, top=10)
    width = inputs.bucket_width(inputs.as_float(frame["t_s"].max()), inputs.HOST_BUCKETS)
    start = a["started_at"].min()
    t = (a["started_at"] - start).dt.total_microseconds() / 1e6
    b = a.with_columns(t_s=((t / width).floor() * width).round(3))
    means = b.filter(pl.col("label") == "nominet").group_by("t_s").agg(pl.col("rate_limit").mean())
    return [v for v in means["rate_limit"].drop_nulls()]


def test_latency_ecdf_points_are_exact(result):
    ecdf, kind = charts.latency_data(result)
    assert kind == "host"
    a = result.attempts.with_columns(group=pl.col("url").str.extract(r"^https?://[^/]+/([^/]+)", 1))
    for group, samples in a.group_by("group"):
        lat = samples["latency_ms"]
        points = ecdf.filter(pl.col("group") == group[0])
        assert points["n"].unique().to_list() == [lat.len()]
        assert points["fraction"].max() == pytest.approx(1.0)
        assert points["latency_ms"].max() == pytest.approx(lat.max(), abs=0.01)
        for x, frac in points.select("latency_ms", "fraction").iter_rows():
            below = (lat < x - 0.006).sum() / lat.len()
            upto = (lat <= x + 0.006).sum() / lat.len()
            assert below - 1e-4 <= frac <= upto + 1e-4
        assert points.height <= 52


def test_latency_box_medians_match_polars(result):
    rows = _frame(charts.latency(result, kind="box"))
    a = result.attempts.with_columns(group=pl.col("url").str.extract(r"^https?://[^/]+/([^/]+)", 1))
    want = dict(a.group_by("group").agg(pl.col("latency_ms").median()).iter_rows())
    got = dict(rows.select("group", "median").iter_rows())
    assert got == pytest.approx(want)


def test_latency_from_domains_uses_fetched_rows(result):
    ecdf, kind = charts.latency_data(result, source="domains")
    assert kind == "registry"
    fetched = result.domains.filter(pl.col("latency_ms").is_not_null() & ~pl.col("from_cache"))
    assert ecdf.group_by("group").agg(pl.col("n").first())["n"].sum() == fetched.height


# ----------------------------------------------------------------------------- empty & big


EMPTY = {
    "domains": empty(DOMAINS_SCHEMA),
    "attempts": empty(ATTEMPTS_SCHEMA),
    "nameservers": empty(NAMESERVERS_SCHEMA),
}
ACCEPTS = {  # the frames each chart is drawn from
    "latency": ("attempts", "domains"),
    "errors": ("domains",),
    "registry_mix": ("domains",),
    "throughput": ("attempts",),
    "host_rates": ("attempts",),
    "registrations_by_year": ("domains",),
    "registrar_share": ("domains",),
    "expiry_calendar": ("domains",),
    "nameserver_concentration": ("nameservers", "domains"),
}


@pytest.mark.parametrize("name", [name for name, _ in charts.CHARTS])
@pytest.mark.parametrize("frame", list(EMPTY))
def test_empty_frames_give_a_no_data_chart_and_wrong_ones_a_clear_error(name, frame):
    function = getattr(charts, name)
    if frame not in ACCEPTS[name]:
        with pytest.raises(ValueError, match=r"this chart needs the .* frame .* missing columns"):
            function(EMPTY[frame])
        return
    chart = function(EMPTY[frame])
    assert charts.is_empty(chart)
    spec = chart.to_dict()
    assert spec["description"].endswith(":empty")
    assert spec["mark"]["type"] == "text"


def test_every_chart_is_listed():
    assert set(ACCEPTS) == {name for name, _ in charts.CHARTS}


def test_all_errors_and_a_results_file(result, domains_only):
    errors_only = result.domains.filter(pl.col("outcome") == "error")
    for name, _ in charts.CHARTS:
        if "domains" in ACCEPTS[name]:
            getattr(charts, name)(errors_only).to_dict()
    assert not charts.is_empty(charts.errors(errors_only))
    assert charts.is_empty(charts.registrar_share(errors_only))
    mix = _frame(charts.registry_mix(errors_only))
    assert set(mix["outcome"]) == {"error"} and mix["share"].sum() == pytest.approx(1.0)
    # A results file: no attempts log, so no throughput or host rates; the rest is there.
    titles = list(charts.report_charts(domains_only))
    assert "Throughput" not in titles and "Rate and concurrency per host" not in titles
    assert {"Registry mix", "Latency", "Registrar market share", "Nameserver providers"} <= set(
        titles
    )
    assert charts.latency_data(domains_only)[1] == "registry"
    for chart in charts.report_charts(domains_only).values():
        chart.to_dict()


def test_registry_mix_of_invalid_names_only_is_empty():
    frame = pl.DataFrame(
        {"domain": [None], "outcome": ["error"], "registry_url": [None]},
        schema={"domain": pl.Utf8, "outcome": pl.Utf8, "registry_url": pl.Utf8},
    )
    assert charts.is_empty(charts.registry_mix(frame))


def _big_attempts(n: int) -> pl.DataFrame:
    i = pl.int_range(0, n, eager=True)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    frame = pl.DataFrame({"i": i}).select(
        batch_id=pl.lit("b"),
        host=pl.format("rdap.host{}.example", pl.col("i") % 25),
        url=pl.format("https://rdap.host{}.example/domain/n{}.com", pl.col("i") % 25, "i"),
        query_kind=pl.lit("domain"),
        query=pl.format("n{}.com", "i"),
        started_at=pl.lit(start) + pl.duration(milliseconds=pl.col("i") * 7),
        latency_ms=(pl.col("i") * 7919 % 1000).cast(pl.Float64) / 3 + 5,
        status=pl.when(pl.col("i") % 50 == 0).then(429).otherwise(200).cast(pl.Int16),
        bytes=pl.lit(1000, pl.Int64),
        retry_after_s=pl.lit(None, pl.Float64),
        error_kind=pl.when(pl.col("i") % 50 == 0).then(pl.lit("rate_limited")),
        error_detail=pl.lit(None, pl.Utf8),
        attempt=pl.lit(1, pl.Int16),
        throttled=pl.col("i") % 50 == 0,
        rate_limit=(pl.col("i") % 13 + 1).cast(pl.Float64),
        concurrency_limit=(pl.col("i") % 7 + 1).cast(pl.Int32),
        in_flight=(pl.col("i") % 5 + 1).cast(pl.Int32),
        priority=pl.lit("normal"),
        signal=pl.when(pl.col("i") % 50 == 0).then(pl.lit("throttle")),
        decision=pl.when(pl.col("i") % 50 == 0).then(pl.lit("cut")),
    )
    return frame.cast(dict(ATTEMPTS_SCHEMA))  # type: ignore[arg-type]


def _big_domains(n: int) -> pl.DataFrame:
    base = datetime(1995, 1, 1, tzinfo=timezone.utc)
    frame = pl.DataFrame({"i": pl.int_range(0, n, eager=True)}).select(
        query=pl.format("n{}.com", "i"),
        domain=pl.format("n{}.com", "i"),
        outcome=pl.when(pl.col("i") % 10 == 0).then(pl.lit("error")).otherwise(pl.lit("ok")),
        error_kind=pl.when(pl.col("i") % 10 == 0).then(pl.lit("timeout")),
        tld=pl.lit("com"),
        registry_url=pl.format("https://rdap.reg{}.example/", pl.col("i") % 30),
        registrar=pl.format("Registrar {}", pl.col("i") % 400),
        registration_date=pl.lit(base) + pl.duration(days=pl.col("i") % 11000),
        expiration_date=pl.lit(datetime.now(timezone.utc)) + pl.duration(days=pl.col("i") % 900),
        nameservers=pl.concat_list(
            pl.format("ns1.dns{}.net", pl.col("i") % 500),
            pl.format("ns2.dns{}.net", pl.col("i") % 500),
        ),
        latency_ms=(pl.col("i") % 997).cast(pl.Float64),
        from_cache=pl.lit(False),
    )
    return frame


def test_a_200k_row_frame_gives_a_small_spec():
    attempts = _big_attempts(200_000)
    domains = _big_domains(200_000)
    sizes = {}
    for name, _ in charts.CHARTS:
        source = attempts if name in ("throughput", "host_rates") else domains
        chart = getattr(charts, name)(source)
        assert not charts.is_empty(chart), name
        sizes[name] = len(json.dumps(chart.to_dict()))
    sizes["latency_attempts"] = len(json.dumps(charts.latency(attempts).to_dict()))
    assert max(sizes.values()) < 100_000, sizes
    reg = _frame(charts.registrar_share(domains))
    assert reg.height == 11 and reg["share"].sum() == pytest.approx(1.0)


# ----------------------------------------------------------------------------- API


def test_report_charts_in_order_without_empty_ones(result):
    got = charts.report_charts(result)
    titles = [title for _, title in charts.CHARTS]
    assert list(got) == titles  # this batch has data for every chart
    for chart in got.values():
        assert isinstance(chart, alt.TopLevelMixin)
    only = charts.report_charts(result, names=["errors", "latency"])
    assert list(only) == ["Errors by kind and registry", "Latency"]


def test_result_charts_bind_the_functions(result):
    bound = charts.ResultCharts(result)
    for name, _ in charts.CHARTS:
        assert getattr(bound, name)().to_dict() == getattr(charts, name)(result).to_dict()
    assert bound.registrar_share(top=2).to_dict() == charts.registrar_share(result, top=2).to_dict()
    assert "latency()" in repr(bound) and "nameserver_concentration()" in repr(bound)
    assert "`expiry_calendar()`" in bound._repr_markdown_()
    assert "host_rates" in dir(bound)
    assert list(bound.all()) == list(charts.report_charts(result))


def test_result_chart_methods_show_the_keywords_and_the_docs():
    # What dir(), help() and Jupyter's Shift-Tab show: every chart, its keywords, its doc.
    bound = charts.ResultCharts(result=None)
    for name, (function, _) in charts.CATALOG.items():
        method = getattr(bound, name)
        assert name in dir(bound) and method.__name__ == name
        params = list(inspect.signature(function).parameters)
        assert list(inspect.signature(method).parameters) == params[1:]
        assert method.__doc__.startswith(function.__doc__.strip().splitlines()[0])
        assert f"rdaplab.charts.{name}(result, ...)" in method.__doc__
        assert ">>>" not in method.__doc__
    assert [name for name, _ in charts.CHARTS] == list(charts.CATALOG)


def test_theme_is_opt_in_and_reversible():
    before = alt.theme.active
    assert before != "rdaplab", "importing rdaplab.charts enables nothing"
    charts.enable_theme()
    try:
        assert alt.theme.active == "rdaplab"
        spec = charts.registrar_share(
            pl.DataFrame({"domain": ["a.com"], "outcome": ["ok"], "registrar": ["X"]})
        ).to_dict()
        assert spec["config"]["title"]["anchor"] == "start"
        charts.enable_theme()  # twice is harmless
    finally:
        charts.disable_theme()
    assert alt.theme.active == before
    charts.disable_theme()  # not enabled: no change
    assert alt.theme.active == before


def test_a_chart_renders_to_png(result, tmp_path: Path):
    png = vlc.vegalite_to_png(json.dumps(charts.host_rates(result, top=2).to_dict()), scale=1)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 10_000
    (tmp_path / "host_rates.png").write_bytes(png)


CHART_MODULES = [
    importlib.import_module(f"rdaplab.notebook.charts.{m.name}")
    for m in pkgutil.iter_modules(charts.__path__)
]


def test_docstring_examples():
    failures = tried = 0
    for module in CHART_MODULES:
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        failures, tried = failures + result.failed, tried + result.attempted
    assert tried > 10 and failures == 0


DATA_MODULES = ("inputs", "batch_data", "research_data")


def _imported(module: Any) -> set[str]:
    tree = ast.parse(Path(inspect.getfile(module)).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_aggregations_are_polars_only():
    # The *_data functions and their helpers never import Altair (nor a chart module):
    # the aggregation stays apart from the drawing.
    for name in DATA_MODULES:
        for imported in _imported(getattr(charts, name)):
            assert imported.split(".")[0] not in ("altair", "vl_convert"), (name, imported)
            if imported.startswith("rdaplab.notebook"):
                assert imported.rpartition(".")[2] in DATA_MODULES, (name, imported)


def test_expiry_window_excludes_expired_and_far_names():
    now = datetime(2030, 6, 15, tzinfo=timezone.utc)
    frame = pl.DataFrame(
        {
            "domain": ["past.com", "soon.com", "far.com", "soon.com"],
            "outcome": ["ok"] * 4,
            "expiration_date": [
                now - timedelta(days=60),
                now + timedelta(days=20),
                now + timedelta(days=900),
                now + timedelta(days=20),
            ],
        }
    )
    cal = charts.expiry_calendar_data(frame, months=12, start=now)
    assert int(cal["domains"].sum()) == 1
    assert cal.filter(pl.col("domains") > 0)["month"].item() == "2030-07"


def test_host_rates_of_named_hosts(result):
    frame = charts.host_rates_data(result, hosts=["nominet", "afnic"])
    assert set(frame["host"]) == {"nominet", "afnic"}
    assert charts.is_empty(charts.host_rates(result, hosts=["no-such-host"]))


def test_pandas_and_lazy_frames_are_accepted(result):
    want = charts.registrar_share_data(result)
    assert charts.registrar_share_data(result.domains.lazy()).equals(want)
    assert charts.registrar_share_data(result.domains.to_pandas()).equals(want)


def test_offline_renderer_sends_a_png_and_the_spec(result):
    before = alt.renderers.active
    charts.enable_offline()
    try:
        bundle = charts.registry_mix(result)._repr_mimebundle_()
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        png = __import__("base64").b64decode(data["image/png"])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000
        spec = next(v for k, v in data.items() if k.startswith("application/vnd.vegalite"))
        assert spec["description"] == "rdaplab:registry_mix"
        assert not any("cdn" in str(v) for v in data.values())
    finally:
        charts.disable_offline()
    assert alt.renderers.active == before


@pytest.mark.parametrize("name", [n for n, _ in charts.CHARTS])
def test_chart_data_does_not_depend_on_row_order(result, name):
    # CI once failed because host_rates_data's decision rows tied on its sort keys and
    # group_by's order decided the spec: every *_data twin must be a function of the rows.
    source = "attempts" if name in ("throughput", "host_rates") else "domains"
    frame = getattr(result, source)
    twin = getattr(charts, f"{name}_data")

    def data(f: pl.DataFrame) -> pl.DataFrame:
        out = twin(f)
        return out[0] if isinstance(out, tuple) else out  # latency_data: (frame, kind)

    expected = data(frame)
    assert expected.height > 0
    for seed in range(6):
        shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)
        assert data(shuffled).equals(expected), f"{name}_data changed with row order (seed {seed})"
    assert (
        getattr(charts, name)(frame.reverse()).to_dict() == getattr(charts, name)(frame).to_dict()
    )


def test_host_rates_steps_do_not_depend_on_float_summation_order(result):
    # Pacer rates like 0.1/0.2/0.3 in one bucket: their mean's last bits follow the order
    # rows are summed in, which must not add or drop a step point.
    a = result.attempts.with_columns(
        rate_limit=((pl.int_range(pl.len()) % 3 + 1) * 0.1).cast(pl.Float64)
    )
    expected = charts.host_rates_data(a, top=10)
    for seed in range(20):
        shuffled = a.sample(fraction=1.0, shuffle=True, seed=seed)
        assert charts.host_rates_data(shuffled, top=10).equals(expected), seed


def test_throughput_keeps_the_last_bucket_when_its_start_divides_inexactly():
    # 0.3 / 0.1 is 2.9999999999999996 in floats: the grid once stopped a bucket short
    # and the attempts in it vanished (a flaky count in CI).
    from datetime import datetime, timedelta, timezone

    from rdaplab.notebook.charts.batch_data import throughput_data

    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    attempts = pl.DataFrame(
        {
            "started_at": [t0, t0 + timedelta(seconds=0.3)],
            "latency_ms": [0.0, 0.0],
            "throttled": [False, False],
            "error_kind": [None, None],
        },
        schema_overrides={"error_kind": pl.Utf8},
    )
    rows = throughput_data(attempts, bucket_s=0.1)
    assert rows["requests"].sum() == 2 and rows["t_s"].max() == pytest.approx(0.3)
