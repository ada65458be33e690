/**
 * The endpoints and flags that fit the Prometheus ecosystem, on a real
 * socket: the exporter runs as a process (main.ts with the compiled binary's
 * permissions) with the Prometheus-style flags, under a route prefix, with
 * and without authentication, and is asked over HTTP.
 */

import assert from "node:assert/strict";
import { startExporter, startTarget } from "../_helpers/exporter.ts";
import { until } from "../_helpers/wait.ts";
import { ALICE_HASH, basic, tempDir } from "../_helpers/web_config.ts";

const OM_ACCEPT =
  "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

async function get(url: string, init?: RequestInit) {
  const res = await fetch(url, { redirect: "manual", ...init });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

Deno.test("under --web.route-prefix every endpoint moves, nothing stays outside", async (t) => {
  await using target = startTarget();
  await using exporter = await startExporter({
    args: [
      "--web.route-prefix",
      "/team/uptime/",
      "--target",
      `${target.url}/`,
      "--check.interval",
      "1s",
      "--check.timeout=500ms",
    ],
  });
  const base = `${exporter.url}/team/uptime`;
  await until(async () => (await get(`${base}/-/ready`)).status === 200, 10_000, "ready");

  await t.step("/ and the bare prefix redirect to <prefix>/", async () => {
    for (const path of ["/", "/team/uptime"]) {
      const res = await get(`${exporter.url}${path}`);
      assert.equal(res.status, 302, path);
      assert.equal(res.headers.get("location"), "/team/uptime/");
    }
  });
  await t.step("everything answers under the prefix", async () => {
    for (const path of ["/", "/metrics", "/healthz", "/readyz", "/-/healthy", "/-/ready"]) {
      assert.equal((await get(`${base}${path}`)).status, 200, path);
    }
    const api = await get(`${base}/api/v1/targets`);
    assert.equal(api.status, 200);
    assert.equal(JSON.parse(api.text).data.targets[0].url, `${target.url}/`);
    const reload = await fetch(`${base}/-/reload`, { method: "POST" });
    assert.equal(reload.status, 200, await reload.text());
  });
  await t.step("nothing answers outside it", async () => {
    for (const path of ["/metrics", "/healthz", "/-/healthy", "/api/v1/targets", "/team/metrics"]) {
      const res = await get(`${exporter.url}${path}`);
      assert.equal(res.status, 404, path);
      assert.equal(res.text, "Not Found\n");
    }
  });
  await t.step("the status page's links stay under the prefix", async () => {
    const html = (await get(`${base}/`)).text;
    const links = [...html.matchAll(/<a href="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(links.length >= 3, html);
    for (const link of links) {
      const url = new URL(link, `${base}/`);
      assert.ok(url.pathname.startsWith("/team/uptime/"), link);
      assert.equal((await get(url.href)).status, 200, url.href);
    }
  });
  await t.step("the log names the prefix", () => {
    const listening = exporter.lines.map((l) => JSON.parse(l)).find((r) => r.msg === "listening");
    assert.equal(listening.route_prefix, "/team/uptime");
  });
});

Deno.test("--web.external-url sets the route prefix to its path", async () => {
  await using target = startTarget();
  await using exporter = await startExporter({
    args: ["--target", `${target.url}/`],
    env: { UPTIME_EXPORTER_WEB_EXTERNAL_URL: "https://ops.example.com/uptime/" },
  });
  assert.equal((await get(`${exporter.url}/uptime/healthz`)).status, 200);
  assert.equal((await get(`${exporter.url}/healthz`)).status, 404);
});

Deno.test("/metrics answers OpenMetrics to Prometheus' Accept, text otherwise", async (t) => {
  await using target = startTarget();
  await using exporter = await startExporter({
    args: ["--target", `${target.url}/`, "--interval", "1s", "--timeout", "500ms"],
  });
  await until(async () => (await get(`${exporter.url}/readyz`)).status === 200, 10_000, "ready");
  await t.step("OpenMetrics 1.0.0, gzip, ending in # EOF", async () => {
    const res = await fetch(`${exporter.url}/metrics`, {
      headers: { accept: OM_ACCEPT, "accept-encoding": "gzip" },
    });
    assert.equal(
      res.headers.get("content-type"),
      "application/openmetrics-text; version=1.0.0; charset=utf-8",
    );
    assert.equal(res.headers.get("content-encoding"), "gzip");
    const text = await res.text(); // fetch decompresses
    assert.ok(text.endsWith("# EOF\n"));
    assert.match(text, /^# TYPE sample_external_url_checks counter$/m);
    assert.match(text, /^# UNIT sample_external_url_response_seconds seconds$/m);
    assert.match(
      text,
      /^uptime_exporter_build_info\{version="[^"]+",revision="[^"]+",deno="[^"]+",os="[^"]+",arch="[^"]+"\} 1$/m,
    );
  });
  await t.step("the text format without Accept, or when text is preferred", async () => {
    for (
      const accept of [
        undefined,
        "text/plain;version=0.0.4",
        "text/plain;q=0.9,application/openmetrics-text;q=0.1",
      ]
    ) {
      const res = await fetch(`${exporter.url}/metrics`, accept ? { headers: { accept } } : {});
      assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
      const text = await res.text();
      assert.doesNotMatch(text, /^# EOF/m);
      assert.match(text, /^# TYPE sample_external_url_checks_total counter$/m);
    }
  });
});

Deno.test("authentication under a route prefix: the probes stay open, the API does not", async () => {
  const dir = await tempDir({ "web.yml": `basic_auth_users: {alice: '${ALICE_HASH}'}\n` });
  try {
    await using target = startTarget();
    await using exporter = await startExporter({
      args: [
        "--target",
        `${target.url}/`,
        "--web.config.file",
        `${dir}/web.yml`,
        "--web.route-prefix",
        "/u",
      ],
    });
    const auth = { headers: { authorization: basic("alice", "alice-password") } };
    for (const path of ["/u/healthz", "/u/readyz", "/u/-/healthy", "/u/-/ready"]) {
      assert.notEqual((await get(`${exporter.url}${path}`)).status, 401, path);
    }
    for (const path of ["/u/api/v1/targets", "/u/metrics", "/u/", "/healthz"]) {
      assert.equal((await get(`${exporter.url}${path}`)).status, 401, path);
    }
    assert.equal((await get(`${exporter.url}/u/api/v1/targets`, auth)).status, 200);
    assert.equal((await get(`${exporter.url}/u/metrics`, auth)).status, 200);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("GET /api/v1/targets: next check due one interval after the last", async () => {
  await using target = startTarget();
  await using exporter = await startExporter({
    config: {
      defaults: { interval: "2s", timeout: "1s" },
      targets: [
        { url: `${target.url}/`, labels: { team: "a" } },
        { url: `${target.url}/down`, interval: "1m30s" },
      ],
    },
  });
  await until(async () => (await get(`${exporter.url}/readyz`)).status === 200, 10_000, "ready");
  const { data } = JSON.parse((await get(`${exporter.url}/api/v1/targets`)).text);
  const [up, down] = data.targets;
  assert.equal(up.up, true);
  assert.equal(up.statusCode, 200);
  assert.deepEqual(up.labels, { team: "a" });
  assert.equal(up.intervalSeconds, 2);
  assert.equal(down.up, false);
  assert.equal(down.result, "status");
  assert.equal(down.statusCode, 503);
  assert.equal(down.intervalSeconds, 90);
  assert.equal(down.checks.status, 1);
  for (const t of [up, down]) {
    const last = Date.parse(t.lastCheckAt);
    const next = Date.parse(t.nextCheckAt);
    const gap = next - last;
    // Due one interval after the check started; the check itself took a little of it.
    // (+5 ms: the two clocks are read a moment apart.)
    assert.ok(
      gap > t.intervalSeconds * 1000 - 1500 && gap <= t.intervalSeconds * 1000 + 5,
      `${gap}`,
    );
    assert.ok(Math.abs(Date.parse(data.generatedAt) - Date.now()) < 5000);
  }
});
