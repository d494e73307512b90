"""The jobs routes: submit, list, follow, steer and download the cache's jobs.

``POST /jobs``, ``GET /jobs``, ``GET /jobs/{id}``, ``GET /jobs/{id}/results``,
``DELETE /jobs/{id}``, ``POST /jobs/{id}/pause``, ``POST /jobs/{id}/resume``: thin
wrappers of :mod:`rdaplab.jobs` (the ledger is the truth; every call runs in a thread, as
the ledger and the result parts are files).
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import msgspec
import polars as pl
from aiohttp import web

from rdaplab.errors import InputError
from rdaplab.jobs import Job, JobStatus, list_jobs, submit
from rdaplab.service.state import STATE

__all__ = ["FORMATS", "add_routes", "result_bytes"]

#: Download formats of ``GET /jobs/{id}/results``: format -> (content type, suffix).
FORMATS = {
    "parquet": ("application/vnd.apache.parquet", "parquet"),
    "csv": ("text/csv; charset=utf-8", "csv"),
    "ndjson": ("application/x-ndjson", "ndjson"),
}
_FRAMES = ("domains", "networks", "autnums", "queries", "events", "entities", "nameservers",
           "redactions", "remarks", "links", "attempts")  # fmt: skip
_SUBMIT_KEYS = ("name", "priority", "window", "deadline", "kind", "refresh_older_than")


class NotFound(InputError):
    """No such job (a 404)."""


def dumps(data: Any) -> str:
    """JSON text of ``data`` (non-finite floats as null, anything else as its string)."""
    return msgspec.json.encode(data, enc_hook=str).decode()


def json_response(data: Any, status: int = 200, **kwargs: Any) -> web.Response:
    return web.json_response(data, status=status, dumps=dumps, **kwargs)


def _job(cache: Path, job_id: str) -> Job:
    try:
        return Job(job_id, cache)
    except InputError as exc:
        raise NotFound(str(exc)) from None


def _status(job: Job, *, log: bool = False) -> dict[str, Any]:
    out = job.status().to_dict()
    if log:
        out["log"] = job.log()
    return out


def _submit(cache: Path, body: dict[str, Any]) -> dict[str, Any]:
    body = dict(body)
    names = body.pop("names", None)
    source = body.pop("input", None)
    if (names is None) == (source is None):
        raise InputError('a job needs "names" (a list of values) or "input" (a file path)')
    if names is not None:
        if not isinstance(names, list) or any(isinstance(v, dict | list) for v in names):
            raise InputError('"names" must be a list of values')
        values: Any = names
    else:
        if not isinstance(source, str):
            raise InputError('"input" must be the path of a file the service can read')
        values = Path(source).expanduser()
        if not values.is_file():
            raise InputError(f"no input file {source} on the service's machine")
    kwargs = {k: body.pop(k) for k in _SUBMIT_KEYS if k in body}
    try:
        job = submit(values, cache=cache, **kwargs, **body)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(str(exc)) from None
    return _status(job)


def result_bytes(job: Job, fmt: str, frame: str) -> tuple[bytes, str, int]:
    """(the file's bytes, the frame's name, its rows) of the job's rows so far."""
    if fmt not in FORMATS:
        raise InputError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    result = job.result()
    if frame == "auto":
        frame = "domains"
        if result.domains.height == 0:
            filled = [n for n in ("networks", "autnums") if getattr(result, n).height]
            if len(filled) == 1:
                frame = filled[0]
            elif filled or result.queries.height:
                frame = "queries"
    if frame not in _FRAMES:
        raise InputError(f"no frame {frame!r}; choose from {', '.join(_FRAMES)}")
    name = {"remarks": "object_remarks", "links": "object_links"}.get(frame, frame)
    data: pl.DataFrame = getattr(result, name)
    if fmt == "parquet":
        buf = io.BytesIO()
        data.write_parquet(buf)
        return buf.getvalue(), frame, data.height
    if fmt == "csv":
        # CSV has no lists: joined by spaces, as `rdaplab job result --out x.csv` writes.
        flat = data.with_columns(
            pl.col(c).list.join(" ") for c, t in data.schema.items() if isinstance(t, pl.List)
        )
        return flat.write_csv().encode(), frame, data.height
    buf = io.BytesIO()
    data.write_ndjson(buf)
    return buf.getvalue(), frame, data.height


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json(loads=msgspec.json.decode)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InputError("the body must be a JSON object")
    return body


async def post_job(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await _body(request)
    status = await asyncio.to_thread(_submit, state.cache_path, body)
    return json_response(status, status=201, headers={"Location": f"/jobs/{status['id']}"})


async def get_jobs(request: web.Request) -> web.Response:
    state = request.app[STATE]
    statuses: list[JobStatus] = await asyncio.to_thread(list_jobs, state.cache_path)
    return json_response({"jobs": [s.to_dict() for s in reversed(statuses)]})


async def get_job(request: web.Request) -> web.Response:
    state = request.app[STATE]
    job_id = request.match_info["id"]

    def read() -> dict[str, Any]:
        return _status(_job(state.cache_path, job_id), log=True)

    return json_response(await asyncio.to_thread(read))


async def get_results(request: web.Request) -> web.Response:
    state = request.app[STATE]
    job_id = request.match_info["id"]
    fmt = request.query.get("format", "parquet")
    frame = request.query.get("frame", "auto")

    def read() -> tuple[bytes, str, int, Job, str]:
        job = _job(state.cache_path, job_id)
        data, name, rows = result_bytes(job, fmt, frame)
        return data, name, rows, job, job.status().state

    data, name, rows, job, job_state = await asyncio.to_thread(read)
    content_type, suffix = FORMATS[fmt]
    return web.Response(
        body=data,
        headers={
            "Content-Type": content_type,
            "Content-Disposition": f'attachment; filename="job-{job.id[:12]}-{name}.{suffix}"',
            "X-Rdaplab-Job-State": job_state,
            "X-Rdaplab-Rows": str(rows),
            "Cache-Control": "no-store",
        },
    )


def _control(action: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        state = request.app[STATE]
        job_id = request.match_info["id"]

        def act() -> dict[str, Any]:
            job = _job(state.cache_path, job_id)
            getattr(job, action)()
            return {**_status(job), "requested": action}

        return json_response(await asyncio.to_thread(act))

    return handler


def add_routes(app: web.Application) -> None:
    app.router.add_post("/jobs", post_job)
    app.router.add_get("/jobs", get_jobs)
    app.router.add_get("/jobs/{id}", get_job)
    app.router.add_get("/jobs/{id}/results", get_results)
    app.router.add_delete("/jobs/{id}", _control("cancel"))
    app.router.add_post("/jobs/{id}/pause", _control("pause"))
    app.router.add_post("/jobs/{id}/resume", _control("resume"))
