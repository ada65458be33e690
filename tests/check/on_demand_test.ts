/**
 * lib/check/on_demand.ts on real loopback servers: every supported module
 * key, blackbox's timeout rule (module timeout, scrape timeout header minus
 * 0.5 s), the guard (allowed; refused by name, by CIDR, by the unspecified
 * address, by a redirect hop, by a name a real DNS server resolves into a
 * metadata address — each proven by a server that counts connections and
 * sees none), the debug account, and the answers for bad requests.
 */

import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { checkOnDemand, type OnDemandDeps, probeTimeoutMs } from "../../lib/check/on_demand.ts";
import type { ProbeSettings } from "../../lib/config/probe_modules.ts";
import { buildConfig } from "../../lib/config/validate.ts";
import { stringify as stringifyYaml } from "yaml";
import { startDnsServer } from "../_helpers/dns_server.ts";
import { hostileServer, parseMetrics } from "../_helpers/hostile_server.ts";
import { hangingServer, TEST_CA_FILE, type TestServer } from "../_helpers/servers.ts";
import { probeTargets } from "../_helpers/probe_targets.ts";

/** Settings with `modules` and an allow-list (loopback and localhost by default). */
function settings(
  modules: Record<string, unknown>,
  allowed: string[] = ["127.0.0.0/8", "localhost"],
): ProbeSettings {
  const config = buildConfig(
    stringifyYaml({
      targets: ["http://127.0.0.1:1/"],
      probe: { enabled: true, allowed_targets: allowed, modules },
    }),
    {},
    { env: {} },
  );
  return config.probe!;
}

/** A listener that counts connections and answers none of them (they are closed at once). */
function countingListener(hostname = "127.0.0.1"): TestServer & { readonly accepted: number } {
  const listener = Deno.listen({ hostname, port: 0 });
  let accepted = 0;
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        accepted++;
        conn.close();
      }
    } catch { /* closed */ }
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  const close = async () => {
    listener.close();
    await accepting;
  };
  return {
    url: `http://${hostname}:${port}`,
    port,
    close,
    [Symbol.asyncDispose]: close,
    get accepted() {
      return accepted;
    },
  };
}

/** Runs checkOnDemand with a real pool-less client (closed after) and no DNS. */
async function ask(
  probe: ProbeSettings,
  params: Record<string, string>,
  options: { scrapeTimeout?: string; deps?: Partial<OnDemandDeps> } = {},
) {
  const clients: Deno.HttpClient[] = [];
  const counted: { probed: [string, string][]; refused: string[] } = { probed: [], refused: [] };
  try {
    const answer = await checkOnDemand({
      params: new URLSearchParams(params),
      scrapeTimeout: options.scrapeTimeout,
    }, {
      settings: () => probe,
      acquireSlot: () => Promise.resolve(() => {}),
      client: (caFile) => {
        const c = Deno.createHttpClient({
          poolMaxIdlePerHost: 0,
          ...(caFile ? { caCerts: [Deno.readTextFileSync(caFile)] } : {}),
        });
        clients.push(c);
        return c;
      },
      metrics: {
        probed: (module, result) => counted.probed.push([module, result]),
        refused: (reason) => counted.refused.push(reason),
      },
      guard: { hostsFile: "" },
      ...options.deps,
    });
    return { ...answer, metrics: parseMetrics(answer.body), counted };
  } finally {
    for (const c of clients) c.close();
  }
}

const HTTP = { prober: "http" };

/** Asserts the answer's value of each named series (the body is the message). */
function expectSeries(
  a: { metrics: Map<string, number>; body: string },
  expected: Record<string, number>,
): void {
  const got = Object.fromEntries(Object.keys(expected).map((name) => [name, a.metrics.get(name)]));
  assert.deepEqual(got, expected, a.body);
}

