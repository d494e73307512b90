"""Results rebuilt from a cache file or a saved results file, without the network."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any

import polars as pl

from rdaplab.batch.plan import PATH_SEGMENT, fill_from_cache
from rdaplab.batch.privacy import PrivacySettings
from rdaplab.batch.result import LookupResult, make_result
from rdaplab.batch.summary import SummaryBuilder
from rdaplab.errors import InputError
from rdaplab.frames import build_frames, normalize_results, queries_from_domains
from rdaplab.models import NameResult
from rdaplab.rdap import KINDS, normalize_domains, normalize_query
from rdaplab.schemas import ATTEMPTS_SCHEMA, DOMAINS_SCHEMA, Frames, empty
from rdaplab.store import Cache

__all__ = ["batch_domains", "load_result", "parse_as_of"]

RESULT_SUFFIXES = (".parquet", ".pq", ".csv", ".json", ".ndjson", ".jsonl")
CACHE_SUFFIXES = (".duckdb", ".db", ".ddb")


def load_result(
    source: str | Path | Cache,
    *,
    batch_id: str | None = None,
    as_of: datetime | date | str | None = None,
    redact_pii: bool = True,
) -> LookupResult:
    """Rebuild a :class:`LookupResult` from a cache file or a saved results file.

    For reports and charts of work done earlier, without any network access.

    Parameters
    ----------
    source
        A DuckDB cache (a :class:`~rdaplab.cache.Cache` or a ``.duckdb``/``.db`` file): the
        frames hold every cached domain's newest answer, normalized again, and the
        attempts log. Or a results file written by :meth:`LookupResult.write` (``.parquet``,
        ``.csv``, ``.json``, ``.ndjson``): ``domains`` only, the other frames empty.
    batch_id
        With a cache: a snapshot of this batch. The names it looked up (those it served
        from the cache too, for batches of rdaplab 0.x with cache schema 5 or later; for
        older batches, those it answered or attempted), each with its newest answer as
        of the batch's end (a later batch's answers are not used); a name the batch
        attempted and could not answer is an error row, even if an earlier answer is
        kept. Its attempts, and the summary the batch recorded.
    as_of
        With a cache: a snapshot as of this time (an aware datetime, a date meaning the
        end of that UTC day, or ISO text): every name known by then, each with its
        newest answer up to then. Not with ``batch_id``.
    redact_pii
        Blank individual contacts in the frames rebuilt from a cache (as lookups do).

    Raises
    ------
    InputError
        The file is missing, of an unknown kind, the batch is not in the cache, or
        ``as_of`` is not a time.

    Examples
    --------
    >>> result = rdaplab.load_result("rdaplab.duckdb")  # doctest: +SKIP
    >>> result.report("report.html")  # doctest: +SKIP
    """
    cutoff = None
    if as_of is not None:
        if batch_id is not None:
            raise InputError("give batch_id or as_of, not both")
        cutoff = parse_as_of(as_of)
    if isinstance(source, Cache):
        return _result_from_cache(source, batch_id, redact_pii, cutoff)
    path = Path(source)
    if not path.exists():
        raise InputError(f"cannot load {path}: no such file")
    suffix = path.suffix.lower()
    if suffix in RESULT_SUFFIXES:
        if batch_id is not None or as_of is not None:
            raise InputError("batch_id and as_of apply to a cache file, not to a results file")
        return _result_from_file(path)
    if suffix in CACHE_SUFFIXES or _is_duckdb_file(path):
        with Cache(path, read_only=True) as cache:
            return _result_from_cache(cache, batch_id, redact_pii, cutoff)
    raise InputError(
        f"cannot load {path}: expected a DuckDB cache (.duckdb) or a results file "
        "(.parquet, .csv, .json, .ndjson)"
    )


def _is_duckdb_file(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(12)[8:12] == b"DUCK"  # DuckDB's magic bytes follow the checksum
    except OSError:
        return False


def _result_from_file(path: Path) -> LookupResult:
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            raw = pl.read_parquet(path)
        elif suffix == ".csv":
            raw = pl.read_csv(path, infer_schema_length=None)
        elif suffix == ".json":
            raw = pl.read_json(path)
        else:
            raw = pl.read_ndjson(path)
    except Exception as exc:  # polars raises several kinds for unreadable files
        raise InputError(f"cannot read {path}: {exc}") from exc
    missing = [c for c in ("domain", "outcome") if c not in raw.columns]
    if missing:
        raise InputError(f"{path} is not an rdaplab results file: no column {', '.join(missing)}")
    frames = Frames.empty()
    frames.domains = _conform(raw, DOMAINS_SCHEMA)
    counts = SummaryBuilder()
    counts.add_queries(queries_from_domains(frames.domains))
    summary = counts.build(batch_id="", elapsed_s=0.0, cache=None, attempts_of=None)
    summary["source"] = str(path)
    return make_result(frames, empty(ATTEMPTS_SCHEMA), summary, "")


def _conform(frame: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """Give a frame read back from a file the contract's columns and dtypes."""
    exprs = []
    for name, dtype in schema.items():
        if name not in frame.columns:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
            continue
        col = pl.col(name)
        current = frame.schema[name]
        if isinstance(dtype, pl.List) and current == pl.String():
            # CSV joins lists with spaces (write_frame): split them back.
            col = pl.when(col == "").then(pl.lit([], dtype)).otherwise(col.str.split(" "))
        elif isinstance(dtype, pl.Datetime) and current == pl.String():
            col = col.str.to_datetime(time_zone="UTC", strict=False)
        exprs.append(col.cast(dtype, strict=False).alias(name))
    return frame.select(exprs)


