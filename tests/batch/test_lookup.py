"""The lookup engine end to end against the loopback simulator and real DuckDB files."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import rdaplab
from rdaplab import Cache, Limits, Retry
from rdaplab.frames import DOMAINS_SCHEMA
from rdaplab.simulator import SimulatorThread

VERISIGN = "verisign/google.com-2024.json"
MARKMONITOR = "markmonitor/GOOGLE.COM-2024.json"
FAST = Limits(per_host_rate_per_s=None, per_host_concurrency=8)
QUICK_RETRY = Retry(backoff_initial_s=0.01, backoff_max_s=0.05, retry_after_max_s=3.0)


def reg(name: str, tlds: list[str], template: str = VERISIGN, **kw: Any) -> dict[str, Any]:
    return {"name": name, "tlds": tlds, "template": template, **kw}


def scenario(*registries: dict[str, Any]) -> dict[str, Any]:
    return {"seed": 3, "registries": list(registries)}


async def run(sim: Any, tmp_path: Path, values: Any, **kw: Any) -> rdaplab.LookupResult:
    boot = tmp_path / "bootstrap"
    if not boot.exists():
        sim.write_bootstrap(boot)
    kw.setdefault("cache", tmp_path / "cache.duckdb")
    kw.setdefault("limits", FAST)
    kw.setdefault("retry", QUICK_RETRY)
    kw.setdefault("progress", False)
    return await rdaplab.lookup_async(values, bootstrap=boot, **kw)


def requests(sim: Any, name: str) -> int:
    return sim.stats()[name].requests


async def test_values_match_what_the_registry_served(simulator, tmp_path):
    sim = await simulator(scenario(reg("r", ["test"], latency_ms={"mean": 2, "jitter": 1})))
    names = [f"alpha{i}.test" for i in range(20)]
    result = await run(sim, tmp_path, names)
    d = result.domains
    assert d.schema == DOMAINS_SCHEMA
    assert d["outcome"].to_list() == ["ok"] * 20
    for row in d.iter_rows(named=True):
        exp = sim.expected(row["domain"])
        assert exp is not None
        assert row["handle"] == exp.handle
        assert row["registrar"] == exp.registrar
        assert row["registrar_iana_id"] == exp.registrar_iana_id
        assert row["registration_date"] == exp.registration_date
        assert row["expiration_date"] == exp.expiration_date
        assert row["last_changed_date"] == exp.last_changed_date
        assert row["nameservers"] == exp.nameservers
        assert row["registry_url"] == sim.base_url("r")
        assert row["fetched_at"].tzinfo is not None
        assert row["attempts"] == 1 and row["from_cache"] is False
    assert result.summary["requests"] == 20 == requests(sim, "r")


async def test_every_row_gets_exactly_one_outcome_in_input_order(simulator, tmp_path):
    sim = await simulator(scenario(reg("r", ["test"])))
    values = [
        "Alpha.TEST.",  # case and trailing dot
        "nx-missing.test",  # not found
        "-bad-.test",  # invalid label
        "",  # empty
        None,  # not a string
        "example.nosuchtld",  # no RDAP service
        "alpha.test",  # duplicate of the first after normalization
        "bücher.test",  # IDN
    ]
    result = await run(sim, tmp_path, values)
    d = result.domains
    assert d["query"].to_list() == [
        "Alpha.TEST.",
        "nx-missing.test",
        "-bad-.test",
        "",
        None,
        "example.nosuchtld",
        "alpha.test",
        "bücher.test",
    ]
    assert d["outcome"].to_list() == [
        "ok",
        "not_found",
        "error",
        "error",
        "error",
        "error",
        "ok",
        "ok",
    ]
    assert d["error_kind"].to_list() == [
        None,
        None,
        "invalid_query",
        "invalid_query",
        "invalid_query",
        "no_rdap_service",
        None,
        None,
    ]
    assert d["domain"][0] == d["domain"][6] == "alpha.test"
    assert d["domain"][2:5].to_list() == [None, None, None]  # invalid values have no name
    assert d["domain"][7] == "xn--bcher-kva.test" and d["unicode_name"][7] == "bücher.test"
    assert all(detail for detail in d.filter(pl.col("outcome") == "error")["error_detail"])
    # Duplicates are fetched once; invalid and service-less names never cause a request.
    assert requests(sim, "r") == 3
    s = result.summary
    assert (s["total"], s["unique"], s["ok"], s["not_found"], s["error"]) == (8, 4, 3, 1, 4)
    assert s["error_kinds"] == {"invalid_query": 3, "no_rdap_service": 1}


async def test_referral_to_registrar_is_followed(simulator, tmp_path):
    sim = await simulator(
        scenario(
            reg("registry", ["test"], refer_to="registrar"),
            reg("registrar", [], MARKMONITOR, role="registrar",
                registrar_name="MarkMonitor Inc.", registrar_iana_id="292"),
        )
    )  # fmt: skip
    result = await run(sim, tmp_path, ["one.test", "two.test"])
    d = result.domains
    assert d["referral_status"].to_list() == ["followed", "followed"]
    for row in d.iter_rows(named=True):
        exp = sim.expected(row["domain"])
        assert row["registrar_url"] == exp.registrar_url
        assert row["registrar"] == "MarkMonitor Inc." and row["registrar_iana_id"] == "292"
        assert row["attempts"] == 2
    assert requests(sim, "registrar") == 2
    # Both raw answers are kept, linked, registry first.
    with Cache(tmp_path / "cache.duckdb") as cache:
        stored = cache.responses("domain")
    assert sorted(stored["depth"].to_list()) == [0, 0, 1, 1]
    assert set(result.entities["source"].unique()) == {"registry", "registrar"}


async def test_failed_referral_keeps_the_registry_answer(simulator, tmp_path):
    sim = await simulator(
        scenario(
            reg("registry", ["test"], refer_to="registrar"),
            reg("registrar", [], MARKMONITOR, role="registrar", error_rate=1.0, retry_after="none"),
        )
    )
    result = await run(sim, tmp_path, ["one.test"])
    row = result.domains.row(0, named=True)
    assert row["outcome"] == "ok"
    assert row["referral_status"] == "referral_failed"
    assert "referral" in row["error_detail"]
    assert row["handle"] == sim.expected("one.test").handle  # registry data kept
    assert requests(sim, "registrar") == QUICK_RETRY.max_attempts


async def test_referral_to_a_dead_registrar_is_referral_failed(simulator, tmp_path):
    sim = await simulator(
        scenario(
            reg("registry", ["test"], refer_to="registrar"),
            reg("registrar", [], MARKMONITOR, role="registrar", dead=True),
        )
    )
    result = await run(sim, tmp_path, ["one.test", "two.test"])
    assert result.domains["outcome"].to_list() == ["ok", "ok"]
    assert result.domains["referral_status"].to_list() == ["referral_failed"] * 2


@pytest.mark.parametrize("style", ["seconds", "http-date"])
async def test_429_retry_after_parks_the_host_and_all_rows_complete(simulator, tmp_path, style):
    sim = await simulator(
        scenario(reg("r", ["test"], rate_limit={"rate_per_s": 4, "burst": 2}, retry_after=style))
    )
    names = [f"n{i}.test" for i in range(8)]
    t0 = time.monotonic()
    result = await run(sim, tmp_path, names, retry=Retry(retry_after_max_s=5.0))
    elapsed = time.monotonic() - t0
    d = result.domains
    assert d["outcome"].to_list() == ["ok"] * 8
    a = result.attempts
    throttled = a.filter(pl.col("throttled"))
    assert throttled.height >= 1 and result.summary["throttled"] == throttled.height
    assert (throttled["status"] == 429).all()
    assert throttled["retry_after_s"].is_not_null().all()
    assert sim.stats()["r"].throttled == throttled.height
    # The host was parked for Retry-After (>= 1 s in both forms) before retrying.
    assert elapsed >= 0.9
    # While a host is parked nothing is sent to it: no attempt starts between a throttled
    # answer's arrival and the end of the Retry-After it carried (50 ms tolerance).
    starts = a["started_at"].to_list()
    for row in throttled.iter_rows(named=True):
        answered = row["started_at"] + timedelta(milliseconds=row["latency_ms"])
        park_end = answered + timedelta(seconds=row["retry_after_s"])
        early = [
            t
            for t in starts
            if answered + timedelta(milliseconds=50) < t < park_end - timedelta(milliseconds=50)
        ]
        assert early == [], (row, early)


async def test_persistent_429_ends_as_rate_limited(simulator, tmp_path):
    sim = await simulator(
        scenario(
            reg("r", ["test"], rate_limit={"rate_per_s": 0.01, "burst": 1}, retry_after="none")
        )
    )
    retry = Retry(max_throttled=2, retry_after_default_s=0.05)
    result = await run(sim, tmp_path, ["a.test", "b.test"], retry=retry)
    kinds = sorted(result.domains["error_kind"].to_list(), key=str)
    assert kinds.count("rate_limited") >= 1
    # A rate-limited answer is never cached: the next run asks again.
    sim.reset_stats()
    await run(sim, tmp_path, ["a.test", "b.test"], retry=retry)
    assert requests(sim, "r") >= 1


async def test_dead_host_fails_fast_and_does_not_slow_the_others(simulator, tmp_path):
    sim = await simulator(
        scenario(
            reg("dead", ["zip"], dead=True),
            reg("live", ["test"], latency_ms={"mean": 5, "jitter": 2}),
        )
    )
    dead_names = [f"d{i}.zip" for i in range(60)]
    live_names = [f"l{i}.test" for i in range(60)]
    values = [v for pair in zip(dead_names, live_names, strict=True) for v in pair]
    t0 = time.monotonic()
    result = await run(sim, tmp_path, values, retry=Retry(backoff_initial_s=0.2, dead_host_after=4))
    elapsed = time.monotonic() - t0
    d = result.domains
    dead = d.filter(pl.col("tld") == "zip")
    live = d.filter(pl.col("tld") == "test")
    assert (dead["error_kind"] == "connection_error").all()
    assert (live["outcome"] == "ok").all()
    dead_attempts = result.attempts.filter(pl.col("host") == dead["registry_url"][0].split("/")[2])
    assert dead_attempts.height < 20  # marked down after a few failures, not 60 x 4 attempts
    assert elapsed < 5.0


async def test_duplicates_are_fetched_once(simulator, tmp_path):
    sim = await simulator(scenario(reg("r", ["test"])))
    values = ["same.test"] * 50 + ["SAME.test."] * 50 + ["other.test"]
    result = await run(sim, tmp_path, values)
    assert requests(sim, "r") == 2
    assert result.domains.height == 101
    assert result.domains["handle"].n_unique() == 2


async def test_second_run_is_served_from_cache_with_zero_requests(simulator, tmp_path):
    sim = await simulator(scenario(reg("r", ["test"])))
    names = [f"c{i}.test" for i in range(30)] + ["nx-gone.test"]
    first = await run(sim, tmp_path, names)
    sim.reset_stats()
    second = await run(sim, tmp_path, names)
    assert requests(sim, "r") == 0
    assert second.summary["requests"] == 0
    assert second.summary["cache_hits"] == 31
    assert second.domains["from_cache"].all()
    keep = ["domain", "outcome", "handle", "registrar", "registration_date", "nameservers"]
    assert second.domains.select(keep).equals(first.domains.select(keep))
    # max_age=0 (or refresh) asks again.
    third = await run(sim, tmp_path, names[:5], max_age=0)
    assert third.summary["requests"] == 5 and not third.domains["from_cache"].any()


async def test_not_found_answers_expire_sooner(simulator, tmp_path):
    sim = await simulator(scenario(reg("r", ["test"])))
    await run(sim, tmp_path, ["nx-a.test", "b.test"])
    sim.reset_stats()
    result = await run(sim, tmp_path, ["nx-a.test", "b.test"], not_found_max_age=0.001)
    assert requests(sim, "r") == 1  # only the not-found name was asked again
    assert result.domains["from_cache"].to_list() == [False, True]


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ({"error_rate": 1.0, "retry_after": "none"}, "http_error"),
        ({"malformed_rate": 1.0}, "parse_error"),
        ({"drop_rate": 1.0}, "connection_error"),
    ],
)
async def test_persistent_faults_end_as_classified_errors(simulator, tmp_path, fault, kind):
    sim = await simulator(scenario(reg("r", ["test"], **fault)))
    retry = Retry(backoff_initial_s=0.01, backoff_max_s=0.02, retry_after_max_s=0.05,
                  retry_after_default_s=0.01, max_throttled=2, dead_host_after=50)  # fmt: skip
    result = await run(sim, tmp_path, ["a.test", "b.test"], retry=retry)
    d = result.domains
    if kind == "http_error":
        # 503s carry Retry-After in the simulator's error mix: they may end rate_limited.
        assert set(d["error_kind"]) <= {"http_error", "rate_limited"}
    else:
        assert d["error_kind"].to_list() == [kind, kind]
    assert (d["attempts"] >= 2).all()
    with Cache(tmp_path / "cache.duckdb") as cache:
        assert cache.responses("domain").height == 0  # failures are not cached as answers
        assert cache.attempts().height == result.attempts.height > 0


async def test_transient_faults_are_retried_to_success(simulator, tmp_path):
    sim = await simulator(scenario(reg("r", ["test"], error_rate=0.3, retry_after="none")))
    names = [f"t{i}.test" for i in range(40)]
    # Retries, not the circuit breaker, are under test: 30 % 5xx can line up 5 in a row.
    retry = Retry(backoff_initial_s=0.01, max_attempts=8, dead_host_after=1_000)
    result = await run(sim, tmp_path, names, retry=retry)
    assert (result.domains["outcome"] == "ok").all()
    assert result.summary["requests"] > 40  # some needed retries


async def test_tasks_stay_bounded_whatever_the_input_size(simulator, tmp_path):
    sim = await simulator(scenario(reg("a", ["test"]), reg("b", ["example"])))
    names = [f"x{i}.test" for i in range(1500)] + [f"y{i}.example" for i in range(1500)]
    peak = 0

    def progress(snapshot: Any) -> None:
        nonlocal peak
        peak = max(peak, len(asyncio.all_tasks()))

    limits = Limits(per_host_rate_per_s=None, per_host_concurrency=6)
    result = await run(sim, tmp_path, names, limits=limits, progress=progress)
    assert result.summary["ok"] == 3000
    # Workers (<= 6 per host) plus the in-process simulator's connection and handler tasks:
    # bounded by concurrency, nowhere near one task per input row.
    assert 0 < peak < 50


async def test_per_host_concurrency_is_respected(simulator, tmp_path):
    sim = await simulator(scenario(reg("r", ["test"], latency_ms={"mean": 20, "jitter": 5})))
    limits = Limits(per_host_rate_per_s=None, per_host_concurrency=3)
    await run(sim, tmp_path, [f"p{i}.test" for i in range(30)], limits=limits)
    assert sim.stats()["r"].peak_in_flight == 3


async def test_per_host_rate_is_respected(simulator, tmp_path):
    sim = await simulator(scenario(reg("r", ["test"])))
    limits = Limits(
        per_host_rate_per_s=20.0, per_host_burst=1, per_host_concurrency=8, adaptive=False
    )
    t0 = time.monotonic()
    await run(sim, tmp_path, [f"q{i}.test" for i in range(21)], limits=limits)
    assert time.monotonic() - t0 >= 0.95  # 21 requests at 20/s: 20 gaps of 50 ms


async def test_attempts_log_and_summary(simulator, tmp_path):
    sim = await simulator(scenario(reg("r", ["test"], latency_ms={"mean": 5, "jitter": 1})))
    result = await run(sim, tmp_path, [f"s{i}.test" for i in range(10)])
    a = result.attempts
    assert a.height == 10
    assert set(a["batch_id"]) == {result.batch_id}
    assert (a["status"] == 200).all() and (a["bytes"] > 0).all()
    assert a["started_at"].dtype == pl.Datetime("us", "UTC")
    s = result.summary
    for key in ("total", "unique", "ok", "not_found", "error", "requests", "throttled",
                "cache_hits", "elapsed_s"):  # fmt: skip
        assert key in s
    (registry,) = s["registries"]
    assert registry["registry_url"] == sim.base_url("r")
    assert registry["names"] == 10 and registry["requests"] == 10
    assert registry["latency_ms_p50"] >= 3.0
    assert "10 rows" in repr(result)


async def test_input_forms(simulator, tmp_path):
    sim = await simulator(scenario(reg("r", ["test"])))
    frame = pl.DataFrame({"domain": ["a.test", "b.test"], "other": [1, 2]})
    assert (await run(sim, tmp_path, frame)).domains.height == 2
    assert (await run(sim, tmp_path, frame.lazy())).domains.height == 2
    assert (await run(sim, tmp_path, frame["domain"])).domains.height == 2
    assert (await run(sim, tmp_path, pl.DataFrame({"host": ["a.test"]}))).domains.height == 1
    text = tmp_path / "names.txt"
    text.write_text("# comment\na.test\n\nb.test\n")
    assert (await run(sim, tmp_path, text)).domains["domain"].to_list() == ["a.test", "b.test"]
    with pytest.raises(rdaplab.InputError, match="column"):
        await run(sim, tmp_path, frame.rename({"domain": "d"}))
    with pytest.raises(rdaplab.InputError, match="not found"):
        await run(sim, tmp_path, tmp_path / "missing.csv")


async def test_sync_lookup_inside_a_running_loop_uses_a_loop_thread(tmp_path):
    # The pytest loop is running here, as a notebook kernel's is: lookup() must not fail
    # with "event loop is already running" and must not deadlock.
    with SimulatorThread(scenario(reg("r", ["test"]))) as sim:
        boot = sim.write_bootstrap(tmp_path / "boot")
        result = rdaplab.lookup(
            ["a.test", "b.test"], bootstrap=boot, cache=":memory:", progress=False, limits=FAST
        )
    assert result.domains["outcome"].to_list() == ["ok", "ok"]
    assert result.domains["fetched_at"][0].utcoffset() == timedelta(0)


def test_sync_lookup_in_a_script(tmp_path):
    with SimulatorThread(scenario(reg("r", ["test"]))) as sim:
        boot = sim.write_bootstrap(tmp_path / "boot")
        result = rdaplab.lookup(["a.test"], bootstrap=boot, cache=tmp_path / "c.duckdb",
                                progress=False, limits=FAST)  # fmt: skip
    assert result.summary["ok"] == 1 and result.cache_path == str(tmp_path / "c.duckdb")


async def test_bootstrap_overrides_route_unknown_tlds(simulator, tmp_path):
    sim = await simulator(scenario(reg("r", ["test"])))
    result = await rdaplab.lookup_async(
        ["a.test"],
        bootstrap_overrides={"test": sim.base_url("r")},  # on top of the bundled IANA file
        cache=":memory:",
        progress=False,
        limits=FAST,
    )
    assert result.domains["outcome"].to_list() == ["ok"]


async def test_locked_cache_is_a_clear_error(simulator, tmp_path):
    import subprocess
    import sys

    sim = await simulator(scenario(reg("r", ["test"])))
    path = tmp_path / "held.duckdb"
    Cache(path).close()
    holder = subprocess.Popen(  # noqa: ASYNC220 - a plain holder process, read once
        [sys.executable, "-c",
         "import sys, duckdb; c = duckdb.connect(sys.argv[1]); print('ok', flush=True); "
         "sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        with pytest.raises(rdaplab.CacheLockedError) as info:
            await run(sim, tmp_path, ["a.test"], cache=path)
        assert str(path) in str(info.value)
    finally:
        holder.communicate("")


async def test_a_cache_that_cannot_be_written_stops_the_batch_with_its_error(
    simulator, tmp_path, monkeypatch
):
    sim = await simulator(scenario(reg("r", ["test"], latency_ms={"mean": 5, "jitter": 1})))
    cache = Cache(tmp_path / "c.duckdb")

    def broken(rows: Any) -> None:
        raise rdaplab.CacheError("disk full (simulated)")

    monkeypatch.setattr(cache, "store_responses", broken)
    with pytest.raises(rdaplab.CacheError, match="disk full"):
        await run(sim, tmp_path, [f"w{i}.test" for i in range(20)], cache=cache)
    cache.close()


@contextlib.asynccontextmanager
async def serve_route(route: str, handler: Any) -> AsyncIterator[str]:
    """A one-route RDAP server on loopback, for answers the simulator does not make."""
    from aiohttp import web

    app = web.Application()
    app.router.add_get(route, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_odd_jcards_and_a_broken_progress_display_do_not_hang_the_batch(
    tmp_path, monkeypatch
):
    # A registry serving a jCard whose property name is a list (found by fuzzing).
    from aiohttp import web

    bad = {
        "objectClassName": "domain",
        "ldhName": "bad.test",
        "entities": [
            {"roles": ["registrant"], "vcardArray": ["vcard", [[["fn"], {}, "text", "x"]]]}
        ],
    }

    async def handler(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        doc = bad if name.startswith("bad") else {"objectClassName": "domain", "ldhName": name}
        return web.json_response(doc, content_type="application/rdap+json")

    async with serve_route("/r/domain/{name}", handler) as base:
        calls: list[int] = []

        def broken_progress(snapshot: Any) -> None:
            calls.append(1)
            raise RuntimeError("display went away")

        kw: dict[str, Any] = {
            "bootstrap_overrides": {"test": f"{base}/r/"},
            "cache": tmp_path / "c.duckdb",
            "limits": FAST,
        }
        result = await asyncio.wait_for(
            rdaplab.lookup_async(["bad.test", "ok.test"], progress=broken_progress, **kw),
            timeout=30,
        )
        assert result.domains["outcome"].to_list() == ["ok", "ok"]  # tolerated
        assert len(calls) == 1  # the broken renderer was disabled, the batch went on

        # Should a shape still defeat the parser, that row is a parse_error, the batch
        # ends, and the unreadable answer is not cached (the next run asks again).
        from rdaplab.frames import build as frames_module

        real = frames_module.parse_domain

        def picky(doc: Any, registrar_doc: Any = None) -> Any:
            if doc.get("ldhName") == "bad.test":
                raise TypeError("unhashable type: 'list'")
            return real(doc, registrar_doc)

        real_parse = frames_module.parse_body

        def picky_body(body: Any, source: str = "registry") -> Any:  # the fast path
            if b'"bad.test"' in bytes(body):
                raise TypeError("unhashable type: 'list'")
            return real_parse(body, source)

        monkeypatch.setattr(frames_module, "parse_domain", picky)
        monkeypatch.setattr(frames_module, "parse_body", picky_body)
        kw["cache"] = tmp_path / "c2.duckdb"
        result = await asyncio.wait_for(
            rdaplab.lookup_async(["bad.test", "ok.test"], progress=False, **kw), timeout=30
        )
        assert result.domains["outcome"].to_list() == ["error", "ok"]
        assert result.domains["error_kind"][0] == "parse_error"
        again = await rdaplab.lookup_async(["bad.test", "ok.test"], progress=False, **kw)
        assert again.domains["from_cache"].to_list() == [False, True]


async def test_registries_sharing_a_host_are_counted_apart(tmp_path):
    # Like rdap.verisign.com/com/v1/ and /net/v1/: one host, two registries.
    from aiohttp import web

    async def handler(request: web.Request) -> web.Response:
        doc = {"objectClassName": "domain", "ldhName": request.match_info["name"]}
        return web.json_response(doc, content_type="application/rdap+json")

    async with serve_route("/{tld}/v1/domain/{name}", handler) as base:
        result = await rdaplab.lookup_async(
            [f"a{i}.alpha-test" for i in range(7)] + ["b.beta-test", "c.beta-test"],
            bootstrap_overrides={"alpha-test": f"{base}/one/v1/", "beta-test": f"{base}/two/v1/"},
            cache=":memory:",
            progress=False,
            limits=FAST,
        )
    regs = {r["registry_url"]: r for r in result.summary["registries"]}
    assert regs[f"{base}/one/v1/"]["requests"] == 7 and regs[f"{base}/one/v1/"]["names"] == 7
    assert regs[f"{base}/two/v1/"]["requests"] == 2 and regs[f"{base}/two/v1/"]["names"] == 2
    (host,) = result.summary["hosts"]
    assert host["requests"] == 9


# --------------------------------------------------------------------------- priorities


def test_resolve_priorities_accepts_every_documented_form(tmp_path):
    from rdaplab.batch.plan import resolve_priorities

    rows = [("a.test", "a.test"), ("B.test", "b.test"), ("a.test", "a.test")]
    raw = [v for v, _ in rows]
    assert resolve_priorities(None, raw, raw, rows) == {}
    assert resolve_priorities("high", raw, raw, rows) == {"a.test": 1, "b.test": 1}
    fn = lambda name: "critical" if name.startswith("b") else "low"  # noqa: E731
    assert resolve_priorities(fn, raw, raw, rows) == {"a.test": 3, "b.test": 0}
    assert resolve_priorities({"b.test": "critical"}, raw, raw, rows) == {
        "a.test": 2,
        "b.test": 0,
    }
    # Per row: a name given several classes gets the highest.
    assert resolve_priorities(["low", "normal", "high"], raw, raw, rows) == {
        "a.test": 1,
        "b.test": 2,
    }
    frame = pl.DataFrame({"domain": raw, "tier": ["low", None, "critical"]})
    assert resolve_priorities("tier", frame, raw, rows) == {"a.test": 0, "b.test": 2}
    csv = tmp_path / "in.csv"
    frame.write_csv(csv)
    assert resolve_priorities("tier", csv, raw, rows) == {"a.test": 0, "b.test": 2}


@pytest.mark.parametrize(
    ("priority", "message"),
    [
        ("urgent", "neither a class nor a column"),
        (["high"], "1 values for 3 input rows"),
        (lambda name: "soon", "unknown priority 'soon'"),
    ],
)
def test_bad_priorities_are_one_clear_input_error(priority, message):
    from rdaplab.batch.plan import resolve_priorities

    rows = [("a.test", "a.test"), ("b.test", "b.test"), ("c.test", "c.test")]
    raw = pl.DataFrame({"domain": [v for v, _ in rows]})
    with pytest.raises(rdaplab.InputError, match=message):
        resolve_priorities(priority, raw, [v for v, _ in rows], rows)


async def test_priority_column_orders_requests_within_a_host(simulator, tmp_path):
    sim = await simulator(scenario(reg("r", ["test"])))
    names = [f"p{i:02d}.test" for i in range(12)]
    tiers = ["low"] * 6 + ["critical"] * 3 + ["normal"] * 3
    frame = pl.DataFrame({"domain": names, "tier": tiers})
    one_at_a_time = Limits(
        per_host_rate_per_s=None, per_host_concurrency=1, max_concurrency=1, adaptive=False
    )
    result = await run(sim, tmp_path, frame, limits=one_at_a_time, priority="tier")
    sent = result.attempts.sort("started_at")
    order = sent["priority"].to_list()
    # The first request may leave before the rest are queued; after it, classes in order.
    assert order[1:] == sorted(order[1:], key=["critical", "high", "normal", "low"].index)
    assert set(sent.filter(pl.col("priority") == "critical")["query"]) == set(names[6:9])
    assert (result.domains["outcome"] == "ok").all()
