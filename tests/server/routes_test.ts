import assert from "node:assert/strict";
import { err, ok } from "../../lib/util/result.ts";
import { buildConfig } from "../../lib/config/validate.ts";
import { Exposition } from "../../lib/metrics/exposition_cache.ts";
import { createHandler, isOpenPath, ROUTES } from "../../lib/server/routes.ts";
import type { ProbeResult } from "../../lib/check/outcome.ts";
import { ResultsStore } from "../../lib/metrics/results.ts";
import { SelfMetrics } from "../../lib/metrics/self_metrics.ts";

const DOWN: ProbeResult = {
  up: false,
  result: "status",
  statusCode: 500,
  durationMs: 5,
  reason: "status 500 not in 200",
  redirects: 0,
  bodyBytes: 0,
  startedAt: 0,
};

function setup() {
  const config = buildConfig(
    `targets:
  - url: "http://a.test/"
    labels: {note: "<script>alert(1)</script><b>bold</b>"}
  - url: "https://user:pw@b.test/"
`,
    {},
    { env: {} },
  );
  const store = new ResultsStore();
  store.applyConfig(config);
  const self = new SelfMetrics({
    version: "1.2.3",
    targets: () => 2,
    inFlight: () => 0,
    waiting: () => 0,
  });
  const exposition = new Exposition(store, self, { prefix: () => config.metricPrefix });
  let reloads = 0;
  let reloadError: string | undefined;
  const handler = createHandler({
    exposition,
    store,
    version: "1.2.3",
    probe: () =>
      Promise.resolve({ status: 200, contentType: "text/plain", body: "probe_success 1\n" }),
    reload: () => {
      reloads++;
      return Promise.resolve(
        reloadError === undefined ? ok(undefined) : err(reloadError),
      );
    },
  });
  const call = (path: string, init?: RequestInit) => handler(new Request(`http://x${path}`, init));
  return {
    config,
    store,
    call,
    reloads: () => reloads,
    failReloads: (e: string) => (reloadError = e),
  };
}

Deno.test("handler routes", async (t) => {
  const { call, store, config, reloads, failReloads } = setup();
  await t.step("/metrics and /metrics/ serve the exposition", async () => {
    for (const path of ["/metrics", "/metrics/"]) {
      const res = await call(path);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
      assert.match(await res.text(), /uptime_exporter_build_info/);
    }
  });
  await t.step("HEAD /metrics has headers and no body", async () => {
    const res = await call("/metrics", { method: "HEAD" });
    assert.equal(res.status, 200);
    assert.ok(Number(res.headers.get("content-length")) > 100);
    assert.equal(await res.text(), "");
  });
  await t.step("gzip when asked, not when refused", async () => {
    const gz = await call("/metrics", { headers: { "accept-encoding": "gzip, deflate" } });
    assert.equal(gz.headers.get("content-encoding"), "gzip");
    const text = await new Response(gz.body!.pipeThrough(new DecompressionStream("gzip"))).text();
    assert.match(text, /uptime_exporter_build_info/);
    const plain = await call("/metrics", { headers: { "accept-encoding": "gzip;q=0, identity" } });
    assert.equal(plain.headers.get("content-encoding"), null);
    await plain.body?.cancel();
  });
  await t.step("unknown paths are 404 and do not echo the path", async () => {
    const res = await call("/<script>x</script>?a=<b>");
    assert.equal(res.status, 404);
    assert.equal(await res.text(), "Not Found\n");
  });
  await t.step("wrong methods are 405 with Allow", async () => {
    const res = await call("/metrics", { method: "POST" });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "GET, HEAD");
    await res.body?.cancel();
    const reload = await call("/-/reload");
    assert.equal(reload.status, 405);
    assert.equal(reload.headers.get("allow"), "POST, PUT");
    await reload.body?.cancel();
  });
  await t.step("/healthz is 200; /readyz 503 until every target was checked", async () => {
    assert.equal((await call("/healthz")).status, 200);
    const notReady = await call("/readyz");
    assert.equal(notReady.status, 503);
    await notReady.body?.cancel();
    store.record(config.targets[0]!.key, DOWN, Date.now());
    assert.equal((await call("/readyz")).status, 503);
    store.record(config.targets[1]!.key, { ...DOWN, up: true, result: "up" }, Date.now());
    assert.equal((await call("/readyz")).status, 200);
  });
  await t.step("status page escapes every target string and masks credentials", async () => {
    const res = await call("/");
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
    assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    const html = await res.text();
    assert.ok(!html.includes("<script>alert(1)</script>"));
    assert.ok(html.includes("&lt;script&gt;alert(1)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;"));
    assert.ok(!html.includes("<b>bold</b>"));
    assert.ok(html.includes("user:***@b.test"));
    assert.ok(!html.includes("pw@"));
  });
  await t.step("POST /-/reload reloads and reports failure", async () => {
    const ok = await call("/-/reload", { method: "POST" });
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    assert.equal(reloads(), 1);
    failReloads("Cannot load config: 'targets' must be a list of targets");
    const bad = await call("/-/reload", { method: "POST" });
    assert.equal(bad.status, 500);
    assert.equal(
      await bad.text(),
      "Reload failed: Cannot load config: 'targets' must be a list of targets\n",
    );
  });
});

