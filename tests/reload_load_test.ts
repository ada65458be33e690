/**
 * Reload under load: 100 reloads while 1,000 targets are being checked. The
 * unchanged targets keep every series and their counters never go back; the
 * changing target comes and goes; nothing leaks (every connection closed,
 * the store and the scheduler hold exactly the configured targets).
 */

import assert from "node:assert/strict";
import { testApp } from "./_helpers/app.ts";
import { hostileServer, parseMetrics } from "./_helpers/hostile_server.ts";
import { until } from "./_helpers/wait.ts";

const TARGETS = 1000;
const RELOADS = 100;
const INTERVAL_MS = 2000;

Deno.test("100 reloads while 1,000 targets are checked lose no series and leak nothing", async (t) => {
  await using server = hostileServer();
  const stable = Array.from({ length: TARGETS }, (_, i) => `${server.url}/ok?i=${i}`);
  const configFor = (n: number): string =>
    JSON.stringify({
      defaults: { interval: `${INTERVAL_MS}ms`, timeout: "1s" },
      targets: [
        ...stable.map((url) => ({ url })),
        // One target changes with every reload: added, changed, removed.
        { url: `${server.url}/ok?changing`, labels: { generation: String(n % 3) } },
      ],
    });
  await using test = await testApp(configFor(0), { logLevel: "warn" });
  const { app } = test;
  const prefix = "sample_external_url";
  const totals = async () => {
    const res = await app.handler(new Request("http://exporter/metrics"));
    const samples = parseMetrics(await res.text());
    const perTarget = new Map<string, number>();
    for (const url of stable) {
      let sum = 0;
      let present = samples.has(`${prefix}_up{url="${url}"}`);
      for (const r of ["up", "status", "timeout", "connect", "error"]) {
        const v = samples.get(`${prefix}_checks_total{url="${url}",result="${r}"}`);
        if (v === undefined) present = false;
        sum += v ?? 0;
      }
      perTarget.set(url, present ? sum : -1);
    }
    return { perTarget, samples };
  };

  {
    await app.start();
    // Every stable target checked once (the first checks are spread over one interval).
    await until(() => app.store.allChecked(), 3 * INTERVAL_MS + 5000);
    let previous = (await totals()).perTarget;
    const first = previous;
    const start = performance.now();
    let lost = 0;
    let wentBack = 0;
    for (let i = 1; i <= RELOADS; i++) {
      await test.writeConfig(configFor(i));
      const reloaded = await app.reload();
      assert.ok(reloaded.ok, reloaded.ok ? "" : reloaded.error);
      const { perTarget, samples } = await totals();
      for (const url of stable) {
        const now = perTarget.get(url)!;
        if (now < 0) lost++;
        else if (now < previous.get(url)!) wentBack++;
      }
      const changing = [...samples.keys()].filter((k) =>
        k.startsWith(`${prefix}_checks_total{url="${server.url}/ok?changing"`)
      );
      // Only the current generation's series (the old one went with its target).
      assert.ok(changing.every((k) => k.includes(`generation="${i % 3}"`)), changing.join());
      previous = perTarget;
      await new Promise((r) => setTimeout(r, 30));
    }
    const elapsed = performance.now() - start;
    await t.step(`no series of an unchanged target was lost (${RELOADS} reloads)`, () => {
      assert.equal(lost, 0);
    });
    await t.step("no counter went back", () => assert.equal(wentBack, 0));
    await t.step(
      `unchanged targets kept their schedule (${(elapsed / 1000).toFixed(1)} s of reloads)`,
      () => {
        const expected = elapsed / INTERVAL_MS;
        for (const url of stable) {
          const done = previous.get(url)! - first.get(url)!;
          assert.ok(
            Math.abs(done - expected) <= expected * 0.1 + 1,
            `${url}: ${done} checks, ${expected.toFixed(1)} expected`,
          );
        }
      },
    );
    await t.step("the store holds exactly the configured targets", () => {
      assert.equal(app.store.states.length, TARGETS + 1);
    });
  }
  await app.stop();
  await t.step("every connection the checks opened was closed", async () => {
    await until(() => server.open === 0, 5000);
    assert.ok(server.accepted > TARGETS * 2);
  });
});
