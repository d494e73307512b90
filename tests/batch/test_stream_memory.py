"""A stream or a lookup never imports pandas (~40 MB resident), even when it is installed.

pyarrow imports pandas the first time it converts Python objects to an array (``pa.array``,
``pa.table``, ``Table.from_arrays``: it probes for pandas Series), so a single such call
anywhere on the stream's path costs every user who has pandas installed ~40 MB of peak
memory; the 1M-name streaming benchmark missed its 400 MB target that way. Each check
runs in a fresh interpreter (``sys.executable -c``): this test process has long since
imported pandas through other tests.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pandas") is None,
    reason="pandas is not installed: nothing could import it",
)

# Modules whose presence means pandas was (or was about to be) imported.
_PANDAS_MODULES = ("pandas", "pyarrow.pandas_compat")

_PRELUDE = """
import asyncio, contextlib, json, sys
from pathlib import Path

tmp = Path(sys.argv[1])
SCENARIO = {
    "seed": 3,
    "registries": [{"name": "r", "tlds": ["test"], "template": "verisign/google.com-2024.json"}],
}

def report(**extra):
    loaded = [m for m in ("pandas", "pyarrow.pandas_compat") if m in sys.modules]
    print(json.dumps({"loaded": loaded, **extra}))
"""

_CACHE_CHILD = """
from datetime import datetime, timezone
from rdaplab.store.cache import Cache
from rdaplab.models import Attempt, Response

now = datetime.now(timezone.utc)
with Cache(tmp / "c.duckdb") as c:
    c.store_responses([
        Response("domain", f"n{i}.test", 0, "http://r/", "http://r/", 200 if i % 5 else 404,
                 {"content-type": "application/rdap+json"}, b'{"ldhName": "n.test"}', now, 3.0,
                 batch_id="b", lookup_id=f"L{i}")
        for i in range(50)
    ])
    c.store_attempts([
        Attempt("b", "r:80", "http://r/", "domain", f"n{i}.test", now, 3.0, 200, 20, None, None)
        for i in range(50)
    ])
    hits = c.lookup_fresh("domain", [f"n{i}.test" for i in range(60)],
                          max_age_s=3600, not_found_ttl_s=3600)
report(hits=len(hits))
"""

_STREAM_CHILD = """
import rdaplab
from rdaplab import Limits
from rdaplab.simulator import Simulator
from rdaplab.batch import stream

FAST = Limits(per_host_rate_per_s=None, per_host_concurrency=8, max_concurrency=8)

async def main():
    sim = Simulator(SCENARIO)
    await sim.start()
    try:
        sim.write_bootstrap(tmp / "boot")
        csv = tmp / "names.csv"
        csv.write_text("domain\\n" + "".join(f"s{i}.test\\n" for i in range(300)))
        rows = []
        for _ in range(2):  # cold (fetch + insert), then warm (lookup_fresh hits)
            n = 0
            async with contextlib.aclosing(stream(
                csv, cache=tmp / "c.duckdb", bootstrap=tmp / "boot", limits=FAST,
                progress=False, chunk_size=100,
            )) as batches:
                async for batch in batches:
                    n += batch.domains.height
            rows.append(n)
        res = await rdaplab.lookup_async(
            [f"s{i}.test" for i in range(250, 320)], cache=tmp / "c.duckdb",
            bootstrap=tmp / "boot", limits=FAST, progress=False,
        )
        return rows, res.domains.height, int((res.domains["outcome"] == "ok").sum())
    finally:
        await sim.stop()

rows, looked_up, ok = asyncio.run(main())
report(rows=rows, looked_up=looked_up, ok=ok)
"""


def _run_child(body: str, tmp_path: Path) -> dict[str, object]:
    code = textwrap.dedent(_PRELUDE) + textwrap.dedent(body)
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_cache_writes_and_reads_never_import_pandas(tmp_path: Path) -> None:
    # The bulk inserts (store_responses, store_attempts) and lookup_fresh: the paths
    # _CacheWriter and the stream's admission go through.
    res = _run_child(_CACHE_CHILD, tmp_path)
    assert res["hits"] == 50  # the work was really done (404s are fresh too)
    assert res["loaded"] == []


def test_stream_and_lookup_never_import_pandas(tmp_path: Path) -> None:
    res = _run_child(_STREAM_CHILD, tmp_path)
    assert res["rows"] == [300, 300]
    assert res["looked_up"] == 70
    assert res["ok"] == 70
    assert res["loaded"] == []
