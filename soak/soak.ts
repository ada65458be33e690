/**
 * Soak: runs the exporter (App + WebServer, as main.ts wires them) against
 * 1,000 targets that mix every hostile behaviour, with short intervals, and
 * samples its RSS, open file descriptors and event-loop delay every second.
 * The targets live in a subprocess (soak/targets.ts) so the figures are the
 * exporter's own.
 *
 *   deno task soak [--duration 600] [--targets 1000] [--interval 5s] [--json FILE]
 *
 * Pass: RSS after warm-up grows less than 10% (median of the window's last
 * third against its first); descriptors return to their
 * baseline after stop; each target's checks match elapsed / interval within
 * 10%; /metrics answered every second. Exits 1 when a criterion fails.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { App } from "../lib/app.ts";
import { parseDuration } from "../lib/config/units.ts";
import { Logger } from "../lib/util/log.ts";
import { WebServer } from "../lib/server/server.ts";
import { hostileFixture } from "../tests/_helpers/hostile_server.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    duration: { type: "string", default: "600" },
    targets: { type: "string", default: "1000" },
    interval: { type: "string", default: "5s" },
    json: { type: "string" },
    /** Only these behaviours (comma-separated MIX names, e.g. `ok,hang`), for bisecting. */
    only: { type: "string" },
    /** Skip the /metrics scrape every second (bisecting: is it the scrapes that grow?). */
    "no-scrape": { type: "boolean", default: false },
  },
});
const DURATION_S = Number(values.duration);
const TARGETS = Number(values.targets);
const INTERVAL_MS = parseDuration(values.interval!)!;
// Two isolates (main thread and check engine) and their malloc arenas settle
// in 30-60 s at 1,000 targets (docs/hardening.md, "Soak"): growth before that
// is warm-up, not a leak.
const WARMUP_S = Math.max(60, Math.round(DURATION_S * 0.2));
if (!(DURATION_S >= 120) || !(TARGETS >= 20) || !INTERVAL_MS) {
  console.error("usage: soak.ts [--duration SECONDS>=120] [--targets N>=20] [--interval 5s]");
  Deno.exit(2);
}

// --- targets --------------------------------------------------------------
const targetsProcess = new Deno.Command(Deno.execPath(), {
  args: ["run", "--allow-net", "--allow-read", new URL("./targets.ts", import.meta.url).pathname],
  stdin: "piped",
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const reader = targetsProcess.stdout.pipeThrough(new TextDecoderStream()).getReader();
let line = "";
while (!line.includes("\n")) {
  const { value, done } = await reader.read();
  if (done) throw new Error("targets process ended");
  line += value;
}
reader.releaseLock();
const urls = JSON.parse(line.split("\n")[0]!) as { hostile: string; tls: string };

/** The mix: [share, settings]. Timeouts stay below the interval. */
const timeout = `${Math.min(2000, INTERVAL_MS - 500)}ms`;
const MIX: [string, number, (i: number) => Record<string, unknown>][] = [
  ["ok", 0.40, (i) => ({ url: `${urls.hostile}/ok?i=${i}` })],
  ["hang", 0.08, (i) => ({ url: `${urls.hostile}/hang?i=${i}` })],
  ["trickle", 0.06, (i) => ({ url: `${urls.hostile}/trickle?i=${i}` })],
  ["endless", 0.04, (i) => ({ url: `${urls.hostile}/endless?i=${i}`, body_limit: "64KiB" })],
  ["loop", 0.05, (i) => ({ url: `${urls.hostile}/loop/a?i=${i}` })],
  ["redirect-closed", 0.04, (i) => ({ url: `${urls.hostile}/redirect-closed?i=${i}` })],
  ["reset", 0.05, (i) => ({ url: `${urls.hostile}/reset?i=${i}` })],
  ["close", 0.04, (i) => ({ url: `${urls.hostile}/close?i=${i}` })],
  ["garbage", 0.04, (i) => ({ url: `${urls.hostile}/garbage?i=${i}` })],
  ["big-header", 0.02, (i) => ({ url: `${urls.hostile}/big-header?i=${i}` })],
  ["204", 0.04, (i) => ({ url: `${urls.hostile}/204?i=${i}`, valid_status_codes: [204] })],
  ["http10", 0.04, (i) => ({ url: `${urls.hostile}/http10?i=${i}` })],
  ["tls", 0.04, (i) => ({ url: `${urls.tls}/?i=${i}`, tls_ca_file: hostileFixture("ca.pem") })],
  ["unresolvable", 0.03, (i) => ({ url: `http://soak-${i}.invalid/` })],
  ["refused", 0.03, (i) => ({ url: `http://127.0.0.1:1/?i=${i}` })],
];
/** With --only, the chosen behaviours share all the targets in their usual proportions. */
const only = values.only?.split(",").map((s) => s.trim()).filter(Boolean);
const unknown = only?.filter((name) => !MIX.some(([n]) => n === name)) ?? [];
if (unknown.length > 0) {
  console.error(`unknown --only behaviours: ${unknown.join(", ")}; known: ${MIX.map(([n]) => n)}`);
  Deno.exit(2);
}
const mix = only ? MIX.filter(([name]) => only.includes(name)) : MIX;
const shares = mix.reduce((sum, [, share]) => sum + share, 0);
const targetList: Record<string, unknown>[] = [];
for (const [, share, make] of mix) {
  const n = Math.round((share / shares) * TARGETS);
  for (let k = 0; k < n && targetList.length < TARGETS; k++) {
    targetList.push(make(targetList.length));
  }
}
while (targetList.length < TARGETS) targetList.push(mix[0]![2](targetList.length));
const configText = JSON.stringify({
  defaults: { interval: values.interval, timeout },
  targets: targetList,
});

// --- samplers ---------------------------------------------------------------
const fdList = () =>
  [...Deno.readDirSync("/proc/self/fd")].map((e) => {
    try {
      return Deno.readLinkSync(`/proc/self/fd/${e.name}`);
    } catch {
      return "?";
    }
  });
const fds = () => fdList().length;
const MiB = (bytes: number) => Math.round(bytes / 104857.6) / 10;
/** Event-loop delay: how late a 20 ms timer fires. */
let loopDelays: number[] = [];
let expected = performance.now() + 20;
const loopTimer = setInterval(() => {
  const now = performance.now();
  loopDelays.push(Math.max(0, now - expected));
  expected = now + 20;
}, 20);
const percentile = (xs: number[], p: number) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

// --- exporter ---------------------------------------------------------------
const fdsBaselineList = fdList();
const fdsBaseline = fdsBaselineList.length;
const app = new App({
  source: { text: configText, env: {} },
  logger: new Logger({ level: "error", write: () => {} }),
  version: "soak",
});
const server = await WebServer.start({
  hostname: "127.0.0.1",
  port: 0,
  handler: app.handler,
  logger: new Logger({ level: "error" }),
});
await app.start();
const metricsUrl = `http://127.0.0.1:${server.addr.port}/metrics`;
const scrapeClient = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });

