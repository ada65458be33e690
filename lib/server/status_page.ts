/**
 * The HTML status page at `/`, for a person who port-forwarded into the pod:
 * one row per target, down targets first, up/down shown by text and symbol as
 * well as colour, times in human units, readable at phone width. No framework
 * and no JavaScript needed to read it; a small static script sorts and filters
 * the rows and refreshes them in place from the JSON API (`api/v1/targets`,
 * relative, so it follows the route prefix), with a `<noscript>` meta
 * refresh as the fallback.
 *
 * Every target string (URL, label names and values, reasons) is HTML-escaped
 * here, and the script builds its rows with `textContent` only (never HTML
 * from data); a Content-Security-Policy allows only the page's own script and
 * style (by hash), so even a missed escape could not run injected script.
 * The script formats times and reasons as this module does: its helpers
 * ({@linkcode SCRIPT_HELPERS}) are compared with the ones here by a test.
 *
 * @module
 */

import { formatDuration } from "../config/units.ts";
import type { TargetState } from "../metrics/results.ts";
import type { ExporterStatus } from "./api.ts";
import type { ShardView } from "../check/engine_protocol.ts";

/** This replica's share of the targets, as the page and the JSON API show it. */
export interface ShardSummary extends ShardView {
  /** Targets this replica checks (of `configured`). */
  readonly checked: number;
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/** Options of {@linkcode renderStatusPage}. */
export interface StatusPageOptions {
  /** Epoch ms now, for ages. Default: `Date.now()`. */
  now?: number;
  /** Shown in the footer. */
  version?: string;
  /** Seconds between automatic refreshes. Default: 10. */
  refreshSeconds?: number;
  /** Demo targets and a failed reload, each shown as a notice. Default: neither. */
  status?: ExporterStatus;
  /** This replica's share, when it is one of several. Default: none (no shard line). */
  shard?: ShardSummary;
}

/** An RFC 3339 time as the page shows it: `2026-12-01 14:03:07 UTC`. */
function shownTime(iso: string): string {
  return iso.replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

/** The shard line: which replica this is, and how many of the configured targets it checks. */
function shardLine(shard: ShardSummary): string {
  const span = (id: string, value: number) => `<span id="shard-${id}">${value}</span>`;
  const which = shard.mode === "dns"
    ? `Replica index ${span("index", shard.index)} of ${span("count", shard.count)} found in DNS`
    : `Shard index ${span("index", shard.index)} of ${span("count", shard.count)} replicas`;
  return `<p id="shard" class="muted">${which} (replication ${shard.replication}): checks ${
    span("checked", shard.checked)
  } of ${span("configured", shard.configured)} configured targets.</p>`;
}

/** Formats an age for people: `just now`, `4s ago`, `3m 05s ago`, `2h 10m ago`. */
export function formatAge(ms: number): string {
  if (!Number.isFinite(ms)) return "never";
  if (ms < 1000) return "just now";
  if (ms < 60_000) return `${Math.round(ms / 1000)}s ago`;
  return `${formatDuration(ms)} ago`;
}

/** Formats a configured interval: `10s`, `1m`, `1m 30s`, `250ms`. */
export function formatInterval(ms: number): string {
  if (ms < 1000 || ms % 1000 !== 0) return formatDuration(ms);
  const s = ms / 1000;
  if (s < 60) return `${s}s`;
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return formatDuration(ms);
}

type Kind = "down" | "pending" | "up";

const KINDS: Record<Kind, { rank: number; text: string; symbol: string }> = {
  down: { rank: 0, text: "DOWN", symbol: "✕" },
  pending: { rank: 1, text: "PENDING", symbol: "…" },
  up: { rank: 2, text: "UP", symbol: "✓" },
};

function kindOf(state: TargetState): Kind {
  if (!state.last) return "pending";
  return state.last.up ? "up" : "down";
}

const FAVICON_COLOURS: Record<Kind, string> = {
  down: "%23cf222e",
  pending: "%238c959f",
  up: "%231a7f37",
};

function favicon(kind: Kind): string {
  return `data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E` +
    `%3Ccircle cx='8' cy='8' r='7' fill='${FAVICON_COLOURS[kind]}'/%3E%3C/svg%3E`;
}

const STYLE = `
:root{--fg:#1f2328;--muted:#59636e;--bg:#fff;--head:#f6f8fa;--line:#d1d9e0;
--up-bg:#dafbe1;--up-fg:#116329;--down-bg:#ffebe9;--down-fg:#a40e26;--down-row:#fff8f7;
--pending-bg:#eff2f5;--pending-fg:#59636e;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;
--head:#151b23;--line:#3d444d;--up-bg:#12361f;--up-fg:#7ee2a0;--down-bg:#4a1417;
--down-fg:#ffa198;--down-row:#1c1012;--pending-bg:#262c36;--pending-fg:#9198a1}}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;padding:1rem;
color:var(--fg);background:var(--bg)}
h1{font-size:1.25rem;margin:0}
header{display:flex;flex-wrap:wrap;align-items:baseline;gap:.25rem 1rem;margin-bottom:.75rem}
.headline{font-size:1rem;font-weight:600;margin:0}
.summary{display:flex;flex-wrap:wrap;gap:.5rem;margin:0 0 .75rem;padding:0;list-style:none}
.summary li{border-radius:6px;padding:.15rem .6rem;font-weight:600;background:var(--pending-bg);
color:var(--pending-fg)}
.summary li.down.some{background:var(--down-bg);color:var(--down-fg)}
.summary li.up.some{background:var(--up-bg);color:var(--up-fg)}
.tools{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;margin:0 0 .5rem}
.tools input[type=search]{font:inherit;padding:.25rem .5rem;border:1px solid var(--line);
border-radius:6px;background:var(--bg);color:var(--fg);min-width:14rem;max-width:100%}
.notice{background:var(--down-bg);color:var(--down-fg);padding:.4rem .6rem;border-radius:6px;
margin:0 0 .75rem}
.notice pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:.3rem 0 0;font:12px/1.4 ui-monospace,monospace}
.info{background:var(--pending-bg);color:var(--fg);padding:.4rem .6rem;border-radius:6px;
margin:0 0 .75rem}
code{font:12px ui-monospace,monospace}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--head);position:sticky;top:0;white-space:nowrap}
th button{font:inherit;font-weight:600;color:inherit;background:none;border:0;padding:0;
cursor:pointer}
th[aria-sort=ascending] button::after{content:" ▲"}
th[aria-sort=descending] button::after{content:" ▼"}
td.url{overflow-wrap:anywhere;min-width:12rem}
td.num{white-space:nowrap;font-variant-numeric:tabular-nums}
.badge{display:inline-block;min-width:6.2em;border-radius:4px;padding:0 .4em;font-weight:700;
text-align:center;white-space:nowrap}
.badge.up{background:var(--up-bg);color:var(--up-fg)}
.badge.down{background:var(--down-bg);color:var(--down-fg)}
.badge.pending{background:var(--pending-bg);color:var(--pending-fg)}
tr.down td{background:var(--down-row)}
.labels{display:flex;flex-wrap:wrap;gap:.25rem;margin-top:.2rem}
.label{font-size:12px;color:var(--muted);border:1px solid var(--line);border-radius:4px;
padding:0 .3em;overflow-wrap:anywhere}
.muted,.sub{color:var(--muted)}
.sub{font-size:12px;display:block}
.reason{overflow-wrap:anywhere}
.empty{color:var(--muted);padding:1rem 0}
footer{margin-top:1rem;color:var(--muted);font-size:12px}
footer a{color:inherit}
@media (max-width:640px){
body{padding:.6rem}
table,tbody,tr,td{display:block;width:auto}
thead tr{display:flex;flex-wrap:wrap;gap:.3rem;align-items:center;border:0;margin:0;padding:0}
thead tr::before{content:"Sort:";color:var(--muted);font-size:12px}
th{position:static;border:1px solid var(--line);border-radius:4px;padding:.1rem .4rem;
font-size:12px}
tr{border:1px solid var(--line);border-radius:6px;margin:.5rem 0;padding:.4rem .6rem}
tr.down{border-color:var(--down-fg)}
td{border:0;padding:.1rem 0}
tr.down td{border:0;background:none}
td[data-label]{padding-left:6.5rem;text-indent:-6.5rem}
td[data-label]::before{content:attr(data-label);display:inline-block;width:6.5rem;text-indent:0;
color:var(--muted);font-size:12px}
td.url{min-width:0;font-weight:600;padding-left:0;text-indent:0}
td.url::before,td.state::before{content:none}
td.blank{display:none}
.sub{display:inline;margin-left:.4em}
}
`;

/**
 * The script's pure helpers, the twins of {@linkcode formatDuration},
 * {@linkcode formatAge}, {@linkcode formatInterval} and the reason text of a
 * row (status_page_test.ts runs both on the same inputs).
 */
export const SCRIPT_HELPERS = `
  const pad2 = (n) => String(n).padStart(2, "0");
  const formatDuration = (ms) => {
    if (!Number.isFinite(ms)) return "-";
    if (ms < 999.5) return (ms < 9.95 ? ms.toFixed(1) : String(Math.round(ms))) + "ms";
    if (ms < 59950) return (ms / 1000).toFixed(ms < 9995 ? 2 : 1) + "s";
    const s = Math.max(60, Math.floor(ms / 1000));
    if (s < 3600) return Math.floor(s / 60) + "m " + pad2(s % 60) + "s";
    const m = Math.floor(s / 60);
    return Math.floor(m / 60) + "h " + pad2(m % 60) + "m";
  };
  const formatAge = (ms) => !Number.isFinite(ms) ? "never" : ms < 1000 ? "just now"
    : ms < 60000 ? Math.round(ms / 1000) + "s ago" : formatDuration(ms) + " ago";
  const formatInterval = (ms) => {
    if (ms < 1000 || ms % 1000 !== 0) return formatDuration(ms);
    const s = ms / 1000;
    return s < 60 ? s + "s" : s % 3600 === 0 ? s / 3600 + "h" : s % 60 === 0 ? s / 60 + "m"
      : formatDuration(ms);
  };
  const reasonText = (t) => {
    if (t.up !== false) return "";
    const reason = t.reason || "";
    return new RegExp("^" + t.result + "(?![A-Za-z0-9_])", "i").test(reason) ? reason
      : t.result + (reason ? ": " + reason : "");
  };
`;

/**
 * The page's script. Static text (settings come from data attributes), so
 * that its hash in the Content-Security-Policy never changes. It renders
 * rows from the JSON API with `createElement` and `textContent`.
 */
const SCRIPT = `
(() => {
  "use strict";
  ${SCRIPT_HELPERS.trim()}
  const $ = (id) => document.getElementById(id);
  const table = $("targets"), filter = $("filter"), auto = $("auto");
  const every = Math.max(1, Number(new URLSearchParams(location.search).get("refresh")) ||
    Number(document.body.dataset.refresh) || 10);
  const KINDS = { down: [0, "DOWN", "\u2715"], pending: [1, "PENDING", "\u2026"],
    up: [2, "UP", "\u2713"] };
  const FAVICONS = ${
  JSON.stringify(Object.fromEntries(Object.keys(KINDS).map((k) => [k, favicon(k as Kind)])))
};
  let sort = null, timer;
  const value = (cell) => {
    const s = cell ? (cell.dataset.sort ?? cell.textContent.trim()) : "";
    return s !== "" && !isNaN(Number(s)) ? Number(s) : s.toLowerCase();
  };
  const compare = (x, y) => typeof x === typeof y ? (x < y ? -1 : x > y ? 1 : 0)
    : (typeof x === "number" ? -1 : 1);
  function apply() {
    const body = $("rows"), rows = [...body.rows];
    rows.sort((a, b) => (sort ? compare(value(a.cells[sort.col]), value(b.cells[sort.col])) *
      sort.dir : 0) || Number(a.dataset.order) - Number(b.dataset.order));
    for (const r of rows) body.appendChild(r);
    table.querySelectorAll("th").forEach((th, i) => th.setAttribute("aria-sort",
      sort && sort.col === i ? (sort.dir > 0 ? "ascending" : "descending") : "none"));
    const f = filter.value.trim().toLowerCase();
    let shown = 0;
    for (const r of rows) {
      r.hidden = f !== "" && !r.textContent.toLowerCase().includes(f);
      if (!r.hidden) shown++;
    }
    $("shown").textContent = f ? shown + " of " + rows.length + " shown" : "";
  }
  const el = (tag, className, text) => {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const cell = (className, label, sortKey, text) => {
    const td = el("td", className, text);
    if (label) td.dataset.label = label;
    if (sortKey !== undefined) td.dataset.sort = String(sortKey);
    return td;
  };
  const kindOf = (t) => t.up === null ? "pending" : t.up ? "up" : "down";
  function row(t, order, now) {
    const kind = kindOf(t), k = KINDS[kind], checked = t.up !== null;
    const tr = el("tr", kind);
    tr.dataset.order = String(order);
    const state = cell("state", "", k[0]);
    const badge = el("span", "badge " + kind), symbol = el("span", "", k[2]);
    symbol.setAttribute("aria-hidden", "true");
    badge.append(symbol, " " + k[1]);
    state.append(badge);
    const url = cell("url", "URL");
    url.append(t.url);
    const names = Object.keys(t.labels);
    if (names.length) {
      const labels = el("span", "labels");
      for (const n of names) labels.append(el("span", "label", n + "=" + t.labels[n]));
      url.append(labels);
    }
    const status = !checked ? "" : t.statusCode ? String(t.statusCode) : "none";
    const age = t.lastCheckAt ? now - Date.parse(t.lastCheckAt) : NaN;
    const last = cell("num", "Last check", isNaN(age) ? -1 : age);
    if (t.lastCheckAt) {
      const time = el("time", "", formatAge(age));
      time.dateTime = t.lastCheckAt;
      time.title = t.lastCheckAt;
      last.append(time);
    } else last.append(el("span", "muted", "not yet"));
    last.append(el("span", "sub", "every " + formatInterval(Math.round(t.intervalSeconds * 1000))));
    const why = reasonText(t);
    tr.append(state, url,
      cell("num" + (status ? "" : " blank"), "Status", checked ? t.statusCode : -1, status),
      cell("num" + (checked ? "" : " blank"), "Response", checked ? t.responseMs : -1,
        checked ? formatDuration(t.responseMs) : ""),
      last, cell("reason" + (why ? "" : " blank"), "Why", undefined, why));
    return tr;
  }
  function render(data) {
    const now = Date.parse(data.generatedAt);
    const targets = data.targets.map((t) => ({ t, kind: kindOf(t) })).sort((a, b) =>
      KINDS[a.kind][0] - KINDS[b.kind][0] || a.t.url.localeCompare(b.t.url));
    const count = { down: 0, pending: 0, up: 0 };
    for (const x of targets) count[x.kind]++;
    const total = targets.length;
    $("rows").replaceChildren(...targets.map((x, i) => row(x.t, i, now)));
    $("headline").textContent = total === 0 ? "No targets configured"
      : count.down > 0 ? count.down + " of " + total + " target" + (total === 1 ? "" : "s") + " down"
      : count.pending > 0 ? "Waiting for the first check of " + count.pending + " of " + total +
        " target" + (total === 1 ? "" : "s")
      : "All " + total + " target" + (total === 1 ? "" : "s") + " up";
    for (const kind of ["down", "up", "pending"]) {
      const li = $(kind);
      li.className = kind + (count[kind] > 0 ? " some" : "");
      li.textContent = count[kind] + " " + kind;
    }
    $("empty").hidden = total !== 0;
    document.title = (count.down > 0 ? "(" + count.down + " down) " : "") + "uptime-exporter";
    $("favicon").href = FAVICONS[count.down > 0 ? "down" : count.pending > 0 ? "pending" : "up"];
    if (data.shard && $("shard")) {
      for (const k of ["index", "count", "checked", "configured"]) {
        $("shard-" + k).textContent = String(data.shard[k]);
      }
    }
    const generated = $("generated");
    generated.dateTime = data.generatedAt;
    generated.textContent = data.generatedAt.replace("T", " ").replace(/[.][0-9]+Z$/, " UTC");
    const config = data.config || { demoTargets: false, lastReloadError: null };
    $("demo").hidden = !config.demoTargets;
    const failed = config.lastReloadError;
    $("reload").hidden = !failed;
    if (failed) {
      $("reload-at").dateTime = failed.at;
      $("reload-at").textContent = failed.at.replace("T", " ").replace(/[.][0-9]+Z$/, " UTC");
      $("reload-why").textContent = failed.message;
    }
  }
  table.querySelectorAll("th button").forEach((b) => b.addEventListener("click", () => {
    const col = b.parentElement.cellIndex;
    sort = sort && sort.col === col ? { col, dir: -sort.dir } : { col, dir: 1 };
    apply();
  }));
  filter.addEventListener("input", apply);
  const schedule = () => { clearTimeout(timer); timer = setTimeout(refresh, every * 1000); };
  async function refresh() {
    if (!auto.checked || document.hidden) return schedule();
    try {
      // Relative: under a route prefix the page is at <prefix>/ and so is the API.
      const res = await fetch("api/v1/targets", { cache: "no-store" });
      if (!res.ok) throw new Error("HTTP " + res.status);
      const body = await res.json();
      if (body.status !== "success") throw new Error("bad answer");
      render(body.data);
      $("offline").hidden = true;
      apply();
    } catch (e) {
      $("offline").textContent = "Cannot refresh (" + e.message +
        "): the data below may be out of date.";
      $("offline").hidden = false;
    }
    schedule();
  }
  auto.addEventListener("change", () => auto.checked ? refresh() : clearTimeout(timer));
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && auto.checked) refresh();
  });
  $("every").textContent = every + "s";
  $("controls").hidden = false;
  schedule();
})();
`;

/** A CSP source for `text`: `'sha256-…'` (WebCrypto, so the page needs no node:crypto). */
async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return `'sha256-${btoa(String.fromCharCode(...new Uint8Array(digest)))}'`;
}

/** The page's Content-Security-Policy: its own script and style only. */
export const STATUS_PAGE_CSP: string = [
  "default-src 'none'",
  `script-src ${await sha256(SCRIPT)}`,
  `style-src ${await sha256(STYLE)}`,
  "img-src data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

function renderRow(state: TargetState, kind: Kind, order: number, now: number): string {
  const { target, last } = state;
  const k = KINDS[kind];
  const labels = Object.entries(target.labels).map(([name, value]) =>
    `<span class="label">${escapeHtml(name)}=${escapeHtml(value)}</span>`
  ).join("");
  const age = state.lastCheckAt ? now - state.lastCheckAt : NaN;
  const checkedAt = state.lastCheckAt ? new Date(state.lastCheckAt).toISOString() : "";
  const status = !last ? "" : last.statusCode ? String(last.statusCode) : "none";
  let reason = "";
  if (last && !last.up) {
    // "timeout after 700ms…" says its result already; "Connection refused" does not.
    reason = new RegExp(`^${last.result}\\b`, "i").test(last.reason)
      ? escapeHtml(last.reason)
      : `${escapeHtml(last.result)}${last.reason ? `: ${escapeHtml(last.reason)}` : ""}`;
  }
  const cells = [
    `<td class="state" data-sort="${k.rank}"><span class="badge ${kind}">` +
    `<span aria-hidden="true">${k.symbol}</span> ${k.text}</span></td>`,
    `<td class="url" data-label="URL">${escapeHtml(target.displayUrl)}${
      labels ? `<span class="labels">${labels}</span>` : ""
    }</td>`,
    `<td class="num${status ? "" : " blank"}" data-label="Status" data-sort="${
      last?.statusCode ?? -1
    }">${status}</td>`,
    `<td class="num${last ? "" : " blank"}" data-label="Response" data-sort="${
      last ? last.durationMs : -1
    }">${last ? formatDuration(last.durationMs) : ""}</td>`,
    `<td class="num" data-label="Last check" data-sort="${Number.isNaN(age) ? -1 : age}">${
      checkedAt
        ? `<time datetime="${checkedAt}" title="${checkedAt}">${formatAge(age)}</time>`
        : `<span class="muted">not yet</span>`
    }<span class="sub">every ${formatInterval(target.intervalMs)}</span></td>`,
    `<td class="reason${reason ? "" : " blank"}" data-label="Why">${reason}</td>`,
  ];
  return `<tr class="${kind}" data-order="${order}">${cells.join("")}</tr>`;
}

/**
 * The two notices: demo targets, and a failed reload (while it is the last
 * one). Both are always in the page, hidden when they do not apply, so that
 * the script can show or hide them on refresh.
 */
function renderNotices(status: ExporterStatus | undefined): string {
  const failure = status?.reloadFailure;
  const at = failure ? new Date(failure.at).toISOString() : "";
  return `<p id="demo" class="info"${status?.demoTargets ? "" : " hidden"}>These are the two ` +
    `demo targets: set your own with <code>--target URL</code> or a config file.</p>\n` +
    `<div id="reload" class="notice" role="alert"${failure ? "" : " hidden"}><strong>Config ` +
    `reload failed</strong> at <time id="reload-at" datetime="${at}">${shownTime(at)}</time>; ` +
    `the previous config is still running.<pre id="reload-why">${
      escapeHtml(failure?.message ?? "")
    }</pre></div>`;
}

/** Renders the status page for the given target states. */
export function renderStatusPage(
  states: readonly TargetState[],
  options: StatusPageOptions = {},
): string {
  const now = options.now ?? Date.now();
  const refresh = Math.max(1, Math.round(options.refreshSeconds ?? 10));
  const rows = states.map((state) => ({ state, kind: kindOf(state) })).sort((a, b) =>
    KINDS[a.kind].rank - KINDS[b.kind].rank ||
    a.state.target.displayUrl.localeCompare(b.state.target.displayUrl)
  );
  const count = { down: 0, pending: 0, up: 0 };
  for (const r of rows) count[r.kind]++;
  const total = rows.length;
  const worst: Kind = count.down > 0 ? "down" : count.pending > 0 ? "pending" : "up";
  const headline = total === 0
    ? "No targets configured"
    : count.down > 0
    ? `${count.down} of ${total} target${total === 1 ? "" : "s"} down`
    : count.pending > 0
    ? `Waiting for the first check of ${count.pending} of ${total} target${total === 1 ? "" : "s"}`
    : `All ${total} target${total === 1 ? "" : "s"} up`;
  const generated = new Date(now).toISOString();
  const body = rows.map((r, i) => renderRow(r.state, r.kind, i, now)).join("\n");
  const summary = (["down", "up", "pending"] as const).map((kind) =>
    `<li id="${kind}" class="${kind}${count[kind] > 0 ? " some" : ""}">${count[kind]} ${kind}</li>`
  ).join("");
  const th = (name: string) =>
    `<th scope="col" aria-sort="none"><button type="button">${name}</button></th>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${STATUS_PAGE_CSP}">
<noscript><meta http-equiv="refresh" content="${refresh}"></noscript>
<title>${count.down > 0 ? `(${count.down} down) ` : ""}uptime-exporter</title>
<link id="favicon" rel="icon" href="${favicon(worst)}">
<style>${STYLE}</style>
</head>
<body data-refresh="${refresh}">
<header><h1>uptime-exporter</h1><p id="headline" class="headline">${headline}</p></header>${
    options.shard ? `\n${shardLine(options.shard)}` : ""
  }
<ul id="summary" class="summary" aria-label="Targets by state">${summary}</ul>
<p id="offline" class="notice" role="alert" hidden></p>
${renderNotices(options.status)}
<div id="controls" class="tools" hidden>
<input id="filter" type="search" placeholder="Filter by URL, label, reason…" aria-label="Filter targets">
<span id="shown" class="muted" aria-live="polite"></span>
<label><input id="auto" type="checkbox" checked> Refresh every <span id="every">${refresh}s</span></label>
</div>
<table id="targets">
<thead><tr>${
    ["State", "URL", "Status", "Response", "Last check", "Why"].map(th).join("")
  }</tr></thead>
<tbody id="rows">
${body}
</tbody>
</table>
<p id="empty" class="empty"${total === 0 ? "" : " hidden"}>No targets configured.</p>
<footer>uptime-exporter ${
    escapeHtml(options.version ?? "")
  } · generated <time id="generated" datetime="${generated}">${
    shownTime(generated)
  }</time> · <a href="metrics">/metrics</a> · <a href="healthz">/healthz</a> · <a href="readyz">/readyz</a><br>Down targets come first; click a column heading to sort.</footer>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
