/**
 * The README's first ten minutes, checked: examples/prometheus.yml is a valid
 * Prometheus config (`promtool check config`, which also loads the rule file
 * it names, examples/alerts.yml) and scrapes the exporter where `deno task
 * start` listens, under the job the alerts select. The rules themselves are
 * checked against the chart in tests/chart/examples_test.ts.
 */

import assert from "node:assert/strict";
import { promtool } from "./_helpers/promtool.ts";
import { parse as parseYaml } from "yaml";
import { FLAGS } from "../lib/config/cli.ts";
import { SCRAPE_JOB } from "../scripts/alerts_example.ts";
import { ROOT } from "./_helpers/exporter.ts";

const EXAMPLES = `${ROOT}/examples`;

Deno.test("examples/prometheus.yml: promtool check config, with its rule file", async () => {
  const { code, out } = await promtool(["check", "config", "prometheus.yml"], { cwd: EXAMPLES });
  assert.equal(code, 0, out);
  assert.match(out, /SUCCESS: 1 rule files found/);
  assert.match(out, /SUCCESS: prometheus\.yml is valid prometheus config file syntax/);
  assert.match(out, /Checking alerts\.yml\n {2}SUCCESS: 7 rules found/);
});

Deno.test("examples/prometheus.yml scrapes the default address under the alerts' job", () => {
  const config = parseYaml(Deno.readTextFileSync(`${ROOT}/examples/prometheus.yml`));
  assert.deepEqual(config.rule_files, ["alerts.yml"]);
  assert.equal(config.scrape_configs.length, 1);
  const [job] = config.scrape_configs;
  assert.equal(job.job_name, SCRAPE_JOB);
  const port = FLAGS.find((f) => f.name === "web.listen-address")!.default.replace(/^:/, "");
  assert.deepEqual(job.static_configs, [{ targets: [`localhost:${port}`] }]);
  assert.equal(job.metrics_path, undefined, "the default /metrics");
});
