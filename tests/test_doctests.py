"""Every docstring example in the package runs and shows what it says (numpy-style
docstrings with runnable examples are part of the documentation; rot there misleads)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import rdaplab

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(rdaplab.__path__, prefix="rdaplab.")
    if not m.name.endswith("__main__")  # running it would start the CLI
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_the_examples_are_found() -> None:
    # the parametrization above is not empty, and it covers the shared-budget modules
    assert {"rdaplab.engine.central", "rdaplab.engine.dask_budget"} <= set(MODULES)
