/**
 * Wires the pipeline: the check engine (config → scheduler → probe, in a
 * Worker of its own) feeds the results store, which the exposition and the
 * HTTP handler read on this thread. A reload asks the engine for a new config
 * and, once it was validated and swapped in whole, applies it here. Sharded,
 * the engine sends only this replica's share, and sends a new share by itself
 * when DNS membership changes it; that is applied the same way.
 *
 * @module
 */

import type {
  ConfigSource,
  ConfigView,
  EngineStats,
  ResultRecord,
  TargetView,
} from "./check/engine_protocol.ts";
import type { ShardSummary } from "./server/status_page.ts";
import { TlsInfo } from "./check/tls_info.ts";
import type { OnDemandAnswer, OnDemandQuery } from "./check/on_demand.ts";
import { EngineClient } from "./check/engine_client.ts";
import { ConfigError } from "./config/problems.ts";
import { Exposition } from "./metrics/exposition_cache.ts";
import { ResultsStore } from "./metrics/results.ts";
import { SelfMetrics } from "./metrics/self_metrics.ts";
import { createHandler } from "./server/routes.ts";
import type { ExporterStatus } from "./server/api.ts";
import type { Logger } from "./util/log.ts";
import { err, ok, type Result } from "./util/result.ts";

/** Options of {@linkcode App}. */
export interface AppOptions {
  /** Where the config comes from; a reload reads it again. */
  source: ConfigSource;
  logger: Logger;
  version: string;
  /**
   * `worker` (the default): checks run in a Worker, isolated from serving;
   * `inline`: on this thread (tests that need one thread).
   */
  isolation?: "worker" | "inline";
  /** Least time between two certificate lookups of one host:port. Default: 60 s. */
  tlsInfoRefreshMs?: number;
  /**
   * An engine already started (main.ts starts it before loading the serving
   * side), and the first load it was asked for. Default: one started here.
   */
  engine?: { client: EngineClient; firstLoad?: ReturnType<EngineClient["load"]> };
  /** Called when the check engine dies; the default logs it and exits 1. */
  onEngineCrash?: (error: unknown) => void;
  /** Path every endpoint lives under (`--web.route-prefix`). Default `/`. */
  routePrefix?: string;
}

const NO_STATS: EngineStats = {
  inFlight: 0,
  onDemand: 0,
  waiting: 0,
  skipped: 0,
  startDelaysMs: [],
};

/** The running exporter, without the HTTP server and signals (main.ts owns those). */
export class App {
  readonly store: ResultsStore = new ResultsStore();
  readonly selfMetrics: SelfMetrics;
  readonly exposition: Exposition;
  /** The request handler for `Deno.serve`. */
  readonly handler: (req: Request) => Promise<Response>;
  readonly #options: AppOptions;
  readonly #engine: EngineClient;
  #firstLoad?: ReturnType<EngineClient["load"]>;
  #source: ConfigSource;
  #config?: ConfigView;
  #stats: EngineStats = NO_STATS;
  #reloading?: Promise<Result<ConfigView, string>>;
  /** Ready once (DNS membership keeps a replica ready through re-assignments; see #ready). */
  #wasReady = false;
  /** Certificate expiry of https targets (one extra handshake per host:port per minute at most). */
  readonly tlsInfo: TlsInfo;
  readonly #certificates = new Set<Promise<void>>();
  readonly #stopping = new AbortController();
  readonly #loaded: Promise<void>;
  #resolveLoaded!: () => void;
  /** The last reload's failure, while no reload succeeded after it. */
  #reloadFailure?: { at: number; message: string };
  /** Whether the first round of checks was summed up in the log. */
  #firstRoundLogged = false;

