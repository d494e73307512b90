"""The adaptive scheduler end to end on loopback servers, and the FairShare global cap.

Each test runs real aiohttp servers written here (the exact answer shapes matter more than
the simulator's realism) and drives :class:`~rdaplab.engine.scheduler.Scheduler` with a real
:class:`~rdaplab.engine.client.RdapClient`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from rdaplab.engine.client import RdapClient
from rdaplab.engine.config import PRIORITIES, Limits, Retry, Timeouts, priority_index
from rdaplab.engine.limiter import FairShare
from rdaplab.engine.scheduler import Scheduler
from rdaplab.models import Attempt, NameResult
from tests.engine.loopback import closed_port, serving_app

RDAP_JSON = "application/rdap+json"
TIMEOUTS = Timeouts(connect_s=1.0, total_s=3.0)
QUICK = Retry(backoff_initial_s=0.01, backoff_max_s=0.02, retry_after_max_s=2.0)
UNPACED = Limits(per_host_rate_per_s=None, per_host_concurrency=4)

Handler = Callable[["Server", web.Request, str], Awaitable[web.StreamResponse]]


# -- loopback servers ------------------------------------------------------------------------


def domain(name: str) -> web.Response:
    doc = {"objectClassName": "domain", "ldhName": name, "rdapConformance": ["rdap_level_0"]}
    return web.Response(body=json.dumps(doc).encode(), content_type=RDAP_JSON)


def rdap_error(status: int, title: str, description: str, **headers: str) -> web.Response:
    body = json.dumps({"errorCode": status, "title": title, "description": [description]})
    return web.Response(status=status, body=body.encode(), content_type=RDAP_JSON, headers=headers)


async def always_ok(server: Server, request: web.Request, name: str) -> web.StreamResponse:
    return domain(name)


@dataclass
class Server:
    """A loopback RDAP server whose answers a test decides; counts what it was sent."""

    handler: Handler = always_ok
    names: list[str] = field(default_factory=list)  # in arrival order
    times: list[float] = field(default_factory=list)
    base: str = ""
    authority: str = ""

    @property
    def requests(self) -> int:
        return len(self.names)

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.names.append(name)
        self.times.append(time.monotonic())
        return await self.handler(self, request, name)


@asynccontextmanager
async def serving(*servers: Server) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        for server in servers:
            app = web.Application()
            app.router.add_get("/domain/{name}", server._serve)
            server.base = await stack.enter_async_context(serving_app(app))
            server.authority = server.base.removeprefix("http://")
        yield


@dataclass
class Batch:
    scheduler: Scheduler
    results: dict[str, NameResult] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)

    def submit(self, base: str, names: list[str], priority: str | None = None) -> None:
        for name in names:
            result = NameResult("domain", name, "error")
            self.results[name] = result
            self.scheduler.submit(result, f"{base}/domain/{name}", priority=priority)

    async def join(self, timeout: float = 20.0) -> None:
        await asyncio.wait_for(self.scheduler.join(), timeout)

    def outcomes(self, names: list[str]) -> list[tuple[str, str | None]]:
        return [(self.results[n].outcome, self.results[n].error_kind) for n in names]

    def host(self, server: Server) -> dict[str, Any]:
        stats = {h["host"]: h for h in self.scheduler.host_statistics()}
        return stats[server.authority]


@asynccontextmanager
async def batch(limits: Limits = UNPACED, retry: Retry = QUICK, **kw: Any) -> AsyncIterator[Batch]:
    async with RdapClient(timeouts=TIMEOUTS) as client:
        attempts: list[Attempt] = []
        scheduler = Scheduler(
            client,
            batch_id="test",
            limits=limits,
            retry=retry,
            on_attempt=attempts.append,
            seed=7,
            **kw,
        )
        b = Batch(scheduler, attempts=attempts)
        try:
            yield b
        finally:
            await scheduler.aclose()


def names(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}.test" for i in range(n)]


# -- circuit breaker ---------------------------------------------------------------------------


async def test_dead_host_opens_the_breaker_and_fails_its_rows_fast_others_unaffected():
    live = Server()
    dead = f"http://127.0.0.1:{closed_port()}"
    retry = Retry(
        max_attempts=4,
        backoff_initial_s=0.05,
        backoff_max_s=0.1,
        dead_host_after=3,
        breaker_cooldown_s=30.0,
    )
    async with serving(live), batch(UNPACED, retry) as b:
        dead_names, live_names = names("dead", 30), names("live", 20)
        t0 = time.monotonic()
        b.submit(dead, dead_names)
        b.submit(live.base, live_names)
        await b.join()
        elapsed = time.monotonic() - t0
    assert b.outcomes(dead_names) == [("error", "connection_error")] * 30
    assert b.outcomes(live_names) == [("ok", None)] * 20
    assert live.requests == 20
    dead_attempts = [a for a in b.attempts if a.url.startswith(dead)]
    # Without a breaker: 30 rows x 4 attempts. With it: the failures that opened it, plus
    # the requests already waiting for a slot at that moment.
    assert 3 <= len(dead_attempts) <= 3 + UNPACED.per_host_concurrency
    assert any(a.decision == "breaker_open" for a in dead_attempts)
    assert all(a.status is None and a.error_kind == "connection_error" for a in dead_attempts)
    assert elapsed < 5.0
    opened = [r for r in b.results.values() if "circuit open" in (r.error_detail or "")]
    assert len(opened) >= 30 - len(dead_attempts)
    stats = {h["host"]: h for h in b.scheduler.host_statistics()}
    assert stats[dead.removeprefix("http://")]["breaker"] == "open"


async def test_timeouts_do_not_open_the_breaker():
    # A stall (ours or the host's) times out everything in flight at once; that is no
    # verdict on the host, so the rows are retried and end ok.
    slow_first = 6

    async def stalling(server: Server, request: web.Request, name: str) -> web.StreamResponse:
        if server.requests <= slow_first:
            await asyncio.sleep(1.0)  # past the client's total timeout below
        return domain(name)

    server = Server(stalling)
    retry = Retry(max_attempts=4, backoff_initial_s=0.01, backoff_max_s=0.02, dead_host_after=2)
    async with serving(server), RdapClient(timeouts=Timeouts(connect_s=1.0, total_s=0.3)) as c:
        attempts: list[Attempt] = []
        scheduler = Scheduler(c, batch_id="t", limits=UNPACED, retry=retry,
                              on_attempt=attempts.append)  # fmt: skip
        b = Batch(scheduler, attempts=attempts)
        todo = names("s", 4)
        b.submit(server.base, todo)
        await b.join()
    assert b.outcomes(todo) == [("ok", None)] * 4
    assert sum(a.error_kind == "timeout" for a in attempts) >= 3
    assert not any(a.decision == "breaker_open" for a in attempts)


async def test_a_probe_that_times_out_retries_itself_without_hanging_the_host():
    async def handler(server: Server, request: web.Request, name: str) -> web.StreamResponse:
        n = server.requests
        if n <= 2:
            return rdap_error(500, "Internal Server Error", "down")  # opens the breaker
        if n == 3:
            await asyncio.sleep(1.0)  # the half-open probe times out once
        return domain(name)

    server = Server(handler)
    retry = Retry(
        max_attempts=4, backoff_initial_s=0.01, backoff_max_s=0.02, dead_host_after=2,
        breaker_cooldown_s=0.2,
    )  # fmt: skip
    async with serving(server), RdapClient(timeouts=Timeouts(connect_s=1.0, total_s=0.3)) as c:
        attempts: list[Attempt] = []
        scheduler = Scheduler(c, batch_id="t", limits=UNPACED, retry=retry,
                              on_attempt=attempts.append)  # fmt: skip
        b = Batch(scheduler, attempts=attempts)
        b.submit(server.base, ["first.test"])
        await asyncio.wait_for(b.join(), timeout=5)
        await asyncio.sleep(0.3)  # past the cool-down: the next rows probe
        later = names("later", 4)
        b.submit(server.base, later)
        await asyncio.wait_for(b.join(), timeout=10)  # a hang fails here
    assert b.outcomes(later) == [("ok", None)] * 4
    assert any(a.error_kind == "timeout" for a in attempts)
    assert scheduler.host_statistics()[0]["breaker"] == "closed"


ONE_AT_A_TIME = Limits(per_host_rate_per_s=None, per_host_concurrency=1)


def quick_breaker(max_attempts: int, dead_host_after: int) -> Retry:
    """Quick retries; the breaker opens after ``dead_host_after`` failures for 0.3 s."""
    return Retry(
        max_attempts=max_attempts,
        backoff_initial_s=0.01,
        backoff_max_s=0.02,
        dead_host_after=dead_host_after,
        breaker_cooldown_s=0.3,
    )


async def test_breaker_opens_on_5xx_and_a_probe_after_cooldown_closes_it():
    failing_first = 3

    async def flaky(server: Server, request: web.Request, name: str) -> web.StreamResponse:
        if server.requests <= failing_first:
            return rdap_error(500, "Internal Server Error", "database unavailable")
        return domain(name)

    server = Server(flaky)
    async with serving(server), batch(ONE_AT_A_TIME, quick_breaker(4, failing_first)) as b:
        first = names("a", 4)
        b.submit(server.base, first)
        await b.join()
        assert b.outcomes(first) == [("error", "http_error")] * 4
        assert server.requests == failing_first  # the breaker stopped the retries
        assert [a.decision for a in b.attempts][-1] == "breaker_open"
        assert b.host(server)["breaker"] == "open"
        # While open, new rows fail at once without a request.
        b.submit(server.base, ["during.test"])
        await b.join()
        assert b.outcomes(["during.test"]) == [("error", "http_error")]
        assert server.requests == failing_first
        # After the cool-down one probe goes out; its answer closes the breaker.
        await asyncio.sleep(0.35)
        later = names("b", 3)
        b.submit(server.base, later)
        await b.join()
    assert b.outcomes(later) == [("ok", None)] * 3
    assert server.requests == failing_first + 3
    assert b.host(server)["breaker"] == "closed"


async def test_a_failed_probe_reopens_the_breaker_for_twice_as_long():
    async def flaky(server: Server, request: web.Request, name: str) -> web.StreamResponse:
        if server.requests <= 3:  # two failures open it, the third is the failed probe
            return web.Response(status=502, text="bad gateway")
        return domain(name)

    server = Server(flaky)
    async with serving(server), batch(ONE_AT_A_TIME, quick_breaker(2, 2)) as b:
        b.submit(server.base, ["one.test"])
        await b.join()
        assert server.requests == 2 and b.host(server)["breaker"] == "open"
        await asyncio.sleep(0.35)
        b.submit(server.base, ["probe.test"])
        await b.join()
        assert server.requests == 3 and b.host(server)["breaker"] == "open"
        await asyncio.sleep(0.35)  # past the first cool-down, not the doubled one
        b.submit(server.base, ["early.test"])
        await b.join()
        assert server.requests == 3
        await asyncio.sleep(0.35)
        b.submit(server.base, ["late.test"])
        await b.join()
    assert b.outcomes(["probe.test", "early.test", "late.test"]) == [
        ("error", "http_error"),
        ("error", "http_error"),
        ("ok", None),
    ]
    assert server.requests == 4 and b.host(server)["breaker"] == "closed"


# -- priorities ------------------------------------------------------------------------------------


def test_priority_index():
    assert [priority_index(p) for p in PRIORITIES] == [0, 1, 2, 3]
    assert priority_index(None) == priority_index("normal") == 2
    assert priority_index(" Critical ") == 0 and priority_index(3) == 3
    for bad in ("urgent", 4, -1, True, 1.0):
        with pytest.raises(ValueError):
            priority_index(bad)  # type: ignore[arg-type]


async def test_higher_priority_names_are_sent_first_at_a_busy_host():
    server = Server()
    async with serving(server):
        limits = Limits(hosts={server.authority: {"rate_per_s": 40, "concurrency": 1}})
        async with batch(limits) as b:
            low, normal, critical = names("low", 6), names("normal", 4), names("crit", 4)
            b.submit(server.base, low, priority="low")
            b.submit(server.base, normal)
            b.submit(server.base, critical, priority="critical")
            await b.join()
    # Everything was queued before the first request went out: strict priority order.
    assert server.names == critical + normal + low
    assert [a.priority for a in b.attempts] == ["critical"] * 4 + ["normal"] * 4 + ["low"] * 6
    assert all(r.outcome == "ok" for r in b.results.values())


async def test_critical_names_jump_the_queue_of_a_running_batch():
    server = Server()
    async with serving(server):
        limits = Limits(hosts={server.authority: {"rate_per_s": 20, "concurrency": 1}})
        async with batch(limits) as b:
            low, critical = names("low", 10), names("crit", 3)
            b.submit(server.base, low, priority="low")
            await asyncio.sleep(0.12)  # a few low names are out
            sent_before = server.requests
            b.submit(server.base, critical, priority="critical")
            await b.join()
    assert 1 <= sent_before < 8
    order = server.names
    first = order.index(critical[0])
    # At most the low request already holding the slot goes before them.
    assert first <= sent_before + 1
    assert order[first : first + 3] == critical
    assert len(order) == 13 and order[first + 3 :] and all(n in low for n in order[first + 3 :])


# -- quota, block and daily budget -----------------------------------------------------------


async def _exhausting_host_is_stopped(answer: Callable[[], web.Response], kind: str) -> None:
    ok_first = 2

    async def handler(server: Server, request: web.Request, name: str) -> web.StreamResponse:
        if server.requests <= ok_first:
            return domain(name)
        return answer()

    limited, other = Server(handler), Server()
    limits = Limits(per_host_rate_per_s=None, per_host_concurrency=2)
    async with serving(limited, other), batch(limits) as b:
        mine, theirs = names("q", 40), names("o", 15)
        t0 = time.monotonic()
        b.submit(limited.base, mine)
        b.submit(other.base, theirs)
        await b.join()
        elapsed = time.monotonic() - t0
    outcomes = b.outcomes(mine)
    assert outcomes.count(("ok", None)) == ok_first
    assert outcomes.count(("error", "rate_limited")) == 40 - ok_first
    assert b.outcomes(theirs) == [("ok", None)] * 15
    # No retry storm: the answer that said so, plus what was already in flight.
    assert limited.requests <= ok_first + limits.per_host_concurrency
    assert elapsed < 3.0
    signalled = [a for a in b.attempts if a.signal is not None]
    assert signalled and all(a.signal == kind for a in signalled)
    assert all(a.decision == "stop_host" and a.error_kind == "rate_limited" for a in signalled)
    assert b.host(limited)["exhausted"] and b.host(other)["exhausted"] is None
    detail = next(r.error_detail for r in b.results.values() if r.error_kind == "rate_limited")
    assert detail and limited.authority in detail


async def test_quota_by_words_stops_the_host_without_a_retry_storm():
    await _exhausting_host_is_stopped(
        lambda: rdap_error(429, "Too Many Requests", "Daily query quota exceeded."), "quota"
    )


async def test_quota_by_a_retry_after_hours_away_stops_the_host():
    await _exhausting_host_is_stopped(
        lambda: rdap_error(429, "Too Many Requests", "Slow down.", **{"Retry-After": "7200"}),
        "quota",
    )


async def test_block_page_stops_the_host():
    page = "<html><body><h1>Access blocked</h1><p>Your IP address has been blocked.</p></body>"
    await _exhausting_host_is_stopped(
        lambda: web.Response(status=403, text=page, content_type="text/html"), "block"
    )


async def _budget_run(budget: int, used: int, n: int = 10) -> tuple[Server, Batch]:
    server = Server()
    async with serving(server):
        limits = Limits(
            per_host_rate_per_s=None,
            per_host_concurrency=1,
            hosts={server.authority: {"daily_budget": budget}},
        )
        seen: list[str] = []

        def budget_used(host: str) -> int:
            seen.append(host)
            return used

        async with batch(limits, budget_used=budget_used) as b:
            b.submit(server.base, names("n", n))
            await b.join()
    assert seen == [server.authority]  # asked once, for the host with a budget
    return server, b


async def test_a_used_up_daily_budget_sends_nothing():
    server, b = await _budget_run(budget=3, used=5)
    assert server.requests == 0
    assert b.outcomes(names("n", 10)) == [("error", "rate_limited")] * 10
    assert "daily budget" in (b.results["n0.test"].error_detail or "")


@pytest.mark.parametrize(("budget", "used"), [(3, 0), (3, 1)])
async def test_daily_budget_caps_the_requests_sent(budget, used):
    server, b = await _budget_run(budget=budget, used=used)
    allowed = budget - used
    assert server.requests == allowed
    outcomes = b.outcomes(names("n", 10))
    assert outcomes.count(("ok", None)) == allowed
    assert outcomes.count(("error", "rate_limited")) == 10 - allowed


# -- throttles that are retried ---------------------------------------------------------------

HTML_403 = (
    "<html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1>"
    "<p>Number of allowed queries exceeded.</p></body></html>"
)
NOTICE_200 = {
    "rdapConformance": ["rdap_level_0"],
    "notices": [
        {
            "title": "Rate Limit Notice",
            "description": ["Query rate limit exceeded. Please slow down and retry later."],
        }
    ],
}


def throttle_answer(style: str, wait: str) -> web.Response:
    headers = {"Retry-After": wait}
    if style == "403-html":
        return web.Response(status=403, text=HTML_403, content_type="text/html", headers=headers)
    if style == "422-rdap":
        return rdap_error(422, "Too fast", "Queries are being sent too fast; slow down.", **headers)
    if style == "200-notice":
        body = json.dumps(NOTICE_200).encode()
        return web.Response(body=body, content_type=RDAP_JSON, headers=headers)
    return rdap_error(429, "Too Many Requests", "Query rate limit exceeded.", **headers)


@pytest.mark.parametrize("style", ["429", "403-html", "422-rdap", "200-notice"])
async def test_throttles_are_retried_after_retry_after_and_end_ok(style):
    wait_s = 0.3
    throttled_first = 2

    async def handler(server: Server, request: web.Request, name: str) -> web.StreamResponse:
        if server.requests <= throttled_first:
            return throttle_answer(style, str(wait_s))
        return domain(name)

    server = Server(handler)
    async with serving(server):
        limits = Limits(per_host_rate_per_s=50.0, per_host_concurrency=2)
        async with batch(limits) as b:
            todo = names("t", 5)
            b.submit(server.base, todo, priority="high")
            await b.join()
    assert b.outcomes(todo) == [("ok", None)] * 5
    throttled = [a for a in b.attempts if a.throttled]
    assert len(throttled) == throttled_first
    for a in throttled:
        assert a.signal == "throttle" and a.error_kind == "rate_limited"
        assert a.retry_after_s == pytest.approx(wait_s)
        assert a.decision in ("cut", "same_event")
    assert throttled[0].decision == "cut"
    # The host was parked: nothing went out until Retry-After had passed.
    after = server.times[throttled_first:]
    assert after and min(after) - server.times[throttled_first - 1] >= wait_s - 0.05
    # The throttled names were tried again (attempt numbers count the throttles).
    retried = {a.query for a in throttled}
    assert all(b.results[q].attempts >= 2 for q in retried)
    # Every attempt row carries the scheduler's view at send time.
    for a in b.attempts:
        assert a.priority == "high"
        assert a.in_flight is not None and 1 <= a.in_flight <= 16
        assert a.rate_limit is not None and a.concurrency_limit is not None
        assert a.host == server.authority
    ok_rows = [a for a in b.attempts if not a.throttled]
    assert all(a.signal is None and a.status == 200 for a in ok_rows)
    stats = b.host(server)
    assert stats["throttle_events"] >= 1 and stats["throttled_at_rate_per_s"] is not None


async def test_a_host_that_keeps_throttling_ends_rate_limited_after_max_throttled():
    async def handler(server: Server, request: web.Request, name: str) -> web.StreamResponse:
        return rdap_error(429, "Too Many Requests", "Slow down.", **{"Retry-After": "0.05"})

    server = Server(handler)
    retry = Retry(max_throttled=3, backoff_initial_s=0.01, backoff_max_s=0.02)
    async with serving(server), batch(Limits(per_host_rate_per_s=50.0), retry) as b:
        b.submit(server.base, ["x.test"])
        await b.join()
    assert b.outcomes(["x.test"]) == [("error", "rate_limited")]
    assert server.requests == retry.max_throttled + 1
    assert [a.attempt for a in b.attempts] == [1, 2, 3, 4]


async def test_host_statistics_and_in_flight_at_a_concurrent_host():
    async def slow(server: Server, request: web.Request, name: str) -> web.StreamResponse:
        await asyncio.sleep(0.05)
        return domain(name)

    server = Server(slow)
    async with serving(server):
        limits = Limits(hosts={server.authority: {"rate_per_s": 80, "concurrency": 4}})
        async with batch(limits) as b:
            b.submit(server.base, names("c", 16))
            await b.join()
    in_flight = [a.in_flight or 0 for a in b.attempts]
    assert max(in_flight) == 4 and min(in_flight) >= 1
    assert all(a.concurrency_limit == 4 for a in b.attempts)
    stats = b.host(server)
    assert stats["requests"] == stats["answered"] == 16
    assert stats["phase"] == "pinned" and stats["rate_per_s"] == 80
    assert stats["breaker"] == "closed" and stats["exhausted"] is None


# -- FairShare -----------------------------------------------------------------------------------


async def _hold(fs: FairShare, host: str, log: list[str], release: asyncio.Event) -> None:
    async with fs.slot(host):
        log.append(host)
        await release.wait()


async def test_fairshare_gives_a_freed_slot_to_the_host_with_fewest_in_flight():
    fs = FairShare(2)
    log: list[str] = []
    gates = [asyncio.Event() for _ in range(8)]
    tasks = [asyncio.create_task(_hold(fs, "a", log, gates[i])) for i in range(6)]
    await asyncio.sleep(0)
    assert fs.in_flight == 2 and fs.in_flight_for("a") == 2 and fs.waiting() == 4
    tasks.append(asyncio.create_task(_hold(fs, "b", log, gates[6])))  # queued last
    await asyncio.sleep(0)
    assert fs.waiting() == 5
    gates[0].set()  # one of a's slots frees: b (0 in flight) gets it, not a's 3rd waiter
    await asyncio.sleep(0.01)
    assert log == ["a", "a", "b"]
    assert fs.in_flight_for("b") == 1 and fs.in_flight_for("a") == 1
    for gate in gates:
        gate.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 2)
    assert log.count("a") == 6 and log.count("b") == 1
    assert fs.in_flight == 0 and fs.waiting() == 0


async def test_fairshare_cancelled_waiters_do_not_leak_slots():
    fs = FairShare(1)
    log: list[str] = []
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(fs, "a", log, release))
    await asyncio.sleep(0)
    waiters = [asyncio.create_task(_hold(fs, h, log, release)) for h in ("a", "b", "b")]
    await asyncio.sleep(0)
    assert fs.waiting() == 3
    for task in waiters:
        task.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    assert fs.waiting() == 0 and fs.in_flight == 1
    release.set()
    await holder
    assert fs.in_flight == 0
    # Granted, then cancelled before it ran: the slot is handed on, not lost.
    gate = asyncio.Event()
    first = asyncio.create_task(_hold(fs, "a", log, gate))
    await asyncio.sleep(0)
    granted_then_cancelled = asyncio.create_task(_hold(fs, "b", log, gate))
    third = asyncio.create_task(_hold(fs, "c", log, gate))
    await asyncio.sleep(0)
    gate.set()
    await asyncio.sleep(0)  # first exits; b's future is resolved, b has not run yet
    granted_then_cancelled.cancel()
    await asyncio.wait_for(asyncio.gather(first, third), 2)
    await asyncio.gather(granted_then_cancelled, return_exceptions=True)
    assert log[-2:] == ["a", "c"] and fs.in_flight == 0 and fs.waiting() == 0
    async with fs.slot("z"):
        assert fs.in_flight == 1


async def test_fairshare_capacity_can_change_at_run_time():
    fs = FairShare(1)
    log: list[str] = []
    release = asyncio.Event()
    tasks = [asyncio.create_task(_hold(fs, h, log, release)) for h in ("a", "b", "c", "d")]
    await asyncio.sleep(0)
    assert fs.in_flight == 1 and fs.waiting() == 3
    fs.set_capacity(3)
    await asyncio.sleep(0)
    assert fs.in_flight == 3 and fs.waiting() == 1 and fs.capacity == 3
    fs.set_capacity(1)  # shrinking takes effect as slots free, never by revoking
    assert fs.in_flight == 3
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 2)
    assert sorted(log) == ["a", "b", "c", "d"] and fs.in_flight == 0
    with pytest.raises(ValueError):
        fs.set_capacity(0)
    with pytest.raises(ValueError):
        FairShare(0)


async def test_fairshare_cancellation_race_does_not_lose_a_newer_waiter():
    fs = FairShare(1)
    log: list[str] = []
    release = asyncio.Event()
    release.set()
    holder = fs.slot("c")
    await holder.__aenter__()
    t1 = asyncio.create_task(_hold(fs, "a", log, release))
    tb = asyncio.create_task(_hold(fs, "b", log, release))
    await asyncio.sleep(0)
    assert fs.waiting() == 2
    t3 = asyncio.create_task(_hold(fs, "a", log, release))  # runs before t1 sees its cancel
    t1.cancel()
    await holder.__aexit__(None, None, None)  # _grant drops t1's (cancelled) queue, grants b
    await asyncio.wait_for(asyncio.gather(tb, t3), 0.3)
    assert log == ["b", "a"]


async def test_a_job_waiting_out_its_own_backoff_does_not_hold_its_hosts_worker():
    # One worker (concurrency 1) and a 500 on the third request, retried after a backoff
    # (full jitter under 3 s; about 1 s with this seed): the host's other requests go on
    # meanwhile at its 20/s. Held by the sleeper, the worker sent nothing until then.
    async def handler(server: Server, request: web.Request, name: str) -> web.StreamResponse:
        if server.requests == 3:
            return rdap_error(500, "Internal Server Error", "Oops.")
        return domain(name)

    server = Server(handler)
    retry = Retry(backoff_initial_s=3.0, backoff_max_s=3.0, retry_after_max_s=2.0)
    limits = Limits(per_host_rate_per_s=20.0, per_host_concurrency=1, per_host_max_concurrency=1)
    async with serving(server), batch(limits, retry) as b:
        todo = names("e", 30)
        b.submit(server.base, todo)
        await b.join()
    assert b.outcomes(todo) == [("ok", None)] * 30
    t500 = server.times[2]
    retried = server.names.index(server.names[2], 3)
    gap = server.times[retried] - t500
    assert gap >= 0.5
    assert retried - 3 >= 0.5 * 20.0 * gap


async def _two_503s(errors_first: int) -> tuple[Batch, Server, list[str]]:
    """60 names at 20/s, 2 in flight; after ``errors_first`` answers of 500 and 502, a
    503 + Retry-After 1 as the 4th and the 41st answer of the rest."""

    async def handler(server: Server, request: web.Request, name: str) -> web.StreamResponse:
        if server.requests <= errors_first:
            return rdap_error(500 + 2 * (server.requests % 2 == 0), "Server Error", "Oops.")
        if server.requests - errors_first in (3, 40):
            return rdap_error(503, "Service Unavailable", "Try later.", **{"Retry-After": "1"})
        return domain(name)

    server = Server(handler)
    async with serving(server):
        limits = Limits(per_host_rate_per_s=20.0, per_host_concurrency=2)
        async with batch(limits) as b:
            todo = names("f", 60)
            b.submit(server.base, todo)
            await b.join()
    assert b.outcomes(todo) == [("ok", None)] * 60
    return b, server, [a.status for a in b.attempts[:errors_first]]


async def test_a_lone_503_delays_its_request_a_second_within_a_minute_parks_the_host():
    # A 503 + Retry-After 1 among ordinary answers: alone, a passing fault, so its
    # request waits the second it was told while the host goes on. The second within a
    # minute is handled as a 429 would be (a registry throttling with 503 is otherwise
    # refused over and over on its way to a block): the host waits out its second.
    b, server, _ = await _two_503s(0)
    first, second = [a for a in b.attempts if a.status == 503]
    assert (first.decision, second.decision) == ("park", "cut")
    t1, t2 = server.times[2], server.times[39]
    assert len([t for t in server.times[3:] if 0.05 < t - t1 < 0.9]) >= 5  # went on
    assert len([t for t in server.times[40:] if 0.05 < t - t2 < 0.9]) <= 1  # parked
    retried = server.names.index(first.query, 3)
    assert server.times[retried] - t1 >= 0.95
    assert not b.host(server)["faults_503"]


async def test_a_host_that_answered_500_and_502_has_its_503s_read_as_faults():
    # The same host, but a 500 and a 502 came first: a backend failing so fails with 503
    # too, so the second 503 only delays its request (no cut, no park).
    b, server, first_statuses = await _two_503s(2)
    assert first_statuses == [500, 502]
    faulted = [a for a in b.attempts if a.status == 503]
    assert [a.decision for a in faulted] == ["park", "park"]
    assert b.host(server)["faults_503"] and b.host(server)["server_errors"] == 2
    t2 = server.times[41]
    assert len([t for t in server.times[42:] if 0.05 < t - t2 < 0.9]) >= 5  # went on


async def test_503s_that_come_at_any_rate_are_learned_as_faults_and_delay_only_their_request():
    # Every 12th answer a 503 + Retry-After 1, whatever the rate: from the second each
    # is a cut until one comes where no throttle could; then the cuts are taken back
    # and a 503 delays only its own request (decision "park"), the host going on.
    async def handler(server: Server, request: web.Request, name: str) -> web.StreamResponse:
        if server.requests % 12 == 0:
            return rdap_error(503, "Service Unavailable", "Try later.", **{"Retry-After": "1"})
        return domain(name)

    server = Server(handler)
    async with serving(server):
        limits = Limits(per_host_rate_per_s=20.0, per_host_concurrency=4)
        async with batch(limits) as b:
            todo = names("f", 150)
            b.submit(server.base, todo)
            await b.join(timeout=60.0)
    assert b.outcomes(todo) == [("ok", None)] * 150
    assert b.host(server)["faults_503"]
    faulted = [a for a in b.attempts if a.status == 503]
    decisions = [a.decision for a in faulted]
    assert "cut" in decisions
    first_park = max(i for i, d in enumerate(decisions) if d == "cut") + 1
    assert {a.decision for a in faulted[first_park:]} <= {"park", "same_event"}
    # The host went on after each of those 503s: no park of its own.
    at = [i for i in range(11, server.requests - 30, 12)]
    after = [i for i in at if server.times[i] >= server.times[at[first_park]]]
    assert len(after) >= 3
    for i in after[:3]:
        during = [t for t in server.times[i + 1 :] if t - server.times[i] < 0.9]
        assert len(during) >= 5


# -- referrals ---------------------------------------------------------------------------------


async def test_a_registry_that_refers_is_never_cut_to_what_its_own_queue_needs(monkeypatch):
    # A thin registry's queue can be short while its registrar's is long: cut on a
    # throttle to what its own queue needed, it fed the registrar at that pace (generated
    # seed 8). Once it has referred, a throttle there is weighed against no horizon; the
    # registrar's throttles, and every answer's raise, still are.
    from rdaplab.engine.controller import HostController

    throttles: list[tuple[str, float | None]] = []
    answers: list[tuple[str, float | None]] = []
    on_throttle, on_answer = HostController.on_throttle, HostController.on_answer

    def spy_throttle(self: HostController, **kw: Any) -> str:
        throttles.append((self.limiter.host, kw.get("horizon_s")))
        return on_throttle(self, **kw)

    def spy_answer(self: HostController, **kw: Any) -> str | None:
        answers.append((self.limiter.host, kw.get("horizon_s")))
        return on_answer(self, **kw)

    monkeypatch.setattr(HostController, "on_throttle", spy_throttle)
    monkeypatch.setattr(HostController, "on_answer", spy_answer)

    async def every_sixth_refused(server: Server, request: web.Request, name: str) -> Any:
        if server.requests % 6 == 0:
            return rdap_error(429, "Too Many Requests", "slow down")
        return None

    async def registrar_answer(server: Server, request: web.Request, name: str) -> Any:
        return await every_sixth_refused(server, request, name) or domain(name)

    registrar = Server(registrar_answer)

    async def registry(server: Server, request: web.Request, name: str) -> web.StreamResponse:
        refused = await every_sixth_refused(server, request, name)
        if refused is not None:
            return refused
        doc: dict[str, Any] = {
            "objectClassName": "domain",
            "ldhName": name,
            "rdapConformance": ["rdap_level_0"],
            "links": [
                {"rel": "related", "href": f"{registrar.base}/domain/{name}", "type": RDAP_JSON}
            ],
        }
        return web.Response(body=json.dumps(doc).encode(), content_type=RDAP_JSON)

    reg = Server(registry)
    async with serving(reg, registrar), batch(Limits(per_host_concurrency=2)) as b:
        todo = names("f", 20)
        b.submit(reg.base, todo)
        await b.join()
    assert b.outcomes(todo) == [("ok", None)] * 20
    ours = [h for host, h in throttles if host == reg.authority]
    theirs = [h for host, h in throttles if host == registrar.authority]
    assert len(ours) >= 2 and len(theirs) >= 2
    assert all(h is None for h in ours)  # the first refusal comes after referrals began
    assert all(h is not None for h in theirs)
    assert all(h is not None for host, h in answers)


async def test_a_registrar_counts_the_referrals_still_coming_as_its_backlog():
    # A thin registry refers half its names to a registrar, one at a time (concurrency
    # 1, 10 ms each). The registrar answers at once, so its own queue stays near empty;
    # its backlog (what its controller and the batch's horizon read) also counts what
    # the registry's waiting names will likely refer to it, and shrinks as they do.
    registrar = Server()
    seen: list[tuple[int, int, int]] = []  # (registry backlog, registrar queued, backlog)
    holder: dict[str, Batch] = {}

    async def registry(server: Server, request: web.Request, name: str) -> web.StreamResponse:
        await asyncio.sleep(0.01)
        doc: dict[str, Any] = {
            "objectClassName": "domain",
            "ldhName": name,
            "rdapConformance": ["rdap_level_0"],
        }
        if int(name.split(".")[0].removeprefix("r")) % 2 == 0:
            href = f"{registrar.base}/domain/{name}"
            doc["links"] = [{"rel": "related", "href": href, "type": RDAP_JSON}]
        if server.requests % 10 == 0 and registrar.authority:
            stats = {h["host"]: h for h in holder["b"].scheduler.host_statistics()}
            if registrar.authority in stats:
                ours, theirs = stats[server.authority], stats[registrar.authority]
                seen.append((ours["backlog"], theirs["queued"], theirs["backlog"]))
        return web.Response(body=json.dumps(doc).encode(), content_type=RDAP_JSON)

    reg = Server(registry)
    async with serving(reg, registrar):
        limits = Limits(per_host_rate_per_s=None, per_host_concurrency=1)
        async with batch(limits) as b:
            holder["b"] = b
            todo = names("r", 80)
            b.submit(reg.base, todo)
            await b.join()
            final = {h["host"]: h for h in b.scheduler.host_statistics()}
    assert b.outcomes(todo) == [("ok", None)] * 80
    assert registrar.requests == 40
    assert len(seen) >= 5
    for waiting, queued, backlog in seen:
        # about half the registry's waiting names are on their way (give or take one)
        assert queued + waiting // 2 - 2 <= backlog <= queued + 0.6 * waiting + 2
    assert seen[0][2] > seen[-1][2] >= 0
    assert final[registrar.authority]["backlog"] == 0
