"""The jobs routes end to end: submitted over HTTP, run by a real Worker inside the app."""

from __future__ import annotations

import io
import json
from typing import Any

import polars as pl

from tests.service.helpers import FAST, names, parse_ndjson, scenario, service, wait_for


async def _status(svc: Any, job_id: str) -> dict[str, Any]:
    resp = await svc.client.get(f"/jobs/{job_id}")
    assert resp.status == 200
    return await resp.json()


async def test_a_job_submitted_over_http_runs_and_its_results_download(simulator, tmp_path):
    sim = await simulator(scenario())
    values = [*names(24), "nx-gone.test", "-bad-.test"]
    async with service(sim, tmp_path, worker=True, limits=FAST) as svc:
        resp = await svc.client.post(
            "/jobs", json={"names": values, "name": "study", "priority": "high"}
        )
        assert resp.status == 201
        submitted = await resp.json()
        job_id = submitted["id"]
        assert resp.headers["Location"] == f"/jobs/{job_id}"
        assert submitted["state"] == "queued" and submitted["total"] == len(values)
        assert submitted["name"] == "study" and submitted["priority"] == "high"

        async def done() -> dict[str, Any] | None:
            status = await _status(svc, job_id)
            return status if status["state"] == "done" else None

        status = await wait_for(done, timeout=60)
        assert status["done"] == len(values)
        assert (status["ok"], status["not_found"], status["errors"]) == (24, 1, 1)
        assert [e["state"] for e in status["log"]][:2] == ["queued", "running"]
        assert status["log"][-1]["state"] == "done"

        parquet = await svc.client.get(f"/jobs/{job_id}/results?format=parquet&frame=domains")
        assert parquet.status == 200
        assert parquet.headers["Content-Type"] == "application/vnd.apache.parquet"
        assert parquet.headers["X-Rdaplab-Job-State"] == "done"
        assert f"job-{job_id[:12]}-domains.parquet" in parquet.headers["Content-Disposition"]
        frame = pl.read_parquet(io.BytesIO(await parquet.read()))

        csv = await svc.client.get(f"/jobs/{job_id}/results?format=csv")
        assert csv.headers["Content-Type"] == "text/csv; charset=utf-8"
        from_csv = pl.read_csv(io.BytesIO(await csv.read()))

        ndjson = await svc.client.get(f"/jobs/{job_id}/results?format=ndjson&frame=queries")
        assert ndjson.headers["Content-Type"] == "application/x-ndjson"
        queries = parse_ndjson(await ndjson.text())

        listing = await (await svc.client.get("/jobs")).json()
    # the rows, in input order, as the names given
    assert frame["query"].to_list() == values
    assert frame["domain"].to_list()[:24] == values[:24]
    assert frame["outcome"].to_list() == ["ok"] * 24 + ["not_found", "error"]
    for row in frame.head(24).iter_rows(named=True):
        assert row["registrar"] == sim.expected(row["domain"]).registrar
    assert from_csv["query"].to_list() == values
    assert from_csv["outcome"].to_list() == frame["outcome"].to_list()
    # lists are joined by spaces in CSV
    assert from_csv["nameservers"][0] == " ".join(frame["nameservers"][0])
    assert [q["query"] for q in queries] == values
    assert [j["id"] for j in listing["jobs"]] == [job_id]
    assert sim.stats()["r"].requests == 25  # the invalid name is never sent


async def test_list_is_newest_first_and_pause_resume_cancel_steer_jobs(simulator, tmp_path):
    sim = await simulator(scenario())
    async with service(sim, tmp_path) as svc:  # no worker: jobs stay queued
        ids = []
        for label in ("first", "second", "third"):
            resp = await svc.client.post("/jobs", json={"names": names(3), "name": label})
            ids.append((await resp.json())["id"])
        listing = await (await svc.client.get("/jobs")).json()
        assert [j["name"] for j in listing["jobs"]] == ["third", "second", "first"]

        paused = await svc.client.post(f"/jobs/{ids[0]}/pause")
        assert paused.status == 200
        body = await paused.json()
        assert body["state"] == "paused" and body["requested"] == "pause"
        resumed = await (await svc.client.post(f"/jobs/{ids[0]}/resume")).json()
        assert resumed["state"] == "queued"
        cancelled = await svc.client.delete(f"/jobs/{ids[1]}")
        assert (await cancelled.json())["state"] == "cancelled"
        again = await svc.client.delete(f"/jobs/{ids[1]}")
        assert again.status == 400
        assert "cancelled" in (await again.json())["error"]
        # a unique prefix resolves, as on the command line
        assert (await _status(svc, ids[2][:10]))["id"] == ids[2]
        # results of a job that has not run: no rows yet, still a valid file
        empty = await svc.client.get(f"/jobs/{ids[2]}/results?format=parquet")
        assert empty.status == 200 and empty.headers["X-Rdaplab-Rows"] == "0"
    assert sim.stats()["r"].requests == 0


async def test_job_errors_are_json_400_and_404(simulator, tmp_path):
    sim = await simulator(scenario())
    source = tmp_path / "input.csv"
    source.write_text("domain\na1.test\na2.test\n")
    async with service(sim, tmp_path) as svc:
        missing = await svc.client.get("/jobs/0123456789abcdef")
        assert missing.status == 404
        assert "no job" in (await missing.json())["error"]
        for path in ("/jobs/0123456789abcdef/results", "/jobs/0123456789abcdef/pause"):
            resp = await (svc.client.get(path) if "results" in path else svc.client.post(path))
            assert resp.status == 404
        for body, message in (
            ({}, '"names"'),
            ({"names": ["a.test"], "input": str(source)}, '"names"'),
            ({"names": ["a.test"], "priority": "urgent"}, "priority must be"),
            ({"names": ["a.test"], "limits": 3}, "cannot keep option(s) limits"),
            ({"names": ["a.test"], "window": "late"}, "window"),
            ({"input": str(tmp_path / "nowhere.csv")}, "no input file"),
        ):
            resp = await svc.client.post("/jobs", json=body)
            assert resp.status == 400, (body, await resp.text())
            assert message in (await resp.json())["error"], body
        resp = await svc.client.post("/jobs", data="[1, 2]")
        assert resp.status == 400
        # a server-side input file (its column named as in `rdaplab job submit`)
        ok = await svc.client.post("/jobs", json={"input": str(source), "column": "domain"})
        assert ok.status == 201
        job_id = (await ok.json())["id"]
        bad_format = await svc.client.get(f"/jobs/{job_id}/results?format=xlsx")
        assert bad_format.status == 400
        bad_frame = await svc.client.get(f"/jobs/{job_id}/results?frame=planets")
        assert bad_frame.status == 400
        unknown_route = await svc.client.get("/nothing-here")
        assert unknown_route.status == 404
        assert json.loads(await unknown_route.text()) == {"error": "Not Found"}
        wrong_method = await svc.client.put("/jobs")
        assert wrong_method.status == 405
        assert "error" in await wrong_method.json()
        assert (await _status(svc, job_id))["total"] == 2
