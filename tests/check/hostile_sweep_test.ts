/**
 * Defects found by the hostile sweep of 2026-12 (docs/hardening.md), each on
 * a real loopback server: a TLS server that offers only TLS 1.0/1.1, a
 * `Location` in raw UTF-8, responses with 100 and 101 header lines, and a
 * redirect to a URL longer than fetch accepts.
 */

import assert from "node:assert/strict";
import { probe } from "../../lib/check/probe.ts";
import { hostileServer, legacyTlsServer } from "../_helpers/hostile_server.ts";
import { serve, target, TEST_CA_FILE } from "../_helpers/servers.ts";

Deno.test("a server offering only TLS 1.0/1.1 is a tls failure, and says why", async () => {
  await using server = await legacyTlsServer();
  const result = await probe(target({ url: `${server.url}/`, tls_ca_file: TEST_CA_FILE }));
  assert.equal(result.result, "tls");
  assert.equal(result.statusCode, 0);
  assert.equal(
    result.reason,
    "the server refused every TLS version the client offers (TLS 1.2 and 1.3) " +
      "(received fatal alert: ProtocolVersion)",
  );
});

Deno.test("a Location in raw UTF-8 is requested percent-encoded as UTF-8, as browsers do", async () => {
  await using hostile = hostileServer();
  const result = await probe(target({ url: `${hostile.url}/utf8-location` }));
  assert.equal(result.result, "up", result.reason);
  assert.equal(result.redirects, 1);
  // Not /ok/b%C3%83%C2%BCcher-%C3%A2%C2%98%C2%83 (each byte read as Latin-1, then encoded).
  assert.deepEqual([...hostile.hits.keys()], ["/utf8-location", "/ok/b%C3%BCcher-%E2%98%83"]);
});

Deno.test("more than 100 response headers: error, with the client's limit as the reason", async (t) => {
  await using hostile = hostileServer();
  await t.step("100 header lines are read", async () => {
    const result = await probe(target({ url: `${hostile.url}/headers/100` }));
    assert.equal(result.result, "up", result.reason);
  });
  await t.step("101 are more than Deno's client takes", async () => {
    const result = await probe(target({ url: `${hostile.url}/headers/101` }));
    assert.equal(result.result, "error");
    assert.equal(result.statusCode, 0);
    assert.equal(
      result.reason,
      "response head too large for the HTTP client: more than 100 headers or more than 496 KiB " +
        "(message head is too large)",
    );
  });
  await t.step("so is a 1 MB header, with the same reason", async () => {
    const result = await probe(target({ url: `${hostile.url}/big-header` }));
    assert.equal(result.result, "error");
    assert.match(result.reason, /^response head too large for the HTTP client: /);
  });
});

Deno.test("a redirect to a URL longer than fetch accepts is a redirect failure", async () => {
  await using server = serve((req) => {
    const url = new URL(req.url);
    return Response.redirect(`${url.origin}/${"a".repeat(70_000)}`, 302);
  });
  const result = await probe(target({ url: `${server.url}/` }));
  assert.equal(result.result, "redirect");
  assert.equal(
    result.reason,
    `redirect to a URL of ${
      server.url.length + 70_001
    } characters (the HTTP client accepts at most 65534)`,
  );
});
