/**
 * Fleets of real exporter processes (main.ts through `deno run` with the
 * compile task's permission flags) sharing one config of loopback targets:
 * static fleets of 3 and 4 replicas cover every target exactly R times, a
 * killed replica of a fleet with R=2 leaves no target unchecked, and with DNS
 * membership (a real dnsmasq serving the peers' A records from a hosts file
 * that the test rewrites, as the endpoints of a headless Service change) a
 * killed replica's targets move to the survivors within the documented
 * bound, and back when it returns. Each replica has its own loopback address
 * (127.0.0.2, 127.0.0.3, …), given as POD_IP, and listens there.
 *
 * The failover figures it prints are the ones docs/kubernetes.md quotes
 * ("Sharding", measured); the bound it asserts is generous, as timing on a
 * shared machine varies.
 */

import assert from "node:assert/strict";
import { stringify as stringifyYaml } from "yaml";
import { type Exporter, startExporter, startTarget } from "./_helpers/exporter.ts";
import { startDnsServer } from "./_helpers/dns_server.ts";
import { until, waitFor } from "./_helpers/wait.ts";

const TARGETS = 48;
/** Check interval of every target, ms. */
const INTERVAL_MS = 1000;
/** --shard.peers-dns-interval of the DNS fleet, ms. */
const DNS_INTERVAL_MS = 500;

function fleetConfig(base: string) {
  return {
    defaults: { interval: `${INTERVAL_MS}ms`, timeout: "900ms" },
    targets: Array.from({ length: TARGETS }, (_, i) => ({ url: `${base}/t/${i}` })),
  };
}

/** Each target's last check (epoch ms) as one replica's /metrics shows it. */
async function lastChecks(exporter: Exporter): Promise<Map<string, number>> {
  const { text } = await exporter.get("/metrics");
  const out = new Map<string, number>();
  const re = /^sample_external_url_last_check_timestamp_seconds\{url="([^"]+)"\} (\S+)$/gm;
  for (const m of text.matchAll(re)) out.set(m[1]!, Number(m[2]) * 1000);
  return out;
}

/** How many replicas expose each target, over the whole fleet. */
async function coverage(fleet: Exporter[]): Promise<Map<string, number>> {
  const count = new Map<string, number>();
  for (const checks of await Promise.all(fleet.map(lastChecks))) {
    for (const url of checks.keys()) count.set(url, (count.get(url) ?? 0) + 1);
  }
  return count;
}

/** Waits until every replica is ready (it checked its whole share once). */
async function allReady(fleet: Exporter[]): Promise<void> {
  await Promise.all(
    fleet.map((e) =>
      until(async () => (await e.get("/readyz")).status === 200, 30_000, `${e.host} ready`)
    ),
  );
}

/** Asserts that the fleet covers each of the config's targets exactly `times` times. */
async function assertCoverage(fleet: Exporter[], urls: string[], times: number): Promise<void> {
  const count = await coverage(fleet);
  const wrong = urls.filter((u) => count.get(u) !== times).map((u) => `${u}: ${count.get(u)}`);
  assert.deepEqual(wrong, [], `targets not covered exactly ${times} times`);
  assert.equal(count.size, urls.length, "no target outside the config");
}

/** Writes the fleet's one config file (every replica reads the same). */
async function writeConfig(dir: string, config: unknown): Promise<string> {
  const file = `${dir}/fleet.yaml`;
  await Deno.writeTextFile(file, stringifyYaml(config));
  return file;
}

/** Starts replica `index` of a fleet at 127.0.0.(index + 2). */
function replica(
  configFile: string,
  index: number,
  args: string[],
  env: Record<string, string> = {},
): Promise<Exporter> {
  return startExporter({
    // Later flags win over the helper's --listen 127.0.0.1:0.
    args: ["--config.file", configFile, "--web.listen-address", `127.0.0.${index + 2}:0`, ...args],
    env,
    startTimeoutMs: 60_000,
  });
}

