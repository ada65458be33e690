/**
 * The serving side's handle on the check engine: starts it in a Worker (or,
 * for tests that want one thread, on a MessageChannel), turns its replies
 * into promises and its batches into callbacks, and stops it — terminating
 * the Worker if it does not stop in time, so that a shutdown never waits on
 * a check.
 *
 * @module
 */

import type {
  ConfigSource,
  ConfigView,
  EngineEvent,
  EngineRequest,
  EngineStats,
  LoadFailure,
  Port,
  ResultRecord,
} from "./engine_protocol.ts";
import type { MatcherHandle, MatchRequest } from "./body_match.ts";
import type { LogLevel } from "../util/log.ts";
import { err, ok, type Result } from "../util/result.ts";

/** A config the engine applied, and how it differs from the previous one. */
export interface Loaded {
  config: ConfigView;
  added: number;
  removed: number;
}

/** Options of {@linkcode EngineClient.start}. */
export interface EngineClientOptions {
  /** `worker` (the default): its own thread and heap; `inline`: this thread (tests). */
  isolation?: "worker" | "inline";
  /** The engine logs skipped checks only at `debug`. Default: `info`. */
  logLevel?: LogLevel;
  /** Called with every batch of finished checks (see {@linkcode EngineClient.handle}). */
  onResults?: (records: readonly ResultRecord[], stats: EngineStats) => void;
  /** Called when DNS membership changed this replica's share of the targets (no reload). */
  onReassigned?: (loaded: Loaded) => void;
  /** Called with what the engine wants logged. */
  onLog?: (
    level: LogLevel,
    msg: string,
    fields?: Record<string, string | number | boolean | undefined>,
  ) => void;
  /** Called when the Worker dies of an uncaught error (the exporter cannot check any more). */
  onCrash?: (error: unknown) => void;
}

/** A running check engine. */
export class EngineClient {
  readonly #port: Port<EngineEvent, EngineRequest>;
  readonly #worker?: Worker;
  readonly #channel?: MessageChannel;
  readonly #options: EngineClientOptions;
  readonly #waiting = new Map<number, (event: EngineEvent) => void>();
  /** Body matchers started for the engine, by the engine's id for them. */
  readonly #matchers = new Map<number, MatcherHandle>();
  #nextId = 1;
  #stopping?: Promise<void>;
  /** Results and log lines that came before anyone handled them. */
  #held: EngineEvent[] = [];

