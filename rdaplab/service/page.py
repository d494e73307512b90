"""The dashboard page: one HTML file with its CSS and script inlined (nothing external).

The page is static; its script polls ``api/dashboard`` every second and
``api/dashboard/charts`` every few seconds (with the ``?token=`` of the page's own URL as
a bearer token), and fills the page with ``textContent`` only (job names are user text).
Charts are drawn by vega-embed from the Vega bundle inlined in the page, when given.
"""

from __future__ import annotations

from rdaplab._version import __version__

__all__ = ["REFRESH_MS", "render_page"]

REFRESH_MS = 1000
CHARTS_REFRESH_MS = 2500
CHART_NAMES = ("progress", "throughput", "host_rates")


def render_page(bundle: str) -> str:
    """The dashboard's HTML; ``bundle`` is the Vega/Vega-Lite/vega-embed script ("" for
    a page without charts)."""
    if bundle:
        head_script = f'<script id="rdaplab-vega-bundle">{bundle}</script>'
        figures = "\n".join(
            f'<figure class="chart" id="chart-{name}" hidden><div class="vis"></div></figure>'
            for name in CHART_NAMES
        )
        charts = (
            '<h2>Charts of <span id="charts-batch">the latest batch</span></h2>\n'
            '<p class="empty" id="charts-none">No batch has run since the service started.</p>\n'
            f'<div class="charts">{figures}</div>'
        )
    else:
        head_script = ""
        charts = (
            "<h2>Charts</h2>\n"
            '<p class="empty" id="charts-none">Charts need Altair and vl-convert '
            "(pip install 'rdaplab[notebook]').</p>"
        )
    return (
        _HTML.replace("{{VERSION}}", __version__)
        .replace("{{HEAD_SCRIPT}}", head_script)
        .replace("{{CHARTS}}", charts)
        .replace("{{SCRIPT}}", _JS)
        .replace("{{REFRESH_MS}}", str(REFRESH_MS))
        .replace("{{CHARTS_REFRESH_MS}}", str(CHARTS_REFRESH_MS if bundle else 0))
    )


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="rdaplab {{VERSION}}">
<title>rdaplab jobs</title>
<style>
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg2: #f6f8fa;
  --ok: #4c9a6a; --err: #d1495b; --warn: #b7791f; --run: #4c78a8; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: #fff; }
