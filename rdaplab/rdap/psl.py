"""Registrable domains: what a URL, a host name or an e-mail address asks a registry about.

A registry answers for the names registered with it: ``example.co.uk``, not
``www.example.co.uk`` (most registries answer 404 for a host name) and certainly not
``https://example.com/path`` or ``user@example.com``. The Public Suffix List (PSL,
https://publicsuffix.org) says where registration happens: a *public suffix* is a name
under which anyone may register (``com``, ``co.uk``, ``kobe.jp``...), and the
*registrable domain* of a host is its public suffix plus one label.

Which list: the snapshot bundled with the ``publicsuffixlist`` package, the copy
``rdaplab psl refresh`` keeps in :func:`user_psl_dir` when there is a valid one, or a file
given by the user (:meth:`PublicSuffixes.load`). The list's own ``VERSION`` line is
:attr:`PublicSuffixes.version`, recorded with every batch.

The list has two sections: ICANN (the suffixes registries delegate: the default) and
private (suffixes companies run for their users: ``blogspot.com``, ``github.io``). With
the private section (opt-in), ``foo.blogspot.com`` is its own registrable domain; without
it, ``blogspot.com`` is, which is the name a registry knows.

:class:`DomainMapper` maps one value, in order:

1. its host: a URL's (``scheme://[user@]host[:port]/...``: ports, paths and userinfo
   dropped), an e-mail address's (``user@host``, also ``mailto:`` and ``Name <user@host>``),
   ``host:port`` and ``host/path``; else the value itself;
2. the host normalized as every domain is (:func:`rdaplab.rdap.names.normalize_domain`:
   case, one trailing dot, IDN to A-label);
3. names under ``arpa`` kept whole: reverse-DNS and ENUM delegations are RDAP domain
   objects at any depth;
4. the registrable domain; a host that is itself a public suffix (``co.uk``) is invalid.

Invalid values never raise: they come back with ``error`` set, like every name.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote

import platformdirs
import polars as pl
from publicsuffixlist import PSLFILE, PublicSuffixList

from rdaplab.errors import InputError
from rdaplab.rdap.names import NormalizedName, normalize_domain, normalize_domains

__all__ = [
    "PSL_FILE",
    "PSL_URL",
    "DomainMapper",
    "PublicSuffixes",
    "check_psl_text",
    "split_host",
    "user_psl_dir",
]

log = logging.getLogger("rdaplab")

PSL_URL = "https://publicsuffix.org/list/public_suffix_list.dat"
PSL_FILE = "public_suffix_list.dat"
PSL_DIR_ENV = "RDAPLAB_PSL_DIR"
_ICANN_BEGIN = "// ===BEGIN ICANN DOMAINS==="
_ICANN_END = "// ===END ICANN DOMAINS==="
_VERSION = re.compile(r"^// VERSION: *(\S+)", re.M)

# A value needing more than normalization: a URL, an e-mail address, host:port, host/path.
_SPECIAL = r"[:/@?#]"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_AUTHORITY_END = re.compile(r"[/?#\\]")


def user_psl_dir() -> Path:
    """Where ``rdaplab psl refresh`` keeps its copy, and lookups look for it.

    ``$RDAPLAB_PSL_DIR`` when set (tests, shared installs), else
    ``platformdirs.user_data_dir("rdaplab") / "psl"``.
    """
    env = os.environ.get(PSL_DIR_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("rdaplab")) / "psl"


def check_psl_text(data: bytes, where: str) -> str:
    """The text of a PSL file, checked: UTF-8, with the ICANN section markers.

    Raises
    ------
    InputError
        Naming ``where``, when the data is not a Public Suffix List.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{where} is not a Public Suffix List (not UTF-8: {exc})") from None
    if _ICANN_BEGIN not in text or _ICANN_END not in text:
        raise InputError(
            f"{where} is not a Public Suffix List: no '{_ICANN_BEGIN}' / '{_ICANN_END}' lines"
        )
    return text


def _rules(text: str, *, icann_only: bool) -> list[str]:
    """The rules of one section (all of them without ``icann_only``), as the library
    reads them: lowercased, the first word of each non-comment line."""
    out = []
    icann: bool | None = None
    for line in text.splitlines():
        stripped = line.rstrip()
        if stripped == _ICANN_BEGIN:
            icann = True
            continue
        if stripped == _ICANN_END:
            icann = False
            continue
        if icann_only and not icann:
            continue
        rule = stripped.lower().split(" ")[0]
        if rule and not rule.startswith("//"):
            out.append(rule)
    return out