  private constructor(options: EngineClientOptions) {
    this.#options = { ...options };
    if (options.isolation === "inline") {
      // Imported only here: in the usual mode the engine's modules (config
      // parsing, probe, re2js) load in the Worker alone, not in this isolate too.
      const channel = this.#channel = new MessageChannel();
      import("./engine.ts").then(({ Engine }) => {
        new Engine(channel.port2 as unknown as Port<EngineRequest, EngineEvent>);
        // Messages posted before this wait in the port's queue.
        channel.port2.start();
      }, (e) => this.#options.onCrash?.(e));
      this.#port = channel.port1 as unknown as Port<EngineEvent, EngineRequest>;
      channel.port1.start();
    } else {
      this.#worker = new Worker(new URL("./engine_worker.ts", import.meta.url).href, {
        type: "module",
        name: "uptime-exporter check engine",
      });
      this.#worker.addEventListener("error", (event) => {
        event.preventDefault();
        this.#options.onCrash?.(event.error ?? event.message);
      });
      this.#port = this.#worker as unknown as Port<EngineEvent, EngineRequest>;
    }
    this.#port.addEventListener("message", (event) => this.#receive(event.data));
    this.#port.postMessage({
      type: "init",
      logLevel: options.logLevel ?? "info",
    });
  }

  /** Starts an engine; give it a config with {@linkcode EngineClient.load}. */
  static start(options: EngineClientOptions = {}): EngineClient {
    return new EngineClient(options);
  }

  /**
   * Sets who handles results, log lines and a crash, for an engine started
   * before they existed (main.ts starts it first, so that its Worker loads
   * while the serving side's modules do); what came meanwhile is handed over.
   */
  handle(
    handlers: Pick<EngineClientOptions, "onResults" | "onReassigned" | "onLog" | "onCrash">,
  ): void {
    Object.assign(this.#options, handlers);
    const held = this.#held;
    this.#held = [];
    for (const event of held) this.#receive(event);
  }

  #receive(event: EngineEvent): void {
    if (
      ((event.type === "results" || event.type === "reassigned") && !this.#options.onResults) ||
      (event.type === "log" && !this.#options.onLog)
    ) {
      this.#held.push(event);
      return;
    }
    switch (event.type) {
      case "results":
        this.#options.onResults!(event.records, event.stats);
        return;
      case "reassigned":
        this.#options.onReassigned?.({
          config: event.config,
          added: event.added,
          removed: event.removed,
        });
        return;
      case "log":
        this.#options.onLog?.(event.level, event.msg, event.fields as Record<string, string>);
        return;
      case "matcher":
        if (event.action === "spawn") this.#startMatcher(event.id);
        else this.#endMatcher(event.id);
        return;
      case "loaded":
      case "probed":
      case "stopped": {
        const resolve = this.#waiting.get(event.id);
        this.#waiting.delete(event.id);
        resolve?.(event);
        return;
      }
    }
  }

  /**
   * Starts a body matcher for the engine on this thread and hands the engine
   * a port to it (see the "matcher" event in engine_protocol.ts).
   */
  #startMatcher(id: number): void {
    if (this.#stopping) return;
    let worker: MatcherHandle;
    try {
      // body_match.ts's startMatcherWorker, without loading body_match.ts (and re2js) here.
      worker = new Worker(new URL("./body_match_worker.ts", import.meta.url).href, {
        type: "module",
      });
    } catch (e) {
      this.#port.postMessage({ type: "matcher-error", id, message: (e as Error).message });
      return;
    }
    this.#matchers.set(id, worker);
    worker.onerror = (event) => {
      event.preventDefault();
      this.#endMatcher(id);
      this.#port.postMessage({ type: "matcher-error", id, message: event.message });
    };
    const channel = new MessageChannel();
    worker.postMessage({ port: channel.port2 } as unknown as MatchRequest, [channel.port2]);
    this.#port.postMessage({ type: "matcher-port", id, port: channel.port1 }, [channel.port1]);
  }

  #endMatcher(id: number): void {
    this.#matchers.get(id)?.terminate();
    this.#matchers.delete(id);
  }

  #request(request: (id: number) => EngineRequest): Promise<EngineEvent> {
    const id = this.#nextId++;
    const reply = new Promise<EngineEvent>((resolve) => this.#waiting.set(id, resolve));
    this.#port.postMessage(request(id));
    return reply;
  }

  /**
   * Loads and validates a config from `source`; on success the engine checks
   * its targets from now on, on failure it keeps the running config.
   */
  async load(source: ConfigSource): Promise<Result<Loaded, LoadFailure>> {
    const reply = await this.#request((id) => ({ type: "load", id, source }));
    if (reply.type !== "loaded") return err({ kind: "internal", message: "the engine stopped" });
    return reply.ok
      ? ok({ config: reply.config, added: reply.added, removed: reply.removed })
      : err(reply.failure);
  }

  /**
   * Runs one `/probe` check in the engine (the same probe, clients and
   * in-flight limit as every check) and resolves to its answer.
   */
  async probe(
    params: URLSearchParams,
    scrapeTimeout: string | null,
  ): Promise<Extract<EngineEvent, { type: "probed" }> | undefined> {
    const reply = await this.#request((id) => ({
      type: "probe",
      id,
      params: params.toString(),
      scrapeTimeout,
    }));
    return reply.type === "probed" ? reply : undefined;
  }

  /**
   * Stops checking (checks in flight are aborted) and ends the engine; a
   * Worker that has not stopped within `graceMs` is terminated.
   */
  stop(graceMs = 1000): Promise<void> {
    this.#stopping ??= (async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([this.#request((id) => ({ type: "stop", id })), late]);
      clearTimeout(timer);
      this.#worker?.terminate();
      for (const id of [...this.#matchers.keys()]) this.#endMatcher(id);
      this.#channel?.port1.close();
      this.#channel?.port2.close();
      for (const resolve of this.#waiting.values()) resolve({ type: "stopped", id: 0 });
      this.#waiting.clear();
    })();
    return this.#stopping;
  }
}
