"""What a job and the web service cost over the batch they run (issue 13).

One zero-latency registry without limits (the client-overhead scenario, in its own
process): the same names looked up three ways, alternating, best of ``repeats`` each:

- ``stream``: :func:`rdaplab.stream` straight (the reference);
- ``job``: :func:`rdaplab.jobs.submit` and a :class:`rdaplab.jobs.Worker` running it (the
  stream plus the ledger's polls and heartbeats and the Parquet parts);
- ``batch_lookup``: ``POST /batch-lookup`` to the service on loopback, reading every
  NDJSON line (the stream plus HTTP and one JSON line per row); and the time to its first
  row line.

Each side gets a fresh cache, so every name is fetched. Ratios are throughputs over the
stream's: 1.0 means no overhead.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

import rdaplab
from rdaplab import jobs
from rdaplab.engine import Limits

DEFAULT_N = 5_000
QUICK_N = 300


def _limits(concurrency: int) -> Limits:
    return Limits(
        per_host_rate_per_s=None, per_host_concurrency=concurrency, max_concurrency=concurrency
    )


async def _stream(names: list[str], cache: Path, boot: Path, limits: Limits) -> int:
    rows = 0
    it: Any = rdaplab.stream(names, cache=cache, bootstrap=boot, limits=limits, progress=False)
    async with contextlib.aclosing(it) as batches:
        async for batch in batches:
            rows += int((batch.domains["outcome"] == "ok").sum())
    return rows


async def _job(names: list[str], cache: Path, boot: Path, limits: Limits) -> int:
    job = jobs.submit(names, cache=cache)
    worker = jobs.Worker(cache, bootstrap=boot, limits=limits)
    await worker.run(until_idle=True)
    status = job.status()
    return status.ok if status.state == "done" else -1


async def _batch_lookup(
    names: list[str], cache: Path, boot: Path, limits: Limits, first: list[float]
) -> int:
    from aiohttp.test_utils import TestServer

    from rdaplab.service.app import make_app

    app = make_app(cache, bootstrap=boot, limits=limits)
    server = TestServer(app)
    await server.start_server()
    try:
        rows = 0
        t0 = time.perf_counter()
        async with (
            aiohttp.ClientSession() as session,
            session.post(server.make_url("/batch-lookup"), json={"names": names}) as resp,
        ):
            async for line in resp.content:
                if not line.strip():
                    continue
                record = json.loads(line)
                if record.get("type") == "row":
                    if rows == 0:
                        first.append(time.perf_counter() - t0)
                    rows += record.get("outcome") == "ok"
        return rows
    finally:
        await server.close()


async def _timed(fn: Callable[[], Awaitable[int]]) -> tuple[int, float]:
    gc.collect()
    t0 = time.perf_counter()
    got = await fn()
    return got, time.perf_counter() - t0


async def jobs_overhead(
    base_dir: Path, boot: Path, *, n: int, concurrency: int, repeats: int
) -> dict[str, Any]:
    """The three sides side by side (see the module); raises ``ValueError`` when a side
    did not answer every name (its time would be void)."""
    limits = _limits(concurrency)
    walls: dict[str, list[float]] = {"stream": [], "job": [], "batch_lookup": []}
    first: list[float] = []
    warm = [f"jw-{i:05d}.dev" for i in range(50)]  # imports, sockets, DuckDB's first file
    await _stream(warm, base_dir / "warm-s.duckdb", boot, limits)
    await _job(warm, base_dir / "warm-j.duckdb", boot, limits)
    await _batch_lookup(warm, base_dir / "warm-b.duckdb", boot, limits, [])
    for rep in range(repeats):
        names = [f"jb{rep}-{i:07d}.dev" for i in range(n)]
        sides: dict[str, Callable[[], Awaitable[int]]] = {
            "stream": functools.partial(_stream, names, base_dir / f"s{rep}.duckdb", boot, limits),
            "job": functools.partial(_job, names, base_dir / f"j{rep}.duckdb", boot, limits),
            "batch_lookup": functools.partial(
                _batch_lookup, names, base_dir / f"b{rep}.duckdb", boot, limits, first
            ),
        }
        order = list(sides) if rep % 2 == 0 else list(reversed(sides))  # drift hits all
        for side in order:
            got, wall = await _timed(sides[side])
            if got != n:
                raise ValueError(f"jobs bench: {side} answered {got} of {n} names ok")
            walls[side].append(wall)
    best = {side: min(ws) for side, ws in walls.items()}
    return {
        "n": n,
        "concurrency": concurrency,
        "repeats": repeats,
        "per_s": {side: n / w for side, w in best.items()},
        "job_ratio": best["stream"] / best["job"],
        "batch_lookup_ratio": best["stream"] / best["batch_lookup"],
        "first_row_s": min(first) if first else None,
        "first_row_s_all": first,
        "walls": walls,
    }


if __name__ == "__main__":  # pragma: no cover - a quick look by hand
    import tempfile

    from rdaplab.simulator import SimulatorThread

    scenario = {
        "seed": 7,
        "registries": [
            {"name": "fast", "tlds": ["dev"], "template": "google-registry/web.dev.json"}
        ],
    }
    with tempfile.TemporaryDirectory() as tmp, SimulatorThread(scenario) as sim:
        boot = sim.write_bootstrap(Path(tmp) / "boot")
        res = asyncio.run(jobs_overhead(Path(tmp), boot, n=QUICK_N, concurrency=8, repeats=1))
        print(json.dumps({k: v for k, v in res.items() if k != "walls"}, indent=2))
