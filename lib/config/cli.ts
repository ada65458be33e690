/**
 * Command-line flags and `UPTIME_EXPORTER_*` environment variables, from one
 * table ({@linkcode FLAGS}): each flag's Prometheus-style name, its old names
 * (which keep working), its variables, how its value is read, its `--help`
 * group, default and description. `--help` ({@linkcode USAGE}) is generated
 * from the table and a test holds the flag table of docs/configuration.md to
 * it, so adding a flag is one entry here.
 *
 * Flags beat the environment; both beat the config file (buildConfig in
 * validate.ts). Syntax as in Prometheus (kingpin): `--flag value`,
 * `--flag=value`, switches as `--flag`, `--no-flag` or `--flag=false`.
 *
 * @module
 */

import { BadInputError } from "../util/bad_input.ts";
import type { ConfigOverrides, ShardSettings } from "./schema.ts";
import { resolveShard, type ShardFlags } from "./shard_flags.ts";
import { parseDuration } from "./units.ts";
import type { LogFormat, LogLevel } from "../util/log.ts";

/** Where the HTTP server listens. */
export interface ListenAddress {
  /**
   * The address to listen on; empty means every address: `[::]`, which on
   * Linux also accepts IPv4 (unless `net.ipv6.bindv6only` is set), and
   * `0.0.0.0` where IPv6 is unavailable (server.ts).
   */
  hostname: string;
  port: number;
}

/** Flags or variables that cannot be used; `problems` holds every reason found. */
export class FlagError extends BadInputError {
  /** One line per problem, each naming its flag or variable. */
  readonly problems: readonly string[];

  /**
   * @example
   * ```ts
   * new FlagError(["Unknown option '--x' (see --help)"]).message;
   * // "Bad flag: Unknown option '--x' (see --help)"
   * ```
   */
  constructor(problems: readonly string[]) {
    super(
      problems.length === 1
        ? `Bad flag: ${problems[0]}`
        : `Bad flags: ${problems.length} problems:\n  ${problems.join("\n  ")}`,
    );
    this.name = "FlagError";
    this.problems = problems;
  }
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
  /**
   * Path every endpoint lives under: `/` or `/a/b` (no trailing slash).
   * Default: the path of `externalUrl`, else `/`.
   */
  routePrefix: string;
  /** The URL users reach the exporter at (behind a proxy or Ingress), when given. */
  externalUrl?: string;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** Reload when the config file's directory changes. */
  watchConfig: boolean;
  /** How this replica shares the targets with others; undefined: it checks them all. */
  shard?: ShardSettings;
  /** The `--shard.*` values as given; parseCli checks them together into `shard`. */
  shardFlags?: ShardFlags;
  checkConfig: boolean;
  help: boolean;
  version: boolean;
}

/** The `--help` sections, in the order they are shown. */
export const FLAG_GROUPS = ["Config", "Web", "Checks", "Sharding", "Logging", "Other"] as const;
/** A `--help` section. */
export type FlagGroup = typeof FLAG_GROUPS[number];

/** A value as given, with what it came from: the flag as written, or the variable. */
export interface Given<T> {
  readonly value: T;
  /** `--web.listen-address`, `--listen`, `UPTIME_EXPORTER_LISTEN`, `PORT`, ... */
  readonly source: string;
}

/**
 * How a flag takes its value: `value` takes one (the last one given wins),
 * `list` is repeatable (a variable holds a comma- or space-separated list),
 * `switch` takes none (`--flag`, `--no-flag`, `--flag=true|false`).
 */
export type FlagKind = "value" | "list" | "switch";

/** The JavaScript type of a flag's raw value by its kind. */
export type RawValue<K extends FlagKind> = K extends "value" ? string
  : K extends "list" ? string[]
  : boolean;

