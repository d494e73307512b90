"""Rate limits, throttle styles, quotas and escalation to blocks: the answers that refuse.

Each refusal has the shape a real registry gives it (see the comments at each style), so
a client's throttle detection is tested against what it will meet.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from rdaplab.simulator.registry import Registry
from rdaplab.simulator.scenario import RegistrySpec
from rdaplab.simulator.templates import RDAP_JSON, error_body


def admit(reg: Registry, now: float, t0: float, remote: str | None) -> web.Response | None:
    """The refusal for a request arriving at loop time ``now``, or None to serve it.

    ``t0`` is the loop time the simulator started (simulated quota days count from it).
    The order matters: a block answers before anything is counted against a quota.
    """
    if reg.blocked_until is not None:
        if now < reg.blocked_until:
            return _blocked(reg)
        reg.blocked_until = None
    quota = _quota(reg, now, t0)
    if quota is not None:
        return quota
    refusal = _person_quota(reg, now, t0, remote)
    if refusal is not None:
        return refusal
    wait = reg.take_token(now, remote)  # the client's own bucket with rate_limit.per_client
    if wait > 0:
        return _throttle(reg, wait, now, remote)
    spec = reg.spec
    limit = spec.concurrency_limit
    if limit is not None and spec.concurrency_mode == "reject" and reg.stats.in_flight > limit:
        _violation(reg, now, remote)
        body = error_body(spec.concurrency_status, "Too Many Requests", "Too many connections.")
        return web.Response(
            status=spec.concurrency_status,
            body=body,
            content_type=RDAP_JSON,
            headers=retry_after(reg, 1.0),
        )
    return None


def _sim_day(spec: RegistrySpec, now: float, t0: float) -> tuple[int, float]:
    """(index of the simulated day at ``now``, seconds until that day ends)."""
    elapsed = max(0.0, now - t0)
    day = int(elapsed // spec.quota_day_s)
    return day, (day + 1) * spec.quota_day_s - elapsed


def retry_after(reg: Registry, wait_s: float) -> dict[str, str]:
    """The Retry-After header for a wait of ``wait_s``, in the registry's ``retry_after`` style."""
    style = reg.spec.retry_after
    if style == "none":
        return {}
    secs = max(1, math.ceil(wait_s))
    if style == "seconds":
        return {"Retry-After": str(secs)}
    # Round up to a whole second: an HTTP-date must not name a time before the token.
    when = datetime.fromtimestamp(math.ceil(time.time() + wait_s), tz=timezone.utc)
    return {"Retry-After": email.utils.format_datetime(when, usegmt=True)}


def _violation(reg: Registry, now: float, remote: str | None) -> None:
    """Count a throttled answer; ``block_after`` of them in the window start a block.

    Blocks stay registry-wide with ``rate_limit.per_client``: any client's violations
    count, and a block refuses every client.
    """
    reg.stats.throttled += 1
    if reg.client_buckets is not None:
        reg.stats.client(remote).throttled += 1
    spec = reg.spec
    if spec.block_after is None:
        return
    window = reg.violations
    window.append(now)
    while window and window[0] <= now - spec.block_window_s:
        window.popleft()
    if len(window) >= spec.block_after:
        reg.blocked_until = now + spec.block_s
        reg.stats.blocks += 1
        window.clear()


def _blocked(reg: Registry) -> web.Response:
    # Like a WAF in front of the registry: HTML, 403, and no hint of when it ends.
    reg.stats.blocked += 1
    html = (
        "<html><head><title>403 Forbidden</title></head><body><h1>Access denied</h1>"
        "<p>Access denied: your address has been blocked for abusive querying.</p>"
        "</body></html>"
    )
    return web.Response(status=403, text=html, content_type="text/html")


def _quota(reg: Registry, now: float, t0: float) -> web.Response | None:
    """The quota answer when the day's quota is spent, else None (and count this one)."""
    spec = reg.spec
    if spec.daily_quota is None:
        return None
    day, reset_in = _sim_day(spec, now, t0)
    if reg.queries.on(day) < spec.daily_quota:
        reg.queries.used += 1
        return None
    reg.stats.quota_rejections += 1
    body = error_body(
        429,
        "Quota exceeded",
        "Daily query quota exhausted for this address; retry after the reset.",
    )
    return web.Response(
        status=429,
        body=body,
        content_type=RDAP_JSON,
        headers={"Retry-After": str(max(1, math.ceil(reset_in)))},
    )


def _person_quota(reg: Registry, now: float, t0: float, remote: str | None) -> web.Response | None:
    """RIPE's answer once the day's personal data is spent, else None.

    RIPE's Acceptable Use Policy caps the personal data sets (person and non-abuse role
    objects) returned to one IP address at 1,000 per 24 hours; past it, access is
    "temporarily denied" for the rest of the day (RIPE NCC db-wg announcement of
    2024-05-14, mail-archive.com/db-wg@ripe.net/msg04286.html). Over RDAP the denial is
    HTTP 429 with an RDAP error body titled "Too Many Requests" whose description
    carries the whois ACL message "%ERROR:201: access denied for <ip>" (RIPE-NCC/whois
    pull request #570, 2019, and its test RdapControllerAclTestIntegration
    ``lookup_person_entity_acl_denied``). No source documents a Retry-After, so it
    follows ``retry_after`` (use "none" to be strict). Accounting is after the fact, as
    RIPE's: the answer that crosses the quota is served in full.
    """
    spec = reg.spec
    if spec.person_quota is None:
        return None
    day, reset_in = _sim_day(spec, now, t0)
    if reg.persons.on(day) < spec.person_quota:
        return None
    reg.stats.person_quota_rejections += 1
    doc = {
        "rdapConformance": ["rdap_level_0"],
        "errorCode": 429,
        "title": "Too Many Requests",
        "description": [
            f"%ERROR:201: access denied for {remote or '127.0.0.1'}",
            "%",
            "% Queries from your IP address have passed the daily limit of controlled objects.",
            "% Access from your host has been temporarily denied.",
            "% For more information, see",
            "% https://docs.db.ripe.net/FAQ/#why-did-i-receive-an-error-201-access-denied",
        ],
    }
    return web.Response(
        status=429,
        body=json.dumps(doc).encode(),
        content_type=RDAP_JSON,
        headers=retry_after(reg, reset_in),
    )


