"""Planning a chunk of input: keys, routes, cached answers and priorities.

Pure bookkeeping between the input and the engine: every value becomes a key (domains by
their A-label, other kinds by their RDAP path, invalid values by a reserved prefix), each
distinct key one :class:`~rdaplab.models.NameResult`; the bootstrap routes each key to a
registry URL or says why none serves it; the cache answers what it can in one set query.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from rdaplab.batch.inputs import read_values
from rdaplab.engine import PRIORITIES, priority_index
from rdaplab.errors import InputError
from rdaplab.models import CachedLookup, NameResult, Response
from rdaplab.rdap import Bootstrap, detect_kind, normalize_domains, normalize_queries
from rdaplab.rdap.kinds import Query
from rdaplab.rdap.names import NormalizedName
from rdaplab.rdap.psl import DomainMapper
from rdaplab.store import Cache

__all__ = [
    "INVALID_PREFIX",
    "PATH_SEGMENT",
    "cached_lookups",
    "fill_from_cache",
    "plan_queries",
    "priority_resolver",
    "resolve_priorities",
    "route_queries",
]

INVALID_PREFIX = "\x00invalid:"  # keys of invalid inputs never collide with real names
# The RDAP path segment of each kind (RFC 9082 §3.1).
PATH_SEGMENT = {
    "domain": "domain/",
    "ip": "ip/",
    "asn": "autnum/",
    "entity": "entity/",
    "nameserver": "nameserver/",
}

Rows = list[tuple[object, str]]


def plan_queries(
    raw: Sequence[object], kind: str = "auto", mapper: DomainMapper | None = None
) -> tuple[Rows, dict[str, NameResult]]:
    """Normalize every input value into ``(value, key)`` rows and one result per key.

    Domains are keyed by their A-label name (the fast path: a batch of domains never
    pays for kind detection beyond a shape check); with a ``mapper``, by their registrable
    domain (URLs, e-mail addresses and host names mapped, :mod:`rdaplab.rdap.psl`), so a
    registrable domain is looked up once. The other kinds are keyed by their RDAP path
    (``ip/192.0.2.0/24``, ``autnum/15169``, ``entity/X``, ``nameserver/ns1.example``), so
    kinds never collide; invalid values by ``INVALID_PREFIX`` + their repr, with the
    kind they were taken for and the reason in ``error_detail``.

    Under ``kind="auto"``, an invalid value in a chunk whose valid values are all of one
    kind is reported as an invalid value of that kind (``"1.2.3"`` among domains is an
    invalid domain, taken for an IP address): one bad row never makes a batch mixed.
    """
    kinds = [kind] * len(raw) if kind != "auto" else detect_kinds(raw)
    domain_at = [i for i, k in enumerate(kinds) if k == "domain"]
    domain_values = [raw[i] for i in domain_at]
    if not domain_at:
        names: list[NormalizedName] = []
    elif mapper is not None:
        names = mapper.map(domain_values, normalize_domains)
    else:
        names = normalize_domains(domain_values)
    queries = (
        normalize_queries([v for v, k in zip(raw, kinds, strict=True) if k != "domain"], kind)
        if len(domain_at) < len(raw)
        else []
    )
    # (only domains: nothing to relabel, and nothing to scan)
    relabel = _relabel_kind(names, queries) if kind == "auto" and queries else None
    rows: Rows = []
    results: dict[str, NameResult] = {}
    name_it = iter(names)
    query_it = iter(queries)
    for value, k in zip(raw, kinds, strict=True):
        if k == "domain":
            norm = next(name_it)
            if norm.name is None:
                _invalid(results, rows, value, relabel or "domain", norm.error, "domain")
                continue
            key = norm.name
            if key not in results:
                results[key] = NameResult(
                    "domain", key, "error", unicode_name=norm.unicode_name, tld=norm.tld
                )
        else:
            q = next(query_it)
            if q.path is None or q.query is None:
                _invalid(results, rows, value, relabel or q.kind, q.error, q.kind)
                continue
            key = q.path
            if key not in results:
                tld = q.query.rsplit(".", 1)[-1] if q.kind == "nameserver" else None
                results[key] = NameResult(
                    q.kind, key, "error", unicode_name=q.unicode_name, tld=tld, query=q.query
                )
        rows.append((value, key))
    return rows, results


_TAKEN_FOR = {"domain": "a domain name", "ip": "an IP address", "asn": "an AS number"}


def _invalid(
    results: dict[str, NameResult],
    rows: Rows,
    value: object,
    kind: str,
    error: str | None,
    detected: str,
) -> None:
    """One invalid row: reported under ``kind`` (what the batch's valid values are), with
    the reason it was refused as the ``detected`` kind."""
    key = f"{INVALID_PREFIX}{value!r}" if kind == "domain" else f"{INVALID_PREFIX}{kind}:{value!r}"
    if key not in results:
        detail = error if kind == detected else f"taken for {_TAKEN_FOR[detected]}: {error}"
        results[key] = NameResult(
            kind, key, "error", error_kind="invalid_query", error_detail=detail
        )
    rows.append((value, key))


def _relabel_kind(names: Sequence[NormalizedName], queries: Sequence[Query]) -> str | None:
    """The one kind of a chunk's valid values when its invalid ones are of another kind,
    else None (nothing to relabel: the chunk is really mixed, or has no valid value)."""
    valid: set[str] = set()
    invalid: set[str] = set()
    if any(n.name is not None for n in names):
        valid.add("domain")
    if any(n.name is None for n in names):
        invalid.add("domain")
    for q in queries:
        (valid if q.path is not None else invalid).add(q.kind)
    if len(valid) == 1 and invalid - valid:
        return next(iter(valid))
    return None


# Every value auto-detection could call an IP or an ASN matches this (a superset: ':' or
# '/' anywhere, or only digits, dots, "AS" letters and whitespace); the rest are domains.
_NOT_SURELY_DOMAIN = r"[:/]|^[\s\x1c-\x1f0-9.AaSs]+$"


def detect_kinds(raw: Sequence[object]) -> list[str]:
    """:func:`~rdaplab.rdap.detect_kind` of every value; all-string inputs are screened in
    Polars first (a batch of domains then costs ~10 ms per 10^5 values, not ~100 ms)."""
    if not raw or not all(type(v) is str for v in raw):
        return [detect_kind(v) for v in raw]
    maybe = pl.Series(raw, dtype=pl.String).str.contains(_NOT_SURELY_DOMAIN)
    if not maybe.any():
        return ["domain"] * len(raw)
    return [detect_kind(v) if m else "domain" for v, m in zip(raw, maybe.to_list(), strict=True)]


def _no_service_reason(result: NameResult, query: str) -> str:
    kind = result.query_kind
    if kind == "domain":
        return f"no RDAP service for .{result.tld} in the bootstrap registry"
    if kind == "nameserver":
        return f"no RDAP service for .{result.tld} (nameserver {query}) in the bootstrap"
    if kind == "ip":
        return f"no RDAP service for {query} in the IANA IP bootstrap (ipv4.json/ipv6.json)"
    if kind == "asn":
        return f"no RDAP service for AS{query} in the IANA ASN bootstrap (asn.json)"
    # entity: only handles with a registered object tag (RFC 8521) are routable
    tag = query.rpartition("-")[2] if "-" in query else None
    if tag:
        return f"no RDAP service for the object tag {tag!r} of {query} (object-tags.json)"
    return (
        f"the entity handle {query!r} has no object tag (RFC 8521): "
        "no way to tell which registry holds it"
    )


def route_queries(results: Mapping[str, NameResult], boot: Bootstrap) -> dict[str, str]:
    """Key -> URL of every result the bootstrap has a service for; the others become
    ``no_rdap_service`` errors (``registry_url`` is set on the routed ones)."""
    to_fetch: dict[str, str] = {}
    for key, result in results.items():
        if result.error_kind == "invalid_query":
            continue
        kind = result.query_kind
        query = result.key if result.query is None else result.query
        if kind == "domain":
            match = boot.domain(key)
        elif kind == "nameserver":
            match = boot.domain(query)
        elif kind == "ip":
            match = boot.ip(query)
        elif kind == "asn":
            match = boot.asn(int(query))
        else:
            match = boot.entity(query)
        if match is None:
            result.error_kind = "no_rdap_service"
            result.error_detail = _no_service_reason(result, query)
            continue
        result.registry_url = match.base_url
        path = f"domain/{key}" if kind == "domain" else key
        to_fetch[key] = f"{match.base_url}{path}"
    return to_fetch


def cached_lookups(
    store: Cache,
    results: Mapping[str, NameResult],
    keys: Sequence[str],
    *,
    max_age_s: float,
    nf_age_s: float,
) -> dict[str, CachedLookup]:
    """Fresh cached answers for ``keys`` (of ``results``), keyed like ``results``: one set
    query per kind."""
    by_kind: dict[str, list[str]] = {}
    for key in keys:
        by_kind.setdefault(results[key].query_kind, []).append(key)
    hits: dict[str, CachedLookup] = {}
    for kind, kind_keys in by_kind.items():
        if kind == "domain":  # keyed by the query itself: no translation (10^5 keys)
            hits.update(
                store.lookup_fresh(kind, kind_keys, max_age_s=max_age_s, not_found_ttl_s=nf_age_s)
            )
            continue
        key_of = {results[k].query or k: k for k in kind_keys}
        found = store.lookup_fresh(
            kind, list(key_of), max_age_s=max_age_s, not_found_ttl_s=nf_age_s
        )
        hits.update({key_of[q]: v for q, v in found.items()})
    return hits


def fill_from_cache(result: NameResult, responses: list[Response]) -> None:
    """Make ``result`` what the cached ``responses`` (registry answer first) say."""
    registry = responses[0]
    result.from_cache = True
    result.responses = responses  # the caller's list (lookup_fresh's): no copy per key
    result.http_status = registry.status
    result.fetched_at = registry.fetched_at
    result.latency_ms = sum(r.latency_ms for r in responses)
    result.outcome = "ok" if 200 <= registry.status < 300 else "not_found"
    result.error_kind = None
    result.referral_status = registry.referral_status
    if len(responses) > 1:
        result.registrar_url = responses[-1].url


# --------------------------------------------------------------------------- priorities

# (first input row of the chunk, its raw values, its rows) -> key -> class index
PriorityResolver = Callable[[int, Sequence[Any], Rows], dict[str, int]]


def priority_resolver(
    priority: Any, values: Any = None, *, total: int | None = None, streaming: bool = False
) -> PriorityResolver | None:
    """Check ``priority`` before any work and return how to resolve it chunk by chunk.

    ``priority`` may be ``None`` (all ``normal``), a class name for every row, a mapping
    ``name -> class``, a function ``name -> class`` (called with the normalized name), or
    (not ``streaming``: they need the whole input) the name of a column of the input frame
    or file, or a sequence with one class per input row (``total`` rows). A name with
    several rows gets the highest class among them.
    """
    if priority is None:
        return None
    if isinstance(priority, str):
        try:
            index = priority_index(priority)
        except ValueError as exc:
            if streaming:
                raise InputError(f"priority: {exc}") from None
            return _per_row(_priority_column(values, priority), total)
        return lambda first, raw, rows: {key: index for _, key in rows}
    if isinstance(priority, Mapping):
        try:
            table = {k: priority_index(v) for k, v in priority.items()}
        except ValueError as exc:
            raise InputError(f"priority: {exc}") from None
        return lambda first, raw, rows: _highest(
            (key, table.get(key, table.get(str(value)))) for value, key in rows
        )
    if callable(priority):
        return lambda first, raw, rows: _highest(
            (key, _call(priority, key)) for _, key in rows if not key.startswith(INVALID_PREFIX)
        )
    if streaming or isinstance(priority, (bytes, int, float)) or not hasattr(priority, "__iter__"):
        raise InputError(
            "priority takes a class name, a mapping or a function of the name"
            + ("" if streaming else ", a column name or one class per input row")
        )
    return _per_row(list(priority), total)


def resolve_priorities(
    priority: Any, values: Any, raw: Sequence[Any], rows: Rows
) -> dict[str, int]:
    """Each distinct key of ``rows`` (the whole input) -> its priority class index."""
    resolver = priority_resolver(priority, values, total=len(rows))
    return {} if resolver is None else resolver(0, raw, rows)


def _highest(pairs: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, cls in pairs:  # None: normal
        try:
            index = priority_index(cls)
        except ValueError as exc:
            raise InputError(f"priority for {key!r}: {exc}") from None
        out[key] = min(out.get(key, index), index)
    return out


def _call(fn: Callable[[str], Any], key: str) -> Any:
    try:
        return fn(key)
    except Exception as exc:  # the user's function: say which name broke it
        raise InputError(f"priority function failed for {key!r}: {exc!r}") from None


def _per_row(per_row: list[Any], total: int | None) -> PriorityResolver:
    if total is not None and len(per_row) != total:
        raise InputError(
            f"priority has {len(per_row):,} values for {total:,} input rows; "
            "give one class per row, a column name, a mapping or a function"
        )
    return lambda first, raw, rows: _highest(
        (key, per_row[first + i]) for i, (_, key) in enumerate(rows)
    )


def _priority_column(values: Any, column: str) -> list[Any]:
    if isinstance(values, (pl.DataFrame, pl.LazyFrame, str, Path)) or hasattr(values, "columns"):
        try:
            return read_values(values, column=column)
        except InputError as exc:
            raise InputError(
                f"priority={column!r} is neither a class nor a column: {exc}"
            ) from None
    raise InputError(
        f"priority={column!r} is not one of {', '.join(PRIORITIES)} "
        "(a column name works only when the input is a frame or a file)"
    )
