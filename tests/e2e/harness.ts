/**
 * Shared pieces of the end-to-end suite: required tools, child processes with
 * captured logs, the exporter started the way the compiled binary runs, real
 * Prometheus servers (Debian's 2.42 and a Prometheus 3 built from the Go module
 * proxy: {@linkcode PROMETHEUS_BUILDS}), loopback target servers, a scrape
 * proxy that records what Prometheus asks for, and polling with deadlines.
 *
 * Every process listens on 127.0.0.1 and is stopped by `close()` (or
 * `await using`); every temporary directory is removed the same way. A tool
 * that is missing throws: the suite fails, it never skips.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { freePort, hangingServer } from "../_helpers/servers.ts";
import { waitFor } from "../_helpers/wait.ts";
import { run } from "../_helpers/process.ts";

export { run };

export { type Exporter, startExporter } from "../_helpers/exporter.ts";
export { waitFor };

/** The repository root. */
export const ROOT: string = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** Where screenshots and logs of a run go (`E2E_ARTIFACTS_DIR`, default tests/e2e/artifacts). */
export const ARTIFACTS_DIR: string = Deno.env.get("E2E_ARTIFACTS_DIR") ??
  `${ROOT}/tests/e2e/artifacts`;

// ---------------------------------------------------------------- tools

/** Finds an executable: the env override, then each candidate path or PATH name. */
export function requireTool(name: string, candidates: string[], envName?: string): string {
  const override = envName ? Deno.env.get(envName) : undefined;
  const list = override ? [override] : candidates;
  const path = (Deno.env.get("PATH") ?? "").split(":").filter(Boolean);
  for (const candidate of list) {
    const options = candidate.includes("/") ? [candidate] : path.map((d) => `${d}/${candidate}`);
    for (const file of options) {
      try {
        const info = Deno.statSync(file);
        if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return file;
      } catch { /* not there */ }
    }
  }
  throw new Error(
    `${name} is required by the e2e suite but was not found (looked for ${list.join(", ")}${
      envName ? `; set ${envName} to its path` : ""
    }). Install it with .ci/e2e_tools.sh.`,
  );
}

/** helm: `HELM`, PATH, or where `go install` puts it (.ci/chart_tools.sh builds it there). */
export function requireHelm(): string {
  return requireTool(
    "helm",
    [
      "helm",
      ...(Deno.env.get("GOPATH") ? [`${Deno.env.get("GOPATH")}/bin/helm`] : []),
      `${Deno.env.get("HOME") ?? "/root"}/go/bin/helm`,
      "/root/go/bin/helm",
    ],
    "HELM",
  );
}

/** The first line a command prints for `--version`. */
export async function versionOf(cmd: string, args = ["--version"]): Promise<string> {
  const out = await run(cmd, args, { timeoutMs: 30_000 });
  assert.equal(out.code, 0, `${cmd} ${args.join(" ")} failed: ${out.stderr}`);
  const lines = (out.stdout + out.stderr).split("\n").map((l) => l.trim());
  // The Debian chromium wrapper prints a shell warning before the version.
  return lines.find((l) => /\d+\.\d+/.test(l) && !l.startsWith("/")) ?? lines[0] ?? "";
}

// ---------------------------------------------------------------- Prometheus builds

/** A Prometheus the suite runs against. */
export interface PrometheusBuild {
  /** For test names: `Prometheus 2.42.0+ds (Debian)`. */
  label: string;
  binary: string;
  /** As the binary reports it (`--version`, else its Go module version). */
  version: string;
  major: number;
}

/** Where `go install` puts binaries: $GOBIN, $GOPATH/bin, ~/go/bin. */
function goBinCandidates(name: string): string[] {
  const env = (n: string) => Deno.env.get(n);
  return [
    ...(env("GOBIN") ? [`${env("GOBIN")}/${name}`] : []),
    ...(env("GOPATH") ? [`${env("GOPATH")}/bin/${name}`] : []),
    `${env("HOME") ?? "/root"}/go/bin/${name}`,
    `/root/go/bin/${name}`,
  ];
}

/**
 * The version of a Prometheus binary: from `--version`, or, for a plain
 * `go install` (which stamps none), from its Go module version (v0.316.0 is
 * Prometheus 3.16.0).
 */
