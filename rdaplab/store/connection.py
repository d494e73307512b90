"""Opening a cache file: where it lives, the DuckDB connection, its lock and lifecycle.

:class:`Connection` is the base of :class:`~rdaplab.store.cache.Cache` and of its
maintenance and audit parts: one DuckDB connection, serialized by an internal lock.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from pathlib import Path
from typing import Final

import duckdb
import platformdirs

from rdaplab.errors import CacheError, CacheLockedError
from rdaplab.store.sql import sql_str

__all__ = ["CACHE_ENV_VAR", "MEMORY", "Connection", "default_cache_path"]

CACHE_ENV_VAR: Final = "RDAPLAB_CACHE"
MEMORY: Final = ":memory:"

_LOCK_RE: Final = re.compile(
    r'Could not set lock on file "(?P<path>[^"]*)":\s*Conflicting lock is held in '
    r"(?P<exe>.*?)\s*\(PID (?P<pid>\d+)\)"
)


def default_cache_path() -> Path:
    """Return the default cache file: ``$RDAPLAB_CACHE`` or the per-user cache dir.

    Returns
    -------
    Path
        ``$RDAPLAB_CACHE`` when set and non-empty, else
        ``platformdirs.user_cache_dir("rdaplab") / "rdaplab.duckdb"``.
    """
    env = os.environ.get(CACHE_ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("rdaplab")) / "rdaplab.duckdb"


class Connection:
    """One DuckDB connection to a cache file (see :class:`~rdaplab.store.cache.Cache`).

    Raises
    ------
    CacheLockedError
        Another process holds the file's lock.
    CacheError
        The file cannot be opened or is not a DuckDB file, or ``memory_limit`` is invalid.
    """

    def __init__(
        self, path: str | Path | None, *, read_only: bool, memory_limit: str | None
    ) -> None:
        self._read_only = read_only
        self._memory_limit = memory_limit
        self._lock = threading.RLock()
        self._con: duckdb.DuckDBPyConnection | None = None
        if path is None:
            path = default_cache_path()
        self._memory = str(path) == MEMORY
        self._path: Path | None = None if self._memory else Path(path).expanduser().absolute()
        self._con = self._connect()

    @property
    def path(self) -> str:
        """The database file's absolute path, or ``":memory:"``."""
        return MEMORY if self._path is None else str(self._path)

    @property
    def read_only(self) -> bool:
        """Whether the cache was opened read-only."""
        return self._read_only

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._con is None

    def close(self) -> None:
        """Close the connection (idempotent); committed data is already on disk."""
        with self._lock:
            con, self._con = self._con, None
            if con is not None:
                con.close()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        if self._path is None:
            con = duckdb.connect(MEMORY)
        else:
            if not self._read_only:
                try:
                    self._path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise CacheError(
                        f"cannot create the directory of cache {self._path}: {exc}"
                    ) from exc
            elif not self._path.exists():
                raise CacheError(f"cache file {self._path} does not exist (opened read-only)")
            try:
                con = duckdb.connect(str(self._path), read_only=self._read_only)
            except duckdb.Error as exc:
                raise self._open_error(exc) from exc
        # Timestamps are stored as TIMESTAMPTZ; pin the session zone so that any
        # rendering or casting done by DuckDB is in UTC whatever the machine's zone.
        con.execute("SET TimeZone = 'UTC'")
        if self._memory_limit is not None:
            # Caps DuckDB's buffer manager (default: 80 % of RAM), e.g. for a long stream.
            try:
                con.execute(f"SET memory_limit = {sql_str(self._memory_limit)}")
            except duckdb.Error as exc:
                con.close()
                raise CacheError(f"invalid memory_limit {self._memory_limit!r}: {exc}") from exc
        return con

    def _open_error(self, exc: duckdb.Error) -> CacheError:
        msg = str(exc)
        match = _LOCK_RE.search(msg)
        if match:
            holder = f"PID {match['pid']} ({match['exe']})"
            return CacheLockedError(str(self._path), holder)
        if "Could not set lock" in msg:
            return CacheLockedError(str(self._path))
        return CacheError(f"cannot open cache {self._path}: {msg}")

    @property
    def _c(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise CacheError(f"cache {self.path} is closed")
        return self._con

    def _writable(self) -> duckdb.DuckDBPyConnection:
        if self._read_only:
            raise CacheError(f"cache {self.path} was opened read-only")
        return self._c

    def _file_size(self) -> int:
        """Bytes of the file plus its write-ahead log (0 in memory)."""
        if self._path is None:
            return 0
        size = 0
        for p in (self._path, self._path.with_name(self._path.name + ".wal")):
            with contextlib.suppress(FileNotFoundError):
                size += p.stat().st_size
        return size
