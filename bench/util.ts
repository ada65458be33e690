/**
 * Helpers of the benchmark: /proc sampling, percentiles, child processes that
 * are always killed, free ports.
 *
 * @module
 */

import { freePort } from "../tests/_helpers/servers.ts";

/** A free TCP port on 127.0.0.1 (the tests' helper: one copy). */
export { freePort };

/** Clock ticks per second of /proc/PID/stat times (USER_HZ; 100 on Linux). */
const CLK_TCK = 100;

/** CPU seconds (user + system, all threads) and RSS bytes of a process, from /proc. */
export interface ProcSample {
  cpuSeconds: number;
  rssBytes: number;
  /** When sampled, `performance.now()` ms. */
  at: number;
}

/** Reads utime+stime from /proc/PID/stat and VmRSS from /proc/PID/status. */
export function readProc(pid: number): ProcSample | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name (which may hold spaces) start at "state" (field 3).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    return {
      cpuSeconds: (utime + stime) / CLK_TCK,
      rssBytes: rss ? Number(rss[1]) * 1024 : 0,
      at: performance.now(),
    };
  } catch {
    return undefined;
  }
}

/** CPU seconds the whole machine spent busy (all cores), from /proc/stat. */
export function machineBusySeconds(): number {
  let line: string;
  try {
    line = Deno.readTextFileSync("/proc/stat").split("\n")[0]!;
  } catch {
    return NaN;
  }
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!;
  return busy / CLK_TCK;
}

/**
 * GET over a fresh connection without decompressing: ms until the last byte
 * arrived and bytes received (headers included). Measures the server, not a
 * client's gunzip.
 */
