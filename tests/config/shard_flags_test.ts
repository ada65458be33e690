import assert from "node:assert/strict";
import { canonicalIp, resolveShard } from "../../lib/config/shard_flags.ts";

Deno.test("canonicalIp: the form DNS answers carry, or undefined", () => {
  const cases: [string, string | undefined][] = [
    ["10.0.0.7", "10.0.0.7"],
    ["010.000.000.007", "10.0.0.7"],
    ["FD00::A1", "fd00::a1"],
    ["[fd00:0:0::a1]", "fd00::a1"],
    ["256.0.0.1", undefined],
    ["pod-1", undefined],
    ["", undefined],
  ];
  for (const [value, want] of cases) assert.equal(canonicalIp(value), want, value);
});

Deno.test("resolveShard: none, static (index from POD_NAME), DNS; problems name their source", () => {
  const problems: string[] = [];
  assert.equal(resolveShard({}, problems), undefined);
  assert.deepEqual(
    resolveShard({
      count: { value: 3, source: "UPTIME_EXPORTER_SHARD_COUNT" },
      podName: { value: "uptime-exporter-2", source: "POD_NAME" },
      replication: { value: 2, source: "--shard.replication" },
    }, problems),
    { mode: "static", count: 3, index: 2, replication: 2 },
  );
  assert.deepEqual(
    resolveShard({
      peersDns: { value: "peers.test", source: "--shard.peers-dns" },
      self: { value: "FD00::A1", source: "POD_IP" },
    }, problems),
    { mode: "dns", peersDns: "peers.test", self: "fd00::a1", replication: 1, intervalMs: 5000 },
  );
  assert.deepEqual(problems, []);

  assert.equal(
    resolveShard({
      peersDns: { value: "peers.test", source: "--shard.peers-dns" },
      count: { value: 3, source: "--shard.count" },
      self: { value: "pod-1", source: "--shard.self" },
    }, problems),
    undefined,
  );
  assert.deepEqual(problems, [
    "'--shard.count': not used with --shard.peers-dns (the replicas are the ones DNS lists)",
    "'--shard.self': 'pod-1' is not an IP address",
  ]);
});
