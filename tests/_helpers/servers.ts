/**
 * Real loopback servers for tests. Every server listens on 127.0.0.1 with a
 * free port and must be closed by the test (`await using` does it).
 *
 * @module
 */

import type { Config, TargetConfig } from "../../lib/config/schema.ts";
import { Exposition, type ExpositionOptions } from "../../lib/metrics/exposition_cache.ts";
import { ResultsStore } from "../../lib/metrics/results.ts";
import { SelfMetrics } from "../../lib/metrics/self_metrics.ts";
import { failure, type ProbeResult, success } from "../../lib/check/outcome.ts";
import { buildConfig } from "../../lib/config/validate.ts";

const FIXTURES = new URL("../fixtures/tls/", import.meta.url);
/** PEM of the test CA that signed the localhost certificate. */
export const TEST_CA_FILE = new URL("ca.pem", FIXTURES).pathname;

/** A running HTTP(S) server. */
export interface TestServer extends AsyncDisposable {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:40123`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts `Deno.serve` on 127.0.0.1:0 (TLS with the test certificate when `tls`). */
export function serve(
  handler: (req: Request) => Response | Promise<Response>,
  options: { tls?: boolean } = {},
): TestServer {
  const tls = options.tls
    ? {
      cert: Deno.readTextFileSync(new URL("localhost.pem", FIXTURES)),
      key: Deno.readTextFileSync(new URL("localhost.key", FIXTURES)),
    }
    : {};
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {}, ...tls }, handler);
  const port = server.addr.port;
  const close = () => server.shutdown();
  return {
    url: `${options.tls ? "https://localhost" : "http://127.0.0.1"}:${port}`,
    port,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A TCP server that accepts connections and never answers; closes them on `close()`. */
export function hangingServer(): TestServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) conns.push(conn);
    } catch { /* closed */ }
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  const close = async () => {
    listener.close();
    for (const c of conns) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
    await accepting;
  };
  return { url: `http://127.0.0.1:${port}`, port, close, [Symbol.asyncDispose]: close };
}

/** A port on 127.0.0.1 that was free a moment ago (for programs that need a number up front). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A port on 127.0.0.1 where nothing listens (connection refused). */
export const closedPort: () => number = freePort;

/** A response whose body trickles one byte every `everyMs` until the client goes away. */
export function tricklingBody(everyMs: number): Response {
  let timer: ReturnType<typeof setInterval> | undefined;
  return new Response(
    new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("x"));
        timer = setInterval(() => {
          try {
            controller.enqueue(new TextEncoder().encode("x"));
          } catch {
            clearInterval(timer);
          }
        }, everyMs);
      },
      cancel() {
        clearInterval(timer);
      },
    }),
  );
}

/** Builds one validated target from YAML-like settings (url required). */
export function target(settings: Record<string, unknown>): TargetConfig {
  const config = buildConfig(JSON.stringify({ targets: [settings] }), {}, { env: {} });
  return config.targets[0]!;
}

/**
 * A probe result for store, page and exposition tests, made like the probe
 * makes one (`up` follows `result`): by default up, 200, `durationMs` 12.5.
 */
export function probeResult(partial: Partial<Omit<ProbeResult, "up">> = {}): ProbeResult {
  const { result = "up", reason = "", ...measured } = partial;
  const fields = { startedAt: 0, statusCode: 200, durationMs: 12.5, ...measured };
  return result === "up" ? success(fields) : failure(result, reason, fields);
}

/**
 * A results store, self metrics and exposition for `config`, on a fake clock
 * (`advance(ms)` moves it). Options are passed on to the Exposition.
 */
export function expositionFor(
  config: Config,
  options: Omit<ExpositionOptions, "now"> = {},
): {
  store: ResultsStore;
  self: SelfMetrics;
  exposition: Exposition;
  advance: (ms: number) => number;
} {
  const store = new ResultsStore();
  store.applyConfig(config);
  const self = new SelfMetrics({
    version: "test",
    targets: () => config.targets.length,
    inFlight: () => 0,
    waiting: () => 0,
  });
  let now = 0;
  const exposition = new Exposition(store, self, {
    prefix: () => config.metricPrefix,
    now: () => now,
    ...options,
  });
  return { store, self, exposition, advance: (ms: number) => (now += ms) };
}