export async function rawGet(
  port: number,
  path: string,
  gzip: boolean,
): Promise<{ ms: number; bytes: number; status: number }> {
  const t = performance.now();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: ${
          gzip ? "gzip" : "identity"
        }\r\nConnection: close\r\n\r\n`,
      ),
    );
    const buf = new Uint8Array(1 << 16);
    let bytes = 0;
    let head = "";
    for (let i = 0; i < 1_000_000; i++) {
      const n = await conn.read(buf);
      if (n === null) break;
      if (head.length < 16) head += new TextDecoder().decode(buf.subarray(0, Math.min(n, 16)));
      bytes += n;
    }
    return { ms: performance.now() - t, bytes, status: Number(head.slice(9, 12)) };
  } finally {
    conn.close();
  }
}

/**
 * A kept-alive HTTP/1.1 connection for repeated GETs (like a Prometheus
 * scraper), reading raw bytes: no client-side gunzip in the timing.
 */
export class RawClient {
  readonly #port: number;
  #conn?: Deno.Conn;
  #buf = new Uint8Array(1 << 20);
  #pending = new Uint8Array(0);

  constructor(port: number) {
    this.#port = port;
  }

  /** ms until the last body byte arrived, body bytes, and status. */
  async get(path: string, gzip: boolean): Promise<{ ms: number; bytes: number; status: number }> {
    const t = performance.now();
    this.#conn ??= await Deno.connect({ hostname: "127.0.0.1", port: this.#port });
    const conn = this.#conn;
    await conn.write(
      new TextEncoder().encode(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: ${
          gzip ? "gzip" : "identity"
        }\r\n\r\n`,
      ),
    );
    // Headers
    let head = this.#pending;
    let end = -1;
    for (let i = 0; i < 10_000 && end < 0; i++) {
      end = indexOfCrlfCrlf(head);
      if (end >= 0) break;
      const n = await conn.read(this.#buf);
      if (n === null) throw new Error("connection closed in headers");
      const next = new Uint8Array(head.length + n);
      next.set(head);
      next.set(this.#buf.subarray(0, n), head.length);
      head = next;
    }
    const headers = new TextDecoder().decode(head.subarray(0, end));
    const status = Number(headers.slice(9, 12));
    const length = Number(/content-length:\s*(\d+)/i.exec(headers)?.[1] ?? 0);
    let got = head.length - (end + 4);
    let rest = new Uint8Array(0);
    if (got > length) {
      rest = head.slice(end + 4 + length);
      got = length;
    }
    for (let i = 0; i < 10_000_000 && got < length; i++) {
      const n = await conn.read(this.#buf);
      if (n === null) throw new Error("connection closed in body");
      if (got + n > length) rest = this.#buf.slice(length - got, n);
      got = Math.min(length, got + n);
    }
    this.#pending = rest;
    return { ms: performance.now() - t, bytes: length, status };
  }

  close(): void {
    try {
      this.#conn?.close();
    } catch { /* closed */ }
    this.#conn = undefined;
  }
}

function indexOfCrlfCrlf(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

/** p50/p99/max (and count) of a list of numbers. */
export interface Percentiles {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles; all zeros for an empty list. */
export function percentiles(values: ArrayLike<number>): Percentiles {
  const n = values.length;
  if (n === 0) return { n: 0, p50: 0, p90: 0, p99: 0, max: 0, mean: 0 };
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) => sorted[Math.min(n - 1, Math.ceil(q * n) - 1)]!;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  return { n, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[n - 1]!, mean: sum / n };
}

/** Sleeps `ms`, or less when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, Math.max(0, ms));
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** A child process that is killed when the benchmark ends, whatever happens. */
export interface Child {
  name: string;
  pid: number;
  process: Deno.ChildProcess;
  /** Exit code once it exited. */
  exitCode?: number;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it exited. */
  stop(graceMs?: number): Promise<void>;
}

const children = new Set<Child>();

/** Spawns a command with stdin piped (closing it tells our own servers to exit). */
export function spawn(
  name: string,
  cmd: string,
  args: string[],
  options: { stdout?: "piped" | "null"; stderrFile?: string; env?: Record<string, string> } = {},
): Child {
  const process = new Deno.Command(cmd, {
    args,
    stdin: "piped",
    stdout: options.stdout ?? "null",
    stderr: options.stderrFile ? "piped" : "null",
    env: options.env,
  }).spawn();
  if (options.stderrFile) {
    const file = Deno.openSync(options.stderrFile, { write: true, create: true, truncate: true });
    process.stderr.pipeTo(file.writable).catch(() => {});
  }
  let stopping: Promise<void> | undefined;
  const child: Child = {
    name,
    pid: process.pid,
    process,
    stop(graceMs = 2000) {
      stopping ??= (async () => {
        try {
          await process.stdin.close();
        } catch { /* already closed */ }
        try {
          process.kill("SIGTERM");
        } catch { /* already gone */ }
        const killer = setTimeout(() => {
          try {
            process.kill("SIGKILL");
          } catch { /* already gone */ }
        }, graceMs);
        await process.status;
        clearTimeout(killer);
        children.delete(child);
      })();
      return stopping;
    },
  };
  process.status.then((s) => child.exitCode = s.code);
  children.add(child);
  return child;
}

/** Kills every child still running (on error, on Ctrl-C, at the end). */
export async function stopAll(): Promise<void> {
  await Promise.allSettled([...children].map((c) => c.stop(1000)));
}

/** Reads stdout lines until one matches; throws after `timeoutMs`. */
export async function waitForLine(
  child: Child,
  re: RegExp,
  timeoutMs: number,
): Promise<RegExpExecArray> {
  const reader = child.process.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const deadline = performance.now() + timeoutMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    while (performance.now() < deadline) {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${child.name}: no line matching ${re}`)),
          deadline - performance.now(),
        );
      });
      const { done, value } = await Promise.race([reader.read(), timeout]);
      clearTimeout(timer);
      if (done) break;
      buffered += value;
      const m = re.exec(buffered);
      if (m) {
        // Keep draining so the child never blocks on a full pipe.
        (async () => {
          try {
            while (!(await reader.read()).done) { /* discard */ }
          } catch { /* closed */ }
        })();
        return m;
      }
    }
  } finally {
    clearTimeout(timer);
  }
  throw new Error(`${child.name}: exited or timed out before printing ${re}`);
}

/** Polls `url` until it answers 200; returns ms from `since` to that answer. */
export async function waitForHttp(
  url: string,
  since: number,
  timeoutMs: number,
  everyMs = 5,
  child?: Child,
): Promise<number> {
  const deadline = since + timeoutMs;
  while (performance.now() < deadline) {
    if (child?.exitCode !== undefined) {
      throw new Error(`${child.name} exited with code ${child.exitCode}`);
    }
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      if (res.ok) return performance.now() - since;
    } catch { /* not up yet */ }
    await sleep(everyMs);
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

/** Formats a number with `d` decimals, or "-" when undefined/NaN. */
export function fmt(value: number | undefined, d = 1): string {
  return value === undefined || !Number.isFinite(value) ? "-" : value.toFixed(d);
}
