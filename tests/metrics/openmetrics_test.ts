/**
 * The OpenMetrics 1.0 exposition: what the format requires of our families,
 * checked by hand and by Prometheus' own OpenMetrics parser (promtool's
 * `tsdb create-blocks-from openmetrics`: `promtool check metrics` reads the
 * text format only, so it cannot judge OpenMetrics), and the per-format cache.
 */

import assert from "node:assert/strict";
import { buildConfig } from "../../lib/config/validate.ts";
import {
  escapeHelp,
  familyHeader,
  openMetricsFloat,
  unitOf,
} from "../../lib/metrics/exposition.ts";
import { expositionFor, probeResult } from "../_helpers/servers.ts";

const YAML = `
global: {histogram_buckets: [0.01, 0.5, 1, 2.5, 10]}
targets:
  - url: https://user:secret@example.com/a
    labels: {team: 'pay"ments', note: "line\\nbreak"}
  - url: https://example.org/503
  - url: http://never.example/
`;

function setup() {
  const config = buildConfig(YAML, {}, { env: {} });
  const env = expositionFor(config);
  const [a, b] = config.targets;
  env.store.recordCertExpiry(a!.key, 1_800_000_000);
  env.store.record(a!.key, probeResult({ durationMs: 298.5612 }), 1_700_000_000_123);
  env.store.record(
    b!.key,
    probeResult({ result: "status", statusCode: 503, durationMs: 1500 }),
    1_700_000_000_500,
  );
  env.self.skipped();
  env.self.checkStarted(3);
  return { config, ...env };
}

/** Metadata and sample names of an OpenMetrics body, family by family. */
function families(text: string) {
  const out = new Map<string, { type?: string; unit?: string; help?: string; samples: string[] }>();
  let current: string | undefined;
  for (const line of text.split("\n")) {
    const meta = /^# (TYPE|UNIT|HELP) (\S+) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      const f = out.get(name) ?? { samples: [] };
      f[kind.toLowerCase() as "type" | "unit" | "help"] = rest;
      out.set(name, f);
      current = name;
    } else if (line && !line.startsWith("#")) {
      out.get(current!)!.samples.push(/^[^{ ]+/.exec(line)![0]);
    }
  }
  return out;
}

