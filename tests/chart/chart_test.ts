/**
 * The Helm chart, the container image and the monitoring content, checked by
 * the real tools: helm (lint --strict, template, values.schema.json),
 * kubernetes-validate (the Kubernetes OpenAPI schemas, offline), promtool
 * (rules, alert unit tests, the dashboard's PromQL), hadolint (Dockerfile),
 * and the exporter's own config loader (values → ConfigMap → buildConfig).
 *
 * Every tool is required: a missing one fails the test (install them with
 * .ci/chart_tools.sh). Run with `deno task test:chart`.
 */

import assert from "node:assert/strict";
import { parse as parseYaml, parseAllDocuments, stringify as stringifyYaml } from "yaml";
import { DEFAULT_TARGETS } from "../../lib/config/schema.ts";
import { buildConfig } from "../../lib/config/validate.ts";
import { parseCli } from "../../lib/config/cli.ts";
import { ROOT, sampleNames, startExporter, startTarget } from "../_helpers/exporter.ts";
import { serve, TEST_CA_FILE } from "../_helpers/servers.ts";
import { until } from "../_helpers/wait.ts";
import { type Output, run as runCommand } from "../_helpers/process.ts";

const CHART = `${ROOT}/helm/uptime-exporter`;
const FIXTURES = `${ROOT}/tests/fixtures/chart`;
const RELEASE = "uptime-exporter";
const NAMESPACE = "monitoring";
/**
 * Kubernetes versions the manifests are validated against: the oldest the
 * chart's kubeVersion admits, a middle one, and the newest kubernetes-validate ships.
 */
const KUBE_VERSIONS = ["1.25.0", "1.31.0", "1.37.0"];
/** Custom resources: no OpenAPI schema in kubernetes-validate, checked structurally below. */
const CUSTOM_KINDS = ["ServiceMonitor", "PrometheusRule"];
/** Prometheus duration, as the CRDs and rule files accept it. */
const PROM_DURATION = /^(0|([0-9]+(ms|s|m|h|d|w|y))+)$/;

// ------------------------------------------------------------------ tools

const HOME = Deno.env.get("HOME") ?? "/root";

/** Finds an executable on PATH (or the env override, or an extra place); throws when missing. */
function tool(name: string, envName: string, extra: string[] = []): string {
  const override = Deno.env.get(envName);
  const candidates = override ? [override] : [
    ...(Deno.env.get("PATH") ?? "").split(":").filter(Boolean).map((d) => `${d}/${name}`),
    ...extra,
  ];
  for (const path of candidates) {
    try {
      const info = Deno.statSync(path);
      if (info.isFile && (info.mode ?? 0o111) & 0o111) return path;
    } catch { /* next */ }
  }
  throw new Error(
    `${name} not found (looked in ${override ? envName : "PATH and " + extra.join(", ")}): ` +
      "run .ci/chart_tools.sh to install the chart tools",
  );
}

const tools = {
  get helm() {
    return tool("helm", "HELM", [`${HOME}/go/bin/helm`, ...goBin("helm")]);
  },
  get promtool() {
    return tool("promtool", "PROMTOOL");
  },
  get kubernetesValidate() {
    return tool("kubernetes-validate", "KUBERNETES_VALIDATE", [
      `${HOME}/.local/bin/kubernetes-validate`,
    ]);
  },
  get hadolint() {
    return tool("hadolint", "HADOLINT", [`${HOME}/.local/bin/hadolint`]);
  },
  get python() {
    return tool("python3", "PYTHON");
  },
};

function goBin(name: string): string[] {
  const gopath = Deno.env.get("GOPATH");
  const gobin = Deno.env.get("GOBIN");
  return [...(gobin ? [`${gobin}/${name}`] : []), ...(gopath ? [`${gopath}/bin/${name}`] : [])];
}

/** Runs a tool from the repository root (by default). */
function run(cmd: string, args: string[], options: { cwd?: string; stdin?: string } = {}) {
  return runCommand(cmd, args, { cwd: ROOT, timeoutMs: 300_000, ...options });
}

function ok(out: Output, what: string): string {
  assert.equal(out.code, 0, `${what} failed (exit ${out.code}):\n${out.stdout}\n${out.stderr}`);
  return out.stdout;
}

// ------------------------------------------------------------------ rendering

/** A Kubernetes object as rendered. */
// deno-lint-ignore no-explicit-any
type K8s = Record<string, any> & { kind: string; metadata: { name: string } & Record<string, any> };

interface Rendered {
  docs: K8s[];
  /** Template file → number of documents it produced. */
  perSource: Map<string, number>;
  text: string;
}

/** The ci/*.yaml files, by base name. */
const CI_FILES: string[] = [...Deno.readDirSync(`${CHART}/ci`)]
  .filter((e) => e.isFile && e.name.endsWith(".yaml"))
  .map((e) => e.name)
  .sort();

function valuesArgs(valuesFile?: string): string[] {
  return valuesFile ? ["-f", `${CHART}/ci/${valuesFile}`] : [];
}

const renderCache = new Map<string, Rendered>();

/** `helm template` of the chart; throws with helm's message when it fails. */
async function render(
  valuesFile?: string,
  extra: string[] = [],
  kubeVersion = KUBE_VERSIONS[1]!,
  chart = CHART,
): Promise<Rendered> {
  const key = JSON.stringify([valuesFile, extra, kubeVersion, chart]);
  const cached = renderCache.get(key);
  if (cached) return cached;
  const text = ok(
    await run(tools.helm, [
      "template",
      RELEASE,
      chart,
      "--namespace",
      NAMESPACE,
      "--kube-version",
      kubeVersion,
      ...valuesArgs(valuesFile),
      ...extra,
    ]),
    `helm template ${valuesFile ?? "(defaults)"} ${extra.join(" ")}`,
  );
  const docs: K8s[] = [];
  const perSource = new Map<string, number>();
  // helm separates documents with "---" and names each one's template in "# Source:".
  for (const chunk of text.split(/^---$/m)) {
    const parsed = parseAllDocuments(chunk);
    assert.ok(parsed.length <= 1, "several YAML documents between two ---");
    const doc = parsed[0];
    if (!doc) continue;
    assert.equal(doc.errors.length, 0, `invalid YAML from helm: ${doc.errors.join("; ")}`);
    const value = doc.toJS();
    if (value === null || value === undefined) continue;
    const source = /^# Source: (\S+)$/m.exec(chunk)?.[1] ?? "?";
    perSource.set(source, (perSource.get(source) ?? 0) + 1);
    docs.push(value);
  }
  const rendered = { docs, perSource, text };
  renderCache.set(key, rendered);
  return rendered;
}

function only(docs: K8s[], kind: string, nameSuffix = ""): K8s {
  const found = docs.filter((d) => d.kind === kind && d.metadata.name.endsWith(nameSuffix));
  assert.equal(found.length, 1, `expected one ${kind}${nameSuffix}, got ${found.length}`);
  return found[0]!;
}

function kinds(docs: K8s[]): string[] {
  return docs.map((d) => d.kind).sort();
}

/** The exporter's workload: the Deployment, or the StatefulSet when sharded. */
function workload(docs: K8s[]): K8s {
  const found = docs.filter((d) => d.kind === "Deployment" || d.kind === "StatefulSet");
  assert.equal(found.length, 1, `expected one Deployment or StatefulSet, got ${kinds(found)}`);
  return found[0]!;
}

function exporterContainer(docs: K8s[]): K8s {
  return workload(docs).spec.template.spec.containers.find((c: K8s) =>
    c.name === "uptime-exporter"
  );
}

/** The config file the chart renders, from the ConfigMap mounted into the exporter. */
function renderedConfig(docs: K8s[]): { text: string; path: string } {
  const podSpec = workload(docs).spec.template.spec;
  const container = exporterContainer(docs);
  const configArg: string | undefined = container.args.find((a: string) =>
    a.startsWith("--config.file=")
  );
  assert.ok(configArg, "the exporter is not given --config.file");
  const path = configArg.slice("--config.file=".length);
  const dir = path.slice(0, path.lastIndexOf("/"));
  const file = path.slice(dir.length + 1);
  const mount = container.volumeMounts.find((m: K8s) => m.mountPath === dir);
  assert.ok(mount, `nothing is mounted at ${dir}`);
  assert.equal(mount.subPath, undefined, "a subPath mount never sees ConfigMap updates");
  const volume = podSpec.volumes.find((v: K8s) => v.name === mount.name);
  const configMap = docs.find((d) =>
    d.kind === "ConfigMap" && d.metadata.name === volume?.configMap?.name
  );
  assert.ok(configMap, `the volume mounted at ${dir} is not one of the chart's ConfigMaps`);
  const text = configMap.data?.[file];
  assert.equal(typeof text, "string", `ConfigMap ${configMap.metadata.name} has no ${file}`);
  return { text, path };
}

/** Environment the exporter container gets from `env` (values are stand-ins). */
function containerEnv(docs: K8s[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of exporterContainer(docs).env ?? []) env[e.name] = `stand-in-for-${e.name}`;
  return env;
}