Deno.test("on-demand: the answers blackbox gives, for each module key", async (t) => {
  await using server = probeTargets();
  const probe = settings({
    http_2xx: { ...HTTP, http: { preferred_ip_protocol: "ip4" } },
    accept_503: { ...HTTP, http: { valid_status_codes: [503] } },
    head: { ...HTTP, http: { method: "HEAD" } },
    post: {
      ...HTTP,
      http: {
        method: "POST",
        body: '{"ping": true}',
        headers: { "Content-Type": "application/json", "X-Probe": 7 },
      },
    },
    no_follow: { ...HTTP, http: { follow_redirects: false } },
    no_follow_old: { ...HTTP, http: { no_follow_redirects: true, valid_status_codes: [302] } },
    body_must: {
      ...HTTP,
      http: { fail_if_body_not_matches_regexp: ['"status":\\s*"UP"', "version"] },
    },
    body_mustnt: { ...HTTP, http: { fail_if_body_matches_regexp: ["(?i)maintenance"] } },
    limit_1k: { ...HTTP, http: { body_size_limit: "1KB" } },
    basic: { ...HTTP, http: { basic_auth: { username: "monitor", password: "pw-1" } } },
    bearer: { ...HTTP, http: { bearer_token: "tok-2" } },
    authz: { ...HTTP, http: { authorization: { type: "Token", credentials: "tok-3" } } },
    not_ssl: { ...HTTP, http: { fail_if_not_ssl: true } },
    ip6_only: { ...HTTP, http: { preferred_ip_protocol: "ip6", ip_protocol_fallback: false } },
  });
  const check = (module: string, path: string) =>
    ask(probe, { module, target: `${server.url}${path}` });
  const last = () => server.seen.at(-1)!;

  await t.step("200 with the default module (http_2xx when none is named)", async () => {
    const a = await ask(probe, { target: `${server.url}/ok` });
    assert.equal(a.status, 200);
    assert.equal(a.contentType, "text/plain; version=0.0.4; charset=utf-8");
    assert.equal(a.metrics.get("probe_success"), 1);
    assert.equal(a.metrics.get("probe_http_status_code"), 200);
    assert.equal(a.metrics.get("probe_http_content_length"), 12);
    assert.equal(a.metrics.get("probe_http_uncompressed_body_length"), 12);
    assert.equal(a.metrics.get("probe_http_redirects"), 0);
    assert.equal(a.metrics.get("probe_http_ssl"), 0);
    assert.equal(a.metrics.get('probe_result{result="up"}'), 1);
    assert.ok(a.metrics.get("probe_duration_seconds")! > 0);
    assert.equal(a.metrics.has("probe_ssl_earliest_cert_expiry"), false);
    assert.deepEqual(a.counted.probed, [["http_2xx", "up"]]);
    assert.equal(last().headers["accept-encoding"], "identity", "no compression, as blackbox");
  });
  await t.step("a target without a scheme is http://, as in blackbox", async () => {
    const a = await ask(probe, { target: `${server.url.slice("http://".length)}/ok` });
    assert.equal(a.metrics.get("probe_success"), 1);
  });
  await t.step("4xx and 5xx fail with result status; valid_status_codes accepts them", async () => {
    for (const code of [404, 500, 503]) {
      const a = await check("http_2xx", `/status/${code}`);
      assert.equal(a.metrics.get("probe_success"), 0, `${code}`);
      assert.equal(a.metrics.get("probe_http_status_code"), code);
      assert.equal(a.metrics.get('probe_result{result="status"}'), 1);
    }
    assert.equal((await check("accept_503", "/status/503")).metrics.get("probe_success"), 1);
    assert.equal((await check("accept_503", "/ok")).metrics.get("probe_success"), 0);
  });
  await t.step("redirects are followed; follow_redirects: false judges the 3xx", async () => {
    expectSeries(await check("http_2xx", "/redirect"), {
      probe_success: 1,
      probe_http_redirects: 1,
      probe_http_status_code: 200,
    });
    // A redirect not followed counts, as blackbox counts it.
    expectSeries(await check("no_follow", "/redirect"), {
      probe_success: 0,
      probe_http_redirects: 1,
      probe_http_status_code: 302,
    });
    expectSeries(await check("no_follow_old", "/redirect"), { probe_success: 1 });
  });
  await t.step("HEAD, and POST with headers and a body", async () => {
    const head = await check("head", "/ok");
    assert.equal(head.metrics.get("probe_success"), 1);
    assert.equal(last().method, "HEAD");
    assert.equal(head.metrics.get("probe_http_content_length"), 12, "HEAD: the declared length");
    const post = await check("post", "/ok");
    assert.equal(post.metrics.get("probe_success"), 1);
    assert.equal(last().method, "POST");
    assert.equal(last().body, '{"ping": true}');
    assert.equal(last().headers["content-type"], "application/json");
    assert.equal(last().headers["x-probe"], "7");
  });
  await t.step("body regexes: match and mismatch, probe_failed_due_to_regex", async () => {
    const regex = (success: number, failedDueToRegex: number) => ({
      probe_success: success,
      probe_failed_due_to_regex: failedDueToRegex,
    });
    expectSeries(await check("body_must", "/json"), regex(1, 0));
    expectSeries(await check("body_must", "/ok"), {
      ...regex(0, 1),
      'probe_result{result="body"}': 1,
    });
    expectSeries(await check("body_mustnt", "/maintenance"), regex(0, 1));
    expectSeries(await check("body_mustnt", "/ok"), regex(1, 0));
    const status = await check("body_must", "/status/500");
    assert.equal(status.metrics.get("probe_failed_due_to_regex"), 0, "the status failed first");
  });
  await t.step("body_size_limit: a longer body fails, a shorter one passes", async () => {
    const big = await check("limit_1k", "/big");
    assert.equal(big.metrics.get("probe_success"), 0);
    assert.equal(big.metrics.get('probe_result{result="body"}'), 1);
    assert.equal(big.metrics.get("probe_http_uncompressed_body_length"), 1024);
    assert.equal(big.metrics.get("probe_http_content_length"), 4096);
    assert.equal((await check("limit_1k", "/ok")).metrics.get("probe_success"), 1);
  });
  await t.step("basic_auth, bearer_token, authorization reach the server", async () => {
    await check("basic", "/ok");
    assert.equal(last().headers.authorization, `Basic ${btoa("monitor:pw-1")}`);
    await check("bearer", "/ok");
    assert.equal(last().headers.authorization, "Bearer tok-2");
    await check("authz", "/ok");
    assert.equal(last().headers.authorization, "Token tok-3");
    const url = new URL(`${server.url}/ok`);
    url.username = "urluser";
    url.password = "urlpw";
    await ask(probe, { module: "http_2xx", target: url.href });
    assert.equal(last().headers.authorization, `Basic ${btoa("urluser:urlpw")}`);
  });
  await t.step("fail_if_not_ssl fails a plain http answer", async () => {
    const a = await check("not_ssl", "/ok");
    assert.equal(a.metrics.get("probe_success"), 0);
    assert.equal(a.metrics.get('probe_result{result="tls"}'), 1);
  });
  await t.step("ip_protocol_fallback: false needs an address of the preferred family", async () => {
    const a = await check("ip6_only", "/ok");
    assert.equal(a.metrics.get("probe_success"), 0);
    assert.equal(a.metrics.get('probe_result{result="dns"}'), 1);
    assert.equal(a.metrics.get("probe_http_status_code"), 0);
  });
  await t.step("Last-Modified is exported when the server sends one", async () => {
    const a = await check("http_2xx", "/last-modified");
    assert.equal(a.metrics.get("probe_http_last_modified_timestamp_seconds"), 1445412480);
  });
  await t.step("connection refused: status 0, result connect", async () => {
    const gone = countingListener();
    const url = gone.url;
    await gone.close();
    const a = await ask(probe, { module: "http_2xx", target: `${url}/` });
    assert.equal(a.metrics.get("probe_success"), 0);
    assert.equal(a.metrics.get("probe_http_status_code"), 0);
    assert.equal(a.metrics.get("probe_http_content_length"), 0);
    assert.equal(a.metrics.get('probe_result{result="connect"}'), 1);
  });
});

