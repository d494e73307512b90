"""Live batch progress as an ipywidgets panel in Jupyter, with a safe fallback elsewhere.

:class:`WidgetProgress` is a progress *renderer* (a callable taking a
:class:`~rdaplab.progress.ProgressSnapshot`). Snapshots may arrive from any thread (a batch
runs on its own event-loop thread when the kernel's loop is busy), but widgets are only
touched on the kernel's thread: comm messages sent from other threads are unreliable on
ipykernel >= 7. So ``__call__`` only records the latest snapshot and, when the kernel's loop
is attached, schedules one coalesced :meth:`WidgetProgress.pump` on it; code that blocks
the kernel thread while a batch runs calls :meth:`~WidgetProgress.pump` itself. Either way
the widgets change at most ``max_hz`` times a second (frequent updates freeze browsers),
and the final snapshot is always shown.

:func:`auto_renderer` picks the renderer for ``lookup(progress=...)``: the widget in a
notebook, the text line on a terminal, nothing otherwise.
"""

from __future__ import annotations

import asyncio
import html
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from rdaplab.batch.progress import (
    ProgressSnapshot,
    Renderer,
    TextRenderer,
    _dur,
    register_notebook_renderer,
    resolve_renderer,
)

__all__ = [
    "INSTALL_HINT",
    "WidgetProgress",
    "auto_renderer",
    "format_alerts_html",
    "format_hosts_html",
    "format_status_html",
    "in_notebook",
    "notebook_renderer",
]

INSTALL_HINT = "pip install 'rdaplab[notebook]'"
DESCRIPTION = "rdaplab"

# Per-host table: (snapshot key, column header, is a rate); only keys some host has are shown.
_HOST_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("in_flight", "in flight", False),
    ("queued", "queued", False),
    ("done", "done", False),
    ("errors", "errors", False),
    ("requests", "requests", False),
    ("throttled", "throttled", False),
    ("rate_per_s", "rate/s", True),
)

_warned_missing_widgets = False


# --------------------------------------------------------------------------- formatting


def _bar_style(s: ProgressSnapshot) -> str:
    if not s.finished:
        return ""
    if s.done < s.total:  # the batch stopped early (interrupted or failed)
        return "danger"
    return "warning" if s.errors else "success"


def format_status_html(s: ProgressSnapshot) -> str:
    """The status line shown under the bar, as a small HTML fragment.

    Parameters
    ----------
    s
        The snapshot to describe.

    Returns
    -------
    str
        E.g. ``<b>1,204 / 3,000</b> (40%) · 95.1/s · ETA 19s · ...`` followed by the
        throttled, cached and per-outcome counts.
    """
    pct = 100.0 * s.done / s.total if s.total else 100.0
    if s.finished:
        state = f"done in {_dur(s.elapsed_s)}" if s.done >= s.total else "stopped"
    else:
        eta = s.eta_s
        state = "ETA --" if eta is None else f"ETA {_dur(eta)}"
    parts = [
        f"<b>{s.done:,} / {s.total:,}</b> ({pct:.0f}%)",
        f"{s.rate_per_s:,.1f}/s",
        state,
        f"throttled {s.throttled:,}",
        f"cache hits {s.cache_hits:,}",
        f"ok {s.ok:,}",
        f"not found {s.not_found:,}",
        f"errors {s.errors:,}" if not s.errors else f"<b>errors {s.errors:,}</b>",
    ]
    return '<span style="font-family:monospace">' + " · ".join(parts) + "</span>"


def format_alerts_html(alerts: tuple[str, ...] | list[str]) -> str:
    """A warning line per active alert, or ``""`` when none is active.

    Parameters
    ----------
    alerts
        The messages of the active alerts (:attr:`ProgressSnapshot.alerts`).

    Returns
    -------
    str
        An HTML fragment (one ``<div class="rdaplab-alert">`` per alert), shown above the
        status line.
    """
    if not alerts:
        return ""
    style = (
        "font-family:monospace;color:#92400e;background:#fef3c7;"
        "border-left:3px solid #d97706;padding:1px 6px;margin:2px 0"
    )
    return "".join(
        f'<div class="rdaplab-alert" style="{style}">&#9888; alert: {html.escape(a)}</div>'
        for a in alerts
    )


def _activity(stats: Mapping[str, float]) -> tuple[float, float, float]:
    """Sort key: busiest hosts first (in flight + queued, then current rate, then volume)."""
    busy = stats.get("in_flight", 0.0) + stats.get("queued", 0.0)
    return (busy, stats.get("rate_per_s", 0.0), stats.get("requests", stats.get("done", 0.0)))


def top_hosts(
    hosts: Mapping[str, Mapping[str, float]], limit: int = 10
) -> list[tuple[str, Mapping[str, float]]]:
    """The ``limit`` most active hosts, busiest first (ties broken by name)."""
    ranked = sorted(hosts.items(), key=lambda kv: (tuple(-v for v in _activity(kv[1])), kv[0]))
    return ranked[:limit]


