"""One politeness budget per registry host for many processes: the logic, without a transport.

A :class:`CentralBudget` lives in one place (a Dask scheduler: see
:mod:`rdaplab.engine.dask_budget`) and every process that sends requests asks it for a
slot before each request and tells it how each answer went. Per ``(scope, host)`` it
keeps:

- a GCRA schedule (``tat``, the theoretical arrival time of the next request) at the
  rate in force, and the host's park (after a throttle or Retry-After);
- the batch scheduler's own :class:`~rdaplab.engine.controller.HostController`, unchanged:
  it learns the host's rate from every process's answers at once, so a throttle seen by
  one process slows (and parks) them all.

Two rules keep the learning true across processes (without them a prototype settled at a
third of the limit, ``../shared/design/scale-out.md`` §2.4):

- slots are granted at most :data:`HORIZON_S` ahead. A process asking for a later slot is
  told to ask again (``granted=False``), so a cut or a park reaches requests not yet
  sent instead of a queue of promises made at the old rate;
- answers are reported against the slot they were *granted*: its number and its age
  (seconds from the slot to the answer; no clock is shared between machines). A slot
  granted before a cut or a park was promised at the old rate: its answer, throttle or
  not, is read as sent before the cut, so one burst of promised slots is one throttle
  event and no evidence for the new rate (without this rule, the throttles of slots
  promised before a park cut the rate again and again: 30/s fell to 0.16/s here).

Every time is the caller's ``now`` (seconds, any monotonic clock), so tests drive it with
a fake clock.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import Any

from rdaplab.engine.config import Limits, Retry
from rdaplab.engine.controller import HostController

__all__ = ["HORIZON_S", "CentralBudget", "Feedback", "Grant", "SharedBudget", "feedback_of"]

HORIZON_S = 0.01  # slots are granted at most this far ahead
ASK_AGAIN_MIN_S = 0.01
# A refused asker comes back at most this soon while the wait is the pace's (not a park's):
# a raise shortens the wait, and an asker told "0.5 s" at 2/s slept through slow start's
# next doubling.
ASK_AGAIN_MAX_S = 0.1
BACKLOG_STALE_S = 5.0


@dataclass(frozen=True, slots=True)
class Grant:
    """The answer to a reservation: send after ``wait_s``, or ask again after ``wait_s``.

    ``grant_id`` numbers granted slots per host (0 when refused); ``rate_per_s`` is the
    rate in force (``None``: unpaced); ``at`` is when a granted slot begins on the
    budget's own clock (``now + wait_s``), so that a process that can map that clock to
    its own sends at the slot however late the answer reached it.
    """

    granted: bool
    wait_s: float
    grant_id: int = 0
    rate_per_s: float | None = None
    at: float | None = None  # a granted slot's time on the budget's clock

    def to_wire(self) -> list[Any]:
        return [self.granted, self.wait_s, self.grant_id, self.rate_per_s, self.at]

    @classmethod
    def from_wire(cls, data: Any) -> Grant:
        granted, wait_s, grant_id, rate, *rest = data  # a version-1 plugin sends no ``at``
        at = rest[0] if rest else None
        return cls(bool(granted), float(wait_s), int(grant_id), rate, at)


@dataclass(frozen=True, slots=True)
class Feedback:
    """How one granted request went, as one process saw it.

    ``age_s`` is the time from the grant to the answer (so the central clock can place
    the send); ``in_flight`` the requests to the host that process had out when it sent;
    ``backlog`` the requests it had waiting for the host.
    """

    throttled: bool
    age_s: float
    grant_id: int = 0
    in_flight: int = 1
    backlog: int = 1
    retry_after_s: float | None = None
    weak: bool = False
    success: bool = True
    retry_after_resolution_s: float = 0.0  # 1 s for an HTTP-date or whole seconds
    server_error: bool = False  # a 500, 502 or 504 (HostController.on_server_error)

    def to_wire(self) -> list[Any]:
        return [
            self.throttled,
            self.age_s,
            self.grant_id,
            self.in_flight,
            self.backlog,
            self.retry_after_s,
            self.weak,
            self.success,
            self.retry_after_resolution_s,
            self.server_error,
        ]

    @classmethod
    def from_wire(cls, data: Any) -> Feedback:
        throttled, age, grant_id, in_flight, backlog, ra, weak, success, *rest = data
        return cls(
            bool(throttled),
            float(age),
            int(grant_id),
            int(in_flight),
            int(backlog),
            None if ra is None else float(ra),
            bool(weak),
            bool(success),
            float(rest[0]) if rest else 0.0,  # a worker of before 2026-12-07 sends 8
            bool(rest[1]) if len(rest) > 1 else False,  # ... and 9, without server errors
        )


def feedback_of(
    *,
    throttled: bool,
    retry_after_s: float | None,
    grant: tuple[int, float] | None,
    now: float,
    in_flight: int = 1,
    backlog: int = 1,
    weak: bool = False,
    success: bool = True,
    retry_after_resolution_s: float = 0.0,
    server_error: bool = False,
) -> Feedback:
    """A learning budget's ``report()`` arguments as a :class:`Feedback` (``grant`` is
    what its ``acquire`` returned: the slot's number and when it began, on ``now``'s clock)."""
    grant_id, began = grant if grant is not None else (0, now)
    return Feedback(
        throttled,
        now - began,
        grant_id,
        in_flight,
        backlog,
        retry_after_s,
        weak,
        success,
        retry_after_resolution_s,
        server_error,
    )


@dataclass(slots=True)
class _HostBudget:
    controller: HostController
    tat: float = -math.inf
    tat_rate: float | None = None  # the rate the schedule (tat) was made at
    park_until: float = -math.inf
    grants: int = 0
    cut_grant: int = 0  # slots granted up to the last cut or park: promised at the old rate
    cut_at: float = -math.inf
    refusals: int = 0  # "ask again" answers
    late_slots: int = 0  # granted slots given up by processes that woke too late for them
    answers: int = 0
    throttles: int = 0
    parks: int = 0
    decisions: dict[str, int] = field(default_factory=dict)
    backlogs: dict[str, tuple[int, float]] = field(default_factory=dict)  # source -> (n, at)

    def backlog(self, source: str | None, reported: int, now: float) -> int:
        """Requests waiting for the host in every process (each reports its own): a raise
        pays back over all of them, not one process's share."""
        if source is None:
            return reported
        self.backlogs[source] = (reported, now)
        for key, (_, at) in list(self.backlogs.items()):
            if now - at > BACKLOG_STALE_S:  # a process that stopped reporting has finished
                del self.backlogs[key]
        return sum(n for n, _ in self.backlogs.values())


