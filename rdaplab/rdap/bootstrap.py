"""RFC 9224 bootstrap: which RDAP server answers for a domain, IP, AS number or entity.

IANA publishes five JSON files (``dns.json``, ``ipv4.json``, ``ipv6.json``, ``asn.json``,
``object-tags.json``), each a list of *services*: ``[[entries...], [urls...]]`` (the
object-tags file has an extra leading list of contacts). rdaplab ships a snapshot
(:func:`rdaplab._data.bootstrap_dir`) and fetches newer copies only when asked
(:func:`refresh_bootstrap`, ``rdaplab bootstrap refresh``), so a batch is reproducible: the
publication date of every file is in :attr:`Bootstrap.publications` and where the files
came from in :attr:`Bootstrap.source`.

Which files a lookup uses (:meth:`Bootstrap.load` with ``None``): the refreshed copy in
:func:`user_bootstrap_dir` when it is complete and valid, else the bundled snapshot. A
bootstrap older than :data:`STALE_AFTER_DAYS` days emits one :class:`BootstrapStaleWarning`
per process and directory.

Matching follows RFC 9224:

- domains: longest matching suffix of whole labels (``co.uk`` beats ``uk``);
- IP addresses and prefixes: longest matching prefix;
- AS numbers: the range containing the number;
- entities: the tag after the last ``-`` of the handle (RFC 8521), case-insensitively.

Transport policy: RFC 7481 §3 requires TLS for RDAP, and rdaplab fetches plain ``http``
only from loopback hosts (the simulator, tests). So the URL used for an entry is its
first ``https`` URL; else a loopback ``http`` URL; else an ``http`` URL rewritten to
``https`` (IANA still lists a few http-only servers; trying TLS is the only compliant
option, and if the server has no TLS the request fails visibly as a connection error).
"""

from __future__ import annotations

import asyncio
import bisect
import ipaddress
import itertools
import json
import logging
import os
import re
import shutil
import sys
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import idna
import platformdirs

from rdaplab._data import bootstrap_dir
from rdaplab.errors import BootstrapError, InputError, RdapLabError

__all__ = [
    "BOOTSTRAP_FILES",
    "IANA_BOOTSTRAP_URL",
    "STALE_AFTER_DAYS",
    "Bootstrap",
    "BootstrapOverrideWarning",
    "BootstrapStaleWarning",
    "FileRefresh",
    "RefreshReport",
    "ServiceMatch",
    "choose_base_url",
    "is_loopback_url",
    "refresh_bootstrap",
    "user_bootstrap_dir",
]

log = logging.getLogger("rdaplab.bootstrap")

DNS_FILE = "dns.json"
OPTIONAL_FILES = ("ipv4.json", "ipv6.json", "asn.json", "object-tags.json")
BOOTSTRAP_FILES = (DNS_FILE, *OPTIONAL_FILES)
IANA_BOOTSTRAP_URL = "https://data.iana.org/rdap/"
STALE_AFTER_DAYS = 30
BOOTSTRAP_DIR_ENV = "RDAPLAB_BOOTSTRAP_DIR"

Overrides = Mapping[str, str | Sequence[str]]
_IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


class BootstrapOverrideWarning(UserWarning):
    """A user override replaced the server IANA lists for a TLD or suffix."""


class BootstrapStaleWarning(UserWarning):
    """The bootstrap in use is older than :data:`STALE_AFTER_DAYS` days."""


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


def _meta_name(file: str) -> str:
    """``dns.json`` -> ``dns.meta.json``: the refresh metadata beside each file."""
    return file.removesuffix(".json") + ".meta.json"


def _parse_time(text: object) -> datetime | None:
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


def _now_text() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# Directories already warned about: one BootstrapStaleWarning per process and directory.
_stale_warned: set[str] = set()


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


# --------------------------------------------------------------------------- URLs


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


# --------------------------------------------------------------------------- loading


def _read_file(path: Path) -> dict[str, Any]:
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


def _suffix_key(suffix: str) -> str:
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


@dataclass(frozen=True, slots=True)
class _Entry:
    match: ServiceMatch
    reason: str  # why base_url was chosen, for explain()
    file: str  # file name, or "overrides"


def _entry(
    kind: str, key: str, urls: Sequence[str], source: str, pub: str | None, file: str
) -> _Entry | None:
    chosen = choose_base_url(urls)
    if chosen is None:
        return None
    match = ServiceMatch(kind, key, tuple(urls), chosen[0], source, pub)
    return _Entry(match, chosen[1], file)


def _external_stacklevel() -> int:
    """A warnings stacklevel pointing at the first frame outside the rdaplab package."""
    package_dir = str(Path(__file__).resolve().parent) + os.sep
    frame = sys._getframe(1)
    level = 1
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(
        package_dir
    ):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


