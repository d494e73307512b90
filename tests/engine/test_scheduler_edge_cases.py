"""Edge cases of the adaptive scheduler found in review: reproducers on loopback servers.

Failing tests are ``xfail(strict=True)`` with the bug in the reason; they pass once fixed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from rdaplab import Cache, Limits, Retry
from rdaplab.batch import stream
from rdaplab.engine.client import RdapClient
from rdaplab.engine.config import Timeouts
from rdaplab.engine.scheduler import Scheduler
from rdaplab.models import Attempt, NameResult
from tests.engine.loopback import serving_app

RDAP_JSON = "application/rdap+json"
Handler = Callable[["Srv", str], Awaitable[web.StreamResponse]]


def domain(name: str) -> web.Response:
    doc = {"objectClassName": "domain", "ldhName": name, "rdapConformance": ["rdap_level_0"]}
    return web.Response(body=json.dumps(doc).encode(), content_type=RDAP_JSON)


class Srv:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.n = 0
        self.base = ""
        self.authority = ""

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        self.n += 1
        return await self.handler(self, request.match_info["name"])

    async def __aenter__(self) -> Srv:
        app = web.Application()
        app.router.add_get("/domain/{name}", self._serve)
        self.stack = AsyncExitStack()
        self.base = await self.stack.enter_async_context(serving_app(app))
        self.authority = self.base.removeprefix("http://")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stack.aclose()


class Run:
    """A Scheduler on a real client; ``submit`` any time, ``join`` with a timeout."""

    def __init__(self, client: RdapClient, **kw: Any) -> None:
        self.attempts: list[Attempt] = []
        self.results: dict[str, NameResult] = {}
        self.s = Scheduler(client, batch_id="b", on_attempt=self.attempts.append, seed=1, **kw)

    def submit(self, srv: Srv, *names: str) -> None:
        for n in names:
            r = self.results[n] = NameResult("domain", n, "error")
            self.s.submit(r, f"{srv.base}/domain/{n}")

    async def join(self, timeout: float) -> bool:
        """True when every lookup finished within ``timeout``."""
        try:
            await asyncio.wait_for(self.s.join(), timeout)
        except asyncio.TimeoutError:
            return False
        return True


@contextlib.asynccontextmanager
async def client_run(**kw: Any):  # type: ignore[no-untyped-def]
    async with RdapClient(timeouts=Timeouts(connect_s=1.0, total_s=3.0)) as client:
        run = Run(client, **kw)
        try:
            yield run
        finally:
            await run.s.aclose()


# -- 1. breaker: a half-open probe that ends on "budget used up" never gives its verdict ----


async def test_half_open_probe_ending_on_spent_budget_does_not_hang() -> None:
    async def h(srv: Srv, name: str) -> web.StreamResponse:
        await asyncio.sleep(0.05 if name.startswith("f") else 0.3)
        return web.Response(status=500)

    async def slow(srv: Srv, name: str) -> web.StreamResponse:
        await asyncio.sleep(1.0)
        return domain(name)

    async with Srv(h) as H, Srv(slow) as G, Srv(slow) as K:
        limits = Limits(
            max_concurrency=2,  # global FIFO orders e1 before the probe p1
            per_host_rate_per_s=None,
            per_host_concurrency=4,
            hosts={H.authority: {"daily_budget": 2}},
        )
        retry = Retry(dead_host_after=1, breaker_cooldown_s=0.1, backoff_initial_s=0.01)
        async with client_run(limits=limits, retry=retry) as run:
            run.submit(G, "g1.test")  # holds a global slot for 1 s
            run.submit(H, "f1.test")  # 500: opens H's breaker
            await asyncio.sleep(0.01)
            run.submit(K, "k1.test")  # takes f1's global slot when it frees
            await asyncio.sleep(0.01)
            run.submit(H, "e1.test", "e1b.test")  # e1 passes the gate while closed
            await asyncio.sleep(0.2)  # cool-down over
            run.submit(H, "p1.test", "p2.test", "p3.test")  # p1 probe; p2 waits for verdict
            finished = await run.join(4.0)
            assert finished, {n: (r.outcome, r.error_kind) for n, r in run.results.items()}


# -- 2. controller: one fast answer poisons base latency, the rate never rises -------------


@pytest.mark.parametrize(
    "first_404",
    [
        False,  # the control: the same server without the 404 passes
        True,  # one instant 404 first: must not make every later answer look queued
    ],
)
async def test_one_fast_404_does_not_pin_the_rate(first_404: bool) -> None:
    async def mixed(srv: Srv, name: str) -> web.StreamResponse:
        if name.startswith("nf"):
            return web.Response(status=404)
        await asyncio.sleep(0.1)  # an ordinary, steady 100 ms registry
        return domain(name)

    async with Srv(mixed) as srv, client_run() as run:
        run.submit(srv, *(["nf0.test"] if first_404 else []), *(f"ok{i}.test" for i in range(150)))
        await run.join(4.0)
        host = run.s.host_statistics()[0]
        # Slow start from 2/s doubles while the host keeps up; a 404 changes nothing.
        assert "slow" not in {a.decision for a in run.attempts}
        assert host["rate_per_s"] > 8.0, host


# -- 3. controller: rate-independent throttling drives the rate to 1 per 2 minutes ---------


async def test_alternating_429_does_not_collapse_the_rate() -> None:
    async def alternate(srv: Srv, name: str) -> web.StreamResponse:
        return web.Response(status=429) if srv.n % 2 else domain(name)

    retry = Retry(retry_after_default_s=0.1, backoff_initial_s=0.01)
    async with Srv(alternate) as srv, client_run(retry=retry) as run:
        run.submit(srv, *(f"n{i}.test" for i in range(40)))
        await run.join(4.0)
        rate = run.s.host_statistics()[0]["rate_per_s"]
        # Half of all requests succeed at any rate: cutting below a fraction of the
        # start (2/s) buys nothing; today it halves on every event (0.4/s after 4-6 s, then on to 1/120).
        assert rate >= 0.5, rate


# -- 4. a 200 whose body is {} is not an RDAP answer -----------------------------------------


async def test_empty_object_200_is_not_ok() -> None:
    async def empty(srv: Srv, name: str) -> web.StreamResponse:
        return web.Response(body=b"{}", content_type=RDAP_JSON)

    async with Srv(empty) as srv, client_run(retry=Retry(backoff_initial_s=0.01)) as run:
        run.submit(srv, "x.test")
        assert await run.join(5.0)
        assert run.results["x.test"].outcome == "error"


# -- 5. Retry-After garbage ---------------------------------------------------------------


async def throttled_once(retry_after: str) -> Run:
    """Two rows at a host whose first answer is a 429 with ``retry_after``: both end ok."""

    async def once(srv: Srv, name: str) -> web.StreamResponse:
        if srv.n == 1:
            return web.Response(status=429, headers={"Retry-After": retry_after})
        return domain(name)

    retry = Retry(retry_after_default_s=0.05, backoff_initial_s=0.01)
    async with Srv(once) as srv, client_run(retry=retry) as run:
        run.submit(srv, "a.test", "b.test")
        assert await run.join(5.0)
        assert {r.outcome for r in run.results.values()} == {"ok"}
    return run


async def test_retry_after_inf_is_garbage_not_a_quota() -> None:
    await throttled_once("inf")


@pytest.mark.parametrize("value", ["-5", "0", "garbage", "Wed, 21 Oct 2015 07:28:00 GMT"])
async def test_odd_retry_after_values_still_finish(value: str) -> None:
    """Negative, zero, unparseable and past-date Retry-After: parked briefly, rows finish."""
    run = await throttled_once(value)
    assert [a.throttled for a in run.attempts].count(True) == 1


# -- 6. stream: daily budgets are not counted across runs -----------------------------------


async def test_stream_counts_daily_budget_across_runs(simulator: Any, tmp_path: Path) -> None:
    sim = await simulator(
        {
            "seed": 1,
            "registries": [
                {"name": "r", "tlds": ["test"], "template": "verisign/google.com-2024.json"}
            ],
        }
    )
    boot = tmp_path / "boot"
    sim.write_bootstrap(boot)
    cache = tmp_path / "c.duckdb"

    async def go(names: list[str], limits: Limits) -> list[Any]:
        out: list[Any] = []
        async with contextlib.aclosing(
            stream(names, bootstrap=boot, cache=cache, limits=limits, progress=False, refresh=True)
        ) as batches:
            async for b in batches:
                out.extend(b.domains["error_kind"].to_list())
        return out

    first = await go(["a1.test", "a2.test", "a3.test"], Limits(per_host_rate_per_s=None))
    assert first == [None, None, None]
    with Cache(cache, read_only=True) as c:
        host = c.attempts()["host"][0]
    limits = Limits(per_host_rate_per_s=None, hosts={host: {"daily_budget": 3}})
    second = await go(["b1.test", "b2.test"], limits)
    assert second == ["rate_limited", "rate_limited"]  # 3 of 3 already used today
