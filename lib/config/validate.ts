/**
 * The configuration: its types, its defaults and its validation, all in one
 * place. {@linkcode buildConfig} turns YAML text plus command-line/environment
 * overrides into a {@linkcode Config}, or throws a {@linkcode ConfigError}
 * that lists every problem at once with its field path.
 *
 * @module
 */

import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import { parseByteSize, parseDuration } from "./units.ts";
import { redactUrl, splitCredentials } from "../util/redact.ts";
import { parseStatusCodes, type StatusMatcher } from "./status_codes.ts";

/** The URLs checked when nothing else is configured (the seed services). */
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

/** One URL to check, fully resolved: defaults applied, `${VAR}`s expanded. */
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
  readonly validStatusCodes: StatusMatcher;
  readonly bodyRegex?: RegExp;
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
  /** Values that came from the environment or from passwords: never to be shown. */
  readonly secrets: readonly string[];
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
}

/** Options of {@linkcode buildConfig}. */
export interface BuildConfigOptions {
  /** Variables for `${VAR}` expansion. Default: none (every `${VAR}` is an error). */
  env?: Readonly<Record<string, string | undefined>>;
  /** File name used in error messages. Default: `config`. */
  fileName?: string;
}

/** Problems listed in a ConfigError's message (all are in `problems`). */
const MAX_PROBLEMS_SHOWN = 100;

/** A configuration that cannot be used; `problems` holds every reason found. */
export class ConfigError extends Error {
  /** One line per problem, each starting with its field path. */
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    // A hostile file can have thousands of problems: the message shows the first ones.
    const shown = problems.length > MAX_PROBLEMS_SHOWN
      ? [
        ...problems.slice(0, MAX_PROBLEMS_SHOWN),
        `… and ${problems.length - MAX_PROBLEMS_SHOWN} more problems`,
      ]
      : problems;
    super(
      problems.length === 1
        ? `Cannot load config: ${problems[0]}`
        : `Cannot load config: ${problems.length} problems:\n  ${shown.join("\n  ")}`,
    );
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** Keys the config file accepts at each level; anything else is an error. */
export const CONFIG_KEYS = {
  top: ["global", "defaults", "targets"],
  global: ["metric_prefix", "max_concurrent_checks", "histogram_buckets"],
  /** Allowed under `defaults` and in each target. */
  settings: [] as string[],
  /** Allowed in each target (`url` plus the settings). */
  target: [] as string[],
};
const TOP_KEYS = CONFIG_KEYS.top;
const GLOBAL_KEYS = CONFIG_KEYS.global;
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
];
const TARGET_KEYS = ["url", ...SETTING_KEYS];
CONFIG_KEYS.settings = SETTING_KEYS;
CONFIG_KEYS.target = TARGET_KEYS;
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
const RESERVED_LABELS = ["url", "result", "le", "reason", "version", "deno"];
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const METRIC_PREFIX_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const ENV_REF_RE = /\$\{([^}]*)\}/g;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

type Path = (string | number)[];
type Raw = Record<string, unknown>;

/** Collects problems with their paths, and resolves a path to a YAML line. */
class Problems {
  readonly list: string[] = [];
  readonly #seen = new Set<string>();
  constructor(private readonly lineOf: (path: Path) => number | undefined) {}
  /** Adds a problem once: a bad `defaults` value is reported once, not once per target. */
  add(path: Path, message: string): void {
    // Finding a line can cost a walk of a long mapping: done only for the
    // problems the message shows, so thousands of problems stay linear.
    const line = path.length > 0 && this.list.length < MAX_PROBLEMS_SHOWN
      ? this.lineOf(path)
      : undefined;
    const where = path.length > 0 ? `'${formatPath(path)}'` : "config";
    const problem = `${where}${line ? ` (line ${line})` : ""}: ${message}`;
    if (!this.#seen.has(problem)) {
      this.#seen.add(problem);
      this.list.push(problem);
    }
  }
}

