/**
 * Isolation benchmark: the exporter's App with its checks in the check
 * engine's Worker (as it runs) and, for comparison, on the serving thread's
 * event loop (`isolation: "inline"`), each under the same scrape load —
 * many concurrent scrapers of the uncompressed exposition — against healthy
 * loopback targets in a process of their own. Prints, per mode, the checks
 * reported down (all of them false: every target is healthy), the checks
 * done against those expected, and the scrapes served.
 *
 *   deno task bench:isolation [--targets 5000] [--scrapers 300] [--duration 30s]
 *
 * It prints figures and never fails on them.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { App } from "../lib/app.ts";
import { parseDuration } from "../lib/config/units.ts";
import { WebServer } from "../lib/server/server.ts";
import { Logger } from "../lib/util/log.ts";
import { startHealthyTargets } from "../tests/_helpers/healthy_targets_process.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    targets: { type: "string", default: "5000" },
    scrapers: { type: "string", default: "300" },
    duration: { type: "string", default: "30s" },
    interval: { type: "string", default: "10s" },
  },
});
const TARGETS = Number(values.targets);
const SCRAPERS = Number(values.scrapers);
const DURATION_MS = parseDuration(values.duration)!;
const INTERVAL_MS = parseDuration(values.interval)!;

await using targets = await startHealthyTargets();
const port = targets.port;

const config = [
  "defaults:",
  `  interval: ${INTERVAL_MS}ms`,
  "  timeout: 5s",
  "targets:",
  ...Array.from({ length: TARGETS }, (_, i) => `  - url: http://127.0.0.1:${port}/t/${i}`),
].join("\n");

async function run(isolation: "worker" | "inline") {
  const logger = new Logger({ level: "error", write: () => {} });
  const app = new App({ source: { text: config, env: {} }, logger, version: "bench", isolation });
  const server = await WebServer.start({
    hostname: "127.0.0.1",
    port: 0,
    handler: app.handler,
    logger,
  });
  await app.start();
  const total = () =>
    app.store.states.reduce(
      (acc, s) => {
        acc.up += s.counts[0]!;
        acc.down += s.counts.slice(1).reduce((a, b) => a + b, 0);
        return acc;
      },
      { up: 0, down: 0 },
    );
  // Every target checked once before the window.
  while (!app.store.allChecked()) await new Promise((r) => setTimeout(r, 100));
  const before = total();
  const stop = AbortSignal.timeout(DURATION_MS);
  let scrapes = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: SCRAPERS }, async () => {
    const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
    while (!stop.aborted) {
      try {
        const res = await fetch(`http://127.0.0.1:${server.addr.port}/metrics`, {
          client,
          signal: stop,
        });
        await res.bytes();
        scrapes++;
      } catch { /* the window ended */ }
    }
    client.close();
  }));
  const seconds = (performance.now() - started) / 1000;
  const after = total();
  await app.stop();
  await server.shutdown();
  return {
    isolation,
    down: after.down - before.down,
    checks: after.up + after.down - before.up - before.down,
    expected: Math.round(TARGETS * seconds / (INTERVAL_MS / 1000)),
    scrapes,
  };
}

console.log(
  `${TARGETS} healthy targets every ${values.interval}, ${SCRAPERS} concurrent uncompressed ` +
    `scrapers for ${values.duration}; deno ${Deno.version.deno}; load ${Deno.loadavg().join(" ")}`,
);
for (const isolation of ["inline", "worker"] as const) {
  const r = await run(isolation);
  console.log(
    `${r.isolation.padEnd(7)} checks reported down (all false) ${String(r.down).padStart(6)}   ` +
      `checks done ${r.checks} / ${r.expected} expected   scrapes served ${r.scrapes}`,
  );
}