Deno.test("on-demand: https, fail_if_ssl, tls_config.ca_file and the certificate expiry", async (t) => {
  await using server = probeTargets({ tls: true });
  const probe = settings({
    http_2xx: HTTP,
    with_ca: { ...HTTP, http: { tls_config: { ca_file: TEST_CA_FILE } } },
    ssl_fails: { ...HTTP, http: { fail_if_ssl: true, tls_config: { ca_file: TEST_CA_FILE } } },
    must_ssl: { ...HTTP, http: { fail_if_not_ssl: true, tls_config: { ca_file: TEST_CA_FILE } } },
  });
  // The certificate the server presents, read from its file, not from a connection.
  const pem = Deno.readTextFileSync(new URL("../fixtures/tls/localhost.pem", import.meta.url));
  const notAfter = Date.parse(new X509Certificate(pem).validTo) / 1000;
  await t.step("with the CA: success over https, ssl 1, expiry of the certificate", async () => {
    const a = await ask(probe, { module: "with_ca", target: `${server.url}/ok` });
    assert.equal(a.metrics.get("probe_success"), 1, a.body);
    assert.equal(a.metrics.get("probe_http_ssl"), 1);
    assert.equal(a.metrics.get("probe_ssl_earliest_cert_expiry"), notAfter);
    assert.equal(
      (await ask(probe, { module: "must_ssl", target: `${server.url}/ok` }))
        .metrics.get("probe_success"),
      1,
    );
  });
  await t.step("without the CA: tls failure, and still the certificate's expiry", async () => {
    const a = await ask(probe, { module: "http_2xx", target: `${server.url}/ok` });
    assert.equal(a.metrics.get("probe_success"), 0);
    assert.equal(a.metrics.get('probe_result{result="tls"}'), 1);
    assert.equal(a.metrics.get("probe_http_ssl"), 0);
    assert.equal(a.metrics.get("probe_ssl_earliest_cert_expiry"), notAfter);
  });
  await t.step("fail_if_ssl fails an https answer", async () => {
    const a = await ask(probe, { module: "ssl_fails", target: `${server.url}/ok` });
    assert.equal(a.metrics.get("probe_success"), 0);
    assert.equal(a.metrics.get("probe_http_status_code"), 200);
    assert.equal(a.metrics.get('probe_result{result="tls"}'), 1);
  });
});

