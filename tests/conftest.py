"""Shared fixtures."""

from __future__ import annotations

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
    import os

    os.environ["RDAPLAB_BOOTSTRAP_DIR"] = str(tmp_path_factory.mktemp("bootstrap-refresh"))
    # The same for `rdaplab psl refresh`'s copy of the Public Suffix List.
    os.environ["RDAPLAB_PSL_DIR"] = str(tmp_path_factory.mktemp("psl-refresh"))


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
