"""The HTTP engine: one client, per-host limiters and controllers, the scheduler.

What the batch layer drives to fetch answers politely; nothing here knows of the cache or
the frames. Engine internals are public here for those who tune or study the scheduler.
"""

from rdaplab.engine.budget import Budget, LocalBudget
from rdaplab.engine.client import RdapClient, authority
from rdaplab.engine.config import PRIORITIES, Limits, Retry, Timeouts, priority_index
from rdaplab.engine.controller import ControllerStatistics, HostController
from rdaplab.engine.learned import LearnedLimits
from rdaplab.engine.limiter import FairShare, HostLimiter, LimiterStatistics
from rdaplab.engine.profiles import PROFILES, Profile
from rdaplab.engine.refresh import IANA_BOOTSTRAP_URL, refresh_bootstrap
from rdaplab.engine.scheduler import Scheduler
from rdaplab.engine.throttle import Signal, classify

__all__ = [
    "IANA_BOOTSTRAP_URL",
    "PRIORITIES",
    "PROFILES",
    "Budget",
    "ControllerStatistics",
    "FairShare",
    "HostController",
    "HostLimiter",
    "LearnedLimits",
    "LimiterStatistics",
    "Limits",
    "LocalBudget",
    "Profile",
    "RdapClient",
    "Retry",
    "Scheduler",
    "Signal",
    "Timeouts",
    "authority",
    "classify",
    "priority_index",
    "refresh_bootstrap",
]
