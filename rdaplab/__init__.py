"""rdaplab: RDAP lookups at scale for researchers.

>>> import rdaplab
>>> result = rdaplab.lookup(["example.com"])  # doctest: +SKIP
>>> result.domains  # doctest: +SKIP
"""

from rdaplab import accessor as _accessor  # noqa: F401  (registers df.rdap, lf.rdap)
from rdaplab import notebook as _notebook  # noqa: F401  (the progress widget in Jupyter)
from rdaplab._version import __version__
from rdaplab.bootstrap import (
    Bootstrap,
    BootstrapOverrideWarning,
    BootstrapStaleWarning,
    ServiceMatch,
)
from rdaplab.cache import Cache
from rdaplab.client import RdapClient, Timeouts
from rdaplab.controller import ControllerStatistics, HostController
from rdaplab.errors import (
    ERROR_KINDS,
    OUTCOMES,
    BatchInterrupted,
    BootstrapError,
    CacheError,
    CacheLockedError,
    FetchError,
    InputError,
    RdapLabError,
)
from rdaplab.limiter import FairShare, HostLimiter, LimiterStatistics
from rdaplab.lookup import Batch, LookupResult, load_result, lookup, lookup_async, start
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
    "Batch",
    "BatchInterrupted",
    "Bootstrap",
    "BootstrapError",
    "BootstrapOverrideWarning",
    "BootstrapStaleWarning",
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
    "load_result",
    "lookup",
    "lookup_async",
    "start",
    "stream",
]


def __getattr__(name: str) -> object:
    # The charts and report layers import Altair and vl-convert: load them on first use.
    if name in ("charts", "report"):
        import importlib

        return importlib.import_module(f"rdaplab.{name}")
    raise AttributeError(f"module 'rdaplab' has no attribute {name!r}")
