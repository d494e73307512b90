"""The live progress widget: formatting, rate limiting, renderer choice, and a real kernel."""

from __future__ import annotations

import asyncio
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

import rdaplab.notebook.widget as nbmod
from rdaplab.batch.progress import ProgressSnapshot, ProgressTracker, TextRenderer
from rdaplab.notebook.widget import (
    INSTALL_HINT,
    WidgetProgress,
    auto_renderer,
    format_alerts_html,
    format_hosts_html,
    format_status_html,
    in_notebook,
    notebook_renderer,
    top_hosts,
)


def snap(done: int, total: int = 100, *, finished: bool = False, **kw: Any) -> ProgressSnapshot:
    base: dict[str, Any] = dict(
        ok=done, not_found=0, errors=0, cache_hits=0, requests=done, throttled=0, elapsed_s=10.0
    )
    base.update(kw)
    return ProgressSnapshot(total=total, done=done, finished=finished, **base)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def bar_of(wp: WidgetProgress) -> Any:
    return wp.widget.children[0]


# --------------------------------------------------------------------------- formatting


def test_status_line_while_running_and_at_the_end() -> None:
    running = snap(40, 100, ok=30, not_found=6, errors=4, cache_hits=12, throttled=3)
    text = format_status_html(running)
    assert "<b>40 / 100</b> (40%)" in text
    assert "4.0/s" in text  # 40 done in 10 s
    assert "ETA 15s" in text  # 60 left at 4/s
    for part in ("throttled 3", "cache hits 12", "ok 30", "not found 6", "<b>errors 4</b>"):
        assert part in text
    done = format_status_html(snap(100, 100, finished=True, elapsed_s=125.0))
    assert "(100%)" in done and "done in 2m05s" in done and "ETA" not in done
    assert "stopped" in format_status_html(snap(70, 100, finished=True))
    assert "ETA --" in format_status_html(snap(0, 100, elapsed_s=0.0))
    assert "<b>1,204 / 3,000</b>" in format_status_html(snap(1204, 3000))


def test_hosts_table_busiest_first_limited_escaped_and_only_known_columns() -> None:
    hosts = {
        f"h{i}.example": {"in_flight": float(i % 3), "queued": 0.0, "rate_per_s": float(i)}
        for i in range(15)
    }
    hosts["<evil>"] = {"in_flight": 9.0, "queued": 1.0, "rate_per_s": 0.5}
    ranked = [name for name, _ in top_hosts(hosts, 4)]
    # busiest (in flight + queued) first, then current rate
    assert ranked == ["<evil>", "h14.example", "h11.example", "h8.example"]
    table = format_hosts_html(hosts, limit=4)
    assert table.count("<tr>") == 1 + 4 + 1  # header, 4 hosts, "+N more"
    assert "+12 more hosts" in table
    assert "&lt;evil&gt;" in table and "<evil>" not in table
    assert "in flight" in table and "rate/s" in table
    assert "errors" not in table and "throttled" not in table  # no host reports them
    assert "14.0" in table  # rates keep one decimal
    assert format_hosts_html({}) == ""


def test_hosts_table_shows_done_and_errors_when_reported() -> None:
    table = format_hosts_html({"rdap.x": {"in_flight": 2, "done": 1234, "errors": 5}})
    assert "done" in table and "1,234" in table and "errors" in table and ">5<" in table


# --------------------------------------------------------------------------- rate limiting


def test_updates_are_rate_limited_and_the_final_snapshot_always_shows() -> None:
    clock = FakeClock()
    wp = WidgetProgress(clock=clock, max_hz=5.0)
    for i in range(1000):  # a tight burst on the kernel thread
        wp(snap(i, 1000))
    assert wp.updates == 1  # only the first got through within 0.2 s
    assert bar_of(wp).value == 0
    assert not wp.pump()  # still within the interval
    clock.now += 0.2
    assert wp.pump()  # the held-back latest snapshot is shown once allowed
    assert bar_of(wp).value == 999 and wp.updates == 2
    assert not wp.pump()  # nothing new
    wp(snap(1000, 1000, finished=True))  # no clock advance: final is never dropped
    bar = bar_of(wp)
    assert (bar.value, bar.max, bar.bar_style, bar.description) == (
        1000,
        1000,
        "success",
        "rdaplab",
    )
    assert wp.updates == 3 and wp.shown is not None and wp.shown.finished


def test_bar_style_reports_errors_and_early_stop() -> None:
    wp = WidgetProgress()
    wp(snap(100, 100, finished=True, errors=2))
    assert bar_of(wp).bar_style == "warning"
    wp2 = WidgetProgress()
    wp2(snap(30, 100, finished=True))
    assert (bar_of(wp2).value, bar_of(wp2).bar_style) == (30, "danger")
    wp3 = WidgetProgress()
    wp3(snap(0, 0, finished=True))
    assert bar_of(wp3).value == bar_of(wp3).max  # an empty batch ends full


def test_widget_shows_status_and_hosts() -> None:
    wp = WidgetProgress()
    wp(snap(5, 10, hosts={"rdap.verisign.com": {"in_flight": 3.0, "rate_per_s": 2.5}}))
    _, status, table = wp.widget.children
    assert "<b>5 / 10</b>" in status.value
    assert "rdap.verisign.com" in table.value and "2.5" in table.value


