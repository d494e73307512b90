"""rdaplab.stream end to end against the loopback simulator and real DuckDB files."""

from __future__ import annotations

import contextlib
import importlib
import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from rdaplab import Cache, Limits, Retry
from rdaplab.batch import StreamBatch, stream
from rdaplab.frames import DOMAINS_SCHEMA

ROOT = Path(__file__).resolve().parents[2]
FAST = Limits(per_host_rate_per_s=None, per_host_concurrency=16, max_concurrency=16)
QUICK_RETRY = Retry(backoff_initial_s=0.01, backoff_max_s=0.05, retry_after_max_s=3.0)
SCENARIO = {
    "seed": 3,
    "registries": [{"name": "r", "tlds": ["test"], "template": "verisign/google.com-2024.json"}],
}


async def collect(sim: Any, tmp_path: Path, values: Any, **kw: Any) -> list[StreamBatch]:
    boot = tmp_path / "bootstrap"
    if not boot.exists():
        sim.write_bootstrap(boot)
    kw.setdefault("cache", tmp_path / "cache.duckdb")
    kw.setdefault("limits", FAST)
    kw.setdefault("retry", QUICK_RETRY)
    kw.setdefault("progress", False)
    out = []
    async with contextlib.aclosing(stream(values, bootstrap=boot, **kw)) as batches:
        async for batch in batches:
            out.append(batch)
    return out


def batch_row(cache_path: Path, batch_id: str) -> tuple[Any, ...]:
    with Cache(cache_path, read_only=True) as c:
        rows = c._c.execute(
            "SELECT total, unique_queries, finished_at, summary FROM batches WHERE batch_id = ?",
            [batch_id],
        ).fetchall()
    assert len(rows) == 1
    return tuple(rows[0])


async def test_every_row_arrives_once_with_the_served_values(simulator, tmp_path):
    sim = await simulator(SCENARIO)
    names = [f"s{i % 2_700}.test" for i in range(3_000)]  # 300 repeats across chunks
    names[10] = "nx-gone.test"
    names[20] = "-bad-.test"
    names[30] = "example.nosuchtld"
    batches = await collect(sim, tmp_path, names, chunk_size=400, batch_rows=300)
    assert len(batches) > 3  # results came in pieces, not at the end
    d = pl.concat([b.domains for b in batches])
    assert d.columns == ["row", *DOMAINS_SCHEMA.names()]
    assert d.schema["row"] == pl.Int64
    assert dict(d.drop("row").schema) == dict(DOMAINS_SCHEMA)
    d = d.sort("row")
    assert d["row"].to_list() == list(range(3_000))  # each row exactly once
    assert d["query"].to_list() == names  # order restorable by `row`
    outcomes = dict(zip(d["query"], d["outcome"], strict=True))
    assert outcomes["nx-gone.test"] == "not_found"
    kinds = dict(zip(d["query"], d["error_kind"], strict=True))
    assert kinds["-bad-.test"] == "invalid_query"
    assert kinds["example.nosuchtld"] == "no_rdap_service"
    for row in d.filter(pl.col("outcome") == "ok").head(200).iter_rows(named=True):
        exp = sim.expected(row["domain"])
        assert exp is not None
        assert row["registrar"] == exp.registrar
        assert row["expiration_date"] == exp.expiration_date
        assert row["nameservers"] == exp.nameservers
    assert d.filter(pl.col("outcome") == "ok").height == 3_000 - 3
    # Repeats were looked up once (in flight) or answered by the cache: one request each.
    assert sim.stats()["r"].requests == 2_700 + 1  # s10, s20, s30 recur; nx-gone.test
    # Details once per distinct domain of a batch.
    ev = pl.concat([b.events for b in batches])
    assert ev.group_by("domain", "source", "action").len()["len"].max() <= 2