def _cell(value: float, is_rate: bool) -> str:
    return f"{value:,.1f}" if is_rate else f"{round(value):,}"


def format_hosts_html(hosts: Mapping[str, Mapping[str, float]], limit: int = 10) -> str:
    """A compact per-registry table (the ``limit`` busiest hosts), or ``""`` when empty.

    Parameters
    ----------
    hosts
        ``{host: {key: value}}`` as in :attr:`ProgressSnapshot.hosts`; known keys are
        ``in_flight``, ``queued``, ``done``, ``errors``, ``requests``, ``throttled`` and
        ``rate_per_s``. Columns no host reports are left out.
    limit
        At most this many rows; a footer counts the hosts left out.

    Returns
    -------
    str
        An HTML ``<table>`` (kept small: the notebook redraws it on every update).
    """
    if not hosts:
        return ""
    present = {key for stats in hosts.values() for key in stats}
    columns = [c for c in _HOST_COLUMNS if c[0] in present]
    th = "padding:0 8px;text-align:right"
    head = "".join(f'<th style="{th}">{label}</th>' for _, label, _ in columns)
    rows = []
    for name, stats in top_hosts(hosts, limit):
        cells = "".join(
            f'<td style="{th}">{_cell(stats.get(key, 0.0), rate)}</td>' for key, _, rate in columns
        )
        rows.append(f'<tr><td style="padding:0 8px">{html.escape(name)}</td>{cells}</tr>')
    more = len(hosts) - limit
    if more > 0:
        span = len(columns) + 1
        rows.append(
            f'<tr><td colspan="{span}" style="padding:0 8px">+{more:,} more hosts</td></tr>'
        )
    return (
        '<table class="rdaplab-hosts" style="font-family:monospace;font-size:90%">'
        f'<tr><th style="padding:0 8px;text-align:left">registry host</th>{head}</tr>'
        + "".join(rows)
        + "</table>"
    )


# --------------------------------------------------------------------------- the widget