class CentralBudget:
    """Per ``(scope, host)`` slots and learning, shared by every process that asks.

    Parameters
    ----------
    limits
        Where each host's controller starts and its ceilings (the registry profiles
        included); default :class:`~rdaplab.engine.config.Limits`.
    retry
        Park settings (``retry_after_default_s``, ``retry_after_max_s``).
    horizon_s
        How far ahead a slot may be granted.

    Examples
    --------
    >>> budget = CentralBudget(Limits(per_host_rate_per_s=10.0, per_host_burst=1, adaptive=False))
    >>> def ask(now):
    ...     grant = budget.reserve("cluster", "rdap.example", now=now)
    ...     return grant.granted, round(grant.wait_s, 3)
    >>> ask(0.0)
    (True, 0.0)
    >>> ask(0.0)  # the next slot is 0.1 s ahead, past the 10 ms horizon: ask again later
    (False, 0.09)
    >>> ask(0.095)  # within the horizon: granted, to be sent 5 ms from now
    (True, 0.005)
    """

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        retry: Retry | None = None,
        horizon_s: float = HORIZON_S,
    ) -> None:
        self.limits = limits or Limits()
        self.retry = retry or Retry()
        self.horizon_s = horizon_s
        self._hosts: dict[tuple[str, str], _HostBudget] = {}

    def _host(self, scope: str, host: str, limits: Limits | None = None) -> _HostBudget:
        key = (scope, host.lower())
        state = self._hosts.get(key)
        if state is None:
            # A host's budget starts from the limits of the first process that asks for
            # it (each process may bring its own; the host's learning is then shared).
            ctl = (limits or self.limits).controller_for(
                host.lower(), max_park_s=self.retry.retry_after_default_s
            )
            state = self._hosts[key] = _HostBudget(ctl)
        return state

    # -- the two calls ------------------------------------------------------------------------
    def reserve(
        self,
        scope: str,
        host: str,
        *,
        now: float,
        limits: Limits | None = None,
        late: int = 0,
    ) -> Grant:
        """A slot for one request to ``host``: granted (send after ``wait_s``) or refused
        (ask again after ``wait_s``: the slot would be more than the horizon ahead).
        ``limits``: the asker's, used if this is the first request to ``host``; ``late``:
        slots the asker was granted and gave up (it woke too long after them), counted."""
        state = self._host(scope, host, limits)
        state.late_slots += late
        rate = self._replan(state, now)
        slot = max(now, state.park_until)
        if rate is not None:
            burst = max(1, state.controller.limiter.burst)
            # GCRA: a request conforms at tat - (burst - 1) * interval.
            slot = max(slot, state.tat - (burst - 1) / rate)
        wait = slot - now
        if wait > self.horizon_s:
            state.refusals += 1
            again = wait - self.horizon_s
            if state.park_until < slot:  # paced, not parked: a raise can bring it closer
                again = min(again, ASK_AGAIN_MAX_S)
            return Grant(False, max(ASK_AGAIN_MIN_S, again), 0, rate)
        if rate is not None:
            state.tat = max(state.tat, slot) + 1.0 / rate
        state.grants += 1
        return Grant(True, max(0.0, wait), state.grants, rate, slot)

    @staticmethod
    def _replan(state: _HostBudget, now: float) -> float | None:
        """The host's rate; when it changed, the interval still owed is paid at the new
        rate, as the local pacer does: slow start's raises took effect one old interval
        late (half a second at 2/s), and its windows saw half the rate they judged."""
        rate = state.controller.limiter.rate_per_s
        if rate is not None and state.tat_rate is not None and rate != state.tat_rate:
            base = max(now, state.park_until)  # a park's end is no interval: not rescaled
            if state.tat > base:
                state.tat = base + (state.tat - base) * state.tat_rate / rate
        state.tat_rate = rate
        return rate

    def feedback(
        self,
        scope: str,
        host: str,
        events: list[Feedback],
        *,
        now: float,
        source: str | None = None,
    ) -> None:
        """What became of granted requests: the host's controller learns from each.

        ``source`` names the reporting process, so that the host's backlog is summed
        over the processes (each reports the requests it has waiting).
        """
        state = self._host(scope, host)
        ctl = state.controller
        for ev in events:
            backlog = state.backlog(source, ev.backlog, now)
            sent_at = now - max(0.0, ev.age_s)
            if 0 < ev.grant_id <= state.cut_grant:
                sent_at = min(sent_at, state.cut_at - 1e-6)  # promised before the cut
            if not ev.throttled:
                state.answers += 1
                if ev.server_error:
                    ctl.on_server_error(now=now)
                decision = ctl.on_answer(
                    sent_at=sent_at,
                    now=now,
                    in_flight=ev.in_flight,
                    backlog=backlog,
                    success=ev.success,
                )
                if decision:
                    state.decisions[decision] = state.decisions.get(decision, 0) + 1
                    self._replan(state, now)
                continue
            state.throttles += 1
            decision = ctl.on_throttle(
                sent_at=sent_at,
                now=now,
                in_flight=ev.in_flight,
                retry_after_s=ev.retry_after_s,
                retry_after_resolution_s=ev.retry_after_resolution_s,
                weak=ev.weak,
                backlog=backlog,
            )
            state.decisions[decision] = state.decisions.get(decision, 0) + 1
            self._replan(state, now)
            if decision in ("cut", "park"):
                state.cut_grant, state.cut_at = state.grants, now
            if (ev.weak and decision == "park") or decision == "concurrency":
                continue  # that request waits; the host's others go on (as the scheduler)
            park = ctl.park_s(decision, ev.retry_after_s)
            if ev.retry_after_s is not None:
                park = min(park, self.retry.retry_after_max_s)
            elif not math.isfinite(park):
                park = self.retry.retry_after_default_s
            else:
                park = min(park, self.retry.retry_after_default_s)
            if park > 0:
                state.parks += 1
                state.park_until = max(state.park_until, now + park)
                # A park empties the schedule: what was promised before it is void.
                state.tat = max(state.tat, state.park_until)

    # -- reporting ----------------------------------------------------------------------------
    def statistics(self, *, now: float) -> dict[str, dict[str, Any]]:
        """Per ``"scope|host"``: the rate in force, what the controller believes, counts."""
        out: dict[str, dict[str, Any]] = {}
        for (scope, host), state in self._hosts.items():
            st = state.controller.statistics()
            out[f"{scope}|{host}"] = {
                "scope": scope,
                "host": host,
                "rate_per_s": st.rate_per_s,
                "phase": st.phase,
                "lo_rate_per_s": st.lo_rate_per_s,
                "hi_rate_per_s": st.hi_rate_per_s,
                "throttle_events": st.throttle_events,
                "cuts": st.cuts,
                "raises": st.raises,
                "grants": state.grants,
                "refusals": state.refusals,
                "late_slots": state.late_slots,
                "answers": state.answers,
                "throttles": state.throttles,
                "parks": state.parks,
                "parked_for_s": max(0.0, state.park_until - now),
                "decisions": dict(state.decisions),
            }
        return out


