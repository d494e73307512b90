"""POST /batch-lookup end to end: a real loopback server, the registry simulator, DuckDB."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from rdaplab.store import Cache
from tests.service.helpers import (
    FAST,
    names,
    parse_ndjson,
    parse_sse,
    scenario,
    service,
    wait_for,
)


async def test_ndjson_rows_arrive_as_they_complete_and_the_summary_comes_last(simulator, tmp_path):
    sim = await simulator(scenario())
    values = names(20)  # paced at 10/s: about 2 s
    async with service(sim, tmp_path) as svc:
        t0 = time.monotonic()
        records, arrivals = [], []
        first_row_at = requests_at_first_row = None
        async with svc.client.post("/batch-lookup", json={"names": values}) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "application/x-ndjson"
            async for line in resp.content:
                rec = json.loads(line)
                records.append(rec)
                arrivals.append(time.monotonic() - t0)
                if rec["type"] == "row" and first_row_at is None:
                    first_row_at = time.monotonic() - t0
                    requests_at_first_row = sim.stats()["r"].requests
        total_s = time.monotonic() - t0
    # Progressive: the first row came while most names were still unanswered.
    assert first_row_at is not None and requests_at_first_row is not None
    assert requests_at_first_row < len(values) / 2, requests_at_first_row
    assert total_s > 1.5
    assert first_row_at < total_s / 2, (first_row_at, total_s)
    # Every input row once, with the registry's values; progress after each stream batch.
    rows = [r for r in records if r["type"] == "row"]
    assert sorted(r["row"] for r in rows) == list(range(len(values)))
    for r in rows:
        assert r["frame"] == "domains" and r["domain"] == values[r["row"]]
        assert r["outcome"] == "ok"
        exp = sim.expected(r["domain"])
        assert r["registrar"] == exp.registrar and r["handle"] == exp.handle
        assert r["registration_date"] == exp.registration_date.isoformat().replace("+00:00", "Z")
    progress = [r for r in records if r["type"] == "progress"]
    assert len(progress) >= 3
    done = [p["done"] for p in progress]
    assert done == sorted(done) and done[-1] == len(values)
    assert progress[-1]["percent"] == 100.0 and progress[-1]["total"] == len(values)
    assert {"rate_per_s", "eta_s", "elapsed_s"} <= set(progress[0])
    summary = records[-1]
    assert summary["type"] == "summary"
    assert [r["type"] for r in records].count("summary") == 1
    assert summary["done"] == summary["total"] == summary["ok"] == len(values)
    assert summary["not_found"] == summary["errors"] == 0
    assert summary["requests"] == len(values) == sim.stats()["r"].requests
    assert summary["batch_id"]
    with Cache(svc.cache, read_only=True) as c:
        batch = c.batch(summary["batch_id"])
    assert batch is not None and json.loads(batch["summary"])["ok"] == len(values)
    print(
        f"\nNDJSON: first row after {first_row_at:.2f} s of a {total_s:.2f} s batch "
        f"({requests_at_first_row}/{len(values)} requests sent then)"
    )


async def test_every_outcome_and_kind_of_row(simulator, tmp_path):
    sim = await simulator(scenario())
    values = ["a1.test", "nx-gone.test", "-bad-.test", "x.nosuchtld", "AS64496"]
    async with service(sim, tmp_path, limits=FAST) as svc:
        resp = await svc.client.post("/batch-lookup", json={"names": values, "kind": "auto"})
        records = parse_ndjson(await resp.text())
    rows = {r["row"]: r for r in records if r["type"] == "row"}
    assert rows[0]["outcome"] == "ok"
    assert rows[1]["outcome"] == "not_found"
    assert rows[2]["error_kind"] == "invalid_query"
    assert rows[3]["error_kind"] == "no_rdap_service"
    assert rows[4]["frame"] == "autnums" and rows[4]["outcome"] == "error"
    summary = records[-1]
    assert (summary["ok"], summary["not_found"], summary["errors"]) == (1, 1, 3)
    assert summary["error_kinds"]["invalid_query"] == 1
    assert summary["error_kinds"]["no_rdap_service"] == 2  # .nosuchtld and the ASN


async def test_server_sent_events_framing(simulator, tmp_path):
    sim = await simulator(scenario())
    values = names(6)
    async with service(sim, tmp_path, limits=FAST) as svc:
        by_accept = await svc.client.post(
            "/batch-lookup", json={"names": values}, headers={"Accept": "text/event-stream"}
        )
        assert by_accept.headers["Content-Type"].startswith("text/event-stream")
        events = parse_sse(await by_accept.text())
        by_query = await svc.client.post("/batch-lookup?format=sse", data="\n".join(values))
        assert by_query.headers["Content-Type"].startswith("text/event-stream")
        again = parse_sse(await by_query.text())
    for got in (events, again):
        assert all(name == data["type"] for name, data in got)
        assert [name for name, _ in got].count("row") == len(values)
        assert got[-1][0] == "summary" and got[-1][1]["ok"] == len(values)
        assert "progress" in [name for name, _ in got]
    assert again[-1][1]["cache_hits"] == len(values)  # the second batch read the cache


async def test_text_body_with_options_in_the_query_string(simulator, tmp_path):
    sim = await simulator(scenario())
    async with service(sim, tmp_path, limits=FAST) as svc:
        body = "a1.test\n\nA2.TEST.\n"
        resp = await svc.client.post(
            "/batch-lookup?redact_pii=false&purpose=testing&fields=domain,outcome",
            data=body,
            headers={"Content-Type": "text/plain"},
        )
        assert resp.status == 200
        records = parse_ndjson(await resp.text())
        default = parse_ndjson(
            await (await svc.client.post("/batch-lookup", json={"names": ["a3.test"]})).text()
        )
        audits = {r["batch_id"]: r for r in svc.state.cache.audits().iter_rows(named=True)}
    rows = [r for r in records if r["type"] == "row"]
    assert [r["domain"] for r in rows] == ["a1.test", "a2.test"]  # blank lines skipped
    # fields= keeps only those columns and the join key (query)
    assert set(rows[0]) == {"type", "row", "frame", "query", "domain", "outcome"}
    # the privacy settings reach the batch: recorded in the cache's audit trail
    asked = audits[records[-1]["batch_id"]]
    assert asked["pii_kept"] is True and asked["purpose"] == "testing"
    assert audits[default[-1]["batch_id"]]["pii_kept"] is False  # the default redacts


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"json": {"names": "a.test"}}, '"names"'),
        ({"json": {"names": ["a.test"], "bogus": 1}}, "unknown option(s) bogus"),
        ({"json": {"names": ["a.test"], "retention": 5}}, "unknown option(s) retention"),
        ({"json": {"names": ["a.test"], "kind": "planet"}}, "kind must be"),
        ({"json": {"names": ["a.test"], "refresh": "maybe"}}, "refresh must be true or false"),
        ({"json": {"names": ["a.test"], "max_age": "soon"}}, "not a duration"),
        ({"json": {"names": [["nested"]]}}, "a value must be"),
        ({"data": "{not json", "headers": {"Content-Type": "application/json"}}, "not valid JSON"),
    ],
)
async def test_bad_requests_are_400_with_a_json_error(simulator, tmp_path, kwargs, message):
    sim = await simulator(scenario())
    async with service(sim, tmp_path) as svc:
        resp = await svc.client.post("/batch-lookup", **kwargs)
        assert resp.status == 400
        assert resp.headers["Content-Type"].startswith("application/json")
        assert message in (await resp.json())["error"]
        bad_format = await svc.client.post("/batch-lookup?format=xml", json={"names": []})
        assert bad_format.status == 400
        assert sim.stats()["r"].requests == 0


async def test_closing_the_connection_cancels_the_batch(simulator, tmp_path):
    sim = await simulator(scenario())
    values = names(80)  # paced at 10/s: 8 s if it were not cancelled
    async with service(sim, tmp_path) as svc:
        host, port = svc.client.host, svc.client.port
        reader, writer = await asyncio.open_connection(host, port)
        body = json.dumps({"names": values}).encode()
        writer.write(
            b"POST /batch-lookup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        seen = b""
        while b'"type":"row"' not in seen:  # read until the first rows arrived
            chunk = await asyncio.wait_for(reader.read(65536), 10)
            assert chunk, "the server closed the stream"
            seen += chunk
        sent_before = sim.stats()["r"].requests
        closed_at = time.monotonic()
        writer.close()  # the client goes away
        await writer.wait_closed()
        await wait_for(lambda: not svc.state.lookups, timeout=5)
        stopped_after = time.monotonic() - closed_at
        at_stop = sim.stats()["r"].requests
        await asyncio.sleep(1.5)  # at 10/s, 15 more requests if it still ran
        after = sim.stats()["r"].requests
        assert svc.state.lookup_endings["cancelled"] == 1
        assert svc.state.lookup_endings["done"] == 0
        assert not svc.state.lookup_lock.locked()
    assert after == at_stop, (at_stop, after)
    assert after <= sent_before + 3 < len(values)
    assert stopped_after < 1.0
    with Cache(svc.cache, read_only=True) as c:
        batches = c.batches()
        assert batches.height == 1
        row = c.batch(batches["batch_id"][0])
    assert row is not None and row["summary"] is None  # cancelled: no summary, as a kill
    print(f"\ncancel: handler ended {stopped_after * 1000:.0f} ms after the disconnect; "
          f"{after}/{len(values)} names were requested")  # fmt: skip


async def test_batch_lookups_run_one_at_a_time(simulator, tmp_path):
    sim = await simulator(scenario(latency_ms={"mean": 100, "jitter": 0}))
    async with service(sim, tmp_path, limits=FAST) as svc:

        async def lookup(prefix: str) -> tuple[float, float, list[dict]]:
            t0 = time.monotonic()
            resp = await svc.client.post("/batch-lookup", json={"names": names(8, prefix)})
            first = None
            records = []
            async for line in resp.content:
                records.append(json.loads(line))
                if first is None and records[-1]["type"] == "row":
                    first = time.monotonic() - t0
            assert first is not None
            return first, time.monotonic() - t0, records

        (first_a, end_a, a), (first_b, end_b, b) = await asyncio.gather(lookup("a"), lookup("b"))
    assert a[-1]["ok"] == b[-1]["ok"] == 8
    # whichever ran second sent its first row only after the first one had ended
    (first_x, end_x), (first_y, _) = sorted([(first_a, end_a), (first_b, end_b)])
    assert first_y >= end_x - 0.05, (first_x, end_x, first_y)
    assert sim.stats()["r"].peak_in_flight <= 8


async def test_a_running_job_yields_to_a_batch_lookup_and_carries_on(simulator, tmp_path):
    sim = await simulator(scenario())
    job_names = names(30, "job")
    async with service(sim, tmp_path, worker=True) as svc:
        resp = await svc.client.post("/jobs", json={"names": job_names, "name": "background"})
        job_id = (await resp.json())["id"]

        async def finished() -> dict | None:
            data = await (await svc.client.get(f"/jobs/{job_id}")).json()
            return data if data["state"] == "done" else None

        await wait_for(lambda: svc.worker.current == job_id, timeout=10)
        await wait_for(lambda: sim.stats()["r"].requests >= 3, timeout=10)
        resp = await svc.client.post("/batch-lookup", json={"names": names(5, "mine")})
        records = parse_ndjson(await resp.text())
        assert records[-1]["ok"] == 5
        status = await wait_for(finished, timeout=30)
    messages = [entry["message"] for entry in status["log"]]
    assert "yielded to an interactive batch" in messages
    assert status["done"] == status["total"] == len(job_names)
    assert status["segments"] >= 2
    # nothing fetched twice but the requests in flight when the job stopped (at most 4)
    assert sim.stats()["r"].requests <= len(job_names) + 5 + 4


async def test_keep_alive_while_nothing_finishes(simulator, tmp_path, monkeypatch):
    monkeypatch.setattr("rdaplab.service.lookups.HEARTBEAT_S", 0.25)
    sim = await simulator(scenario(latency_ms={"mean": 1500, "jitter": 0}))
    async with service(sim, tmp_path, limits=FAST) as svc:
        ndjson = parse_ndjson(
            await (await svc.client.post("/batch-lookup", json={"names": names(2)})).text()
        )
        raw = await (
            await svc.client.post("/batch-lookup?format=sse", json={"names": names(2, "m")})
        ).text()
    before_rows = ndjson[: next(i for i, r in enumerate(ndjson) if r["type"] == "row")]
    assert len(before_rows) >= 3, before_rows  # progress records every 0.25 s meanwhile
    assert all(r["type"] == "progress" and r["done"] == 0 for r in before_rows)
    assert ndjson[-1]["type"] == "summary" and ndjson[-1]["ok"] == 2
    assert raw.count(": keep-alive\n\n") >= 3
    assert parse_sse(raw)[-1][0] == "summary"


async def test_a_batch_that_fails_after_the_response_started_says_so(simulator, tmp_path):
    from aiohttp.test_utils import TestClient, TestServer

    from rdaplab.service.app import make_app

    await simulator(scenario())
    app = make_app(tmp_path / "c.duckdb", bootstrap=tmp_path / "no-such-bootstrap")
    async with TestClient(TestServer(app)) as client:
        resp = await client.post("/batch-lookup", json={"names": ["a.test"]})
        assert resp.status == 200  # the stream had started when the bootstrap was read
        records = parse_ndjson(await resp.text())
        again = await client.post("/batch-lookup", json={"names": ["a.test"]})
        assert again.status == 200  # the service goes on
    assert [r["type"] for r in records] == ["error"]
    assert "Bootstrap" in records[0]["error"] or "bootstrap" in records[0]["error"]
