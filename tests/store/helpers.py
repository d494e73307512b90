"""Shared builders of the store tests: answers, attempts, a child Python, lookups."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from rdaplab.models import Attempt, Response
from rdaplab.store import Cache

UTC = timezone.utc
NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]
VENV_PY = REPO / ".venv" / "bin" / "python"
PYTHON = str(VENV_PY) if VENV_PY.exists() else sys.executable


def resp(
    query: str,
    *,
    status: int = 200,
    age_s: float = 0.0,
    depth: int = 0,
    lookup_id: str = "",
    body: bytes | None = None,
    kind: str = "domain",
    batch_id: str = "b1",
    referral_status: str | None = None,
) -> Response:
    url = f"https://rdap.example/{kind}/{query}"
    if depth:
        url = f"https://registrar.example/{kind}/{query}"
    return Response(
        query_kind=kind,
        query=query,
        depth=depth,
        url=url,
        final_url=url,
        status=status,
        headers={"content-type": "application/rdap+json"},
        body=body if body is not None else json.dumps({"ldhName": query}).encode(),
        fetched_at=NOW - timedelta(seconds=age_s),
        latency_ms=12.5,
        batch_id=batch_id,
        lookup_id=lookup_id,
        referral_status=referral_status,
    )


def attempt(query: str, **kw: Any) -> Attempt:
    fields: dict[str, Any] = {
        "batch_id": "b1",
        "host": "rdap.example:443",
        "url": f"https://rdap.example/domain/{query}",
        "query_kind": "domain",
        "query": query,
        "started_at": NOW,
        "latency_ms": 20.0,
        "status": 200,
        "bytes": 1234,
        "retry_after_s": None,
        "error_kind": None,
    }
    fields.update(kw)
    return Attempt(**fields)


def run_child(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


def fresh(cache: Cache, queries: list[str], **kw: Any) -> dict[str, Any]:
    kw.setdefault("max_age_s", 3600)
    kw.setdefault("not_found_ttl_s", 600)
    return cache.lookup_fresh("domain", queries, now=NOW, **kw)
