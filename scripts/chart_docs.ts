/**
 * `deno task chart:docs`: writes the Helm chart's README.md and the values
 * table of docs/kubernetes.md from values.yaml, helm-docs style: each value's
 * description is the `##` comment block right above it (up to an `## e.g.`
 * example), its default is the value itself. tests/scripts/chart_docs_test.ts
 * fails when either file is out of step with values.yaml.
 *
 * Which values get a row: every key, except those under an opaque one (a
 * security context, the resources, the probes: one row each, see values.yaml),
 * and except the entries of a list.
 *
 * @module
 */

import { parse as parseYaml } from "yaml";

/** One row of the values table. */
export interface ValueRow {
  /** Dotted path, e.g. `prometheusRule.urlDown.for`. */
  key: string;
  /** `string`, `int`, `float`, `bool`, `list`, `object`. */
  type: string;
  /** As written in the table: JSON (`"5m"`, `[80, 443]`), empty for a documented object. */
  default: string;
  description: string;
}

/** Keys shown as one row, their children not listed (they are documented in values.yaml). */
export const OPAQUE_KEYS: readonly string[] = [
  "podSecurityContext",
  "securityContext",
  "resources",
  "livenessProbe",
  "readinessProbe",
  "grafanaDashboard.labels",
];

/** A default longer than this is shown as `(see values.yaml)`. */
const MAX_DEFAULT = 40;

/** Compact JSON with a space after `,` and `:`, as the table shows defaults. */
export function formatDefault(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(formatDefault).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).map(([k, v]) =>
      `${JSON.stringify(k)}: ${formatDefault(v)}`
    );
    return `{${entries.join(", ")}}`;
  }
  return JSON.stringify(value);
}

function typeOf(value: unknown): string {
  if (Array.isArray(value)) return "list";
  if (value === null) return "null";
  if (typeof value === "object") return "object";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float";
  if (typeof value === "boolean") return "bool";
  return "string";
}

/** Text for a Markdown table cell: `|` escaped, `<` and `>` as entities. */
function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function lookup(root: unknown, path: readonly string[]): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

const isMapping = (v: unknown) => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * The rows of the values table, in values.yaml's order.
 *
 * @example
 * ```ts
 * valueRows("## How many pods.\nreplicaCount: 1\n");
 * // [{ key: "replicaCount", type: "int", default: "1", description: "How many pods." }]
 * ```
 */
