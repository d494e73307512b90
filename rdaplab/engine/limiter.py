"""Per-host politeness: a concurrency limit and a request pacer whose settings can change.

A :class:`HostLimiter` guards one registry host (``host:port``). Before each request a
worker calls ``async with limiter.slot():``, which waits, in this order, for

1. a concurrency slot (at most ``max_concurrency`` requests in flight),
2. the end of any *park* (a host told us to back off, e.g. ``Retry-After``),
3. the pacer: a GCRA (generic cell rate algorithm, equivalent to a token bucket) allowing
   ``rate_per_s`` requests per second with bursts of ``burst``; with ``catch_up_s`` a
   request may leave up to that long before its turn, so timers that fire late (the
   selector rounds its timeout up to a millisecond, and a busy loop adds more) do not
   lower the rate: never two requests closer than one interval minus ``catch_up_s``.

Everything reads the running loop's clock (``loop.time()``), so tests can drive it with a
fake clock, and every knob can be changed while requests are waiting (``set_rate``,
``set_concurrency``, ``park``): the adaptive scheduler tunes limiters through exactly these
calls. :meth:`HostLimiter.statistics` returns a snapshot for progress and the attempts log.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from rdaplab._aio import wait_event


@dataclass(frozen=True, slots=True)
class LimiterStatistics:
    """A snapshot of one limiter's state."""

    host: str
    rate_per_s: float | None
    burst: int
    max_concurrency: int
    in_flight: int
    waiting: int
    parked_for_s: float
    granted: int
    parks: int


