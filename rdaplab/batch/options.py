"""A batch's options, declared once.

:class:`LookupOptions` (and :class:`StreamOptions`, which adds the stream's chunking) is
the one declaration of every option a batch takes. :func:`takes_options` gives
``lookup``, ``lookup_async``, ``start`` and ``stream`` its fields as explicit keyword-only
parameters: ``inspect.signature`` (Jupyter's Shift-Tab) and type checkers see each one,
and the options' documentation is appended to each function's docstring.

>>> import inspect, rdaplab
>>> "max_age" in inspect.signature(rdaplab.lookup).parameters
True
>>> rdaplab.LookupOptions(kind="ip").kind
'ip'
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from rdaplab.batch.events import AlertThresholds
from rdaplab.batch.privacy import PrivacySettings
from rdaplab.errors import InputError
from rdaplab.rdap import KINDS

if TYPE_CHECKING:
    from rdaplab.batch.events import EventHandler
    from rdaplab.batch.progress import Renderer
    from rdaplab.engine import Budget, Limits, Retry, Timeouts
    from rdaplab.rdap import Bootstrap
    from rdaplab.rdap.psl import PublicSuffixes
    from rdaplab.store import Cache

__all__ = [
    "DEFAULT_MAX_AGE_S",
    "DEFAULT_NOT_FOUND_MAX_AGE_S",
    "LookupOptions",
    "StreamOptions",
    "takes_options",
]

DEFAULT_MAX_AGE_S = 86_400.0  # a day: registration data changes slowly
DEFAULT_NOT_FOUND_MAX_AGE_S = 3_600.0  # names get registered: re-ask sooner
DEFAULT_CHUNK_SIZE = 10_000
DEFAULT_MAX_PENDING = 20_000


def _is_budget(obj: Any) -> bool:
    from rdaplab.engine.budget import Budget

    return isinstance(obj, Budget)


def _shared_budget(obj: Any, options: LookupOptions) -> Any:
    """``budget=`` a Dask client or scheduler address: the budget that scheduler holds."""
    is_address = isinstance(obj, str) and "://" in obj
    if not is_address and not (hasattr(obj, "scheduler") and hasattr(obj, "security")):
        raise InputError(
            "budget must be None, an rdaplab Budget, a Dask distributed.Client or a Dask "
            f"scheduler address ('tcp://host:8786'); got {obj!r}"
        )
    try:
        from rdaplab.engine.dask_budget import as_budget
    except ImportError as exc:
        raise InputError(
            "a budget shared through Dask needs the optional extra: "
            f"pip install 'rdaplab[dask]' ({exc})"
        ) from exc
    return as_budget(obj, limits=options.limits, retry=options.retry)


def seconds(value: float | timedelta | None, default: float) -> float:
    """Seconds of a duration given as a number or a ``timedelta`` (None: ``default``)."""
    if value is None:
        return default
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


@dataclass(frozen=True, kw_only=True)
class LookupOptions:
    """Every option of a lookup batch (``lookup``, ``lookup_async``, ``start``, ``stream``,
    and the CLI's ``rdaplab lookup``).

    Parameters
    ----------
    kind
        ``"auto"`` (per row: IP addresses and CIDRs, AS numbers, the rest domains; a column
        named for domains, such as ``domain``, ``hostname``, ``url`` or ``email``, is all
        domains) or one of ``domain``, ``ip``, ``asn``, ``entity``, ``nameserver``
        (docs/objects.md).
    column
        Column holding the values, for frames and tabular files (default ``domain``, or
        the only column).
    registered_domain
        Look up each domain value's registrable domain (Public Suffix List): URLs, e-mail
        addresses and host names map to it (``https://www.example.co.uk/x`` ->
        ``example.co.uk``), one lookup per registrable domain; ``query`` keeps the value as
        given. ``False``: each value is looked up as the name it is.
    psl_private
        Also honour the list's private section (``foo.blogspot.com`` stays whole); by
        default only the ICANN section (``foo.blogspot.com`` -> ``blogspot.com``).
    psl
        A Public Suffix List file (or :class:`~rdaplab.rdap.psl.PublicSuffixes`); ``None``
        for the copy ``rdaplab psl refresh`` saved, else the snapshot bundled with the
        ``publicsuffixlist`` package.
    cache
        A :class:`~rdaplab.Cache`, a file path, ``":memory:"``, or ``None`` for the default
        file in the user's cache directory.
    bootstrap
        A :class:`~rdaplab.Bootstrap`, a directory of IANA bootstrap files, or ``None`` for
        the refreshed copy or the bundled snapshot.
    bootstrap_overrides
        ``{tld: url}`` for TLDs missing from IANA's registry (merged on top, warning when
        one shadows IANA).
    max_age, not_found_max_age
        Seconds (or ``timedelta``) a cached answer / not-found answer stays fresh
        (defaults: a day, an hour).
    refresh
        Ignore cached answers (new ones are still stored).
    progress
        ``None``: a live widget in a notebook, a text line on a terminal, else silent;
        ``True``: the widget or the text line; ``False``: silent; or a callable receiving
        :class:`~rdaplab.ProgressSnapshot` objects.
    limits, retry, timeouts, user_agent
        Politeness limits (:class:`~rdaplab.Limits`), retries (:class:`~rdaplab.Retry`),
        HTTP timeouts (:class:`~rdaplab.Timeouts`) and the User-Agent.
    priority
        Dispatch order: a class (``critical``, ``high``, ``normal``, ``low``) for every
        row, a mapping ``name -> class``, a function of the normalized name, or (lookups,
        not streams) a column name of the input or one class per input row.
    redact_pii
        Blank the names, emails, phones and addresses of *individual* contacts in the
        frames (default True; the cache's audit trail records an opt-out).
    fields
        Keep only these columns in the frames (data minimization); join keys stay.
    privacy
        ``"strict"`` also strips personal data from raw bodies before they are cached.
    retention
        Seconds (or ``timedelta``) a cached answer holding personal data is kept; older
        ones are purged when the cache is opened.
    purpose, legal_basis
        Recorded with the batch in the cache's audit trail (``rdaplab audit``).
    budget
        Where request slots come from beyond this batch's own per-host limits: ``None``
        for this process alone, a :class:`~rdaplab.engine.Budget` shared with other
        processes (each request then also waits for a slot of the shared budget), or a
        Dask ``distributed.Client`` (or its scheduler's address, ``"tcp://host:8786"``):
        one budget per registry host, learned and held by that scheduler, shared by every
        notebook and process that passes it (needs ``rdaplab[dask]``; docs/distributed.md).
    source_address
        Send every request from this local IP address (a sanctioned egress of this
        machine); ``None``: the system's choice.
    cluster
        :func:`rdaplab.lookup` only: run the batch on a Dask cluster (a
        ``distributed.Client``), sharded by name into a temporary study store (see
        :func:`rdaplab.distributed.submit` for large inputs); the result is the same
        frames in input order.
    learned_limits
        Start each host from what earlier batches learned about it, kept in the cache
        (its rate, aged: trusted less the older it is, ignored after 30 days); ``False``:
        learn from scratch (the profile's start), e.g. for reproducible benchmarks. What
        this batch learns is saved either way (docs/scheduler.md).
    quiet_hours_only
        Send to a registry host only inside the quiet hours its profile names
        (``Profile.quiet_hours``, e.g. set with ``Limits(hosts={host: {"quiet_hours":
        "22:00-06:00 Europe/Amsterdam"}})``); outside them its rows wait while the other
        hosts go on. Hosts without quiet hours are asked at any time.
    on_event
        A callable receiving the batch's monitoring events (:class:`~rdaplab.Event`
        records: ``batch_started``, ``progress``, ``host_throttled``, ``host_parked``,
        ``breaker_opened``, ``breaker_closed``, ``host_exhausted``, ``alert``,
        ``alert_cleared``, ``batch_finished``; docs/events.md). It runs on the batch's
        event-loop thread, so it must be quick (append to a list, put on a queue); one
        that raises is logged once and the batch goes on. ``None``: no events, no cost.
    alerts
        The :class:`~rdaplab.AlertThresholds` that raise ``alert`` events and the
        progress widget's warning line (``None``: the defaults, throttled share > 5 %,
        error share > 10 %, p99 latency > 5 s; ``AlertThresholds.off()``: none).
    event_interval_s
        Seconds between two ``progress`` events (and alert checks); one more comes at
        the end.
    """

    kind: str = "auto"
    column: str | None = None
    registered_domain: bool = True
    psl_private: bool = False
    psl: PublicSuffixes | str | Path | None = None
    cache: Cache | str | Path | None = None
    bootstrap: Bootstrap | str | Path | None = None
    bootstrap_overrides: Mapping[str, str | Sequence[str]] | None = None
    max_age: float | timedelta | None = None
    not_found_max_age: float | timedelta | None = None
    refresh: bool = False
    progress: bool | Renderer | None = None
    limits: Limits | None = None
    retry: Retry | None = None
    timeouts: Timeouts | None = None
    user_agent: str | None = None
    priority: Any = None
    redact_pii: bool = True
    fields: Sequence[str] | None = None
    privacy: str = "default"
    retention: float | timedelta | None = None
    purpose: str | None = None
    legal_basis: str | None = None
    budget: Budget | Any | None = None
    source_address: str | None = None
    cluster: Any = None
    learned_limits: bool = True
    quiet_hours_only: bool = False
    on_event: EventHandler | None = None
    alerts: AlertThresholds | None = None
    event_interval_s: float = 1.0

    def __post_init__(self) -> None:
        # Every bad value fails here, before any input is read or any request is sent.
        if self.kind != "auto" and self.kind not in KINDS:
            raise InputError(f"kind must be 'auto' or one of {', '.join(KINDS)}; got {self.kind!r}")
        if self.on_event is not None and not callable(self.on_event):
            raise InputError(f"on_event must be a callable or None; got {self.on_event!r}")
        if self.alerts is not None and not isinstance(self.alerts, AlertThresholds):
            raise InputError(f"alerts must be an AlertThresholds or None; got {self.alerts!r}")
        if not self.event_interval_s > 0:
            raise InputError(f"event_interval_s must be > 0; got {self.event_interval_s!r}")
        self.privacy_settings  # noqa: B018  (validates fields=, privacy=, retention=)
        if self.budget is not None and not _is_budget(self.budget):
            object.__setattr__(self, "budget", _shared_budget(self.budget, self))
        if self.source_address is not None:
            try:
                ipaddress.ip_address(self.source_address)
            except ValueError:
                raise InputError(
                    f"source_address must be an IP address; got {self.source_address!r}"
                ) from None

    @property
    def max_age_s(self) -> float:
        """Seconds a cached answer stays fresh (0 with ``refresh``)."""
        return 0.0 if self.refresh else seconds(self.max_age, DEFAULT_MAX_AGE_S)

    @property
    def not_found_max_age_s(self) -> float:
        """Seconds a cached not-found answer stays fresh (0 with ``refresh``)."""
        return 0.0 if self.refresh else seconds(self.not_found_max_age, DEFAULT_NOT_FOUND_MAX_AGE_S)

    @functools.cached_property
    def privacy_settings(self) -> PrivacySettings:
        """The privacy options, validated, as the frames and the cache apply them."""
        return PrivacySettings.from_args(
            redact_pii=self.redact_pii,
            fields=self.fields,
            privacy=self.privacy,
            purpose=self.purpose,
            legal_basis=self.legal_basis,
            retention=self.retention,
        )

    def kwargs(self) -> dict[str, Any]:
        """The options as keyword arguments (``rdaplab.lookup(values, **opts.kwargs())``)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def settings(self) -> dict[str, Any]:
        """What the cache's ``batches.settings`` records of these options."""
        return {
            "kind": self.kind,
            "registered_domain": self.registered_domain,
            "psl_private": self.psl_private,
            "max_age_s": self.max_age_s,
            "not_found_max_age_s": self.not_found_max_age_s,
            "refresh": self.refresh,
            "learned_limits": self.learned_limits,
            "quiet_hours_only": self.quiet_hours_only,
        }


@dataclass(frozen=True, kw_only=True)
class StreamOptions(LookupOptions):
    """:class:`LookupOptions` plus how a stream reads its input and hands over results.

    Parameters
    ----------
    chunk_size
        Input rows read, normalized and checked against the cache at a time.
    max_pending
        Lookups outstanding before reading more input stops (backpressure).
    batch_rows, batch_interval_s
        A :class:`~rdaplab.StreamBatch` is yielded once ``batch_rows`` rows (default
        ``chunk_size``) have finished, or ``batch_interval_s`` after the previous one,
        whichever comes first.
    """

    chunk_size: int = DEFAULT_CHUNK_SIZE
    max_pending: int = DEFAULT_MAX_PENDING
    batch_rows: int | None = None
    batch_interval_s: float = 1.0

    def __post_init__(self) -> None:
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, not {self.chunk_size}")
        if self.max_pending < 1:
            raise ValueError(f"max_pending must be >= 1, not {self.max_pending}")
        super().__post_init__()

    def settings(self) -> dict[str, Any]:
        return {
            **super().settings(),
            "streamed": True,
            "chunk_size": self.chunk_size,
            "max_pending": self.max_pending,
        }


P = ParamSpec("P")
R = TypeVar("R")
O = TypeVar("O", bound=LookupOptions)  # noqa: E741


def takes_options(
    options: Callable[P, O],
) -> Callable[[Callable[[Any, O], R]], Callable[Concatenate[Any, P], R]]:
    """Give ``fn(values, options)`` the fields of ``options`` as keyword-only parameters.

    The function is called as ``fn(values, kind=..., cache=..., ...)``; the options object
    is built (and validated) at the call, before anything else happens.
    ``inspect.signature`` shows every option; the options' "Parameters" section is
    appended to the docstring, so each function documents them without repeating them.
    """
    fields = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for p in inspect.signature(options).parameters.values()
    ]
    # The "Parameters" of the options class and of the classes it extends, base first.
    sections = [
        inspect.cleandoc(cls.__doc__ or "").partition("Parameters\n----------\n")[2]
        for cls in reversed(getattr(options, "__mro__", ()))
        if cls is not object
    ]
    options_doc = "\n".join(section for section in sections if section)

    def decorate(fn: Callable[[Any, O], R]) -> Callable[Concatenate[Any, P], R]:
        @functools.wraps(fn)
        def call(values: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
            return fn(values, options(*args, **kwargs))

        values = inspect.Parameter("values", inspect.Parameter.POSITIONAL_ONLY)
        returns = inspect.signature(fn).return_annotation
        call.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [values, *fields], return_annotation=returns
        )
        name = getattr(options, "__name__", "LookupOptions")
        call.__doc__ = (
            f"{inspect.cleandoc(fn.__doc__ or '')}\n\n"
            f"Options\n-------\nKeyword-only: the fields of :class:`rdaplab.{name}`.\n\n"
            f"{options_doc.rstrip()}\n"
        )
        return call

    return decorate
