"""Shared fixtures."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from rdaplab.simulator import Scenario, Simulator


@pytest.fixture(autouse=True, scope="session")
def _isolated_bootstrap_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never read (or refresh) the user's refreshed bootstrap copy.

    ``Bootstrap.load(None)`` prefers ``rdaplab bootstrap refresh``'s copy in the user data
    directory; pointing it at an empty folder keeps every test on the bundled snapshot,
    subprocesses included (they inherit the environment).
    """

    os.environ["RDAPLAB_BOOTSTRAP_DIR"] = str(tmp_path_factory.mktemp("bootstrap-refresh"))
    # The same for `rdaplab psl refresh`'s copy of the Public Suffix List.
    os.environ["RDAPLAB_PSL_DIR"] = str(tmp_path_factory.mktemp("psl-refresh"))


SimulatorFactory = Callable[..., Awaitable[Simulator]]


# Before pytest-timeout (300 s) ends a stalled test, print what every task of its loop
# waits on: the timeout's own dump shows only threads, and an asyncio stall is invisible
# there (one xdist run hung in a stream test with nothing but the loop's select on show).
WATCHDOG_S = float(os.environ.get("RDAPLAB_TEST_WATCHDOG_S", "240"))


def _dump_tasks(loop: asyncio.AbstractEventLoop, what: str) -> None:
    out = sys.__stderr__ or sys.stderr
    tasks = asyncio.all_tasks(loop)
    print(
        f"\n=== watchdog: {what} still running after {WATCHDOG_S:.0f} s; {len(tasks)} tasks ===",
        file=out,
    )
    for task in tasks:
        print(f"--- {task!r}", file=out)
        task.print_stack(limit=12, file=out)
    out.flush()


@pytest.fixture
async def simulator(request: pytest.FixtureRequest) -> AsyncIterator[SimulatorFactory]:
    """Factory for running loopback simulators, all stopped at teardown.

    ``sim = await simulator()`` serves the default scenario; pass a :class:`Scenario`, a
    scenario file path or a mapping to serve another, plus ``port=`` / ``host=`` keywords.
    """
    started: list[Simulator] = []
    loop = asyncio.get_running_loop()
    watchdog = loop.call_later(WATCHDOG_S, _dump_tasks, loop, request.node.nodeid)

    async def make(
        scenario: Scenario | str | Path | Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Simulator:
        sim = Simulator(scenario, **kwargs)
        await sim.start()
        started.append(sim)
        return sim

    try:
        yield make
    finally:
        watchdog.cancel()
        for sim in reversed(started):
            await sim.stop()
