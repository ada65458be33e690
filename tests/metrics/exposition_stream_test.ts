/**
 * The streamed exposition writer at a size where a render spans many slices
 * and event-loop turns, and the bounded-staleness cache (maxStaleMs).
 */
import assert from "node:assert/strict";
import { promtoolCheckMetrics } from "../_helpers/promtool.ts";
import { gunzipSync } from "node:zlib";
import { CHECK_RESULTS } from "../../lib/check/classify.ts";
import { buildConfig } from "../../lib/config/validate.ts";
import { TargetExposition } from "../../lib/metrics/exposition.ts";
import { Exposition } from "../../lib/metrics/exposition_cache.ts";
import { SelfMetrics } from "../../lib/metrics/self_metrics.ts";
import { expositionFor, probeResult } from "../_helpers/servers.ts";

function setup(n: number, options: { maxStaleMs?: number } = {}) {
  const lines = ["global: {histogram_buckets: [0.005, 0.1, 1, 2.5]}", "targets:"];
  for (let i = 0; i < n; i++) {
    lines.push(
      `  - url: http${i % 2 ? "s" : ""}://h${i}.test/p?q=${i}`,
      `    labels: {team: "t\\"${i}\\n", zone: "ü${i % 7}"}`,
    );
  }
  const config = buildConfig(lines.join("\n"), {}, { env: {} });
  const { store, self, exposition, advance } = expositionFor(config, options);
  let seed = 7;
  const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const record = (every = 1) => {
    config.targets.forEach((t, i) => {
      if (i % every !== 0) return;
      const result = CHECK_RESULTS[Math.floor(rnd() * CHECK_RESULTS.length)]!;
      const r = probeResult({
        result,
        statusCode: Math.floor(rnd() * 600),
        durationMs: rnd() * 3000,
      });
      store.recordCertExpiry(t.key, i % 2 ? Math.floor(1.7e9 + rnd() * 1e8) : undefined);
      store.record(t.key, r, 1.7e12 + Math.floor(rnd() * 1e9));
    });
  };
  return { store, self, exposition, record, advance };
}

Deno.test("a large exposition streams through gzip intact and parses", async () => {
  const { store, exposition, record } = setup(3000);
  record(3); // a third checked: the rest have counters but no gauges
  record();
  const body = await exposition.body();
  const gz = await body.gzip();
  const text = new TextDecoder().decode(gunzipSync(gz));
  assert.equal(body.text, text);
  assert.equal(body.plainBytes, body.bytes.byteLength);
  assert.ok(gz.byteLength < body.plainBytes / 5, "gzip shrinks the text");
  // The per-target part is exactly what the one-string writer makes.
  const targets = new TargetExposition().render(store, "sample_external_url");
  assert.ok(text.startsWith(targets), "streamed text equals the one-string render");
  assert.match(text.slice(targets.length), /^# HELP uptime_exporter_/);
  assert.equal(
    text.split("\n").filter((l) => l.startsWith("sample_external_url_checks_total{")).length,
    3000 * CHECK_RESULTS.length,
  );

  const { findings } = await promtoolCheckMetrics(body.bytes);
  for (const line of findings) {
    assert.match(line, /^sample_external_url_response_ms .*unit/i, `promtool: ${line}`);
  }
});

Deno.test("a render lets network I/O progress (checks in flight are not timed late)", async () => {
  const { exposition, record } = setup(6000);
  record();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("ok"),
  );
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  try {
    let rendered = false;
    const rendering = exposition.body().then(() => rendered = true);
    // Let the render start, then fetch while it runs.
    await new Promise((resolve) => setTimeout(resolve, 1));
    let fetchedDuringRender = 0;
    for (let i = 0; i < 5 && !rendered; i++) {
      const res = await fetch(`http://127.0.0.1:${server.addr.port}/`, { client });
      await res.body?.cancel();
      if (!rendered) fetchedDuringRender++;
    }
    await rendering;
    assert.ok(fetchedDuringRender > 0, "a fetch completed while the render ran");
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("maxStaleMs bounds renders while results keep changing", async (t) => {
  await t.step("0 (default): every scrape after a change gets a fresh render", async () => {
    const { exposition, record } = setup(10);
    await exposition.body();
    record();
    await exposition.body();
    assert.equal(exposition.staleWindowMs, 0);
    assert.equal(exposition.renders, 2);
  });
  await t.step(
    "above 0: stale within the window, refreshed in the background up to twice it, fresh after",
    async () => {
      const { exposition, record, advance } = setup(2000, { maxStaleMs: 60_000 });
      record();
      const first = await exposition.body();
      const window = exposition.staleWindowMs;
      assert.ok(window > 0 && window <= 60_000, `window ${window}`);

      record();
      advance(window / 2);
      assert.equal(await exposition.body(), first, "inside the window: the cached body");
      assert.equal(exposition.renders, 1);

      advance(window); // now 1.5 windows old
      assert.equal(await exposition.body(), first, "served at once while the next one renders");
      await new Promise((resolve) => setTimeout(resolve, 0));
      for (let i = 0; i < 1000 && exposition.renders < 2; i++) {
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      assert.equal(exposition.renders, 2, "rendered in the background");
      const second = await exposition.body();
      assert.notEqual(second, first);

      record();
      advance(exposition.staleWindowMs * 2 + 1);
      const third = await exposition.body();
      assert.notEqual(third, second, "too old: waits for a fresh render");
      assert.equal(exposition.renders, 3);
    },
  );
  await t.step("a new prefix is never served stale", async () => {
    let prefix = "a";
    const { store } = setup(1);
    const self = new SelfMetrics({
      version: "t",
      targets: () => 1,
      inFlight: () => 0,
      waiting: () => 0,
    });
    const exposition = new Exposition(store, self, { prefix: () => prefix, maxStaleMs: 60_000 });
    assert.match((await exposition.body()).text, /^# HELP a_up /m);
    prefix = "b";
    assert.match((await exposition.body()).text, /^# HELP b_up /m);
  });
});

Deno.test("maxStaleMs never hides a reload or a new target list", async () => {
  const { store, self, exposition, record, advance } = setup(200, { maxStaleMs: 60_000 });
  record();
  await exposition.body();
  record();
  advance(1);
  self.reloaded(false, 0);
  assert.match(
    (await exposition.body()).text,
    /^uptime_exporter_config_last_reload_successful 0$/m,
  );
  record();
  advance(1);
  store.applyConfig(buildConfig("targets: [{url: 'http://only.test/'}]", {}, { env: {} }));
  const text = (await exposition.body()).text;
  assert.match(text, /only\.test/);
  assert.doesNotMatch(text, /h1\.test/);
});
