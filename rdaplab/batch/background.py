"""Run a coroutine on a private event-loop thread, and wait for it from any code.

Notebook cells run inside the kernel's event loop, so a synchronous call cannot
``asyncio.run`` a batch there. nest-asyncio patches the running loop instead; it is
archived and breaks on Python >= 3.12 and ipykernel >= 7 (see docs/architecture.md), so
rdaplab gives each batch its own loop on its own thread. This module knows nothing of
RDAP: it starts the thread, hands the result back, cancels cleanly on interrupt, and lets
the waiting thread do small chores (``pump``, e.g. redrawing a progress widget, which must
happen on the kernel's main thread) while it waits.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Callable, Coroutine, Generator
from typing import Any, Generic, TypeVar

T = TypeVar("T")

WAIT_SLICE_S = 0.1  # short waits keep Ctrl-C (a kernel interrupt) responsive


class BackgroundRun(Generic[T]):
    """A coroutine running on its own event-loop thread.

    Parameters
    ----------
    coro_factory
        Called on the new thread, inside its loop, to make the coroutine to run.
    name
        The thread's name (shows in debuggers and ``threading.enumerate()``).
    """

    def __init__(
        self, coro_factory: Callable[[], Coroutine[Any, Any, T]], *, name: str = "rdaplab-batch"
    ) -> None:
        self._factory = coro_factory
        self._loop = asyncio.new_event_loop()
        self._future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._task: asyncio.Task[T] | None = None
        self._task_ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)

        async def main() -> T:
            return await self._factory()

        # Running: a cancel() of the concurrent future (e.g. from wrap_future) is refused.
        self._future.set_running_or_notify_cancel()
        try:
            self._task = loop.create_task(main())
            self._task_ready.set()
            self._future.set_result(loop.run_until_complete(self._task))
        except BaseException as exc:  # delivered to whoever waits
            self._future.set_exception(exc)
        finally:
            self._task_ready.set()
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    def done(self) -> bool:
        """True once the coroutine has finished (returned, raised or was cancelled)."""
        return self._future.done()

    def cancel(self) -> None:
        """Cancel the coroutine (it runs its cleanup) and wait for the thread to end."""
        self._task_ready.wait()
        task = self._task
        if task is not None and not self._future.done():
            with contextlib.suppress(RuntimeError):  # the loop closed: nothing to cancel
                self._loop.call_soon_threadsafe(task.cancel)
        self._thread.join()

    def wait(self, timeout: float | None = None, *, pump: Callable[[], None] | None = None) -> T:
        """Block until the coroutine finishes and return its result (or raise its error).

        ``pump`` is called about every 0.1 s on the waiting thread. A KeyboardInterrupt
        while waiting cancels the coroutine, waits for its cleanup, and is re-raised.
        Raises ``TimeoutError`` when ``timeout`` seconds pass first (the run goes on).
        """
        deadline = None if timeout is None else _monotonic() + timeout
        try:
            while True:
                slice_s = WAIT_SLICE_S
                if deadline is not None:
                    slice_s = max(0.0, min(slice_s, deadline - _monotonic()))
                try:
                    value = self._future.result(timeout=slice_s)
                except concurrent.futures.TimeoutError:
                    if pump is not None:
                        pump()
                    if deadline is not None and _monotonic() >= deadline:
                        raise TimeoutError(f"still running after {timeout} s") from None
                    continue
                self._thread.join()  # the loop is closed: leave no thread behind
                return value
        except KeyboardInterrupt:
            self.cancel()
            raise

    def exception(self) -> BaseException | None:
        """The error the coroutine ended with, None if it succeeded; only once done."""
        return self._future.exception(timeout=0) if self._future.done() else None

    def __await__(self) -> Generator[Any, None, T]:
        return self._await().__await__()

    async def _await(self) -> T:
        # Awaiting from another loop (the kernel's) leaves that loop free meanwhile; an
        # interrupt of the awaiting cell cancels the run, as it does for wait().
        try:
            return await asyncio.shield(asyncio.wrap_future(self._future))
        except asyncio.CancelledError:
            await asyncio.get_running_loop().run_in_executor(None, self.cancel)
            raise


def _monotonic() -> float:
    return time.monotonic()
