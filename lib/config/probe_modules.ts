/**
 * The `/probe` configuration: blackbox_exporter's `modules:` format (from
 * `--probe.modules-file`, a `blackbox.yml`, or the `probe.modules` section of
 * our own config file) turned into {@linkcode ProbeModule}s, and the `probe:`
 * section (`enabled`, `allowed_targets`, `modules`) into
 * {@linkcode ProbeSettings}. Only the `http` prober is supported; every key
 * of blackbox's format is either supported ({@linkcode MODULE_KEYS}) or
 * refused with its reason ({@linkcode REFUSED_MODULE_KEYS}) and its line,
 * never ignored.
 *
 * Values are taken as blackbox_exporter 0.23 takes them: Go durations
 * (`1m30s`), base-2 sizes (`10MB` is 10 MiB), no `${VAR}` expansion (secrets
 * come from `*_file` keys, read at load and on every reload).
 *
 * @module
 */

import { type BodyPattern, parseBodyRegex } from "./body_regex.ts";
import { type AllowList, parseAllowList } from "../check/target_guard.ts";
import { formatYamlError, parseYaml } from "../util/yaml.ts";
import { checkKeys, isObject, type Path, Problems, type Raw } from "./problems.ts";
import { HEADER_NAME_RE, METHODS, type TargetConfig } from "./schema.ts";
import { parseStatusCodes, type StatusMatcher } from "./status_codes.ts";

/**
 * One http module, resolved: the request settings of a target (without its
 * URL, timing and body limit, which each request sets) plus blackbox's own.
 */
export interface ProbeModule extends
  Pick<
    TargetConfig,
    "method" | "headers" | "credentialHeaders" | "body" | "validStatusCodes" | "followRedirects"
  > {
  readonly name: string;
  /** The module's `timeout`, ms; 0 when unset (the scrape timeout decides, as in blackbox). */
  readonly timeoutMs: number;
  readonly failIfSsl: boolean;
  readonly failIfNotSsl: boolean;
  /** The check fails when the body matches any of these. */
  readonly failIfBodyMatches: readonly BodyPattern[];
  /** The check fails when the body does not match each of these. */
  readonly failIfBodyNotMatches: readonly BodyPattern[];
  /** `body_size_limit` in bytes: a longer body fails the check. 0: none. */
  readonly bodySizeLimit: number;
  /** `tls_config.ca_file`: extra CA certificates to trust. */
  readonly tlsCaFile?: string;
  readonly preferredIpProtocol: "ip4" | "ip6";
  readonly ipProtocolFallback: boolean;
  /** The module as written, secrets replaced by `<secret>` (for the debug account). */
  readonly shown: Readonly<Raw>;
}

/** The `probe:` section, resolved. */
export interface ProbeSettings {
  /** Whether `/probe` answers at all. Default: false. */
  readonly enabled: boolean;
  readonly allowedTargets: AllowList;
  /** The allow-list entries as written (for messages and the debug account). */
  readonly allowedTargetsSource: readonly string[];
  readonly modules: ReadonlyMap<string, ProbeModule>;
}

/** `/probe` turned off: what a config without a `probe:` section gets. */
export const PROBE_DISABLED: ProbeSettings = Object.freeze({
  enabled: false,
  allowedTargets: Object.freeze({ rules: Object.freeze([]) }),
  allowedTargetsSource: Object.freeze([]),
  modules: new Map(),
});

/** Keys of our config file's `probe:` section. */
export const PROBE_SECTION_KEYS = ["enabled", "allowed_targets", "modules"] as const;

/**
 * Every blackbox module key this exporter supports, with what it does here
 * (docs/migrating.md's "Module keys" table lists the same rows).
 */
