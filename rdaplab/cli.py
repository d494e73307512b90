"""The ``rdaplab`` command line: lookup, demo, simulate, cache, bootstrap, psl, report, diff
and history; job, worker and serve come from :mod:`rdaplab.service.commands`.

Exit codes: 0 when the command ran (a batch with failed rows still ran), 2 with a one-line
``rdaplab: error: ...`` message for unusable input or environment (missing file or column,
unreadable bootstrap, locked cache), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rdaplab._version import __version__
from rdaplab.errors import RdapLabError
from rdaplab.service.commands import parse_duration


def _positive(kind: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
        return value

    return parse


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rdaplab", description="RDAP lookups at scale, cached in DuckDB."
    )
    parser.add_argument("--version", action="version", version=f"rdaplab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("lookup", help="look up the names in a file")
    p.add_argument("input", help="CSV, TSV, Parquet, or text file with one name per line")
    p.add_argument(
        "--encoding", default="utf-8",
        help="text encoding of a CSV, TSV or text input (default utf-8; e.g. latin-1, cp1252)",
    )  # fmt: skip
    _add_lookup_options(p)
    p.set_defaults(func=cmd_lookup)

    p = sub.add_parser("demo", help="run a batch against the bundled registry simulator")
    p.add_argument("--sample", help="names to look up (default: the bundled sample)")
    p.add_argument("--scenario", help="simulator scenario JSON (default: the bundled one)")
    _add_lookup_options(p, demo=True)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("simulate", help="serve simulated RDAP registries on loopback")
    p.add_argument("--scenario", help="scenario JSON (default: the bundled one)")
    p.add_argument("--port", type=int, default=8080, help="first port (one per registry)")
    p.add_argument("--bootstrap-out", help="write a bootstrap directory for the simulator")
    p.add_argument(
        "--epoch", type=int, default=0, metavar="N",
        help="serve the registries as they are after N epochs of scripted changes (default 0; "
        "POST {\"epoch\": n} to /_simulator/epoch changes it while serving)",
    )  # fmt: skip
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("cache", help="inspect or purge the cache")
    csub = p.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    c = csub.add_parser("info", help="what the cache holds")
    c.add_argument("--cache", help="cache file (default: the user cache directory)")
    c.set_defaults(func=cmd_cache_info)
    c = csub.add_parser("purge", help="remove old answers and compact the file")
    c.add_argument("--cache", help="cache file (default: the user cache directory)")
    c.add_argument(
        "--older-than", type=parse_duration, metavar="DURATION",
        help="remove answers fetched longer ago than this (3600, 12h, 30d)",
    )  # fmt: skip
    c.add_argument(
        "--personal-older-than", type=parse_duration, metavar="DURATION",
        help="remove answers holding personal data fetched longer ago than this",
    )  # fmt: skip
    c.set_defaults(func=cmd_cache_purge)
    c = csub.add_parser("batches", help="the batches in the cache (snapshots), oldest first")
    c.add_argument("--cache", help="cache file (default: the user cache directory)")
    c.add_argument("--json", action="store_true", help="one JSON object per batch")
    c.set_defaults(func=cmd_cache_batches)
    c = csub.add_parser("hosts", help="each host's limits as earlier batches learned them")
    c.add_argument("--cache", help="cache file (default: the user cache directory)")
    c.add_argument("--json", action="store_true", help="one JSON object per host")
    c.set_defaults(func=cmd_cache_hosts)
    c = csub.add_parser(
        "forget-hosts", help="forget learned host limits (the next batch starts from profiles)"
    )
    c.add_argument("host", nargs="?", help="only this host (name or host:port; default: all)")
    c.add_argument("--cache", help="cache file (default: the user cache directory)")
    c.set_defaults(func=cmd_cache_forget_hosts)

    p = sub.add_parser("audit", help="list the audit trail of the batches in a cache")
    p.add_argument("--cache", help="cache file (default: the user cache directory)")
    p.add_argument("--json", action="store_true", help="one JSON object per batch")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("bootstrap", help="RDAP bootstrap (RFC 9224) tools")
    bsub = p.add_subparsers(dest="bootstrap_command", required=True, metavar="ACTION")
    b = bsub.add_parser("show", help="which RDAP server serves NAME, and why")
    b.add_argument("name")
    b.add_argument("--bootstrap", metavar="DIR", help="IANA-format bootstrap directory")
    b.set_defaults(func=cmd_bootstrap_show)
    b = bsub.add_parser("refresh", help="download the current IANA bootstrap files")
    b.add_argument("--dir", metavar="DIR", help="where to keep them (default: user data dir)")
    b.add_argument("--source", metavar="URL", help="base URL (default: IANA's)")
    b.add_argument(
        "--timeout", type=_positive(float), default=30.0, metavar="S", help="per file (30)"
    )
    b.set_defaults(func=cmd_bootstrap_refresh)

    p = sub.add_parser("psl", help="Public Suffix List tools (registrable domains)")
    psub = p.add_subparsers(dest="psl_command", required=True, metavar="ACTION")
    b = psub.add_parser("show", help="the registrable domain a lookup asks for NAME, and why")
    b.add_argument("name", help="a domain, host name, URL or e-mail address")
    b.add_argument("--psl", metavar="FILE", help="a Public Suffix List file")
    b.add_argument("--private", action="store_true", help="honour the private section too")
    b.set_defaults(func=cmd_psl_show)
    b = psub.add_parser("refresh", help="download the current Public Suffix List")
    b.add_argument("--dir", metavar="DIR", help="where to keep it (default: user data dir)")
    b.add_argument(
        "--source", metavar="URL", help="where to download it from (default: publicsuffix.org)"
    )
    b.add_argument(
        "--timeout", type=_positive(float), default=30.0, metavar="S", help="seconds (30)"
    )
    b.set_defaults(func=cmd_psl_refresh)

    p = sub.add_parser("report", help="write a self-contained HTML report of a cache or results")
    p.add_argument(
        "source",
        metavar="CACHE_OR_RESULTS",
        help="DuckDB cache file, or results file (.parquet, .csv, .json, .ndjson)",
    )
    p.add_argument("--out", required=True, help="the HTML file to write (report.html)")
    p.add_argument("--title", help="the report's title (default: rdaplab report)")
    p.add_argument("--batch", metavar="BATCH_ID", help="only this batch of the cache")
    p.add_argument("--png", action="store_true", help="also write each chart as PNG beside it")
    p.add_argument("--svg", action="store_true", help="also write each chart as SVG beside it")
    p.add_argument(
        "--diff-from",
        metavar="BATCH|DATE",
        help="add what changed since this snapshot (a batch id, previous, or a date) to the "
        "report: changes by kind, transfers between registrars, renewal vs drop",
    )
    p.add_argument(
        "--diff-to",
        metavar="BATCH|DATE",
        help="the later snapshot of --diff-from (default: --batch, else the latest batch)",
    )
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("diff", help="what changed between two snapshots of a cache")
    p.add_argument("cache", metavar="CACHE", help="the DuckDB cache file")
    p.add_argument(
        "--from", dest="before", default="previous", metavar="BATCH|DATE",
        help="the earlier snapshot: a batch id, 'previous' (default: the batch before the "
        "latest), or a date (YYYY-MM-DD: the end of that UTC day) or ISO time",
    )  # fmt: skip
    p.add_argument(
        "--to", dest="after", default="latest", metavar="BATCH|DATE",
        help="the later snapshot (default: latest, the newest batch)",
    )  # fmt: skip
    p.add_argument("--out", help="write the changes (.parquet, .csv, .json, .ndjson)")
    p.add_argument(
        "--category", action="append", choices=("change", "presence", "error"),
        help="only these categories (repeatable; default: all)",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("history", help="names' values across every batch of a cache")
    p.add_argument("cache", metavar="CACHE", help="the DuckDB cache file")
    p.add_argument("names", nargs="*", metavar="NAME", help="domain names (default: all)")
    p.add_argument("--out", help="write the history (.parquet, .csv, .json, .ndjson)")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("store", help="sharded study stores (rdaplab.distributed)")
    ssub = p.add_subparsers(dest="store_command", required=True)
    c = ssub.add_parser("info", help="buckets, rows and requests of a study")
    c.add_argument("store", metavar="STORE", help="the study's folder")
    c.add_argument("--json", action="store_true", help="print JSON")
    c.set_defaults(func=cmd_store_info)
    c = ssub.add_parser("compact", help="merge each bucket's small Parquet parts into one")
    c.add_argument("store", metavar="STORE", help="the study's folder")
    c.set_defaults(func=cmd_store_compact)

    from rdaplab.service.commands import add_commands  # job, worker, serve

    add_commands(sub)
    return parser


def _add_lookup_options(p: argparse.ArgumentParser, *, demo: bool = False) -> None:
    p.add_argument("--column", help="column holding the names (default: domain, or the only one)")
    if not demo:
        p.add_argument(
            "--kind",
            default="auto",
            choices=("auto", "domain", "ip", "asn", "entity", "nameserver"),
            help="what the values are (default auto: domains, IPs/CIDRs and AS numbers by shape)",
        )
    p.add_argument(
        "--registered-domain",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="look up each domain's registrable domain (Public Suffix List): URLs, e-mail "
        "addresses and host names map to it (default: on)",
    )
    p.add_argument(
        "--psl-private",
        action="store_true",
        help="also honour the list's private section (foo.blogspot.com stays whole)",
    )
    p.add_argument("--psl", metavar="FILE", help="a Public Suffix List file (default: bundled)")
    p.add_argument(
        "--out",
        default="demo-results.parquet" if demo else None,
        help="write the results (.parquet, .csv, .json, .ndjson): the domains frame, or "
        "networks/autnums for IP/ASN batches, or queries for mixed ones",
    )
    p.add_argument(
        "--cache",
        help="DuckDB cache file" + (" (default: a fresh temporary file)" if demo else ""),
    )
    if not demo:
        p.add_argument("--bootstrap", metavar="DIR", help="IANA-format bootstrap directory")
    p.add_argument("--max-age", type=_non_negative, metavar="SECONDS", help="cache freshness")
    p.add_argument("--refresh", action="store_true", help="ignore cached answers")
    p.add_argument("--summary-json", metavar="PATH", help="write the summary as JSON")
    p.add_argument(
        "--rate",
        type=_positive(float),
        metavar="PER_S",
        help="fixed requests/s per host (turns off adaptive pacing)",
    )
    p.add_argument(
        "--concurrency",
        type=_positive(int),
        metavar="N",
        help="requests in flight per host (the start, or fixed with --rate)",
    )
    p.add_argument(
        "--max-rate",
        type=_positive(float),
        metavar="PER_S",
        help="never exceed this rate at any host while adapting (default 100)",
    )
    p.add_argument(
        "--priority",
        metavar="CLASS_OR_COLUMN",
        help="critical, high, normal or low for every row, or a column holding them",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress line")
    p.add_argument(
        "--no-learned-limits", action="store_true",
        help="start every host from its profile, not from what earlier batches learned",
    )  # fmt: skip
    p.add_argument(
        "--not-found-max-age", type=_non_negative, metavar="SECONDS",
        help="cache freshness of not-found answers (default 3600)",
    )  # fmt: skip
    p.add_argument("--user-agent", help="the User-Agent sent to registries")
    p.add_argument("--timeout", type=_positive(float), metavar="S", help="per request, in seconds")
    p.add_argument(
        "--bootstrap-override", action="append", metavar="TLD=URL", default=[],
        help="an RDAP base URL for a TLD missing from IANA's registry (repeatable)",
    )  # fmt: skip
    p.add_argument(
        "--keep-pii", action="store_true",
        help="keep individuals' names, emails, phones in the output (recorded in the audit)",
    )  # fmt: skip
    p.add_argument("--fields", metavar="A,B,...", help="keep only these columns (minimization)")
    p.add_argument(
        "--privacy", choices=("default", "strict"), default="default",
        help="strict: also strip personal data from raw answers before caching them",
    )  # fmt: skip
    p.add_argument(
        "--retention", type=parse_duration, metavar="DURATION",
        help="purge cached answers holding personal data after this long (30d)",
    )  # fmt: skip
    p.add_argument("--purpose", help="why this batch runs (recorded in the audit trail)")
    p.add_argument("--legal-basis", help="its legal basis (recorded in the audit trail)")


def _lookup_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The batch's options (:class:`rdaplab.LookupOptions` fields) from the flags."""
    from rdaplab.engine import Limits, Timeouts
    from rdaplab.errors import InputError

    overrides_by_tld: dict[str, str] = {}
    for item in args.bootstrap_override:
        tld, sep, url = item.partition("=")
        if not sep or not tld or not url:
            raise InputError(f"--bootstrap-override takes TLD=URL, not {item!r}")
        overrides_by_tld[tld.strip().lstrip(".")] = url.strip()
    kwargs: dict[str, Any] = {
        "column": args.column,
        "cache": args.cache,
        "max_age": args.max_age,
        "not_found_max_age": args.not_found_max_age,
        "refresh": args.refresh,
        "progress": False if args.no_progress else None,
        "learned_limits": not args.no_learned_limits,
        "user_agent": args.user_agent,
        "bootstrap_overrides": overrides_by_tld or None,
        "redact_pii": not args.keep_pii,
        "fields": [f.strip() for f in args.fields.split(",") if f.strip()] if args.fields else None,
        "privacy": args.privacy,
        "retention": args.retention,
        "purpose": args.purpose,
        "legal_basis": args.legal_basis,
        "registered_domain": args.registered_domain,
        "psl_private": args.psl_private,
        "psl": args.psl,
    }
    if args.timeout is not None:
        kwargs["timeouts"] = Timeouts(total_s=args.timeout)
    if getattr(args, "kind", None) is not None:
        kwargs["kind"] = args.kind
    if args.priority is not None:
        kwargs["priority"] = args.priority
    overrides: dict[str, Any] = {}
    if args.rate is not None:
        overrides["per_host_rate_per_s"] = args.rate
        overrides["adaptive"] = False  # a rate typed on the command line is a decision
        overrides["profiles"] = {}  # ... for every host, profiled ones included
    if args.concurrency is not None:
        overrides["per_host_concurrency"] = args.concurrency
    if args.max_rate is not None:
        overrides["per_host_max_rate_per_s"] = args.max_rate
    if overrides:
        kwargs["limits"] = Limits(**overrides)
    return kwargs


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse unusable output paths before the batch, not after it."""
    from rdaplab.batch import check_output_path
    from rdaplab.errors import InputError

    if args.out:
        check_output_path(args.out)
    if args.summary_json and not Path(args.summary_json).parent.exists():
        raise InputError(
            f"cannot write {args.summary_json}: folder {Path(args.summary_json).parent} "
            "does not exist"
        )


def _finish_lookup(result: Any, args: argparse.Namespace) -> None:
    from rdaplab.errors import InputError

    try:
        if args.out:
            name = result._frame_name()
            path = result.write(args.out, name)
            what = "" if name == "domains" else f" ({name})"
            print(f"wrote {getattr(result, name).height:,} rows{what} to {path}")
        if args.summary_json:
            Path(args.summary_json).write_text(json.dumps(result.summary, indent=2, default=str))
            print(f"wrote the summary to {args.summary_json}")
    except OSError as exc:
        raise InputError(
            f"could not write the results ({exc}); the answers are in the cache"
        ) from exc
    print(format_summary(result.summary))


def cmd_lookup(args: argparse.Namespace) -> int:
    import rdaplab
    from rdaplab.batch.inputs import is_utf8, read_input_file

    _check_outputs(args)
    kwargs = _lookup_kwargs(args)
    values: Any = Path(args.input)
    if not is_utf8(args.encoding):  # Polars reads UTF-8 only: decode the file here
        values = read_input_file(values, encoding=args.encoding, column=args.column)
    result = rdaplab.lookup(values, bootstrap=args.bootstrap, **kwargs)
    _finish_lookup(result, args)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import rdaplab
    from rdaplab._data import datasets_dir
    from rdaplab.simulator import SimulatorThread

    _check_outputs(args)
    sample = Path(args.sample) if args.sample else datasets_dir() / "sample" / "domains.csv"
    scenario = _load_scenario(args.scenario)
    with tempfile.TemporaryDirectory(prefix="rdaplab-demo-") as tmp:
        kwargs = _lookup_kwargs(args)
        if kwargs["cache"] is None:
            kwargs["cache"] = str(Path(tmp) / "demo-cache.duckdb")
        with SimulatorThread(scenario) as sim:
            boot = sim.write_bootstrap(Path(tmp) / "bootstrap")
            print(f"simulated registries on loopback; bootstrap in {boot}")
            result = rdaplab.lookup(sample, bootstrap=boot, **kwargs)
        _finish_lookup(result, args)
    return 0


def _load_scenario(path: str | None) -> Any:
    from rdaplab.errors import InputError
    from rdaplab.simulator import Scenario

    if path is None:
        return Scenario.default()
    try:
        return Scenario.load(Path(path))
    except (ValueError, OSError) as exc:  # the simulator's own "bad scenario" errors
        raise InputError(f"scenario {path}: {exc}") from exc


def cmd_simulate(args: argparse.Namespace) -> int:
    from rdaplab.simulator import run_forever

    run_forever(
        _load_scenario(args.scenario),
        port=args.port,
        bootstrap_dir=args.bootstrap_out,
        epoch=args.epoch,
    )
    return 0


def _existing_cache(path: str | None) -> Any:
    from rdaplab.errors import InputError
    from rdaplab.store import Cache

    if path is not None and path != ":memory:" and not Path(path).exists():
        raise InputError(f"no cache file at {path}")
    return Cache(path)


def cmd_cache_info(args: argparse.Namespace) -> int:
    with _existing_cache(args.cache) as cache:
        print(json.dumps(cache.info(), indent=2, default=str))
    return 0


def cmd_cache_purge(args: argparse.Namespace) -> int:
    from rdaplab.errors import InputError

    if args.older_than is None and args.personal_older_than is None:
        raise InputError("cache purge needs --older-than or --personal-older-than (or both)")
    with _existing_cache(args.cache) as cache:
        if args.personal_older_than is None:  # the original output, unchanged
            print(json.dumps(cache.purge(older_than_s=args.older_than), indent=2, default=str))
            return 0
        report: dict[str, Any] = {}
        if args.older_than is not None:
            report["all"] = cache.purge(older_than_s=args.older_than)
        report["personal"] = cache.purge_personal(
            older_than_s=args.personal_older_than, compact=True
        )
        print(json.dumps(report, indent=2, default=str))
    return 0


def cmd_cache_batches(args: argparse.Namespace) -> int:
    with _existing_cache(args.cache) as cache:
        rows = list(cache.batches().sort("started_at").iter_rows(named=True))
    if _printed_as_json_or_empty(rows, args.json, "no batches in this cache"):
        return 0
    print(f"{'batch_id':<32}  {'started_at':<20}  {'finished_at':<20}  {'rows':>9}  {'unique':>9}")
    for r in rows:
        done = (
            r["finished_at"].strftime("%Y-%m-%d %H:%M:%SZ")
            if r["finished_at"]
            else "(not finished)"
        )
        print(
            f"{r['batch_id']:<32}  {r['started_at'].strftime('%Y-%m-%d %H:%M:%SZ'):<20}  "
            f"{done:<20}  {r['total']:>9,}  {r['unique_queries']:>9,}"
        )
    return 0


def cmd_cache_hosts(args: argparse.Namespace) -> int:
    with _existing_cache(args.cache) as cache:
        rows = list(cache.host_limits_frame().iter_rows(named=True))
    if _printed_as_json_or_empty(rows, args.json, "no learned host limits in this cache"):
        return 0
    print(
        f"{'host':<40} {'rate/s':>8} {'thr_at/s':>8} {'conc':>4} {'age':>6} "
        f"{'req':>7} {'thr':>5}  learned_at"
    )
    for r in rows:
        conc = "-" if r["concurrency_ceiling"] is None else str(r["concurrency_ceiling"])
        when = r["learned_at"].strftime("%Y-%m-%d %H:%M:%SZ")
        print(
            f"{r['host'][:40]:<40} {_num(r['rate_per_s']):>8} "
            f"{_num(r['throttled_at_per_s']):>8} {conc:>4} {_age(r['age_s']):>6} "
            f"{_int(r['requests']):>7} {_int(r['throttle_events']):>5}  {when}"
        )
    return 0


def cmd_cache_forget_hosts(args: argparse.Namespace) -> int:
    with _existing_cache(args.cache) as cache:
        n = cache.forget_host_limits(args.host)
    which = f"of {args.host}" if args.host else "of every host"
    print(f"forgot {n} learned host limit{'' if n == 1 else 's'} ({which})")
    return 0


def _printed_as_json_or_empty(rows: list[dict[str, Any]], as_json: bool, empty: str) -> bool:
    """``--json``: one JSON object per line; no rows: ``empty``. True when printed."""
    if as_json:
        for row in rows:
            print(json.dumps(row, default=str, sort_keys=True))
        return True
    if not rows:
        print(empty)
        return True
    return False


def _age(seconds: float) -> str:
    """``42s``, ``5m``, ``3h``, ``12d``: the largest whole unit."""
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _int(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _audit_row(row: dict[str, Any]) -> dict[str, Any]:
    objects = json.loads(row["objects"]) if row["objects"] else {}
    fields = json.loads(row["fields"]) if row["fields"] else None
    return {**row, "objects": objects, "fields": fields}


def cmd_audit(args: argparse.Namespace) -> int:
    with _existing_cache(args.cache) as cache:
        rows = [_audit_row(r) for r in cache.audits().iter_rows(named=True)]
    if _printed_as_json_or_empty(rows, args.json, "no audited batches in this cache"):
        return 0
    for r in rows:
        when = r["ran_at"].strftime("%Y-%m-%d %H:%M:%SZ")
        objs = ", ".join(f"{k} {v:,}" for k, v in sorted(r["objects"].items())) or "none"
        retention = "none" if r["retention_s"] is None else f"{r['retention_s']:g}s"
        print(
            f"{when}  {r['batch_id']}  objects: {objs}  purpose: {r['purpose'] or '-'}  "
            f"legal basis: {r['legal_basis'] or '-'}  "
            f"PII kept: {'yes' if r['pii_kept'] else 'no'}  privacy: {r['privacy']}  "
            f"retention: {retention}"
        )
    return 0


def cmd_bootstrap_show(args: argparse.Namespace) -> int:
    import warnings

    from rdaplab.rdap import STALE_AFTER_DAYS, Bootstrap, BootstrapStaleWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BootstrapStaleWarning)  # said on the last line
        boot = Bootstrap.load(args.bootstrap)
    print(boot.explain(args.name))
    age = boot.age_days()
    stale = " - stale: run `rdaplab bootstrap refresh`" if (age or 0) > STALE_AFTER_DAYS else ""
    print(f"bootstrap in use: {boot.describe_source()}{stale}")
    return 0


def cmd_bootstrap_refresh(args: argparse.Namespace) -> int:
    import asyncio

    from rdaplab.engine import IANA_BOOTSTRAP_URL, refresh_bootstrap
    from rdaplab.errors import BootstrapError

    report = asyncio.run(
        refresh_bootstrap(args.dir, args.source or IANA_BOOTSTRAP_URL, timeout=args.timeout)
    )
    for line in report.lines():
        print(line)
    if report.ok:
        return 0
    if report.kept_last_good:  # 1: lookups still have a refreshed copy, just not a newer one
        print(
            f"rdaplab: warning: bootstrap refresh failed; {report.directory} keeps the last "
            "good copy",
            file=sys.stderr,
        )
        return 1
    raise BootstrapError(
        f"bootstrap refresh failed and {report.directory} holds no usable copy; "
        "lookups use the bundled snapshot"
    )


def cmd_psl_show(args: argparse.Namespace) -> int:
    from rdaplab.rdap.psl import DomainMapper, PublicSuffixes

    mapper = DomainMapper(PublicSuffixes.load(args.psl), private=args.private)
    for line in mapper.explain(args.name):
        print(line)
    return 0


MAX_PSL_BYTES = 16 * 1024 * 1024  # the list is ~300 kB


def cmd_psl_refresh(args: argparse.Namespace) -> int:
    """Download the list (only when asked), check it, and swap it in; or change nothing."""
    import os
    import urllib.error
    import urllib.request
    from datetime import datetime, timezone

    from rdaplab.engine.client import DEFAULT_USER_AGENT
    from rdaplab.errors import InputError
    from rdaplab.rdap.bootstrap_urls import is_loopback_url
    from rdaplab.rdap.psl import PSL_FILE, PSL_URL, PublicSuffixes, user_psl_dir

    url = args.source or PSL_URL
    if not (url.startswith("https://") or (url.startswith("http://") and is_loopback_url(url))):
        raise InputError(f"--source must be an https URL (plain http only on loopback): {url}")
    directory = Path(args.dir).expanduser() if args.dir else user_psl_dir()
    try:
        current = PublicSuffixes.from_file(directory / PSL_FILE, source="refreshed")
    except InputError:  # none yet, or unusable: lookups use the bundled snapshot
        current = PublicSuffixes.bundled()
    request = urllib.request.Request(url, headers={"User-Agent": DEFAULT_USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as response:
            data = response.read(MAX_PSL_BYTES + 1)
            headers = dict(response.headers.items())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise InputError(
            f"could not download the Public Suffix List from {url} ({reason}); nothing "
            f"changed: lookups keep using the list {current.describe()}"
        ) from None
    if len(data) > MAX_PSL_BYTES:
        raise InputError(f"{url} sent more than {MAX_PSL_BYTES:,} bytes: not a suffix list")
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / PSL_FILE
    tmp = directory / f".{PSL_FILE}.{os.getpid()}.tmp"
    try:
        tmp.write_bytes(data)
        fresh = PublicSuffixes(data, source="refreshed", path=target)  # checks the text
        fresh.section(private=True)  # the library parses it
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    meta = {
        "source": url,
        "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "version": fresh.version,
        "last_modified": headers.get("Last-Modified"),
        "etag": headers.get("ETag"),
    }
    (directory / "public_suffix_list.meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    rules = fresh.section(private=True).rule_count
    print(
        f"saved the Public Suffix List {fresh.version or '(no VERSION line)'} ({rules:,} rules) to {target}"
    )
    print(f"before: {current.describe()}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from rdaplab.batch import diff, expiry_outcomes, load_result
    from rdaplab.errors import InputError
    from rdaplab.notebook.report import check_report_path, export_report

    check_report_path(args.out)  # before loading what may be a large cache
    changes = expiry = None
    if args.diff_from is not None or args.diff_to is not None:
        if args.diff_from is None:
            raise InputError("--diff-to needs --diff-from (the earlier snapshot)")
        to = args.diff_to or args.batch or "latest"
        changes = diff(args.diff_from, to, cache=Path(args.source))
        expiry = expiry_outcomes(args.diff_from, to, cache=Path(args.source))
    result = load_result(Path(args.source), batch_id=args.batch)
    images = [fmt for fmt, wanted in (("png", args.png), ("svg", args.svg)) if wanted]
    files = export_report(
        result, args.out, title=args.title, images=images, changes=changes, expiry=expiry
    )
    print(
        f"wrote the report to {files.html} ({result.domains.height:,} rows, "
        f"{len(files.charts)} charts)"
    )
    for path in files.images:
        print(f"wrote {path}")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    import polars as pl

    from rdaplab.batch import check_output_path, diff, write_frame
    from rdaplab.errors import InputError

    if args.out:
        check_output_path(args.out)
    path = Path(args.cache)
    if not path.exists():
        raise InputError(f"no cache file at {path}")
    changes = diff(args.before, args.after, cache=path)
    if args.category:
        changes = changes.filter(pl.col("category").is_in(args.category))
    counts = (
        changes.group_by("category", "change").agg(pl.col("domain").n_unique().alias("names"))
        .sort("category", "names", "change", descending=[False, True, False])
    )  # fmt: skip
    labels = (
        (str(changes["before_snapshot"][0]), str(changes["after_snapshot"][0]))
        if changes.height
        else (args.before, args.after)
    )
    if args.json:
        print(json.dumps({
            "from": labels[0], "to": labels[1], "rows": changes.height,
            "names": changes["domain"].n_unique(),
            "changes": {f"{c}/{k}": n for c, k, n in counts.iter_rows()},
        }, sort_keys=True))  # fmt: skip
    elif changes.height == 0:
        print(f"no changes between {args.before} and {args.after}")
    else:
        print(
            f"{changes['domain'].n_unique():,} names changed between {labels[0]} and "
            f"{labels[1]} ({changes.height:,} rows)"
        )
        for category, change, names in counts.iter_rows():
            print(f"  {category:<9} {change:<24} {names:>7,}")
    if args.out:
        written = write_frame(changes, args.out)
        print(
            f"wrote {changes.height:,} rows to {written}",
            file=sys.stderr if args.json else sys.stdout,
        )
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from rdaplab.batch import check_output_path, history, write_frame
    from rdaplab.errors import InputError

    if args.out:
        check_output_path(args.out)
    path = Path(args.cache)
    if not path.exists():
        raise InputError(f"no cache file at {path}")
    frame = history(path, args.names or None)
    if args.out:
        written = write_frame(frame, args.out)
        print(f"wrote {frame.height:,} rows to {written}")
        return 0
    if frame.height == 0:
        print("no stored batch looked up these names")
        return 0
    for r in frame.iter_rows(named=True):
        when = r["snapshot_at"].strftime("%Y-%m-%d %H:%M:%SZ") if r["snapshot_at"] else "-"
        expires = r["expiration_date"].strftime("%Y-%m-%d") if r["expiration_date"] else "-"
        print(
            f"{r['domain']:<28} {when}  {r['outcome']:<9} registrar: {r['registrar'] or '-'}  "
            f"expires: {expires}  status: {', '.join(r['rdap_status'] or []) or '-'}  "
            f"ns: {', '.join(r['nameservers'] or []) or '-'}"
        )
    return 0


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as a short human-readable report."""
    lines = [
        f"rows {summary['total']:,}  unique {summary['unique']:,}  "
        f"ok {summary['ok']:,}  not_found {summary['not_found']:,}  error {summary['error']:,}",
        f"requests {summary['requests']:,}  throttled {summary['throttled']:,}  "
        f"cache hits {summary['cache_hits']:,}  elapsed {summary['elapsed_s']:.1f}s",
    ]
    if summary.get("error_kinds"):
        kinds = ", ".join(f"{k} {v:,}" for k, v in summary["error_kinds"].items())
        lines.append(f"errors by kind: {kinds}")
    mapping = summary.get("registered_domain") or {}
    if mapping.get("mapped_rows"):
        section = "ICANN and private sections" if mapping.get("psl_private") else "ICANN section"
        lines.append(
            f"registrable domains: {mapping['mapped_rows']:,} rows mapped (URLs, addresses, "
            f"host names; Public Suffix List {mapping.get('psl_version')}, {section})"
        )
    regs = summary.get("registries") or []
    if regs:
        lines.append("")
        header = f"{'registry':<48} {'names':>6} {'ok':>6} {'404':>5} {'err':>5} {'req':>6} {'429':>5} {'p50ms':>7} {'p90ms':>7}"
        lines.append(header)
        for r in regs:
            lines.append(
                f"{r['registry_url'][:48]:<48} {r['names']:>6,} {r['ok']:>6,} "
                f"{r['not_found']:>5,} {r['error']:>5,} {r['requests']:>6,} {r['throttled']:>5,} "
                f"{_ms(r['latency_ms_p50']):>7} {_ms(r['latency_ms_p90']):>7}"
            )
    hosts = [h for h in summary.get("hosts") or [] if "lower_bound_s" in h]
    if hosts:
        lines.append("")
        lines.append(
            f"{'host':<32} {'req':>6} {'thr%':>5} {'got/s':>7} {'learned/s':>9} "
            f"{'conc':>4} {'bound_s':>7}  state"
        )
        for h in hosts:
            state = (
                "blocked/quota"
                if h.get("exhausted")
                else (
                    "breaker " + h["breaker"]
                    if h.get("breaker") != "closed"
                    else h.get("phase", "")
                )
            )
            lines.append(
                f"{h['host'][:32]:<32} {h['requests']:>6,} {100 * h['throttled_share']:>5.1f} "
                f"{_num(h.get('achieved_rate_per_s')):>7} {_num(h.get('learned_max_rate_per_s')):>9} "
                f"{h.get('concurrency') or 0:>4} {_num(h.get('lower_bound_s')):>7}  {state}"
            )
        if summary.get("lower_bound_s"):
            eff = summary.get("efficiency")
            lines.append(
                f"lower bound {summary['lower_bound_s']:.1f}s at the learned rates; fetching took "
                f"{summary['fetch_s']:.1f}s" + (f" (efficiency {eff:.2f})" if eff else "")
            )
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


