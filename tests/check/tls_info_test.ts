import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { testApp } from "../_helpers/app.ts";
import { peerCertificateExpiry, TlsInfo } from "../../lib/check/tls_info.ts";
import { hangingServer, serve, target } from "../_helpers/servers.ts";
import { until } from "../_helpers/wait.ts";
import { hostileFixture, parseMetrics, tlsServer } from "../_helpers/hostile_server.ts";

function notAfter(name: string): number {
  const pem = Deno.readTextFileSync(hostileFixture(`${name}.pem`));
  return Date.parse(new X509Certificate(pem).validTo) / 1000;
}

Deno.test("peerCertificateExpiry reads notAfter without verifying", async (t) => {
  for (const name of ["expired", "wrong_host", "self_signed", "localhost"] as const) {
    await t.step(name, async () => {
      await using server = tlsServer(name);
      const got = await peerCertificateExpiry("127.0.0.1", server.port, {
        servername: "localhost",
        timeoutMs: 2000,
      });
      assert.equal(got, notAfter(name));
    });
  }
  await t.step("a server that never answers times out", async () => {
    await using server = hangingServer();
    const start = performance.now();
    await assert.rejects(
      peerCertificateExpiry("127.0.0.1", server.port, { timeoutMs: 300 }),
      /no TLS handshake within 300ms/,
    );
    assert.ok(performance.now() - start < 300 + 250);
  });
  await t.step("plain HTTP is not TLS", async () => {
    await using server = serve(() => new Response("ok"));
    await assert.rejects(peerCertificateExpiry("127.0.0.1", server.port, { timeoutMs: 2000 }));
  });
  await t.step("an aborted lookup rejects at once", async () => {
    await using server = hangingServer();
    const controller = new AbortController();
    const lookup = peerCertificateExpiry("127.0.0.1", server.port, {
      timeoutMs: 5000,
      signal: controller.signal,
    });
    controller.abort();
    await assert.rejects(lookup, /aborted/);
  });
});

Deno.test("TlsInfo caches per host:port and refreshes at most once per interval", async (t) => {
  await using server = tlsServer("expired");
  let now = 0;
  const info = new TlsInfo({ minRefreshMs: 60_000, now: () => now });
  const a = target({ url: `${server.url}/a`, interval: "10s" });
  const b = target({ url: `${server.url}/b`, interval: "10s" });

  await t.step("http targets need no lookup", async () => {
    assert.equal(await info.expiry(target({ url: "http://127.0.0.1:1/" })), undefined);
    assert.equal(info.lookups, 0);
  });
  await t.step("concurrent checks of one host share one lookup", async () => {
    const [x, y] = await Promise.all([info.expiry(a), info.expiry(b)]);
    assert.equal(x, notAfter("expired"));
    assert.equal(y, x);
    assert.equal(info.lookups, 1);
  });
  await t.step("cached until max(interval, minRefreshMs) has passed", async () => {
    now += 59_000;
    assert.equal(await info.expiry(a), notAfter("expired"));
    assert.equal(info.lookups, 1);
    now += 2_000;
    assert.equal(await info.expiry(a), notAfter("expired"));
    assert.equal(info.lookups, 2);
  });
  await t.step("a longer interval than minRefreshMs sets the pace", async () => {
    const slow = target({ url: `${server.url}/`, interval: "5m" });
    now += 120_000;
    await info.expiry(slow);
    assert.equal(info.lookups, 2, "2 minutes is not yet 5");
    now += 200_000;
    await info.expiry(slow);
    assert.equal(info.lookups, 3);
  });
  await t.step("a failed lookup is not cached and reports nothing", async () => {
    await using hanging = hangingServer();
    const down = target({ url: `https://127.0.0.1:${hanging.port}/`, timeout: "200ms" });
    assert.equal(await info.expiry(down), undefined);
    assert.equal(await info.expiry(down), undefined);
    assert.equal(info.lookups, 5);
  });
});

Deno.test("the app exports the certificate expiry of https targets only", async () => {
  await using tls = tlsServer("wrong_host");
  await using plain = serve(() => new Response("ok"));
  await using test = await testApp(
    JSON.stringify({
      defaults: { interval: "200ms", timeout: "150ms" },
      targets: [
        { url: `${tls.url}/`, tls_ca_file: hostileFixture("ca.pem") },
        { url: `${plain.url}/` },
      ],
    }),
    { logLevel: "error" },
  );
  const { app } = test;
  {
    const config = await app.start();
    const total = (key: string) => app.store.get(key)!.counts.reduce((x, y) => x + y, 0);
    await until(() => total(config.targets[0]!.key) >= 3);
    const res = await app.handler(new Request("http://exporter/metrics"));
    const samples = parseMetrics(await res.text());
    const name = "sample_external_url_tls_cert_expiry_timestamp_seconds";
    assert.equal(samples.get(`${name}{url="${tls.url}/"}`), notAfter("wrong_host"));
    assert.equal(samples.get(`${name}{url="${plain.url}/"}`), undefined);
    assert.equal(samples.get(`sample_external_url_up{url="${tls.url}/"}`), 0);
    assert.equal(app.tlsInfo.lookups, 1, "three checks, one certificate lookup");
  }
});
