/**
 * Resolves one entry of `targets` into a {@linkcode TargetConfig}: each
 * setting is the target's own or else the `defaults` one, `${VAR}`s are
 * expanded, and every problem goes to the shared collector with the path
 * of the field to blame. One small resolver per section (url, timing,
 * request, auth, matchers, transport, labels), called in the order the
 * problems are listed.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { redactUrl, splitCredentials } from "../util/redact.ts";
import { expandEnv } from "./expand_env.ts";
import { checkKeys, isObject, type Path, type Problems, type Raw } from "./problems.ts";
import {
  BASIC_AUTH_KEYS,
  CONFIG_KEYS,
  type ConfigOverrides,
  DEFAULTS,
  HEADER_NAME_RE,
  LABEL_NAME_RE,
  LIMITS,
  METHODS,
  RESERVED_LABELS,
  type TargetConfig,
} from "./schema.ts";
import { type BodyPattern, parseBodyRegex } from "./body_regex.ts";
import { parseStatusCodes, type StatusMatcher } from "./status_codes.ts";
import { formatDurationExact, parseByteSize, parseDuration } from "./units.ts";

/** What resolving one target needs: where it is, and what all targets share. */
export interface TargetContext {
  /** Where the target is: `["targets", 3]`, or the flag it came from (`["--target", 0]`). */
  readonly path: Path;
  /** The file's `defaults` mapping (its keys already checked). */
  readonly defaults: Raw;
  readonly overrides: ConfigOverrides;
  /** Variables for `${VAR}` expansion. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Receives every value never to be shown: `${VAR}` values, passwords, Basic tokens. */
  readonly secrets: Set<string>;
  readonly problems: Problems;
}

/**
 * Resolves one target (a mapping, or a bare URL string).
 *
 * @returns the target, or undefined when it has a problem (each one added to `ctx.problems`).
 *
 * @example
 * ```ts
 * const ctx = {
 *   path: ["targets", 0],
 *   defaults: { interval: "30s" },
 *   overrides: {},
 *   env: {},
 *   secrets: new Set<string>(),
 *   problems: new Problems(() => undefined),
 * };
 * resolveTarget("https://example.com/", ctx)?.intervalMs; // 30000
 * ```
 */
export function resolveTarget(raw: unknown, ctx: TargetContext): TargetConfig | undefined {
  if (typeof raw === "string") raw = { url: raw };
  if (!isObject(raw)) {
    ctx.problems.add(ctx.path, "must be a mapping with at least 'url'");
    return undefined;
  }
  // An unknown key is reported but does not drop the target.
  checkKeys(raw, CONFIG_KEYS.target, ctx);
  const before = ctx.problems.list.length;
  const s = scopeOf(raw, ctx);
  const url = resolveUrl(s);
  const { intervalMs, timeoutMs } = resolveTiming(s);
  const { method, body, headers, credentialHeaders } = resolveRequest(s);
  const authorization = resolveAuth(s, url);
  const { validStatusCodes, bodyRegex } = resolveMatchers(s);
  const { followRedirects, maxRedirects, bodyLimit, tlsCaFile } = resolveTransport(s);
  const labels = resolveLabels(s);
  if (ctx.problems.list.length > before || !validStatusCodes) return undefined;

  if (authorization !== undefined) headers["authorization"] = authorization;
  for (const name of ["authorization", "cookie", "proxy-authorization"]) {
    if (name in headers) credentialHeaders.add(name);
  }
  const target = {
    url: url.url,
    displayUrl: url.displayUrl,
    method,
    headers,
    credentialHeaders: [...credentialHeaders].sort(),
    body,
    validStatusCodes,
    bodyRegex,
    intervalMs,
    timeoutMs,
    followRedirects,
    maxRedirects,
    bodyLimit,
    tlsCaFile,
    labels,
  };
  // Every setting is in the key, so a target whose settings changed is a new
  // one; hashed, because it crosses between threads with every result.
  return { ...target, key: targetKey(target) };
}

/** A setting's value and the path to blame for it. */
interface Setting {
  readonly value: unknown;
  readonly path: Path;
}

/** One target being resolved: the context, its own mapping, and the helpers every section uses. */
interface Scope extends TargetContext {
  readonly raw: Raw;
  /** The target's own value of `key`, else the `defaults` one; the path says which. */
  pick(key: string): Setting;
  /** `${VAR}`-expands `text`; a bad reference is a problem at `path`. */
  expand(text: string, path: Path): string;
}

