/**
 * Side-by-side benchmark: uptime-exporter vs Prometheus blackbox_exporter on
 * the same loopback targets, one after the other (never at once: the machine
 * has few cores), in one run.
 *
 *   deno task bench [--targets 1000,5000,20000] [--interval 10s] [--delay 50ms]
 *                   [--duration 30s] [--warmup 12s] [--only ours|blackbox]
 *                   [--json FILE] [--smoke] [--probe] [--scale-out]
 *
 * See docs/performance.md for what each figure means. It prints figures and
 * never fails on them; it exits non-zero only when something did not run.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseDuration } from "../lib/config/units.ts";
import {
  type Child,
  fmt,
  freePort,
  machineBusySeconds,
  type Percentiles,
  percentiles,
  type ProcSample,
  RawClient,
  rawGet,
  readProc,
  sleep,
  spawn,
  stopAll,
  waitForHttp,
  waitForLine,
} from "./util.ts";
import { probeTable, runProbeBench } from "./probe_endpoint.ts";
import { runScaleOut, type ScaleOutCase, scaleOutTable } from "./scale_out.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const BLACKBOX = "/usr/bin/prometheus-blackbox-exporter";

const USAGE = `deno task bench [flags]
  --targets LIST        target counts, comma-separated (1000,5000,20000)
  --interval DURATION   check interval of every target (10s)
  --delay DURATION      the targets answer after this long (50ms)
  --status CODE         the targets' status code (200)
  --size BYTES          the targets' body size (0)
  --duration DURATION   measured window per exporter and count (30s)
  --warmup DURATION     before the window, so every target is checked once (interval + 2s)
  --scrape-interval D   how often the benchmark scrapes our /metrics (5s)
  --scrapers N          concurrent scrapers of the /metrics test (10)
  --scrape-test D       length of the /metrics test (5s; 0 skips it)
  --only NAME           ours | blackbox (default: both)
  --no-idle             skip the idle run (2 targets: start-up time, RSS)
  --startup-targets N   targets of the large start-up run: /healthz, first /metrics and RSS
                        after spawn, checked every 60s (50000; 2000 with --smoke; 0 skips it)
  --json FILE           also write the results as JSON (bench/results/<date>.json
                        unless --smoke; "-" for none)
  --v8-flags FLAGS      extra V8 flags for our exporter (on top of deno task start's)
  --smoke               tiny and short, to prove the benchmark still works (CI)
  --probe               only the /probe benchmark (ours vs blackbox's /probe); the full and
                        --smoke runs include it after the target counts
  --probe-concurrency N concurrent /probe clients (10; 2 with --smoke)
  --probe-duration D    length of each exporter's /probe window (10s; 2s with --smoke)
  --scale-out           only the scale-out runs (bench/scale_out.ts): --targets (40000) every
                        --interval (10s) checked by each count of --scale-out-replicas, then
                        --scale-out-large targets every 60s over 4 replicas; --smoke runs a tiny one
  --scale-out-replicas L replica counts for --targets (1,2)
  --scale-out-large N   targets of the 60s run over 4 replicas (100000; 0 skips it)`;

interface Options {
  targets: number[];
  intervalMs: number;
  delayMs: number;
  status: number;
  size: number;
  durationMs: number;
  warmupMs: number;
  scrapeIntervalMs: number;
  scrapers: number;
  scrapeTestMs: number;
  only?: "ours" | "blackbox";
  idle: boolean;
  /** Targets of the large start-up run (0: none). */
  startupTargets: number;
  json?: string;
  smoke: boolean;
  v8Flags?: string;
  /** Run only the /probe benchmark. */
  probeOnly: boolean;
  probeConcurrency: number;
  probeDurationMs: number;
  /** Run only the scale-out benchmark. */
  scaleOut: boolean;
  scaleOutReplicas: number[];
  scaleOutLarge: number;
}

function duration(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  if (ms === undefined) throw new Error(`--${flag}: not a duration: ${value}`);
  return ms;
}

function parseOptions(args: string[]): Options | undefined {
  const { values } = parseArgs({
    args,
    options: {
      targets: { type: "string" },
      interval: { type: "string" },
      delay: { type: "string" },
      status: { type: "string" },
      size: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      "scrape-interval": { type: "string" },
      scrapers: { type: "string" },
      "scrape-test": { type: "string" },
      only: { type: "string" },
      "no-idle": { type: "boolean" },
      "startup-targets": { type: "string" },
      json: { type: "string" },
      smoke: { type: "boolean" },
      "v8-flags": { type: "string" },
      probe: { type: "boolean" },
      "probe-concurrency": { type: "string" },
      "probe-duration": { type: "string" },
      "scale-out": { type: "boolean" },
      "scale-out-replicas": { type: "string" },
      "scale-out-large": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return undefined;
  }
  const smoke = values.smoke ?? false;
  const scaleOut = values["scale-out"] ?? false;
  const intervalMs = duration(values.interval, smoke ? 2000 : 10_000, "interval");
  const fallback = smoke ? "50" : scaleOut ? "40000" : "1000,5000,20000";
  const targets = (values.targets ?? fallback).split(",").map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new Error(`--targets: bad count ${s}`);
    return n;
  });
  if (values.only !== undefined && values.only !== "ours" && values.only !== "blackbox") {
    throw new Error("--only: ours or blackbox");
  }
  return {
    targets,
    intervalMs,
    delayMs: duration(values.delay, 50, "delay"),
    status: Number(values.status ?? 200),
    size: Number(values.size ?? 0),
    durationMs: duration(values.duration, smoke ? 4000 : 30_000, "duration"),
    warmupMs: duration(values.warmup, intervalMs + (smoke ? 500 : 2000), "warmup"),
    scrapeIntervalMs: duration(values["scrape-interval"], smoke ? 1000 : 5000, "scrape-interval"),
    scrapers: Number(values.scrapers ?? 10),
    scrapeTestMs: duration(values["scrape-test"], smoke ? 1000 : 5000, "scrape-test"),
    only: values.only as Options["only"],
    idle: !(values["no-idle"] ?? false),
    startupTargets: (() => {
      const n = Number(values["startup-targets"] ?? (smoke ? 2000 : 50_000));
      if (!Number.isInteger(n) || n < 0 || n > 200_000) {
        throw new Error("--startup-targets: 0-200000");
      }
      return n;
    })(),
    json: values.json,
    smoke,
    v8Flags: values["v8-flags"],
    probeOnly: values.probe ?? false,
    probeConcurrency: Number(values["probe-concurrency"] ?? (smoke ? 2 : 10)),
    probeDurationMs: duration(values["probe-duration"], smoke ? 2000 : 10_000, "probe-duration"),
    scaleOut,
    scaleOutReplicas: (values["scale-out-replicas"] ?? "1,2").split(",").map((s) => {
      const n = Number(s.trim());
      if (!Number.isInteger(n) || n < 1 || n > 16) throw new Error(`--scale-out-replicas: ${s}`);
      return n;
    }),
    scaleOutLarge: (() => {
      const n = Number(values["scale-out-large"] ?? 100_000);
      if (!Number.isInteger(n) || n < 0 || n > 200_000) {
        throw new Error("--scale-out-large: 0-200000");
      }
      return n;
    })(),
  };
}

