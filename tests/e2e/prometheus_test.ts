/**
 * End to end with real Prometheus servers, each in its own test: Debian's
 * Prometheus 2.42 and Prometheus 3 (built by .ci/e2e_tools.sh). Each scrapes
 * the exporter (run with the compiled binary's permission flags) every second,
 * in OpenMetrics as it negotiates, and a second time in the text format
 * through a proxy that asks for it; evaluates the Helm chart's alert rules
 * (with short `for:`); and the test asks its HTTP API what it sees.
 * `promtool check metrics` lints a real text scrape.
 *
 * Needs /usr/bin/prometheus, /usr/bin/promtool, Prometheus 3 and helm (see
 * docs/e2e.md); a missing tool fails the test.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type Exporter,
  type Prometheus,
  PROMETHEUS_BUILDS,
  type PrometheusBuild,
  renderChartRules,
  requireHelm,
  requireTool,
  run,
  saveArtifact,
  shortenRules,
  startExporter,
  startPrometheus,
  startScrapeProxy,
  startTargets,
  tempDir,
  versionOf,
  waitFor,
} from "./harness.ts";
import { negotiate } from "../../lib/server/negotiate.ts";

const PREFIX = "sample_external_url";
const JOB = "uptime-exporter-e2e";
/** The same exporter, scraped in the text format through the proxy. */
const TEXT_JOB = "uptime-exporter-e2e-text";
/** Check timeout of the hanging target, ms. */
const HANG_TIMEOUT_MS = 700;
/** Window of the rate() and histogram_quantile() queries, seconds. */
const WINDOW_S = 15;
/** `for:` of every alert rule in the test-only rule file, seconds. */
const ALERT_FOR_S = 3;

/**
 * Problems `promtool check metrics` may report, each forced on us by the seed
 * contract (and explained in docs/e2e.md). Anything else fails the test.
 */
const ALLOWED_LINT: { pattern: RegExp; why: string }[] = [
  {
    pattern: new RegExp(
      `^${PREFIX}_response_ms metric names should not contain abbreviated units$`,
    ),
    why: "the seed's metric name <prefix>_response_ms (milliseconds) is kept for compatibility; " +
      "<prefix>_response_seconds is the base-unit histogram",
  },
];

/** Runs a step the later ones depend on: when it fails, the test stops. */
async function must(t: Deno.TestContext, name: string, fn: () => Promise<void>): Promise<void> {
  if (!(await t.step(name, fn))) throw new Error(`stopping: step "${name}" failed`);
}

interface Alert {
  labels: Record<string, string>;
  state: "pending" | "firing";
}

/** A target in the metadata API. */
interface Metadata {
  metric: string;
  type: string;
  help: string;
  unit: string;
}

for (const { name, resolve } of PROMETHEUS_BUILDS) {
  Deno.test(`e2e (${name}): a real Prometheus scrapes the exporter and evaluates the chart's alerts`, async (t) => {
    const build = await resolve();
    await scrapeAndAlert(t, build);
  });
}