Deno.test("route table: every entry is reachable, nothing else reaches a handler", async (t) => {
  const { call, reloads } = setup();
  const METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];
  await t.step("each entry answers its methods and 405 with its Allow for the others", async () => {
    let expectedReloads = 0;
    for (const route of ROUTES) {
      for (const method of METHODS) {
        const res = await call(route.path, { method });
        await res.body?.cancel();
        const where = `${method} ${route.path}`;
        if (route.methods.includes(method)) {
          assert.ok(res.status !== 404 && res.status !== 405, `${where}: ${res.status}`);
          if (route.path === "/-/reload") expectedReloads++;
        } else {
          assert.equal(res.status, 405, where);
          assert.equal(res.headers.get("allow"), route.methods.join(", "), where);
        }
        assert.equal(reloads(), expectedReloads, `${where}: reloads only on its own entry`);
      }
    }
    assert.equal(expectedReloads, 2, "POST and PUT /-/reload");
  });
  await t.step("a path outside the table is 404 for every method, never a reload", async () => {
    const before = reloads();
    const outside = [
      "/-/reloadx",
      "/-/reload/",
      "/-/RELOAD",
      "/-/",
      "/metricsx",
      "/METRICS",
      "/metrics//",
      "//metrics",
      "/healthz/",
      "/readyz/x",
      "/index.html",
    ];
    for (const path of outside) {
      for (const method of METHODS) {
        const res = await call(path, { method });
        assert.equal(res.status, 404, `${method} ${path}`);
        assert.equal(await res.text(), "Not Found\n");
      }
    }
    assert.equal(reloads(), before);
  });
  await t.step("POST / and POST /metrics are 405, never a reload", async () => {
    const before = reloads();
    for (const path of ["/", "/metrics", "/healthz"]) {
      const res = await call(path, { method: "POST" });
      assert.equal(res.status, 405, path);
      assert.equal(res.headers.get("allow"), "GET, HEAD");
      await res.body?.cancel();
    }
    assert.equal(reloads(), before);
  });
  await t.step("open without credentials: exactly /healthz and /readyz", () => {
    assert.deepEqual(ROUTES.filter((r) => r.open).map((r) => r.path), ["/healthz", "/readyz"]);
    for (const route of ROUTES) assert.equal(isOpenPath(route.path), route.open, route.path);
    for (const path of ["/healthz/", "/readyzx", "/HEALTHZ", "", "/nope"]) {
      assert.equal(isOpenPath(path), false, path);
    }
  });
  await t.step("the table cannot be changed at run time", () => {
    assert.ok(Object.isFrozen(ROUTES));
    assert.ok(ROUTES.every((r) => Object.isFrozen(r) && Object.isFrozen(r.methods)));
  });
});
