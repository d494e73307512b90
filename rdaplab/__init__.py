"""rdaplab: RDAP lookups at scale for researchers.

>>> import rdaplab
>>> result = rdaplab.lookup(["example.com"])  # doctest: +SKIP
>>> result.domains  # doctest: +SKIP
"""

from rdaplab._version import __version__
from rdaplab.bootstrap import Bootstrap, BootstrapOverrideWarning, ServiceMatch
from rdaplab.cache import Cache
from rdaplab.client import RdapClient, Timeouts
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
from rdaplab.limiter import HostLimiter, LimiterStatistics
from rdaplab.lookup import LookupResult, lookup, lookup_async
from rdaplab.progress import ProgressSnapshot
from rdaplab.scheduler import Limits, Retry

__all__ = [
    "ERROR_KINDS",
    "OUTCOMES",
    "Bootstrap",
    "BootstrapError",
    "BootstrapOverrideWarning",
    "Cache",
    "CacheError",
    "CacheLockedError",
    "FetchError",
    "HostLimiter",
    "InputError",
    "LimiterStatistics",
    "Limits",
    "LookupResult",
    "ProgressSnapshot",
    "RdapClient",
    "RdapLabError",
    "Retry",
    "ServiceMatch",
    "Timeouts",
    "__version__",
    "lookup",
    "lookup_async",
]
