/**
 * One check of one URL: a plain async function that never throws and returns
 * what happened (a {@linkcode ProbeResult} of outcome.ts). It knows nothing of
 * the scheduler, of metrics or of certificate expiry (lib/check/tls_info.ts).
 *
 * @module
 */

import { LIMITS, type TargetConfig } from "../config/schema.ts";
import { statusAccepted } from "../config/status_codes.ts";
import { matchBody, type MatcherPool } from "./body_match.ts";
import { classifyError } from "./classify.ts";
import { formatDuration } from "../config/units.ts";
import { type FailedResult, failure, type ProbeResult, success } from "./outcome.ts";
import type { Result } from "../util/result.ts";

/** One step of a check, for an account of it (`/probe?debug=true`). */
export type ProbeTraceEvent =
  | {
    readonly kind: "request";
    readonly method: string;
    readonly url: string;
    readonly atMs: number;
  }
  | {
    readonly kind: "response";
    readonly url: string;
    readonly status: number;
    readonly headers: Headers;
    readonly atMs: number;
  };

/** Why a hook ended a check: the result it reports and a short reason. */
export interface HookFailure {
  readonly result: FailedResult;
  readonly reason: string;
}

/** Options of {@linkcode probe}. */
export interface ProbeOptions {
  /** Aborts the check (e.g. on shutdown); the result then says `error: aborted`. */
  signal?: AbortSignal;
  /**
   * HTTP client; it should keep no idle connections (`poolMaxIdlePerHost: 0`)
   * so that every check opens a fresh connection and connect/TLS time is
   * measured. Share one across checks (see http_clients.ts). Default: a client
   * made for this check and closed after it.
   */
  client?: Deno.HttpClient;
  /** Epoch clock for `startedAt`. Default: `Date.now`. */
  now?: () => number;
  /** Matchers for bodies too large to match inline. Default: matchBody's shared pool. */
  matchers?: MatcherPool;
  /**
   * Asked before each redirect is followed; an error ends the check there,
   * with its result and reason and no request to `url`. It may throw when
   * `signal` aborts (the check then times out as usual). Default: every
   * redirect is followed.
   */
  beforeRedirect?: (
    url: URL,
    options: { signal: AbortSignal },
  ) => Promise<Result<void, HookFailure>>;
  /**
   * Judges the body bytes (up to the body limit) once the status and
   * `target.bodyRegex` passed (/probe's module regexes); an error ends the
   * check with its result. It owns `body` (it may transfer it). Default: none.
   */
  matchBody?: (body: Uint8Array, signal: AbortSignal) => Promise<Result<void, HookFailure>>;
  /** Receives each request and response of the check as it happens. Default: none. */
  trace?: (event: ProbeTraceEvent) => void;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * Largest declared body read with one `bytes()` call; larger ones are read in
 * chunks as they arrive (memory grows with what came, not with what was promised).
 */
export const ONE_SHOT_BODY_BYTES = 64 * 1024;

/**
 * Checks `target` once: fetches it (following redirects when configured),
 * reads the body up to the body limit, and judges the final response.
 * The target's timeout covers the whole check, body included.
 */
export async function probe(
  target: TargetConfig,
  options: ProbeOptions = {},
): Promise<ProbeResult> {
  const ownClient = options.client ? undefined : Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  const client = options.client ?? ownClient!;
  const startedAt = (options.now ?? Date.now)();
  const start = performance.now();
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException("timeout", "TimeoutError"));
  }, target.timeoutMs);
  const outer = options.signal;
  const onOuterAbort = () => controller.abort(outer?.reason);
  if (outer?.aborted) onOuterAbort();
  else outer?.addEventListener("abort", onOuterAbort, { once: true });

  let statusCode = 0;
  let redirects = 0;
  let bodyBytes = 0;
  let phase: "headers" | "body" = "headers";
  // Set when the body has been read: matching it is not the target's response time.
  let readMs: number | undefined;
  const measured = () => ({
    startedAt,
    statusCode,
    durationMs: readMs ?? performance.now() - start,
    redirects,
    bodyBytes,
  });
  const fail = (result: FailedResult, reason: string) => failure(result, reason, measured());

  try {
    let url = target.url;
    let method = target.method;
    let body = target.body;
    const headers: Record<string, string> = { ...target.headers };
    const origin = new URL(url).origin;
    const visited = new Set<string>();
    let response: Response;
    for (;;) {
      visited.add(`${method} ${url}`);
      // The status is that of the final response: none yet for this request.
      statusCode = 0;
      options.trace?.({ kind: "request", method, url, atMs: performance.now() - start });
      response = await fetch(url, {
        method,
        headers,
        body,
        client,
        redirect: "manual",
        signal: controller.signal,
      });
      statusCode = response.status;
      options.trace?.({
        kind: "response",
        url,
        status: statusCode,
        headers: response.headers,
        atMs: performance.now() - start,
      });
      const location = response.headers.get("location");
      if (!target.followRedirects || !REDIRECT_STATUSES.has(response.status) || !location) break;
      await response.body?.cancel();
      let next: URL;
      try {
        next = new URL(locationText(location), url);
      } catch {
        return fail("redirect", `redirect to an invalid location`);
      }
      if (next.protocol !== "http:" && next.protocol !== "https:") {
        return fail("redirect", `redirect to unsupported scheme '${next.protocol}'`);
      }
      next.hash = "";
      if (next.href.length > LIMITS.maxUrlLength) {
        return fail(
          "redirect",
          `redirect to a URL of ${next.href.length} characters (the HTTP client accepts at most ${LIMITS.maxUrlLength})`,
        );
      }
      if (
        response.status === 303 ||
        ((response.status === 301 || response.status === 302) && method === "POST")
      ) {
        method = method === "HEAD" ? "HEAD" : "GET";
        body = undefined;
      }
      // Like browsers drop Authorization, but also every header holding a ${VAR} secret.
      if (next.origin !== origin) {
        for (const name of target.credentialHeaders) delete headers[name];
      }
      url = next.href;
      redirects++;
      if (visited.has(`${method} ${url}`)) {
        return fail("redirect", `redirect loop after ${redirects} redirects`);
      }
      if (redirects > target.maxRedirects) {
        return fail("redirect", `more than ${target.maxRedirects} redirects`);
      }
      const allowed = await options.beforeRedirect?.(next, { signal: controller.signal });
      if (allowed && !allowed.ok) return fail(allowed.error.result, allowed.error.reason);
    }

    phase = "body";
    let received: Uint8Array = new Uint8Array(0);
    // A small declared, uncompressed body within the limit is read in one go,
    // which costs less CPU than the reader loop (docs/performance.md). Only a
    // small one: `bytes()` allocates the declared length up front, for as long
    // as a server takes to send it (or never does). Deno decompresses gzip/br
    // bodies itself and keeps content-length, so a coded body takes the loop,
    // which stops at the limit.
    const declared = response.headers.get("content-length");
    const length = declared !== null && !response.headers.has("content-encoding")
      ? Number(declared)
      : NaN;
    if (
      response.body && Number.isSafeInteger(length) &&
      length <= Math.min(target.bodyLimit, ONE_SHOT_BODY_BYTES)
    ) {
      const bytes = await response.bytes();
      bodyBytes = Math.min(bytes.byteLength, target.bodyLimit);
      if (target.bodyRegex || options.matchBody) received = bytes.subarray(0, bodyBytes);
    } else if (response.body) {
      const reader = response.body.getReader();
      const chunks: Uint8Array[] | undefined = target.bodyRegex || options.matchBody
        ? []
        : undefined;
      // Aborting the fetch does not always settle a read already pending on
      // its body (docs/performance.md); cancelling the reader does.
      const onAbort = () => void reader.cancel(controller.signal.reason).catch(() => {});
      if (controller.signal.aborted) onAbort();
      else controller.signal.addEventListener("abort", onAbort, { once: true });
      try {
        while (bodyBytes < target.bodyLimit) {
          const { done, value } = await reader.read();
          if (controller.signal.aborted) throw controller.signal.reason;
          if (done) break;
          const chunk = value.byteLength + bodyBytes > target.bodyLimit
            ? value.subarray(0, target.bodyLimit - bodyBytes)
            : value;
          bodyBytes += chunk.byteLength;
          chunks?.push(chunk);
        }
      } finally {
        controller.signal.removeEventListener("abort", onAbort);
        // Stops an endless or oversized body; a no-op when it ended.
        await reader.cancel().catch(() => {});
      }
      // One buffer (a native copy), to be transferred to a matcher whole.
      if (chunks) received = await new Blob(chunks as BlobPart[]).bytes();
    }
    readMs = performance.now() - start;
    if (!statusAccepted(target.validStatusCodes, statusCode)) {
      return fail("status", `status ${statusCode} not in ${target.validStatusCodes.source}`);
    }
    if (target.bodyRegex) {
      // The hook below reads the body too: the matcher gets a copy.
      const body = options.matchBody ? received.slice() : received;
      const matched = await matchBody(target.bodyRegex, body, {
        signal: controller.signal,
        matchers: options.matchers,
      });
      if (!matched.ok) {
        const { error } = matched;
        if (error.kind === "failed") {
          return fail("error", `body_regex match failed: ${error.message}`);
        }
        if (!timedOut) return fail("error", "aborted");
        return fail(
          "error",
          error.running
            ? `body_regex did not finish matching within the timeout (${
              formatDuration(target.timeoutMs)
            }; the response took ${Math.round(readMs)}ms)`
            : `body_regex match did not start within the timeout (${
              formatDuration(target.timeoutMs)
            }): the matchers were busy with other checks`,
        );
      }
      if (!matched.value) return fail("body", `body does not match ${target.bodyRegex.source}`);
    }
    const judged = await options.matchBody?.(received, controller.signal);
    if (judged && !judged.ok) return fail(judged.error.result, judged.error.reason);
    return success(measured());
  } catch (err) {
    if (timedOut) {
      return fail(
        "timeout",
        `timeout after ${formatDuration(target.timeoutMs)} ${
          phase === "body" ? "reading the body" : "waiting for a response"
        }`,
      );
    }
    if (outer?.aborted) return fail("error", "aborted");
    const { result, reason } = classifyError(err, phase);
    // classifyError never says `up`, but its type allows it.
    return fail(result === "up" ? "error" : result, reason);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", onOuterAbort);
    ownClient?.close();
  }
}

/**
 * A `Location` header as URL text. Headers reach JavaScript as one character
 * per byte, so a raw UTF-8 `/bücher` arrives as `/bÃ¼cher`; `new URL` would
 * encode each of those characters again (`b%C3%83%C2%BC…`). Each byte above
 * 0x7F is percent-encoded as it is instead, which is what browsers and Go
 * request (`b%C3%BCcher`); a host so encoded is decoded and IDNA-mapped by the
 * URL parser.
 */
function locationText(header: string): string {
  return header.replace(
    /[\u0080-\u00ff]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
