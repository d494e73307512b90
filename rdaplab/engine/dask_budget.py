"""The shared budget held by a Dask scheduler: its plugin and the client every process uses.

Needs the optional extra ``rdaplab[dask]`` (``distributed``); nothing else in rdaplab
imports this module unless a Dask client or scheduler address is passed as a budget.

Where the budget lives, and why there: in the Dask *scheduler* (a ``SchedulerPlugin``
that adds RPC handlers, as Dask's own ``Semaphore`` does), not in an Actor on a worker. A
worker can die; an Actor dies with it and takes every shard using it down (measured in
``../shared/design/scale-out.md``: 12 of 16 shards failed). The scheduler is what every
process already talks to, and a reservation costs one round trip (0.3-0.5 ms there).

Each process holds a :class:`DaskBudget`: before each request it reserves a slot
(``rdaplab_reserve``, held at the scheduler until the slot is near; only the first of the
process's requests waiting for a host is held, the others queue behind it), and it
reports how each answer went (``rdaplab_feedback``), batched every
:data:`FEEDBACK_EVERY_S` and at once for a throttle, with ages instead of times (no
clock is shared). The scheduler side is :class:`~rdaplab.engine.central.CentralBudget`.

If the scheduler cannot be reached, :meth:`DaskBudget.acquire` raises ``FetchError``
``rate_limited``: the process stops sending (fail closed) instead of falling back to its
own full rate; the rows say why and a rerun finishes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections import deque
from collections.abc import Mapping
from typing import Any

from distributed.core import rpc as make_rpc
from distributed.diagnostics.plugin import SchedulerPlugin
from distributed.protocol.pickle import dumps, loads

from rdaplab.engine.central import CentralBudget, Feedback, Grant, feedback_of
from rdaplab.engine.config import Limits, Retry
from rdaplab.errors import FetchError

__all__ = [
    "FEEDBACK_EVERY_S",
    "PLUGIN_NAME",
    "BudgetPlugin",
    "DaskBudget",
    "SchedulerClock",
    "budget_statistics",
    "dask_setup",
]

log = logging.getLogger("rdaplab")

PLUGIN_NAME = "rdaplab-budget"
PLUGIN_VERSION = 2  # 2: grants carry their slot's time and the scheduler's clock
FEEDBACK_EVERY_S = 0.05
# Grants go out this far ahead of their slot (CentralBudget's 10 ms is for one loop): the
# answer's trip (p99 17-23 ms measured on a loaded 2-vCPU LocalCluster) then ends before
# the slot, and the process sends at the slot itself instead of one trip late.
DASK_HORIZON_S = 0.05
# A process that wakes more than this many request intervals after its slot gives the
# slot up and asks for another: sent late, it would land beside the next process's
# (sends bunched on the wire are what a registry's bucket refuses); at most
# MAX_LATE_DROPS times a request, so that a stalled process still gets through.
LATE_INTERVALS = 1.0
MAX_LATE_DROPS = 3
CLOCK_SAMPLES = 64  # round trips the scheduler clock's offset is estimated from
RPC_TIMEOUT_S = 5.0  # connecting to the scheduler; then the budget fails closed
HOLD_MAX_S = 5.0  # the longest a reservation is held at the scheduler before "ask again"
SCOPES = ("cluster",)  # plus "egress:<address>" per source address


class BudgetPlugin(SchedulerPlugin):
    """The scheduler side: one :class:`CentralBudget` and its RPC handlers.

    Registered once per scheduler (idempotent: a second notebook's registration keeps
    the first one's state and learned rates), or preloaded with
    ``dask scheduler --preload rdaplab.distributed``.
    """

    name = PLUGIN_NAME
    idempotent = True

    def __init__(self, limits: Limits | None = None, retry: Retry | None = None) -> None:
        self.limits = limits
        self.retry = retry
        self.budget: CentralBudget | None = None
        self.scheduler: Any = None
        self.settings: dict[str, Limits] = {}  # each process's limits, by their digest

    async def start(self, scheduler: Any) -> None:
        self.scheduler = scheduler
        self.budget = CentralBudget(self.limits, retry=self.retry, horizon_s=DASK_HORIZON_S)
        scheduler.handlers.update(
            {
                "rdaplab_reserve": self.reserve,
                "rdaplab_limits": self.set_limits,
                "rdaplab_feedback": self.feedback,
                "rdaplab_budget_stats": self.stats,
                "rdaplab_budget_version": self.version,
            }
        )

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    def set_limits(self, key: str, limits: bytes) -> None:
        if key not in self.settings:
            self.settings[key] = loads(limits)

    async def reserve(
        self, scope: str, host: str, limits: str | None = None, late: int = 0
    ) -> list[Any]:
        """A slot, answered once it is within the horizon: the asker waits here, not in
        a loop of its own requests (polling cost ~55 refused calls per grant with 64
        requests waiting, each a round trip and ~0.1 ms of this process's CPU)."""
        assert self.budget is not None
        received = self._now()
        held = 0.0
        own = self.settings.get(limits) if limits is not None else None
        while True:
            grant = self.budget.reserve(scope, host, now=self._now(), limits=own, late=late)
            late = 0
            if grant.granted or held + grant.wait_s > HOLD_MAX_S:
                # a long park: the asker sleeps, then asks again. The two clock readings
                # let the asker place this clock against its own (see SchedulerClock).
                return [*grant.to_wire(), received, self._now()]
            held += grant.wait_s
            await asyncio.sleep(grant.wait_s)

    def feedback(self, scope: str, host: str, events: list[Any], source: str | None = None) -> None:
        assert self.budget is not None
        evs = [Feedback.from_wire(e) for e in events]
        self.budget.feedback(scope, host, evs, now=self._now(), source=source)

    def stats(self) -> dict[str, Any]:
        assert self.budget is not None
        return self.budget.statistics(now=self._now())

    def version(self) -> int:
        return PLUGIN_VERSION


class SchedulerClock:
    """The scheduler's clock placed on this process's, from reservation round trips.

    No clock is shared between machines. Each round trip bounds the offset (scheduler
    time minus local time): the request reached the scheduler after it left here
    (``offset <= received - sent``) and the answer arrived here after it left there
    (``offset >= replied - arrived``), however long the scheduler held it. The tightest
    bounds over the last :data:`CLOCK_SAMPLES` round trips (so a slow drift is followed)
    give the offset, to within half the fastest round trip (about 0.2 ms on one machine).

    Examples
    --------
    >>> clock = SchedulerClock()
    >>> clock.sample(sent=10.0, arrived=10.004, received=110.003, replied=110.003)
    >>> round(clock.offset, 4), round(clock.local(110.5), 4)  # 99.999 <= offset <= 100.003
    (100.001, 10.499)
    """

    def __init__(self, samples: int = CLOCK_SAMPLES) -> None:
        self._bounds: deque[tuple[float, float]] = deque(maxlen=samples)
        self.offset: float | None = None

    def sample(self, *, sent: float, arrived: float, received: float, replied: float) -> None:
        bound = (replied - arrived, received - sent)
        self._bounds.append(bound)
        low = max(lo for lo, _ in self._bounds)
        high = min(hi for _, hi in self._bounds)
        if low > high:  # the clocks drifted apart: start again from this round trip
            self._bounds.clear()
            self._bounds.append(bound)
            low, high = bound
        self.offset = (low + high) / 2

    def local(self, at: float) -> float:
        """A time on the scheduler's clock, on this process's."""
        assert self.offset is not None
        return at - self.offset


def dask_setup(scheduler: Any) -> None:
    """``dask scheduler --preload rdaplab.engine.dask_budget``: the budget from the start."""
    plugin = BudgetPlugin()
    scheduler.add_plugin(plugin, name=PLUGIN_NAME, idempotent=True)
    # add_plugin does not start a plugin added before the scheduler starts: its start()
    # runs with the scheduler's (see Scheduler.start_unsafe -> plugin.start)


class DaskBudget:
    """A budget shared through a Dask scheduler (see the module docstring).

    Parameters
    ----------
    address
        The scheduler's address (``tcp://host:8786``).
    scope
        ``"cluster"`` (one budget per registry host for every process) or
        ``"egress:<label>"`` (one per source address: only for addresses the user may
        use; never to evade a registry's limit).
    limits, retry
        Where the scheduler's controllers start, if this process registers the plugin
        first (a registered plugin keeps its own).
    connection_args
        Dask's ``security.get_connection_args(...)`` (TLS), if any.

    Use :meth:`from_client` in a notebook and :meth:`from_worker` inside a Dask task.
    """

    learns = True

    def __init__(
        self,
        address: str,
        *,
        scope: str = "cluster",
        limits: Limits | None = None,
        retry: Retry | None = None,
        connection_args: Mapping[str, Any] | None = None,
    ) -> None:
        if scope != "cluster" and not scope.startswith("egress:"):
            raise ValueError(f"scope must be 'cluster' or 'egress:<label>', not {scope!r}")
        self.address = address
        self.scope = scope
        self.limits = limits
        self.retry = retry
        self.connection_args = dict(connection_args or {})
        self.source = uuid.uuid4().hex  # this process's reports, told apart by the scheduler
        self._limits_key = (
            None if limits is None else hashlib.blake2b(dumps(limits), digest_size=8).hexdigest()
        )
        self._rpc: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # One reservation in the air per host from this process: the others queue here.
        self._asking: dict[str, asyncio.Lock] = {}
        self._registered = False
        self._pending: dict[tuple[str, str], list[list[Any]]] = {}  # (host, batch) -> events
        self._flush: asyncio.TimerHandle | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self.clock = SchedulerClock()
        self.reserve_calls = 0
        self.reserve_s = 0.0  # time spent waiting on the scheduler's answers
        self.late_slots = 0  # slots given up: this process woke too long after them
        # The backlog this process reports, scaled: a study's bucket stands for the
        # buckets still waiting behind it (set by rdaplab.distributed's bucket task).
        self.backlog_scale = 1.0

    @classmethod
    def from_client(cls, client: Any, **kwargs: Any) -> DaskBudget:
        """The budget of the scheduler a ``distributed.Client`` is connected to."""
        args = client.security.get_connection_args("client")
        return cls(client.scheduler.address, connection_args=args, **kwargs)

    @classmethod
    def from_worker(cls, **kwargs: Any) -> DaskBudget:
        """Inside a Dask task: the budget of the worker's scheduler."""
        from distributed import get_worker

        worker = get_worker()
        args = worker.security.get_connection_args("worker")
        return cls(worker.scheduler.address, connection_args=args, **kwargs)

    def __reduce__(self) -> Any:  # sent to workers by value: no connection, no state
        return (_rebuild, (self.address, self.scope, self.limits, self.retry))

    # -- the connection ---------------------------------------------------------------------
    async def _connection(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._rpc is None or self._loop is not loop:
            # an rpc's connections belong to the loop that made them
            self._rpc = make_rpc(
                self.address, timeout=RPC_TIMEOUT_S, connection_args=self.connection_args
            )
            self._loop = loop
            self._registered = False
            self._asking = {}  # locks belong to a loop too
        if not self._registered:
            try:
                await self._rpc.register_scheduler_plugin(
                    # the scheduler's own defaults; this process's limits go with its
                    # requests (a host starts from those of the first process asking)
                    plugin=dumps(BudgetPlugin(None, self.retry)),
                    name=PLUGIN_NAME,
                    idempotent=True,
                )
                if self.limits is not None:
                    await self._rpc.rdaplab_limits(key=self._limits_key, limits=dumps(self.limits))
            except Exception as exc:
                raise self._unreachable(exc) from exc
            self._registered = True
        return self._rpc

    def _unreachable(self, exc: BaseException) -> FetchError:
        return FetchError(
            "rate_limited",
            f"the shared budget (Dask scheduler at {self.address}) cannot be reached "
            f"({type(exc).__name__}: {exc}); nothing was sent (a rerun finishes this row)",
        )

    # -- Budget -----------------------------------------------------------------------------
    async def acquire(self, host: str) -> tuple[int, float]:
        """Wait for a slot; returns it (its number, and when it began on this loop's
        clock) for :meth:`report`.

        Only the first of this process's requests waiting for ``host`` asks the scheduler;
        the others queue behind it, and each asks once the one before was granted. Each
        held at the scheduler for itself, the 16 requests a process has waiting per host
        re-checked the budget at every slot there: ~2,500 times a second on the driver's
        loop for a 60/s host with 4 workers, on the machine that also runs the workers.
        """
        conn = await self._connection()
        loop = asyncio.get_running_loop()
        asking = self._asking.setdefault(host, asyncio.Lock())
        late_drops = late = 0
        while True:
            async with asking:
                grant, answered = await self._reserve(conn, host, late)
            late = 0
            at = grant.at if self.clock.offset is not None else None
            placed = at is not None
            # the slot itself, not one trip late (a version-1 plugin: the wait, from its answer)
            slot = self.clock.local(at) if at is not None else answered + grant.wait_s
            if slot > loop.time():
                await asyncio.sleep(slot - loop.time())
            now = loop.time()
            rate = grant.rate_per_s
            if (
                placed
                and rate
                and now - slot > LATE_INTERVALS / rate
                and late_drops < MAX_LATE_DROPS
            ):
                late_drops += 1
                late = 1  # told to the scheduler with the next reservation, for its counts
                self.late_slots += 1
                continue
            return grant.grant_id, now

    async def _reserve(self, conn: Any, host: str, late: int) -> tuple[Grant, float]:
        """Ask until a slot is granted (``late``: slots given up, told with the first ask);
        returns the grant and when its answer arrived."""
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            try:
                reply = await conn.rdaplab_reserve(
                    scope=self.scope, host=host, limits=self._limits_key, late=late
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise self._unreachable(exc) from exc
            finally:
                t1 = loop.time()
                self.reserve_calls += 1
                self.reserve_s += t1 - t0
            late = 0
            grant = Grant.from_wire(reply[:5])
            if len(reply) >= 7:
                self.clock.sample(sent=t0, arrived=t1, received=reply[5], replied=reply[6])
            if grant.granted:
                return grant, t1
            await asyncio.sleep(grant.wait_s)

    def report(self, host: str, *, source: str = "", **answer: Any) -> None:
        """Queue what an answer said (the keywords of
        :func:`~rdaplab.engine.central.feedback_of`, but ``now``); sent within
        :data:`FEEDBACK_EVERY_S`, a throttle at once."""
        loop = asyncio.get_running_loop()
        if self.backlog_scale != 1.0 and answer.get("backlog"):
            answer["backlog"] = round(answer["backlog"] * self.backlog_scale)
        event = feedback_of(now=loop.time(), **answer)
        self._pending.setdefault((host, source), []).append(event.to_wire())
        if event.throttled:
            self._send_now(loop)
        elif self._flush is None:
            self._flush = loop.call_later(FEEDBACK_EVERY_S, self._send_now, loop)

    def _send_now(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        pending, self._pending = self._pending, {}
        if not pending or self._rpc is None:
            return
        task = loop.create_task(self._send(pending))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, pending: dict[tuple[str, str], list[list[Any]]]) -> None:
        for (host, batch), events in pending.items():
            try:
                await self._rpc.rdaplab_feedback(
                    scope=self.scope, host=host, events=events, source=f"{self.source}:{batch}"
                )
            except Exception as exc:  # lost feedback costs learning, never a row
                log.debug("rdaplab: budget feedback for %s not sent: %r", host, exc)

    async def aclose(self) -> None:
        """Send what is queued and close the connections."""
        if self._loop is asyncio.get_running_loop():
            self._send_now(self._loop)
            if self._sending:
                await asyncio.gather(*self._sending, return_exceptions=True)
        if self._rpc is not None:
            with contextlib.suppress(Exception):
                await self._rpc.close_rpc()
        self._rpc = None

    async def statistics(self) -> dict[str, Any]:
        """The scheduler's view: per ``scope|host``, the rate in force and its counts."""
        conn = await self._connection()
        stats: dict[str, Any] = await conn.rdaplab_budget_stats()
        return stats

    def __repr__(self) -> str:
        return f"<rdaplab DaskBudget {self.scope} at {self.address}>"


def _rebuild(address: str, scope: str, limits: Limits | None, retry: Retry | None) -> DaskBudget:
    return DaskBudget(address, scope=scope, limits=limits, retry=retry)


def budget_statistics(client: Any) -> dict[str, Any]:
    """The shared budget's per-host figures, from a (synchronous) ``distributed.Client``."""

    def stats(dask_scheduler: Any) -> dict[str, Any]:
        plugin = dask_scheduler.plugins.get(PLUGIN_NAME)
        return {} if plugin is None else plugin.stats()

    result: dict[str, Any] = client.run_on_scheduler(stats)
    return result


def as_budget(obj: Any, *, limits: Limits | None = None, retry: Retry | None = None) -> Any:
    """A Dask ``Client`` or a scheduler address (``tcp://...``) as a :class:`DaskBudget`."""
    if isinstance(obj, DaskBudget):
        return obj
    if isinstance(obj, str):
        return DaskBudget(obj, limits=limits, retry=retry)
    return DaskBudget.from_client(obj, limits=limits, retry=retry)