export async function prometheusVersion(binary: string): Promise<string> {
  const line = await versionOf(binary);
  const stamped = /^prometheus, version (\d+\.\d+\.\d+\S*)/.exec(line)?.[1];
  if (stamped) return stamped;
  const out = await run("go", ["version", "-m", binary], { timeoutMs: 30_000 }).catch(() =>
    undefined
  );
  const module = /^\s*mod\s+github\.com\/prometheus\/prometheus\s+v0\.(\d+)\.(\d+)/m.exec(
    out?.stdout ?? "",
  );
  assert.ok(module, `cannot tell the version of ${binary}: '${line}', and no Go module version`);
  const minor = Number(module[1]);
  return `${Math.floor(minor / 100)}.${minor % 100}.${module[2]}`;
}

/**
 * The two Prometheus servers of the suite: Debian's 2.42 (what many run
 * today, the package CI installs) and Prometheus 3 (what users run now; built
 * by .ci/e2e_tools.sh). Each resolves when its test starts, so a missing one
 * fails its test; each checks that it is the major version it claims.
 */
export const PROMETHEUS_BUILDS: readonly {
  name: string;
  resolve: () => Promise<PrometheusBuild>;
}[] = [
  {
    name: "Prometheus 2 (Debian package)",
    resolve: () =>
      resolveBuild(requireTool("prometheus", ["/usr/bin/prometheus"], "PROMETHEUS"), 2, "Debian"),
  },
  {
    name: "Prometheus 3 (go install)",
    resolve: () =>
      resolveBuild(
        requireTool("Prometheus 3", goBinCandidates("prometheus"), "PROMETHEUS3"),
        3,
        "go install",
      ),
  },
];

async function resolveBuild(binary: string, major: number, from: string): Promise<PrometheusBuild> {
  const version = await prometheusVersion(binary);
  const got = Number(version.split(".")[0]);
  assert.equal(got, major, `${binary} is Prometheus ${version}, expected ${major}.x`);
  return { label: `Prometheus ${version} (${from})`, binary, version, major };
}

// ---------------------------------------------------------------- scrape proxy

/** A loopback proxy in front of the exporter's /metrics (see {@linkcode startScrapeProxy}). */
export interface ScrapeProxy extends AsyncDisposable {
  /** `127.0.0.1:PORT`, for static_configs. */
  host: string;
  /** The Accept header of every scrape, as Prometheus sent it. */
  accepts: string[];
  /** The Content-Type the exporter answered each scrape with. */
  contentTypes: string[];
  close(): Promise<void>;
}

/**
 * Starts a proxy that records the `Accept` header of each scrape and passes
 * the request on to `upstream` with `Accept: accept` instead: Prometheus 2.42
 * has no setting to ask for the text format, so this is how a real Prometheus
 * of either version scrapes the text format.
 */
export function startScrapeProxy(upstream: string, accept: string): ScrapeProxy {
  const accepts: string[] = [];
  const contentTypes: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    accepts.push(req.headers.get("accept") ?? "");
    const res = await fetch(upstream + new URL(req.url).pathname, {
      headers: { accept, "accept-encoding": "identity" },
    });
    const type = res.headers.get("content-type") ?? "";
    contentTypes.push(type);
    return new Response(await res.arrayBuffer(), {
      status: res.status,
      headers: { "content-type": type },
    });
  });
  const close = () => server.shutdown();
  return {
    host: `127.0.0.1:${server.addr.port}`,
    accepts,
    contentTypes,
    close,
    [Symbol.asyncDispose]: close,
  };
}

// ---------------------------------------------------------------- processes

/** A temporary directory, removed with everything in it on dispose. */
export interface TempDir extends AsyncDisposable {
  path: string;
}

/** Makes a temporary directory. */
export async function tempDir(prefix: string): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix: `uptime-e2e-${prefix}-` });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}

/** A child process whose stdout and stderr are collected into `log`. */
export class Proc implements AsyncDisposable {
  readonly name: string;
  readonly child: Deno.ChildProcess;
  log = "";
  readonly #drained: Promise<void>;
  #status?: Deno.CommandStatus;
  readonly exited: Promise<Deno.CommandStatus>;
  #lineWaiters: { re: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];

