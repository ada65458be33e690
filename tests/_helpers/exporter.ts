/**
 * Helpers shared by tests/compile_flags_test.ts and tests/chart/chart_test.ts: the
 * compile task's permission flags read from deno.json, the exporter started
 * with exactly those flags through `deno run` (the closest this machine gets
 * to the compiled binary), a loopback target server, and polling.
 *
 * Every server listens on 127.0.0.1 with port 0 and is closed by its owner.
 *
 * @module
 */

import assert from "node:assert/strict";

/** The repository root, without a trailing slash. */
export const ROOT: string = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** deno.json as parsed JSON. */
export function denoJson(): { version: string; tasks: Record<string, string> } {
  return JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`));
}

/** The words of a deno.json task (tasks here use no quoting). */
export function taskWords(name: string): string[] {
  const task = denoJson().tasks[name];
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

/** Calls `fn` until it returns true; throws after `ms` with `what`. */
export async function until(
  what: string,
  fn: () => boolean | Promise<boolean>,
  ms = 10_000,
): Promise<void> {
  const deadline = performance.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      if (await fn()) return;
    } catch (e) {
      last = e;
    }
    if (performance.now() > deadline) {
      throw new Error(
        `timed out after ${ms} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

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

/** A running exporter process. */
export interface Exporter extends AsyncDisposable {
  /** http://127.0.0.1:PORT */
  base: string;
  pid: number;
  child: Deno.ChildProcess;
  /** stderr so far, one entry per line (JSON log lines). */
  lines: string[];
  get(path: string, init?: RequestInit): Promise<{ status: number; text: string }>;
  /** Sends `signal` and waits for the exit status. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/**
 * Starts main.ts with `deno run`, the compile task's permission flags and
 * `--no-prompt` (a missing permission throws instead of asking), listening on
 * 127.0.0.1 and a port the OS picks, logging JSON. Resolves once it listens.
 */
export async function startExporter(args: string[], env: Record<string, string> = {}): Promise<
  Exporter
> {
  // The child sees only what it needs: no UPTIME_EXPORTER_* from the caller.
  const baseEnv: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "DENO_DIR", "TMPDIR", "LANG"]) {
    const v = Deno.env.get(name);
    if (v !== undefined) baseEnv[name] = v;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      ...compilePermissionFlags(),
      `${ROOT}/main.ts`,
      "--listen",
      "127.0.0.1:0",
      "--log-format",
      "json",
      ...args,
    ],
    cwd: ROOT,
    clearEnv: true,
    env: { ...baseEnv, ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  let rest = "";
  const reading = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({
      write(chunk) {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop() ?? "";
        lines.push(...parts.filter(Boolean));
      },
      close() {
        if (rest) lines.push(rest);
      },
    }),
  );
  const stdout = child.stdout.pipeTo(new WritableStream());
  let status: Deno.CommandStatus | undefined;
  const exited = child.status.then(async (s) => {
    status = s;
    await Promise.allSettled([reading, stdout]);
    return s;
  });
  let base = "";
  try {
    await until("the exporter to listen", () => {
      if (status) throw new Error(`exited with ${status.code}:\n${lines.join("\n")}`);
      for (const line of lines) {
        try {
          const record = JSON.parse(line);
          if (record.msg === "listening") {
            base = `http://${record.address}`;
            return true;
          }
        } catch { /* not JSON: Deno's own messages */ }
      }
      return false;
    }, 30_000);
  } catch (e) {
    if (!status) child.kill("SIGKILL");
    await exited;
    throw e;
  }
  const stop = async (signal: Deno.Signal = "SIGTERM") => {
    if (!status) {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
    }
    return await exited;
  };
  return {
    base,
    pid: child.pid,
    child,
    lines,
    async get(path, init) {
      const res = await fetch(base + path, init);
      return { status: res.status, text: await res.text() };
    },
    stop,
    async [Symbol.asyncDispose]() {
      if (!status) {
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* gone */ }
        }, 5000);
        await stop("SIGTERM");
        clearTimeout(timer);
      }
      await exited;
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
