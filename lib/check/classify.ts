/**
 * Maps what fetch threw to one of a small, fixed set of check results, so that
 * users can alert on the reason. The only place that reads Deno's error texts.
 *
 * @module
 */

/** Every result a check can have; `up` is the only success. */
export const CHECK_RESULTS = [
  "up",
  "status",
  "body",
  "timeout",
  "dns",
  "connect",
  "tls",
  "redirect",
  "error",
] as const;

/** One of {@linkcode CHECK_RESULTS}. */
export type CheckResult = typeof CHECK_RESULTS[number];

/** A failure's result and a short human reason (no URL, no credentials). */
export interface Classified {
  result: CheckResult;
  reason: string;
}

// Deno's fetch errors say "fetch failed" and carry the reason in `cause.message`,
// e.g. "error sending request for url (…): client error (Connect): tcp connect error: …".
const RULES: [RegExp, CheckResult][] = [
  [/dns error|failed to lookup address|name or service not known|no such host/i, "dns"],
  // "received fatal alert: …" is a TLS alert from the server (rustls' wording).
  [/certificate|tls|ssl|handshake|received corrupt message|peer sent|fatal alert/i, "tls"],
  [
    /tcp connect error|connection refused|network is unreachable|host is unreachable|are blocked/i,
    "connect",
  ],
  [/error reading a body|body|decod/i, "body"],
];

/**
 * Messages whose own words do not say what happened: the result and the
 * reason given instead (the message follows the reason).
 */
const EXPLAINED: [RegExp, Classified][] = [
  [/received fatal alert: ProtocolVersion/i, {
    result: "tls",
    reason: "the server refused every TLS version the client offers (TLS 1.2 and 1.3)",
  }],
  // hyper's words for both of its response-head limits, measured on Deno 2.9.6:
  // 101 header lines, or a head over 507,904 bytes (496 KiB).
  [/message head is too large/i, {
    result: "error",
    reason:
      "response head too large for the HTTP client: more than 100 headers or more than 496 KiB",
  }],
];

/** The message most specific to the failure: `cause.message` when fetch wrapped it. */
function innermostMessage(err: unknown): string {
  let message = "";
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current; depth++) {
    if (current instanceof Error || (typeof current === "object" && "message" in current)) {
      const m = String((current as Error).message ?? "");
      if (m && m !== "fetch failed") message = m;
      current = (current as Error).cause;
    } else {
      message = String(current);
      break;
    }
  }
  return message || "unknown error";
}

/** Strips "error sending request for url (…): client error (X): " and similar prefixes. */
function shortReason(message: string): string {
  const tail = message.replace(/^.*?client error \([^)]*\):\s*/s, "")
    .replace(/^error sending request[^:]*:\s*/s, "");
  return tail.replace(/\s+/g, " ").trim().slice(0, 200);
}

/**
 * Classifies an error thrown by fetch or by reading the body.
 *
 * @param err what was thrown.
 * @param phase `headers` while waiting for the response, `body` while reading it.
 */
export function classifyError(err: unknown, phase: "headers" | "body"): Classified {
  const message = innermostMessage(err);
  const reason = shortReason(message);
  const name = err instanceof Error ? err.name : "";
  if (name === "TimeoutError") return { result: "timeout", reason };
  for (const [pattern, explained] of EXPLAINED) {
    if (pattern.test(message)) return { ...explained, reason: `${explained.reason} (${reason})` };
  }
  // The connect-phase rules come first: a "body" word in a DNS error is still DNS.
  for (const [pattern, result] of RULES) {
    if (result === "body" && phase !== "body") continue;
    if (pattern.test(message)) return { result, reason };
  }
  return { result: phase === "body" ? "body" : "error", reason };
}
