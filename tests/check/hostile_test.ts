/**
 * The hostile-target suite: every way a target can misbehave, on real
 * loopback sockets, checked through the whole exporter (App → scheduler →
 * probe → store → /metrics). For each behaviour: the exported `up`,
 * `status_code`, `checks_total{result}`, `response_ms` within timeout +
 * 250 ms, no unhandled rejection, and every connection closed afterwards.
 */

import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { type TestApp, testApp } from "../_helpers/app.ts";
import { CHECK_RESULTS } from "../../lib/check/classify.ts";
import { probe } from "../../lib/check/probe.ts";
import { closeBodyMatchers } from "../../lib/check/body_match.ts";
import {
  fullBacklog,
  hostileFixture,
  hostileServer,
  parseMetrics,
  rejectionWatch,
  tlsServer,
} from "../_helpers/hostile_server.ts";
import { serve, target } from "../_helpers/servers.ts";
import { until } from "../_helpers/wait.ts";

const TIMEOUT_MS = 1000;
const SLACK_MS = 250;
const PREFIX = "sample_external_url";

/** notAfter of a fixture certificate, seconds since the epoch, read by node:crypto. */
function notAfter(name: string): number {
  const cert = new X509Certificate(Deno.readTextFileSync(hostileFixture(`${name}.pem`)));
  return Date.parse(cert.validTo) / 1000;
}

interface Case {
  name: string;
  url: string;
  settings?: Record<string, unknown>;
  up: boolean;
  result: (typeof CHECK_RESULTS)[number];
  status: number;
  /** Expected `tls_cert_expiry_timestamp_seconds`, or undefined when it must be absent. */
  certExpiry?: number;
  /** The check must end well before the timeout (it is not a timeout case). */
  fast?: boolean;
}

