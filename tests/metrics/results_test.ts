import assert from "node:assert/strict";
import { buildConfig } from "../../lib/config/validate.ts";
import type { ProbeResult } from "../../lib/check/outcome.ts";
import { ResultsStore } from "../../lib/metrics/results.ts";
import { probeResult } from "../_helpers/servers.ts";

const up = (ms: number): ProbeResult => probeResult({ durationMs: ms });
const down: ProbeResult = probeResult({ result: "timeout", statusCode: 0, durationMs: 10 });

Deno.test("results store", async (t) => {
  const config = buildConfig(
    "targets: [{url: 'http://a.test/'}, {url: 'http://b.test/'}]\nglobal: {histogram_buckets: [0.1, 1]}",
    {},
    { env: {} },
  );
  const store = new ResultsStore();
  store.applyConfig(config);
  const [a, b] = config.targets;

  await t.step("records counts and histogram buckets", () => {
    store.record(a!.key, up(50), 1);
    store.record(a!.key, up(500), 2);
    store.record(a!.key, up(5000), 3);
    const s = store.get(a!.key)!;
    assert.deepEqual(s.buckets, [1, 1, 1]);
    assert.equal(s.counts[0], 3);
    assert.ok(Math.abs(s.sumSeconds - 5.55) < 1e-9);
    assert.equal(s.lastCheckAt, 3);
  });
  await t.step("reports up/down changes, including the first check", () => {
    assert.deepEqual(store.record(b!.key, down, 4)?.wasUp, undefined);
    assert.equal(store.record(b!.key, down, 5), undefined);
    assert.equal(store.record(b!.key, up(1), 6)?.wasUp, false);
  });
  await t.step("certificate expiry is recorded by its own call and counts as a change", () => {
    const before = store.version;
    store.recordCertExpiry(a!.key, 1_800_000_000);
    assert.equal(store.get(a!.key)!.certExpiry, 1_800_000_000);
    assert.equal(store.version, before + 1);
    store.recordCertExpiry(a!.key, 1_800_000_000);
    assert.equal(store.version, before + 1, "the same expiry again is no change");
    store.recordCertExpiry("no such key", 1);
    assert.equal(store.version, before + 1, "unknown keys are ignored");
  });
  await t.step("readiness waits for every target", () => {
    assert.ok(store.allChecked());
    const more = buildConfig(
      "targets: [{url: 'http://a.test/'}, {url: 'http://c.test/'}]\nglobal: {histogram_buckets: [0.1, 1]}",
      {},
      { env: {} },
    );
    const before = store.get(a!.key);
    store.applyConfig(more);
    assert.equal(store.get(a!.key), before, "unchanged target keeps its state");
    assert.equal(store.get(b!.key), undefined, "removed target is dropped");
    assert.ok(!store.allChecked());
    assert.equal(
      store.record(b!.key, up(1), 7),
      undefined,
      "late results of removed targets are ignored",
    );
  });
  await t.step("new buckets reset histograms but keep counters", () => {
    const rebucketed = buildConfig(
      "targets: [{url: 'http://a.test/'}]\nglobal: {histogram_buckets: [0.5]}",
      {},
      { env: {} },
    );
    store.applyConfig(rebucketed);
    const s = store.get(a!.key)!;
    assert.deepEqual(s.buckets, [0, 0]);
    assert.equal(s.sumSeconds, 0);
    assert.equal(s.counts[0], 3);
    assert.equal(s.certExpiry, 1_800_000_000, "the certificate expiry is kept");
    store.recordCertExpiry(a!.key, undefined);
    assert.equal(store.get(a!.key)!.certExpiry, undefined);
  });
});
