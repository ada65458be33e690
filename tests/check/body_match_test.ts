/**
 * Tests of lib/check/body_match.ts: RE2 semantics (as Go's regexp, which
 * blackbox_exporter uses) on bytes, the choice between inline and matcher,
 * and the matcher Workers' life: one match at a time, transferred bodies,
 * stopping a running match, idle termination, close. Each test closes the
 * matchers it started (the sanitizers would see a live Worker).
 */

import assert from "node:assert/strict";
import {
  closeBodyMatchers,
  compiledPattern,
  INLINE_COST_LIMIT,
  matchBody,
  type MatcherHandle,
  MatcherPool,
  type MatchError,
  mayNeedMatcher,
  startMatcherWorker,
} from "../../lib/check/body_match.ts";
import { type BodyPattern, parseBodyRegex } from "../../lib/config/body_regex.ts";
import type { Result } from "../../lib/util/result.ts";

const encoder = new TextEncoder();

function pattern(source: string): BodyPattern {
  const parsed = parseBodyRegex(source);
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
  return parsed.value;
}

/** Whether `source` matches `text`, inline and through a matcher (they must agree). */
async function matches(source: string, text: string | Uint8Array): Promise<boolean> {
  const bytes = typeof text === "string" ? encoder.encode(text) : text;
  const inline = compiledPattern(source).test(bytes);
  await using pool = disposable(new MatcherPool());
  // A copy: the matcher takes the buffer.
  const viaMatcher = await pool.pool.match(source, bytes.slice());
  assert.ok(viaMatcher.ok);
  assert.equal(viaMatcher.value, inline, `${source}: matcher and inline differ`);
  return inline;
}

function disposable(pool: MatcherPool): { pool: MatcherPool } & AsyncDisposable {
  return { pool, [Symbol.asyncDispose]: () => Promise.resolve(pool.close()) };
}

/** `n` random bytes of `a`/`b`, then `tail`: every byte makes a new DFA state for `a[ab]{k}c`. */
function abBody(n: number, tail = "c zz"): Uint8Array {
  const body = new Uint8Array(n + tail.length);
  for (let i = 0; i < n; i++) body[i] = Math.random() < 0.5 ? 97 : 98;
  body.set(encoder.encode(tail), n);
  return body;
}

/** Matches for seconds: 509 instructions over 1 MiB of a/b (~20 µs a byte). */
const COSTLY = "(a[ab]{500}c)|zz";

function assertAborted(
  result: Result<boolean, MatchError>,
  running: boolean,
): void {
  assert.deepEqual(result, { ok: false, error: { kind: "aborted", running } });
}

Deno.test("RE2 semantics on the body's UTF-8 bytes, as Go's regexp", async (t) => {
  await t.step("a literal JSON fragment", async () => {
    assert.equal(await matches('"status":"UP"', '{"status":"UP","db":"ok"}'), true);
    assert.equal(await matches('"status":"UP"', '{"status": "UP"}'), false);
    assert.equal(await matches('"status":\\s*"UP"', '{"status": "UP"}'), true);
  });
  await t.step("(?i) makes it case-insensitive", async () => {
    assert.equal(await matches("(?i)status.*up", "STATUS: Up"), true);
    assert.equal(await matches("status.*up", "STATUS: Up"), false);
  });
  await t.step(
    "anchors are the whole body unless (?m); $ is not before a final newline",
    async () => {
      assert.equal(await matches("^ok$", "ok"), true);
      assert.equal(await matches("^ok$", "ok\n"), false);
      assert.equal(await matches("^ok\\n?$", "ok\n"), true);
      assert.equal(await matches("^ok$", "status\nok\n"), false);
      assert.equal(await matches("\\Aok\\z", "ok"), true);
    },
  );
  await t.step("multi-line: (?m) anchors at lines, . stops at newlines unless (?s)", async () => {
    const body = "db: up\ncache: down\nqueue: up\n";
    assert.equal(await matches("(?m)^cache: down$", body), true);
    assert.equal(await matches("(?m)^cache: up$", body), false);
    assert.equal(await matches("db: up.*queue", body), false);
    assert.equal(await matches("(?s)db: up.*queue", body), true);
  });
  await t.step("UTF-8: characters, not bytes; classes and Unicode groups", async () => {
    assert.equal(await matches("^b.cher$", "bücher"), true);
    assert.equal(await matches("^\\p{Greek}+$", "αβγ"), true);
    assert.equal(await matches("(?i)ÜBER", "über"), true);
  });
  await t.step("invalid UTF-8 does not throw; each bad byte is one character", async () => {
    const body = new Uint8Array([0x6f, 0x6b, 0xff, 0xfe, 0x21]);
    assert.equal(await matches("^ok..!$", body), true);
    assert.equal(await matches("ok", body), true);
  });
  await t.step("leftmost-first, unanchored search like regexp.Match", async () => {
    assert.equal(await matches("a|ab", "xxab"), true);
    assert.equal(await matches("(?U)a+", "aaa"), true);
  });
});

