import assert from "node:assert/strict";
import { err, ok } from "../../lib/util/result.ts";
import { buildConfig } from "../../lib/config/validate.ts";
import { Exposition } from "../../lib/metrics/exposition_cache.ts";
import { createHandler, isOpenPath, resolvePath, ROUTES } from "../../lib/server/routes.ts";
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

function setup(routePrefix = "/") {
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
    routePrefix,
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
  await t.step("open without credentials: exactly the health and readiness paths", () => {
    assert.deepEqual(ROUTES.filter((r) => r.open).map((r) => r.path), [
      "/healthz",
      "/readyz",
      "/-/healthy",
      "/-/ready",
    ]);
    for (const route of ROUTES) assert.equal(isOpenPath(route.path), route.open, route.path);
    for (const path of ["/healthz/", "/readyzx", "/HEALTHZ", "", "/nope", "/-/healthy/"]) {
      assert.equal(isOpenPath(path), false, path);
    }
  });
  await t.step("the table cannot be changed at run time", () => {
    assert.ok(Object.isFrozen(ROUTES));
    assert.ok(ROUTES.every((r) => Object.isFrozen(r) && Object.isFrozen(r.methods)));
  });
});

Deno.test("/-/healthy and /-/ready answer as /healthz and /readyz", async () => {
  const { call, store, config } = setup();
  for (const [alias, path] of [["/-/healthy", "/healthz"], ["/-/ready", "/readyz"]] as const) {
    for (const method of ["GET", "HEAD"]) {
      const [a, b] = await Promise.all([call(alias, { method }), call(path, { method })]);
      assert.equal(a.status, b.status, `${method} ${alias}`);
      assert.equal(await a.text(), await b.text());
    }
  }
  assert.equal((await call("/-/ready")).status, 503);
  for (const t of config.targets) store.record(t.key, { ...DOWN, up: true, result: "up" }, 1);
  assert.equal((await call("/-/ready")).status, 200);
});

Deno.test("/metrics negotiates OpenMetrics or the text format from Accept", async (t) => {
  const { call } = setup();
  const cases: [string | undefined, string][] = [
    [undefined, "text/plain; version=0.0.4; charset=utf-8"],
    ["*/*", "text/plain; version=0.0.4; charset=utf-8"],
    [
      // What Prometheus 2.42 sends.
      "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
      "application/openmetrics-text; version=1.0.0; charset=utf-8",
    ],
    ["text/plain;version=0.0.4", "text/plain; version=0.0.4; charset=utf-8"],
  ];
  for (const [accept, type] of cases) {
    await t.step(accept ?? "(no Accept)", async () => {
      const res = await call("/metrics", accept ? { headers: { accept } } : undefined);
      assert.equal(res.headers.get("content-type"), type);
      assert.equal(res.headers.get("vary"), "Accept, Accept-Encoding");
      const text = await res.text();
      assert.equal(text.endsWith("# EOF\n"), type.startsWith("application/openmetrics-text"));
    });
  }
  await t.step("gzip works for both", async () => {
    for (const accept of ["text/plain", "application/openmetrics-text"]) {
      const res = await call("/metrics", { headers: { accept, "accept-encoding": "gzip" } });
      assert.equal(res.headers.get("content-encoding"), "gzip");
      const text = await new Response(res.body!.pipeThrough(new DecompressionStream("gzip")))
        .text();
      assert.match(text, /uptime_exporter_build_info/);
    }
  });
});

Deno.test("GET /api/v1/targets: every target as JSON", async (t) => {
  const { call, store, config } = setup();
  store.record(config.targets[0]!.key, DOWN, Date.UTC(2030, 0, 1), {
    nextCheckAt: Date.UTC(2030, 0, 1, 0, 0, 10),
  });
  const res = await call("/api/v1/targets");
  await t.step("JSON, not cached, not sniffed", () => {
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  });
  const body = await res.json();
  await t.step("the checked target and the one not checked yet", () => {
    assert.equal(body.status, "success");
    const [a, b] = body.data.targets;
    assert.deepEqual(a, {
      url: "http://a.test/",
      labels: { note: "<script>alert(1)</script><b>bold</b>" },
      up: false,
      result: "status",
      reason: "status 500 not in 200",
      statusCode: 500,
      responseMs: 5,
      lastCheckAt: "2030-01-01T00:00:00.000Z",
      nextCheckAt: "2030-01-01T00:00:10.000Z",
      intervalSeconds: 10,
      timeoutSeconds: 5,
      certificateExpiresAt: null,
      checks: {
        up: 0,
        status: 1,
        body: 0,
        timeout: 0,
        dns: 0,
        connect: 0,
        tls: 0,
        redirect: 0,
        error: 0,
      },
    });
    assert.equal(b.url, "https://user:***@b.test/", "credentials masked");
    assert.ok(!JSON.stringify(body).includes("pw"));
    for (const key of ["up", "result", "statusCode", "lastCheckAt", "nextCheckAt"]) {
      assert.equal(b[key], null, key);
    }
  });
  await t.step("HEAD has no body; gzip when asked", async () => {
    const head = await call("/api/v1/targets", { method: "HEAD" });
    assert.equal(await head.text(), "");
    const gz = await call("/api/v1/targets", { headers: { "accept-encoding": "gzip" } });
    assert.equal(gz.headers.get("content-encoding"), "gzip");
    const text = await new Response(gz.body!.pipeThrough(new DecompressionStream("gzip"))).text();
    assert.deepEqual(JSON.parse(text).data.targets, body.data.targets);
  });
});