_FORBIDDEN_HTML = (
    "<html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1>"
    "<p>Number of allowed queries exceeded.</p></body></html>"
)


def _throttle(reg: Registry, wait_s: float, now: float, remote: str | None) -> web.Response:
    """The over-limit answer; ``throttle_style`` picks which real-world shape."""
    _violation(reg, now, remote)
    headers = retry_after(reg, wait_s)
    if reg.spec.throttle_style == "403-html":
        return web.Response(
            status=403, text=_FORBIDDEN_HTML, content_type="text/html", headers=headers
        )
    status, body = _throttle_body(reg.spec)
    return web.Response(status=status, body=body, content_type=RDAP_JSON, headers=headers)


def _throttle_body(spec: RegistrySpec) -> tuple[int, bytes]:
    """Status and RDAP body of a throttled answer in the styles that answer JSON."""
    style = spec.throttle_style
    if style == "200-notice":
        # Some registries answer a throttled query with a 200 that carries only a notice.
        doc: dict[str, Any] = {
            "rdapConformance": ["rdap_level_0"],
            "notices": [
                {
                    "title": "Rate Limit Notice",
                    "description": ["Query rate limit exceeded. Please slow down and retry later."],
                }
            ],
        }
        return 200, json.dumps(doc).encode()
    if style == "429-notice":
        # LACNIC: 10 queries a minute per IP; over it, 429 with the notice clients key
        # on (ipwhois issue #99 quotes it; a ban of ~5 minutes followed, issues #99 and
        # CZ-NIC/convey#35: model that with block_after).
        rate = spec.rate_limit or {}
        per_s = float(rate.get("rate_per_s", 1.0))
        burst = float(rate.get("burst", max(1.0, per_s)))
        minutes = max(1, round(burst / per_s / 60))
        doc = {
            "rdapConformance": ["rdap_level_0"],
            "errorCode": 429,
            "title": "Too Many Requests",
            "notices": [
                {
                    "title": "Rate Limit Notice",
                    "description": [
                        f"Rate Limit is maxed at {int(burst)} queries per {minutes} minutes."
                    ],
                }
            ],
        }
        return 429, json.dumps(doc).encode()
    if style == "422-rdap":
        return 422, error_body(422, "Too fast", "Queries are being sent too fast; slow down.")
    if style == "503":
        # Overload, not refusal (RFC 9110 section 15.6.4), in the very words of the
        # injected 503 fault: a client tells the two apart only by how they follow its rate.
        return 503, error_body(503, "Service Unavailable", "Service Unavailable")
    return 429, error_body(429, "Too Many Requests", "Query rate limit exceeded.")


def host_bound(spec: RegistrySpec, requests: int) -> dict[str, Any]:
    """The fastest any client can send ``requests`` to one registry and get every answer.

    With ``rate_limit.per_client`` (row key ``per_client`` true) the rate term is that of
    one client address: a client spreading its requests over ``k`` source addresses has
    ``k`` buckets, so its rate term can be up to ``k`` times shorter.
    """
    lat = float(spec.latency_ms.get("mean", 0)) / 1000 if spec.latency_ms else 0.0
    row: dict[str, Any] = {
        "requests": requests,
        "role": spec.role,
        "rate_per_s": None,
        "burst": None,
        "per_client": spec.rate_per_client,
        "concurrency_limit": spec.concurrency_limit,
        "mean_latency_s": lat,
        "rate_bound_s": None,
        "concurrency_bound_s": None,
        "quota_bound_s": None,
    }
    terms = {"latency": lat}
    if spec.rate_limit:
        rate = float(spec.rate_limit["rate_per_s"])
        burst = float(spec.rate_limit.get("burst", max(1.0, rate)))
        row["rate_per_s"], row["burst"] = rate, burst
        # A full bucket of ``burst`` at t=0, then one token per 1/rate; the last answer
        # still takes one latency to come back.
        terms["rate"] = row["rate_bound_s"] = max(0.0, requests - burst) / rate + lat
    if spec.concurrency_limit is not None:
        terms["concurrency"] = row["concurrency_bound_s"] = requests * lat / spec.concurrency_limit
    if spec.daily_quota is not None and requests > spec.daily_quota:
        days = (requests - 1) // spec.daily_quota
        terms["quota"] = row["quota_bound_s"] = days * spec.quota_day_s
    binding = max(terms, key=lambda k: terms[k])
    row["bound_s"] = terms[binding]
    row["binding"] = binding
    return row