class Bootstrap:
    """The RFC 9224 bootstrap registries, indexed for fast lookups.

    Build one with :meth:`bundled`, :meth:`from_dir` or :meth:`load`; instances are
    immutable (overrides produce a new instance).

    Attributes
    ----------
    publications
        ``publication`` timestamp of every loaded file, keyed by file name
        (``None`` when the file has none). Files absent from the directory are absent.
    directory
        The directory the files were read from.
    source
        ``"bundled"`` (the snapshot shipped with rdaplab), ``"refreshed"`` (the copy
        ``rdaplab bootstrap refresh`` keeps in :func:`user_bootstrap_dir`, chosen by
        :meth:`load`) or ``"custom"`` (a directory given by the user).
    fetched
        When each file was last fetched or confirmed unchanged by ``bootstrap refresh``
        (from its ``*.meta.json``), keyed by file name; empty for other directories.
    """

    publications: dict[str, str | None]
    directory: Path
    source: str
    fetched: dict[str, str]

    def __init__(self) -> None:  # use the classmethods
        self.publications = {}
        self.directory = Path()
        self.source = "custom"
        self.fetched = {}
        self._domains: dict[str, _Entry] = {}
        self._max_suffix_labels = 1
        self._unusable: dict[str, tuple[str, ...]] = {}  # dns entries without http(s) URL
        self._shadowed: dict[str, _Entry] = {}  # IANA entries replaced by overrides
        # family -> prefix lengths (longest first) and (prefixlen, network int) -> entry
        self._ip_lengths: dict[int, list[int]] = {4: [], 6: []}
        self._ip: dict[tuple[int, int, int], _Entry] = {}
        self._asn_starts: list[int] = []
        self._asn_ranges: list[tuple[int, int, _Entry]] = []
        self._tags: dict[str, _Entry] = {}

    # ------------------------------------------------------------------ construction

    @classmethod
    def bundled(cls, overrides: Overrides | None = None) -> Bootstrap:
        """The IANA snapshot shipped with rdaplab, with optional overrides.

        Parameters
        ----------
        overrides
            TLD or suffix -> URL (or URLs), merged on top of ``dns.json``.
        """
        boot = cls.from_dir(bootstrap_dir())
        boot.source = "bundled"
        return boot._with_overrides(overrides) if overrides else boot

    @classmethod
    def from_dir(cls, path: str | Path, overrides: Overrides | None = None) -> Bootstrap:
        """Read the bootstrap files in a directory.

        ``dns.json`` is required; ``ipv4.json``, ``ipv6.json``, ``asn.json`` and
        ``object-tags.json`` are optional (without them those lookups return ``None``).

        Parameters
        ----------
        path
            Directory holding the files (same names as IANA's).
        overrides
            TLD or suffix -> URL (or URLs), merged on top of ``dns.json``.

        Raises
        ------
        BootstrapError
            Naming the file, when one is missing (dns.json), unreadable, not JSON or not
            shaped like an IANA bootstrap file, or holds ambiguous entries.
        """
        directory = Path(path)
        if not directory.is_dir():
            raise BootstrapError(
                f"bootstrap directory {directory} does not exist or is not a directory "
                f"(it must hold {DNS_FILE})"
            )
        self = cls()
        self.directory = directory
        self._load_dns(directory / DNS_FILE)
        for name in OPTIONAL_FILES:
            file = directory / name
            if not file.exists():
                continue
            if name == "asn.json":
                self._load_asn(file)
            elif name == "object-tags.json":
                self._load_tags(file)
            else:
                self._load_ip(file, 4 if name == "ipv4.json" else 6)
        self._read_fetch_meta()
        return self._with_overrides(overrides) if overrides else self

    @classmethod
    def load(
        cls, source: Bootstrap | str | Path | None = None, overrides: Overrides | None = None
    ) -> Bootstrap:
        """Accept what users pass as ``bootstrap=``: nothing, a directory or an instance.

        This is what lookups call, so it also warns (once per process and directory, see
        :meth:`warn_if_stale`) when the bootstrap is older than :data:`STALE_AFTER_DAYS`.

        Parameters
        ----------
        source
            ``None`` for the refreshed copy in :func:`user_bootstrap_dir` when it is
            complete and valid, else the bundled snapshot (an unusable refreshed copy is
            logged and skipped); a directory path; or a :class:`Bootstrap` (returned as
            is, or a copy with ``overrides`` merged).
        overrides
            TLD or suffix -> URL (or URLs), merged on top of ``dns.json``.
        """
        if source is None:
            boot = cls._stored() or cls.bundled()
        elif isinstance(source, Bootstrap):
            boot = source
        elif isinstance(source, (str, Path)):
            boot = cls.from_dir(source)
        else:
            raise InputError(
                "bootstrap must be None, a directory path or a Bootstrap, "
                f"not {type(source).__name__}"
            )
        boot.warn_if_stale()
        return boot._with_overrides(overrides) if overrides else boot

    @classmethod
    def _stored(cls) -> Bootstrap | None:
        """The refreshed copy, or None when absent or unusable (logged, not raised)."""
        directory = user_bootstrap_dir()
        if not (directory / DNS_FILE).exists():
            return None
        missing = [name for name in BOOTSTRAP_FILES if not (directory / name).is_file()]
        try:
            if missing:
                raise BootstrapError(f"{', '.join(missing)} missing")
            boot = cls.from_dir(directory)
        except BootstrapError as exc:
            log.warning(
                "the refreshed bootstrap in %s is unusable (%s); using the bundled snapshot "
                "(run `rdaplab bootstrap refresh` to repair it)",
                directory,
                exc,
            )
            return None
        boot.source = "refreshed"
        return boot

    def _read_fetch_meta(self) -> None:
        """Read the ``*.meta.json`` files ``bootstrap refresh`` writes, when present."""
        for name in self.publications:
            try:
                meta = json.loads((self.directory / _meta_name(name)).read_bytes())
            except (OSError, ValueError):
                continue  # no metadata: not a refreshed directory, age from publications
            fetched = meta.get("fetched_at") if isinstance(meta, dict) else None
            if _parse_time(fetched) is not None:
                self.fetched[name] = str(fetched)

    # ------------------------------------------------------------------ freshness

    @property
    def publication(self) -> str | None:
        """The oldest ``publication`` among the loaded files (``None`` if none has one)."""
        dated = [(t, p) for p in self.publications.values() if (t := _parse_time(p))]
        return min(dated)[1] if dated else None

    @property
    def as_of(self) -> datetime | None:
        """The date these files are known to have been current (UTC), for staleness.

        For a refreshed copy, the oldest time a file was fetched or confirmed unchanged
        (IANA bumps a file's ``publication`` only when it changes, and ``ipv4.json`` has
        not changed since 2019: a publication date says nothing about a copy checked
        yesterday). Otherwise the newest ``publication``: a snapshot is at least that
        recent, and no more is known about it.
        """
        fetched = [t for name in self.publications if (t := _parse_time(self.fetched.get(name)))]
        if fetched and len(fetched) == len(self.publications):
            return min(fetched)
        published = [t for p in self.publications.values() if (t := _parse_time(p))]
        return max(published) if published else None

    def age_days(self, now: datetime | None = None) -> float | None:
        """Days since :attr:`as_of` (``None`` when no file carries a date).

        Parameters
        ----------
        now
            The reference time (default: the current time, UTC).
        """
        as_of = self.as_of
        if as_of is None:
            return None
        now = now or datetime.now(timezone.utc)
        return (now - as_of).total_seconds() / 86400

    def describe_source(self) -> str:
        """One line: where the files come from and how old they are."""
        label = {
            "bundled": "bundled snapshot",
            "refreshed": "refreshed copy",
            "custom": "custom directory",
        }.get(self.source, self.source)
        oldest, newest = self.publication, self._newest_publication()
        pubs = oldest if oldest in (None, newest) else f"{oldest} to {newest}"
        text = f"{label} {self.directory}, publication {pubs or 'unknown'}"
        if self.fetched:
            text += f", checked {min(self.fetched.values())}"
        age = self.age_days()
        if age is not None:
            text += f" ({age:.0f} days old)"
        return text

    def warn_if_stale(self, max_age_days: float = STALE_AFTER_DAYS) -> bool:
        """Emit a :class:`BootstrapStaleWarning` when older than ``max_age_days``.

        At most once per process and directory (a batch loads the bootstrap once, a
        notebook may load it many times).

        Returns
        -------
        bool
            Whether this bootstrap is stale (also when the warning was already given).
        """
        age = self.age_days()
        if age is None or age <= max_age_days:
            return False
        key = f"{self.source}:{self.directory.resolve()}"
        if key not in _stale_warned:
            _stale_warned.add(key)
            if self.source == "refreshed":
                what = f"last checked against IANA {min(self.fetched.values())}"
                fix = "run `rdaplab bootstrap refresh`"
            elif self.source == "bundled":
                what = f"newest file published {self._newest_publication()}"
                fix = "run `rdaplab bootstrap refresh` to keep a current copy"
            else:
                what = f"newest file published {self._newest_publication()}"
                fix = "pass a newer directory, or run `rdaplab bootstrap refresh` and omit it"
            warnings.warn(
                f"the RDAP bootstrap in use ({self.source}, {self.directory}) is "
                f"{age:.0f} days old ({what}); registries that moved or started RDAP since "
                f"then are routed wrongly or not at all: {fix}",
                BootstrapStaleWarning,
                stacklevel=_external_stacklevel(),
            )
        return True

    def _newest_publication(self) -> str:
        dated = [(t, p) for p in self.publications.values() if (t := _parse_time(p))]
        return (max(dated)[1] if dated else None) or "unknown"

    def _load_dns(self, path: Path) -> None:
        data = _read_file(path)
        pub = data["publication"]
        self.publications[path.name] = pub
        for entries, urls in data["services"]:
            for raw_key in entries:
                try:
                    key = _suffix_key(raw_key)
                except (ValueError, UnicodeError) as exc:
                    raise BootstrapError(
                        f"bootstrap file {path}: bad entry {raw_key!r}: {exc}"
                    ) from None
                if key in self._domains or key in self._unusable:
                    raise BootstrapError(
                        f"bootstrap file {path}: {key!r} is listed in two services"
                    )
                entry = _entry("domain", key, urls, "iana", pub, path.name)
                if entry is None:
                    self._unusable[key] = tuple(urls)
                    continue
                self._domains[key] = entry
                self._max_suffix_labels = max(self._max_suffix_labels, key.count(".") + 1)

    def _load_ip(self, path: Path, family: int) -> None:
        data = _read_file(path)
        pub = data["publication"]
        self.publications[path.name] = pub
        lengths: set[int] = set()
        for entries, urls in data["services"]:
            for raw in entries:
                try:
                    net: _IPNet = ipaddress.ip_network(raw.strip(), strict=False)
                except ValueError as exc:
                    raise BootstrapError(
                        f"bootstrap file {path}: bad prefix {raw!r}: {exc}"
                    ) from None
                if net.version != family:
                    raise BootstrapError(f"bootstrap file {path}: {raw!r} is not IPv{family}")
                slot = (family, net.prefixlen, int(net.network_address))
                if slot in self._ip:
                    raise BootstrapError(f"bootstrap file {path}: {raw!r} is listed twice")
                entry = _entry("ip", raw.strip(), urls, "iana", pub, path.name)
                if entry is not None:
                    self._ip[slot] = entry
                    lengths.add(net.prefixlen)
        self._ip_lengths[family] = sorted(lengths, reverse=True)

    def _load_asn(self, path: Path) -> None:
        data = _read_file(path)
        pub = data["publication"]
        self.publications[path.name] = pub
        ranges: list[tuple[int, int, _Entry]] = []
        for entries, urls in data["services"]:
            for raw in entries:
                first, _, last = raw.strip().partition("-")
                try:
                    lo, hi = int(first), int(last or first)
                except ValueError:
                    raise BootstrapError(f"bootstrap file {path}: bad AS range {raw!r}") from None
                if lo > hi:
                    raise BootstrapError(f"bootstrap file {path}: empty AS range {raw!r}")
                entry = _entry("asn", raw.strip(), urls, "iana", pub, path.name)
                if entry is not None:
                    ranges.append((lo, hi, entry))
        ranges.sort(key=lambda r: r[0])
        for (_, prev_hi, prev), (lo, _, cur) in itertools.pairwise(ranges):
            if lo <= prev_hi:
                raise BootstrapError(
                    f"bootstrap file {path}: AS ranges {prev.match.key} and {cur.match.key} overlap"
                )
        self._asn_ranges = ranges
        self._asn_starts = [r[0] for r in ranges]

    def _load_tags(self, path: Path) -> None:
        data = _read_file(path)
        pub = data["publication"]
        self.publications[path.name] = pub
        for _contacts, tags, urls in data["services"]:
            for tag in tags:
                key = tag.strip().upper()
                if key in self._tags:
                    raise BootstrapError(f"bootstrap file {path}: tag {tag!r} is listed twice")
                entry = _entry("entity", tag.strip(), urls, "iana", pub, path.name)
                if entry is not None:
                    self._tags[key] = entry

    def _with_overrides(self, overrides: Overrides) -> Bootstrap:
        """A copy with ``overrides`` merged on top of the domain entries."""
        new = Bootstrap()
        new.publications = dict(self.publications)
        new.directory = self.directory
        new.source = self.source
        new.fetched = dict(self.fetched)
        new._domains = dict(self._domains)
        new._max_suffix_labels = self._max_suffix_labels
        new._unusable = dict(self._unusable)
        new._shadowed = dict(self._shadowed)
        # IP, ASN and tag indexes are never modified after loading: share them.
        new._ip_lengths, new._ip = self._ip_lengths, self._ip
        new._asn_starts, new._asn_ranges = self._asn_starts, self._asn_ranges
        new._tags = self._tags
        if not isinstance(overrides, Mapping):
            raise InputError(
                f"overrides must be a mapping of TLD/suffix to URL(s), "
                f"not {type(overrides).__name__}"
            )
        for raw_key, value in overrides.items():
            if not isinstance(raw_key, str):
                raise InputError(f"override key {raw_key!r} is not a string")
            try:
                key = _suffix_key(raw_key)
            except (ValueError, UnicodeError) as exc:
                raise InputError(
                    f"override key {raw_key!r} is not a domain suffix: {exc}"
                ) from None
            urls = (value,) if isinstance(value, str) else tuple(value)
            if not urls or not all(isinstance(u, str) for u in urls):
                raise InputError(f"override for {raw_key!r} must be a URL or a list of URLs")
            entry = _entry("domain", key, urls, "override", None, "overrides")
            if entry is None:
                raise InputError(
                    f"override for {raw_key!r} has no http(s) URL with a host: {list(urls)}"
                )
            previous = new._domains.get(key)
            if (
                previous is not None
                and previous.match.source == "iana"
                and previous.match.base_url != entry.match.base_url
            ):
                new._shadowed[key] = previous
                warnings.warn(
                    f"bootstrap override for {key!r} ({entry.match.base_url}) shadows the "
                    f"IANA entry in {previous.file} ({previous.match.base_url})",
                    BootstrapOverrideWarning,
                    stacklevel=_external_stacklevel(),
                )
            new._domains[key] = entry
            new._unusable.pop(key, None)
            new._max_suffix_labels = max(new._max_suffix_labels, key.count(".") + 1)
        return new

    # ------------------------------------------------------------------ lookups

    def _domain_candidates(self, name: str) -> list[str]:
        """Every suffix of ``name`` (whole labels), longest first."""
        labels = name.lower().removesuffix(".").split(".")
        return [".".join(labels[i:]) for i in range(len(labels))]

    def domain(self, name: str) -> ServiceMatch | None:
        """The service for a domain (or nameserver) name: longest matching suffix.

        Parameters
        ----------
        name
            A normalized name (A-labels, see :func:`rdaplab.names.normalize_domain`);
            case and one trailing dot are tolerated.

        Returns
        -------
        ServiceMatch or None
            ``None`` when no entry matches (the registry has no RDAP service listed).
        """
        labels = name.lower().removesuffix(".").split(".")
        if self._max_suffix_labels == 1:  # the IANA case: only TLD entries
            entry = self._domains.get(labels[-1])
            return entry.match if entry is not None else None
        for i in range(max(0, len(labels) - self._max_suffix_labels), len(labels)):
            entry = self._domains.get(".".join(labels[i:]))
            if entry is not None:
                return entry.match
        return None

    def _ip_entry(self, value: str) -> _Entry | None:
        text = value.strip()
        try:
            net: _IPNet = (
                ipaddress.ip_network(text, strict=False)
                if "/" in text
                else ipaddress.ip_network(ipaddress.ip_address(text))
            )
        except ValueError as exc:
            raise InputError(f"not an IP address or prefix: {value!r} ({exc})") from None
        bits = net.max_prefixlen
        address = int(net.network_address)
        for length in self._ip_lengths[net.version]:
            if length > net.prefixlen:
                continue  # a longer bootstrap prefix cannot contain this whole network
            key = (net.version, length, (address >> (bits - length)) << (bits - length))
            entry = self._ip.get(key)
            if entry is not None:
                return entry
        return None

    def ip(self, value: str) -> ServiceMatch | None:
        """The service for an IP address or CIDR prefix: longest matching prefix.

        Parameters
        ----------
        value
            ``"192.0.2.1"``, ``"2001:db8::/32"``...; a prefix matches only an entry
            that contains all of it.

        Returns
        -------
        ServiceMatch or None
            ``None`` when no entry covers it (or the ipv4/ipv6 file was not loaded).

        Raises
        ------
        InputError
            When ``value`` is not an IP address or prefix.
        """
        entry = self._ip_entry(value)
        return entry.match if entry is not None else None

    def asn(self, number: int) -> ServiceMatch | None:
        """The service for an autonomous system number (the range containing it).

        Parameters
        ----------
        number
            The AS number (``15169``, not ``"AS15169"``).

        Returns
        -------
        ServiceMatch or None
            ``None`` when no range contains it (or asn.json was not loaded).
        """
        i = bisect.bisect_right(self._asn_starts, number) - 1
        if i >= 0:
            _, hi, entry = self._asn_ranges[i]
            if number <= hi:
                return entry.match
        return None

    def entity(self, handle: str) -> ServiceMatch | None:
        """The service for an entity handle, by its object tag (RFC 8521).

        Parameters
        ----------
        handle
            An entity handle such as ``"ABC123-ARIN"``; the tag is the text after the
            last ``-``, compared case-insensitively.

        Returns
        -------
        ServiceMatch or None
            ``None`` when the handle has no tag or the tag is not registered.
        """
        head, sep, tag = handle.strip().rpartition("-")
        if not sep or not head or not tag:
            return None
        entry = self._tags.get(tag.upper())
        return entry.match if entry is not None else None

    # ------------------------------------------------------------------ explain

    def explain(self, name: str) -> str:
        """Explain, in a few lines, how a query is routed (``rdaplab bootstrap show``).

        ``name`` may be a domain name (any spelling :func:`normalize_domain` accepts),
        an IP address or prefix, an AS number (``15169`` or ``AS15169``) or an entity
        handle (``XXXX-ARIN``).

        Returns
        -------
        str
            Multi-line text: candidates tried, the entry matched (file, publication,
            source), the URLs listed, the URL chosen and why; or why nothing matched.
        """
        text = str(name).strip()
        lines = [f"query: {text!r}"]
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            net = None
        if net is not None:
            return "\n".join(lines + self._explain_ip(text, net))
        digits = text[2:] if text[:2].lower() == "as" else text
        if digits.isdigit():
            return "\n".join(lines + self._explain_asn(int(digits)))
        return "\n".join(lines + self._explain_domain(text))

    def _describe(self, entry: _Entry, why: str) -> list[str]:
        m = entry.match
        if m.source == "override":
            origin = "user override"
            shadowed = self._shadowed.get(m.key)
            if shadowed is not None:
                origin += (
                    f" (shadows the IANA entry in {shadowed.file}: "
                    f"{', '.join(shadowed.match.urls)})"
                )
        else:
            origin = f"{entry.file} (IANA, publication {m.publication or 'unknown'})"
        return [
            f"matched entry: {m.key!r} ({why})",
            f"source: {origin}",
            f"service URLs listed: {', '.join(m.urls)}",
            f"base URL chosen: {m.base_url} ({entry.reason})",
        ]

    def _explain_domain(self, text: str) -> list[str]:
        from rdaplab.rdap.names import normalize_domain  # names imports nothing from here

        norm = normalize_domain(text)
        if norm.name is None:
            head, sep, tag = text.rpartition("-")
            if sep and head and tag.upper() in self._tags:
                return [
                    f"kind: entity handle (tag {tag!r} after the last '-', RFC 8521)",
                    *self._describe(self._tags[tag.upper()], "object tag, case-insensitive"),
                ]
            return [f"not a valid domain name: {norm.error}", "no bootstrap lookup done"]
        lines = ["kind: domain"]
        if norm.unicode_name != norm.name:
            lines.append(f"normalized: {norm.name} (unicode: {norm.unicode_name})")
        elif norm.name != text:
            lines.append(f"normalized: {norm.name}")
        candidates = self._domain_candidates(norm.name)
        lines.append(
            f"suffixes tried, longest first: {', '.join(candidates)} (the longest entry "
            f"has {self._max_suffix_labels} label(s))"
        )
        for suffix in candidates:
            entry = self._domains.get(suffix)
            if entry is not None:
                why = "longest matching suffix"
                if suffix != candidates[-1]:
                    why += f", preferred over shorter entries such as {candidates[-1]!r}"
                return lines + self._describe(entry, why)
        tld = candidates[-1]
        if tld in self._unusable:
            lines.append(
                f"{tld!r} is listed in {DNS_FILE} but with no usable http(s) URL: "
                f"{', '.join(self._unusable[tld])}"
            )
        else:
            lines.append(
                f"no entry matches: {tld!r} is not in {DNS_FILE} (publication "
                f"{self.publications.get(DNS_FILE) or 'unknown'}), so its registry lists no "
                "RDAP service"
            )
        lines.append(
            f"if you know a server for it, pass bootstrap_overrides={{{tld!r}: 'https://.../'}}; "
            "otherwise these names end as error_kind 'no_rdap_service'"
        )
        return lines

    def _explain_ip(self, text: str, net: _IPNet) -> list[str]:
        file = f"ipv{net.version}.json"
        lines = [f"kind: IPv{net.version} {'prefix' if '/' in text else 'address'} ({net})"]
        if file not in self.publications:
            return [*lines, f"{file} was not loaded, so IP lookups find nothing"]
        entry = self._ip_entry(text)
        if entry is None:
            return [*lines, f"no prefix in {file} contains {net}"]
        return lines + self._describe(entry, f"longest prefix in {file} containing {net}")

    def _explain_asn(self, number: int) -> list[str]:
        lines = [f"kind: autonomous system number AS{number}"]
        if "asn.json" not in self.publications:
            return [*lines, "asn.json was not loaded, so AS lookups find nothing"]
        match = self.asn(number)
        if match is None:
            return [*lines, f"no range in asn.json contains {number}"]
        entry = next(e for _, _, e in self._asn_ranges if e.match is match)
        return lines + self._describe(entry, f"range containing {number}")

    def __repr__(self) -> str:
        return (
            f"Bootstrap({self.directory}, {len(self._domains)} domain entries, "
            f"{len(self._ip)} IP prefixes, {len(self._asn_ranges)} AS ranges, "
            f"{len(self._tags)} object tags, dns.json publication "
            f"{self.publications.get(DNS_FILE)})"
        )


