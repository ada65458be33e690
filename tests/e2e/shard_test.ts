/**
 * Sharded fleets end to end, with each real Prometheus of the suite: two
 * fleets of 3 exporter processes (each on its own loopback address, as pods
 * have their own IPs), one with replication 2 and one with replication 1, both
 * scraped with a `pod` label as the Prometheus Operator gives it, and the
 * chart's alert rules rendered in sharded mode for each (with short `for:`).
 *
 * - a 503 URL fires exactly one UptimeExporterURLDown, a healthy URL none;
 * - a replica killed in the R=2 fleet fires no URL-down or stale alert: its
 *   URLs are still checked (they are reported under-replicated, and the
 *   fleet's coverage low, both warnings);
 * - a replica killed in the R=1 fleet (no DNS failover) fires the coverage
 *   alert, critical: its URLs are checked by no one.
 *
 * Needs Prometheus, promtool and helm (docs/e2e.md); a missing tool fails.
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
  startTargets,
  tempDir,
  waitFor,
} from "./harness.ts";
import { stringify as stringifyYaml } from "yaml";

const PREFIX = "sample_external_url";
/** `for:` of every rule in the test's rule files, seconds. */
const FOR_S = 3;
/** Healthy URLs in the config (besides the 503 one). */
const HEALTHY = 9;

interface Alert {
  labels: Record<string, string>;
  state: "pending" | "firing";
}

/** A fleet: its job name, the replication, its processes. */
interface Fleet {
  job: string;
  replication: number;
  replicas: Exporter[];
}

for (const { name, resolve } of PROMETHEUS_BUILDS) {
  Deno.test(`e2e (${name}): sharded fleets, the chart's sharded alerts`, async (t) => {
    await shardedAlerts(t, await resolve());
  });
}