  constructor(name: string, cmd: string, args: string[], options: { cwd?: string } = {}) {
    this.name = name;
    this.child = new Deno.Command(cmd, {
      args,
      cwd: options.cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#drained = Promise.all([
      this.#drain(this.child.stdout),
      this.#drain(this.child.stderr),
    ]).then(() => {});
    this.exited = this.child.status.then((s) => (this.#status = s));
  }

  async #drain(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      this.log += decoder.decode(chunk, { stream: true });
      this.#lineWaiters = this.#lineWaiters.filter((w) => {
        const m = w.re.exec(this.log);
        if (m) w.resolve(m);
        return !m;
      });
    }
  }

  /** Whether the process is still running. */
  get running(): boolean {
    return this.#status === undefined;
  }

  /** Resolves with the first match of `re` in the output; fails if the process exits or time runs out. */
  waitForOutput(re: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
    const found = re.exec(this.log);
    if (found) return Promise.resolve(found);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const matched = new Promise<RegExpExecArray>((resolve) => {
      this.#lineWaiters.push({ re, resolve });
    });
    const failed = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(`${this.name}: no output matching ${re} after ${timeoutMs} ms:\n${this.log}`),
          ),
        timeoutMs,
      );
      this.exited.then((s) =>
        reject(
          new Error(`${this.name} exited (code ${s.code}) before printing ${re}:\n${this.log}`),
        )
      );
    });
    return Promise.race([matched, failed]).finally(() => clearTimeout(timer));
  }

  /** Sends SIGTERM, then SIGKILL after `graceMs`; waits for the exit and the output. */
  async close(graceMs = 5000): Promise<Deno.CommandStatus> {
    if (this.running) {
      try {
        this.child.kill("SIGTERM");
      } catch { /* already gone */ }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        try {
          this.child.kill("SIGKILL");
        } catch { /* already gone */ }
        resolve();
      }, graceMs);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    const status = await this.exited;
    await this.#drained;
    return status;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close().then(() => {});
  }
}

// ---------------------------------------------------------------- Prometheus

/** One result of an instant vector query. */
export interface Sample {
  metric: Record<string, string>;
  value: number;
}

/** A running Prometheus server and a small client of its HTTP API. */
export class Prometheus implements AsyncDisposable {
  readonly proc: Proc;
  readonly url: string;
  constructor(proc: Proc, url: string) {
    this.proc = proc;
    this.url = url;
  }

  /** GET /api/v1/<path>; returns `data`, throws on an error status. */
  async api<T = unknown>(path: string, params: Record<string, string> = {}): Promise<T> {
    const qs = new URLSearchParams(params).toString();
    const res = await fetch(`${this.url}/api/v1/${path}${qs ? `?${qs}` : ""}`);
    const body = await res.json();
    if (!res.ok || body.status !== "success") {
      throw new Error(`Prometheus ${path} ${qs}: ${res.status} ${JSON.stringify(body)}`);
    }
    return body.data as T;
  }

  /** Evaluates an instant query that returns a vector. */
  async query(expr: string): Promise<Sample[]> {
    const data = await this.api<{ resultType: string; result: unknown[] }>("query", {
      query: expr,
    });
    assert.equal(data.resultType, "vector", `${expr} should return a vector`);
    return (data.result as { metric: Record<string, string>; value: [number, string] }[]).map(
      (r) => ({ metric: r.metric, value: Number(r.value[1]) }),
    );
  }

  /** Values of `expr` by the value of `label`. */
  async queryBy(expr: string, label = "url"): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const s of await this.query(expr)) out.set(s.metric[label] ?? "", s.value);
    return out;
  }

  close(): Promise<void> {
    return this.proc.close(10_000).then(() => {});
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Starts `prometheus` with its own data dir under `dir`, listening on a free
 * 127.0.0.1 port, with `config` (an object) as its configuration. Retries on
 * another port if the chosen one was taken in the meantime.
 */
export async function startPrometheus(
  binary: string,
  dir: string,
  config: unknown,
): Promise<Prometheus> {
  const configFile = `${dir}/prometheus.yml`;
  await Deno.writeTextFile(configFile, stringifyYaml(config));
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = freePort();
    const data = `${dir}/data-${attempt}`;
    const proc = new Proc("prometheus", binary, [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${data}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--web.enable-lifecycle",
      "--log.level=info",
    ], { cwd: dir });
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitFor("Prometheus to be ready", async () => {
        if (!proc.running) throw new Error(`prometheus exited:\n${proc.log}`);
        const res = await fetch(`${url}/-/ready`).catch(() => undefined);
        await res?.body?.cancel();
        return res?.status === 200 ? true : undefined;
      }, { timeoutMs: 30_000 });
      return new Prometheus(proc, url);
    } catch (e) {
      lastError = e;
      await proc.close();
      if (!/address already in use/.test(proc.log)) break;
    }
  }
  throw lastError;
}

