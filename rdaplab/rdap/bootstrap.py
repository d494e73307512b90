"""RFC 9224 bootstrap: which RDAP server answers for a domain, IP, AS number or entity.

IANA publishes five JSON files (read and checked by :mod:`rdaplab.rdap.bootstrap_files`).
rdaplab ships a snapshot (:func:`rdaplab._data.bootstrap_dir`) and fetches newer copies
only when asked (:func:`rdaplab.engine.refresh_bootstrap`, ``rdaplab bootstrap refresh``),
so a batch is reproducible: the publication date of every file is in
:attr:`Bootstrap.publications` and where the files came from in :attr:`Bootstrap.source`.

Which files a lookup uses (:meth:`Bootstrap.load` with ``None``): the refreshed copy in
:func:`~rdaplab.rdap.bootstrap_files.user_bootstrap_dir` when it is complete and valid,
else the bundled snapshot. A bootstrap older than :data:`STALE_AFTER_DAYS` days emits one
:class:`BootstrapStaleWarning` per process and directory.

Matching follows RFC 9224:

- domains: longest matching suffix of whole labels (``co.uk`` beats ``uk``);
- IP addresses and prefixes: longest matching prefix;
- AS numbers: the range containing the number;
- entities: the tag after the last ``-`` of the handle (RFC 8521), case-insensitively.

Which of an entry's URLs is used is the transport policy of
:mod:`rdaplab.rdap.bootstrap_urls` (https; plain http only on loopback).
"""

from __future__ import annotations

import bisect
import ipaddress
import logging
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

from rdaplab._data import bootstrap_dir
from rdaplab.errors import BootstrapError, InputError
from rdaplab.rdap.bootstrap_files import (
    BOOTSTRAP_FILES,
    DNS_FILE,
    OPTIONAL_FILES,
    Entry,
    IPNet,
    ServiceMatch,
    make_entry,
    parse_time,
    read_asn,
    read_dns,
    read_ip,
    read_meta,
    read_tags,
    suffix_key,
    user_bootstrap_dir,
)

__all__ = [
    "STALE_AFTER_DAYS",
    "Bootstrap",
    "BootstrapOverrideWarning",
    "BootstrapStaleWarning",
    "forget_stale_warnings",
]

log = logging.getLogger("rdaplab.bootstrap")

STALE_AFTER_DAYS = 30

Overrides = Mapping[str, str | Sequence[str]]


class BootstrapOverrideWarning(UserWarning):
    """A user override replaced the server IANA lists for a TLD or suffix."""


class BootstrapStaleWarning(UserWarning):
    """The bootstrap in use is older than :data:`STALE_AFTER_DAYS` days."""


# Directories already warned about: one BootstrapStaleWarning per process and directory.
_stale_warned: set[str] = set()


def forget_stale_warnings(directory: Path) -> None:
    """Let a bootstrap read from ``directory`` warn again (it was just refreshed)."""
    _stale_warned.discard(f"refreshed:{directory.resolve()}")
    _stale_warned.discard(f"custom:{directory.resolve()}")


def _external_stacklevel() -> int:
    """A warnings stacklevel pointing at the first frame outside the rdaplab package."""
    package_dir = str(Path(__file__).resolve().parents[1]) + os.sep  # rdaplab/, every layer
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
        self._domains: dict[str, Entry] = {}
        self._max_suffix_labels = 1
        self._unusable: dict[str, tuple[str, ...]] = {}  # dns entries without http(s) URL
        self._shadowed: dict[str, Entry] = {}  # IANA entries replaced by overrides
        # family -> prefix lengths (longest first) and (prefixlen, network int) -> entry
        self._ip_lengths: dict[int, list[int]] = {4: [], 6: []}
        self._ip: dict[tuple[int, int, int], Entry] = {}
        self._asn_starts: list[int] = []
        self._asn_ranges: list[tuple[int, int, Entry]] = []
        self._tags: dict[str, Entry] = {}

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
        dns = read_dns(directory / DNS_FILE)
        self.publications[DNS_FILE], self._domains, self._unusable, self._max_suffix_labels = dns
        for name in OPTIONAL_FILES:
            file = directory / name
            if not file.exists():
                continue
            if name == "asn.json":
                self.publications[name], self._asn_ranges = read_asn(file)
                self._asn_starts = [r[0] for r in self._asn_ranges]
            elif name == "object-tags.json":
                self.publications[name], self._tags = read_tags(file)
            else:
                family = 4 if name == "ipv4.json" else 6
                self.publications[name], prefixes, self._ip_lengths[family] = read_ip(file, family)
                self._ip.update(prefixes)
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
            # No metadata: not a refreshed directory, age from publications.
            fetched = read_meta(self.directory, name).get("fetched_at")
            if parse_time(fetched) is not None:
                self.fetched[name] = str(fetched)

    # ------------------------------------------------------------------ freshness

    @property
    def publication(self) -> str | None:
        """The oldest ``publication`` among the loaded files (``None`` if none has one)."""
        dated = [(t, p) for p in self.publications.values() if (t := parse_time(p))]
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
        fetched = [t for name in self.publications if (t := parse_time(self.fetched.get(name)))]
        if fetched and len(fetched) == len(self.publications):
            return min(fetched)
        published = [t for p in self.publications.values() if (t := parse_time(p))]
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
        dated = [(t, p) for p in self.publications.values() if (t := parse_time(p))]
        return (max(dated)[1] if dated else None) or "unknown"

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
                key = suffix_key(raw_key)
            except (ValueError, UnicodeError) as exc:
                raise InputError(
                    f"override key {raw_key!r} is not a domain suffix: {exc}"
                ) from None
            urls = (value,) if isinstance(value, str) else tuple(value)
            if not urls or not all(isinstance(u, str) for u in urls):
                raise InputError(f"override for {raw_key!r} must be a URL or a list of URLs")
            entry = make_entry("domain", key, urls, "override", None, "overrides")
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
            A normalized name (A-labels, see :func:`rdaplab.rdap.names.normalize_domain`);
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

    def _ip_entry(self, value: str) -> Entry | None:
        text = value.strip()
        try:
            net: IPNet = (
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

    def _describe(self, entry: Entry, why: str) -> list[str]:
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

    def _explain_ip(self, text: str, net: IPNet) -> list[str]:
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
