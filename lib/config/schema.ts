/**
 * What a configuration is: the types validation produces, the built-in
 * defaults, and the rules of the file's language (the keys each level
 * accepts, the methods, the reserved labels, the name patterns). No logic:
 * validate.ts and target.ts check a file against these, and
 * tests/config/schema_test.ts keeps docs/config.schema.json equal to the keys.
 *
 * @module
 */

import type { BodyPattern } from "./body_regex.ts";
import type { StatusMatcher } from "./status_codes.ts";
import type { ProbeSettings } from "./probe_modules.ts";

/**
 * The two demo URLs: checked only when neither a config file nor a target
 * flag or variable is given, so that a first `deno task start` shows
 * something (the log and the status page say they are demo targets). A
 * config file without `targets` is an error, never a switch to these.
 */
export const DEFAULT_TARGETS: readonly string[] = [
  "https://httpstat.us/503",
  "https://httpstat.us/200",
];

/** Built-in defaults; every one can be overridden in the file, the environment or flags. */
export const DEFAULTS = {
  metricPrefix: "sample_external_url",
  maxConcurrentChecks: 1000,
  /** Histogram buckets of `<prefix>_response_seconds`, in seconds. */
  histogramBuckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as number[],
  intervalMs: 10_000,
  timeoutMs: 5_000,
  method: "GET",
  validStatusCodes: "200",
  followRedirects: true,
  maxRedirects: 10,
  bodyLimit: 1024 * 1024,
  /** A config file larger than this is refused before parsing. */
  maxFileBytes: 10 * 1024 * 1024,
} as const;

/** Sizes a value may have; a larger one is refused at load with the limit in the message. */
export const LIMITS = {
  /**
   * Characters of a target URL as fetched (without credentials and fragment):
   * Deno's fetch throws "Invalid URL" beyond this (measured on Deno 2.9.6:
   * 65,534 works, 65,535 does not; the HTTP library's URI limit).
   */
  maxUrlLength: 65_534,
  /**
   * Characters of one value of a target's `labels`. Each value is repeated in
   * every series of the target (~27 per scrape with the histogram on), so a
   * 5 MB value made a 135 MB scrape; 1,024 leaves room for a runbook URL.
   */
  maxLabelValueLength: 1024,
} as const;

/**
 * One URL to check, fully resolved: defaults applied, `${VAR}`s expanded.
 * Plain data only (no functions, RegExp or class instances), so that it can
 * be posted to a Worker: `structuredClone(target)` deep-equals `target`.
 */
export interface TargetConfig {
  /** The URL fetched, without credentials. */
  readonly url: string;
  /** The URL as shown in labels, logs and the status page (password masked). */
  readonly displayUrl: string;
  readonly method: string;
  /** Request headers, `${VAR}` expanded, Basic auth from the URL or `basic_auth` included. */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * Lower-case names of headers that carry credentials: `authorization`,
   * `cookie`, `proxy-authorization` and any header whose value uses `${VAR}`.
   * They are not sent on when a redirect leaves the target's origin.
   */
  readonly credentialHeaders: readonly string[];
  readonly body?: string;
  /** Tested with `statusAccepted` (status_codes.ts). */
  readonly validStatusCodes: StatusMatcher;
  /** RE2 pattern the body must match, matched by `matchBody` (lib/check/body_match.ts). */
  readonly bodyRegex?: BodyPattern;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly followRedirects: boolean;
  readonly maxRedirects: number;
  readonly bodyLimit: number;
  /** PEM file of extra CA certificates trusted for this target. */
  readonly tlsCaFile?: string;
  /** Static labels added to every series of this target (`url` not included). */
  readonly labels: Readonly<Record<string, string>>;
  /** Identity used on reload: a target whose key is unchanged keeps its state. */
  readonly key: string;
}

/** The whole reloadable configuration; swapped at once on reload. */
export interface Config {
  readonly metricPrefix: string;
  readonly maxConcurrentChecks: number;
  /** Bucket upper bounds in seconds; empty means the histogram is off. */
  readonly histogramBuckets: readonly number[];
  readonly targets: readonly TargetConfig[];
  /** The `/probe` endpoint's settings (probe_modules.ts). Absent: `/probe` is off. */
  readonly probe?: ProbeSettings;
  /** Values that came from the environment or from passwords: never to be shown. */
  readonly secrets: readonly string[];
  /** True when the targets are the {@linkcode DEFAULT_TARGETS}: nothing configured any. */
  readonly demoTargets: boolean;
}