  constructor(options: AppOptions) {
    this.#options = options;
    this.#source = options.source;
    this.tlsInfo = new TlsInfo({ minRefreshMs: options.tlsInfoRefreshMs });
    this.#loaded = new Promise((resolve) => (this.#resolveLoaded = resolve));
    this.selfMetrics = new SelfMetrics({
      version: options.version,
      // Configured targets, as before sharding; this replica's share is targets_assigned.
      targets: () => this.#config?.shard?.configured ?? this.#config?.targets.length ?? 0,
      inFlight: () => this.#stats.inFlight + this.#stats.onDemand,
      waiting: () => this.#stats.waiting,
      shard: () => ({ view: this.#config?.shard, assigned: this.#config?.targets.length ?? 0 }),
    });
    this.exposition = new Exposition(this.store, this.selfMetrics, {
      prefix: () => this.#config?.metricPrefix ?? "",
      // Bounds render cost under frequent scrapes; staleness scales with render
      // time, at most 1 s. See ExpositionOptions.maxStaleMs.
      maxStaleMs: 1000,
    });
    this.handler = createHandler({
      exposition: this.exposition,
      store: this.store,
      reload: () => this.reload(),
      version: options.version,
      loaded: this.#loaded,
      ready: () => this.#ready(),
      probe: (query) => this.probe(query),
      routePrefix: options.routePrefix,
      status: () => this.status,
      shard: () => this.#shardSummary(),
    });
    this.#engine = options.engine?.client ?? EngineClient.start({
      isolation: options.isolation,
      logLevel: options.logger.enabled("debug") ? "debug" : "info",
    });
    this.#firstLoad = options.engine?.firstLoad;
    this.#engine.handle({
      onResults: (records, stats) => this.#record(records, stats),
      onReassigned: ({ config, added, removed }) => {
        this.#apply(config, { reload: false });
        options.logger.info("shard re-assigned", {
          targets: config.targets.length,
          configured: config.shard?.configured,
          members: config.shard?.count,
          added,
          removed,
        });
      },
      onLog: (level, msg, fields) => options.logger.log(level, msg, fields),
      onCrash: options.onEngineCrash ?? ((error) => {
        options.logger.error("the check engine failed; exiting", { err: String(error) });
        Deno.exit(1);
      }),
    });
  }

  /** The config in force (undefined before {@linkcode App.start} resolved). */
  get config(): ConfigView | undefined {
    return this.#config;
  }

  /** Demo targets and the last reload's failure, for the status page and the API. */
  get status(): ExporterStatus {
    return { demoTargets: this.#config?.demoTargets ?? false, reloadFailure: this.#reloadFailure };
  }

  /** The check engine's latest counters. */
  get stats(): EngineStats {
    return this.#stats;
  }

  /**
   * Loads the config and starts checking.
   *
   * @throws {ConfigError} when the config is bad (main.ts exits 2).
   */
  async start(): Promise<ConfigView> {
    const loaded = await (this.#firstLoad ?? this.#engine.load(this.#source));
    this.#firstLoad = undefined;
    if (!loaded.ok) {
      throw loaded.error.kind === "config"
        ? new ConfigError(loaded.error.problems)
        : new Error(loaded.error.message);
    }
    this.#apply(loaded.value.config);
    this.#resolveLoaded();
    return loaded.value.config;
  }

  /**
   * Loads the config again (from `source` when given, which then replaces
   * the old one) and swaps it in whole. A bad config is rejected and the
   * running one stays. Concurrent calls share one reload.
   *
   * @returns the config now in force, or why the new one was refused.
   */
  reload(source?: ConfigSource): Promise<Result<ConfigView, string>> {
    if (source) this.#source = source;
    this.#reloading ??= this.#reload().finally(() => {
      this.#reloading = undefined;
    });
    return this.#reloading;
  }

  async #reload(): Promise<Result<ConfigView, string>> {
    const log = this.#options.logger;
    const loaded = await this.#engine.load(this.#source);
    if (!loaded.ok) {
      const message = loaded.error.kind === "config"
        ? new ConfigError(loaded.error.problems).message
        : loaded.error.message;
      this.selfMetrics.reloaded(false, 0);
      this.#reloadFailure = { at: Date.now(), message };
      log.error("config reload failed; keeping the running config", { err: message });
      return err(message);
    }
    const { config, added, removed } = loaded.value;
    this.#reloadFailure = undefined;
    this.#apply(config);
    log.info("config reloaded", {
      targets: config.targets.length,
      configured: config.shard && config.shard.count > 1 ? config.shard.configured : undefined,
      added,
      removed,
    });
    return ok(config);
  }

  /** Applies a config (or, with `reload: false`, a new share of the same one). */
  #apply(config: ConfigView, { reload = true } = {}): void {
    const old = this.#config;
    this.#config = config;
    this.#options.logger.setSecrets([...new Set([...(old?.secrets ?? []), ...config.secrets])]);
    this.store.applyConfig(config);
    if (reload) this.selfMetrics.reloaded(true, Date.now() / 1000);
  }

  /** This replica's share for the status page, when it is one of several (or of a DNS fleet). */
  #shardSummary(): ShardSummary | undefined {
    const shard = this.#config?.shard;
    if (!shard || (shard.mode === "static" && shard.count === 1)) return undefined;
    return { ...shard, checked: this.#config!.targets.length };
  }

  /** Answers one `/probe` request (the check runs in the engine); counts it here. */
  async probe(query: OnDemandQuery): Promise<OnDemandAnswer> {
    const reply = await this.#engine.probe(query.params, query.scrapeTimeout ?? null);
    if (!reply) {
      return { status: 503, contentType: "text/plain; charset=utf-8", body: "shutting down\n" };
    }
    for (const [module, result] of reply.probed) this.selfMetrics.probed(module, result);
    for (const reason of reply.refused) this.selfMetrics.refused(reason);
    return reply.answer;
  }

  /**
   * Ready once the config is loaded and every target this replica checks was
   * checked once. With DNS membership, once ready it stays ready: a replica
   * that went unready while checking targets a re-assignment gave it would
   * drop out of DNS and push them on to the others, and so on.
   */
  #ready(): Result<void, string> {
    if (!this.#config) return err("loading the config");
    if (this.#wasReady && this.#config.shard?.mode === "dns") return ok(undefined);
    if (!this.store.allChecked()) {
      return err(
        this.#shardSummary()
          ? "waiting for the first check of every target of this replica's share"
          : "waiting for the first check of every target",
      );
    }
    this.#wasReady = true;
    return ok(undefined);
  }

  /** Stops checking: checks in flight are aborted, the engine ends. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await Promise.allSettled([this.#engine.stop(), ...this.#certificates]);
  }

  /**
   * Records the expiry of the certificate an https target presents, read on
   * a connection of its own after a check (cached: one handshake per
   * host:port per minute at most). On this thread rather than the engine's:
   * it is not timed, and node:tls would cost the engine's isolate memory.
   */
  #readCertificate(target: TargetView): void {
    if (!target.url.startsWith("https:")) {
      this.store.recordCertExpiry(target.key, undefined);
      return;
    }
    const reading: Promise<void> = this.tlsInfo.expiry(target, this.#stopping.signal).then(
      (notAfter) => {
        if (!this.#stopping.signal.aborted) this.store.recordCertExpiry(target.key, notAfter);
      },
    ).finally(() => this.#certificates.delete(reading));
    this.#certificates.add(reading);
  }

  #record(records: readonly ResultRecord[], stats: EngineStats): void {
    this.#stats = stats;
    if (stats.skipped > 0) this.selfMetrics.skipped(stats.skipped);
    for (const late of stats.startDelaysMs) this.selfMetrics.checkStarted(late);
    const log = this.#options.logger;
    const debug = log.enabled("debug");
    let firstChecks = false;
    for (const { key, result, finishedAt, nextCheckAt } of records) {
      const state = this.store.get(key);
      if (!state) continue; // removed by a reload meanwhile
      const url = state.target.displayUrl;
      if (debug) {
        log.debug("check", {
          url,
          result: result.result,
          status: result.statusCode,
          ms: Math.round(result.durationMs * 1000) / 1000,
          reason: result.reason || undefined,
        });
      }
      this.#readCertificate(state.target);
      const change = this.store.record(key, result, finishedAt, { nextCheckAt });
      if (!change) continue;
      if (change.wasUp === undefined) firstChecks = true;
      if (!result.up) {
        log.info(change.wasUp === undefined ? "target is down" : "target went down", {
          url,
          result: result.result,
          status: result.statusCode || undefined,
          reason: result.reason,
        });
      } else if (change.wasUp === false) {
        log.info("target came back up", { url, ms: Math.round(result.durationMs) });
      } else {
        log.debug("target is up", { url });
      }
    }
    // Only a target's first check can complete the first round (allChecked walks every target).
    if (firstChecks) this.#logFirstRound();
  }

  /**
   * Once every target has had its first check, says so at `info` with the
   * counts (`first checks done: 12 up, 2 down`), so that a healthy start is
   * visible in the log and not only its failures.
   */
  #logFirstRound(): void {
    if (this.#firstRoundLogged || !this.store.allChecked()) return;
    const states = this.store.states;
    if (states.length === 0) return;
    this.#firstRoundLogged = true;
    const up = states.filter((s) => s.last?.up).length;
    this.#options.logger.info(`first checks done: ${up} up, ${states.length - up} down`);
  }
}
