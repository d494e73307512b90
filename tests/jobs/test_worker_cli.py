"""The job commands and ``rdaplab worker`` as a user runs them, a worker killed with
SIGKILL included."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from rdaplab import jobs
from rdaplab.cli import main

SCENARIO = {
    "seed": 5,
    "registries": [
        {
            "name": "r",
            "tlds": ["test"],
            "template": "verisign/google.com-2024.json",
            "latency_ms": {"mean": 5, "jitter": 2},
        }
    ],
}


async def worker_process(cache: Path, boot: Path, *extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rdaplab", "worker", "--cache", str(cache),
        "--bootstrap", str(boot), "--rate", "50", "--concurrency", "4", "--poll", "0.2", *extra,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


@pytest.mark.slow
async def test_a_killed_worker_loses_seconds_and_the_next_one_carries_the_job_on(
    simulator: Any, tmp_path: Path
) -> None:
    sim = await simulator(SCENARIO)
    boot = sim.write_bootstrap(tmp_path / "boot")
    cache = tmp_path / "study.duckdb"
    names = [f"kill{i}.test" for i in range(500)]
    job = jobs.submit(names, cache=cache, name="long")

    proc = await worker_process(cache, boot)
    end = time.monotonic() + 60
    while sim.stats()["r"].requests < 200:  # ~4 s in, well before the end (~10 s)
        assert proc.returncode is None, await proc.stderr.read()  # type: ignore[union-attr]
        assert time.monotonic() < end
        await asyncio.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    await proc.wait()
    sent_before = sim.stats()["r"].requests
    assert job.status().state == "running"  # as the dead worker left it

    proc = await worker_process(cache, boot, "--until-idle")
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err
    status = job.status()
    assert status.state == "done", (status, err)
    assert any(e["message"] == "taken over from a dead worker" for e in job.log())
    result = job.result()
    assert result.domains["domain"].to_list() == names  # every row once, in input order
    assert (result.domains["outcome"] == "ok").all()
    refetched = sim.stats()["r"].requests - len(names)
    # What the kill lost: the answers of the last second not yet committed (50/s) and
    # the requests in flight (4).
    assert 0 <= refetched <= 50 + 4, (refetched, sent_before)


async def test_submit_list_status_result_and_worker_on_the_command_line(
    simulator: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = await simulator(SCENARIO)
    boot = sim.write_bootstrap(tmp_path / "boot")
    cache = tmp_path / "study.duckdb"
    names = [f"cli{i}.test" for i in range(30)]
    (tmp_path / "names.csv").write_text("domain\n" + "\n".join(names) + "\n")
    c = ["--cache", str(cache)]

    assert main(["job", "submit", str(tmp_path / "names.csv"), *c, "--name", "cli",
                 "--window", "00:00-24:00", "--json"]) == 0  # fmt: skip
    submitted = json.loads(capsys.readouterr().out)
    assert submitted["state"] == "queued" and submitted["total"] == 30
    assert submitted["window"] == "00:00-00:00"
    job_id = submitted["id"]

    assert main(["job", "list", *c]) == 0
    assert f"{job_id[:12]} cli [queued] 0/30" in capsys.readouterr().out

    proc = await worker_process(cache, boot, "--until-idle")
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err
    assert b"worker stopped after 1 run(s)" in err

    assert main(["job", "status", job_id[:8], *c, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["state"] == "done" and status["done"] == 30 and status["requests"] == 30
    out = tmp_path / "out.csv"
    assert main(["job", "result", job_id[:8], *c, "--out", str(out)]) == 0
    assert "wrote 30 rows (domains)" in capsys.readouterr().out
    assert pl.read_csv(out)["domain"].to_list() == names

    assert main(["job", "pause", job_id, *c]) == 2  # done: nothing to pause
    assert "cannot be paused" in capsys.readouterr().err
    assert main(["job", "status", "nosuchjob", *c]) == 2
    assert "no job 'nosuchjob'" in capsys.readouterr().err