Deno.test("the catastrophic ^(a+)+$ is linear: 1 MiB of a's and a '!' is a plain no", async () => {
  // JavaScript's RegExp took ~91 s on just 30 a's and a '!'.
  assert.equal(await matches("^(a+)+$", `${"a".repeat(30)}!`), false);
  const body = new Uint8Array(1024 * 1024 + 1).fill(97);
  body[body.length - 1] = 33;
  const start = performance.now();
  const result = await matchBody(pattern("^(a+)+$"), body);
  const ms = performance.now() - start;
  closeBodyMatchers();
  assert.deepEqual(result, { ok: true, value: false });
  // A generous bound (measured: 20–130 ms); the figure itself is in docs/hardening.md.
  assert.ok(ms < 5000, `${ms} ms`);
});

Deno.test("a small body is matched inline, a costly one by a matcher", async (t) => {
  const p = pattern('"status":"UP"');
  assert.equal(p.instructions, 15);
  const inlineMax = Math.floor(INLINE_COST_LIMIT / p.instructions);
  await using pool = disposable(new MatcherPool());

  await t.step("bytes × instructions within the limit: inline, no matcher started", async () => {
    const body = encoder.encode(`{"status":"UP"}`.padEnd(inlineMax, " "));
    assert.equal(body.byteLength, inlineMax);
    assert.deepEqual(await matchBody(p, body, { matchers: pool.pool }), { ok: true, value: true });
    assert.equal(pool.pool.started, 0);
    assert.equal(body.byteLength, inlineMax, "an inline body is left as it is");
  });
  await t.step("one byte more: a matcher, which takes the buffer (transferred)", async () => {
    const body = encoder.encode(`{"status":"UP"}`.padEnd(inlineMax + 1, " "));
    assert.deepEqual(await matchBody(p, body, { matchers: pool.pool }), { ok: true, value: true });
    assert.equal(pool.pool.started, 1);
    assert.equal(body.byteLength, 0, "transferred, not copied: the buffer is detached here");
  });
  await t.step("the matcher is reused for the next match", async () => {
    const body = encoder.encode(`{"status":"DOWN"}`.padEnd(inlineMax * 4, " "));
    assert.deepEqual(await matchBody(p, body, { matchers: pool.pool }), { ok: true, value: false });
    assert.equal(pool.pool.started, 1);
    assert.equal(pool.pool.size, 1);
  });
  await t.step("no matcher when nothing needs one: the shared pool starts none inline", () => {
    assert.equal(compiledPattern(p.source), compiledPattern(p.source), "compiled once");
  });
});

Deno.test("matchers: one match at a time each, a second one while the first is busy", async () => {
  await using pool = disposable(new MatcherPool({ maxMatchers: 2 }));
  const costly = pattern(COSTLY);
  const controller = new AbortController();
  const busy = matchBody(costly, abBody(1024 * 1024), {
    matchers: pool.pool,
    signal: controller.signal,
  });
  // While the first matcher is busy for seconds, a second one answers.
  const p = pattern("needle");
  const start = performance.now();
  const quick = await matchBody(p, encoder.encode("hay needle ".repeat(1000)), {
    matchers: pool.pool,
  });
  assert.deepEqual(quick, { ok: true, value: true });
  assert.equal(pool.pool.started, 2);
  assert.ok(performance.now() - start < 5000);
  controller.abort();
  assertAborted(await busy, true);
});

Deno.test("a running match is stopped by its signal: its matcher is terminated", async (t) => {
  await using pool = disposable(new MatcherPool({ maxMatchers: 1 }));
  const costly = pattern(COSTLY);

  await t.step("the signal stops a match of seconds at once", async () => {
    const signal = AbortSignal.timeout(300);
    const start = performance.now();
    const result = await matchBody(costly, abBody(1024 * 1024), { matchers: pool.pool, signal });
    const ms = performance.now() - start;
    assertAborted(result, true);
    assert.ok(ms >= 290 && ms < 2000, `${ms} ms`);
    assert.equal(pool.pool.size, 0, "the matcher was terminated");
  });
  await t.step(
    "a match queued behind it ends as 'not started' when its own signal fires",
    async () => {
      const controller = new AbortController();
      const running = matchBody(costly, abBody(1024 * 1024), {
        matchers: pool.pool,
        signal: controller.signal,
      });
      const waiting = matchBody(pattern("x"), new Uint8Array(INLINE_COST_LIMIT), {
        matchers: pool.pool,
        signal: AbortSignal.timeout(200),
      });
      assertAborted(await waiting, false);
      controller.abort();
      assertAborted(await running, true);
    },
  );
  await t.step("the next match gets a new matcher", async () => {
    const started = pool.pool.started;
    const body = encoder.encode("ok ".repeat(10_000));
    assert.deepEqual(await matchBody(pattern("ok"), body, { matchers: pool.pool }), {
      ok: true,
      value: true,
    });
    assert.equal(pool.pool.started, started + 1);
  });
  await t.step("an aborted signal before the start matches nothing", async () => {
    const signal = AbortSignal.abort();
    assertAborted(await matchBody(costly, abBody(10), { matchers: pool.pool, signal }), false);
  });
});