class SharedBudget:
    """A :class:`CentralBudget` for the batches of one process (one event loop): several
    concurrent lookups, e.g. in one notebook kernel, share each host's budget and its
    learning. A :class:`~rdaplab.engine.Budget` that ``learns``; across processes use a
    Dask scheduler's (:class:`~rdaplab.engine.dask_budget.DaskBudget`).

    Examples
    --------
    >>> budget = SharedBudget()
    >>> # await asyncio.gather(rdaplab.lookup_async(a, budget=budget),
    >>> #                      rdaplab.lookup_async(b, budget=budget))
    """

    learns = True

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        retry: Retry | None = None,
        scope: str = "cluster",
        horizon_s: float = HORIZON_S,
    ) -> None:
        self.central = CentralBudget(limits, retry=retry, horizon_s=horizon_s)
        self.scope = scope
        self._asking: dict[str, asyncio.Lock] = {}  # one request per host waits its turn

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    async def acquire(self, host: str) -> tuple[int, float]:
        # The first request waiting for ``host`` asks; the others queue behind it (as
        # DaskBudget.acquire): every waiting request woke at each "ask again".
        async with self._asking.setdefault(host, asyncio.Lock()):
            while True:
                grant = self.central.reserve(self.scope, host, now=self._now())
                if grant.granted:
                    break
                await asyncio.sleep(grant.wait_s)
        if grant.wait_s > 0:
            await asyncio.sleep(grant.wait_s)
        return grant.grant_id, self._now()

    def report(self, host: str, *, source: str = "", **answer: Any) -> None:
        """How an answer went (the keywords of :func:`feedback_of`, but ``now``);
        ``source`` names the batch reporting (its backlog is one of several)."""
        now = self._now()
        event = feedback_of(now=now, **answer)
        self.central.feedback(self.scope, host, [event], now=now, source=source)

    def statistics(self) -> dict[str, dict[str, Any]]:
        return self.central.statistics(now=self._now())