async function shardedAlerts(t: Deno.TestContext, build: PrometheusBuild): Promise<void> {
  const artifact = (file: string) => `p${build.major}-shard-${file}`;
  const promtool = requireTool("promtool", ["/usr/bin/promtool", "promtool"], "PROMTOOL");
  const helm = requireHelm();
  await using dir = await tempDir("shard");
  await using targets = startTargets();
  const down = `${targets.url}/unavailable`;
  const healthy = Array.from({ length: HEALTHY }, (_, i) => `${targets.url}/ok?n=${i}`);
  const configFile = `${dir.path}/fleet.yaml`;
  await Deno.writeTextFile(
    configFile,
    stringifyYaml({
      defaults: { interval: "1s", timeout: "900ms", labels: { env: "e2e" } },
      targets: [down, ...healthy].map((url) => ({ url })),
    }),
  );

  const fleets: Fleet[] = [
    { job: "shard-r2", replication: 2, replicas: [] },
    { job: "shard-r1", replication: 1, replicas: [] },
  ];
  let prom: Prometheus | undefined;
  try {
    // Two fleets of three, on 127.0.0.2-4 and 127.0.0.5-7.
    await Promise.all(fleets.map(async (fleet, f) => {
      fleet.replicas = await Promise.all([0, 1, 2].map((i) =>
        startExporter({
          args: [
            "--config.file",
            configFile,
            "--web.listen-address",
            `127.0.0.${2 + 3 * f + i}:0`,
            "--shard.count",
            "3",
            "--shard.index",
            String(i),
            "--shard.replication",
            String(fleet.replication),
          ],
          startTimeoutMs: 60_000,
        })
      ));
    }));

    const ruleFiles: string[] = [];
    await t.step("the chart's sharded rules render and pass promtool", async () => {
      for (const fleet of fleets) {
        // alertLabels tell the fleets' alerts apart (the coverage alert has no job label).
        const groups = await renderChartRules(helm, dir.path, `job="${fleet.job}"`, {
          replicaCount: 3,
          sharding: { enabled: true, replication: fleet.replication },
          prometheusRule: {
            enabled: true,
            selector: `job="${fleet.job}"`,
            alertLabels: { fleet: fleet.job },
          },
        });
        const file = `${dir.path}/${fleet.job}.rules.yml`;
        // Each fleet's rules in a group of its own name.
        const named = groups.map((g) => ({ ...g, name: `${g.name}-${fleet.job}` }));
        await Deno.writeTextFile(file, shortenRules(named, FOR_S));
        const check = await run(promtool, ["check", "rules", file]);
        assert.equal(check.code, 0, `promtool check rules:\n${check.stdout}${check.stderr}`);
        ruleFiles.push(file);
      }
    });

    prom = await startPrometheus(build.binary, dir.path, {
      global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
      rule_files: ruleFiles,
      scrape_configs: fleets.map((fleet) => ({
        job_name: fleet.job,
        // One target per pod, labelled with its name as the Prometheus Operator does.
        static_configs: fleet.replicas.map((e, i) => ({
          targets: [e.host],
          labels: { pod: `uptime-exporter-${i}` },
        })),
      })),
    });
    const p = prom;
    const alerts = async (job: string) => {
      const data = await p.api<{ alerts: Alert[] }>("alerts");
      return data.alerts.filter((a) => a.labels.fleet === job);
    };
    /** Firing alerts of `job`'s rules as "name url" strings, sorted. */
    const firing = async (job: string) =>
      (await alerts(job)).filter((a) => a.state === "firing").map((a) =>
        `${a.labels.alertname} ${a.labels.url ?? ""}`.trim()
      ).sort();

    await t.step("Prometheus scrapes all six replicas; each URL has R series", async () => {
      for (const fleet of fleets) {
        const count = await waitFor(`${fleet.job}: every URL reported R times`, async () => {
          const byUrl = await p.queryBy(`count by (url) (${PREFIX}_up{job="${fleet.job}"})`);
          const all = [down, ...healthy];
          return all.every((u) => byUrl.get(u) === fleet.replication) ? byUrl : undefined;
        }, { timeoutMs: 30_000, everyMs: 500 });
        assert.equal(count.size, HEALTHY + 1);
        const up = await p.query(`up{job="${fleet.job}"}`);
        assert.deepEqual(up.map((s) => s.value), [1, 1, 1]);
      }
    });

    await t.step("the 503 URL fires exactly one URLDown per fleet; healthy URLs none", async () => {
      for (const fleet of fleets) {
        const list = await waitFor(`${fleet.job}: URLDown firing`, async () => {
          const f = await firing(fleet.job);
          return f.includes(`UptimeExporterURLDown ${down}`) ? f : undefined;
        }, { timeoutMs: 30_000, everyMs: 500 });
        assert.deepEqual(list, [`UptimeExporterURLDown ${down}`], `${fleet.job}: nothing else`);
        const urlDown = (await alerts(fleet.job)).filter((a) =>
          a.labels.alertname === "UptimeExporterURLDown"
        );
        assert.equal(urlDown.length, 1, "one alert, not one per pod");
        assert.equal(urlDown[0]!.labels.pod, undefined);
        assert.equal(urlDown[0]!.labels.instance, undefined);
        assert.equal(urlDown[0]!.labels.env, "e2e", "the target's own labels are kept");
      }
    });

    await t.step("R=2, one replica killed: no URL-down or stale alert", async () => {
      const fleet = fleets[0]!;
      await fleet.replicas[1]!.stop("SIGKILL");
      // Long enough for every `for:` to pass, twice over.
      await waitFor("the under-replication warnings", async () => {
        const f = await firing(fleet.job);
        return f.includes("UptimeExporterShardCoverageLow") ? f : undefined;
      }, { timeoutMs: 30_000, everyMs: 500 });
      await new Promise((r) => setTimeout(r, FOR_S * 2000));
      const after = await firing(fleet.job);
      const urlAlerts = after.filter((a) => /^UptimeExporterURL(Down|Slow)|ResultsStale/.test(a));
      assert.deepEqual(urlAlerts, [`UptimeExporterURLDown ${down}`], "only the 503 URL is down");
      // The warnings that say so: the lost pod's URLs have one pod each now.
      const under = after.filter((a) => a.startsWith("UptimeExporterURLUnderReplicated"));
      assert.ok(under.length > 0, after.join("\n"));
      const coverage = (await alerts(fleet.job)).find((a) =>
        a.labels.alertname === "UptimeExporterShardCoverageLow"
      );
      assert.equal(coverage?.labels.severity, "warning");
      console.log(`${build.label}, R=2 after a kill: ${after.length} firing: ${after.join(", ")}`);
      const remaining = await p.queryBy(`count by (url) (${PREFIX}_up{job="${fleet.job}"})`);
      assert.ok([down, ...healthy].every((u) => (remaining.get(u) ?? 0) >= 1), "every URL checked");
    });

    await t.step("R=1 without DNS failover, one replica killed: the coverage alert", async () => {
      const fleet = fleets[1]!;
      const victim = fleet.replicas[0]!;
      const lost = (await p.queryBy(`${PREFIX}_up{job="${fleet.job}",pod="uptime-exporter-0"}`))
        .size;
      assert.ok(lost > 0, "the victim had a share");
      await victim.stop("SIGKILL");
      const coverage = await waitFor("UptimeExporterShardCoverageLow", async () => {
        return (await alerts(fleet.job)).find((a) =>
          a.labels.alertname === "UptimeExporterShardCoverageLow" && a.state === "firing"
        );
      }, { timeoutMs: 30_000, everyMs: 500 });
      assert.equal(coverage.labels.severity, "critical");
      const after = await firing(fleet.job);
      const urlDown = after.filter((a) => a.startsWith("UptimeExporterURLDown"));
      assert.ok(urlDown.every((a) => a === `UptimeExporterURLDown ${down}`), after.join("\n"));
      console.log(`${build.label}, R=1 after a kill (${lost} URLs unchecked): ${after.join(", ")}`);
    });
  } catch (e) {
    for (const fleet of fleets) {
      for (const [i, e2] of fleet.replicas.entries()) {
        await saveArtifact(artifact(`${fleet.job}-${i}.log`), e2.log).catch(() => {});
      }
    }
    if (prom) await saveArtifact(artifact("prometheus.log"), prom.proc.log).catch(() => {});
    throw e;
  } finally {
    await prom?.close();
    await Promise.all(fleets.flatMap((f) => f.replicas.map((e) => e.stop())));
  }
}