Deno.test("the caller's event loop keeps running during a long match", async () => {
  await using pool = disposable(new MatcherPool());
  // Starting a matcher holds the caller for ~20 ms (new Worker(), docs/hardening.md):
  // started first, so that what is measured is the match alone.
  const warm = await matchBody(pattern("ok"), encoder.encode("ok ".repeat(10_000)), {
    matchers: pool.pool,
  });
  assert.deepEqual(warm, { ok: true, value: true });
  const body = abBody(1024 * 1024);
  let last = performance.now();
  let worstGap = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    worstGap = Math.max(worstGap, now - last);
    last = now;
  }, 10);
  try {
    const result = await matchBody(pattern(COSTLY), body, {
      matchers: pool.pool,
      signal: AbortSignal.timeout(1500),
    });
    assertAborted(result, true);
  } finally {
    clearInterval(ticker);
  }
  assert.equal(pool.pool.started, 1, "the match ran in the warm matcher");
  // Inline, this match would hold the loop for ~20 s; generous for a shared machine.
  assert.ok(worstGap < 250, `the loop stalled ${worstGap.toFixed(0)} ms`);
});

Deno.test("an idle matcher is terminated; close() ends what is running or waiting", async (t) => {
  await t.step("idle for idleMs: terminated", async () => {
    await using pool = disposable(new MatcherPool({ idleMs: 100 }));
    const body = encoder.encode("ok ".repeat(10_000));
    assert.deepEqual(await matchBody(pattern("ok"), body, { matchers: pool.pool }), {
      ok: true,
      value: true,
    });
    assert.equal(pool.pool.size, 1);
    const deadline = performance.now() + 3000;
    while (pool.pool.size > 0 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(pool.pool.size, 0);
  });
  await t.step("close(): running and waiting matches end as aborted", async () => {
    const pool = new MatcherPool({ maxMatchers: 1 });
    const running = pool.match(COSTLY, abBody(1024 * 1024));
    const waiting = pool.match("x", new Uint8Array(100_000));
    // Let the first reach its matcher.
    await new Promise((r) => setTimeout(r, 50));
    pool.close();
    assertAborted(await running, true);
    assertAborted(await waiting, false);
    assert.equal(pool.size, 0);
  });
});

Deno.test("a matcher can serve another thread through a MessagePort it is given", async () => {
  // What a pool inside the checks' Worker would use: the main thread starts
  // the matcher (a Worker started from a Worker answers only after ~1 s) and
  // hands the pool one end of a channel.
  const spawn = (): MatcherHandle => {
    const worker = startMatcherWorker();
    const channel = new MessageChannel();
    (worker as unknown as Worker).postMessage({ port: channel.port2 }, [channel.port2]);
    return {
      postMessage: (message, transfer) => channel.port1.postMessage(message, transfer ?? []),
      get onmessage() {
        return channel.port1.onmessage;
      },
      set onmessage(handler) {
        channel.port1.onmessage = handler;
      },
      terminate() {
        channel.port1.close();
        worker.terminate();
      },
    };
  };
  await using pool = disposable(new MatcherPool({ spawn }));
  const body = encoder.encode(`${"hay ".repeat(10_000)}needle`);
  assert.deepEqual(await matchBody(pattern("needle$"), body, { matchers: pool.pool }), {
    ok: true,
    value: true,
  });
  assert.equal(body.byteLength, 0, "transferred through the port");
  assert.equal(pool.pool.started, 1);
});

Deno.test("warm(): a matcher started before it is needed, used by the first match", async () => {
  const p = pattern("needle$");
  assert.equal(mayNeedMatcher({ bodyRegex: p, bodyLimit: 1024 * 1024 }), true);
  assert.equal(
    mayNeedMatcher({ bodyRegex: p, bodyLimit: Math.floor(INLINE_COST_LIMIT / p.instructions) }),
    false,
  );
  assert.equal(mayNeedMatcher({ bodyLimit: 1024 * 1024 }), false);
  await using pool = disposable(new MatcherPool());
  pool.pool.warm();
  pool.pool.warm();
  assert.equal(pool.pool.size, 1);
  const body = encoder.encode(`${"hay ".repeat(10_000)}needle`);
  assert.deepEqual(await matchBody(p, body, { matchers: pool.pool }), { ok: true, value: true });
  assert.equal(pool.pool.started, 1, "the warm matcher did the match");
});
