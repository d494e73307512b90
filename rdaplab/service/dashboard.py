"""The job dashboard: ``GET /`` (one self-contained page) and the JSON it polls.

``GET /api/dashboard`` (every second): the jobs (newest first), the running job with its
per-registry figures (rows done and errors from the job's ledger; in flight, queued and
the pace now from the running batch's events; the pacer rate and concurrency limit in
force and the last minute's requests and throttles from the attempts log), the
batch-lookups in progress, alerts and recent host events.

``GET /api/dashboard/charts`` (every few seconds): Vega-Lite specs of the latest batch
(the running job's, else a batch-lookup's): its rows done over time, and the catalog's
``throughput`` and ``host_rates`` charts (:mod:`rdaplab.notebook.charts`) of its last ten
minutes of attempts. The page draws them with the Vega bundle the HTML report inlines
(:mod:`rdaplab.notebook.report`): nothing is fetched from anywhere but the service. Without
Altair and vl-convert (the ``notebook`` extra) the page has no charts, the rest works.
"""

from __future__ import annotations

import asyncio
import functools
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import web

from rdaplab.jobs import JobStatus, list_jobs
from rdaplab.service.jobs_api import json_response
from rdaplab.service.monitor import LiveBatch
from rdaplab.service.page import render_page
from rdaplab.service.state import STATE, ServiceState

__all__ = ["add_routes", "charts_available", "charts_data", "dashboard_data"]

RECENT_JOBS = 50
CHART_WINDOW_S = 600.0  # the charts show the latest batch's last ten minutes
CHART_TTL_S = 2.0  # specs are rebuilt at most this often
NOW_WINDOW_S = 60.0  # "now" figures per host: the last minute of attempts


@functools.lru_cache(maxsize=1)
def charts_available() -> bool:
    """Whether Altair and vl-convert (the ``notebook`` extra) are installed."""
    try:
        import altair  # noqa: F401
        import vl_convert  # noqa: F401
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=1)
def _page() -> str:
    bundle = ""
    if charts_available():
        from rdaplab.notebook.report import vega_bundle

        bundle = vega_bundle()
    return render_page(bundle)


def _registries(
    state: ServiceState, running: JobStatus | None, now: list[Any]
) -> list[dict[str, Any]]:
    live = state.monitor.hosts()
    recent = {h.host: h for h in now}
    ledger = running.registries if running is not None else {}
    hosts = sorted(set(ledger) | set(live) | set(recent))
    out = []
    for host in hosts:
        figures = ledger.get(host, {})
        now_figures = live.get(host, {})
        last = recent.get(host)
        requests = figures.get("requests", now_figures.get("requests", 0.0))
        throttled = figures.get("throttled", now_figures.get("throttled", 0.0))
        out.append(
            {
                "host": host,
                "done": figures.get("done", now_figures.get("done", 0.0)),
                "errors": figures.get("errors", now_figures.get("errors", 0.0)),
                "requests": requests,
                "throttled": throttled,
                "throttled_share": throttled / requests if requests else 0.0,
                "in_flight": now_figures.get("in_flight", 0.0),
                "queued": now_figures.get("queued", 0.0),
                "rate_per_s": now_figures.get("rate_per_s"),
                "rate_limit": last.rate_limit if last else None,
                "concurrency_limit": last.concurrency_limit if last else None,
                "requests_1m": last.requests if last else 0,
                "throttled_1m": last.throttled if last else 0,
            }
        )
    return out


async def dashboard_data(state: ServiceState) -> dict[str, Any]:
    """What ``GET /api/dashboard`` returns (see the module)."""
    store = state.cache
    since = datetime.now(timezone.utc) - timedelta(seconds=NOW_WINDOW_S)
    statuses, recent = await asyncio.gather(
        asyncio.to_thread(list_jobs, state.cache_path),
        asyncio.to_thread(store.host_figures, since),
    )
    jobs = list(reversed(statuses))
    running = next((j for j in jobs if j.state == "running"), None)
    counts: dict[str, int] = {}
    for job in statuses:
        counts[job.state] = counts.get(job.state, 0) + 1
    monitor = state.monitor
    running_dict = None
    if running is not None:
        running_dict = running.to_dict()
        live = monitor.batch_of_job(running.id)
        running_dict["alerts"] = list(live.alerts.values()) if live is not None else []
    worker = state.worker
    now = time.time()
    return {
        "now": now,
        "service": {
            "cache": str(state.cache_path),
            "started_at": state.started_epoch,
            "uptime_s": now - state.started_epoch,
            "worker": worker.id if worker is not None else None,
            "worker_job": worker.current if worker is not None else None,
            "charts": charts_available(),
        },
        "counts": counts,
        "running": running_dict,
        "registries": _registries(state, running, recent),
        "lookups": [lookup.to_dict() for lookup in state.lookups.values()],
        "jobs": [j.to_dict() for j in jobs[:RECENT_JOBS]],
        "alerts": list(reversed(monitor.alerts))[:20],
        "active_alerts": monitor.active_alerts(),
        "events": list(reversed(monitor.host_events))[:20],
    }


