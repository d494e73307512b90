"""Registries' quiet hours: with ``quiet_hours_only``, a host is asked only inside the
hours its profile names, while the other hosts go on."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import rdaplab
from rdaplab import Limits, jobs
from rdaplab.engine import Profile, authority

TEMPLATE = "verisign/google.com-2024.json"
SCENARIO = {
    "seed": 4,
    "registries": [
        {"name": "quiet", "tlds": ["test"], "template": TEMPLATE},
        {"name": "busy", "tlds": ["example"], "template": TEMPLATE},
    ],
}


def window_from_now(start_h: float, end_h: float) -> str:
    """A local-time window from ``start_h`` to ``end_h`` hours from now."""
    now = datetime.now()
    a, b = now + timedelta(hours=start_h), now + timedelta(hours=end_h)
    return f"{a:%H:%M}-{b:%H:%M}"


async def run_until(sim: Any, tmp_path: Path, quiet_hours: str, seconds: float) -> list[Any]:
    """Stream 10 names of each registry for ``seconds``; the rows that finished."""
    boot = sim.write_bootstrap(tmp_path / "boot")
    host = authority(sim.base_url("quiet"))
    limits = Limits(per_host_rate_per_s=None, hosts={host: {"quiet_hours": quiet_hours}})
    names = [f"q{i}.test" for i in range(10)] + [f"b{i}.example" for i in range(10)]
    rows: list[Any] = []

    async def consume() -> None:
        it: Any = rdaplab.stream(
            names, bootstrap=boot, cache=":memory:", limits=limits, progress=False,
            quiet_hours_only=True, batch_interval_s=0.1,
        )  # fmt: skip
        async with contextlib.aclosing(it) as batches:
            async for batch in batches:
                rows.extend(batch.domains.iter_rows(named=True))

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(consume(), seconds)
    return rows


async def test_a_host_outside_its_quiet_hours_is_not_asked_while_the_others_go_on(
    simulator: Any, tmp_path: Path
) -> None:
    sim = await simulator(SCENARIO)
    rows = await run_until(sim, tmp_path, window_from_now(2, 3), seconds=2.0)
    assert sim.stats()["quiet"].requests == 0
    assert sim.stats()["busy"].requests == 10
    assert sorted(r["domain"] for r in rows) == sorted(f"b{i}.example" for i in range(10))


async def test_inside_its_quiet_hours_the_host_is_asked(simulator: Any, tmp_path: Path) -> None:
    sim = await simulator(SCENARIO)
    rows = await run_until(sim, tmp_path, window_from_now(-1, 1), seconds=10.0)
    assert sim.stats()["quiet"].requests == 10
    assert len(rows) == 20


def test_quiet_hours_are_checked_where_they_are_set(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="window"):
        Profile(quiet_hours="late at night")
    job = jobs.submit(["a.test"], cache=tmp_path / "c.duckdb", window="registry")
    status = job.status()
    assert status.window is None  # the job runs whenever a worker is free ...
    row = jobs.ledger.Ledger(tmp_path / "c.duckdb").get(job.id)
    assert row["options"]["quiet_hours_only"] is True  # ... each host in its own hours