class _LineSafeHandler(logging.StreamHandler):  # type: ignore[type-arg, unused-ignore]
    """Log records on their own line, erasing a progress line being redrawn on a terminal.

    Writes to whatever ``sys.stderr`` is *now* (like logging's last-resort handler): a
    stream captured when ``main()`` first ran (a test's, a notebook's) may be closed later,
    and a write to it would raise inside the batch.
    """

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass  # StreamHandler.__init__ assigns it; the property always reads sys.stderr

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self.stream, "isatty", lambda: False)():
            self.stream.write("\r\x1b[K")
        super().emit(record)


def _setup_logging() -> None:
    logger = logging.getLogger("rdaplab")
    if not logger.handlers:
        handler = _LineSafeHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
        logger.propagate = False


def cmd_store_info(args: argparse.Namespace) -> int:
    import polars as pl

    from rdaplab.distributed.store import StudyStore, scan

    st = StudyStore(args.store)
    manifest = st.manifest()
    buckets = st.bucket_ids()
    done = [st.done(b) for b in buckets]
    info = {
        "store": str(st.root),
        "buckets": manifest["buckets"],
        "buckets_with_rows": len(buckets),
        "buckets_done": sum(1 for d in done if d),
        "rows": manifest["total"],
        "rows_done": scan(st, "queries").select(pl.len()).collect().item(),
        "requests": scan(st, "attempts").select(pl.len()).collect().item(),
        "runs": len(manifest.get("runs", [])),
    }
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key:>18}: {value}")
    return 0


def cmd_store_compact(args: argparse.Namespace) -> int:
    from rdaplab.distributed.store import compact

    out = compact(args.store)
    print(f"compacted {out['buckets']} buckets: {out['parts_merged']} parts merged")
    return 0


def _warning_line(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    # On the command line a warning (a stale bootstrap, say) is one line, not a
    # Python-format "file:line: Category: text" pair.
    print(f"rdaplab: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    _setup_logging()
    warnings.showwarning = _warning_line
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except RdapLabError as exc:
        print(f"rdaplab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rdaplab: interrupted; answers received so far are in the cache", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
