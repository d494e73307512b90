"""Registry profiles: known starting points (and hard ceilings) for hosts' rate limits.

Registries publish few limits. Where one is published or well documented, starting there
saves the scheduler from discovering it by being throttled, and a *published* limit is
also a ceiling the scheduler never probes above. Every other host starts from
:data:`UNKNOWN` (conservative) and learns.

The table is small on purpose: each entry names its source. Override or extend it per
batch with ``Limits(hosts={"rdap.example.net": {"rate_per_s": 1, "max_rate_per_s": 2}})``
or ``Limits(profiles=...)``; see docs/scheduler.md.

>>> profile_for("rdap.lacnic.net:443").max_rate_per_s
0.16666666666666666
>>> profile_for("rdap.unknown.example").source
'unknown host: conservative start, learned during the batch'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from rdaplab.engine.windows import Window

__all__ = ["PROFILES", "UNKNOWN", "Profile", "profile_for"]


@dataclass(frozen=True, slots=True)
class Profile:
    """Starting point and limits for one registry host.

    Parameters
    ----------
    rate_per_s
        Starting request rate; ``None``: unpaced (only with ``adaptive=False``).
    concurrency
        Starting requests in flight.
    max_rate_per_s
        Never exceed this rate (a published limit); ``None``: learn the ceiling.
    max_concurrency
        Never exceed this many requests in flight; ``None``: the batch's ceiling.
    burst
        Requests that may go back to back.
    daily_budget
        Requests allowed per rolling 24 hours from this machine (counted across batches
        in the cache); ``None``: no budget.
    adaptive
        Whether the scheduler may change the rate and concurrency (``False`` pins them).
    quiet_hours
        The registry's quiet hours, ``"HH:MM-HH:MM [Zone]"`` (e.g. ``"22:00-06:00
        Europe/Amsterdam"``): a batch run with ``quiet_hours_only=True`` (a job with
        ``window="registry"``) sends to this host only inside them. ``None``: any time.
    source
        Where the numbers come from.
    """

    rate_per_s: float | None = 2.0
    concurrency: int = 2
    max_rate_per_s: float | None = None
    max_concurrency: int | None = None
    burst: int = 1
    daily_budget: int | None = None
    adaptive: bool = True
    source: str = ""
    quiet_hours: str | None = None

    def __post_init__(self) -> None:
        if self.rate_per_s is not None and not self.rate_per_s > 0:
            raise ValueError(f"rate_per_s must be > 0 (or None: unpaced), not {self.rate_per_s!r}")
        if self.max_rate_per_s is not None and not self.max_rate_per_s > 0:
            raise ValueError(f"max_rate_per_s must be > 0, not {self.max_rate_per_s!r}")
        for name in ("concurrency", "burst"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, not {getattr(self, name)!r}")
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, not {self.max_concurrency!r}")
        if self.daily_budget is not None and self.daily_budget < 0:
            raise ValueError(f"daily_budget must be >= 0, not {self.daily_budget!r}")
        if self.quiet_hours is not None:
            Window.parse(self.quiet_hours)  # a bad one fails here, not mid-batch

    def merged(self, overrides: Mapping[str, Any]) -> Profile:
        """This profile with keys from a ``Limits.hosts`` entry applied."""
        known = {k: v for k, v in overrides.items() if k in _FIELDS}
        unknown = set(overrides) - set(_FIELDS)
        if unknown:
            raise ValueError(f"unknown host setting(s) {sorted(unknown)}; known: {_FIELDS}")
        if "rate_per_s" in known and "max_rate_per_s" not in known and "adaptive" not in known:
            # A rate the user typed is a decision, not a guess: pin it.
            known["adaptive"] = False
        return replace(self, **known)


_FIELDS = (
    "rate_per_s",
    "concurrency",
    "max_rate_per_s",
    "max_concurrency",
    "burst",
    "daily_budget",
    "adaptive",
    "source",
    "quiet_hours",
)

#: Where a host without a profile starts: slow, then learns (slow start, then AIMD).
UNKNOWN = Profile(
    rate_per_s=2.0,
    concurrency=2,
    source="unknown host: conservative start, learned during the batch",
)

#: Known hosts, keyed by host name (any port). Sources are cited; numbers are per client IP.
PROFILES: Mapping[str, Profile] = {
    "rdap.lacnic.net": Profile(
        rate_per_s=10 / 60,
        concurrency=1,
        max_rate_per_s=10 / 60,
        max_concurrency=1,
        daily_budget=None,  # 1,000/hour is looser than 10/minute: the rate rules
        source="LACNIC RDAP: 10 queries per minute and 1,000 per hour per IP (lacnic.net)",
    ),
    "rdap.centralnic.com": Profile(
        rate_per_s=2.0,
        concurrency=2,
        max_rate_per_s=2.0,
        source="CentralNic RDAP: about 2 queries per second per IP (operator guidance)",
    ),
    "rdap.db.ripe.net": Profile(
        rate_per_s=2.0,
        concurrency=2,
        source=(
            "RIPE Database AUP: 1,000 personal data sets per 24 h per IP or SSO account "
            "(counted in returned objects, so not a request budget); over it, "
            "'Access from your host has been temporarily denied' (db-wg, May 2024)"
        ),
    ),
    "rdap.afrinic.net": Profile(
        rate_per_s=1.0,
        concurrency=2,
        source="AFRINIC: daily limit on personal-data objects per IP, like RIPE (AUP)",
    ),
    "rdap.arin.net": Profile(
        rate_per_s=2.0,
        concurrency=2,
        source="ARIN: throttles without a published number; start gently",
    ),
    "rdap.apnic.net": Profile(
        rate_per_s=2.0,
        concurrency=2,
        source="APNIC: no published number; start gently",
    ),
}


def profile_for(
    host: str,
    profiles: Mapping[str, Profile] | None = None,
    default: Profile | None = None,
) -> Profile:
    """The profile for ``host`` (``name`` or ``name:port``), else ``default``/:data:`UNKNOWN`."""
    table = PROFILES if profiles is None else profiles
    name = host.lower()
    found = table.get(name)
    if found is None and ":" in name and not name.endswith("]"):
        found = table.get(name.rsplit(":", 1)[0])
    return found if found is not None else (default or UNKNOWN)
