/**
 * Rendezvous assignment (lib/check/shard.ts): MurmurHash3 against its
 * reference vectors; for 10,000 targets, N = 1..8 replicas and R = 1..3,
 * every target checked by exactly min(R, N) replicas, N → N+1 moving at most
 * (R/(N+1)) × 1.2 of the targets and only to the new replica; and a fixed
 * fixture of expected assignments, so the assignment stays the same across
 * runs, machines and Deno versions. Regenerate the fixture only on purpose:
 * `UPDATE_GOLDEN=1 deno test --allow-read --allow-write --allow-env tests/check/shard_test.ts`
 * (every running fleet would reshuffle on upgrade).
 */

import assert from "node:assert/strict";
import {
  assign,
  hash32,
  type Identified,
  ownersOf,
  staticMembers,
  targetIdentity,
} from "../../lib/check/shard.ts";
import { buildConfig } from "../../lib/config/validate.ts";

/** `count` targets like a real config: different hosts and paths, some labelled. */
function targets(count: number): Identified[] {
  return Array.from({ length: count }, (_, i) => ({
    displayUrl: `https://svc-${i % 997}.example.com/health/${Math.floor(i / 997)}`,
    labels: i % 3 === 0 ? { team: `team-${i % 11}` } : {} as Record<string, string>,
  }));
}

/** For each target (by index), the members that check it, from every member's own `assign`. */
function coverage(list: Identified[], members: string[], replication: number): string[][] {
  const index = new Map(list.map((t, i) => [t, i]));
  const owners: string[][] = list.map(() => []);
  for (const self of members) {
    for (const t of assign(list, { members, self, replication })) owners[index.get(t)!]!.push(self);
  }
  return owners;
}

Deno.test("hash32 is MurmurHash3 x86_32 of the UTF-8 bytes (reference vectors)", () => {
  // Vectors of the reference implementation (SMHasher's MurmurHash3_x86_32).
  assert.equal(hash32(""), 0);
  assert.equal(hash32("", 1), 0x514e28b7);
  assert.equal(hash32("", 0xffffffff), 0x81f16f39);
  assert.equal(hash32("hello"), 0x248bfa47);
  assert.equal(hash32("Hello, world!", 1234), 0xfaf6cdb3);
  assert.equal(hash32("The quick brown fox jumps over the lazy dog"), 0x2e4ff723);
  // Every tail length (1, 2 and 3 bytes after the blocks), and non-ASCII as UTF-8.
  assert.equal(hash32("a"), 0x3c2569b2);
  assert.equal(hash32("ab"), 0x9bbfd75f);
  assert.equal(hash32("abc"), 0xb3dd93fa);
  assert.equal(hash32("abcd"), 0x43ed676a);
  assert.equal(hash32("\u00e4"), hash32(new TextDecoder().decode(new Uint8Array([0xc3, 0xa4]))));
});

Deno.test("a target's identity is its URL as shown and its labels", async (t) => {
  const config = buildConfig(
    JSON.stringify({
      targets: [
        { url: "https://user:one@a.example/", labels: { b: "2", a: "1" }, timeout: "1s" },
        { url: "https://a.example/other" },
      ],
    }),
    {},
    { env: {} },
  );
  const edited = buildConfig(
    JSON.stringify({
      targets: [{
        url: "https://user:two@a.example/",
        labels: { a: "1", b: "2" },
        timeout: "3s",
        headers: { "X-Any": "x" },
      }],
    }),
    {},
    { env: {} },
  );
  await t.step("a new password, timeout, header or label order does not change it", () => {
    assert.notEqual(config.targets[0]!.key, edited.targets[0]!.key);
    assert.equal(targetIdentity(config.targets[0]!), targetIdentity(edited.targets[0]!));
    assert.equal(
      targetIdentity(config.targets[0]!),
      '["https://user:***@a.example/",[["a","1"],["b","2"]]]',
    );
  });
  await t.step("another URL or another label value does", () => {
    assert.notEqual(targetIdentity(config.targets[0]!), targetIdentity(config.targets[1]!));
    const relabelled = { ...config.targets[0]!, labels: { a: "1", b: "3" } };
    assert.notEqual(targetIdentity(config.targets[0]!), targetIdentity(relabelled));
  });
});

Deno.test("10,000 targets, N = 1..8, R = 1..3: each checked by exactly min(R, N) replicas", () => {
  const list = targets(10_000);
  for (let n = 1; n <= 8; n++) {
    for (let r = 1; r <= 3; r++) {
      const owners = coverage(list, staticMembers(n), r);
      const want = Math.min(r, n);
      const wrong = owners.findIndex((o) => o.length !== want);
      assert.equal(wrong, -1, `N=${n} R=${r}: target ${wrong} has ${owners[wrong]?.length} owners`);
      // Each owner list agrees with ownersOf, best first.
      for (const i of [0, 4_999, 9_999]) {
        assert.deepEqual(
          [...owners[i]!].sort(),
          ownersOf(list[i]!, staticMembers(n), r).sort(),
          `N=${n} R=${r} target ${i}`,
        );
      }
      // The load is shared: every replica within 15% of the even share.
      const share = new Map<string, number>();
      for (const o of owners) for (const m of o) share.set(m, (share.get(m) ?? 0) + 1);
      const even = (list.length * want) / n;
      for (const [m, count] of share) {
        assert.ok(Math.abs(count - even) <= even * 0.15, `N=${n} R=${r}: ${m} has ${count}`);
      }
    }
  }
});

