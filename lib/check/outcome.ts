/**
 * The result of one check ({@linkcode ProbeResult}) and its two constructors,
 * so that every path that ends a check (the probe, the app when a target's CA
 * file cannot be used, tests) builds it the same way and `up` always agrees
 * with `result`.
 *
 * @module
 */

import type { CheckResult } from "./classify.ts";

/** What one check found. */
export interface ProbeResult {
  /** True only when `result` is `up`. */
  up: boolean;
  result: CheckResult;
  /** Final HTTP status, 0 when no response came. */
  statusCode: number;
  /** Wall time from the start of the request to the end of the body (or the failure), ms. */
  durationMs: number;
  /** Why the check failed; empty when up. Never contains credentials. */
  reason: string;
  /** Redirects followed. */
  redirects: number;
  /** Body bytes read (at most the target's body limit). */
  bodyBytes: number;
  /** When the check started, epoch ms. */
  startedAt: number;
}

/** Every result of a check but `up`. */
export type FailedResult = Exclude<CheckResult, "up">;

/** What a check measured, whatever its result. */
export interface Measured {
  /** When the check started, epoch ms. */
  startedAt: number;
  /** Final HTTP status, 0 when no response came. Default: 0. */
  statusCode?: number;
  /** Wall time of the check, ms. Default: 0. */
  durationMs?: number;
  /** Redirects followed. Default: 0. */
  redirects?: number;
  /** Body bytes read. Default: 0. */
  bodyBytes?: number;
}

function make(result: CheckResult, reason: string, measured: Measured): ProbeResult {
  return {
    up: result === "up",
    result,
    statusCode: measured.statusCode ?? 0,
    durationMs: measured.durationMs ?? 0,
    reason,
    redirects: measured.redirects ?? 0,
    bodyBytes: measured.bodyBytes ?? 0,
    startedAt: measured.startedAt,
  };
}

/**
 * A check that passed.
 *
 * @example
 * ```ts
 * const r = success({ startedAt: Date.now(), statusCode: 200, durationMs: 12.5 });
 * // r.up === true, r.result === "up", r.reason === ""
 * ```
 */
export function success(measured: Measured): ProbeResult {
  return make("up", "", measured);
}

/**
 * A check that failed, with a short reason (no URL, no credentials).
 *
 * @example
 * ```ts
 * const r = failure("tls", "cannot use tls_ca_file: not found", { startedAt: Date.now() });
 * // r.up === false, r.statusCode === 0
 * ```
 */
export function failure(result: FailedResult, reason: string, measured: Measured): ProbeResult {
  return make(result, reason, measured);
}
