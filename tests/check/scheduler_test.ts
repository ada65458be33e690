import assert from "node:assert/strict";
import * as FakeTimers from "@sinonjs/fake-timers";
import type { TargetConfig } from "../../lib/config/schema.ts";
import { Scheduler } from "../../lib/check/scheduler.ts";

function fakeTarget(name: string, intervalMs = 1000): TargetConfig {
  return { key: name, displayUrl: name, intervalMs } as unknown as TargetConfig;
}

type Clock = ReturnType<typeof FakeTimers.install>;

function withClock(fn: (clock: Clock) => Promise<void>) {
  return async () => {
    const clock = FakeTimers.install({
      toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "performance", "Date"],
      now: 1_000_000,
    });
    try {
      await fn(clock);
    } finally {
      clock.uninstall();
    }
  };
}

/** A check that records when it ran and takes `durationMs` (fake time). */
function recorder(durationMs: (t: TargetConfig) => number = () => 0) {
  const starts: Record<string, number[]> = {};
  let running = 0;
  let maxRunning = 0;
  const t0 = performance.now();
  const check = (target: TargetConfig, signal: AbortSignal) => {
    (starts[target.key] ??= []).push(Math.round(performance.now() - t0));
    running++;
    maxRunning = Math.max(maxRunning, running);
    return new Promise<void>((resolve) => {
      const id = setTimeout(done, durationMs(target));
      signal.addEventListener("abort", () => {
        clearTimeout(id);
        done();
      });
      function done() {
        running--;
        resolve();
      }
    });
  };
  return { check, starts, max: () => maxRunning };
}

Deno.test("scheduler", async (t) => {
  await t.step(
    "checks every interval from the start, at a fixed rate",
    withClock(async (clock) => {
      const r = recorder(() => 100);
      const s = new Scheduler(r.check);
      s.setTargets([fakeTarget("a", 1000)]);
      s.start();
      await clock.tickAsync(3500);
      await s.stop();
      assert.deepEqual(r.starts.a, [0, 1000, 2000, 3000]);
    }),
  );

  await t.step(
    "a few targets start at once; many are spread over their interval",
    withClock(async (clock) => {
      const few = recorder();
      const s1 = new Scheduler(few.check);
      s1.setTargets([fakeTarget("a", 10_000), fakeTarget("b", 10_000)]);
      s1.start();
      await clock.tickAsync(100);
      await s1.stop();
      assert.deepEqual([few.starts.a, few.starts.b], [[0], [25]]);

      const many = recorder();
      const s2 = new Scheduler(many.check, { maxConcurrent: 100_000 });
      s2.setTargets(Array.from({ length: 10_000 }, (_, i) => fakeTarget(`t${i}`, 10_000)));
      s2.start();
      await clock.tickAsync(10_000 - 1);
      const firsts = Object.values(many.starts).map((s) => s[0]!);
      assert.equal(firsts.length, 10_000, "every target checked within the first interval");
      const perSecond = new Array(10).fill(0);
      for (const f of firsts) perSecond[Math.floor(f / 1000)]++;
      assert.ok(perSecond.every((n) => n === 1000), `spread evenly: ${perSecond}`);
      await s2.stop();
    }),
  );

  await t.step(
    "a check that outlasts its interval makes the next ones skip, not queue",
    withClock(async (clock) => {
      const r = recorder(() => 2500);
      const skipped: string[] = [];
      const s = new Scheduler(r.check, { onSkip: (t) => skipped.push(t.key) });
      s.setTargets([fakeTarget("slow", 1000)]);
      s.start();
      await clock.tickAsync(4100);
      await s.stop();
      assert.deepEqual(r.starts.slow, [0, 3000]);
      assert.deepEqual(skipped, ["slow", "slow", "slow"]);
      assert.equal(r.max(), 1);
    }),
  );

  await t.step(
    "the in-flight limit bounds concurrent checks; waiting ones run when a slot frees",
    withClock(async (clock) => {
      const r = recorder(() => 300);
      const s = new Scheduler(r.check, { maxConcurrent: 2, rampStepMs: 0 });
      s.setTargets(["a", "b", "c", "d", "e"].map((k) => fakeTarget(k, 10_000)));
      s.start();
      await clock.tickAsync(1);
      assert.equal(s.inFlight, 2);
      assert.equal(s.waiting, 3);
      await clock.tickAsync(1000);
      await s.stop();
      assert.equal(r.max(), 2);
      assert.deepEqual(
        ["a", "b", "c", "d", "e"].map((k) => r.starts[k]),
        [[0], [0], [300], [300], [600]],
      );
    }),
  );

  await t.step(
    "new targets keep unchanged targets' schedule; removed targets stop",
    withClock(async (clock) => {
      const r = recorder();
      const s = new Scheduler(r.check);
      s.setTargets([fakeTarget("keep", 1000), fakeTarget("drop", 1000)]);
      s.start();
      await clock.tickAsync(1500);
      s.setTargets([fakeTarget("keep", 1000), fakeTarget("new", 1000)]);
      await clock.tickAsync(1000);
      await s.stop();
      assert.deepEqual(r.starts.keep, [0, 1000, 2000]);
      assert.deepEqual(r.starts.drop, [25, 1025]);
      assert.deepEqual(r.starts.new, [1500, 2500]);
    }),
  );

  await t.step(
    "stop aborts checks in flight and waits for them",
    withClock(async (clock) => {
      const r = recorder(() => 60_000);
      const s = new Scheduler(r.check);
      s.setTargets([fakeTarget("a", 120_000)]);
      s.start();
      await clock.tickAsync(10);
      assert.equal(s.inFlight, 1);
      await s.stop();
      assert.equal(s.inFlight, 0);
      await clock.tickAsync(200_000);
      assert.deepEqual(r.starts.a, [0]);
    }),
  );
});
