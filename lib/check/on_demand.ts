/**
 * One check on demand, for `GET /probe?target=URL&module=NAME`: the request's
 * parameters → the SSRF guard (target_guard.ts) → a slot of the global
 * in-flight limit → the same {@linkcode probe} the background checks use
 * (fresh connection, timeout, body limit, classification), with the guard run
 * again on every redirect hop → an answer in blackbox_exporter's names
 * (probe_exposition.ts), or its `&debug=true` account.
 *
 * The timeout follows blackbox: the module's `timeout`, capped by Prometheus'
 * `X-Prometheus-Scrape-Timeout-Seconds` minus 0.5 s (120 s without the header).
 *
 * @module
 */

import { stringify as stringifyYaml } from "yaml";
import type { ProbeModule, ProbeSettings } from "../config/probe_modules.ts";
import type { TargetConfig } from "../config/schema.ts";
import { CONTENT_TYPE } from "../metrics/exposition.ts";
import { type ProbeReport, renderProbeExposition } from "../metrics/probe_exposition.ts";
import { redactUrl, scrubSecrets, splitCredentials } from "../util/redact.ts";
import { err, ok, type Result } from "../util/result.ts";
import type { CheckResult } from "./classify.ts";
import { failure, type ProbeResult } from "./outcome.ts";
import { type HookFailure, probe, type ProbeTraceEvent } from "./probe.ts";
import { matchBody, type MatcherPool } from "./body_match.ts";
import type { ProbeRefusalReason } from "./probe_refusals.ts";
import { type Refusal, TargetGuard, type TargetGuardOptions } from "./target_guard.ts";
import { peerCertificateExpiry } from "./tls_info.ts";
import { formatDuration } from "../config/units.ts";

/** blackbox_exporter's default `--timeout-offset`, ms. */
export const TIMEOUT_OFFSET_MS = 500;

/** The module blackbox uses when the request names none. */
export const DEFAULT_MODULE = "http_2xx";

/** Blackbox's limit on redirects, whatever the module says. */
const MAX_REDIRECTS = 10;

/** Most of the body read without `body_size_limit` (the background checks' default). */
const DEFAULT_BODY_LIMIT = 1024 * 1024;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** One `/probe` request, taken apart by the route. */
export interface OnDemandQuery {
  /** The query parameters: `target`, `module`, `debug`. */
  readonly params: URLSearchParams;
  /** The `X-Prometheus-Scrape-Timeout-Seconds` header, if sent. */
  readonly scrapeTimeout?: string | null;
  /** Aborts the check (the client went away). */
  readonly signal?: AbortSignal;
}

/** What the route answers. */
export interface OnDemandAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** What an on-demand check needs from the app. */
export interface OnDemandDeps {
  /** The settings in force, read once per request (a reload swaps them whole). */
  settings(): ProbeSettings;
  /**
   * Waits for a slot of the global in-flight limit (`max_concurrent_checks`)
   * and resolves to its release; rejects when `signal` aborts first.
   */
  acquireSlot(signal: AbortSignal): Promise<() => void>;
  /** The shared pool-less HTTP client, or the one trusting `caFile` too; may throw. */
  client(caFile?: string): Deno.HttpClient;
  /** Counts requests checked and refused (self_metrics.ts). Default: none. */
  metrics?: {
    probed(module: string, result: CheckResult): void;
    refused(reason: ProbeRefusalReason): void;
  };
  /** Logs a refusal (the 403's reason reaches no Prometheus page). Default: none. */
  log?: (msg: string, fields: Record<string, string>) => void;
  /** Values to mask in the debug account (the config's secrets). Default: none. */
  secrets?: () => readonly string[];
  /** How the guard resolves names (tests point it at their own DNS server). Default: the system's. */
  guard?: TargetGuardOptions;
  /** Matchers for bodies too large to match inline (the engine's). Default: matchBody's shared pool. */
  matchers?: MatcherPool;
  /** The certificate expiry of `host:port`, seconds since the epoch. Default: a TLS handshake. */
  certExpiry?: (url: URL, options: { timeoutMs: number; signal: AbortSignal }) => Promise<number>;
}

/**
 * blackbox_exporter's timeout rule: the module's timeout when set and shorter
 * than the scrape timeout minus `offsetMs`, else that (120 s minus the offset
 * without a header); the module's when the header leaves nothing.
 *
 * @example
 * ```ts
 * probeTimeoutMs("10", 5000); // ok(5000)
 * probeTimeoutMs("3", 5000); // ok(2500)
 * probeTimeoutMs(null, 0); // ok(119500)
 * ```
 */
