"""``rdaplab bootstrap refresh`` against a loopback server standing in for IANA.

The server serves copies of ``datasets/bootstrap/*.json`` with ETag / Last-Modified /
Cache-Control / Expires, answers conditional requests with 304, and can be switched to
serve a corrupted file, fail with 503, redirect off loopback, or go away entirely.
Every test keeps its copies in ``tmp_path`` (``--dir`` or ``RDAPLAB_BOOTSTRAP_DIR``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from aiohttp import web

from rdaplab._data import bootstrap_dir
from rdaplab.cli import main
from rdaplab.engine import refresh_bootstrap
from rdaplab.errors import InputError
from rdaplab.rdap import Bootstrap, BootstrapStaleWarning
from rdaplab.rdap.bootstrap_files import BOOTSTRAP_FILES, user_bootstrap_dir
from tests.engine.loopback import closed_port, serving_app

LAST_MODIFIED = "Thu, 13 Nov 2025 00:00:00 GMT"


@dataclass
class FakeIana:
    base: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    mode: str = "ok"  # ok | corrupt-ipv4 | 503-asn | redirect-off-loopback
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)


@pytest.fixture(autouse=True)
def isolated_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never the real user data directory, whatever a test forgets to pass."""
    store = tmp_path / "store"
    monkeypatch.setenv("RDAPLAB_BOOTSTRAP_DIR", str(store))
    return store


@pytest.fixture
async def iana() -> AsyncIterator[FakeIana]:
    state = FakeIana(files={n: (bootstrap_dir() / n).read_bytes() for n in BOOTSTRAP_FILES})

    async def serve(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        state.requests.append((name, dict(request.headers)))
        if name not in state.files:
            raise web.HTTPNotFound()
        if state.mode == "503-asn" and name == "asn.json":
            return web.Response(status=503, text="maintenance")
        if state.mode == "redirect-off-loopback" and name == "dns.json":
            raise web.HTTPFound("http://example.org/rdap/dns.json")
        body = state.files[name]
        if state.mode == "corrupt-ipv4" and name == "ipv4.json":
            body = body[: len(body) // 2]  # truncated JSON, as a broken mirror would serve
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        headers = {
            "ETag": etag,
            "Last-Modified": LAST_MODIFIED,
            "Cache-Control": "max-age=3600",
            "Expires": "Thu, 13 Nov 2025 01:00:00 GMT",
        }
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type="application/json", headers=headers)

    app = web.Application()
    app.router.add_get("/rdap/{name}", serve)
    async with serving_app(app) as base:
        state.base = f"{base}/rdap/"
        yield state


def closed_port_url() -> str:
    """A loopback URL nobody listens on: the server is down."""
    return f"http://127.0.0.1:{closed_port()}/rdap/"


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() if p.is_file() else b"" for p in sorted(directory.iterdir())}


async def run_cli(*args: str) -> int:
    # main() calls asyncio.run: give it a thread of its own.
    return await asyncio.to_thread(main, ["bootstrap", "refresh", *args])


# --------------------------------------------------------------------------- refresh


async def test_first_refresh_stores_five_files_with_metadata(iana: FakeIana, tmp_path: Path):
    store = tmp_path / "boot"
    report = await refresh_bootstrap(store, iana.base)
    assert report.ok and report.replaced and not report.previous
    assert [f.status for f in report.files] == ["updated"] * 5
    for name in BOOTSTRAP_FILES:
        assert (store / name).read_bytes() == iana.files[name]
        meta = json.loads((store / name.replace(".json", ".meta.json")).read_text())
        assert meta["publication"] == json.loads(iana.files[name])["publication"]
        assert meta["url"] == iana.base + name
        assert meta["etag"].startswith('"') and meta["last_modified"] == LAST_MODIFIED
        assert meta["cache_control"] == "max-age=3600" and meta["expires"].endswith("GMT")
        fetched = datetime.fromisoformat(meta["fetched_at"].replace("Z", "+00:00"))
        assert abs(datetime.now(timezone.utc) - fetched) < timedelta(minutes=1)
    assert sorted(p.name for p in store.iterdir()) == sorted(
        [*BOOTSTRAP_FILES, *(n.replace(".json", ".meta.json") for n in BOOTSTRAP_FILES)]
    )
    # No unconditional request carried validators, and no staging directory is left.
    assert all("If-None-Match" not in h for _, h in iana.requests)
    assert [name for name in snapshot(tmp_path) if name.startswith(".")] == []
    assert report.lines()[1] == "ipv4.json: updated, publication 2019-06-07T19:00:02Z"


