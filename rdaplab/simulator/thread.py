"""Synchronous entry points: :class:`SimulatorThread` and :func:`run_forever`."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rdaplab.simulator.domains import ExpectedDomain
from rdaplab.simulator.objects import ExpectedObject
from rdaplab.simulator.registry import RegistryStats
from rdaplab.simulator.scenario import RegistrySpec, ScenarioSource
from rdaplab.simulator.server import Simulator


class SimulatorThread:
    """The same simulator served from a background thread with its own event loop.

    For synchronous code (the CLI demo, subprocess tests). Use as a context manager or
    call :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        scenario: ScenarioSource = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        epoch: int = 0,
    ) -> None:
        self.simulator = Simulator(scenario, host=host, port=port, epoch=epoch)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> SimulatorThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, coro: Any) -> Any:
        if self._loop is None:
            coro.close()  # never scheduled: close it so it is not reported as un-awaited
            raise RuntimeError("the simulator thread is not running; call start() first")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    def start(self) -> None:
        """Start the loop thread and bind every port; returns once serving."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name="rdaplab-simulator", daemon=True
        )
        self._thread.start()
        try:
            self._call(self.simulator.start())
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop serving and join the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):
            self._call(self.simulator.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        self._loop = self._thread = None

    def base_url(self, registry: str) -> str:
        return self.simulator.base_url(registry)

    def write_bootstrap(self, directory: str | Path) -> Path:
        return self.simulator.write_bootstrap(directory)

    def expected(self, name: str) -> ExpectedDomain | None:
        return self.simulator.expected(name)

    @property
    def epoch(self) -> int:
        """See :attr:`Simulator.epoch`; assigning it takes effect for the next request."""
        return self.simulator.epoch

    @epoch.setter
    def epoch(self, value: int) -> None:
        self.simulator.epoch = value

    def set_epoch(self, epoch: int) -> int:
        """See :meth:`Simulator.set_epoch`."""
        return self.simulator.set_epoch(epoch)

    def changes(self, name: str) -> list[tuple[int, str]]:
        """See :meth:`Simulator.changes` (pure computation, no server call)."""
        return self.simulator.changes(name)

    def expected_object(
        self, kind: str, query: str | int, registry: str | None = None
    ) -> ExpectedObject:
        """See :meth:`Simulator.expected_object` (pure computation, no server call)."""
        return self.simulator.expected_object(kind, query, registry)

    def stats(self) -> dict[str, RegistryStats]:
        async def snap() -> dict[str, RegistryStats]:
            return self.simulator.stats()

        result: dict[str, RegistryStats] = self._call(snap())
        return result

    def lower_bound(self, names: Iterable[str]) -> dict[str, Any]:
        """See :meth:`Simulator.lower_bound` (pure computation, no server call)."""
        return self.simulator.lower_bound(names)

    def reset_stats(self) -> None:
        async def reset() -> None:
            self.simulator.reset_stats()

        self._call(reset())


def run_forever(
    scenario: ScenarioSource,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    bootstrap_dir: str | Path | None = None,
    epoch: int = 0,
) -> None:
    """Serve a scenario until Ctrl-C (``rdaplab simulate``), printing each registry's URL.

    ``epoch`` is the epoch served at start; ``POST /_simulator/epoch`` changes it.
    """

    async def main() -> None:
        async with Simulator(scenario, host=host, port=port, epoch=epoch) as sim:
            for spec in sim.scenario.registries:
                print(f"{sim.base_url(spec.name)}\t{_serves(spec)}", flush=True)
            if bootstrap_dir is not None:
                path = sim.write_bootstrap(bootstrap_dir)
                print(f"bootstrap written to {path}", flush=True)
            stop = asyncio.Event()
            # SIGTERM (e.g. from a test harness) stops as cleanly as Ctrl-C; not on Windows.
            with contextlib.suppress(NotImplementedError, AttributeError):
                asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
            await stop.wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


def _serves(spec: RegistrySpec) -> str:
    """What a registry serves, for the line ``rdaplab simulate`` prints for it."""
    if spec.dead:
        return "dead (refuses connections)"
    if spec.role == "rir":
        return f"{spec.rir}: " + ", ".join([*spec.ip_ranges, *(f"AS{v}" for v in spec.asn_ranges)])
    return ", ".join(spec.tlds) or spec.role
