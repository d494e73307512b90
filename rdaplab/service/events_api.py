"""``GET /events``: the same event records ``on_event=`` receives, live, as NDJSON or
Server-Sent Events, for every batch the service runs (its batch-lookups and its worker's
jobs) and every job state change its worker makes.

Each record is the event's ``to_dict()`` (``kind``, ``at``, ``batch_id`` and the kind's
fields; docs/events.md) plus ``source`` (``job`` or ``batch_lookup``) and, for a job's
batches, ``job_id``. ``?kinds=progress,alert`` keeps only those kinds. Nothing is
replayed: a client sees what happens after it connects. A keep-alive (an SSE comment, or
an NDJSON ``{"kind": "keepalive"}`` line) goes out after 15 s of silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import msgspec
from aiohttp import web

from rdaplab._aio import wait_for
from rdaplab.service.lookups import HEARTBEAT_S, NDJSON, SSE, wants_sse
from rdaplab.service.state import STATE

__all__ = ["add_routes", "events"]


async def events(request: web.Request) -> web.StreamResponse:
    """The handler of ``GET /events`` (see the module)."""
    state = request.app[STATE]
    sse = wants_sse(request)
    kinds = {k.strip() for k in request.query.get("kinds", "").split(",") if k.strip()}
    response = web.StreamResponse(
        headers={
            "Content-Type": f"{SSE}; charset=utf-8" if sse else NDJSON,
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    with state.monitor.subscribe() as queue:
        await response.prepare(request)
        while True:
            try:
                record = await wait_for(queue.get(), HEARTBEAT_S)
            except asyncio.TimeoutError:
                beat = (
                    b": keep-alive\n\n"
                    if sse
                    else b'{"kind":"keepalive","at":%.3f}\n' % (time.time())
                )
                with contextlib.suppress(ConnectionResetError):
                    await response.write(beat)
                    continue
                break
            if kinds and record.get("kind") not in kinds:
                continue
            data = msgspec.json.encode(record, enc_hook=str)
            chunk = (
                b"event: " + str(record.get("kind")).encode() + b"\ndata: " + data + b"\n\n"
                if sse
                else data + b"\n"
            )
            try:
                await response.write(chunk)
            except ConnectionResetError:  # the client left
                break
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/events", events)
