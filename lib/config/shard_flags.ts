/**
 * The `--shard.*` flags checked together into this replica's
 * {@linkcode ShardSettings}: a DNS fleet, a static fleet of N (its index from
 * `--shard.index` or POD_NAME's ordinal), or none. cli.ts reads each flag;
 * this module says whether they make sense together, every problem at once,
 * each naming the flag or variable its value came from.
 *
 * @module
 */

import type { Given } from "./cli.ts";
import type { ShardSettings } from "./schema.ts";

/** The `--shard.*` flags as given (number-valued ones parsed), before they are checked together. */
export interface ShardFlags {
  count?: Given<number>;
  index?: Given<number>;
  /** POD_NAME, read for the index when `--shard.index` is not given. */
  podName?: Given<string>;
  replication?: Given<number>;
  peersDns?: Given<string>;
  intervalMs?: Given<number>;
  nameServer?: Given<{ ipAddr: string; port: number }>;
  self?: Given<string>;
}

/**
 * An IP address in its canonical form (`FD00::A1` → `fd00::a1`), as DNS
 * answers carry it; undefined when `value` is not one.
 */
export function canonicalIp(value: string): string | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(value)) {
    return value.split(".").every((octet) => Number(octet) <= 255)
      ? value.split(".").map(Number).join(".")
      : undefined;
  }
  if (!value.includes(":")) return undefined;
  try {
    const host = new URL(`http://[${value.replace(/^\[|\]$/g, "")}]/`).hostname;
    return host.slice(1, -1);
  } catch {
    return undefined;
  }
}

/**
 * The `--shard.*` flags checked together: a DNS fleet, a static fleet of
 * N (its index from `--shard.index` or POD_NAME's ordinal), or none.
 * Problems name the flag or variable each value came from.
 */
export function resolveShard(f: ShardFlags, problems: string[]): ShardSettings | undefined {
  const replication = f.replication?.value ?? 1;
  const unused = (given: Given<unknown> | undefined, why: string) => {
    if (given) problems.push(`'${given.source}': ${why}`);
  };
  if (f.peersDns) {
    unused(f.count, `not used with ${f.peersDns.source} (the replicas are the ones DNS lists)`);
    unused(f.index, `not used with ${f.peersDns.source} (the replicas are the ones DNS lists)`);
    const self = f.self ? canonicalIp(f.self.value) : undefined;
    if (!f.self) {
      problems.push(
        `'${f.peersDns.source}': this replica's own address among the records is needed: set POD_IP (the downward API's status.podIP) or --shard.self`,
      );
    } else if (!self) problems.push(`'${f.self.source}': '${f.self.value}' is not an IP address`);
    if (!self) return undefined;
    return {
      mode: "dns",
      peersDns: f.peersDns.value,
      self,
      replication,
      intervalMs: f.intervalMs?.value ?? 5000,
      ...(f.nameServer ? { nameServer: f.nameServer.value } : {}),
    };
  }
  const needsDns = "needs --shard.peers-dns";
  unused(f.intervalMs, needsDns);
  unused(f.nameServer, needsDns);
  if (f.self?.source !== "POD_IP") unused(f.self, needsDns);
  if (!f.count) {
    unused(f.index, "needs --shard.count");
    unused(f.replication, "needs --shard.count or --shard.peers-dns");
    return undefined;
  }
  const count = f.count.value;
  let index = f.index;
  if (!index && f.podName) {
    const ordinal = /-(\d{1,9})$/.exec(f.podName.value)?.[1];
    if (ordinal !== undefined) index = { value: Number(ordinal), source: "POD_NAME" };
    else {
      problems.push(
        `'POD_NAME': '${f.podName.value}' does not end in -<ordinal> (a StatefulSet pod's name); set --shard.index`,
      );
      return undefined;
    }
  }
  if (!index && count > 1) {
    problems.push(
      `'${f.count.source}': ${count} replicas need this one's --shard.index (or a POD_NAME ending in its ordinal, as in a StatefulSet)`,
    );
    return undefined;
  }
  const i = index?.value ?? 0;
  if (i >= count) {
    problems.push(
      `'${index!.source}': ${i} is not below ${f.count.source} ${count} (indices are 0 to ${
        count - 1
      })`,
    );
  }
  if (replication > count) {
    problems.push(
      `'${
        f.replication!.source
      }': ${replication} is more than ${f.count.source} ${count} (each target is checked by at most every replica)`,
    );
  }
  return { mode: "static", count, index: i, replication };
}
