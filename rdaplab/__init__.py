"""rdaplab: RDAP lookups at scale for researchers.

>>> import rdaplab
>>> result = rdaplab.lookup(["example.com"])  # doctest: +SKIP
>>> result.domains  # doctest: +SKIP
"""

from rdaplab._version import __version__
from rdaplab.batch.lookup import Batch, LookupResult, load_result, lookup, lookup_async, start
from rdaplab.batch.progress import ProgressSnapshot
from rdaplab.batch.stream import StreamBatch, stream
from rdaplab.engine.client import RdapClient, Timeouts
from rdaplab.engine.controller import ControllerStatistics, HostController
from rdaplab.engine.limiter import FairShare, HostLimiter, LimiterStatistics
from rdaplab.engine.profiles import PROFILES, Profile
from rdaplab.engine.scheduler import PRIORITIES, Limits, Retry
from rdaplab.engine.throttle import Signal, classify_throttle
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
from rdaplab.notebook import accessor as _accessor  # noqa: F401  (registers df.rdap, lf.rdap)
from rdaplab.notebook import widget as _widget  # noqa: F401  (the progress widget in Jupyter)
from rdaplab.rdap.bootstrap import (
    Bootstrap,
    BootstrapOverrideWarning,
    BootstrapStaleWarning,
    ServiceMatch,
)
from rdaplab.store.cache import Cache

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

        return importlib.import_module(f"rdaplab.notebook.{name}")
    raise AttributeError(f"module 'rdaplab' has no attribute {name!r}")
