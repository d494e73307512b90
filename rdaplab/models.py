"""Plain records passed between the engine's layers (no I/O, no logic).

They are the seams between modules: the client produces :class:`Attempt` and
:class:`Response`, the cache stores and returns them, the scheduler turns them into one
:class:`NameResult` per distinct query, and ``frames`` turns those into Polars frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class Attempt:
    """One HTTP attempt, successful or not (a row of the attempts log)."""

    batch_id: str
    host: str  # "host:port" authority the limiter is keyed on
    url: str
    query_kind: str
    query: str
    started_at: datetime  # UTC
    latency_ms: float
    status: int | None  # HTTP status, None when no response arrived
    bytes: int
    retry_after_s: float | None
    error_kind: str | None  # one of errors.ERROR_KINDS, or None
    error_detail: str | None = None
    attempt: int = 1  # 1-based attempt number for this URL
    throttled: bool = False
    rate_limit: float | None = None  # limiter state in force when sent (req/s)
    concurrency_limit: int | None = None
    in_flight: int | None = None  # requests to this host in flight when sent (incl. this)
    priority: str | None = None  # critical, high, normal or low
    signal: str | None = None  # throttle signal seen in the answer: throttle, quota, block
    decision: str | None = None  # what the scheduler did next: raise, cut, slow, park...


@dataclass(slots=True)
class Response:
    """One raw RDAP answer worth keeping (2xx or 404), as received."""

    query_kind: str
    query: str  # normalized query (A-label for domains)
    depth: int  # 0 = registry answer, 1.. = referral (registrar) answers
    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: datetime  # UTC
    latency_ms: float
    batch_id: str = ""
    lookup_id: str = ""  # shared by the registry answer and its referrals
    referral_status: str | None = None  # on depth 0: "followed", "referral_failed" or None
    # The decoded body when the engine already parsed it (never stored): saves a decode.
    document: Any = field(default=None, repr=False, compare=False)


@dataclass(slots=True)
class CachedLookup:
    """A fresh lookup read back from the cache: the registry answer and its referrals."""

    responses: list[Response]  # ordered by depth


@dataclass(slots=True)
class NameResult:
    """Everything the engine learned about one distinct normalized query."""

    query_kind: str
    key: str  # normalized query (A-label); for invalid input, the raw value
    outcome: str  # ok | not_found | error
    error_kind: str | None = None
    error_detail: str | None = None
    unicode_name: str | None = None
    tld: str | None = None
    registry_url: str | None = None  # base URL chosen by bootstrap
    registrar_url: str | None = None  # referral URL followed, if any
    referral_status: str | None = None
    http_status: int | None = None
    attempts: int = 0
    latency_ms: float | None = None  # sum over the answers kept
    from_cache: bool = False
    fetched_at: datetime | None = None
    responses: list[Response] = field(default_factory=list)  # ordered by depth
    # The normalized query sent and cached when ``key`` differs from it: other kinds are
    # keyed by their RDAP path (``ip/192.0.2.0/24``) so kinds never collide in a batch.
    query: str | None = None


@dataclass(slots=True)
class Normalized:
    """One distinct key after decoding: the record, or the reason it failed.

    Small next to the raw bodies: the engine normalizes each answer as soon as it arrives
    and lets the bodies go once the cache has them.
    """

    record: Any  # a DomainRecord, or an ObjectRecord for the other kinds; None on failure
    outcome: str
    error_kind: str | None
    error_detail: str | None
    referral_status: str | None
