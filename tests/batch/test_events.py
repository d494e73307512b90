"""Monitoring hooks: ``on_event=`` records and alerts, against the loopback simulator (real
HTTP), plus the alert monitor's episode rule on a fake clock."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import pytest

import rdaplab
from rdaplab import (
    AlertThresholds,
    Cache,
    Event,
    InputError,
    Limits,
    LookupOptions,
    Retry,
)
from rdaplab.batch.events import EVENT_TYPES, Alert, BatchFinished, Progress, kind_of
from rdaplab.batch.monitor import AlertMonitor, percentile_ms
from rdaplab.batch.progress import ProgressSnapshot, format_line
from rdaplab.batch.run import BatchRun
from rdaplab.engine import authority
from rdaplab.engine.breaker import Breaker
from rdaplab.errors import FetchError
from rdaplab.rdap import Bootstrap

VERISIGN = "verisign/google.com-2024.json"
FAST = Limits(per_host_rate_per_s=None, per_host_concurrency=8)
QUICK_RETRY = Retry(backoff_initial_s=0.01, backoff_max_s=0.05, retry_after_max_s=0.3)
# A registry throttling above 100/s (Retry-After: 1 s), met at full speed (no pacing, 8
# at a time): most requests are throttled. Parks are cut to 0.1 s (the batch takes about
# a second), so a row meets more throttles: enough tries that every row still ends ok.
THROTTLING = {"rate_limit": {"rate_per_s": 100, "burst": 4}}
PATIENT = Retry(backoff_initial_s=0.01, backoff_max_s=0.05, retry_after_max_s=0.1,
                max_throttled=50)  # fmt: skip


def reg(name: str, tlds: list[str], **kw: Any) -> dict[str, Any]:
    return {"name": name, "tlds": tlds, "template": VERISIGN, **kw}


def scenario(*registries: dict[str, Any]) -> dict[str, Any]:
    return {"seed": 5, "registries": list(registries)}


async def run(
    sim: Any, tmp_path: Path, values: list[str], **kw: Any
) -> tuple[rdaplab.LookupResult, list[Event]]:
    events: list[Event] = []
    boot = tmp_path / "bootstrap"
    if not boot.exists():
        sim.write_bootstrap(boot)
    kw.setdefault("cache", tmp_path / "cache.duckdb")
    kw.setdefault("limits", FAST)
    kw.setdefault("retry", QUICK_RETRY)
    kw.setdefault("event_interval_s", 0.05)
    kw.setdefault("on_event", events.append)
    kw.setdefault("progress", False)
    result = await rdaplab.lookup_async(values, bootstrap=boot, **kw)
    return result, events


def of(events: list[Event], kind: str) -> list[Any]:
    return [e for e in events if e.kind == kind]


# --------------------------------------------------------------------------- end to end


async def test_events_arrive_in_order_with_monotone_progress(simulator, tmp_path):
    sim = await simulator(scenario(reg("r", ["test"], latency_ms={"mean": 30, "jitter": 5})))
    names = [f"n{i}.test" for i in range(60)]
    result, events = await run(
        sim, tmp_path, names, limits=Limits(per_host_rate_per_s=None, per_host_concurrency=4)
    )
    kinds = [e.kind for e in events]
    assert kinds[0] == "batch_started" and kinds[-1] == "batch_finished"
    assert kinds.count("batch_started") == kinds.count("batch_finished") == 1
    assert set(kinds[1:-1]) <= {"progress", "alert", "alert_cleared"}, kinds
    started, finished = events[0], events[-1]
    assert started.total == 60 and started.cache == str(tmp_path / "cache.duckdb")
    assert {e.batch_id for e in events} == {result.summary["batch_id"]}
    assert [e.at for e in events] == sorted(e.at for e in events)

    progress: list[Progress] = of(events, "progress")
    assert len(progress) >= 3  # ~0.5 s of work at one every 0.05 s, and the last
    percents = [p.percent for p in progress]
    assert all(p is not None for p in percents)
    assert percents == sorted(percents)  # type: ignore[type-var]
    assert any(0 < p < 100 for p in percents)  # type: ignore[operator]
    assert [p.finished for p in progress] == [False] * (len(progress) - 1) + [True]
    last = progress[-1]
    assert (last.done, last.total, last.percent, last.eta_s) == (60, 60, 100.0, 0.0)
    host = authority(sim.base_url("r"))
    assert last.hosts[host]["done"] == 60 and last.hosts[host]["requests"] == 60

    s = result.summary
    assert isinstance(finished, BatchFinished)
    assert (finished.done, finished.total, finished.ok) == (60, 60, s["ok"])
    assert (finished.requests, finished.throttled) == (s["requests"], s["throttled"])
    assert (finished.errors, finished.elapsed_s) == (s["error"], s["elapsed_s"])
    assert not finished.stopped_early and not finished.cancelled and finished.error is None


async def test_a_throttling_host_reports_throttles_parks_and_one_alert(simulator, tmp_path):
    sim = await simulator(
        scenario(reg("r", ["test"], **THROTTLING))
    )  # fmt: skip
    names = [f"t{i}.test" for i in range(40)]
    result, events = await run(sim, tmp_path, names, retry=PATIENT)
    host = authority(sim.base_url("r"))

    throttles = of(events, "host_throttled")
    assert len(throttles) == result.summary["throttled"] >= 1
    for t in throttles:
        assert (t.host, t.status) == (host, 429)
        assert t.retry_after_s is not None and t.retry_after_s >= 1  # the simulator's header
        assert t.decision and t.reason
    parks = of(events, "host_parked")
    assert parks and all(p.host == host and 0 < p.seconds <= 0.11 for p in parks)
    # One event per park started (or notably extended), not one per throttle of a burst.
    assert len(parks) < len(throttles)
    assert result.domains["outcome"].to_list() == ["ok"] * 40

    share = result.summary["throttled"] / result.summary["requests"]
    assert share > 0.05
    alerts = of(events, "alert")
    assert [a.name for a in alerts] == ["throttled_share"]  # once: one episode
    (alert,) = alerts
    assert alert.threshold == 0.05 and alert.value > 0.05 and alert.level == "warning"
    assert "throttled share" in alert.message
    assert not of(events, "alert_cleared")
    # Active from then on: every later progress lists it.
    after = [e for e in events[events.index(alert) :] if e.kind == "progress"]
    assert after and all("throttled_share" in p.alerts for p in after)
    assert of(events, "progress")[-1].throttled == result.summary["throttled"]


async def test_a_dead_host_opens_its_breaker_and_raises_the_error_alert(simulator, tmp_path):
    sim = await simulator(scenario(reg("gone", ["zip"], dead=True), reg("live", ["test"])))
    values = [f"d{i}.zip" for i in range(30)] + [f"l{i}.test" for i in range(30)]
    retry = Retry(backoff_initial_s=0.01, backoff_max_s=0.02, dead_host_after=3)
    result, events = await run(sim, tmp_path, values, retry=retry)
    dead = authority(sim.base_url("gone"))
    opened = of(events, "breaker_opened")
    assert [e.host for e in opened] == [dead]
    assert "circuit open" in opened[0].reason
    assert not of(events, "host_throttled")
    assert result.summary["error"] == 30
    errors = of(events, "alert")
    assert [a.name for a in errors] == ["error_share"]
    assert errors[0].threshold == 0.10 and 0.10 < errors[0].value <= 1.0


async def test_a_used_up_quota_exhausts_the_host(simulator, tmp_path):
    sim = await simulator(scenario(reg("q", ["test"], daily_quota=5, quota_day_s=3_600)))
    names = [f"q{i}.test" for i in range(20)]
    result, events = await run(sim, tmp_path, names)
    host = authority(sim.base_url("q"))
    (exhausted,) = of(events, "host_exhausted")
    assert (exhausted.host, exhausted.cause) == (host, "quota")
    assert "quota" in exhausted.reason
    stops = [e for e in of(events, "host_throttled") if e.decision == "stop_host"]
    assert stops and events.index(stops[0]) < events.index(exhausted)
    assert result.summary["error_kinds"].get("rate_limited", 0) >= 15


async def test_a_slow_host_raises_the_latency_alert(simulator, tmp_path):
    sim = await simulator(scenario(reg("r", ["test"], latency_ms={"mean": 120, "jitter": 5})))
    names = [f"s{i}.test" for i in range(24)]
    alerts = AlertThresholds(p99_latency_s=0.06, min_requests=20)
    _, events = await run(sim, tmp_path, names, alerts=alerts)
    (alert,) = of(events, "alert")
    assert alert.name == "p99_latency_s" and alert.threshold == 0.06
    assert 0.1 < alert.value < 0.3  # ~0.12 s answers


async def test_the_cache_hit_floor_only_alerts_when_a_repeat_misses(simulator, tmp_path):
    sim = await simulator(scenario(reg("r", ["test"])))
    names = [f"c{i}.test" for i in range(25)]
    alerts = AlertThresholds(min_cache_hit_share=0.5)
    _, first = await run(sim, tmp_path, names, alerts=alerts)
    assert [a.name for a in of(first, "alert")] == ["cache_hit_share"]
    _, again = await run(sim, tmp_path, names, alerts=alerts)  # every answer cached now
    assert of(again, "alert") == [] and of(again, "progress")[-1].cache_hits == 25
    # ... and without a floor (the default), a first run alerts on nothing.
    _, plain = await run(sim, tmp_path, [f"o{i}.test" for i in range(25)])
    assert of(plain, "alert") == []


async def test_a_progress_renderer_shows_alerts_without_a_handler(simulator, tmp_path):
    sim = await simulator(scenario(reg("r", ["test"], **THROTTLING)))
    snapshots: list[ProgressSnapshot] = []
    names = [f"w{i}.test" for i in range(40)]
    result, events = await run(
        sim, tmp_path, names, on_event=None, progress=snapshots.append, retry=PATIENT
    )
    assert events == [] and result.summary["throttled"] >= 20
    final = snapshots[-1]
    assert final.finished and len(final.alerts) == 1
    assert final.alerts[0].startswith("throttled share")
    assert "ALERT throttled share" in format_line(final)
    assert not snapshots[0].alerts  # none before the first requests


async def test_a_raising_handler_does_not_break_the_batch(simulator, tmp_path, caplog):
    sim = await simulator(
        scenario(reg("r", ["test"], **THROTTLING))
    )  # fmt: skip
    seen: list[str] = []

    def broken(event: Event) -> None:
        seen.append(event.kind)
        raise RuntimeError("monitor down")

    names = [f"b{i}.test" for i in range(40)]
    with caplog.at_level(logging.ERROR, logger="rdaplab"):
        result, _ = await run(sim, tmp_path, names, on_event=broken, retry=PATIENT)
    assert result.domains["outcome"].to_list() == ["ok"] * 40
    assert result.summary["throttled"] >= 1  # host events raised too (scheduler path)
    assert seen[0] == "batch_started" and seen[-1] == "batch_finished"
    assert "host_throttled" in seen and "progress" in seen
    logged = [r for r in caplog.records if "on_event handler raised" in r.getMessage()]
    assert len(logged) == 1  # once per batch, not once per event


async def test_every_event_is_json_ready(simulator, tmp_path):
    sim = await simulator(
        scenario(reg("r", ["test"], **THROTTLING), reg("gone", ["zip"], dead=True))
    )  # fmt: skip
    values = [f"j{i}.test" for i in range(40)] + [f"j{i}.zip" for i in range(5)]
    retry = dataclasses.replace(PATIENT, dead_host_after=2)
    _, events = await run(sim, tmp_path, values, retry=retry)
    kinds = {e.kind for e in events}
    assert {"batch_started", "progress", "host_throttled", "host_parked", "breaker_opened",
            "alert", "batch_finished"} <= kinds  # fmt: skip
    for event in events:
        d = event.to_dict()
        assert next(iter(d)) == "kind" and d["kind"] == event.kind
        assert set(d) == {f.name for f in dataclasses.fields(event)}
        back = json.loads(json.dumps(d, allow_nan=False))
        assert back == d
        assert type(event) is EVENT_TYPES[event.kind]
    assert json.dumps(of(events, "progress")[-1].to_dict()["hosts"])  # nested: plain dicts


async def test_a_stream_of_unknown_length_left_early(simulator, tmp_path):
    sim = await simulator(scenario(reg("r", ["test"], latency_ms={"mean": 5})))
    boot = sim.write_bootstrap(tmp_path / "boot")
    events: list[Event] = []
    values = (f"g{i}.test" for i in range(200))  # a generator: no length known up front
    stream = rdaplab.stream(
        values, bootstrap=boot, cache=tmp_path / "c.duckdb", limits=FAST, retry=QUICK_RETRY,
        progress=False, on_event=events.append, event_interval_s=0.05, chunk_size=50,
        batch_rows=50,
    )  # fmt: skip
    async with contextlib.aclosing(stream) as batches:
        async for _ in batches:
            break  # leave after the first batch: a clean, early stop
    started, finished = events[0], events[-1]
    assert started.kind == "batch_started" and started.streamed and started.total is None
    progress = of(events, "progress")
    assert all(p.total is None and p.percent is None for p in progress[:-1])
    last = progress[-1]  # at the end, the total is what was read (admitted)
    assert last.finished and last.total is not None and last.done <= last.total <= 200
    assert isinstance(finished, BatchFinished)
    assert finished.stopped_early and not finished.cancelled and finished.error is None
    assert 50 <= finished.done < 200


async def test_a_cancelled_run_ends_with_a_cancelled_batch_finished(simulator, tmp_path):
    slow = reg("slow", ["test"], latency_ms={"mean": 40})
    sim = await simulator(scenario(slow))
    boot = Bootstrap.load(sim.write_bootstrap(tmp_path / "boot"))
    events: list[Event] = []
    one = Limits(per_host_rate_per_s=None, per_host_concurrency=1, adaptive=False)
    options = LookupOptions(limits=one, retry=QUICK_RETRY, progress=False, on_event=events.append)
    with Cache(tmp_path / "c.duckdb") as store:
        batch = BatchRun(options, store=store, bootstrap=boot)
        with pytest.raises(asyncio.CancelledError):
            async with batch:
                await batch.admit([f"x{i}.test" for i in range(40)])
                while len(batch.ready) < 2:
                    await batch.wait()
                batch.cancel()
                await batch.drain()
    finished = events[-1]
    assert isinstance(finished, BatchFinished)
    assert finished.cancelled and finished.stopped_early and finished.error is None
    assert 2 <= finished.done < 40
    assert [e.kind for e in events].count("batch_finished") == 1
    assert of(events, "progress")[-1].finished


async def test_no_handler_no_monitoring(simulator, tmp_path):
    sim = await simulator(scenario(reg("r", ["test"])))
    boot = Bootstrap.load(sim.write_bootstrap(tmp_path / "boot"))
    with Cache(tmp_path / "c.duckdb") as store:
        quiet = BatchRun(LookupOptions(progress=False), store=store, bootstrap=boot)
        async with quiet:
            await quiet.admit(["a.test"])
            await quiet.drain()
            assert quiet._monitor is None and quiet._watcher is None
            assert quiet._scheduler is not None and quiet._scheduler._on_host_event is None
            quiet.completed = True
        watched = BatchRun(
            LookupOptions(progress=False, on_event=lambda e: None), store=store, bootstrap=boot
        )
        async with watched:
            await watched.admit(["a.test"])
            await watched.drain()
            assert watched._monitor is not None and watched._watcher is not None
            watched.completed = True


# --------------------------------------------------------------------------- records, options


def test_event_records_are_frozen_keyword_only_and_kind_is_fixed() -> None:
    a = Alert(batch_id="b", name="error_share", message="m", value=0.2, threshold=0.1, at=1.0)
    assert a.kind == "alert" and a.to_dict()["at"] == 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.value = 0.3  # type: ignore[misc]
    with pytest.raises(TypeError):
        Alert("b", "error_share", "m", 0.2, 0.1)  # type: ignore[misc]  # keyword-only
    with pytest.raises(TypeError):
        Alert(batch_id="b", name="x", message="m", value=1, threshold=1, kind="other")  # type: ignore[call-arg]
    assert all(kind_of(cls) == kind for kind, cls in EVENT_TYPES.items())
    assert all(issubclass(cls, Event) for cls in EVENT_TYPES.values())
    assert json.dumps(Progress(batch_id="b", done=0, total=None, percent=None,
                               rate_per_s=float("nan"), eta_s=float("inf"), elapsed_s=0.0,
                               ok=0, not_found=0, errors=0, cache_hits=0, requests=0,
                               throttled=0).to_dict(), allow_nan=False)  # fmt: skip


def test_options_and_thresholds_validate() -> None:
    with pytest.raises(InputError, match="event_interval_s"):
        LookupOptions(event_interval_s=0)
    with pytest.raises(InputError, match="on_event"):
        LookupOptions(on_event="print")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="alerts"):
        LookupOptions(alerts={"throttled_share": 0.1})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="throttled_share"):
        AlertThresholds(throttled_share=5)
    with pytest.raises(ValueError, match="min_requests"):
        AlertThresholds(min_requests=0)
    off = AlertThresholds.off()
    assert (off.throttled_share, off.error_share, off.p99_latency_s) == (None, None, None)
    doc = rdaplab.lookup.__doc__ or ""
    assert "on_event" in doc and "alerts" in doc and "event_interval_s" in doc


# --------------------------------------------------------------------------- the monitor


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def feed(m: AlertMonitor, n: int, *, throttled: int = 0, latency_ms: float = 50.0) -> None:
    for i in range(n):
        m.add_attempt(latency_ms, i < throttled)


def test_an_alert_is_raised_once_per_episode_with_hysteresis() -> None:
    clock = Clock()
    m = AlertMonitor(AlertThresholds(min_requests=20, window_s=60.0), clock=clock)
    feed(m, 3, throttled=3)  # 100 % of 3 requests: too few to judge
    assert m.evaluate(rows=0, cache_hits=0) == [] and not m.active
    feed(m, 97, throttled=7)  # 10 of 100
    (v,) = m.evaluate(rows=0, cache_hits=0)
    assert (v.name, v.raised, v.value, v.threshold) == ("throttled_share", True, 0.1, 0.05)
    feed(m, 50, throttled=2)  # 12 of 150 = 8 %: still in the episode, no new alert
    assert m.evaluate(rows=0, cache_hits=0) == [] and "throttled_share" in m.active
    feed(m, 100)  # 12 of 250 = 4.8 %: under 5 % but not under 4 % (hysteresis)
    assert m.evaluate(rows=0, cache_hits=0) == []
    feed(m, 60)  # 12 of 310 = 3.9 %: the episode ends
    (v,) = m.evaluate(rows=0, cache_hits=0)
    assert (v.name, v.raised) == ("throttled_share", False) and not m.active
    feed(m, 30, throttled=20)  # 32 of 340: a new episode
    (v,) = m.evaluate(rows=0, cache_hits=0)
    assert v.raised


def test_the_window_forgets_old_requests() -> None:
    clock = Clock()
    m = AlertMonitor(AlertThresholds(window_s=10.0), clock=clock)
    feed(m, 100, throttled=50)
    assert [v.raised for v in m.evaluate(rows=0, cache_hits=0)] == [True]
    clock.now += 11.0  # all of it has left the window
    feed(m, 100)
    (v,) = m.evaluate(rows=0, cache_hits=0)
    assert (v.raised, v.value) == (False, 0.0)


def test_error_share_latency_and_cache_floor() -> None:
    clock = Clock()
    t = AlertThresholds(min_requests=20, min_cache_hit_share=0.5)
    m = AlertMonitor(t, clock=clock)
    for i in range(40):
        m.add_lookup(error=i < 6)  # 15 %
    feed(m, 97, latency_ms=100.0)
    feed(m, 3, latency_ms=8_000.0)  # p99 in the slow tail
    got = {v.name: v for v in m.evaluate(rows=40, cache_hits=10)}
    assert set(got) == {"error_share", "p99_latency_s", "cache_hit_share"}
    assert got["error_share"].value == pytest.approx(0.15)
    assert 5.0 < got["p99_latency_s"].value < 9.0
    assert got["cache_hit_share"].value == 0.25 and got["cache_hit_share"].threshold == 0.5
    # Back over the floor with the margin: (1 + 0.2) * 0.5 = 0.6.
    assert m.evaluate(rows=100, cache_hits=55) == []
    (v,) = [v for v in m.evaluate(rows=100, cache_hits=61) if v.name == "cache_hit_share"]
    assert not v.raised


def test_percentile_from_the_histogram_is_close() -> None:
    clock = Clock()
    m = AlertMonitor(AlertThresholds(), clock=clock)
    for ms in range(1, 1001):  # 1..1000 ms: p99 = 990 ms
        m.add_attempt(float(ms), False)
    hist = list(m._cur.hist)  # the counts not yet filed in the window
    p99 = percentile_ms(hist, 0.99)
    assert p99 == pytest.approx(990.0, rel=0.05)
    assert percentile_ms([0] * len(hist), 0.99) is None


async def test_the_breaker_reports_opening_and_closing() -> None:
    changes: list[tuple[str, str]] = []
    breaker = Breaker(
        "h:443",
        Retry(dead_host_after=2, breaker_cooldown_s=0.0),
        on_change=lambda state, reason: changes.append((state, reason)),
    )
    err = FetchError("connection_error", "refused")
    assert breaker.failure("connection_error", err, probe=False) is None
    assert breaker.failure("connection_error", err, probe=False) is not None
    assert [s for s, _ in changes] == ["open"] and "circuit open" in changes[0][1]
    assert await breaker.gate(object(), lambda: False)  # cool-down over: a probe
    breaker.ok(probe=True)
    assert [s for s, _ in changes] == ["open", "closed"]


# --------------------------------------------------------------------------- renderers


def test_the_text_line_shows_active_alerts() -> None:
    base = dict(total=10, done=5, ok=5, not_found=0, errors=0, cache_hits=0, requests=5,
                throttled=2, elapsed_s=1.0)  # fmt: skip
    assert "ALERT" not in format_line(ProgressSnapshot(**base))  # type: ignore[arg-type]
    line = format_line(
        ProgressSnapshot(**base, alerts=("throttled share 40 %: 2 of 5 requests",))  # type: ignore[arg-type]
    )
    assert line.endswith("| ALERT throttled share 40 %")
