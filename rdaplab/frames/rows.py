"""What every row of every kind shares: its query and what happened to it."""

from __future__ import annotations

from typing import Any

from rdaplab.models import NameResult, Normalized

__all__ = ["as_text", "outcome_row", "result_key"]


def result_key(result: NameResult) -> str | None:
    """The ``key`` column of a result's rows: its normalized query, None when invalid."""
    if result.error_kind == "invalid_query":
        return None
    return result.query if result.query is not None else result.key


def outcome_row(query: object, result: NameResult, norm: Normalized) -> dict[str, Any]:
    """The ``QUERIES_SCHEMA`` columns of one input row: its query and what happened to it
    (also the head and tail of its ``networks`` / ``autnums`` row)."""
    return {
        "query": as_text(query),
        "query_kind": result.query_kind,
        "key": result_key(result),
        "outcome": norm.outcome,
        "error_kind": norm.error_kind,
        "error_detail": norm.error_detail,
        "registry_url": result.registry_url,
        "http_status": result.http_status,
        "attempts": result.attempts,
        "latency_ms": result.latency_ms,
        "from_cache": result.from_cache,
        "fetched_at": result.fetched_at,
    }


def as_text(query: object) -> str | None:
    return query if query.__class__ is str else None if query is None else str(query)
