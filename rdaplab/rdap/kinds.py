"""What kind of RDAP object a user-supplied value asks for, and its normalized query.

RDAP has one lookup path per object class (RFC 9082 §3.1): ``ip/<address or prefix>``,
``autnum/<number>``, ``domain/<name>``, ``nameserver/<name>`` and ``entity/<handle>``.
:func:`normalize_query` turns one value into a :class:`Query` carrying the kind, the
normalized query string and that path; :func:`normalize_queries` does it for a batch,
computing each distinct string once. Invalid values never raise: they come back with
``error`` set (the lookup reports them as ``invalid_query``).

``kind="auto"`` decides by shape, per value (see :func:`detect_kind`):

1. contains ``:`` or ``/`` -> ``ip`` (IPv6 address, or a prefix of either family),
   unless it is shaped like a URL (``scheme://``), a ``mailto:`` or e-mail address
   (``@``), or ``host:port`` / ``host/path`` with a letter in the host: those are
   ``domain`` (their host is what a domain lookup maps, see :mod:`rdaplab.rdap.psl`);
2. only digits and dots, with at least one dot -> ``ip`` (IPv4 address);
3. ``AS``/``as`` followed by digits, or digits alone -> ``asn``;
4. anything else -> ``domain`` (delegated to :func:`rdaplab.names.normalize_domain`).

Auto never answers ``entity`` or ``nameserver``: a handle like ``GOGL`` or a host name
like ``ns1.example.com`` is indistinguishable from a domain by shape, so those kinds are
only used when asked for explicitly. The rule order matters: because IP shapes are
claimed first, ``010.0.0.1`` is an invalid IP (strict parsing refuses leading zeros,
which some tools read as octal), never a domain.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from rdaplab.rdap.names import normalize_domain

__all__ = [
    "KINDS",
    "MAX_ASN",
    "Kind",
    "Query",
    "detect_kind",
    "normalize_queries",
    "normalize_query",
]

Kind = Literal["domain", "ip", "asn", "entity", "nameserver"]
KINDS: tuple[str, ...] = ("domain", "ip", "asn", "entity", "nameserver")
MAX_ASN = 4_294_967_295  # 32-bit AS numbers (RFC 6793)
MAX_HANDLE_CHARS = 255  # no RFC limit; longer values are garbage, not handles

_IPV4_SHAPE = re.compile(r"[0-9.]*\.[0-9.]*")
# A URL or mailto: (never an IP), or host[:port][/path] with a letter in the host and at
# most one ':' followed by digits (an IPv6 address has at least two colons).
_URL_SHAPE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://|[Mm][Aa][Ii][Ll][Tt][Oo]:")
_HOST_PORT_PATH = re.compile(r"[^\s:/?#\[\]]*[^\W\d_][^\s:/?#\[\]]*(?::[0-9]*)?(?:[/?#].*)?", re.S)
_ASN_SHAPE = re.compile(r"(?:[Aa][Ss])?[0-9]+")
_ASDOT = re.compile(r"[Aa][Ss]([0-9]+)\.([0-9]+)")  # RFC 5396 asdot: AS1.10 = 65546
# A dotted quad without leading zeros: the common case, accepted without ipaddress.
_FAST_V4 = re.compile(
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
)


@dataclass(frozen=True, slots=True)
class Query:
    """One value, normalized into an RDAP lookup.

    Attributes
    ----------
    raw
        The value exactly as given.
    kind
        ``"domain"``, ``"ip"``, ``"asn"``, ``"entity"`` or ``"nameserver"``: the kind
        asked for, or the kind auto-detection assigned (also for invalid values).
    query
        Normalized query: A-label name, compressed IP address or ``network/len`` prefix,
        AS number as decimal digits, or the handle; ``None`` when invalid.
    path
        The RDAP path segment (``ip/192.0.2.0/24``, ``autnum/15169``...), relative to the
        service base URL; ``None`` when invalid.
    error
        Why the value is not a usable query; ``None`` when valid.
    unicode_name
        U-label form of a domain or nameserver name, ``None`` for other kinds.
    """

    raw: object
    kind: Kind
    query: str | None
    path: str | None
    error: str | None
    unicode_name: str | None = None

    @property
    def valid(self) -> bool:
        """``True`` when the value is a usable query."""
        return self.error is None

    @property
    def asn(self) -> int | None:
        """The AS number of a valid ``asn`` query (what ``Bootstrap.asn`` takes)."""
        return int(self.query) if self.kind == "asn" and self.query is not None else None


def _invalid(raw: object, kind: Kind, reason: str) -> Query:
    return Query(raw, kind, None, None, reason)


def _missing(value: object) -> str | None:
    """The reason a non-string value cannot be any query, or None for strings/ints."""
    if isinstance(value, str):
        return None
    if value is None:
        return "missing value (None)"
    if isinstance(value, float) and math.isnan(value):
        return "missing value (NaN)"
    return f"not a string: {type(value).__name__} {value!r:.60}"


def detect_kind(value: object) -> Kind:
    """The kind ``kind="auto"`` assigns to a value, judged by its shape only.

    The value need not be valid: ``"192.0.2.0/33"`` is an ``ip`` (an invalid one) and
    ``"AS4294967296"`` an ``asn``. Never returns ``entity`` or ``nameserver``.

    Parameters
    ----------
    value
        Anything. Python ``int`` values (not ``bool``) are AS numbers; other non-string
        values are reported as ``domain`` (and are invalid as such).

    Returns
    -------
    Kind
        ``"ip"``, ``"asn"`` or ``"domain"``.

    Examples
    --------
    >>> [detect_kind(v) for v in ("2001:db8::/32", "192.0.2.1", "AS15169", "15169", "a.b")]
    ['ip', 'ip', 'asn', 'asn', 'domain']
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return "asn"
    if not isinstance(value, str):
        return "domain"
    text = value.strip()
    if ":" in text or "/" in text:
        if "@" in text or _URL_SHAPE.match(text) or _HOST_PORT_PATH.fullmatch(text):
            return "domain"
        return "ip"
    if _IPV4_SHAPE.fullmatch(text):
        return "ip"
    if _ASN_SHAPE.fullmatch(text) or _ASDOT.fullmatch(text):
        return "asn"
    return "domain"


