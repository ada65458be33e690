/**
 * Which of the configured targets this replica checks, when several replicas
 * share one config: rendezvous (highest random weight) hashing of each
 * target's identity over the members of the fleet. Every replica computes
 * the same answer from the same inputs, with no coordination: a target goes
 * to the `replication` members with the highest score for it, and when a
 * member joins or leaves only the targets whose top members change move
 * (about R/N of them), so the rest keep their state and schedule.
 *
 * Deterministic across runs, machines and Deno versions: the score is
 * MurmurHash3 (x86, 32-bit) of the UTF-8 identities, computed here with
 * 32-bit integer arithmetic only (no `Math.random`, no engine hashing).
 *
 * - A target's identity is its URL as shown (`displayUrl`: a password is
 *   masked) and its static labels ({@linkcode targetIdentity}): the identity
 *   of its series, and the one the config refuses duplicates of. An edited
 *   timeout, header or password does not move a target; a new label does.
 * - A member is a string: the shard index (`"0"` … `"N-1"`) with
 *   `--shard.count`, the pod IP with DNS membership (membership.ts).
 *
 * @module
 */

import type { ShardSettings, TargetConfig } from "../config/schema.ts";

/** What {@linkcode targetIdentity} reads of a target. */
export type Identified = Pick<TargetConfig, "displayUrl" | "labels">;

/**
 * The identity a target is assigned by: its URL as shown and its static
 * labels, sorted by name. The config refuses two targets with the same one.
 *
 * @example
 * ```ts
 * targetIdentity({ displayUrl: "https://a.example/", labels: { env: "prod" } });
 * // '["https://a.example/",[["env","prod"]]]'
 * ```
 */
export function targetIdentity(target: Identified): string {
  const names = Object.keys(target.labels).sort();
  return JSON.stringify([target.displayUrl, names.map((name) => [name, target.labels[name]])]);
}

const encoder = new TextEncoder();
let scratch = new Uint8Array(1024);

/** `text` as UTF-8 in a reused buffer (valid until the next call), and its length. */
function utf8(text: string): [Uint8Array, number] {
  // UTF-8 takes at most 3 bytes per UTF-16 unit.
  if (scratch.length < text.length * 3) scratch = new Uint8Array(text.length * 3);
  const { written } = encoder.encodeInto(text, scratch);
  return [scratch, written];
}

/**
 * Hashes of target identities, by target object: a membership change
 * re-assigns the same targets, and computing 100,000 identities takes
 * ~130 ms of the engine's thread (measured 2026-12-02), their hashes from
 * here a few.
 */
const identityHashes = new WeakMap<Identified, number>();

/** `hash32(targetIdentity(target))`, remembered per target object. */
export function identityHash(target: Identified): number {
  let h = identityHashes.get(target);
  if (h === undefined) identityHashes.set(target, h = hash32(targetIdentity(target)));
  return h;
}

/** MurmurHash3's finalizer: a bijection of 32-bit integers with full avalanche. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * MurmurHash3 x86 32-bit of the UTF-8 bytes of `text`, as an unsigned
 * integer: the reference algorithm, so other tools can compute it too.
 *
 * @example
 * ```ts
 * hash32("hello"); // 0x248bfa47
 * hash32("", 1); // 0x514e28b7
 * ```
 */
export function hash32(text: string, seed = 0): number {
  const [bytes, length] = utf8(text);
  const c1 = 0xcc9e2d51, c2 = 0x1b873593;
  let h = seed >>> 0;
  const blocks = length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail > 0) {
    let k = 0;
    if (tail === 3) k ^= bytes[blocks + 2]! << 16;
    if (tail >= 2) k ^= bytes[blocks + 1]! << 8;
    k ^= bytes[blocks]!;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  return fmix32(h ^ length);
}

/**
 * Members by their hash, for scoring many targets against them: the score
 * of (target, member) is `fmix32(hash32(target) ^ hash32(member))`, a
 * bijection of the member's hash for a given target, so two members tie
 * only when their hashes collide (then the smaller identity wins).
 */
class Scorer {
  readonly #members: readonly string[];
  readonly #hashes: Uint32Array;
  readonly #scores: Float64Array;
  readonly #order: number[];

