"""The one summary of a batch, whoever ran it (``lookup``, ``stream``, or ``load_result``).

:class:`SummaryBuilder` counts what happened to every finished lookup as it finishes (per
input row and per distinct query); the attempts log is aggregated where it lives (DuckDB,
:func:`rdaplab.store.attempt_stats`); the scheduler adds what each host's controller
learned. A lookup and a stream of the same input give summaries with the same keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import polars as pl

from rdaplab.engine import authority
from rdaplab.store import Cache, attempt_stats, attempt_stats_of

if TYPE_CHECKING:
    from rdaplab.engine import Scheduler

__all__ = ["SummaryBuilder", "add_host_learning"]

_OUTCOMES = ("ok", "not_found", "error")


class SummaryBuilder:
    """Running totals of a batch; :meth:`build` turns them into the summary dict."""

    def __init__(self) -> None:
        self.rows = 0
        self.unique = 0  # distinct valid queries looked up
        self.outcomes = dict.fromkeys(_OUTCOMES, 0)
        self.error_kinds: dict[str, int] = {}
        self.kinds: dict[str, int] = {}
        self.objects: dict[str, int] = {}  # distinct valid queries per kind (audit trail)
        self.cache_hits = 0
        self.cache_hit_rows = 0
        self.registries: dict[str, dict[str, int]] = {}

    def add(
        self,
        *,
        kind: str,
        outcome: str,
        error_kind: str | None,
        registry_url: str | None,
        from_cache: bool,
        valid: bool,
        rows: int,
        queries: int = 1,
    ) -> None:
        """Count ``queries`` distinct lookups that ended alike, asked by ``rows`` input rows."""
        self.rows += rows
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + rows
        if error_kind is not None:
            self.error_kinds[error_kind] = self.error_kinds.get(error_kind, 0) + rows
        self.kinds[kind] = self.kinds.get(kind, 0) + rows
        if valid:
            self.unique += queries
            self.objects[kind] = self.objects.get(kind, 0) + queries
        if from_cache:
            self.cache_hits += queries
            self.cache_hit_rows += rows
        if registry_url is not None:
            r = self.registries.get(registry_url)
            if r is None:
                r = self.registries[registry_url] = {
                    "names": 0, "ok": 0, "not_found": 0, "error": 0, "from_cache": 0
                }  # fmt: skip
            r["names"] += queries
            r[outcome] = r.get(outcome, 0) + queries
            r["from_cache"] += queries if from_cache else 0

    def add_queries(self, queries: pl.DataFrame) -> None:
        """Count a ``queries`` frame (``rdaplab.schemas.QUERIES_SCHEMA``) rebuilt from disk."""
        keys = ["query_kind", "outcome", "error_kind", "registry_url", "from_cache"]
        groups = queries.group_by(keys).agg(
            rows=pl.len(), queries=pl.col("key").drop_nulls().n_unique()
        )
        for row in groups.iter_rows(named=True):
            self.add(
                kind=row["query_kind"],
                outcome=row["outcome"],
                error_kind=row["error_kind"],
                registry_url=row["registry_url"],
                from_cache=bool(row["from_cache"]),
                valid=row["queries"] > 0,
                rows=int(row["rows"]),
                queries=int(row["queries"]),
            )

    def build(
        self,
        *,
        batch_id: str,
        elapsed_s: float,
        cache: Cache | None,
        attempts_of: str | None,
        streamed: bool = False,
        stopped_early: bool = False,
        attempts: pl.DataFrame | None = None,
    ) -> dict[str, Any]:
        """The summary dict (keys documented in docs/quickstart.md and docs/schemas.md).

        ``attempts_of``: the batch whose attempts are counted (``None`` with a ``cache``:
        every attempt in it; no ``cache``: none). ``attempts``: an attempts frame to count
        instead of the cache's (a job's, kept beside its ledger).
        """
        hosts: pl.DataFrame | None = None
        regs: pl.DataFrame | None = None
        if attempts is not None:
            hosts, regs = attempt_stats_of(attempts, sorted(self.registries))
        elif cache is not None:
            hosts, regs = attempt_stats(cache, attempts_of, sorted(self.registries))
        host_rows = _host_rows(hosts)
        return {
            "batch_id": batch_id,
            "streamed": streamed,
            "stopped_early": stopped_early,
            "total": self.rows,
            "unique": self.unique,
            "ok": self.outcomes.get("ok", 0),
            "not_found": self.outcomes.get("not_found", 0),
            "error": self.outcomes.get("error", 0),
            "error_kinds": dict(sorted(self.error_kinds.items())),
            "requests": sum(h["requests"] for h in host_rows),
            "throttled": sum(h["throttled"] for h in host_rows),
            "cache_hits": self.cache_hits,
            "cache_hit_rows": self.cache_hit_rows,
            "elapsed_s": round(elapsed_s, 3),
            "registries": self._registry_rows(regs),
            "hosts": host_rows,
            "kinds": dict(sorted(self.kinds.items())),
        }

    def _registry_rows(self, regs: pl.DataFrame | None) -> list[dict[str, Any]]:
        sent = {} if regs is None else {r["registry_url"]: r for r in regs.iter_rows(named=True)}
        out = []
        order = sorted(self.registries.items(), key=lambda kv: (-kv[1]["names"], kv[0]))
        for url, counts in order:
            s = sent.get(url, {})
            requests = int(s.get("requests") or 0)
            out.append(
                {
                    "registry_url": url,
                    "host": s.get("host") or authority(url),
                    **counts,
                    "requests": requests,
                    "throttled": int(s.get("throttled") or 0),
                    **_latencies(s),
                    "achieved_rate_per_s": _rate(requests, s.get("span_s")),
                }
            )
        return out


def _host_rows(hosts: pl.DataFrame | None) -> list[dict[str, Any]]:
    """Every host asked (registries and referral targets alike), busiest first."""
    if hosts is None or hosts.height == 0:
        return []
    rows = hosts.sort(["requests", "host"], descending=[True, False]).iter_rows(named=True)
    return [
        {
            "host": h["host"],
            "requests": int(h["requests"]),
            "throttled": int(h["throttled"]),
            "errors": int(h["errors"]),
            **_latencies(h),
            "achieved_rate_per_s": _rate(int(h["requests"]), h["span_s"]),
            "throttled_share": round(int(h["throttled"]) / int(h["requests"]), 4),
        }
        for h in rows
    ]


def _latencies(row: Mapping[str, Any]) -> dict[str, float | None]:
    return {
        name: None if row.get(name) is None else round(float(row[name]), 1)
        for name in ("latency_ms_p50", "latency_ms_p90", "latency_ms_p99")
    }


def _rate(requests: int, span_s: float | None) -> float | None:
    return round(requests / span_s, 2) if span_s else None


def add_host_learning(summary: dict[str, Any], scheduler: Scheduler | None, fetch_s: float) -> None:
    """What each host's controller learned, and the lower bound it implies for this batch.

    A host needs at least ``answered / best sustained rate`` seconds; the batch, the
    largest of those (``lower_bound_s``). ``efficiency`` compares it with the time spent
    fetching: near 1.0 means the batch ran at the registries' limits.
    """
    learned = {h["host"]: h for h in scheduler.host_statistics()} if scheduler else {}
    hosts = scheduler.hosts if scheduler else {}
    bound = 0.0
    for row in summary["hosts"]:
        info = learned.get(row["host"])
        if info is None:
            continue
        rate = info["learned_max_rate_per_s"]  # None: too few answers to tell
        host_bound = info["answered"] / rate if rate and info["exhausted"] is None else None
        row.update(
            {
                "rate_per_s": info["rate_per_s"],
                "learned_max_rate_per_s": info["learned_max_rate_per_s"],
                "throttled_at_rate_per_s": info["throttled_at_rate_per_s"],
                "concurrency": info["concurrency"],
                "concurrency_ceiling": info["concurrency_ceiling"],
                "phase": info["phase"],
                # Its 503s + Retry-After were judged passing faults, not throttles.
                "faults_503": info["faults_503"],
                "breaker": info["breaker"],
                "exhausted": info["exhausted"],
                "profile": info["profile"],
                # Where its controller started: an earlier batch's learned limits (kept
                # in the cache), or the profile's start.
                "started_from": "learned" if _learned_from(hosts, row["host"]) else "profile",
                "lower_bound_s": None if host_bound is None else round(host_bound, 3),
            }
        )
        if host_bound is not None:
            bound = max(bound, host_bound)
    summary["fetch_s"] = round(fetch_s, 3)
    summary["lower_bound_s"] = round(bound, 3)
    summary["efficiency"] = round(bound / fetch_s, 3) if fetch_s > 0 and bound > 0 else None


def _learned_from(hosts: Mapping[str, Any], name: str) -> bool:
    host = hosts.get(name)
    return host is not None and host.controller.learned_from is not None