/** One flag: one row of `--help` and of the flag table of docs/configuration.md. */
export interface Flag<K extends FlagKind = FlagKind> {
  /** Canonical, Prometheus-style name without the dashes, e.g. `web.listen-address`. */
  readonly name: string;
  /** Older names that keep working, without the dashes (`h` is `-h`). */
  readonly aliases: readonly string[];
  /** Environment variables, strongest first (the first is the documented one). */
  readonly env: readonly string[];
  readonly kind: K;
  /** Placeholder of the value in `--help`, e.g. `FILE`. */
  readonly arg?: string;
  readonly group: FlagGroup;
  /** The default as people read it (`10s`, `:8080`); empty when there is none. */
  readonly default: string;
  /** One sentence for `--help` and docs/configuration.md. */
  readonly description: string;
  /** Stores the value in `cli`, or adds a problem naming `given.source`. */
  readonly apply: (cli: CliOptions, given: Given<RawValue<K>>, problems: string[]) => void;
}

const LOG_LEVELS: LogLevel[] = ["debug", "info", "warn", "error"];
const LOG_FORMATS: LogFormat[] = ["logfmt", "json"];

/**
 * Parses `[HOST]:PORT`, `PORT`, `[::1]:PORT`; no host (`:8080`) is every
 * address, IPv4 and IPv6 (hostname `""`, see {@linkcode ListenAddress}).
 *
 * @example
 * ```ts
 * parseListen(":8080"); // { hostname: "", port: 8080 }
 * parseListen("[::1]:9000"); // { hostname: "::1", port: 9000 }
 * ```
 *
 * @returns the address, or undefined when malformed.
 */
export function parseListen(value: string): ListenAddress | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value) ?? /^()()(\d+)$/.exec(value);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  return { hostname: match[1] || match[2] || "", port };
}

