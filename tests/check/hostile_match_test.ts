/**
 * A hostile body against a body_regex, through the real exporter: main.ts as
 * a subprocess with the compile task's permission flags, real loopback
 * targets. JavaScript's backtracking RegExp took ~91 s on `^(a+)+$` against
 * 30 a's and a '!', blocking /metrics, the healthy targets and SIGTERM. Now
 * matching is RE2 (linear) and large bodies are matched off the event loop:
 * a healthy 1 s target keeps its schedule and stays up, /metrics answers
 * promptly, and SIGTERM during a match that runs for seconds exits within 2 s.
 */

import assert from "node:assert/strict";
import { startExporter } from "../_helpers/exporter.ts";
import { until } from "../_helpers/wait.ts";
import { parseMetrics } from "../_helpers/hostile_server.ts";
import { serve } from "../_helpers/servers.ts";

const PREFIX = "sample_external_url";

Deno.test("hostile bodies against body_regex do not stall the exporter", async (t) => {
  const aBang = new Uint8Array(1024 * 1024 + 1).fill(97);
  aBang[aBang.length - 1] = 33;
  // 1 MiB of random a/b: `(a[ab]{500}c)|zz` builds a DFA state per byte (~20 s of matching).
  const ab = new Uint8Array(1024 * 1024 + 4);
  for (let i = 0; i < ab.length - 4; i++) ab[i] = Math.random() < 0.5 ? 97 : 98;
  ab.set(new TextEncoder().encode("c zz"), ab.length - 4);
  let costlyServedAt = 0;
  await using targets = serve((req) => {
    switch (new URL(req.url).pathname) {
      case "/healthy":
        return new Response("ok");
      case "/a30":
        return new Response(`${"a".repeat(30)}!`);
      case "/a1m":
        return new Response(aBang.slice());
      case "/costly":
        costlyServedAt ||= performance.now();
        return new Response(ab.slice());
      default:
        return new Response("not found", { status: 404 });
    }
  });
  const url = (path: string) => `${targets.url}${path}`;
  const dir = await Deno.makeTempDir({ prefix: "uptime-exporter-hostile-match-" });
  const file = `${dir}/config.yaml`;
  await Deno.writeTextFile(
    file,
    `targets:
  - url: ${url("/healthy")}
    interval: 1s
    timeout: 900ms
  - url: ${url("/a30")}
    interval: 1s
    body_regex: '^(a+)+$'
  - url: ${url("/a1m")}
    interval: 1s
    body_limit: 2MiB
    body_regex: '^(a+)+$'
  - url: ${url("/costly")}
    interval: 10s
    timeout: 9s
    body_limit: 2MiB
    body_regex: '(a[ab]{500}c)|zz'
`,
  );
  try {
    await using exporter = await startExporter({ args: ["--config", file] });
    const scrape = async () => {
      const start = performance.now();
      const { status, text } = await exporter.get("/metrics");
      assert.equal(status, 200);
      return { ms: performance.now() - start, metrics: parseMetrics(text) };
    };
    const sample = (m: Map<string, number>, family: string, path: string, extra = "") =>
      m.get(`${PREFIX}_${family}{url="${url(path)}"${extra}}`);
    const checks = (m: Map<string, number>, path: string, result: string) =>
      sample(m, "checks_total", path, `,result="${result}"`) ?? 0;

    await t.step("the costly match is under way", async () => {
      await until(() => costlyServedAt > 0, 15_000, "the costly body to be served");
      // Reading 1 MiB on loopback and starting a matcher take a few ms.
      await new Promise((r) => setTimeout(r, 300));
    });

    const latencies: number[] = [];
    let first: Map<string, number> | undefined;
    let last: Map<string, number> | undefined;
    await t.step("for 4 s: /metrics prompt, the healthy target up on schedule", async () => {
      const windowStart = performance.now();
      while (performance.now() - windowStart < 4000) {
        const { ms, metrics } = await scrape();
        latencies.push(ms);
        first ??= metrics;
        last = metrics;
        assert.equal(sample(metrics, "up", "/healthy"), 1, "the healthy target is up");
        await new Promise((r) => setTimeout(r, 200));
      }
      // Generous bounds for a shared 2-core machine; the JS RegExp gave no answer in 60 s.
      const worst = Math.max(...latencies);
      assert.ok(worst < 1000, `slowest /metrics ${worst.toFixed(0)} ms`);
      const healthyChecks = checks(last!, "/healthy", "up") - checks(first!, "/healthy", "up");
      assert.ok(healthyChecks >= 3, `${healthyChecks} healthy checks in ~4 s at 1 s`);
      for (const result of ["status", "body", "timeout", "connect", "error"]) {
        assert.equal(checks(last!, "/healthy", result), 0, `healthy target: ${result}`);
      }
    });

    await t.step("the hostile bodies are reported as not matching, each second", () => {
      for (const path of ["/a30", "/a1m"]) {
        assert.equal(sample(last!, "up", path), 0, path);
        assert.ok(checks(last!, path, "body") >= 3, `${path}: ${checks(last!, path, "body")}`);
      }
    });

    await t.step("the costly match was still running throughout", () => {
      const total = ["up", "body", "error", "timeout"].reduce(
        (sum, result) => sum + checks(last!, "/costly", result),
        0,
      );
      assert.equal(total, 0, "no result yet: its first check is still matching");
    });

    await t.step("SIGTERM during the match exits 0 within 2 s", async () => {
      const start = performance.now();
      const status = await exporter.stop("SIGTERM");
      const took = performance.now() - start;
      assert.equal(status.code, 0);
      assert.ok(took < 2000, `shutdown took ${took.toFixed(0)} ms`);
      assert.ok(
        performance.now() - costlyServedAt < 9000,
        "the costly check had not reached its timeout",
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
