/**
 * Side by side with the real blackbox_exporter (Debian's
 * prometheus-blackbox-exporter 0.23, /usr/bin): both load the same module
 * file and probe the same loopback targets (200, 3xx, 4xx, 5xx, body regex
 * match and mismatch, HEAD, POST with a body, and every behaviour of the
 * hostile server); `probe_success` and `probe_http_status_code` must agree
 * for every case but the deliberate differences in {@linkcode DIFFERENCES},
 * which docs/migrating.md's "Deliberate differences" lists with the same
 * reasons. A missing blackbox_exporter fails the test.
 */

import assert from "node:assert/strict";
import { stringify as stringifyYaml } from "yaml";
import { startExporter } from "./_helpers/exporter.ts";
import { hostileServer, parseMetrics, tlsServer } from "./_helpers/hostile_server.ts";
import { freePort } from "./_helpers/servers.ts";
import { probeTargets } from "./_helpers/probe_targets.ts";
import { waitFor } from "./_helpers/wait.ts";

const BLACKBOX = Deno.env.get("BLACKBOX_EXPORTER") ?? "/usr/bin/prometheus-blackbox-exporter";

/** The module file both exporters load. */
const MODULES = {
  modules: {
    http_2xx: { prober: "http", timeout: "2s", http: { preferred_ip_protocol: "ip4" } },
    http_head: { prober: "http", timeout: "2s", http: { method: "HEAD" } },
    http_post: {
      prober: "http",
      timeout: "2s",
      http: {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: '{"ping": true}',
        valid_status_codes: [200, 201],
      },
    },
    http_body_up: {
      prober: "http",
      timeout: "2s",
      http: { fail_if_body_not_matches_regexp: ['"status":\\s*"UP"'] },
    },
    http_body_maintenance: {
      prober: "http",
      timeout: "2s",
      http: { fail_if_body_matches_regexp: ["(?i)maintenance"] },
    },
    http_no_redirect: {
      prober: "http",
      timeout: "2s",
      http: { follow_redirects: false, valid_status_codes: [301, 302] },
    },
    http_limit: { prober: "http", timeout: "2s", http: { body_size_limit: "1KB" } },
    http_short: { prober: "http", timeout: "1s" },
  },
};

/**
 * Cases where the answers differ on purpose, with the reason (docs/migrating.md lists
 * the same). Keyed by `module path`.
 */
const DIFFERENCES: Record<string, { why: string }> = {
  "http_short /endless": {
    why: "without body_size_limit we read at most 1 MiB (the body limit of every check) and " +
      "judge that; blackbox reads an endless body until the timeout and fails",
  },
};

interface Answer {
  success?: number;
  status?: number;
  /** The other shared gauges, compared and reported (not asserted). */
  others: Record<string, number | undefined>;
}

const REPORTED = [
  "probe_http_redirects",
  "probe_http_content_length",
  "probe_http_uncompressed_body_length",
  "probe_http_ssl",
  "probe_failed_due_to_regex",
];

async function probeOnce(base: string, module: string, target: string): Promise<Answer> {
  const url = `${base}/probe?module=${module}&target=${encodeURIComponent(target)}`;
  const res = await fetch(url, { headers: { "x-prometheus-scrape-timeout-seconds": "5" } });
  const text = await res.text();
  assert.equal(res.status, 200, `${url}: ${res.status} ${text}`);
  const m = parseMetrics(text);
  return {
    success: m.get("probe_success"),
    status: m.get("probe_http_status_code"),
    others: Object.fromEntries(REPORTED.map((name) => [name, m.get(name)])),
  };
}