export const MODULE_KEYS: readonly { readonly key: string; readonly ours: string }[] = [
  { key: "prober", ours: "must be `http`" },
  {
    key: "timeout",
    ours: "the check's timeout, capped by the scrape timeout header minus 0.5 s (blackbox's rule)",
  },
  { key: "http.valid_status_codes", ours: "accepted codes (default 2xx); `2xx` and ranges too" },
  { key: "http.method", ours: "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS" },
  { key: "http.headers", ours: "request headers (not `Host`: fetch cannot set it)" },
  { key: "http.body", ours: "request body (not with GET or HEAD: fetch refuses)" },
  { key: "http.body_file", ours: "request body from a file, read at load and reload" },
  { key: "http.follow_redirects", ours: "default true; at most 10 redirects, as blackbox" },
  { key: "http.no_follow_redirects", ours: "the deprecated inverse of follow_redirects" },
  { key: "http.fail_if_ssl", ours: "fails when the final response came over https" },
  { key: "http.fail_if_not_ssl", ours: "fails when the final response did not" },
  {
    key: "http.fail_if_body_matches_regexp",
    ours: "fails when the body matches any (RE2 syntax, as Go's regexp: `(?i)` etc.)",
  },
  {
    key: "http.fail_if_body_not_matches_regexp",
    ours: "fails unless the body matches each",
  },
  {
    key: "http.body_size_limit",
    ours: "a longer body fails the check (`10MB` = 10 MiB, as blackbox); default: read 1 MiB",
  },
  { key: "http.basic_auth", ours: "`username`, `password`, `password_file`" },
  { key: "http.bearer_token", ours: "`Authorization: Bearer …`" },
  { key: "http.bearer_token_file", ours: "the token from a file (trimmed), read at load" },
  { key: "http.authorization", ours: "`type` (default Bearer), `credentials`, `credentials_file`" },
  { key: "http.tls_config.ca_file", ours: "extra CA certificates to trust" },
  {
    key: "http.tls_config.insecure_skip_verify",
    ours: "`false` only: fetch always verifies certificates",
  },
  {
    key: "http.preferred_ip_protocol",
    ours: "`ip4`/`ip6`; with `ip_protocol_fallback: false` the target must have an address " +
      "of that family, else `dns`; which address fetch connects to is fetch's choice",
  },
  { key: "http.ip_protocol_fallback", ours: "see preferred_ip_protocol (default true)" },
  { key: "http.enable_http2", ours: "`true` only (fetch negotiates HTTP/2 by ALPN)" },
  { key: "http.skip_resolve_phase_with_proxy", ours: "`false` only (no proxies)" },
];

/** Blackbox keys refused at load, grouped by why. */
const REFUSED_GROUPS: readonly { readonly why: string; readonly keys: readonly string[] }[] = [
  {
    why: "only the http prober is supported",
    keys: ["tcp", "icmp", "dns", "grpc", "unix", "websocket"],
  },
  { why: "fetch does not tell which HTTP version answered", keys: ["http.valid_http_versions"] },
  {
    why: "header matchers are not implemented",
    keys: ["http.fail_if_header_matches", "http.fail_if_header_not_matches"],
  },
  {
    why: "fetch decompresses bodies itself and cannot be told to expect one coding",
    keys: ["http.compression"],
  },
  { why: "OAuth 2.0 client credentials are not implemented", keys: ["http.oauth2"] },
  {
    why: "proxies are not supported (the SSRF guard checks the target)",
    keys: ["http.proxy_url"],
  },
  {
    why: "proxies are not supported",
    keys: ["http.no_proxy", "http.proxy_from_environment", "http.proxy_connect_header"],
  },
  { why: "use `headers`", keys: ["http.http_headers"] },
  { why: "fetch has no HTTP/3", keys: ["http.enable_http3"] },
  {
    why: "CEL expressions are not implemented",
    keys: ["http.fail_if_body_json_matches_cel", "http.fail_if_body_json_not_matches_cel"],
  },
  {
    why: "client certificates are not implemented",
    keys: [
      "http.tls_config.cert_file",
      "http.tls_config.key_file",
      "http.tls_config.cert",
      "http.tls_config.key",
    ],
  },
  { why: "use ca_file", keys: ["http.tls_config.ca"] },
  { why: "fetch cannot set the TLS server name", keys: ["http.tls_config.server_name"] },
  {
    why: "fetch cannot limit TLS versions",
    keys: ["http.tls_config.min_version", "http.tls_config.max_version"],
  },
];

/** Blackbox keys refused at load, and why (docs/migrating.md's table lists them too). */
export const REFUSED_MODULE_KEYS: readonly { readonly key: string; readonly why: string }[] =
  REFUSED_GROUPS.flatMap((g) => g.keys.map((key) => ({ key, why: g.why })));

