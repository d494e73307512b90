"""rdaplab: RDAP lookups at scale for researchers.

The public API, by layer (everything else lives in the subpackages: ``rdaplab.engine``
for the scheduler's internals, ``rdaplab.rdap`` for parsing, ``rdaplab.store``,
``rdaplab.frames``, ``rdaplab.batch``):

- calls: :func:`lookup`, :func:`lookup_async`, :func:`start`, :func:`stream`,
  :func:`load_result`;
- change over time: :func:`snapshot`, :func:`diff`, :func:`history`,
  :func:`expiry_outcomes`;
- results: :class:`LookupResult`, :class:`Batch`, :class:`StreamBatch`,
  :class:`ProgressSnapshot`;
- options: :class:`LookupOptions`, :class:`StreamOptions`, :class:`Limits`,
  :class:`Retry`, :class:`Timeouts`, :class:`Profile` (and the built-in ``PROFILES``);
- data: :class:`Cache`, :class:`Bootstrap`, :class:`PublicSuffixes`;
- exceptions and warnings: :class:`RdapLabError` and its subclasses;
- vocabularies: ``OUTCOMES``, ``ERROR_KINDS``, ``KINDS``, ``PRIORITIES``.

``rdaplab.charts``, ``rdaplab.report`` and ``rdaplab.simulator`` load on first use (they
import Altair, vl-convert and the simulator's server), as does ``rdaplab.jobs`` (durable
jobs: ``rdaplab.jobs.submit``, ``rdaplab.jobs.list``, ``rdaplab.jobs.Worker``) and
``rdaplab.distributed`` (past one process on Dask; :func:`scan` reads its studies).

>>> import rdaplab
>>> result = rdaplab.lookup(["example.com"])  # doctest: +SKIP
>>> result.domains  # doctest: +SKIP
"""

from typing import Any

from rdaplab._version import __version__
from rdaplab.batch import (
    Alert,
    AlertCleared,
    AlertThresholds,
    Batch,
    BatchFinished,
    BatchStarted,
    BreakerClosed,
    BreakerOpened,
    Event,
    EventHandler,
    HostExhausted,
    HostParked,
    HostThrottled,
    LookupOptions,
    LookupResult,
    Progress,
    ProgressSnapshot,
    StreamBatch,
    StreamOptions,
    diff,
    expiry_outcomes,
    history,
    load_result,
    lookup,
    lookup_async,
    snapshot,
    start,
    stream,
)
from rdaplab.engine import PRIORITIES, PROFILES, Limits, Profile, Retry, Timeouts
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
from rdaplab.rdap import KINDS, Bootstrap, BootstrapOverrideWarning, BootstrapStaleWarning
from rdaplab.rdap.psl import PublicSuffixes
from rdaplab.store import Cache

__all__ = [
    "ERROR_KINDS",
    "KINDS",
    "OUTCOMES",
    "PRIORITIES",
    "PROFILES",
    "Alert",
    "AlertCleared",
    "AlertThresholds",
    "Batch",
    "BatchFinished",
    "BatchInterrupted",
    "BatchStarted",
    "Bootstrap",
    "BootstrapError",
    "BootstrapOverrideWarning",
    "BootstrapStaleWarning",
    "BreakerClosed",
    "BreakerOpened",
    "Cache",
    "CacheError",
    "CacheLockedError",
    "Event",
    "EventHandler",
    "FetchError",
    "HostExhausted",
    "HostParked",
    "HostThrottled",
    "InputError",
    "Limits",
    "LookupOptions",
    "LookupResult",
    "Profile",
    "Progress",
    "ProgressSnapshot",
    "PublicSuffixes",
    "RdapLabError",
    "Retry",
    "StreamBatch",
    "StreamOptions",
    "Timeouts",
    "__version__",
    "diff",
    "expiry_outcomes",
    "history",
    "load_result",
    "lookup",
    "lookup_async",
    "scan",
    "snapshot",
    "start",
    "stream",
]

# Last: it registers df.rdap, the progress widget and result.charts on the layers above,
# and lookup(values, cluster=client) on rdaplab.distributed (which imports no Dask here).
from rdaplab import distributed as _distributed  # noqa: F401
from rdaplab import notebook as _notebook  # noqa: F401


def scan(store: Any, frame: str = "domains") -> Any:
    """The results of a sharded study (``rdaplab.distributed.submit``) as a lazy Polars
    frame over its Parquet parts; see :func:`rdaplab.distributed.scan`."""
    from rdaplab.distributed.store import scan as scan_store

    return scan_store(store, frame)


_LAZY = {
    "charts": "rdaplab.notebook.charts",
    "distributed": "rdaplab.distributed",
    "jobs": "rdaplab.jobs",
    "report": "rdaplab.notebook.report",
    "simulator": "rdaplab.simulator",
}


def __getattr__(name: str) -> Any:
    # Altair, vl-convert and the simulator's server load on first use, not with rdaplab.
    if name in _LAZY:
        import importlib

        return importlib.import_module(_LAZY[name])
    raise AttributeError(f"module 'rdaplab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, *_LAZY])