export function valueRows(valuesYaml: string): ValueRow[] {
  const values = parseYaml(valuesYaml);
  const lines = valuesYaml.split("\n");
  const stack: { indent: number; key: string }[] = [];
  const rows: ValueRow[] = [];
  lines.forEach((line, i) => {
    const match = /^(\s*)([A-Za-z_][\w.-]*):(\s|$)/.exec(line);
    if (!match) return;
    const indent = match[1]!.length;
    while (stack.length > 0 && stack.at(-1)!.indent >= indent) stack.pop();
    const parents = stack.map((s) => s.key);
    stack.push({ indent, key: match[2]! });
    // A key inside a list entry, or under an opaque key, has no row of its own.
    const parent = lookup(values, parents);
    if (!isMapping(parent)) return;
    if (parents.some((_, n) => OPAQUE_KEYS.includes(parents.slice(0, n + 1).join(".")))) return;
    const path = [...parents, match[2]!];
    const key = path.join(".");
    const value = lookup(values, path);
    const comment: string[] = [];
    for (let j = i - 1; j >= 0 && /^\s*##/.test(lines[j]!); j--) {
      comment.unshift(lines[j]!.trim().replace(/^##\s?/, ""));
    }
    const example = comment.findIndex((c) => /^e\.g\.?/.test(c));
    const description = (example >= 0 ? comment.slice(0, example) : comment).join(" ").trim();
    let shown: string;
    if (isMapping(value) && Object.keys(value as object).length > 0 && !OPAQUE_KEYS.includes(key)) {
      shown = "";
    } else {
      const json = formatDefault(value);
      shown = json.length > MAX_DEFAULT ? "(see values.yaml)" : json;
    }
    rows.push({ key, type: typeOf(value), default: shown, description });
  });
  return rows;
}

/** The values table, its columns padded as `deno fmt` pads them. */
export function renderTable(rows: readonly ValueRow[]): string {
  const table = [
    ["Key", "Type", "Default", "Description"],
    ...rows.map((r) => [
      `\`${r.key}\``,
      r.type,
      r.default ? `\`${cell(r.default)}\`` : "",
      cell(r.description),
    ]),
  ];
  const widths = table[0]!.map((_, c) => Math.max(3, ...table.map((row) => row[c]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [
    line(table[0]!),
    `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`,
    ...table.slice(1).map(line),
  ].join("\n");
}

/** The markers around the generated table in docs/kubernetes.md. */
export const TABLE_START =
  "<!-- values table: generated by `deno task chart:docs`, do not edit -->";
/** The end marker. */
export const TABLE_END = "<!-- end of values table -->";

/** `doc` with the text between the markers replaced by `table`. */
export function replaceTable(doc: string, table: string): string {
  const start = doc.indexOf(TABLE_START);
  const end = doc.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`no ${TABLE_START} ... ${TABLE_END} in the file`);
  return `${doc.slice(0, start + TABLE_START.length)}\n\n${table}\n\n${doc.slice(end)}`;
}

/** What the chart README takes from Chart.yaml. */
export interface ChartMeta {
  name: string;
  description: string;
  version: string;
  appVersion: string;
  kubeVersion: string;
  home: string;
}

/** The chart's README.md. */
export function renderReadme(chart: ChartMeta, rows: readonly ValueRow[]): string {
  return `<!-- Generated by \`deno task chart:docs\` from Chart.yaml and values.yaml: do not edit. -->

# ${chart.name}

${chart.description.trim()}

Chart version ${chart.version} · uptime-exporter ${chart.appVersion} · Kubernetes ${chart.kubeVersion} ·
licence Apache-2.0 · source: <${chart.home}>

## Install

Build and push the image first (the chart does not pull a public one by default; see the
[Kubernetes guide](${chart.home}/blob/main/docs/kubernetes.md)), then install with a values file
of your URLs:

\`\`\`yaml
# my-values.yaml
image:
  registry: registry.example.com/platform
config:
  targets:
    - url: https://example.com/
    - url: https://api.example.com/health
      interval: 30s
\`\`\`

\`\`\`sh
helm install uptime-exporter ./helm/uptime-exporter -n monitoring -f my-values.yaml
helm test uptime-exporter -n monitoring
\`\`\`

The exporter reloads the mounted config file when it changes, without a restart. To manage the
config yourself (for example with secrets written into it), set \`config.existingConfigMap\` or
\`config.existingSecret\` to an object holding \`config.yaml\`. With kube-prometheus-stack, enable
\`serviceMonitor\`, \`prometheusRule\` (URL down, slow, stale results, certificate expiry, exporter
down, reload failed) and \`grafanaDashboard\`, each with \`additionalLabels: {release: <its release>}\`.
To serve it under an Ingress sub-path, set \`routePrefix\` (the probes, ServiceMonitor and helm test
follow it).

## Values

Every value, from the \`##\` comments in [values.yaml](values.yaml);
[values.schema.json](values.schema.json) rejects unknown keys and bad types.

${renderTable(rows)}
`;
}

if (import.meta.main) {
  const chartDir = "helm/uptime-exporter";
  const rows = valueRows(await Deno.readTextFile(`${chartDir}/values.yaml`));
  const chart = parseYaml(await Deno.readTextFile(`${chartDir}/Chart.yaml`)) as ChartMeta;
  await Deno.writeTextFile(`${chartDir}/README.md`, renderReadme(chart, rows));
  const doc = await Deno.readTextFile("docs/kubernetes.md");
  await Deno.writeTextFile("docs/kubernetes.md", replaceTable(doc, renderTable(rows)));
  console.error(`wrote ${chartDir}/README.md and the values table of docs/kubernetes.md`);
}
