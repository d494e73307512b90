"""``rdaplab bootstrap refresh``: download IANA's bootstrap files and keep them if valid.

The five files are fetched through the engine's :class:`~rdaplab.engine.client.RdapClient`
(its session handling, timeouts and User-Agent) with conditional requests from the last
refresh, checked like :meth:`~rdaplab.rdap.bootstrap.Bootstrap.from_dir` would read them
(:func:`~rdaplab.rdap.bootstrap_files.check_file`), and swapped in together with two
renames, or not at all: on any failure the last good copy stays as it was.

The source must be ``https`` (plain ``http`` only on loopback), redirect targets included:
the bootstrap decides where every query and its answer go.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rdaplab.engine.client import RdapClient
from rdaplab.engine.config import Timeouts
from rdaplab.errors import BootstrapError, FetchError, InputError, RdapLabError
from rdaplab.rdap.bootstrap import Bootstrap, forget_stale_warnings
from rdaplab.rdap.bootstrap_files import (
    BOOTSTRAP_FILES,
    check_file,
    meta_name,
    read_meta,
    user_bootstrap_dir,
)
from rdaplab.rdap.bootstrap_urls import is_loopback_url

__all__ = ["IANA_BOOTSTRAP_URL", "FileRefresh", "RefreshReport", "refresh_bootstrap"]

IANA_BOOTSTRAP_URL = "https://data.iana.org/rdap/"
MAX_FILE_BYTES = 32 * 1024 * 1024  # IANA's largest file (dns.json) is ~100 kB
# Our metadata name -> the response header (as the client keeps it, lower case).
_CACHE_HEADERS = {
    "etag": "etag",
    "last_modified": "last-modified",
    "cache_control": "cache-control",
    "expires": "expires",
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
        check_file(path)
        data = json.loads(path.read_bytes())
    except BootstrapError as exc:
        raise BootstrapError(str(exc).replace(f"bootstrap file {path}", "it")) from None
    for member in ("version", "publication"):
        if not isinstance(data.get(member), str):
            raise BootstrapError(f"it has no '{member}' string (RFC 9224 §3)")
    return str(data["publication"])


async def _download(
    client: RdapClient, url: str, meta: dict[str, Any]
) -> tuple[int, bytes, dict[str, str]]:
    """GET one file (conditionally when ``meta`` has validators): status, body, headers."""
    headers = {"Accept": "application/json"}
    if meta.get("etag"):
        headers["If-None-Match"] = str(meta["etag"])
    if meta.get("last_modified"):
        headers["If-Modified-Since"] = str(meta["last_modified"])
    # Each redirect target must obey the https-only policy of the source.
    res = await client.fetch(
        url, headers=headers, max_bytes=MAX_FILE_BYTES, url_policy=_check_source
    )
    cache = {k: res.headers[h] for k, h in _CACHE_HEADERS.items() if h in res.headers}
    return res.status, res.body if res.status == 200 else b"", cache


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
    ours = set(BOOTSTRAP_FILES) | {meta_name(n) for n in BOOTSTRAP_FILES}
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
    base, target, previous, metas = _prepare(directory, source)
    async with RdapClient(timeouts=Timeouts(connect_s=timeout, total_s=timeout)) as client:

        async def one(name: str) -> tuple[int, bytes, dict[str, str]] | BaseException:
            try:
                return await _download(client, base + name, metas[name])
            except (asyncio.TimeoutError, OSError, RdapLabError) as exc:
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
    metas = {n: read_meta(target, n) if previous else {} for n in BOOTSTRAP_FILES}
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
                (staging / meta_name(name)).write_text(
                    json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8"
                )
            _swap_in(staging, target)
            forget_stale_warnings(target)
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
        if isinstance(outcome, FetchError):
            reason = f"the download failed: {outcome.detail}"
        elif not isinstance(outcome, RdapLabError):
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


def _now_text() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
