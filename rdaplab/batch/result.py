"""What a batch gives back: :class:`LookupResult`, and writing its frames to files."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from rdaplab.errors import InputError
from rdaplab.frames import domain_remarks_and_links, queries_from_domains
from rdaplab.schemas import (
    AUTNUMS_SCHEMA,
    LINKS_SCHEMA,
    NETWORKS_SCHEMA,
    QUERIES_SCHEMA,
    REMARKS_SCHEMA,
    Frames,
    empty,
)
from rdaplab.store import Cache

__all__ = [
    "OUTPUT_SUFFIXES",
    "LookupResult",
    "check_output_path",
    "make_result",
    "register_result_extension",
    "write_frame",
]

log = logging.getLogger("rdaplab")

# name -> factory(result): what the layers above add to a result (rdaplab.notebook adds
# ``charts`` and ``report``), so this layer never imports them.
_EXTENSIONS: dict[str, Callable[..., Any]] = {}


def register_result_extension(name: str, factory: Callable[..., Any]) -> None:
    """Make ``result.<name>`` call ``factory(result)`` (the notebook layer's charts and
    report are added this way, as Polars namespaces are)."""
    _EXTENSIONS[name] = factory


def _extension(name: str) -> Callable[..., Any]:
    try:
        return _EXTENSIONS[name]
    except KeyError:
        raise AttributeError(
            f"LookupResult.{name} needs rdaplab's notebook layer "
            "(pip install 'rdaplab[notebook]'; it registers itself when imported)"
        ) from None


@dataclass
class LookupResult:
    """The normalized frames and summary of one batch.

    Attributes
    ----------
    domains
        One row per domain input row, in input order (``rdaplab.frames.DOMAINS_SCHEMA``).
    events, entities, nameservers, redactions
        Rows per distinct object looked up, keyed by ``query_kind`` and ``key`` (and
        ``domain`` for domains); see docs/schemas.md.
    attempts
        Every HTTP attempt of this batch (``rdaplab.frames.ATTEMPTS_SCHEMA``).
    summary
        Totals and per-registry statistics (see docs/quickstart.md).
    networks, autnums
        One row per IP / ASN input row, in input order (``NETWORKS_SCHEMA``,
        ``AUTNUMS_SCHEMA``; see docs/objects.md).
    remarks, links
        The remarks and links of IP network, autnum, entity and nameserver objects.
    queries
        One row per input row of every kind: what happened to it (``QUERIES_SCHEMA``).
    """

    domains: pl.DataFrame
    events: pl.DataFrame
    entities: pl.DataFrame
    nameservers: pl.DataFrame
    redactions: pl.DataFrame
    attempts: pl.DataFrame
    summary: dict[str, Any]
    batch_id: str
    cache_path: str | None = None
    networks: pl.DataFrame = field(default_factory=lambda: empty(NETWORKS_SCHEMA))
    autnums: pl.DataFrame = field(default_factory=lambda: empty(AUTNUMS_SCHEMA))
    # remarks/links of the other kinds; domain rows are added on first read (see remarks)
    object_remarks: pl.DataFrame = field(default_factory=lambda: empty(REMARKS_SCHEMA), repr=False)
    object_links: pl.DataFrame = field(default_factory=lambda: empty(LINKS_SCHEMA), repr=False)
    queries: pl.DataFrame = field(default_factory=lambda: empty(QUERIES_SCHEMA))
    _extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"<LookupResult {s['total']:,} rows ({s['unique']:,} unique): ok {s['ok']:,}, "
            f"not_found {s['not_found']:,}, error {s['error']:,}; requests {s['requests']:,}, "
            f"cache hits {s['cache_hits']:,}, {s['elapsed_s']:.1f}s>"
        )

    @property
    def remarks(self) -> pl.DataFrame:
        """``remarks`` of every object (``REMARKS_SCHEMA``); see :attr:`links`."""
        return self._details()[0]

    @property
    def links(self) -> pl.DataFrame:
        """``links`` of every object (``LINKS_SCHEMA``).

        Rows of IP networks, autnums, entities and nameservers are built with the batch;
        rows of domains the first time this (or :attr:`remarks`) is read, from the cached
        bodies (the domain fast path skips them to keep normalization fast). Without the
        cache file (gone, or in use by another process) only the other kinds' rows are
        there, with a warning.
        """
        return self._details()[1]

    def _details(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        got = self._extra.get("details")
        if got is None:
            got = self._extra["details"] = with_domain_details(self)
        return got

    def history(self, name: str | None = None) -> pl.DataFrame:
        """A name's values (or, without one, every domain's) across every batch stored in
        this result's cache, oldest first (``rdaplab.history``; ``HISTORY_SCHEMA``).

        Raises
        ------
        InputError
            The result has no cache file (an in-memory cache, or a results file).
        """
        return _extension("history")(self, name)  # rdaplab.batch.changes registers it

    def write(self, path: str | Path, frame: str = "auto") -> Path:
        """Write one frame as Parquet, CSV or JSON, chosen by the extension.

        ``frame="auto"`` writes ``domains`` when every row is a domain (or there are no
        rows), ``networks`` / ``autnums`` when every row is an IP / ASN, else ``queries``
        (one row per input row of every kind). Any frame can be named instead.
        """
        return write_frame(getattr(self, self._frame_name(frame)), path)

    def _frame_name(self, frame: str = "auto") -> str:
        names = ("domains", "networks", "autnums", "queries", "events", "entities",
                 "nameservers", "redactions", "remarks", "links", "attempts")  # fmt: skip
        if frame != "auto":
            if frame not in names:
                raise InputError(f"no frame {frame!r}; choose from {', '.join(names)}")
            return frame
        kinds = set(self.summary.get("kinds") or {})
        if kinds <= {"domain"}:
            return "domains"
        if kinds == {"ip"}:
            return "networks"
        if kinds == {"asn"}:
            return "autnums"
        return "queries"

    @property
    def charts(self) -> Any:
        """Altair charts of this batch: ``result.charts.latency()``, ... (see docs/charts.md).

        Needs the notebook extra: ``pip install 'rdaplab[notebook]'``.
        """
        return _extension("charts")(self)

    def report(self, path: str | Path, **kwargs: Any) -> Path:
        """Write a self-contained HTML report (tables and charts) that opens offline.

        Keyword arguments go to :func:`rdaplab.report.write_report` (``title``,
        ``images=("png", "svg")``, and ``changes=`` / ``expiry=``: a
        :func:`rdaplab.diff` and an :func:`rdaplab.expiry_outcomes` frame, which add a
        Changes section). See docs/report.md.
        """
        return _extension("report")(self, path, **kwargs)

    def _repr_html_(self) -> str:
        # A notebook shows the summary line and the first rows, not a wall of columns.
        import html

        first = self.domains if self.domains.height or not self.queries.height else self.queries
        head = first.head(5)._repr_html_()
        return f"<p><code>{html.escape(repr(self))}</code></p>{head}"


OUTPUT_SUFFIXES = (".parquet", ".pq", ".csv", ".json", ".ndjson", ".jsonl")


def check_output_path(path: str | Path) -> Path:
    """Raise :class:`InputError` for an output path rdaplab cannot write, before any work."""
    path = Path(path)
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise InputError(
            f"cannot write {path}: unknown format {path.suffix or '(no extension)'!r}; "
            "use .parquet, .csv, .json or .ndjson"
        )
    if not path.parent.exists():
        raise InputError(f"cannot write {path}: folder {path.parent} does not exist")
    return path


def write_frame(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write a frame as Parquet, CSV (lists joined by spaces), JSON or NDJSON."""
    path = check_output_path(path)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        frame.write_parquet(path)
    elif suffix == ".csv":
        # CSV has no lists: join them so the file stays one row per name.
        flat = frame.with_columns(
            pl.col(c).list.join(" ") for c, t in frame.schema.items() if isinstance(t, pl.List)
        )
        flat.write_csv(path)
    elif suffix == ".json":
        frame.write_json(path)
    else:
        frame.write_ndjson(path)
    return path


