"""Request budgets shared beyond one batch: the seam for several processes behind one
address (one politeness budget per registry host, wherever the requests come from).

A batch's scheduler already paces each host with its own limiter and controller. A
:class:`Budget` is asked as well, once per request, after the host's own limiter has
granted a slot and before the request is sent; it hears what each answer said. The
default, :class:`LocalBudget`, grants at once: this process is alone. A shared budget
(e.g. one held by a Dask scheduler) makes every process wait for the same slots.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["Budget", "LocalBudget"]


@runtime_checkable
class Budget(Protocol):
    """Grants request slots per registry host and hears how the host answered."""

    async def acquire(self, host: str) -> None:
        """Wait until one request to ``host`` (``name[:port]``) may be sent."""

    def report(self, host: str, *, throttled: bool, retry_after_s: float | None) -> None:
        """What the answer to a granted request said: a throttle (and its Retry-After)
        should slow every process using this budget."""


class LocalBudget:
    """This process alone: every slot is granted at once, answers are not shared."""

    async def acquire(self, host: str) -> None:
        return None

    def report(self, host: str, *, throttled: bool, retry_after_s: float | None) -> None:
        return None