Deno.test("OpenMetrics exposition", async (t) => {
  const { exposition } = setup();
  const text = (await exposition.body("openmetrics")).text;
  const fams = families(text);

  await t.step("ends with exactly one # EOF", () => {
    assert.ok(text.endsWith("\n# EOF\n"));
    assert.equal(text.match(/^# EOF$/gm)?.length, 1);
  });
  await t.step("every family has TYPE and HELP before its samples, each name once", () => {
    const typeLines = text.split("\n").filter((l) => l.startsWith("# TYPE "));
    assert.equal(new Set(typeLines).size, typeLines.length);
    for (const [name, f] of fams) {
      assert.ok(f.type, `${name}: no TYPE`);
      assert.ok(f.help, `${name}: no HELP`);
    }
  });
  await t.step("counters: family without _total, samples with it", () => {
    const counters = [...fams].filter(([, f]) => f.type === "counter");
    assert.deepEqual(counters.map(([n]) => n).sort(), [
      "process_cpu_seconds",
      "process_cpu_system_seconds",
      "process_cpu_user_seconds",
      "sample_external_url_checks",
      "uptime_exporter_checks_skipped",
      "uptime_exporter_config_reloads",
      "uptime_exporter_probe_refused",
      "uptime_exporter_probe_requests",
    ]);
    for (const [name, f] of counters) {
      // Labelled by module and result: no sample before the first /probe.
      if (name !== "uptime_exporter_probe_requests") assert.ok(f.samples.length > 0, name);
      for (const s of f.samples) assert.equal(s, `${name}_total`);
    }
    assert.match(text, /^uptime_exporter_checks_skipped_total 1$/m);
  });
  await t.step("histograms: _bucket (le as a float, +Inf last), _sum, _count", () => {
    for (
      const name of [
        "sample_external_url_response_seconds",
        "uptime_exporter_check_start_delay_seconds",
      ]
    ) {
      const f = fams.get(name)!;
      assert.equal(f.type, "histogram");
      assert.deepEqual([...new Set(f.samples)].sort(), [
        `${name}_bucket`,
        `${name}_count`,
        `${name}_sum`,
      ]);
    }
    const les = [
      ...text.matchAll(
        /^sample_external_url_response_seconds_bucket\{url="https:\/\/example\.org\/503",le="([^"]+)"\} (\d+)$/gm,
      ),
    ]
      .map((m) => [m[1], Number(m[2])]);
    assert.deepEqual(les, [["0.01", 0], ["0.5", 0], ["1.0", 0], ["2.5", 1], ["10.0", 1], [
      "+Inf",
      1,
    ]]);
    assert.match(text, /^uptime_exporter_check_start_delay_seconds_bucket\{le="1\.0"\} 1$/m);
  });
  await t.step("# UNIT where the name ends in a base unit, and only there", () => {
    for (const [name, f] of fams) {
      const unit = /_(seconds|bytes)$/.exec(name)?.[1];
      assert.equal(f.unit, unit, name);
    }
    assert.equal(
      fams.get("sample_external_url_response_ms")!.unit,
      undefined,
      "ms is no base unit",
    );
    assert.equal(fams.get("sample_external_url_response_seconds")!.unit, "seconds");
    assert.equal(fams.get("process_resident_memory_bytes")!.unit, "bytes");
  });
  await t.step("the same samples as the text format, label values escaped alike", async () => {
    const plain = (await exposition.body("text")).text;
    const samples = (s: string) =>
      s.split("\n").filter((l) =>
        l && !l.startsWith("#") && !/^(process_|uptime_exporter_check_start)/.test(l)
      )
        // le is spelled as a float in OpenMetrics.
        .map((l) => l.replace(/le="(\d+)\.0"/, 'le="$1"'));
    assert.deepEqual(samples(text), samples(plain));
    assert.match(text, /team="pay\\"ments",note="line\\nbreak"/);
    assert.doesNotMatch(text, /secret/);
  });
  await t.step(
    "Prometheus' OpenMetrics parser reads it (promtool tsdb create-blocks-from)",
    async () => {
      const dir = await Deno.makeTempDir({ prefix: "openmetrics-test-" });
      try {
        // Backfilling needs a timestamp on every sample; the rest is the body as served.
        const stamped = text.split("\n").map((l) => l && !l.startsWith("#") ? `${l} 1700000000` : l)
          .join("\n");
        await Deno.writeTextFile(`${dir}/body.txt`, stamped);
        const out = await new Deno.Command("promtool", {
          args: ["tsdb", "create-blocks-from", "openmetrics", `${dir}/body.txt`, `${dir}/blocks`],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const report = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 0, report);
        const samples = text.split("\n").filter((l) => l && !l.startsWith("#")).length;
        assert.match(report, new RegExp(`\\s${samples}\\s+\\d+\\s+${samples}\\s`), report);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  );
});

Deno.test("a body per format, each rendered only when asked for", async (t) => {
  const { exposition, store, config } = setup();
  await t.step("text scrapes never render OpenMetrics, and the other way round", async () => {
    await exposition.body("text");
    await exposition.body();
    assert.deepEqual(exposition.rendersByFormat, { text: 1, openmetrics: 0 });
    await exposition.body("openmetrics");
    await exposition.body("openmetrics");
    assert.deepEqual(exposition.rendersByFormat, { text: 1, openmetrics: 1 });
    assert.equal(exposition.renders, 2);
  });
  await t.step("a change renders each format again on its next scrape", async () => {
    store.record(config.targets[2]!.key, probeResult(), 1_700_000_001_000);
    const om = await exposition.body("openmetrics");
    assert.match(om.text, /never\.example/);
    assert.deepEqual(exposition.rendersByFormat, { text: 1, openmetrics: 2 });
    const text = await exposition.body("text");
    assert.match(text.text, /^sample_external_url_up\{url="http:\/\/never\.example\/"\} 1$/m);
    assert.deepEqual(exposition.rendersByFormat, { text: 2, openmetrics: 2 });
    assert.ok(text !== om);
    assert.ok(text.gzip() !== om.gzip());
  });
  await t.step("an OpenMetrics render leaves the text format's counter names alone", async () => {
    // prom-client's own OpenMetrics mode renames counters in place; ours must not.
    for (let i = 0; i < 3; i++) {
      store.record(config.targets[0]!.key, probeResult(), 1_700_000_002_000 + i);
      await exposition.body("openmetrics");
      const text = (await exposition.body("text")).text;
      for (const name of ["uptime_exporter_checks_skipped_total", "process_cpu_seconds_total"]) {
        assert.match(text, new RegExp(`^# TYPE ${name} counter$`, "m"));
        assert.match(text, new RegExp(`^${name} `, "m"));
      }
    }
  });
});

Deno.test("OpenMetrics helpers", () => {
  assert.deepEqual([1, 0, 10, 0.25, 2.5, 1e21, NaN, Infinity, -Infinity].map(openMetricsFloat), [
    "1.0",
    "0.0",
    "10.0",
    "0.25",
    "2.5",
    "1e+21",
    "NaN",
    "+Inf",
    "-Inf",
  ]);
  assert.equal(unitOf("a_seconds"), "seconds");
  assert.equal(unitOf("a_timestamp_seconds"), "seconds");
  assert.equal(unitOf("a_bytes"), "bytes");
  assert.equal(unitOf("a_ms"), undefined);
  assert.equal(unitOf("a_seconds_x"), undefined);
  assert.equal(escapeHelp('a "b" \\ c\nd', "text"), 'a "b" \\\\ c\\nd');
  assert.equal(escapeHelp('a "b" \\ c\nd', "openmetrics"), 'a \\"b\\" \\\\ c\\nd');
  assert.equal(
    familyHeader("x_total", "counter", "h", "openmetrics"),
    "# TYPE x counter\n# HELP x h\n",
  );
  assert.equal(
    familyHeader("x_seconds_total", "counter", "h", "openmetrics"),
    "# TYPE x_seconds counter\n# UNIT x_seconds seconds\n# HELP x_seconds h\n",
  );
  assert.equal(
    familyHeader("x_total", "counter", "h", "text"),
    "# HELP x_total h\n# TYPE x_total counter\n",
  );
});
