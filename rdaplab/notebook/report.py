"""Self-contained HTML reports of a batch: summary tables and the charts, Vega inlined.

One file that opens offline (no CDN, no network): the Vega, Vega-Lite and vega-embed
libraries come from vl-convert-python's bundle and are included once; each chart is a
Vega-Lite spec in a ``<script type="application/json">`` block drawn by vega-embed as SVG.
Optionally each chart is also written as PNG and/or SVG beside the HTML.

Given the frames of ``rdaplab.diff`` (``changes=``) and ``rdaplab.expiry_outcomes``
(``expiry=``), the report gains a "Changes" section: names per change kind and snapshot
pair, the top transfers between registrars, renewal versus drop, and their charts.

A report holds aggregates only (counts, rates, latencies, the charts' aggregated data):
never response bodies, contact data or per-name rows.
"""

from __future__ import annotations

import functools
import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rdaplab._version import __version__
from rdaplab.errors import ERROR_KINDS, OUTCOMES, InputError

if TYPE_CHECKING:
    import polars as pl

    from rdaplab.batch import LookupResult

INSTALL_HINT = "pip install 'rdaplab[notebook]'"
IMAGE_FORMATS = ("png", "svg")
REPORT_SUFFIXES = (".html", ".htm")
PNG_SCALE = 2.0  # crisp on high-density screens and in slides
TOP_TRANSFERS = 10  # rows of the report's table of transfers (the rest: one "Other" row)

# The columns the Changes section reads from the frames it is given.
_CHANGES_NEEDS = ("domain", "change", "category", "field", "before", "after")
_EXPIRY_NEEDS = ("domain", "expiration_date", "fate")

# (summary key, label, kind) of the totals table, in display order.
_TOTALS: tuple[tuple[str, str, str], ...] = (
    ("total", "rows", "int"),
    ("unique", "unique names", "int"),
    ("ok", "ok", "int"),
    ("not_found", "not found", "int"),
    ("error", "error", "int"),
    ("requests", "requests", "int"),
    ("cache_hits", "cache hits (names)", "int"),
    ("cache_hit_rows", "cache hits (rows)", "int"),
    ("throttled", "throttled", "int"),
    ("elapsed_s", "elapsed (s)", "float"),
    ("fetch_s", "fetching (s)", "float"),
    ("lower_bound_s", "lower bound at learned rates (s)", "float"),
    ("efficiency", "efficiency", "float2"),
)

_REGISTRY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("registry_url", "registry", "text"),
    ("names", "names", "int"),
    ("ok", "ok", "int"),
    ("not_found", "not found", "int"),
    ("error", "error", "int"),
    ("from_cache", "from cache", "int"),
    ("requests", "requests", "int"),
    ("throttled", "throttled", "int"),
    ("latency_ms_p50", "p50 ms", "float"),
    ("latency_ms_p90", "p90 ms", "float"),
    ("latency_ms_p99", "p99 ms", "float"),
    ("achieved_rate_per_s", "achieved /s", "float"),
)

_HOST_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("host", "host", "text"),
    ("requests", "requests", "int"),
    ("throttled", "throttled", "int"),
    ("throttled_share", "thr. %", "percent"),
    ("errors", "errors", "int"),
    ("latency_ms_p50", "p50 ms", "float"),
    ("latency_ms_p90", "p90 ms", "float"),
    ("achieved_rate_per_s", "achieved /s", "float"),
    ("learned_max_rate_per_s", "learned /s", "float"),
    ("throttled_at_rate_per_s", "thr. at /s", "float"),
    ("rate_per_s", "final /s", "float"),
    ("concurrency", "conc.", "int"),
    ("state", "state", "text"),
    ("lower_bound_s", "bound s", "float"),
)


@dataclass(frozen=True)
class ReportFiles:
    """What :func:`export_report` wrote: the HTML file and the chart images beside it."""

    html: Path
    images: tuple[Path, ...] = ()
    charts: tuple[str, ...] = ()


