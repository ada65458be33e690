/**
 * The probe with a `body_regex`, on a real loopback server: the body reaches
 * the matcher whole (up to the body limit), a hostile body against a costly
 * pattern ends at the check's timeout with a reason that says it was the
 * match, and `durationMs` stays the target's response time (the end of the
 * body), not the matching time.
 */

import assert from "node:assert/strict";
import { closeBodyMatchers } from "../../lib/check/body_match.ts";
import { probe } from "../../lib/check/probe.ts";
import { serve, target } from "../_helpers/servers.ts";

/** Matches for seconds over 1 MiB of random a/b (509 RE2 instructions). */
const COSTLY = "(a[ab]{500}c)|zz";

function abBody(n: number): Uint8Array {
  const body = new Uint8Array(n + 4);
  for (let i = 0; i < n; i++) body[i] = Math.random() < 0.5 ? 97 : 98;
  body.set(new TextEncoder().encode("c zz"), n);
  return body;
}

function bodyServer() {
  const ab = abBody(1024 * 1024);
  const as = new Uint8Array(1024 * 1024 + 1).fill(97);
  as[as.length - 1] = 33;
  return serve((req) => {
    switch (new URL(req.url).pathname) {
      case "/ab":
        return new Response(ab.slice());
      case "/a30":
        return new Response(`${"a".repeat(30)}!`);
      case "/a1m":
        return new Response(as.slice());
      case "/needle":
        return new Response(`${"hay ".repeat(50_000)}needle`);
      default:
        return new Response("not found", { status: 404 });
    }
  });
}

Deno.test("probe: body_regex through a matcher", async (t) => {
  await using server = bodyServer();
  try {
    await t.step("a large body that matches is up", async () => {
      const r = await probe(target({ url: `${server.url}/needle`, body_regex: "needle$" }));
      assert.equal(r.result, "up", r.reason);
      assert.equal(r.bodyBytes, 200_006);
    });
    await t.step("^(a+)+$ against 30 a's and '!': body, at once", async () => {
      const r = await probe(target({ url: `${server.url}/a30`, body_regex: "^(a+)+$" }));
      assert.equal(r.result, "body");
      assert.equal(r.reason, "body does not match ^(a+)+$");
    });
    await t.step(
      "^(a+)+$ against 1 MiB of a's and '!': body, well within the timeout",
      async () => {
        const r = await probe(
          target({ url: `${server.url}/a1m`, body_regex: "^(a+)+$", body_limit: "2MiB" }),
        );
        assert.equal(r.result, "body");
        assert.equal(r.bodyBytes, 1024 * 1024 + 1);
      },
    );
  } finally {
    closeBodyMatchers();
  }
});

Deno.test("probe: a match that outlasts the timeout is an error that says so", async (t) => {
  await using server = bodyServer();
  try {
    await t.step("durationMs is the response time, not the matching time", async () => {
      const start = performance.now();
      const r = await probe(
        target({
          url: `${server.url}/ab`,
          body_regex: COSTLY,
          timeout: "1500ms",
          body_limit: "2MiB",
        }),
      );
      const wall = performance.now() - start;
      assert.equal(r.result, "error");
      assert.equal(r.statusCode, 200);
      assert.equal(r.bodyBytes, 1024 * 1024 + 4);
      assert.match(
        r.reason,
        /^body_regex did not finish matching within the timeout \(1\.50s; the response took \d+ms\)$/,
      );
      assert.ok(wall >= 1490 && wall < 3000, `the check ended at its timeout (${wall} ms)`);
      assert.ok(r.durationMs < 1000, `durationMs ${r.durationMs}: the body was read long before`);
      assert.equal(r.reason, r.reason.replace(/\d+ms\)$/, `${Math.round(r.durationMs)}ms)`));
    });
    await t.step("a match still waiting for a busy matcher says that instead", async () => {
      // Three at once, two matchers: the third waits until its timeout.
      const t3 = target({
        url: `${server.url}/ab`,
        body_regex: COSTLY,
        timeout: "1500ms",
        body_limit: "2MiB",
      });
      const results = await Promise.all([probe(t3), probe(t3), probe(t3)]);
      const reasons = results.map((r) => r.reason.replace(/ \(1\.50s.*?\)/, " (…)")).sort();
      assert.deepEqual(reasons, [
        "body_regex did not finish matching within the timeout (…)",
        "body_regex did not finish matching within the timeout (…)",
        "body_regex match did not start within the timeout (…): the matchers were busy with other checks",
      ]);
      for (const r of results) assert.equal(r.result, "error");
    });
    await t.step("an aborted check stops its match", async () => {
      const controller = new AbortController();
      const checking = probe(
        target({ url: `${server.url}/ab`, body_regex: COSTLY, timeout: "5s", body_limit: "2MiB" }),
        {
          signal: controller.signal,
        },
      );
      await new Promise((r) => setTimeout(r, 500));
      const start = performance.now();
      controller.abort();
      const r = await checking;
      assert.equal(r.result, "error");
      assert.equal(r.reason, "aborted");
      assert.ok(performance.now() - start < 500, "ended at once");
    });
  } finally {
    closeBodyMatchers();
  }
});