Deno.test("hostile targets: each misbehaviour is exported truthfully and in time", async (t) => {
  using rejections = rejectionWatch();
  await using hostile = hostileServer();
  await using hostile6 = hostileServer({ hostname: "::1" });
  await using expired = tlsServer("expired");
  await using wrongHost = tlsServer("wrong_host");
  await using selfSigned = tlsServer("self_signed");
  await using backlog = await fullBacklog();
  const ca = hostileFixture("ca.pem");
  const h = hostile.url;

  const cases: Case[] = [
    { name: "healthy control", url: `${h}/ok`, up: true, result: "up", status: 200, fast: true },
    {
      name: "1. accepts and never answers",
      url: `${h}/hang`,
      up: false,
      result: "timeout",
      status: 0,
    },
    {
      name: "2. headers, then the body at 1 byte/s",
      url: `${h}/trickle`,
      up: false,
      result: "timeout",
      status: 200,
    },
    {
      name: "3. endless body at full speed: read up to the body limit, then stop",
      url: `${h}/endless`,
      settings: { body_limit: "256KiB", body_regex: "^a+$" },
      up: true,
      result: "up",
      status: 200,
      fast: true,
    },
    {
      name: "4. redirect loop",
      url: `${h}/loop/a`,
      up: false,
      result: "redirect",
      status: 302,
      fast: true,
    },
    {
      name: "5. redirect to a closed port: no final response",
      url: `${h}/redirect-closed`,
      up: false,
      result: "connect",
      status: 0,
      fast: true,
    },
    {
      name: "6. connection reset mid-body",
      url: `${h}/reset`,
      up: false,
      result: "body",
      status: 200,
      fast: true,
    },
    {
      name: "7. closed before the headers",
      url: `${h}/close`,
      up: false,
      result: "error",
      status: 0,
      fast: true,
    },
    {
      name: "8. garbage instead of HTTP",
      url: `${h}/garbage`,
      up: false,
      result: "error",
      status: 0,
      fast: true,
    },
    {
      name: "9. a 1 MB header",
      url: `${h}/big-header`,
      up: false,
      result: "error",
      status: 0,
      fast: true,
    },
    {
      name: "10a. 204 with no body, accepted",
      url: `${h}/204`,
      settings: { valid_status_codes: [204] },
      up: true,
      result: "up",
      status: 204,
      fast: true,
    },
    {
      name: "10b. 304 with no body, accepted",
      url: `${h}/304`,
      settings: { valid_status_codes: "2xx,304" },
      up: true,
      result: "up",
      status: 304,
      fast: true,
    },
    {
      name: "10c. 204 when only 200 is valid",
      url: `${h}/204?strict`,
      up: false,
      result: "status",
      status: 204,
      fast: true,
    },
    {
      name: "11. HTTP/1.0 without Content-Length, body to the end",
      url: `${h}/http10`,
      settings: { body_regex: "until close$" },
      up: true,
      result: "up",
      status: 200,
      fast: true,
    },
    {
      name: "12a. TLS: self-signed certificate",
      url: `${selfSigned.url}/`,
      up: false,
      result: "tls",
      status: 0,
      certExpiry: notAfter("self_signed"),
      fast: true,
    },
    {
      name: "12b. TLS: expired certificate",
      url: `${expired.url}/`,
      settings: { tls_ca_file: ca },
      up: false,
      result: "tls",
      status: 0,
      certExpiry: notAfter("expired"),
      fast: true,
    },
    {
      name: "12c. TLS: certificate for another host name",
      url: `${wrongHost.url}/`,
      settings: { tls_ca_file: ca },
      up: false,
      result: "tls",
      status: 0,
      certExpiry: notAfter("wrong_host"),
      fast: true,
    },
    {
      name: "13. DNS name that does not resolve",
      url: "http://does-not-exist.invalid/",
      up: false,
      result: "dns",
      status: 0,
      fast: true,
    },
    {
      name: "14. IPv6 loopback [::1]",
      url: `${hostile6.url}/ok`,
      up: true,
      result: "up",
      status: 200,
      fast: true,
    },
    {
      name: "15. listener with a full accept queue: connect never completes",
      url: `${backlog.url}/`,
      up: false,
      result: "timeout",
      status: 0,
    },
  ];

  const test = await testApp(
    JSON.stringify({
      defaults: { interval: "60s", timeout: `${TIMEOUT_MS}ms` },
      targets: cases.map((c) => ({ url: c.url, ...c.settings })),
    }),
  );
  const { app, lines: logs } = test;
  let metrics: Map<string, number>;
  try {
    await app.start();
    await until(() => app.store.allChecked(), 10_000);
    const res = await app.handler(new Request("http://exporter/metrics"));
    metrics = parseMetrics(await res.text());
  } finally {
    await test[Symbol.asyncDispose]();
  }

  for (const c of cases) {
    await t.step(c.name, () => {
      const labels = `url="${new URL(c.url).href}"`;
      const get = (family: string, extra = "") =>
        metrics.get(`${PREFIX}_${family}{${labels}${extra}}`);
      assert.equal(get("up"), c.up ? 1 : 0, "up");
      assert.equal(get("status_code"), c.status, "status_code");
      for (const result of CHECK_RESULTS) {
        assert.equal(
          get("checks_total", `,result="${result}"`),
          result === c.result ? 1 : 0,
          `checks_total{result="${result}"}`,
        );
      }
      const ms = get("response_ms")!;
      assert.ok(ms >= 0 && ms <= TIMEOUT_MS + SLACK_MS, `response_ms ${ms} within the timeout`);
      if (c.fast) assert.ok(ms < TIMEOUT_MS / 2, `response_ms ${ms}: not a timeout`);
      else assert.ok(ms >= TIMEOUT_MS - 5, `response_ms ${ms}: ran into the timeout`);
      assert.equal(get("tls_cert_expiry_timestamp_seconds"), c.certExpiry, "cert expiry");
    });
  }

  await t.step("the reason of every failure is in the log, one line per target", () => {
    for (const c of cases.filter((c) => !c.up)) {
      const lines = logs.filter((l) =>
        l.includes('msg="target is down"') && l.includes(`url=${new URL(c.url).href} `)
      );
      assert.equal(lines.length, 1, c.name);
      assert.match(lines[0]!, new RegExp(`result=${c.result} `));
    }
  });

  await t.step("every connection the checks opened was closed", async () => {
    await until(() => hostile.open === 0 && hostile6.open === 0, 3000);
    assert.ok(hostile.accepted >= cases.length - 7, `${hostile.accepted} connections seen`);
    assert.equal(hostile6.accepted, 1);
  });

  await t.step("no unhandled rejection", () => {
    assert.deepEqual(rejections.reasons, []);
  });
});