# --------------------------------------------------------------------------- refresh

MAX_FILE_BYTES = 32 * 1024 * 1024  # IANA's largest file (dns.json) is ~100 kB
_MAX_REDIRECTS = 5
_CACHE_HEADERS = {
    "etag": "ETag",
    "last_modified": "Last-Modified",
    "cache_control": "Cache-Control",
    "expires": "Expires",
}
_LOADERS = {
    "dns.json": lambda b, p: b._load_dns(p),
    "ipv4.json": lambda b, p: b._load_ip(p, 4),
    "ipv6.json": lambda b, p: b._load_ip(p, 6),
    "asn.json": lambda b, p: b._load_asn(p),
    "object-tags.json": lambda b, p: b._load_tags(p),
}


@dataclass(frozen=True, slots=True)
class FileRefresh:
    """What ``bootstrap refresh`` did with one file.

    Attributes
    ----------
    name
        The file name (``"dns.json"``...).
    status
        ``"updated"`` (a new copy downloaded and valid), ``"not_modified"`` (the server
        answered 304 to the conditional request) or ``"failed"`` (download or validation
        failed; ``detail`` says why).
    detail
        The reason for ``"failed"``; the HTTP status otherwise.
    publication
        The ``publication`` of the downloaded (or unchanged) file.
    """

    name: str
    status: str
    detail: str
    publication: str | None = None


