"""Learned host limits between batches: read from the cache at a host's first request,
saved when the batch ends (issue 11).

The store keeps plain rows (:mod:`rdaplab.store.hosts`); the engine decides how far an
aged figure is trusted (:class:`~rdaplab.engine.LearnedLimits`). This module is the
bridge: it turns a row into a ``LearnedLimits`` for the scheduler, and a finished
scheduler's host statistics into rows. See docs/scheduler.md, "Starting from what
earlier batches learned".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from rdaplab.engine import LearnedLimits, Scheduler
from rdaplab.errors import CacheError
from rdaplab.store import Cache

__all__ = ["MIN_REQUESTS_TO_SAVE", "learned_reader", "save_learned_limits"]

log = logging.getLogger("rdaplab")

#: A host's figures are saved only when the batch sent it at least this many requests.
#: A handful of queries never leaves slow start (2/s, 4/s ...), so its "best rate" says
#: little about the host's limit; saving it would overwrite a good figure from a large
#: batch with a poor one, and the next large batch would start low again.
MIN_REQUESTS_TO_SAVE = 20


def learned_limits(row: dict[str, Any] | None) -> LearnedLimits | None:
    """A ``LearnedLimits`` from a ``host_limits`` row, or None (absent, invalid, too old)."""
    if row is None:
        return None
    try:
        learned = LearnedLimits(
            host=row["host"],
            rate_per_s=float(row["rate_per_s"]),
            throttled_at_per_s=row.get("throttled_at_per_s"),
            concurrency_ceiling=row.get("concurrency_ceiling"),
            age_s=float(row["age_s"]),
        )
    except (KeyError, TypeError, ValueError):
        return None  # a row this rdaplab cannot use is no reason to fail the batch
    return learned if learned.usable else None


def learned_reader(store: Cache) -> Callable[[str], LearnedLimits | None]:
    """``host -> LearnedLimits | None`` reading ``store`` (the scheduler's ``learned=``).

    Called once per host, when the batch first sends to it: one keyed read.
    """

    def read(host: str) -> LearnedLimits | None:
        try:
            return learned_limits(store.host_limits(host))
        except CacheError as exc:
            log.warning("rdaplab: learned limits of %s unreadable, starting it anew: %s", host, exc)
            return None

    return read


def limits_to_save(scheduler: Scheduler) -> list[dict[str, Any]]:
    """The ``host_limits`` rows of what ``scheduler`` learned: adaptive hosts that were
    sent at least :data:`MIN_REQUESTS_TO_SAVE` requests and have a learned rate."""
    hosts = scheduler.hosts
    rows = []
    for stats in scheduler.host_statistics():
        host = hosts.get(stats["host"])
        if host is None or not host.controller.adaptive:
            continue  # a pinned rate is the user's decision, not something learned
        if stats["requests"] < MIN_REQUESTS_TO_SAVE or not stats["learned_max_rate_per_s"]:
            continue
        # The ceiling is kept only when it was learned from connection-limit refusals
        # (a ceiling lowered by the latency gradient also sits below the maximum).
        from_limit = host.controller.concurrency_learned
        rate = stats["learned_max_rate_per_s"]
        before = host.controller.learned_from
        if before is not None and stats["throttle_events"] == 0:
            # Nothing refused: nothing says the old figure was too high. A small batch
            # that never climbed back from the trusted share would otherwise lower it
            # run after run.
            rate = max(rate, before.rate_per_s)
        rows.append(
            {
                "host": stats["host"],
                "rate_per_s": rate,
                "throttled_at_per_s": stats["throttled_at_rate_per_s"],
                "concurrency_ceiling": stats["concurrency_ceiling"] if from_limit else None,
                "requests": stats["requests"],
                "throttle_events": stats["throttle_events"],
            }
        )
    return rows


def save_learned_limits(store: Cache, scheduler: Scheduler | None, batch_id: str) -> int:
    """Save what ``scheduler`` learned about its hosts in ``store``; rows saved."""
    if scheduler is None:
        return 0
    return store.save_host_limits(limits_to_save(scheduler), batch_id=batch_id)
