"""rdaplab: RDAP lookups at scale for researchers.

>>> import rdaplab
>>> result = rdaplab.lookup(["example.com"])  # doctest: +SKIP
>>> result.domains  # doctest: +SKIP
"""

from rdaplab._version import __version__
from rdaplab.bootstrap import Bootstrap, BootstrapOverrideWarning, ServiceMatch
from rdaplab.cache import Cache
from rdaplab.client import RdapClient, Timeouts
from rdaplab.controller import ControllerStatistics, HostController
from rdaplab.errors import (
    ERROR_KINDS,
    OUTCOMES,
    BootstrapError,
    CacheError,
    CacheLockedError,
    FetchError,
    InputError,
    RdapLabError,
)
from rdaplab.limiter import FairShare, HostLimiter, LimiterStatistics
from rdaplab.lookup import LookupResult, lookup, lookup_async
from rdaplab.profiles import PROFILES, Profile
from rdaplab.progress import ProgressSnapshot
from rdaplab.scheduler import PRIORITIES, Limits, Retry
from rdaplab.stream import StreamBatch, stream
from rdaplab.throttle import Signal, classify_throttle

__all__ = [
    "ERROR_KINDS",
    "OUTCOMES",
    "PRIORITIES",
    "PROFILES",
    "Bootstrap",
    "BootstrapError",
    "BootstrapOverrideWarning",
    "Cache",
    "CacheError",
    "CacheLockedError",
    "ControllerStatistics",
    "FairShare",
    "FetchError",
    "HostController",
    "HostLimiter",
    "InputError",
    "LimiterStatistics",
    "Limits",
    "LookupResult",
    "Profile",
    "ProgressSnapshot",
    "RdapClient",
    "RdapLabError",
    "Retry",
    "ServiceMatch",
    "Signal",
    "StreamBatch",
    "Timeouts",
    "__version__",
    "classify_throttle",
    "lookup",
    "lookup_async",
    "stream",
]
