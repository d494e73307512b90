"""Request budgets shared beyond one batch: the seam for several processes behind one
address (one politeness budget per registry host, wherever the requests come from).

A batch's scheduler already paces each host with its own limiter and controller. A
:class:`Budget` is asked as well, once per request, after the host's own limiter has
granted a slot and before the request is sent; it hears what each answer said. The
default, :class:`LocalBudget`, grants at once: this process is alone. A shared budget
(e.g. one held by a Dask scheduler, :mod:`rdaplab.engine.dask_budget`) makes every
process wait for the same slots.

A budget whose ``learns`` attribute is true learns each host's rate itself, from every
process's answers (:class:`~rdaplab.engine.central.CentralBudget`). The scheduler then
stops pacing and learning on its own (:func:`local_limits`: two controllers cutting for
one throttle would halve the rate twice); it reports each answer with the grant it was
sent on (``acquire``'s return value), the requests it had in flight and waiting, and
whether a throttle was a weak one (a lone ``503`` with Retry-After). A budget that cannot
grant (its coordinator is gone) raises
:class:`~rdaplab.errors.FetchError` ``rate_limited``: it fails closed, and the row says so.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol, runtime_checkable

from rdaplab.engine.config import Limits

__all__ = ["Budget", "LocalBudget", "learns", "local_limits"]


@runtime_checkable
class Budget(Protocol):
    """Grants request slots per registry host and hears how the host answered."""

    async def acquire(self, host: str) -> Any:
        """Wait until one request to ``host`` (``name[:port]``) may be sent; returns a
        grant token that a learning budget wants back in :meth:`report` (else ignored)."""

    def report(self, host: str, *, throttled: bool, retry_after_s: float | None) -> None:
        """What the answer to a granted request said: a throttle (and its Retry-After)
        should slow every process using this budget. A learning budget's ``report`` also
        takes ``grant``, ``in_flight``, ``backlog``, ``weak`` and ``success`` keywords."""


class LocalBudget:
    """This process alone: every slot is granted at once, answers are not shared."""

    learns = False

    async def acquire(self, host: str) -> None:
        return None

    def report(self, host: str, *, throttled: bool, retry_after_s: float | None) -> None:
        return None


def learns(budget: Budget | None) -> bool:
    """Whether ``budget`` learns hosts' rates itself (then the scheduler does not)."""
    return budget is not None and bool(getattr(budget, "learns", False))


def local_limits(limits: Limits) -> Limits:
    """``limits`` for a process whose pace a learning budget sets: unpaced and pinned
    (no local rate, no local learning) at the concurrency ceiling, with everything else
    (daily budgets, quiet hours, the ceilings a shared budget enforces) kept."""
    from rdaplab.engine.profiles import PROFILES

    conc = limits.per_host_max_concurrency
    table = PROFILES if limits.profiles is None else limits.profiles

    def unpaced(profile: Any) -> Any:
        return replace(
            profile,
            rate_per_s=None,
            adaptive=False,
            concurrency=max(profile.concurrency, min(conc, profile.max_concurrency or conc)),
        )

    hosts = {
        host: {k: v for k, v in conf.items() if k not in ("rate_per_s", "adaptive", "burst")}
        for host, conf in limits.hosts.items()
    }
    return replace(
        limits,
        per_host_rate_per_s=None,
        per_host_concurrency=conc,
        adaptive=False,
        hosts=hosts,
        profiles={name: unpaced(p) for name, p in table.items()},
    )