class HostLimiter:
    """Concurrency limit + GCRA pacer + park for one host.

    Parameters
    ----------
    host
        The ``host:port`` authority this limiter guards (for statistics only).
    rate_per_s
        Sustained request rate; ``None`` means unpaced.
    burst
        Requests that may be sent back to back before pacing applies (>= 1).
    max_concurrency
        Requests allowed in flight at once (>= 1).
    """

    def __init__(
        self,
        host: str,
        *,
        rate_per_s: float | None = 10.0,
        burst: int = 1,
        max_concurrency: int = 4,
    ) -> None:
        self.host = host
        self._rate: float | None = None
        self._burst = 1
        self._max_concurrency = 1
        self._in_flight = 0
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        self._tat = -math.inf  # GCRA theoretical arrival time of the next request
        self._catch_up_s = 0.0
        self._parked_until = -math.inf
        self._granted = 0
        self._parks = 0
        self._wakeup = asyncio.Event()  # set when settings change, to re-plan sleeps
        self.set_rate(rate_per_s, burst=burst)
        self.set_concurrency(max_concurrency)

    # -- knobs the scheduler turns ---------------------------------------------------
    @property
    def rate_per_s(self) -> float | None:
        return self._rate

    @property
    def burst(self) -> int:
        return self._burst

    @property
    def max_concurrency(self) -> int:
        return self._max_concurrency

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def set_rate(self, rate_per_s: float | None, *, burst: int | None = None) -> None:
        if rate_per_s is not None and not rate_per_s > 0:
            raise ValueError(f"rate_per_s must be > 0 or None, got {rate_per_s!r}")
        if burst is not None:
            if burst < 1:
                raise ValueError(f"burst must be >= 1, got {burst!r}")
            self._burst = int(burst)
        new = float(rate_per_s) if rate_per_s is not None else None
        if self._rate is not None and new is not None and new != self._rate:
            # The debt the schedule carries (in requests) is kept, paid at the new rate:
            # a raise takes effect at the next send rather than one old interval later
            # (seconds at 2/s in slow start), and a cut slows the very next send.
            now = self._now()
            if self._tat > now:
                self._tat = now + (self._tat - now) * self._rate / new
        self._rate = new
        self._poke()

    @property
    def catch_up_s(self) -> float:
        return self._catch_up_s

    def set_catch_up(self, seconds: float) -> None:
        """Let a request leave up to ``seconds`` before its turn (0: never early).

        The schedule still advances one interval per request, so the average rate is
        ``rate_per_s`` exactly when timers are late by less than ``seconds``; two
        requests are never closer than ``1 / rate_per_s - seconds``. Without it, each
        late timer pushes every later request back: at 100/s a loop running 1 ms late
        sends 91/s.
        """
        if not seconds >= 0:
            raise ValueError(f"catch_up_s must be >= 0, got {seconds!r}")
        self._catch_up_s = float(seconds)

    def set_concurrency(self, max_concurrency: int) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency!r}")
        self._max_concurrency = int(max_concurrency)
        self._wake_slot_waiters()

    def park(self, seconds: float) -> None:
        """Send nothing to this host for ``seconds`` (extends, never shortens, a park)."""
        until = self._now() + max(0.0, seconds)
        if until > self._parked_until:
            self._parked_until = until
            self._parks += 1
            self._poke()

    def parked_for(self) -> float:
        return max(0.0, self._parked_until - self._now())

    def statistics(self) -> LimiterStatistics:
        return LimiterStatistics(
            host=self.host,
            rate_per_s=self._rate,
            burst=self._burst,
            max_concurrency=self._max_concurrency,
            in_flight=self._in_flight,
            waiting=len(self._slot_waiters),
            parked_for_s=self.parked_for(),
            granted=self._granted,
            parks=self._parks,
        )

    # -- acquiring -------------------------------------------------------------------
    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a concurrency slot, the end of any park and the pacer; release on exit."""
        while True:
            await self._acquire_slot()
            try:
                await self._wait_turn()
            except BaseException:
                self._release_slot()
                raise
            if self._in_flight <= self._max_concurrency:
                break
            # The concurrency was lowered while this request waited for its turn: the
            # slot it holds is one too many now; queue again behind the others.
            self._release_slot()
        try:
            self._granted += 1
            yield
        finally:
            self._release_slot()

    async def _acquire_slot(self) -> None:
        if self._in_flight < self._max_concurrency and not self._slot_waiters:
            self._in_flight += 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._slot_waiters.append(fut)
        try:
            await fut
        except BaseException:
            if fut.done() and not fut.cancelled():
                # We were granted the slot but cancelled before using it: hand it on.
                self._release_slot()
            else:
                self._remove_waiter(fut)
            raise

    def _remove_waiter(self, fut: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):
            self._slot_waiters.remove(fut)

    def _release_slot(self) -> None:
        self._in_flight -= 1
        self._wake_slot_waiters()

    def _wake_slot_waiters(self) -> None:
        while self._slot_waiters and self._in_flight < self._max_concurrency:
            fut = self._slot_waiters.popleft()
            if not fut.done():
                self._in_flight += 1
                fut.set_result(None)

    async def _wait_turn(self) -> None:
        while True:
            now = self._now()
            ready_at = self._parked_until
            if self._rate is not None:
                interval = 1.0 / self._rate
                # GCRA: a request conforms when now >= tat - (burst - 1) * interval.
                slack = (self._burst - 1) * interval + self._catch_up_s
                ready_at = max(ready_at, self._tat - slack)
            if now >= ready_at:
                if self._rate is not None:
                    # Early by no more than catch_up_s (0 unless set): a strict bucket
                    # (nginx limit_req without burst) refuses a request that follows the
                    # last by less than its interval, so only the owner, who knows how
                    # far under the host's limit it runs, may allow it.
                    self._tat = max(self._tat, now) + 1.0 / self._rate
                return
            self._wakeup.clear()
            # Settings may change while we sleep (a park, a new rate): re-plan then.
            await wait_event(self._wakeup, ready_at - now)

    def _poke(self) -> None:
        self._wakeup.set()

    @staticmethod
    def _now() -> float:
        try:
            return asyncio.get_running_loop().time()
        except RuntimeError:  # configured before the loop runs; loops default to monotonic
            return time.monotonic()


class FairShare:
    """A global cap on requests in flight, shared max-min fairly between hosts.

    When the cap binds, a freed slot goes to the waiting host with the fewest requests in
    flight (ties: the one waiting longest), so a host with many queued requests (or slow
    answers holding its slots) cannot crowd out the others: each active host gets at least
    ``capacity / active hosts`` when it wants that many.

    Parameters
    ----------
    capacity
        Requests allowed in flight over all hosts (>= 1); changeable with ``set_capacity``.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity!r}")
        self._capacity = int(capacity)
        self._in_flight = 0
        self._by_host: dict[str, int] = {}
        self._waiters: dict[str, deque[asyncio.Future[None]]] = {}
        self._order: dict[str, int] = {}  # host -> arrival counter of its oldest waiter
        self._counter = 0

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def in_flight_for(self, host: str) -> int:
        return self._by_host.get(host, 0)

    def waiting(self) -> int:
        return sum(len(q) for q in self._waiters.values())

    def set_capacity(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity!r}")
        self._capacity = int(capacity)
        self._grant()

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        await self._acquire(host)
        try:
            yield
        finally:
            self._release(host)

    async def _acquire(self, host: str) -> None:
        if self._in_flight < self._capacity and not self.waiting():
            self._take(host)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._waiters.setdefault(host, deque())
        if not queue:
            self._counter += 1
            self._order[host] = self._counter
        queue.append(fut)
        try:
            await fut
        except BaseException:
            if fut.done() and not fut.cancelled():
                self._release(host)  # granted, then cancelled before use: hand it on
            else:
                with contextlib.suppress(ValueError):
                    queue.remove(fut)
                # Only our own queue: _grant may have replaced it with a newer waiter's.
                if not queue and self._waiters.get(host) is queue:
                    del self._waiters[host]
                    self._order.pop(host, None)
            raise

    def _take(self, host: str) -> None:
        self._in_flight += 1
        self._by_host[host] = self._by_host.get(host, 0) + 1

    def _release(self, host: str) -> None:
        self._in_flight -= 1
        left = self._by_host.get(host, 1) - 1
        if left:
            self._by_host[host] = left
        else:
            self._by_host.pop(host, None)
        self._grant()

    def _grant(self) -> None:
        while self._in_flight < self._capacity and self._waiters:
            host = min(self._waiters, key=lambda h: (self._by_host.get(h, 0), self._order[h]))
            queue = self._waiters[host]
            fut = queue.popleft()
            if not queue:
                del self._waiters[host]
                del self._order[host]
            else:
                self._counter += 1
                self._order[host] = self._counter  # back of the line among equals
            if not fut.done():
                self._take(host)
                fut.set_result(None)