/**
 * The scale-out cases: with --scale-out, each --targets count at --interval
 * by each replica count, then --scale-out-large (100,000) targets at 60 s
 * over 4 replicas; with
 * --smoke, one tiny case (200 targets, 1 and 2 replicas) that proves it runs.
 */
function scaleOutCases(opts: Options): ScaleOutCase[] {
  if (opts.smoke) {
    return [{ targets: 200, intervalMs: 2000, replicas: [1, 2], durationMs: 3000, warmupMs: 2500 }];
  }
  return [
    ...opts.targets.map((targets) => ({
      targets,
      intervalMs: opts.intervalMs,
      replicas: opts.scaleOutReplicas,
      durationMs: opts.durationMs,
      warmupMs: opts.intervalMs + 2000,
    })),
    ...(opts.scaleOutLarge > 0
      ? [{
        targets: opts.scaleOutLarge,
        intervalMs: 60_000,
        replicas: [4],
        durationMs: 60_000,
        warmupMs: 62_000,
      }]
      : []),
  ];
}

async function scaleOutSection(ts: TargetServer, opts: Options, tmp: string) {
  return await runScaleOut(scaleOutCases(opts), {
    targets: ts,
    tmp,
    startOurs: (args, logFile) =>
      spawn("uptime-exporter (scale-out)", Deno.execPath(), [
        "run",
        ...startFlags(opts.v8Flags),
        `${ROOT}main.ts`,
        ...args,
      ], { stderrFile: logFile }),
    lateness,
    watch: (pid) => new ProcWatcher(pid),
    machine: () => new MachineWatcher(),
  });
}

// ---------------------------------------------------------------------------
// The target server (Go, see target_server.go)

interface TargetServer {
  child: Child;
  port: number;
  url(id: number): string;
  stats(sinceWallMs: number): Promise<TargetStats>;
}

interface TargetStats {
  cpu_user_seconds: number;
  cpu_system_seconds: number;
  requests_total: number;
  /** [target id, Unix ms] of each request that arrived since the asked time. */
  arrivals: [number, number][];
  /** How much longer than the delay the server held requests (its own accuracy), ms. */
  overshoot_ms: { p50: number; p99: number; max: number };
}

/**
 * Ports the target server listens on. Targets are spread over them: 2,000 new
 * connections/s to one address:port leave ~28,000 sockets in TIME_WAIT, the
 * whole ephemeral port range, and connect() then stalls in the kernel for
 * every client alike. Real targets are on many addresses.
 */
const TARGET_PORTS = 16;

