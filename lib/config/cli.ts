/**
 * Command-line flags and `UPTIME_EXPORTER_*` environment variables.
 * Flags beat the environment; both beat the config file (buildConfig in validate.ts).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ConfigError } from "./problems.ts";
import type { ConfigOverrides } from "./schema.ts";
import { parseDuration } from "./units.ts";
import type { LogFormat, LogLevel } from "../util/log.ts";

/** Where the HTTP server listens. */
export interface ListenAddress {
  hostname: string;
  port: number;
}

/** Everything the command line and environment decide. */
export interface CliOptions {
  configFile?: string;
  /** exporter-toolkit style web config (TLS, basic auth, bearer token); see web_config.ts. */
  webConfigFile?: string;
  /** blackbox_exporter module file for `/probe` (probe_modules.ts). */
  probeModulesFile?: string;
  overrides: ConfigOverrides;
  listen: ListenAddress;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** Reload when the config file's directory changes. */
  watchConfig: boolean;
  checkConfig: boolean;
  help: boolean;
  version: boolean;
}

/** The `--help` text. */
export const USAGE = `Usage: uptime-exporter [flags]

Checks URLs in the background and serves Prometheus metrics about them.

Flags (environment variable in brackets; flags win over the environment,
both win over the config file):
  --config FILE          YAML config file                  [UPTIME_EXPORTER_CONFIG]
  --target URL           URL to check; repeatable; replaces the file's and
                         the default targets   [UPTIME_EXPORTER_TARGETS, comma-separated]
  --interval DURATION    default check interval (10s)      [UPTIME_EXPORTER_INTERVAL]
  --timeout DURATION     default check timeout (5s)        [UPTIME_EXPORTER_TIMEOUT]
  --listen [HOST]:PORT   listen address (:8080)   [UPTIME_EXPORTER_LISTEN, or PORT]
  --web.config.file FILE TLS and authentication of this server, in the
                         exporter-toolkit format       [UPTIME_EXPORTER_WEB_CONFIG]
  --probe.modules-file FILE  blackbox_exporter modules (http prober) for
                         /probe          [UPTIME_EXPORTER_PROBE_MODULES_FILE]
  --metric-prefix NAME   prefix of per-URL metrics (sample_external_url)
                                                    [UPTIME_EXPORTER_METRIC_PREFIX]
  --log-level LEVEL      debug|info|warn|error (info)      [UPTIME_EXPORTER_LOG_LEVEL]
  --log-format FORMAT    logfmt|json (logfmt)              [UPTIME_EXPORTER_LOG_FORMAT]
  --no-watch-config      do not reload when the config file changes
  --check-config         validate the configuration, print a summary, exit
  --help                 show this help
  --version              print the version

Durations: 250ms, 10s, 1m, 1h, or a bare number of seconds.
Reload: SIGHUP, POST /-/reload, or a change to the config file.
Exit codes: 0 ok, 1 runtime failure, 2 bad flags or configuration.`;

const LOG_LEVELS: LogLevel[] = ["debug", "info", "warn", "error"];
const LOG_FORMATS: LogFormat[] = ["logfmt", "json"];

/** Parses `[HOST]:PORT`, `PORT`, `[::1]:PORT`; returns undefined when malformed. */
export function parseListen(value: string): ListenAddress | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value) ?? /^()()(\d+)$/.exec(value);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  return { hostname: match[1] || match[2] || "0.0.0.0", port };
}

/**
 * Parses command-line arguments and environment variables.
 *
 * @throws {ConfigError} listing every bad flag or variable.
 */
