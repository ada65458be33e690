/**
 * The exporter's own metrics (`uptime_exporter_*` and `process_*`), held in a
 * prom-client registry, as the product's design asks. Process metrics come
 * from `Deno.memoryUsage()` and `process.cpuUsage()`, which need no
 * permission: prom-client's default collectors read /proc, which Deno allows
 * only under `--allow-all`, and would silently report 0 otherwise.
 *
 * (Writing these series by hand instead saved too little to leave the registry
 * the design names: docs/performance.md.)
 *
 * @module
 */

import process from "node:process";
import { Counter, Gauge, Histogram, Registry } from "./prom_client.ts";
import { BUILD_INFO } from "../util/version.ts";
import { PROBE_REFUSAL_REASONS } from "../check/probe_refusals.ts";
import type { ShardView } from "../check/engine_protocol.ts";

/** Seconds since the epoch when this process started. */
const START_TIME_SECONDS = Math.round(performance.timeOrigin) / 1000;

const START_DELAY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Options of {@linkcode SelfMetrics}. */
export interface SelfMetricsOptions {
  /** Version for `build_info`. */
  version: string;
  /** Revision for `build_info`. Default: the stamped one (util/version.ts), or `unknown`. */
  revision?: string;
  /** Reads the number of configured targets. */
  targets: () => number;
  /** Reads the number of checks in flight. */
  inFlight: () => number;
  /** Reads the number of checks waiting for a free slot. */
  waiting: () => number;
  /**
   * Reads this replica's share (engine_protocol.ts) and how many targets it
   * checks. Default: unsharded, every one of `targets()`.
   */
  shard?: () => { view?: ShardView; assigned: number };
}

