import assert from "node:assert/strict";
import { classifyError } from "../../lib/check/classify.ts";

/** Errors shaped as Deno 2.9's fetch throws them: reason in `cause.message`. */
function fetchError(cause: string): TypeError {
  return new TypeError("fetch failed", { cause: new Error(cause) });
}

// Messages copied from real failures seen on loopback (probe_test.ts checks the live ones).
const CASES: [string, unknown, "headers" | "body", string, string][] = [
  [
    "dns",
    fetchError(
      "error sending request for url (http://x.invalid/): client error (Connect): dns error: failed to lookup address information: Name or service not known",
    ),
    "headers",
    "dns",
    "dns error: failed to lookup address information: Name or service not known",
  ],
  [
    "refused",
    fetchError(
      "error sending request for url (http://127.0.0.1:1234/): client error (Connect): tcp connect error: Connection refused (os error 111)",
    ),
    "headers",
    "connect",
    "tcp connect error: Connection refused (os error 111)",
  ],
  [
    "untrusted certificate",
    fetchError(
      "error sending request for url (https://localhost:1/): client error (Connect): invalid peer certificate: UnknownIssuer",
    ),
    "headers",
    "tls",
    "invalid peer certificate: UnknownIssuer",
  ],
  [
    "TLS to a plain-HTTP port",
    fetchError(
      "error sending request for url (https://127.0.0.1:1/): client error (Connect): received corrupt message of type InvalidContentType",
    ),
    "headers",
    "tls",
    "received corrupt message of type InvalidContentType",
  ],
  [
    "blocked port",
    new TypeError("Fetch failed: Requests to port 1 are blocked"),
    "headers",
    "connect",
    "Fetch failed: Requests to port 1 are blocked",
  ],
  [
    "garbage response",
    fetchError(
      "error sending request from 127.0.0.1:4 for http://127.0.0.1:5/ (127.0.0.1:5): client error (SendRequest): invalid HTTP version parsed",
    ),
    "headers",
    "error",
    "invalid HTTP version parsed",
  ],
  [
    "closed before headers",
    fetchError(
      "error sending request from 127.0.0.1:4 for http://127.0.0.1:5/ (127.0.0.1:5): client error (SendRequest): connection closed before message completed",
    ),
    "headers",
    "error",
    "connection closed before message completed",
  ],
  [
    "reset mid-body",
    new TypeError("error reading a body from connection"),
    "body",
    "body",
    "error reading a body from connection",
  ],
  [
    "timeout",
    new DOMException("timeout", "TimeoutError"),
    "body",
    "timeout",
    "timeout",
  ],
  ["a thrown string", "weird", "headers", "error", "weird"],
];

Deno.test("classifyError maps Deno's fetch errors to results", async (t) => {
  for (const [name, err, phase, result, reason] of CASES) {
    await t.step(name, () => {
      assert.deepEqual(classifyError(err, phase), { result, reason });
    });
  }
  await t.step("the reason never carries the URL (credentials could be in it)", () => {
    const c = classifyError(
      fetchError(
        "error sending request for url (http://a:b@h/): client error (Connect): tcp connect error: x",
      ),
      "headers",
    );
    assert.doesNotMatch(c.reason, /a:b@/);
  });
});
