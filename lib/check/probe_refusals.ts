/**
 * Why `/probe` answers a request without checking it: the `reason` label of
 * `uptime_exporter_probe_refused_total`. Its own module, so the self metrics
 * (main thread) name the reasons without loading the on-demand check.
 *
 * @module
 */

import type { Refusal } from "./target_guard.ts";

/** Why a request was not checked (the `reason` label of `uptime_exporter_probe_refused_total`). */
export type ProbeRefusalReason =
  | Refusal["reason"]
  | "disabled"
  | "unknown_module"
  | "bad_request";

/** Every {@linkcode ProbeRefusalReason}, for initialising the counter. */
export const PROBE_REFUSAL_REASONS: readonly ProbeRefusalReason[] = [
  "disabled",
  "bad_request",
  "unknown_module",
  "not_allowed",
  "link_local",
  "metadata",
  "unspecified",
];
