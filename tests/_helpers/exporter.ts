/**
 * The exporter as a process, for every suite that runs it: the compile task's
 * permission flags read from deno.json, main.ts started with exactly those
 * flags through `deno run` (the closest this machine gets to the compiled
 * binary), and a loopback target server.
 *
 * Every server listens on 127.0.0.1 with port 0 and is closed by its owner.
 *
 * @module
 */

import assert from "node:assert/strict";
import { stringify as stringifyYaml } from "yaml";
import { waitFor } from "./wait.ts";

/** The repository root, without a trailing slash. */
export const ROOT: string = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** A deno.json task: its command, or an object with one (and its dependencies). */
export type DenoTask = string | { command: string; dependencies?: string[]; description?: string };

/** deno.json as parsed JSON. */
export function denoJson(): { version: string; tasks: Record<string, DenoTask> } {
  return JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`));
}

/** The command of a deno.json task, whether written as a string or an object. */
export function taskCommand(name: string): string | undefined {
  const task = denoJson().tasks[name];
  return typeof task === "string" ? task : task?.command;
}

/** The words of a deno.json task's command (tasks here use no quoting). */
export function taskWords(name: string): string[] {
  const task = taskCommand(name);
  assert.ok(task, `deno.json has no "${name}" task`);
  return task.trim().split(/\s+/);
}

/**
 * The permission flags of the `compile` task, exactly as written there
 * (`--allow-*` and `--deny-*`), so the tests run the exporter with the
 * permissions the binary gets.
 */
export function compilePermissionFlags(): string[] {
  return taskWords("compile").filter((w) => /^--(allow|deny)-/.test(w) || w === "-A");
}

/** The compile task's permission flags, read once. */
export const EXPORTER_PERMISSIONS: readonly string[] = compilePermissionFlags();

/** A loopback HTTP server answering 200 "ok" on every path but /down (503). */
export interface TargetServer extends AsyncDisposable {
  url: string;
  close(): Promise<void>;
}

/** Starts the target server on 127.0.0.1 and a free port. */
export function startTarget(): TargetServer {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => new Response("ok\n", { status: new URL(req.url).pathname === "/down" ? 503 : 200 }),
  );
  const close = () => server.shutdown();
  return { url: `http://127.0.0.1:${server.addr.port}`, close, [Symbol.asyncDispose]: close };
}

/** Options of {@linkcode startExporter}. */
export interface StartExporterOptions {
  /** Flags after main.ts (the listen address and JSON logs come first; later flags win). */
  args?: string[];
  /** Environment on top of {@linkcode baseEnv} (the caller's UPTIME_EXPORTER_* never leaks in). */
  env?: Record<string, string>;
  /**
   * A config to write as YAML and pass with `--config`; `writeConfig()` replaces
   * it later. Default: no config file.
   */
  config?: unknown;
  /** Directory of the config file. Default: a temporary one, removed on close. */
  dir?: string;
  /** How long to wait for the "listening" line, ms. Default: 30 s. */
  startTimeoutMs?: number;
}