def parse_as_of(value: datetime | date | str) -> datetime:
    """An ``as_of`` time: aware datetimes as given (naive ones are UTC), a date (or
    ``YYYY-MM-DD`` text) the end of that UTC day, other text ISO 8601."""
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                value = date.fromisoformat(text)
            else:
                value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(
                f"cannot read {value!r} as a time: expected a batch id, YYYY-MM-DD or an "
                "ISO 8601 date and time"
            ) from None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime.combine(value, time.max, tzinfo=timezone.utc)
    raise InputError(f"as_of must be a datetime, a date or ISO text, not {type(value).__name__}")


def batch_domains(
    cache: Cache, batch_id: str, names: set[str] | None, *, redact_pii: bool
) -> pl.DataFrame:
    """The ``domains`` frame of a batch's snapshot, only ``names`` when given (the others
    are not read or normalized: a history of one name across batches of 10^5)."""
    return _result_from_cache(cache, batch_id, redact_pii, domains=names).domains


def _batch_end(row: dict[str, Any], attempts: pl.DataFrame) -> datetime:
    """When a batch's answers stop: its end, or for one that never finished (killed,
    interrupted) its last attempt's answer."""
    if row.get("finished_at") is not None:
        return _aware(row["finished_at"])
    last = _aware(row["started_at"])
    if attempts.height:
        ends = attempts.select(
            (pl.col("started_at") + pl.duration(milliseconds=pl.col("latency_ms"))).max()
        ).item()
        if ends is not None:
            last = max(last, _aware(ends))
    return last


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _result_from_cache(
    cache: Cache,
    batch_id: str | None,
    redact_pii: bool,
    as_of: datetime | None = None,
    domains: set[str] | None = None,
) -> LookupResult:
    attempts = cache.attempts(batch_id)
    stored: dict[str, Any] | None = None
    if batch_id is not None:
        row = cache.batch(batch_id)
        if row is None:
            raise InputError(f"no batch {batch_id!r} in the cache {cache.path}")
        stored = row
        as_of = _batch_end(row, attempts)
    elif as_of is not None:
        attempts = attempts.filter(pl.col("started_at") <= as_of)
    results: dict[str, NameResult] = {}
    rows: list[tuple[object, str]] = []
    for kind in KINDS:
        queries = cache.queries(
            kind,
            batch_id=batch_id,
            as_of=None if batch_id else as_of,
            asked=batch_id is not None,  # a batch's snapshot covers its cache hits too
        )
        if domains is not None:  # only these domains (a history): normalize nothing else
            queries = [q for q in queries if q in domains] if kind == "domain" else []
        if not queries:
            continue
        found = cache.lookup_fresh(
            kind, queries, max_age_s=float("inf"), not_found_ttl_s=float("inf"), as_of=as_of
        )
        if batch_id is not None:
            # Attempted by this batch and not answered by it: an error in this snapshot,
            # whatever an earlier batch got.
            tried = set(attempts.filter(pl.col("query_kind") == kind)["query"].to_list())
            for query in [q for q in found if q in tried]:
                if found[query].responses[0].batch_id != batch_id:
                    del found[query]
        keys: dict[str, str] = {}  # stored query -> result key
        if kind == "domain":
            for query, norm in zip(queries, normalize_domains(queries), strict=True):
                results[query] = NameResult(
                    "domain", query, "error", unicode_name=norm.unicode_name, tld=norm.tld
                )
                keys[query] = query
        else:
            for query in queries:
                # the key a lookup gives it (entity handles are percent-encoded in paths)
                path = normalize_query(query, kind).path or f"{PATH_SEGMENT[kind]}{query}"
                results[path] = NameResult(kind, path, "error", query=query)
                keys[query] = path
        for query, key in keys.items():
            rows.append((query, key))
            if query in found:
                fill_from_cache(results[key], found[query].responses)
                if batch_id is not None:  # a batch's own answers were not cache hits
                    results[key].from_cache = found[query].responses[0].batch_id != batch_id
                url = found[query].responses[0].url
                results[key].registry_url = url.rsplit(PATH_SEGMENT[kind], 1)[0]
        failed_only = [q for q in queries if q not in found]  # attempted, never answered
        if failed_only:
            last = (
                attempts.filter((pl.col("query_kind") == kind) & pl.col("query").is_in(failed_only))
                .group_by("query")
                .agg(
                    pl.col("error_kind").last(),
                    pl.col("error_detail").last(),
                    pl.col("url").first(),
                )
            )
            for query, error_kind, detail, url in last.iter_rows():
                result = results[keys[query]]
                result.error_kind = error_kind or "http_error"
                result.error_detail = detail
                result.registry_url = url.rsplit(PATH_SEGMENT[kind], 1)[0]
    records = normalize_results([r for r in results.values() if r.responses])
    frames = build_frames(rows, results, records)
    counts = SummaryBuilder()
    counts.add_queries(frames.queries)
    summary = counts.build(
        batch_id=batch_id or "", elapsed_s=0.0, cache=cache, attempts_of=batch_id
    )
    frames = PrivacySettings(redact_pii=redact_pii).apply(frames)
    summary["cache"] = str(cache.path)
    summary["snapshot"] = {
        "batch_id": batch_id,
        "as_of": None if as_of is None else as_of.isoformat(),
    }
    if stored is not None and stored.get("summary"):
        # The batch's own numbers (its cache hits, elapsed time, learned rates) win.
        summary = {**summary, **json.loads(stored["summary"])}
    return make_result(frames, attempts, summary, batch_id or "", str(cache.path))
