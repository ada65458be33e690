/**
 * /probe wired into the app: the route, its self-metrics, reload swapping
 * the probe settings with the rest, and the one in-flight limit
 * (`max_concurrent_checks`) shared by background and on-demand checks.
 */

import assert from "node:assert/strict";
import { testApp } from "./_helpers/app.ts";
import { parseMetrics } from "./_helpers/hostile_server.ts";
import { hangingServer, serve } from "./_helpers/servers.ts";
import { until } from "./_helpers/wait.ts";

async function makeApp(initial: string) {
  const test = await testApp(initial, { logLevel: "error" });
  return { test, app: test.app, get: test.get, setYaml: (y: string) => test.writeConfig(y) };
}

Deno.test("app: /probe is off until the config enables it, and reloads with it", async (t) => {
  await using server = serve(() => new Response("ok\n"));
  const off = `targets: [${server.url}/bg]\n`;
  const on = `${off}probe:\n  enabled: true\n  allowed_targets: [127.0.0.1]\n  modules:\n` +
    `    http_2xx: {prober: http}\n`;
  const { test, app, get, setYaml } = await makeApp(off);
  await app.start();
  try {
    const probeUrl = `/probe?module=http_2xx&target=${encodeURIComponent(`${server.url}/x`)}`;
    await t.step("disabled: 404 with the reason", async () => {
      const res = await get(probeUrl);
      assert.equal(res.status, 404);
      assert.match(res.text, /^\/probe is disabled/);
    });
    await t.step("POST is not a probe", async () => {
      assert.equal((await get(probeUrl, { method: "POST" })).status, 405);
    });
    await t.step("enabled by a reload: the check runs", async () => {
      await setYaml(on);
      assert.ok((await app.reload()).ok);
      const res = await get(probeUrl);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
      assert.equal(parseMetrics(res.text).get("probe_success"), 1);
    });
    await t.step("self-metrics count checks by module and result, refusals by reason", async () => {
      await get(`/probe?target=${encodeURIComponent("http://127.0.0.2:9/")}`);
      const m = parseMetrics((await get("/metrics")).text);
      assert.equal(m.get('uptime_exporter_probe_requests_total{module="http_2xx",result="up"}'), 1);
      assert.equal(m.get('uptime_exporter_probe_refused_total{reason="not_allowed"}'), 1);
      assert.equal(m.get('uptime_exporter_probe_refused_total{reason="disabled"}'), 1);
      assert.equal(m.get('uptime_exporter_probe_refused_total{reason="metadata"}'), 0);
    });
    await t.step("disabled again by a reload", async () => {
      await setYaml(off);
      assert.ok((await app.reload()).ok);
      assert.equal((await get(probeUrl)).status, 404);
    });
  } finally {
    await test[Symbol.asyncDispose]();
  }
});

Deno.test("app: background and on-demand checks share max_concurrent_checks", async (t) => {
  await using hang = hangingServer();
  await using server = serve(() => new Response("ok\n"));
  const { test, app, get } = await makeApp(`
global: {max_concurrent_checks: 1}
defaults: {interval: 3s, timeout: 2500ms}
targets: [${hang.url}/background]
probe:
  enabled: true
  allowed_targets: [127.0.0.1]
  modules:
    http_2xx: {prober: http}
    slow: {prober: http, timeout: 1500ms}
`);
  try {
    await app.start();
    await until(() => app.stats.inFlight === 1, 5000, "the background check to start");
    await t.step("a probe waits for the busy slot and times out waiting", async () => {
      const started = performance.now();
      const res = await get(`/probe?target=${encodeURIComponent(`${server.url}/`)}`, {
        headers: { "x-prometheus-scrape-timeout-seconds": "1" },
      });
      const took = performance.now() - started;
      const m = parseMetrics(res.text);
      assert.equal(m.get("probe_success"), 0, res.text);
      assert.equal(m.get('probe_result{result="timeout"}'), 1);
      assert.ok(took >= 450 && took < 2000, `gave up after ${took} ms, want about 500`);
    });
    await t.step("it runs once the background check frees the slot", async () => {
      const res = await get(`/probe?target=${encodeURIComponent(`${server.url}/`)}`, {
        headers: { "x-prometheus-scrape-timeout-seconds": "10" },
      });
      assert.equal(parseMetrics(res.text).get("probe_success"), 1, res.text);
    });
    await t.step("while a probe holds the slot, the background check waits", async () => {
      await until(() => app.stats.inFlight === 0, 5000, "the background check to end");
      const probing = get(`/probe?module=slow&target=${encodeURIComponent(`${hang.url}/probe`)}`);
      await until(() => app.stats.waiting === 1, 5000, "the background check to wait");
      const m = parseMetrics((await get("/metrics")).text);
      assert.equal(m.get("uptime_exporter_checks_in_flight"), 1, "the probe counts as in flight");
      assert.equal(app.stats.inFlight, 0);
      await probing;
      await until(() => app.stats.inFlight === 1, 5000, "the background check to start");
    });
  } finally {
    await test[Symbol.asyncDispose]();
  }
});
