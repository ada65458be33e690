/**
 * The exporter's App for tests, with its config in a real file (a reload
 * reads the file again, as in production) and its log lines collected.
 *
 * @module
 */

import { App } from "../../lib/app.ts";
import { type LogFormat, Logger, type LogLevel } from "../../lib/util/log.ts";
import type { ShardSettings } from "../../lib/config/schema.ts";

/** Options of {@linkcode testApp}. */
export interface TestAppOptions {
  /** Variables for `${VAR}` expansion. Default: none. */
  env?: Record<string, string>;
  /** Default: `debug` (every line is collected). */
  logLevel?: LogLevel;
  /** Default: `logfmt`. */
  logFormat?: LogFormat;
  /** Default: `worker`, as the exporter runs. */
  isolation?: "worker" | "inline";
  tlsInfoRefreshMs?: number;
  /** `--shard.*` as parsed. Default: not sharded. */
  shard?: ShardSettings;
}

/** An App whose config file a test can rewrite. Not started: call `app.start()`. */
export interface TestApp extends AsyncDisposable {
  app: App;
  /** Log lines so far. */
  lines: string[];
  configFile: string;
  /** Replaces the config file (the next reload reads it). */
  writeConfig(yaml: string): Promise<void>;
  /** Calls the handler. */
  get(
    path: string,
    init?: RequestInit,
  ): Promise<{ status: number; text: string; headers: Headers }>;
}

/**
 * Writes `yaml` to a temporary config file and builds an App on it.
 *
 * @example
 * ```ts
 * await using t = await testApp(`targets: [{url: ${server.url}/}]`);
 * await t.app.start();
 * ```
 */
export async function testApp(yaml: string, options: TestAppOptions = {}): Promise<TestApp> {
  const dir = await Deno.makeTempDir({ prefix: "uptime-exporter-app-" });
  const configFile = `${dir}/config.yaml`;
  const writeConfig = (text: string) => Deno.writeTextFile(configFile, text);
  await writeConfig(yaml);
  const lines: string[] = [];
  const app = new App({
    source: { file: configFile, env: options.env ?? {}, shard: options.shard },
    logger: new Logger({
      level: options.logLevel ?? "debug",
      format: options.logFormat,
      write: (line) => lines.push(line),
    }),
    version: "test",
    isolation: options.isolation,
    tlsInfoRefreshMs: options.tlsInfoRefreshMs,
  });
  return {
    app,
    lines,
    configFile,
    writeConfig,
    async get(path, init) {
      const res = await app.handler(new Request(`http://exporter${path}`, init));
      return { status: res.status, text: await res.text(), headers: res.headers };
    },
    async [Symbol.asyncDispose]() {
      await app.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