Deno.test("on-demand: blackbox's timeout rule", async (t) => {
  await t.step("probeTimeoutMs: module timeout, capped by the header minus 0.5 s", () => {
    assert.deepEqual(probeTimeoutMs("10", 5000), { ok: true, value: 5000 });
    assert.deepEqual(probeTimeoutMs("3", 5000), { ok: true, value: 2500 });
    assert.deepEqual(probeTimeoutMs("3", 0), { ok: true, value: 2500 });
    assert.deepEqual(probeTimeoutMs(null, 0), { ok: true, value: 119_500 });
    assert.deepEqual(probeTimeoutMs(undefined, 7000), { ok: true, value: 7000 });
    assert.deepEqual(probeTimeoutMs("0.3", 2000), { ok: true, value: 2000 }, "nothing left");
    assert.deepEqual(probeTimeoutMs("1.5e1", 0), { ok: true, value: 14_500 });
    assert.deepEqual(probeTimeoutMs("soon", 0), {
      ok: false,
      error: "'soon' is not a number of seconds",
    });
  });
  await using hang = hangingServer();
  const probe = settings({
    short: { ...HTTP, timeout: "300ms" },
    long: { ...HTTP, timeout: "10s" },
  });
  await t.step("the module's timeout ends a hanging check", async () => {
    const started = performance.now();
    const a = await ask(probe, { module: "short", target: `${hang.url}/` }, {
      scrapeTimeout: "10",
    });
    const took = performance.now() - started;
    assert.equal(a.metrics.get('probe_result{result="timeout"}'), 1);
    assert.ok(took >= 280 && took < 3000, `took ${took} ms`);
    assert.ok(Math.abs(a.metrics.get("probe_duration_seconds")! - 0.3) < 0.2);
  });
  await t.step("the scrape timeout header minus 0.5 s caps a longer module timeout", async () => {
    const started = performance.now();
    const a = await ask(probe, { module: "long", target: `${hang.url}/` }, { scrapeTimeout: "1" });
    const took = performance.now() - started;
    assert.equal(a.metrics.get('probe_result{result="timeout"}'), 1);
    assert.ok(took >= 480 && took < 3000, `took ${took} ms, want about 500`);
  });
  await t.step("a bad header is a 400", async () => {
    const a = await ask(probe, { module: "short", target: `${hang.url}/` }, { scrapeTimeout: "x" });
    assert.equal(a.status, 400);
    assert.equal(
      a.body,
      "Cannot read X-Prometheus-Scrape-Timeout-Seconds: 'x' is not a number of seconds\n",
    );
  });
});

