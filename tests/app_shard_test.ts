/**
 * A sharded App (the engine in its Worker, real loopback targets): it checks
 * only its share, says so in its metrics, status page, JSON API and
 * /readyz, and with DNS membership (a real dnsmasq) takes a new share when
 * the records change, without a reload, keeping the state of targets that
 * stay.
 */

import assert from "node:assert/strict";
import { testApp } from "./_helpers/app.ts";
import { serve } from "./_helpers/servers.ts";
import { startDnsServer } from "./_helpers/dns_server.ts";
import { until } from "./_helpers/wait.ts";
import { assign, fleetOf } from "../lib/check/shard.ts";
import { buildConfig } from "../lib/config/validate.ts";

const TARGETS = 24;

/**
 * The config: targets `${base}/t/0` … ; the `held` ones get time enough to
 * stay unchecked until the test lets the server answer them (a timeout is
 * not part of a target's identity: its share is the same).
 */
function configYaml(base: string, held: readonly string[] = []): string {
  const lines = ["defaults: {interval: 300ms, timeout: 250ms}", "targets:"];
  for (let i = 0; i < TARGETS; i++) {
    const url = `${base}/t/${i}`;
    lines.push(
      held.includes(url) ? `  - {url: ${url}, interval: 30s, timeout: 20s}` : `  - url: ${url}`,
    );
  }
  return lines.join("\n") + "\n";
}

/** The displayUrls of the targets `self` of `members` should check. */
function expectedShare(yaml: string, members: string[], self: string, replication: number) {
  const config = buildConfig(yaml, {}, { env: {} });
  return assign(config.targets, { members, self, replication }).map((t) => t.displayUrl);
}

/** A target server that holds requests for `heldUrls` until `release()`. */
function heldServer() {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const heldUrls: string[] = [];
  const server = serve(async (req) => {
    if (heldUrls.includes(req.url)) await held;
    return new Response("ok");
  });
  return { server, heldUrls, release };
}

function metricValue(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
}

Deno.test("app, static shard: its share only, in metrics, page, API and /readyz", async (t) => {
  const { server, heldUrls, release } = heldServer();
  await using _server = server;
  const shard = { mode: "static", count: 3, index: 1, replication: 2 } as const;
  // One target of this replica's share answers only when the test says so.
  heldUrls.push(expectedShare(configYaml(server.url), ["0", "1", "2"], "1", 2)[0]!);
  const yaml = configYaml(server.url, heldUrls);
  await using test = await testApp(yaml, { shard });
  try {
    await test.app.start();
    const want = expectedShare(yaml, ["0", "1", "2"], "1", 2);
    await t.step("the store holds exactly this replica's share", () => {
      assert.deepEqual(test.app.store.states.map((s) => s.target.displayUrl), want);
      assert.ok(want.length > 0 && want.length < TARGETS);
      assert.deepEqual(want, expectedShare(yaml, fleetOf(shard).members.slice(), "1", 2));
    });
    await t.step("/readyz waits for its own targets only", async () => {
      await until(
        () => test.app.store.states.filter((s) => s.last).length === want.length - 1,
        10_000,
        "all but the held target checked",
      );
      const res = await test.get("/readyz");
      assert.equal(res.status, 503);
      assert.equal(
        res.text,
        "Not ready: waiting for the first check of every target of this replica's share\n",
      );
      release();
      await until(async () => (await test.get("/readyz")).status === 200, 10_000, "ready");
    });
    await t.step("self metrics: shard_info, members, configured, assigned", async () => {
      const metrics = (await test.get("/metrics")).text;
      assert.match(
        metrics,
        /^uptime_exporter_shard_info\{index="1",count="3",replication="2",mode="static"\} 1$/m,
      );
      assert.equal(metricValue(metrics, "uptime_exporter_shard_members"), 3);
      assert.equal(metricValue(metrics, "uptime_exporter_targets_configured"), TARGETS);
      assert.equal(metricValue(metrics, "uptime_exporter_targets_assigned"), want.length);
      // uptime_exporter_targets keeps its meaning: the configured targets.
      assert.equal(metricValue(metrics, "uptime_exporter_targets"), TARGETS);
      const urls = [...metrics.matchAll(/^sample_external_url_up\{url="([^"]+)"\}/gm)].map((m) =>
        m[1]
      );
      assert.deepEqual(urls.sort(), [...want].sort());
    });
    await t.step("the status page and the JSON API say which share this is", async () => {
      const page = (await test.get("/")).text;
      assert.match(
        page,
        new RegExp(
          `Shard index <span id="shard-index">1</span> of <span id="shard-count">3</span> replicas \\(replication 2\\): checks <span id="shard-checked">${want.length}</span> of <span id="shard-configured">${TARGETS}</span> configured targets\\.`,
        ),
      );
      const api = JSON.parse((await test.get("/api/v1/targets")).text);
      assert.deepEqual(api.data.shard, {
        mode: "static",
        index: 1,
        count: 3,
        replication: 2,
        configured: TARGETS,
        checked: want.length,
      });
      assert.equal(api.data.targets.length, want.length);
    });
  } finally {
    release();
  }
});