def _chart_batch(state: ServiceState) -> LiveBatch | None:
    running = list(state.monitor.running.values())
    for source in ("job", "batch_lookup"):
        mine = [b for b in running if b.source == source]
        if mine:
            return max(mine, key=lambda b: b.started_at)
    return state.monitor.latest


def _specs(state: ServiceState, batch: LiveBatch) -> dict[str, Any]:
    import altair as alt
    import polars as pl

    from rdaplab.notebook.charts import CATALOG
    from rdaplab.notebook.charts.marks import no_data

    since = max(
        datetime.fromtimestamp(batch.started_at, timezone.utc) - timedelta(seconds=5),
        datetime.now(timezone.utc) - timedelta(seconds=CHART_WINDOW_S),
    )
    attempts = state.cache.recent_attempts(batch.batch_id, since)
    history = list(batch.history)
    title = "Rows done and requests sent"
    progress: Any
    if not history:  # (Vega draws an empty line chart with an infinite view box)
        progress = no_data("progress", title, 520, 200, "no progress yet")
    else:
        frame = pl.DataFrame(
            {
                "t_s": [h[0] for h in history],
                "rows done": [h[1] for h in history],
                "requests": [h[2] for h in history],
            },
            schema={"t_s": pl.Float64, "rows done": pl.Int64, "requests": pl.Int64},
        ).unpivot(index="t_s", variable_name="series", value_name="count")
        progress = (
            alt.Chart(frame)
            .mark_line(interpolate="step-after", point=len(history) < 30)
            .encode(
                x=alt.X("t_s:Q", title="seconds since the batch started"),
                y=alt.Y("count:Q", title="count"),
                color=alt.Color("series:N", title=None),
                tooltip=["t_s:Q", "series:N", "count:Q"],
            )
            .properties(title=title, width=520, height=200)
        )
    charts: dict[str, Any] = {"progress": progress.to_dict()}
    for name in ("throughput", "host_rates"):
        function, _title = CATALOG[name]
        charts[name] = function(attempts).to_dict()
    return charts


async def charts_data(state: ServiceState) -> dict[str, Any]:
    """What ``GET /api/dashboard/charts`` returns: ``batch_id``, ``source``, ``job_id``,
    ``running`` and ``charts`` (name -> Vega-Lite spec)."""
    batch = _chart_batch(state)
    if batch is None or not charts_available():
        return {"batch_id": None, "charts": {}}
    key = (batch.batch_id, batch.finished)
    cached = state.chart_cache
    fresh = cached is not None and time.monotonic() - cached[0] < CHART_TTL_S
    if cached is not None and cached[1] == key and (batch.finished or fresh):
        return cached[2]
    specs = await asyncio.to_thread(_specs, state, batch)
    out = {
        "batch_id": batch.batch_id,
        "source": batch.source,
        "job_id": batch.job_id,
        "running": not batch.finished,
        "charts": specs,
    }
    state.chart_cache = (time.monotonic(), key, out)
    return out


async def page(request: web.Request) -> web.Response:
    text = await asyncio.to_thread(_page)
    return web.Response(
        text=text,
        content_type="text/html",
        charset="utf-8",
        headers={
            # Offline by construction: the page may talk to this service only.
            "Content-Security-Policy": (
                "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
                "style-src 'unsafe-inline'; img-src data: blob:; connect-src 'self'"
            ),
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


async def api_dashboard(request: web.Request) -> web.Response:
    return json_response(await dashboard_data(request.app[STATE]))


async def api_charts(request: web.Request) -> web.Response:
    return json_response(await charts_data(request.app[STATE]))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", page)
    app.router.add_get("/api/dashboard", api_dashboard)
    app.router.add_get("/api/dashboard/charts", api_charts)
