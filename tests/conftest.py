"""Shared fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from rdaplab.simulator import Scenario, Simulator

SimulatorFactory = Callable[..., Awaitable[Simulator]]


@pytest.fixture
async def simulator() -> AsyncIterator[SimulatorFactory]:
    """Factory for running loopback simulators, all stopped at teardown.

    ``sim = await simulator()`` serves the default scenario; pass a :class:`Scenario`, a
    scenario file path or a mapping to serve another, plus ``port=`` / ``host=`` keywords.
    """
    started: list[Simulator] = []

    async def make(
        scenario: Scenario | str | Path | Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Simulator:
        sim = Simulator(scenario, **kwargs)
        await sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in reversed(started):
        await sim.stop()
