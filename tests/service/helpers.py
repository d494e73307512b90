"""What the service tests share: a scenario, the app on a real loopback server, readers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from rdaplab.engine import Limits, Retry
from rdaplab.jobs import Worker
from rdaplab.service.app import make_app
from rdaplab.service.state import STATE, ServiceState

VERISIGN = "verisign/google.com-2024.json"
QUICK_RETRY = Retry(backoff_initial_s=0.01, backoff_max_s=0.05, retry_after_max_s=3.0)
# Paced at 10 requests a second, not adaptive: 20 names take about 2 s.
PACED = Limits(per_host_rate_per_s=10.0, per_host_burst=1, per_host_concurrency=4, adaptive=False)
FAST = Limits(per_host_rate_per_s=None, per_host_concurrency=8)


def scenario(**registry: Any) -> dict[str, Any]:
    """One registry ``r`` serving ``.test`` (plus the given behaviour)."""
    return {
        "seed": 3,
        "registries": [{"name": "r", "tlds": ["test"], "template": VERISIGN, **registry}],
    }


def names(n: int, prefix: str = "n") -> list[str]:
    return [f"{prefix}{i}.test" for i in range(n)]


@dataclass
class Service:
    client: TestClient
    app: web.Application
    boot: Path
    cache: Path
    worker: Worker | None

    @property
    def state(self) -> ServiceState:
        return self.app[STATE]

    def url(self, path: str) -> str:
        return str(self.client.make_url(path))


@contextlib.asynccontextmanager
async def service(
    sim: Any,
    tmp_path: Path,
    *,
    token: str | None = None,
    worker: bool = False,
    limits: Limits = PACED,
    poll_s: float = 0.2,
) -> AsyncIterator[Service]:
    """The app on a real loopback server (``handler_cancellation`` on, as ``serve``)."""
    boot = tmp_path / "bootstrap"
    if not boot.exists():
        sim.write_bootstrap(boot)
    cache = tmp_path / "cache.duckdb"
    w = None
    if worker:
        w = Worker(cache, bootstrap=boot, limits=limits, retry=QUICK_RETRY, poll_s=poll_s)
    app = make_app(cache, token=token, worker=w, bootstrap=boot, limits=limits, retry=QUICK_RETRY)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Service(client, app, boot, cache, w)
    finally:
        await client.close()


def parse_ndjson(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) of every event of an SSE body; comments are skipped; every event
    must have exactly one ``event:`` and one ``data:`` line."""
    out = []
    assert text.endswith("\n\n"), text[-200:]
    for block in text.split("\n\n"):
        if not block:
            continue
        lines = [ln for ln in block.split("\n") if not ln.startswith(":")]
        if not lines:
            continue
        fields: dict[str, list[str]] = {}
        for line in lines:
            name, sep, value = line.partition(": ")
            assert sep, f"not an SSE field line: {line!r}"
            fields.setdefault(name, []).append(value)
        assert set(fields) == {"event", "data"}, block
        assert len(fields["event"]) == 1 and len(fields["data"]) == 1, block
        out.append((fields["event"][0], json.loads(fields["data"][0])))
    return out


async def wait_for(predicate: Any, timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` (sync or async) until it is truthy; its value."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > end:
            raise TimeoutError(f"still false after {timeout} s: {predicate}")
        await asyncio.sleep(interval)
