/**
 * The exposition `/probe` answers with: one check's figures under
 * blackbox_exporter's metric names and help texts (so dashboards and alerts
 * written for blackbox keep working), plus `probe_result`, the check's
 * result out of the fixed set `<prefix>_checks_total` uses. Families are in
 * name order, as blackbox's (client_golang) are.
 *
 * Blackbox metrics fetch cannot measure (per-phase durations, DNS lookup
 * time, IP protocol, HTTP version, TLS version, the verified chain) are left
 * out rather than made up (docs/migrating.md: "Metric names").
 *
 * @module
 */

import { CHECK_RESULTS, type CheckResult } from "../check/classify.ts";

/** What one on-demand check found, as the exposition reports it. */
export interface ProbeReport {
  readonly success: boolean;
  /** The whole check, address checks included, in seconds. */
  readonly durationSeconds: number;
  readonly result: CheckResult;
  /** Final status, 0 when no response came. */
  readonly statusCode: number;
  /** Declared length of the final response as Go reports it: -1 unknown, 0 without a response. */
  readonly contentLength: number;
  /** Body bytes read. */
  readonly bodyBytes: number;
  readonly redirects: number;
  /** Whether the final response came over https. */
  readonly ssl: boolean;
  /** Whether a body regular expression failed the check. */
  readonly failedDueToRegex: boolean;
  /** The final https server's certificate notAfter, seconds since the epoch, when known. */
  readonly certExpiry?: number;
  /** The final response's Last-Modified, seconds since the epoch, when it has a valid one. */
  readonly lastModified?: number;
}

interface FamilyText {
  readonly name: string;
  readonly help: string;
  readonly lines: readonly string[];
}

function num(value: number): string {
  if (!Number.isFinite(value)) return "0";
  return String(value);
}

function gauge(name: string, help: string, value: number): FamilyText {
  return { name, help, lines: [`${name} ${num(value)}`] };
}

/**
 * Renders a report in the Prometheus text format (0.0.4).
 *
 * @example
 * ```ts
 * const text = renderProbeExposition({
 *   success: true, durationSeconds: 0.012, result: "up", statusCode: 200, contentLength: 2,
 *   bodyBytes: 2, redirects: 0, ssl: false, failedDueToRegex: false,
 * });
 * text.includes("probe_success 1\n"); // true
 * ```
 */
export function renderProbeExposition(report: ProbeReport): string {
  const families: FamilyText[] = [
    gauge(
      "probe_duration_seconds",
      "Returns how long the probe took to complete in seconds",
      Math.round(report.durationSeconds * 1e6) / 1e6,
    ),
    gauge(
      "probe_failed_due_to_regex",
      "Indicates if probe failed due to regex",
      report.failedDueToRegex ? 1 : 0,
    ),
    gauge("probe_http_content_length", "Length of http content response", report.contentLength),
    gauge("probe_http_redirects", "The number of redirects", report.redirects),
    gauge("probe_http_ssl", "Indicates if SSL was used for the final redirect", report.ssl ? 1 : 0),
    gauge("probe_http_status_code", "Response HTTP status code", report.statusCode),
    gauge(
      "probe_http_uncompressed_body_length",
      "Length of uncompressed response body",
      report.bodyBytes,
    ),
    {
      name: "probe_result",
      help: `The check's result: 1 for the one it had (${
        CHECK_RESULTS.join(", ")
      }), 0 for the others`,
      lines: CHECK_RESULTS.map((r) => `probe_result{result="${r}"} ${r === report.result ? 1 : 0}`),
    },
    gauge(
      "probe_success",
      "Displays whether or not the probe was a success",
      report.success ? 1 : 0,
    ),
  ];
  if (report.lastModified !== undefined) {
    families.push(gauge(
      "probe_http_last_modified_timestamp_seconds",
      "Returns the Last-Modified HTTP response header in unixtime",
      report.lastModified,
    ));
  }
  if (report.certExpiry !== undefined) {
    families.push(gauge(
      "probe_ssl_earliest_cert_expiry",
      "Returns last SSL chain expiry in unixtime",
      report.certExpiry,
    ));
  }
  families.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return families.map((f) =>
    `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} gauge\n${f.lines.join("\n")}\n`
  )
    .join("");
}
