"""The web service: ``make_app`` builds the aiohttp application, ``serve`` runs it.

Routes (docs/service.md): ``POST /batch-lookup`` (progressive NDJSON or SSE,
:mod:`~rdaplab.service.lookups`), the jobs routes (:mod:`~rdaplab.service.jobs_api`),
``GET /metrics`` (:mod:`~rdaplab.service.metrics`), and the dashboard ``GET /`` with its
JSON (:mod:`~rdaplab.service.dashboard`). Errors are JSON ``{"error": "..."}``.

The application opens the cache when it starts (unless given an open
:class:`~rdaplab.store.Cache` as ``store``) and runs the given
:class:`~rdaplab.jobs.Worker` on that same open cache as a background task (DuckDB lets
one process at a time write a file: the worker and the service share the connection);
it stops the worker and closes what it opened when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from rdaplab._aio import wait_for
from rdaplab.errors import InputError, RdapLabError
from rdaplab.service import dashboard, events_api, jobs_api
from rdaplab.service.jobs_api import NotFound, json_response
from rdaplab.service.lookups import batch_lookup
from rdaplab.service.metrics import CONTENT_TYPE, collect
from rdaplab.service.state import STATE, ServiceState
from rdaplab.store import Cache, default_cache_path

if TYPE_CHECKING:
    from rdaplab.jobs import Worker

__all__ = ["is_loopback", "make_app", "serve"]

log = logging.getLogger("rdaplab")

MAX_BODY_BYTES = 256 * 1024 * 1024  # a batch-lookup of a few million names
CACHE_MEMORY_LIMIT = "256MB"  # DuckDB's buffer pool, for a service that runs for weeks
STOP_WORKER_S = 30.0
# The dashboard page and its JSON may carry the token in the query string (a browser
# tab cannot set a header on the page it opens).
_QUERY_TOKEN_PATHS = ("/", "/api/dashboard", "/api/dashboard/charts")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` serves this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def _error(status: int, message: str, **headers: str) -> web.Response:
    return json_response({"error": message}, status=status, headers=headers or None)


def _auth_middleware(token: str) -> Any:
    expected = token.encode()

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = ""
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            given = value.strip()
        elif request.path in _QUERY_TOKEN_PATHS:
            given = request.query.get("token", "")
        if not given or not hmac.compare_digest(given.encode(), expected):
            return _error(
                401,
                "a bearer token is required (Authorization: Bearer TOKEN)",
                **{"WWW-Authenticate": 'Bearer realm="rdaplab"'},
            )
        return await handler(request)

    return auth


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error as JSON ``{"error": ...}``: 400 for bad input, 404, 405, 500."""
    try:
        return await handler(request)
    except NotFound as exc:
        return _error(404, str(exc))
    except InputError as exc:
        return _error(400, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        allow = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        return _error(exc.status, exc.reason or "error", **allow)
    except RdapLabError as exc:
        log.warning("rdaplab service: %s %s failed: %s", request.method, request.path, exc)
        return _error(500, f"{type(exc).__name__}: {exc}")
    except Exception as exc:
        log.exception("rdaplab service: %s %s failed", request.method, request.path)
        return _error(500, f"{type(exc).__name__}: {exc}")


async def _metrics(request: web.Request) -> web.Response:
    text = await collect(request.app[STATE])
    return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})


def _lifecycle(state: ServiceState) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        if state.store is None:
            state.store = Cache(state.cache_path, memory_limit=CACHE_MEMORY_LIMIT)
            state.own_store = True
        worker = state.worker
        if worker is not None:
            state.worker_task = asyncio.create_task(
                worker.run(store=state.store), name="rdaplab-service-worker"
            )
        try:
            yield
        finally:
            try:
                if worker is not None and state.worker_task is not None:
                    worker.stop()
                    try:
                        await wait_for(asyncio.shield(state.worker_task), STOP_WORKER_S)
                    except asyncio.TimeoutError:
                        state.worker_task.cancel()
                        await asyncio.gather(state.worker_task, return_exceptions=True)
                    except Exception:
                        log.exception("rdaplab service: the worker failed")
            finally:
                if state.own_store and state.store is not None:
                    state.store.close()
                    state.store = None

    return lifecycle


