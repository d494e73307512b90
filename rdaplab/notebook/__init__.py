"""The notebook layer: the progress widget, ``df.rdap``, Altair charts and HTML reports.

Importing this package loads neither Altair nor ipywidgets; the modules that need them
import them when used. ``rdaplab.notebook.charts`` and ``rdaplab.notebook.report`` are
imported on first attribute access (as ``rdaplab.charts`` and ``rdaplab.report`` are).
"""

import importlib
from types import ModuleType

_LAZY = ("charts", "report")


def __getattr__(name: str) -> ModuleType:
    if name in _LAZY:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