/** A running exporter process (main.ts through `deno run`, with the binary's permissions). */
export interface Exporter extends AsyncDisposable {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT`, for Prometheus' static_configs. */
  host: string;
  pid: number;
  child: Deno.ChildProcess;
  /** stderr so far, one entry per line (JSON log lines, plus anything Deno printed). */
  lines: string[];
  /** stderr and stdout so far, as text (for artifacts and failure messages). */
  readonly log: string;
  /** The config file, when `config` was given. */
  configFile?: string;
  /** Writes a new config file atomically (write, then rename, as Kubernetes does). */
  writeConfig(config: unknown): Promise<void>;
  get(path: string, init?: RequestInit): Promise<{ status: number; text: string }>;
  /** POST /-/reload. */
  reload(): Promise<{ status: number; body: string }>;
  /** Sends `signal` (default SIGTERM) and waits for the exit; SIGKILL after `graceMs` (5 s). */
  stop(signal?: Deno.Signal, graceMs?: number): Promise<Deno.CommandStatus>;
}

/** Only what deno itself needs, so the caller's UPTIME_EXPORTER_* cannot leak in. */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR", "LANG"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/**
 * The arguments of `deno` that run the exporter as the compiled binary runs:
 * `run`, the compile task's permission flags, `--no-prompt` (a missing
 * permission throws instead of asking), main.ts, then `args`.
 */
export function exporterArgs(args: readonly string[] = []): string[] {
  return ["run", "--no-prompt", ...compilePermissionFlags(), `${ROOT}/main.ts`, ...args];
}

/**
 * Starts the exporter on 127.0.0.1 and a port the OS picks, logging JSON at
 * debug level, and resolves once it listens. Close it with `await using` or
 * `stop()`.
 *
 * @example
 * ```ts
 * await using exporter = await startExporter({ config: { targets: [{ url }] } });
 * const { text } = await exporter.get("/metrics");
 * ```
 */
export async function startExporter(options: StartExporterOptions = {}): Promise<Exporter> {
  const ownDir = options.config !== undefined && options.dir === undefined
    ? await Deno.makeTempDir({ prefix: "uptime-exporter-test-" })
    : undefined;
  const dir = options.dir ?? ownDir;
  const configFile = options.config !== undefined ? `${dir}/exporter.yaml` : undefined;
  const writeConfig = async (config: unknown) => {
    if (!configFile) throw new Error("startExporter: no config file (pass `config`)");
    await Deno.writeTextFile(`${configFile}.tmp`, stringifyYaml(config));
    await Deno.rename(`${configFile}.tmp`, configFile);
  };
  if (options.config !== undefined) await writeConfig(options.config);
  const child = new Deno.Command(Deno.execPath(), {
    args: exporterArgs([
      "--listen",
      "127.0.0.1:0",
      "--log-format",
      "json",
      "--log-level",
      "debug",
      ...(configFile ? ["--config", configFile] : []),
      ...(options.args ?? []),
    ]),
    cwd: ROOT,
    clearEnv: true,
    env: { ...baseEnv(), ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  let log = "";
  let rest = "";
  const reading = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({
      write(chunk) {
        log += chunk;
        const parts = (rest + chunk).split("\n");
        rest = parts.pop() ?? "";
        lines.push(...parts.filter(Boolean));
      },
      close() {
        if (rest) lines.push(rest);
      },
    }),
  );
  const stdout = child.stdout.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (log += chunk) }),
  );
  let status: Deno.CommandStatus | undefined;
  const exited = child.status.then(async (s) => {
    status = s;
    await Promise.allSettled([reading, stdout]);
    return s;
  });
  const cleanUp = () =>
    ownDir ? Deno.remove(ownDir, { recursive: true }).catch(() => {}) : undefined;
  let host: string;
  try {
    host = await waitFor("the exporter to listen", () => {
      if (status) throw new Error(`exited with ${status.code}:\n${log}`);
      for (const line of lines) {
        try {
          const record = JSON.parse(line);
          if (record.msg === "listening") return String(record.address);
        } catch { /* not JSON: Deno's own messages */ }
      }
      return undefined;
    }, { timeoutMs: options.startTimeoutMs ?? 30_000, everyMs: 20 });
  } catch (e) {
    if (!status) child.kill("SIGKILL");
    await exited;
    await cleanUp();
    throw e;
  }
  const url = `http://${host}`;
  const stop = async (signal: Deno.Signal = "SIGTERM", graceMs = 5000) => {
    if (!status) {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
    }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    url,
    host,
    pid: child.pid,
    child,
    lines,
    get log() {
      return log;
    },
    configFile,
    writeConfig,
    async get(path, init) {
      const res = await fetch(url + path, init);
      return { status: res.status, text: await res.text() };
    },
    async reload() {
      const res = await fetch(`${url}/-/reload`, { method: "POST" });
      return { status: res.status, body: await res.text() };
    },
    stop,
    async [Symbol.asyncDispose]() {
      await stop("SIGTERM");
      await cleanUp();
    },
  };
}

/** Names of the samples in a Prometheus text exposition. */
export function sampleNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    if (match) names.add(match[1]!);
  }
  return names;
}
