"""The notebook layer: the progress widget, ``df.rdap``, Altair charts and HTML reports.

Importing this package registers ``df.rdap`` / ``lf.rdap``, the progress widget (used
when a batch runs in Jupyter) and ``result.charts`` / ``result.report()``; it loads
neither Altair nor ipywidgets nor vl-convert: the modules that need them import them when
used. ``rdaplab.notebook.charts`` and ``rdaplab.notebook.report`` are imported on first
attribute access (as ``rdaplab.charts`` and ``rdaplab.report`` are).
"""

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

from rdaplab.batch import register_result_extension
from rdaplab.notebook import accessor as _accessor  # noqa: F401  (registers df.rdap, lf.rdap)
from rdaplab.notebook import widget as _widget  # noqa: F401  (the progress widget in Jupyter)

_LAZY = ("charts", "report")


def __getattr__(name: str) -> ModuleType:
    if name in _LAZY:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _charts(result: Any) -> Any:
    from rdaplab.notebook.charts import ResultCharts

    return ResultCharts(result)


def _report(result: Any, path: str | Path, **kwargs: Any) -> Path:
    from rdaplab.notebook.report import write_report

    return write_report(result, path, **kwargs)


register_result_extension("charts", _charts)
register_result_extension("report", _report)