interface Sample {
  t: number;
  rssMiB: number;
  /** V8 heap in use and reserved, and memory outside it that V8 knows of (ArrayBuffers…). */
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
  fds: number;
  loopP99Ms: number;
  loopMaxMs: number;
  scrapeMs: number;
  scrapeOk: boolean;
}
const samples: Sample[] = [];
const allDelaysAfterWarmup: number[] = [];
const checksOf = () => app.store.states.map((s) => s.counts.reduce((a, b) => a + b, 0));
let warmChecks: number[] = [];
let warmAt = 0;
const start = performance.now();
console.log(
  `soak: ${TARGETS} targets, interval ${values.interval}, timeout ${timeout}, ` +
    `${DURATION_S}s (warm-up ${WARMUP_S}s)`,
);
for (let second = 1; second <= DURATION_S; second++) {
  await new Promise((r) => setTimeout(r, start + second * 1000 - performance.now()));
  const t0 = performance.now();
  let scrapeOk = values["no-scrape"];
  if (!values["no-scrape"]) {
    try {
      const res = await fetch(metricsUrl, {
        client: scrapeClient,
        signal: AbortSignal.timeout(900),
      });
      scrapeOk = res.status === 200 && (await res.text()).includes("_checks_total{");
    } catch {
      scrapeOk = false;
    }
  }
  const delays = loopDelays;
  loopDelays = [];
  if (second > WARMUP_S) allDelaysAfterWarmup.push(...delays);
  if (second === WARMUP_S) {
    warmChecks = checksOf();
    warmAt = performance.now();
  }
  const memory = Deno.memoryUsage();
  const sample: Sample = {
    t: second,
    rssMiB: MiB(memory.rss),
    heapUsedMiB: MiB(memory.heapUsed),
    heapTotalMiB: MiB(memory.heapTotal),
    externalMiB: MiB(memory.external),
    fds: fds(),
    loopP99Ms: Math.round(percentile(delays, 99) * 10) / 10,
    loopMaxMs: Math.round(Math.max(0, ...delays) * 10) / 10,
    scrapeMs: Math.round(performance.now() - t0),
    scrapeOk,
  };
  samples.push(sample);
  if (second % 10 === 0 || second === 1) {
    console.log(
      `t=${second}s rss=${sample.rssMiB}MiB heap=${sample.heapUsedMiB}/${sample.heapTotalMiB}MiB ` +
        `external=${sample.externalMiB}MiB fds=${sample.fds} loop_p99=${sample.loopP99Ms}ms ` +
        `scrape=${sample.scrapeMs}ms inflight=${app.stats.inFlight}`,
    );
  }
}
const endChecks = checksOf();
const window = performance.now() - warmAt;
await app.stop();
await server.shutdown();
scrapeClient.close();
clearInterval(loopTimer);
await targetsProcess.stdin.close();
await targetsProcess.status;
// Connections of aborted checks close asynchronously.
for (let i = 0; i < 50 && fds() > fdsBaseline; i++) await new Promise((r) => setTimeout(r, 100));
const fdsAfterList = fdList();
const fdsAfter = fdsAfterList.length;
if (Deno.env.get("SOAK_DEBUG")) {
  const inodes = fdsAfterList.filter((f) => !fdsBaselineList.includes(f));
  const net = ["tcp", "tcp6", "udp", "unix"].map((p) => Deno.readTextFileSync(`/proc/net/${p}`))
    .join("\n").split("\n");
  for (const inode of inodes) {
    const id = /socket:\[(\d+)\]/.exec(inode)?.[1];
    console.log(inode, net.filter((l) => id && l.includes(` ${id} `)).join(" | "));
  }
}

