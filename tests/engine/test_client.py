"""RdapClient against a real aiohttp server on loopback: headers, redirects, failures."""

from __future__ import annotations

import asyncio
import socket
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from urllib.parse import urlsplit

import pytest
from aiohttp import web

from rdaplab._version import __version__
from rdaplab.engine.client import RdapClient, authority, check_url_policy, parse_retry_after
from rdaplab.engine.config import Timeouts
from rdaplab.errors import FetchError
from rdaplab.rdap.bootstrap_urls import is_loopback_url
from tests.engine.loopback import serving_app


@pytest.fixture
async def server():
    seen: list[dict[str, str]] = []

    async def echo(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.json_response(
            {"objectClassName": "domain", "ldhName": "example.com"},
            content_type="application/rdap+json",
            headers={"Retry-After": "7", "X-Ignored": "1", "ETag": '"abc"'},
        )

    async def redirect(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        if n == 0:
            return web.json_response({"ok": True})
        raise web.HTTPFound(f"/redirect/{n - 1}")

    async def to_plain_http(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://rdap.example.net/domain/x")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({})

    async def truncated(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Length": "1000"})
        await resp.prepare(request)
        await resp.write(b'{"objectClassName": "dom')
        request.transport.close()  # type: ignore[union-attr]
        return resp

    app = web.Application()
    app.router.add_get("/echo", echo)
    app.router.add_get("/redirect/{n}", redirect)
    app.router.add_get("/downgrade", to_plain_http)
    app.router.add_get("/slow", slow)
    app.router.add_get("/truncated", truncated)
    async with serving_app(app) as base:
        yield base, seen


async def test_sends_rdap_accept_and_identifying_user_agent(server):
    base, seen = server
    async with RdapClient() as client:
        res = await client.get(f"{base}/echo")
    assert res.status == 200
    assert "application/rdap+json" in seen[0]["Accept"]
    assert seen[0]["User-Agent"].startswith(f"rdaplab/{__version__}")
    assert res.headers["retry-after"] == "7" and res.headers["etag"] == '"abc"'
    assert "x-ignored" not in res.headers  # only selected headers are kept
    assert res.retry_after_s == 7.0
    assert res.latency_ms > 0


async def test_follows_bounded_redirects(server):
    base, _ = server
    async with RdapClient(max_redirects=3) as client:
        res = await client.get(f"{base}/redirect/3")
        assert res.status == 200 and res.final_url.endswith("/redirect/0")
        with pytest.raises(FetchError) as info:
            await client.get(f"{base}/redirect/4")
    assert info.value.kind == "http_error" and "redirects" in info.value.detail


async def test_refuses_redirect_to_plain_http_off_loopback(server):
    base, _ = server
    async with RdapClient() as client:
        with pytest.raises(FetchError) as info:
            await client.get(f"{base}/downgrade")
    assert info.value.kind == "http_error" and "https" in info.value.detail


async def test_fetch_sends_headers_caps_the_body_and_applies_the_url_policy(server):
    base, seen = server
    refused: list[str] = []

    def policy(url: str) -> None:
        if url.endswith("/redirect/0"):
            refused.append(url)
            raise ValueError(f"not {url}")

    async with RdapClient() as client:
        res = await client.fetch(f"{base}/echo", headers={"Accept": "application/json"})
        assert res.status == 200 and seen[-1]["Accept"] == "application/json"
        assert seen[-1]["User-Agent"].startswith(f"rdaplab/{__version__}")
        small = await client.fetch(f"{base}/echo", max_bytes=len(res.body))
        assert small.body == res.body
        with pytest.raises(FetchError) as info:
            await client.fetch(f"{base}/echo", max_bytes=len(res.body) - 1)
        assert info.value.kind == "http_error" and "larger than" in info.value.detail
        with pytest.raises(ValueError, match="not "):  # the policy's own error, redirects too
            await client.fetch(f"{base}/redirect/1", url_policy=policy)
    assert refused == [f"{base}/redirect/0"]


async def test_timeout_is_classified(server):
    base, _ = server
    async with RdapClient(timeouts=Timeouts(connect_s=1, total_s=0.3)) as client:
        with pytest.raises(FetchError) as info:
            await client.get(f"{base}/slow")
    assert info.value.kind == "timeout"


async def test_refused_connection_is_classified_quickly():
    with socket.socket() as s:  # bound, not listening: connects are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        async with RdapClient() as client:
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            with pytest.raises(FetchError) as info:
                await client.get(f"http://127.0.0.1:{port}/domain/x")
            assert loop.time() - t0 < 1.0
    assert info.value.kind == "connection_error"


async def test_truncated_body_is_a_connection_error(server):
    base, _ = server
    async with RdapClient() as client:
        with pytest.raises(FetchError) as info:
            await client.get(f"{base}/truncated")
    assert info.value.kind == "connection_error"


def test_url_policy():
    check_url_policy("https://rdap.verisign.com/com/v1/domain/x")
    check_url_policy("http://127.0.0.1:8080/reg/domain/x")
    check_url_policy("http://localhost:8080/reg/domain/x")
    check_url_policy("http://[::1]:8080/reg/domain/x")
    for bad in ("http://rdap.example.net/domain/x", "ftp://x/y", "file:///etc/passwd"):
        with pytest.raises(FetchError):
            check_url_policy(bad)


def test_authority_keeps_ports_and_defaults():
    assert authority("https://RDAP.Verisign.com/com/v1/") == "rdap.verisign.com:443"
    assert authority("http://127.0.0.1:8081/x/") == "127.0.0.1:8081"


# The reading of one URL at a time that the per-origin cache replaced: the reference.
def _policy_of_whole_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018
    except ValueError:
        return "malformed"
    if parts.scheme == "https" and parts.hostname:
        return "ok"
    if parts.scheme == "http" and parts.hostname and is_loopback_url(url):
        return "ok"
    return "refused"


def _authority_of_whole_url(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}"


TRICKY_URLS = [
    "https://rdap.example/domain/x",
    "https://rdap.example?q=/x",
    "https://rdap.example#frag/x",
    "https://user:pw@RDAP.example:8443/x",
    "HTTPS://RDAP.EXAMPLE/X",
    "  https://rdap.example/x",
    "ht\ttps://rdap.example/x",
    "https://rdap.exa\nmple/x",
    "https:/rdap.example/x",
    "https:rdap.example/x",
    "https://",
    "https:///x",
    "http://127.0.0.1:8080/r/domain/x",
    "http://127.0.0.1.evil.example/x",
    "http://localhost?x=/y",
    "http://x.localhost/",
    "http://[::1]:80/x",
    "http://[::ffff:127.0.0.1]/x",
    "http://[::1/x",
    "https://rdap.example:99999/x",
    "https://rdap.example:0x50/x",
    "ftp://rdap.example/x",
    "file:///etc/passwd",
    "rdap.example/domain/x",
    "",
]


@pytest.mark.parametrize("url", TRICKY_URLS)
def test_policy_and_authority_read_per_origin_as_per_url(url):
    try:
        check_url_policy(url)
        verdict = "ok"
    except FetchError as exc:
        assert exc.kind == "http_error" and repr(url) in exc.detail
        verdict = "malformed" if "malformed" in exc.detail else "refused"
    assert verdict == _policy_of_whole_url(url)
    try:
        expected = _authority_of_whole_url(url)
    except ValueError:
        with pytest.raises(ValueError):
            authority(url)
    else:
        assert authority(url) == expected


def test_retry_after_both_forms():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("30", now=now) == 30.0
    assert (
        parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now)
        == 90.0
    )
    assert (
        parse_retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now=now) == 0.0
    )
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("", now=now) is None


def test_malformed_urls_are_refused_not_crashed_on():
    for bad in ("https://rdap.example.net:99999/domain/x", "https://[::1/domain/x"):
        with pytest.raises(FetchError) as info:
            check_url_policy(bad)
        assert info.value.kind == "http_error" and "malformed" in info.value.detail


@pytest.mark.parametrize(
    ("value", "resolution"),
    [(None, 0.0), ("", 0.0), ("2", 1.0), ("1.5", 0.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 1.0)],
)
def test_retry_after_resolution_is_a_second_for_an_http_date_or_whole_seconds(value, resolution):
    from datetime import datetime, timezone

    from rdaplab.engine.client import HttpResult

    headers = {} if value is None else {"retry-after": value}
    res = HttpResult("u", "u", 429, headers, b"", datetime.now(timezone.utc), 1.0)
    assert res.retry_after_resolution_s == resolution
