/**
 * The results store: per target, the last check, the certificate expiry, the
 * result counters and the response-time histogram. Written by the app after
 * each check, read by the exposition and the status page. Two store-wide
 * counters tell the exposition when to render again: {@linkcode
 * ResultsStore.version} (anything changed) and {@linkcode
 * ResultsStore.configVersion} (a config was applied, which is never served
 * stale).
 *
 * @module
 */

import type { TargetView } from "../check/engine_protocol.ts";
import { CHECK_RESULTS, type CheckResult } from "../check/classify.ts";
import type { ProbeResult } from "../check/outcome.ts";

/** Everything known about one target. */
export interface TargetState {
  readonly target: TargetView;
  /** The latest check, undefined until the first one finishes. */
  last?: ProbeResult;
  /** When the latest check finished, epoch ms (0 before the first). */
  lastCheckAt: number;
  /**
   * When the next check is due, epoch ms, as the scheduler had it when the
   * latest check was recorded; undefined before the first, or when not given.
   */
  nextCheckAt?: number;
  /**
   * notAfter of the certificate the target presented at its latest check,
   * seconds since the epoch; undefined when none or unknown (see
   * {@linkcode ResultsStore.recordCertExpiry}).
   */
  certExpiry?: number;
  /** Checks per result, indexed like {@linkcode CHECK_RESULTS}. */
  readonly counts: number[];
  /** Non-cumulative histogram counts, one per bucket plus +Inf. */
  readonly buckets: number[];
  /** Sum of observed response times, seconds. */
  sumSeconds: number;
}

/** A target whose up/down state flipped, for logging. */
export interface StateChange {
  state: TargetState;
  /** The state before, undefined for a target's first check. */
  wasUp?: boolean;
}

const RESULT_INDEX = new Map<CheckResult, number>(CHECK_RESULTS.map((r, i) => [r, i]));

/** Holds the state of every configured target. */
export class ResultsStore {
  #states = new Map<string, TargetState>();
  #ordered: TargetState[] = [];
  #buckets: readonly number[] = [];
  #version = 0;
  #configVersion = 0;

  /**
   * Increases whenever anything readers show changed: a result, a certificate
   * expiry or the target list. The exposition renders again when it moved.
   */
  get version(): number {
    return this.#version;
  }

  /**
   * Increases whenever the target list or the buckets are applied (not on
   * results): the exposition may serve a body older than the latest results,
   * never one older than the config.
   */
  get configVersion(): number {
    return this.#configVersion;
  }

  /** Bucket upper bounds in seconds (no +Inf). */
  get buckets(): readonly number[] {
    return this.#buckets;
  }

  /** States in config order. */
  get states(): readonly TargetState[] {
    return this.#ordered;
  }

  /** The state of a target by its key. */
  get(key: string): TargetState | undefined {
    return this.#states.get(key);
  }

  /** True when every target has finished at least one check. */
  allChecked(): boolean {
    return this.#ordered.every((s) => s.last !== undefined);
  }

  /**
   * Applies a new config: unchanged targets (same key) keep their state, new
   * ones start empty, removed ones are dropped with all their series. A change
   * of histogram buckets resets every histogram (old counts do not fit).
   */
  applyConfig(
    config: {
      readonly targets: readonly TargetView[];
      readonly histogramBuckets: readonly number[];
    },
  ): void {
    const bucketsChanged = config.histogramBuckets.join() !== this.#buckets.join();
    this.#buckets = config.histogramBuckets;
    const next = new Map<string, TargetState>();
    for (const target of config.targets) {
      let state = this.#states.get(target.key);
      if (!state || bucketsChanged) {
        state = {
          target,
          last: state?.last,
          lastCheckAt: state?.lastCheckAt ?? 0,
          nextCheckAt: state?.nextCheckAt,
          certExpiry: state?.certExpiry,
          counts: state?.counts ?? CHECK_RESULTS.map(() => 0),
          buckets: new Array(config.histogramBuckets.length + 1).fill(0),
          sumSeconds: 0,
        };
      }
      next.set(target.key, state);
    }
    this.#states = next;
    this.#ordered = [...next.values()];
    this.#version++;
    this.#configVersion++;
  }

  /**
   * Records a finished check. Returns the up/down change when there was one
   * (including the first check), otherwise undefined. Results for targets no
   * longer configured are ignored. `options.nextCheckAt` (epoch ms) is when
   * the scheduler will check the target next, for the JSON API.
   */
  record(
    key: string,
    result: ProbeResult,
    finishedAt: number,
    options: { nextCheckAt?: number } = {},
  ): StateChange | undefined {
    const state = this.#states.get(key);
    if (!state) return undefined;
    const wasUp = state.last?.up;
    state.last = result;
    state.lastCheckAt = finishedAt;
    state.nextCheckAt = options.nextCheckAt;
    state.counts[RESULT_INDEX.get(result.result)!]!++;
    if (this.#buckets.length > 0) {
      const seconds = result.durationMs / 1000;
      let i = 0;
      while (i < this.#buckets.length && seconds > this.#buckets[i]!) i++;
      state.buckets[i]!++;
      state.sumSeconds += seconds;
    }
    this.#version++;
    return wasUp === result.up ? undefined : { state, wasUp };
  }

  /**
   * Records the certificate expiry found alongside a target's latest check
   * (`undefined`: no certificate or none could be read), replacing the one
   * before. The probe does not read certificates, so this is a call of its
   * own; the exposition shows it only once the target has a check. Unknown
   * keys are ignored.
   */
  recordCertExpiry(key: string, notAfter: number | undefined): void {
    const state = this.#states.get(key);
    if (!state || state.certExpiry === notAfter) return;
    state.certExpiry = notAfter;
    this.#version++;
  }
}
