"""The cancellation-safe waits (rdaplab._aio), and the periodic cache flusher built on
them: a cancel in the same loop iteration as a wake-up must still end the task."""

from __future__ import annotations

import asyncio
import contextlib
import sys

import pytest

from rdaplab import Cache
from rdaplab._aio import wait_event, wait_for
from rdaplab.batch.writer import CacheWriter


async def _cancel_as_it_wakes(wait) -> asyncio.Task[None]:
    """A loop of waits on an event, cancelled in the iteration its event is set."""
    event = asyncio.Event()

    async def periodic() -> None:
        while True:
            await wait(event)
            event.clear()

    task = asyncio.create_task(periodic())
    await asyncio.sleep(0.05)
    event.set()
    task.cancel()
    await asyncio.wait((task,), timeout=0.5)
    return task


async def test_a_cancel_as_the_event_is_set_ends_the_task() -> None:
    task = await _cancel_as_it_wakes(lambda ev: wait_event(ev, 1.0))
    assert task.cancelled()


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="fixed in CPython 3.12")
async def test_asyncio_wait_for_loses_that_cancel_here() -> None:
    """Why rdaplab._aio exists: the same loop on asyncio.wait_for runs on."""

    async def stdlib(ev: asyncio.Event) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(ev.wait(), 1.0)

    task = await _cancel_as_it_wakes(stdlib)
    assert not task.done()
    task.cancel()  # a second cancel lands
    await asyncio.wait((task,), timeout=2.0)
    assert task.cancelled()


async def test_wait_for_returns_times_out_and_cancels_the_awaited() -> None:
    assert await wait_for(asyncio.sleep(0, result=7), 1.0) == 7
    queue: asyncio.Queue[int] = asyncio.Queue()
    getter = asyncio.ensure_future(queue.get())
    with pytest.raises(asyncio.TimeoutError):
        await wait_for(getter, 0.05)
    await asyncio.sleep(0)
    assert getter.cancelled()
    queue.put_nowait(1)
    assert await wait_for(queue.get(), 1.0) == 1  # the cancelled getter took nothing
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    event.set()
    assert await wait_event(event, None) is True


async def test_the_cache_flusher_ends_when_cancelled_as_rows_arrive(tmp_path) -> None:
    """The stall seen in CI: 500 rows wake the flusher as the batch cancels it."""
    with Cache(tmp_path / "c.duckdb") as cache:
        writer = CacheWriter(cache, threaded=False)
        flusher = asyncio.create_task(writer.run_periodic())
        await asyncio.sleep(0.05)
        writer._wake.set()  # what add_attempt does at FLUSH_ROWS
        flusher.cancel()
        await asyncio.wait((flusher,), timeout=3.0)
        assert flusher.cancelled()
