"""GET /metrics: the Prometheus text format, parsed strictly, and its numbers checked
against the cache's attempts log, the simulator's counters and the job ledger."""

from __future__ import annotations

import math

import polars as pl
import pytest

from rdaplab.service.metrics import Exposition, escape_label
from tests.service.exposition import ExpositionError, parse
from tests.service.helpers import FAST, names, parse_ndjson, scenario, service, wait_for

TRICKY_NAME = 'study "A"\\ne\nnew line'


def _prometheus_client_parse(text: str) -> None:
    """Parse with prometheus_client too, when it is installed (it is not a dependency)."""
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        return
    families = list(text_string_to_metric_families(text))
    assert families


async def test_metrics_parse_and_match_the_cache_and_the_registry(simulator, tmp_path):
    # 429s once the client goes over 20/s: throttles to count
    sim = await simulator(scenario(rate_limit={"rate_per_s": 20, "burst": 5}))
    async with service(sim, tmp_path, worker=True, limits=FAST) as svc:
        resp = await svc.client.post(
            "/batch-lookup", json={"names": [*names(30), "nx-gone.test", "-bad-.test"]}
        )
        summary = parse_ndjson(await resp.text())[-1]
        job = await (
            await svc.client.post("/jobs", json={"names": names(12, "j"), "name": TRICKY_NAME})
        ).json()

        async def done() -> bool:
            status = await (await svc.client.get(f"/jobs/{job['id']}")).json()
            return status["state"] == "done"

        await wait_for(done, timeout=60)
        await wait_for(lambda: not svc.state.monitor.running, timeout=10)
        resp = await svc.client.get("/metrics")
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        text = await resp.text()
        attempts = svc.state.cache.attempts()
        status = await (await svc.client.get(f"/jobs/{job['id']}")).json()
    families = parse(text)
    _prometheus_client_parse(text)
    host = attempts["host"][0]
    assert attempts["host"].n_unique() == 1  # the simulator serves every registry on one port
    # requests and throttles: the attempts log since the service started, and the registry
    requests = families["rdaplab_requests_total"].value(host=host)
    assert requests == attempts.height == sim.stats()["r"].requests
    throttled = families["rdaplab_throttled_total"].value(host=host)
    assert throttled == attempts["throttled"].sum() == sim.stats()["r"].throttled > 0
    codes = families["rdaplab_responses_total"]
    assert codes.value(host=host, code="429") == sim.stats()["r"].by_status[429]
    assert sum(s.value for s in codes.samples) == requests
    # the latency histogram
    hist = families["rdaplab_request_latency_seconds"]
    assert hist.type == "histogram"
    count = next(s for s in hist.samples if s.name.endswith("_count")).value
    total = next(s for s in hist.samples if s.name.endswith("_sum")).value
    assert count == requests
    assert math.isclose(total, attempts["latency_ms"].sum() / 1000, rel_tol=1e-9)
    le_quarter = next(
        s.value for s in hist.samples if s.name.endswith("_bucket") and s.labels["le"] == "0.25"
    )
    assert le_quarter == attempts.filter(pl.col("latency_ms") <= 250).height
    # rows by outcome, per source (the batch-lookup's summary; the job's ledger)
    rows = families["rdaplab_rows_total"]
    assert rows.value(source="batch_lookup", outcome="ok") == summary["ok"] == 30
    assert rows.value(source="batch_lookup", outcome="not_found") == 1
    assert rows.value(source="batch_lookup", outcome="error") == 1
    assert rows.value(source="job", outcome="ok") == status["ok"] == 12
    errors = families["rdaplab_lookup_row_errors_total"]
    assert errors.value(error_kind="invalid_query") == 1
    assert families["rdaplab_batches_total"].value(source="batch_lookup", ending="done") == 1
    # jobs: progress, state as a labelled gauge, the name label escaped and read back
    job_id = job["id"]
    assert families["rdaplab_job_done_rows"].value(job=job_id) == 12
    assert families["rdaplab_job_total_rows"].value(job=job_id) == 12
    states = {s.labels["state"]: s.value for s in families["rdaplab_job_state"].samples}
    assert states["done"] == 1 and sum(states.values()) == 1
    info = families["rdaplab_job_info"].samples[0]
    assert info.labels == {"job": job_id, "name": TRICKY_NAME, "priority": "normal"}
    assert families["rdaplab_job_requests_total"].value(job=job_id) == status["requests"]
    assert families["rdaplab_jobs"].value(state="done") == 1
    transitions = families["rdaplab_job_transitions_total"]
    assert transitions.value(state="running") >= 1 and transitions.value(state="done") == 1
    # every family documented; counters end in _total (checked by the parser)
    assert all(f.help for f in families.values())
    assert {"counter", "gauge", "histogram"} == {f.type for f in families.values()}
    assert '\\"A\\"' in text and "\\\\n" in text  # the escapes as written