  constructor(members: readonly string[]) {
    this.#members = [...new Set(members)].sort();
    this.#hashes = Uint32Array.from(this.#members, (m) => hash32(m));
    this.#scores = new Float64Array(this.#members.length);
    this.#order = this.#members.map((_, i) => i);
  }

  get members(): readonly string[] {
    return this.#members;
  }

  /** The `count` members with the highest score for a target of hash `h`, best first. */
  top(h: number, count: number): string[] {
    const scores = this.#scores;
    for (let i = 0; i < scores.length; i++) scores[i] = fmix32(h ^ this.#hashes[i]!);
    // Members are sorted, so on a tie the smaller identity (lower index) wins.
    const order = this.#order.sort((a, b) => scores[b]! - scores[a]! || a - b);
    return order.slice(0, count).map((i) => this.#members[i]!);
  }

  /** Whether the member at `memberIndex` is among the `count` best for hash `h` (no sorting). */
  isTop(h: number, memberIndex: number, count: number): boolean {
    const mine = fmix32(h ^ this.#hashes[memberIndex]!);
    let better = 0;
    for (let i = 0; i < this.#hashes.length; i++) {
      if (i === memberIndex) continue;
      const s = fmix32(h ^ this.#hashes[i]!);
      if (s > mine || (s === mine && i < memberIndex)) {
        if (++better >= count) return false;
      }
    }
    return true;
  }

  indexOf(member: string): number {
    return this.#members.indexOf(member);
  }
}

/** Options of {@linkcode assign} and {@linkcode ownersOf}. */
export interface AssignOptions {
  /** Every member of the fleet (duplicates are ignored); `self` is added when missing. */
  members: readonly string[];
  /** This replica's own identity. */
  self: string;
  /** Members that check each target; at most the number of members. Default: 1. */
  replication?: number;
}

/**
 * The members that check `target`: the `replication` ones with the highest
 * score, best first (fewer when there are fewer members).
 *
 * @example
 * ```ts
 * ownersOf({ displayUrl: "https://a.example/", labels: {} }, ["0", "1", "2"], 2); // e.g. ["2", "0"]
 * ```
 */
export function ownersOf(
  target: Identified,
  members: readonly string[],
  replication = 1,
): string[] {
  return new Scorer(members).top(identityHash(target), Math.max(1, replication));
}

/**
 * The targets `options.self` checks, in config order: each target whose
 * `replication` best members include `self`.
 *
 * @example
 * ```ts
 * const mine = assign(config.targets, { members: ["0", "1", "2"], self: "1", replication: 2 });
 * ```
 */
export function assign<T extends Identified>(
  targets: readonly T[],
  options: AssignOptions,
): T[] {
  const scorer = new Scorer([...options.members, options.self]);
  const count = Math.min(Math.max(1, options.replication ?? 1), scorer.members.length);
  if (count >= scorer.members.length) return [...targets];
  const self = scorer.indexOf(options.self);
  return targets.filter((t) => scorer.isTop(identityHash(t), self, count));
}

/** The members of a static fleet of `count` replicas: `"0"` … `"count-1"`. */
export function staticMembers(count: number): string[] {
  return Array.from({ length: count }, (_, i) => String(i));
}

/** A fleet as {@linkcode assign} takes it. */
export interface Fleet {
  /** Every member, sorted, this replica included. */
  readonly members: readonly string[];
  /** This replica's identity. */
  readonly self: string;
  readonly replication: number;
}

/**
 * The fleet `settings` describe: unsharded, a fleet of one; static, the
 * indices `"0"` … `"N-1"`; DNS, the members `found` (membership.ts), or this
 * replica alone before any was found.
 *
 * @example
 * ```ts
 * fleetOf({ mode: "static", count: 3, index: 1, replication: 2 });
 * // { members: ["0", "1", "2"], self: "1", replication: 2 }
 * ```
 */
export function fleetOf(settings: ShardSettings | undefined, found?: readonly string[]): Fleet {
  if (!settings) return { members: ["0"], self: "0", replication: 1 };
  if (settings.mode === "static") {
    return {
      members: staticMembers(settings.count),
      self: String(settings.index),
      replication: settings.replication,
    };
  }
  const members = [...new Set([...(found ?? []), settings.self])].sort();
  return { members, self: settings.self, replication: settings.replication };
}
