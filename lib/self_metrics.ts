/**
 * The exporter's own metrics (`uptime_exporter_*` and `process_*`), written
 * by hand. Process metrics come from `Deno.memoryUsage()` and
 * `process.cpuUsage()`, which need no permission (prom-client's default
 * collectors read /proc, which Deno allows only under `--allow-all`).
 *
 * @module
 */

import process from "node:process";

/** Seconds since the epoch when this process started. */
const START_TIME_SECONDS = Math.round(performance.timeOrigin) / 1000;

/** Options of {@linkcode SelfMetrics}. */
export interface SelfMetricsOptions {
  /** Version for `build_info`. */
  version: string;
  /** Reads the number of configured targets. */
  targets: () => number;
  /** Reads the number of checks in flight. */
  inFlight: () => number;
  /** Reads the number of checks waiting for a free slot. */
  waiting: () => number;
}

/** Renders the self metrics as Prometheus text (what prom-client's `Registry` offered). */
export interface SelfRegistry {
  /** The text exposition of every self metric. */
  metrics(): Promise<string>;
}

/** A sample value in the text format. */
function value(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
  return String(v);
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function family(name: string, type: string, help: string, samples: string): string {
  return `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${samples}\n`;
}

const START_DELAY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * The self metrics and the handles the app updates. Written by hand (a dozen
 * series): prom-client cost ~12 MB of RSS and ~30 ms of start-up to load.
 */
export class SelfMetrics {
  /** Renders the self metrics; `registry.metrics()` as with prom-client. */
  readonly registry: SelfRegistry;
  #reloadOk = 0;
  #reloadTs = 0;
  #reloads = { success: 0, failure: 0 };
  #skipped = 0;
  readonly #startDelayCounts = new Array<number>(START_DELAY_BUCKETS.length + 1).fill(0);
  #startDelaySum = 0;
  #version = 0;
  #reloadVersion = 0;

  /** Increases when a reload or skip changed a self metric (the exposition cache watches it). */
  get version(): number {
    return this.#version;
  }

  /** Increases on every reload attempt only (the exposition never serves a stale body past one). */
  get reloadVersion(): number {
    return this.#reloadVersion;
  }

  constructor(options: SelfMetricsOptions) {
    const buildInfo = `uptime_exporter_build_info{version="${escapeLabel(options.version)}",deno="${
      escapeLabel(Deno.version.deno)
    }"} 1`;
    this.registry = {
      metrics: () => Promise.resolve(this.#render(options, buildInfo)),
    };
  }

  #render(options: SelfMetricsOptions, buildInfo: string): string {
    const gauge = (name: string, help: string, v: number) =>
      family(name, "gauge", help, `${name} ${value(v)}`);
    const counter = (name: string, help: string, v: number) =>
      family(name, "counter", help, `${name} ${value(v)}`);
    const h = "uptime_exporter_check_start_delay_seconds";
    let buckets = "";
    let cumulative = 0;
    for (let i = 0; i <= START_DELAY_BUCKETS.length; i++) {
      cumulative += this.#startDelayCounts[i]!;
      const le = i < START_DELAY_BUCKETS.length ? String(START_DELAY_BUCKETS[i]) : "+Inf";
      buckets += `${h}_bucket{le="${le}"} ${cumulative}\n`;
    }
    buckets += `${h}_sum ${value(this.#startDelaySum)}\n${h}_count ${cumulative}`;
    const cpu = process.cpuUsage();
    const memory = Deno.memoryUsage();
    return [
      family(
        "uptime_exporter_build_info",
        "gauge",
        "A metric with a constant '1' value labeled by version and Deno version.",
        buildInfo,
      ),
      gauge("uptime_exporter_targets", "Number of configured targets.", options.targets()),
      gauge("uptime_exporter_checks_in_flight", "Checks currently running.", options.inFlight()),
      gauge(
        "uptime_exporter_checks_waiting",
        "Checks due but waiting for a free slot (max_concurrent_checks).",
        options.waiting(),
      ),
      counter(
        "uptime_exporter_checks_skipped_total",
        "Checks skipped because the previous check of the same target was still running.",
        this.#skipped,
      ),
      family(
        h,
        "histogram",
        "How late checks start against their schedule: event-loop delay, plus any wait for a free slot (max_concurrent_checks). Response times are measured on the same event loop.",
        buckets,
      ),
      gauge(
        "uptime_exporter_config_last_reload_successful",
        "Whether the last configuration reload attempt was successful.",
        this.#reloadOk,
      ),
      gauge(
        "uptime_exporter_config_last_reload_success_timestamp_seconds",
        "Timestamp of the last successful configuration reload.",
        this.#reloadTs,
      ),
      family(
        "uptime_exporter_config_reloads_total",
        "counter",
        "Configuration reload attempts by outcome.",
        `uptime_exporter_config_reloads_total{outcome="success"} ${this.#reloads.success}\n` +
          `uptime_exporter_config_reloads_total{outcome="failure"} ${this.#reloads.failure}`,
      ),
      counter(
        "process_cpu_user_seconds_total",
        "Total user CPU time spent in seconds.",
        cpu.user / 1e6,
      ),
      counter(
        "process_cpu_system_seconds_total",
        "Total system CPU time spent in seconds.",
        cpu.system / 1e6,
      ),
      counter(
        "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds.",
        (cpu.user + cpu.system) / 1e6,
      ),
      gauge("process_resident_memory_bytes", "Resident memory size in bytes.", memory.rss),
      gauge("process_heap_bytes", "Process heap size (V8 heap used) in bytes.", memory.heapUsed),
      gauge(
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        START_TIME_SECONDS,
      ),
    ].join("\n");
  }

  /** Records a reload attempt; `atSeconds` is the epoch time of a success. */
  reloaded(ok: boolean, atSeconds: number): void {
    this.#reloadOk = ok ? 1 : 0;
    this.#reloads[ok ? "success" : "failure"]++;
    if (ok) this.#reloadTs = atSeconds;
    this.#version++;
    this.#reloadVersion++;
  }

  /** Records how late a check started, ms (sampled live: does not bump `version`). */
  checkStarted(lateMs: number): void {
    const seconds = lateMs > 0 ? lateMs / 1000 : 0;
    let i = 0;
    while (i < START_DELAY_BUCKETS.length && seconds > START_DELAY_BUCKETS[i]!) i++;
    this.#startDelayCounts[i]!++;
    this.#startDelaySum += seconds;
  }

  /** Counts a check skipped because its previous run had not finished. */
  skipped(): void {
    this.#skipped++;
    this.#version++;
  }
}