const SUPPORTED = new Set(MODULE_KEYS.map((k) => k.key));
const REFUSED = new Map(REFUSED_MODULE_KEYS.map((k) => [k.key, k.why]));
/** Keys allowed in a module, under `http:` and under `http.tls_config:`. */
const LEVEL_KEYS = {
  module: ["prober", "timeout", "http"],
  http: keysUnder("http."),
  tls: keysUnder("http.tls_config."),
};
const BASIC_AUTH_KEYS = ["username", "password", "password_file"];
const AUTHORIZATION_KEYS = ["type", "credentials", "credentials_file"];
/** Most bytes read from a `*_file`. */
const MAX_SECRET_FILE_BYTES = 1024 * 1024;

function keysUnder(prefix: string): string[] {
  return [...SUPPORTED].filter((k) => k.startsWith(prefix) && !k.slice(prefix.length).includes("."))
    .map((k) => k.slice(prefix.length))
    .concat(prefix === "http." ? ["tls_config"] : []);
}

/** What resolving modules needs. */
export interface ModulesContext {
  readonly problems: Problems;
  /** Receives every value never to be shown (passwords, tokens, file contents). */
  readonly secrets: Set<string>;
  /** Reads a `*_file` (default: a bounded synchronous read). */
  readonly readFile?: (path: string) => string;
}

/**
 * Resolves a `modules:` mapping (module name → module).
 *
 * @param at the path of the mapping (`["modules"]`, or `["probe", "modules"]`).
 * @returns the modules that have no problem (each problem goes to `ctx.problems`).
 *
 * @example
 * ```ts
 * const problems = new Problems(() => undefined);
 * const modules = resolveModules({ http_2xx: { prober: "http" } }, ["modules"], {
 *   problems,
 *   secrets: new Set(),
 * });
 * modules.get("http_2xx")?.validStatusCodes.test(204); // true
 * ```
 */
export function resolveModules(
  raw: unknown,
  at: Path,
  ctx: ModulesContext,
): Map<string, ProbeModule> {
  const modules = new Map<string, ProbeModule>();
  if (raw === undefined || raw === null) return modules;
  if (!isObject(raw)) {
    ctx.problems.add(at, "must be a mapping of module name to module");
    return modules;
  }
  for (const [name, value] of Object.entries(raw)) {
    const module = resolveModule(name, value, [...at, name], ctx);
    if (module) modules.set(name, module);
  }
  return modules;
}

/**
 * Parses a blackbox_exporter module file (`modules:` at the top). Problems
 * are prefixed with the file name.
 *
 * @returns the modules and every problem found (empty when the file is good).
 */
export function parseModulesFile(
  text: string,
  fileName: string,
  options: { secrets: Set<string>; readFile?: (path: string) => string },
): { modules: Map<string, ProbeModule>; problems: string[] } {
  const parsed = parseYaml(text);
  if (!parsed.ok) {
    return { modules: new Map(), problems: parsed.error.map((e) => formatYamlError(fileName, e)) };
  }
  const problems = new Problems(parsed.value.lineOf);
  const raw = parsed.value.value ?? {};
  let modules = new Map<string, ProbeModule>();
  if (!isObject(raw)) problems.add([], "the top level must be a mapping with 'modules'");
  else {
    checkKeys(raw, ["modules"], { path: [], problems });
    modules = resolveModules(raw.modules, ["modules"], { ...options, problems });
  }
  return { modules, problems: problems.ordered().map((p) => `${fileName}: ${p}`) };
}

/**
 * Resolves our config file's `probe:` section, adding the modules of the
 * module file (`fromFile`); a module name defined in both is a problem.
 */
