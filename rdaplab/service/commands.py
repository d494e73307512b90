"""The command line of jobs and the service: ``rdaplab job ...``, ``rdaplab worker`` and
``rdaplab serve`` (added to ``rdaplab``'s parser by :mod:`rdaplab.cli`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from rdaplab.engine.windows import parse_duration_s
from rdaplab.errors import InputError
from rdaplab.rdap import KINDS

__all__ = ["add_commands", "parse_duration"]


def parse_duration(text: str) -> float:
    """Seconds from ``3600``, ``90s``, ``15m``, ``12h``, ``30d`` or ``2w`` (an argparse type)."""
    try:
        return parse_duration_s(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_commands(sub: Any) -> None:
    """Add ``job``, ``worker`` and ``serve`` to the ``rdaplab`` subcommands."""
    p = sub.add_parser("job", help="durable jobs: submit, list, status, pause, resume, cancel")
    jsub = p.add_subparsers(dest="job_command", required=True, metavar="ACTION")

    j = jsub.add_parser("submit", help="queue a lookup job (a worker runs it)")
    j.add_argument("input", metavar="INPUT", help="a CSV, Parquet or text file of names")
    _add_cache(j)
    j.add_argument("--name", help="a label for listings")
    j.add_argument("--column", help="column holding the names (default: domain, or the only one)")
    j.add_argument(
        "--kind", default="auto",
        choices=("auto", *KINDS),
        help="what the values are (default auto)",
    )  # fmt: skip
    j.add_argument(
        "--priority", default="normal", choices=("critical", "high", "normal", "low", "idle"),
        help="higher runs first and preempts lower (default normal)",
    )  # fmt: skip
    j.add_argument(
        "--window", metavar="HH:MM-HH:MM",
        help="run only inside this daily span, local time (22:00-06:00)",
    )  # fmt: skip
    j.add_argument(
        "--deadline", metavar="WHEN",
        help="stop with what it has at this date-time (2026-12-24T06:00) or after this long (12h)",
    )  # fmt: skip
    j.add_argument(
        "--refresh-older-than", type=parse_duration, metavar="AGE",
        help="fetch again only answers older than this (30d); fresher ones come from the cache",
    )  # fmt: skip
    j.add_argument("--keep-pii", action="store_true", help="keep individuals' contact data")
    j.add_argument("--purpose", help="why this job runs (recorded in the audit trail)")
    j.add_argument("--legal-basis", help="its legal basis (recorded in the audit trail)")
    j.add_argument("--json", action="store_true", help="print the job's status as JSON")
    j.set_defaults(func=cmd_job_submit)

    j = jsub.add_parser("warm-up", help="queue an idle-priority job re-fetching stale answers")
    _add_cache(j)
    j.add_argument("--older-than", type=parse_duration, default=30 * 86400.0, metavar="AGE",
                   help="answers older than this are fetched again (default 30d)")  # fmt: skip
    j.add_argument("--kind", default="domain", choices=KINDS,
                   help="which queries (default domain)")  # fmt: skip
    j.add_argument("--window", metavar="HH:MM-HH:MM", help="run only inside this daily span")
    j.add_argument("--name", help="a label for listings")
    j.set_defaults(func=cmd_job_warm_up)

    j = jsub.add_parser("list", help="the cache's jobs, oldest first")
    _add_cache(j)
    j.add_argument("--json", action="store_true", help="one JSON object per line")
    j.set_defaults(func=cmd_job_list)

    for action, text in (
        ("status", "one job's state and progress"),
        ("pause", "pause a job (a running one stops within a second)"),
        ("resume", "queue a paused job again"),
        ("cancel", "cancel a job (its finished rows stay readable)"),
    ):
        j = jsub.add_parser(action, help=text)
        j.add_argument("job_id", metavar="ID", help="the job's id (or a unique prefix)")
        _add_cache(j)
        if action == "status":
            j.add_argument("--json", action="store_true", help="print the status as JSON")
        j.set_defaults(func=cmd_job_control, action=action)

    j = jsub.add_parser("result", help="write a job's rows (finished so far) to a file")
    j.add_argument("job_id", metavar="ID", help="the job's id (or a unique prefix)")
    _add_cache(j)
    j.add_argument("--out", required=True, help="a .parquet, .csv, .json or .ndjson file")
    j.add_argument(
        "--frame", default=None,
        help="which frame (default: domains, or networks/autnums/queries by what the job held)",
    )  # fmt: skip
    j.set_defaults(func=cmd_job_result)

    p = sub.add_parser("worker", help="run a cache's queued jobs until stopped")
    _add_cache(p)
    _add_worker_options(p)
    p.add_argument("--until-idle", action="store_true",
                   help="exit when no job may run now (default: wait for more)")  # fmt: skip
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("serve", help="the HTTP API and job dashboard (and a worker)")
    _add_cache(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.add_argument("--token", help="bearer token every request must carry (required off loopback)")
    p.add_argument("--no-worker", action="store_true", help="serve only; run no jobs here")
    _add_worker_options(p)
    p.set_defaults(func=cmd_serve)


def _add_cache(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache", help="the DuckDB cache file (default: the user cache's)")


def _add_worker_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bootstrap", metavar="DIR", help="IANA-format bootstrap directory")
    p.add_argument("--poll", type=float, default=0.5, metavar="S",
                   help="seconds between looks at the ledger (default 0.5)")  # fmt: skip
    p.add_argument("--rate", type=float, metavar="PER_S",
                   help="fixed requests/s per host (turns off adaptive pacing)")  # fmt: skip
    p.add_argument("--concurrency", type=int, metavar="N",
                   help="requests in flight per host (the start, or fixed with --rate)")  # fmt: skip
    p.add_argument("--daily-budget", action="append", default=[], metavar="HOST=N",
                   help="at most N requests a day to HOST, across every job and batch of the "
                   "cache (repeatable)")  # fmt: skip


def cmd_job_submit(args: argparse.Namespace) -> int:
    from rdaplab import jobs

    job = jobs.submit(
        Path(args.input),
        cache=args.cache,
        kind=args.kind,
        priority=args.priority,
        window=args.window,
        deadline=args.deadline,
        name=args.name,
        refresh_older_than=args.refresh_older_than,
        column=args.column,
        redact_pii=not args.keep_pii,
        purpose=args.purpose,
        legal_basis=args.legal_basis,
    )
    status = job.status()
    if args.json:
        print(json.dumps(status.to_dict(), default=str))
    else:
        print(f"submitted job {job.id} ({status.total:,} rows); run it with: rdaplab worker"
              + (f" --cache {args.cache}" if args.cache else ""))  # fmt: skip
    return 0


def cmd_job_warm_up(args: argparse.Namespace) -> int:
    from rdaplab import jobs

    job = jobs.warm_up(
        args.cache, older_than=args.older_than, kind=args.kind, window=args.window, name=args.name
    )
    print(f"submitted warm-up job {job.id} (idle priority)")
    return 0


def cmd_job_list(args: argparse.Namespace) -> int:
    from rdaplab import jobs

    statuses = jobs.list_jobs(args.cache)
    if not statuses:
        print("no jobs", file=sys.stderr)
    for status in statuses:
        print(json.dumps(status.to_dict(), default=str) if args.json else status.line())
    return 0


def cmd_job_control(args: argparse.Namespace) -> int:
    from rdaplab import jobs

    job = jobs.Job(args.job_id, args.cache)
    if args.action == "status":
        status = job.status()
        if args.json:
            print(json.dumps(status.to_dict(), default=str))
            return 0
        print(status.line())
        for host, figures in sorted(status.registries.items()):
            cells = ", ".join(f"{k} {v:,.0f}" for k, v in figures.items())
            print(f"  {host}: {cells}")
        return 0
    state = getattr(job, args.action)()
    if state == "running":
        print(f"job {job.id}: {args.action} requested; its worker acts within a second")
    else:
        print(f"job {job.id}: {state}")
    return 0


def cmd_job_result(args: argparse.Namespace) -> int:
    from rdaplab import jobs
    from rdaplab.batch import check_output_path

    check_output_path(args.out)
    job = jobs.Job(args.job_id, args.cache)
    result = job.result()
    name = args.frame or result._frame_name()
    if not hasattr(result, name):
        raise InputError(f"no frame {name!r} in a job's result")
    path = result.write(args.out, name)
    status = job.status()
    note = "" if status.state == "done" else f" (the job is {status.state}: rows so far)"
    print(f"wrote {getattr(result, name).height:,} rows ({name}) to {path}{note}")
    return 0


def _worker(args: argparse.Namespace) -> Any:
    from rdaplab import jobs
    from rdaplab.engine import Limits

    overrides: dict[str, Any] = {}
    if args.rate is not None:  # as `rdaplab lookup --rate`: a decision, for every host
        overrides.update(per_host_rate_per_s=args.rate, adaptive=False, profiles={})
    if args.concurrency is not None:
        overrides["per_host_concurrency"] = args.concurrency
    budgets: dict[str, dict[str, Any]] = {}
    for item in args.daily_budget:
        host, sep, n = item.rpartition("=")
        if not sep or not host or not n.isdigit():
            raise InputError(f"--daily-budget takes HOST=N, not {item!r}")
        budgets[host.strip()] = {"daily_budget": int(n)}
    if budgets:
        overrides["hosts"] = budgets
    limits = Limits(**overrides) if overrides else None
    return jobs.Worker(args.cache, bootstrap=args.bootstrap, poll_s=args.poll, limits=limits)


def cmd_worker(args: argparse.Namespace) -> int:
    worker = _worker(args)

    async def main() -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
        print(f"worker {worker.id} on {worker.cache_path}; Ctrl-C stops it", file=sys.stderr)
        return await worker.run(until_idle=args.until_idle)

    runs = asyncio.run(main())
    print(f"worker stopped after {runs} run(s)", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from rdaplab.service.app import serve

    worker = None if args.no_worker else _worker(args)
    asyncio.run(
        serve(
            args.cache,
            host=args.host,
            port=args.port,
            token=args.token,
            worker=worker,
            bootstrap=args.bootstrap,
        )
    )
    return 0