/** Values from flags and environment variables, stronger than the file. */
export interface ConfigOverrides {
  /** Replaces the file's target list. */
  targets?: string[];
  /** Default interval in ms (targets that set their own keep it). */
  intervalMs?: number;
  /** Default timeout in ms (targets that set their own keep it). */
  timeoutMs?: number;
  metricPrefix?: string;
  /**
   * Where each override came from (`--timeout`, `UPTIME_EXPORTER_TIMEOUT`, ...),
   * so a problem is blamed on the flag or variable, not on the file.
   * Default: the flag names.
   */
  sources?: Partial<Record<"targets" | "intervalMs" | "timeoutMs" | "metricPrefix", string>>;
  /** The durations as written (`10s`), so that a message shows what the user typed. */
  written?: Partial<Record<"intervalMs" | "timeoutMs", string>>;
}

/**
 * How this replica shares the configured targets with the others of its
 * fleet (the `--shard.*` flags; lib/check/shard.ts assigns, membership.ts
 * finds the peers). Every replica reads the same config.
 */
export type ShardSettings =
  | {
    /** A fixed fleet: `count` replicas, this one is `index` (0 … count-1). */
    readonly mode: "static";
    readonly count: number;
    readonly index: number;
    /** Replicas that check each target, 1 … count. */
    readonly replication: number;
  }
  | {
    /** The fleet is whoever the A/AAAA records of `peersDns` list (the ready pods). */
    readonly mode: "dns";
    /** A headless Service's name, e.g. `uptime-exporter-headless.monitoring.svc.cluster.local`. */
    readonly peersDns: string;
    /** This replica's own address among those records (POD_IP). */
    readonly self: string;
    /** Replicas that check each target; fewer while fewer are found. */
    readonly replication: number;
    /** Time between two lookups, ms. */
    readonly intervalMs: number;
    /** The DNS server to ask; default: the system resolver. */
    readonly nameServer?: { readonly ipAddr: string; readonly port: number };
  };

/** Options of `buildConfig` (validate.ts). */
export interface BuildConfigOptions {
  /** Variables for `${VAR}` expansion. Default: none (every `${VAR}` is an error). */
  env?: Readonly<Record<string, string | undefined>>;
  /** File name used in error messages. Default: `config`. */
  fileName?: string;
  /** A blackbox_exporter module file (`--probe.modules-file`), its text and name. Default: none. */
  probeModules?: { text: string; fileName: string };
}

/** Settings allowed under `defaults` and in each target, in the order messages list them. */
const SETTING_KEYS = [
  "interval",
  "timeout",
  "method",
  "headers",
  "body",
  "valid_status_codes",
  "body_regex",
  "follow_redirects",
  "max_redirects",
  "body_limit",
  "basic_auth",
  "tls_ca_file",
  "labels",
] as const;

/** Keys the config file accepts at each level; anything else is an error. */
export const CONFIG_KEYS = {
  top: ["global", "defaults", "targets", "probe"],
  global: ["metric_prefix", "max_concurrent_checks", "histogram_buckets"],
  /** Allowed under `defaults` and in each target. */
  settings: SETTING_KEYS,
  /** Allowed in each target (`url` plus the settings). */
  target: ["url", ...SETTING_KEYS],
} as const;

/** Keys allowed under `basic_auth`. */
export const BASIC_AUTH_KEYS = ["username", "password"] as const;

/** Request methods a target may use (upper case; the file's value is upper-cased first). */
export const METHODS: readonly string[] = [
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "OPTIONS",
];

/** Label names the exporter sets itself, so a target's `labels` cannot. */
export const RESERVED_LABELS: readonly string[] = [
  "url",
  "result",
  "le",
  "reason",
  "version",
  "deno",
];

/** A Prometheus label name (names starting with `__` are refused separately). */
export const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A Prometheus metric name, which the prefix must be on its own. */
export const METRIC_PREFIX_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** An HTTP header name (an RFC 9110 token). */
export const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The name inside `${...}`: what a shell would accept as a variable name. */
export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