def write_report(
    result: LookupResult,
    path: str | Path,
    *,
    title: str | None = None,
    images: Iterable[str] = (),
    changes: pl.DataFrame | None = None,
    expiry: pl.DataFrame | None = None,
) -> Path:
    """Write one self-contained HTML report of a batch; it opens offline.

    Parameters
    ----------
    result
        A :class:`~rdaplab.LookupResult` (from a batch or ``rdaplab.lookup.load_result``).
    path
        The ``.html`` file to write; its folder must exist.
    title
        The report's title (default: ``rdaplab report``).
    images
        ``"png"`` and/or ``"svg"``: also write each chart beside the HTML as
        ``<stem>-<chart-slug>.<format>``; :func:`export_report` returns their paths.
    changes
        A frame of ``rdaplab.diff`` (``DIFF_SCHEMA``; diffs of consecutive snapshot pairs
        may be concatenated): adds a "Changes" section with names per change kind (per
        snapshot pair), the top transfers between registrars and their charts
        (``rdaplab.charts.changes_by_kind``, ``transfer_flows``).
    expiry
        A frame of ``rdaplab.expiry_outcomes``: adds renewal versus drop (names per fate,
        ``rdaplab.charts.expiry_fates``) to the "Changes" section.

    Returns
    -------
    Path
        The HTML file.

    Raises
    ------
    InputError
        The path cannot be written, an image format is unknown, ``changes`` / ``expiry``
        are not such frames, or the optional dependencies (altair, vl-convert-python) are
        missing.

    Examples
    --------
    >>> write_report(result, "report.html", images=("png",))  # doctest: +SKIP
    PosixPath('report.html')
    >>> changes = rdaplab.diff("previous", "latest", cache="study.duckdb")  # doctest: +SKIP
    >>> write_report(result, "report.html", changes=changes)  # doctest: +SKIP
    PosixPath('report.html')
    """
    return export_report(
        result, path, title=title, images=images, changes=changes, expiry=expiry
    ).html


def export_report(
    result: LookupResult,
    path: str | Path,
    *,
    title: str | None = None,
    images: Iterable[str] = (),
    changes: pl.DataFrame | None = None,
    expiry: pl.DataFrame | None = None,
) -> ReportFiles:
    """:func:`write_report`, returning every file written (HTML and chart images).

    ``ReportFiles.charts`` lists the batch's charts, then the Changes section's.
    """
    path = check_report_path(path)
    formats = _image_formats(images)
    changes = _frame_arg(changes, "changes", "rdaplab.diff", _CHANGES_NEEDS)
    expiry = _frame_arg(expiry, "expiry", "rdaplab.expiry_outcomes", _EXPIRY_NEEDS)
    vlc = _vl_convert()
    charts = _chart_specs(result)
    change_charts = _change_chart_specs(changes, expiry)
    every = {**charts, **change_charts}
    page = render_html(
        result,
        charts,
        title=title,
        bundle=vega_bundle() if every else "",
        changes=changes,
        expiry=expiry,
        change_charts=change_charts,
    )
    written: list[Path] = []
    try:
        path.write_text(page, encoding="utf-8")
        for slug, spec in _slugged(every):
            for fmt in formats:
                out = path.with_name(f"{path.stem}-{slug}.{fmt}")
                if fmt == "png":
                    out.write_bytes(
                        vlc.vegalite_to_png(spec, vl_version=_vl_version(), scale=PNG_SCALE)
                    )
                else:
                    out.write_text(vlc.vegalite_to_svg(spec, vl_version=_vl_version()), "utf-8")
                written.append(out)
    except OSError as exc:
        raise InputError(f"cannot write the report {path}: {exc}") from exc
    return ReportFiles(html=path, images=tuple(written), charts=tuple(every))


def check_report_path(path: str | Path) -> Path:
    """Raise :class:`InputError` for a report path that cannot be written, before any work."""
    path = Path(path)
    if path.suffix.lower() not in REPORT_SUFFIXES:
        raise InputError(
            f"cannot write {path}: a report is an HTML file; "
            f"use a name ending in .html (got {path.suffix or 'no extension'!r})"
        )
    if not path.parent.is_dir():
        raise InputError(f"cannot write {path}: folder {path.parent} does not exist")
    return path


