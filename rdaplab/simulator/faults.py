"""Fault injection: latency, dropped connections, server errors, truncated and slow bodies.

Which fault a request meets is a stable draw from ``(seed, registry, path, attempt)``, so
a rerun meets the same faults whatever order concurrent requests arrive in.
"""

from __future__ import annotations

import asyncio
import contextlib
import math

from aiohttp import web

from rdaplab.simulator.hashing import unit
from rdaplab.simulator.limits import retry_after
from rdaplab.simulator.registry import Registry
from rdaplab.simulator.scenario import RegistrySpec
from rdaplab.simulator.templates import RDAP_JSON, error_body

#: The seed, registry name, lower-cased path and attempt number of one request.
Draw = tuple[int, str, str, int]


def latency_s(spec: RegistrySpec, draw: Draw) -> float:
    """The request's simulated service time, in seconds (0 without ``latency_ms``)."""
    if not spec.latency_ms:
        return 0.0
    mean = float(spec.latency_ms.get("mean", 0))
    jitter = float(spec.latency_ms.get("jitter", 0))
    return max(0.0, mean + (2 * unit(*draw, "lat") - 1) * jitter) / 1000


def pick_fault(spec: RegistrySpec, draw: Draw) -> str | None:
    """ "drop", "error", "malformed", "slow" or None, one draw split by the rates in order.

    "malformed" and "slow" apply only to a 200 answer; the caller checks that.
    """
    u = unit(*draw, "fault")
    for fault, rate in (
        ("drop", spec.drop_rate),
        ("error", spec.error_rate),
        ("malformed", spec.malformed_rate),
        ("slow", spec.slow_body_rate),
    ):
        if u < rate:
            return fault
        u -= rate
    return None


def server_error(reg: Registry, pick: int) -> web.Response:
    """A 500, 502 (from a proxy, so HTML) or 503 answer, chosen by ``pick``."""
    status = (500, 502, 503)[pick % 3]
    if status == 502:  # a proxy in front of the registry, so HTML
        html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
        return web.Response(status=502, text=html, content_type="text/html")
    headers = retry_after(reg, 1.0) if status == 503 else {}
    title = "Internal Server Error" if status == 500 else "Service Unavailable"
    return web.Response(
        status=status,
        body=error_body(status, title, title),
        content_type=RDAP_JSON,
        headers=headers,
    )


async def slow_body(request: web.Request, body: bytes, total_ms: float) -> web.StreamResponse:
    """Send ``body`` in eight chunks spread over ``total_ms``."""
    resp = web.StreamResponse(status=200, headers={"Content-Type": RDAP_JSON})
    resp.content_length = len(body)
    await resp.prepare(request)
    chunks = 8
    step = math.ceil(len(body) / chunks)
    with contextlib.suppress(ConnectionError):  # the client gave up waiting
        for i in range(chunks):
            await asyncio.sleep(total_ms / 1000 / chunks)
            await resp.write(body[i * step : (i + 1) * step])
        await resp.write_eof()
    return resp
