"""Per-client rate limits (``rate_limit.per_client``), from distinct loopback source addresses.

On Linux every 127.0.0.0/8 address is local, so clients bound to 127.0.0.2, 127.0.0.3...
reach a simulator listening on 127.0.0.1 and are seen by it (``request.remote``) as
different clients, as a real registry keys its limits by client IP.
"""

from __future__ import annotations

import asyncio
import random
import re
import socket
from typing import Any

import aiohttp
import pytest

from rdaplab.simulator import Scenario, Simulator
from rdaplab.simulator.registry import ClientBuckets

TEMPLATE = "verisign/google.com-2024.json"
RATE, BURST = 10.0, 2
RUN_S = 2.0
JITTER_S = 0.001
ONE_BUCKET = BURST + RATE * RUN_S  # answers one bucket gives over a run: 22


def one(**rate_limit: Any) -> dict[str, Any]:
    """A one-registry scenario limited to RATE/s with BURST, plus ``rate_limit`` extras."""
    limit = {"rate_per_s": RATE, "burst": BURST, **rate_limit}
    reg = {"name": "reg", "tlds": ["test"], "template": TEMPLATE, "rate_limit": limit}
    return {"seed": 7, "registries": [reg]}


def _bindable(addr: str) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((addr, 0))
        except OSError:
            return False
    return True


needs_loopback_aliases = pytest.mark.skipif(
    not (_bindable("127.0.0.2") and _bindable("127.0.0.3")),
    reason="127.0.0.2 / 127.0.0.3 are not local addresses here (Linux has all of 127/8)",
)


async def hammer(url: str, addr: str, until: float, rng: random.Random) -> dict[str, int]:
    """Send from ``addr`` one request after another until loop time ``until``; count statuses.

    Up to JITTER_S between requests, still hundreds a second against a limit of ten: two
    tight loops on one event loop fall into lockstep, and then the fixed order in which the
    loop serves their sockets, not chance, decides who gets each refilled token.
    """
    counts: dict[str, int] = {"ok": 0, "throttled": 0}
    connector = aiohttp.TCPConnector(local_addr=(addr, 0))
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(connector=connector) as session:
        while loop.time() < until:
            async with session.get(url) as resp:
                await resp.read()
                assert resp.status in (200, 429), resp.status
                counts["ok" if resp.status == 200 else "throttled"] += 1
            await asyncio.sleep(rng.uniform(0.0, JITTER_S))
    return counts


async def run_clients(sim: Simulator, addrs: list[str]) -> list[dict[str, int]]:
    """One client per entry of ``addrs`` (repeats: several clients on one address), all
    sending as fast as they can for RUN_S."""
    url = sim.base_url("reg") + "domain/a.test"
    until = asyncio.get_running_loop().time() + RUN_S
    clients = (hammer(url, a, until, random.Random(i)) for i, a in enumerate(addrs))
    return list(await asyncio.gather(*clients))


async def stats_json(sim: Simulator) -> dict[str, Any]:
    """``GET /_simulator/stats``, as a simulator in another process is asked."""
    url = sim.base_url("reg").rsplit("/", 2)[0] + "/_simulator/stats"
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        assert resp.status == 200
        return dict((await resp.json())["reg"])


@needs_loopback_aliases
async def test_each_client_address_gets_its_own_bucket(simulator):
    sim = await simulator(one(per_client=True))
    a, b = await run_clients(sim, ["127.0.0.2", "127.0.0.3"])
    print(f"per_client, two addresses: {a} {b} (one bucket: {ONE_BUCKET:.0f})")
    for got in (a, b):
        # Each about RATE * RUN_S + BURST (22), not half of it; and clearly throttled.
        assert 0.75 * ONE_BUCKET <= got["ok"] <= ONE_BUCKET + 1
        assert got["throttled"] > got["ok"]
    st = sim.stats()["reg"]
    assert st.by_status[200] == a["ok"] + b["ok"]
    assert st.throttled == a["throttled"] + b["throttled"]
    rows = (await stats_json(sim))["by_client"]
    assert set(rows) == {"127.0.0.2", "127.0.0.3"}
    for addr, got in (("127.0.0.2", a), ("127.0.0.3", b)):
        row = rows[addr]
        assert row["by_status"] == {"200": got["ok"], "429": got["throttled"]}
        assert row["requests"] == got["ok"] + got["throttled"]
        assert row["throttled"] == got["throttled"]