Deno.test("side by side with blackbox_exporter 0.23: probe_success and the status code agree", async (t) => {
  try {
    Deno.statSync(BLACKBOX);
  } catch {
    throw new Error(`${BLACKBOX} not found: apt-get install prometheus-blackbox-exporter`);
  }
  const dir = await Deno.makeTempDir({ prefix: "blackbox-compat-" });
  const modulesFile = `${dir}/blackbox.yml`;
  await Deno.writeTextFile(modulesFile, stringifyYaml(MODULES));

  await using hostile = hostileServer({ trickleMs: 200, bigHeaderBytes: 64 * 1024 });
  await using expired = tlsServer("expired");
  await using selfSigned = tlsServer("self_signed");
  await using server = probeTargets();

  const port = freePort();
  const blackbox = new Deno.Command(BLACKBOX, {
    args: [
      `--config.file=${modulesFile}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const blackboxLog = blackbox.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: () => {} }),
  );
  const blackboxUrl = `http://127.0.0.1:${port}`;
  await using ours = await startExporter({
    config: {
      targets: [`${server.url}/ok`],
      probe: { enabled: true, allowed_targets: ["127.0.0.0/8", "localhost"] },
    },
    args: ["--probe.modules-file", modulesFile],
  });
  try {
    await waitFor("blackbox_exporter to listen", async () => {
      const res = await fetch(`${blackboxUrl}/-/healthy`).catch(() => undefined);
      await res?.body?.cancel();
      return res?.ok ? true : undefined;
    }, { timeoutMs: 20_000, everyMs: 100 });
    const out = await new Deno.Command(BLACKBOX, {
      args: ["--version"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const version = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    console.log(version.trim().split("\n")[0]);

    const cases: [string, string][] = [
      ["http_2xx", `${server.url}/ok`],
      ["http_2xx", `${server.url}/status/201`],
      ["http_2xx", `${server.url}/status/204`],
      ["http_2xx", `${server.url}/moved`],
      ["http_2xx", `${server.url}/found`],
      ["http_2xx", `${server.url}/see-other`],
      ["http_2xx", `${server.url}/status/304`],
      ["http_2xx", `${server.url}/status/400`],
      ["http_2xx", `${server.url}/status/401`],
      ["http_2xx", `${server.url}/status/404`],
      ["http_2xx", `${server.url}/status/500`],
      ["http_2xx", `${server.url}/status/502`],
      ["http_2xx", `${server.url}/status/503`],
      ["http_no_redirect", `${server.url}/moved`],
      ["http_no_redirect", `${server.url}/found`],
      ["http_no_redirect", `${server.url}/ok`],
      ["http_body_up", `${server.url}/json`],
      ["http_body_up", `${server.url}/ok`],
      ["http_body_up", `${server.url}/found`],
      ["http_body_up", `${server.url}/status/500`],
      ["http_body_maintenance", `${server.url}/maintenance`],
      ["http_body_maintenance", `${server.url}/ok`],
      ["http_head", `${server.url}/ok`],
      ["http_head", `${server.url}/status/404`],
      ["http_post", `${server.url}/post-only`],
      ["http_2xx", `${server.url}/post-only`],
      ["http_limit", `${server.url}/big`],
      ["http_limit", `${server.url}/ok`],
      ["http_2xx", `${server.url.replace("127.0.0.1", "localhost")}/ok`],
      ...[
        "/ok",
        "/hang",
        "/trickle",
        "/loop/a",
        "/redirect-closed",
        "/reset",
        "/close",
        "/garbage",
        "/big-header",
        "/204",
        "/304",
        "/http10",
        "/missing",
      ].map((p): [string, string] => ["http_short", `${hostile.url}${p}`]),
      ["http_short", `${hostile.url}/endless`],
      ["http_short", `${expired.url}/`],
      ["http_short", `${selfSigned.url}/`],
      ["http_short", `http://127.0.0.1:${freePort()}/`],
    ];
    const agreed: string[] = [];
    const differed: string[] = [];
    const differedKeys = new Set<string>();
    const otherDifferences: string[] = [];
    for (const [module, target] of cases) {
      const path = new URL(target).pathname;
      const key = `${module} ${path}`;
      const where = `${module} ${target}`;
      await t.step(where, async () => {
        const [theirs, mine] = await Promise.all([
          probeOnce(blackboxUrl, module, target),
          probeOnce(ours.url, module, target),
        ]);
        const same = theirs.success === mine.success && theirs.status === mine.status;
        const line = `${where}: blackbox success ${theirs.success} status ${theirs.status}, ` +
          `ours success ${mine.success} status ${mine.status}`;
        for (const name of REPORTED) {
          if (theirs.others[name] !== mine.others[name]) {
            otherDifferences.push(
              `${where}: ${name} blackbox ${theirs.others[name]}, ours ${mine.others[name]}`,
            );
          }
        }
        const difference = DIFFERENCES[key];
        if (difference && !same) {
          differed.push(`${line} (deliberate: ${difference.why})`);
          differedKeys.add(key);
          return;
        }
        assert.ok(same, line);
        agreed.push(line);
      });
    }
    console.log(
      `agreed on ${agreed.length} cases; deliberate differences:\n  ${differed.join("\n  ")}`,
    );
    console.log(
      `other gauges that differ (reported, not asserted):\n  ${otherDifferences.join("\n  ")}`,
    );
    await t.step("every listed difference still occurs (none is stale)", () => {
      for (const key of Object.keys(DIFFERENCES)) {
        assert.ok(differedKeys.has(key), `${key} no longer differs: drop it`);
      }
    });
  } finally {
    try {
      blackbox.kill("SIGTERM");
    } catch { /* gone */ }
    await blackbox.status;
    await blackboxLog.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