class WidgetProgress:
    """A batch's live progress panel: a bar, a status line (with a warning line above it
    while an alert is active) and a per-registry table.

    Parameters
    ----------
    max_hz
        Most widget updates per second (the final snapshot is never held back).
    max_hosts
        Rows in the per-registry table.
    loop
        The kernel's event loop, to have updates from other threads applied on it (same as
        calling :meth:`attach_loop`).
    clock
        Monotonic clock in seconds (injectable for tests).

    Attributes
    ----------
    updates
        How many times the widgets were redrawn.
    latest
        The most recent snapshot received (shown or not).
    shown
        The snapshot the widgets show now.

    Notes
    -----
    The thread that creates the object is taken as the kernel's thread: snapshots received
    on it are applied at once (within the rate limit); snapshots from other threads are
    applied by :meth:`pump`, either scheduled on the attached loop or called by the code
    that waits for the batch on the kernel's thread.
    """

    def __init__(
        self,
        *,
        max_hz: float = 5.0,
        max_hosts: int = 10,
        loop: asyncio.AbstractEventLoop | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.min_interval = 1.0 / max_hz
        self.max_hosts = max_hosts
        self.updates = 0
        self.latest: ProgressSnapshot | None = None
        self.shown: ProgressSnapshot | None = None
        self._clock = clock
        self._lock = threading.Lock()
        self._dirty = False
        self._scheduled = False  # a pump is pending on the attached loop
        self._last_update = -float("inf")
        self._owner = threading.get_ident()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._displayed = False
        self._box: Any = None
        if loop is not None:
            self.attach_loop(loop)

    # -- wiring ---------------------------------------------------------------------------

    def attach_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Apply snapshots from other threads on ``loop`` (the kernel's); ``None`` detaches."""
        with self._lock:
            self._loop = loop

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The attached loop (the kernel's), or ``None``."""
        return self._loop

    @property
    def widget(self) -> Any:
        """The ``ipywidgets.VBox`` (created on first use; needs ipywidgets)."""
        if self._box is None:
            self._build()
        return self._box

    def display(self) -> None:
        """Show the panel in the current cell output (once; later calls do nothing)."""
        if self._displayed:
            return
        from IPython.display import display

        self._displayed = True
        display(self.widget)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # Shown when it is a cell's last expression, like any widget.
        self._displayed = True
        return self.widget._repr_mimebundle_(**kwargs)

    # -- receiving snapshots (any thread) -------------------------------------------------

    def __call__(self, snapshot: ProgressSnapshot) -> None:
        with self._lock:
            self.latest = snapshot
            self._dirty = True
            on_owner = threading.get_ident() == self._owner
            loop = self._loop
            schedule = not on_owner and loop is not None and not self._scheduled
            if schedule:
                self._scheduled = True
        if on_owner:
            if not self.pump():
                self._schedule_later()  # held back by the rate limit: catch up on the loop
        elif schedule:
            assert loop is not None
            self._call_soon(loop, self._pump_on_loop)

    def _call_soon(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], object]) -> None:
        try:
            loop.call_soon_threadsafe(callback)
        except RuntimeError:  # the loop is closed (kernel shutting down): stop using it
            with self._lock:
                self._scheduled = False
                if self._loop is loop:
                    self._loop = None

    def _pump_on_loop(self) -> None:
        with self._lock:
            self._scheduled = False
        if not self.pump():
            self._schedule_later()

    def _schedule_later(self) -> None:
        """Pump again when the rate limit allows it, if a snapshot is still waiting."""
        with self._lock:
            loop = self._loop
            if loop is None or self._scheduled or not self._dirty:
                return
            self._scheduled = True
            delay = max(0.0, self._last_update + self.min_interval - self._clock())
        self._call_soon(loop, lambda: loop.call_later(delay, self._pump_on_loop))

    # -- applying (kernel thread only) ----------------------------------------------------

    def pump(self, *, force: bool = False) -> bool:
        """Show the latest snapshot if it is new and the rate limit allows; call on the kernel's thread.

        Parameters
        ----------
        force
            Ignore the rate limit (a finished snapshot always does).

        Returns
        -------
        bool
            Whether the widgets were updated.
        """
        with self._lock:
            snap = self.latest
            if snap is None or not self._dirty:
                return False
            now = self._clock()
            if not (force or snap.finished) and now - self._last_update < self.min_interval:
                return False
            self._dirty = False
            self._last_update = now
            self.updates += 1
            self.shown = snap
        self._apply(snap)
        return True

    def _build(self) -> None:
        import ipywidgets as w

        self._bar = w.IntProgress(
            value=0,
            min=0,
            max=1,
            description=DESCRIPTION,
            layout=w.Layout(width="60%"),
        )
        self._status = w.HTML(value="")
        self._hosts = w.HTML(value="")
        self._box = w.VBox([self._bar, self._status, self._hosts])

    def _apply(self, s: ProgressSnapshot) -> None:
        if self._box is None:
            self._build()
        if not self._displayed:
            self.display()
        # hold_sync sends each widget's changed traits in one comm message.
        with self._bar.hold_sync():
            top = max(s.total, 1)  # an empty batch shows a full bar when finished
            self._bar.max = top
            self._bar.value = top if s.finished and s.total == 0 else min(s.done, top)
            self._bar.bar_style = _bar_style(s)
        # An active alert (rdaplab.AlertThresholds) shows as a warning line above the status.
        self._status.value = format_alerts_html(s.alerts) + format_status_html(s)
        self._hosts.value = format_hosts_html(s.hosts, self.max_hosts)


# --------------------------------------------------------------------------- selection


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (IPython's ``ZMQInteractiveShell``).

    Plain IPython in a terminal, scripts and pytest all return ``False``.
    """
    if "IPython" not in sys.modules:  # a kernel has imported it long before us
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - a broken IPython install
        return False
    shell = get_ipython()
    if shell is None:
        return False
    # Subclasses count too (Colab's shell, VS Code's kernel).
    return any(cls.__name__ == "ZMQInteractiveShell" for cls in type(shell).__mro__)


def _widgets_available() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def notebook_renderer() -> Renderer | None:
    """The renderer for a notebook cell, or ``None`` outside Jupyter.

    Returns a :class:`WidgetProgress` attached to the running kernel loop (if any) when
    ipywidgets imports; without ipywidgets warns once with an install hint and returns a
    :class:`~rdaplab.progress.TextRenderer`. Call it on the kernel's thread (in the cell).
    """
    if not in_notebook():
        return None
    if not _widgets_available():
        global _warned_missing_widgets
        if not _warned_missing_widgets:
            _warned_missing_widgets = True
            warnings.warn(
                f"rdaplab: ipywidgets is not installed, showing a text progress line; "
                f"for a live progress widget: {INSTALL_HINT}",
                stacklevel=2,
            )
        return TextRenderer()
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    return WidgetProgress(loop=loop)


def auto_renderer(progress: bool | Renderer | None, *, display: bool = True) -> Renderer | None:
    """Choose the renderer for ``progress=``, preferring the widget in notebooks.

    Parameters
    ----------
    progress
        ``None``: the widget in a notebook, a text line on a terminal, silent otherwise;
        ``True``: the widget in a notebook, else the text line; ``False``: ``None``; a
        callable is returned as is.
    display
        Show a new widget right away (in the cell being run).

    Returns
    -------
    Renderer or None

    Notes
    -----
    Call this on the kernel's thread (where ``lookup`` was called), not on a batch thread:
    the widget must be created and displayed there, and its loop is the running one.
    """
    if callable(progress):
        return progress
    if progress is False:
        return None
    renderer = notebook_renderer()
    if renderer is None:
        return resolve_renderer(progress)
    if display and isinstance(renderer, WidgetProgress):
        renderer.display()
    return renderer


def _displayed_notebook_renderer() -> Renderer | None:
    renderer = notebook_renderer()
    if isinstance(renderer, WidgetProgress):
        renderer.display()
    return renderer


# lookup()/start()/lookup_async() resolve progress= through rdaplab.progress; in a
# notebook they get the widget from here.
register_notebook_renderer(_displayed_notebook_renderer)