Deno.test("route prefix: every entry lives under it, nothing outside it", async (t) => {
  const { call } = setup("/uptime");
  await t.step("each entry answers under the prefix", async () => {
    for (const route of ROUTES) {
      const method = route.methods[0]!;
      const res = await call(`/uptime${route.path}`, { method });
      await res.body?.cancel();
      assert.ok(res.status !== 404 && res.status !== 405, `${method} /uptime${route.path}`);
    }
  });
  await t.step("the same paths without the prefix are 404", async () => {
    for (const route of ROUTES.filter((r) => r.path !== "/")) {
      const res = await call(route.path, { method: route.methods[0] });
      assert.equal(res.status, 404, route.path);
      await res.body?.cancel();
    }
    for (const path of ["/uptimex/metrics", "/up/metrics", "/uptime//metrics", "/UPTIME/metrics"]) {
      const res = await call(path);
      assert.equal(res.status, 404, path);
      await res.body?.cancel();
    }
  });
  await t.step("/ and the bare prefix redirect to <prefix>/; other methods 404", async () => {
    for (const path of ["/", "/uptime", "/uptime?refresh=2"]) {
      const res = await call(path, { redirect: "manual" });
      assert.equal(res.status, 302, path);
      const query = path.includes("?") ? "?refresh=2" : "";
      assert.equal(res.headers.get("location"), `/uptime/${query}`);
      await res.body?.cancel();
    }
    const post = await call("/", { method: "POST" });
    assert.equal(post.status, 404);
    await post.body?.cancel();
  });
  await t.step("open paths stay open under the prefix only", () => {
    assert.equal(isOpenPath("/uptime/healthz", "/uptime"), true);
    assert.equal(isOpenPath("/uptime/-/ready", "/uptime"), true);
    assert.equal(isOpenPath("/healthz", "/uptime"), false);
    assert.equal(isOpenPath("/uptime/metrics", "/uptime"), false);
    assert.equal(isOpenPath("/uptime", "/uptime"), false);
  });
  await t.step("the status page's links are relative (they resolve under the prefix)", async () => {
    const html = await (await call("/uptime/")).text();
    const hrefs = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!)
      .filter((h) => !h.startsWith("data:"));
    assert.ok(hrefs.length >= 3);
    for (const href of hrefs) {
      const resolved = new URL(href, "http://x/uptime/").pathname;
      assert.ok(resolved.startsWith("/uptime/"), `${href} leaves the prefix`);
    }
  });
});

Deno.test("resolvePath", () => {
  assert.deepEqual(resolvePath("/", "/a/b"), { kind: "redirect", location: "/a/b/" });
  assert.deepEqual(resolvePath("/a/b", "/a/b"), { kind: "redirect", location: "/a/b/" });
  assert.equal(resolvePath("/a/b/", "/a/b").kind, "route");
  assert.equal(resolvePath("/a/b/metrics", "/a/b").kind, "route");
  assert.equal(resolvePath("/a/metrics", "/a/b").kind, "none");
  assert.equal(resolvePath("/a", "/a/b").kind, "none");
  assert.equal(resolvePath("/metrics").kind, "route");
  assert.equal(resolvePath("/nope").kind, "none");
});

Deno.test("README's endpoint table lists exactly the route table's paths", () => {
  const readme = Deno.readTextFileSync(new URL("../../README.md", import.meta.url));
  const section = readme.slice(readme.indexOf("## HTTP endpoints"));
  const table = section.slice(
    section.indexOf("\n|"),
    section.indexOf("\n\n", section.indexOf("\n|")),
  );
  const listed = table.trim().split("\n").slice(2).flatMap((line) =>
    [...line.split("|")[1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!)
  );
  assert.deepEqual(listed.sort(), ROUTES.map((r) => r.path).sort());
  for (const route of ROUTES) {
    const row = table.trim().split("\n").find((l) =>
      l.split("|")[1]!.includes(`\`${route.path}\``)
    )!;
    assert.ok(row.split("|")[2]!.includes(route.methods.join(", ")), `methods of ${route.path}`);
  }
});
