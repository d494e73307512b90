"""A registry host's circuit breaker: stop sending to a host that keeps failing.

``Retry.dead_host_after`` consecutive connection failures or 5xx (the scheduler does not
count timeouts: those can be our own stalls) open the breaker: the host's queued and new
jobs fail at once (``connection_error`` or ``http_error``) for
``Retry.breaker_cooldown_s``; then one probe request is let through (half-open): an
answer closes the breaker, a failure opens it again for twice as long (at most
``Retry.breaker_max_cooldown_s``).

The breaker keeps the state; the :class:`~rdaplab.engine.scheduler.Scheduler` decides what
counts as a failure and fails the queued jobs when the breaker opens.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rdaplab.engine.config import Retry
from rdaplab.errors import ErrorKind, FetchError

__all__ = ["Breaker"]

log = logging.getLogger("rdaplab")


@dataclass(slots=True)
class Breaker:
    """The circuit breaker of one host (``host:port``).

    Attributes
    ----------
    state
        ``"closed"``, ``"open"`` (until :attr:`until`) or ``"half_open"`` (one probe out).
    reason, kind
        Why it is open, and the error kind its refused jobs end with.
    probe_owner
        The job whose request is the half-open probe.
    probe_done
        Set when the probe's verdict is in (or anything else waiters must re-check).
    on_change
        Called as ``on_change(state, reason)`` when the breaker opens (``"open"``) or
        closes again (``"closed"``); the scheduler reports it as a host event.
    """

    authority: str
    retry: Retry
    state: str = "closed"
    until: float = 0.0
    cooldown_s: float = 0.0
    reason: str | None = None
    kind: ErrorKind = "connection_error"
    probe_owner: Any = None
    probe_done: asyncio.Event = field(default_factory=asyncio.Event)
    consecutive_failures: int = 0
    on_change: Callable[[str, str], None] | None = None

    def refusal(self) -> FetchError | None:
        """The error a job ends with now, when the breaker is open; else None."""
        if self.state == "open" and _now() < self.until:
            return FetchError(self.kind, self.reason or "")
        return None

    def failure(self, kind: ErrorKind, err: FetchError, probe: bool) -> FetchError | None:
        """Count a connection failure or 5xx; when it opens the breaker, the error for
        the host's queued jobs."""
        self.consecutive_failures += 1
        if probe and self.state == "half_open":
            return self.open(kind, err, again=True)
        if self.state == "closed" and self.consecutive_failures >= self.retry.dead_host_after:
            return self.open(kind, err, again=False)
        return None

    def ok(self, probe: bool) -> None:
        """The host answered: reset the count, and close the breaker after a probe."""
        self.consecutive_failures = 0
        if self.state != "closed" and (probe or self.state == "half_open"):
            log.info("rdaplab: %s answers again; circuit closed", self.authority)
            self.state = "closed"
            self.reason = None
            self.cooldown_s = 0.0
            self.probe_done.set()
            if self.on_change is not None:
                self.on_change("closed", f"{self.authority} answers again")

    def open(self, kind: ErrorKind, err: FetchError, *, again: bool) -> FetchError:
        """Open for the cool-down (doubled when ``again``); the error for queued jobs."""
        cooldown = (
            min(self.retry.breaker_max_cooldown_s, max(self.cooldown_s, 1e-9) * 2)
            if again and self.cooldown_s
            else self.retry.breaker_cooldown_s
        )
        self.state = "open"
        self.cooldown_s = cooldown
        self.until = _now() + cooldown
        self.kind = kind if kind in ("connection_error", "timeout") else "http_error"
        self.reason = (
            f"circuit open for {self.authority} after {self.consecutive_failures} consecutive "
            f"failures ({err.detail}); next probe in {cooldown:.0f} s"
        )
        log.warning("rdaplab: %s; failing its queued rows", self.reason)
        self.probe_done.set()  # waiters re-check: the breaker is open, they fail fast
        if self.on_change is not None:
            self.on_change("open", self.reason)
        return FetchError(self.kind, self.reason)

    async def gate(self, job: object, exhausted: Callable[[], bool]) -> bool:
        """Wait while a half-open probe is out; True when ``job``'s request may be sent."""
        while True:
            if exhausted():
                return False
            if self.state == "closed" or self.probe_owner is job:
                return True  # the probe's own retries (after a timeout) go on probing
            if self.state == "open":
                if _now() < self.until:
                    return False
                self.state = "half_open"  # cool-down over: this request is the probe
                self.probe_done.clear()
                return True
            await self.probe_done.wait()  # half-open: wait for the probe's verdict

    def job_ended(self, job: object, exhausted: bool) -> None:
        """``job`` is done: if it was the probe and gave no verdict (a quota, a spent
        budget), let the waiters re-check rather than wait forever."""
        if self.state == "half_open" and self.probe_owner is job:
            self.state = "open" if not exhausted else self.state
            self.probe_owner = None
            self.probe_done.set()


def _now() -> float:
    return asyncio.get_running_loop().time()