async def test_live_host_figures_while_a_batch_runs(simulator, tmp_path):
    sim = await simulator(scenario(latency_ms={"mean": 150, "jitter": 10}))
    async with service(sim, tmp_path) as svc:  # paced at 10/s
        task = svc.client.post("/batch-lookup", json={"names": names(40)})
        async with task as resp:
            await resp.content.readline()  # the batch runs
            await wait_for(lambda: svc.state.monitor.hosts(), timeout=10)
            families = parse(await (await svc.client.get("/metrics")).text())
            assert families["rdaplab_batch_lookups_in_progress"].value() == 1
            in_flight = families["rdaplab_host_in_flight"].by("host")
            rate = families["rdaplab_host_rate_per_second"].by("host")
            assert list(rate.values()) == [10.0]  # the pace the scheduler keeps now
            assert all(v >= 0 for v in in_flight.values())
            running_rows = families["rdaplab_rows_total"].value(source="batch_lookup", outcome="ok")
            assert 0 < running_rows < 40
            await resp.read()
        families = parse(await (await svc.client.get("/metrics")).text())
        assert families["rdaplab_batch_lookups_in_progress"].value() == 0
        assert families["rdaplab_host_in_flight"].samples == []  # nothing runs now
        assert families["rdaplab_rows_total"].value(source="batch_lookup", outcome="ok") == 40


def test_exposition_writer_escapes_and_refuses_bad_families():
    out = Exposition()
    out.family("rdaplab_x_total", "counter", "Help with \\ and\na newline.", [({"a": 'q"\\\n'}, 3)])
    out.family("rdaplab_g", "gauge", "A gauge.", [({}, 1.5), ({"b": "c"}, float("nan"))])
    out.histogram("rdaplab_h_seconds", "A histogram.", [({"h": "x"}, [(0.1, 1), (1.0, 2)], 0.7, 3)])
    families = parse(out.text())
    assert families["rdaplab_x_total"].help == "Help with \\ and\na newline."
    assert families["rdaplab_x_total"].value(a='q"\\\n') == 3
    assert math.isnan(families["rdaplab_g"].value(b="c"))
    assert escape_label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    with pytest.raises(ValueError, match="_total"):
        Exposition().family("rdaplab_requests", "counter", "x", [])
    with pytest.raises(ValueError, match="rdaplab_"):
        Exposition().family("requests_total", "counter", "x", [])
    with pytest.raises(ValueError, match="label name"):
        Exposition().family("rdaplab_g", "gauge", "x", [({"bad-name": 1}, 1)])


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("rdaplab_a 1\n", "before its HELP and TYPE"),
        ("# HELP rdaplab_a x\n# TYPE rdaplab_a counter\nrdaplab_a 1\n", "_total"),
        ('# HELP rdaplab_a x\n# TYPE rdaplab_a gauge\nrdaplab_a{l="a"b"} 1\n', "expected ,"),
        ('# HELP rdaplab_a x\n# TYPE rdaplab_a gauge\nrdaplab_a{l="\\t"} 1\n', "bad escape"),
        ("# HELP rdaplab_a x\n# TYPE rdaplab_a gauge\nrdaplab_a one\n", "bad sample value"),
        ("# HELP a x\n# TYPE a gauge\na 1\n", "not prefixed"),
        ("# HELP rdaplab_a x\n# TYPE rdaplab_a gauge\nrdaplab_a 1", "newline"),
        (
            "# HELP rdaplab_h x\n# TYPE rdaplab_h histogram\n"
            'rdaplab_h_bucket{le="1"} 2\nrdaplab_h_bucket{le="+Inf"} 1\n'
            "rdaplab_h_sum 1\nrdaplab_h_count 1\n",
            "cumulative",
        ),
        (
            "# HELP rdaplab_h x\n# TYPE rdaplab_h histogram\n"
            'rdaplab_h_bucket{le="1"} 1\nrdaplab_h_sum 1\nrdaplab_h_count 1\n',
            "+Inf",
        ),
        (
            "# HELP rdaplab_a x\n# TYPE rdaplab_a gauge\nrdaplab_a 1\n"
            "# HELP rdaplab_b x\n# TYPE rdaplab_b gauge\nrdaplab_b 1\nrdaplab_a 2\n",
            "contiguous",
        ),
    ],
)
def test_the_parser_rejects_what_prometheus_would_not_take(text, problem):
    with pytest.raises(ExpositionError, match=problem.replace("+", r"\+")):
        parse(text)