def _worker_events(state: ServiceState, worker: Worker) -> None:
    """Feed the worker's events (its jobs' batches, its jobs' state changes) to the
    service's monitor, keeping any handler the worker already had."""
    monitor = state.monitor
    if hasattr(worker, "on_event"):
        worker.on_event = monitor.handler(
            "job", job_id=lambda: worker.current, chain=worker.on_event
        )
        return
    # An older worker without on_event: its batches take the option from batch_settings.
    from rdaplab.batch import LookupOptions

    settings = getattr(worker, "batch_settings", None)
    if "on_event" in LookupOptions.__dataclass_fields__ and isinstance(settings, dict):
        settings["on_event"] = monitor.handler(
            "job", job_id=lambda: worker.current, chain=settings.get("on_event")
        )


def _cache_path(cache: str | Path | None, worker: Worker | None) -> Path:
    if cache is not None:
        return Path(cache).expanduser()
    if worker is not None:
        return Path(worker.cache_path)
    return default_cache_path()


def make_app(
    cache: str | Path | None,
    *,
    token: str | None = None,
    worker: Worker | None = None,
    bootstrap: Any = None,
    limits: Any = None,
    retry: Any = None,
    store: Cache | None = None,
) -> web.Application:
    """The service's aiohttp application (see the module and docs/service.md).

    Parameters
    ----------
    cache
        The cache file (``None``: the default cache; with ``store``, ``store``'s file).
    token
        When given, every request needs ``Authorization: Bearer TOKEN`` (the dashboard
        page and its JSON may pass ``?token=TOKEN`` instead).
    worker
        A :class:`rdaplab.jobs.Worker` of the same cache, run by the application while it
        runs (on the same open cache); ``None``: jobs are only queued here.
    bootstrap, limits, retry
        Passed to every batch-lookup (as :func:`rdaplab.stream` takes them).
    store
        The cache already open (``serve`` opens it once); by default the application
        opens ``cache`` when it starts and closes it when it stops.
    """
    path = Path(store.path) if store is not None else _cache_path(cache, worker)
    if str(path) == ":memory:":
        raise InputError("the service needs a cache file, not ':memory:'")
    state = ServiceState(
        cache_path=path.resolve(),
        token=token or None,
        worker=worker,
        bootstrap=bootstrap,
        limits=limits,
        retry=retry,
        store=store,
    )
    middlewares: list[Any] = [_errors]
    if state.token:
        middlewares.insert(0, _auth_middleware(state.token))
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY_BYTES)
    app[STATE] = state
    if worker is not None:
        _worker_events(state, worker)
    app.cleanup_ctx.append(_lifecycle(state))
    app.router.add_post("/batch-lookup", batch_lookup)
    app.router.add_get("/metrics", _metrics)
    jobs_api.add_routes(app)
    events_api.add_routes(app)
    dashboard.add_routes(app)
    return app


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


async def serve(
    cache: str | Path | None,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None = None,
    worker: Worker | None = None,
    bootstrap: Any = None,
) -> None:
    """Run the service until cancelled, SIGINT or SIGTERM (``rdaplab serve``).

    Binds ``host:port`` (loopback by default; any other address needs a ``token``),
    opens the cache once, runs ``worker`` on it in the background, prints the URL, and on
    the way out stops the worker, waits for it and closes the cache.
    """
    if not token and not is_loopback(host):
        raise InputError(
            f"refusing to serve on {host} without a token: anyone who can reach it could "
            "use the service; pass --token TOKEN (clients then send "
            "'Authorization: Bearer TOKEN'), or bind 127.0.0.1"
        )
    path = _cache_path(cache, worker)
    store = Cache(path, memory_limit=CACHE_MEMORY_LIMIT)
    try:
        app = make_app(path, token=token, worker=worker, bootstrap=bootstrap, store=store)
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            bound = runner.addresses[0] if runner.addresses else (host, port)
            url = _url(host, int(bound[1]))
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            handled: list[signal.Signals] = []
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(sig, stop.set)
                    handled.append(sig)
            try:
                # (printed once the signals are handled: a supervisor may stop us at once)
                note = " (token required)" if token else ""
                print(f"rdaplab serving {url}{note} on {path}; Ctrl-C stops it", flush=True)
                await stop.wait()
            finally:
                for sig in handled:
                    loop.remove_signal_handler(sig)
                print("rdaplab service stopping", file=sys.stderr, flush=True)
        finally:
            await runner.cleanup()  # stops the worker (the app's cleanup) and the site
    finally:
        store.close()