export function resolveProbeSection(
  raw: unknown,
  ctx: ModulesContext & { fromFile?: { modules: Map<string, ProbeModule>; fileName: string } },
): ProbeSettings {
  const { problems } = ctx;
  const fileModules = ctx.fromFile?.modules ?? new Map<string, ProbeModule>();
  if (raw === undefined || raw === null) return { ...PROBE_DISABLED, modules: fileModules };
  if (!isObject(raw)) {
    problems.add(["probe"], "must be a mapping (enabled, allowed_targets, modules)");
    return PROBE_DISABLED;
  }
  checkKeys(raw, PROBE_SECTION_KEYS, { path: ["probe"], problems });
  let enabled = false;
  if (raw.enabled !== undefined) {
    if (typeof raw.enabled !== "boolean") {
      problems.add(["probe", "enabled"], "must be true or false");
    } else enabled = raw.enabled;
  }
  let allowedTargets: AllowList = PROBE_DISABLED.allowedTargets;
  let allowedTargetsSource: string[] = [];
  const list = raw.allowed_targets;
  if (list !== undefined && list !== null) {
    if (!Array.isArray(list)) {
      problems.add(
        ["probe", "allowed_targets"],
        "must be a list of host names, *.domains or CIDRs",
      );
    } else {
      const parsed = parseAllowList(list);
      if (!parsed.ok) {
        for (const e of parsed.error) {
          problems.add(["probe", "allowed_targets", e.index], e.message);
        }
      } else {
        allowedTargets = parsed.value;
        allowedTargetsSource = parsed.value.rules.map((r) => r.source);
      }
    }
  }
  if (enabled && (!Array.isArray(list) || list.length === 0)) {
    problems.add(
      ["probe", "allowed_targets"],
      "must list at least one entry when probe.enabled is true (every target would be refused)",
    );
  }
  const own = resolveModules(raw.modules, ["probe", "modules"], ctx);
  const modules = new Map(fileModules);
  for (const [name, module] of own) {
    if (modules.has(name)) {
      problems.add(
        ["probe", "modules", name],
        `module '${name}' is also defined in ${ctx.fromFile?.fileName ?? "the module file"}`,
      );
    } else modules.set(name, module);
  }
  return { enabled, allowedTargets, allowedTargetsSource, modules };
}

// ---------------------------------------------------------------- one module

/** One module being resolved: where it is and the shared context. */
interface Scope extends ModulesContext {
  readonly path: Path;
}

function resolveModule(
  name: string,
  raw: unknown,
  path: Path,
  ctx: ModulesContext,
): ProbeModule | undefined {
  if (!isObject(raw)) {
    ctx.problems.add(path, "must be a mapping with at least 'prober: http'");
    return undefined;
  }
  const before = ctx.problems.list.length;
  const s: Scope = { ...ctx, path };
  checkLevel(raw, LEVEL_KEYS.module, "", s);
  if (raw.prober === undefined) s.problems.add([...path, "prober"], "is required (prober: http)");
  else if (raw.prober !== "http") {
    s.problems.add(
      [...path, "prober"],
      `prober '${String(raw.prober)}' is not supported: only http is (not icmp, tcp, dns, grpc)`,
    );
  }
  const timeoutMs = raw.timeout === undefined
    ? 0
    : goDuration(raw.timeout, [...path, "timeout"], s);
  const http = raw.http ?? {};
  const hp = [...path, "http"];
  if (!isObject(http)) {
    s.problems.add(hp, "must be a mapping");
    return undefined;
  }
  checkLevel(http, LEVEL_KEYS.http, "http.", { ...s, path: hp });
  const h = { ...s, path: hp };

  const validStatusCodes = statusCodes(http.valid_status_codes, h);
  const method = http.method === undefined ? "GET" : String(http.method).toUpperCase();
  if (!METHODS.includes(method)) {
    s.problems.add(
      [...hp, "method"],
      `'${http.method}' is not a supported method (${METHODS.join(", ")})`,
    );
  }
  const body = requestBody(http, method, h);
  const headers = requestHeaders(http.headers, h);
  const credentialHeaders = new Set(
    ["authorization", "cookie", "proxy-authorization"].filter((n) => n in headers),
  );
  for (const n of credentialHeaders) s.secrets.add(headers[n]!);
  const authorization = auth(http, h);
  if (authorization !== undefined && headers.authorization === undefined) {
    // A module's own Authorization header wins, as in blackbox (its auth round tripper yields).
    headers.authorization = authorization;
    credentialHeaders.add("authorization");
  }
  // Blackbox's Go client asks for no compression; fetch would ask for gzip and br.
  headers["accept-encoding"] ??= "identity";

  const followRedirects = redirects(http, h);
  const failIfSsl = flag(http, "fail_if_ssl", false, h);
  const failIfNotSsl = flag(http, "fail_if_not_ssl", false, h);
  const failIfBodyMatches = regexps(http, "fail_if_body_matches_regexp", h);
  const failIfBodyNotMatches = regexps(http, "fail_if_body_not_matches_regexp", h);
  const bodySizeLimit = http.body_size_limit === undefined
    ? 0
    : base2Bytes(http.body_size_limit, [...hp, "body_size_limit"], s);
  const tlsCaFile = tlsConfig(http.tls_config, h);
  const preferred = http.preferred_ip_protocol ?? "ip6";
  if (preferred !== "ip4" && preferred !== "ip6") {
    s.problems.add([...hp, "preferred_ip_protocol"], `'${preferred}' is not ip4 or ip6`);
  }
  const ipProtocolFallback = flag(http, "ip_protocol_fallback", true, h);
  onlyValue(http, "enable_http2", true, "fetch negotiates HTTP/2 itself", h);
  onlyValue(http, "skip_resolve_phase_with_proxy", false, "proxies are not supported", h);

  if (ctx.problems.list.length > before) return undefined;
  return {
    name,
    timeoutMs,
    method,
    headers,
    credentialHeaders: [...credentialHeaders].sort(),
    body,
    validStatusCodes: validStatusCodes!,
    followRedirects,
    failIfSsl,
    failIfNotSsl,
    failIfBodyMatches,
    failIfBodyNotMatches,
    bodySizeLimit,
    tlsCaFile,
    preferredIpProtocol: preferred as "ip4" | "ip6",
    ipProtocolFallback,
    shown: masked(raw),
  };
}