/** One path segment of a route prefix: URL path characters, not `.` or `..`. */
const PREFIX_SEGMENT = /^[A-Za-z0-9._~!$&'()*+,;=:@%-]+$/;

/**
 * Normalises a route prefix as Prometheus does: a leading `/` added, trailing
 * ones removed (`uptime/` → `/uptime`; empty → `/`).
 *
 * @example
 * ```ts
 * parseRoutePrefix("uptime/"); // "/uptime"
 * parseRoutePrefix(""); // "/"
 * parseRoutePrefix("/a?b"); // undefined
 * ```
 *
 * @returns the prefix, or undefined when it is not a URL path.
 */
export function parseRoutePrefix(value: string): string | undefined {
  const trimmed = value.replace(/\/+$/, "").replace(/^\/?/, "/");
  if (trimmed === "/") return "/";
  const segments = trimmed.slice(1).split("/");
  const ok = segments.every((s) => PREFIX_SEGMENT.test(s) && s !== "." && s !== "..");
  return ok ? trimmed : undefined;
}

function defineFlag<K extends FlagKind>(
  flag: Omit<Flag<K>, "aliases" | "env" | "default"> & Partial<Flag<K>>,
): Flag {
  return Object.freeze({
    aliases: [],
    env: [],
    default: "",
    ...flag,
  }) as unknown as Flag;
}

function positiveDuration(
  key: "intervalMs" | "timeoutMs",
): (cli: CliOptions, given: Given<string>, problems: string[]) => void {
  return (cli, { value, source }, problems) => {
    const ms = parseDuration(value);
    if (ms === undefined || ms <= 0) {
      problems.push(`'${source}': '${value}' is not a positive duration (use e.g. 250ms, 10s, 1m)`);
      return;
    }
    cli.overrides[key] = ms;
    cli.overrides.sources![key] = source;
    (cli.overrides.written ??= {})[key] = value.trim();
  };
}

/** A flag naming a file: an empty name is a problem. */
function file(
  set: (cli: CliOptions, path: string) => void,
): (cli: CliOptions, given: Given<string>, problems: string[]) => void {
  return (cli, { value, source }, problems) => {
    if (value === "") problems.push(`'${source}': must name a file`);
    else set(cli, value);
  };
}

/** A switch that sets one field. */
function toggle(set: (cli: CliOptions, on: boolean) => void): (
  cli: CliOptions,
  given: Given<boolean>,
) => void {
  return (cli, { value }) => set(cli, value);
}

function oneOf<T extends string>(
  allowed: readonly T[],
  set: (cli: CliOptions, value: T) => void,
): (cli: CliOptions, given: Given<string>, problems: string[]) => void {
  return (cli, { value, source }, problems) => {
    if (allowed.includes(value as T)) set(cli, value as T);
    else problems.push(`'${source}': '${value}' is not one of ${allowed.join(", ")}`);
  };
}

/** A whole number of at least `min`, stored with where it came from. */
function wholeNumber(
  min: number,
  set: (cli: CliOptions, given: Given<number>) => void,
): (cli: CliOptions, given: Given<string>, problems: string[]) => void {
  return (cli, { value, source }, problems) => {
    const n = /^\d{1,9}$/.test(value) ? Number(value) : NaN;
    if (n >= min) set(cli, { value: n, source });
    else problems.push(`'${source}': '${value}' is not a whole number of at least ${min}`);
  };
}

/** A DNS server: `IP`, `IP:PORT` or `[IPv6]:PORT` (port 53 when none). */
function parseNameServer(value: string): { ipAddr: string; port: number } | undefined {
  const m = /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$/.exec(value) ??
    /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?$/.exec(value) ??
    /^([0-9A-Fa-f]*:[0-9A-Fa-f:.]*)()$/.exec(value);
  const port = Number(m?.[2] || 53);
  return m && port >= 1 && port <= 65535 ? { ipAddr: m[1]!, port } : undefined;
}

/**
 * Every flag, in `--help` order. Problems are reported in this order too.
 * To add a flag: one entry here (and a row in the flag table of
 * docs/configuration.md, which a test compares with this table), plus its
 * field in {@linkcode CliOptions}.
 */
export const FLAGS: readonly Flag[] = Object.freeze([
  // -------------------------------------------------------------- Config
  defineFlag({
    name: "config.file",
    aliases: ["config"],
    env: ["UPTIME_EXPORTER_CONFIG"],
    kind: "value",
    arg: "FILE",
    group: "Config",
    description: "YAML config file; reloaded on change, SIGHUP or POST /-/reload.",
    apply: file((cli, path) => (cli.configFile = path)),
  }),
  defineFlag({
    name: "config.check",
    aliases: ["check-config"],
    kind: "switch",
    group: "Config",
    description: "Validate the configuration, print the targets, exit 0 (or 2).",
    apply: toggle((cli, on) => (cli.checkConfig = on)),
  }),
  defineFlag({
    name: "config.watch",
    // --no-watch-config is the negation of this old name.
    aliases: ["watch-config"],
    kind: "switch",
    group: "Config",
    default: "true",
    description: "Reload when the config file changes.",
    apply: toggle((cli, on) => (cli.watchConfig = on)),
  }),
  // -------------------------------------------------------------- Web
  defineFlag({
    name: "web.listen-address",
    aliases: ["listen"],
    env: ["UPTIME_EXPORTER_LISTEN", "PORT"],
    kind: "value",
    arg: "[HOST]:PORT",
    group: "Web",
    default: ":8080",
    description:
      "Address to listen on; no host: every address, IPv4 and IPv6 ([::], or 0.0.0.0 without IPv6); e.g. 127.0.0.1:9000, [::1]:9000.",
    apply(cli, { value, source }, problems) {
      const parsed = parseListen(value);
      if (parsed) cli.listen = parsed;
      else problems.push(`'${source}': '${value}' is not [HOST]:PORT`);
    },
  }),
  defineFlag({
    name: "web.config.file",
    env: ["UPTIME_EXPORTER_WEB_CONFIG"],
    kind: "value",
    arg: "FILE",
    group: "Web",
    description: "TLS, basic auth or bearer token of this server (exporter-toolkit format).",
    apply: file((cli, path) => (cli.webConfigFile = path)),
  }),
  defineFlag({
    name: "probe.modules-file",
    env: ["UPTIME_EXPORTER_PROBE_MODULES_FILE"],
    kind: "value",
    arg: "FILE",
    group: "Web",
    description:
      "blackbox_exporter modules (http prober) for /probe, reloaded with the config; /probe stays off until the config enables it.",
    apply: file((cli, path) => (cli.probeModulesFile = path)),
  }),
  defineFlag({
    name: "web.route-prefix",
    env: ["UPTIME_EXPORTER_WEB_ROUTE_PREFIX"],
    kind: "value",
    arg: "PATH",
    group: "Web",
    default: "/",
    description: "Path every endpoint lives under; default: the path of --web.external-url.",
    apply(cli, { value, source }, problems) {
      const prefix = parseRoutePrefix(value);
      if (prefix) cli.routePrefix = prefix;
      else problems.push(`'${source}': '${value}' is not a URL path (e.g. /uptime)`);
    },
  }),
  defineFlag({
    name: "web.external-url",
    env: ["UPTIME_EXPORTER_WEB_EXTERNAL_URL"],
    kind: "value",
    arg: "URL",
    group: "Web",
    description:
      "URL the exporter is reached at (e.g. through an Ingress); its path is the prefix.",
    apply(cli, { value, source }, problems) {
      let url: URL | undefined;
      try {
        url = new URL(value);
      } catch { /* reported below */ }
      const prefix = url ? parseRoutePrefix(url.pathname) : undefined;
      if (!url || !/^https?:$/.test(url.protocol) || !prefix || url.search || url.hash) {
        problems.push(`'${source}': '${value}' is not an absolute http(s) URL without query`);
        return;
      }
      cli.externalUrl = url.href;
    },
  }),
  // -------------------------------------------------------------- Checks
  defineFlag({
    name: "target",
    env: ["UPTIME_EXPORTER_TARGETS"],
    kind: "list",
    arg: "URL",
    group: "Checks",
    default: "the two demo URLs",
    description:
      "URL to check; repeatable (the variable: URLs separated by commas or spaces); replaces the config file's targets.",
    apply(cli, { value, source }) {
      if (value.length === 0) return;
      cli.overrides.targets = value;
      cli.overrides.sources!.targets = source;
    },
  }),
  defineFlag({
    name: "check.interval",
    aliases: ["interval"],
    env: ["UPTIME_EXPORTER_INTERVAL"],
    kind: "value",
    arg: "DURATION",
    group: "Checks",
    default: "10s",
    description: "Check interval of targets that set none.",
    apply: positiveDuration("intervalMs"),
  }),
  defineFlag({
    name: "check.timeout",
    aliases: ["timeout"],
    env: ["UPTIME_EXPORTER_TIMEOUT"],
    kind: "value",
    arg: "DURATION",
    group: "Checks",
    default: "5s, at most the interval",
    description: "Timeout of a whole check (body included) of targets that set none.",
    apply: positiveDuration("timeoutMs"),
  }),
  defineFlag({
    name: "metrics.prefix",
    aliases: ["metric-prefix"],
    env: ["UPTIME_EXPORTER_METRIC_PREFIX"],
    kind: "value",
    arg: "NAME",
    group: "Checks",
    default: "sample_external_url",
    description: "Prefix of the per-URL metrics.",
    apply(cli, { value, source }) {
      cli.overrides.metricPrefix = value;
      cli.overrides.sources!.metricPrefix = source;
    },
  }),
  // -------------------------------------------------------------- Sharding
  // Read together by resolveShard() (shard_flags.ts); docs/kubernetes.md ("Sharding") explains them.
  defineFlag({
    name: "shard.count",
    env: ["UPTIME_EXPORTER_SHARD_COUNT"],
    kind: "value",
    arg: "N",
    group: "Sharding",
    default: "1",
    description:
      "Replicas sharing the targets; each reads the same config and checks only its share.",
    apply: wholeNumber(1, (cli, given) => ((cli.shardFlags ??= {}).count = given)),
  }),
  defineFlag({
    name: "shard.index",
    env: ["UPTIME_EXPORTER_SHARD_INDEX", "POD_NAME"],
    kind: "value",
    arg: "I",
    group: "Sharding",
    default: "the ordinal ending POD_NAME",
    description:
      "This replica's index, 0 to N-1; by default the number ending POD_NAME (a StatefulSet pod's ordinal).",
    apply(cli, given, problems) {
      // POD_NAME is read only when sharding asks for an index (resolveShard).
      if (given.source === "POD_NAME") (cli.shardFlags ??= {}).podName = given;
      else wholeNumber(0, (c, n) => ((c.shardFlags ??= {}).index = n))(cli, given, problems);
    },
  }),
  defineFlag({
    name: "shard.replication",
    env: ["UPTIME_EXPORTER_SHARD_REPLICATION"],
    kind: "value",
    arg: "R",
    group: "Sharding",
    default: "1",
    description:
      "Replicas that check each target, at most N; 2 keeps every target checked when one replica is lost.",
    apply: wholeNumber(1, (cli, given) => ((cli.shardFlags ??= {}).replication = given)),
  }),
  defineFlag({
    name: "shard.peers-dns",
    env: ["UPTIME_EXPORTER_SHARD_PEERS_DNS"],
    kind: "value",
    arg: "NAME",
    group: "Sharding",
    description:
      "Headless Service whose A/AAAA records are the ready replicas: targets follow the replicas found, instead of --shard.count.",
    apply(cli, { value, source }, problems) {
      if (
        /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/
          .test(value)
      ) {
        (cli.shardFlags ??= {}).peersDns = { value, source };
      } else problems.push(`'${source}': '${value}' is not a DNS name`);
    },
  }),
  defineFlag({
    name: "shard.peers-dns-interval",
    env: ["UPTIME_EXPORTER_SHARD_PEERS_DNS_INTERVAL"],
    kind: "value",
    arg: "DURATION",
    group: "Sharding",
    default: "5s",
    description:
      "How often --shard.peers-dns is looked up; a change applies once two lookups agree.",
    apply(cli, { value, source }, problems) {
      const ms = parseDuration(value);
      if (ms !== undefined && ms >= 100) (cli.shardFlags ??= {}).intervalMs = { value: ms, source };
      else problems.push(`'${source}': '${value}' is not a duration of at least 100ms`);
    },
  }),
  defineFlag({
    name: "shard.peers-dns-server",
    env: ["UPTIME_EXPORTER_SHARD_PEERS_DNS_SERVER"],
    kind: "value",
    arg: "IP[:PORT]",
    group: "Sharding",
    default: "the system resolver",
    description: "DNS server that answers --shard.peers-dns.",
    apply(cli, { value, source }, problems) {
      const server = parseNameServer(value);
      if (server) (cli.shardFlags ??= {}).nameServer = { value: server, source };
      else {problems.push(
          `'${source}': '${value}' is not IP[:PORT] (e.g. 10.96.0.10, [fd00::a]:53)`,
        );}
    },
  }),
  defineFlag({
    name: "shard.self",
    env: ["UPTIME_EXPORTER_SHARD_SELF", "POD_IP"],
    kind: "value",
    arg: "IP",
    group: "Sharding",
    default: "POD_IP",
    description: "This replica's own address among the --shard.peers-dns records.",
    apply(cli, { value, source }) {
      (cli.shardFlags ??= {}).self = { value, source };
    },
  }),
  // -------------------------------------------------------------- Logging
  defineFlag({
    name: "log.level",
    aliases: ["log-level"],
    env: ["UPTIME_EXPORTER_LOG_LEVEL"],
    kind: "value",
    arg: "LEVEL",
    group: "Logging",
    default: "info",
    description: "debug logs every check, info state changes; also warn, error.",
    apply: oneOf(LOG_LEVELS, (cli, level) => (cli.logLevel = level)),
  }),
  defineFlag({
    name: "log.format",
    aliases: ["log-format"],
    env: ["UPTIME_EXPORTER_LOG_FORMAT"],
    kind: "value",
    arg: "FORMAT",
    group: "Logging",
    default: "logfmt",
    description: "logfmt or json, one line per event on stderr.",
    apply: oneOf(LOG_FORMATS, (cli, format) => (cli.logFormat = format)),
  }),
  // -------------------------------------------------------------- Other
  defineFlag({
    name: "help",
    aliases: ["h"],
    kind: "switch",
    group: "Other",
    description: "Show this help.",
    apply: toggle((cli, on) => (cli.help = on)),
  }),
  defineFlag({
    name: "version",
    kind: "switch",
    group: "Other",
    description: "Print the version.",
    apply: toggle((cli, on) => (cli.version = on)),
  }),
]);

/** How a flag is written on the command line: `--name`, or `-h` for one letter. */
export function spelling(name: string): string {
  return name.length === 1 ? `-${name}` : `--${name}`;
}

const BY_NAME: ReadonlyMap<string, Flag> = new Map(
  FLAGS.flatMap((flag) => [flag.name, ...flag.aliases].map((name) => [name, flag] as const)),
);

/** Wraps `text` into lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** The `--help` text, generated from {@linkcode FLAGS}. */
export function usage(): string {
  const sections = FLAG_GROUPS.map((group) => {
    const lines = [`${group}:`];
    for (const flag of FLAGS.filter((f) => f.group === group)) {
      lines.push(`  ${usageName(flag)}${flag.default ? `  (default: ${flag.default})` : ""}`);
      const notes = [
        flag.env.length ? `Environment: ${flag.env.join(", ")}.` : "",
        flag.aliases.length ? `Also: ${flag.aliases.map((a) => spelled(flag, a)).join(", ")}.` : "",
      ].filter(Boolean).join(" ");
      for (const line of [...wrap(flag.description, 72), ...wrap(notes, 72)]) {
        lines.push(`      ${line}`);
      }
    }
    return lines.join("\n");
  });
  return `Usage: uptime-exporter [flags]

Checks URLs in the background and serves Prometheus metrics about them.
Flags win over environment variables, both over the config file.
Without --config.file or --target it checks two demo URLs.

${sections.join("\n\n")}

Switches: --flag, --no-flag, --flag=false. Old names (Also: ...) keep working.
Durations: 250ms, 10s, 1m, 1m30s, 1.5h, 1d, or a bare number of seconds.
Reload: SIGHUP, POST /-/reload, or a change to the config file.
Exit codes: 0 ok, 1 runtime failure, 2 bad flags or configuration.`;
}

/**
 * One name of `flag` as `--help` and docs/configuration.md show it:
 * `--[no-]config.watch` for a switch that is on by default (it is turned off
 * with `--no-`).
 */
export function spelled(flag: Flag, name: string): string {
  const on = flag.kind === "switch" && flag.default === "true";
  return on ? `--[no-]${name}` : spelling(name);
}

/** A flag's name and placeholder as `--help` and the docs show them: `--config.file FILE`. */
export function usageName(flag: Flag): string {
  return `${spelled(flag, flag.name)}${flag.arg ? ` ${flag.arg}` : ""}`;
}

/** The `--help` text. */
export const USAGE: string = usage();

/** What the command line gave one flag. */
type Raw = Given<string | string[] | boolean>;

/** Reads `args` into the raw value of each flag named; syntax problems go to `problems`. */
function readArgs(args: readonly string[], problems: string[]): Map<Flag, Raw> {
  const raw = new Map<Flag, Raw>();
  const syntax = (message: string) => problems.push(`${message} (see --help)`);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const option = /^(--?)([^=]+)(?:=([\s\S]*))?$/.exec(arg);
    if (!option || arg === "--" || (option[1] === "-" && option[2]!.length !== 1)) {
      syntax(
        arg.startsWith("-") && arg !== "-" && arg !== "--"
          ? `Unknown option '${arg}'`
          : `Unexpected argument '${arg}'. This command does not take positional arguments`,
      );
      continue;
    }
    const [, dashes, name, inline] = option as unknown as [string, string, string, string?];
    const written = `${dashes}${name}`;
    let flag = BY_NAME.get(name);
    let negated = false;
    if (!flag && name.startsWith("no-") && BY_NAME.get(name.slice(3))?.kind === "switch") {
      flag = BY_NAME.get(name.slice(3));
      negated = true;
    }
    if (!flag || spelling(name) !== written && !negated) {
      syntax(`Unknown option '${written}'`);
      continue;
    }
    if (flag.kind === "switch") {
      if (inline !== undefined && (negated || !/^(true|false)$/.test(inline))) {
        syntax(`Option '${written}' takes no value other than =true or =false`);
        continue;
      }
      raw.set(flag, { value: negated ? false : inline !== "false", source: written });
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = args[i + 1];
      if (next === undefined || (next.startsWith("-") && next !== "-")) {
        syntax(`Option '${written} <value>' argument missing`);
        continue;
      }
      value = next;
      i++;
    }
    if (flag.kind === "list") {
      const before = raw.get(flag)?.value as string[] | undefined;
      raw.set(flag, { value: [...(before ?? []), value], source: written });
    } else raw.set(flag, { value, source: written });
  }
  return raw;
}