async def test_progress_fields(simulator, tmp_path):
    sim = await simulator(SCENARIO)
    names = [f"p{i}.test" for i in range(1_200)]
    batches = await collect(sim, tmp_path, names, chunk_size=200, batch_rows=200)
    dones = [b.done for b in batches]
    assert dones == sorted(dones) and dones[-1] == 1_200
    assert [b.done for b in batches] == list(
        itertools.accumulate(b.domains.height for b in batches)
    )
    for b in batches:
        assert b.total == 1_200
        assert b.elapsed_s > 0 and b.rate_per_s > 0
        assert b.eta_s is not None and b.eta_s >= 0
    assert batches[-1].eta_s == 0
    assert len({b.batch_id for b in batches}) == 1
    # The stream is one batch in the cache, with its summary.
    total, unique, finished_at, summary = batch_row(tmp_path / "cache.duckdb", batches[0].batch_id)
    summary = json.loads(summary)
    assert (total, unique) == (1_200, 1_200) and finished_at is not None
    assert summary["ok"] == 1_200 and summary["requests"] == 1_200
    assert summary["stopped_early"] is False and summary["streamed"] is True
    # What the scheduler learned is in the stream's summary too.
    (host,) = summary["hosts"]
    assert host["requests"] == 1_200 and host["throttled_share"] == 0.0
    assert host["achieved_rate_per_s"] > 0 and "learned_max_rate_per_s" in host
    assert "lower_bound_s" in summary and "efficiency" in summary


async def test_an_iterator_has_no_total_and_a_rerun_is_all_cache_hits(simulator, tmp_path):
    sim = await simulator(SCENARIO)
    names = [f"g{i}.test" for i in range(500)]
    first = await collect(sim, tmp_path, iter(names), chunk_size=100)
    assert all(b.total is None and b.eta_s is None for b in first)
    assert first[-1].done == 500
    again = await collect(sim, tmp_path, (n for n in names), chunk_size=100)
    d = pl.concat([b.domains for b in again])
    assert d.height == 500 and d["from_cache"].all()
    assert sim.stats()["r"].requests == 500  # nothing asked twice


async def test_a_file_is_read_in_chunks(simulator, tmp_path, monkeypatch):
    sim = await simulator(SCENARIO)
    names = [f"f{i}.test" for i in range(1_000)]
    csv = tmp_path / "names.csv"
    pl.DataFrame({"id": range(1_000), "domain": names}).write_csv(csv)
    txt = tmp_path / "names.txt"
    txt.write_text("# a comment\n\n" + "\n".join(names[:300]) + "\n", encoding="utf-8")
    pq = tmp_path / "names.parquet"
    pl.DataFrame({"name": names[:700]}).write_parquet(pq)

    mod = importlib.import_module("rdaplab.batch.api")
    from rdaplab.batch.run import BatchRun

    sizes: list[int] = []
    orig = BatchRun.admit

    async def spy(self: Any, values: list[Any], **kwargs: Any) -> None:
        sizes.append(len(values))
        await orig(self, values, **kwargs)

    monkeypatch.setattr(BatchRun, "admit", spy)
    # Reading the whole file at once would go through read_named_values: forbid it.
    monkeypatch.setattr(mod, "read_named_values", None)
    for source, column, n in ((csv, None, 1_000), (str(txt), None, 300), (pq, "name", 700)):
        sizes.clear()
        batches = await collect(sim, tmp_path, source, column=column, chunk_size=128)
        d = pl.concat([b.domains for b in batches]).sort("row")
        assert d["query"].to_list() == names[:n]
        assert batches[0].total == n
        assert max(sizes) <= 128 and sum(sizes) == n and len(sizes) >= n // 128


async def test_lazy_frame_and_series_inputs(simulator, tmp_path):
    sim = await simulator(SCENARIO)
    names = [f"z{i}.test" for i in range(400)]
    lazy = pl.LazyFrame({"domain": names, "other": range(400)}).filter(pl.col("other") % 2 == 0)
    batches = await collect(sim, tmp_path, lazy, chunk_size=64)
    d = pl.concat([b.domains for b in batches]).sort("row")
    assert d["query"].to_list() == names[::2] and batches[0].total == 200
    batches = await collect(sim, tmp_path, pl.Series(names[:50]), chunk_size=16)
    assert pl.concat([b.domains for b in batches]).height == 50