/** Reports unknown and refused keys of one level (`prefix` is the level's key path). */
function checkLevel(raw: Raw, allowed: readonly string[], prefix: string, s: Scope): void {
  for (const key of Object.keys(raw)) {
    if (allowed.includes(key)) continue;
    const why = REFUSED.get(prefix + key);
    s.problems.add(
      [...s.path, key],
      why !== undefined
        ? `is not supported: ${why}`
        : `unknown key (supported: ${allowed.join(", ")})`,
    );
  }
}

function flag(http: Raw, key: string, fallback: boolean, s: Scope): boolean {
  const v = http[key];
  if (v === undefined) return fallback;
  if (typeof v !== "boolean") {
    s.problems.add([...s.path, key], "must be true or false");
    return fallback;
  }
  return v;
}

function onlyValue(http: Raw, key: string, value: boolean, why: string, s: Scope): void {
  const v = flag(http, key, value, s);
  if (v !== value) s.problems.add([...s.path, key], `${key}: ${v} is not supported: ${why}`);
}

/** Blackbox's default when `valid_status_codes` is unset or empty. */
const TWO_XX: StatusMatcher = (parseStatusCodes("2xx") as { value: StatusMatcher }).value;

function statusCodes(value: unknown, s: Scope): StatusMatcher | undefined {
  const path = [...s.path, "valid_status_codes"];
  if (value === undefined || (Array.isArray(value) && value.length === 0)) {
    return TWO_XX;
  }
  const codes = parseStatusCodes(value);
  if (!codes.ok) {
    for (const { index, message } of codes.error) {
      s.problems.add(index === undefined ? path : [...path, index], message);
    }
    return undefined;
  }
  return codes.value;
}

function requestBody(http: Raw, method: string, s: Scope): string | undefined {
  let body: string | undefined;
  if (http.body !== undefined && http.body_file !== undefined) {
    s.problems.add([...s.path, "body_file"], "set body or body_file, not both");
  }
  if (http.body !== undefined) {
    if (typeof http.body !== "string") s.problems.add([...s.path, "body"], "must be a string");
    else body = http.body;
  } else if (http.body_file !== undefined) {
    body = readFile(http.body_file, [...s.path, "body_file"], s, { trim: false });
  }
  if (body !== undefined && body !== "" && (method === "GET" || method === "HEAD")) {
    s.problems.add(
      [...s.path, http.body !== undefined ? "body" : "body_file"],
      `a ${method} request cannot have a body (fetch refuses it)`,
    );
  }
  return body === "" ? undefined : body;
}

