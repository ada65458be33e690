/**
 * Wires config → scheduler → probe → results store → exposition → HTTP
 * handler, and swaps the whole config at once on reload.
 *
 * @module
 */

import type { Config, TargetConfig } from "./config/schema.ts";
import { Exposition } from "./metrics/exposition_cache.ts";
import { createHandler } from "./server/routes.ts";
import { HttpClients } from "./check/http_clients.ts";
import type { Logger } from "./util/log.ts";
import { probe } from "./check/probe.ts";
import { failure, type ProbeResult } from "./check/outcome.ts";
import { ResultsStore } from "./metrics/results.ts";
import { Scheduler } from "./check/scheduler.ts";
import { SelfMetrics } from "./metrics/self_metrics.ts";
import { TlsInfo } from "./check/tls_info.ts";
import { err, ok, type Result } from "./util/result.ts";
import { checkOnDemand } from "./check/on_demand.ts";
import { PROBE_DISABLED } from "./config/probe_modules.ts";

/** Options of {@linkcode App}. */
export interface AppOptions {
  logger: Logger;
  version: string;
  /** Loads a fresh config for a reload; throws (e.g. ConfigError) when it is bad. */
  loadConfig: () => Promise<Config>;
  /** Least time between two certificate lookups of one host:port. Default: 60 s. */
  tlsInfoRefreshMs?: number;
}

/** The running exporter, without the HTTP server and signals (main.ts owns those). */
export class App {
  readonly store: ResultsStore = new ResultsStore();
  readonly selfMetrics: SelfMetrics;
  readonly exposition: Exposition;
  readonly scheduler: Scheduler;
  /** The request handler for `Deno.serve`. */
  readonly handler: (req: Request) => Promise<Response>;
  readonly #clients = new HttpClients();
  /** Certificate expiry of https targets (one extra handshake per host:port per minute at most). */
  readonly tlsInfo: TlsInfo;
  readonly #options: AppOptions;
  #config: Config;
  #reloading?: Promise<Result<Config, string>>;
  /** On-demand checks (/probe) holding a slot of max_concurrent_checks, and those waiting. */
  #probeSlots = 0;
  readonly #probeWaiters: (() => void)[] = [];

