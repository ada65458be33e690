/**
 * The /probe examples stay usable: examples/blackbox.yml loads in this
 * exporter and in the real blackbox_exporter 0.23, the Prometheus scrape
 * job passes `promtool check config`, and the Probe objects have the shape
 * prometheus-operator reads (static targets and Ingress discovery).
 */

import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { buildConfig } from "../lib/config/validate.ts";
import { ROOT } from "./_helpers/exporter.ts";
import { TEST_CA_FILE } from "./_helpers/servers.ts";

async function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const d = new TextDecoder();
  return { code: out.code, out: d.decode(out.stdout) + d.decode(out.stderr) };
}

Deno.test("examples/blackbox.yml loads here (with its files in place) and in blackbox 0.23", async () => {
  const dir = await Deno.makeTempDir({ prefix: "examples-probe-" });
  try {
    await Deno.writeTextFile(`${dir}/pw`, "pw\n");
    await Deno.writeTextFile(`${dir}/token`, "token\n");
    const text = Deno.readTextFileSync(`${ROOT}/examples/blackbox.yml`)
      .replace("/etc/ssl/internal/ca.crt", TEST_CA_FILE)
      .replace("/etc/uptime-exporter/secrets/monitor-password", `${dir}/pw`)
      .replace("/etc/uptime-exporter/secrets/api-token", `${dir}/token`);
    const config = buildConfig(
      "targets: []\nprobe: {enabled: true, allowed_targets: ['*.example.com']}",
      {},
      {
        probeModules: { text, fileName: "blackbox.yml" },
      },
    );
    assert.deepEqual([...config.probe!.modules.keys()], [
      "http_2xx",
      "http_post_2xx",
      "http_health_json",
      "http_redirect_is_ok",
      "https_internal",
      "http_api_token",
    ]);
    const blackbox = await run("/usr/bin/prometheus-blackbox-exporter", [
      `--config.file=${ROOT}/examples/blackbox.yml`,
      "--config.check",
    ]);
    assert.equal(blackbox.code, 0, blackbox.out);
    assert.match(blackbox.out, /Config file is ok/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("examples/prometheus-probe-scrape.yaml passes promtool check config", async () => {
  const r = await run("promtool", [
    "check",
    "config",
    `${ROOT}/examples/prometheus-probe-scrape.yaml`,
  ]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /SUCCESS/);
});

Deno.test("examples/probe-operator.yaml: two Probe objects, static and Ingress targets", () => {
  const docs = parseAllDocuments(Deno.readTextFileSync(`${ROOT}/examples/probe-operator.yaml`))
    .map((d) => d.toJS());
  assert.equal(docs.length, 2);
  for (const doc of docs) {
    assert.equal(doc.apiVersion, "monitoring.coreos.com/v1");
    assert.equal(doc.kind, "Probe");
    assert.equal(doc.spec.module, "http_2xx");
    assert.match(doc.spec.prober.url, /^uptime-exporter\.monitoring\.svc:8080$/);
  }
  assert.deepEqual(docs[0].spec.targets.staticConfig.static, [
    "https://www.example.com/",
    "https://api.example.com/health",
  ]);
  assert.deepEqual(docs[1].spec.targets.ingress.selector.matchLabels, { probe: "true" });
});