function requestHeaders(raw: unknown, s: Scope): Record<string, string> {
  const headers: Record<string, string> = {};
  if (raw === undefined || raw === null) return headers;
  const path = [...s.path, "headers"];
  if (!isObject(raw)) {
    s.problems.add(path, "must be a mapping of header name to value");
    return headers;
  }
  for (const [name, value] of Object.entries(raw)) {
    const p = [...path, name];
    if (!HEADER_NAME_RE.test(name)) s.problems.add(p, "is not a valid header name");
    else if (name.toLowerCase() === "host") {
      s.problems.add(p, "is not supported: fetch cannot set the Host header");
    }
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
      s.problems.add(p, "must be a string");
      continue;
    }
    headers[name.toLowerCase()] = String(value);
  }
  return headers;
}

/** The Authorization value from basic_auth, bearer_token(_file) or authorization. */
function auth(http: Raw, s: Scope): string | undefined {
  const given = ["basic_auth", "bearer_token", "bearer_token_file", "authorization"].filter((k) =>
    http[k] !== undefined
  );
  if (given.length > 1) {
    s.problems.add([...s.path, given[1]!], `set at most one of ${given.join(", ")}`);
    return undefined;
  }
  const secret = (value: string) => {
    if (value) s.secrets.add(value);
    return value;
  };
  if (http.basic_auth !== undefined) {
    const p = [...s.path, "basic_auth"];
    const ba = http.basic_auth;
    if (!isObject(ba)) {
      s.problems.add(p, "must be a mapping with username and password or password_file");
      return undefined;
    }
    checkKeys(ba, BASIC_AUTH_KEYS, { path: p, problems: s.problems });
    if (ba.password !== undefined && ba.password_file !== undefined) {
      s.problems.add([...p, "password_file"], "set password or password_file, not both");
    }
    const username = ba.username === undefined ? "" : String(ba.username);
    const password = ba.password_file !== undefined
      ? readFile(ba.password_file, [...p, "password_file"], s, { trim: true })
      : ba.password === undefined
      ? ""
      : String(ba.password);
    secret(password);
    const token = btoa(String.fromCharCode(...new TextEncoder().encode(`${username}:${password}`)));
    return `Basic ${secret(token)}`;
  }
  if (http.bearer_token !== undefined) {
    return `Bearer ${secret(String(http.bearer_token))}`;
  }
  if (http.bearer_token_file !== undefined) {
    const token = readFile(http.bearer_token_file, [...s.path, "bearer_token_file"], s, {
      trim: true,
    });
    return `Bearer ${secret(token)}`;
  }
  if (http.authorization !== undefined) {
    const p = [...s.path, "authorization"];
    const a = http.authorization;
    if (!isObject(a)) {
      s.problems.add(p, "must be a mapping with type and credentials or credentials_file");
      return undefined;
    }
    checkKeys(a, AUTHORIZATION_KEYS, { path: p, problems: s.problems });
    const type = a.type === undefined ? "Bearer" : String(a.type);
    if (type.toLowerCase() === "basic") {
      s.problems.add([...p, "type"], "authorization type Basic is not allowed: use basic_auth");
    }
    if (a.credentials !== undefined && a.credentials_file !== undefined) {
      s.problems.add([...p, "credentials_file"], "set credentials or credentials_file, not both");
    }
    const credentials = a.credentials_file !== undefined
      ? readFile(a.credentials_file, [...p, "credentials_file"], s, { trim: true })
      : String(a.credentials ?? "");
    return `${type} ${secret(credentials)}`;
  }
  return undefined;
}

function redirects(http: Raw, s: Scope): boolean {
  const follow = flag(http, "follow_redirects", true, s);
  if (http.no_follow_redirects === undefined) return follow;
  const noFollow = flag(http, "no_follow_redirects", false, s);
  if (http.follow_redirects !== undefined && follow === noFollow) {
    s.problems.add([...s.path, "no_follow_redirects"], "contradicts follow_redirects");
  }
  return !noFollow;
}

