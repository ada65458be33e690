/**
 * The `/probe` part of `deno task bench` (`--probe` runs it alone; the full
 * and `--smoke` runs include it): the same loopback targets probed through
 * our `/probe` and blackbox_exporter's, one exporter after the other, by a
 * fixed number of concurrent clients for a fixed time. Reports probes per
 * second, the exporter's CPU per probe and the request latency; asserts
 * nothing.
 *
 * @module
 */

import { type Child, fmt, freePort, percentiles, readProc, sleep, waitForHttp } from "./util.ts";

/** What one exporter did in the window. */
export interface ProbeRunResult {
  exporter: "ours" | "blackbox";
  concurrency: number;
  durationMs: number;
  probes: number;
  succeeded: number;
  failed: number;
  probesPerSecond: number;
  /** The exporter's CPU (user + system) per probe, ms. */
  cpuMsPerProbe: number;
  /** The exporter's share of a core in the window. */
  cpuCores: number;
  latencyMs: ReturnType<typeof percentiles>;
  rssMaxMB: number;
  firstFailure?: string;
}

/** Options of {@linkcode runProbeBench}. */
export interface ProbeBenchOptions {
  /** The URL of target `i` (a loopback server answering 200). */
  targetUrl: (i: number) => string;
  /** Distinct targets the clients cycle through. */
  targets: number;
  concurrency: number;
  durationMs: number;
  tmp: string;
  /** Starts our exporter with `configFile` and `modulesFile` on `port`. */
  startOurs: (configFile: string, modulesFile: string, port: number, logFile: string) => Child;
  /** Starts blackbox_exporter with `modulesFile` on `port`. */
  startBlackbox: (modulesFile: string, port: number, logFile: string) => Child;
  only?: "ours" | "blackbox";
}

const MODULES = `modules:
  http_bench:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
`;

/** Drives `/probe` of the exporter at `base` with `concurrency` clients for `durationMs`. */
async function drive(
  exporter: ProbeRunResult["exporter"],
  base: string,
  pid: number,
  options: ProbeBenchOptions,
): Promise<ProbeRunResult> {
  const urls = Array.from(
    { length: options.targets },
    (_, i) => `${base}/probe?module=http_bench&target=${encodeURIComponent(options.targetUrl(i))}`,
  );
  // Warm up: every target once, so start-up costs stay out of the window.
  for (const url of urls.slice(0, Math.min(urls.length, 20))) {
    const res = await fetch(url, { headers: { "x-prometheus-scrape-timeout-seconds": "5" } });
    await res.text();
  }
  const latencies: number[] = [];
  let succeeded = 0;
  let failed = 0;
  let firstFailure: string | undefined;
  let rssMax = 0;
  const before = readProc(pid);
  const start = performance.now();
  const end = start + options.durationMs;
  const sampler = setInterval(() => {
    rssMax = Math.max(rssMax, readProc(pid)?.rssBytes ?? 0);
  }, 250);
  let next = 0;
  try {
    await Promise.all(Array.from({ length: options.concurrency }, async () => {
      for (let i = 0; i < 1_000_000 && performance.now() < end; i++) {
        const url = urls[next++ % urls.length]!;
        const t = performance.now();
        try {
          const res = await fetch(url, {
            headers: { "x-prometheus-scrape-timeout-seconds": "5" },
          });
          const text = await res.text();
          latencies.push(performance.now() - t);
          if (res.ok && /^probe_success 1$/m.test(text)) succeeded++;
          else {
            failed++;
            firstFailure ??= `${res.status} ${text.slice(0, 200)}`;
          }
        } catch (e) {
          failed++;
          firstFailure ??= (e as Error).message;
        }
      }
    }));
  } finally {
    clearInterval(sampler);
  }
  const elapsed = performance.now() - start;
  const after = readProc(pid);
  const cpu = before && after ? after.cpuSeconds - before.cpuSeconds : NaN;
  const probes = succeeded + failed;
  return {
    exporter,
    concurrency: options.concurrency,
    durationMs: elapsed,
    probes,
    succeeded,
    failed,
    probesPerSecond: probes / (elapsed / 1000),
    cpuMsPerProbe: cpu * 1000 / Math.max(1, probes),
    cpuCores: cpu / (elapsed / 1000),
    latencyMs: percentiles(latencies),
    rssMaxMB: rssMax / 2 ** 20,
    firstFailure,
  };
}

/**
 * Runs the `/probe` benchmark against ours, then blackbox_exporter, and
 * returns both results (an exporter that failed to run is an error entry).
 */
export async function runProbeBench(
  options: ProbeBenchOptions,
): Promise<{ ours?: ProbeRunResult; blackbox?: ProbeRunResult; errors: string[] }> {
  const modulesFile = `${options.tmp}/probe-bench-blackbox.yml`;
  Deno.writeTextFileSync(modulesFile, MODULES);
  const configFile = `${options.tmp}/probe-bench-ours.yml`;
  Deno.writeTextFileSync(
    configFile,
    // One background target only: the window measures /probe.
    `targets: ["${options.targetUrl(0)}"]\ndefaults: {interval: 1h}\n` +
      `probe:\n  enabled: true\n  allowed_targets: [127.0.0.0/8]\n`,
  );
  const out: { ours?: ProbeRunResult; blackbox?: ProbeRunResult; errors: string[] } = {
    errors: [],
  };
  const runs: ["ours" | "blackbox", (port: number) => Child][] = [
    [
      "ours",
      (port) => options.startOurs(configFile, modulesFile, port, `${options.tmp}/probe-ours.log`),
    ],
    [
      "blackbox",
      (port) => options.startBlackbox(modulesFile, port, `${options.tmp}/probe-blackbox.log`),
    ],
  ];
  for (const [name, start] of runs) {
    if (options.only && options.only !== name) continue;
    const port = freePort();
    const child = start(port);
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitForHttp(
        `${base}/${name === "ours" ? "healthz" : "-/healthy"}`,
        performance.now(),
        30_000,
        20,
        child,
      );
      await sleep(200);
      out[name] = await drive(name, base, child.pid, options);
    } catch (e) {
      out.errors.push(`${name}: ${(e as Error).message}`);
    } finally {
      await child.stop();
    }
  }
  return out;
}

/** The result as table lines. */
export function probeTable(result: { ours?: ProbeRunResult; blackbox?: ProbeRunResult }): string {
  const head =
    "exporter   probes    ok      probes/s  CPU/probe ms  CPU cores  p50 ms  p99 ms  RSS MB";
  const line = (r: ProbeRunResult) =>
    [
      r.exporter.padEnd(9),
      String(r.probes).padStart(7),
      String(r.succeeded).padStart(7),
      fmt(r.probesPerSecond, 0).padStart(9),
      fmt(r.cpuMsPerProbe, 3).padStart(12),
      fmt(r.cpuCores, 2).padStart(9),
      fmt(r.latencyMs.p50, 2).padStart(7),
      fmt(r.latencyMs.p99, 2).padStart(7),
      fmt(r.rssMaxMB, 1).padStart(7),
    ].join("  ");
  const lines = [head];
  if (result.ours) lines.push(line(result.ours));
  if (result.blackbox) lines.push(line(result.blackbox));
  if (result.ours && result.blackbox && result.blackbox.cpuMsPerProbe > 0) {
    lines.push(
      `ours / blackbox: CPU per probe ${
        fmt(result.ours.cpuMsPerProbe / result.blackbox.cpuMsPerProbe, 2)
      }x, ` +
        `probes/s ${fmt(result.ours.probesPerSecond / result.blackbox.probesPerSecond, 2)}x`,
    );
  }
  return lines.join("\n");
}