Deno.test("N → N+1 moves at most (R/(N+1)) × 1.2 of the targets, all to the new replica", () => {
  const list = targets(10_000);
  for (let n = 1; n <= 7; n++) {
    for (let r = 1; r <= 3; r++) {
      const before = coverage(list, staticMembers(n), r);
      const after = coverage(list, staticMembers(n + 1), r);
      const added = String(n);
      let moved = 0;
      for (let i = 0; i < list.length; i++) {
        const gained = after[i]!.filter((m) => !before[i]!.includes(m));
        if (gained.length === 0) continue;
        moved++;
        assert.deepEqual(gained, [added], `N=${n} R=${r}: target ${i} moved between old replicas`);
      }
      const bound = Math.min(1, r / (n + 1)) * 1.2;
      assert.ok(
        moved / list.length <= bound,
        `N=${n}→${n + 1} R=${r}: ${moved} of ${list.length} moved, bound ${bound}`,
      );
      // And the move is not a no-op: the new replica gets its share.
      assert.ok(moved / list.length >= Math.min(1, r / (n + 1)) * 0.8, `N=${n} R=${r}: ${moved}`);
    }
  }
});

Deno.test("assign: config order, self added, duplicates ignored, R capped at the members", () => {
  const list = targets(50);
  const mine = assign(list, { members: ["b", "a", "b"], self: "c", replication: 1 });
  assert.deepEqual(
    assign(list, { members: ["a", "b"], self: "c" }),
    assign(list, { members: ["a", "b", "c"], self: "c" }),
    "self joins the members it did not find",
  );
  const all = ["a", "b", "c"].flatMap((self) => assign(list, { members: ["a", "b", "c"], self }));
  assert.equal(all.length, list.length);
  assert.deepEqual(mine, list.filter((t) => mine.includes(t)), "config order kept");
  assert.deepEqual(assign(list, { members: ["a"], self: "a", replication: 3 }), list);
  assert.deepEqual(assign(list, { members: [], self: "x" }), list);
});

// ------------------------------------------------------------------ fixture

const FIXTURE = new URL("../fixtures/shard/assignments.json", import.meta.url);

/** Fleets of the fixture: static indices, and pod IPs as DNS membership gives them. */
const FLEETS: { members: string[]; replication: number }[] = [
  { members: staticMembers(1), replication: 1 },
  { members: staticMembers(2), replication: 1 },
  { members: staticMembers(3), replication: 1 },
  { members: staticMembers(3), replication: 2 },
  { members: staticMembers(4), replication: 2 },
  { members: staticMembers(5), replication: 3 },
  { members: staticMembers(8), replication: 1 },
  { members: ["10.0.0.7", "10.0.1.23", "10.0.2.5"], replication: 2 },
  { members: ["fd00::a1", "fd00::b2", "fd00::c3", "fd00::d4"], replication: 1 },
];

/** 40 targets of every shape: labels, credentials, non-ASCII, long paths. */
function fixtureTargets(): Identified[] {
  const list: Identified[] = [];
  for (let i = 0; i < 30; i++) {
    list.push({
      displayUrl: `https://service-${i}.example.com/healthz`,
      labels: i % 4 === 0 ? { env: i % 8 === 0 ? "prod" : "staging" } : {},
    });
  }
  list.push(
    { displayUrl: "https://user:***@secure.example.com/", labels: {} },
    { displayUrl: "http://127.0.0.1:8080/ok", labels: { team: "platform", tier: "1" } },
    { displayUrl: "https://xn--bcher-kva.example/", labels: { note: "Bücher ✓" } },
    { displayUrl: `https://long.example/${"p".repeat(300)}`, labels: {} },
    { displayUrl: "https://a.example/?q=1&r=2", labels: {} },
    { displayUrl: "https://a.example/", labels: { a: "" } },
    { displayUrl: "https://a.example/", labels: {} },
    { displayUrl: "http://[::1]:9000/", labels: {} },
    { displayUrl: "https://b.example/", labels: { "a_b": 'quote"and\\backslash' } },
    { displayUrl: "https://c.example/", labels: { z: "1", y: "2", x: "3" } },
  );
  return list;
}

interface Fixture {
  hashes: [text: string, hash: number][];
  targets: Identified[];
  fleets: { members: string[]; replication: number; owners: string[][] }[];
}

function computeFixture(): Fixture {
  const list = fixtureTargets();
  return {
    hashes: list.map((t) => [targetIdentity(t), hash32(targetIdentity(t))]),
    targets: list,
    fleets: FLEETS.map(({ members, replication }) => ({
      members,
      replication,
      owners: list.map((t) => ownersOf(t, members, replication)),
    })),
  };
}

Deno.test("the assignment equals the fixed fixture (stable across runs, machines, versions)", async () => {
  const computed = computeFixture();
  if (Deno.env.get("UPDATE_GOLDEN") === "1") {
    await Deno.writeTextFile(FIXTURE, JSON.stringify(computed, null, 2) + "\n");
  }
  const fixture: Fixture = JSON.parse(await Deno.readTextFile(FIXTURE));
  assert.deepEqual(computed, fixture);
  // The fixture is read back through assign too, not only ownersOf.
  for (const fleet of fixture.fleets) {
    for (const self of fleet.members) {
      const mine = assign(fixture.targets, { ...fleet, self });
      const expected = fixture.targets.filter((_, i) => fleet.owners[i]!.includes(self));
      assert.deepEqual(mine, expected, `${fleet.members.join(",")} R=${fleet.replication} ${self}`);
    }
  }
});