function formatPath(path: Path): string {
  return path.map((p, i) => typeof p === "number" ? `[${p}]` : (i === 0 ? p : `.${p}`)).join(
    "",
  );
}

function isObject(value: unknown): value is Raw {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function checkKeys(raw: Raw, allowed: readonly string[], path: Path, problems: Problems): void {
  for (const key of Object.keys(raw)) {
    if (!allowed.includes(key)) {
      problems.add([...path, key], `unknown key (allowed: ${allowed.join(", ")})`);
    }
  }
}

/**
 * Offsets of keys that repeat a key of the same mapping (scalar keys compared
 * by value, as the parser's `uniqueKeys` does), in one linear walk.
 */
function duplicateKeyOffsets(root: unknown): number[] {
  const found: number[] = [];
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const key = pair.key;
        if (isScalar(key)) {
          const id = `${typeof key.value}:${String(key.value)}`;
          if (seen.has(id) && key.range) found.push(key.range[0]);
          seen.add(id);
        }
        stack.push(pair.key, pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push(item);
    } else if (isPair(node)) {
      stack.push(node.key, node.value);
    }
  }
  return found.sort((a, b) => a - b);
}

/**
 * Parses YAML text into a plain value, reporting syntax errors with line numbers.
 * Aliases are limited so that an alias bomb is refused instead of expanded.
 */
function parseYaml(
  text: string,
  fileName: string,
): { value: unknown; lineOf: (path: Path) => number | undefined } {
  const lineCounter = new LineCounter();
  // YAML allows no control characters but tab, LF and CR; the parser lets
  // them through (and a URL parser drops them, so a label would not show
  // the URL checked).
  // deno-lint-ignore no-control-regex
  const control = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.exec(text);
  if (control) {
    const before = text.slice(0, control.index);
    const line = before.split("\n").length;
    const col = control.index - before.lastIndexOf("\n");
    const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
    throw new ConfigError([
      `${fileName}:${line}:${col}: invalid YAML: control character U+${code} is not allowed`,
    ]);
  }
  // Duplicate keys are found by duplicateKeyOffsets: the parser's own check
  // (uniqueKeys) compares every pair of keys, 20 s for a 400 KB file.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  if (doc.errors.some((e) => /call stack|stack overflow/i.test(e.message))) {
    // The parser recursed until the stack ran out: say so, not the parser's internals.
    throw new ConfigError([`${fileName}: invalid YAML: nested too deeply`]);
  }
  const errors: { offset?: number; message: string }[] = doc.errors.map((e) => ({
    offset: e.pos?.[0],
    message: e.message.split("\n")[0]!,
  }));
  if (errors.length === 0) {
    for (const offset of duplicateKeyOffsets(doc.contents)) {
      errors.push({ offset, message: "Map keys must be unique" });
    }
  }
  if (errors.length > 0) {
    throw new ConfigError(
      errors.map((e) => {
        const pos = e.offset !== undefined ? lineCounter.linePos(e.offset) : undefined;
        const where = pos ? `${fileName}:${pos.line}:${pos.col}` : fileName;
        return `${where}: invalid YAML: ${e.message}`;
      }),
    );
  }
  let value: unknown;
  try {
    // Counts alias expansions: plain anchor reuse (hundreds of targets sharing
    // `headers: *auth`) passes, an exponential alias bomb does not.
    value = doc.toJS({ maxAliasCount: 10_000 });
  } catch (e) {
    const message = e instanceof RangeError ? "nested too deeply" : (e as Error).message;
    throw new ConfigError([`${fileName}: invalid YAML: ${message}`]);
  }
  // The line of a field is the line of its key (or of the list item). A field
  // missing from the file gets the line of its nearest ancestor that is there;
  // a path not in the file at all (a flag) has no line.
  const lineOf = (path: Path): number | undefined => {
    let node: unknown = doc.contents;
    let range: [number, number, number] | undefined;
    for (const key of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && p.key.value === key);
        if (!pair) break;
        range = (pair.key as { range?: [number, number, number] }).range;
        node = pair.value;
      } else if (isSeq(node) && typeof key === "number") {
        const item = node.items[key] as { range?: [number, number, number] } | undefined;
        if (!item) break;
        range = item.range;
        node = item;
      } else break;
    }
    return range ? lineCounter.linePos(range[0]).line : undefined;
  };
  return { value, lineOf };
}