async def test_second_refresh_is_conditional_and_304_updates_fetched_at(
    iana: FakeIana, tmp_path: Path
):
    store = tmp_path / "boot"
    await refresh_bootstrap(store, iana.base)
    meta_file = store / "dns.meta.json"
    meta = json.loads(meta_file.read_text())
    meta["fetched_at"] = "2000-01-01T00:00:00Z"
    meta_file.write_text(json.dumps(meta))
    before = {n: (store / n).read_bytes() for n in BOOTSTRAP_FILES}
    iana.requests.clear()

    report = await refresh_bootstrap(store, iana.base)
    assert report.ok and [f.status for f in report.files] == ["not_modified"] * 5
    sent = dict(iana.requests)
    assert sent["dns.json"]["If-None-Match"] == meta["etag"]
    assert sent["dns.json"]["If-Modified-Since"] == LAST_MODIFIED
    assert {n: (store / n).read_bytes() for n in BOOTSTRAP_FILES} == before
    new_meta = json.loads(meta_file.read_text())
    assert new_meta["fetched_at"] > "2025" and new_meta["etag"] == meta["etag"]
    assert report.lines()[0] == "dns.json: not modified (304), publication 2025-11-06T23:00:01Z"


async def test_corrupt_file_keeps_the_last_good_copy_of_all_files(
    iana: FakeIana, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    store = tmp_path / "boot"
    await refresh_bootstrap(store, iana.base)
    before = snapshot(store)
    # IANA publishes a new dns.json, but the ipv4.json served with it is broken:
    # nothing may change, not even the valid dns.json (the set is replaced as a whole).
    dns = json.loads(iana.files["dns.json"])
    dns["publication"] = "2026-11-28T00:00:00Z"
    iana.files["dns.json"] = json.dumps(dns).encode()
    iana.mode = "corrupt-ipv4"

    assert await run_cli("--dir", str(store), "--source", iana.base) == 1
    assert snapshot(store) == before
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 5
    assert lines[1].startswith("ipv4.json: kept last good copy (publication 2019-06-07T19:00:02Z)")
    assert "not a valid bootstrap" in lines[1] and "not valid JSON" in lines[1]
    assert lines[0].startswith("dns.json: kept last good copy (publication 2025-11-06T23:00:01Z)")
    assert "ipv4.json failed" in lines[0]
    assert err.startswith("rdaplab: warning: bootstrap refresh failed") and str(store) in err


async def test_http_error_is_reported_for_its_file(iana: FakeIana, tmp_path: Path):
    store = tmp_path / "boot"
    await refresh_bootstrap(store, iana.base)
    iana.mode = "503-asn"
    report = await refresh_bootstrap(store, iana.base)
    assert not report.ok and report.kept_last_good
    by_name = {f.name: f for f in report.files}
    assert by_name["asn.json"].status == "failed"
    assert "HTTP 503" in by_name["asn.json"].detail
    assert by_name["dns.json"].status == "not_modified"


async def test_server_down_keeps_last_good_copy(iana: FakeIana, tmp_path: Path, capsys):
    store = tmp_path / "boot"
    await refresh_bootstrap(store, iana.base)
    before = snapshot(store)
    assert await run_cli("--dir", str(store), "--source", closed_port_url(), "--timeout", "5") == 1
    assert snapshot(store) == before
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 5 and all("kept last good copy" in ln for ln in out)
    assert all("the download failed" in ln for ln in out)


async def test_no_copy_and_server_down_exits_2(tmp_path: Path, capsys):
    store = tmp_path / "boot"
    assert await run_cli("--dir", str(store), "--source", closed_port_url()) == 2
    out, err = capsys.readouterr()
    assert all(ln.split(": ")[1].startswith("not stored because") for ln in out.splitlines())
    err_lines = err.strip().splitlines()
    assert len(err_lines) == 1 and err_lines[0].startswith("rdaplab: error: ")
    assert "no usable copy" in err_lines[0] and "bundled snapshot" in err_lines[0]
    assert not store.exists()


async def test_corrupt_stored_copy_is_repaired_without_validators(iana: FakeIana, tmp_path):
    store = tmp_path / "boot"
    await refresh_bootstrap(store, iana.base)
    (store / "asn.json").write_text("{broken")
    iana.requests.clear()
    report = await refresh_bootstrap(store, iana.base)
    # The broken copy is no fallback: no validators sent (a 304 would keep it broken).
    assert report.ok and not report.previous
    assert all("If-None-Match" not in h for _, h in iana.requests)
    assert (store / "asn.json").read_bytes() == iana.files["asn.json"]


async def test_plain_http_source_off_loopback_is_refused(tmp_path: Path, capsys):
    with pytest.raises(InputError, match="https is required off loopback"):
        await refresh_bootstrap(tmp_path / "boot", "http://data.iana.org/rdap/")
    assert await run_cli("--dir", str(tmp_path / "boot"), "--source", "http://example.org/") == 2
    assert "refusing plain http" in capsys.readouterr().err
    with pytest.raises(InputError, match="not an http"):
        await refresh_bootstrap(tmp_path / "boot", "file:///etc/")


async def test_redirect_off_loopback_to_plain_http_is_refused(iana: FakeIana, tmp_path: Path):
    iana.mode = "redirect-off-loopback"
    report = await refresh_bootstrap(tmp_path / "boot", iana.base)
    dns = report.files[0]
    assert dns.status == "failed" and "refusing plain http" in dns.detail
    assert not report.replaced and not (tmp_path / "boot").exists()


async def test_a_directory_with_other_files_is_not_replaced(iana: FakeIana, tmp_path: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "thesis.tex").write_text("precious")
    with pytest.raises(InputError, match="holds other files"):
        await refresh_bootstrap(docs, iana.base)
    assert (docs / "thesis.tex").read_text() == "precious"


# --------------------------------------------------------------------------- which copy


async def test_load_prefers_the_refreshed_copy(iana: FakeIana, isolated_store: Path):
    assert Bootstrap.load(None).source == "bundled"
    await refresh_bootstrap(None, iana.base)  # the env var's directory
    assert user_bootstrap_dir() == isolated_store
    with warnings.catch_warnings():
        # Freshly checked, so no staleness warning, although ipv4.json says 2019:
        # IANA bumps publication only when a file changes.
        warnings.simplefilter("error", BootstrapStaleWarning)
        boot = Bootstrap.load(None)
    assert boot.source == "refreshed" and boot.directory == isolated_store
    assert boot.publication == "2019-06-07T19:00:02Z"  # the oldest file in use
    assert set(boot.fetched) == set(BOOTSTRAP_FILES)
    assert boot.age_days() is not None and boot.age_days() < 1  # type: ignore[operator]
    assert boot.domain("example.com").base_url == "https://rdap.verisign.com/com/v1/"  # type: ignore[union-attr]
    with_override = Bootstrap.load(None, {"example": "https://rdap.example.test/"})
    assert with_override.source == "refreshed"


# --------------------------------------------------------------------------- staleness


def _iso(delta: timedelta) -> str:
    return (datetime.now(timezone.utc) - delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def age_metadata(store: Path, days: int) -> None:
    for meta_file in store.glob("*.meta.json"):
        meta = json.loads(meta_file.read_text())
        meta["fetched_at"] = _iso(timedelta(days=days))
        meta_file.write_text(json.dumps(meta))


async def test_refreshed_copy_not_checked_for_long_is_stale(iana: FakeIana, isolated_store: Path):
    await refresh_bootstrap(None, iana.base)
    age_metadata(isolated_store, days=40)
    with pytest.warns(BootstrapStaleWarning, match=r"40 days old \(last checked against IANA"):
        boot = Bootstrap.load(None)
    assert boot.source == "refreshed"
    # A new refresh makes it fresh again, and a later staleness would be said again.
    await refresh_bootstrap(None, iana.base)
    with warnings.catch_warnings():
        warnings.simplefilter("error", BootstrapStaleWarning)
        assert not Bootstrap.load(None).warn_if_stale()


def test_bundled_snapshot_reports_its_age(capsys: pytest.CaptureFixture[str]):
    assert main(["bootstrap", "show", "example.com"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith(f"bootstrap in use: bundled snapshot {bootstrap_dir()}, publication ")
    assert "2019-06-07T19:00:02Z to 2025-11-12T23:00:01Z" in last