def _image_formats(images: Iterable[str]) -> tuple[str, ...]:
    formats = (images,) if isinstance(images, str) else tuple(images)
    unknown = [f for f in formats if f not in IMAGE_FORMATS]
    if unknown:
        raise InputError(f"unknown image format {unknown[0]!r}; use 'png' and/or 'svg'")
    return tuple(dict.fromkeys(formats))


def _vl_convert() -> Any:
    try:
        import vl_convert
    except ImportError:
        raise InputError(
            f"writing a report needs vl-convert-python and altair: {INSTALL_HINT}"
        ) from None
    return vl_convert


@functools.lru_cache(maxsize=1)
def _vl_version() -> str | None:
    """The Vega-Lite version altair writes specs for, when vl-convert has it (else its latest)."""
    try:
        import altair as alt
        import vl_convert
    except ImportError:  # pragma: no cover - checked before
        return None
    major_minor = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    return major_minor if major_minor in vl_convert.get_vegalite_versions() else None


@functools.lru_cache(maxsize=1)
def vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one inline-safe script (about 900 KB; built once
    per process): what the report and the service's dashboard embed to work offline."""
    bundle: str = _vl_convert().javascript_bundle(vl_version=_vl_version())
    # Only "</script" could end the inline script early; "<\/" means the same in JS text.
    return re.sub(r"</(script)", r"<\\/\1", bundle, flags=re.IGNORECASE)


def _chart_specs(result: LookupResult) -> dict[str, dict[str, Any]]:
    """Title -> Vega-Lite spec (a dict) of every chart of ``report_charts``."""
    try:
        import altair  # noqa: F401
    except ImportError:
        raise InputError(f"the report's charts need altair: {INSTALL_HINT}") from None
    from rdaplab.notebook.charts import report_charts

    return {str(name): chart.to_dict() for name, chart in report_charts(result).items()}


def _frame_arg(frame: Any, name: str, source: str, needs: Sequence[str]) -> pl.DataFrame | None:
    """``changes=`` / ``expiry=`` as a Polars DataFrame (a LazyFrame is collected, a pandas
    frame converted), or :class:`InputError` before anything is written."""
    if frame is None:
        return None
    import polars as pl

    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    elif not isinstance(frame, pl.DataFrame) and hasattr(frame, "columns"):
        try:
            frame = pl.from_pandas(frame)
        except Exception as exc:  # not a pandas frame after all
            raise InputError(f"{name}= is a frame of {source}: {exc}") from None
    if not isinstance(frame, pl.DataFrame):
        raise InputError(f"{name}= is a frame of {source}, not {type(frame).__name__}")
    missing = [c for c in needs if c not in frame.columns]
    if missing:
        raise InputError(
            f"{name}= is a frame of {source}; this one has no column {', '.join(missing)}"
        )
    return frame


def _change_chart_specs(
    changes: pl.DataFrame | None, expiry: pl.DataFrame | None
) -> dict[str, dict[str, Any]]:
    """Title -> Vega-Lite spec of every non-empty chart of the Changes section."""
    if changes is None and expiry is None:
        return {}
    try:
        import altair  # noqa: F401
    except ImportError:
        raise InputError(f"the report's charts need altair: {INSTALL_HINT}") from None
    from rdaplab.notebook.charts import report_change_charts

    charts = report_change_charts(changes, expiry)
    return {str(name): chart.to_dict() for name, chart in charts.items()}


def _slugged(charts: Mapping[str, Any]) -> list[tuple[str, Any]]:
    seen: dict[str, int] = {}
    out = []
    for name, spec in charts.items():
        base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "chart"
        seen[base] = seen.get(base, 0) + 1
        out.append((base if seen[base] == 1 else f"{base}-{seen[base]}", spec))
    return out


