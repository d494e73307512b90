"""The service's shared state: the open cache, the worker, the live monitor, counters."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from rdaplab.errors import CacheError
from rdaplab.service.monitor import Monitor
from rdaplab.store import Cache

if TYPE_CHECKING:
    from rdaplab.jobs import Worker

__all__ = ["STATE", "LookupProgress", "ServiceState"]


@dataclass
class LookupProgress:
    """One ``POST /batch-lookup`` in progress (for the dashboard)."""

    id: int
    total: int
    started_at: float = field(default_factory=time.time)
    batch_id: str = ""
    done: int = 0
    percent: float | None = None
    rate_per_s: float | None = None
    eta_s: float | None = None
    waiting: bool = True  # for its turn (one batch-lookup at a time)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "batch_id": self.batch_id,
            "total": self.total,
            "done": self.done,
            "percent": self.percent,
            "rate_per_s": self.rate_per_s,
            "eta_s": self.eta_s,
            "started_at": self.started_at,
            "state": "waiting" if self.waiting else "running",
        }


@dataclass
class ServiceState:
    """Everything the handlers share (one per application)."""

    cache_path: Path
    token: str | None = None
    worker: Worker | None = None
    bootstrap: Any = None
    limits: Any = None
    retry: Any = None
    store: Cache | None = None
    own_store: bool = False
    monitor: Monitor = field(default_factory=Monitor)
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    # Batch-lookups run one at a time, so each registry is paced by one scheduler.
    lookup_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    lookups: dict[int, LookupProgress] = field(default_factory=dict)
    lookup_seq: int = 0
    # Rows served by batch-lookups: (outcome, error kind or "") -> rows.
    lookup_rows: Counter[tuple[str, str]] = field(default_factory=Counter)
    lookup_endings: Counter[str] = field(default_factory=Counter)
    worker_task: asyncio.Task[int] | None = None
    chart_cache: tuple[float, Any, dict[str, Any]] | None = None

    @property
    def cache(self) -> Cache:
        """The open cache (the service's one connection to the file)."""
        if self.store is None or self.store.closed:
            raise CacheError("the service's cache is not open")
        return self.store

    @property
    def started_epoch(self) -> float:
        return self.started_at.timestamp()


STATE = web.AppKey("rdaplab_service_state", ServiceState)
