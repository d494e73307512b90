"""The per-host circuit breaker on its own (the scheduler's use of it: test_scheduler.py)."""

from __future__ import annotations

import asyncio

from rdaplab.engine.breaker import Breaker
from rdaplab.engine.config import Retry
from rdaplab.errors import FetchError

RETRY = Retry(dead_host_after=2, breaker_cooldown_s=0.05, breaker_max_cooldown_s=0.15)
DOWN = FetchError("connection_error", "refused")


def never() -> bool:
    return False


async def test_opens_after_consecutive_failures_and_refuses_until_the_cooldown():
    breaker = Breaker("rdap.example.net:443", RETRY)
    assert breaker.failure("connection_error", DOWN, probe=False) is None
    breaker.ok(probe=False)  # an answer resets the count
    assert breaker.failure("connection_error", DOWN, probe=False) is None
    opened = breaker.failure("http_error", FetchError("http_error", "HTTP 503"), probe=False)
    assert opened is not None and opened.kind == "http_error"
    assert breaker.state == "open" and "after 2 consecutive failures (HTTP 503)" in opened.detail
    refusal = breaker.refusal()
    assert refusal is not None and refusal.detail == opened.detail
    assert not await breaker.gate(object(), never)
    await asyncio.sleep(0.06)
    assert breaker.refusal() is None


async def test_one_probe_after_the_cooldown_others_wait_for_its_verdict():
    breaker = Breaker("h:443", RETRY)
    breaker.open("connection_error", DOWN, again=False)
    await asyncio.sleep(0.06)
    probe = object()
    assert await breaker.gate(probe, never) and breaker.state == "half_open"
    breaker.probe_owner = probe
    waiter = asyncio.create_task(breaker.gate(object(), never))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    breaker.ok(probe=True)
    assert await waiter and breaker.state == "closed"


async def test_a_failed_probe_doubles_the_cooldown_up_to_the_maximum():
    breaker = Breaker("h:443", RETRY)
    breaker.open("timeout", DOWN, again=False)
    assert breaker.cooldown_s == 0.05 and breaker.kind == "timeout"
    breaker.state = "half_open"
    assert breaker.failure("connection_error", DOWN, probe=True) is not None
    assert breaker.cooldown_s == 0.1
    breaker.state = "half_open"
    breaker.failure("connection_error", DOWN, probe=True)
    assert breaker.cooldown_s == 0.15  # breaker_max_cooldown_s


async def test_a_probe_ending_without_a_verdict_lets_the_waiters_recheck():
    breaker = Breaker("h:443", RETRY)
    probe = object()
    breaker.state, breaker.probe_owner = "half_open", probe
    breaker.job_ended(object(), exhausted=False)  # not the probe: nothing changes
    assert breaker.state == "half_open" and not breaker.probe_done.is_set()
    breaker.job_ended(probe, exhausted=False)
    assert breaker.state == "open" and breaker.probe_owner is None
    assert breaker.probe_done.is_set()
    assert not await breaker.gate(object(), lambda: True)  # an exhausted host: never