def chart_slugs(names: Iterable[str]) -> list[str]:
    """The file-name slugs of chart titles, as used for ``<stem>-<slug>.png`` images."""
    return [slug for slug, _ in _slugged(dict.fromkeys(names))]


# --- HTML ---------------------------------------------------------------------------------


def render_html(
    result: LookupResult,
    charts: Mapping[str, Mapping[str, Any]],
    *,
    title: str | None = None,
    bundle: str = "",
    changes: pl.DataFrame | None = None,
    expiry: pl.DataFrame | None = None,
    change_charts: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """The report page; ``bundle`` is the inlined JS (required when there are charts).

    ``changes`` / ``expiry`` (frames of ``rdaplab.diff`` / ``rdaplab.expiry_outcomes``)
    add the "Changes" section; ``change_charts`` are its chart specs (title -> spec,
    default: drawn from the frames).
    """
    if change_charts is None:
        change_charts = _change_chart_specs(changes, expiry)
    if (charts or change_charts) and not bundle:
        raise ValueError("charts need the JavaScript bundle")
    summary = result.summary or {}
    title = title or "rdaplab report"
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="rdaplab {_e(__version__)}">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style>",
    ]
    if charts or change_charts:
        parts.append(f'<script id="rdaplab-vega-bundle">{bundle}</script>')
    parts.append("</head><body><main>")
    parts.append(_header(result, summary, title))
    parts.append(_section("Totals", "totals", _key_value_table(_totals(result, summary))))
    parts.append(_section("Outcomes", "outcomes", _counts_table("outcome", _outcomes(result))))
    kinds = _error_kinds(result, summary)
    if kinds:
        parts.append(_section("Errors by kind", "error-kinds", _counts_table("error kind", kinds)))
    registries = summary.get("registries") or []
    if registries:
        parts.append(
            _section("Registries", "registries", _rows_table(registries, _REGISTRY_COLUMNS))
        )
    hosts = [{**h, "state": _host_state(h)} for h in summary.get("hosts") or []]
    if hosts:
        parts.append(_section("Hosts", "hosts", _rows_table(hosts, _HOST_COLUMNS)))
    slugs = [slug for slug, _ in _slugged({**charts, **change_charts})]
    parts.append(_charts_section(charts, slugs))
    if changes is not None or expiry is not None:
        parts.append(
            _changes_section(changes, expiry, change_charts, slugs[len(charts) :], len(charts))
        )
    parts.append(
        "<footer><p>Generated by rdaplab. This report holds aggregate tables and charts "
        "only: no response bodies, contact data or per-name rows.</p></footer>"
    )
    parts.append("</main>")
    if charts or change_charts:
        parts.append(f"<script>{_EMBED_JS}</script>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _header(result: LookupResult, summary: Mapping[str, Any], title: str) -> str:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    items = [
        ("generated", now),
        ("rdaplab", __version__),
        ("source", summary.get("source")),
        ("cache", result.cache_path or summary.get("cache")),
        ("batch", result.batch_id or summary.get("batch_id")),
        ("batch started", summary.get("started_at")),
    ]
    rows = "".join(
        f'<div data-key="{_e(k)}"><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>'
        for k, v in items
        if v not in (None, "")
    )
    return f'<header><h1>{_e(title)}</h1><dl class="meta">{rows}</dl></header>'