def make_result(
    frames: Frames,
    attempts: pl.DataFrame,
    summary: dict[str, Any],
    batch_id: str,
    cache_path: str | None = None,
) -> LookupResult:
    """A :class:`LookupResult` of ``frames`` (``queries`` derived when only domains)."""
    return LookupResult(
        domains=frames.domains,
        events=frames.events,
        entities=frames.entities,
        nameservers=frames.nameservers,
        redactions=frames.redactions,
        attempts=attempts,
        summary=summary,
        batch_id=batch_id,
        cache_path=cache_path,
        networks=frames.networks,
        autnums=frames.autnums,
        object_remarks=frames.remarks,
        object_links=frames.links,
        queries=(
            frames.queries
            if frames.queries.height or not frames.domains.height
            else queries_from_domains(frames.domains)
        ),
    )


def with_domain_details(result: LookupResult) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(remarks, links): the domain rows, read from the cache, then the other kinds'."""
    remarks, links = result.object_remarks, result.object_links
    d = result.domains
    if d.height == 0 or not result.cache_path or result.cache_path == ":memory:":
        return remarks, links
    ok = d.filter((pl.col("outcome") == "ok") & pl.col("domain").is_not_null())["domain"]
    keys: list[str] = ok.unique(maintain_order=True).to_list()
    if not keys:
        return remarks, links
    try:
        if not Path(result.cache_path).is_file():
            raise FileNotFoundError(result.cache_path)
        store = Cache(result.cache_path)
        try:
            found = store.lookup_fresh(
                "domain", keys, max_age_s=float("inf"), not_found_ttl_s=float("inf")
            )
        finally:
            store.close()
    except Exception as exc:  # a convenience view: never fail the caller over it
        log.warning(
            "rdaplab: domain remarks/links not available (cache %s: %s)", result.cache_path, exc
        )
        return remarks, links
    dom_remarks, dom_links = domain_remarks_and_links(
        (k, found[k].responses) for k in keys if k in found
    )
    # fields= minimization applies to these rows too: keep the columns the batch kept
    return (
        pl.concat([dom_remarks.select(remarks.columns), remarks]),
        pl.concat([dom_links.select(links.columns), links]),
    )
