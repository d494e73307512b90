"""asyncio helpers that never swallow a cancellation.

On Python 3.10 and 3.11, ``asyncio.wait_for`` loses a ``Task.cancel()`` that arrives in
the same loop iteration as the awaited thing completes (CPython gh-86296, fixed in 3.12):
it returns the result, and the task carries on as if never cancelled. A loop such as a
periodic cache flusher (``while True: wait_for(event.wait(), 1 s)``) then runs forever,
and whoever cancelled it and awaits its end hangs: seen here as a stream that never
ended, about once in 60 runs under load. Waiting through ``asyncio.wait`` has no such race.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["wait_event", "wait_for"]

T = TypeVar("T")


async def wait_for(aw: Awaitable[T], timeout: float | None) -> T:
    """``asyncio.wait_for`` without its lost cancellations.

    Returns what ``aw`` returned, or raises ``asyncio.TimeoutError`` after ``timeout``
    seconds (``aw`` is then cancelled). A cancellation of the caller is re-raised, and
    cancels ``aw`` too.
    """
    task = asyncio.ensure_future(aw)
    try:
        await asyncio.wait((task,), timeout=timeout)
    except BaseException:
        task.cancel()
        raise
    if task.done():  # done by now, even if only just: its result is not lost
        return task.result()
    task.cancel()
    raise asyncio.TimeoutError


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """Wait until ``event`` is set or ``timeout`` seconds pass; True if it was set."""
    if event.is_set():
        return True
    try:
        await wait_for(event.wait(), timeout)
    except asyncio.TimeoutError:
        return event.is_set()
    return True