function tempDir(): Promise<string> {
  return Deno.makeTempDir({ prefix: "uptime-exporter-chart-" });
}

// ------------------------------------------------------------------ tests

Deno.test("chart tools are installed", async (t) => {
  await t.step("helm v3", async () => {
    const out = ok(await run(tools.helm, ["version", "--short"]), "helm version");
    assert.match(out, /^v3\./);
  });
  await t.step("promtool", async () => {
    ok(await run(tools.promtool, ["--version"]), "promtool --version");
  });
  await t.step("kubernetes-validate knows every Kubernetes version used here", async () => {
    ok(await run(tools.kubernetesValidate, ["--version"]), "kubernetes-validate --version");
  });
  await t.step("hadolint", async () => {
    ok(await run(tools.hadolint, ["--version"]), "hadolint --version");
  });
  await t.step("python3 with jsonschema (comes with kubernetes-validate)", async () => {
    ok(await run(tools.python, ["-c", "import jsonschema"]), "python3 -c 'import jsonschema'");
  });
});

Deno.test("helm lint --strict and helm template, defaults and every ci/*.yaml", async (t) => {
  assert.ok(CI_FILES.length >= 8, `expected the ci/*.yaml files, found ${CI_FILES.join(", ")}`);
  for (const file of [undefined, ...CI_FILES]) {
    await t.step(file ?? "default values", async () => {
      for (const kubeVersion of KUBE_VERSIONS) {
        const lint = ok(
          await run(tools.helm, [
            "lint",
            "--strict",
            "--kube-version",
            kubeVersion,
            CHART,
            ...valuesArgs(file),
          ]),
          `helm lint --strict ${file ?? ""} (Kubernetes ${kubeVersion})`,
        );
        assert.match(lint, /1 chart\(s\) linted, 0 chart\(s\) failed/);
        assert.doesNotMatch(lint, /\[(WARNING|ERROR)\]/);
        const { docs, perSource } = await render(file, [], kubeVersion);
        assert.ok(docs.length > 0);
        for (const [source, count] of perSource) {
          assert.equal(count, 1, `${source} renders ${count} resources: one per template file`);
        }
      }
    });
  }
});

