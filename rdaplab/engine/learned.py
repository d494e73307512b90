"""What an earlier batch learned about a host, and how far to trust it now.

A batch ends knowing each host's limits (the rate proven clean, the rate that was
throttled, a connection ceiling). The batch layer keeps them in the cache and hands them
back, per host, to the next batch's scheduler, so a second run starts near the learned
rate instead of slow-starting from the profile. Limits change (registries raise and
lower them, an address shares a limit with others), so the trust decays with age: a
fresh figure is started from just under itself, a day-old one from a fraction, and past
:data:`MAX_AGE_S` it is ignored.

Pure data, no I/O: the store keeps the rows, the batch layer builds these.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAX_AGE_S", "LearnedLimits"]

#: Older than this (seconds), a learned limit is not used at all (30 days).
MAX_AGE_S = 30 * 86_400.0

# (age up to, share of the learned rate to start from). The first step is < 1 so a
# fresh figure never starts right at the edge that was measured.
_TRUST = ((3_600.0, 0.9), (86_400.0, 0.7), (7 * 86_400.0, 0.5), (MAX_AGE_S, 0.3))


@dataclass(frozen=True, slots=True, kw_only=True)
class LearnedLimits:
    """One host's limits as an earlier batch learned them.

    Parameters
    ----------
    host
        The ``host:port`` authority.
    rate_per_s
        The highest rate proven clean there (for a host that never throttled, the best
        rate it answered at: its limit, if any, is higher).
    throttled_at_per_s
        The lowest rate at which it throttled, or ``None`` (never throttled).
    concurrency_ceiling
        Requests in flight it accepts, when that was learned from its refusals; else None.
    age_s
        Seconds since it was learned.
    """

    host: str
    rate_per_s: float
    throttled_at_per_s: float | None = None
    concurrency_ceiling: int | None = None
    age_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.rate_per_s > 0:
            raise ValueError(f"rate_per_s must be > 0, not {self.rate_per_s!r}")
        if self.age_s < 0:
            raise ValueError(f"age_s must be >= 0, not {self.age_s!r}")

    @property
    def trust(self) -> float:
        """The share of the learned rate to start from (0 when too old to use)."""
        for up_to, share in _TRUST:
            if self.age_s <= up_to:
                return share
        return 0.0

    @property
    def usable(self) -> bool:
        return self.trust > 0.0

    def start_rate_per_s(self) -> float | None:
        """Where a new batch starts this host, or ``None`` when the figure is too old.

        >>> LearnedLimits(host="h:443", rate_per_s=10.0, age_s=60).start_rate_per_s()
        9.0
        >>> LearnedLimits(host="h:443", rate_per_s=10.0, age_s=90 * 86_400).start_rate_per_s()
        """
        trust = self.trust
        return self.rate_per_s * trust if trust > 0 else None