class _Section:
    """One section's matcher: the library's, behind a fast path for two-label names.

    A two-label ASCII name ``a.b`` is its own registrable domain unless a rule names it
    (``a.b``, ``*.a.b``, ``!a.b``) or ``b`` has a wildcard (``*.b``): the library's
    algorithm only looks at those (the tests hold the two equal).
    """

    def __init__(self, text: str, *, icann_only: bool) -> None:
        rules = _rules(text, icann_only=icann_only)
        self.lib = PublicSuffixList(rules, only_icann=False)  # already the right section
        self.rule_count = len(rules)
        named: set[str] = set()
        wild: set[str] = set()
        for rule in rules:
            if not rule.isascii():
                continue  # its A-label has an xn-- label: such names take the slow path
            bare = rule.lstrip("!").removeprefix("*.")
            if bare.count(".") == 1:
                named.add(bare)
            elif rule.startswith("*.") and "." not in bare:
                wild.add(bare)
        self.named = frozenset(named)
        self.wild = frozenset(wild)

    def registrable(self, name: str) -> str | None:
        """The registrable domain of an A-label name; None when it is a public suffix."""
        dot = name.find(".")
        if (
            dot > 0
            and name.find(".", dot + 1) < 0
            and name not in self.named
            and name[dot + 1 :] not in self.wild
            and "xn--" not in name
        ):
            return name
        return self.lib.privatesuffix(name)

    def public_suffix(self, name: str) -> str | None:
        return self.lib.publicsuffix(name)


class PublicSuffixes:
    """One Public Suffix List: where it came from, its version, and its two sections.

    Attributes
    ----------
    source
        ``"bundled"`` (the ``publicsuffixlist`` package's snapshot), ``"refreshed"``
        (``rdaplab psl refresh``'s copy) or ``"file"`` (given by the user).
    path
        The file read.
    version
        The list's ``// VERSION:`` line (``2026-10-22_08-36-41_UTC``), None when absent.
    """

    def __init__(self, data: bytes, *, source: str, path: Path) -> None:
        self._text = check_psl_text(data, str(path))
        self.source = source
        self.path = path
        m = _VERSION.search(self._text, 0, 4096)
        self.version: str | None = m.group(1) if m else None
        self._sections: dict[bool, _Section] = {}

    @classmethod
    def from_file(cls, path: str | Path, *, source: str = "file") -> PublicSuffixes:
        """Read a PSL file (``public_suffix_list.dat`` format)."""
        p = Path(path).expanduser()
        if p.is_dir():  # a folder holding the file, as `psl refresh --dir` writes it
            p = p / PSL_FILE
        try:
            stat = p.stat()
        except OSError as exc:
            raise InputError(f"Public Suffix List file {p}: {exc.strerror or exc}") from None
        return _read(str(p), stat.st_mtime_ns, stat.st_size, source)

    @classmethod
    def bundled(cls) -> PublicSuffixes:
        """The snapshot bundled with the ``publicsuffixlist`` package."""
        return cls.from_file(PSLFILE, source="bundled")

    @classmethod
    def load(cls, psl: PublicSuffixes | str | Path | None = None) -> PublicSuffixes:
        """The list a lookup uses.

        ``None``: the copy ``rdaplab psl refresh`` saved in :func:`user_psl_dir` when it is
        there and valid (an invalid one is logged and skipped), else the bundled snapshot.
        A path: that file (an :class:`~rdaplab.errors.InputError` when unusable).
        """
        if isinstance(psl, PublicSuffixes):
            return psl
        if psl is not None:
            return cls.from_file(psl)
        refreshed = user_psl_dir() / PSL_FILE
        if refreshed.is_file():
            try:
                return cls.from_file(refreshed, source="refreshed")
            except InputError as exc:
                log.warning("rdaplab: ignoring the refreshed Public Suffix List: %s", exc)
        return cls.bundled()

    def section(self, private: bool = False) -> _Section:
        got = self._sections.get(private)
        if got is None:
            got = self._sections[private] = _Section(self._text, icann_only=not private)
        return got

    def registrable(self, name: str, *, private: bool = False) -> str | None:
        """The registrable domain of a normalized (A-label) name; None for a public suffix.

        >>> psl = PublicSuffixes.bundled()
        >>> psl.registrable("www.example.co.uk"), psl.registrable("co.uk")
        ('example.co.uk', None)
        >>> psl.registrable("foo.blogspot.com"), psl.registrable("foo.blogspot.com", private=True)
        ('blogspot.com', 'foo.blogspot.com')
        """
        return self.section(private).registrable(name)

    def describe(self) -> str:
        """``2026-10-22_08-36-41_UTC (bundled with publicsuffixlist 1.1.2...)``."""
        version = self.version or "version unknown"
        if self.source == "bundled":
            return f"{version} (bundled with publicsuffixlist {_package_version()})"
        return f"{version} ({self.source}: {self.path})"

    def __repr__(self) -> str:
        return f"<PublicSuffixes {self.describe()}>"