export function probeTimeoutMs(
  header: string | null | undefined,
  moduleTimeoutMs: number,
  offsetMs: number = TIMEOUT_OFFSET_MS,
): Result<number, string> {
  let scrapeMs = 0;
  if (header !== null && header !== undefined && header !== "") {
    if (!/^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(header)) {
      return err(`'${header.slice(0, 40)}' is not a number of seconds`);
    }
    scrapeMs = Number(header) * 1000;
  }
  if (scrapeMs === 0) scrapeMs = 120_000;
  const max = scrapeMs - offsetMs;
  if ((moduleTimeoutMs > 0 && moduleTimeoutMs < max) || max < 0) return ok(moduleTimeoutMs);
  return ok(max);
}

function text(status: number, body: string): OnDemandAnswer {
  return { status, contentType: "text/plain; charset=utf-8", body };
}

/** The target URL as blackbox reads it: `http://` in front when it has no http(s) scheme. */
function targetUrl(raw: string): Result<URL, string> {
  const withScheme = /^https?:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return err(`target '${redactUrl(raw)}' is not a valid URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return err(`target scheme '${url.protocol}' is not supported (use http or https)`);
  }
  return ok(url);
}

/** A debug account in the making: blackbox-like logfmt lines. */
class Account {
  readonly lines: string[] = [];
  log(msg: string, fields: Record<string, string | number | undefined> = {}): void {
    const parts = [`ts=${new Date().toISOString()}`, `msg=${quote(msg)}`];
    for (const [k, v] of Object.entries(fields)) {
      if (v !== undefined) parts.push(`${k}=${quote(String(v))}`);
    }
    this.lines.push(parts.join(" "));
  }
}

function quote(value: string): string {
  return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
}

/**
 * Runs one on-demand check and builds the answer: 404 when `/probe` is off,
 * 400 for a bad request or unknown module, 403 when the guard refuses the
 * target or a redirect hop (no request is made to it), else 200 with the
 * exposition (or the debug account). Never throws.
 *
 * @example
 * ```ts
 * const answer = await checkOnDemand(
 *   { params: new URLSearchParams({ target: "http://127.0.0.1:8080/", module: "http_2xx" }) },
 *   deps,
 * );
 * answer.body.includes("probe_success 1"); // when the target answered 2xx
 * ```
 */
export async function checkOnDemand(
  query: OnDemandQuery,
  deps: OnDemandDeps,
): Promise<OnDemandAnswer> {
  const settings = deps.settings();
  const refuse = (status: number, reason: ProbeRefusalReason, message: string) => {
    deps.metrics?.refused(reason);
    return text(status, `${message}\n`);
  };
  if (!settings.enabled) {
    return refuse(
      404,
      "disabled",
      "/probe is disabled: set probe.enabled: true and probe.allowed_targets in the config file",
    );
  }
  const params = query.params;
  const moduleName = params.get("module") || DEFAULT_MODULE;
  const module = settings.modules.get(moduleName);
  if (!module) return refuse(400, "unknown_module", `Unknown module ${JSON.stringify(moduleName)}`);
  const rawTarget = params.get("target");
  if (!rawTarget) return refuse(400, "bad_request", "Target parameter is missing");
  if (params.get("hostname")) {
    return refuse(
      400,
      "bad_request",
      "The hostname parameter is not supported: fetch cannot set the Host header",
    );
  }
  const timeout = probeTimeoutMs(query.scrapeTimeout, module.timeoutMs);
  if (!timeout.ok) {
    return refuse(
      400,
      "bad_request",
      `Cannot read X-Prometheus-Scrape-Timeout-Seconds: ${timeout.error}`,
    );
  }
  const parsed = targetUrl(rawTarget);
  if (!parsed.ok) return refuse(400, "bad_request", parsed.error);
  const debug = params.get("debug") === "true";
  const run = await runCheck(parsed.value, module, settings, timeout.value, query.signal, deps);
  const secrets = deps.secrets?.() ?? [];
  if (run.refusal) {
    deps.metrics?.refused(run.refusal.reason);
    deps.log?.("probe refused", {
      module: module.name,
      reason: run.refusal.reason,
      why: scrubSecrets(run.refusal.message, secrets),
    });
    const body = `Refused: ${run.refusal.message}\n` +
      (debug ? `\n${debugAccount(run, module)}` : "");
    return text(403, scrubSecrets(body, secrets));
  }
  deps.metrics?.probed(module.name, run.report.result);
  if (debug) return text(200, scrubSecrets(debugAccount(run, module), secrets));
  return { status: 200, contentType: CONTENT_TYPE, body: renderProbeExposition(run.report) };
}

/** What one run found: the report, or the refusal that stopped it. */
interface Run {
  readonly report: ProbeReport;
  readonly refusal?: Refusal;
  readonly account: Account;
  readonly exposition: string;
}

async function runCheck(
  url: URL,
  module: ProbeModule,
  settings: ProbeSettings,
  timeoutMs: number,
  outer: AbortSignal | undefined,
  deps: OnDemandDeps,
): Promise<Run> {
  const account = new Account();
  const start = performance.now();
  const startedAt = Date.now();
  const split = splitCredentials(url.href);
  const shownUrl = redactUrl(url.href);
  account.log("Beginning probe", {
    module: module.name,
    target: shownUrl,
    timeout_seconds: timeoutMs / 1000,
  });
  // The whole check, address checks included, within the timeout.
  const deadline = AbortSignal.any([
    AbortSignal.timeout(Math.max(0, timeoutMs)),
    ...(outer ? [outer] : []),
  ]);
  const guard = new TargetGuard(settings.allowedTargets, deps.guard);
  const finish = (
    result: ProbeResult,
    extra: Partial<ProbeReport> = {},
    refusal?: Refusal,
  ): Run => {
    const durationSeconds = (performance.now() - start) / 1000;
    account.log(result.up ? "Probe succeeded" : "Probe failed", {
      result: result.result,
      reason: result.reason || undefined,
      duration_seconds: durationSeconds,
    });
    const report: ProbeReport = {
      success: result.up,
      durationSeconds,
      result: result.result,
      statusCode: result.statusCode,
      contentLength: 0,
      bodyBytes: result.bodyBytes,
      redirects: result.redirects,
      ssl: false,
      failedDueToRegex: false,
      ...extra,
    };
    return { report, refusal, account, exposition: renderProbeExposition(report) };
  };
  const failed = (result: Exclude<CheckResult, "up">, reason: string) =>
    finish(failure(result, reason, { startedAt, durationMs: performance.now() - start }));

  const verdict = await guard.check(url, { signal: deadline });
  if (!verdict.ok) {
    if (verdict.error.kind === "refused") {
      account.log("Target refused", {
        reason: verdict.error.reason,
        message: verdict.error.message,
      });
      return finish(
        failure("error", verdict.error.message, { startedAt }),
        {},
        verdict.error,
      );
    }
    if (deadline.aborted) return timedOut(failed, timeoutMs, "resolving the target");
    account.log("Error resolving address", { err: verdict.error.message });
    return failed("dns", verdict.error.message);
  }
  account.log("Resolved target address", {
    target: url.hostname,
    ip: verdict.value.addresses.join(","),
    allowed_by: verdict.value.rule,
  });
  const family = familyProblem(module, verdict.value.addresses);
  if (family) {
    account.log("Resolution with IP protocol failed", { err: family });
    return failed("dns", family);
  }

  let release: () => void;
  try {
    release = await deps.acquireSlot(deadline);
  } catch {
    return deadline.aborted && !outer?.aborted
      ? timedOut(failed, timeoutMs, "waiting for a free check slot (max_concurrent_checks)")
      : failed("error", "aborted");
  }
  let hopRefusal: Refusal | undefined;
  const responses: Extract<ProbeTraceEvent, { kind: "response" }>[] = [];
  let lastRequestUrl = split.url;
  let result: ProbeResult;
  let failedDueToRegex = false;
  try {
    let client: Deno.HttpClient;
    try {
      client = deps.client(module.tlsCaFile);
    } catch (e) {
      return failed("tls", `cannot use tls_config.ca_file: ${(e as Error).message}`);
    }
    const remaining = timeoutMs - (performance.now() - start);
    result = await probe(moduleTarget(module, split, Math.max(0, remaining)), {
      client,
      signal: outer,
      trace: (event) => {
        if (event.kind === "request") {
          lastRequestUrl = event.url;
          account.log("Making HTTP request", { method: event.method, url: redactUrl(event.url) });
        } else {
          responses.push(event);
          const location = event.headers.get("location");
          account.log("Received HTTP response", {
            status_code: event.status,
            location: location ? redactUrl(location) : undefined,
            after_ms: Math.round(event.atMs * 1000) / 1000,
          });
        }
      },
      beforeRedirect: async (next, { signal }) => {
        const hop = await guard.check(next, { signal });
        if (signal.aborted) throw signal.reason;
        if (hop.ok) {
          account.log("Redirect allowed", {
            ip: hop.value.addresses.join(","),
            allowed_by: hop.value.rule,
          });
          return ok(undefined);
        }
        if (hop.error.kind === "unresolved") {
          return err({ result: "dns", reason: hop.error.message });
        }
        hopRefusal = {
          ...hop.error,
          message: `redirect to ${redactUrl(next.href)} refused: ${hop.error.message}`,
        };
        return err({ result: "redirect", reason: hopRefusal.message });
      },
      matchBody: async (body, signal) => {
        const matched = await matchModuleBody(module, body, { signal, matchers: deps.matchers });
        if (!matched.ok) failedDueToRegex = true;
        return matched;
      },
      matchers: deps.matchers,
    });
  } finally {
    release();
  }
  if (hopRefusal) {
    account.log("Target refused", { reason: hopRefusal.reason, message: hopRefusal.message });
    return finish(result, {}, hopRefusal);
  }

  const final = responses.at(-1);
  const finalIsResponse = final !== undefined && final.url === lastRequestUrl;
  const ssl = finalIsResponse && new URL(final.url).protocol === "https:";
  // blackbox counts a redirect it was told not to follow (Go calls CheckRedirect for it).
  const notFollowed = finalIsResponse && !module.followRedirects &&
    REDIRECT_STATUSES.has(final.status) && final.headers.get("location") !== null;
  result = judge(result, module, { ssl, responded: finalIsResponse });
  if (result.result !== "body") failedDueToRegex = false;
  const certExpiry = await certificateExpiry(lastRequestUrl, {
    deadlineMs: timeoutMs - (performance.now() - start),
    signal: deadline,
    deps,
  });
  return finish(result, {
    contentLength: finalIsResponse ? declaredLength(final, module.method) : 0,
    bodyBytes: notFollowed ? 0 : result.bodyBytes,
    redirects: result.redirects + (notFollowed ? 1 : 0),
    ssl,
    failedDueToRegex,
    certExpiry,
    lastModified: finalIsResponse ? lastModified(final.headers) : undefined,
  });
}

function timedOut(
  failed: (result: Exclude<CheckResult, "up">, reason: string) => Run,
  timeoutMs: number,
  doing: string,
): Run {
  return failed("timeout", `timeout after ${formatDuration(timeoutMs)} ${doing}`);
}

/** With `ip_protocol_fallback: false`, the target needs an address of the preferred family. */
function familyProblem(module: ProbeModule, addresses: readonly string[]): string | undefined {
  if (module.ipProtocolFallback) return undefined;
  const want6 = module.preferredIpProtocol === "ip6";
  const has = addresses.some((a) => a.includes(":") === want6);
  return has ? undefined : `no ${module.preferredIpProtocol} address (ip_protocol_fallback: false)`;
}

/** The target config of one check of `url` with `module`. */
function moduleTarget(
  module: ProbeModule,
  url: { url: string; username: string; password: string },
  timeoutMs: number,
): TargetConfig {
  const headers: Record<string, string> = { ...module.headers };
  const credentialHeaders = new Set(module.credentialHeaders);
  if ((url.username || url.password) && headers.authorization === undefined) {
    const token = btoa(
      String.fromCharCode(...new TextEncoder().encode(`${url.username}:${url.password}`)),
    );
    headers.authorization = `Basic ${token}`;
    credentialHeaders.add("authorization");
  }
  return {
    url: url.url,
    displayUrl: redactUrl(url.url),
    method: module.method,
    headers,
    credentialHeaders: [...credentialHeaders].sort(),
    body: module.body,
    validStatusCodes: module.validStatusCodes,
    intervalMs: timeoutMs,
    timeoutMs,
    followRedirects: module.followRedirects,
    maxRedirects: MAX_REDIRECTS,
    // One byte past body_size_limit tells a body that is longer.
    bodyLimit: module.bodySizeLimit > 0 ? module.bodySizeLimit + 1 : DEFAULT_BODY_LIMIT,
    tlsCaFile: module.tlsCaFile,
    labels: {},
    key: `probe ${module.name} ${url.url}`,
  };
}

/**
 * The body regexes of a module, as blackbox applies them, each matched in
 * linear time (a large body in a matcher, which gets a copy of its own).
 */
async function matchModuleBody(
  module: ProbeModule,
  body: Uint8Array,
  options: { signal: AbortSignal; matchers?: MatcherPool },
): Promise<Result<void, HookFailure>> {
  const patterns = [
    ...module.failIfBodyMatches.map((pattern) => ({ pattern, fails: true })),
    ...module.failIfBodyNotMatches.map((pattern) => ({ pattern, fails: false })),
  ];
  for (const [i, { pattern, fails }] of patterns.entries()) {
    const own = i === patterns.length - 1 ? body : body.slice();
    const matched = await matchBody(pattern, own, options);
    if (!matched.ok) {
      const why = matched.error.kind === "failed" ? matched.error.message : "not finished in time";
      return err({ result: "error", reason: `body regex ${pattern.source}: ${why}` });
    }
    if (matched.value === fails) {
      return err({
        result: "body",
        reason: fails
          ? `body matches ${pattern.source} (fail_if_body_matches_regexp)`
          : `body does not match ${pattern.source} (fail_if_body_not_matches_regexp)`,
      });
    }
  }
  return ok(undefined);
}

/** What the module decides beyond the probe: body_size_limit, fail_if_ssl, fail_if_not_ssl. */
function judge(
  result: ProbeResult,
  module: ProbeModule,
  final: { ssl: boolean; responded: boolean },
): ProbeResult {
  const measured = {
    startedAt: result.startedAt,
    statusCode: result.statusCode,
    durationMs: result.durationMs,
    redirects: result.redirects,
    bodyBytes: result.bodyBytes,
  };
  if (
    module.bodySizeLimit > 0 && result.bodyBytes > module.bodySizeLimit &&
    (result.up || result.result === "body")
  ) {
    return failure("body", `body longer than body_size_limit (${module.bodySizeLimit} bytes)`, {
      ...measured,
      bodyBytes: module.bodySizeLimit,
    });
  }
  if (!result.up || !final.responded) return result;
  if (module.failIfSsl && final.ssl) {
    return failure("tls", "the final response came over https (fail_if_ssl)", measured);
  }
  if (module.failIfNotSsl && !final.ssl) {
    return failure("tls", "the final response did not come over https (fail_if_not_ssl)", measured);
  }
  return result;
}

/** Content length as Go's net/http reports it, which blackbox exports. */
function declaredLength(
  response: { status: number; headers: Headers },
  method: string,
): number {
  const header = response.headers.get("content-length");
  const declared = header !== null && /^\d+$/.test(header.trim()) ? Number(header) : -1;
  if (method === "HEAD") return declared;
  if (response.status < 200 || response.status === 204 || response.status === 304) return 0;
  if (/chunked/i.test(response.headers.get("transfer-encoding") ?? "")) return -1;
  return declared;
}

function lastModified(headers: Headers): number | undefined {
  const value = headers.get("last-modified");
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

/** The certificate expiry of the last https URL requested (also when verification failed). */
async function certificateExpiry(
  url: string,
  options: { deadlineMs: number; signal: AbortSignal; deps: OnDemandDeps },
): Promise<number | undefined> {
  const parsed = new URL(url);
  if (parsed.protocol !== "https:" || options.deadlineMs <= 0 || options.signal.aborted) {
    return undefined;
  }
  const lookup = options.deps.certExpiry ??
    ((u: URL, o: { timeoutMs: number; signal: AbortSignal }) => {
      const host = u.hostname.replace(/^\[(.*)\]$/, "$1");
      const isIp = /^[\d.]+$|:/.test(host);
      return peerCertificateExpiry(host, Number(u.port || 443), {
        servername: isIp ? undefined : host,
        timeoutMs: o.timeoutMs,
        signal: o.signal,
      });
    });
  try {
    return await lookup(parsed, { timeoutMs: options.deadlineMs, signal: options.signal });
  } catch {
    return undefined;
  }
}

function debugAccount(run: Run, module: ProbeModule): string {
  return [
    "Logs for the probe:",
    ...run.account.lines,
    "",
    "",
    "",
    "Metrics that would have been returned:",
    run.exposition.trimEnd(),
    "",
    "",
    "",
    "Module configuration:",
    stringifyYaml(module.shown).trimEnd(),
    "",
  ].join("\n");
}
