/**
 * The check engine: loads and validates the config, schedules the checks,
 * runs the probe and hands each result to the serving side in small
 * batches. It runs in a Worker of its own (engine_worker.ts), so that nothing
 * the serving side does — rendering a large exposition, compressing it,
 * answering hundreds of scrapers — can delay a check's start or inflate its
 * measured time, and a reload's YAML parsing does not stall the serving side.
 *
 * The engine talks only through a {@linkcode Port} (the protocol is in
 * engine_protocol.ts), so it can also run on a MessageChannel in one thread.
 *
 * Sharded (`--shard.*`), it schedules only this replica's share of the
 * config's targets (shard.ts), and with DNS membership (membership.ts) it
 * re-assigns them when the fleet changes, without a reload, telling the
 * serving side with a `reassigned` event.
 *
 * @module
 */

import { ConfigError } from "../config/problems.ts";
import type { Config, ShardSettings, TargetConfig } from "../config/schema.ts";
import { loadConfig } from "../config/load.ts";
import { buildConfig } from "../config/validate.ts";
import type {
  ConfigSource,
  ConfigView,
  EngineEvent,
  EngineRequest,
  LoadFailure,
  Port,
  ResultRecord,
  ShardView,
} from "./engine_protocol.ts";
import { assign, fleetOf } from "./shard.ts";
import { DnsMembership } from "./membership.ts";
import {
  type MatcherHandle,
  MatcherPool,
  type MatchReply,
  type MatchRequest,
  mayNeedMatcher,
} from "./body_match.ts";
import { HttpClients } from "./http_clients.ts";
import type { CheckResult } from "./classify.ts";
import type { OnDemandAnswer } from "./on_demand.ts";
import type { ProbeRefusalReason } from "./probe_refusals.ts";
import { PROBE_DISABLED } from "../config/probe_modules.ts";
import { failure, type ProbeResult } from "./outcome.ts";
import { probe } from "./probe.ts";
import { Scheduler } from "./scheduler.ts";

/** Options of {@linkcode Engine}. */
export interface EngineOptions {
  /**
   * Most time a finished result waits before it is sent with others, ms.
   * Default: 50 ms (results reach the store a little later, in far fewer messages).
   */
  flushMs?: number;
  /** Results sent at once without waiting for `flushMs`. Default: 512. */
  maxBatch?: number;
}

/** Loads a config from its source. */
async function load(source: ConfigSource): Promise<Config> {
  if (source.text !== undefined && source.probeModulesFile === undefined) {
    return buildConfig(source.text, source.overrides ?? {}, {
      env: source.env ?? {},
      fileName: source.fileName,
    });
  }
  return await loadConfig(
    {
      configFile: source.file,
      probeModulesFile: source.probeModulesFile,
      overrides: source.overrides ?? {},
    },
    { env: source.env ?? {} },
  );
}

/**
 * The parts of a config the serving side needs (targets without headers or
 * bodies): of the targets, only `assigned`, the ones this replica checks.
 */
function viewOf(config: Config, assigned: readonly TargetConfig[], shard: ShardView): ConfigView {
  return {
    metricPrefix: config.metricPrefix,
    histogramBuckets: config.histogramBuckets,
    maxConcurrentChecks: config.maxConcurrentChecks,
    shard,
    targets: assigned.map(({ key, url, displayUrl, labels, intervalMs, timeoutMs }) => ({
      key,
      url,
      displayUrl,
      labels,
      intervalMs,
      timeoutMs,
    })),
    secrets: config.secrets,
    demoTargets: config.demoTargets,
  };
}

/**
 * A body matcher the serving side starts for the engine and reaches through
 * a MessagePort: messages wait here until the port arrives.
 */
class RemoteMatcher implements MatcherHandle {
  onmessage: ((event: MessageEvent<MatchReply>) => void) | null = null;
  onerror: ((event: ErrorEvent) => void) | null = null;
  #port?: MessagePort;
  #waiting: [MatchRequest, Transferable[] | undefined][] = [];
  #ended = false;

  constructor(readonly id: number, private readonly end: (id: number) => void) {}