async def test_breaking_early_keeps_committed_answers(simulator, tmp_path):
    sim = await simulator(
        {
            "seed": 3,
            "registries": [
                {
                    "name": "r",
                    "tlds": ["test"],
                    "template": "verisign/google.com-2024.json",
                    "latency_ms": {"mean": 5, "jitter": 2},
                }
            ],
        }
    )
    boot = tmp_path / "bootstrap"
    sim.write_bootstrap(boot)
    cache_path = tmp_path / "cache.duckdb"
    names = [f"e{i}.test" for i in range(5_000)]
    seen: list[str] = []
    gen = stream(
        names,
        cache=cache_path,
        bootstrap=boot,
        limits=FAST,
        progress=False,
        chunk_size=200,
        batch_rows=100,
    )
    async with contextlib.aclosing(gen) as batches:
        async for batch in batches:
            seen.extend(batch.domains["domain"].to_list())
            batch_id = batch.batch_id
            if len(seen) >= 300:
                break
    # Closing cancelled the rest promptly: far fewer than all names were asked.
    asked = sim.stats()["r"].requests
    assert asked < 2_000
    with Cache(cache_path, read_only=True) as c:
        stored = set(c.responses("domain")["query"].to_list())
    assert set(seen) <= stored  # every yielded answer is in the cache
    assert len(stored) >= len(seen)
    _, _, finished_at, summary = batch_row(cache_path, batch_id)
    assert finished_at is not None and json.loads(summary)["stopped_early"] is True
    # A rerun answers what was fetched from the cache and asks only for the rest.
    sim.reset_stats()
    batches = await collect(sim, tmp_path, names, chunk_size=1_000, cache=cache_path)
    d = pl.concat([b.domains for b in batches])
    assert d.height == 5_000 and d["from_cache"].sum() == len(stored)
    assert sim.stats()["r"].requests == 5_000 - len(stored)


async def test_bad_input_fails_before_any_work(tmp_path):
    from rdaplab.errors import InputError

    with pytest.raises(InputError, match="not found"):
        async for _ in stream(tmp_path / "missing.csv", cache=tmp_path / "c.duckdb"):
            pass
    (tmp_path / "two.csv").write_text("a,b\nx.test,y.test\n", encoding="utf-8")
    with pytest.raises(InputError, match="column"):
        async for _ in stream(tmp_path / "two.csv", cache=tmp_path / "c.duckdb"):
            pass
    with pytest.raises(InputError):
        async for _ in stream(42, cache=tmp_path / "c.duckdb"):
            pass
    assert not (tmp_path / "c.duckdb").exists()


@pytest.mark.slow
def test_peak_memory_is_flat_as_the_input_grows(tmp_path):
    """10k vs 30k names, each in a fresh process (benchmarks/memory.py).

    Small sizes keep the suite fast (this was its slowest test at 20k/60k: 67-107 s);
    `make bench` checks 100k vs 1M strictly.
    """
    script = (
        "import json, sys; sys.path.insert(0, 'benchmarks'); from pathlib import Path;"
        "from memory import streaming_memory;"
        f"print(json.dumps(streaming_memory(Path({str(tmp_path)!r}), sizes=(10000, 30000))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=280
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    peaks = {int(n): r["peak_rss_mb"] for n, r in out["sizes"].items()}
    assert peaks[30000] <= 1.3 * peaks[10000], peaks
    assert peaks[30000] <= 500, peaks


async def test_priority_is_checked_before_any_work(tmp_path):
    from rdaplab import InputError

    for bad in ("urgent", {"a.test": "soon"}, 42):
        with pytest.raises(InputError, match="priority"):
            async for _ in stream(["a.test"], priority=bad, cache=tmp_path / "c.duckdb"):
                pass
    assert not (tmp_path / "c.duckdb").exists()  # refused before the cache was opened
