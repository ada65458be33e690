/**
 * The exposition of a fixed store, byte for byte, against a file rendered
 * before the lib/ reorganisation (text format), and against one rendered when
 * OpenMetrics came (golden.om.txt): a refactor of the writer cannot change the
 * output without this test saying so. Regenerate only on purpose:
 * `UPDATE_GOLDEN=1 deno test --allow-read --allow-write --allow-env tests/metrics/exposition_golden_test.ts`.
 */
import assert from "node:assert/strict";
import { buildConfig } from "../../lib/config/validate.ts";
import { expositionFor, probeResult } from "../_helpers/servers.ts";

import type { ExpositionFormat } from "../../lib/metrics/exposition.ts";

const GOLDEN: Record<ExpositionFormat, URL> = {
  text: new URL("../fixtures/exposition/golden.prom", import.meta.url),
  openmetrics: new URL("../fixtures/exposition/golden.om.txt", import.meta.url),
};

const YAML = `
global: {histogram_buckets: [0.01, 0.1, 0.5, 1, 2.5]}
defaults:
  labels: {env: prod}
targets:
  - url: https://user:secret@example.com/a
    labels: {team: 'pay"ments', note: "line\\nbreak"}
  - url: https://example.org/503
  - url: http://127.0.0.1:8080/never-checked
  - https://example.net/slow
  - url: https://example.net/cert
    labels: {backslash: 'a\\b'}
`;

/** Renders the fixed store: every result kind, TLS expiry, never-checked and repeated checks. */
async function render(format: ExpositionFormat): Promise<string> {
  const config = buildConfig(YAML, {}, { env: {} });
  const { store, exposition } = expositionFor(config);
  const [a, b, , d, e] = config.targets;
  // a: a certificate at its first check, none read at its second.
  store.recordCertExpiry(a!.key, 1_800_000_000);
  store.record(a!.key, probeResult({ durationMs: 298.5612 }), 1_700_000_000_123);
  store.recordCertExpiry(a!.key, undefined);
  store.record(a!.key, probeResult({ durationMs: 7.25 }), 1_700_000_010_123);
  store.record(
    b!.key,
    probeResult({ result: "status", statusCode: 503, durationMs: 1500 }),
    1_700_000_000_500,
  );
  store.record(
    d!.key,
    probeResult({ result: "timeout", statusCode: 0, durationMs: 5000.0004 }),
    1_700_000_001_000,
  );
  store.recordCertExpiry(e!.key, 1_799_999_999.5);
  store.record(e!.key, probeResult({ durationMs: 0.0123 }), 1_700_000_002_999);
  const text = (await exposition.body(format)).text;
  // The self metrics (process CPU, memory, start time) differ between runs.
  return text.slice(0, text.search(/^# (HELP|TYPE) uptime_exporter_/m));
}

for (const format of ["text", "openmetrics"] as const) {
  Deno.test(`exposition of a fixed store is byte-identical to the golden file (${format})`, async () => {
    const text = await render(format);
    if (Deno.env.get("UPDATE_GOLDEN") === "1") await Deno.writeTextFile(GOLDEN[format], text);
    assert.equal(text, await Deno.readTextFile(GOLDEN[format]));
  });
}
