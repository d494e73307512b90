"""Which of a bootstrap service's URLs rdaplab uses: the RDAP transport policy.

RFC 7481 §3 requires TLS for RDAP, and rdaplab fetches plain ``http`` only from loopback
hosts (the simulator, tests). So the URL used for an entry is its first ``https`` URL;
else a loopback ``http`` URL; else an ``http`` URL rewritten to ``https`` (IANA still
lists a few http-only servers; trying TLS is the only compliant option, and if the server
has no TLS the request fails visibly as a connection error).

:func:`is_loopback_url` is also what the engine's client checks before every request.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

__all__ = ["choose_base_url", "is_loopback_url"]


def is_loopback_url(url: str) -> bool:
    """Whether ``url``'s host is a loopback address (127.0.0.0/8, ::1) or ``localhost``.

    Used for the transport policy: plain ``http`` is only ever allowed to such hosts.
    Malformed URLs are not loopback.

    Parameters
    ----------
    url
        An absolute URL.

    Returns
    -------
    bool
    """
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if not host:
        return False
    # Only the exact name: "x.localhost" may be resolved by DNS to anything.
    if host == "localhost":
        return True
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped.is_loopback
    return addr.is_loopback


def choose_base_url(urls: Sequence[str]) -> tuple[str, str] | None:
    """Pick the URL rdaplab will use among a service's URLs, and say why.

    Preference: the first ``https`` URL; else the first ``http`` URL on a loopback host;
    else the first ``http`` URL upgraded to ``https`` (RFC 7481 requires TLS). A missing
    trailing ``/`` is added (RFC 9224 §3 says the URLs end with one; some do not).

    Parameters
    ----------
    urls
        Service URLs in the order listed.

    Returns
    -------
    tuple[str, str] or None
        ``(base_url, reason)``, or ``None`` when no URL is ``http``/``https`` with a host.
    """
    https: list[str] = []
    http: list[str] = []
    for url in urls:
        try:
            parts = urlsplit(url.strip())
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            continue
        if not parts.hostname:
            continue
        if parts.scheme.lower() == "https":
            https.append(url.strip())
        elif parts.scheme.lower() == "http":
            http.append(url.strip())
    if https:
        chosen, reason = https[0], "first https URL listed"
    else:
        loopback = [u for u in http if is_loopback_url(u)]
        if loopback:
            chosen, reason = loopback[0], "plain http allowed because the host is loopback"
        elif http:
            chosen = _upgrade_to_https(http[0])
            reason = (
                f"only http listed ({http[0]}); upgraded to https because RFC 7481 requires "
                "TLS and rdaplab uses plain http only on loopback"
            )
        else:
            return None
    if not chosen.endswith("/"):
        chosen += "/"
        reason += "; trailing '/' added (RFC 9224 base URLs end with '/')"
    return chosen, reason


def _upgrade_to_https(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.port == 80:  # the http default port means "default", i.e. 443 under https
        netloc = netloc.rsplit(":", 1)[0]
    return urlunsplit(("https", netloc, parts.path, parts.query, parts.fragment))
