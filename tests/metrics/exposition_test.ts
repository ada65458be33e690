import assert from "node:assert/strict";
import { promtoolCheckMetrics } from "../_helpers/promtool.ts";
import { buildConfig } from "../../lib/config/validate.ts";
import { escapeLabelValue } from "../../lib/metrics/exposition.ts";
import type { ProbeResult } from "../../lib/check/outcome.ts";
import { expositionFor, probeResult } from "../_helpers/servers.ts";

const result = (partial: Partial<Omit<ProbeResult, "up">>) =>
  probeResult({ durationMs: 12.3456, ...partial });

function setup(yaml: string) {
  const config = buildConfig(yaml, {}, { env: {} });
  return { config, ...expositionFor(config) };
}

const TWO = `
targets:
  - url: https://user:secret@example.com/a
    labels: {team: 'pay"ments'}
  - url: https://example.org/503
global: {histogram_buckets: [0.1, 1]}
`;

Deno.test("exposition renders the metrics contract", async (t) => {
  const { config, store, exposition } = setup(TWO);
  const [a, b] = config.targets;
  store.record(a!.key, result({ durationMs: 298.5612 }), 1_700_000_000_123);
  store.record(
    b!.key,
    result({ result: "status", statusCode: 503, durationMs: 1500 }),
    1_700_000_000_500,
  );
  const text = (await exposition.body()).text;

  await t.step("seed families with the seed HELP texts", () => {
    assert.match(
      text,
      /^# HELP sample_external_url_up URL Up\n# TYPE sample_external_url_up gauge\n/m,
    );
    assert.match(
      text,
      /^# HELP sample_external_url_response_ms Response Time\n# TYPE sample_external_url_response_ms gauge\n/m,
    );
  });
  await t.step("per-target series with static labels, credentials masked", () => {
    const lines = text.split("\n").filter((l) =>
      l.startsWith("sample_external_url_") && !l.includes("_checks_total") &&
      !l.includes("_response_seconds")
    );
    assert.deepEqual(lines, [
      'sample_external_url_up{url="https://user:***@example.com/a",team="pay\\"ments"} 1',
      'sample_external_url_up{url="https://example.org/503"} 0',
      'sample_external_url_response_ms{url="https://user:***@example.com/a",team="pay\\"ments"} 298.561',
      'sample_external_url_response_ms{url="https://example.org/503"} 1500',
      'sample_external_url_status_code{url="https://user:***@example.com/a",team="pay\\"ments"} 200',
      'sample_external_url_status_code{url="https://example.org/503"} 503',
      'sample_external_url_last_check_timestamp_seconds{url="https://user:***@example.com/a",team="pay\\"ments"} 1700000000.123',
      'sample_external_url_last_check_timestamp_seconds{url="https://example.org/503"} 1700000000.5',
    ]);
    assert.doesNotMatch(text, /secret/);
  });
  await t.step("checks_total has every result, initialised to 0", () => {
    const b503 = text.split("\n").filter((l) =>
      l.startsWith('sample_external_url_checks_total{url="https://example.org/503"')
    );
    assert.equal(b503.length, 9);
    assert.ok(
      b503.includes(
        'sample_external_url_checks_total{url="https://example.org/503",result="status"} 1',
      ),
    );
    assert.ok(
      b503.includes(
        'sample_external_url_checks_total{url="https://example.org/503",result="up"} 0',
      ),
    );
  });
  await t.step("histogram is cumulative with +Inf, sum and count", () => {
    const h = text.split("\n").filter((l) =>
      l.startsWith("sample_external_url_response_seconds") && l.includes("example.org")
    );
    assert.deepEqual(h, [
      'sample_external_url_response_seconds_bucket{url="https://example.org/503",le="0.1"} 0',
      'sample_external_url_response_seconds_bucket{url="https://example.org/503",le="1"} 0',
      'sample_external_url_response_seconds_bucket{url="https://example.org/503",le="+Inf"} 1',
      'sample_external_url_response_seconds_sum{url="https://example.org/503"} 1.5',
      'sample_external_url_response_seconds_count{url="https://example.org/503"} 1',
    ]);
  });
  await t.step("self metrics follow, with non-zero process metrics", () => {
    assert.match(
      text,
      new RegExp(
        `^uptime_exporter_build_info\\{version="test",revision="unknown",deno="[\\d.]+",os="${Deno.build.os}",arch="${Deno.build.arch}"\\} 1$`,
        "m",
      ),
    );
    assert.match(text, /^uptime_exporter_targets 2$/m);
    assert.match(text, /^uptime_exporter_config_last_reload_successful 0$/m);
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
    assert.ok(value("process_resident_memory_bytes") > 10_000_000);
    assert.ok(value("process_cpu_seconds_total") > 0);
    assert.ok(value("process_cpu_user_seconds_total") > 0);
    assert.ok(value("process_heap_bytes") > 0);
    assert.ok(Math.abs(value("process_start_time_seconds") - Date.now() / 1000) < 3600);
  });
  await t.step("promtool parses it (only the _ms unit is flagged)", async () => {
    const { findings } = await promtoolCheckMetrics(text);
    // The seed contract forces a gauge in milliseconds; promtool only lints its name.
    const allowed = /^sample_external_url_response_ms .*(base units|unit)/i;
    for (const line of findings) {
      assert.match(line, allowed, `unexpected promtool finding: ${line}`);
    }
  });
});