async function buildTargetServer(): Promise<string> {
  const dir = `${Deno.env.get("TMPDIR") ?? "/tmp"}/uptime-exporter-bench`;
  Deno.mkdirSync(dir, { recursive: true });
  const out = `${dir}/target_server`;
  const { code, stderr } = await new Deno.Command("go", {
    args: ["build", "-o", out, `${ROOT}bench/target_server.go`],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) throw new Error(`go build failed:\n${new TextDecoder().decode(stderr)}`);
  return out;
}

async function startTargetServer(opts: Options): Promise<TargetServer> {
  const bin = await buildTargetServer();
  const child = spawn("target server", bin, [
    "-port",
    "0",
    "-ports",
    String(TARGET_PORTS),
    "-delay",
    `${opts.delayMs}ms`,
    "-status",
    String(opts.status),
    "-size",
    String(opts.size),
  ], { stdout: "piped" });
  const m = await waitForLine(child, /LISTEN ([\d,]+)\n/, 10_000);
  const ports = m[1]!.split(",").map(Number);
  const base = `http://127.0.0.1:${ports[0]}`;
  return {
    child,
    port: ports[0]!,
    url: (id) => `http://127.0.0.1:${ports[id % ports.length]}/t/${id}`,
    async stats(since) {
      const res = await fetch(`${base}/__stats?since=${Math.floor(since)}`);
      return await res.json() as TargetStats;
    },
  };
}

// ---------------------------------------------------------------------------
// Measurements common to both exporters

interface Window {
  /** Wall clock (Unix ms) of the window's start and end. */
  startWall: number;
  endWall: number;
}

interface ResourceUse {
  /** CPU seconds of the process in the window. */
  cpuSeconds: number;
  /** Share of one core in the window. */
  cpuCores: number;
  rssMaxMB: number;
  rssEndMB: number;
}

/** Samples a process's RSS every 250 ms between `begin` and `end`. */
class ProcWatcher {
  readonly #pid: number;
  #first?: ProcSample;
  #last?: ProcSample;
  #rssMax = 0;
  #timer?: ReturnType<typeof setInterval>;
  constructor(pid: number) {
    this.#pid = pid;
  }
  begin(): void {
    this.#first = readProc(this.#pid);
    this.#rssMax = this.#first?.rssBytes ?? 0;
    this.#timer = setInterval(() => {
      const s = readProc(this.#pid);
      if (s) {
        this.#rssMax = Math.max(this.#rssMax, s.rssBytes);
        this.#last = s;
      }
    }, 250);
  }
  /** Totals of the window; a process that died in it counts up to its last sample. */
  end(): ResourceUse & { died?: boolean } {
    clearInterval(this.#timer);
    const now = readProc(this.#pid);
    const died = now === undefined;
    if (now) this.#last = now;
    const a = this.#first, b = this.#last;
    if (!a || !b) throw new Error(`process ${this.#pid} is gone`);
    this.#rssMax = Math.max(this.#rssMax, b.rssBytes);
    const cpu = b.cpuSeconds - a.cpuSeconds;
    return {
      cpuSeconds: cpu,
      cpuCores: cpu / ((b.at - a.at) / 1000),
      rssMaxMB: this.#rssMax / 2 ** 20,
      rssEndMB: b.rssBytes / 2 ** 20,
      ...(died ? { died } : {}),
    };
  }
}

/**
 * Lateness of each request against a fixed-rate schedule, from the target's
 * side: per target, arrival k is due at a0 + k·interval plus the target's best
 * phase; lateness is how much later than that it came. Only arrivals inside
 * the window are returned; the phase is taken from the whole run.
 */
function lateness(
  arrivals: [number, number][],
  intervalMs: number,
  window: Window,
  maxId: number,
): { lateness: number[]; inWindow: number; perTargetMax: number } {
  const byTarget = new Map<number, number[]>();
  for (const [id, at] of arrivals) {
    if (id >= maxId) continue;
    let list = byTarget.get(id);
    if (!list) byTarget.set(id, list = []);
    list.push(at);
  }
  const out: number[] = [];
  let inWindow = 0;
  let perTargetMax = 0;
  for (const list of byTarget.values()) {
    list.sort((a, b) => a - b);
    const a0 = list[0]!;
    const offsets = list.map((a) => a - Math.round((a - a0) / intervalMs) * intervalMs);
    const phase = Math.min(...offsets);
    let count = 0;
    for (let i = 0; i < list.length; i++) {
      const at = list[i]!;
      if (at < window.startWall || at >= window.endWall) continue;
      count++;
      out.push(offsets[i]! - phase);
    }
    inWindow += count;
    perTargetMax = Math.max(perTargetMax, count);
  }
  return { lateness: out, inWindow, perTargetMax };
}

/** The whole machine's busy CPU in a window, to tell others' load apart. */
class MachineWatcher {
  #busy = 0;
  #at = 0;
  begin(): void {
    this.#busy = machineBusySeconds();
    this.#at = performance.now();
  }
  /** Cores busy on average in the window. */
  end(): number {
    return (machineBusySeconds() - this.#busy) / ((performance.now() - this.#at) / 1000);
  }
}

/** The figures of one exporter at one target count. */
interface RunResult {
  exporter: "ours" | "blackbox";
  targets: number;
  /** Checks (requests at the target server) in the window. */
  checksDone: number;
  checksExpected: number;
  /** Checks that the exporter reported as successful, in the window. */
  checksOk: number;
  /** Reported response time − the target's delay, ms. */
  timingErrorMs: Percentiles;
  /** Request arrival at the target vs the fixed-rate schedule, ms. */
  latenessMs: Percentiles;
  resources: ResourceUse & { died?: boolean };
  /** CPU ms per check (exporter process only). */
  cpuMsPerCheck: number;
  /** The target server's share of a core in the window, and its delay accuracy. */
  targetServerCores: number;
  targetServerOvershootMs: { p50: number; p99: number; max: number };
  /** The benchmark process's own share of a core (scraper / probe driver). */
  driverCores: number;
  /** Cores busy in the window that none of the above used (other work on the machine). */
  otherCores: number;
  /** Exporter-specific extras. */
  extra: Record<string, unknown>;
}

/** What one measured window gives, alike for both exporters. */
interface WindowFigures {
  opts: Options;
  late: { inWindow: number; lateness: number[] };
  /** Reported response time − the target's delay, ms, per check. */
  errors: number[];
  checksOk: number;
  resources: RunResult["resources"];
  serverUse: { cpuCores: number };
  selfUse: { cpuCores: number };
  machineCores: number;
  stats: { overshoot_ms: RunResult["targetServerOvershootMs"] };
  extra: Record<string, unknown>;
}

/** Builds a run's result from its window's figures (one formula for both exporters). */
function windowResult(
  exporter: RunResult["exporter"],
  targets: number,
  w: WindowFigures,
): RunResult {
  return {
    exporter,
    targets,
    checksDone: w.late.inWindow,
    checksExpected: targets * w.opts.durationMs / w.opts.intervalMs,
    checksOk: w.checksOk,
    timingErrorMs: percentiles(w.errors),
    latenessMs: percentiles(w.late.lateness),
    resources: w.resources,
    cpuMsPerCheck: w.resources.cpuSeconds * 1000 / Math.max(1, w.late.inWindow),
    targetServerCores: w.serverUse.cpuCores,
    targetServerOvershootMs: w.stats.overshoot_ms,
    driverCores: w.selfUse.cpuCores,
    otherCores: w.machineCores - w.resources.cpuCores - w.serverUse.cpuCores -
      w.selfUse.cpuCores,
    extra: w.extra,
  };
}

// ---------------------------------------------------------------------------
// Ours

function oursConfig(ts: TargetServer, n: number, opts: Options): string {
  const lines = [
    "defaults:",
    `  interval: ${opts.intervalMs}ms`,
    `  timeout: ${Math.min(5000, opts.intervalMs)}ms`,
    "targets:",
  ];
  for (let i = 0; i < n; i++) lines.push(`  - url: ${ts.url(i)}`);
  return lines.join("\n") + "\n";
}

/**
 * The flags of `deno task start` (deno.json), so that the exporter runs here
 * as users run it, plus any `--v8-flags` given to the benchmark.
 */
function startFlags(extraV8Flags?: string): string[] {
  const task: string = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks.start;
  const words = task.split(/\s+/);
  const flags = words.slice(words.indexOf("run") + 1, words.indexOf("main.ts"));
  if (extraV8Flags) flags.push(`--v8-flags=${extraV8Flags}`);
  return flags;
}

function startOurs(configFile: string, port: number, logFile: string, v8Flags?: string): Child {
  return spawn("uptime-exporter", Deno.execPath(), [
    "run",
    ...startFlags(v8Flags),
    `${ROOT}main.ts`,
    "--config",
    configFile,
    "--listen",
    `127.0.0.1:${port}`,
    "--log-level",
    "warn",
    "--no-watch-config",
  ], { stderrFile: logFile });
}

interface Scrape {
  ms: number;
  bytes: number;
  text: string;
}

async function scrape(url: string, gzip: boolean): Promise<Scrape> {
  const t = performance.now();
  const res = await fetch(url, {
    headers: gzip ? { "accept-encoding": "gzip" } : { "accept-encoding": "identity" },
  });
  const bytes = Number(res.headers.get("content-length") ?? 0);
  // Deno's fetch decompresses transparently; the time includes that, as for a real scraper.
  const text = await res.text();
  return { ms: performance.now() - t, bytes, text };
}

/** Reads the body only up to the first counter family (the gauges), then hangs up. */
async function scrapeHead(url: string): Promise<Scrape> {
  const t = performance.now();
  const res = await fetch(url, { headers: { "accept-encoding": "gzip" } });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  for (let i = 0; i < 1_000_000; i++) {
    const { done, value } = await reader.read();
    if (done) break;
    text += value;
    const stop = text.indexOf("_checks_total{", Math.max(0, text.length - value.length - 64));
    if (stop >= 0) {
      text = text.slice(0, text.lastIndexOf("\n", stop) + 1);
      break;
    }
  }
  await reader.cancel().catch(() => {});
  return { ms: performance.now() - t, bytes: text.length, text };
}

/** Pulls per-target values and the self-metrics we care about from one exposition. */
function parseOurs(text: string, prefix = "sample_external_url") {
  const perTarget = new Map<string, { ms?: number; ts?: number; up?: number }>();
  const self: Record<string, number> = {};
  /** Checks by result, over every target. */
  const results: Record<string, number> = {};
  let up = 0;
  const rMs = `${prefix}_response_ms{url="`;
  const rTs = `${prefix}_last_check_timestamp_seconds{url="`;
  const rUp = `${prefix}_checks_total{url="`;
  const rUpGauge = `${prefix}_up{url="`;
  let i = 0;
  while (i < text.length) {
    let j = text.indexOf("\n", i);
    if (j < 0) j = text.length;
    const c = text.charCodeAt(i);
    if (c === 115 /* s */) {
      if (text.startsWith(rMs, i) || text.startsWith(rTs, i)) {
        const isMs = text.startsWith(rMs, i);
        const start = i + (isMs ? rMs.length : rTs.length);
        const q = text.indexOf('"', start);
        const url = text.slice(start, q);
        const value = Number(text.slice(text.lastIndexOf(" ", j) + 1, j));
        let entry = perTarget.get(url);
        if (!entry) perTarget.set(url, entry = {});
        if (isMs) entry.ms = value;
        else entry.ts = value;
      } else if (text.startsWith(rUpGauge, i)) {
        const start = i + rUpGauge.length;
        const url = text.slice(start, text.indexOf('"', start));
        let entry = perTarget.get(url);
        if (!entry) perTarget.set(url, entry = {});
        entry.up = Number(text.slice(text.lastIndexOf(" ", j) + 1, j));
      } else if (text.startsWith(rUp, i)) {
        const line = text.slice(i, j);
        const value = Number(line.slice(line.lastIndexOf(" ") + 1));
        if (line.includes('result="up"')) up += value;
        const result = /,result="([a-z]+)"/.exec(line)?.[1];
        if (result) results[result] = (results[result] ?? 0) + value;
      }
    } else if (c === 117 /* u */ || c === 112 /* p */) {
      const line = text.slice(i, j);
      const sp = line.lastIndexOf(" ");
      self[line.slice(0, sp)] = Number(line.slice(sp + 1));
    }
    i = j + 1;
  }
  return { perTarget, self, up, results };
}

/**
 * p50/p99 of a Prometheus histogram's increase between two scrapes, as the
 * upper bound of the bucket that holds the quantile (ms).
 */
function histogramQuantiles(
  name: string,
  before: Record<string, number>,
  after: Record<string, number>,
): { n: number; p50: number; p99: number; max: number } | undefined {
  const re = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\}$`);
  const buckets: [number, number][] = [];
  for (const [k, v] of Object.entries(after)) {
    const m = re.exec(k);
    if (m) buckets.push([m[1] === "+Inf" ? Infinity : Number(m[1]) * 1000, v - (before[k] ?? 0)]);
  }
  if (buckets.length === 0) return undefined;
  buckets.sort((a, b) => a[0] - b[0]);
  const n = buckets[buckets.length - 1]![1];
  const at = (q: number) => buckets.find(([, c]) => c >= q * n)?.[0] ?? Infinity;
  let max = 0;
  for (let i = 0; i < buckets.length; i++) {
    if (buckets[i]![1] > (buckets[i - 1]?.[1] ?? 0)) max = buckets[i]![0];
  }
  return { n, p50: at(0.5), p99: at(0.99), max };
}

/**
 * The /metrics test, in two parts, with 10 (--scrapers) kept-alive scrapers
 * asking for gzip:
 * - paced: each scraper scrapes once a second, their phases spread over the
 *   second (10 Prometheus servers at a 1 s scrape interval, 10 scrapes/s);
 * - flood: each scraper scrapes again as soon as it has its answer, which
 *   measures throughput more than latency.
 * CPU per scrape is the exporter's CPU in the flood minus what its checks
 * used at the window's rate (`baseCores`).
 */
async function scrapeTest(port: number, opts: Options, pid: number, baseCores: number) {
  const run = async (paced: boolean, ms: number) => {
    const latencies: number[] = [];
    let bytes = 0;
    const start = performance.now();
    const end = start + ms;
    await Promise.all(
      Array.from({ length: opts.scrapers }, async (_, k) => {
        const client = new RawClient(port);
        try {
          for (let i = 0; i < 100_000 && performance.now() < end; i++) {
            if (paced) {
              const due = start + (k / opts.scrapers + i) * 1000;
              if (due >= end) break;
              await sleep(due - performance.now());
            }
            const s = await client.get("/metrics", true);
            if (s.status !== 200) throw new Error(`/metrics answered ${s.status}`);
            latencies.push(s.ms);
            bytes = s.bytes;
          }
        } finally {
          client.close();
        }
      }),
    );
    return { latencies, bytes };
  };
  const paced = await run(true, Math.max(1000, opts.scrapeTestMs * 2));
  const watcher = new ProcWatcher(pid);
  watcher.begin();
  const flood = await run(false, opts.scrapeTestMs);
  const use = watcher.end();
  const plain = await rawGet(port, "/metrics", false);
  const plainAgain = await rawGet(port, "/metrics", false);
  return {
    scrapers: opts.scrapers,
    pacedScrapes: paced.latencies.length,
    pacedLatencyMs: percentiles(paced.latencies),
    scrapes: flood.latencies.length,
    latencyMs: percentiles(flood.latencies),
    gzipBytes: flood.bytes,
    plainBytes: plain.bytes,
    plainLatencyMs: plain.ms,
    plainAgainLatencyMs: plainAgain.ms,
    exporterCpuMsPerScrape: Math.max(0, use.cpuSeconds - baseCores * opts.scrapeTestMs / 1000) *
      1000 / Math.max(1, flood.latencies.length),
    exporterCores: use.cpuCores,
  };
}

async function runOurs(ts: TargetServer, n: number, opts: Options, tmp: string) {
  const configFile = `${tmp}/ours-${n}.yml`;
  Deno.writeTextFileSync(configFile, oursConfig(ts, n, opts));
  const port = freePort();
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  const startWall = Date.now();
  const t0 = performance.now();
  const child = startOurs(configFile, port, `${tmp}/ours-${n}.log`, opts.v8Flags);
  try {
    const startupMs = await waitForHttp(metricsUrl, t0, 30_000, 2, child);
    const window: Window = {
      startWall: startWall + opts.warmupMs,
      endWall: startWall + opts.warmupMs + opts.durationMs,
    };
    const exporter = new ProcWatcher(child.pid);
    const server = new ProcWatcher(ts.child.pid);
    const self = new ProcWatcher(Deno.pid);
    const machine = new MachineWatcher();
    // `${url} ${last check ts}` -> the check's response ms and up
    const samples = new Map<string, { ms: number; up: boolean }>();
    const scrapeMs: number[] = [];
    let upAtStart = 0, upAtEnd = 0;
    let selfAtEnd: Record<string, number> = {};
    let selfAtStart: Record<string, number> | undefined;
    let resultsAtStart: Record<string, number> = {};
    let began = false;
    for (let k = 0; k < 100_000; k++) {
      const now = Date.now();
      if (!began && now >= window.startWall) {
        began = true;
        exporter.begin();
        server.begin();
        self.begin();
        machine.begin();
      }
      if (now >= window.endWall) break;
      const next = Math.min(
        began ? window.endWall : window.startWall,
        now + opts.scrapeIntervalMs,
      );
      // Full scrapes only at the window's ends: in between, read the gauge
      // families at the head of the body and hang up, so that the benchmark's
      // own parsing (47 MB at 20k targets) does not compete for the CPU.
      const full = began && selfAtStart === undefined;
      const s = full ? await scrape(metricsUrl, true) : await scrapeHead(metricsUrl);
      const parsed = parseOurs(s.text);
      if (began) scrapeMs.push(s.ms);
      if (full) {
        upAtStart = parsed.up; // the exporter's own count, kept in the JSON
        selfAtStart = parsed.self;
        resultsAtStart = parsed.results;
      }
      for (const [url, { ms, ts: at, up }] of parsed.perTarget) {
        if (ms === undefined || at === undefined) continue;
        const atMs = at * 1000;
        if (atMs >= window.startWall && atMs < window.endWall) {
          samples.set(`${url} ${at}`, { ms, up: up === 1 });
        }
      }
      await sleep(next - Date.now());
    }
    // A last scrape right after the window picks up checks that ended in it.
    const last = parseOurs((await scrape(metricsUrl, true)).text);
    upAtEnd = last.up;
    selfAtEnd = last.self;
    // Checks that did not come back up in the window, by result: on healthy
    // targets each one is a false "down" (and its reason says whose fault).
    const failedByResult: Record<string, number> = {};
    for (const [result, count] of Object.entries(last.results)) {
      const delta = count - (resultsAtStart[result] ?? 0);
      if (result !== "up" && delta > 0) failedByResult[result] = delta;
    }
    for (const [url, { ms, ts: at, up }] of last.perTarget) {
      if (ms === undefined || at === undefined) continue;
      const atMs = at * 1000;
      if (atMs >= window.startWall && atMs < window.endWall) {
        samples.set(`${url} ${at}`, { ms, up: up === 1 });
      }
    }
    const resources = exporter.end();
    const serverUse = server.end();
    const selfUse = self.end();
    const machineCores = machine.end();
    const stats = await ts.stats(startWall);
    const late = lateness(stats.arrivals, opts.intervalMs, window, n);
    const errors = [...samples.values()].map((x) => x.ms - opts.delayMs);
    const scrapeTestResult = opts.scrapeTestMs > 0
      ? await scrapeTest(port, opts, child.pid, resources.cpuCores)
      : undefined;
    const result = windowResult("ours", n, {
      opts,
      late,
      errors,
      checksOk: [...samples.values()].filter((x) => x.up).length,
      resources,
      serverUse,
      selfUse,
      machineCores,
      stats,
      extra: {
        startupMs,
        checkStartDelayMs: histogramQuantiles(
          "uptime_exporter_check_start_delay_seconds",
          selfAtStart ?? {},
          selfAtEnd,
        ),
        heapMB: (selfAtEnd["process_heap_bytes"] ?? 0) / 2 ** 20,
        windowScrapeMs: percentiles(scrapeMs),
        scrapeIntervalMs: opts.scrapeIntervalMs,
        samplesSeen: samples.size,
        upCounterIncrease: upAtEnd - upAtStart,
        failedByResult,
        selfMetrics: Object.fromEntries(
          Object.entries(selfAtEnd).filter(([k]) =>
            k.startsWith("uptime_exporter_") && !k.startsWith("uptime_exporter_build")
          ),
        ),
        scrapeTest: scrapeTestResult,
      },
    });
    return result;
  } finally {
    await child.stop();
  }
}

// ---------------------------------------------------------------------------
// blackbox_exporter, driven through /probe like Prometheus would

function blackboxConfig(opts: Options): string {
  return `modules:
  http_bench:
    prober: http
    timeout: ${Math.min(5000, opts.intervalMs)}ms
    http:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      valid_status_codes: [${opts.status}]
`;
}

interface ProbeRecord {
  id: number;
  /** Due time, Unix ms. */
  due: number;
  /** Send lateness of the driver itself, ms. */
  sendLateMs: number;
  durationMs?: number;
  httpPhasesMs?: number;
  success?: boolean;
  failed?: string;
}

async function probeOnce(url: string, rec: ProbeRecord): Promise<void> {
  try {
    const res = await fetch(url, { headers: { "x-prometheus-scrape-timeout-seconds": "5" } });
    const text = await res.text();
    if (!res.ok) {
      rec.failed = `status ${res.status}`;
      return;
    }
    let phases = 0;
    for (const line of text.split("\n")) {
      if (line.startsWith("probe_duration_seconds ")) {
        rec.durationMs = Number(line.slice(23)) * 1000;
      } else if (line.startsWith("probe_success ")) rec.success = line.endsWith(" 1");
      else if (line.startsWith("probe_http_duration_seconds{")) {
        phases += Number(line.slice(line.lastIndexOf(" ") + 1)) * 1000;
      }
    }
    rec.httpPhasesMs = phases;
  } catch (e) {
    rec.failed = (e as Error).message;
  }
}

async function runBlackbox(ts: TargetServer, n: number, opts: Options, tmp: string) {
  const configFile = `${tmp}/blackbox.yml`;
  Deno.writeTextFileSync(configFile, blackboxConfig(opts));
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  const child = spawn("blackbox_exporter", BLACKBOX, [
    `--config.file=${configFile}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--log.level=warn",
  ], { stderrFile: `${tmp}/blackbox-${n}.log` });
  try {
    const startupMs = await waitForHttp(`${base}/-/healthy`, t0, 30_000, 2, child);
    const startWall = Date.now();
    const window: Window = {
      startWall: startWall + opts.warmupMs,
      endWall: startWall + opts.warmupMs + opts.durationMs,
    };
    const exporter = new ProcWatcher(child.pid);
    const server = new ProcWatcher(ts.child.pid);
    const self = new ProcWatcher(Deno.pid);
    const machine = new MachineWatcher();
    const step = opts.intervalMs / n;
    const probeUrls = Array.from(
      { length: n },
      (_, i) => `${base}/probe?module=http_bench&target=${encodeURIComponent(ts.url(i))}`,
    );
    const records: ProbeRecord[] = [];
    const inFlight = new Set<Promise<void>>();
    let began = false;
    let dropped = 0;
    // Probe j goes to target j mod n at startWall + j·step: every target once
    // per interval, all of them spread evenly, like Prometheus spreads scrapes.
    let j = 0;
    const total = Math.ceil((window.endWall - startWall) / step);
    for (let guard = 0; guard < 10_000_000 && j < total; guard++) {
      const now = Date.now();
      if (!began && now >= window.startWall) {
        began = true;
        exporter.begin();
        server.begin();
        self.begin();
        machine.begin();
      }
      for (; j < total && startWall + j * step <= now; j++) {
        const due = startWall + j * step;
        const rec: ProbeRecord = { id: j % n, due, sendLateMs: now - due };
        // Bounded: past this, blackbox_exporter is not keeping up (and the
        // benchmark process would run out of file descriptors).
        if (inFlight.size >= 5_000) {
          dropped++;
          continue;
        }
        records.push(rec);
        const p = probeOnce(probeUrls[j % n]!, rec).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      await sleep(Math.max(1, startWall + j * step - Date.now()));
    }
    await Promise.race([Promise.allSettled([...inFlight]), sleep(6000)]);
    const resources = exporter.end();
    const serverUse = server.end();
    const selfUse = self.end();
    const machineCores = machine.end();
    const stats = await ts.stats(startWall);
    const late = lateness(stats.arrivals, opts.intervalMs, window, n);
    const inWindow = records.filter((r) => r.due >= window.startWall && r.due < window.endWall);
    const errors = inWindow.filter((r) => r.durationMs !== undefined).map((r) =>
      r.durationMs! - opts.delayMs
    );
    const phaseErrors = inWindow.filter((r) => r.httpPhasesMs !== undefined).map((r) =>
      r.httpPhasesMs! - opts.delayMs
    );
    const result = windowResult("blackbox", n, {
      opts,
      late,
      errors,
      checksOk: inWindow.filter((r) => r.success).length,
      resources,
      serverUse,
      selfUse,
      machineCores,
      stats,
      extra: {
        startupMs,
        probesSent: inWindow.length,
        probesFailed: inWindow.filter((r) => r.failed).length,
        probesDropped: dropped,
        firstFailure: inWindow.find((r) => r.failed)?.failed,
        driverSendLatenessMs: percentiles(inWindow.map((r) => r.sendLateMs)),
        httpPhasesTimingErrorMs: percentiles(phaseErrors),
      },
    });
    return result;
  } finally {
    await child.stop();
  }
}

// ---------------------------------------------------------------------------
// Idle: two targets, start-up time and RSS

async function runIdle(ts: TargetServer, opts: Options, tmp: string) {
  const configFile = `${tmp}/ours-idle.yml`;
  Deno.writeTextFileSync(configFile, oursConfig(ts, 2, opts));
  const port = freePort();
  const t0 = performance.now();
  const child = startOurs(configFile, port, `${tmp}/ours-idle.log`, opts.v8Flags);
  try {
    const startupMs = await waitForHttp(`http://127.0.0.1:${port}/metrics`, t0, 30_000, 1, child);
    await sleep(opts.smoke ? 1000 : 5000);
    await scrape(`http://127.0.0.1:${port}/metrics`, true);
    const rss = readProc(child.pid)?.rssBytes ?? 0;
    return { targets: 2, startupMs, rssMB: rss / 2 ** 20 };
  } finally {
    await child.stop();
  }
}

/**
 * A large config: how soon the process answers /healthz (it listens while
 * the check engine loads the config), serves its first /metrics, and its RSS
 * once that is done. Targets every 60 s, so the checks do not dominate.
 */
async function runStartup(ts: TargetServer, n: number, opts: Options, tmp: string) {
  const configFile = `${tmp}/ours-startup.yml`;
  Deno.writeTextFileSync(configFile, oursConfig(ts, n, { ...opts, intervalMs: 60_000 }));
  const port = freePort();
  const t0 = performance.now();
  const child = startOurs(configFile, port, `${tmp}/ours-startup.log`, opts.v8Flags);
  try {
    const base = `http://127.0.0.1:${port}`;
    const healthzMs = await waitForHttp(`${base}/healthz`, t0, 60_000, 5, child);
    const metricsMs = await waitForHttp(`${base}/metrics`, t0, 60_000, 5, child);
    await sleep(opts.smoke ? 500 : 3000);
    const rss = readProc(child.pid)?.rssBytes ?? 0;
    return { targets: n, healthzMs, metricsMs, rssMB: rss / 2 ** 20 };
  } finally {
    await child.stop();
  }
}

// ---------------------------------------------------------------------------
// /probe: ours vs blackbox's, one after the other (bench/probe_endpoint.ts)

async function probeSection(opts: Options, tmp: string) {
  // Targets that answer at once: the window measures the exporters, not the delay.
  const ts = await startTargetServer({ ...opts, delayMs: 0, status: 200, size: 0 });
  try {
    console.log(
      `/probe: ${opts.probeConcurrency} concurrent clients for ${opts.probeDurationMs} ms each ...`,
    );
    const result = await runProbeBench({
      targetUrl: ts.url,
      targets: 100,
      concurrency: opts.probeConcurrency,
      durationMs: opts.probeDurationMs,
      tmp,
      only: opts.only,
      startOurs: (configFile, modulesFile, port, logFile) =>
        spawn("uptime-exporter (probe)", Deno.execPath(), [
          "run",
          ...startFlags(opts.v8Flags),
          `${ROOT}main.ts`,
          "--config",
          configFile,
          "--probe.modules-file",
          modulesFile,
          "--listen",
          `127.0.0.1:${port}`,
          "--log-level",
          "warn",
          "--no-watch-config",
        ], { stderrFile: logFile }),
      startBlackbox: (modulesFile, port, logFile) =>
        spawn("blackbox_exporter (probe)", BLACKBOX, [
          `--config.file=${modulesFile}`,
          `--web.listen-address=127.0.0.1:${port}`,
          "--log.level=warn",
        ], { stderrFile: logFile }),
    });
    for (const e of result.errors) console.log(`  failed: ${e}`);
    return result;
  } finally {
    await ts.child.stop();
  }
}

// ---------------------------------------------------------------------------
// Report

async function machine() {
  const text = (cmd: string, args: string[]) =>
    new TextDecoder().decode(new Deno.Command(cmd, { args, stdout: "piped" }).outputSync().stdout)
      .trim();
  const lscpu = text("lscpu", []);
  const model = /Model name:\s+(.*)/.exec(lscpu)?.[1] ?? "?";
  const mem = /MemTotal:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/meminfo"))?.[1];
  const blackboxVersion = /version (\S+)/.exec(
    new TextDecoder().decode(
      (await new Deno.Command(BLACKBOX, { args: ["--version"], stderr: "null", stdout: "piped" })
        .output()).stdout,
    ),
  )?.[1];
  return {
    nproc: Number(text("nproc", [])),
    cpuModel: model,
    memoryGB: Math.round(Number(mem) / 2 ** 20),
    loadAverage: Deno.loadavg(),
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    blackbox: blackboxVersion,
    go: text("go", ["version"]),
  };
}

function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)).join("  ");
}

