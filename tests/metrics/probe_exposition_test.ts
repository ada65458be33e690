/**
 * lib/metrics/probe_exposition.ts: blackbox's names and help texts, families
 * in name order, optional families only when known, and a text that
 * `promtool check metrics` accepts without a finding.
 */

import assert from "node:assert/strict";
import { type ProbeReport, renderProbeExposition } from "../../lib/metrics/probe_exposition.ts";
import { CHECK_RESULTS } from "../../lib/check/classify.ts";
import { parseMetrics } from "../_helpers/hostile_server.ts";
import { promtoolCheckMetrics } from "../_helpers/promtool.ts";

const REPORT: ProbeReport = {
  success: false,
  durationSeconds: 0.123456789,
  result: "timeout",
  statusCode: 200,
  contentLength: -1,
  bodyBytes: 17,
  redirects: 2,
  ssl: true,
  failedDueToRegex: false,
};

Deno.test("probe exposition: blackbox's families, in name order", () => {
  const text = renderProbeExposition(REPORT);
  const names = [...text.matchAll(/^# TYPE (\S+) gauge$/gm)].map((m) => m[1]);
  assert.deepEqual(names, [
    "probe_duration_seconds",
    "probe_failed_due_to_regex",
    "probe_http_content_length",
    "probe_http_redirects",
    "probe_http_ssl",
    "probe_http_status_code",
    "probe_http_uncompressed_body_length",
    "probe_result",
    "probe_success",
  ]);
  const m = parseMetrics(text);
  assert.equal(m.get("probe_success"), 0);
  assert.equal(m.get("probe_duration_seconds"), 0.123457);
  assert.equal(m.get("probe_http_content_length"), -1);
  assert.equal(m.get("probe_http_ssl"), 1);
  for (const r of CHECK_RESULTS) {
    assert.equal(m.get(`probe_result{result="${r}"}`), r === "timeout" ? 1 : 0, r);
  }
  assert.ok(
    text.includes("# HELP probe_success Displays whether or not the probe was a success\n"),
  );
  assert.ok(
    text.includes("# HELP probe_http_ssl Indicates if SSL was used for the final redirect\n"),
  );
});

Deno.test("probe exposition: certificate expiry and Last-Modified only when known", () => {
  const without = renderProbeExposition(REPORT);
  assert.ok(!without.includes("probe_ssl_earliest_cert_expiry"));
  assert.ok(!without.includes("probe_http_last_modified_timestamp_seconds"));
  const text = renderProbeExposition({
    ...REPORT,
    certExpiry: 1_900_000_000,
    lastModified: 1445412480,
  });
  const m = parseMetrics(text);
  assert.equal(m.get("probe_ssl_earliest_cert_expiry"), 1_900_000_000);
  assert.equal(m.get("probe_http_last_modified_timestamp_seconds"), 1445412480);
  const names = [...text.matchAll(/^# TYPE (\S+) gauge$/gm)].map((m) => m[1]!);
  assert.deepEqual(names, [...names].sort(), "still in name order");
});

Deno.test("probe exposition: promtool check metrics finds nothing", async () => {
  for (const report of [REPORT, { ...REPORT, certExpiry: 1_900_000_000, lastModified: 1 }]) {
    const { code, findings } = await promtoolCheckMetrics(renderProbeExposition(report));
    assert.deepEqual(findings, []);
    assert.equal(code, 0);
  }
});