Deno.test("on-demand: the guard refuses with 403 and no connection to the target", async (t) => {
  await using counter = countingListener();
  const probe = settings({ http_2xx: HTTP }, ["127.0.0.1/32", "allowed.test"]);
  const refused = async (target: string, reason: string, message: string) => {
    const a = await ask(probe, { target });
    assert.equal(a.status, 403, a.body);
    assert.equal(a.body, `Refused: ${message}\n`);
    assert.deepEqual(a.counted.refused, [reason]);
    assert.deepEqual(a.counted.probed, []);
  };
  await t.step("refused by name (no entry covers localhost)", async () => {
    const only = settings({ http_2xx: HTTP }, ["allowed.test"]);
    const a = await ask(only, { target: `http://localhost:${counter.port}/` });
    assert.equal(a.status, 403);
    assert.equal(
      a.body,
      `Refused: http://localhost:${counter.port} is not in probe.allowed_targets\n`,
    );
  });
  await t.step("refused by CIDR: 127.0.0.2 is outside 127.0.0.1/32", async () => {
    await using other = countingListener("127.0.0.2");
    await refused(
      `${other.url}/`,
      "not_allowed",
      `${other.url} is not in probe.allowed_targets`,
    );
    assert.equal(other.accepted, 0);
  });
  await t.step("refused: 0.0.0.0 (which reaches the local host) unless named", async () => {
    await refused(
      `http://0.0.0.0:${counter.port}/`,
      "unspecified",
      `http://0.0.0.0:${counter.port} is 'this network': a connection to 0.0.0.0 reaches the local host: ` +
        "refused unless probe.allowed_targets names 0.0.0.0/8 itself",
    );
  });
  await t.step("refused: the metadata address, also under a broad 0.0.0.0/0", async () => {
    const broad = settings({ http_2xx: HTTP }, ["0.0.0.0/0"]);
    const a = await ask(broad, { target: "http://169.254.169.254/latest/meta-data/" });
    assert.equal(a.status, 403);
    assert.deepEqual(a.counted.refused, ["metadata"]);
    const six = await ask(broad, { target: "http://[fd00:ec2::254]/" });
    assert.equal(six.status, 403, "an IPv6 metadata address is not covered by an IPv4 rule either");
  });
  assert.equal(counter.accepted, 0, "no connection reached the refused targets");

  await t.step(
    "a redirect hop into a refused range: 403, and that hop is never requested",
    async () => {
      await using server = probeTargets();
      await using hop = countingListener();
      const redirecting = settings({ http_2xx: HTTP }, ["127.0.0.1/32"]);
      for (
        const [to, reason] of [
          [`http://0.0.0.0:${hop.port}/`, "unspecified"],
          [`http://127.0.0.2:${hop.port}/`, "not_allowed"],
          [`http://user:secret-pw@0.0.0.0:${hop.port}/`, "unspecified"],
        ]
      ) {
        const a = await ask(redirecting, {
          target: `${server.url}/redirect-to?url=${encodeURIComponent(to!)}`,
        });
        assert.equal(a.status, 403, a.body);
        assert.deepEqual(a.counted.refused, [reason]);
        assert.match(a.body, /^Refused: redirect to http:\/\/.* refused: /);
        assert.ok(!a.body.includes("secret-pw"), a.body);
      }
      assert.equal(hop.accepted, 0, "no refused hop was requested");
      assert.equal(server.seen.filter((s) => s.path === "/redirect-to").length, 3);
    },
  );
  await t.step(
    "an allowed name that a real DNS server resolves to the metadata address",
    async () => {
      await using dns = await startDnsServer({
        "evil.test": ["169.254.169.254"],
        "good.test": ["127.0.0.1"],
      });
      const named = settings({ http_2xx: HTTP }, ["*.test"]);
      const deps = { guard: { nameServer: dns.nameServer, hostsFile: "" } };
      const a = await ask(named, { target: "http://evil.test/" }, { deps });
      assert.equal(a.status, 403);
      assert.equal(
        a.body,
        "Refused: http://evil.test resolves to 169.254.169.254, which is a cloud metadata address: " +
          "refused unless probe.allowed_targets names 169.254.169.254/32 itself\n",
      );
      const nx = await ask(named, { target: "http://nx.test/" }, { deps });
      assert.equal(nx.status, 200, "a name without records is a failed check, not a refusal");
      assert.equal(nx.metrics.get('probe_result{result="dns"}'), 1);
    },
  );
});

