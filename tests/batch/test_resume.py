"""A batch killed with SIGKILL mid-run loses nothing it committed; the next run resumes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

import polars as pl
import pytest

import rdaplab
from rdaplab import Cache, Limits

pytestmark = pytest.mark.slow

SCENARIO = {
    "seed": 5,
    "registries": [
        {
            "name": "r",
            "tlds": ["test"],
            "template": "verisign/google.com-2024.json",
            "latency_ms": {"mean": 10, "jitter": 5},
        }
    ],
}


async def start_cli_lookup(tmp_path, boot, cache_path):
    """``rdaplab lookup names.txt`` in a subprocess, paced to take about 12 s."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rdaplab", "lookup", str(tmp_path / "names.txt"),
        "--cache", str(cache_path), "--bootstrap", str(boot),
        "--rate", "50", "--concurrency", "4", "--no-progress",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_kill_9_mid_run_then_resume_fetches_only_what_is_missing(simulator, tmp_path):
    sim = await simulator(SCENARIO)
    boot = sim.write_bootstrap(tmp_path / "boot")
    names = [f"resume{i}.test" for i in range(600)]
    (tmp_path / "names.txt").write_text("\n".join(names) + "\n")
    cache_path = tmp_path / "cache.duckdb"

    proc = await start_cli_lookup(tmp_path, boot, cache_path)
    deadline = time.monotonic() + 60
    while sim.stats()["r"].requests < 200:  # about 4 s in, well before the end (~12 s)
        assert proc.returncode is None, await proc.stderr.read()  # type: ignore[union-attr]
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    sent_before_kill = sim.stats()["r"].requests
    os.kill(proc.pid, signal.SIGKILL)
    await proc.wait()
    assert proc.returncode == -signal.SIGKILL

    with Cache(cache_path) as cache:
        stored = set(cache.responses("domain")["query"].to_list())
        attempts_logged = cache.attempts().height
    # Commits happen every second: at 50 requests/s a kill loses at most ~2 s of answers.
    assert len(stored) >= sent_before_kill - 100
    assert len(stored) < len(names)
    assert attempts_logged >= len(stored)

    sim.reset_stats()
    result = await rdaplab.lookup_async(
        names,
        cache=cache_path,
        bootstrap=boot,
        progress=False,
        limits=Limits(per_host_rate_per_s=None, per_host_concurrency=8),
    )
    d = result.domains
    assert (d["outcome"] == "ok").all()
    assert set(d.filter(pl.col("from_cache"))["domain"]) == stored
    # Exactly the missing names were fetched, each once; nothing stored was fetched again.
    assert sim.stats()["r"].requests == len(names) - len(stored)
    fetched = set(result.attempts["query"].to_list())
    assert fetched.isdisjoint(stored)
    assert len(fetched) == len(names) - len(stored)


async def test_ctrl_c_flushes_everything_received_and_exits_130(simulator, tmp_path):
    sim = await simulator(SCENARIO)
    boot = sim.write_bootstrap(tmp_path / "boot")
    names = [f"intr{i}.test" for i in range(600)]
    (tmp_path / "names.txt").write_text("\n".join(names) + "\n")
    cache_path = tmp_path / "cache.duckdb"
    proc = await start_cli_lookup(tmp_path, boot, cache_path)
    deadline = time.monotonic() + 60
    while sim.stats()["r"].requests < 100:
        assert proc.returncode is None
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _out, err = await proc.communicate()
    sent = sim.stats()["r"].requests
    assert proc.returncode == 130, err
    assert b"interrupted" in err and b"Traceback" not in err
    with Cache(cache_path) as cache:
        stored = cache.responses("domain").height
    # Unlike SIGKILL, an interrupt commits every answer received: only requests still in
    # flight (at most the concurrency, 4) can be missing.
    assert sent - 4 <= stored <= sent
