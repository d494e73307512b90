"""Decoding RDAP (RFC 9083) bodies, and the small tolerant readers of JSON values.

Pure functions only (no I/O). :func:`decode_json` is the one place a body becomes a
document; :func:`referral_links` reads only the links of a raw body (what the engine
needs before an answer is normalized). Real servers bend the RFC in small ways, tolerated
here: ``errorCode`` sent as a JSON string (APNIC) and empty error bodies (Verisign 404);
dates with ``+0000`` offsets (MarkMonitor), without any zone (Namecheap), with one or two
fractional digits (CentralNic, Nominet) -- all become tz-aware UTC; and, seen elsewhere,
leap seconds (``23:59:60``), ``24:00:00``, a ``UTC``/``GMT`` suffix, a lowercase ``z``, a
space for the ``T``, seven or more fractional digits (see :func:`parse_datetime`).

Nothing here raises on a decoded document except :func:`decode_json` (and
:func:`referral_links`) on a body that is no JSON object.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from typing import Any

import msgspec

__all__ = [
    "UTC",
    "ParseError",
    "TypedLink",
    "as_list",
    "as_text",
    "decode_json",
    "dns_name",
    "error_detail",
    "get_ci",
    "json_decoder",
    "parse_datetime",
    "read_date",
    "referral_links",
    "related_links",
    "status_list",
]

UTC = timezone.utc
json_decoder = msgspec.json.Decoder()  # generic JSON: dicts, lists, str, numbers


class ParseError(ValueError):
    """A body is not a JSON object (invalid JSON, or a non-object top level)."""


# --------------------------------------------------------------------------- values


def as_list(value: object) -> list[Any]:
    """A JSON array as a list; a lone scalar/object as a one-item list; null as []."""
    if isinstance(value, list):
        return value
    if value is None:
        return []
    return [value]


def as_text(value: object) -> str | None:
    """A stripped non-empty string, or None (numbers are stringified: ids are text)."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def dns_name(value: object) -> str | None:
    """Lowercase DNS name without the trailing root dot."""
    if not isinstance(value, str):
        return None
    value = value.strip().rstrip(".").lower()
    return value or None


def get_ci(doc: Mapping[str, Any], key: str) -> Any:
    """``doc[key]`` with a case-insensitive fallback (``secureDns``, ``Type``, ...)."""
    value = doc.get(key)
    if value is not None:
        return value
    folded = key.casefold()
    for k, v in doc.items():
        if isinstance(k, str) and k.casefold() == folded:
            return v
    return None


def _status_value(value: object) -> str | None:
    """RFC 8056 spelling: EPP camelCase (``clientHold``) becomes ``client hold``."""
    text = as_text(value)
    if text is None:
        return None
    if " " not in text and not text.islower():
        parts: list[str] = []
        start = 0
        for i in range(1, len(text)):
            if text[i].isupper() and not text[i - 1].isupper():
                parts.append(text[start:i])
                start = i
        parts.append(text[start:])
        text = " ".join(parts)
    return text.lower()


def status_list(value: object) -> list[str]:
    out: list[str] = []
    for status in as_list(value):
        text = _status_value(status)
        if text is not None and text not in out:
            out.append(text)
    return out


# --------------------------------------------------------------------------- JSON & dates