@dataclass(frozen=True, slots=True)
class RefreshReport:
    """The outcome of :func:`refresh_bootstrap`.

    Attributes
    ----------
    directory
        Where the refreshed copy lives.
    source
        The base URL the files were downloaded from.
    files
        One :class:`FileRefresh` per file, in :data:`BOOTSTRAP_FILES` order.
    replaced
        Whether the stored copy was replaced (all five files valid). The five files are
        replaced together or not at all.
    previous
        ``publication`` of each file of the copy stored before the refresh, keyed by file
        name; empty when there was no usable copy.
    """

    directory: Path
    source: str
    files: tuple[FileRefresh, ...]
    replaced: bool
    previous: dict[str, str | None] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every file was updated or confirmed unchanged."""
        return self.replaced

    @property
    def kept_last_good(self) -> bool:
        """The refresh failed but a usable copy from an earlier refresh remains."""
        return not self.replaced and bool(self.previous)

    def lines(self) -> list[str]:
        """One human-readable line per file (what ``rdaplab bootstrap refresh`` prints)."""
        failed = [f.name for f in self.files if f.status == "failed"]
        out = []
        for f in self.files:
            if self.replaced:
                what = "updated" if f.status == "updated" else "not modified (304)"
                out.append(f"{f.name}: {what}, publication {f.publication or 'unknown'}")
                continue
            why = (
                f.detail
                if f.status == "failed"
                else f"{', '.join(failed)} failed (the five files are replaced together)"
            )
            if self.previous:
                pub = self.previous.get(f.name) or "unknown"
                out.append(f"{f.name}: kept last good copy (publication {pub}) because {why}")
            else:
                out.append(f"{f.name}: not stored because {why}")
        return out


def _check_source(source: str) -> str:
    """The base URL, ending in ``/``; https only, plain http only on loopback."""
    try:
        parts = urlsplit(source.strip())
    except ValueError as exc:
        raise InputError(f"bootstrap source {source!r} is not a URL: {exc}") from None
    scheme = parts.scheme.lower()
    if not parts.hostname or scheme not in ("http", "https"):
        raise InputError(f"bootstrap source {source!r} is not an http(s) URL with a host")
    if scheme == "http" and not is_loopback_url(source):
        raise InputError(
            f"refusing plain http bootstrap source {source!r}: https is required off "
            "loopback (the bootstrap decides where every query and its answer go)"
        )
    base = source.strip()
    return base if base.endswith("/") else base + "/"


def _read_meta(directory: Path, name: str) -> dict[str, Any]:
    try:
        meta = json.loads((directory / _meta_name(name)).read_bytes())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _usable_copy(directory: Path) -> dict[str, str | None]:
    """Publications of a complete, valid stored copy in ``directory``; {} otherwise."""
    if not all((directory / name).is_file() for name in BOOTSTRAP_FILES):
        return {}
    try:
        return dict(Bootstrap.from_dir(directory).publications)
    except BootstrapError:
        return {}


def _validate(staging: Path, name: str, url: str) -> str:
    """Check a downloaded file like a load would, plus IANA's version and publication."""
    path = staging / name
    try:
        _LOADERS[name](Bootstrap(), path)
        data = json.loads(path.read_bytes())
    except BootstrapError as exc:
        raise BootstrapError(str(exc).replace(f"bootstrap file {path}", "it")) from None
    for member in ("version", "publication"):
        if not isinstance(data.get(member), str):
            raise BootstrapError(f"it has no '{member}' string (RFC 9224 §3)")
    return str(data["publication"])