export function parseCli(
  args: string[],
  env: Readonly<Record<string, string | undefined>>,
): CliOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: "string" },
        target: { type: "string", multiple: true },
        interval: { type: "string" },
        timeout: { type: "string" },
        listen: { type: "string" },
        "web.config.file": { type: "string" },
        "probe.modules-file": { type: "string" },
        "metric-prefix": { type: "string" },
        "log-level": { type: "string" },
        "log-format": { type: "string" },
        "no-watch-config": { type: "boolean" },
        "check-config": { type: "boolean" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean" },
      },
    }));
  } catch (e) {
    throw new ConfigError([`${(e as Error).message} (see --help)`]);
  }
  const problems: string[] = [];
  const pick = (flag: string, envName: string): [string, string] | undefined => {
    const v = (values as Record<string, unknown>)[flag];
    if (typeof v === "string") return [`--${flag}`, v];
    const e = env[envName];
    return e !== undefined && e !== "" ? [envName, e] : undefined;
  };
  // `sources` lets config problems name the flag or variable a value came from.
  const sources: NonNullable<ConfigOverrides["sources"]> = {};
  const overrides: ConfigOverrides = { sources };

  if (values.target && values.target.length > 0) overrides.targets = values.target;
  else if (env.UPTIME_EXPORTER_TARGETS) {
    overrides.targets = env.UPTIME_EXPORTER_TARGETS.split(/[\s,]+/).filter(Boolean);
    sources.targets = "UPTIME_EXPORTER_TARGETS";
  }
  for (const [flag, key] of [["interval", "intervalMs"], ["timeout", "timeoutMs"]] as const) {
    const given = pick(flag, `UPTIME_EXPORTER_${flag.toUpperCase()}`);
    if (!given) continue;
    const ms = parseDuration(given[1]);
    if (ms === undefined || ms <= 0) {
      problems.push(
        `${given[0]}: '${given[1]}' is not a positive duration (use e.g. 250ms, 10s, 1m)`,
      );
    } else {
      overrides[key] = ms;
      sources[key] = given[0];
    }
  }
  const prefix = pick("metric-prefix", "UPTIME_EXPORTER_METRIC_PREFIX");
  if (prefix) {
    overrides.metricPrefix = prefix[1];
    sources.metricPrefix = prefix[0];
  }
  const config = pick("config", "UPTIME_EXPORTER_CONFIG") ??
    (values.config === "" ? ["--config", ""] as [string, string] : undefined);
  if (config?.[1] === "") problems.push(`${config[0]}: must name a file`);

  let listen: ListenAddress = { hostname: "0.0.0.0", port: 8080 };
  const listenGiven = pick("listen", "UPTIME_EXPORTER_LISTEN") ??
    (env.PORT ? ["PORT", env.PORT] as [string, string] : undefined);
  if (listenGiven) {
    const parsed = parseListen(listenGiven[1]);
    if (!parsed) problems.push(`${listenGiven[0]}: '${listenGiven[1]}' is not [HOST]:PORT`);
    else listen = parsed;
  }

  const level = pick("log-level", "UPTIME_EXPORTER_LOG_LEVEL");
  if (level && !LOG_LEVELS.includes(level[1] as LogLevel)) {
    problems.push(`${level[0]}: '${level[1]}' is not one of ${LOG_LEVELS.join(", ")}`);
  }
  const format = pick("log-format", "UPTIME_EXPORTER_LOG_FORMAT");
  if (format && !LOG_FORMATS.includes(format[1] as LogFormat)) {
    problems.push(`${format[0]}: '${format[1]}' is not one of ${LOG_FORMATS.join(", ")}`);
  }
  // /probe's module file (blackbox_exporter's format).
  const modulesFile = pick("probe.modules-file", "UPTIME_EXPORTER_PROBE_MODULES_FILE") ??
    (values["probe.modules-file"] === ""
      ? ["--probe.modules-file", ""] as [string, string]
      : undefined);
  if (modulesFile?.[1] === "") problems.push(`${modulesFile[0]}: must name a file`);

  if (problems.length > 0) throw new ConfigError(problems);

  return {
    configFile: config?.[1],
    webConfigFile: pick("web.config.file", "UPTIME_EXPORTER_WEB_CONFIG")?.[1],
    probeModulesFile: modulesFile?.[1],
    overrides,
    listen,
    logLevel: (level?.[1] ?? "info") as LogLevel,
    logFormat: (format?.[1] ?? "logfmt") as LogFormat,
    watchConfig: !values["no-watch-config"],
    checkConfig: values["check-config"] ?? false,
    help: values.help ?? false,
    version: values.version ?? false,
  };
}