function scopeOf(raw: Raw, ctx: TargetContext): Scope {
  return {
    ...ctx,
    raw,
    pick: (key) =>
      raw[key] !== undefined
        ? { value: raw[key], path: [...ctx.path, key] }
        : { value: ctx.defaults[key], path: ["defaults", key] },
    expand: (text, path) => {
      const expanded = expandEnv(text, ctx.env);
      if (!expanded.ok) {
        for (const message of expanded.error) ctx.problems.add(path, message);
        return "";
      }
      for (const value of expanded.value.values) ctx.secrets.add(value);
      return expanded.value.text;
    },
  };
}

/**
 * A mapping setting (`headers`, `labels`): the `defaults` entries, then the
 * target's own, so that the target wins on a name they share. `entry` checks
 * one entry and returns the name and value to store, or undefined to skip it.
 */
function mergeWithDefaults(
  s: Scope,
  options: {
    key: "headers" | "labels";
    /** The problem when the setting is not a mapping. */
    notMapping: string;
    entry: (name: string, value: unknown, path: Path) => [string, string] | undefined;
  },
): Record<string, string> {
  const merged: Record<string, string> = {};
  const sources: [Path, unknown][] = [
    [["defaults"], s.defaults[options.key]],
    [s.path, s.raw[options.key]],
  ];
  for (const [base, mapping] of sources) {
    if (mapping === undefined) continue;
    const path = [...base, options.key];
    if (!isObject(mapping)) {
      s.problems.add(path, options.notMapping);
      continue;
    }
    for (const [name, value] of Object.entries(mapping)) {
      const stored = options.entry(name, value, [...path, name]);
      if (stored) merged[stored[0]] = stored[1];
    }
  }
  return merged;
}

/** The URL fetched (without credentials), the URL shown, and the credentials it carried. */
interface ResolvedUrl {
  readonly url: string;
  readonly displayUrl: string;
  readonly username: string;
  readonly password: string;
}

function resolveUrl(s: Scope): ResolvedUrl {
  const path = [...s.path, "url"];
  const raw = s.raw.url;
  if (typeof raw !== "string" || raw === "") {
    s.problems.add(path, "is required and must be a string");
    return { url: "", displayUrl: "", username: "", password: "" };
  }
  const unusable = { url: "", displayUrl: redactUrl(raw), username: "", password: "" };
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    s.problems.add(path, `'${unusable.displayUrl}' is not a valid URL`);
    return unusable;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    s.problems.add(path, `scheme '${parsed.protocol}' is not supported (use http or https)`);
    return unusable;
  }
  // The fragment is never sent: `…#a` and `…#b` are one target (a duplicate).
  parsed.hash = "";
  const split = splitCredentials(parsed.href);
  if (split.password) s.secrets.add(split.password);
  if (split.url.length > LIMITS.maxUrlLength) {
    s.problems.add(
      path,
      `is ${split.url.length} characters long; the HTTP client accepts at most ${LIMITS.maxUrlLength}`,
    );
    return unusable;
  }
  // Normalised, so `https://a.example` and `https://a.example/` are one target.
  return { ...split, displayUrl: redactUrl(parsed.href) };
}

/**
 * Where a duration came from, from the most specific: the target's own key,
 * a flag or variable, the file's `defaults`, the built-in default.
 */
interface DurationOrigin {
  readonly rank: 3 | 2 | 1 | 0;
  /** The field or flag to name; none for the built-in default. */
  readonly path?: Path;
  /** The value as written (`10s`), or formatted exactly when it was a number. */
  readonly text: string;
}

function resolveTiming(s: Scope): { intervalMs: number; timeoutMs: number } {
  const interval = duration(s, "interval", { fallback: DEFAULTS.intervalMs });
  // Without an explicit timeout, the default never exceeds the interval.
  const timeout = duration(s, "timeout", { fallback: Math.min(DEFAULTS.timeoutMs, interval.ms) });
  if (interval.valid && timeout.valid && timeout.ms > interval.ms) {
    timeoutTooLong(s, interval, timeout);
  }
  return { intervalMs: interval.ms, timeoutMs: timeout.ms };
}

/**
 * Reports a timeout longer than the interval, naming both and where each came
 * from. The problem is filed under the more specific of the two (a target's
 * own key over a flag over `defaults`; the timeout on a tie), so that
 * `--interval 10s` with `defaults.timeout: 30s` blames the flag and names the
 * file's line rather than blaming a line the user did not change.
 */