@needs_loopback_aliases
async def test_clients_on_one_address_share_its_bucket(simulator):
    sim = await simulator(one(per_client=True))
    a, b = await run_clients(sim, ["127.0.0.2", "127.0.0.2"])
    print(f"per_client, one address twice: {a} {b} (one bucket: {ONE_BUCKET:.0f})")
    total = a["ok"] + b["ok"]
    assert 0.75 * ONE_BUCKET <= total <= ONE_BUCKET + 1  # one bucket between them
    assert min(a["ok"], b["ok"]) >= 3  # each about half: ~21 tokens, each won at random
    rows = sim.stats()["reg"].by_client
    assert list(rows) == ["127.0.0.2"]
    assert rows["127.0.0.2"].by_status == {200: total, 429: a["throttled"] + b["throttled"]}


@needs_loopback_aliases
async def test_without_per_client_every_address_shares_one_bucket(simulator):
    sim = await simulator(one())
    a, b = await run_clients(sim, ["127.0.0.2", "127.0.0.3"])
    print(f"shared bucket, two addresses: {a} {b} (one bucket: {ONE_BUCKET:.0f})")
    total = a["ok"] + b["ok"]
    assert 0.75 * ONE_BUCKET <= total <= ONE_BUCKET + 1
    assert min(a["ok"], b["ok"]) >= 3
    stats = await stats_json(sim)
    assert stats["by_client"] == {}  # only per_client registries count per address
    assert stats["throttled"] == a["throttled"] + b["throttled"]


@pytest.mark.parametrize("value", ["yes", 1, 0, None, [True]])
def test_scenario_rejects_a_non_bool_per_client(value):
    with pytest.raises(ValueError, match=re.escape("rate_limit per_client must be true or false")):
        Scenario.load(one(per_client=value))


def test_scenario_per_client_defaults_to_false():
    assert Scenario.load(one(per_client=True)).registries[0].rate_per_client is True
    assert Scenario.load(one(per_client=False)).registries[0].rate_per_client is False
    assert Scenario.load(one()).registries[0].rate_per_client is False
    with pytest.raises(ValueError, match="unknown field"):  # it belongs in rate_limit
        Scenario.load({"registries": [{"name": "x", "tlds": ["t"], "template": TEMPLATE,
                                       "per_client": True}]})  # fmt: skip


def test_lower_bound_says_the_rate_term_is_per_client():
    names = [f"n{i}.test" for i in range(12)]
    shared = Simulator(one()).lower_bound(names)["hosts"]["reg"]
    mine = Simulator(one(per_client=True)).lower_bound(names)["hosts"]["reg"]
    assert shared["per_client"] is False and mine["per_client"] is True
    # For one client address the bound is the same: (12 - 2) / 10 per s.
    assert mine["bound_s"] == shared["bound_s"] == pytest.approx(1.0)
    assert mine["binding"] == shared["binding"] == "rate"
    unlimited = {"seed": 1, "registries": [{"name": "reg", "tlds": ["test"], "template": TEMPLATE}]}
    assert Simulator(unlimited).lower_bound(names)["hosts"]["reg"]["per_client"] is False


def test_client_buckets_forget_full_buckets_and_stay_under_the_cap():
    buckets = ClientBuckets(rate=1.0, burst=2.0, cap=3)
    assert [buckets.take("a", 0.0) for _ in range(3)] == [0.0, 0.0, 1.0]  # a's own bucket
    assert buckets.take("b", 0.0) == 0.0  # b starts full
    assert buckets.take(None, 0.5) == 0.0  # no address: one "unknown" client
    assert list(buckets.buckets) == ["a", "b", "unknown"]
    # d is new and the cap is 3: the least recently used (a) is forgotten...
    assert buckets.take("d", 1.0) == 0.0
    assert list(buckets.buckets) == ["b", "unknown", "d"]
    # ...and starts full again, though its own would have had only one token by now.
    assert [buckets.take("a", 1.0) for _ in range(3)] == [0.0, 0.0, 1.0]
    # Idle for burst / rate = 2 s, a bucket is full again, so it is dropped: b at t=2.
    buckets.take("d", 2.0)
    assert list(buckets.buckets) == ["unknown", "a", "d"]
    buckets.take("d", 10.0)
    assert list(buckets.buckets) == ["d"]