def test_an_active_alert_shows_as_a_warning_line() -> None:
    wp = WidgetProgress()
    wp(snap(5, 10))
    _, status, _ = wp.widget.children
    assert "rdaplab-alert" not in status.value and format_alerts_html(()) == ""
    message = "throttled share 12 %: 6 of 50 requests in the last 9 s (limit 5 %) <b>"
    wp(snap(6, 10, finished=True, alerts=(message,)))
    assert status.value.count('class="rdaplab-alert"') == 1
    assert "throttled share 12 %" in status.value and "&lt;b&gt;" in status.value  # escaped
    assert status.value.index("rdaplab-alert") < status.value.index("<b>6 / 10</b>")
    assert format_alerts_html(["a", "b"]).count("rdaplab-alert") == 2


async def test_snapshots_from_another_thread_are_coalesced_onto_the_loop() -> None:
    loop = asyncio.get_running_loop()
    wp = WidgetProgress(loop=loop)  # created on the loop's thread: that is the kernel thread
    applied_on: list[int] = []
    real_apply = wp._apply

    def recording_apply(s: ProgressSnapshot) -> None:
        applied_on.append(threading.get_ident())
        real_apply(s)

    wp._apply = recording_apply  # type: ignore[method-assign]

    def feed() -> None:
        for i in range(1000):
            wp(snap(i, 1000))
        wp(snap(1000, 1000, finished=True))

    await asyncio.to_thread(feed)  # the loop is free while the thread feeds
    for _ in range(100):
        if wp.shown is not None and wp.shown.finished:
            break
        await asyncio.sleep(0.02)
    assert wp.shown is not None and wp.shown.finished
    assert bar_of(wp).value == 1000
    assert 1 <= wp.updates <= 3  # 1,001 snapshots, a handful of redraws
    assert set(applied_on) == {threading.get_ident()}  # never on the feeding thread


async def test_held_back_snapshot_catches_up_on_the_loop() -> None:
    wp = WidgetProgress(loop=asyncio.get_running_loop(), max_hz=20.0)
    wp(snap(1, 10))
    wp(snap(2, 10))  # within 50 ms: held back, a later pump is scheduled
    assert bar_of(wp).value == 1
    for _ in range(50):
        if bar_of(wp).value == 2:
            break
        await asyncio.sleep(0.02)
    assert bar_of(wp).value == 2 and wp.updates == 2


def test_a_closed_loop_is_dropped_without_raising() -> None:
    loop = asyncio.new_event_loop()
    loop.close()
    wp = WidgetProgress(loop=loop)
    t = threading.Thread(target=wp, args=(snap(1, 2),))
    t.start()
    t.join()
    assert wp.latest is not None and wp.updates == 0
    assert wp.pump() and bar_of(wp).value == 1  # the waiting thread can still show it


def test_works_as_a_progress_tracker_renderer() -> None:
    wp = WidgetProgress()
    tracker = ProgressTracker(3, wp)
    for outcome in ("ok", "not_found", "error"):
        tracker.add_done(outcome)
    tracker.close()
    bar, status, _ = wp.widget.children
    assert (bar.value, bar.max, bar.bar_style) == (3, 3, "warning")
    assert "ok 1" in status.value and "not found 1" in status.value


# --------------------------------------------------------------------------- choosing


class ZMQInteractiveShell:
    """Stands in for ipykernel's shell: detection goes by the class name in the MRO."""


class ColabShell(ZMQInteractiveShell):
    pass


@pytest.fixture
def fake_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: ColabShell())
    monkeypatch.setattr(nbmod, "_warned_missing_widgets", False)


def test_not_in_a_notebook_under_pytest() -> None:
    assert not in_notebook()
    assert notebook_renderer() is None
    assert auto_renderer(None) is None  # pytest captures stderr: not a terminal
    assert isinstance(auto_renderer(True), TextRenderer)
    assert auto_renderer(False) is None

    def mine(s: ProgressSnapshot) -> None:
        pass

    assert auto_renderer(mine) is mine