function timeoutTooLong(
  s: Scope,
  interval: { ms: number; origin: DurationOrigin },
  timeout: { ms: number; origin: DurationOrigin },
): void {
  const blameTimeout = timeout.origin.rank >= interval.origin.rank;
  const [blamed, other] = blameTimeout ? [timeout, interval] : [interval, timeout];
  // Only the interval can be the built-in default here (the default timeout fits any interval).
  const otherSide = other.origin.path
    ? `${other.origin.text} at ${s.problems.describe(other.origin.path)}`
    : `${other.origin.text} (the default; set '--check.interval' or 'defaults.interval')`;
  s.problems.add(
    blamed.origin.path!,
    `${blamed.origin.text} is ${blameTimeout ? "longer" : "shorter"} than the ${
      blameTimeout ? "interval" : "timeout"
    }, ${otherSide}; a timeout must not exceed the interval`,
  );
}

/** A duration in ms: the target's own, else the override, else `defaults`, else `fallback`. */
function duration(
  s: Scope,
  key: "interval" | "timeout",
  options: { fallback: number },
): { ms: number; origin: DurationOrigin; valid: boolean } {
  const overrideKey = key === "interval" ? "intervalMs" : "timeoutMs";
  const override = s.overrides[overrideKey];
  if (s.raw[key] === undefined && override !== undefined) {
    const flag = s.overrides.sources?.[overrideKey] ?? `--${key}`;
    const text = s.overrides.written?.[overrideKey] ?? formatDurationExact(override);
    return { ms: override, origin: { rank: 2, path: [flag], text }, valid: true };
  }
  const { value, path } = s.pick(key);
  if (value === undefined) {
    const text = formatDurationExact(options.fallback);
    return { ms: options.fallback, origin: { rank: 0, text }, valid: true };
  }
  const rank = s.raw[key] !== undefined ? 3 : 1;
  const ms = parseDuration(value);
  if (ms === undefined) {
    s.problems.add(path, `'${value}' is not a duration (use e.g. 250ms, 10s, 1m, or seconds)`);
    return { ms: options.fallback, origin: { rank, path, text: String(value) }, valid: false };
  }
  if (ms <= 0) s.problems.add(path, "must be positive");
  const text = typeof value === "string" ? value.trim() : formatDurationExact(ms);
  return { ms, origin: { rank, path, text }, valid: ms > 0 };
}

interface ResolvedRequest {
  readonly method: string;
  readonly body: string | undefined;
  readonly headers: Record<string, string>;
  /** Names of headers whose value came from `${VAR}`s. */
  readonly credentialHeaders: Set<string>;
}

function resolveRequest(s: Scope): ResolvedRequest {
  const m = s.pick("method");
  const method = m.value === undefined ? DEFAULTS.method : String(m.value).toUpperCase();
  if (!METHODS.includes(method)) {
    s.problems.add(m.path, `'${m.value}' is not a supported method (${METHODS.join(", ")})`);
  }
  const b = s.pick("body");
  let body: string | undefined;
  if (b.value !== undefined) {
    if (typeof b.value !== "string") s.problems.add(b.path, "must be a string");
    else body = s.expand(b.value, b.path);
    if (method === "GET" || method === "HEAD") {
      s.problems.add(b.path, `a ${method} request cannot have a body`);
    }
  }
  const credentialHeaders = new Set<string>();
  const headers = mergeWithDefaults(s, {
    key: "headers",
    notMapping: "must be a mapping of header name to value",
    entry: (name, value, path) => {
      if (!HEADER_NAME_RE.test(name)) s.problems.add(path, "is not a valid header name");
      if (typeof value !== "string" && typeof value !== "number") {
        s.problems.add(path, "must be a string");
        return undefined;
      }
      // Header names are case-insensitive: lower-cased, a target's `x-a` replaces a default `X-A`.
      const lower = name.toLowerCase();
      if (String(value).includes("${")) credentialHeaders.add(lower);
      return [lower, s.expand(String(value), path)];
    },
  });
  return { method, body, headers, credentialHeaders };
}