/** The value of `flag` from its variables (empty ones count as unset), if any. */
function fromEnv(
  flag: Flag,
  env: Readonly<Record<string, string | undefined>>,
  problems: string[],
): Raw | undefined {
  for (const name of flag.env) {
    const value = env[name];
    if (value === undefined || value === "") continue;
    if (flag.kind === "list") return { value: value.split(/[\s,]+/).filter(Boolean), source: name };
    if (flag.kind === "value") return { value, source: name };
    if (/^(true|false)$/.test(value)) return { value: value === "true", source: name };
    problems.push(`'${name}': '${value}' is not true or false`);
    return undefined;
  }
  return undefined;
}

/** Options before any flag or variable is applied. */
function defaults(): CliOptions {
  return {
    overrides: { sources: {} },
    listen: { hostname: "", port: 8080 },
    routePrefix: "/",
    logLevel: "info",
    logFormat: "logfmt",
    watchConfig: true,
    checkConfig: false,
    help: false,
    version: false,
  };
}

/**
 * Parses command-line arguments and environment variables.
 *
 * @example
 * ```ts
 * const cli = parseCli(["--web.listen-address=:9000", "--check.interval", "1m30s"], {});
 * cli.listen; // { hostname: "", port: 9000 } (every address)
 * cli.overrides.intervalMs; // 90000
 * ```
 *
 * @throws {FlagError} listing every bad flag or variable.
 */
export function parseCli(
  args: string[],
  env: Readonly<Record<string, string | undefined>>,
): CliOptions {
  const problems: string[] = [];
  const raw = readArgs(args, problems);
  if (problems.length > 0) throw new FlagError(problems);
  const cli = defaults();
  const applied = new Set<string>();
  for (const flag of FLAGS) {
    const given = raw.get(flag) ?? fromEnv(flag, env, problems);
    if (!given) continue;
    applied.add(flag.name);
    (flag.apply as (cli: CliOptions, given: Raw, problems: string[]) => void)(
      cli,
      given,
      problems,
    );
  }
  cli.shard = resolveShard(cli.shardFlags ?? {}, problems);
  if (problems.length > 0) throw new FlagError(problems);
  // As in Prometheus: the route prefix defaults to the external URL's path.
  if (cli.externalUrl && !applied.has("web.route-prefix")) {
    cli.routePrefix = parseRoutePrefix(new URL(cli.externalUrl).pathname)!;
  }
  return cli;
}