/**
 * Builds a validated {@linkcode Config} from YAML text (or none) and overrides.
 *
 * @param text YAML text of the config file, or `undefined` for no file.
 * @param overrides values from flags and environment, stronger than the file.
 * @throws {ConfigError} listing every problem found.
 */
export function buildConfig(
  text: string | undefined,
  overrides: ConfigOverrides = {},
  options: BuildConfigOptions = {},
): Config {
  const fileName = options.fileName ?? "config";
  const env = options.env ?? {};
  let raw: unknown = {};
  let lineOf: (path: Path) => number | undefined = () => undefined;
  if (text !== undefined) {
    if (text.length > DEFAULTS.maxFileBytes) {
      throw new ConfigError([
        `${fileName}: file is larger than ${DEFAULTS.maxFileBytes} bytes`,
      ]);
    }
    const parsed = parseYaml(text, fileName);
    raw = parsed.value ?? {};
    lineOf = parsed.lineOf;
  }
  const problems = new Problems(lineOf);
  if (!isObject(raw)) {
    throw new ConfigError([`${fileName}: the top level must be a mapping`]);
  }
  checkKeys(raw, TOP_KEYS, [], problems);

  const global = raw.global ?? {};
  let metricPrefix: string = DEFAULTS.metricPrefix;
  let maxConcurrentChecks: number = DEFAULTS.maxConcurrentChecks;
  let histogramBuckets: number[] = [...DEFAULTS.histogramBuckets];
  if (!isObject(global)) problems.add(["global"], "must be a mapping");
  else {
    checkKeys(global, GLOBAL_KEYS, ["global"], problems);
    if (global.metric_prefix !== undefined) {
      if (typeof global.metric_prefix !== "string") {
        problems.add(["global", "metric_prefix"], "must be a string");
      } else metricPrefix = global.metric_prefix;
    }
    if (global.max_concurrent_checks !== undefined) {
      const n = global.max_concurrent_checks;
      if (typeof n !== "number" || !Number.isInteger(n) || n < 1) {
        problems.add(["global", "max_concurrent_checks"], "must be a whole number of at least 1");
      } else maxConcurrentChecks = n;
    }
    if (global.histogram_buckets !== undefined) {
      histogramBuckets = checkBuckets(global.histogram_buckets, problems) ?? histogramBuckets;
    }
  }
  if (overrides.metricPrefix !== undefined) metricPrefix = overrides.metricPrefix;
  if (!METRIC_PREFIX_RE.test(metricPrefix)) {
    problems.add(
      overrides.metricPrefix !== undefined
        ? [overrides.sources?.metricPrefix ?? "--metric-prefix"]
        : ["global", "metric_prefix"],
      `'${metricPrefix}' is not a valid metric name prefix (letters, digits, _ and :, not starting with a digit)`,
    );
  }

  const secrets = new Set<string>();
  const rawDefaults = raw.defaults ?? {};
  let defaults: Raw = {};
  if (!isObject(rawDefaults)) problems.add(["defaults"], "must be a mapping");
  else {
    checkKeys(rawDefaults, SETTING_KEYS, ["defaults"], problems);
    defaults = rawDefaults;
  }

  let rawTargets: unknown[];
  let targetBase: Path = ["targets"];
  if (overrides.targets !== undefined) {
    rawTargets = overrides.targets.map((url) => ({ url }));
    targetBase = [overrides.sources?.targets ?? "--target"];
  } else if (raw.targets === undefined) {
    rawTargets = DEFAULT_TARGETS.map((url) => ({ url }));
  } else if (!Array.isArray(raw.targets)) {
    problems.add(["targets"], "must be a list of targets");
    rawTargets = [];
  } else {
    rawTargets = raw.targets;
  }

  const context: TargetContext = { defaults, overrides, env, secrets, problems };
  const targets: TargetConfig[] = [];
  const seen = new Map<string, number>();
  rawTargets.forEach((rawTarget, i) => {
    const path = [...targetBase, i];
    const target = resolveTarget(rawTarget, path, context);
    if (!target) return;
    const identity = JSON.stringify([target.displayUrl, Object.entries(target.labels).sort()]);
    const first = seen.get(identity);
    if (first !== undefined) {
      problems.add(
        path,
        `duplicate target: same url and labels as '${formatPath([...targetBase, first])}'`,
      );
      return;
    }
    seen.set(identity, i);
    targets.push(target);
  });

  if (problems.list.length > 0) throw new ConfigError(problems.list);
  return {
    metricPrefix,
    maxConcurrentChecks,
    histogramBuckets,
    targets,
    secrets: [...secrets],
  };
}

