/**
 * Figures behind lib/check/body_match.ts (`deno run --allow-all bench/body_match.ts`):
 * re2js against hostile bodies, the worst inline match at INLINE_COST_LIMIT,
 * what a matcher Worker costs to start (from the main thread and from inside
 * a Worker), its round trip and its memory. Prints a table; asserts nothing.
 * docs/hardening.md quotes one run.
 *
 * @module
 */

import { RE2JS } from "re2js";
import { INLINE_COST_LIMIT, MatcherPool, startMatcherWorker } from "../lib/check/body_match.ts";

const MiB = 1024 * 1024;
const encoder = new TextEncoder();
const rows: [string, string][] = [];
const row = (what: string, figure: string) => {
  rows.push([what, figure]);
  console.log(`${what.padEnd(72)} ${figure}`);
};

function time(fn: () => unknown): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

/** `n` random a/b bytes then `c zz`: `a[ab]{k}c` builds a new DFA state for most bytes. */
function abBody(n: number): Uint8Array {
  const body = new Uint8Array(n + 4);
  for (let i = 0; i < n; i++) body[i] = Math.random() < 0.5 ? 97 : 98;
  body.set(encoder.encode("c zz"), n);
  return body;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// 1. The catastrophic pattern: JavaScript's RegExp doubles per 'a', re2js is linear.
for (const n of [20, 22, 24, 26]) {
  const text = `${"a".repeat(n)}!`;
  row(`JS RegExp /^(a+)+$/ on ${n} a's + '!'`, `${time(() => /^(a+)+$/.test(text)).toFixed(1)} ms`);
}
{
  const re = RE2JS.compile("^(a+)+$");
  const body = new Uint8Array(MiB + 1).fill(97);
  body[MiB] = 33;
  const runs = Array.from({ length: 5 }, () => time(() => re.test(body)));
  row(
    "re2js ^(a+)+$ on 1 MiB of a's + '!' (first / median of 5)",
    `${runs[0]!.toFixed(1)} / ${median(runs).toFixed(1)} ms`,
  );
  const small = `${"a".repeat(30)}!`;
  row("re2js ^(a+)+$ on 30 a's + '!'", `${time(() => re.test(small)).toFixed(3)} ms`);
}

// 2. Worst inline match: a fresh hostile body at exactly the inline limit, per program size.
for (const k of [1, 20, 100, 500]) {
  const source = k === 1 ? "^(a+)+$" : `(a[ab]{${k}}c)|zz`;
  const re = RE2JS.compile(source);
  const bytes = Math.floor(INLINE_COST_LIMIT / re.programSize());
  const runs = Array.from({ length: 20 }, () => {
    const body = abBody(Math.max(0, bytes - 4));
    return time(() => re.test(body));
  });
  row(
    `inline worst: ${source} (${re.programSize()} instructions), ${bytes} bytes, max of 20`,
    `${Math.max(...runs).toFixed(2)} ms`,
  );
}
for (const kib of [16]) {
  const re = RE2JS.compile("(a[ab]{20}c)|zz");
  const runs = Array.from({ length: 5 }, () => {
    const body = abBody(kib * 1024);
    return time(() => re.test(body));
  });
  row(
    `why not 16 KiB inline: (a[ab]{20}c)|zz (29 instructions) on ${kib} KiB, max of 5`,
    `${Math.max(...runs).toFixed(1)} ms`,
  );
}
{
  const re = RE2JS.compile("(a[ab]{500}c)|zz");
  const body = abBody(16 * 1024);
  const ms = time(() => re.test(body));
  row(
    "costly (a[ab]{500}c)|zz (509 instructions) on 16 KiB: µs per byte",
    `${(ms * 1000 / body.byteLength).toFixed(1)} µs`,
  );
}

// 3. Matchers: start cost on the caller, first answer, round trip, memory.
{
  const rssBefore = Deno.memoryUsage().rss;
  const starts: number[] = [];
  const firstReplies: number[] = [];
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    const worker = startMatcherWorker();
    starts.push(performance.now() - start);
    await new Promise<void>((resolve) => {
      worker.onmessage = () => resolve();
      worker.postMessage({ source: "ok", body: encoder.encode("ok") });
    });
    firstReplies.push(performance.now() - start);
    if (i === 0) {
      // After matching 1 MiB, so that the matcher's heap has grown as in use.
      const big = abBody(MiB);
      await new Promise<void>((resolve) => {
        worker.onmessage = () => resolve();
        worker.postMessage({ source: "a[ab]{8}c", body: big }, [big.buffer as ArrayBuffer]);
      });
      row(
        "RSS added by one matcher Worker after a 1 MiB match",
        `${((Deno.memoryUsage().rss - rssBefore) / MiB).toFixed(0)} MiB`,
      );
    }
    worker.terminate();
  }
  row(
    "new Worker() of a matcher, time the caller is held (1st, 2nd, 3rd)",
    starts.map((ms) => ms.toFixed(1)).join(", ") + " ms",
  );
  row(
    "matcher started from the main thread: first answer after",
    firstReplies.map((ms) => ms.toFixed(0)).join(", ") + " ms",
  );
}
{
  // A Worker that starts a matcher, as a pool inside the checks' Worker would.
  const code = `
    self.onmessage = async () => {
      const start = performance.now();
      const w = new Worker(${
    JSON.stringify(new URL("../lib/check/body_match_worker.ts", import.meta.url).href)
  }, { type: "module" });
      await new Promise((r) => { w.onmessage = r; w.postMessage({ source: "ok", body: new Uint8Array(2) }); });
      w.terminate();
      self.postMessage(performance.now() - start);
    };`;
  const outer = new Worker(`data:application/javascript,${encodeURIComponent(code)}`, {
    type: "module",
  });
  const nested = await new Promise<number>((resolve) => {
    outer.onmessage = (e) => resolve(e.data);
    outer.postMessage("go");
  });
  outer.terminate();
  row("matcher started from inside a Worker: first answer after", `${nested.toFixed(0)} ms`);
}
{
  const pool = new MatcherPool();
  const body = () => encoder.encode(`${"hay ".repeat(16 * 1024)}needle`);
  await pool.match("needle$", body());
  const runs: number[] = [];
  for (let i = 0; i < 20; i++) {
    const b = body();
    const start = performance.now();
    await pool.match("needle$", b);
    runs.push(performance.now() - start);
  }
  pool.close();
  row(
    "matcher round trip, 64 KiB body transferred (median of 20)",
    `${median(runs).toFixed(2)} ms`,
  );
}