async def _download(
    session: Any, url: str, meta: dict[str, Any]
) -> tuple[int, bytes, dict[str, str]]:
    """GET one file (conditionally when ``meta`` has validators): status, body, headers."""
    from yarl import URL  # aiohttp's URL type

    headers = {"Accept": "application/json"}
    if meta.get("etag"):
        headers["If-None-Match"] = str(meta["etag"])
    if meta.get("last_modified"):
        headers["If-Modified-Since"] = str(meta["last_modified"])
    for _ in range(_MAX_REDIRECTS + 1):
        # Redirects are followed by hand so each target obeys the https-only policy.
        async with session.get(url, headers=headers, allow_redirects=False) as resp:
            if resp.status in (301, 302, 303, 307, 308) and "Location" in resp.headers:
                url = str(resp.url.join(URL(resp.headers["Location"])))
                _check_source(url)
                continue
            cache = {k: resp.headers[h] for k, h in _CACHE_HEADERS.items() if h in resp.headers}
            if resp.status != 200:
                return resp.status, b"", cache
            body = bytearray()
            async for chunk in resp.content.iter_chunked(1 << 16):
                body += chunk
                if len(body) > MAX_FILE_BYTES:
                    raise BootstrapError(f"it is larger than {MAX_FILE_BYTES} bytes")
            return 200, bytes(body), cache
    raise BootstrapError(f"more than {_MAX_REDIRECTS} redirects")


