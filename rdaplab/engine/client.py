"""One HTTP exchange with an RDAP server, and the translation of its failures.

The client performs a single GET (following a bounded number of redirects) and either
returns an :class:`HttpResult` (any HTTP status) or raises :class:`~rdaplab.errors.FetchError`
with a classified ``kind``. This module is the one boundary where aiohttp's exceptions are
translated; retries, pacing and referrals live in :mod:`rdaplab.engine.scheduler`.

Transport policy (RFC 7481 requires TLS for RDAP): plain ``http`` is accepted only for
loopback hosts (the simulator, tests); everywhere else, including redirect targets and
registrar referrals, only ``https`` is used.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from rdaplab._version import __version__
from rdaplab.engine.config import Timeouts
from rdaplab.errors import FetchError
from rdaplab.rdap.bootstrap_urls import is_loopback_url

if TYPE_CHECKING:  # aiohttp loads with the first client (~125 ms of `import rdaplab`)
    import aiohttp

RDAP_ACCEPT = "application/rdap+json, application/json;q=0.8"
DEFAULT_USER_AGENT = f"rdaplab/{__version__} (+https://github.com/rdaplab/rdaplab; research)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

# Headers worth keeping with a stored answer: caching, throttling and provenance.
KEPT_HEADERS = (
    "content-type",
    "date",
    "retry-after",
    "cache-control",
    "expires",
    "etag",
    "last-modified",
    "ratelimit",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "ratelimit-policy",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "server",
)


@dataclass(slots=True)
class HttpResult:
    """What one GET produced (any status)."""

    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    started_at: datetime
    latency_ms: float

    @property
    def retry_after_s(self) -> float | None:
        # An HTTP-date counts from when the answer arrived, not from when we asked.
        arrived = self.started_at + timedelta(milliseconds=self.latency_ms)
        return parse_retry_after(self.headers.get("retry-after"), now=arrived)

    @property
    def retry_after_resolution_s(self) -> float:
        """How coarse the Retry-After is: 1 s for an HTTP-date (it names a whole second) and
        for whole delta-seconds (RFC 9110 allows nothing finer, so the host rounded: "1"
        is what a token bucket says at any wait under a second), 0 for a finer value."""
        value = (self.headers.get("retry-after") or "").strip()
        if not value:
            return 0.0
        try:
            seconds = float(value)
        except ValueError:
            return 1.0
        return 1.0 if seconds.is_integer() else 0.0


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date.

    Returns ``None`` when absent or unparseable; never negative.

    >>> parse_retry_after("120")
    120.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT",
    ...                   now=datetime(2015, 10, 21, 7, 27, 30, tzinfo=timezone.utc))
    30.0
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        seconds = float(value)  # some servers send "1.5"
    except ValueError:
        pass
    else:
        # "inf", "nan", "1e999": no wait a server can mean; treat as absent.
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    ref = now or datetime.now(timezone.utc)
    return max(0.0, (when - ref).total_seconds())


def _origin(url: str) -> str:
    """``scheme://authority`` of ``url``: the prefix the transport policy reads.

    Cut by string search where ``urlsplit`` ends the authority (the first ``/``, ``?``
    or ``#`` after ``//``), so ``urlsplit`` reads the same scheme and authority from the
    prefix as from the whole URL. Without ``://`` the whole URL is its own key.
    """
    head, sep, rest = url.partition("://")
    if not sep:
        return url
    end = len(rest)
    for mark in "/?#":
        at = rest.find(mark, 0, end)
        if at != -1:
            end = at
    return url[: len(head) + 3 + end]


@functools.lru_cache(maxsize=4096)
def _origin_refusal(origin: str) -> tuple[str, str] | None:
    """Why the policy refuses URLs of ``origin``: ``("malformed", reason)``,
    ``("scheme", "")``, or None when it allows them.

    Read per origin, not per URL: a batch sends thousands of requests to a few dozen
    origins, and parsing every URL again cost ~60 us of a ~550 us lookup (the client
    overhead benchmark).
    """
    try:
        parts = urlsplit(origin)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        return ("malformed", str(exc))
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname and is_loopback_url(origin):
        return None
    return ("scheme", "")


def check_url_policy(url: str) -> None:
    """Raise ``FetchError(http_error)`` for URLs rdaplab refuses to fetch."""
    refusal = _origin_refusal(_origin(url))
    if refusal is None:
        return
    why, detail = refusal
    if why == "malformed":
        raise FetchError("http_error", f"malformed URL {url!r}: {detail}")
    raise FetchError("http_error", f"refusing non-https URL {url!r} (https required off loopback)")


@functools.lru_cache(maxsize=4096)
def _origin_authority(origin: str) -> str:
    parts = urlsplit(origin)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}"


def authority(url: str) -> str:
    """``host:port`` of a URL: the key of per-host politeness."""
    return _origin_authority(_origin(url))


class RdapClient:
    """A pooled aiohttp session for RDAP GETs. Use as ``async with RdapClient() as c``.

    Parameters
    ----------
    timeouts
        Connect and total timeouts for each exchange (redirect hops included).
    max_redirects
        HTTP redirects followed per request before giving up with ``http_error``.
    user_agent
        Sent on every request; the default identifies rdaplab and its version.
    connection_limit
        Sockets kept open at once over all hosts (per-host limits are the scheduler's).
    """

    def __init__(
        self,
        *,
        timeouts: Timeouts | None = None,
        max_redirects: int = 5,
        user_agent: str | None = None,
        connection_limit: int = 256,
        source_address: str | None = None,
    ) -> None:
        self.timeouts = timeouts or Timeouts()
        self.source_address = source_address
        self.max_redirects = max_redirects
        self.user_agent = user_agent or DEFAULT_USER_AGENT
        self._connection_limit = connection_limit
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> RdapClient:
        import aiohttp

        connector = aiohttp.TCPConnector(
            limit=self._connection_limit,
            ttl_dns_cache=300,
            # Requests leave from this address (one the user may use: an egress of theirs).
            local_addr=(self.source_address, 0) if self.source_address else None,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"Accept": RDAP_ACCEPT, "User-Agent": self.user_agent},
            timeout=aiohttp.ClientTimeout(
                total=self.timeouts.total_s, sock_connect=self.timeouts.connect_s
            ),
            auto_decompress=True,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(self, url: str) -> HttpResult:
        """GET ``url``; return any HTTP answer, or raise a classified FetchError."""
        return await self.fetch(url)

    async def fetch(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
        url_policy: Callable[[str], object] = check_url_policy,
    ) -> HttpResult:
        """GET ``url`` as :meth:`get` does, with request headers, a body cap, a URL policy.

        Parameters
        ----------
        url
            The URL; it and every redirect target must pass ``url_policy``.
        headers
            Sent with this request, over the session's (``Accept``, ``User-Agent``).
        max_bytes
            A larger body fails with ``FetchError("http_error")`` (default: no cap).
        url_policy
            Raises for a URL not to fetch (default :func:`check_url_policy`); what it
            raises propagates.
        """
        if self._session is None:
            raise RuntimeError("RdapClient is not open; use 'async with RdapClient()'")
        import aiohttp  # loaded by __aenter__: a dictionary lookup here

        started_at = datetime.now(timezone.utc)
        t0 = time.perf_counter()
        current = url
        try:
            # aiohttp's ClientTimeout bounds each hop; hops are bounded by max_redirects.
            for _hop in range(self.max_redirects + 1):
                url_policy(current)
                async with self._session.get(
                    current, headers=headers, allow_redirects=False
                ) as resp:
                    if resp.status in REDIRECT_STATUSES and "Location" in resp.headers:
                        current = urljoin(current, resp.headers["Location"])
                        continue
                    body = await (resp.read() if max_bytes is None else _read(resp, max_bytes))
                    return HttpResult(
                        url=url,
                        final_url=current,
                        status=resp.status,
                        headers=_kept_headers(resp.headers),
                        body=body,
                        started_at=started_at,
                        latency_ms=(time.perf_counter() - t0) * 1000.0,
                    )
            raise FetchError("http_error", f"more than {self.max_redirects} redirects")
        except FetchError:
            raise
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise FetchError("timeout", _describe(exc) or "request timed out") from exc
        except aiohttp.ClientConnectorError as exc:
            raise FetchError("connection_error", _describe(exc)) from exc
        except aiohttp.ClientPayloadError as exc:
            raise FetchError("connection_error", f"incomplete body: {_describe(exc)}") from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            raise FetchError("connection_error", _describe(exc)) from exc
        except aiohttp.InvalidURL as exc:
            raise FetchError("http_error", f"invalid URL {current!r}") from exc
        except aiohttp.ClientError as exc:
            raise FetchError("connection_error", _describe(exc)) from exc


async def _read(resp: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """The body, or FetchError as soon as it grows past ``max_bytes``."""
    body = bytearray()
    async for chunk in resp.content.iter_chunked(1 << 16):
        body += chunk
        if len(body) > max_bytes:
            raise FetchError("http_error", f"the body is larger than {max_bytes} bytes")
    return bytes(body)


def _kept_headers(headers: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in KEPT_HEADERS:
        value = headers.get(name)
        if value is not None:
            out[name] = value
    return out


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