@functools.lru_cache(maxsize=8)
def _read(path: str, mtime_ns: int, size: int, source: str) -> PublicSuffixes:
    """One parse per file version and process (keyed by its mtime and size)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"Public Suffix List file {path}: {exc.strerror or exc}") from None
    return PublicSuffixes(data, source=source, path=Path(path))


@functools.cache
def _package_version() -> str:
    try:
        return package_version("publicsuffixlist")
    except PackageNotFoundError:  # pragma: no cover - a vendored copy
        return "unknown version"


# --------------------------------------------------------------------------- hosts


def split_host(value: str) -> tuple[str, str | None, str | None]:
    """``(what, host, error)``: the host a string names, and what the string was.

    ``what`` is ``"name"`` (the value itself is the host), ``"URL"``, ``"e-mail address"``
    or ``"host"`` (``host:port`` or ``host/path``); ``error`` says why no host could be
    taken (``host`` is then None). The host is not normalized yet.

    >>> split_host("https://user:pw@WWW.Example.com:8443/a?b#c")
    ('URL', 'WWW.Example.com', None)
    >>> split_host("mailto:someone@example.org?subject=hi")
    ('e-mail address', 'example.org', None)
    >>> split_host("http://")
    ('URL', None, "URL without a host name: 'http://'")
    """
    text = value.strip()
    m = _SCHEME.match(text)
    if m is not None:
        rest = text[m.end() :]
        end = _AUTHORITY_END.search(rest)
        authority = rest[: end.start()] if end else rest
        hostport = authority.rpartition("@")[2]
        if hostport.startswith("["):
            return "URL", None, f"the URL's host is an IP address, not a domain name: {text!r}"
        host, _, port = hostport.partition(":")
        if port and not port.isdigit():
            return "URL", None, f"the URL's port is not a number: {text!r}"
        if not host:
            return "URL", None, f"URL without a host name: {text!r}"
        if host.replace(".", "").isdigit():
            return "URL", None, f"the URL's host is an IP address, not a domain name: {text!r}"
        return "URL", unquote(host) if "%" in host else host, None
    if text[:7].lower() == "mailto:":
        text = unquote(text[7:].partition("?")[0])
        if "," in text:
            return "e-mail address", None, f"mailto: with several addresses: {value.strip()!r}"
    if "@" in text:
        if text.endswith(">") and "<" in text:  # Name <user@example.com>
            text = text[text.rfind("<") + 1 : -1]
        host = text.rpartition("@")[2].strip()
        if not host:
            return "e-mail address", None, f"e-mail address without a domain: {text!r}"
        return "e-mail address", host, None
    end = _AUTHORITY_END.search(text)
    hostport = text[: end.start()] if end else text
    host, colon, port = hostport.partition(":")
    if colon and not port.isdigit() and port:
        return "name", value, None  # not host:port (IPv6-like junk): judged as a name
    if end is None and not colon:
        return "name", value, None
    if not host:
        return "host", None, f"no host name before the path or port: {text!r}"
    return "host", host, None


_SPECIAL_RE = re.compile(_SPECIAL)


def _special(values: list[object]) -> list[int]:
    """Positions of the strings needing more than normalization (:func:`split_host`)."""
    if values and all(type(v) is str for v in values):
        found = pl.Series(values, dtype=pl.String).str.contains(_SPECIAL)
        return found.arg_true().to_list() if found.any() else []
    return [i for i, v in enumerate(values) if type(v) is str and _SPECIAL_RE.search(v)]


class DomainMapper:
    """Maps domain input values to the registrable domains to look up.

    One per batch: :attr:`mapped_rows` counts the input rows whose looked-up name differs
    from the value normalized as is (a host taken from a URL or an address, or a name
    reduced to its registrable domain).

    Parameters
    ----------
    suffixes
        The list (:meth:`PublicSuffixes.load`).
    private
        Honour the PSL's private section too (``foo.blogspot.com`` stays whole).
    """

    # settings() of a batch that maps nothing (registered_domain off, or no domain kind)
    NOT_USED: ClassVar[dict[str, Any]] = {
        "psl_private": None,
        "psl_version": None,
        "psl_source": None,
        "psl_path": None,
    }

    def __init__(self, suffixes: PublicSuffixes, *, private: bool = False) -> None:
        self.suffixes = suffixes
        self.private = private
        self._section = suffixes.section(private)
        self.mapped_rows = 0
        self._where = f"Public Suffix List {suffixes.version or ''}, " + (
            "ICANN and private sections" if private else "ICANN section"
        )

    def settings(self) -> dict[str, Any]:
        """What a batch records of the list it used."""
        return {
            "psl_private": self.private,
            "psl_version": self.suffixes.version,
            "psl_source": self.suffixes.source,
            "psl_path": str(self.suffixes.path),
        }

    def map(
        self,
        values: Sequence[object],
        normalize: Callable[[list[object]], list[NormalizedName]] = normalize_domains,
    ) -> list[NormalizedName]:
        """One :class:`~rdaplab.rdap.names.NormalizedName` per value, in order: ``name`` is
        the registrable domain (A-label), ``raw`` the value as given. Each distinct string
        is mapped once; ``normalize`` normalizes the hosts (the batch passes its own)."""
        values = values if isinstance(values, list) else list(values)
        splits: dict[int, tuple[str, str | None, str | None]] = {}
        hosts = values
        odd = _special(values)
        if odd:
            hosts = list(values)
            seen: dict[str, tuple[str, str | None, str | None]] = {}
            for i in odd:
                text = str(values[i])  # _special only lists strings
                split = seen.get(text)
                if split is None:
                    split = seen[text] = split_host(text)
                splits[i] = split
                if split[1] is not None:
                    hosts[i] = split[1]
        out = normalize(hosts)  # memoized per distinct string
        named, wild = self._section.named, self._section.wild
        reduced: dict[str, tuple[NormalizedName, bool]] = {}
        mapped = 0
        for i, norm in enumerate(out):
            name = norm.name
            if name is None and not splits:
                continue  # invalid as given: normalize's reason stands
            split = splits.get(i) if splits else None
            if split is None:
                if name is None:
                    continue
                # the usual value: a two-label name that is its own registrable domain
                dot = name.find(".")
                if (
                    dot > 0
                    and name.find(".", dot + 1) < 0
                    and name not in named
                    and name[dot + 1 :] not in wild
                    and "xn--" not in name
                ):
                    continue
            value = values[i]
            if not isinstance(value, str):
                continue
            text = value
            got = reduced.get(text)
            if got is None:
                got = reduced[text] = self._reduce(text, split or ("name", text, None), norm)
            out[i] = got[0]
            mapped += got[1]
        self.mapped_rows += mapped
        return out

    def _reduce(
        self, text: str, split: tuple[str, str | None, str | None], norm: NormalizedName
    ) -> tuple[NormalizedName, bool]:
        """(the name to look up for ``text``, whether it differs from ``text`` normalized);
        ``split`` is :func:`split_host` of ``text``, ``norm`` its host normalized."""
        what, host, error = split
        if error is not None:
            return NormalizedName(text, None, None, None, error), False
        name = norm.name
        if name is None or norm.unicode_name is None:
            why = norm.error or "invalid name"
            if what == "host":
                why = f"host {host!r}: {why}"
            elif what != "name":
                why = f"the {what}'s host {host!r}: {why}"
            return NormalizedName(text, None, None, None, why), False
        extracted = what != "name"
        if name == "arpa" or name.endswith(".arpa"):
            found: str | None = name
        else:
            found = self._section.registrable(name)
        if found is None:
            return NormalizedName(
                text,
                None,
                None,
                None,
                f"{name!r} is a public suffix ({self._where}): no registrable domain to look up",
            ), False
        if found == name:
            if not extracted and norm.raw is text:
                return norm, False
            return NormalizedName(text, name, norm.unicode_name, norm.tld, None), extracted
        labels = found.count(".") + 1
        unicode_name = ".".join(norm.unicode_name.split(".")[-labels:])
        return NormalizedName(text, found, unicode_name, norm.tld, None), True

    def explain(self, value: str) -> list[str]:
        """What :meth:`map` does with one value, in lines (``rdaplab psl show``)."""
        what, host, error = split_host(value)
        lines = [f"input: {value!r}"]
        if what != "name":
            lines.append(f"taken as: {what}, host {host!r}" if host else f"taken as: {what}")
        if error is None:
            norm = normalize_domain(host if host is not None else value)
            if norm.name is not None:
                shown = norm.name
                if norm.unicode_name and norm.unicode_name != norm.name:
                    shown += f" (unicode: {norm.unicode_name})"
                lines.append(f"normalized: {shown}")
                if norm.name == "arpa" or norm.name.endswith(".arpa"):
                    lines.append("kept whole: reverse-DNS and ENUM names are domains at any depth")
                else:
                    suffix = self._section.public_suffix(norm.name)
                    lines.append(f"public suffix: {suffix}")
        name = self.map([value])[0]
        if name.name is not None:
            lines.append(f"registrable domain: {name.name}")
        else:
            lines.append(f"invalid: {name.error}")
        section = "ICANN and private sections" if self.private else "ICANN section"
        lines.append(f"list: {self.suffixes.describe()}, {section}")
        return lines