def _swap_in(staging: Path, target: Path) -> None:
    """Replace ``target`` by ``staging`` with two renames (never a half-written copy)."""
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
    if target.exists():
        os.replace(target, old)
    try:
        os.replace(staging, target)
    except OSError:
        if old.exists():
            os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _check_target(target: Path) -> None:
    """Refuse to swap out a directory holding anything but bootstrap files."""
    if target.exists() and not target.is_dir():
        raise InputError(f"bootstrap directory {target} exists and is not a directory")
    ours = set(BOOTSTRAP_FILES) | {_meta_name(n) for n in BOOTSTRAP_FILES}
    others = (
        sorted(p.name for p in target.iterdir() if p.name not in ours) if target.exists() else []
    )
    if others:
        raise InputError(
            f"bootstrap directory {target} holds other files ({', '.join(others[:3])}); "
            "refresh replaces the whole directory, so give it one of its own"
        )


async def refresh_bootstrap(
    directory: str | Path | None = None,
    source: str = IANA_BOOTSTRAP_URL,
    *,
    timeout: float = 30.0,
) -> RefreshReport:
    """Download the five IANA bootstrap files and keep them if all five are valid.

    Each file is fetched from ``source + name`` with ``If-None-Match`` /
    ``If-Modified-Since`` from the last refresh (a 304 keeps the file and updates its
    ``fetched_at``), validated like :meth:`Bootstrap.from_dir` would read it (plus IANA's
    ``version`` and ``publication`` members), and only when all five are valid is the
    directory replaced, with two renames. Beside each file, ``<stem>.meta.json`` records
    ``url``, ``publication``, ``fetched_at`` and the HTTP cache headers (``etag``,
    ``last_modified``, ``cache_control``, ``expires``). On any failure the previous copy
    is left exactly as it was.

    Parameters
    ----------
    directory
        Where to keep the copy (default: :func:`user_bootstrap_dir`). It must hold
        nothing but bootstrap files: it is replaced as a whole.
    source
        Base URL of the files (default IANA's). ``https`` only; plain ``http`` only on
        loopback (tests).
    timeout
        Seconds allowed for each file's download.

    Returns
    -------
    RefreshReport
        Per-file outcome; check :attr:`RefreshReport.ok`.

    Raises
    ------
    InputError
        For a non-https ``source`` off loopback, or an unsuitable ``directory``.
    OSError
        When the directory cannot be written.
    """
    import aiohttp

    base, target, previous, metas = _prepare(directory, source)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(timeout=client_timeout) as session:

        async def one(name: str) -> tuple[int, bytes, dict[str, str]] | BaseException:
            try:
                return await _download(session, base + name, metas[name])
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError, RdapLabError) as exc:
                return exc  # reported per file; the other downloads go on

        fetched = await asyncio.gather(*(one(n) for n in BOOTSTRAP_FILES))
    # A few small files: storing them inline is cheaper than a thread hop.
    return _store(base, target, previous, metas, fetched)