/** The `Authorization` value from `basic_auth`, else from the URL's credentials, if any. */
function resolveAuth(s: Scope, fromUrl: ResolvedUrl): string | undefined {
  const ba = s.pick("basic_auth");
  let username = fromUrl.username;
  let password = fromUrl.password;
  if (ba.value !== undefined) {
    if (!isObject(ba.value) || typeof ba.value.username !== "string") {
      s.problems.add(ba.path, "must be a mapping with 'username' and optional 'password'");
    } else {
      checkKeys(ba.value, BASIC_AUTH_KEYS, { path: ba.path, problems: s.problems });
      username = s.expand(ba.value.username, [...ba.path, "username"]);
      password = s.expand(String(ba.value.password ?? ""), [...ba.path, "password"]);
      if (password) s.secrets.add(password);
    }
  }
  if (!username && !password) return undefined;
  const token = btoa(String.fromCharCode(...new TextEncoder().encode(`${username}:${password}`)));
  s.secrets.add(token);
  return `Basic ${token}`;
}

/** What decides that a response is up; `validStatusCodes` is undefined when it is invalid. */
function resolveMatchers(s: Scope): { validStatusCodes?: StatusMatcher; bodyRegex?: BodyPattern } {
  const sc = s.pick("valid_status_codes");
  const codes = parseStatusCodes(sc.value ?? DEFAULTS.validStatusCodes);
  if (!codes.ok) {
    for (const { index, message } of codes.error) {
      s.problems.add(index === undefined ? sc.path : [...sc.path, index], message);
    }
  }
  const br = s.pick("body_regex");
  let bodyRegex: BodyPattern | undefined;
  if (br.value !== undefined) {
    const pattern = parseBodyRegex(br.value);
    if (pattern.ok) bodyRegex = pattern.value;
    else s.problems.add(br.path, pattern.error);
  }
  return { validStatusCodes: codes.ok ? codes.value : undefined, bodyRegex };
}

/** How the fetch may go: redirects, how much body is read, which extra CA is trusted. */
function resolveTransport(s: Scope): {
  followRedirects: boolean;
  maxRedirects: number;
  bodyLimit: number;
  tlsCaFile?: string;
} {
  const fr = s.pick("follow_redirects");
  if (fr.value !== undefined && typeof fr.value !== "boolean") {
    s.problems.add(fr.path, "must be true or false");
  }
  const mr = s.pick("max_redirects");
  let maxRedirects: number = DEFAULTS.maxRedirects;
  if (mr.value !== undefined) {
    if (typeof mr.value !== "number" || !Number.isInteger(mr.value) || mr.value < 0) {
      s.problems.add(mr.path, "must be a whole number of at least 0");
    } else maxRedirects = mr.value;
  }
  const bl = s.pick("body_limit");
  let bodyLimit: number = DEFAULTS.bodyLimit;
  if (bl.value !== undefined) {
    const n = parseByteSize(bl.value);
    if (n === undefined) {
      s.problems.add(bl.path, `'${bl.value}' is not a size (use e.g. 64KiB, 1MiB, or bytes)`);
    } else bodyLimit = n;
  }
  const ca = s.pick("tls_ca_file");
  if (ca.value !== undefined && typeof ca.value !== "string") {
    s.problems.add(ca.path, "must be a file path");
  }
  return {
    followRedirects: typeof fr.value === "boolean" ? fr.value : DEFAULTS.followRedirects,
    maxRedirects,
    bodyLimit,
    tlsCaFile: typeof ca.value === "string" ? ca.value : undefined,
  };
}

function resolveLabels(s: Scope): Record<string, string> {
  return mergeWithDefaults(s, {
    key: "labels",
    notMapping: "must be a mapping of label name to value",
    entry: (name, value, path) => {
      if (!LABEL_NAME_RE.test(name) || name.startsWith("__")) {
        s.problems.add(
          path,
          "is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)",
        );
      } else if (RESERVED_LABELS.includes(name)) {
        s.problems.add(path, `is reserved (${RESERVED_LABELS.join(", ")})`);
      }
      if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
        s.problems.add(path, "must be a string");
      } else if (String(value).length > LIMITS.maxLabelValueLength) {
        s.problems.add(
          path,
          `is ${String(value).length} characters long; a label value may have at most ` +
            `${LIMITS.maxLabelValueLength} (it is repeated in every series of the target)`,
        );
      }
      return [name, String(value)];
    },
  });
}

/**
 * The identity of a resolved target: SHA-256 of every setting, 22
 * characters (128 bits) of base64url. Two targets share a key only when
 * all their settings are equal; a reload keeps the state of a key it sees again.
 */
function targetKey(target: Omit<TargetConfig, "key">): string {
  return createHash("sha256").update(JSON.stringify(target)).digest("base64url").slice(0, 22);
}
