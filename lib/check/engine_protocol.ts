/**
 * The messages between the serving side (main thread: HTTP, store,
 * exposition) and the check engine (a Worker: config, scheduler, probe). One
 * place says what crosses the boundary, so both sides agree on it; every
 * message is plain, structured-cloneable data.
 *
 * @module
 */

import type { ConfigOverrides, ShardSettings, TargetConfig } from "../config/schema.ts";
import type { LogLevel } from "../util/log.ts";
import type { ProbeResult } from "./outcome.ts";
import type { CheckResult } from "./classify.ts";
import type { OnDemandAnswer } from "./on_demand.ts";
import type { ProbeRefusalReason } from "./probe_refusals.ts";

/** Where the engine reads the configuration from. */
export interface ConfigSource {
  /** The config file; none: overrides and defaults only. Ignored when `text` is given. */
  file?: string;
  /** YAML text instead of a file (tests, embedding). */
  text?: string;
  /** A blackbox_exporter module file for `/probe` (`--probe.modules-file`). */
  probeModulesFile?: string;
  /** File name used in error messages with `text`. Default: `config`. */
  fileName?: string;
  /** Flags and environment, stronger than the file. */
  overrides?: ConfigOverrides;
  /** Variables for `${VAR}` expansion. */
  env?: Readonly<Record<string, string | undefined>>;
  /** How this replica shares the targets with others (`--shard.*`). Default: it checks them all. */
  shard?: ShardSettings;
}

/**
 * What the serving side knows of a target: enough to label, show and order
 * it, and to read its certificate (`url` carries no credentials).
 */
export type TargetView = Pick<
  TargetConfig,
  "key" | "url" | "displayUrl" | "labels" | "intervalMs" | "timeoutMs"
>;

/**
 * This replica's share of the targets (lib/check/shard.ts). Unsharded, it is
 * a static fleet of one that checks every target.
 */
export interface ShardView {
  /** `static`: `--shard.count`; `dns`: the replicas `--shard.peers-dns` lists. */
  readonly mode: "static" | "dns";
  /** This replica's index: `--shard.index`, or its place among the members found (sorted). */
  readonly index: number;
  /** Replicas in the fleet: `--shard.count`, or the members found (this one included). */
  readonly count: number;
  /** Replicas meant to check each target (fewer while fewer members are found). */
  readonly replication: number;
  /** Targets in the config; this replica checks `ConfigView.targets`, its share of them. */
  readonly configured: number;
}

/** The config in force, as the serving side needs it (no headers, no secrets in targets). */
export interface ConfigView {
  readonly metricPrefix: string;
  readonly histogramBuckets: readonly number[];
  readonly maxConcurrentChecks: number;
  /** The targets this replica checks: all of them unless sharded. */
  readonly targets: readonly TargetView[];
  /** This replica's share; absent from engines that do not shard. */
  readonly shard?: ShardView;
  /** Values never to be shown (passwords, `${VAR}` expansions): the logger masks them. */
  readonly secrets: readonly string[];
  /** The targets are the two demo URLs: nothing configured any (schema.ts DEFAULT_TARGETS). */
  readonly demoTargets: boolean;
}

/** One finished check. */
export interface ResultRecord {
  readonly key: string;
  readonly result: ProbeResult;
  /** When the check finished, epoch ms. */
  readonly finishedAt: number;
  /** When the target's next check is due, epoch ms. */
  readonly nextCheckAt: number;
}

/** The engine's counters, sent with every batch of results. */
export interface EngineStats {
  /** Background checks running now. */
  readonly inFlight: number;
  /** On-demand checks (`/probe`) running now; they share the in-flight limit. */
  readonly onDemand: number;
  /** Checks due but waiting for a free slot. */
  readonly waiting: number;
  /** Checks skipped since the last batch (previous check of the target still running). */
  readonly skipped: number;
  /** How late each check that started since the last batch started, ms. */
  readonly startDelaysMs: readonly number[];
}

/** Serving side → engine. */
export type EngineRequest =
  | { readonly type: "init"; readonly logLevel: LogLevel }
  /** The port of a matcher the serving side started for the engine (transferred). */
  | { readonly type: "matcher-port"; readonly id: number; readonly port: MessagePort }
  /** That matcher died of an uncaught error. */
  | { readonly type: "matcher-error"; readonly id: number; readonly message: string }
  | { readonly type: "load"; readonly id: number; readonly source: ConfigSource }
  /** One `/probe` request: its query string and Prometheus' scrape-timeout header. */
  | {
    readonly type: "probe";
    readonly id: number;
    readonly params: string;
    readonly scrapeTimeout: string | null;
  }
  | { readonly type: "stop"; readonly id: number };

/** Why a load failed: the config's problems (exit 2 at start), or a bug in the engine. */
export type LoadFailure =
  | { readonly kind: "config"; readonly problems: readonly string[] }
  | { readonly kind: "internal"; readonly message: string };

/** Engine → serving side. */
export type EngineEvent =
  | {
    readonly type: "loaded";
    readonly id: number;
    readonly ok: true;
    readonly config: ConfigView;
    /** Targets new in this config, and targets gone from the previous one. */
    readonly added: number;
    readonly removed: number;
  }
  | {
    readonly type: "loaded";
    readonly id: number;
    readonly ok: false;
    readonly failure: LoadFailure;
  }
  /**
   * Sent unprompted when DNS membership changed this replica's share: the
   * same config, other targets; the serving side applies it like a reload
   * (targets that stay keep their state).
   */
  | {
    readonly type: "reassigned";
    readonly config: ConfigView;
    readonly added: number;
    readonly removed: number;
  }
  | {
    readonly type: "results";
    readonly records: readonly ResultRecord[];
    readonly stats: EngineStats;
  }
  | { readonly type: "stopped"; readonly id: number }
  /** The answer to a `/probe` request, and what to count of it (self metrics live on the main thread). */
  | {
    readonly type: "probed";
    readonly id: number;
    readonly answer: OnDemandAnswer;
    readonly probed: readonly (readonly [module: string, result: CheckResult])[];
    readonly refused: readonly ProbeRefusalReason[];
  }
  /**
   * Start (or end) a body matcher Worker for the engine: Workers started
   * from the main thread answer at once, ones started inside a Worker took
   * ~1 s on Deno 2.9.6, and starting one holds the starting thread ~20 ms.
   */
  | { readonly type: "matcher"; readonly action: "spawn" | "terminate"; readonly id: number }
  | {
    readonly type: "log";
    readonly level: LogLevel;
    readonly msg: string;
    readonly fields?: Readonly<Record<string, string | number | boolean | undefined>>;
  };

/** The two ends of the channel: a Worker, `self` inside one, or a MessagePort. */
export interface Port<In, Out> {
  postMessage(message: Out, transfer?: Transferable[]): void;
  addEventListener(type: "message", listener: (event: MessageEvent<In>) => void): void;
  removeEventListener(type: "message", listener: (event: MessageEvent<In>) => void): void;
}
