import assert from "node:assert/strict";
import { failure, success } from "../../lib/check/outcome.ts";

Deno.test("success and failure build whole results whose up follows the result", () => {
  assert.deepEqual(success({ startedAt: 5, statusCode: 200, durationMs: 1.5, bodyBytes: 2 }), {
    up: true,
    result: "up",
    statusCode: 200,
    durationMs: 1.5,
    reason: "",
    redirects: 0,
    bodyBytes: 2,
    startedAt: 5,
  });
  assert.deepEqual(failure("tls", "cannot use tls_ca_file: x", { startedAt: 7 }), {
    up: false,
    result: "tls",
    statusCode: 0,
    durationMs: 0,
    reason: "cannot use tls_ca_file: x",
    redirects: 0,
    bodyBytes: 0,
    startedAt: 7,
  });
});