Deno.test("on-demand: bad requests, disabled, unknown module, the debug account", async (t) => {
  await using server = probeTargets();
  const probe = settings({
    http_2xx: { ...HTTP, http: { basic_auth: { username: "u", password: "debug-secret-pw" } } },
  });
  await t.step("disabled: 404 with the reason", async () => {
    const off = buildConfig("targets: [http://127.0.0.1:1/]\n").probe!;
    const a = await ask(off, { target: `${server.url}/ok` });
    assert.equal(a.status, 404);
    assert.equal(
      a.body,
      "/probe is disabled: set probe.enabled: true and probe.allowed_targets in the config file\n",
    );
    assert.deepEqual(a.counted.refused, ["disabled"]);
  });
  await t.step("blackbox's 400s: unknown module, missing target", async () => {
    const unknown = await ask(probe, { module: "nope", target: `${server.url}/ok` });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body, 'Unknown module "nope"\n');
    assert.deepEqual(unknown.counted.refused, ["unknown_module"]);
    const missing = await ask(probe, {});
    assert.equal(missing.status, 400);
    assert.equal(missing.body, "Target parameter is missing\n");
    const bad = await ask(probe, { target: "http://[::1" });
    assert.equal(bad.status, 400);
    assert.equal(bad.body, "target 'http://[::1' is not a valid URL\n");
    const host = await ask(probe, { target: `${server.url}/ok`, hostname: "example.com" });
    assert.equal(host.status, 400);
  });
  await t.step("debug=true: the account, the metrics and the module, secrets masked", async () => {
    const url = new URL(`${server.url}/redirect`);
    url.username = "someone";
    url.password = "url-secret-pw";
    const a = await ask(probe, { target: url.href, debug: "true" });
    assert.equal(a.status, 200);
    assert.equal(a.contentType, "text/plain; charset=utf-8");
    const parts = a.body.split("\n\n\n\n");
    assert.equal(parts.length, 3, a.body);
    assert.match(parts[0]!, /^Logs for the probe:\n/);
    for (
      const line of [
        `msg="Beginning probe" module=http_2xx target=http://someone:***@127.0.0.1:${server.port}/redirect`,
        'msg="Resolved target address" target=127.0.0.1 ip=127.0.0.1 allowed_by=127.0.0.0/8',
        `msg="Making HTTP request" method=GET url=http://127.0.0.1:${server.port}/redirect`,
        'msg="Received HTTP response" status_code=302 location=/ok',
        `msg="Making HTTP request" method=GET url=http://127.0.0.1:${server.port}/ok`,
        'msg="Received HTTP response" status_code=200',
        'msg="Probe succeeded" result=up',
      ]
    ) {
      assert.ok(parts[0]!.includes(line), `account lacks ${line}:\n${parts[0]}`);
    }
    assert.match(parts[1]!, /^Metrics that would have been returned:\n/);
    assert.ok(parts[1]!.includes("probe_success 1"));
    assert.ok(parts[1]!.includes("probe_http_redirects 1"));
    assert.ok(parts[2]!.startsWith("Module configuration:\nprober: http\nhttp:\n  basic_auth:\n"));
    assert.ok(parts[2]!.includes("password: <secret>"));
    assert.ok(!a.body.includes("debug-secret-pw") && !a.body.includes("url-secret-pw"), a.body);
  });
  await t.step("debug=true on a refused target: 403 with the account", async () => {
    const a = await ask(probe, { target: "http://10.0.0.1/", debug: "true" });
    assert.equal(a.status, 403);
    assert.match(
      a.body,
      /^Refused: http:\/\/10\.0\.0\.1 is not in probe\.allowed_targets\n\nLogs for the probe:\n/,
    );
    assert.ok(a.body.includes('msg="Target refused" reason=not_allowed'));
  });
});

Deno.test("on-demand: the hostile server's behaviours give a failed check, not an error", async (t) => {
  await using hostile = hostileServer({ trickleMs: 50, bigHeaderBytes: 256 * 1024 });
  const probe = settings({ http_2xx: { ...HTTP, timeout: "1s" } });
  const expected: Record<string, [number, number, string]> = {
    "/ok": [1, 200, "up"],
    "/hang": [0, 0, "timeout"],
    "/trickle": [0, 200, "timeout"],
    "/loop/a": [0, 302, "redirect"],
    "/redirect-closed": [0, 0, "connect"],
    "/reset": [0, 200, "body"],
    "/close": [0, 0, "error"],
    "/204": [1, 204, "up"],
    "/304": [0, 304, "status"],
    "/http10": [1, 200, "up"],
  };
  for (const [path, [success, status, result]] of Object.entries(expected)) {
    await t.step(path, async () => {
      const a = await ask(probe, { target: `${hostile.url}${path}` });
      assert.equal(a.status, 200);
      assert.equal(a.metrics.get("probe_success"), success, a.body);
      assert.equal(a.metrics.get("probe_http_status_code"), status, a.body);
      assert.equal(a.metrics.get(`probe_result{result="${result}"}`), 1, a.body);
    });
  }
  await t.step("every connection was closed", async () => {
    for (let i = 0; i < 100 && hostile.open > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(hostile.open, 0);
  });
});
