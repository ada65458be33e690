/**
 * End to end: a real Prometheus scrapes the exporter's `/probe` with the
 * standard blackbox_exporter relabelling (`__param_target`, `instance`,
 * `__address__`), as an existing blackbox scrape job does. `probe_success`
 * is 1 and 0 for the right targets, Prometheus' scrape timeout header caps
 * the check, and a target outside `probe.allowed_targets` is a failed scrape
 * (`up == 0`, the 403 in the target's lastError).
 *
 * Needs /usr/bin/prometheus (see docs/e2e.md); a missing tool fails the test.
 *
 * @module
 */

import assert from "node:assert/strict";
import { stringify as stringifyYaml } from "yaml";
import * as harness from "./harness.ts";

const { requireTool, saveArtifact, startExporter, startPrometheus, startTargets } = harness;
const { tempDir, versionOf, waitFor } = harness;

const JOB = "blackbox-style";

Deno.test("e2e: Prometheus scrapes /probe with the standard blackbox relabel config", async (t) => {
  const prometheusBin = requireTool(
    "prometheus",
    ["/usr/bin/prometheus", "prometheus"],
    "PROMETHEUS",
  );
  console.log(`prometheus: ${await versionOf(prometheusBin)}`);
  await using dir = await tempDir("probe");
  await using targets = startTargets();
  const modulesFile = `${dir.path}/blackbox.yml`;
  await Deno.writeTextFile(
    modulesFile,
    stringifyYaml({
      modules: {
        http_2xx: { prober: "http", timeout: "5s", http: { preferred_ip_protocol: "ip4" } },
      },
    }),
  );
  // 127.0.0.2 is loopback too, but not in the allow-list: the exporter must refuse it.
  const refused = `http://127.0.0.2:${new URL(targets.url).port}/ok`;
  const url = {
    ok: `${targets.url}/ok`,
    redirect: `${targets.url}/redirect`,
    unavailable: `${targets.url}/unavailable`,
    hang: targets.hangUrl,
    refused,
  };
  await using exporter = await startExporter({
    dir: dir.path,
    config: {
      targets: [url.ok],
      probe: { enabled: true, allowed_targets: ["127.0.0.1/32"] },
    },
    args: ["--probe.modules-file", modulesFile],
  });
  let prom: harness.Prometheus | undefined;
  try {
    prom = await startPrometheus(prometheusBin, dir.path, {
      global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
      scrape_configs: [{
        job_name: JOB,
        metrics_path: "/probe",
        params: { module: ["http_2xx"] },
        static_configs: [{ targets: Object.values(url) }],
        relabel_configs: [
          { source_labels: ["__address__"], target_label: "__param_target" },
          { source_labels: ["__param_target"], target_label: "instance" },
          { target_label: "__address__", replacement: exporter.host },
        ],
      }],
    });
    const p = prom;

    await t.step("probe_success is 1 and 0 for the right targets", async () => {
      const success = await waitFor("probe_success of every allowed target", async () => {
        const m = await p.queryBy(`probe_success{job="${JOB}"}`, "instance");
        return m.size === 4 ? m : undefined;
      });
      const byInstance = async (metric: string) =>
        Object.fromEntries(await p.queryBy(`${metric}{job="${JOB}"}`, "instance"));
      assert.deepEqual(Object.fromEntries(success), await byInstance("probe_success"));
      assert.deepEqual(await byInstance("probe_success"), {
        [url.ok]: 1,
        [url.redirect]: 1,
        [url.unavailable]: 0,
        [url.hang]: 0,
      });
      assert.deepEqual(await byInstance("probe_http_status_code"), {
        [url.ok]: 200,
        [url.redirect]: 200,
        [url.unavailable]: 503,
        [url.hang]: 0,
      });
      const redirects = await p.queryBy(`probe_http_redirects{job="${JOB}"}`, "instance");
      assert.equal(redirects.get(url.redirect), 1);
    });
    await t.step("the reason is a series: probe_result{result=...}", async () => {
      const r = await p.queryBy(`probe_result{job="${JOB}"} == 1`, "instance");
      const results = Object.fromEntries(
        (await p.query(`probe_result{job="${JOB}"} == 1`)).map((s) => [
          s.metric.instance,
          s.metric.result,
        ]),
      );
      assert.equal(r.size, 4);
      assert.deepEqual(results, {
        [url.ok]: "up",
        [url.redirect]: "up",
        [url.unavailable]: "status",
        [url.hang]: "timeout",
      });
    });
    await t.step("the scrape timeout (1 s) minus 0.5 s caps the module's 5 s", async () => {
      const d = await p.query(`probe_duration_seconds{job="${JOB}",instance="${url.hang}"}`);
      assert.equal(d.length, 1);
      assert.ok(d[0]!.value >= 0.45 && d[0]!.value < 0.95, `hanging target took ${d[0]!.value}s`);
    });
    await t.step("a target outside the allow-list is a failed scrape with the 403", async () => {
      type Active = { labels: Record<string, string>; health: string; lastError: string };
      const target = await waitFor("the refused target's failed scrape", async () => {
        const data = await p.api<{ activeTargets: Active[] }>("targets", { state: "active" });
        const mine = data.activeTargets.find((a) =>
          a.labels.job === JOB && a.labels.instance === url.refused
        );
        return mine?.health === "down" ? mine : undefined;
      });
      console.log(`lastError of the refused target: ${target.lastError}`);
      assert.match(target.lastError, /403/);
      const up = await p.queryBy(`up{job="${JOB}"}`, "instance");
      assert.equal(up.get(url.refused), 0);
      assert.equal(up.get(url.ok), 1);
      assert.equal(
        (await p.query(`probe_success{job="${JOB}",instance="${url.refused}"}`)).length,
        0,
        "a refused target has no probe_success at all",
      );
      const direct = await fetch(
        `${exporter.url}/probe?module=http_2xx&target=${encodeURIComponent(url.refused)}`,
      );
      assert.equal(direct.status, 403);
      assert.equal(
        await direct.text(),
        "Refused: http://127.0.0.2:" + new URL(targets.url).port +
          " is not in probe.allowed_targets\n",
      );
    });
    await t.step("the exporter counts the refusals and the checks", async () => {
      const metrics = await (await fetch(`${exporter.url}/metrics`)).text();
      const refusedCount = /^uptime_exporter_probe_refused_total\{reason="not_allowed"\} (\d+)$/m
        .exec(metrics);
      assert.ok(refusedCount && Number(refusedCount[1]) >= 1, metrics);
      assert.match(
        metrics,
        /^uptime_exporter_probe_requests_total\{module="http_2xx",result="up"\} [1-9]\d*$/m,
      );
    });
  } catch (e) {
    // The logs of a failed run, for the CI artifacts.
    const logs: [string, string | undefined][] = [
      ["probe-exporter.log", exporter.log],
      ["probe-prometheus.log", prom?.proc.log],
    ];
    for (const [name, log] of logs) if (log) await saveArtifact(name, log).catch(() => {});
    throw e;
  } finally {
    await prom?.close();
  }
});
