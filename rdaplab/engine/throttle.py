"""Telling a throttled answer from a real one, whatever shape the registry gives it.

Registries signal "slow down" in many ways, and only some use the status meant for it:

======================  ================================================================
``429``                 with or without ``Retry-After`` (RFC 6585); the common case
``503`` + Retry-After   overload with an explicit wait (RFC 9110 section 10.2.3)
``403`` + HTML page     "Number of allowed queries exceeded" from a proxy or WAF
``422`` / ``400`` RDAP  an RDAP error body whose title or description says "too fast"
``200`` notice only     a body with no object, only a notice titled "Rate Limit Notice"
======================  ================================================================

:func:`classify` looks at status, headers and (briefly) the body and returns a
:class:`Signal` or ``None``. Three kinds:

- ``throttle``: back off (park for Retry-After, cut the rate) and try again;
- ``quota``: a daily or per-period allowance is used up (the text says so, or the wait is
  longer than anyone would sleep); the host's remaining rows end as ``rate_limited``,
  retryable on a later run, instead of a retry storm;
- ``block``: the host says we are blocked (an escalation after repeated violations);
  handled like ``quota``, and logged loudly.

Pure functions, no I/O: the scheduler calls :func:`classify` on every answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

SignalKind = Literal["throttle", "quota", "block"]

# Words that mean "you are sending too much", in error pages and RDAP error bodies.
_THROTTLE_RE = re.compile(
    r"too\s+(?:many\s+(?:quer|requests?|connections?|calls?|lookups?|hits?)|fast|frequent)|"
    r"rate[\s-]*limit|slow\s+down|"
    r"(?:number\s+of|allowed|max(?:imum)?)\s+(?:\w+\s+){0,2}(?:quer(?:y|ies)|requests?)"
    r"\s+(?:\w+\s+){0,2}exceeded|"
    r"(?:quer(?:y|ies)|requests?)\s+(?:rate|limit|quota)\s+(?:\w+\s+){0,1}exceeded|"
    r"exceeded\s+(?:the\s+|your\s+)?(?:\w+\s+){0,1}(?:quer(?:y|ies)|requests?|rate|quota)|"
    r"throttl",
    re.IGNORECASE,
)
# ... and that the allowance for a period is gone (waiting seconds will not help).
_QUOTA_RE = re.compile(
    r"quota|daily|per\s+day|24\s*h|today|allowance|temporarily\s+denied", re.IGNORECASE
)
# "abuse@..." contact addresses are common on error pages: only words about *our* abuse.
# Enough on its own to mark an ordinary 4xx as a quota answer ("daily" alone is not).
_STRONG_QUOTA_RE = re.compile(r"quota|temporarily\s+denied|daily\s+limit", re.IGNORECASE)
_BLOCK_RE = re.compile(
    r"\bblock(?:ed|listed)\b|\bbanned\b|\babusive\b|\bfor\s+abuse\b", re.IGNORECASE
)

# ... and that it is the number of *connections* (requests in flight) it refuses, not
# the rate: "Too many connections", "too many concurrent requests".
_CONNECTIONS_RE = re.compile(
    r"too\s+many\s+(?:(?:open|simultaneous|parallel|concurrent)\s+)?connections?|"
    r"too\s+many\s+(?:simultaneous|parallel|concurrent)\s+(?:requests?|quer(?:y|ies))|"
    r"concurren(?:t|cy)\s+(?:request\s+|connection\s+)?limit",
    re.IGNORECASE,
)

#: A ``Retry-After`` longer than this is a quota reset, not a pause (seconds).
QUOTA_RETRY_AFTER_S = 900.0
_MAX_SCAN_BYTES = 4096  # error pages are small; never scan a whole large answer

__all__ = ["QUOTA_RETRY_AFTER_S", "Signal", "SignalKind", "classify"]


@dataclass(frozen=True, slots=True)
class Signal:
    """A throttle signal found in one answer."""

    kind: SignalKind
    reason: str  # short, human: "HTTP 429", "HTTP 403 HTML: allowed queries exceeded"
    retry_after_s: float | None = None
    #: What the host limits: ``"rate"`` (requests per time; the default) or
    #: ``"connections"`` (requests in flight: its words say so).
    scope: str = "rate"


def classify(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    retry_after_s: float | None = None,
    document: Any = None,
) -> Signal | None:
    """Return the throttle signal an answer carries, or ``None`` for an ordinary answer.

    Parameters
    ----------
    status, headers, body
        The answer as received (header names lower-case).
    retry_after_s
        ``Retry-After`` already parsed to seconds (both forms), if any.
    document
        The decoded JSON body when the caller already has it (saves a decode).

    Examples
    --------
    >>> classify(429, {}, b"").kind
    'throttle'
    >>> classify(403, {"content-type": "text/html"}, b"<p>Number of allowed queries exceeded</p>").kind
    'throttle'
    >>> classify(200, {}, b'{"objectClassName": "domain"}') is None
    True
    """
    if 200 <= status < 300:
        return _notice_only(body, document, retry_after_s)
    if status == 404 or status < 400:
        return None
    text = _text(headers, body, document)
    if status == 429:
        return _escalate(Signal("throttle", _reason(status, text), retry_after_s), text)
    if status == 503:
        if retry_after_s is not None or (text and _THROTTLE_RE.search(text)):
            return _escalate(Signal("throttle", _reason(status, text), retry_after_s), text)
        return None
    if status in (400, 403, 418, 420, 422, 451, 509) and text:
        if _THROTTLE_RE.search(text) or _STRONG_QUOTA_RE.search(text):
            return _escalate(Signal("throttle", _reason(status, text), retry_after_s), text)
        if status == 403 and _BLOCK_RE.search(text):
            return Signal("block", _reason(status, text), retry_after_s)
    return None


def _notice_only(body: bytes, document: Any, retry_after_s: float | None) -> Signal | None:
    """A 2xx with no object, whose notices talk about rate limits, is a throttle."""
    doc = document
    if doc is None:
        if b"otice" not in body[:_MAX_SCAN_BYTES] or b"objectClassName" in body:
            return None
        try:
            doc = msgspec.json.decode(body)
        except msgspec.DecodeError:
            return None
    if not isinstance(doc, dict) or doc.get("objectClassName") or doc.get("ldhName"):
        return None
    notices = doc.get("notices")
    if not isinstance(notices, list):
        return None
    for notice in notices:
        # The title, not the description: many registries' ordinary notices describe their
        # throttling policy ("Queries to the RDAP services are throttled...").
        if not isinstance(notice, dict) or not _THROTTLE_RE.search(_join(notice.get("title"))):
            continue
        text = _join(notice.get("title"), notice.get("description"))
        signal = Signal("throttle", f"HTTP 200 notice: {_short(text)}", retry_after_s)
        return _escalate(signal, text)
    return None


def _escalate(signal: Signal, text: str) -> Signal:
    """Turn a throttle into ``quota`` or ``block`` when the wait or the words say so.

    A throttle whose words are about connections gets ``scope="connections"``.
    """
    if signal.retry_after_s is not None and signal.retry_after_s > QUOTA_RETRY_AFTER_S:
        return Signal("quota", signal.reason, signal.retry_after_s)
    if text and _QUOTA_RE.search(text):
        return Signal("quota", signal.reason, signal.retry_after_s)
    if text and _BLOCK_RE.search(text) and not _THROTTLE_RE.search(text):
        return Signal("block", signal.reason, signal.retry_after_s)
    if text and _CONNECTIONS_RE.search(text):
        return Signal("throttle", signal.reason, signal.retry_after_s, scope="connections")
    return signal


def _text(headers: Mapping[str, str], body: bytes, document: Any) -> str:
    """The human-readable part of an error answer: RDAP title/description or page text."""
    if isinstance(document, dict):
        return _join(document.get("title"), document.get("description"))
    head = body[:_MAX_SCAN_BYTES]
    if not head:
        return ""
    ctype = headers.get("content-type", "")
    if "json" in ctype or head.lstrip()[:1] == b"{":
        try:
            doc = msgspec.json.decode(body)
        except msgspec.DecodeError:
            doc = None
        if isinstance(doc, dict):
            return _join(doc.get("title"), doc.get("description"))
    text = head.decode("utf-8", "replace")
    return re.sub(r"<[^>]*>", " ", text)  # HTML: the words, not the tags


def _join(*parts: Any) -> str:
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, list):
            out.extend(p for p in part if isinstance(p, str))
    return " ".join(out)


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reason(status: int, text: str) -> str:
    return f"HTTP {status}: {_short(text)}" if text.strip() else f"HTTP {status}"