Deno.test("fleets of 3 and 4 processes cover every target exactly R times; R=2 survives a kill", async (t) => {
  await using target = startTarget();
  const config = fleetConfig(target.url);
  const urls = config.targets.map((x) => x.url);
  const dir = await Deno.makeTempDir({ prefix: "uptime-exporter-fleet-" });
  const file = await writeConfig(dir, config);
  const fleet: Exporter[] = [];
  try {
    await t.step("3 replicas, R=1: each target checked by exactly one", async () => {
      const args = (i: number) => ["--shard.count", "3", "--shard.index", String(i)];
      fleet.push(...await Promise.all([0, 1, 2].map((i) => replica(file, i, args(i)))));
      await allReady(fleet);
      await assertCoverage(fleet, urls, 1);
      const shares = await Promise.all(fleet.map(async (e) => (await lastChecks(e)).size));
      assert.ok(shares.every((n) => n > 0), `every replica has a share: ${shares}`);
    });
    await Promise.all(fleet.splice(0).map((e) => e.stop()));

    await t.step(
      "4 replicas (the index from POD_NAME), R=2: each checked by exactly two",
      async () => {
        // As the chart runs them: the count from the environment, the index from the pod name.
        fleet.push(
          ...await Promise.all([0, 1, 2, 3].map((i) =>
            replica(file, i, [], {
              UPTIME_EXPORTER_SHARD_COUNT: "4",
              UPTIME_EXPORTER_SHARD_REPLICATION: "2",
              POD_NAME: `uptime-exporter-${i}`,
            })
          )),
        );
        await allReady(fleet);
        await assertCoverage(fleet, urls, 2);
      },
    );

    await t.step("one of them killed: every target is still checked by a survivor", async () => {
      const [victim] = fleet.splice(1, 1);
      await victim!.stop("SIGKILL");
      const killedAt = Date.now();
      // Every target gets a check after the kill from one of the three left.
      await until(
        async () => {
          const fresh = new Set<string>();
          for (const checks of await Promise.all(fleet.map(lastChecks))) {
            for (const [url, at] of checks) if (at > killedAt) fresh.add(url);
          }
          return urls.every((u) => fresh.has(u));
        },
        INTERVAL_MS * 5,
        "a check of every target after the kill",
      );
      const count = await coverage(fleet);
      assert.ok(urls.every((u) => (count.get(u) ?? 0) >= 1), "no target left unchecked");
      assert.ok([...count.values()].some((c) => c === 1), "the victim's targets: one replica each");
    });
  } finally {
    await Promise.all(fleet.map((e) => e.stop()));
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DNS membership: a killed replica's targets move to the survivors, and back", async (t) => {
  await using target = startTarget();
  const config = fleetConfig(target.url);
  const urls = config.targets.map((x) => x.url);
  const ips = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];
  await using dns = await startDnsServer({ "peers.test": ips }, { reloadable: true });
  const dir = await Deno.makeTempDir({ prefix: "uptime-exporter-fleet-dns-" });
  const file = await writeConfig(dir, config);
  const args = [
    "--shard.peers-dns",
    "peers.test",
    "--shard.peers-dns-server",
    `127.0.0.1:${dns.port}`,
    "--shard.peers-dns-interval",
    `${DNS_INTERVAL_MS}ms`,
  ];
  const start = (i: number) => replica(file, i, args, { POD_IP: ips[i]! });
  const fleet: Exporter[] = [];
  try {
    await t.step("3 replicas found in DNS, R=1: each target checked by exactly one", async () => {
      fleet.push(...await Promise.all([0, 1, 2].map(start)));
      await allReady(fleet);
      await assertCoverage(fleet, urls, 1);
    });

    await t.step("killed, then gone from DNS: the survivors take its targets", async () => {
      const victim = fleet[1]!;
      const before = await lastChecks(victim);
      assert.ok(before.size > 0, "the victim had a share");
      await victim.stop("SIGKILL");
      const killedAt = Date.now();
      // What the endpoints controller does when the pod is gone.
      await dns.setRecords({ "peers.test": [ips[0]!, ips[2]!] });
      const removedAt = Date.now();
      const survivors = [fleet[0]!, fleet[2]!];
      /** First check of each of the victim's targets by a survivor, epoch ms. */
      const firstCheck = new Map<string, number>();
      await waitFor("the survivors to check every one of the victim's targets", async () => {
        for (const checks of await Promise.all(survivors.map(lastChecks))) {
          for (const [url, at] of checks) {
            if (before.has(url) && !firstCheck.has(url) && at > killedAt) firstCheck.set(url, at);
          }
        }
        return firstCheck.size === before.size ? true : undefined;
      }, { timeoutMs: 20_000, everyMs: 50 });
      const coveredAt = Math.max(...firstCheck.values());
      const gaps = [...before].map(([url, last]) => firstCheck.get(url)! - last);
      const longestGap = Math.max(...gaps);
      // The documented bound: two lookups that agree (settle), a lookup's time, the
      // first checks of the moved targets (spread over at most their interval), plus
      // the interval the victim's last check was already into when it died.
      const bound = 2 * DNS_INTERVAL_MS + 2 * 2000 + INTERVAL_MS + INTERVAL_MS;
      console.log(
        `DNS failover: ${before.size} targets moved; all covered ${
          coveredAt - removedAt
        } ms after the record went (${coveredAt - killedAt} ms after the kill); ` +
          `longest gap between two checks of a moved target ${longestGap} ms ` +
          `(--shard.peers-dns-interval ${DNS_INTERVAL_MS}ms, target interval ${INTERVAL_MS}ms; bound ${bound} ms)`,
      );
      assert.ok(coveredAt - removedAt <= bound, `covered ${coveredAt - removedAt} ms after`);
      assert.ok(longestGap <= bound + (removedAt - killedAt), `longest gap ${longestGap} ms`);
      await assertCoverage(survivors, urls, 1);
    });

    await t.step("back and listed again: its share returns to it", async () => {
      const back = await start(1);
      fleet[1] = back;
      await until(async () => (await back.get("/readyz")).status === 200, 30_000, "back ready");
      await dns.setRecords({ "peers.test": ips });
      await waitFor("each target checked by exactly one again", async () => {
        const count = await coverage(fleet);
        return urls.every((u) => count.get(u) === 1) ? true : undefined;
      }, { timeoutMs: 20_000, everyMs: 100 });
      assert.ok((await lastChecks(back)).size > 0);
    });
  } finally {
    await Promise.all(fleet.map((e) => e.stop()));
    await Deno.remove(dir, { recursive: true });
  }
});
