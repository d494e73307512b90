"""The engine's settings: politeness limits, retries, timeouts and priority classes.

Every settings object is a frozen, keyword-only dataclass with units in its field names
(``_s`` seconds, ``_per_s`` a rate); the field names are what users set, so they are a
public contract (docs/scheduler.md, docs/quickstart.md).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rdaplab.engine.controller import HostController
from rdaplab.engine.learned import LearnedLimits
from rdaplab.engine.limiter import HostLimiter
from rdaplab.engine.profiles import PROFILES, Profile, profile_for

__all__ = ["PRIORITIES", "Limits", "Retry", "Timeouts", "priority_index"]

#: Priority classes, highest first; ``normal`` is the default.
PRIORITIES: tuple[str, ...] = ("critical", "high", "normal", "low")
_PRIORITY_INDEX = {name: i for i, name in enumerate(PRIORITIES)}


def priority_index(priority: str | int | None) -> int:
    """Map a priority class name (or its index) to its index; ``None`` is ``normal``."""
    if priority is None:
        return _PRIORITY_INDEX["normal"]
    if isinstance(priority, int) and not isinstance(priority, bool):
        if 0 <= priority < len(PRIORITIES):
            return priority
    elif isinstance(priority, str) and priority.strip().lower() in _PRIORITY_INDEX:
        return _PRIORITY_INDEX[priority.strip().lower()]
    raise ValueError(f"unknown priority {priority!r}; use one of {', '.join(PRIORITIES)}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Politeness limits. Per-host rates and concurrency are starting points, learned.

    Parameters
    ----------
    max_concurrency
        Requests in flight at once over all hosts (shared fairly between hosts).
    per_host_concurrency
        Starting requests in flight for a host without a profile.
    per_host_rate_per_s
        Starting request rate for a host without a profile; ``None``: unpaced (and then
        not adaptive).
    per_host_burst
        Requests that may go back to back at a pinned (non-adaptive) host.
    per_host_max_rate_per_s, per_host_max_concurrency
        Ceilings the adaptive controller never exceeds at any host.
    adaptive
        Learn each host's limits from its answers (``False``: keep the starting values).
    hosts
        Per-host settings over the profile: ``{"rdap.example.net": {"rate_per_s": 1,
        "concurrency": 2}}``; keys are host names or ``host:port``; keys are those of
        :class:`~rdaplab.engine.profiles.Profile` (a ``rate_per_s`` alone pins the host).
    profiles
        The registry profile table (default :data:`rdaplab.engine.profiles.PROFILES`).
    """

    max_concurrency: int = 64
    per_host_concurrency: int = 2
    per_host_rate_per_s: float | None = 2.0
    per_host_burst: int = 2
    per_host_max_rate_per_s: float = 100.0
    per_host_max_concurrency: int = 16
    adaptive: bool = True
    hosts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    profiles: Mapping[str, Profile] | None = None

    def __post_init__(self) -> None:
        if self.max_concurrency < 1 or self.per_host_concurrency < 1:
            raise ValueError("max_concurrency and per_host_concurrency must be >= 1")
        if self.per_host_rate_per_s is not None and not self.per_host_rate_per_s > 0:
            raise ValueError(
                f"per_host_rate_per_s must be > 0 (or None: unpaced), "
                f"not {self.per_host_rate_per_s!r}"
            )
        if not self.per_host_max_rate_per_s > 0 or self.per_host_max_concurrency < 1:
            raise ValueError("per_host_max_rate_per_s must be > 0, per_host_max_concurrency >= 1")
        if self.per_host_burst < 1:
            raise ValueError(f"per_host_burst must be >= 1, not {self.per_host_burst!r}")

    def profile_for(self, host: str) -> Profile:
        """The effective profile of ``host`` (``host:port``): table, defaults, overrides."""
        default = Profile(
            rate_per_s=self.per_host_rate_per_s,
            concurrency=self.per_host_concurrency,
            burst=self.per_host_burst,
            adaptive=self.adaptive and self.per_host_rate_per_s is not None,
            source="rdaplab defaults (Limits): learned during the batch",
        )
        table = PROFILES if self.profiles is None else self.profiles
        profile = profile_for(host, table, default)
        if profile is not default and not self.adaptive:
            profile = Profile(**{**_profile_dict(profile), "adaptive": False})
        hosts = {k.lower(): v for k, v in self.hosts.items()}
        key = host.lower()
        conf = hosts.get(key) or hosts.get(key.rsplit(":", 1)[0])
        return profile.merged(conf) if conf else profile

    def controller_for(
        self,
        host: str,
        *,
        learned: LearnedLimits | None = None,
        max_park_s: float | None = None,
    ) -> HostController:
        """A controller for ``host``; ``learned`` (an earlier batch's) sets where it starts;
        ``max_park_s`` is the longest park the caller applies without Retry-After."""
        profile = self.profile_for(host)
        limiter = HostLimiter(host, rate_per_s=None, burst=max(1, profile.burst))
        return HostController(
            limiter,
            profile,
            max_rate_per_s=self.per_host_max_rate_per_s,
            max_concurrency=self.per_host_max_concurrency,
            learned=learned,
            **({} if max_park_s is None else {"max_park_s": max_park_s}),
        )

    def limiter_for(self, host: str) -> HostLimiter:
        """A limiter set to ``host``'s starting values (what the controller starts from)."""
        return self.controller_for(host).limiter


def _profile_dict(profile: Profile) -> dict[str, Any]:
    return {name: getattr(profile, name) for name in Profile.__slots__}


@dataclass(frozen=True, slots=True, kw_only=True)
class Retry:
    """Retry and circuit-breaker settings (units in the names).

    ``retry_after_default_s`` is the longest park after a throttle without Retry-After:
    an adaptive host parks one request interval at its cut rate, doubling while
    throttles repeat, up to this; a pinned host parks this long. ``retry_after_max_s``
    caps the host's own Retry-After.
    """

    max_attempts: int = 4
    max_throttled: int = 8
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    retry_after_default_s: float = 5.0
    retry_after_max_s: float = 300.0
    dead_host_after: int = 5
    breaker_cooldown_s: float = 30.0
    breaker_max_cooldown_s: float = 600.0
    max_referral_depth: int = 2

    def backoff_s(self, failures: int, rng: random.Random) -> float:
        """Full-jitter exponential backoff before retry number ``failures``."""
        cap = min(self.backoff_max_s, self.backoff_initial_s * (2 ** (failures - 1)))
        return rng.uniform(0.0, cap)


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    """Timeouts for one HTTP exchange, in seconds."""

    connect_s: float = 10.0
    total_s: float = 30.0