async function scrapeAndAlert(t: Deno.TestContext, build: PrometheusBuild): Promise<void> {
  const prometheusBin = build.binary;
  /** Artifact names of this build: p2-metrics.txt, p3-metrics.txt, ... */
  const artifact = (file: string) => `p${build.major}-${file}`;
  const promtool = requireTool("promtool", ["/usr/bin/promtool", "promtool"], "PROMTOOL");
  const helm = requireHelm();
  console.log(`prometheus: ${build.label} (${prometheusBin})`);
  console.log(`promtool: ${await versionOf(promtool)}`);
  console.log(`helm: ${await versionOf(helm, ["version", "--short"])}`);

  await using dir = await tempDir("prometheus");
  await using targets = startTargets();
  const url = {
    ok: `${targets.url}/ok`,
    unavailable: `${targets.url}/unavailable`,
    hang: targets.hangUrl,
    redirect: `${targets.url}/redirect`,
    slow: `${targets.url}/slow`,
    expired: targets.expiredTlsUrl,
  };
  const config = (withRedirect: boolean) => ({
    defaults: { interval: "1s", timeout: "900ms", labels: { env: "e2e" } },
    targets: [
      { url: url.ok },
      { url: url.unavailable },
      { url: url.hang, timeout: `${HANG_TIMEOUT_MS}ms` },
      ...(withRedirect ? [{ url: url.redirect, interval: "2s" }] : []),
      { url: url.slow },
      { url: url.expired },
    ],
  });
  /** Checks per second each target is configured for. */
  const rates: Record<string, number> = {
    [url.ok]: 1,
    [url.unavailable]: 1,
    [url.hang]: 1,
    [url.redirect]: 0.5,
    [url.slow]: 1,
    [url.expired]: 1,
  };

  await using exporter: Exporter = await startExporter({ dir: dir.path, config: config(true) });
  await using textProxy = startScrapeProxy(exporter.url, "text/plain;version=0.0.4");
  let prom: Prometheus | undefined;
  try {
    await must(t, "the chart's alert rules load into Prometheus with a short for:", async () => {
      const groups = await renderChartRules(helm, dir.path, `job="${JOB}"`);
      const names = groups.flatMap((g) => g.rules.map((r) => r.alert ?? r.record));
      assert.ok(names.includes("UptimeExporterURLDown"), `chart alerts: ${names.join(", ")}`);
      await Deno.writeTextFile(`${dir.path}/rules.yml`, shortenRules(groups, ALERT_FOR_S));
      const check = await run(promtool, ["check", "rules", `${dir.path}/rules.yml`]);
      assert.equal(check.code, 0, `promtool check rules:\n${check.stdout}${check.stderr}`);
    });

    prom = await startPrometheus(prometheusBin, dir.path, {
      global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
      rule_files: [`${dir.path}/rules.yml`],
      scrape_configs: [
        { job_name: JOB, static_configs: [{ targets: [exporter.host] }] },
        { job_name: TEXT_JOB, static_configs: [{ targets: [textProxy.host] }] },
      ],
    });
    const p = prom;
    const sel = (u: string) => `{job="${JOB}",url="${u}"}`;

    await must(t, "the rules are loaded and healthy", async () => {
      const data = await p.api<{ groups: { rules: { name: string; health: string }[] }[] }>(
        "rules",
      );
      const rules = data.groups.flatMap((g) => g.rules);
      assert.ok(rules.length > 0, "Prometheus loaded no rules");
      for (const r of rules) assert.notEqual(r.health, "err", `rule ${r.name} is unhealthy`);
    });

    await must(t, "the exporter's scrape target is healthy", async () => {
      type Active = { labels: Record<string, string>; health: string; lastError: string };
      const target = await waitFor("a healthy scrape of the exporter", async () => {
        const data = await p.api<{ activeTargets: Active[] }>("targets", { state: "active" });
        const mine = data.activeTargets.filter((a) => a.labels.job === JOB);
        const text = data.activeTargets.filter((a) => a.labels.job === TEXT_JOB);
        assert.equal(mine.length, 1, "one active target for the exporter");
        assert.equal(text.length, 1, "one active target for the text scrape");
        return mine[0]!.health === "up" && text[0]!.health === "up" ? mine[0] : undefined;
      });
      assert.equal(target.lastError, "");
      const up = await p.query(`up{job=~"${JOB}|${TEXT_JOB}"}`);
      assert.deepEqual(up.map((s) => s.value), [1, 1]);
    });

    await t.step(
      "it asks for OpenMetrics and gets it; the text scrape gets the text format",
      async () => {
        const accept = textProxy.accepts[0]!;
        console.log(`${build.label} sends Accept: ${accept}`);
        await saveArtifact(artifact("accept.txt"), `${accept}\n`);
        assert.equal(negotiate(accept).format, "openmetrics", `what ${build.label} sends`);
        assert.ok(
          textProxy.contentTypes.every((c) => c === "text/plain; version=0.0.4; charset=utf-8"),
        );
        // The metadata Prometheus keeps shows which parser read each scrape: OpenMetrics
        // names a counter's family without _total and carries # UNIT.
        const metadata = async (job: string) => {
          const data = await p.api<Metadata[]>("targets/metadata", {
            match_target: `{job="${job}"}`,
          });
          return new Map(data.map((m) => [m.metric, m]));
        };
        const om = await waitFor("OpenMetrics metadata", async () => {
          const m = await metadata(JOB);
          return m.has(`${PREFIX}_response_seconds`) ? m : undefined;
        });
        assert.equal(om.get(`${PREFIX}_response_seconds`)?.unit, "seconds");
        assert.equal(om.get(`${PREFIX}_response_seconds`)?.type, "histogram");
        assert.equal(om.get(`${PREFIX}_checks`)?.type, "counter");
        assert.equal(om.get(`${PREFIX}_checks_total`), undefined);
        assert.equal(om.get(`${PREFIX}_last_check_timestamp_seconds`)?.unit, "seconds");
        assert.equal(om.get(`process_resident_memory_bytes`)?.unit, "bytes");
        assert.equal(om.get(`${PREFIX}_response_ms`)?.unit, "");
        const text = await metadata(TEXT_JOB);
        assert.equal(text.get(`${PREFIX}_checks_total`)?.type, "counter");
        assert.equal(text.get(`${PREFIX}_checks`), undefined);
        assert.equal(text.get(`${PREFIX}_response_seconds`)?.unit, "");
        // Both formats give the same series and values.
        const names = async (job: string) =>
          (await p.query(`count by (__name__) ({job="${job}",__name__=~"${PREFIX}_.*"})`))
            .map((s) => s.metric.__name__).sort();
        assert.deepEqual(await names(JOB), await names(TEXT_JOB));
        const up = async (job: string) =>
          Object.fromEntries(await p.queryBy(`${PREFIX}_up{job="${job}"}`));
        const [omUp, textUp] = await Promise.all([up(JOB), up(TEXT_JOB)]);
        assert.equal(Object.keys(omUp).length, 6);
        assert.deepEqual(omUp, textUp);
        const les = async (job: string) =>
          (await p.query(`count by (le) (${PREFIX}_response_seconds_bucket{job="${job}"})`))
            .map((x) => x.metric.le!).sort();
        console.log(`le values: OpenMetrics ${await les(JOB)}; text ${await les(TEXT_JOB)}`);
      },
    );

    await t.step(`${PREFIX}_up is 1 and 0 for the right URLs`, async () => {
      const up = await waitFor("every target's up series", async () => {
        const m = await p.queryBy(`${PREFIX}_up{job="${JOB}"}`);
        return m.size === 6 ? m : undefined;
      });
      assert.deepEqual(Object.fromEntries(up), {
        [url.ok]: 1,
        [url.unavailable]: 0,
        [url.hang]: 0,
        [url.redirect]: 1,
        [url.slow]: 1,
        [url.expired]: 0,
      });
      const codes = await p.queryBy(`${PREFIX}_status_code{job="${JOB}"}`);
      assert.deepEqual(Object.fromEntries(codes), {
        [url.ok]: 200,
        [url.unavailable]: 503,
        [url.hang]: 0,
        [url.redirect]: 200,
        [url.slow]: 200,
        [url.expired]: 0,
      });
      const labels = (await p.query(`${PREFIX}_up${sel(url.ok)}`))[0]!.metric;
      assert.equal(labels.env, "e2e", "static labels from the config reach Prometheus");
    });

    await t.step(`${PREFIX}_response_ms is plausible; the hanging URL ≈ its timeout`, async () => {
      // Wait until the hanging target has a timed-out check on record.
      await waitFor("a timeout check of the hanging URL", async () => {
        const r = await p.query(`${PREFIX}_checks_total{job="${JOB}",result="timeout"} > 0`);
        return r.some((s) => s.metric.url === url.hang) ? true : undefined;
      });
      const ms = Object.fromEntries(await p.queryBy(`${PREFIX}_response_ms{job="${JOB}"}`));
      console.log("response_ms:", ms);
      // Loopback answers take a few ms; under load they may take more, but never
      // as long as the hanging URL's timeout.
      assert.ok(ms[url.ok]! > 0 && ms[url.ok]! < HANG_TIMEOUT_MS, `ok: ${ms[url.ok]} ms`);
      assert.ok(
        ms[url.redirect]! > 0 && ms[url.redirect]! < HANG_TIMEOUT_MS,
        `redirect: ${ms[url.redirect]} ms`,
      );
      assert.ok(ms[url.slow]! >= 150 && ms[url.slow]! < 1000, `slow: ${ms[url.slow]} ms`);
      assert.ok(
        ms[url.hang]! >= HANG_TIMEOUT_MS - 20 && ms[url.hang]! < HANG_TIMEOUT_MS + 500,
        `hang: ${ms[url.hang]} ms, timeout ${HANG_TIMEOUT_MS} ms`,
      );
    });

    // The remaining queries need a full window of samples, and a little more: rate()
    // does not extrapolate back past the start of a series.
    await waitFor(`${WINDOW_S}s of samples`, async () => {
      const r = await p.query(`count_over_time(${PREFIX}_up${sel(url.ok)}[${WINDOW_S + 5}s])`);
      return (r[0]?.value ?? 0) >= WINDOW_S + 2 ? true : undefined;
    }, { timeoutMs: (WINDOW_S + 40) * 1000, everyMs: 1000 });

    await t.step(`rate(${PREFIX}_checks_total) grows at the configured interval`, async () => {
      const rate = Object.fromEntries(
        await p.queryBy(`sum by (url) (rate(${PREFIX}_checks_total{job="${JOB}"}[${WINDOW_S}s]))`),
      );
      console.log("checks per second:", rate);
      for (const [u, expected] of Object.entries(rates)) {
        const got = rate[u];
        assert.ok(got !== undefined, `no rate for ${u}`);
        assert.ok(
          Math.abs(got - expected) <= expected * 0.25,
          `${u}: ${got} checks/s, configured ${expected}/s`,
        );
      }
      const byResult = Object.fromEntries(
        await p.queryBy(
          `sum by (result) (increase(${PREFIX}_checks_total${sel(url.unavailable)}[${WINDOW_S}s]))`,
          "result",
        ),
      );
      assert.ok(byResult.status! > 0, `the 503 URL fails with result="status": ${byResult}`);
      assert.equal(byResult.up, 0);
    });

    await t.step(`histogram_quantile over ${PREFIX}_response_seconds is sensible`, async () => {
      const q = async (phi: number, u: string) => {
        const r = await p.query(
          `histogram_quantile(${phi}, sum by (le) (rate(${PREFIX}_response_seconds_bucket${
            sel(u)
          }[${WINDOW_S}s])))`,
        );
        assert.equal(r.length, 1, `one quantile for ${u}`);
        return r[0]!.value;
      };
      const ok = await q(0.5, url.ok);
      const slow = await q(0.5, url.slow);
      const hang = await q(0.9, url.hang);
      console.log("quantiles (s):", { ok50: ok, slow50: slow, hang90: hang });
      assert.ok(ok > 0 && ok <= 0.1, `median of the 200 URL: ${ok}s`);
      assert.ok(slow > 0.1 && slow <= 0.5, `median of the 150 ms URL: ${slow}s`);
      assert.ok(hang > 0.5 && hang <= 1, `p90 of the hanging URL (timeout 0.7s): ${hang}s`);
    });

    await t.step("the URL-down alert fires for the down URLs, not for the up ones", async () => {
      const seen = new Set<string>();
      const alerts = await waitFor("UptimeExporterURLDown to fire for the 503 URL", async () => {
        const data = await p.api<{ alerts: Alert[] }>("alerts");
        const down = data.alerts.filter((a) => a.labels.alertname === "UptimeExporterURLDown");
        for (const a of down) seen.add(`${a.labels.url}:${a.state}`);
        const firing = down.find((a) => a.labels.url === url.unavailable && a.state === "firing");
        return firing ? data.alerts : undefined;
      }, { timeoutMs: 30_000, everyMs: 500 });
      const down = alerts.filter((a) => a.labels.alertname === "UptimeExporterURLDown");
      const urls = down.map((a) => a.labels.url).sort();
      assert.deepEqual(
        urls,
        [url.hang, url.unavailable, url.expired].sort(),
        "alerts only for down URLs",
      );
      for (const a of down) {
        assert.equal(a.labels.severity, "critical");
        assert.ok(a.state === "firing" || a.state === "pending");
      }
      const others = alerts.filter((a) =>
        a.labels.alertname !== "UptimeExporterURLDown" &&
        // Its own step below.
        !(a.labels.alertname === "UptimeExporterURLCertificateExpiresVerySoon" &&
          a.labels.url === url.expired)
      );
      assert.deepEqual(
        others.map((a) => `${a.labels.alertname} ${a.labels.url ?? ""}`),
        [],
        "no other alert is active",
      );
      console.log("URL-down alert states seen:", [...seen].join(", "));
    });

    await t.step(
      "the certificate alert fires for the expired certificate, and only there",
      async () => {
        const name = "UptimeExporterURLCertificateExpiresVerySoon";
        const firing = await waitFor(`${name} to fire for the expired certificate`, async () => {
          const data = await p.api<{ alerts: Alert[] }>("alerts");
          const cert = data.alerts.filter((a) =>
            (a.labels.alertname ?? "").startsWith("UptimeExporterURLCertificate")
          );
          return cert.some((a) => a.state === "firing") ? cert : undefined;
        }, { timeoutMs: 30_000, everyMs: 500 });
        assert.deepEqual(firing.map((a) => [a.labels.alertname, a.labels.url, a.labels.severity]), [
          [name, url.expired, "critical"],
        ]);
        const days = await p.query(
          `(${PREFIX}_tls_cert_expiry_timestamp_seconds{job="${JOB}"} - time()) / 86400`,
        );
        assert.equal(days.length, 1, "only the https URL has a certificate series");
        assert.equal(days[0]!.metric.url, url.expired);
        assert.ok(days[0]!.value < -1000, `expired 2021-01-01: ${days[0]!.value} days left`);
      },
    );

    await t.step("promtool check metrics on a real scrape", async () => {
      const res = await fetch(`${exporter.url}/metrics`);
      const text = await res.text();
      await saveArtifact(artifact("metrics.txt"), text);
      const om = await fetch(`${exporter.url}/metrics`, {
        headers: { accept: textProxy.accepts[0]! },
      });
      await saveArtifact(artifact("metrics.openmetrics.txt"), await om.text());
      const out = await run(promtool, ["check", "metrics"], { stdin: text });
      const findings = (out.stdout + out.stderr).split("\n").map((l) => l.trim()).filter(Boolean);
      await saveArtifact(artifact("promtool-check-metrics.txt"), findings.join("\n") + "\n");
      console.log(`promtool check metrics (exit ${out.code}):\n  ${findings.join("\n  ")}`);
      const unexpected = findings.filter((f) => !ALLOWED_LINT.some((a) => a.pattern.test(f)));
      assert.deepEqual(unexpected, [], "promtool found problems not forced by the seed contract");
      // Exit code 3 means lint problems only (all allowed above); anything else is an error.
      assert.ok(out.code === 0 || (out.code === 3 && findings.length > 0), `exit ${out.code}`);
    });

    await t.step("a target removed by a config reload goes stale in Prometheus", async () => {
      const before = await p.query(`${PREFIX}_up${sel(url.redirect)}`);
      assert.equal(before.length, 1, "the redirect URL has a series before the reload");
      await exporter.writeConfig(config(false));
      const reload = await exporter.reload();
      assert.equal(reload.status, 200, reload.body);
      const metrics = await (await fetch(`${exporter.url}/metrics`)).text();
      assert.ok(!metrics.includes(url.redirect), "the exporter no longer exposes the URL");
      await waitFor("the removed URL's series to go stale", async () => {
        const r = await p.query(`${PREFIX}_up${sel(url.redirect)}`);
        return r.length === 0 ? true : undefined;
      }, { timeoutMs: 15_000 });
      // It went stale (a staleness marker), it did not just never exist:
      const history = await p.query(`count_over_time(${PREFIX}_up${sel(url.redirect)}[1m])`);
      assert.equal(history.length, 1);
      assert.ok(history[0]!.value > 0);
      // The other targets carry on.
      const up = await p.queryBy(`${PREFIX}_up{job="${JOB}"}`);
      assert.equal(up.size, 5);
      assert.equal(up.get(url.ok), 1);
    });

    await t.step("a failed reload keeps the old config and fires the reload alert", async () => {
      await Deno.writeTextFile(exporter.configFile!, "targets: [\n");
      const reload = await exporter.reload();
      assert.equal(reload.status, 500, reload.body);
      await waitFor("UptimeExporterConfigReloadFailed to fire", async () => {
        const data = await p.api<{ alerts: Alert[] }>("alerts");
        return data.alerts.some((a) =>
            a.labels.alertname === "UptimeExporterConfigReloadFailed" && a.state === "firing"
          )
          ? true
          : undefined;
      }, { timeoutMs: 30_000, everyMs: 500 });
      const up = await p.queryBy(`${PREFIX}_up{job="${JOB}"}`);
      assert.equal(up.size, 5, "the running config stays in force");
    });
  } catch (e) {
    await saveArtifact(artifact("exporter.log"), exporter.log).catch(() => {});
    if (prom) await saveArtifact(artifact("prometheus.log"), prom.proc.log).catch(() => {});
    throw e;
  } finally {
    await prom?.close();
  }
  const status = await exporter.stop();
  assert.equal(status.code, 0, `the exporter exits cleanly on SIGTERM:\n${exporter.log}`);
}
