/**
 * Micro benchmarks of the exposition (`deno task bench:micro`): a render
 * streamed through gzip (what a scrape after a change costs; text and
 * OpenMetrics), a render to one
 * string, a cached body, and encoding/gzip of the whole text for comparison,
 * at 1,000 and 10,000 targets with histograms on.
 *
 * @module
 */

import { gzipSync } from "node:zlib";
import { buildConfig } from "../lib/config/validate.ts";
import { TargetExposition } from "../lib/metrics/exposition.ts";
import { Exposition } from "../lib/metrics/exposition_cache.ts";
import { type ProbeResult, success } from "../lib/check/outcome.ts";
import { ResultsStore } from "../lib/metrics/results.ts";
import { SelfMetrics } from "../lib/metrics/self_metrics.ts";

function makeStore(n: number): ResultsStore {
  const lines = ["targets:"];
  for (let i = 0; i < n; i++) lines.push(`  - url: http://127.0.0.1:9/t/${i}`);
  const config = buildConfig(lines.join("\n"));
  const store = new ResultsStore();
  store.applyConfig(config);
  for (const t of config.targets) store.record(t.key, result(50.123), Date.now());
  return store;
}

function result(ms: number): ProbeResult {
  return success({ startedAt: Date.now(), statusCode: 200, durationMs: ms });
}

/** Records a new result for every `every`-th target. */
function touch(store: ResultsStore, every: number, offset: number): void {
  const states = store.states;
  for (let i = offset % every; i < states.length; i += every) {
    store.record(states[i]!.target.key, result(40 + (i % 30)), Date.now());
  }
}

const self = new SelfMetrics({
  version: "bench",
  targets: () => 0,
  inFlight: () => 0,
  waiting: () => 0,
});

for (const n of [1000, 10_000]) {
  const store = makeStore(n);
  const group = `exposition ${n}`;

  let round = 0;
  Deno.bench({
    name: `render + gzip, streamed with event-loop turns (${n})`,
    group,
    baseline: true,
    async fn() {
      touch(store, 10, round++);
      const fresh = new Exposition(store, self, { prefix: () => "sample_external_url" });
      await fresh.body();
    },
  });

  Deno.bench({
    name: `render + gzip, streamed, OpenMetrics (${n})`,
    group,
    async fn() {
      touch(store, 10, round++);
      const fresh = new Exposition(store, self, { prefix: () => "sample_external_url" });
      await fresh.body("openmetrics");
    },
  });

  Deno.bench({
    name: `render as one string, TargetExposition (${n})`,
    group,
    fn() {
      new TargetExposition().render(store, "sample_external_url");
    },
  });

  const exposition = new Exposition(store, self, { prefix: () => "sample_external_url" });
  await exposition.body();
  Deno.bench({
    name: `cached body, nothing changed (${n})`,
    group,
    async fn() {
      await exposition.body();
    },
  });

  const text = new TargetExposition().render(store, "sample_external_url");
  const bytes = new TextEncoder().encode(text);
  console.log(`${n} targets: body ${(bytes.byteLength / 1e6).toFixed(2)} MB`);
  Deno.bench({
    name: `TextEncoder.encode body (${n})`,
    group,
    fn() {
      new TextEncoder().encode(text);
    },
  });
  Deno.bench({
    name: `gzip body at once, node:zlib level 1 (${n})`,
    group,
    fn() {
      gzipSync(bytes, { level: 1 });
    },
  });
  Deno.bench({
    name: `gzip body with CompressionStream (${n})`,
    group,
    async fn() {
      await new Response(
        new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip")),
      ).bytes();
    },
  });
}