/** One target count: both exporters' figures, or why one could not be measured. */
interface Run {
  targets: number;
  ours?: RunResult;
  blackbox?: RunResult;
  oursError?: string;
  blackboxError?: string;
}

function table(runs: Run[], opts: Options) {
  const head = [
    "targets",
    "exporter",
    "checks done",
    "ok",
    "CPU/check ms",
    "CPU cores",
    "err p50",
    "err p99",
    "err max",
    "late p50",
    "late p99",
    "late max",
    "RSS MB",
    "tgt srv cores",
    "other cores",
  ];
  const widths = [9, 9, 14, 7, 12, 9, 8, 8, 8, 8, 8, 8, 7, 13, 11];
  const lines = [row(head, widths)];
  for (const r of runs) {
    const cells = (x: RunResult) => [
      `${x.checksDone}/${x.checksExpected}`,
      String(x.checksOk),
      fmt(x.cpuMsPerCheck, 3),
      fmt(x.resources.cpuCores, 2),
      fmt(x.timingErrorMs.p50, 2),
      fmt(x.timingErrorMs.p99, 2),
      fmt(x.timingErrorMs.max, 1),
      fmt(x.latenessMs.p50, 1),
      fmt(x.latenessMs.p99, 1),
      fmt(x.latenessMs.max, 1),
      fmt(x.resources.rssMaxMB, 1),
      fmt(x.targetServerCores, 2),
      fmt(x.otherCores, 2),
    ];
    const label = `${r.targets}`;
    if (r.oursError) lines.push(`${label.padEnd(9)}  ours       failed: ${r.oursError}`);
    if (r.blackboxError) lines.push(`${label.padEnd(9)}  blackbox   failed: ${r.blackboxError}`);
    if (r.ours) lines.push(row([label, "ours", ...cells(r.ours)], widths));
    const failed = (r.ours?.extra as { failedByResult?: Record<string, number> } | undefined)
      ?.failedByResult;
    if (failed && Object.keys(failed).length > 0) {
      const list = Object.entries(failed).map(([result, n]) => `${result} ${n}`).join(", ");
      lines.push(`${"".padEnd(9)}  ours: checks not up in the window, by result: ${list}`);
    }
    if (r.blackbox) {
      lines.push(row([r.ours ? "" : label, "blackbox", ...cells(r.blackbox)], widths));
    }
    if (r.ours && r.blackbox) {
      const q = (a: number, b: number, d = 2) => b > 0 ? `${fmt(a / b, d)}x` : "-";
      const o = r.ours, b = r.blackbox;
      lines.push(row([
        "",
        "ratio",
        "",
        "",
        q(o.cpuMsPerCheck, b.cpuMsPerCheck),
        q(o.resources.cpuCores, b.resources.cpuCores),
        "",
        q(o.timingErrorMs.p99, b.timingErrorMs.p99),
        "",
        "",
        q(o.latenessMs.p99, b.latenessMs.p99),
        "",
        q(o.resources.rssMaxMB, b.resources.rssMaxMB),
        "",
        "",
      ], widths));
    }
  }
  return [
    `interval ${opts.intervalMs} ms, target delay ${opts.delayMs} ms, window ${opts.durationMs} ms ` +
    `after ${opts.warmupMs} ms warm-up; err = reported response time - delay (ms); ` +
    `late = arrival at the target vs fixed-rate schedule (ms)`,
    ...lines,
  ].join("\n");
}

