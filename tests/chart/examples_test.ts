/**
 * examples/alerts.yml is the Helm chart's PrometheusRule as a plain rules
 * file (scripts/alerts_example.ts renders it with helm): this fails when the
 * two are out of step, and runs promtool on the file and its unit tests
 * (examples/alerts_test.yml); and the README's Kubernetes short path names
 * the release, Service and image the chart really renders. Needs helm and
 * promtool; a missing one fails.
 */

import assert from "node:assert/strict";
import { promtool } from "../_helpers/promtool.ts";
import { parse as parseYaml } from "yaml";
import { ALERTS_FILE, findHelm, renderAlerts } from "../../scripts/alerts_example.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const EXAMPLES = `${ROOT}/examples`;

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
    const { code, out } = await promtool(["check", "rules", "alerts.yml"], { cwd: EXAMPLES });
    assert.equal(code, 0, out);
    assert.match(out, /SUCCESS: 7 rules found/);
  });
  await t.step("promtool test rules examples/alerts_test.yml", async () => {
    const { code, out } = await promtool(["test", "rules", "alerts_test.yml"], { cwd: EXAMPLES });
    assert.equal(code, 0, out);
    assert.match(out, /SUCCESS/);
  });
});

Deno.test("README's Kubernetes short path: one release name, and the resources it names exist", async () => {
  const readme = Deno.readTextFileSync(`${ROOT}/README.md`);
  const at = readme.indexOf("**Kubernetes, the short path.**");
  assert.ok(at > 0, "README has the Kubernetes short path");
  const yamlStart = readme.indexOf("```yaml\n", at) + "```yaml\n".length;
  const values = readme.slice(yamlStart, readme.indexOf("```", yamlStart));
  const shStart = readme.indexOf("```sh\n", at) + "```sh\n".length;
  const commands = readme.slice(shStart, readme.indexOf("```", shStart)).trim().split("\n");
  const install = /^helm install (\S+) (\S+) -n (\S+) .*-f my-values\.yaml$/.exec(commands[0]!);
  assert.ok(install, commands[0]);
  const [, release, chart, namespace] = install;
  assert.equal(chart, "./helm/uptime-exporter");
  assert.equal(commands[1], `helm test ${release} -n ${namespace}`);
  const forward = /^kubectl -n (\S+) port-forward service\/(\S+) (\d+):(\d+)$/.exec(commands[2]!);
  assert.ok(forward, commands[2]);

  const dir = await Deno.makeTempDir({ prefix: "readme-k8s-" });
  try {
    await Deno.writeTextFile(`${dir}/my-values.yaml`, values);
    const out = await new Deno.Command(findHelm(Deno.env.toObject()), {
      args: [
        "template",
        release!,
        `${ROOT}/helm/uptime-exporter`,
        "-n",
        namespace!,
        "--kube-version",
        "1.30.0",
        "-f",
        `${dir}/my-values.yaml`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const d = new TextDecoder();
    assert.ok(out.success, d.decode(out.stderr));
    const docs = d.decode(out.stdout).split(/^---$/m).map((t) => parseYaml(t)).filter(Boolean);
    const service = docs.find((r) => r.kind === "Service");
    assert.equal(forward[1], namespace);
    assert.equal(service.metadata.name, forward[2], "the port-forward names the chart's Service");
    assert.equal(String(service.spec.ports[0].port), forward[4], "and its port");
    assert.ok(
      docs.some((r) => r.kind === "Pod" && r.metadata.annotations["helm.sh/hook"] === "test"),
    );
    // The image the values set is the one the pod pulls.
    const deployment = docs.find((r) => r.kind === "Deployment");
    const image = deployment.spec.template.spec.containers[0].image;
    const v = parseYaml(values);
    assert.ok(image.startsWith(`${v.image.registry}/${v.image.repository}:`), image);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
