"""Query syntax, parsed and printed: domain names, IP prefixes, AS ranges, network handles.

Printing follows a template's quirks (zero padding, ``/len`` suffixes, case, handle
conventions) so a templated answer looks like the RIR's own.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re

import idna

Net = ipaddress.IPv4Network | ipaddress.IPv6Network
Addr = ipaddress.IPv4Address | ipaddress.IPv6Address
AddrStyle = tuple[bool, bool, str]  # (/len suffix, upper case, form)
PLAIN: AddrStyle = (False, False, "plain")

_LDH_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
ARIN_NET = re.compile(r"^NET6?-[0-9A-Fa-f-]+-(\d+)$")
_PADDED_V6 = re.compile(r"(?:^|:)0[0-9a-fA-F]{3}(?=[:/]|$)")


def normalize_name(name: str) -> tuple[str, str] | None:
    """(A-label key, U-label) for a domain name, or None when it is not a valid name."""
    name = name.strip()
    if name.endswith("."):
        name = name[:-1]  # one trailing dot is the root; two is an empty label
    if not name or name.endswith("."):
        return None
    try:
        alabel = idna.encode(name, uts46=True).decode("ascii").lower()
        ulabel = idna.decode(alabel)
    except (idna.IDNAError, UnicodeError, ValueError):
        return None
    labels = alabel.split(".")
    if len(alabel) > 253 or len(labels) < 2 or not all(_LDH_LABEL.match(lb) for lb in labels):
        return None
    return alabel, ulabel


def loose_address(value: object) -> Addr | None:
    """A template's start/end address despite its quirks (zero padding, ``/len`` suffix)."""
    if not isinstance(value, str):
        return None
    text = value.split("/", 1)[0].strip()
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(text)
    parts = text.split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        with contextlib.suppress(ValueError):
            return ipaddress.IPv4Address(".".join(str(int(p)) for p in parts))
    return None


def asn_range(value: object) -> tuple[int, int]:
    """``"start-end"``, ``"n"`` or an int -> (start, end); ValueError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        lo = hi = value
    elif isinstance(value, str):
        first, sep, last = value.strip().partition("-")
        lo = int(first)
        hi = int(last) if sep else lo
    else:
        raise ValueError(f"{value!r} is not an AS number or 'start-end' range")
    if not 0 <= lo <= hi <= 4_294_967_295:
        raise ValueError(f"{value!r} is not a range of 32-bit AS numbers")
    return lo, hi


def parse_ip_query(text: str) -> Net:
    """``addr`` or ``addr/len`` as in an ``ip/`` path (host bits after len are ignored)."""
    if text != text.strip() or not text:
        raise ValueError("empty or padded")
    if "/" in text:
        addr, _, length = text.partition("/")
        if not length.isdigit() or not length.isascii():
            raise ValueError("prefix length is not a number")
        return ipaddress.ip_network(f"{ipaddress.ip_address(addr)}/{int(length)}", strict=False)
    return ipaddress.ip_network(ipaddress.ip_address(text))


def addr_style(sample: object) -> AddrStyle:
    """How a template prints addresses: ``/len`` suffix (RIPE), case, and form: "plain",
    "pad" (zero-padded IPv4, old ARIN), "exploded" (IPv6, ARIN) or "full" (IPv6 with eight
    unpadded groups, old LACNIC)."""
    text = sample if isinstance(sample, str) else ""
    core, sep, _ = text.partition("/")
    form = "plain"
    parts = core.split(".")
    if len(parts) == 4 and all(len(p) == 3 for p in parts) and any(p[0] == "0" for p in parts):
        form = "pad"
    elif "::" not in core and core.count(":") == 7:
        form = "exploded" if all(len(g) == 4 for g in core.split(":")) else "full"
    return bool(sep), any(c.isupper() for c in core), form


def fmt_addr(addr: Addr, style: AddrStyle) -> str:
    suffix, upper, form = style
    if addr.version == 4:
        out = str(addr)
        if form == "pad":
            out = ".".join(f"{int(p):03d}" for p in out.split("."))
    elif form == "exploded":
        out = addr.exploded
    elif form == "full":
        out = ":".join(f"{int(g, 16):x}" for g in addr.exploded.split(":"))
    else:
        out = str(addr)
    out = out.upper() if upper else out.lower()
    return out + (f"/{addr.max_prefixlen}" if suffix else "")


def handle_style(handle: object) -> str:
    """Which RIR convention a network handle follows (see :func:`net_handle`)."""
    if not isinstance(handle, str):
        return "cidr"
    if ARIN_NET.match(handle):
        return "arin"
    if " - " in handle:
        return "range"
    if "/" in handle:
        return "cidr-padded" if _PADDED_V6.search(handle) else "cidr"
    return "address" if loose_address(handle) is not None else "cidr"


def net_handle(net: Net, style: str, serial: str = "1") -> str:
    """A network handle in the template's convention: ARIN ``NET-13-64-0-0-1``, RIPE /
    APNIC / AFRINIC ``a - b`` or ``prefix/len`` (APNIC and AFRINIC zero-pad IPv6 groups),
    LACNIC ``prefix/len`` or the start address."""
    start = net.network_address
    if style == "arin":
        if net.version == 4:
            return f"NET-{str(start).replace('.', '-')}-{serial}"
        head = str(start).rstrip(":").replace("::", "-0-").replace(":", "-")
        return f"NET6-{head.upper()}-{serial}"
    if style == "range":
        return f"{start} - {net.broadcast_address}"
    if style == "address":
        return str(start)
    if style == "cidr-padded" and net.version == 6:
        groups = [g.zfill(4) if g else g for g in str(start).split(":")]
        return ":".join(groups) + f"/{net.prefixlen}"
    return str(net)
