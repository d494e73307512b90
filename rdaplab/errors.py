"""Exceptions and the closed vocabularies of outcomes and error kinds.

Exceptions are for the *caller's* mistakes and for environment failures that stop a
whole batch; problems with one name or one registry never raise: they become rows with
``outcome="error"`` and an ``error_kind``.

Exception tree::

    RdapLabError                  base of everything rdaplab raises on purpose
    ├── InputError                unusable input: missing file, missing column, bad type
    ├── BootstrapError            unreadable or invalid bootstrap files
    ├── CacheError                the DuckDB cache cannot be used
    │   └── CacheLockedError      another process holds the cache file's lock
    └── FetchError                one HTTP exchange failed (internal; becomes a row)
        └── carries ``kind`` (one of ERROR_KINDS) and ``detail``

    KeyboardInterrupt
    └── BatchInterrupted          Ctrl-C / a kernel interrupt stopped a batch; carries
                                  ``partial`` (the rows finished) and what was cached

Row vocabularies (part of the frames' contract, documented in docs/errors.md):

- ``outcome``: ``ok``, ``not_found``, ``error``.
- ``error_kind`` (only when ``outcome == "error"``): ``invalid_query``,
  ``no_rdap_service``, ``rate_limited``, ``timeout``, ``connection_error``,
  ``http_error``, ``parse_error``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    import polars as pl

Outcome = Literal["ok", "not_found", "error"]
ErrorKind = Literal[
    "invalid_query",
    "no_rdap_service",
    "rate_limited",
    "timeout",
    "connection_error",
    "http_error",
    "parse_error",
]

OUTCOMES: Final = ("ok", "not_found", "error")
ERROR_KINDS: Final = (
    "invalid_query",
    "no_rdap_service",
    "rate_limited",
    "timeout",
    "connection_error",
    "http_error",
    "parse_error",
)


class RdapLabError(Exception):
    """Base class of every exception rdaplab raises on purpose."""


class InputError(RdapLabError, ValueError):
    """The input cannot be used (missing file, missing column, wrong type)."""


class BootstrapError(RdapLabError):
    """Bootstrap files are missing, unreadable or not IANA-shaped."""


class CacheError(RdapLabError):
    """The DuckDB cache cannot be opened or used."""


class CacheLockedError(CacheError):
    """Another process holds the lock on the cache file."""

    def __init__(self, path: str, holder: str | None = None) -> None:
        self.path = path
        self.holder = holder
        who = f" (held by {holder})" if holder else ""
        super().__init__(
            f"cache file {path} is locked by another process{who}; DuckDB allows one "
            "writer per file: close the other session or use another cache file "
            "(cache= in Python, --cache on the command line)"
        )


class FetchError(RdapLabError):
    """One HTTP exchange failed; ``kind`` is one of :data:`ERROR_KINDS`."""

    def __init__(
        self,
        kind: ErrorKind,
        detail: str,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        self.kind: ErrorKind = kind
        self.detail = detail
        self.status = status
        self.retry_after_s = retry_after_s
        super().__init__(f"{kind}: {detail}")


class BatchInterrupted(KeyboardInterrupt):
    """A batch was interrupted (Ctrl-C, a notebook's interrupt button) and stopped cleanly.

    Every answer received before the interrupt is in the cache, so running the same call
    again fetches only the rest. It is a ``KeyboardInterrupt``, so scripts still stop.

    Attributes
    ----------
    partial
        The ``domains`` rows finished before the interrupt (input order), or None.
    done, total
        Distinct names finished, and in the batch.
    cache_path
        The cache file holding what was fetched.
    """

    def __init__(
        self,
        *,
        done: int,
        total: int,
        cache_path: str | None,
        partial: pl.DataFrame | None = None,
    ) -> None:
        self.done = done
        self.total = total
        self.cache_path = cache_path
        self.partial = partial
        where = f" in the cache {cache_path}" if cache_path else " in the cache"
        super().__init__(
            f"batch interrupted after {done:,} of {total:,} names; every answer received "
            f"is{where}: run the same call again to fetch only the rest "
            "(the finished rows are in this exception's .partial)"
        )