/** The self-metrics registry and the handles the app updates. */
export class SelfMetrics {
  /** The prom-client registry; render with `registry.metrics()`. */
  readonly registry: Registry = new Registry();
  readonly #reloadOk: Gauge;
  readonly #reloadTs: Gauge;
  readonly #reloads: Counter;
  readonly #skipped: Counter;
  readonly #startDelay: Histogram;
  readonly #probeRequests: Counter;
  readonly #probeRefused: Counter;
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
    const registers = [this.registry];
    new Gauge({
      name: "uptime_exporter_build_info",
      help:
        "A metric with a constant '1' value labeled by version, revision (git commit), Deno version, OS and architecture.",
      labelNames: ["version", "revision", "deno", "os", "arch"],
      registers,
    }).set({
      version: options.version,
      revision: options.revision ?? BUILD_INFO.revision,
      deno: BUILD_INFO.deno,
      os: BUILD_INFO.os,
      arch: BUILD_INFO.arch,
    }, 1);
    new Gauge({
      name: "uptime_exporter_targets",
      help: "Number of configured targets.",
      registers,
      collect() {
        this.set(options.targets());
      },
    });
    // Sharding (docs/kubernetes.md, "Sharding"): with R replicas per target,
    // every target is covered when sum(assigned) == R × max(configured).
    const shard = () => {
      const read = options.shard?.();
      const view = read?.view;
      return {
        mode: view?.mode ?? "static",
        index: view?.index ?? 0,
        count: view?.count ?? 1,
        replication: view?.replication ?? 1,
        configured: view?.configured ?? options.targets(),
        assigned: read?.assigned ?? options.targets(),
      };
    };
    new Gauge({
      name: "uptime_exporter_shard_info",
      help:
        "A metric with a constant '1' value labeled by this replica's shard index, the replicas in the fleet (count), the replicas per target (replication) and how the fleet is known (mode: static, dns).",
      labelNames: ["index", "count", "replication", "mode"],
      registers,
      collect() {
        const s = shard();
        this.reset();
        this.set({
          index: String(s.index),
          count: String(s.count),
          replication: String(s.replication),
          mode: s.mode,
        }, 1);
      },
    });
    new Gauge({
      name: "uptime_exporter_shard_members",
      help: "Replicas in the fleet as this one sees it (--shard.count, or those DNS lists).",
      registers,
      collect() {
        this.set(shard().count);
      },
    });
    new Gauge({
      name: "uptime_exporter_targets_configured",
      help: "Targets in the config, whichever replica checks them.",
      registers,
      collect() {
        this.set(shard().configured);
      },
    });
    new Gauge({
      name: "uptime_exporter_targets_assigned",
      help: "Targets this replica checks: its share of the configured ones.",
      registers,
      collect() {
        this.set(shard().assigned);
      },
    });
    new Gauge({
      name: "uptime_exporter_checks_in_flight",
      help: "Checks currently running.",
      registers,
      collect() {
        this.set(options.inFlight());
      },
    });
    new Gauge({
      name: "uptime_exporter_checks_waiting",
      help: "Checks due but waiting for a free slot (max_concurrent_checks).",
      registers,
      collect() {
        this.set(options.waiting());
      },
    });
    this.#skipped = new Counter({
      name: "uptime_exporter_checks_skipped_total",
      help: "Checks skipped because the previous check of the same target was still running.",
      registers,
    });
    this.#startDelay = new Histogram({
      name: "uptime_exporter_check_start_delay_seconds",
      help:
        "How late checks start against their schedule: event-loop delay, plus any wait for a free slot (max_concurrent_checks). Response times are measured on the same event loop.",
      buckets: START_DELAY_BUCKETS,
      registers,
    });
    this.#reloadOk = new Gauge({
      name: "uptime_exporter_config_last_reload_successful",
      help:
        "1 when the last config load or reload succeeded, 0 when it failed (the previous config keeps running).",
      registers,
    });
    this.#reloadTs = new Gauge({
      name: "uptime_exporter_config_last_reload_success_timestamp_seconds",
      help: "When the config was last loaded or reloaded successfully, seconds since the epoch.",
      registers,
    });
    this.#reloads = new Counter({
      name: "uptime_exporter_config_reloads_total",
      help: "Configuration reload attempts by outcome.",
      labelNames: ["outcome"],
      registers,
    });
    this.#reloads.inc({ outcome: "success" }, 0);
    this.#reloads.inc({ outcome: "failure" }, 0);

    this.#probeRequests = new Counter({
      name: "uptime_exporter_probe_requests_total",
      help: "On-demand checks (/probe) by module and result.",
      labelNames: ["module", "result"],
      registers,
    });
    this.#probeRefused = new Counter({
      name: "uptime_exporter_probe_refused_total",
      help: `/probe requests answered without a check, by reason (${
        PROBE_REFUSAL_REASONS.join(", ")
      }).`,
      labelNames: ["reason"],
      registers,
    });
    for (const reason of PROBE_REFUSAL_REASONS) this.#probeRefused.inc({ reason }, 0);

    const cpu = (pick: (u: NodeJS.CpuUsage) => number) =>
      function (this: Counter) {
        this.reset();
        this.inc(pick(process.cpuUsage()) / 1e6);
      };
    new Counter({
      name: "process_cpu_user_seconds_total",
      help: "Total user CPU time spent in seconds.",
      registers,
      collect: cpu((u) => u.user),
    });
    new Counter({
      name: "process_cpu_system_seconds_total",
      help: "Total system CPU time spent in seconds.",
      registers,
      collect: cpu((u) => u.system),
    });
    new Counter({
      name: "process_cpu_seconds_total",
      help: "Total user and system CPU time spent in seconds.",
      registers,
      collect: cpu((u) => u.user + u.system),
    });
    new Gauge({
      name: "process_resident_memory_bytes",
      help: "Resident memory size in bytes.",
      registers,
      collect() {
        this.set(Deno.memoryUsage().rss);
      },
    });
    new Gauge({
      name: "process_heap_bytes",
      help: "Process heap size (V8 heap used) in bytes.",
      registers,
      collect() {
        this.set(Deno.memoryUsage().heapUsed);
      },
    });
    new Gauge({
      name: "process_start_time_seconds",
      help: "Start time of the process since unix epoch in seconds.",
      registers,
    }).set(START_TIME_SECONDS);
  }

  /** Records a reload attempt; `atSeconds` is the epoch time of a success. */
  reloaded(ok: boolean, atSeconds: number): void {
    this.#reloadOk.set(ok ? 1 : 0);
    this.#reloads.inc({ outcome: ok ? "success" : "failure" });
    if (ok) this.#reloadTs.set(atSeconds);
    this.#version++;
    this.#reloadVersion++;
  }

  /** Records how late a check started, ms (sampled live: does not bump `version`). */
  checkStarted(lateMs: number): void {
    this.#startDelay.observe(lateMs > 0 ? lateMs / 1000 : 0);
  }

  /** Counts an on-demand check (/probe) of `module` that ended with `result`. */
  probed(module: string, result: string): void {
    this.#probeRequests.inc({ module, result });
    this.#version++;
  }

  /** Counts a /probe request answered without a check. */
  refused(reason: string): void {
    this.#probeRefused.inc({ reason });
    this.#version++;
  }

  /** Counts `count` (default 1) checks skipped because their previous run had not finished. */
  skipped(count = 1): void {
    this.#skipped.inc(count);
    this.#version++;
  }
}
