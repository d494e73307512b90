"""The charts of a batch together: the catalog, :func:`report_charts` and ``result.charts``.

:data:`CATALOG` is the one table of the batch charts (name -> function and title, in
report order). :func:`report_charts` draws them all; :class:`ResultCharts` gets one
method per entry, generated from the table with the function's signature (less ``data``)
and docstring, so ``dir()``, ``help()`` and Jupyter's Shift-Tab show each chart.

:data:`CHANGE_CATALOG` is the table of the change-over-time charts, which take the frames
of ``rdaplab.diff`` / ``rdaplab.expiry_outcomes`` rather than a result (so they are not
on ``result.charts``); :func:`report_change_charts` draws them for the report.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import altair as alt

from rdaplab.notebook.charts.batch_charts import (
    errors,
    host_rates,
    latency,
    registry_mix,
    throughput,
)
from rdaplab.notebook.charts.changes_charts import changes_by_kind, expiry_fates, transfer_flows
from rdaplab.notebook.charts.marks import is_empty
from rdaplab.notebook.charts.research_charts import (
    expiry_calendar,
    nameserver_concentration,
    registrar_share,
    registrations_by_year,
)

if TYPE_CHECKING:
    from rdaplab.batch import LookupResult

__all__ = [
    "CATALOG",
    "CHANGE_CATALOG",
    "CHANGE_CHARTS",
    "CHARTS",
    "ResultCharts",
    "report_change_charts",
    "report_charts",
]

ChartFunction = Callable[..., alt.TopLevelMixin]

#: The charts of a batch in report order: function name -> (function, title). Each
#: function takes a LookupResult first and reads the frame it needs from it.
CATALOG: dict[str, tuple[ChartFunction, str]] = {
    "registry_mix": (registry_mix, "Registry mix"),
    "errors": (errors, "Errors by kind and registry"),
    "latency": (latency, "Latency"),
    "throughput": (throughput, "Throughput"),
    "host_rates": (host_rates, "Rate and concurrency per host"),
    "registrations_by_year": (registrations_by_year, "Registrations by year"),
    "registrar_share": (registrar_share, "Registrar market share"),
    "expiry_calendar": (expiry_calendar, "Expiry calendar"),
    "nameserver_concentration": (nameserver_concentration, "Nameserver providers"),
}

#: The charts of a batch in report order: (function name, title).
CHARTS: tuple[tuple[str, str], ...] = tuple((name, title) for name, (_, title) in CATALOG.items())

#: The change-over-time charts in report order: function name -> (function, title, input).
#: The input is the frame the function takes: ``"changes"`` (``rdaplab.diff``) or
#: ``"expiry"`` (``rdaplab.expiry_outcomes``).
CHANGE_CATALOG: dict[str, tuple[ChartFunction, str, str]] = {
    "changes_by_kind": (changes_by_kind, "Changes by kind", "changes"),
    "transfer_flows": (transfer_flows, "Transfers between registrars", "changes"),
    "expiry_fates": (expiry_fates, "Renewal versus drop", "expiry"),
}

#: The change-over-time charts in report order: (function name, title).
CHANGE_CHARTS: tuple[tuple[str, str], ...] = tuple(
    (name, title) for name, (_, title, _) in CHANGE_CATALOG.items()
)


def report_charts(
    result: LookupResult, *, names: Sequence[str] | None = None
) -> dict[str, alt.TopLevelMixin]:
    """Every chart of a batch, title -> chart, in report order, without the empty ones.

    Charts with no data (e.g. throughput and host rates for a result loaded from a
    results file, whose attempts frame is empty; errors for a batch without errors) are
    omitted.

    Parameters
    ----------
    result
        A LookupResult.
    names
        Restrict to these chart function names (see ``CHARTS``).

    Examples
    --------
    >>> charts = report_charts(result)  # doctest: +SKIP
    >>> list(charts)  # doctest: +SKIP
    ['Registry mix', 'Errors by kind and registry', 'Latency', 'Throughput', ...]
    """
    out: dict[str, alt.TopLevelMixin] = {}
    for name, (function, title) in CATALOG.items():
        if names is not None and name not in names:
            continue
        chart = function(result)
        if not is_empty(chart):
            out[title] = chart
    return out


def report_change_charts(
    changes: Any = None, expiry: Any = None, *, names: Sequence[str] | None = None
) -> dict[str, alt.TopLevelMixin]:
    """The change-over-time charts, title -> chart, in report order, without empty ones.

    Parameters
    ----------
    changes
        A diff frame (``rdaplab.diff``), or ``None`` (no ``changes`` charts).
    expiry
        An ``rdaplab.expiry_outcomes`` frame, or ``None`` (no ``expiry_fates``).
    names
        Restrict to these chart function names (see ``CHANGE_CHARTS``).

    Examples
    --------
    >>> charts = report_change_charts(changes, expiry)  # doctest: +SKIP
    >>> list(charts)  # doctest: +SKIP
    ['Changes by kind', 'Transfers between registrars', 'Renewal versus drop']
    """
    inputs = {"changes": changes, "expiry": expiry}
    out: dict[str, alt.TopLevelMixin] = {}
    for name, (function, title, source) in CHANGE_CATALOG.items():
        frame = inputs[source]
        if frame is None or (names is not None and name not in names):
            continue
        chart = function(frame)
        if not is_empty(chart):
            out[title] = chart
    return out


class ResultCharts:
    """The chart functions bound to one LookupResult (``result.charts``).

    Each method has the module function's name and keywords, e.g.
    ``result.charts.latency(kind="box")`` is ``rdaplab.charts.latency(result, kind="box")``.
    The methods are generated from :data:`CATALOG`. The result is duck-typed: a chart
    reads the frames it needs (``domains``, ``attempts``, ``nameservers``) from it.

    Examples
    --------
    >>> charts = ResultCharts(result)  # doctest: +SKIP
    >>> charts.registrar_share(top=5)  # doctest: +SKIP
    """

    def __init__(self, result: LookupResult) -> None:
        self._result = result

    def __repr__(self) -> str:
        names = ", ".join(f"{name}()" for name, _ in CHARTS)
        return f"<ResultCharts: {names}; all() for every chart with data>"

    def _repr_markdown_(self) -> str:
        rows = "\n".join(f"- `{name}()`: {title}" for name, title in CHARTS)
        return f"**Charts of this result** (`result.charts.NAME(...)`):\n\n{rows}\n"

    def all(self) -> dict[str, alt.TopLevelMixin]:
        """Every chart with data, title -> chart (:func:`report_charts`)."""
        return report_charts(self._result)

    if TYPE_CHECKING:
        # The generated chart methods (below), for type checkers.
        def __getattr__(self, name: str) -> ChartFunction: ...


def _bound(name: str, function: ChartFunction) -> Callable[..., alt.TopLevelMixin]:
    """The ``ResultCharts`` method calling ``function`` on the bound result.

    Its signature is the function's without ``data`` and its docstring the function's
    (less ``data`` and the examples, which call the function itself), so ``help()`` and
    Shift-Tab show the keywords.
    """

    def method(self: ResultCharts, /, **kwargs: Any) -> alt.TopLevelMixin:
        return function(self._result, **kwargs)

    signature = inspect.signature(function)
    this = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
    summary, _, details = (inspect.getdoc(function) or "").partition("\n")
    details = details.split("\nExamples\n--------")[0].rstrip()
    details = re.sub(r"^data\n(?:    .*\n)+", "", details, flags=re.MULTILINE)  # it is bound
    method.__name__ = name
    method.__qualname__ = f"ResultCharts.{name}"
    method.__doc__ = (
        f"{summary}\n\nThis result's chart: ``result.charts.{name}(...)`` is "
        f"``rdaplab.charts.{name}(result, ...)``.\n{details}\n"
    )
    method.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[this, *list(signature.parameters.values())[1:]]
    )
    return method


for _name, (_function, _) in CATALOG.items():
    setattr(ResultCharts, _name, _bound(_name, _function))
