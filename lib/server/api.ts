/**
 * The JSON API, `GET /api/v1/targets`: every target with its state, for
 * integrations (and the status page's refresh) that would otherwise scrape
 * HTML. Shaped like Prometheus' own API (`{"status": "success", "data": …}`,
 * camelCase keys, RFC 3339 times); the schema is in docs/endpoints.md ("JSON API").
 *
 * @module
 */

import { CHECK_RESULTS, type CheckResult } from "../check/classify.ts";
import type { TargetState } from "../metrics/results.ts";
import type { ShardSummary } from "./status_page.ts";

/** One target in `/api/v1/targets`. */
export interface ApiTarget {
  /** As shown everywhere: credentials masked (`user:***@`). */
  url: string;
  /** The target's static labels. */
  labels: Record<string, string>;
  /** Whether the last check succeeded; null before the first check. */
  up: boolean | null;
  /** Result of the last check (`up`, `status`, `timeout`, …); null before the first. */
  result: CheckResult | null;
  /** Why the last check failed; null when it succeeded or none ran yet. */
  reason: string | null;
  /** Final HTTP status of the last check, 0 when no response came; null before the first. */
  statusCode: number | null;
  /** Time of the last check until the end of the body, ms; null before the first. */
  responseMs: number | null;
  /** When the last check finished (RFC 3339); null before the first. */
  lastCheckAt: string | null;
  /** When the next check is due (RFC 3339), as scheduled after the last one; null before. */
  nextCheckAt: string | null;
  intervalSeconds: number;
  timeoutSeconds: number;
  /** notAfter of the certificate an https target presented at its last check, if read. */
  certificateExpiresAt: string | null;
  /** Checks so far by result, every result present (0 when none). */
  checks: Record<CheckResult, number>;
}

/** What the exporter says about its config, beside the targets (status page notices). */
export interface ExporterStatus {
  /** The targets are the two demo URLs: nothing configured any. */
  readonly demoTargets: boolean;
  /** The last reload's failure while the previous config runs on; none after a good one. */
  readonly reloadFailure?: { readonly at: number; readonly message: string };
}

/** The `config` object of `/api/v1/targets`. */
export interface ApiConfigStatus {
  /** The targets are the two demo URLs (no config file, no --target). */
  demoTargets: boolean;
  /** As `uptime_exporter_config_last_reload_successful`: false after a failed reload. */
  reloadSuccessful: boolean;
  /** While `reloadSuccessful` is false: when the reload failed (RFC 3339) and why. */
  lastReloadError: { at: string; message: string } | null;
}

/** The body of `/api/v1/targets`. */
export interface ApiTargetsResponse {
  status: "success";
  data: {
    /** When this answer was made (RFC 3339): ages are relative to it. */
    generatedAt: string;
    /** The config in force: demo targets, and a failed reload (the previous config still runs). */
    config: ApiConfigStatus;
    /** In config order: this replica's targets. */
    targets: ApiTarget[];
    /** This replica's share, when it is one of several (docs/kubernetes.md, "Sharding"). */
    shard?: ShardSummary;
  };
}

const iso = (epochMs: number | undefined) =>
  epochMs === undefined || epochMs <= 0 ? null : new Date(epochMs).toISOString();

/** One target's entry. */
export function apiTarget(state: TargetState): ApiTarget {
  const { target, last } = state;
  const checks = Object.fromEntries(CHECK_RESULTS.map((r, i) => [r, state.counts[i] ?? 0]));
  return {
    url: target.displayUrl,
    labels: { ...target.labels },
    up: last ? last.up : null,
    result: last ? last.result : null,
    reason: last && !last.up ? last.reason : null,
    statusCode: last ? last.statusCode : null,
    responseMs: last ? Math.round(last.durationMs * 1000) / 1000 : null,
    lastCheckAt: last ? iso(state.lastCheckAt) : null,
    nextCheckAt: last ? iso(state.nextCheckAt) : null,
    intervalSeconds: target.intervalMs / 1000,
    timeoutSeconds: target.timeoutMs / 1000,
    certificateExpiresAt: last && state.certExpiry !== undefined
      ? iso(state.certExpiry * 1000)
      : null,
    checks: checks as Record<CheckResult, number>,
  };
}

/**
 * The `/api/v1/targets` answer for `states`.
 *
 * @example
 * ```ts
 * const body = targetsResponse(store.states, { now: Date.now() });
 * body.data.targets[0]?.up; // true, false, or null before the first check
 * ```
 */
export function targetsResponse(
  states: readonly TargetState[],
  options: { now?: number; status?: ExporterStatus; shard?: ShardSummary } = {},
): ApiTargetsResponse {
  return {
    status: "success",
    data: {
      generatedAt: new Date(options.now ?? Date.now()).toISOString(),
      config: apiConfigStatus(options.status),
      targets: states.map(apiTarget),
      ...(options.shard ? { shard: options.shard } : {}),
    },
  };
}

/** The `config` object; no status given: a config loaded without trouble. */
export function apiConfigStatus(status?: ExporterStatus): ApiConfigStatus {
  const failure = status?.reloadFailure;
  return {
    demoTargets: status?.demoTargets ?? false,
    reloadSuccessful: failure === undefined,
    lastReloadError: failure ? { at: iso(failure.at)!, message: failure.message } : null,
  };
}
