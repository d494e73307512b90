"""``serve``: loopback unless a token is given, the bearer token, start and clean stop."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from rdaplab.errors import InputError
from rdaplab.service.app import is_loopback, serve
from rdaplab.store import Cache
from tests.service.helpers import names, scenario, service, wait_for

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "s3cret-token"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.3.2.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LocalHost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.1.2.3", False),
        ("example.org", False),
        ("", False),
    ],
)
def test_what_counts_as_loopback(host, loopback):
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.org"])
async def test_serve_refuses_to_bind_off_loopback_without_a_token(tmp_path, host):
    cache = tmp_path / "c.duckdb"
    with pytest.raises(InputError, match="without a token"):
        await serve(cache, host=host, port=0)
    assert not cache.exists()  # refused before anything was opened


async def _started_url(capsys: pytest.CaptureFixture[str], task: asyncio.Task[None]) -> str:
    out = ""

    def printed() -> bool:
        nonlocal out
        if task.done():
            task.result()  # raise what stopped it
        out += capsys.readouterr().out
        return "rdaplab serving http://" in out

    await wait_for(printed, timeout=20)
    line = next(ln for ln in out.splitlines() if ln.startswith("rdaplab serving "))
    return line.split()[2]


async def test_a_token_is_required_off_loopback(tmp_path, capsys):
    cache = tmp_path / "c.duckdb"
    task = asyncio.create_task(serve(cache, host="0.0.0.0", port=0, token=TOKEN))
    try:
        url = await _started_url(capsys, task)
        assert url.startswith("http://0.0.0.0:")
        base = url.replace("0.0.0.0", "127.0.0.1")
        async with aiohttp.ClientSession() as http:
            for path in ("jobs", "metrics", "", "api/dashboard"):
                async with http.get(base + path) as resp:
                    assert resp.status == 401, path
                    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
                    assert "token" in (await resp.json())["error"]
            wrong = {"Authorization": "Bearer not-the-token"}
            async with http.get(base + "jobs", headers=wrong) as resp:
                assert resp.status == 401
            async with http.get(base + "jobs", headers={"Authorization": TOKEN}) as resp:
                assert resp.status == 401  # no scheme
            async with http.post(base + "batch-lookup", json={"names": ["a.test"]}) as resp:
                assert resp.status == 401
            right = {"Authorization": f"Bearer {TOKEN}"}
            for path in ("jobs", "metrics", "", "api/dashboard"):
                async with http.get(base + path, headers=right) as resp:
                    assert resp.status == 200, path
            # the dashboard (a page a browser opens) and its JSON take ?token= too ...
            for path in ("", "api/dashboard", "api/dashboard/charts"):
                async with http.get(f"{base}{path}?token={TOKEN}") as resp:
                    assert resp.status == 200, path
            # ... the API does not
            async with http.get(f"{base}jobs?token={TOKEN}") as resp:
                assert resp.status == 401
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    with Cache(cache) as reopened:  # closed on the way out: it opens again in this process
        assert reopened.batches().height == 0


async def test_a_token_on_loopback_is_required_too(simulator, tmp_path):
    sim = await simulator(scenario())
    async with service(sim, tmp_path, token=TOKEN) as svc:
        resp = await svc.client.post("/batch-lookup", json={"names": names(2)})
        assert resp.status == 401
        resp = await svc.client.post(
            "/batch-lookup",
            json={"names": names(2)},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert resp.status == 200 and "summary" in await resp.text()
    assert sim.stats()["r"].requests == 2


async def test_serve_runs_the_worker_and_stops_cleanly(simulator, tmp_path, capsys):
    from rdaplab.engine import Limits
    from rdaplab.jobs import Job, Worker, submit

    sim = await simulator(scenario())
    boot = sim.write_bootstrap(tmp_path / "boot")
    cache = tmp_path / "c.duckdb"
    job = submit(names(5), cache=cache)
    fast = Limits(per_host_rate_per_s=None)
    worker = Worker(cache, bootstrap=boot, limits=fast, poll_s=0.1)
    task = asyncio.create_task(serve(cache, port=0, worker=worker, bootstrap=boot))
    try:
        url = await _started_url(capsys, task)
        assert url.startswith("http://127.0.0.1:")
        await wait_for(lambda: Job(job.id, cache).status().state == "done", timeout=30)
        async with aiohttp.ClientSession() as http, http.get(url + "jobs") as resp:
            assert (await resp.json())["jobs"][0]["state"] == "done"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert worker._stop.is_set()  # stopped, and awaited: the cache is closed
    with Cache(cache) as reopened:
        assert reopened.attempts().height == 5 == sim.stats()["r"].requests


@pytest.mark.slow
def test_sigterm_stops_a_serving_process_cleanly(tmp_path):
    cache = tmp_path / "c.duckdb"
    code = (
        "import asyncio, sys; from rdaplab.jobs import Worker; "
        "from rdaplab.service.app import serve; "
        f"asyncio.run(serve({str(cache)!r}, port=0, worker=Worker({str(cache)!r}, poll_s=0.1)))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("rdaplab serving http://127.0.0.1:"), line
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
        stop_s = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "rdaplab service stopping" in err
    assert stop_s < 10
    with Cache(cache) as reopened:  # not left locked
        assert reopened.batches().height == 0
