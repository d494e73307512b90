"""Progress of a batch, separated from how it is shown.

:class:`ProgressTracker` counts (it knows nothing of terminals or Jupyter) and hands
throttled snapshots to a *renderer*: any callable taking a :class:`ProgressSnapshot`. The
text renderer here draws one line on a terminal; the notebook layer adds a widget renderer.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

Renderer = Callable[["ProgressSnapshot"], None]


@dataclass(frozen=True, slots=True)
class ProgressSnapshot:
    """A batch's progress at one moment, as renderers receive it.

    ``hosts`` holds per-registry-host figures; ``alerts`` the messages of the alerts active
    now (see :class:`~rdaplab.AlertThresholds`), which renderers show as a warning.
    """

    total: int
    done: int
    ok: int
    not_found: int
    errors: int
    cache_hits: int
    requests: int
    throttled: int
    elapsed_s: float
    finished: bool = False
    hosts: dict[str, dict[str, float]] = field(default_factory=dict)
    alerts: tuple[str, ...] = ()

    @property
    def rate_per_s(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        rate = self.rate_per_s
        if self.finished:
            return 0.0
        return (self.total - self.done) / rate if rate > 0 else None


class ProgressTracker:
    """Counts a batch's progress and renders at most ``max_hz`` times a second."""

    def __init__(
        self, total: int, renderer: Renderer | None = None, *, max_hz: float = 5.0
    ) -> None:
        self.total = total
        self.done = 0
        self.ok = 0
        self.not_found = 0
        self.errors = 0
        self.cache_hits = 0
        self.requests = 0
        self.throttled = 0
        self._renderer = renderer
        self._min_interval = 1.0 / max_hz
        self._t0 = time.monotonic()
        self._last = -1e9
        self.hosts_source: Callable[[], dict[str, dict[str, float]]] | None = None
        self.alerts: tuple[str, ...] = ()  # messages of the active alerts (set by the run)

    def add_done(self, outcome: str, n: int = 1, *, from_cache: bool = False) -> None:
        self.done += n
        if outcome == "ok":
            self.ok += n
        elif outcome == "not_found":
            self.not_found += n
        else:
            self.errors += n
        if from_cache:
            self.cache_hits += n
        self.tick()

    def add_request(self, *, throttled: bool = False) -> None:
        self.requests += 1
        if throttled:
            self.throttled += 1

    def snapshot(self, *, finished: bool = False) -> ProgressSnapshot:
        return ProgressSnapshot(
            total=self.total,
            done=self.done,
            ok=self.ok,
            not_found=self.not_found,
            errors=self.errors,
            cache_hits=self.cache_hits,
            requests=self.requests,
            throttled=self.throttled,
            elapsed_s=time.monotonic() - self._t0,
            finished=finished,
            hosts=self.hosts_source() if self.hosts_source else {},
            alerts=self.alerts,
        )

    def tick(self, *, force: bool = False) -> None:
        if self._renderer is None:
            return
        now = time.monotonic()
        if force or now - self._last >= self._min_interval:
            self._last = now
            self._render(self.snapshot())

    def close(self) -> None:
        if self._renderer is not None:
            self._render(self.snapshot(finished=True))

    def _render(self, snapshot: ProgressSnapshot) -> None:
        assert self._renderer is not None
        try:
            self._renderer(snapshot)
        except Exception:  # a broken display must never stop a batch
            logging.getLogger("rdaplab").exception("rdaplab: progress renderer failed; disabled")
            self._renderer = None


def format_line(s: ProgressSnapshot) -> str:
    """One status line, e.g. ``1,204/3,000 (40%) 95.1/s ETA 19s throttled 3 cached 120``."""
    pct = 100.0 * s.done / s.total if s.total else 100.0
    eta = s.eta_s
    eta_text = "done" if s.finished else ("ETA --" if eta is None else f"ETA {_dur(eta)}")
    line = (
        f"rdaplab {s.done:,}/{s.total:,} ({pct:.0f}%) {s.rate_per_s:,.1f}/s {eta_text}"
        f" | ok {s.ok:,} not found {s.not_found:,} errors {s.errors:,}"
        f" | requests {s.requests:,} throttled {s.throttled:,} cached {s.cache_hits:,}"
    )
    if s.alerts:  # the short form: "throttled share 12 %" (the message up to its colon)
        line += " | ALERT " + ", ".join(a.partition(":")[0] for a in s.alerts)
    return line


def _dur(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


class TextRenderer:
    """Redraws one line on a terminal; prints a final line when the batch ends."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._width = 0

    def __call__(self, snapshot: ProgressSnapshot) -> None:
        line = format_line(snapshot)
        pad = " " * max(0, self._width - len(line))
        self._width = len(line)
        end = "\n" if snapshot.finished else ""
        self.stream.write(f"\r{line}{pad}{end}")
        self.stream.flush()


# Set by rdaplab.notebook on import: returns a displayed widget renderer in a notebook,
# None elsewhere. A hook keeps imports pointing one way (the notebook layer sits on top).
_notebook_renderer: Callable[[], Renderer | None] | None = None


def register_notebook_renderer(factory: Callable[[], Renderer | None] | None) -> None:
    """Install (or remove, with None) the notebook layer's renderer factory."""
    global _notebook_renderer
    _notebook_renderer = factory


def resolve_renderer(progress: bool | Renderer | None) -> Renderer | None:
    """Pick the renderer for ``progress=``.

    ``None``: the widget in a notebook (when the notebook layer is loaded), a text line on
    a terminal, silent otherwise; ``True``: the widget in a notebook, else text;
    ``False``: silent; a callable is used as is. Call it on the caller's thread.
    """
    if callable(progress):
        return progress
    if progress is False:
        return None
    if _notebook_renderer is not None:
        widget = _notebook_renderer()
        if widget is not None:
            return widget
    if progress is None:
        stream = sys.stderr
        return TextRenderer(stream) if hasattr(stream, "isatty") and stream.isatty() else None
    return TextRenderer() if progress else None
