"""Tests of rdaplab.store.connection: opening, read-only, closing, paths, threads, locks."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from rdaplab.errors import CacheError, CacheLockedError
from rdaplab.store import Cache, default_cache_path
from tests.store.helpers import NOW, attempt, fresh, resp, run_child


def test_open_failures_are_cache_errors_naming_the_path(tmp_path: Path) -> None:
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"this is not a duckdb file" * 200)
    with pytest.raises(CacheError) as info:
        Cache(junk)
    assert not isinstance(info.value, CacheLockedError)
    assert str(junk) in str(info.value)
    missing = tmp_path / "missing.duckdb"
    with pytest.raises(CacheError, match="does not exist"):
        Cache(missing, read_only=True)
    assert not missing.exists()


def test_read_only_reads_but_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    with Cache(path) as cache:
        cache.store_responses([resp("a.com")])
    with Cache(path, read_only=True) as ro:
        got = ro.lookup_fresh("domain", ["a.com"], max_age_s=60, not_found_ttl_s=60, now=NOW)
        assert list(got) == ["a.com"]
        with pytest.raises(CacheError, match="read-only"):
            ro.store_responses([resp("b.com")])
        with pytest.raises(CacheError, match="read-only"):
            ro.purge()


def test_close_is_idempotent_and_closed_cache_raises() -> None:
    cache = Cache(":memory:")
    cache.close()
    cache.close()
    assert cache.closed
    with pytest.raises(CacheError, match="closed"):
        cache.info()


def test_default_path_honours_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "nested" / "env.duckdb"
    monkeypatch.setenv("RDAPLAB_CACHE", str(target))
    assert default_cache_path() == target
    with Cache() as cache:
        assert cache.path == str(target)
    assert target.exists()
    monkeypatch.delenv("RDAPLAB_CACHE")
    assert default_cache_path().name == "rdaplab.duckdb"
    assert "rdaplab" in str(default_cache_path().parent)


def test_usable_from_another_thread(tmp_path: Path) -> None:
    errors: list[BaseException] = []
    with Cache(tmp_path / "c.duckdb") as cache:

        def work() -> None:
            try:
                cache.store_responses([resp("t.com")])
                cache.store_attempts([attempt("t.com")])
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert cache.info()["responses"] == 4
        assert "t.com" in fresh(cache, ["t.com"])


# -- other processes -----------------------------------------------------------------


@pytest.mark.slow
def test_second_process_gets_cache_locked_error(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    with Cache(path):
        child = run_child(
            """
            import json, sys
            from rdaplab.store.cache import Cache
            from rdaplab.errors import CacheLockedError
            try:
                Cache(sys.argv[1])
            except CacheLockedError as exc:
                print(json.dumps({"path": exc.path, "holder": exc.holder, "msg": str(exc)}))
            """,
            str(path),
        )
    assert child.returncode == 0, child.stderr
    out = json.loads(child.stdout)
    assert out["path"] == str(path)
    assert f"PID {os.getpid()}" in out["holder"]
    assert str(path) in out["msg"] and "Traceback" not in child.stderr
