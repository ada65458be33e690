/**
 * DNS membership (lib/check/membership.ts) against a real DNS server
 * (dnsmasq serving a hosts file that the test rewrites, as a headless
 * Service's records change), and its hysteresis as a pure function of the
 * answers it is fed.
 */

import assert from "node:assert/strict";
import { DnsMembership, Hysteresis, lookupPeers } from "../../lib/check/membership.ts";
import { startDnsServer } from "../_helpers/dns_server.ts";
import { closedPort } from "../_helpers/servers.ts";
import { until } from "../_helpers/wait.ts";

Deno.test("Hysteresis: a change applies once `settle` answers agree; flapping changes nothing", () => {
  const h = new Hysteresis(["a", "b", "c"], 2);
  assert.equal(h.observe(["a", "b"]), undefined, "one answer without c");
  assert.deepEqual(h.observe(["a", "b"]), ["a", "b"], "the second agrees: c is gone");
  assert.deepEqual(h.current, ["a", "b"]);
  // A record that comes and goes on every lookup never settles.
  for (let i = 0; i < 10; i++) {
    assert.equal(h.observe(i % 2 ? ["a", "b"] : ["a", "b", "c"]), undefined, `flap ${i}`);
  }
  assert.deepEqual(h.current, ["a", "b"]);
  // Two different changes in a row: only the one that repeats applies.
  assert.equal(h.observe(["a"]), undefined);
  assert.equal(h.observe(["a", "b", "d"]), undefined);
  assert.deepEqual(h.observe(["a", "b", "d"]), ["a", "b", "d"]);
  // The current answer again resets a pending change.
  assert.equal(h.observe(["a"]), undefined);
  assert.equal(h.observe(["a", "b", "d"]), undefined);
  assert.equal(h.observe(["a"]), undefined, "the streak of ['a'] was broken");
  const once = new Hysteresis(["a"], 1);
  assert.deepEqual(once.observe(["a", "b"]), ["a", "b"], "settle 1 applies at once");
});

Deno.test("lookupPeers: A and AAAA of a real DNS server, none for a name without records", async () => {
  // A hosts file (reloadable): --host-record takes one address of each family only.
  await using dns = await startDnsServer({
    "peers.test": ["127.0.0.3", "127.0.0.2", "FD00::B2"],
    "v6.test": ["::1"],
  }, { reloadable: true });
  const { nameServer } = dns;
  assert.deepEqual(await lookupPeers("peers.test", { nameServer }), [
    "127.0.0.2",
    "127.0.0.3",
    "fd00::b2",
  ]);
  assert.deepEqual(await lookupPeers("v6.test", { nameServer }), ["::1"]);
  assert.deepEqual(await lookupPeers("nobody.test", { nameServer }), []);
  // An unreachable server is a failure, not an empty fleet.
  await assert.rejects(
    lookupPeers("peers.test", {
      nameServer: { ipAddr: "127.0.0.1", port: closedPort() },
      signal: AbortSignal.timeout(1000),
    }),
  );
});

Deno.test("DnsMembership follows the records of a real DNS server", async (t) => {
  await using dns = await startDnsServer(
    { "peers.test": ["127.0.0.2", "127.0.0.3", "127.0.0.4"] },
    { reloadable: true },
  );
  const stop = new AbortController();
  const changes: (readonly string[])[] = [];
  const errors: string[] = [];
  const membership = await DnsMembership.start("peers.test", {
    self: "127.0.0.2",
    intervalMs: 100,
    nameServer: dns.nameServer,
    onChange: (members) => changes.push(members),
    onError: (message) => errors.push(message),
    signal: stop.signal,
  });
  try {
    await t.step("the first answer applies at once", () => {
      assert.deepEqual(membership.members, ["127.0.0.2", "127.0.0.3", "127.0.0.4"]);
      assert.deepEqual(changes, []);
    });
    await t.step("a replica gone from the records leaves after two agreeing lookups", async () => {
      const before = membership.stats.lookups;
      await dns.setRecords({ "peers.test": ["127.0.0.2", "127.0.0.3"] });
      await until(() => changes.length === 1, 5000, "the change");
      assert.deepEqual(changes[0], ["127.0.0.2", "127.0.0.3"]);
      assert.ok(membership.stats.lookups - before >= 2, "applied after two lookups, not one");
    });
    await t.step("no records at all: this replica alone (it checks everything)", async () => {
      await dns.setRecords({ "other.test": ["127.0.0.9"] });
      await until(() => changes.length === 2, 5000, "the change");
      assert.deepEqual(changes[1], ["127.0.0.2"]);
    });
    await t.step("replicas that come back join; this one is always a member", async () => {
      await dns.setRecords({ "peers.test": ["127.0.0.4", "127.0.0.3"] });
      await until(() => changes.length === 3, 5000, "the change");
      assert.deepEqual(membership.members, ["127.0.0.2", "127.0.0.3", "127.0.0.4"]);
    });
    await t.step("a failing server keeps the members and is reported once", async () => {
      await dns.close();
      const failures = membership.stats.failures;
      await until(() => membership.stats.failures >= failures + 3, 10_000, "failed lookups");
      assert.deepEqual(membership.members, ["127.0.0.2", "127.0.0.3", "127.0.0.4"]);
      assert.equal(changes.length, 3);
      assert.equal(errors.length, 1, errors.join("\n"));
      assert.match(errors[0]!, /^cannot look up peers\.test: /);
    });
  } finally {
    stop.abort();
    await membership.stopped();
  }
  await t.step("after abort, no more lookups", async () => {
    const lookups = membership.stats.lookups;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(membership.stats.lookups, lookups);
  });
});