// --- verdict ----------------------------------------------------------------
const median = (xs: number[]) => percentile(xs, 50);
const after = samples.filter((s) => s.t > WARMUP_S);
// Medians of the first and last third of the window: RSS swings ±10 MiB from
// one second to the next with the buffers in flight, and a leak still shows.
const third = Math.max(1, Math.floor(after.length / 3));
const rssStart = median(after.slice(0, third).map((s) => s.rssMiB));
const rssEnd = median(after.slice(-third).map((s) => s.rssMiB));
const expectedChecks = window / INTERVAL_MS;
const deviations = endChecks.map((c, i) => Math.abs(c - warmChecks[i]! - expectedChecks));
const offTargets = deviations.filter((d) => d > expectedChecks * 0.1 + 1).length;
const failedScrapes = samples.filter((s) => !s.scrapeOk).length;
const figures = {
  targets: TARGETS,
  intervalMs: INTERVAL_MS,
  durationS: DURATION_S,
  warmupS: WARMUP_S,
  rssMiB: { start: rssStart, end: rssEnd, max: Math.max(...after.map((s) => s.rssMiB)) },
  rssGrowthPct: Math.round(((rssEnd - rssStart) / rssStart) * 1000) / 10,
  fds: {
    baseline: fdsBaseline,
    max: Math.max(...samples.map((s) => s.fds)),
    afterStop: fdsAfter,
  },
  eventLoopDelayMs: {
    p50: Math.round(percentile(allDelaysAfterWarmup, 50) * 10) / 10,
    p99: Math.round(percentile(allDelaysAfterWarmup, 99) * 10) / 10,
    max: Math.round(Math.max(0, ...allDelaysAfterWarmup) * 10) / 10,
  },
  checks: {
    expectedPerTarget: Math.round(expectedChecks * 10) / 10,
    maxDeviation: Math.round(Math.max(...deviations) * 10) / 10,
    targetsOff10Pct: offTargets,
    total: endChecks.reduce((a, b) => a + b, 0),
  },
  scrapes: {
    failed: failedScrapes,
    p99Ms: percentile(samples.map((s) => s.scrapeMs), 99),
  },
  tlsLookups: app.tlsInfo.lookups,
};
const verdict = {
  "RSS growth after warm-up < 10%": figures.rssGrowthPct < 10,
  "descriptors back to baseline after stop": fdsAfter <= fdsBaseline + 2,
  "checks per target = elapsed / interval ± 10%": offTargets === 0,
  "/metrics answered every second": failedScrapes === 0,
};
console.log("soak figures:", JSON.stringify(figures, null, 2));
for (const [name, ok] of Object.entries(verdict)) console.log(`${ok ? "PASS" : "FAIL"} ${name}`);
if (values.json) {
  await Deno.writeTextFile(values.json, JSON.stringify({ figures, verdict, samples }, null, 2));
}
const failed = Object.values(verdict).filter((ok) => !ok).length;
console.log(`soak: ${Object.keys(verdict).length - failed} passed, ${failed} failed`);
Deno.exit(failed === 0 ? 0 : 1);