def _totals(result: LookupResult, summary: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    counts = _outcomes(result)
    fallback = {"total": result.domains.height, **counts}
    out = []
    for key, label, kind in _TOTALS:
        value = summary.get(key, fallback.get(key))
        if value is None and key in ("fetch_s", "lower_bound_s", "efficiency"):
            continue  # only batches that fetched have them
        if key == "elapsed_s" and not value and not result.batch_id:
            continue  # a whole cache or a results file: no one batch's wall time
        out.append((key, label, _fmt(value, kind)))
    return out


def _outcomes(result: LookupResult) -> dict[str, int]:
    summary = result.summary or {}
    if all(k in summary for k in OUTCOMES):
        return {k: int(summary[k]) for k in OUTCOMES}
    counts = dict(result.domains.group_by("outcome").len().iter_rows())
    return {k: int(counts.get(k, 0)) for k in OUTCOMES}


def _error_kinds(result: LookupResult, summary: Mapping[str, Any]) -> dict[str, int]:
    if "error_kinds" in summary:
        kinds = {str(k): int(v) for k, v in summary["error_kinds"].items()}
    else:
        d = result.domains
        rows = d.filter(d["error_kind"].is_not_null()).group_by("error_kind").len().iter_rows()
        kinds = {str(k): int(n) for k, n in rows}
    order = {k: i for i, k in enumerate(ERROR_KINDS)}
    return dict(sorted(kinds.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def _host_state(host: Mapping[str, Any]) -> str | None:
    if host.get("exhausted"):
        return "blocked/quota"
    breaker = host.get("breaker")
    if breaker and breaker != "closed":
        return f"breaker {breaker}"
    phase = host.get("phase")
    return str(phase) if phase else None


def _section(heading: str, ident: str, body: str, *, level: int = 2) -> str:
    return f'<section id="{ident}"><h{level}>{_e(heading)}</h{level}>{body}</section>'


def _key_value_table(rows: Sequence[tuple[str, str, str]]) -> str:
    body = "".join(
        f'<tr data-key="{_e(k)}"><th scope="row">{_e(label)}</th><td class="num">{v}</td></tr>'
        for k, label, v in rows
    )
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def _counts_table(label: str, counts: Mapping[str, int], unit: str = "rows") -> str:
    total = sum(counts.values())
    body = "".join(
        f'<tr data-key="{_e(k)}"><th scope="row">{_e(k)}</th><td class="num">{n:,}</td>'
        f'<td class="num">{_fmt(n / total if total else None, "percent")}</td></tr>'
        for k, n in counts.items()
    )
    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in (label, unit, "share"))
    return f'<table class="counts"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _rows_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str, str]]) -> str:
    # Only columns some row has: a minimal summary (a results file) has fewer keys.
    cols = [c for c in columns if any(row.get(c[0]) is not None for row in rows)]
    head = "".join(f'<th scope="col" data-key="{_e(k)}">{_e(label)}</th>' for k, label, _ in cols)
    body = []
    for row in rows:
        cells = "".join(
            f'<td data-key="{_e(k)}" class="{"text" if kind == "text" else "num"}">'
            f"{_fmt(row.get(k), kind)}</td>"
            for k, _, kind in cols
        )
        body.append(f"<tr>{cells}</tr>")
    return (
        f'<div class="scroll"><table class="rows"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _charts_section(charts: Mapping[str, Mapping[str, Any]], slugs: Sequence[str]) -> str:
    if not charts:
        return _section("Charts", "charts", '<p class="empty">Nothing to chart in this result.</p>')
    return _section("Charts", "charts", _figures(charts, slugs, 0))


def _figures(charts: Mapping[str, Mapping[str, Any]], slugs: Sequence[str], start: int) -> str:
    """One ``<figure>`` per chart; ``start`` numbers the first ``vis-N`` target (charts
    of all sections share one numbering, as they share the slugs)."""
    figures = []
    for i, (name, spec) in enumerate(charts.items(), start=start):
        slug = slugs[i - start]
        figures.append(
            f'<figure class="chart" id="chart-{_e(slug)}"><figcaption>{_e(name)}</figcaption>'
            f'<div class="vis" id="vis-{i}"></div>'
            f'<script type="application/json" class="rdaplab-spec" data-target="vis-{i}">'
            f"{_json_for_script(spec)}</script></figure>"
        )
    return "".join(figures)


# --- the Changes section ------------------------------------------------------------------


def _changes_section(
    changes: pl.DataFrame | None,
    expiry: pl.DataFrame | None,
    charts: Mapping[str, Mapping[str, Any]],
    slugs: Sequence[str],
    start: int,
) -> str:
    """Names per change kind and snapshot pair, the top transfers, renewal versus drop,
    each table followed by its chart (when it has data)."""
    from rdaplab.notebook.charts.catalog import CHANGE_CATALOG

    titles = {name: title for name, (_, title, _) in CHANGE_CATALOG.items()}
    numbered = {title: (start + i, slugs[i]) for i, title in enumerate(charts)}

    def figure(name: str) -> str:
        title = titles[name]
        if title not in charts:
            return ""
        i, slug = numbered[title]
        return _figures({title: charts[title]}, [slug], i)

    parts = []
    if changes is not None:
        parts.append(_snapshots_line(changes))
        parts.append(
            _section(
                "Names per change kind",
                "change-counts",
                _change_counts_table(changes) + figure("changes_by_kind"),
                level=3,
            )
        )
        parts.append(
            _section(
                "Transfers between registrars",
                "transfers",
                _transfers_table(changes) + figure("transfer_flows"),
                level=3,
            )
        )
    if expiry is not None:
        parts.append(
            _section(
                "Renewal versus drop",
                "expiry-fates",
                _fates_table(expiry) + figure("expiry_fates"),
                level=3,
            )
        )
    return _section("Changes", "changes", "".join(parts))


def _snapshots_line(changes: pl.DataFrame) -> str:
    from rdaplab.notebook.charts.changes_data import changes_frame, snapshot_pairs

    frame = changes_frame(changes)
    if frame.height == 0:
        return '<p class="snapshots">No name changed between the two snapshots.</p>'
    pairs = snapshot_pairs(frame)
    spans = ", ".join(
        f'from <b data-key="before">{_e(b) or "&mdash;"}</b> to '
        f'<b data-key="after">{_e(a) or "&mdash;"}</b>'
        for b, a in pairs.select("before_snapshot", "after_snapshot").iter_rows()
    )
    names, rows = frame["domain"].n_unique(), frame.height
    return (
        f'<p class="snapshots">{spans[0].upper()}{spans[1:]}: {names:,} '
        f"name{'s' if names != 1 else ''} changed ({rows:,} rows; a name counts once per "
        "change kind, and may have several).</p>"
    )


def _pair_label(before: str, after: str) -> str:
    return f"{before or '?'} → {after or '?'}"


def _change_counts_table(changes: pl.DataFrame) -> str:
    from rdaplab.notebook.charts.changes_data import change_counts, snapshot_pairs

    counts = change_counts(changes)
    if counts.height == 0:
        return '<p class="empty">No changes.</p>'
    pairs = snapshot_pairs(changes)
    heads = "".join(
        f'<th scope="col" data-key="pair-{order}">{_e(_pair_label(b, a))}</th>'
        for b, a, order in pairs.select("before_snapshot", "after_snapshot", "order").iter_rows()
    )
    cells: dict[tuple[str, str], dict[int, int]] = {}
    for category, change, order, names in counts.select(
        "category", "change", "order", "names"
    ).iter_rows():
        cells.setdefault((category, change), {})[order] = names
    body = []
    for (category, change), by_pair in cells.items():
        values = "".join(
            f'<td data-key="pair-{order}" class="num">{_fmt(by_pair.get(order, 0), "int")}</td>'
            for order in pairs["order"].to_list()
        )
        body.append(
            f'<tr data-key="{_e(category)}/{_e(change)}" class="category-{_e(category)}">'
            f'<td data-key="category" class="text">{_e(category)}</td>'
            f'<th scope="row" data-key="change">{_e(change)}</th>{values}</tr>'
        )
    head = (
        '<th scope="col" data-key="category">category</th>'
        f'<th scope="col" data-key="change">change</th>{heads}'
    )
    return (
        f'<div class="scroll"><table class="rows changes"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
        '<p class="note">Names per change kind, for each snapshot pair (earlier → later). '
        "<i>change</i>: both snapshots answered and a field differs; <i>presence</i>: the "
        "name came or went (or one snapshot did not look it up); <i>error</i>: a lookup "
        "failed or a value is missing once: not a change.</p>"
    )


def _transfers_table(changes: pl.DataFrame) -> str:
    from rdaplab.notebook.charts.changes_data import transfer_flows_data

    flows = transfer_flows_data(changes, top=TOP_TRANSFERS)
    if flows.height == 0:
        return '<p class="empty">No transfers.</p>'
    rows = [
        {"from": a if a is not None else flow, "to": b, "transfers": n}
        for flow, a, b, n in flows.select(
            "flow", "from_registrar", "to_registrar", "transfers"
        ).iter_rows()
    ]
    columns = (("from", "from", "text"), ("to", "to", "text"), ("transfers", "names", "int"))
    return _rows_table(rows, columns)


def _fates_table(expiry: pl.DataFrame) -> str:
    from rdaplab.notebook.charts.changes_data import expiry_fates_data

    fates = expiry_fates_data(expiry, by_month=False)
    if fates.height == 0:
        return '<p class="empty">No name was due to expire between the two snapshots.</p>'
    counts = {str(f): int(n) for f, n in fates.select("fate", "names").iter_rows()}
    return _counts_table("fate", counts, unit="names")


def _json_for_script(spec: Mapping[str, Any]) -> str:
    # "<", ">" and "&" only occur inside JSON strings, where \u escapes mean the same: the
    # text can then never close the <script> block or open a comment.
    text = json.dumps(spec, separators=(",", ":"), default=str, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _fmt(value: Any, kind: str) -> str:
    if value is None or value == "":
        return "&mdash;"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "float":
        return f"{float(value):,.1f}"
    if kind == "float2":
        return f"{float(value):,.2f}"
    if kind == "percent":
        return f"{100 * float(value):.1f}%"
    return _e(value)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


_CSS = """
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg2: #f6f8fa; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: #fff; }
main { max-width: 1240px; margin: 0 auto; padding: 20px 20px 40px; }
h1 { font-size: 26px; margin: 0 0 8px; }
h2 { font-size: 18px; margin: 28px 0 10px; padding-bottom: 4px;
  border-bottom: 1px solid var(--line); }
dl.meta { display: flex; flex-wrap: wrap; gap: 4px 22px; margin: 0; color: var(--muted); }
dl.meta div { display: flex; gap: 6px; } dl.meta dt { font-weight: 600; } dl.meta dd { margin: 0; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left; }
thead th { background: var(--bg2); font-weight: 600; white-space: nowrap; }
td.num { text-align: right; white-space: nowrap; }
table.kv th { font-weight: 500; color: var(--muted); }
#totals table, #outcomes table, #error-kinds table { min-width: 320px; }
section#totals, section#outcomes, section#error-kinds {
  display: inline-block; vertical-align: top; margin-right: 40px; }
.scroll { overflow-x: auto; }
table.rows { font-size: 13px; } table.rows th, table.rows td { padding: 3px 7px; }
figure.chart { margin: 18px 0 26px; } figcaption { font-weight: 600; margin-bottom: 6px; }
h3 { font-size: 15px; margin: 20px 0 8px; }
#changes table { min-width: 320px; }
p.snapshots { margin: 4px 0 10px; } p.note { color: var(--muted); font-size: 12px; max-width: 760px; }
.chart-error { color: #b42318; font-family: monospace; }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; }
"""

# Draw every embedded spec; a chart that fails says so in the page (and in the console).
_EMBED_JS = """
(function () {
  var options = {renderer: "svg", mode: "vega-lite",
    actions: {export: true, source: false, compiled: false, editor: false}};
  document.querySelectorAll("script.rdaplab-spec").forEach(function (el) {
    var target = document.getElementById(el.dataset.target);
    function fail(err) {
      target.classList.add("chart-error");
      target.textContent = "This chart could not be drawn: " + err;
      console.error("rdaplab report:", err);
    }
    try {
      vegaEmbed(target, JSON.parse(el.textContent), options).catch(fail);
    } catch (err) { fail(err); }
  });
})();
"""
