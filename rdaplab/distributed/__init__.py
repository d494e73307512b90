"""rdaplab past one process, on Dask: one politeness budget shared by every process,
sharded studies, one store (docs/distributed.md).

Needs the optional extra ``rdaplab[dask]``. Importing this package does not import Dask;
``import rdaplab`` imports it (for ``rdaplab.lookup(values, cluster=client)``).

- :func:`submit`: a study of any size, split by name into buckets, one Dask task each,
  into a store folder; :class:`Study` shows progress, cancels, and loads the result.
- :func:`scan` (also ``rdaplab.scan``): a study's results as lazy Polars frames;
  :func:`connect`: the same as DuckDB views; :func:`compact`: fewer, larger parts.
- :class:`DaskBudget`, :class:`BudgetPlugin`: the budget held by the Dask scheduler;
  ``rdaplab.lookup(values, budget=client)`` uses it from any notebook or process.
- ``dask scheduler --preload rdaplab.distributed``: the budget from the scheduler's start.
"""

from __future__ import annotations

from typing import Any

from rdaplab.batch import api as _api

__all__ = [
    "FRAMES",
    "BudgetPlugin",
    "DaskBudget",
    "Study",
    "StudyStore",
    "budget_statistics",
    "compact",
    "connect",
    "dask_setup",
    "load_study",
    "run_bucket",
    "scan",
    "submit",
]

_LAZY = {
    "FRAMES": "rdaplab.distributed.store",
    "StudyStore": "rdaplab.distributed.store",
    "compact": "rdaplab.distributed.store",
    "connect": "rdaplab.distributed.store",
    "scan": "rdaplab.distributed.store",
    "submit": "rdaplab.distributed.shards",
    "Study": "rdaplab.distributed.shards",
    "load_study": "rdaplab.distributed.shards",
    "run_bucket": "rdaplab.distributed.shards",
    "BudgetPlugin": "rdaplab.engine.dask_budget",
    "DaskBudget": "rdaplab.engine.dask_budget",
    "budget_statistics": "rdaplab.engine.dask_budget",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rdaplab.distributed' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def dask_setup(scheduler: Any) -> None:
    """``dask scheduler --preload rdaplab.distributed``: register the shared budget."""
    from rdaplab.engine.dask_budget import dask_setup as setup

    setup(scheduler)


def _lookup_on_cluster(values: Any, options: Any) -> Any:
    from rdaplab.distributed.shards import lookup_on_cluster

    return lookup_on_cluster(values, options)


_api.cluster_lookup = _lookup_on_cluster
