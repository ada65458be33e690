/**
 * examples/alerts.yml is the Helm chart's PrometheusRule as a plain rules
 * file (scripts/alerts_example.ts renders it with helm): this fails when the
 * two are out of step, and runs promtool on the file and its unit tests
 * (examples/alerts_test.yml). Needs helm and promtool; a missing one fails.
 */

import assert from "node:assert/strict";
import { ALERTS_FILE, findHelm, renderAlerts } from "../../scripts/alerts_example.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

async function promtool(args: string[]): Promise<{ code: number; out: string }> {
  const out = await new Deno.Command(Deno.env.get("PROMTOOL") ?? "promtool", {
    args,
    cwd: `${ROOT}/examples`,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, out: d.decode(out.stdout) + d.decode(out.stderr) };
}

Deno.test("examples/alerts.yml is the chart's rules (run `deno task examples:alerts`)", async () => {
  const rendered = await renderAlerts({ helm: findHelm(Deno.env.toObject()) });
  assert.equal(
    Deno.readTextFileSync(`${ROOT}/${ALERTS_FILE}`),
    rendered,
    "examples/alerts.yml is out of step with the chart: run `deno task examples:alerts`",
  );
});

Deno.test("examples/alerts.yml: promtool check rules and test rules", async (t) => {
  await t.step("promtool check rules", async () => {
    const { code, out } = await promtool(["check", "rules", "alerts.yml"]);
    assert.equal(code, 0, out);
    assert.match(out, /SUCCESS: 7 rules found/);
  });
  await t.step("promtool test rules examples/alerts_test.yml", async () => {
    const { code, out } = await promtool(["test", "rules", "alerts_test.yml"]);
    assert.equal(code, 0, out);
    assert.match(out, /SUCCESS/);
  });
});