Deno.test("rendered manifests validate against the Kubernetes OpenAPI schemas", async (t) => {
  const dir = await tempDir();
  try {
    const files: string[] = [];
    for (const file of [undefined, ...CI_FILES]) {
      const { docs } = await render(file);
      const builtIn = docs.filter((d) => !CUSTOM_KINDS.includes(d.kind));
      const path = `${dir}/${file ?? "default-values.yaml"}`.replace(/\.yaml$/, ".rendered.yaml");
      await Deno.writeTextFile(path, builtIn.map((d) => stringifyYaml(d)).join("---\n"));
      files.push(path);
    }
    for (const kubeVersion of KUBE_VERSIONS) {
      await t.step(`Kubernetes ${kubeVersion} (strict: unknown fields are errors)`, async () => {
        const out = await run(tools.kubernetesValidate, [
          "--strict",
          "--kubernetes-version",
          kubeVersion,
          ...files,
        ]);
        const report = out.stdout + out.stderr;
        assert.equal(out.code, 0, report);
        // Every resource was checked against a schema: no "couldn't find schema" warnings.
        assert.doesNotMatch(report, /WARN|ERROR/, report);
        const passed = report.match(/passed for resource/g)?.length ?? 0;
        assert.ok(passed >= files.length * 4, `only ${passed} resources validated:\n${report}`);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("default install", async (t) => {
  const { docs } = await render();
  const deployment = only(docs, "Deployment");
  const pod = deployment.spec.template.spec;
  const container = exporterContainer(docs);
  const service = only(docs, "Service");

  await t.step("renders exactly the core resources and the helm test pod", () => {
    assert.deepEqual(kinds(docs), ["ConfigMap", "Deployment", "Pod", "Service", "ServiceAccount"]);
  });
  await t.step("image defaults to the chart's appVersion", () => {
    const chart = parseYaml(Deno.readTextFileSync(`${CHART}/Chart.yaml`));
    assert.equal(container.image, `uptime-exporter:${chart.appVersion}`);
  });
  await t.step("strict security context", () => {
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.runAsUser, 65532);
    assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
    const sc = container.securityContext;
    assert.equal(sc.runAsNonRoot, true);
    assert.equal(sc.runAsUser, 65532);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.deepEqual(sc.capabilities.drop, ["ALL"]);
    assert.equal(sc.seccompProfile.type, "RuntimeDefault");
  });
  await t.step("no service account token", () => {
    assert.equal(pod.automountServiceAccountToken, false);
    assert.equal(only(docs, "ServiceAccount").automountServiceAccountToken, false);
    assert.equal(pod.serviceAccountName, only(docs, "ServiceAccount").metadata.name);
  });
  await t.step("probes: liveness /healthz, readiness /readyz, on the http port", () => {
    assert.deepEqual(container.ports, [{ name: "http", containerPort: 8080, protocol: "TCP" }]);
    assert.equal(container.livenessProbe.httpGet.path, "/healthz");
    assert.equal(container.livenessProbe.httpGet.port, "http");
    assert.equal(container.readinessProbe.httpGet.path, "/readyz");
    assert.equal(container.readinessProbe.httpGet.port, "http");
  });
  await t.step("resource requests and limits are set", () => {
    assert.ok(container.resources.requests.cpu);
    assert.ok(container.resources.requests.memory);
    assert.ok(container.resources.limits.memory);
  });
  await t.step("the exporter listens on 8080 and reads the mounted config", () => {
    assert.ok(container.args.includes("--web.listen-address=:8080"));
    // Prometheus-style flag names (the old ones still work, but the chart shows the new).
    assert.deepEqual(container.args.map((a: string) => a.replace(/=.*/, "")), [
      "--config.file",
      "--web.listen-address",
      "--log.level",
      "--log.format",
    ]);
    assert.equal(renderedConfig(docs).path, "/etc/uptime-exporter/config.yaml");
    // The read-only root filesystem needs a writable /tmp for the binary's code cache.
    assert.ok(container.volumeMounts.some((m: K8s) => m.mountPath === "/tmp"));
  });
  await t.step("ClusterIP Service on 8080 selecting the pods", () => {
    assert.equal(service.spec.type, "ClusterIP");
    assert.deepEqual(service.spec.ports, [{
      port: 8080,
      targetPort: "http",
      protocol: "TCP",
      name: "http",
    }]);
    for (const [k, v] of Object.entries(service.spec.selector)) {
      assert.equal(deployment.spec.template.metadata.labels[k], v, `pod label ${k}`);
      assert.equal(deployment.spec.selector.matchLabels[k], v, `deployment selector ${k}`);
    }
  });
  await t.step("no rollout annotation unless asked: the exporter reloads by itself", () => {
    assert.equal(deployment.spec.template.metadata.annotations?.["checksum/config"], undefined);
  });
  await t.step("the default targets are the exporter's own defaults", () => {
    const values = parseYaml(Deno.readTextFileSync(`${CHART}/values.yaml`));
    assert.deepEqual(values.config.targets.map((t: K8s) => t.url), [...DEFAULT_TARGETS]);
  });
  await t.step("helm test pod fetches /metrics from the Service and needs <prefix>_up", () => {
    const test = only(docs, "Pod");
    assert.equal(test.metadata.annotations["helm.sh/hook"], "test");
    const script: string = test.spec.containers[0].command.join(" ");
    assert.ok(
      script.includes(`http://${service.metadata.name}:8080/metrics`),
      `the test pod does not fetch the Service's /metrics:\n${script}`,
    );
    assert.ok(script.includes("grep -q '^sample_external_url_up{'"), script);
    assert.match(script, /exit 1/);
    assert.equal(test.spec.restartPolicy, "Never");
    assert.equal(test.spec.securityContext.runAsNonRoot, true);
  });
});

/** What each ci/*.yaml switches on, checked on its render. */
const TOGGLES: Record<string, (docs: K8s[]) => void> = {
  "default-values.yaml": (docs) =>
    assert.deepEqual(kinds(docs), ["ConfigMap", "Deployment", "Pod", "Service", "ServiceAccount"]),
  "servicemonitor-values.yaml": (docs) => {
    const sm = only(docs, "ServiceMonitor");
    assert.equal(sm.metadata.labels.release, "kube-prometheus-stack");
  },
  "prometheusrule-values.yaml": (docs) => {
    const rule = only(docs, "PrometheusRule");
    const alerts = rule.spec.groups[0].rules.map((r: K8s) => r.alert);
    assert.ok(alerts.includes("UptimeExporterManyURLsDown"), "additionalRules missing");
    for (const r of rule.spec.groups[0].rules) {
      if (r.alert !== "UptimeExporterManyURLsDown") assert.equal(r.labels.team, "platform");
    }
  },
  "grafanadashboard-values.yaml": (docs) => {
    const cm = only(docs, "ConfigMap", "-dashboard");
    assert.equal(cm.metadata.labels.grafana_dashboard, "1");
    assert.equal(cm.metadata.annotations.grafana_folder, "Monitoring");
  },
  "networkpolicy-values.yaml": (docs) => {
    const np = only(docs, "NetworkPolicy");
    assert.deepEqual(np.spec.policyTypes, ["Ingress", "Egress"]);
    const egressPorts = np.spec.egress.flatMap((e: K8s) => (e.ports ?? []).map((p: K8s) => p.port));
    for (const port of [53, 80, 443, 8443, 3128]) assert.ok(egressPorts.includes(port), `${port}`);
  },
  "poddisruptionbudget-values.yaml": (docs) => {
    assert.equal(only(docs, "PodDisruptionBudget").spec.maxUnavailable, 1);
    assert.equal(only(docs, "Deployment").spec.replicas, 2);
  },
  "ingress-values.yaml": (docs) => {
    const ing = only(docs, "Ingress");
    assert.equal(ing.spec.rules[0].host, "uptime.example.com");
    assert.equal(ing.spec.rules[0].http.paths[0].backend.service.port.name, "http");
  },
  "scrapeannotations-values.yaml": (docs) => {
    const annotations = only(docs, "Deployment").spec.template.metadata.annotations;
    assert.equal(annotations["prometheus.io/scrape"], "true");
    assert.equal(annotations["prometheus.io/port"], "8080");
    assert.equal(annotations["prometheus.io/path"], "/metrics");
    assert.equal(annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"], "true");
  },
  "configchecksum-values.yaml": (docs) => {
    const annotations = only(docs, "Deployment").spec.template.metadata.annotations;
    assert.match(annotations["checksum/config"], /^[0-9a-f]{64}$/);
  },
  "serviceaccount-values.yaml": (docs) => {
    assert.ok(!kinds(docs).includes("ServiceAccount"));
    assert.equal(
      only(docs, "Deployment").spec.template.spec.serviceAccountName,
      "monitoring-readonly",
    );
  },
  "test-disabled-values.yaml": (docs) => assert.ok(!kinds(docs).includes("Pod")),
  "existingconfigmap-values.yaml": (docs) => {
    const pod = only(docs, "Deployment").spec.template.spec;
    assert.ok(!docs.some((d) => d.kind === "ConfigMap"), "no ConfigMap of the chart's own");
    const volume = pod.volumes.find((v: K8s) => v.name === "config");
    assert.deepEqual(volume.configMap, { name: "uptime-exporter-config" });
    const container = exporterContainer(docs);
    assert.ok(container.args.includes("--config.file=/etc/uptime-exporter/config.yaml"));
    const mount = container.volumeMounts.find((m: K8s) => m.name === "config");
    assert.equal(mount.mountPath, "/etc/uptime-exporter");
    assert.equal(mount.subPath, undefined, "a directory mount, so updates reach the exporter");
  },
  "existingsecret-values.yaml": (docs) => {
    const pod = only(docs, "Deployment").spec.template.spec;
    assert.ok(!docs.some((d) => d.kind === "ConfigMap"), "no ConfigMap of the chart's own");
    const volume = pod.volumes.find((v: K8s) => v.name === "config");
    assert.equal(volume.secret.secretName, "uptime-exporter-config");
    assert.ok(volume.secret.defaultMode, "files readable by the pod's group only");
    assert.equal(volume.configMap, undefined);
  },
  "routeprefix-values.yaml": (docs) => {
    const deployment = only(docs, "Deployment");
    const container = exporterContainer(docs);
    assert.ok(container.args.includes("--web.listen-address=:9100"), container.args.join(" "));
    assert.ok(container.args.includes("--web.route-prefix=/team/uptime/"));
    assert.deepEqual(container.ports, [{ name: "http", containerPort: 9100, protocol: "TCP" }]);
    assert.equal(container.livenessProbe.httpGet.path, "/team/uptime/healthz");
    assert.equal(container.readinessProbe.httpGet.path, "/team/uptime/readyz");
    assert.equal(container.readinessProbe.httpGet.port, "http");
    const annotations = deployment.spec.template.metadata.annotations;
    assert.equal(annotations["prometheus.io/port"], "9100");
    assert.equal(annotations["prometheus.io/path"], "/team/uptime/metrics");
    assert.equal(only(docs, "ServiceMonitor").spec.endpoints[0].path, "/team/uptime/metrics");
    assert.equal(only(docs, "Service").spec.ports[0].targetPort, "http");
    assert.equal(only(docs, "NetworkPolicy").spec.ingress[0].ports[0].port, "http");
    const script: string = only(docs, "Pod").spec.containers[0].command.join(" ");
    assert.ok(script.includes(":8080/team/uptime/metrics"), script);
  },
  "probe-values.yaml": (docs) => {
    const probe = parseYaml(renderedConfig(docs).text).probe;
    assert.equal(probe.enabled, true);
    assert.deepEqual(probe.allowed_targets, [
      "*.example.com",
      "https://status.example.org",
      "10.0.0.0/8",
    ]);
    assert.deepEqual(Object.keys(probe.modules).sort(), ["http_2xx", "http_post_2xx"]);
  },
  "webconfig-values.yaml": (docs) => {
    const pod = only(docs, "Deployment").spec.template.spec;
    const container = exporterContainer(docs);
    const arg = "--web.config.file=/etc/uptime-exporter-web/web-config.yml";
    assert.ok(container.args.includes(arg), container.args.join(" "));
    const mount = container.volumeMounts.find((m: K8s) => m.name === "web-config");
    assert.equal(mount.mountPath, "/etc/uptime-exporter-web");
    const volume = pod.volumes.find((v: K8s) => v.name === "web-config");
    assert.equal(volume.secret.secretName, "uptime-exporter-web");
    assert.equal(container.livenessProbe.httpGet.scheme, "HTTPS");
    assert.equal(container.readinessProbe.httpGet.scheme, "HTTPS");
    const endpoint = only(docs, "ServiceMonitor").spec.endpoints[0];
    assert.equal(endpoint.scheme, "https");
    assert.equal(endpoint.tlsConfig.serverName, "uptime-exporter.monitoring.svc");
    assert.equal(endpoint.basicAuth.username.key, "username");
    const script: string = only(docs, "Pod").spec.containers[0].command.join(" ");
    assert.match(script, /wget -q -T 5 --no-check-certificate -O \/tmp\/metrics "https:\/\//);
  },
  "sharding-values.yaml": (docs) => {
    const sts = checkShardedFleet(docs, 3);
    const env = exporterContainer(docs).env.map((e: K8s) => e.name);
    assert.ok(env.includes("UPTIME_EXPORTER_SHARD_COUNT"), "static: the count from replicaCount");
    assert.ok(!env.includes("UPTIME_EXPORTER_SHARD_PEERS_DNS"));
    // The exporter's own flag parser reads the pod's environment as the kubelet fills it.
    assert.deepEqual(shardOf(docs, `${sts.metadata.name}-2`), {
      mode: "static",
      count: 3,
      index: 2,
      replication: 2,
    });
    // R-1 pods may be drained at once; preferred spreading over nodes by default.
    assert.equal(only(docs, "PodDisruptionBudget").spec.maxUnavailable, 1);
    const anti = sts.spec.template.spec.affinity.podAntiAffinity;
    const term = anti.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm;
    assert.equal(term.topologyKey, "kubernetes.io/hostname");
    assert.deepEqual(term.labelSelector.matchLabels, sts.spec.selector.matchLabels);
    // The ServiceMonitor selects one of the two Services: every pod scraped once.
    const sm = only(docs, "ServiceMonitor");
    const selected = docs.filter((d) => d.kind === "Service" && selects(sm.spec.selector, d));
    assert.deepEqual(selected.map((d) => d.spec.clusterIP ?? "ClusterIP"), ["ClusterIP"]);
  },
  "sharding-dns-values.yaml": (docs) => {
    const sts = checkShardedFleet(docs, 4);
    const headless = docs.find((d) => d.kind === "Service" && d.spec.clusterIP === "None")!;
    assert.deepEqual(shardOf(docs, `${sts.metadata.name}-3`), {
      mode: "dns",
      peersDns: `${headless.metadata.name}.${NAMESPACE}.svc.cluster.local.`,
      self: "10.0.0.7",
      replication: 1,
      intervalMs: 3000,
    });
    // replication 1: one pod at a time (0 would block every drain).
    assert.equal(only(docs, "PodDisruptionBudget").spec.maxUnavailable, 1);
    const anti = sts.spec.template.spec.affinity.podAntiAffinity;
    assert.equal(
      anti.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey,
      "kubernetes.io/hostname",
    );
    // replication 1: no per-URL under-replication alert, the coverage one is critical.
    const rules = only(docs, "PrometheusRule").spec.groups[0].rules;
    assert.ok(!rules.some((r: K8s) => r.alert === "UptimeExporterURLUnderReplicated"));
    const coverage = rules.find((r: K8s) => r.alert === "UptimeExporterShardCoverageLow");
    assert.equal(coverage.labels.severity, "critical");
    assert.match(coverage.expr, /< 1 \* max\(uptime_exporter_targets_configured/);
  },
  "full-config-values.yaml": (docs) => {
    const pod = only(docs, "Deployment").spec.template.spec;
    const container = exporterContainer(docs);
    assert.equal(
      container.image,
      "registry.example.com/platform/uptime-exporter:0.1.0@sha256:" + "0".repeat(64),
    );
    assert.deepEqual(container.env.map((e: K8s) => e.name), ["API_TOKEN", "INTERNAL_PASSWORD"]);
    assert.equal(container.envFrom[0].secretRef.name, "uptime-exporter-extra");
    assert.ok(container.args.includes("--log.format=json"));
    assert.ok(pod.volumes.some((v: K8s) => v.name === "ca"));
    assert.deepEqual(pod.nodeSelector, { "kubernetes.io/os": "linux" });
    assert.equal(pod.tolerations[0].key, "dedicated");
    assert.ok(pod.affinity.nodeAffinity);
    // The pod's own labels are filled in as the spread constraint's selector.
    assert.deepEqual(
      pod.topologySpreadConstraints[0].labelSelector.matchLabels,
      only(docs, "Deployment").spec.selector.matchLabels,
    );
    assert.equal(pod.priorityClassName, "system-cluster-critical");
  },
};

/** Whether a label selector (matchLabels, matchExpressions Exists/DoesNotExist) selects `obj`. */
// deno-lint-ignore no-explicit-any
function selects(selector: Record<string, any>, obj: K8s): boolean {
  const labels = obj.metadata.labels ?? {};
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  return byLabels &&
    (selector.matchExpressions ?? []).every((e: K8s) =>
      e.operator === "DoesNotExist"
        ? !(e.key in labels)
        : e.operator === "Exists" && e.key in labels
    );
}

/**
 * What a sharded render must be: a StatefulSet of `replicas` pods with
 * parallel pod management, its headless Service (only ready pods listed),
 * no Deployment, the pods' name and IP from the downward API.
 */
function checkShardedFleet(docs: K8s[], replicas: number): K8s {
  assert.ok(!kinds(docs).includes("Deployment"), "a StatefulSet instead of the Deployment");
  const sts = only(docs, "StatefulSet");
  assert.equal(sts.spec.replicas, replicas);
  assert.equal(sts.spec.podManagementPolicy, "Parallel");
  const headless = docs.filter((d) => d.kind === "Service" && d.spec.clusterIP === "None");
  assert.equal(headless.length, 1, "one headless Service");
  assert.equal(sts.spec.serviceName, headless[0]!.metadata.name);
  assert.equal(headless[0]!.spec.publishNotReadyAddresses, false);
  assert.ok(selects({ matchLabels: headless[0]!.spec.selector }, sts.spec.template));
  assert.deepEqual(headless[0]!.spec.ports[0].targetPort, "http");
  const env = Object.fromEntries(exporterContainer(docs).env.map((e: K8s) => [e.name, e]));
  assert.equal(env.POD_NAME.valueFrom.fieldRef.fieldPath, "metadata.name");
  assert.equal(env.POD_IP.valueFrom.fieldRef.fieldPath, "status.podIP");
  return sts;
}

/** The exporter's shard settings for a pod named `podName` (IP 10.0.0.7), read by parseCli. */
function shardOf(docs: K8s[], podName: string) {
  const container = exporterContainer(docs);
  const env: Record<string, string> = {};
  for (const e of container.env) {
    env[e.name] = e.value ??
      ({ "metadata.name": podName, "status.podIP": "10.0.0.7" } as Record<string, string>)[
        e.valueFrom.fieldRef.fieldPath
      ];
  }
  return parseCli(container.args, env).shard;
}

Deno.test("each ci/*.yaml turns on what it is named after", async (t) => {
  assert.deepEqual(
    CI_FILES,
    Object.keys(TOGGLES).sort(),
    "every ci/*.yaml needs its check in TOGGLES (and every check its file)",
  );
  for (const file of CI_FILES) {
    await t.step(file, async () => TOGGLES[file]!((await render(file)).docs));
  }
  await t.step("the optional resources are all off by default", async () => {
    const present = kinds((await render()).docs);
    for (
      const kind of [
        "ServiceMonitor",
        "PrometheusRule",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Ingress",
        "StatefulSet",
      ]
    ) {
      assert.ok(!present.includes(kind), `${kind} is on by default`);
    }
  });
  await t.step("checksum/config follows the config", async () => {
    const sum = async (url: string) =>
      only(
        (await render("configchecksum-values.yaml", ["--set", `config.targets[0].url=${url}`]))
          .docs,
        "Deployment",
      ).spec.template.metadata.annotations["checksum/config"];
    assert.notEqual(await sum("https://a.example/"), await sum("https://b.example/"));
  });
});

Deno.test("ServiceMonitor has the structure the Prometheus Operator requires", async () => {
  const { docs } = await render("servicemonitor-values.yaml");
  const sm = only(docs, "ServiceMonitor");
  const service = only(docs, "Service");
  assert.equal(sm.apiVersion, "monitoring.coreos.com/v1");
  assert.equal(sm.metadata.namespace, NAMESPACE);
  assert.deepEqual(sm.spec.namespaceSelector, { matchNames: [NAMESPACE] });
  const selector = sm.spec.selector.matchLabels;
  assert.ok(Object.keys(selector).length > 0, "an empty selector would match every Service");
  for (const [k, v] of Object.entries(selector)) {
    assert.equal(service.metadata.labels[k], v, `the Service lacks label ${k}=${v}`);
  }
  assert.ok(Array.isArray(sm.spec.endpoints) && sm.spec.endpoints.length > 0);
  const portNames = service.spec.ports.map((p: K8s) => p.name);
  for (const ep of sm.spec.endpoints) {
    assert.ok(portNames.includes(ep.port), `endpoint port ${ep.port} is not a Service port`);
    assert.equal(ep.path, "/metrics");
    assert.match(ep.interval, PROM_DURATION);
    assert.match(ep.scrapeTimeout, PROM_DURATION);
    assert.equal(typeof ep.honorLabels, "boolean");
    for (const r of ep.metricRelabelings ?? []) assert.ok(r.action, "relabeling without action");
  }
  const known = ["namespaceSelector", "selector", "endpoints"];
  for (const key of Object.keys(sm.spec)) assert.ok(known.includes(key), `unexpected spec.${key}`);
});

Deno.test("PrometheusRule: structure, promtool check rules, promtool test rules", async (t) => {
  const dir = await tempDir();
  try {
    const { docs } = await render(undefined, ["--set", "prometheusRule.enabled=true"]);
    const rule = only(docs, "PrometheusRule");
    await t.step("structure of a monitoring.coreos.com/v1 PrometheusRule", () => {
      assert.equal(rule.apiVersion, "monitoring.coreos.com/v1");
      assert.deepEqual(Object.keys(rule.spec), ["groups"]);
      assert.ok(rule.spec.groups.length > 0);
      const names = new Set<string>();
      for (const group of rule.spec.groups) {
        assert.equal(typeof group.name, "string");
        assert.ok(group.rules.length > 0);
        for (const r of group.rules) {
          assert.ok((r.alert === undefined) !== (r.record === undefined), "alert xor record");
          assert.equal(typeof r.expr, "string");
          if (r.alert) {
            assert.ok(!names.has(r.alert), `duplicate alert ${r.alert}`);
            names.add(r.alert);
            assert.match(r.for, PROM_DURATION);
            assert.ok(["critical", "warning", "info"].includes(r.labels.severity));
            assert.ok(r.annotations.summary && r.annotations.description);
          }
        }
      }
      assert.deepEqual([...names].sort(), [
        "UptimeExporterConfigReloadFailed",
        "UptimeExporterDown",
        "UptimeExporterResultsStale",
        "UptimeExporterURLCertificateExpiresSoon",
        "UptimeExporterURLCertificateExpiresVerySoon",
        "UptimeExporterURLDown",
        "UptimeExporterURLSlow",
      ]);
    });
    await Deno.writeTextFile(`${dir}/rules.yaml`, stringifyYaml({ groups: rule.spec.groups }));
    await Deno.copyFile(`${FIXTURES}/alerts_test.yaml`, `${dir}/alerts_test.yaml`);
    await t.step("promtool check rules", async () => {
      const out = ok(
        await run(tools.promtool, ["check", "rules", "rules.yaml"], { cwd: dir }),
        "promtool check rules",
      );
      assert.match(out, /SUCCESS: 7 rules found/);
    });
    await t.step("promtool test rules: down 6m fires, down 2m does not, and the rest", async () => {
      const out = ok(
        await run(tools.promtool, ["test", "rules", "alerts_test.yaml"], { cwd: dir }),
        "promtool test rules",
      );
      assert.match(out, /SUCCESS/);
    });
    await t.step("the rules with additionalRules also pass promtool", async () => {
      const extra = only((await render("prometheusrule-values.yaml")).docs, "PrometheusRule");
      await Deno.writeTextFile(`${dir}/extra.yaml`, stringifyYaml({ groups: extra.spec.groups }));
      ok(
        await run(tools.promtool, ["check", "rules", "extra.yaml"], { cwd: dir }),
        "promtool check rules",
      );
    });
    await t.step("the alerts follow a custom metric prefix", async () => {
      const custom = only(
        (await render("grafanadashboard-values.yaml", ["--set", "prometheusRule.enabled=true"]))
          .docs,
        "PrometheusRule",
      );
      const exprs = custom.spec.groups[0].rules.map((r: K8s) => r.expr).join("\n");
      assert.match(exprs, /probe_url_up\{/);
      assert.doesNotMatch(exprs, /sample_external_url/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sharded PrometheusRule: one alert per URL across pods, coverage alerts, promtool", async (t) => {
  const dir = await tempDir();
  try {
    const rule = only((await render("sharding-values.yaml")).docs, "PrometheusRule");
    const rules: K8s[] = rule.spec.groups[0].rules;
    await t.step("the URL alerts aggregate over the pods, keeping the target's labels", () => {
      const byName = Object.fromEntries(rules.map((r) => [r.alert, r.expr]));
      assert.match(
        byName.UptimeExporterURLDown,
        /^max without \(instance, pod\) \(sample_external_url_up\{/,
      );
      assert.match(
        byName.UptimeExporterURLSlow,
        /^min without \(instance, pod\) \(sample_external_url_response_ms/,
      );
      assert.match(byName.UptimeExporterResultsStale, /max without \(instance, pod\)/);
      assert.match(byName.UptimeExporterURLCertificateExpiresSoon, /min without \(instance, pod\)/);
      assert.equal(
        byName.UptimeExporterShardCoverageLow,
        'sum(uptime_exporter_targets_assigned{job="uptime-exporter",namespace="monitoring"}) < 2 * max(uptime_exporter_targets_configured{job="uptime-exporter",namespace="monitoring"})',
      );
      assert.match(
        byName.UptimeExporterURLUnderReplicated,
        /^count without \(instance, pod\) \(sample_external_url_up\{.*\}\) < 2$/,
      );
    });
    await Deno.writeTextFile(
      `${dir}/sharded_rules.yaml`,
      stringifyYaml({ groups: rule.spec.groups }),
    );
    await Deno.copyFile(`${FIXTURES}/sharded_alerts_test.yaml`, `${dir}/sharded_alerts_test.yaml`);
    await t.step("promtool check rules", async () => {
      const out = ok(
        await run(tools.promtool, ["check", "rules", "sharded_rules.yaml"], { cwd: dir }),
        "promtool check rules",
      );
      assert.match(out, /SUCCESS: 9 rules found/);
    });
    await t.step(
      "promtool test rules: down on every pod fires once; coverage short fires",
      async () => {
        ok(
          await run(tools.promtool, ["test", "rules", "sharded_alerts_test.yaml"], { cwd: dir }),
          "promtool test rules",
        );
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Renders of the chart before sharding existed, as fixtures: an unsharded render must not change. */
const UNSHARDED: { name: string; args: string[] }[] = [
  { name: "default.yaml", args: [] },
  { name: "prometheusrule-enabled.yaml", args: ["--set", "prometheusRule.enabled=true"] },
  ...["grafanadashboard", "full-config", "poddisruptionbudget", "servicemonitor"].map((f) => ({
    name: `${f}-values.yaml`,
    args: ["-f", `${CHART}/ci/${f}-values.yaml`],
  })),
];

Deno.test("without sharding the chart renders byte for byte as before sharding existed", async (t) => {
  // Fixtures rendered at commit 4922c66; regenerate only on purpose:
  // UPDATE_GOLDEN=1 deno test --allow-all tests/chart/chart_test.ts --filter "byte for byte"
  for (const { name, args } of UNSHARDED) {
    await t.step(name, async () => {
      const { text } = await render(undefined, args);
      const file = `${FIXTURES}/unsharded/${name}.golden`;
      if (Deno.env.get("UPDATE_GOLDEN") === "1") await Deno.writeTextFile(file, text);
      // The chart's version label changes with every release, by design.
      const unversioned = (t: string) =>
        t.replaceAll(/helm\.sh\/chart: uptime-exporter-\S+/g, "helm.sh/chart: uptime-exporter-*");
      assert.equal(unversioned(text), unversioned(await Deno.readTextFile(file)));
    });
  }
});

/** The PromQL of every dashboard panel target and template variable, with Grafana's variables filled in. */
function dashboardQueries(dashboard: K8s): { where: string; expr: string }[] {
  const fill = (expr: string) =>
    expr.replaceAll("$__rate_interval", "5m").replaceAll("$__range", "6h").replaceAll(
      "$__interval",
      "1m",
    ).replace(/\$\{?(job|url)\}?/g, ".*");
  const queries: { where: string; expr: string }[] = [];
  for (const panel of dashboard.panels) {
    if (panel.type === "row") continue;
    assert.ok(panel.targets?.length > 0, `panel "${panel.title}" has no queries`);
    for (const target of panel.targets) {
      assert.equal(typeof target.expr, "string", `panel "${panel.title}" target without expr`);
      queries.push({ where: `panel "${panel.title}" ${target.refId}`, expr: fill(target.expr) });
    }
  }
  for (const variable of dashboard.templating.list) {
    const q = variable.query?.query as string | undefined;
    const m = q ? /^label_values\((.*), *\w+\)$/.exec(q) : null;
    if (m) queries.push({ where: `variable ${variable.name}`, expr: fill(m[1]!) });
  }
  return queries;
}

async function dashboardFrom(valuesFile: string): Promise<K8s> {
  const cm = only((await render(valuesFile)).docs, "ConfigMap", "-dashboard");
  const entries = Object.entries(cm.data ?? {});
  assert.equal(entries.length, 1);
  assert.match(entries[0]![0], /\.json$/);
  return JSON.parse(entries[0]![1] as string);
}

Deno.test("Grafana dashboard: valid JSON whose PromQL parses", async (t) => {
  const dashboard = await dashboardFrom("grafanadashboard-values.yaml");
  await t.step("dashboard structure", () => {
    assert.equal(typeof dashboard.title, "string");
    assert.equal(typeof dashboard.uid, "string");
    const ids = dashboard.panels.map((p: K8s) => p.id);
    assert.equal(new Set(ids).size, ids.length, "panel ids must be unique");
    for (const panel of dashboard.panels) {
      assert.ok(panel.gridPos, `panel "${panel.title}" has no gridPos`);
      if (panel.type !== "row") assert.equal(panel.datasource?.uid, "${datasource}");
    }
    assert.ok(dashboard.templating.list.some((v: K8s) => v.type === "datasource"));
  });
  await t.step("panels use the configured metric prefix", () => {
    const exprs = dashboardQueries(dashboard).map((q) => q.expr).join("\n");
    assert.match(exprs, /probe_url_up\{/);
    assert.doesNotMatch(exprs, /sample_external_url/);
  });
  await t.step("every query parses (promtool check rules on recording rules)", async () => {
    const dir = await tempDir();
    try {
      const queries = dashboardQueries(dashboard);
      const rules = queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: q.expr }));
      await Deno.writeTextFile(
        `${dir}/dashboard.yaml`,
        stringifyYaml({ groups: [{ name: "dashboard", rules }] }),
      );
      const out = await run(tools.promtool, ["check", "rules", "dashboard.yaml"], { cwd: dir });
      assert.equal(
        out.code,
        0,
        `${out.stdout}${out.stderr}\n${
          queries.map((q, i) => `query_${i}: ${q.where}: ${q.expr}`).join("\n")
        }`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("sharded Grafana dashboard: across pods, with the replica panels; its PromQL parses", async (t) => {
  const plain = await dashboardFrom("grafanadashboard-values.yaml");
  const cm = only((await render("sharding-values.yaml")).docs, "ConfigMap", "-dashboard");
  const dashboard = JSON.parse(cm.data["uptime-exporter.json"]);
  await t.step("the same panels and more; ids unique; each with its gridPos", () => {
    const ids = dashboard.panels.map((p: K8s) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual(
      dashboard.panels.slice(0, plain.panels.length).map((p: K8s) => p.title),
      plain.panels.map((p: K8s) => p.title),
    );
    const added = dashboard.panels.slice(plain.panels.length);
    assert.ok(added.length >= 5 && added[0].type === "row", "a Replicas row");
    for (const panel of dashboard.panels) {
      assert.ok(panel.gridPos);
      if (panel.type !== "row") assert.equal(panel.datasource?.uid, "${datasource}");
    }
  });
  await t.step("URL counts take the best of a URL's pods; targets are the configured ones", () => {
    const exprs = dashboardQueries(dashboard).map((q) => q.expr).join("\n");
    assert.match(
      exprs,
      /count\(max without \(instance, pod\) \(sample_external_url_up\{.*\}\) == 1\)/,
    );
    assert.match(
      exprs,
      /count\(max without \(instance, pod\) \(sample_external_url_up\{.*\}\) == 0\)/,
    );
    assert.match(exprs, /max\(uptime_exporter_targets_configured\{/);
    assert.doesNotMatch(exprs, /sum\(uptime_exporter_targets\{/);
    assert.match(exprs, /uptime_exporter_targets_assigned\{/);
  });
  await t.step("every query parses", async () => {
    const dir = await tempDir();
    try {
      const rules = dashboardQueries(dashboard).map((q, i) => ({
        record: `d:q_${i}`,
        expr: q.expr,
      }));
      await Deno.writeTextFile(`${dir}/d.yaml`, stringifyYaml({ groups: [{ name: "d", rules }] }));
      ok(await run(tools.promtool, ["check", "rules", "d.yaml"], { cwd: dir }), "promtool");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

/** Metric names a PromQL expression reads (`name{`), `up` excepted (Prometheus' own). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{/g)].map((m) => m[1]!).filter((n) =>
    n !== "up"
  );
}

Deno.test("the alerts and the dashboard use metrics the exporter really exposes", async () => {
  await using target = startTarget();
  // An https target too, so that the certificate series is there.
  await using tls = serve(() => new Response("ok\n"), { tls: true });
  await using exporter = await startExporter({
    config: {
      defaults: { interval: "500ms", timeout: "400ms" },
      targets: [{ url: `${target.url}/` }, { url: `${tls.url}/`, tls_ca_file: TEST_CA_FILE }],
    },
  });
  await until(async () => (await exporter.get("/readyz")).status === 200, 10_000, "/readyz");
  const exposed = sampleNames((await exporter.get("/metrics")).text);
  assert.ok(exposed.has("sample_external_url_tls_cert_expiry_timestamp_seconds"));

  const rule = only(
    (await render(undefined, ["--set", "prometheusRule.enabled=true"])).docs,
    "PrometheusRule",
  );
  const dashboard = JSON.parse(
    Deno.readTextFileSync(`${CHART}/dashboards/uptime-exporter.json`),
  );
  const sharded = (await render("sharding-values.yaml")).docs;
  const shardedDashboard = JSON.parse(
    only(sharded, "ConfigMap", "-dashboard").data["uptime-exporter.json"],
  );
  const used = new Map<string, string>();
  for (
    const r of [
      ...rule.spec.groups[0].rules,
      ...only(sharded, "PrometheusRule").spec.groups[0].rules,
    ]
  ) {
    for (const n of metricNames(r.expr)) used.set(n, `alert ${r.alert}`);
  }
  for (const q of [...dashboardQueries(dashboard), ...dashboardQueries(shardedDashboard)]) {
    for (const n of metricNames(q.expr)) used.set(n, q.where);
  }
  assert.ok(used.size >= 10, `too few metric names found: ${[...used.keys()]}`);
  const missing = [...used].filter(([name]) => !exposed.has(name));
  assert.deepEqual(
    missing,
    [],
    `used but not exposed:\n${missing.map((m) => m.join(" in ")).join("\n")}`,
  );
});

/** ci files whose config comes from the user's own object: the chart renders none. */
const EXISTING_CONFIG = ["existingconfigmap-values.yaml", "existingsecret-values.yaml"];

Deno.test("values → rendered config file → the exporter's own config loader", async (t) => {
  const configs: { name: string; text: string }[] = [];
  for (const file of [undefined, ...CI_FILES.filter((f) => !EXISTING_CONFIG.includes(f))]) {
    await t.step(file ?? "default values", async () => {
      const { docs } = await render(file);
      const { text, path } = renderedConfig(docs);
      // buildConfig throws ConfigError (with every problem) when the file is bad;
      // ${VAR}s must be provided by the container's env.
      const config = buildConfig(text, {}, { env: containerEnv(docs), fileName: path });
      const values = parseYaml(text);
      assert.equal(config.targets.length, values.targets.length);
      assert.ok(config.targets.length > 0);
      if (!file || file === "default-values.yaml") {
        assert.deepEqual(config.targets.map((c) => c.displayUrl), [...DEFAULT_TARGETS]);
      }
      configs.push({ name: file ?? "default values", text });
    });
  }
  await t.step("every rendered config satisfies docs/config.schema.json", async () => {
    const script = `
import json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft7Validator.check_schema(schema)
validator = jsonschema.Draft7Validator(schema)
bad = []
for item in json.load(sys.stdin):
    for e in validator.iter_errors(yaml.safe_load(item["text"])):
        bad.append(item["name"] + ": " + "/".join(map(str, e.absolute_path)) + ": " + e.message)
print("\\n".join(bad))
sys.exit(1 if bad else 0)
`;
    ok(
      await run(tools.python, ["-c", script, `${ROOT}/docs/config.schema.json`], {
        stdin: JSON.stringify(configs),
      }),
      "jsonschema validation of the rendered configs",
    );
  });
  await t.step("a config with a ${VAR} that no env provides is refused by the loader", async () => {
    const { docs } = await render("full-config-values.yaml");
    assert.throws(
      () => buildConfig(renderedConfig(docs).text, {}, { env: {} }),
      /environment variable API_TOKEN is not set/,
    );
  });
});

/** `helm template` of the chart with `args`, uncached, for renders that must fail. */
function helmTemplate(args: string[]): Promise<Output> {
  return run(tools.helm, [
    "template",
    RELEASE,
    CHART,
    "--kube-version",
    KUBE_VERSIONS[1]!,
    ...args,
  ]);
}

/** Bad values and the part of helm's message that must point at the problem. */
/**
 * Bad values and the part of helm's message that must point at the problem;
 * `byTemplate`: refused by a template's `fail`, not by values.schema.json.
 */
const BAD_VALUES: { name: string; values: unknown; error: RegExp; byTemplate?: true }[] = [
  {
    name: "/probe enabled without an allow-list",
    values: { probe: { enabled: true } },
    error: /probe\.allowedTargets: list at least one entry when probe\.enabled is true/,
    byTemplate: true,
  },
  {
    name: "a target without url",
    values: { config: { targets: [{ interval: "10s" }] } },
    error: /config\.targets\.0: url is required/,
  },
  {
    name: "a target given as a plain string",
    values: { config: { targets: ["https://example.com/"] } },
    error: /config\.targets\.0: Invalid type\. Expected: object, given: string/,
  },
  {
    name: "an unknown per-target setting",
    values: { config: { targets: [{ url: "https://example.com/", intervall: "10s" }] } },
    error: /config\.targets\.0: Additional property intervall is not allowed/,
  },
  {
    name: "an unknown top-level value",
    values: { replicas: 2 },
    error: /Additional property replicas is not allowed/,
  },
  {
    name: "a duration that is not one",
    values: { config: { targets: [{ url: "https://example.com/", timeout: "ten seconds" }] } },
    error: /config\.targets\.0\.timeout/,
  },
  {
    name: "a URL that is not http(s)",
    values: { config: { targets: [{ url: "ftp://example.com/" }] } },
    error: /config\.targets\.0\.url: Does not match pattern/,
  },
  {
    name: "a reserved label name",
    values: { config: { targets: [{ url: "https://example.com/", labels: { url: "x" } }] } },
    error: /config\.targets\.0\.labels/,
  },
  {
    name: "an unknown global setting",
    values: { config: { global: { prefix: "x" } } },
    error: /config\.global: Additional property prefix is not allowed/,
  },
  {
    name: "no targets at all",
    values: { config: { targets: [] } },
    error: /config\.targets: Array must have at least 1 items/,
  },
  {
    name: "a log level that does not exist",
    values: { logLevel: "verbose" },
    error: /logLevel: logLevel must be one of the following/,
  },
  {
    name: "a route prefix that is not a path",
    values: { routePrefix: "uptime" },
    error: /routePrefix: Does not match pattern/,
  },
  {
    name: "an external URL that is not one",
    values: { externalUrl: "ops.example.com/uptime" },
    error: /externalUrl: Does not match pattern/,
  },
  {
    name: "a container port out of range",
    values: { containerPort: 70000 },
    error: /containerPort: Must be less than or equal to 65535/,
  },
  {
    name: "certificate expiry days that are not numbers",
    values: { prometheusRule: { certificateExpiry: { warningDays: "two weeks" } } },
    error: /prometheusRule\.certificateExpiry\.warningDays: Invalid type/,
  },
  {
    name: "an unknown certificate expiry setting",
    values: { prometheusRule: { certificateExpiry: { days: 14 } } },
    error: /prometheusRule\.certificateExpiry: Additional property days is not allowed/,
  },
  {
    name: "a probe module with a prober other than http",
    values: { probe: { modules: { icmp: { prober: "icmp" } } } },
    error: /probe\.modules\.icmp\.prober/,
  },
  {
    name: "sharding with more replicas per target than pods",
    values: { replicaCount: 2, sharding: { enabled: true, replication: 3 } },
    error: /sharding\.replication \(3\) must be at most replicaCount \(2\)/,
    byTemplate: true,
  },
  {
    name: "sharding with replication 0",
    values: { sharding: { replication: 0 } },
    error: /sharding\.replication: Must be greater than or equal to 1/,
  },
  {
    name: "a sharding membership that does not exist",
    values: { sharding: { membership: "gossip" } },
    error: /sharding\.membership: sharding\.membership must be one of the following/,
  },
  {
    name: "an alert duration that Prometheus would not accept",
    values: { prometheusRule: { urlDown: { for: "5 minutes" } } },
    error: /prometheusRule\.urlDown\.for: Does not match pattern/,
  },
];

Deno.test("values.schema.json rejects bad values with a readable error", async (t) => {
  const dir = await tempDir();
  try {
    for (const [i, bad] of BAD_VALUES.entries()) {
      await t.step(bad.name, async () => {
        const file = `${dir}/bad-${i}.yaml`;
        await Deno.writeTextFile(file, stringifyYaml(bad.values));
        const out = await helmTemplate(["-f", file]);
        assert.notEqual(out.code, 0, `helm accepted ${JSON.stringify(bad.values)}`);
        if (!bad.byTemplate) {
          assert.match(out.stderr, /values don't meet the specifications of the schema/);
        }
        assert.match(out.stderr, bad.error);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("NOTES.txt tells the user how to reach /metrics", async () => {
  // helm renders NOTES.txt only on install; render it here through a probe template.
  const dir = await tempDir();
  try {
    const chart = `${dir}/uptime-exporter`;
    ok(await run("cp", ["-r", CHART, chart]), "copy the chart");
    await Deno.writeTextFile(
      `${chart}/templates/notes-probe.yaml`,
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes-probe\ndata:\n  notes: {{ include "uptime-exporter/templates/NOTES.txt" . | toJson }}\n',
    );
    const notesOf = async (extra: string[] = []) =>
      only(
        (await render(undefined, extra, KUBE_VERSIONS[1], chart)).docs,
        "ConfigMap",
        "notes-probe",
      )
        .data.notes as string;
    const notes = await notesOf();
    assert.match(notes, new RegExp(`port-forward service/${RELEASE} 8080:8080`));
    assert.match(notes, /curl -s http:\/\/127\.0\.0\.1:8080\/metrics/);
    assert.match(notes, /127\.0\.0\.1:8080\/api\/v1\/targets/);
    assert.match(notes, /is checking 2 URL\(s\)/);
    assert.match(notes, /helm test/);
    // Under a route prefix, every URL it prints has it.
    const prefixed = await notesOf(["--set", "routePrefix=/uptime"]);
    assert.match(prefixed, /curl -s http:\/\/127\.0\.0\.1:8080\/uptime\/metrics/);
    assert.match(prefixed, /svc:8080\/uptime\/metrics/);
    assert.doesNotMatch(prefixed, /8080\/metrics/);
    // Sharded, it says the pods share the URLs.
    const sharded = await notesOf(["-f", `${CHART}/ci/sharding-values.yaml`]);
    assert.match(sharded, /Sharded: the 3 pods of the StatefulSet uptime-exporter share the URLs/);
    assert.match(sharded, /URL checked by 2 of them \(membership: static\)/);
    assert.doesNotMatch(notes, /Sharded/);
    // With an existing config object it names the object instead of counting targets.
    const existing = await notesOf(["--set", "config.existingSecret=my-config"]);
    assert.match(existing, /reads its config from the Secret my-config \(key config\.yaml\)/);
    assert.doesNotMatch(existing, /is checking/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Dockerfile", async (t) => {
  const dockerfile = Deno.readTextFileSync(`${ROOT}/Dockerfile`);
  const lines = dockerfile.split("\n");
  const instructions = dockerfile.replace(/\\\n/g, " ").split("\n").filter((l) =>
    l.trim() && !l.trim().startsWith("#")
  );
  const from = instructions.filter((l) => /^FROM /i.test(l));

  await t.step("hadolint passes with nothing ignored", async () => {
    const out = await run(tools.hadolint, ["--format", "json", "Dockerfile"]);
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.deepEqual(JSON.parse(out.stdout), []);
    // An ignore must say why on the comment line right above it.
    lines.forEach((line, i) => {
      if (/hadolint\s+ignore/.test(line)) {
        const above = lines[i - 1] ?? "";
        assert.ok(
          above.trim().startsWith("#") && !/hadolint/.test(above),
          `line ${i + 1}: hadolint ignore without a justification comment above it`,
        );
      }
    });
  });
  await t.step("a pinned Deno build stage and a distroless cc nonroot runtime", () => {
    assert.equal(from.length, 2);
    assert.equal(
      from[0],
      `FROM denoland/deno:${Deno.version.deno} AS build`,
      "the build stage must pin the Deno version the tests run with",
    );
    assert.equal(from[1], "FROM gcr.io/distroless/cc-debian12:nonroot");
  });
  await t.step("dependencies cached from deno.json + deno.lock, frozen, before the source", () => {
    const depsCopy = instructions.findIndex((l) => l === "COPY deno.json deno.lock ./");
    const install = instructions.findIndex((l) => /^RUN deno install --frozen$/.test(l));
    const firstSource = instructions.findIndex((l) => /^COPY (main\.ts|lib)/.test(l));
    assert.ok(
      depsCopy >= 0 && install > depsCopy && firstSource > install,
      instructions.join("\n"),
    );
  });
  await t.step(
    "the binary is built by the compile task, whose flags live in deno.json only",
    () => {
      assert.ok(instructions.some((l) => /^RUN .*deno task compile/.test(l)));
      assert.doesNotMatch(instructions.join("\n"), /--allow-|deno compile/);
      assert.ok(
        instructions.some((l) => l.startsWith("COPY --from=build /app/dist/uptime-exporter ")),
        "the runtime stage must copy the compile task's output",
      );
    },
  );
  await t.step("non-root, exec-form entrypoint, port 8080, OCI labels", () => {
    const last = instructions.slice(instructions.indexOf(from[1]!));
    assert.ok(last.includes("USER 65532:65532"));
    assert.ok(last.includes("EXPOSE 8080"));
    const entrypoint = last.find((l) => l.startsWith("ENTRYPOINT "));
    assert.ok(entrypoint, "no ENTRYPOINT");
    const argv = JSON.parse(entrypoint.slice("ENTRYPOINT ".length));
    assert.deepEqual(argv, ["/usr/local/bin/uptime-exporter"]);
    assert.ok(!last.some((l) => /^(CMD|HEALTHCHECK|SHELL) /.test(l)), "no shell in the image");
    const labels = last.filter((l) => l.startsWith("LABEL ")).join(" ");
    for (const key of ["source", "version", "revision", "licenses"]) {
      assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${key}=`));
    }
    // The licence of the repository (LICENSE), not a build argument.
    assert.match(labels, /org\.opencontainers\.image\.licenses="Apache-2\.0"/);
    assert.match(Deno.readTextFileSync(`${ROOT}/LICENSE`), /Apache License\s+Version 2\.0/);
  });
  await t.step("the build stage's dependency steps pass here (deno install --frozen)", async () => {
    // The build context as the Dockerfile's COPY lines take it, in a scratch directory.
    const dir = await tempDir();
    try {
      const runs: string[] = [];
      for (const line of instructions.slice(0, instructions.indexOf(from[1]!))) {
        const copy = /^COPY (?!--)(.+) (\S+)$/.exec(line);
        if (copy) {
          for (const src of copy[1]!.split(/\s+/)) {
            ok(
              await run("cp", ["-r", `${ROOT}/${src.replace(/\/$/, "")}`, `${dir}/`]),
              `copy ${src}`,
            );
          }
        }
        const install = /^RUN (deno install --frozen[^&]*?)\s*(&&|$)/.exec(line);
        if (install) {
          const words = install[1]!.trim().split(/\s+/);
          ok(await run(Deno.execPath(), words.slice(1), { cwd: dir }), words.join(" "));
          runs.push(words.join(" "));
        }
      }
      assert.deepEqual(runs, [
        "deno install --frozen",
        "deno install --frozen --entrypoint main.ts",
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
  await t.step(".dockerignore lets in what the build copies and keeps the rest out", () => {
    const patterns = Deno.readTextFileSync(`${ROOT}/.dockerignore`).split("\n")
      .map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    // As Docker matches: the last pattern that matches the path or one of its parents wins.
    const included = (name: string) => {
      const paths = name.split("/").map((_, i, parts) => parts.slice(0, i + 1).join("/"));
      let keep = true;
      for (const p of patterns) {
        const negate = p.startsWith("!");
        const pattern = (negate ? p.slice(1) : p).replace(/\/$/, "");
        const re = new RegExp(`^${pattern.replace(/\./g, "\\.").replace(/\*/g, "[^/]*")}$`);
        if (paths.some((path) => re.test(path))) keep = negate;
      }
      return keep;
    };
    for (const name of ["deno.json", "deno.lock", "main.ts", "lib", "scripts/stamp.ts"]) {
      assert.ok(included(name), `${name} is excluded but the build copies it`);
    }
    for (
      const name of [
        ".git",
        "dist",
        "tests",
        "helm",
        "docs",
        "node_modules",
        "scripts/chart_docs.ts",
      ]
    ) {
      assert.ok(!included(name), `${name} reaches the build context`);
    }
  });
});

/** checkov skip annotations (checkov.io/skipN: CHECK=reason) of an object, by check ID. */
function checkovSkips(doc: K8s): Record<string, string> {
  const skips: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc.metadata.annotations ?? {})) {
    if (!key.startsWith("checkov.io/skip")) continue;
    // checkov splits at "=" and expects exactly two parts.
    const parts = String(value).split("=");
    assert.equal(parts.length, 2, `${key}: "CHECK=reason" with no other "=": ${value}`);
    assert.ok(parts[1]!.trim().length > 20, `${key}: ${parts[0]} is skipped without a reason`);
    skips[parts[0]!] = parts[1]!;
  }
  return skips;
}

Deno.test("checkov skips: justified, and only while the deviation is there", async (t) => {
  const digest = `sha256:${"a".repeat(64)}`;
  await t.step(
    "defaults: no CPU limit and a tag-pinned image, each skip with its reason",
    async () => {
      const { docs } = await render();
      assert.deepEqual(Object.keys(checkovSkips(only(docs, "Deployment"))).sort(), [
        "CKV_K8S_11",
        "CKV_K8S_15",
        "CKV_K8S_43",
      ]);
      const test = only(docs, "Pod");
      assert.deepEqual(Object.keys(checkovSkips(test)).sort(), [
        "CKV_K8S_15",
        "CKV_K8S_43",
        "CKV_K8S_8",
        "CKV_K8S_9",
      ]);
      // The test pod times nothing: it gets a CPU limit instead of a skip.
      assert.ok(test.spec.containers[0].resources.limits.cpu);
    },
  );
  await t.step("a CPU limit and digests remove the matching skips", async () => {
    const { docs } = await render(undefined, [
      "--set",
      "resources.limits.cpu=200m",
      "--set",
      `image.digest=${digest}`,
      "--set",
      `test.image.digest=${digest}`,
    ]);
    const deployment = only(docs, "Deployment");
    assert.deepEqual(checkovSkips(deployment), {});
    assert.equal(deployment.metadata.annotations, undefined);
    assert.ok(exporterContainer(docs).image.endsWith(`@${digest}`));
    const test = only(docs, "Pod");
    assert.deepEqual(Object.keys(checkovSkips(test)).sort(), ["CKV_K8S_8", "CKV_K8S_9"]);
    assert.ok(test.spec.containers[0].image.endsWith(`:1.36.1@${digest}`));
  });
  await t.step("pullPolicy Always removes the CKV_K8S_15 skip", async () => {
    const { docs } = await render(undefined, ["--set", "image.pullPolicy=Always"]);
    assert.deepEqual(Object.keys(checkovSkips(only(docs, "Deployment"))).sort(), [
      "CKV_K8S_11",
      "CKV_K8S_43",
    ]);
  });
  await t.step("secrets in the environment (for ${VAR}) are a justified CKV_K8S_35", async () => {
    const { docs } = await render("full-config-values.yaml");
    assert.deepEqual(Object.keys(checkovSkips(only(docs, "Deployment"))).sort(), [
      "CKV_K8S_11",
      "CKV_K8S_35",
    ]);
  });
});

Deno.test("values.yaml has a ## comment above every key", () => {
  const lines = Deno.readTextFileSync(`${CHART}/values.yaml`).split("\n");
  const bare = lines.flatMap((line, i) =>
    /^\s*[A-Za-z_][\w.-]*:/.test(line) && !(lines[i - 1] ?? "").trim().startsWith("##")
      ? [`${i + 1}: ${line}`]
      : []
  );
  assert.deepEqual(bare, [], "document these keys with a ## comment right above them");
});

Deno.test("docs/kubernetes.md's values table lists every value", () => {
  const doc = Deno.readTextFileSync(`${ROOT}/docs/kubernetes.md`);
  const values = parseYaml(Deno.readTextFileSync(`${CHART}/values.yaml`));
  const missing: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (!doc.includes(`| \`${key}\``)) missing.push(key);
    const opaque = [
      "podSecurityContext",
      "securityContext",
      "resources",
      "livenessProbe",
      "readinessProbe",
    ];
    if (value && typeof value === "object" && !Array.isArray(value) && !opaque.includes(key)) {
      for (const sub of Object.keys(value)) {
        if (!doc.includes(`| \`${key}.${sub}\``)) missing.push(`${key}.${sub}`);
      }
    }
  }
  assert.deepEqual(missing, [], "add these to the values table in docs/kubernetes.md");
});

Deno.test("the container port and the route prefix are each one value", async (t) => {
  await t.step("no template writes the port or a path of the exporter's itself", () => {
    for (const entry of Deno.readDirSync(`${CHART}/templates`)) {
      if (!entry.isFile) continue;
      const text = Deno.readTextFileSync(`${CHART}/templates/${entry.name}`);
      assert.doesNotMatch(text, /\b8080\b/, `${entry.name} writes the port`);
    }
  });
  await t.step(
    "externalUrl alone sets the prefix the probes use, as the exporter does",
    async () => {
      const { docs } = await render(undefined, [
        "--set",
        "externalUrl=https://ops.example.com/uptime/",
      ]);
      const container = exporterContainer(docs);
      assert.ok(container.args.includes("--web.external-url=https://ops.example.com/uptime/"));
      assert.ok(!container.args.some((a: string) => a.startsWith("--web.route-prefix")));
      assert.equal(container.livenessProbe.httpGet.path, "/uptime/healthz");
    },
  );
  await t.step("routePrefix wins over externalUrl's path", async () => {
    const { docs } = await render(undefined, [
      "--set",
      "externalUrl=https://ops.example.com/uptime/",
      "--set",
      "routePrefix=/other",
    ]);
    assert.equal(exporterContainer(docs).livenessProbe.httpGet.path, "/other/healthz");
  });
});

Deno.test("config.existingConfigMap and config.existingSecret exclude each other", async () => {
  const out = await helmTemplate([
    "--set",
    "config.existingConfigMap=a",
    "--set",
    "config.existingSecret=b",
  ]);
  assert.notEqual(out.code, 0);
  assert.match(out.stderr, /config\.existingConfigMap and config\.existingSecret: set at most one/);
});

Deno.test("Chart.yaml is publishable: licence, home, sources, maintainers, Artifact Hub", async (t) => {
  const chart = parseYaml(Deno.readTextFileSync(`${CHART}/Chart.yaml`));
  const values = parseYaml(Deno.readTextFileSync(`${CHART}/values.yaml`));
  await t.step("home, sources and maintainers", () => {
    assert.match(chart.home, /^https:\/\//);
    assert.ok(
      chart.sources.length > 0 && chart.sources.every((u: string) => /^https:\/\//.test(u)),
    );
    assert.deepEqual(chart.maintainers.map((m: K8s) => m.name), ["uptime-exporter maintainers"]);
    assert.equal(chart.icon, undefined, "no icon at a URL the project does not own");
    assert.equal(chart.kubeVersion, ">=1.25.0-0");
  });
  await t.step("the licence is the repository's", () => {
    assert.equal(chart.annotations["artifacthub.io/license"], "Apache-2.0");
    assert.match(Deno.readTextFileSync(`${ROOT}/LICENSE`), /Apache License\s+Version 2\.0/);
  });
  await t.step("artifacthub.io/images are the images the chart runs by default", async () => {
    const images = parseYaml(chart.annotations["artifacthub.io/images"]);
    const { docs } = await render();
    const running = [
      exporterContainer(docs).image,
      only(docs, "Pod").spec.containers[0].image,
    ];
    assert.deepEqual(
      images.map((i: K8s) => i.image),
      [running[0], running[1]],
      "update artifacthub.io/images in Chart.yaml",
    );
    assert.equal(running[0], `uptime-exporter:${chart.appVersion}`);
    assert.equal(running[1], `docker.io/busybox:${values.test.image.tag}`);
  });
  await t.step("artifacthub.io/links and changes parse", () => {
    const links = parseYaml(chart.annotations["artifacthub.io/links"]);
    assert.ok(links.length > 0);
    for (const l of links) assert.ok(l.name && /^https:\/\//.test(l.url), JSON.stringify(l));
    const changes = parseYaml(chart.annotations["artifacthub.io/changes"]);
    for (const c of changes) {
      assert.ok(
        ["added", "changed", "deprecated", "removed", "fixed", "security"].includes(c.kind),
      );
      assert.equal(typeof c.description, "string");
    }
  });
  await t.step("the packaged chart carries its README and no ci/ files", async () => {
    const dir = await tempDir();
    try {
      ok(await run(tools.helm, ["package", CHART, "--destination", dir]), "helm package");
      const tgz = `${dir}/uptime-exporter-${chart.version}.tgz`;
      const list = ok(await run("tar", ["-tzf", tgz]), "tar -tzf");
      assert.match(list, /^uptime-exporter\/README\.md$/m);
      assert.match(list, /^uptime-exporter\/values\.schema\.json$/m);
      assert.doesNotMatch(list, /\/ci\//);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