def _prepare(
    directory: str | Path | None, source: str
) -> tuple[str, Path, dict[str, str | None], dict[str, dict[str, Any]]]:
    base = _check_source(source)
    target = Path(directory).expanduser() if directory is not None else user_bootstrap_dir()
    _check_target(target)
    previous = _usable_copy(target)
    # Validators only for a copy we can fall back on: a 304 for a broken copy is useless.
    metas = {n: _read_meta(target, n) if previous else {} for n in BOOTSTRAP_FILES}
    return base, target, previous, metas


def _store(
    base: str,
    target: Path,
    previous: dict[str, str | None],
    metas: dict[str, dict[str, Any]],
    fetched: Sequence[tuple[int, bytes, dict[str, str]] | BaseException],
) -> RefreshReport:
    """Assemble the new copy in a staging directory; swap it in if all five are good."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.new-{uuid.uuid4().hex[:8]}")
    staging.mkdir()
    try:
        now = _now_text()
        results: list[FileRefresh] = []
        new_metas: dict[str, dict[str, Any]] = {}
        for name, outcome in zip(BOOTSTRAP_FILES, fetched, strict=True):
            result, meta = _settle(name, base + name, outcome, target, staging, metas[name], now)
            results.append(result)
            new_metas[name] = meta
        replaced = all(r.status != "failed" for r in results)
        if replaced:
            for name, meta in new_metas.items():
                (staging / _meta_name(name)).write_text(
                    json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8"
                )
            _swap_in(staging, target)
            _stale_warned.discard(f"refreshed:{target.resolve()}")
            _stale_warned.discard(f"custom:{target.resolve()}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return RefreshReport(target, base, tuple(results), replaced, previous)


def _settle(
    name: str,
    url: str,
    outcome: tuple[int, bytes, dict[str, str]] | BaseException,
    target: Path,
    staging: Path,
    old_meta: dict[str, Any],
    now: str,
) -> tuple[FileRefresh, dict[str, Any]]:
    """Put one file into ``staging`` (new body, or the stored one on 304) and check it."""
    if isinstance(outcome, BaseException):
        reason = str(outcome) or type(outcome).__name__
        if not isinstance(outcome, RdapLabError):
            reason = f"the download failed: {type(outcome).__name__}: {reason}"
        return FileRefresh(name, "failed", reason), {}
    status, body, cache = outcome
    if status == 304:
        if not old_meta:  # we sent no validators: a 304 cannot be honoured
            return FileRefresh(name, "failed", "HTTP 304 to an unconditional request"), {}
        shutil.copyfile(target / name, staging / name)
        meta = {**old_meta, **cache, "fetched_at": now, "status": 304}
        return FileRefresh(name, "not_modified", "HTTP 304", old_meta.get("publication")), meta
    if status != 200:
        return FileRefresh(name, "failed", f"the server answered HTTP {status}"), {}
    (staging / name).write_bytes(body)
    try:
        publication = _validate(staging, name, url)
    except BootstrapError as exc:
        return FileRefresh(name, "failed", f"the download is not a valid bootstrap: {exc}"), {}
    meta = {"url": url, "publication": publication, "fetched_at": now, "status": 200}
    meta.update({k: cache.get(k) for k in _CACHE_HEADERS})
    return FileRefresh(name, "updated", "HTTP 200", publication), meta