def test_terminal_ipython_is_not_a_notebook(monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython

    class TerminalInteractiveShell:
        pass

    monkeypatch.setattr(IPython, "get_ipython", lambda: TerminalInteractiveShell())
    assert not in_notebook()


async def test_in_a_notebook_the_widget_is_chosen_and_bound_to_the_loop(fake_kernel: None) -> None:
    assert in_notebook()
    for progress in (None, True):
        renderer = auto_renderer(progress, display=False)
        assert isinstance(renderer, WidgetProgress)
        assert renderer.loop is asyncio.get_running_loop()
    assert auto_renderer(False) is None


def test_missing_ipywidgets_falls_back_to_text_with_an_install_hint_once(
    fake_kernel: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets -> ImportError
    with pytest.warns(UserWarning, match=r"pip install 'rdaplab\[notebook\]'"):
        first = auto_renderer(None)
    assert isinstance(first, TextRenderer)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second warning would raise
        assert isinstance(notebook_renderer(), TextRenderer)
    assert INSTALL_HINT == "pip install 'rdaplab[notebook]'"


# --------------------------------------------------------------------------- real kernel

SETUP = """
import asyncio, threading, time
from rdaplab.notebook.widget import WidgetProgress
from rdaplab.batch.progress import ProgressSnapshot

def snap(done, total, finished=False, errors=0):
    hosts = {f"rdap{i}.example": {"in_flight": float(i), "queued": 0.0, "requests": float(done),
             "throttled": 1.0, "rate_per_s": 1.5 * i} for i in range(12)}
    return ProgressSnapshot(total=total, done=done, ok=done - errors, not_found=0, errors=errors,
                            cache_hits=7, requests=done, throttled=3, elapsed_s=2.0,
                            finished=finished, hosts=hosts)
"""

# The batch runs on a thread while the cell awaits: pumps are scheduled on the kernel loop.
LOOP_CELL = """
wp1 = WidgetProgress(loop=asyncio.get_running_loop()); wp1.display()
t0 = time.monotonic()
def feed():
    for i in range(1000):
        wp1(snap(i, 1000))
    for i in range(1000, 1111, 10):
        wp1(snap(i, 1111)); time.sleep(0.05)
    wp1(snap(1111, 1111, finished=True))
t = threading.Thread(target=feed); t.start()
while not (wp1.shown and wp1.shown.finished):
    await asyncio.sleep(0.02)
t.join()
print("loop-updates", wp1.updates, time.monotonic() - t0)
"""

# lookup() blocks the kernel thread while the batch runs: the waiting code pumps.
BLOCKED_CELL = """
wp2 = WidgetProgress(loop=asyncio.get_running_loop()); wp2.display()
t0 = time.monotonic()
def feed2():
    for i in range(700):
        wp2(snap(i, 777))
    for i in range(700, 777, 10):
        wp2(snap(i, 777)); time.sleep(0.05)
    wp2(snap(777, 777, finished=True, errors=2))
t = threading.Thread(target=feed2); t.start()
while t.is_alive():
    wp2.pump(); time.sleep(0.05)
wp2.pump()
print("blocked-updates", wp2.updates, time.monotonic() - t0)
"""

# Snapshots fed on the kernel thread itself (as with `await lookup_async(...)`), through the
# renderer lookup() picks: the widget, displayed, bound to the kernel loop.
DIRECT_CELL = """
from rdaplab.notebook.widget import auto_renderer, in_notebook
wp3 = auto_renderer(None)
print("chosen", type(wp3).__name__, in_notebook(), wp3.loop is asyncio.get_running_loop())
t0 = time.monotonic()
for i in range(1000):
    wp3(snap(i, 555))
wp3(snap(555, 555, finished=True))
print("direct-updates", wp3.updates, time.monotonic() - t0)
"""


def _models(nb: nbformat.NotebookNode, name: str) -> list[dict[str, Any]]:
    state = nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]
    return [m["state"] for m in state.values() if m["model_name"] == name]


def _printed(nb: nbformat.NotebookNode, key: str) -> list[str]:
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            for line in out.get("text", "").splitlines():
                if line.startswith(key + " "):
                    return line.split()[1:]
    raise AssertionError(f"{key} not printed")


def _few_updates(nb: nbformat.NotebookNode, key: str) -> None:
    """At most max_hz (5) redraws a second over the cell's run, plus the first and last."""
    updates, elapsed = _printed(nb, key)
    assert 1 <= int(updates) <= 2 + 5 * float(elapsed) + 1, (key, updates, elapsed)


@pytest.mark.slow
def test_widget_reaches_total_in_a_real_kernel(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in (SETUP, LOOP_CELL, BLOCKED_CELL, DIRECT_CELL)]
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        store_widget_state=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()

    bars = {b["max"]: b for b in _models(nb, "IntProgressModel") if b["description"] == "rdaplab"}
    assert set(bars) == {1111, 777, 555}
    for total, bar in bars.items():
        assert bar["value"] == total, f"bar of {total} stopped at {bar['value']}"
    assert bars[1111]["bar_style"] == "success" and bars[555]["bar_style"] == "success"
    assert bars[777]["bar_style"] == "warning"  # finished with errors

    html = [m["value"] for m in _models(nb, "HTMLModel")]
    for total in (1111, 777, 555):
        line = f"<b>{total:,} / {total:,}</b> (100%)"
        assert any(line in h and "cache hits 7" in h and "done in" in h for h in html), line
    assert any("ok 775" in h and "<b>errors 2</b>" in h for h in html)
    tables = [h for h in html if "rdaplab-hosts" in h]
    assert len(tables) == 3
    assert all("rdap11.example" in t and "+2 more hosts" in t for t in tables)

    # Each widget was displayed once, in its own cell.
    views = [
        o
        for cell in nb.cells
        for o in cell.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert len(views) == 3
    assert _printed(nb, "chosen") == ["WidgetProgress", "True", "True"]

    # 1,000-snapshot bursts produce a handful of redraws, not hundreds.
    for key in ("loop-updates", "blocked-updates", "direct-updates"):
        _few_updates(nb, key)