Deno.test("app, unsharded: no shard line, shard_info of a fleet of one", async () => {
  await using server = serve(() => new Response("ok"));
  await using test = await testApp(configYaml(server.url));
  await test.app.start();
  assert.equal(test.app.store.states.length, TARGETS);
  const metrics = (await test.get("/metrics")).text;
  assert.match(
    metrics,
    /^uptime_exporter_shard_info\{index="0",count="1",replication="1",mode="static"\} 1$/m,
  );
  assert.equal(metricValue(metrics, "uptime_exporter_targets_assigned"), TARGETS);
  assert.equal(metricValue(metrics, "uptime_exporter_targets_configured"), TARGETS);
  assert.doesNotMatch((await test.get("/")).text, /id="shard"/);
  assert.equal(JSON.parse((await test.get("/api/v1/targets")).text).data.shard, undefined);
});

Deno.test("app, DNS membership: a new share when the records change, no reload", async (t) => {
  const { server, heldUrls, release } = heldServer();
  await using _server = server;
  const self = "127.0.0.2";
  await using dns = await startDnsServer(
    { "peers.test": [self, "127.0.0.3", "127.0.0.4"] },
    { reloadable: true },
  );
  // A target that moves here when 127.0.0.4 leaves answers only when the test says so.
  const plain = configYaml(server.url);
  const before = expectedShare(plain, [self, "127.0.0.3", "127.0.0.4"], self, 1);
  const moving = expectedShare(plain, [self, "127.0.0.3"], self, 1).find((u) =>
    !before.includes(u)
  )!;
  heldUrls.push(moving);
  const yaml = configYaml(server.url, heldUrls);
  await using test = await testApp(yaml, {
    shard: {
      mode: "dns",
      peersDns: "peers.test",
      self,
      replication: 1,
      intervalMs: 100,
      nameServer: dns.nameServer,
    },
  });
  try {
    await test.app.start();
    const urls = () => test.app.store.states.map((s) => s.target.displayUrl);
    const three = expectedShare(yaml, [self, "127.0.0.3", "127.0.0.4"], self, 1);
    await t.step("the first lookup decides the first share", async () => {
      assert.deepEqual(urls(), three);
      await until(async () => (await test.get("/readyz")).status === 200, 10_000, "ready");
    });
    await t.step("a peer gone from DNS: its share moves here, state of the rest kept", async () => {
      const kept = test.app.store.get(test.app.store.states[0]!.target.key)!;
      const checksBefore = kept.counts.reduce((a, b) => a + b, 0);
      await dns.setRecords({ "peers.test": [self, "127.0.0.3"] });
      const two = expectedShare(yaml, [self, "127.0.0.3"], self, 1);
      await until(() => urls().join() === two.join(), 10_000, "the new share");
      assert.ok(two.length > three.length);
      assert.equal(
        test.app.store.get(kept.target.key),
        kept,
        "a target that stays keeps its state",
      );
      assert.ok(kept.counts.reduce((a, b) => a + b, 0) >= checksBefore);
      const metrics = (await test.get("/metrics")).text;
      assert.match(
        metrics,
        /^uptime_exporter_shard_info\{index="0",count="2",replication="1",mode="dns"\} 1$/m,
      );
      assert.equal(metricValue(metrics, "uptime_exporter_targets_assigned"), two.length);
      assert.match(
        metrics,
        /^uptime_exporter_config_reloads_total\{outcome="success"\} 1$/m,
        "no reload counted",
      );
      assert.ok(
        test.lines.some((l) => l.includes('msg="shard re-assigned"')),
        test.lines.join("\n"),
      );
    });
    await t.step("it stays ready while a target it was given is still unchecked", async () => {
      const state = test.app.store.states.find((s) => s.target.displayUrl === moving)!;
      assert.equal(state.last, undefined, "the moved target is held");
      assert.equal(test.app.store.allChecked(), false);
      // Unready, it would leave DNS and push its share on to the others.
      assert.equal((await test.get("/readyz")).status, 200);
      release();
    });
    await t.step("no records: this replica checks everything", async () => {
      await dns.setRecords({ "other.test": ["127.0.0.9"] });
      await until(() => urls().length === TARGETS, 10_000, "every target");
      const page = (await test.get("/")).text;
      assert.match(
        page,
        /Replica index <span id="shard-index">0<\/span> of <span id="shard-count">1<\/span> found in DNS/,
      );
    });
  } finally {
    release();
  }
});
