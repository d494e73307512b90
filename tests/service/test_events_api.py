"""``GET /events``: the events ``on_event=`` receives, live over HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.service.helpers import FAST, names, scenario, service, wait_for


async def _read_lines(resp: Any, out: list[dict[str, Any]]) -> None:
    async for line in resp.content:
        if line.strip():
            out.append(json.loads(line))


async def test_a_jobs_events_stream_live_as_ndjson_with_its_state_changes(simulator, tmp_path):
    sim = await simulator(scenario())
    async with service(sim, tmp_path, worker=True, limits=FAST) as svc:
        resp = await svc.client.get("/events")
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("application/x-ndjson")
        seen: list[dict[str, Any]] = []
        reader = asyncio.create_task(_read_lines(resp, seen))
        posted = await svc.client.post("/jobs", json={"names": names(15), "name": "watched"})
        job_id = (await posted.json())["id"]
        await wait_for(lambda: any(e.get("state") == "done" for e in seen), timeout=30)
        reader.cancel()
        resp.close()
    kinds = [e["kind"] for e in seen]
    assert kinds[0] == "job_state" and kinds[-1] == "job_state"
    assert "batch_started" in kinds and "progress" in kinds and "batch_finished" in kinds
    assert kinds.index("batch_started") < kinds.index("batch_finished")
    assert {e["job_id"] for e in seen} == {job_id}
    assert all(e["source"] == "job" for e in seen)
    finished = next(e for e in seen if e["kind"] == "batch_finished")
    assert finished["done"] == 15


async def test_events_filtered_by_kind_as_server_sent_events(simulator, tmp_path):
    sim = await simulator(scenario())
    async with service(sim, tmp_path, limits=FAST) as svc:
        resp = await svc.client.get("/events?kinds=batch_finished&format=sse")
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        lookup = await svc.client.post("/batch-lookup", json={"names": names(5)})
        await lookup.read()  # the whole batch
        block = await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 10)
        resp.close()
    event, _, data = block.decode().strip().partition("\n")
    assert event == "event: batch_finished"
    record = json.loads(data.removeprefix("data: "))
    assert record["kind"] == "batch_finished" and record["source"] == "batch_lookup"
    assert record["done"] == 5
