"""The ``rdaplab`` command line end to end: real subprocesses against a loopback simulator.

Every case runs ``python -m rdaplab ...`` in a child process with ``cwd=tmp_path``, the
simulator's bootstrap directory and a DuckDB cache file in ``tmp_path``, and checks exit
codes, stdout/stderr and the files written. The fenced ``console`` examples of
``docs/cli.md`` for ``bootstrap show``, ``psl show`` and ``--version`` are replayed against
the real CLI.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from rdaplab import Cache
from rdaplab._version import __version__
from rdaplab.cli import build_parser
from rdaplab.frames import DOMAINS_SCHEMA
from rdaplab.rdap.psl import PublicSuffixes
from rdaplab.simulator import SimulatorThread

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "cli.md"
TEMPLATE = "verisign/google.com-2024.json"
SUMMARY_KEYS = {
    "total",
    "unique",
    "ok",
    "not_found",
    "error",
    "requests",
    "throttled",
    "cache_hits",
    "elapsed_s",
}
# Served by the simulator: `nx-` first labels are 404s. `foo.es` has no service in the
# simulator's bootstrap; `-bad-.test` is not a domain name; `A.TEST.` is a variant of a.test.
SERVED = ["a.test", "b.test", "nx-gone.test"]
MIXED = [*SERVED, "A.TEST.", "foo.es", "-bad-.test"]
# The loopback simulator is fast: no need for the conservative default pace of 5/s.
FAST = ("--rate", "500", "--concurrency", "8")

SCENARIO: dict[str, Any] = {
    "seed": 11,
    "registries": [
        {"name": "reg", "tlds": ["test"], "template": TEMPLATE, "latency_ms": {"mean": 1}}
    ],
}


# --------------------------------------------------------------------------- helpers


def child_env(cwd: Path) -> dict[str, str]:
    env = dict(os.environ)
    # Never touch the user's real cache, whatever a test forgets to pass.
    env["RDAPLAB_CACHE"] = str(cwd / "default-cache.duckdb")
    env.pop("PYTHONWARNINGS", None)
    return env


def rdaplab(
    *args: str | Path, cwd: Path, timeout: float = 60, **kw: Any
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m rdaplab ARGS`` in ``cwd`` and capture its text output."""
    return subprocess.run(
        [sys.executable, "-m", "rdaplab", *map(str, args)],
        cwd=cwd,
        env=child_env(cwd),
        capture_output=True,
        text=True,
        timeout=timeout,
        **kw,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 2, nothing on stdout, and exactly one ``rdaplab: error:`` line on stderr."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("rdaplab: error: "), lines
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def requests_served(sim: SimulatorThread) -> int:
    return sim.stats()["reg"].requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(SCENARIO) as thread:
        yield thread


@pytest.fixture(scope="module")
def boot(sim: SimulatorThread, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sim.write_bootstrap(tmp_path_factory.mktemp("cli") / "bootstrap")


@pytest.fixture
def run(boot: Path, tmp_path: Path) -> Any:
    """``run("in.csv", "--out", "x.parquet")``: a lookup with this test's cache and bootstrap."""

    def go(*args: str | Path, fast: bool = True) -> subprocess.CompletedProcess[str]:
        extra = FAST if fast else ()
        return rdaplab(
            "lookup", *args, "--bootstrap", boot, "--cache", tmp_path / "c.duckdb", *extra,
            cwd=tmp_path,
        )  # fmt: skip

    return go


def write_csv(path: Path, columns: dict[str, list[str]]) -> Path:
    pl.DataFrame(columns).write_csv(path)
    return path


# --------------------------------------------------------------------------- entry points


def test_version_from_both_entry_points(tmp_path: Path) -> None:
    proc = rdaplab("--version", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"rdaplab {__version__}"
    script = Path(sys.executable).with_name("rdaplab")
    if not script.exists():
        pytest.skip("no rdaplab console script next to this interpreter")
    out = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == f"rdaplab {__version__}"


def test_contract_flag_names_exist() -> None:
    """The command and flag names of the issue are a contract: parse each spelling."""
    parser = build_parser()
    args = parser.parse_args(
        ["lookup", "in.csv", "--column", "c", "--out", "o.parquet", "--cache", "c.duckdb",
         "--bootstrap", "b", "--max-age", "60", "--summary-json", "s.json", "--no-progress",
         "--refresh", "--rate", "2.5", "--concurrency", "3"]
    )  # fmt: skip
    assert (args.column, args.out, args.cache, args.bootstrap) == (
        "c",
        "o.parquet",
        "c.duckdb",
        "b",
    )
    assert (args.max_age, args.summary_json, args.rate, args.concurrency) == (60, "s.json", 2.5, 3)
    assert args.no_progress and args.refresh
    args = parser.parse_args(["simulate", "--scenario", "s.json", "--port", "9000",
                              "--bootstrap-out", "d"])  # fmt: skip
    assert (args.scenario, args.port, args.bootstrap_out) == ("s.json", 9000, "d")
    args = parser.parse_args(["cache", "purge", "--older-than", "12h", "--cache", "c"])
    assert args.older_than == 43_200 and args.cache == "c"
    assert parser.parse_args(["cache", "info", "--cache", "c"]).cache == "c"
    args = parser.parse_args(["cache", "hosts", "--cache", "c", "--json"])
    assert (args.cache, args.json) == ("c", True)
    args = parser.parse_args(["cache", "forget-hosts", "h.example:443", "--cache", "c"])
    assert (args.host, args.cache) == ("h.example:443", "c")
    assert parser.parse_args(["cache", "forget-hosts"]).host is None
    assert parser.parse_args(["lookup", "in.csv", "--no-learned-limits"]).no_learned_limits
    args = parser.parse_args(["bootstrap", "show", "example.com", "--bootstrap", "d"])
    assert (args.name, args.bootstrap) == ("example.com", "d")
    args = parser.parse_args(["lookup", "in.csv"])
    assert (args.registered_domain, args.psl_private, args.psl) == (True, False, None)
    args = parser.parse_args(["lookup", "in.csv", "--no-registered-domain", "--psl-private",
                              "--psl", "my.dat"])  # fmt: skip
    assert (args.registered_domain, args.psl_private, args.psl) == (False, True, "my.dat")
    assert parser.parse_args(["lookup", "in.csv", "--registered-domain"]).registered_domain
    args = parser.parse_args(["psl", "show", "www.example.co.uk", "--private", "--psl", "f"])
    assert (args.name, args.private, args.psl) == ("www.example.co.uk", True, "f")
    args = parser.parse_args(["psl", "refresh", "--dir", "d", "--source", "https://x/"])
    assert (args.dir, args.source) == ("d", "https://x/")
    assert parser.parse_args(["demo"]).out == "demo-results.parquet"


# --------------------------------------------------------------------------- lookup


def test_lookup_outcomes_summary_and_parquet(
    run: Any, sim: SimulatorThread, tmp_path: Path
) -> None:
    src = write_csv(tmp_path / "in.csv", {"domain": MIXED})
    before = requests_served(sim)
    proc = run(src, "--out", "out.parquet", "--summary-json", "summary.json")
    assert proc.returncode == 0, proc.stderr
    assert "wrote 6 rows to out.parquet" in proc.stdout
    assert "wrote the summary to summary.json" in proc.stdout
    assert "rows 6  unique 4  ok 3  not_found 1  error 2" in proc.stdout
    assert "errors by kind: invalid_query 1, no_rdap_service 1" in proc.stdout

    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary.keys() >= SUMMARY_KEYS
    assert summary["total"] == 6 and summary["unique"] == 4  # foo.es counts, -bad- does not
    assert summary["ok"] + summary["not_found"] + summary["error"] == summary["total"]
    # One GET per served name (no faults, no referrals), and the registry saw exactly those.
    assert summary["requests"] == 3 == requests_served(sim) - before
    assert summary["throttled"] == 0 and summary["cache_hits"] == 0
    assert isinstance(summary["elapsed_s"], float) and summary["elapsed_s"] >= 0

    d = pl.read_parquet(tmp_path / "out.parquet")
    assert d.schema == DOMAINS_SCHEMA
    assert d["query"].to_list() == MIXED  # one row per input row, in input order
    outcomes = dict(zip(d["query"], d["outcome"], strict=True))
    for name in SERVED:
        assert outcomes[name] == ("not_found" if sim.expected(name) is None else "ok")
    assert outcomes["A.TEST."] == "ok"
    kinds = dict(zip(d["query"], d["error_kind"], strict=True))
    assert kinds["foo.es"] == "no_rdap_service" and kinds["-bad-.test"] == "invalid_query"
    domains = dict(zip(d["query"], d["domain"], strict=True))
    assert domains["A.TEST."] == "a.test" and domains["-bad-.test"] is None
    counts = dict(d.group_by("outcome").len().iter_rows())
    assert counts == {k: summary[k] for k in ("ok", "not_found", "error") if summary[k]}
    exp = sim.expected("a.test")
    assert exp is not None
    row = d.filter(pl.col("query") == "a.test").row(0, named=True)
    assert (row["handle"], row["registrar"]) == (exp.handle, exp.registrar)


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".json"])
def test_out_formats_read_back(run: Any, tmp_path: Path, suffix: str) -> None:
    src = write_csv(tmp_path / "in.csv", {"domain": MIXED})
    proc = run(src, "--out", f"result{suffix}", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / f"result{suffix}"
    readers: dict[str, Callable[[Path], pl.DataFrame]] = {
        ".parquet": pl.read_parquet,
        ".csv": pl.read_csv,
        ".json": pl.read_json,
    }
    frame = readers[suffix](out)
    assert frame.height == len(MIXED)
    assert frame.columns == DOMAINS_SCHEMA.names()
    assert frame["query"].to_list() == MIXED
    assert frame["outcome"].to_list()[:3] == ["ok", "ok", "not_found"]
    if suffix != ".parquet":
        assert "\x00" not in out.read_text(encoding="utf-8")  # no internal keys leak out


def test_junk_in_a_domain_column_still_writes_the_domains_frame(
    run: Any, sim: SimulatorThread, tmp_path: Path
) -> None:
    values = ["a.test", "http://", "https://www.b.test/x", "1.2.3", "user@a.test", "42"]
    write_csv(tmp_path / "in.csv", {"id": [str(i) for i in range(6)], "domain": values})
    before = requests_served(sim)
    proc = run("in.csv", "--out", "out.csv", "--summary-json", "s.json")
    assert proc.returncode == 0, proc.stderr
    assert "wrote 6 rows to out.csv" in proc.stdout  # the domains frame, not "(queries)"
    assert "registrable domains: 2 rows mapped" in proc.stdout
    out = pl.read_csv(tmp_path / "out.csv", infer_schema=False)
    assert out.columns == DOMAINS_SCHEMA.names()
    assert out["query"].to_list() == values
    assert out["domain"].to_list() == ["a.test", None, "b.test", None, "a.test", None]
    assert requests_served(sim) - before == 2  # a.test and b.test, once each
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["input"] == {"column": "domain", "kind": "domain"}
    assert summary["registered_domain"]["enabled"] is True
    proc = run("in.csv", "--out", "as-is.parquet", "--no-registered-domain")
    assert proc.returncode == 0, proc.stderr
    as_is = pl.read_parquet(tmp_path / "as-is.parquet")["domain"].to_list()
    assert as_is == ["a.test", None, None, None, None, None]


SMALL_PSL = (
    "// VERSION: 2030-01-02_03-04-05_UTC\n// ===BEGIN ICANN DOMAINS===\ntest\nco.test\n"
    "// ===END ICANN DOMAINS===\n"
)


@contextlib.contextmanager
def serve_bytes(body: bytes) -> Iterator[str]:
    """A loopback HTTP server answering every GET with ``body``; yields its URL."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/public_suffix_list.dat"
    finally:
        server.shutdown()
        server.server_close()


def test_psl_refresh_saves_a_checked_copy_or_changes_nothing(tmp_path: Path) -> None:
    where = tmp_path / "psl"
    dead = f"http://127.0.0.1:{free_port()}/public_suffix_list.dat"
    proc = rdaplab(
        "psl", "refresh", "--dir", where, "--source", dead, "--timeout", "5", cwd=tmp_path
    )
    assert_one_line_error(proc, "could not download the Public Suffix List", "nothing changed")
    assert not (where / "public_suffix_list.dat").exists()
    with serve_bytes(b"not a suffix list\n") as url:
        proc = rdaplab("psl", "refresh", "--dir", where, "--source", url, cwd=tmp_path)
    assert_one_line_error(proc, "is not a Public Suffix List")
    assert not (where / "public_suffix_list.dat").exists()
    with serve_bytes(SMALL_PSL.encode()) as url:
        proc = rdaplab("psl", "refresh", "--dir", where, "--source", url, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "saved the Public Suffix List 2030-01-02_03-04-05_UTC (2 rules)" in proc.stdout
    meta = json.loads((where / "public_suffix_list.meta.json").read_text())
    assert meta["version"] == "2030-01-02_03-04-05_UTC" and meta["source"] == url
    saved = PublicSuffixes.load(where)  # what `lookup --psl DIR` reads
    assert saved.version == "2030-01-02_03-04-05_UTC"
    assert saved.registrable("www.shop.co.test") == "shop.co.test"


def _parquet(path: Path, names: list[str]) -> Path:
    pl.DataFrame({"domain": names}).write_parquet(path)
    return path


@pytest.mark.parametrize(
    ("filename", "make", "extra"),
    [
        ("only.csv", lambda p: write_csv(p, {"host": SERVED}), ()),
        ("several.csv", lambda p: write_csv(p, {"id": ["1", "2", "3"], "fqdn": SERVED}), ("--column", "fqdn")),
        ("tabbed.tsv", lambda p: p.write_text("id\tdomain\n1\ta.test\n2\tb.test\n3\tnx-gone.test\n"), ()),
        ("names.txt", lambda p: p.write_text("# my list\n\na.test\n  b.test  \n   \n# end\nnx-gone.test\n"), ()),
        ("names", lambda p: p.write_text("a.test\nb.test\nnx-gone.test\n"), ()),
        ("in.parquet", lambda p: _parquet(p, SERVED), ()),
    ],
    ids=["csv-only-column", "csv-column-flag", "tsv", "text-comments", "text-no-suffix", "parquet"],
)  # fmt: skip
def test_input_kinds(
    run: Any, tmp_path: Path, filename: str, make: Any, extra: tuple[str, ...]
) -> None:
    make(tmp_path / filename)
    proc = run(filename, *extra, "--out", "o.parquet", "--summary-json", "s.json")
    assert proc.returncode == 0, proc.stderr
    s = json.loads((tmp_path / "s.json").read_text())
    assert (s["total"], s["unique"], s["ok"], s["not_found"], s["error"]) == (3, 3, 2, 1, 0)
    got = pl.read_parquet(tmp_path / "o.parquet")["query"].to_list()
    assert [q.strip() for q in got] == SERVED


def test_latin1_input_is_one_line_then_reads_with_encoding(
    run: Any, sim: SimulatorThread, tmp_path: Path
) -> None:
    # a spreadsheet saved as Latin-1: "café" is b"caf\xe9", which is no UTF-8
    src = tmp_path / "latin.csv"
    src.write_bytes("id,domain\n1,café.test\n2,a.test\n".encode("latin-1"))
    assert b"caf\xe9.test" in src.read_bytes()
    line = assert_one_line_error(
        run("latin.csv"),
        "cannot read latin.csv: it is not UTF-8 text (byte 0xe9 on line 2)",
        "--encoding latin-1",
        "iconv -f latin1 -t utf-8 latin.csv > latin-utf8.csv",
    )
    assert "invalid utf-8 sequence" not in line  # Polars' own words say less
    assert not (tmp_path / "c.duckdb").exists()  # refused before anything was opened

    proc = run("latin.csv", "--encoding", "latin-1", "--out", "o.parquet")
    assert proc.returncode == 0, proc.stderr
    d = pl.read_parquet(tmp_path / "o.parquet")
    assert d["query"].to_list() == ["café.test", "a.test"]
    assert d["domain"].to_list() == ["xn--caf-dma.test", "a.test"]
    assert d["outcome"].to_list() == ["ok", "ok"]
    assert d["unicode_name"][0] == "café.test"

    # a Windows-1252 text list: 0x80 is "€" there, and undefined in Latin-1's C1 range
    names = tmp_path / "names.txt"
    names.write_bytes("# liste de noms €\ncafé.test\n".encode("cp1252"))
    assert_one_line_error(run("names.txt"), "byte 0x80 on line 1", "--encoding latin-1")
    proc = run("names.txt", "--encoding", "cp1252", "--out", "t.parquet")
    assert proc.returncode == 0, proc.stderr
    assert pl.read_parquet(tmp_path / "t.parquet")["query"].to_list() == ["café.test"]

    assert_one_line_error(run("latin.csv", "--encoding", "klingon"), "unknown encoding 'klingon'")
    assert build_parser().parse_args(["lookup", "in.csv"]).encoding == "utf-8"


def test_several_columns_without_domain_need_column(run: Any, tmp_path: Path) -> None:
    write_csv(tmp_path / "in.csv", {"id": ["1"], "fqdn": ["a.test"]})
    line = assert_one_line_error(run("in.csv"), "in.csv", "--column")
    assert "'fqdn'" in line


def test_missing_column_is_one_line(run: Any, tmp_path: Path) -> None:
    write_csv(tmp_path / "in.csv", {"domain": ["a.test"], "other": ["x"]})
    assert_one_line_error(run("in.csv", "--column", "hostname"), "'hostname'", "not found")
    assert not (tmp_path / "c.duckdb").exists()  # refused before anything was opened


def test_missing_input_file_is_one_line(run: Any, tmp_path: Path) -> None:
    assert_one_line_error(run("nowhere.csv"), "input file not found", "nowhere.csv")


def test_unreadable_input_is_one_line(run: Any, tmp_path: Path) -> None:
    (tmp_path / "bad.parquet").write_bytes(b"this is not parquet")
    assert_one_line_error(run("bad.parquet"), "cannot read", "bad.parquet")


@pytest.mark.parametrize("kind", ["empty-dir", "broken-dns", "no-such-dir"])
def test_unreadable_bootstrap_is_one_line(tmp_path: Path, kind: str) -> None:
    write_csv(tmp_path / "in.csv", {"domain": ["a.test"]})
    bad = tmp_path / "boot"
    if kind != "no-such-dir":
        bad.mkdir()
    if kind == "broken-dns":
        (bad / "dns.json").write_text('{"services": [[["test"]', encoding="utf-8")
    proc = rdaplab("lookup", "in.csv", "--bootstrap", bad, "--cache", "c.duckdb", cwd=tmp_path)
    needle = {"empty-dir": "dns.json is missing", "broken-dns": "not valid JSON",
              "no-such-dir": "does not exist"}[kind]  # fmt: skip
    assert_one_line_error(proc, str(bad), needle)


def test_second_run_is_served_from_the_cache(
    run: Any, sim: SimulatorThread, tmp_path: Path
) -> None:
    write_csv(tmp_path / "in.csv", {"domain": [*SERVED, "B.test"]})
    assert run("in.csv", "--summary-json", "first.json").returncode == 0
    first = json.loads((tmp_path / "first.json").read_text())
    assert (first["unique"], first["requests"], first["cache_hits"]) == (3, 3, 0)

    before = requests_served(sim)
    proc = run("in.csv", "--summary-json", "second.json", "--out", "second.parquet")
    assert proc.returncode == 0, proc.stderr
    second = json.loads((tmp_path / "second.json").read_text())
    assert second["cache_hits"] == second["unique"] == 3
    assert second["requests"] == 0 and requests_served(sim) == before
    assert (second["ok"], second["not_found"]) == (first["ok"], first["not_found"])
    assert pl.read_parquet(tmp_path / "second.parquet")["from_cache"].all()
    assert "requests 0  throttled 0  cache hits 3" in proc.stdout

    for flags in (("--max-age", "0"), ("--refresh",)):
        before = requests_served(sim)
        assert run("in.csv", *flags, "--summary-json", "again.json").returncode == 0
        again = json.loads((tmp_path / "again.json").read_text())
        assert (again["cache_hits"], again["requests"]) == (0, 3), flags
        assert requests_served(sim) - before == 3, flags


def test_default_pace_flags_are_optional(run: Any, tmp_path: Path) -> None:
    # Without --rate/--concurrency the conservative defaults apply; still a correct batch.
    (tmp_path / "in.txt").write_text("a.test\nb.test\n")
    proc = run("in.txt", "--summary-json", "s.json", fast=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "s.json").read_text())["ok"] == 2


def test_failed_rows_still_exit_zero(tmp_path: Path) -> None:
    # Every row fails (the one registry refuses connections): the batch ran, so exit 0.
    dead = {"seed": 1, "registries": [
        {"name": "gone", "tlds": ["test"], "template": TEMPLATE, "dead": True}
    ]}  # fmt: skip
    (tmp_path / "in.txt").write_text("a.test\nb.test\n")
    with SimulatorThread(dead) as down:
        boot = down.write_bootstrap(tmp_path / "boot")
        proc = rdaplab(
            "lookup", "in.txt", "--bootstrap", boot, "--cache", "c.duckdb",
            "--summary-json", "s.json", *FAST, cwd=tmp_path,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    s = json.loads((tmp_path / "s.json").read_text())
    assert (s["error"], s["ok"]) == (2, 0) and s["error_kinds"] == {"connection_error": 2}


def test_scheduler_flags_reach_the_batch(run: Any, tmp_path: Path) -> None:
    write_csv(tmp_path / "in.csv", {"domain": SERVED, "tier": ["low", "critical", "high"]})
    proc = run("in.csv", "--priority", "tier", "--max-rate", "50", "--summary-json", "s.json",
               fast=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "host" in proc.stdout and "learned/s" in proc.stdout  # the per-host table
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["ok"] + summary["not_found"] == len(SERVED)  # nx-gone does not exist
    assert all("throttled_share" in h and "lower_bound_s" in h for h in summary["hosts"])
    with Cache(tmp_path / "c.duckdb") as cache:
        attempts = cache.attempts(summary["batch_id"])
    assert set(attempts["priority"]) == {"low", "critical", "high"}
    bad = run("in.csv", "--priority", "urgent")
    assert_one_line_error(bad, "priority='urgent'")


# --------------------------------------------------------------------------- progress


def test_no_progress_line_when_not_a_terminal(run: Any, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("\n".join(SERVED))
    proc = run("in.txt")
    assert proc.returncode == 0
    assert "\r" not in proc.stderr and "\r" not in proc.stdout
    assert "rdaplab 3/3" not in proc.stderr


def _run_on_pty(args: list[str | Path], cwd: Path) -> tuple[int, str]:
    """Run with stderr on a pseudo-terminal; return the exit code and what it drew there."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "rdaplab", *map(str, args)],
            cwd=cwd, env=child_env(cwd), stdout=subprocess.DEVNULL, stderr=slave, timeout=60,
        )  # fmt: skip
    finally:
        os.close(slave)
    chunks = []
    with contextlib.suppress(OSError):  # EIO once the buffered output is drained
        while chunk := os.read(master, 65536):
            chunks.append(chunk)
    os.close(master)
    return proc.returncode, b"".join(chunks).decode()


def test_progress_line_on_a_terminal(boot: Path, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("\n".join(SERVED))
    base: list[str | Path] = ["lookup", "in.txt", "--bootstrap", boot, *FAST]
    code, shown = _run_on_pty([*base, "--cache", "c1.duckdb"], tmp_path)
    assert code == 0
    assert "\rrdaplab 3/3 (100%)" in shown and "done" in shown
    code, shown = _run_on_pty([*base, "--cache", "c2.duckdb", "--no-progress"], tmp_path)
    assert code == 0 and "\r" not in shown and "rdaplab 3/3" not in shown


# --------------------------------------------------------------------------- cache


def test_locked_cache_is_one_line_naming_the_file(run: Any, tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    (tmp_path / "in.txt").write_text("a.test\n")
    assert run("in.txt").returncode == 0  # a real cache file to hold
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, duckdb; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
         "sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert_one_line_error(run("in.txt"), str(path), "locked")
        proc = rdaplab("cache", "info", "--cache", path, cwd=tmp_path)
        assert_one_line_error(proc, str(path), "locked")
    finally:
        holder.communicate("", timeout=30)


def test_cache_info_and_purge(run: Any, tmp_path: Path) -> None:
    cache = tmp_path / "c.duckdb"
    (tmp_path / "in.txt").write_text("\n".join(SERVED))
    assert run("in.txt").returncode == 0

    proc = rdaplab("cache", "info", "--cache", cache, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["path"] == str(cache)
    assert (info["responses"], info["attempts"], info["batches"]) == (3, 3, 1)
    assert info["responses_by_kind"] == {"domain": {"200": 2, "404": 1}}

    proc = rdaplab("cache", "purge", "--older-than", "30d", "--cache", cache, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    kept = json.loads(proc.stdout)
    assert (kept["responses_removed"], kept["attempts_removed"]) == (0, 0)

    proc = rdaplab("cache", "purge", "--older-than", "0s", "--cache", cache, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    gone = json.loads(proc.stdout)
    assert (gone["responses_removed"], gone["attempts_removed"], gone["batches_removed"]) == (
        3,
        3,
        1,
    )
    info = json.loads(rdaplab("cache", "info", "--cache", cache, cwd=tmp_path).stdout)
    assert (info["responses"], info["attempts"]) == (0, 0)


def test_learned_host_limits_listed_forgotten_and_switched_off(
    run: Any, sim: SimulatorThread, tmp_path: Path
) -> None:
    cache = tmp_path / "c.duckdb"
    host = sim.base_url("reg").split("/")[2]  # host:port
    proc = rdaplab("cache", "hosts", "--cache", cache, cwd=tmp_path)
    assert_one_line_error(proc, "no cache file")
    with Cache(cache) as c:
        c.save_host_limits(
            [
                {
                    "host": host,
                    "rate_per_s": 40.0,
                    "throttled_at_per_s": 50.0,
                    "requests": 120,
                    "throttle_events": 2,
                },
                {"host": "rdap.other.example:443", "rate_per_s": 3.0, "concurrency_ceiling": 2},
            ],
            batch_id="seeded",
        )
    proc = rdaplab("cache", "hosts", "--cache", cache, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    header, *lines = proc.stdout.splitlines()
    assert header.split() == [
        "host", "rate/s", "thr_at/s", "conc", "age", "req", "thr", "learned_at"
    ]  # fmt: skip
    cells = [ln.split()[:7] for ln in lines]
    # The age is wall-clock seconds since the save; a loaded machine takes
    # a second or more to start the CLI, so only its form and size are fixed.
    ages = [row.pop(4) for row in cells]
    assert all(re.fullmatch(r"\d+s", a) and int(a[:-1]) < 60 for a in ages), ages
    assert cells == [
        [host, "40.0", "50.0", "-", "120", "2"],
        ["rdap.other.example:443", "3.0", "-", "2", "-", "-"],
    ]
    proc = rdaplab("cache", "hosts", "--cache", cache, "--json", cwd=tmp_path)
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(r["host"], r["rate_per_s"], r["batch_id"]) for r in rows] == [
        (host, 40.0, "seeded"),
        ("rdap.other.example:443", 3.0, "seeded"),
    ]

    # A batch starts the host from the saved figure (fresh: 90 % of it) ...
    (tmp_path / "in.txt").write_text("\n".join(SERVED))
    assert run("in.txt", "--summary-json", "on.json", "--refresh", fast=False).returncode == 0
    # ... and from the profile with --no-learned-limits.
    off = run("in.txt", "--summary-json", "off.json", "--refresh", "--no-learned-limits",
              fast=False)  # fmt: skip
    assert off.returncode == 0, off.stderr
    on_s = json.loads((tmp_path / "on.json").read_text())
    off_s = json.loads((tmp_path / "off.json").read_text())
    assert [h["started_from"] for h in on_s["hosts"]] == ["learned"]
    assert [h["started_from"] for h in off_s["hosts"]] == ["profile"]
    with Cache(cache) as c:
        assert set(c.attempts(on_s["batch_id"])["rate_limit"]) == {36.0}
        assert set(c.attempts(off_s["batch_id"])["rate_limit"]) == {2.0}
        settings = json.loads(c.batch(off_s["batch_id"])["settings"])  # type: ignore[index]
        assert settings["learned_limits"] is False
        assert c.host_limits(host)["batch_id"] == "seeded"  # type: ignore[index]  # 3 requests: kept

    proc = rdaplab("cache", "forget-hosts", host, "--cache", cache, cwd=tmp_path)
    assert (proc.returncode, proc.stdout.strip()) == (0, f"forgot 1 learned host limit (of {host})")
    proc = rdaplab("cache", "forget-hosts", "--cache", cache, cwd=tmp_path)
    assert proc.stdout.strip() == "forgot 1 learned host limit (of every host)"
    proc = rdaplab("cache", "hosts", "--cache", cache, cwd=tmp_path)
    assert proc.stdout.strip() == "no learned host limits in this cache"


@pytest.mark.parametrize("bad", ["soon", "12x", "1 day", ""])
def test_bad_duration_is_an_argparse_error(tmp_path: Path, bad: str) -> None:
    proc = rdaplab("cache", "purge", "--older-than", bad, "--cache", "c.duckdb", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "not a duration" in proc.stderr and proc.stderr.startswith("usage: rdaplab cache purge")
    assert not (tmp_path / "c.duckdb").exists()


def test_cache_default_location_honours_rdaplab_cache(tmp_path: Path) -> None:
    proc = rdaplab("cache", "info", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["path"] == str(tmp_path / "default-cache.duckdb")


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_show_bundled_and_custom(
    boot: Path, sim: SimulatorThread, tmp_path: Path
) -> None:
    proc = rdaplab("bootstrap", "show", "example.com", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "https://rdap.verisign.com/com/v1/" in proc.stdout
    assert "matched entry: 'com'" in proc.stdout

    proc = rdaplab("bootstrap", "show", "shop.es", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "'es' is not in dns.json" in proc.stdout and "no_rdap_service" in proc.stdout

    proc = rdaplab("bootstrap", "show", "A.Test.", "--bootstrap", boot, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"base URL chosen: {sim.base_url('reg')}" in proc.stdout

    proc = rdaplab("bootstrap", "show", "a.test", "--bootstrap", tmp_path / "none", cwd=tmp_path)
    assert_one_line_error(proc, "does not exist")


# --------------------------------------------------------------------------- simulate


def test_simulate_serves_and_writes_a_bootstrap(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(SCENARIO))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rdaplab", "simulate", "--scenario", str(scenario),
         "--port", str(port), "--bootstrap-out", "simboot"],
        cwd=tmp_path, env=child_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        url, what = first.rstrip("\n").split("\t")
        assert url == f"http://127.0.0.1:{port}/reg/" and what == "test"
        assert proc.stdout.readline().startswith("bootstrap written to simboot")
        with urllib.request.urlopen(f"{url}domain/served.test", timeout=10) as resp:
            assert resp.status == 200
            doc = json.loads(resp.read())
        assert doc["ldhName"].lower().rstrip(".") == "served.test"

        # The bootstrap it wrote drives a real lookup against it.
        (tmp_path / "in.txt").write_text("served.test\nnx-x.test\n")
        done = rdaplab(
            "lookup", "in.txt", "--bootstrap", "simboot", "--cache", "c.duckdb",
            "--summary-json", "s.json", *FAST, cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        s = json.loads((tmp_path / "s.json").read_text())
        assert (s["ok"], s["not_found"], s["requests"]) == (1, 1, 2)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err  # SIGTERM is a clean stop, not a crash
    assert "Traceback" not in err


# --------------------------------------------------------------------------- refused up front


def test_unknown_out_suffix_is_one_line_before_the_batch(
    run: Any, sim: SimulatorThread, tmp_path: Path
) -> None:
    (tmp_path / "in.txt").write_text("a.test\n")
    before = requests_served(sim)
    proc = run("in.txt", "--out", "results.xlsx")
    assert requests_served(sim) == before  # refused before any request
    assert_one_line_error(proc, ".xlsx")


def test_summary_json_in_a_missing_folder_is_one_line_before_the_batch(
    run: Any, sim: SimulatorThread, tmp_path: Path
) -> None:
    (tmp_path / "in.txt").write_text("a.test\n")
    before = requests_served(sim)
    proc = run("in.txt", "--summary-json", "no/such/folder/s.json")
    assert requests_served(sim) == before
    assert_one_line_error(proc, "no/such/folder")


def test_simulate_missing_scenario_is_one_line(tmp_path: Path) -> None:
    proc = rdaplab("simulate", "--scenario", "missing.json", "--port", "0", cwd=tmp_path)
    assert_one_line_error(proc, "missing.json")


@pytest.mark.parametrize(
    "flag", [("--rate", "0"), ("--concurrency", "0")], ids=["rate", "concurrency"]
)
def test_non_positive_pace_is_an_argparse_error(
    boot: Path, tmp_path: Path, flag: tuple[str, str]
) -> None:
    (tmp_path / "in.txt").write_text("a.test\n")  # served: a request would be made
    proc = rdaplab("lookup", "in.txt", "--bootstrap", boot, "--cache", "c.duckdb", *flag,
                   cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("usage: rdaplab lookup")


# --------------------------------------------------------------------------- demo


@pytest.mark.slow
def test_demo_end_to_end(tmp_path: Path) -> None:
    proc = rdaplab("demo", "--no-progress", "--summary-json", "s.json", cwd=tmp_path, timeout=240)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "simulated registries on loopback; bootstrap in" in out
    assert "wrote 3,000 rows to demo-results.parquet" in out
    assert re.search(
        r"^rows 3,000  unique [\d,]+  ok [\d,]+  not_found [\d,]+  error [\d,]+$", out, re.M
    )
    assert re.search(
        r"^requests [\d,]+  throttled [\d,]+  cache hits 0  elapsed [\d.]+s$", out, re.M
    )
    assert re.search(r"^registry\s+names\s+ok\s+404\s+err\s+req\s+429\s+p50ms\s+p90ms$", out, re.M)
    d = pl.read_parquet(tmp_path / "demo-results.parquet")
    assert d.height == 3000 and d.schema == DOMAINS_SCHEMA
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["ok"] + s["not_found"] + s["error"] == 3000
    assert s["ok"] > 2000 and s["throttled"] > 0  # the scenario's rate limits bite
    # The dead registry's names are connection errors, not a crash.
    assert s["error_kinds"].get("connection_error", 0) >= 1


# --------------------------------------------------------------------------- docs/cli.md


def doc_examples() -> list[tuple[str, list[str]]]:
    """``console`` blocks of docs/cli.md that are replayed: (command, expected lines)."""
    text = DOCS.read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"^```console\n(.*?)^```", text, re.M | re.S):
        lines = block.rstrip("\n").splitlines()
        command = lines[0]
        # A simulator bootstrap (--bootstrap) has run-dependent ports and dates: not replayed.
        replay = command.startswith(
            ("$ rdaplab bootstrap show", "$ rdaplab --version", "$ rdaplab psl show")
        )
        if replay and "--bootstrap" not in command:
            out.append((command[2:], [ln for ln in lines[1:] if ln.strip()]))
    return out


def test_docs_have_replayable_examples() -> None:
    examples = doc_examples()
    assert any(c.startswith("rdaplab --version") for c, _ in examples)
    assert sum(c.startswith("rdaplab bootstrap show") for c, _ in examples) >= 2
    assert sum(c.startswith("rdaplab psl show") for c, _ in examples) >= 2
    assert all(expected for _, expected in examples)


@pytest.mark.parametrize(
    ("command", "expected"), [pytest.param(c, e, id=c) for c, e in doc_examples()]
)
def test_doc_example_output_matches_the_cli(
    tmp_path: Path, command: str, expected: list[str]
) -> None:
    args = command.split()[1:]  # the examples use no quoting: a plain split is exact
    proc = rdaplab(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    shown = proc.stdout.splitlines()
    for line in expected:
        assert line in shown, f"{command!r}: documented line not printed: {line!r}"


def test_the_cli_log_handler_follows_sys_stderr(monkeypatch):
    # main() run in-process (a test, a notebook) must not pin the stderr of that moment:
    # once that stream is closed, a batch's warning would raise inside the scheduler.
    import io
    import logging

    from rdaplab.cli import _setup_logging

    logger = logging.getLogger("rdaplab")
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(logger, "propagate", logger.propagate)
    monkeypatch.setattr(logger, "level", logger.level)
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    _setup_logging()  # what main() does first
    first.close()
    later = io.StringIO()
    monkeypatch.setattr(sys, "stderr", later)
    logger.warning("circuit open for example")
    assert later.getvalue().strip() == "circuit open for example"  # no "Logging error"