def decode_json(body: bytes | str) -> Any:
    """Decode an RDAP body; the top level must be a JSON object.

    Parameters
    ----------
    body
        Raw response body.

    Returns
    -------
    dict
        The decoded object.

    Raises
    ------
    ParseError
        With a short reason, on empty bodies, invalid JSON or a non-object top level.
    """
    if not body or (isinstance(body, (bytes, str)) and not body.strip()):
        raise ParseError("empty body")
    try:
        doc = json_decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise ParseError(f"invalid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ParseError(f"top-level JSON {type(doc).__name__} is not an object")
    return doc


def _fix_iso(s: str) -> str:
    """Rewrite ISO-8601 variants Python 3.10's ``fromisoformat`` refuses."""
    if s[-1] in "Zz":
        s = s[:-1] + "+00:00"
    # split off a numeric offset (+HHMM, +HH:MM, +HH) after the time part
    tpos = max(s.find("T"), s.find("t"), s.find(" "))
    offset = ""
    if tpos > 0:
        for sign in "+-":
            k = s.rfind(sign)
            if k > tpos:
                offset = s[k:]
                s = s[:k]
                break
    if offset:
        digits = offset[1:].replace(":", "")
        if len(digits) == 2:
            digits += "00"
        offset = f"{offset[0]}{digits[:2]}:{digits[2:4]}"
    dot = s.rfind(".")
    if dot > tpos > 0:  # fractional seconds: pad or truncate to 6 digits
        frac = s[dot + 1 :]
        s = s[:dot] if not frac else f"{s[:dot]}.{(frac + '000000')[:6]}"
    if tpos > 0 and s[tpos] != "T":
        s = f"{s[:tpos]}T{s[tpos + 1 :]}"
    return s + offset


def _odd_clock(s: str) -> datetime:
    """``fromisoformat`` of a :func:`_fix_iso` result whose clock reads second 60 (a leap
    second: 59.999999 of the same minute) or ``24:00:00`` (the next day's midnight)."""
    tpos = s.find("T")
    clock = s[tpos + 1 :]
    if tpos < 0 or len(clock) < 8 or clock[2] != ":" or clock[5] != ":":
        raise ValueError(s)
    end = 8
    while end < len(clock) and (clock[end].isdigit() or clock[end] == "."):
        end += 1
    if clock[6:8] == "60":
        return datetime.fromisoformat(f"{s[:tpos]}T{clock[:6]}59.999999{clock[end:]}")
    if clock[:8] == "24:00:00" and not clock[8:end].strip(".0"):
        return datetime.fromisoformat(f"{s[:tpos]}T00:00:00{clock[end:]}") + timedelta(days=1)
    raise ValueError(s)


def parse_datetime(value: object) -> datetime | None:
    """Parse a tolerant ISO-8601 timestamp into an aware UTC datetime.

    Accepts ``Z``/``z``/``+0000``/``+00:00``/``+00`` offsets and a trailing ``UTC`` or
    ``GMT``, a space (or ``t``) for the ``T``, any number of fractional digits (truncated
    to the microsecond), dates without a zone (taken as UTC: RDAP dates are UTC in
    practice) and bare dates (midnight UTC). A leap second (``2016-12-31T23:59:60Z``) is
    read as the last microsecond of its minute (``23:59:59.999999``): the calendar day
    stays the one served and the order before the next second holds; ``24:00:00`` is the
    next day's midnight.

    Parameters
    ----------
    value
        Usually a string from ``eventDate``; anything else yields None.

    Returns
    -------
    datetime or None
        Aware UTC datetime; None on garbage (never raises): see :func:`read_date` for
        keeping the text that could not be read.
    """
    if not isinstance(value, str):
        return None
    s = value.strip()
    if len(s) < 8:
        return None
    try:
        dt = datetime.fromisoformat(s)  # fast path: Python 3.11+ takes most variants
    except ValueError:
        if s[-3:].upper() in ("UTC", "GMT"):
            s = s[:-3].rstrip() + "Z"
        try:
            fixed = _fix_iso(s)
            try:
                dt = datetime.fromisoformat(fixed)
            except ValueError:
                dt = _odd_clock(fixed)
        except (ValueError, IndexError, OverflowError):
            return None
    try:
        if dt.tzinfo is None:
            return dt.replace(tzinfo=UTC)
        if dt.utcoffset() == timedelta(0):
            return dt if dt.tzinfo is UTC else dt.replace(tzinfo=UTC)
        return dt.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def read_date(value: object) -> tuple[datetime | None, str | None]:
    """``(parse_datetime(value), text)`` of an ``eventDate``: ``text`` is what was served
    when it could not be read as a date, else None.

    ``text`` is the stripped string (a non-string JSON value, such as a number, as JSON);
    None when the date parsed, or nothing was served (null, missing, blank).
    """
    date = parse_datetime(value)
    if date is not None or value is None:
        return date, None
    if isinstance(value, str):
        return None, value.strip() or None
    try:
        return None, msgspec.json.encode(value).decode()
    except (TypeError, ValueError, msgspec.EncodeError):  # pragma: no cover - decoded JSON
        return None, repr(value)


# --------------------------------------------------------------------------- links & errors


def related_links(doc: Mapping[str, Any] | None) -> list[str]:
    """Referral targets: hrefs of ``rel="related"`` links that point to RDAP answers.

    A link qualifies when its ``type`` is ``application/rdap+json`` (parameters and case
    ignored) or, when ``type`` is missing, when its href has an RDAP lookup path
    (``/domain/``) -- some registries omit the type, and a typed ``text/html`` link must
    not be followed. Hrefs are stripped; inner spaces are percent-encoded; only http(s)
    URLs are kept; the answer's own ``self`` URL and duplicates are dropped.

    Parameters
    ----------
    doc
        A decoded RDAP object (anything else yields []).

    Returns
    -------
    list of str
        Hrefs in document order.
    """
    if not isinstance(doc, Mapping):
        return []
    out: list[str] = []
    self_href: str | None = None
    candidates: list[str] = []
    for link in as_list(doc.get("links")):
        if not isinstance(link, dict):
            continue
        href = link.get("href")
        if not isinstance(href, str):
            continue
        href = href.strip().replace(" ", "%20")
        rel = link.get("rel")
        rel = rel.strip().lower() if isinstance(rel, str) else ""
        if rel == "self":
            self_href = href
            continue
        if rel != "related":
            continue
        ltype = link.get("type")
        if isinstance(ltype, str):
            if ltype.split(";", 1)[0].strip().lower() != "application/rdap+json":
                continue
        elif "/domain/" not in href.lower():
            continue
        if href[:8].lower() == "https://" or href[:7].lower() == "http://":
            candidates.append(href)
    for href in candidates:
        if href != self_href and href not in out:
            out.append(href)
    return out


def error_detail(doc: object, status: int) -> str:
    """A short human description of an error answer.

    Parameters
    ----------
    doc
        The decoded error body (RFC 9083 section 6), or None/anything for empty or
        non-JSON bodies.
    status
        HTTP status code.

    Returns
    -------
    str
        E.g. ``"HTTP 404: Object not found"``; the body's ``errorCode`` is mentioned when
        it disagrees with the HTTP status (it may be a string, as APNIC sends it).
    """
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    head = f"HTTP {status}"
    if not isinstance(doc, Mapping):
        return f"{head} {reason} (no RDAP error body)".replace("  ", " ")
    title = as_text(doc.get("title"))
    desc_parts = [d.strip() for d in as_list(doc.get("description")) if isinstance(d, str)]
    desc = " ".join(p for p in desc_parts if p) or None
    text = title or desc or reason
    if desc and title and desc.casefold() != title.casefold():
        text = f"{title} - {desc}"
    code = doc.get("errorCode")
    try:
        code_int = int(code) if code is not None and not isinstance(code, bool) else None
    except (TypeError, ValueError):
        code_int = None
    if code_int is not None and code_int != status:
        text = f"{text} (errorCode {code_int})"
    out = f"{head}: {text}" if text else head
    return out if len(out) <= 200 else out[:197] + "..."


# --------------------------------------------------------------------------- raw bodies


class TypedLink(msgspec.Struct, gc=False):
    href: str | None = None
    rel: str | None = None
    type: str | None = None


class _Head(msgspec.Struct, gc=False):
    objectClassName: Any = None
    ldhName: Any = None
    unicodeName: Any = None
    handle: Any = None
    errorCode: Any = None
    links: list[TypedLink] | None = None


_head_decoder = msgspec.json.Decoder(_Head)


def _check_object(kind: Any, ldh: Any, uname: Any, handle: Any, error_code: Any) -> None:
    """A 2xx answer must carry an object: ``{}`` or an RDAP error body is not one."""
    if kind or ldh or uname or handle:
        return
    if error_code is not None:
        raise ParseError(f"an RDAP error (errorCode {error_code!r}) answered with a 2xx status")
    raise ParseError("no RDAP object in the answer (no objectClassName, ldhName or handle)")


def referral_links(body: bytes | str) -> list[str]:
    """:func:`related_links` of a raw body, reading only its links; checks the JSON.

    What the engine needs from a fresh answer before it is normalized: is it a readable
    RDAP object, and does it refer onwards? The rest of the body is skipped in C (the
    answer is normalized once, later, on the fast path).

    Raises
    ------
    ParseError
        When :func:`decode_json` does (empty, invalid, non-object), and for an object
        that is no RDAP object (``{}``, an RDAP error body sent with a 2xx status).
    """
    try:
        head = _head_decoder.decode(body)
    except msgspec.ValidationError:
        doc = decode_json(body)  # not an object, or odd links: the tolerant way
        _check_object(doc.get("objectClassName"), doc.get("ldhName"), doc.get("unicodeName"),
                      doc.get("handle"), doc.get("errorCode"))  # fmt: skip
        return related_links(doc)
    except msgspec.DecodeError:
        decode_json(body)  # raises the ParseError decode_json would
        raise  # pragma: no cover - decode_json always raises here
    _check_object(head.objectClassName, head.ldhName, head.unicodeName, head.handle,
                  head.errorCode)  # fmt: skip
    if not head.links:
        return []
    links = [{"href": k.href, "rel": k.rel, "type": k.type} for k in head.links]
    return related_links({"links": links})
