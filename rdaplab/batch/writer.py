"""Buffered, committed-every-second writes of a batch's answers and attempts."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import Sequence

from rdaplab._aio import wait_event
from rdaplab.models import Attempt, Response
from rdaplab.store import Cache

__all__ = ["FLUSH_EVERY_S", "FLUSH_ROWS", "CacheWriter"]

FLUSH_EVERY_S = 1.0  # a kill loses at most about this much fetched work
FLUSH_ROWS = 500


class CacheWriter:
    """Buffers answers and attempts and commits them in small bulk transactions.

    Adding never writes (workers must not fail because the disk did); the flusher task
    commits every ``FLUSH_EVERY_S`` or sooner when ``FLUSH_ROWS`` are waiting. A failed
    commit keeps its rows buffered and ends the flusher with the error, which ends the batch.
    """

    def __init__(self, cache: Cache, *, threaded: bool = True) -> None:
        self.cache = cache
        self.threaded = threaded
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self.responses: list[Response] = []
        self.attempts: list[Attempt] = []
        self._wake = asyncio.Event()

    def add_attempt(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)
        self._check_size()

    def add_responses(self, responses: Sequence[Response]) -> None:
        self.responses.extend(responses)
        self._check_size()

    def _check_size(self) -> None:
        if len(self.responses) + len(self.attempts) >= FLUSH_ROWS:
            self._wake.set()

    def flush(self) -> None:
        """Commit everything buffered, now, from this thread."""
        responses, attempts = self.responses, self.attempts
        self.responses, self.attempts = [], []
        self._write(responses, attempts)

    async def flush_async(self) -> None:
        """Commit what is buffered on a worker thread, so the event loop keeps fetching.

        DuckDB releases the GIL while it inserts, so on two cores the writes overlap the
        network work. The rows are taken out of the buffers first (new ones keep
        arriving); a write that fails puts them back, and a cancelled flush still waits
        for its write: those rows are nowhere else.
        """
        if not self.threaded:
            self.flush()
            return
        responses, attempts = self.responses, self.attempts
        if not responses and not attempts:
            return
        self.responses, self.attempts = [], []
        loop = asyncio.get_running_loop()
        # One writer thread of our own: writes stay in order, and one thread means one
        # allocator arena (a pool of threads costs ~100 MB of peak memory).
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="rdaplab-cache"
            )
        write = loop.run_in_executor(self._executor, self._write, responses, attempts)
        try:
            await asyncio.shield(write)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await write  # the error, if any, put the rows back for the final flush
            raise

    def close(self) -> None:
        """Stop the writer thread (after the last write)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _write(self, responses: list[Response], attempts: list[Attempt]) -> None:
        try:
            if responses:
                self.cache.store_responses(responses)
        except BaseException:
            self.responses[:0] = responses  # keep them, oldest first, for the next flush
            self.attempts[:0] = attempts
            raise
        try:
            if attempts:
                self.cache.store_attempts(attempts)
        except BaseException:
            self.attempts[:0] = attempts
            raise

    async def run_periodic(self) -> None:
        while True:
            await wait_event(self._wake, FLUSH_EVERY_S)  # not wait_for: see rdaplab._aio
            self._wake.clear()
            await self.flush_async()