function tlsConfig(raw: unknown, s: Scope): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  const path = [...s.path, "tls_config"];
  if (!isObject(raw)) {
    s.problems.add(path, "must be a mapping");
    return undefined;
  }
  const t = { ...s, path };
  checkLevel(raw, LEVEL_KEYS.tls, "http.tls_config.", t);
  onlyValue(raw, "insecure_skip_verify", false, "fetch always verifies certificates", t);
  if (raw.ca_file === undefined) return undefined;
  if (typeof raw.ca_file !== "string" || raw.ca_file === "") {
    s.problems.add([...path, "ca_file"], "must be a file path");
    return undefined;
  }
  try {
    Deno.statSync(raw.ca_file);
  } catch (e) {
    s.problems.add([...path, "ca_file"], `cannot read ${raw.ca_file}: ${(e as Error).message}`);
  }
  return raw.ca_file;
}

/**
 * The module's regular expressions, checked as RE2 (Go's regexp syntax,
 * which blackbox_exporter uses: the same patterns mean the same thing) and
 * matched in linear time, like every body_regex.
 */
function regexps(http: Raw, key: string, s: Scope): BodyPattern[] {
  const value = http[key];
  if (value === undefined || value === null) return [];
  const path = [...s.path, key];
  if (!Array.isArray(value)) {
    s.problems.add(path, "must be a list of regular expressions");
    return [];
  }
  const out: BodyPattern[] = [];
  value.forEach((item, i) => {
    const pattern = parseBodyRegex(item);
    if (pattern.ok) out.push(pattern.value);
    else s.problems.add([...path, i], pattern.error);
  });
  return out;
}

const GO_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  "μs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** A Go duration (`5s`, `1m30s`, `1.5s`, `300ms`) in ms. */
function goDuration(value: unknown, path: Path, s: Scope): number {
  const bad = () => {
    s.problems.add(
      path,
      typeof value === "number"
        ? `${value} has no unit: write e.g. ${value}s (blackbox would read a bare number as nanoseconds)`
        : `'${value}' is not a duration (e.g. 5s, 1m30s, 500ms)`,
    );
    return 0;
  };
  if (typeof value !== "string") return bad();
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;
  let ms = 0;
  let at = 0;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    ms += Number(m[1]) * GO_UNITS[m[2]!]!;
    at = re.lastIndex;
  }
  if (value === "" || at !== value.length) return bad();
  if (ms < 0) return bad();
  return ms;
}

const BASE2: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1024,
  kib: 1024,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

/** A size as blackbox reads `body_size_limit` (alecthomas/units base 2: `10MB` is 10 MiB). */
function base2Bytes(value: unknown, path: Path, s: Scope): number {
  if (typeof value === "number" && Number.isInteger(value)) return Math.max(0, value);
  const m = typeof value === "string" ? /^(\d+)\s*([a-z]*)$/i.exec(value.trim()) : null;
  const unit = m ? BASE2[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    s.problems.add(path, `'${value}' is not a size (e.g. 10MB, 512KiB, or bytes)`);
    return 0;
  }
  return Number(m[1]) * unit;
}

function readFile(value: unknown, path: Path, s: Scope, options: { trim: boolean }): string {
  if (typeof value !== "string" || value === "") {
    s.problems.add(path, "must be a file path");
    return "";
  }
  let text: string;
  try {
    if (s.readFile) text = s.readFile(value);
    else {
      const info = Deno.statSync(value);
      if (info.size > MAX_SECRET_FILE_BYTES) {
        s.problems.add(path, `${value} is larger than ${MAX_SECRET_FILE_BYTES} bytes`);
        return "";
      }
      text = Deno.readTextFileSync(value);
    }
  } catch (e) {
    s.problems.add(path, `cannot read ${value}: ${(e as Error).message}`);
    return "";
  }
  return options.trim ? text.trim() : text;
}

const SECRET_KEYS = new Set(["password", "bearer_token", "credentials"]);
const SECRET_HEADERS = new Set(["authorization", "cookie", "proxy-authorization"]);

/** A deep copy of the module with every secret value replaced by `<secret>`. */
function masked(raw: Raw, parent = ""): Raw {
  const out: Raw = {};
  for (const [key, value] of Object.entries(raw)) {
    if (SECRET_KEYS.has(key) || (parent === "headers" && SECRET_HEADERS.has(key.toLowerCase()))) {
      out[key] = "<secret>";
    } else if (isObject(value)) out[key] = masked(value, key);
    else out[key] = value;
  }
  return out;
}