function checkBuckets(value: unknown, problems: Problems): number[] | undefined {
  const path = ["global", "histogram_buckets"];
  if (!Array.isArray(value) || value.some((b) => typeof b !== "number" || !Number.isFinite(b))) {
    problems.add(path, "must be a list of numbers (seconds); [] turns the histogram off");
    return undefined;
  }
  for (let i = 1; i < value.length; i++) {
    if (value[i] <= value[i - 1]) {
      problems.add(path, "buckets must be in increasing order");
      return undefined;
    }
  }
  return value as number[];
}

interface TargetContext {
  defaults: Raw;
  overrides: ConfigOverrides;
  env: Readonly<Record<string, string | undefined>>;
  secrets: Set<string>;
  problems: Problems;
}

/** Expands `${VAR}` references; an unset or malformed reference is a problem. */
function expandEnv(value: string, path: Path, ctx: TargetContext): string {
  return value.replace(ENV_REF_RE, (_match, name: string) => {
    if (!ENV_NAME_RE.test(name)) {
      ctx.problems.add(path, `'\${${name}}' is not a valid environment variable reference`);
      return "";
    }
    const v = ctx.env[name];
    if (v === undefined) {
      ctx.problems.add(path, `environment variable ${name} is not set`);
      return "";
    }
    ctx.secrets.add(v);
    return v;
  });
}