Deno.test("hostile targets: an endless body costs memory bounded by the body limit", async () => {
  await using hostile = hostileServer();
  const limit = 512 * 1024;
  const t = target({
    url: `${hostile.url}/endless`,
    timeout: "2s",
    body_limit: limit,
    body_regex: "b",
  });
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  try {
    // Warm up once, then measure 20 checks; without the limit each would read
    // (and decode) about a gigabyte in its 2 s.
    await probe(t, { client });
    const before = Deno.memoryUsage().rss;
    for (let i = 0; i < 20; i++) {
      const r = await probe(t, { client });
      assert.equal(r.bodyBytes, limit);
      assert.equal(r.result, "body", "the regex ran over the first 512 KiB");
      assert.ok(r.durationMs < 1000, `stopped at the limit, not the timeout (${r.durationMs}ms)`);
    }
    const grown = Deno.memoryUsage().rss - before;
    assert.ok(grown < 64 * 1024 * 1024, `RSS grew ${(grown / 1048576).toFixed(1)} MiB`);
    await until(() => hostile.open === 0, 3000);
  } finally {
    client.close();
    // 512 KiB is matched by a matcher Worker, which the app would close on stop.
    closeBodyMatchers();
  }
});

Deno.test("hostile targets: a body declared large but trickled is read as it arrives", async () => {
  // /trickle declares 1,000,000 bytes (under the 1 MiB default limit) and sends
  // one per 100 ms. Reading it with one bytes() call allocated the whole
  // declared length up front for every check (the soak's RSS grew ~0.5 MiB/s
  // from it); read in chunks, a timed-out check reports the bytes that came.
  await using hostile = hostileServer({ trickleMs: 100 });
  const t = target({ url: `${hostile.url}/trickle`, timeout: "450ms" });
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  try {
    const results = await Promise.all(Array.from({ length: 20 }, () => probe(t, { client })));
    for (const r of results) {
      assert.equal(r.result, "timeout");
      assert.equal(r.reason, "timeout after 450ms reading the body");
      assert.ok(r.bodyBytes > 0 && r.bodyBytes < 100, `read as it came: ${r.bodyBytes} bytes`);
    }
    await until(() => hostile.open === 0, 3000);
  } finally {
    client.close();
  }
});

Deno.test("hostile targets: 200 hanging targets do not delay a healthy one", async (t) => {
  await using hostile = hostileServer();
  const LATENCY_MS = 20;
  await using healthy = serve(async () => {
    await new Promise((r) => setTimeout(r, LATENCY_MS));
    return new Response("ok");
  });
  const INTERVAL_MS = 200;
  const healthyUrl = `${healthy.url}/`;
  const makeApp = (hanging: number) =>
    testApp(
      JSON.stringify({
        targets: [
          { url: healthyUrl, interval: `${INTERVAL_MS}ms`, timeout: "150ms" },
          ...Array.from({ length: hanging }, (_, i) => ({
            url: `${hostile.url}/hang?n=${i}`,
            interval: "1s",
            timeout: "900ms",
          })),
        ],
      }),
      { logLevel: "error" },
    );
  /** Runs `app` for `ms` after a warm-up; returns healthy checks counted and their mean ms. */
  const measure = async (test: TestApp, ms: number) => {
    const { app } = test;
    const config = await app.start();
    const state = () => app.store.get(config.targets[0]!.key)!;
    const total = () => state().counts.reduce((a, b) => a + b, 0);
    try {
      await until(() => total() >= 2, 5000);
      const c0 = total(), s0 = state().sumSeconds, t0 = performance.now();
      await new Promise((r) => setTimeout(r, ms));
      const checks = total() - c0;
      const elapsed = performance.now() - t0;
      const meanMs = ((state().sumSeconds - s0) / checks) * 1000;
      return { checks, expected: elapsed / INTERVAL_MS, meanMs, up: state().counts[0]! };
    } finally {
      await test[Symbol.asyncDispose]();
    }
  };

  const baseline = await measure(await makeApp(0), 2000);
  const loaded = await measure(await makeApp(200), 4000);
  await t.step("the hanging targets were really hanging", async () => {
    assert.ok((hostile.hits.get("/hang") ?? 0) >= 200, `${hostile.hits.get("/hang")} hangs`);
    await until(() => hostile.open === 0, 3000);
  });
  await t.step(
    `the healthy target keeps its interval within 10% (${loaded.checks} checks, ${
      loaded.expected.toFixed(1)
    } expected)`,
    () => {
      assert.ok(Math.abs(loaded.checks - loaded.expected) <= loaded.expected * 0.1 + 1);
    },
  );
  await t.step(
    `its response time stays within a few ms of its latency (baseline ${
      baseline.meanMs.toFixed(1)
    } ms, loaded ${loaded.meanMs.toFixed(1)} ms)`,
    () => {
      assert.ok(baseline.meanMs >= LATENCY_MS);
      assert.ok(loaded.meanMs >= LATENCY_MS);
      assert.ok(loaded.meanMs - baseline.meanMs < 10, "less than 10 ms slower under load");
    },
  );
});
