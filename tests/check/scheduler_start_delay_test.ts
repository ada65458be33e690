/** The scheduler reports how late each check starts; the self metrics expose it. */
import assert from "node:assert/strict";
import * as FakeTimers from "@sinonjs/fake-timers";
import type { TargetConfig } from "../../lib/config/schema.ts";
import { Scheduler } from "../../lib/check/scheduler.ts";
import { SelfMetrics } from "../../lib/metrics/self_metrics.ts";

function fakeTarget(name: string, intervalMs = 1000): TargetConfig {
  return { key: name, displayUrl: name, intervalMs } as unknown as TargetConfig;
}

Deno.test("scheduler: onStart gets each check's start delay", async () => {
  const clock = FakeTimers.install({
    toFake: ["setTimeout", "clearTimeout", "performance", "Date"],
    now: 1_000_000,
  });
  try {
    const late: [string, number][] = [];
    let release: (() => void) | undefined;
    const s = new Scheduler(
      (target) =>
        target.key === "slow"
          ? new Promise<void>((resolve) => release = resolve)
          : Promise.resolve(),
      {
        maxConcurrent: 1,
        rampStepMs: 0,
        onStart: (target, lateMs) => late.push([target.key, lateMs]),
      },
    );
    s.setTargets([fakeTarget("slow", 10_000), fakeTarget("queued", 10_000)]);
    s.start();
    await clock.tickAsync(1);
    // "slow" started on time; "queued" waits for the only slot.
    assert.deepEqual(late, [["slow", 0]]);
    await clock.tickAsync(250);
    release!();
    await clock.tickAsync(0);
    assert.equal(late.length, 2);
    assert.equal(late[1]![0], "queued");
    assert.ok(Math.abs(late[1]![1] - 251) <= 1, `waited ~251 ms, got ${late[1]![1]}`);
    await s.stop();
  } finally {
    clock.uninstall();
  }
});

Deno.test("self metrics: check start delay histogram", async () => {
  const self = new SelfMetrics({
    version: "t",
    targets: () => 0,
    inFlight: () => 0,
    waiting: () => 0,
  });
  const before = self.version;
  self.checkStarted(0.4);
  self.checkStarted(30);
  self.checkStarted(-1);
  assert.equal(self.version, before, "sampled live: no re-render forced");
  const text = await self.registry.metrics();
  assert.match(text, /^uptime_exporter_check_start_delay_seconds_bucket\{le="0.001"\} 2$/m);
  assert.match(text, /^uptime_exporter_check_start_delay_seconds_bucket\{le="0.05"\} 3$/m);
  assert.match(text, /^uptime_exporter_check_start_delay_seconds_count 3$/m);
});