// ---------------------------------------------------------------- the chart's alert rules

/** A Prometheus alerting or recording rule as the chart renders it. */
export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/**
 * Renders the Helm chart with its PrometheusRule enabled and `selector`
 * matching the test's scrape job, and returns the rule groups. `values` are
 * added to the chart's (e.g. `{replicaCount: 3, sharding: {...}}`).
 */
export async function renderChartRules(
  helm: string,
  dir: string,
  selector: string,
  values: Record<string, unknown> = {},
): Promise<{ name: string; rules: Rule[] }[]> {
  const valuesFile = await Deno.makeTempFile({ dir, prefix: "chart-values-", suffix: ".yaml" });
  await Deno.writeTextFile(
    valuesFile,
    stringifyYaml({ prometheusRule: { enabled: true, selector }, ...values }),
  );
  const out = await run(helm, [
    "template",
    "e2e",
    `${ROOT}/helm/uptime-exporter`,
    "--namespace",
    "e2e",
    // A helm built by plain `go install` (no -ldflags) assumes Kubernetes 1.20, below the
    // chart's kubeVersion; name a supported version so any helm build renders the chart.
    "--kube-version",
    "1.30.0",
    "--values",
    valuesFile,
  ], { timeoutMs: 60_000 });
  assert.equal(out.code, 0, `helm template failed:\n${out.stderr}`);
  const docs = out.stdout.split(/^---\s*$/m).map((d) => parseYaml(d)).filter(Boolean);
  const rule = docs.find((d) => d?.kind === "PrometheusRule");
  assert.ok(rule, "the chart rendered no PrometheusRule with prometheusRule.enabled=true");
  return rule.spec.groups;
}

/**
 * A test-only rule file: the chart's groups with every `for:` shortened to
 * `forSeconds`, the evaluation interval set to 1s.
 */
export function shortenRules(
  groups: { name: string; rules: Rule[] }[],
  forSeconds: number,
): string {
  return stringifyYaml({
    groups: groups.map((g) => ({
      ...g,
      interval: "1s",
      rules: g.rules.map((r) => (r.for !== undefined ? { ...r, for: `${forSeconds}s` } : r)),
    })),
  });
}

// ---------------------------------------------------------------- target servers

/** A loopback HTTP server answering each path with a fixed response. */
export interface Targets extends AsyncDisposable {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** A TCP port that accepts connections and never answers. */
  hangUrl: string;
  /** An https server presenting a certificate that expired on 2021-01-01. */
  expiredTlsUrl: string;
  close(): Promise<void>;
}

/**
 * Starts the target servers on 127.0.0.1: one HTTP server with `/ok` (200),
 * `/unavailable` (503), `/redirect` (302 to `/ok`), `/slow` (200 after
 * 150 ms), a TCP listener that accepts and never answers (`hangUrl`), and an
 * https server with an expired certificate (`expiredTlsUrl`).
 */
export function startTargets(): Targets {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    switch (path) {
      case "/ok":
        return new Response("OK\n");
      case "/unavailable":
        return new Response("Service Unavailable\n", { status: 503 });
      case "/redirect":
        return new Response(null, { status: 302, headers: { location: "/ok" } });
      case "/slow":
        await new Promise((r) => setTimeout(r, 150));
        return new Response("slow but OK\n");
      default:
        return new Response("Not Found\n", { status: 404 });
    }
  });
  const hanging = hangingServer();
  const hostile = `${ROOT}/tests/fixtures/hostile`;
  const expired = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    cert: Deno.readTextFileSync(`${hostile}/expired.pem`),
    key: Deno.readTextFileSync(`${hostile}/expired.key`),
    // The exporter's handshake fails on the expired certificate, by design.
    onError: () => new Response(null, { status: 500 }),
  }, () => new Response("OK\n"));
  const close = async () => {
    await hanging.close();
    await server.shutdown();
    await expired.shutdown();
  };
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    hangUrl: `${hanging.url}/hang`,
    expiredTlsUrl: `https://localhost:${expired.addr.port}/`,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Saves `bytes` under the artifacts directory; returns the path. */
export async function saveArtifact(name: string, bytes: Uint8Array | string): Promise<string> {
  await Deno.mkdir(ARTIFACTS_DIR, { recursive: true });
  const path = `${ARTIFACTS_DIR}/${name}`;
  if (typeof bytes === "string") await Deno.writeTextFile(path, bytes);
  else await Deno.writeFile(path, bytes);
  return path;
}
