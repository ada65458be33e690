/**
 * The HTML status page at `/`: one row per target, down targets first,
 * up/down shown by text as well as colour, no framework, no JavaScript
 * needed to read it (a small script only sorts columns and refreshes).
 *
 * @module
 */

import { formatDuration } from "./duration.ts";
import type { TargetState } from "./results.ts";

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
}

type Row = { state: TargetState; rank: number; label: string };

function rowOf(state: TargetState): Row {
  if (!state.last) return { state, rank: 1, label: "PENDING" };
  return state.last.up ? { state, rank: 2, label: "UP" } : { state, rank: 0, label: "DOWN" };
}

/** Renders the status page for the given target states. */
export function renderStatusPage(
  states: readonly TargetState[],
  options: StatusPageOptions = {},
): string {
  const now = options.now ?? Date.now();
  const refresh = options.refreshSeconds ?? 10;
  const rows = states.map(rowOf).sort((a, b) =>
    a.rank - b.rank || a.state.target.displayUrl.localeCompare(b.state.target.displayUrl)
  );
  const down = rows.filter((r) => r.rank === 0).length;
  const up = rows.filter((r) => r.rank === 2).length;
  const pending = rows.length - up - down;
  const body = rows.map(({ state, label }) => {
    const last = state.last;
    const labels = Object.entries(state.target.labels).map(([k, v]) =>
      `<span class="label">${escapeHtml(k)}=${escapeHtml(v)}</span>`
    ).join(" ");
    const age = state.lastCheckAt ? now - state.lastCheckAt : NaN;
    const cls = label.toLowerCase();
    return `<tr class="${cls}">` +
      `<td data-sort="${
        label === "DOWN" ? 0 : label === "PENDING" ? 1 : 2
      }"><span class="state ${cls}">${label}</span></td>` +
      `<td class="url" data-sort="${escapeHtml(state.target.displayUrl)}">${
        escapeHtml(state.target.displayUrl)
      }${labels ? `<div>${labels}</div>` : ""}</td>` +
      `<td data-sort="${last?.statusCode ?? -1}">${last ? (last.statusCode || "-") : ""}</td>` +
      `<td data-sort="${last?.durationMs ?? -1}">${
        last ? formatDuration(last.durationMs) : ""
      }</td>` +
      `<td data-sort="${Number.isNaN(age) ? -1 : age}">${
        Number.isNaN(age) ? "never" : `${formatDuration(age)} ago`
      }</td>` +
      `<td>${
        last && !last.up ? `${escapeHtml(last.result)}: ${escapeHtml(last.reason)}` : ""
      }</td>` +
      `</tr>`;
  }).join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${down > 0 ? `(${down} down) ` : ""}uptime-exporter</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1rem;color:#1b1f24;background:#fff}
h1{font-size:1.2rem;margin:0 0 .5rem}
.summary span{margin-right:1rem;font-weight:600}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #d0d7de;vertical-align:top}
th{cursor:pointer;user-select:none;background:#f6f8fa;position:sticky;top:0}
td.url{word-break:break-all}
.state{display:inline-block;min-width:5.5em;text-align:center;border-radius:3px;padding:0 .3em;font-weight:700}
.state.up{background:#dafbe1;color:#116329}.state.down{background:#ffebe9;color:#a40e26}
.state.pending{background:#eaeef2;color:#57606a}
tr.down td{background:#fff8f7}
.label{font-size:12px;color:#57606a;margin-right:.4em}
footer{margin-top:1rem;color:#57606a;font-size:12px}
@media (max-width:640px){th:nth-child(5),td:nth-child(5){display:none}td,th{padding:.3rem}}
</style>
</head>
<body>
<h1>uptime-exporter</h1>
<p class="summary"><span id="down">${down} down</span><span id="up">${up} up</span><span id="pending">${pending} pending</span></p>
<table id="targets">
<thead><tr><th>State</th><th>URL</th><th>Status</th><th>Response</th><th>Last check</th><th>Reason</th></tr></thead>
<tbody>
${body}
</tbody>
</table>
<footer>uptime-exporter ${
    escapeHtml(options.version ?? "")
  } · <a href="metrics">metrics</a> · refreshes every ${refresh}s · click a column to sort</footer>
<script>
document.querySelectorAll("th").forEach((th,i)=>th.addEventListener("click",()=>{
  const tb=document.querySelector("tbody"),rows=[...tb.rows],asc=th.dataset.asc!=="1";
  th.dataset.asc=asc?"1":"0";
  const v=(r)=>{const s=r.cells[i].dataset.sort??r.cells[i].textContent;return isNaN(+s)?s:+s};
  rows.sort((a,b)=>{const x=v(a),y=v(b);return (x<y?-1:x>y?1:0)*(asc?1:-1)});
  rows.forEach((r)=>tb.appendChild(r));
}));
setTimeout(()=>location.reload(),${refresh * 1000});
</script>
</body>
</html>
`;
}
