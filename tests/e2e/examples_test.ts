/**
 * The README's "first ten minutes", end to end: the exporter run on a URL of
 * the user's own (`--target`), a real Prometheus on examples/prometheus.yml
 * (only its target pointed at the test's exporter, its intervals shortened)
 * with examples/alerts.yml beside it, as the README tells a newcomer to do.
 * Prometheus must scrape the URL's series under the examples' job and hold
 * the URL-down alert, pending, for the URL that is down.
 *
 * Needs /usr/bin/prometheus (see docs/e2e.md); a missing tool fails the test.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import {
  PROMETHEUS_BUILDS,
  ROOT,
  startExporter,
  startPrometheus,
  startTargets,
  tempDir,
  waitFor,
} from "./harness.ts";

Deno.test("e2e: examples/prometheus.yml and alerts.yml with a real Prometheus", async (t) => {
  const build = await PROMETHEUS_BUILDS[0]!.resolve();
  await using dir = await tempDir("examples");
  await using targets = startTargets();
  const up = `${targets.url}/ok`;
  const down = `${targets.url}/unavailable`;
  await using exporter = await startExporter({
    args: ["--target", up, "--target", down, "--interval", "1s"],
  });
  const config = parseYaml(Deno.readTextFileSync(`${ROOT}/examples/prometheus.yml`));
  config.global.scrape_interval = "1s";
  config.global.evaluation_interval = "1s";
  config.scrape_configs[0].static_configs = [{ targets: [exporter.host] }];
  await Deno.copyFile(`${ROOT}/examples/alerts.yml`, `${dir.path}/alerts.yml`);
  await using prometheus = await startPrometheus(build.binary, dir.path, config);

  await t.step("the rules of examples/alerts.yml are loaded", async () => {
    const rules = await prometheus.api<{ groups: { rules: { name: string }[] }[] }>("rules");
    const names = rules.groups.flatMap((g) => g.rules.map((r) => r.name));
    assert.equal(names.length, 7);
    assert.ok(names.includes("UptimeExporterURLDown"), names.join(", "));
  });
  await t.step("the URLs are scraped under the job the alerts select", async () => {
    const byUrl = await waitFor("Prometheus to scrape both URLs", async () => {
      const m = await prometheus.queryBy('sample_external_url_up{job="uptime-exporter"}');
      return m.size === 2 ? m : undefined;
    }, { timeoutMs: 30_000, everyMs: 500 });
    assert.deepEqual(Object.fromEntries(byUrl), { [up]: 1, [down]: 0 });
  });
  await t.step(
    "the URL-down alert is pending for the URL that is down, not the other",
    async () => {
      const alerts = await waitFor("UptimeExporterURLDown to be pending", async () => {
        const data = await prometheus.api<{
          alerts: { labels: Record<string, string>; state: string }[];
        }>("alerts");
        const found = data.alerts.filter((a) => a.labels.alertname === "UptimeExporterURLDown");
        return found.length > 0 ? found : undefined;
      }, { timeoutMs: 30_000, everyMs: 500 });
      assert.deepEqual(alerts.map((a) => [a.labels.url, a.state]), [[down, "pending"]]);
    },
  );
});
