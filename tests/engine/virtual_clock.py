"""Run asyncio code on a virtual clock: sleeps take no wall time.

The loop's ``time()`` reads a counter; whenever the loop would block waiting for a timer,
the counter jumps to that timer instead. Limiter and scheduler timing can then be asserted
exactly without slowing the suite.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class VirtualClockLoop:
    def __init__(self) -> None:
        self.now = 0.0
        self.loop = asyncio.new_event_loop()
        self.loop.time = lambda: self.now  # type: ignore[method-assign]
        selector = self.loop._selector  # type: ignore[attr-defined]
        real_select = selector.select

        def select(timeout: float | None = None) -> Any:
            if timeout is not None and timeout > 0:
                self.now += timeout  # jump to the next timer instead of waiting
            return real_select(0)

        selector.select = select

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        self.loop.close()