  attach(port: MessagePort): void {
    if (this.#ended) return port.close();
    this.#port = port;
    port.onmessage = (event) => this.onmessage?.(event as MessageEvent<MatchReply>);
    for (const [message, transfer] of this.#waiting.splice(0)) {
      port.postMessage(message, transfer ?? []);
    }
  }

  fail(message: string): void {
    this.onerror?.(new ErrorEvent("error", { message }));
  }

  postMessage(message: MatchRequest, transfer?: Transferable[]): void {
    if (this.#port) this.#port.postMessage(message, transfer ?? []);
    else this.#waiting.push([message, transfer]);
  }

  terminate(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#port?.close();
    this.#waiting = [];
    this.end(this.id);
  }
}

/** Runs the checks of the config it is told to load, and reports every result. */
export class Engine {
  readonly #port: Port<EngineRequest, EngineEvent>;
  readonly #flushMs: number;
  readonly #maxBatch: number;
  readonly #clients = new HttpClients();
  #scheduler?: Scheduler;
  #config?: Config;
  /** The targets of `#config` this replica checks. */
  #assigned: readonly TargetConfig[] = [];
  #shard?: ShardSettings;
  /** `#shard` as JSON, to tell a change of settings on reload. */
  #shardKey?: string;
  #membership?: DnsMembership;
  #membershipStop?: AbortController;
  #debug = false;
  #pending: ResultRecord[] = [];
  #startDelays: number[] = [];
  #skipped = 0;
  #timer?: ReturnType<typeof setTimeout>;
  #stopped = false;
  /** The in-flight and waiting counts last sent: a change is sent within a heartbeat. */
  #sentCounts = "";
  #heartbeat?: ReturnType<typeof setInterval>;
  /** Loads run one after the other, in the order they were asked for. */
  #loading: Promise<void> = Promise.resolve();
  readonly #remoteMatchers = new Map<number, RemoteMatcher>();
  /** On-demand checks (/probe) holding a slot of max_concurrent_checks, and those waiting. */
  #probeSlots = 0;
  readonly #probeWaiters: (() => void)[] = [];
  #onDemand?: Promise<typeof import("./on_demand.ts")>;
  #nextMatcher = 1;
  /** Matchers of bodies too large to match inline, started by the serving side. */
  readonly #matchers = new MatcherPool({
    spawn: () => {
      const matcher = new RemoteMatcher(this.#nextMatcher++, (id) => {
        this.#remoteMatchers.delete(id);
        this.#port.postMessage({ type: "matcher", action: "terminate", id });
      });
      this.#remoteMatchers.set(matcher.id, matcher);
      this.#port.postMessage({ type: "matcher", action: "spawn", id: matcher.id });
      return matcher;
    },
  });

  constructor(port: Port<EngineRequest, EngineEvent>, options: EngineOptions = {}) {
    this.#port = port;
    this.#flushMs = options.flushMs ?? 50;
    this.#maxBatch = options.maxBatch ?? 512;
    port.addEventListener("message", (event) => this.#receive(event.data));
  }

  #receive(message: EngineRequest): void {
    switch (message.type) {
      case "init":
        this.#debug = message.logLevel === "debug";
        return;
      case "matcher-port":
        {
          const matcher = this.#remoteMatchers.get(message.id);
          if (matcher) matcher.attach(message.port);
          else message.port.close();
        }
        return;
      case "matcher-error":
        this.#remoteMatchers.get(message.id)?.fail(message.message);
        return;
      case "load":
        this.#loading = this.#loading.then(() => this.#load(message.id, message.source));
        return;
      case "stop":
        this.#loading = this.#loading.then(() => this.#stop(message.id));
        return;
      case "probe":
        // Not after loads: on-demand checks run alongside everything else.
        void this.#probe(message.id, message.params, message.scrapeTimeout);
        return;
    }
  }

  async #load(id: number, source: ConfigSource): Promise<void> {
    if (this.#stopped) return;
    let config: Config;
    try {
      config = await load(source);
    } catch (e) {
      const failure: LoadFailure = e instanceof ConfigError
        ? { kind: "config", problems: e.problems }
        : { kind: "internal", message: (e as Error).stack ?? String(e) };
      this.#port.postMessage({ type: "loaded", id, ok: false, failure });
      return;
    }
    await this.#configureShard(source.shard);
    const assigned = this.#assignedOf(config.targets);
    const { added, removed } = this.#difference(assigned);
    // Results of the previous config go first: the serving side applies the
    // new one after them, in message order.
    this.#flush();
    this.#apply(config, assigned);
    this.#port.postMessage({
      type: "loaded",
      id,
      ok: true,
      config: viewOf(config, assigned, this.#shardView()),
      added,
      removed,
    });
  }

  /** Targets of `assigned` new to this replica, and ones it no longer checks. */
  #difference(assigned: readonly TargetConfig[]): { added: number; removed: number } {
    const before = new Set(this.#assigned.map((t) => t.key));
    const after = new Set(assigned.map((t) => t.key));
    let added = 0;
    for (const key of after) if (!before.has(key)) added++;
    let removed = 0;
    for (const key of before) if (!after.has(key)) removed++;
    return { added, removed };
  }

  /** This replica's share of `targets` under the shard settings and members in force. */
  #assignedOf(targets: readonly TargetConfig[]): readonly TargetConfig[] {
    if (!this.#shard) return targets;
    return assign(targets, fleetOf(this.#shard, this.#membership?.members));
  }

  #shardView(): ShardView {
    const fleet = fleetOf(this.#shard, this.#membership?.members);
    return {
      mode: this.#shard?.mode ?? "static",
      index: fleet.members.indexOf(fleet.self),
      count: fleet.members.length,
      replication: fleet.replication,
      configured: this.#config?.targets.length ?? 0,
    };
  }

  /**
   * Takes the shard settings of a load: on the first, or when they changed,
   * DNS membership starts (its first lookup done before the first
   * assignment, so a replica joining a running fleet checks only its share).
   */
  async #configureShard(settings: ShardSettings | undefined): Promise<void> {
    const key = JSON.stringify(settings ?? null);
    if (key === this.#shardKey) return;
    this.#shardKey = key;
    this.#shard = settings;
    this.#membershipStop?.abort();
    this.#membership = undefined;
    if (settings?.mode !== "dns") return;
    const stop = new AbortController();
    this.#membershipStop = stop;
    this.#membership = await DnsMembership.start(settings.peersDns, {
      self: settings.self,
      intervalMs: settings.intervalMs,
      nameServer: settings.nameServer,
      signal: stop.signal,
      onChange: (members) => {
        this.#log("info", "shard members changed", { members: members.join(" ") });
        this.#loading = this.#loading.then(() => this.#reassign());
      },
      onError: (message) =>
        this.#log("warn", `${message}; keeping the replicas found before`, {
          members: this.#membership?.members.join(" "),
        }),
    });
  }

  /** The members changed: the same config, this replica's new share. */
  #reassign(): void {
    if (this.#stopped || !this.#config) return;
    const assigned = this.#assignedOf(this.#config.targets);
    const { added, removed } = this.#difference(assigned);
    this.#flush();
    this.#assigned = assigned;
    // Not #apply: nothing but the share changed (the clients and limits stay).
    this.#scheduler?.setTargets(assigned);
    if (assigned.some(mayNeedMatcher)) this.#matchers.warm();
    this.#port.postMessage({
      type: "reassigned",
      config: viewOf(this.#config, assigned, this.#shardView()),
      added,
      removed,
    });
  }

  #apply(config: Config, assigned: readonly TargetConfig[]): void {
    const first = this.#config === undefined;
    this.#config = config;
    this.#assigned = assigned;
    if (first) {
      this.#scheduler = new Scheduler(
        (target, signal) =>
          this.#check(target, signal).finally(() => {
            // The scheduler frees the slot once this settles: waiting on-demand checks go next.
            if (this.#probeWaiters.length > 0) setTimeout(() => this.#wakeProbeWaiters(), 0);
          }),
        {
          maxConcurrent: config.maxConcurrentChecks,
          onSkip: (target) => {
            this.#skipped++;
            if (this.#debug) {
              this.#log("debug", "check skipped: previous check still running", {
                url: target.displayUrl,
              });
            }
            this.#schedule();
          },
          onStart: (_target, lateMs) => {
            this.#startDelays.push(lateMs);
            this.#schedule();
          },
        },
      );
      this.#scheduler.setTargets(assigned);
      // Checks waiting for a slot start nothing that would send the counts.
      this.#heartbeat = setInterval(() => this.#flush(), 1000);
      // Starting a matcher takes a moment: before the first checks, not while they run.
      if (assigned.some(mayNeedMatcher)) this.#matchers.warm();
      this.#scheduler.start();
      return;
    }
    this.#limitScheduler();
    this.#wakeProbeWaiters();
    // Clients cache CA files by path: drop them so edited CA files are read again.
    this.#clients.close();
    this.#scheduler!.setTargets(assigned);
  }

  async #check(target: TargetConfig, signal: AbortSignal): Promise<void> {
    let result: ProbeResult;
    let client: Deno.HttpClient | undefined;
    try {
      client = this.#clients.get(target.tlsCaFile);
    } catch (e) {
      result = failure("tls", `cannot use tls_ca_file: ${(e as Error).message}`, {
        startedAt: Date.now(),
      });
    }
    if (client) {
      result = await probe(target, { signal, client, matchers: this.#matchers });
      if (signal.aborted) return;
    }
    const finishedAt = Date.now();
    this.#pending.push({
      key: target.key,
      result: result!,
      finishedAt,
      nextCheckAt: this.#scheduler?.nextDueAt(target.key) ?? finishedAt,
    });
    if (this.#pending.length >= this.#maxBatch) this.#flush();
    else this.#schedule();
  }

  /** Arms the flush timer, unless it is armed already. */
  #schedule(): void {
    if (this.#timer === undefined && !this.#stopped) {
      this.#timer = setTimeout(() => this.#flush(), this.#flushMs);
    }
  }

  /** Sends what finished since the last batch, with the counters. */
  #flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const counts = `${this.#scheduler?.inFlight}/${this.#scheduler?.waiting}/${this.#probeSlots}`;
    if (
      this.#pending.length === 0 && this.#startDelays.length === 0 && this.#skipped === 0 &&
      counts === this.#sentCounts
    ) {
      return;
    }
    this.#sentCounts = counts;
    const records = this.#pending;
    const startDelaysMs = this.#startDelays;
    const skipped = this.#skipped;
    this.#pending = [];
    this.#startDelays = [];
    this.#skipped = 0;
    this.#port.postMessage({
      type: "results",
      records,
      stats: {
        inFlight: this.#scheduler?.inFlight ?? 0,
        onDemand: this.#probeSlots,
        waiting: this.#scheduler?.waiting ?? 0,
        skipped,
        startDelaysMs,
      },
    });
  }

  /**
   * One `/probe` check (on_demand.ts, loaded on the first request): the
   * guard, a slot of the in-flight limit, the same probe as every check.
   */
  async #probe(id: number, params: string, scrapeTimeout: string | null): Promise<void> {
    const probed: [string, CheckResult][] = [];
    const refused: ProbeRefusalReason[] = [];
    let answer: OnDemandAnswer;
    try {
      const { checkOnDemand } = await (this.#onDemand ??= import("./on_demand.ts"));
      answer = await checkOnDemand({ params: new URLSearchParams(params), scrapeTimeout }, {
        settings: () => this.#config?.probe ?? PROBE_DISABLED,
        acquireSlot: (signal) => this.#acquireSlot(signal),
        client: (caFile) => this.#clients.get(caFile),
        metrics: {
          probed: (module, result) => void probed.push([module, result]),
          refused: (reason) => void refused.push(reason),
        },
        log: (msg, fields) => this.#log("info", msg, fields),
        secrets: () => this.#config?.secrets ?? [],
        matchers: this.#matchers,
      });
    } catch (e) {
      answer = {
        status: 500,
        contentType: "text/plain; charset=utf-8",
        body: `probe failed: ${(e as Error).message}\n`,
      };
    }
    this.#port.postMessage({ type: "probed", id, answer, probed, refused });
  }

  /**
   * A slot of the global in-flight limit for an on-demand check: background
   * and on-demand checks share `max_concurrent_checks`, the scheduler's own
   * limit shrinking by the slots on-demand checks hold.
   */
  #acquireSlot(signal: AbortSignal): Promise<() => void> {
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal.removeEventListener("abort", onAbort);
        this.#probeSlots++;
        this.#limitScheduler();
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.#probeSlots--;
          this.#limitScheduler();
          this.#wakeProbeWaiters();
        });
      };
      const onAbort = () => {
        const i = this.#probeWaiters.indexOf(grant);
        if (i >= 0) this.#probeWaiters.splice(i, 1);
        reject(signal.reason);
      };
      if (signal.aborted) return reject(signal.reason);
      if (this.#hasFreeSlot()) return grant();
      this.#probeWaiters.push(grant);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  #hasFreeSlot(): boolean {
    const max = this.#config?.maxConcurrentChecks ?? 0;
    return (this.#scheduler?.inFlight ?? 0) + this.#probeSlots < max;
  }

  #wakeProbeWaiters(): void {
    while (this.#probeWaiters.length > 0 && this.#hasFreeSlot()) this.#probeWaiters.shift()!();
  }

  #limitScheduler(): void {
    const max = this.#config?.maxConcurrentChecks ?? 1;
    this.#scheduler?.setMaxConcurrent(max - this.#probeSlots);
  }

  async #stop(id: number): Promise<void> {
    this.#stopped = true;
    this.#membershipStop?.abort();
    await this.#membership?.stopped();
    clearInterval(this.#heartbeat);
    await this.#scheduler?.stop();
    this.#clients.close();
    this.#matchers.close();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#port.postMessage({ type: "stopped", id });
  }

  #log(
    level: "debug" | "info" | "warn" | "error",
    msg: string,
    fields?: Record<string, string | number | boolean | undefined>,
  ): void {
    this.#port.postMessage({ type: "log", level, msg, fields });
  }
}