function resolveTarget(raw: unknown, path: Path, ctx: TargetContext): TargetConfig | undefined {
  const { problems, defaults } = ctx;
  if (typeof raw === "string") raw = { url: raw };
  if (!isObject(raw)) {
    problems.add(path, "must be a mapping with at least 'url'");
    return undefined;
  }
  checkKeys(raw, TARGET_KEYS, path, problems);
  const before = problems.list.length;
  // Where a setting comes from decides the path in error messages.
  const pick = (key: string): { value: unknown; path: Path } =>
    raw[key] !== undefined
      ? { value: raw[key], path: [...path, key] }
      : { value: defaults[key], path: ["defaults", key] };

  // url
  let url = "";
  let displayUrl = "";
  let urlUser = "";
  let urlPassword = "";
  if (typeof raw.url !== "string" || raw.url === "") {
    problems.add([...path, "url"], "is required and must be a string");
  } else {
    displayUrl = redactUrl(raw.url);
    let parsed: URL | undefined;
    try {
      parsed = new URL(raw.url);
    } catch {
      problems.add([...path, "url"], `'${displayUrl}' is not a valid URL`);
    }
    if (parsed && parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      problems.add(
        [...path, "url"],
        `scheme '${parsed.protocol}' is not supported (use http or https)`,
      );
    } else if (parsed) {
      // Normalised, so `https://a.example` and `https://a.example/` are one target.
      displayUrl = redactUrl(parsed.href);
      const split = splitCredentials(raw.url);
      url = split.url;
      urlUser = split.username;
      urlPassword = split.password;
      if (urlPassword) ctx.secrets.add(urlPassword);
    }
  }

  // durations
  const duration = (key: string, fallback: number, override?: number): number => {
    const { value, path: p } = pick(key);
    if (raw[key] === undefined && override !== undefined) return override;
    if (value === undefined) return fallback;
    const ms = parseDuration(value);
    if (ms === undefined) {
      problems.add(p, `'${value}' is not a duration (use e.g. 250ms, 10s, 1m, or seconds)`);
      return fallback;
    }
    if (ms <= 0) problems.add(p, "must be positive");
    return ms;
  };
  const intervalMs = duration("interval", DEFAULTS.intervalMs, ctx.overrides.intervalMs);
  // Without an explicit timeout, the default never exceeds the interval.
  const timeoutMs = duration(
    "timeout",
    Math.min(DEFAULTS.timeoutMs, intervalMs),
    ctx.overrides.timeoutMs,
  );
  if (timeoutMs > intervalMs) {
    // Blame the target's own setting; when both come from defaults, blame defaults once.
    const where: Path = raw.timeout !== undefined
      ? [...path, "timeout"]
      : raw.interval !== undefined
      ? [...path, "interval"]
      : ctx.overrides.timeoutMs !== undefined
      ? [ctx.overrides.sources?.timeoutMs ?? "--timeout"]
      : ["defaults", "timeout"];
    problems.add(
      where,
      `timeout (${timeoutMs}ms) must not be longer than interval (${intervalMs}ms)`,
    );
  }

  // method and body
  const m = pick("method");
  const method = m.value === undefined ? DEFAULTS.method : String(m.value).toUpperCase();
  if (!METHODS.includes(method)) {
    problems.add(m.path, `'${m.value}' is not a supported method (${METHODS.join(", ")})`);
  }
  const b = pick("body");
  let body: string | undefined;
  if (b.value !== undefined) {
    if (typeof b.value !== "string") problems.add(b.path, "must be a string");
    else body = expandEnv(b.value, b.path, ctx);
    if (method === "GET" || method === "HEAD") {
      problems.add(b.path, `a ${method} request cannot have a body`);
    }
  }

  // headers: defaults first, then the target's own (same name: the target wins)
  const headers: Record<string, string> = {};
  const credentialHeaders = new Set<string>();
  for (const source of [["defaults"], path] as Path[]) {
    const rawHeaders = source[0] === "defaults" ? defaults.headers : raw.headers;
    if (rawHeaders === undefined) continue;
    const hp = [...source, "headers"];
    if (!isObject(rawHeaders)) {
      problems.add(hp, "must be a mapping of header name to value");
      continue;
    }
    for (const [name, value] of Object.entries(rawHeaders)) {
      if (!HEADER_NAME_RE.test(name)) problems.add([...hp, name], "is not a valid header name");
      if (typeof value !== "string" && typeof value !== "number") {
        problems.add([...hp, name], "must be a string");
        continue;
      }
      const lower = name.toLowerCase();
      headers[lower] = expandEnv(String(value), [...hp, name], ctx);
      if (String(value).includes("${")) credentialHeaders.add(lower);
    }
  }

  // basic auth: `basic_auth` or credentials in the URL
  const ba = pick("basic_auth");
  let authUser = urlUser;
  let authPassword = urlPassword;
  if (ba.value !== undefined) {
    if (!isObject(ba.value) || typeof ba.value.username !== "string") {
      problems.add(ba.path, "must be a mapping with 'username' and optional 'password'");
    } else {
      checkKeys(ba.value, ["username", "password"], ba.path, problems);
      authUser = expandEnv(ba.value.username, [...ba.path, "username"], ctx);
      const pw = ba.value.password ?? "";
      authPassword = expandEnv(String(pw), [...ba.path, "password"], ctx);
      if (authPassword) ctx.secrets.add(authPassword);
    }
  }
  if (authUser || authPassword) {
    const token = btoa(
      String.fromCharCode(...new TextEncoder().encode(`${authUser}:${authPassword}`)),
    );
    headers["authorization"] = `Basic ${token}`;
    ctx.secrets.add(token);
  }

  // status codes, body regex
  const sc = pick("valid_status_codes");
  const parsedCodes = parseStatusCodes(sc.value ?? DEFAULTS.validStatusCodes);
  if (typeof parsedCodes === "string") problems.add(sc.path, parsedCodes);
  const br = pick("body_regex");
  let bodyRegex: RegExp | undefined;
  if (br.value !== undefined) {
    try {
      if (typeof br.value !== "string") throw new Error("must be a string");
      bodyRegex = new RegExp(br.value);
    } catch (e) {
      problems.add(br.path, `is not a valid regular expression: ${(e as Error).message}`);
    }
  }

  // redirects, body limit
  const fr = pick("follow_redirects");
  if (fr.value !== undefined && typeof fr.value !== "boolean") {
    problems.add(fr.path, "must be true or false");
  }
  const followRedirects = typeof fr.value === "boolean" ? fr.value : DEFAULTS.followRedirects;
  const mr = pick("max_redirects");
  let maxRedirects: number = DEFAULTS.maxRedirects;
  if (mr.value !== undefined) {
    if (typeof mr.value !== "number" || !Number.isInteger(mr.value) || mr.value < 0) {
      problems.add(mr.path, "must be a whole number of at least 0");
    } else maxRedirects = mr.value;
  }
  const bl = pick("body_limit");
  let bodyLimit: number = DEFAULTS.bodyLimit;
  if (bl.value !== undefined) {
    const n = parseByteSize(bl.value);
    if (n === undefined) {
      problems.add(bl.path, `'${bl.value}' is not a size (use e.g. 64KiB, 1MiB, or bytes)`);
    } else bodyLimit = n;
  }
  const ca = pick("tls_ca_file");
  if (ca.value !== undefined && typeof ca.value !== "string") {
    problems.add(ca.path, "must be a file path");
  }
  const tlsCaFile = typeof ca.value === "string" ? ca.value : undefined;

  // labels: defaults' then the target's own
  const labels: Record<string, string> = {};
  for (
    const [source, rawLabels] of [[["defaults"], defaults.labels], [path, raw.labels]] as [
      Path,
      unknown,
    ][]
  ) {
    if (rawLabels === undefined) continue;
    const lp = [...source, "labels"];
    if (!isObject(rawLabels)) {
      problems.add(lp, "must be a mapping of label name to value");
      continue;
    }
    for (const [name, value] of Object.entries(rawLabels)) {
      if (!LABEL_NAME_RE.test(name) || name.startsWith("__")) {
        problems.add(
          [...lp, name],
          "is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)",
        );
      } else if (RESERVED_LABELS.includes(name)) {
        problems.add([...lp, name], `is reserved (${RESERVED_LABELS.join(", ")})`);
      }
      if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
        problems.add([...lp, name], "must be a string");
      }
      labels[name] = String(value);
    }
  }

  if (problems.list.length > before || typeof parsedCodes === "string") return undefined;
  for (const name of ["authorization", "cookie", "proxy-authorization"]) {
    if (name in headers) credentialHeaders.add(name);
  }
  const target = {
    url,
    displayUrl,
    method,
    headers,
    credentialHeaders: [...credentialHeaders].sort(),
    body,
    validStatusCodes: parsedCodes,
    bodyRegex,
    intervalMs,
    timeoutMs,
    followRedirects,
    maxRedirects,
    bodyLimit,
    tlsCaFile,
    labels,
  };
  const key = JSON.stringify({
    ...target,
    bodyRegex: bodyRegex?.source,
    validStatusCodes: parsedCodes.source,
  });
  return { ...target, key };
}
