/**
 * Serving never starves measuring: thousands of healthy targets are checked
 * while hundreds of scrapers pull the uncompressed exposition at once. Every
 * check must stay up and on schedule — the checks run in the check engine's
 * Worker, away from rendering and sending /metrics (on one event loop, 5,000
 * targets and 300 such scrapers gave ~2,400 false timeouts in 30 s:
 * docs/performance.md).
 */

import assert from "node:assert/strict";
import { startExporter } from "./_helpers/exporter.ts";
import { parseMetrics } from "./_helpers/hostile_server.ts";
import { until } from "./_helpers/wait.ts";
import { startHealthyTargets } from "./_helpers/healthy_targets_process.ts";

const TARGETS = 2000;
const SCRAPERS = 200;
const INTERVAL_S = 4;
const LOAD_MS = 12_000;

Deno.test("hundreds of uncompressed scrapers do not make healthy targets look down", async (t) => {
  await using targets = await startHealthyTargets();
  await using exporter = await startExporter({
    args: ["--log-level", "info"],
    config: {
      defaults: { interval: `${INTERVAL_S}s`, timeout: "3s" },
      targets: Array.from(
        { length: TARGETS },
        (_, i) => ({ url: `http://127.0.0.1:${targets.port}/t/${i}` }),
      ),
    },
  });
  await until(async () => (await exporter.get("/readyz")).status === 200, 30_000, "readiness");
  const totals = async () => {
    const m = parseMetrics((await exporter.get("/metrics")).text);
    let up = 0, failed = 0;
    for (const [name, value] of m) {
      if (!name.startsWith("sample_external_url_checks_total{")) continue;
      if (name.endsWith(',result="up"}')) up += value;
      else failed += value;
    }
    return { up, failed };
  };
  const before = await totals();
  const started = performance.now();
  let scrapes = 0;
  let scrapeFailures = 0;
  const stop = AbortSignal.timeout(LOAD_MS);
  await Promise.all(Array.from({ length: SCRAPERS }, async () => {
    const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
    try {
      while (!stop.aborted) {
        try {
          // No Accept-Encoding: the uncompressed body, ~2 KB per target.
          const res = await fetch(`${exporter.url}/metrics`, { client, signal: stop });
          await res.bytes();
          if (res.status === 200) scrapes++;
          else scrapeFailures++;
        } catch {
          if (!stop.aborted) scrapeFailures++;
        }
      }
    } finally {
      client.close();
    }
  }));
  const elapsedS = (performance.now() - started) / 1000;
  const after = await totals();
  const checks = after.up + after.failed - before.up - before.failed;
  const expected = TARGETS * (elapsedS / INTERVAL_S);
  console.log(
    "scrape load:",
    JSON.stringify({
      scrapes,
      scrapeFailures,
      checks,
      expected: Math.round(expected),
      failed: after.failed - before.failed,
      elapsedS,
    }),
  );
  await t.step("scrapers were served", () => {
    assert.ok(scrapes >= SCRAPERS, `${scrapes} scrapes`);
  });
  await t.step("no healthy target was reported down", () => {
    assert.equal(after.failed - before.failed, 0);
    assert.ok(!exporter.lines.some((l) => l.includes('"target went down"')), "a target went down");
  });
  await t.step("the checks kept their schedule (within 15%)", () => {
    assert.ok(
      checks >= expected * 0.85,
      `${checks} checks in ${elapsedS.toFixed(1)} s, ${Math.round(expected)} expected`,
    );
  });
});