  constructor(config: Config, options: AppOptions) {
    this.#config = config;
    this.#options = options;
    this.tlsInfo = new TlsInfo({ minRefreshMs: options.tlsInfoRefreshMs });
    this.scheduler = new Scheduler((target, signal) =>
      this.#check(target, signal).finally(() => {
        // The scheduler frees the slot once this settles: waiting on-demand checks go next.
        if (this.#probeWaiters.length > 0) setTimeout(() => this.#wakeProbeWaiters(), 0);
      }), {
      maxConcurrent: config.maxConcurrentChecks,
      onSkip: (target) => {
        this.selfMetrics.skipped();
        options.logger.debug("check skipped: previous check still running", {
          url: target.displayUrl,
        });
      },
      onStart: (_target, lateMs) => this.selfMetrics.checkStarted(lateMs),
    });
    this.selfMetrics = new SelfMetrics({
      version: options.version,
      targets: () => this.#config.targets.length,
      inFlight: () => this.scheduler.inFlight + this.#probeSlots,
      waiting: () => this.scheduler.waiting,
    });
    this.exposition = new Exposition(this.store, this.selfMetrics, {
      prefix: () => this.#config.metricPrefix,
      // Bounds render cost under frequent scrapes; staleness scales with render time
      // (~µs for a few targets, ≤1 s at 10,000+). See ExpositionOptions.maxStaleMs.
      maxStaleMs: 1000,
    });
    this.handler = createHandler({
      exposition: this.exposition,
      store: this.store,
      reload: () => this.reload(),
      version: options.version,
      probe: (query) =>
        checkOnDemand(query, {
          settings: () => this.#config.probe ?? PROBE_DISABLED,
          acquireSlot: (signal) => this.#acquireSlot(signal),
          client: (caFile) => this.#clients.get(caFile),
          metrics: this.selfMetrics,
          log: (msg, fields) => options.logger.info(msg, fields),
          secrets: () => this.#config.secrets,
        }),
    });
    options.logger.setSecrets(config.secrets);
    this.store.applyConfig(config);
    this.scheduler.setTargets(config.targets);
    this.selfMetrics.reloaded(true, Date.now() / 1000);
  }

  /** The config in force. */
  get config(): Config {
    return this.#config;
  }

  /** Starts checking. */
  start(): void {
    this.scheduler.start();
  }

  /**
   * Loads the config again and swaps it in whole. A bad config is rejected and
   * the running one stays. Concurrent calls share one reload.
   *
   * @returns the config now in force, or why the new one was refused.
   */
  reload(): Promise<Result<Config, string>> {
    this.#reloading ??= this.#reload().finally(() => {
      this.#reloading = undefined;
    });
    return this.#reloading;
  }

  async #reload(): Promise<Result<Config, string>> {
    const log = this.#options.logger;
    let config: Config;
    try {
      config = await this.#options.loadConfig();
    } catch (e) {
      const message = (e as Error).message;
      this.selfMetrics.reloaded(false, 0);
      log.error("config reload failed; keeping the running config", { err: message });
      return err(message);
    }
    this.apply(config);
    log.info("config reloaded", { targets: config.targets.length });
    return ok(config);
  }

  /** Swaps in a validated config. */
  apply(config: Config): void {
    const old = this.#config;
    this.#config = config;
    this.#options.logger.setSecrets([...new Set([...old.secrets, ...config.secrets])]);
    this.scheduler.setMaxConcurrent(config.maxConcurrentChecks - this.#probeSlots);
    this.#wakeProbeWaiters();
    // Clients cache CA files by path: drop them so edited CA files are read again.
    this.#clients.close();
    this.store.applyConfig(config);
    this.scheduler.setTargets(config.targets);
    this.selfMetrics.reloaded(true, Date.now() / 1000);
  }

  /** Stops checking, aborts checks in flight and closes HTTP clients. */
  async stop(): Promise<void> {
    await this.scheduler.stop();
    this.#clients.close();
  }

  /**
   * A slot of the global in-flight limit for an on-demand check. Background
   * checks and on-demand ones share `max_concurrent_checks`: the scheduler's
   * own limit shrinks by the slots on-demand checks hold.
   */
  #acquireSlot(signal: AbortSignal): Promise<() => void> {
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal.removeEventListener("abort", onAbort);
        this.#probeSlots++;
        this.scheduler.setMaxConcurrent(this.#config.maxConcurrentChecks - this.#probeSlots);
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.#probeSlots--;
          this.scheduler.setMaxConcurrent(this.#config.maxConcurrentChecks - this.#probeSlots);
          this.#wakeProbeWaiters();
        });
      };
      const onAbort = () => {
        const i = this.#probeWaiters.indexOf(waiter);
        if (i >= 0) this.#probeWaiters.splice(i, 1);
        reject(signal.reason);
      };
      const waiter = () => grant();
      if (signal.aborted) return reject(signal.reason);
      if (this.#hasFreeSlot()) return grant();
      this.#probeWaiters.push(waiter);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  #hasFreeSlot(): boolean {
    return this.scheduler.inFlight + this.#probeSlots < this.#config.maxConcurrentChecks;
  }

  #wakeProbeWaiters(): void {
    while (this.#probeWaiters.length > 0 && this.#hasFreeSlot()) this.#probeWaiters.shift()!();
  }

  async #check(target: TargetConfig, signal: AbortSignal): Promise<void> {
    const log = this.#options.logger;
    let client: Deno.HttpClient;
    try {
      client = this.#clients.get(target.tlsCaFile);
    } catch (e) {
      const reason = `cannot use tls_ca_file: ${(e as Error).message}`;
      // No check ran, so no certificate was read either.
      this.store.recordCertExpiry(target.key, undefined);
      this.#record(target, failure("tls", reason, { startedAt: Date.now() }));
      return;
    }
    // The certificate is read on a connection of its own, alongside the check.
    const certExpiry = this.tlsInfo.expiry(target, signal);
    const result = await probe(target, { signal, client });
    const notAfter = await certExpiry;
    if (signal.aborted) return;
    if (log.enabled("debug")) {
      log.debug("check", {
        url: target.displayUrl,
        result: result.result,
        status: result.statusCode,
        ms: Math.round(result.durationMs * 1000) / 1000,
        reason: result.reason || undefined,
      });
    }
    this.store.recordCertExpiry(target.key, notAfter);
    this.#record(target, result);
  }

  #record(target: TargetConfig, result: ProbeResult): void {
    const change = this.store.record(target.key, result, Date.now());
    if (!change) return;
    const log = this.#options.logger;
    if (!result.up) {
      log.info(change.wasUp === undefined ? "target is down" : "target went down", {
        url: target.displayUrl,
        result: result.result,
        status: result.statusCode || undefined,
        reason: result.reason,
      });
    } else if (change.wasUp === false) {
      log.info("target came back up", {
        url: target.displayUrl,
        ms: Math.round(result.durationMs),
      });
    } else {
      log.debug("target is up", { url: target.displayUrl });
    }
  }
}
