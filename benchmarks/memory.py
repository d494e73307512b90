#!/usr/bin/env python
"""Streaming memory benchmark: peak RSS of ``rdaplab.stream`` as the input grows.

Each size runs in a fresh child process (peaks of two runs never mix) that streams a
generated CSV file, scanned in chunks, against a zero-latency, unlimited registry served
by ``rdaplab simulate`` in another process. The child reports its own peak RSS
(``VmHWM``), wall time and names/s. Target (scheduler issue): 1,000,000 names with a peak
RSS <= 400 MB and within 1.2x the peak at 100,000.

Usage::

    python benchmarks/memory.py                       # 100k and 1M (~20 minutes)
    python benchmarks/memory.py --sizes 100000        # one size
    python benchmarks/memory.py --quick               # 5k and 15k (the smoke size)
    python benchmarks/memory.py --json results.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import SimulatorProcess, unpaced

TARGET_PEAK_MB = 400.0
TARGET_RATIO = 1.2
CONCURRENCY = 16
SCENARIO: dict[str, Any] = {
    "seed": 11,
    "description": "rdaplab streaming memory: one zero-latency registry without limits",
    "registries": [{"name": "fast", "tlds": ["dev"], "template": "google-registry/web.dev.json"}],
}


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB (``VmHWM``; ru_maxrss as a fallback)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_names(path: Path, n: int) -> Path:
    """A CSV file of ``n`` distinct names (plus one other column), written in pieces."""
    with path.open("w", encoding="utf-8") as fh:
        fh.write("domain,id\n")
        for start in range(0, n, 100_000):
            fh.writelines(f"m{i:08d}.dev,{i}\n" for i in range(start, min(n, start + 100_000)))
    return path


async def _stream_child(csv: Path, cache: Path, bootstrap: Path, chunk_size: int) -> dict[str, Any]:
    from rdaplab.batch import stream

    rows = ok = batches = 0
    last_done = 0
    kinds: dict[str, int] = {}
    t0 = time.perf_counter()
    async with contextlib.aclosing(
        stream(
            csv,
            cache=cache,
            bootstrap=bootstrap,
            limits=unpaced(CONCURRENCY),
            progress=False,
            chunk_size=chunk_size,
        )
    ) as it:
        async for batch in it:
            batches += 1
            rows += batch.domains.height
            ok += int((batch.domains["outcome"] == "ok").sum())
            for kind, count in batch.domains["error_kind"].drop_nulls().value_counts().iter_rows():
                kinds[kind] = kinds.get(kind, 0) + int(count)
            last_done = batch.done
    wall = time.perf_counter() - t0
    return {
        "rows": rows,
        "ok": ok,
        "done": last_done,
        "error_kinds": kinds,
        "batches": batches,
        "wall_s": round(wall, 2),
        "names_per_s": round(rows / wall, 1) if wall else None,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "cache_mb": round(
            sum(p.stat().st_size for p in cache.parent.glob(cache.name + "*")) / 2**20, 1
        ),
    }


def _run_child(csv: Path, cache: Path, bootstrap: Path, chunk_size: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", str(csv), str(cache), str(bootstrap)]
    cmd += ["--chunk-size", str(chunk_size)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"child failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def streaming_memory(
    tmp: Path,
    *,
    sizes: tuple[int, ...] = (100_000, 1_000_000),
    quick: bool = False,
    chunk_size: int = 10_000,
) -> dict[str, Any]:
    """Stream each size in a fresh child process; peak RSS, time and rate per size.

    Parameters
    ----------
    tmp
        Working directory (CSV inputs, one cache file per size, the simulator's files).
    sizes
        Names per run; ``quick`` replaces them with (5_000, 15_000).
    chunk_size
        ``stream(chunk_size=...)``.

    Returns
    -------
    dict
        ``sizes`` ({n: child result}), ``ratio_1m_to_100k`` (peak RSS of the largest size
        over the smallest; keyed so for the default sizes), ``peak_mb_1m`` (peak RSS of
        the largest size), the targets and whether they were met.
    """
    if quick:
        sizes = (5_000, 15_000)
    tmp.mkdir(parents=True, exist_ok=True)
    results: dict[int, dict[str, Any]] = {}
    with SimulatorProcess(SCENARIO, tmp) as sim:
        for n in sizes:
            csv = write_names(tmp / f"names-{n}.csv", n)
            cache = tmp / f"stream-{n}.duckdb"
            for leftover in tmp.glob(cache.name + "*"):
                leftover.unlink()
            res = _run_child(csv, cache, sim.bootstrap, chunk_size)
            if res["rows"] != n or res["ok"] != n or res["done"] != n:
                raise RuntimeError(f"{n} names: wrong counts {res}")
            results[n] = res
            csv.unlink()
            for f in tmp.glob(cache.name + "*"):
                f.unlink()  # a 1M-name cache is several GB
    small, large = results[min(results)], results[max(results)]
    ratio = large["peak_rss_mb"] / small["peak_rss_mb"]
    return {
        "sizes": results,
        "ratio_1m_to_100k": round(ratio, 3),
        "peak_mb_1m": large["peak_rss_mb"],
        "target_peak_mb": TARGET_PEAK_MB,
        "target_ratio": TARGET_RATIO,
        "met": large["peak_rss_mb"] <= TARGET_PEAK_MB and ratio <= TARGET_RATIO,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument(
        "--child", nargs=3, metavar=("CSV", "CACHE", "BOOTSTRAP"), help=argparse.SUPPRESS
    )
    ap.add_argument("--chunk-size", type=int, default=10_000)
    ap.add_argument("--sizes", type=lambda s: tuple(int(x) for x in s.split(",")))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--workdir", type=Path)
    args = ap.parse_args(argv)
    if args.child:
        csv, cache, boot = (Path(p) for p in args.child)
        print(json.dumps(asyncio.run(_stream_child(csv, cache, boot, args.chunk_size))))
        return 0
    with tempfile.TemporaryDirectory(prefix="rdaplab-mem-") as tmpdir:
        work = args.workdir or Path(tmpdir)
        kwargs: dict[str, Any] = {"quick": args.quick, "chunk_size": args.chunk_size}
        if args.sizes:
            kwargs["sizes"] = args.sizes
        out = streaming_memory(work, **kwargs)
    for n, res in out["sizes"].items():
        print(
            f"{n:>10,} names  peak RSS {res['peak_rss_mb']:7.1f} MB  {res['wall_s']:8.1f} s  "
            f"{res['names_per_s']:8,.0f} names/s  cache {res['cache_mb']:,.0f} MB"
        )
    print(
        f"RESULT streaming_memory peak_mb={out['peak_mb_1m']} ratio={out['ratio_1m_to_100k']} "
        f"met={out['met']}"
    )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