# --------------------------------------------------------------------------- per kind


def _ip(raw: object, text: str) -> Query:
    """IPv4/IPv6 address or prefix; prefixes with host bits set are normalized."""
    if _FAST_V4.fullmatch(text):
        return Query(raw, "ip", text, f"ip/{text}", None)
    if text[:1] == "[" and text.endswith("]"):  # URL-style bracketed IPv6 literal
        text = text[1:-1]
    addr_text, slash, length_text = text.partition("/")
    if (
        slash
        and _FAST_V4.fullmatch(addr_text)
        and length_text.isdigit()
        and length_text.isascii()
        and int(length_text) <= 32
    ):
        # IPv4 prefix without ipaddress (5x faster): clear the host bits by hand.
        plen = int(length_text)
        a, b, c, d = (int(x) for x in addr_text.split("."))
        net = ((a << 24) | (b << 16) | (c << 8) | d) & ((0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF)
        q = f"{net >> 24}.{(net >> 16) & 255}.{(net >> 8) & 255}.{net & 255}/{plen}"
        return Query(raw, "ip", q, f"ip/{q}", None)
    if "%" in addr_text:
        # A zone index is local to the asking host; no registry can answer for it.
        return _invalid(raw, "ip", f"zone index not allowed in an RDAP query: {text!r}")
    if not addr_text:
        return _invalid(raw, "ip", f"no address before the prefix length: {text!r}")
    try:
        # Per-family constructors give precise reasons ("Leading zeros are not permitted").
        addr: ipaddress.IPv4Address | ipaddress.IPv6Address = (
            ipaddress.IPv6Address(addr_text)
            if ":" in addr_text
            else ipaddress.IPv4Address(addr_text)
        )
    except ValueError as exc:
        return _invalid(raw, "ip", f"invalid IP address: {exc}")
    length: int | None = None
    if slash:
        if not length_text.isdigit() or not length_text.isascii():
            return _invalid(raw, "ip", f"invalid prefix length {length_text!r} in {text!r}")
        length = int(length_text)
        if length > addr.max_prefixlen:
            return _invalid(
                raw,
                "ip",
                f"prefix length /{length} exceeds /{addr.max_prefixlen} for IPv{addr.version}",
            )
    mapped = addr.ipv4_mapped if isinstance(addr, ipaddress.IPv6Address) else None
    if mapped is not None and (length is None or length >= 96):
        # ::ffff:a.b.c.d is an IPv4 address in IPv6 clothing; registries and the IANA
        # ipv6.json only know it under its IPv4 form.
        addr = mapped
        length = None if length is None else length - 96
    # RFC 9082 §3.1.1 wants the network address; host bits are cleared rather than
    # refused (users paste interface addresses like 192.0.2.7/24).
    q = str(addr) if length is None else str(ipaddress.ip_network((addr, length), strict=False))
    return Query(raw, "ip", q, f"ip/{q}", None)


def _asn(raw: object, text: str) -> Query:
    """``AS15169``, ``as15169``, ``15169`` or asdot ``AS1.10``; 0..4294967295."""
    m = _ASDOT.fullmatch(text)
    if m is not None:
        high, low = int(m[1]), int(m[2])
        if high > 0xFFFF or low > 0xFFFF:
            return _invalid(raw, "asn", f"asdot halves must be 0..65535: {text!r}")
        number = high * 65536 + low
    elif _ASN_SHAPE.fullmatch(text):
        digits = text[2:] if text[:2] in ("AS", "as", "As", "aS") else text
        if len(digits) > 12:  # cheap guard before int(): far beyond 32 bits
            return _invalid(raw, "asn", f"AS number out of range 0..{MAX_ASN}: {text[:40]!r}")
        number = int(digits)
    else:
        return _invalid(raw, "asn", f"not an AS number (expected AS15169 or 15169): {text!r}")
    if number > MAX_ASN:
        return _invalid(raw, "asn", f"AS number {number} out of range 0..{MAX_ASN}")
    return Query(raw, "asn", str(number), f"autnum/{number}", None)


def _entity(raw: object, text: str) -> Query:
    """An entity handle as given (case kept: handles are opaque), percent-encoded."""
    if not text:
        return _invalid(raw, "entity", "empty handle")
    if len(text) > MAX_HANDLE_CHARS:
        return _invalid(raw, "entity", f"handle is {len(text)} characters (at most 255)")
    if any(c.isspace() or not c.isprintable() for c in text):
        return _invalid(
            raw, "entity", f"handle contains whitespace or control characters: {text!r}"
        )
    return Query(raw, "entity", text, "entity/" + quote(text, safe="-._~"), None)


def _name(raw: object, kind: Kind) -> Query:
    norm = normalize_domain(raw)
    if norm.name is None:
        return _invalid(raw, kind, norm.error or "invalid name")
    segment = "domain" if kind == "domain" else "nameserver"
    return Query(raw, kind, norm.name, f"{segment}/{norm.name}", None, norm.unicode_name)


def normalize_query(value: object, kind: str = "auto") -> Query:
    """Normalize one value into an RDAP query of the given (or detected) kind.

    Never raises on bad values: they come back with ``error`` set.

    Parameters
    ----------
    value
        Usually a string; Python ``int`` values are accepted as AS numbers.
    kind
        ``"auto"`` (see :func:`detect_kind`) or one of ``"domain"``, ``"ip"``, ``"asn"``,
        ``"entity"``, ``"nameserver"``.

    Returns
    -------
    Query
        The kind, normalized query and RDAP path, or the reason it is invalid.

    Raises
    ------
    ValueError
        When ``kind`` is not one of the above (a programming error, not bad data).

    Examples
    --------
    >>> normalize_query("192.0.2.7/24").path
    'ip/192.0.2.0/24'
    >>> normalize_query("as15169").path
    'autnum/15169'
    >>> normalize_query("AS4294967296").error
    'AS number 4294967296 out of range 0..4294967295'
    """
    if kind == "auto":
        k: Kind = detect_kind(value)
    elif kind in KINDS:
        k = kind  # type: ignore[assignment]  # checked against KINDS just above
    else:
        raise ValueError(f"kind must be 'auto' or one of {', '.join(KINDS)}; got {kind!r}")
    if k in ("domain", "nameserver"):
        return _name(value, k)  # names.py has its own missing/non-string reasons
    if isinstance(value, int) and not isinstance(value, bool) and k == "asn":
        value_text = str(value)
    elif isinstance(value, str):
        value_text = value.strip()
    else:
        return _invalid(value, k, _missing(value) or "not a string")
    if k == "ip":
        return _ip(value, value_text)
    if k == "asn":
        return _asn(value, value_text)
    return _entity(value, value_text)


def normalize_queries(values: Iterable[object], kind: str = "auto") -> list[Query]:
    """Normalize many values, computing each distinct string once.

    Parameters
    ----------
    values
        Any iterable (list, Polars Series, generator).
    kind
        As for :func:`normalize_query`; applies to every value.

    Returns
    -------
    list[Query]
        One result per value, in input order; repeated strings share one (immutable)
        result object.
    """
    if kind != "auto" and kind not in KINDS:
        raise ValueError(f"kind must be 'auto' or one of {', '.join(KINDS)}; got {kind!r}")
    memo: dict[str, Query] = {}
    out: list[Query] = []
    append = out.append
    for value in values:
        # Only exact str is memoized: 1, 1.0 and True are equal dict keys but must keep
        # their own ``raw`` (and 1 is an ASN while True is not).
        if type(value) is str:
            hit = memo.get(value)
            if hit is None:
                hit = memo[value] = normalize_query(value, kind)
            append(hit)
        else:
            append(normalize_query(value, kind))
    return out
