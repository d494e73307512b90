"""IANA's bootstrap files (RFC 9224): where they live, their shape, their entries.

IANA publishes five JSON files (``dns.json``, ``ipv4.json``, ``ipv6.json``, ``asn.json``,
``object-tags.json``), each a list of *services*: ``[[entries...], [urls...]]`` (the
object-tags file has an extra leading list of contacts). This module reads one file at a
time, checks its shape and entries, and returns what :class:`~rdaplab.rdap.bootstrap.Bootstrap`
indexes; :func:`check_file` is the same check for a freshly downloaded file. A
:class:`~rdaplab.errors.BootstrapError` always names the file.

``bootstrap refresh`` writes ``<stem>.meta.json`` beside each file (:func:`meta_name`,
:func:`read_meta`); :func:`user_bootstrap_dir` is where it keeps its copy.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import idna
import platformdirs

from rdaplab.errors import BootstrapError
from rdaplab.rdap.bootstrap_urls import choose_base_url

__all__ = [
    "BOOTSTRAP_FILES",
    "DNS_FILE",
    "OPTIONAL_FILES",
    "Entry",
    "ServiceMatch",
    "check_file",
    "make_entry",
    "meta_name",
    "parse_time",
    "read_asn",
    "read_dns",
    "read_ip",
    "read_meta",
    "read_tags",
    "suffix_key",
    "user_bootstrap_dir",
]

DNS_FILE = "dns.json"
OPTIONAL_FILES = ("ipv4.json", "ipv6.json", "asn.json", "object-tags.json")
BOOTSTRAP_FILES = (DNS_FILE, *OPTIONAL_FILES)
BOOTSTRAP_DIR_ENV = "RDAPLAB_BOOTSTRAP_DIR"

IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def user_bootstrap_dir() -> Path:
    """Where ``rdaplab bootstrap refresh`` keeps its copy, and lookups look for it.

    ``$RDAPLAB_BOOTSTRAP_DIR`` when set (tests, shared installs), else
    ``platformdirs.user_data_dir("rdaplab") / "bootstrap"``.

    Returns
    -------
    Path
        The directory (it may not exist yet).
    """
    env = os.environ.get(BOOTSTRAP_DIR_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("rdaplab")) / "bootstrap"


def meta_name(file: str) -> str:
    """``dns.json`` -> ``dns.meta.json``: the refresh metadata beside each file."""
    return file.removesuffix(".json") + ".meta.json"


def read_meta(directory: Path, name: str) -> dict[str, Any]:
    """The ``*.meta.json`` ``bootstrap refresh`` wrote beside ``name``; {} when absent."""
    try:
        meta = json.loads((directory / meta_name(name)).read_bytes())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def parse_time(text: object) -> datetime | None:
    """An aware UTC datetime from an IANA ``publication`` or our ``fetched_at``."""
    if not isinstance(text, str) or not text.strip():
        return None
    raw = text.strip()
    if raw.endswith(("Z", "z")):  # fromisoformat accepts "Z" only from Python 3.11
        raw = raw[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


@dataclass(frozen=True, slots=True)
class ServiceMatch:
    """The bootstrap entry that answers one query.

    Attributes
    ----------
    kind
        ``"domain"``, ``"ip"``, ``"asn"`` or ``"entity"``.
    key
        The matched entry as listed: a suffix (``"com"``), a prefix (``"1.0.0.0/8"``),
        an AS range (``"13312-15359"``) or an object tag (``"ARIN"``).
    urls
        The service URLs as listed (or as given in an override).
    base_url
        The URL the client uses (see :func:`choose_base_url`), always ending in ``/``.
    source
        ``"iana"`` (a bootstrap file) or ``"override"`` (given by the user).
    publication
        The ``publication`` timestamp of the file the entry came from (``None`` for
        overrides and files without one).
    """

    kind: str
    key: str
    urls: tuple[str, ...]
    base_url: str
    source: str
    publication: str | None


@dataclass(frozen=True, slots=True)
class Entry:
    """A :class:`ServiceMatch` with why its base URL was chosen and where it was listed."""

    match: ServiceMatch
    reason: str  # why base_url was chosen, for explain()
    file: str  # file name, or "overrides"


def make_entry(
    kind: str, key: str, urls: Sequence[str], source: str, pub: str | None, file: str
) -> Entry | None:
    chosen = choose_base_url(urls)
    if chosen is None:
        return None
    match = ServiceMatch(kind, key, tuple(urls), chosen[0], source, pub)
    return Entry(match, chosen[1], file)


# --------------------------------------------------------------------------- reading


def read_file(path: Path) -> dict[str, Any]:
    """Read one bootstrap file and check its IANA shape; BootstrapError names the file."""
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise BootstrapError(f"bootstrap file {path} is missing") from None
    except OSError as exc:
        raise BootstrapError(f"bootstrap file {path} cannot be read: {exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BootstrapError(f"bootstrap file {path} is not valid JSON: {exc}") from exc
    width = 3 if path.name == "object-tags.json" else 2
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, list):
        raise BootstrapError(
            f"bootstrap file {path} is not an IANA RFC 9224 file: no 'services' list"
        )
    for i, service in enumerate(services):
        if not (
            isinstance(service, list)
            and len(service) == width
            and all(
                isinstance(part, list) and all(isinstance(x, str) for x in part) for part in service
            )
        ):
            shape = "[[contacts], [tags], [urls]]" if width == 3 else "[[entries], [urls]]"
            raise BootstrapError(
                f"bootstrap file {path}: service #{i} is not {shape} of strings: "
                f"{json.dumps(service)[:120]}"
            )
    publication = data.get("publication")
    data["publication"] = publication if isinstance(publication, str) else None
    return data


def suffix_key(suffix: str) -> str:
    """Normalize a dns.json entry or override key: lowercase A-labels, no outer dots."""
    text = suffix.strip().strip(".")
    if not text:
        raise ValueError("empty suffix")
    if not text.isascii():
        text = idna.encode(text, uts46=True, std3_rules=True).decode("ascii")
    text = text.lower()
    for label in text.split("."):
        if not _LDH_LABEL.fullmatch(label):
            raise ValueError(f"label {label!r} is not letters, digits and inner hyphens")
    return text


def read_dns(path: Path) -> tuple[str | None, dict[str, Entry], dict[str, tuple[str, ...]], int]:
    """Read ``dns.json``: its publication, entries by suffix, unusable entries, most labels.

    Unusable entries are listed suffixes without an http(s) URL (kept for ``explain``);
    the most labels of a suffix bounds the longest-suffix search.
    """
    data = read_file(path)
    pub = data["publication"]
    domains: dict[str, Entry] = {}
    unusable: dict[str, tuple[str, ...]] = {}
    max_suffix_labels = 1
    for entries, urls in data["services"]:
        for raw_key in entries:
            try:
                key = suffix_key(raw_key)
            except (ValueError, UnicodeError) as exc:
                raise BootstrapError(
                    f"bootstrap file {path}: bad entry {raw_key!r}: {exc}"
                ) from None
            if key in domains or key in unusable:
                raise BootstrapError(f"bootstrap file {path}: {key!r} is listed in two services")
            entry = make_entry("domain", key, urls, "iana", pub, path.name)
            if entry is None:
                unusable[key] = tuple(urls)
                continue
            domains[key] = entry
            max_suffix_labels = max(max_suffix_labels, key.count(".") + 1)
    return pub, domains, unusable, max_suffix_labels


def read_ip(
    path: Path, family: int
) -> tuple[str | None, dict[tuple[int, int, int], Entry], list[int]]:
    """Read ``ipv4.json`` or ``ipv6.json``: its publication, entries by
    ``(family, prefix length, network as an int)``, and the prefix lengths, longest first."""
    data = read_file(path)
    pub = data["publication"]
    ip: dict[tuple[int, int, int], Entry] = {}
    lengths: set[int] = set()
    for entries, urls in data["services"]:
        for raw in entries:
            try:
                net: IPNet = ipaddress.ip_network(raw.strip(), strict=False)
            except ValueError as exc:
                raise BootstrapError(f"bootstrap file {path}: bad prefix {raw!r}: {exc}") from None
            if net.version != family:
                raise BootstrapError(f"bootstrap file {path}: {raw!r} is not IPv{family}")
            slot = (family, net.prefixlen, int(net.network_address))
            if slot in ip:
                raise BootstrapError(f"bootstrap file {path}: {raw!r} is listed twice")
            entry = make_entry("ip", raw.strip(), urls, "iana", pub, path.name)
            if entry is not None:
                ip[slot] = entry
                lengths.add(net.prefixlen)
    return pub, ip, sorted(lengths, reverse=True)


def read_asn(path: Path) -> tuple[str | None, list[tuple[int, int, Entry]]]:
    """Read ``asn.json``: its publication and ``(first, last, entry)`` ranges, sorted."""
    data = read_file(path)
    pub = data["publication"]
    ranges: list[tuple[int, int, Entry]] = []
    for entries, urls in data["services"]:
        for raw in entries:
            first, _, last = raw.strip().partition("-")
            try:
                lo, hi = int(first), int(last or first)
            except ValueError:
                raise BootstrapError(f"bootstrap file {path}: bad AS range {raw!r}") from None
            if lo > hi:
                raise BootstrapError(f"bootstrap file {path}: empty AS range {raw!r}")
            entry = make_entry("asn", raw.strip(), urls, "iana", pub, path.name)
            if entry is not None:
                ranges.append((lo, hi, entry))
    ranges.sort(key=lambda r: r[0])
    for (_, prev_hi, prev), (lo, _, cur) in itertools.pairwise(ranges):
        if lo <= prev_hi:
            raise BootstrapError(
                f"bootstrap file {path}: AS ranges {prev.match.key} and {cur.match.key} overlap"
            )
    return pub, ranges


def read_tags(path: Path) -> tuple[str | None, dict[str, Entry]]:
    """Read ``object-tags.json``: its publication and entries by upper-case tag."""
    data = read_file(path)
    pub = data["publication"]
    tags: dict[str, Entry] = {}
    for _contacts, tag_list, urls in data["services"]:
        for tag in tag_list:
            key = tag.strip().upper()
            if key in tags:
                raise BootstrapError(f"bootstrap file {path}: tag {tag!r} is listed twice")
            entry = make_entry("entity", tag.strip(), urls, "iana", pub, path.name)
            if entry is not None:
                tags[key] = entry
    return pub, tags


def check_file(path: Path) -> None:
    """Read one of the five files (by its name) as :meth:`Bootstrap.from_dir` would.

    Raises
    ------
    BootstrapError
        Naming the file, when it is unreadable, not JSON, not IANA-shaped or ambiguous.
    """
    if path.name == DNS_FILE:
        read_dns(path)
    elif path.name == "asn.json":
        read_asn(path)
    elif path.name == "object-tags.json":
        read_tags(path)
    else:
        read_ip(path, 4 if path.name == "ipv4.json" else 6)