Deno.test("exposition caching", async (t) => {
  await t.step("a scrape with nothing changed serves the cached body", async () => {
    const { exposition, advance } = setup(TWO);
    const first = await exposition.body();
    advance(500);
    const second = await exposition.body();
    assert.equal(second, first);
    assert.equal(exposition.renders, 1);
  });
  await t.step("a new result or an old cache re-renders", async () => {
    const { config, store, exposition, advance } = setup(TWO);
    await exposition.body();
    store.record(config.targets[0]!.key, result({}), Date.now());
    await exposition.body();
    assert.equal(exposition.renders, 2);
    advance(1500);
    await exposition.body();
    assert.equal(exposition.renders, 3);
  });
  await t.step("concurrent scrapers share one render and one gzip", async () => {
    const { exposition } = setup(TWO);
    const bodies = await Promise.all(Array.from({ length: 10 }, () => exposition.body()));
    assert.equal(exposition.renders, 1);
    assert.ok(bodies.every((b) => b === bodies[0]));
    const gz = await Promise.all(bodies.map((b) => b.gzip()));
    assert.ok(gz.every((g) => g === gz[0]));
    const text = await new Response(
      new Blob([gz[0]! as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
        new DecompressionStream("gzip"),
      ),
    ).text();
    assert.equal(text, bodies[0]!.text);
  });
  await t.step("histogram off: no response_seconds family", async () => {
    const { exposition } = setup(
      "targets: [{url: 'http://a.test/'}]\nglobal: {histogram_buckets: []}",
    );
    assert.doesNotMatch((await exposition.body()).text, /response_seconds/);
  });
  await t.step("a target not checked yet has counters but no gauges", async () => {
    const { exposition } = setup("targets: [{url: 'http://a.test/'}]");
    const text = (await exposition.body()).text;
    assert.doesNotMatch(text, /^sample_external_url_up\{/m);
    assert.match(
      text,
      /^sample_external_url_checks_total\{url="http:\/\/a.test\/",result="up"\} 0$/m,
    );
  });
  await t.step("a certificate expiry is exported once the target has a check", async () => {
    const { config, store, exposition, advance } = setup("targets: [{url: 'https://a.test/'}]");
    const key = config.targets[0]!.key;
    const expiry = /^sample_external_url_tls_cert_expiry_timestamp_seconds\{.*\} (\S+)$/m;
    store.recordCertExpiry(key, 1_800_000_000.25);
    assert.doesNotMatch((await exposition.body()).text, expiry);
    store.record(key, result({}), Date.now());
    advance(1);
    assert.equal(expiry.exec((await exposition.body()).text)?.[1], "1800000000.25");
  });
  await t.step("metric prefix is configurable", async () => {
    const { config, store, exposition } = setup(
      "targets: [{url: 'http://a.test/'}]\nglobal: {metric_prefix: my_urls}",
    );
    store.record(config.targets[0]!.key, result({}), Date.now());
    const text = (await exposition.body()).text;
    assert.match(text, /^my_urls_up\{url="http:\/\/a.test\/"\} 1$/m);
    assert.doesNotMatch(text, /sample_external_url/);
  });
});

Deno.test("escapeLabelValue", () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  assert.equal(escapeLabelValue("plain"), "plain");
});