async function main(): Promise<number> {
  const opts = parseOptions(Deno.args);
  if (!opts) return 0;
  if (opts.only !== "ours" && !opts.scaleOut) {
    try {
      Deno.statSync(BLACKBOX);
    } catch {
      throw new Error(`${BLACKBOX} not found: apt-get install prometheus-blackbox-exporter`);
    }
  }
  const tmp = Deno.makeTempDirSync({ prefix: "uptime-exporter-bench-" });
  const started = performance.now();
  const info = await machine();
  console.log(
    `machine: ${info.nproc} CPUs, ${info.cpuModel}, ${info.memoryGB} GB, load ${
      info.loadAverage.map((l) => l.toFixed(2)).join(" ")
    }; deno ${info.deno}; blackbox ${info.blackbox}`,
  );
  const ts = await startTargetServer(opts);
  const runs: Run[] = [];
  let idle: Awaited<ReturnType<typeof runIdle>> | undefined;
  let startup: Awaited<ReturnType<typeof runStartup>> | undefined;
  let probe: Awaited<ReturnType<typeof probeSection>> | undefined;
  let scaleOut: Awaited<ReturnType<typeof scaleOutSection>> | undefined;
  const date = new Date().toISOString();
  const json = opts.json ??
    (opts.smoke ? "-" : `${ROOT}bench/results/${date.slice(0, 19).replace(/:/g, "")}.json`);
  // Written after every target count, so a run cut short keeps what it measured.
  const writeJson = () => {
    if (json === "-") return;
    const result = {
      date,
      command: `deno task bench ${Deno.args.join(" ")}`.trim(),
      machine: info,
      loadAverageAtEnd: Deno.loadavg(),
      options: opts,
      idle,
      startup,
      runs,
      probe,
      scaleOut,
      elapsedSeconds: (performance.now() - started) / 1000,
    };
    Deno.writeTextFileSync(json, JSON.stringify(result, null, 2) + "\n");
  };
  try {
    if (opts.scaleOut) scaleOut = await scaleOutSection(ts, opts, tmp);
    if (opts.idle && opts.only !== "blackbox" && !opts.probeOnly && !opts.scaleOut) {
      idle = await runIdle(ts, opts, tmp);
      console.log(
        `idle (2 targets): first /metrics ${fmt(idle.startupMs, 0)} ms after spawn, RSS ${
          fmt(idle.rssMB, 1)
        } MB`,
      );
      if (opts.startupTargets > 0) {
        startup = await runStartup(ts, opts.startupTargets, opts, tmp);
        console.log(
          `start-up (${startup.targets} targets): /healthz ${fmt(startup.healthzMs, 0)} ms, ` +
            `first /metrics ${fmt(startup.metricsMs, 0)} ms after spawn, RSS ${
              fmt(startup.rssMB, 1)
            } MB (blackbox_exporter has no target list to load)`,
        );
      }
    }
    for (const n of opts.probeOnly || opts.scaleOut ? [] : opts.targets) {
      const run: (typeof runs)[number] = { targets: n };
      runs.push(run);
      if (opts.only !== "blackbox") {
        console.log(`ours, ${n} targets ...`);
        try {
          run.ours = await runOurs(ts, n, opts, tmp);
        } catch (e) {
          run.oursError = (e as Error).message;
          console.log(`  failed: ${run.oursError}`);
        }
      }
      if (run.ours) {
        const st = run.ours.extra.scrapeTest as Awaited<ReturnType<typeof scrapeTest>> | undefined;
        const sd = run.ours.extra.checkStartDelayMs as ReturnType<typeof histogramQuantiles>;
        console.log(
          `  first /metrics ${fmt(run.ours.extra.startupMs as number, 0)} ms; ` +
            (sd
              ? `check start delay (event loop) p50 <= ${sd.p50} ms, p99 <= ${sd.p99} ms; `
              : "") +
            (st
              ? `/metrics, ${st.scrapers} scrapers at 1/s each: p50 ${
                fmt(st.pacedLatencyMs.p50, 1)
              } p99 ${fmt(st.pacedLatencyMs.p99, 1)} max ${
                fmt(st.pacedLatencyMs.max, 1)
              } ms (${st.pacedScrapes} scrapes); flooding: ${st.scrapes} scrapes, p50 ${
                fmt(st.latencyMs.p50, 1)
              } p99 ${fmt(st.latencyMs.p99, 1)} max ${fmt(st.latencyMs.max, 1)} ms, ${
                fmt(st.gzipBytes / 1e6, 2)
              } MB gzip / ${fmt(st.plainBytes / 1e6, 2)} MB plain, ${
                fmt(st.exporterCpuMsPerScrape, 2)
              } CPU ms/scrape`
              : ""),
        );
      }
      if (opts.only !== "ours") {
        console.log(`blackbox_exporter, ${n} targets ...`);
        try {
          run.blackbox = await runBlackbox(ts, n, opts, tmp);
          const x = run.blackbox.extra;
          console.log(
            `  probes sent ${x.probesSent}, failed ${x.probesFailed}, dropped ${x.probesDropped}` +
              (x.firstFailure ? ` (${x.firstFailure})` : "") +
              (run.blackbox.resources.died ? " (blackbox_exporter died in the window)" : ""),
          );
        } catch (e) {
          run.blackboxError = (e as Error).message;
          console.log(`  failed: ${run.blackboxError}`);
        }
      }
      writeJson();
    }
    if (!opts.scaleOut) probe = await probeSection(opts, tmp);
    writeJson();
    // The smoke run proves the scale-out runs still work too (~15 s).
    if (opts.smoke && opts.only !== "blackbox") {
      scaleOut = await scaleOutSection(ts, opts, tmp);
      writeJson();
    }
  } finally {
    await stopAll();
  }
  const report = opts.probeOnly || opts.scaleOut ? "" : table(runs, opts);
  if (report) console.log(`\n${report}`);
  if (probe) {
    console.log(`\n/probe, ${opts.probeConcurrency} concurrent clients:\n${probeTable(probe)}`);
  }
  if (scaleOut) {
    console.log(`\nscale-out (one config, 1 vs N replicas):\n${scaleOutTable(scaleOut)}`);
  }
  writeJson();
  if (json !== "-") console.log(`wrote ${json}`);
  Deno.removeSync(tmp, { recursive: true });
  return 0;
}

if (import.meta.main) {
  const onSignal = async () => {
    await stopAll();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(`bench failed: ${(e as Error).stack ?? e}`);
    await stopAll();
    Deno.exit(1);
  }
}