main { max-width: 1280px; margin: 0 auto; padding: 16px 20px 40px; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px 18px; }
h1 { font-size: 22px; margin: 0; }
h2 { font-size: 17px; margin: 24px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.muted, .note { color: var(--muted); } .note { font-size: 12px; }
.empty { color: var(--muted); font-style: italic; }
.error { color: var(--err); font-weight: 600; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; width: 100%; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
thead th { background: var(--bg2); font-weight: 600; }
td.num { text-align: right; } td.msg { white-space: normal; color: var(--muted); }
.bar { position: relative; height: 10px; min-width: 120px; background: var(--bg2);
  border: 1px solid var(--line); border-radius: 5px; overflow: hidden; }
.bar.big { height: 18px; border-radius: 9px; margin: 8px 0; }
.bar .fill { height: 100%; width: 0; background: var(--run); transition: width .4s ease; }
tr[data-state="done"] .bar .fill { background: var(--ok); }
tr[data-state="failed"] .bar .fill, tr[data-state="cancelled"] .bar .fill { background: #999; }
.state { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px;
  background: var(--bg2); border: 1px solid var(--line); }
.state-running { background: #e3edf7; border-color: var(--run); }
.state-done { background: #e6f4ea; border-color: var(--ok); }
.state-failed { background: #fbe9eb; border-color: var(--err); }
.state-paused, .state-queued { background: #fff8e1; border-color: var(--warn); }
dl.figures { display: flex; flex-wrap: wrap; gap: 4px 26px; margin: 4px 0; }
dl.figures div { display: flex; gap: 6px; } dl.figures dt { color: var(--muted); }
dl.figures dd { margin: 0; font-weight: 600; font-variant-numeric: tabular-nums; }
ul.alerts, ul.events { margin: 0; padding-left: 18px; }
li.alert.active { color: var(--err); } li.alert { color: var(--muted); }
.charts { display: flex; flex-wrap: wrap; gap: 10px 30px; }
figure.chart { margin: 8px 0; } .chart-error { color: var(--err); font-family: monospace; }
footer { margin-top: 30px; color: var(--muted); font-size: 12px; }
</style>
{{HEAD_SCRIPT}}
</head><body data-refreshes="0"><main>
<header><h1>rdaplab jobs</h1><span class="muted" id="service-line">connecting&hellip;</span>
<span class="muted">updated <span id="updated">never</span></span></header>
<p class="error" id="error" hidden></p>

<section id="running"><h2>Running job</h2>
<p class="empty" id="running-none">No job is running.</p>
<div id="running-job" hidden>
  <div><span class="state" id="running-state"></span> <strong id="running-name"></strong>
    <code id="running-id"></code> <span class="muted" id="running-priority"></span></div>
  <div class="bar big" id="running-bar" role="progressbar" aria-valuemin="0" aria-valuemax="100">
    <div class="fill"></div></div>
  <dl class="figures">
    <div><dt>done</dt><dd><span id="running-done"></span> / <span id="running-total"></span>
      (<span id="running-percent"></span>)</dd></div>
    <div><dt>rate</dt><dd id="running-rate"></dd></div>
    <div><dt>ETA</dt><dd id="running-eta"></dd></div>
    <div><dt>requests</dt><dd id="running-requests"></dd></div>
    <div><dt>throttled</dt><dd id="running-throttled"></dd></div>
    <div><dt>ok / not found / errors</dt><dd id="running-outcomes"></dd></div>
    <div><dt>cache hits</dt><dd id="running-cache-hits"></dd></div>
    <div><dt>started</dt><dd id="running-started"></dd></div>
  </dl>
  <p class="note" id="running-message"></p>
</div>
</section>

<section id="registries"><h2>Registries now</h2>
<table><thead><tr><th>host</th><th>done</th><th>errors</th><th>requests</th><th>throttled</th>
<th>pace now (/s)</th><th>pacer rate (/s)</th><th>concurrency</th><th>in flight</th><th>queued</th>
<th>requests, last min</th></tr></thead><tbody id="registries-body"></tbody></table>
<p class="empty" id="registries-none">No registry is being asked now.</p>
</section>

<section id="lookups"><h2>Batch lookups</h2>
<table hidden id="lookups-table"><thead><tr><th>#</th><th>state</th><th>progress</th><th>done</th>
<th>rate (/s)</th><th>ETA</th><th>batch</th></tr></thead><tbody id="lookups-body"></tbody></table>
<p class="empty" id="lookups-none">No batch-lookup is running.</p>
</section>

<section id="alerts"><h2>Alerts</h2>
<ul class="alerts" id="alerts-list"></ul>
<p class="empty" id="alerts-none">No alerts.</p>
</section>

<section id="charts">{{CHARTS}}</section>

<section id="jobs"><h2>Jobs <span class="muted" id="jobs-counts"></span></h2>
<table><thead><tr><th>job</th><th>name</th><th>state</th><th>progress</th><th>done</th>
<th>rate (/s)</th><th>ETA</th><th>priority</th><th>window</th><th>created</th><th>message</th>
</tr></thead><tbody id="jobs-body"></tbody></table>
<p class="empty" id="jobs-none">No jobs yet: POST /jobs or rdaplab job submit.</p>
</section>

<section id="events"><h2>Recent events</h2>
<ul class="events" id="events-list"></ul>
<p class="empty" id="events-none">None.</p>
</section>

<footer>rdaplab {{VERSION}} &middot; this page fetches nothing but this service's JSON
(every {{REFRESH_MS}} ms) and shows no personal data.</footer>
</main>
<script>
var RDAPLAB_REFRESH_MS = {{REFRESH_MS}}, RDAPLAB_CHARTS_REFRESH_MS = {{CHARTS_REFRESH_MS}};
{{SCRIPT}}
</script>
</body></html>
"""

_JS = r"""
(function () {
  "use strict";
  var token = new URLSearchParams(location.search).get("token");
  var headers = token ? {Authorization: "Bearer " + token} : {};
  function $(id) { return document.getElementById(id); }
  function get(path) {
    return fetch(path, {headers: headers, cache: "no-store"}).then(function (r) {
      if (!r.ok) { throw new Error(path + ": HTTP " + r.status); }
      return r.json();
    });
  }
  function num(v, digits) {
    if (v === null || v === undefined) { return "\u2014"; }
    return Number(v).toLocaleString("en-US", {maximumFractionDigits: digits || 0});
  }
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function dur(s) {
    if (s === null || s === undefined) { return "\u2014"; }
    s = Math.round(s);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (h) { return h + "h " + pad(m) + "m"; }
    return m ? m + "m " + pad(sec) + "s" : sec + "s";
  }
  function pct(v) { return v === null || v === undefined ? "\u2014" : v.toFixed(1) + "%"; }
  function when(epoch) { return epoch ? new Date(epoch * 1000).toLocaleString() : "\u2014"; }
  function node(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }
  function setText(id, text, value) {
    var e = $(id);
    e.textContent = text;
    if (value !== undefined) { e.dataset.value = value === null ? "" : value; }
  }
  function setBar(bar, percent) {
    var p = Math.max(0, Math.min(100, percent || 0));
    bar.querySelector(".fill").style.width = p + "%";
    bar.setAttribute("aria-valuenow", p.toFixed(1));
  }
  function bar(percent) {
    var outer = node("div", "bar"); outer.setAttribute("role", "progressbar");
    outer.appendChild(node("div", "fill")); setBar(outer, percent); return outer;
  }
  function cell(tr, text, cls) { var td = node("td", cls, text); tr.appendChild(td); return td; }
  function rows(tbodyId, noneId, items, build) {
    var body = $(tbodyId);
    body.replaceChildren.apply(body, items.map(build));
    $(noneId).hidden = items.length > 0;
    return body;
  }
  function stateBadge(state) { return node("span", "state state-" + state, state); }

  function renderRunning(job) {
    $("running-none").hidden = !!job;
    $("running-job").hidden = !job;
    if (!job) { return; }
    var badge = $("running-state");
    badge.className = "state state-" + job.state; badge.textContent = job.state;
    setText("running-name", job.name || "(unnamed)");
    setText("running-id", job.id.slice(0, 12));
    setText("running-priority", "priority " + job.priority + (job.window ? ", window " + job.window : ""));
    setBar($("running-bar"), job.percent);
    setText("running-done", num(job.done), job.done);
    setText("running-total", num(job.total), job.total);
    setText("running-percent", pct(job.percent), job.percent);
    setText("running-rate", job.rate_per_s ? num(job.rate_per_s, 1) + " rows/s" : "\u2014", job.rate_per_s);
    setText("running-eta", dur(job.eta_s), job.eta_s);
    setText("running-requests", num(job.requests), job.requests);
    setText("running-throttled", num(job.throttled) + " (" + (100 * job.throttled_share).toFixed(1) + "%)", job.throttled);
    setText("running-outcomes", num(job.ok) + " / " + num(job.not_found) + " / " + num(job.errors));
    setText("running-cache-hits", num(job.cache_hits), job.cache_hits);
    setText("running-started", when(job.started_at));
    setText("running-message", job.message || "");
  }

  function renderRegistries(items) {
    rows("registries-body", "registries-none", items, function (r) {
      var tr = node("tr"); tr.dataset.host = r.host;
      cell(tr, r.host);
      cell(tr, num(r.done), "num done");
      cell(tr, num(r.errors), "num");
      cell(tr, num(r.requests), "num requests");
      cell(tr, num(r.throttled) + " (" + (100 * r.throttled_share).toFixed(1) + "%)", "num");
      cell(tr, r.rate_per_s === null ? "\u2014" : num(r.rate_per_s, 2), "num");
      cell(tr, r.rate_limit === null ? "\u2014" : num(r.rate_limit, 2), "num");
      cell(tr, num(r.concurrency_limit), "num");
      cell(tr, num(r.in_flight), "num");
      cell(tr, num(r.queued), "num");
      cell(tr, num(r.requests_1m), "num");
      return tr;
    });
  }

  function renderLookups(items) {
    $("lookups-table").hidden = items.length === 0;
    rows("lookups-body", "lookups-none", items, function (l) {
      var tr = node("tr"); tr.dataset.state = l.state;
      cell(tr, "#" + l.id); cell(tr, l.state);
      cell(tr, "").appendChild(bar(l.percent));
      cell(tr, num(l.done) + " / " + num(l.total), "num");
      cell(tr, l.rate_per_s === null ? "\u2014" : num(l.rate_per_s, 1), "num");
      cell(tr, dur(l.eta_s), "num");
      cell(tr, (l.batch_id || "").slice(0, 12));
      return tr;
    });
  }

  function renderAlerts(items) {
    rows("alerts-list", "alerts-none", items, function (a) {
      var li = node("li", "alert" + (a.active ? " active" : ""));
      li.textContent = new Date(a.at * 1000).toLocaleTimeString() + " " + a.name + ": " + a.message + (a.active ? "" : " (over)");
      return li;
    });
  }

  function renderEvents(items) {
    rows("events-list", "events-none", items, function (e) {
      var at = new Date(e.at * 1000).toLocaleTimeString();
      if (e.kind === "job_state") {
        return node("li", "event job-event", at + " job " + e.job_id.slice(0, 12) + " " + e.previous + " \u2192 " + e.state + (e.message ? " (" + e.message + ")" : ""));
      }
      var extra = e.reason || e.cause || (e.seconds !== undefined ? "for " + num(e.seconds, 1) + " s" : "");
      return node("li", "event", at + " " + e.kind + " " + e.host + (extra ? " (" + extra + ")" : ""));
    });
  }

  function renderJobs(items, counts) {
    setText("jobs-counts", Object.keys(counts).map(function (k) { return counts[k] + " " + k; }).join(", "));
    rows("jobs-body", "jobs-none", items, function (j) {
      var tr = node("tr", "job"); tr.dataset.id = j.id; tr.dataset.state = j.state;
      cell(tr, "").appendChild(node("code", null, j.id.slice(0, 12)));
      cell(tr, j.name || "");
      cell(tr, "").appendChild(stateBadge(j.state));
      var td = cell(tr, ""); td.appendChild(bar(j.percent));
      cell(tr, num(j.done) + " / " + num(j.total) + " (" + pct(j.percent) + ")", "num done");
      cell(tr, j.rate_per_s ? num(j.rate_per_s, 1) : "\u2014", "num");
      cell(tr, dur(j.eta_s), "num");
      cell(tr, j.priority); cell(tr, j.window || "");
      cell(tr, when(j.created_at)); cell(tr, j.message || "", "msg");
      return tr;
    });
  }

  function render(d) {
    var s = d.service;
    setText("service-line", "cache " + s.cache + (s.worker ? " \u00b7 worker " + s.worker : " \u00b7 no worker") + " \u00b7 up " + dur(s.uptime_s));
    setText("updated", new Date(d.now * 1000).toLocaleTimeString(), d.now);
    renderRunning(d.running);
    renderRegistries(d.registries);
    renderLookups(d.lookups);
    renderAlerts(d.alerts);
    renderEvents(d.events);
    renderJobs(d.jobs, d.counts);
  }

  var drawn = {};
  function drawCharts(d) {
    var none = $("charts-none");
    if (none) { none.hidden = !!d.batch_id; }
    if (!d.batch_id) { return; }
    var label = d.source === "job" ? "job " + (d.job_id || "").slice(0, 12) : "a batch-lookup";
    setText("charts-batch", label + (d.running ? " (running)" : " (finished)"));
    Object.keys(d.charts).forEach(function (name) {
      var fig = $("chart-" + name);
      if (!fig) { return; }
      fig.hidden = false;
      var text = JSON.stringify(d.charts[name]);
      if (drawn[name] === text) { return; }
      drawn[name] = text;
      var target = fig.querySelector(".vis");
      vegaEmbed(target, d.charts[name], {renderer: "svg", mode: "vega-lite", actions: false})
        .then(function () { fig.dataset.draws = String(Number(fig.dataset.draws || 0) + 1); })
        .catch(function (err) {
          target.classList.add("chart-error");
          target.textContent = "This chart could not be drawn: " + err;
          console.error("rdaplab dashboard:", err);
        });
    });
  }

  function showError(err) { var e = $("error"); e.hidden = false; e.textContent = String(err); }
  function clearError() { $("error").hidden = true; }

  function tick() {
    get("api/dashboard").then(function (d) {
      render(d); clearError();
      document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes) + 1);
    }).catch(showError).then(function () { setTimeout(tick, RDAPLAB_REFRESH_MS); });
  }
  function chartTick() {
    get("api/dashboard/charts").then(drawCharts).catch(showError)
      .then(function () { setTimeout(chartTick, RDAPLAB_CHARTS_REFRESH_MS); });
  }
  tick();
  if (RDAPLAB_CHARTS_REFRESH_MS > 0 && typeof vegaEmbed === "function") { chartTick(); }
})();
"""
