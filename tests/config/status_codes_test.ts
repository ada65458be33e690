/** Tests of lib/config/status_codes.ts: codes, classes and ranges. */

import assert from "node:assert/strict";
import {
  parseStatusCodes,
  statusAccepted,
  type StatusMatcher,
} from "../../lib/config/status_codes.ts";
import { err } from "../../lib/util/result.ts";

function matcher(value: unknown): StatusMatcher {
  const m = parseStatusCodes(value);
  assert.ok(m.ok, `${JSON.stringify(value)}: ${m.ok ? "" : m.error}`);
  return m.value;
}

/** The codes from 100 to 599 that `value` accepts, as ranges `[lo, hi]`. */
function accepted(value: unknown): [number, number][] {
  const m = matcher(value);
  const ranges: [number, number][] = [];
  for (let code = 100; code <= 599; code++) {
    if (!statusAccepted(m, code)) continue;
    const last = ranges.at(-1);
    if (last && last[1] === code - 1) last[1] = code;
    else ranges.push([code, code]);
  }
  return ranges;
}

Deno.test("parseStatusCodes accepts", async (t) => {
  await t.step("a single code as a number or a string", () => {
    assert.deepEqual(accepted(200), [[200, 200]]);
    assert.deepEqual(accepted("200"), [[200, 200]]);
    assert.equal(matcher(200).source, "200");
  });
  await t.step("classes 1xx to 5xx, in any case", () => {
    assert.deepEqual(accepted("1xx"), [[100, 199]]);
    assert.deepEqual(accepted("2xx"), [[200, 299]]);
    assert.deepEqual(accepted("5XX"), [[500, 599]]);
    assert.equal(matcher("2XX").source, "2xx");
  });
  await t.step("ranges, inclusive", () => {
    assert.deepEqual(accepted("301-308"), [[301, 308]]);
    assert.deepEqual(accepted("100-599"), [[100, 599]]);
    assert.deepEqual(accepted("404-404"), [[404, 404]]);
  });
  await t.step("lists mixing all three", () => {
    const value = [200, "3xx", "401-403", 418];
    assert.deepEqual(accepted(value), [[200, 200], [300, 399], [401, 403], [418, 418]]);
    assert.equal(matcher(value).source, "200,3xx,401-403,418");
  });
  await t.step("a comma-separated string, spaces ignored", () => {
    assert.equal(matcher("2xx, 301 ,404").source, "2xx,301,404");
    assert.deepEqual(accepted([" 404 "]), [[404, 404]]);
  });
  await t.step("statusAccepted() outside 100-599", () => {
    const m = matcher("1xx,5xx");
    for (const code of [0, 99, 600, 999, -1]) {
      assert.equal(statusAccepted(m, code), false, `${code}`);
    }
  });
  await t.step("the matcher is plain data: its ranges, as written", () => {
    const m = matcher("200,2xx,301-308");
    assert.deepEqual(m, {
      source: "200,2xx,301-308",
      ranges: [[200, 200], [200, 299], [301, 308]],
    });
    assert.deepStrictEqual(structuredClone(m), m);
  });
});

Deno.test("parseStatusCodes refuses with a message", async (t) => {
  const notACode = (item: string) =>
    `'${item}' is not a status code, class (2xx) or range (200-299)`;
  await t.step("an empty list", () => {
    assert.deepEqual(
      parseStatusCodes([]),
      err([{ message: "must list at least one status code" }]),
    );
  });
  await t.step("items that are not codes, classes or ranges", () => {
    const cases: [unknown, string][] = [
      ["", ""],
      ["6xx", "6xx"],
      ["0xx", "0xx"],
      ["20x", "20x"],
      ["099", "099"],
      ["600", "600"],
      ["99", "99"],
      ["2000", "2000"],
      ["299-200", "299-200"],
      ["200-600", "200-600"],
      ["200-", "200-"],
      ["200 - 299", "200 - 299"],
      ["abc", "abc"],
      [[200, "ok"], "ok"],
      ["200,,201", ""],
      [200.5, "200.5"],
      [null, "null"],
      [true, "true"],
    ];
    for (const [value, item] of cases) {
      const codes = parseStatusCodes(value);
      assert.ok(!codes.ok, JSON.stringify(value));
      assert.deepEqual(codes.error.map((p) => p.message), [notACode(item)], JSON.stringify(value));
    }
  });
  await t.step("every bad entry, with its index in a list", () => {
    assert.deepEqual(
      parseStatusCodes(["2xx", 99, "700-800"]),
      err([{ index: 1, message: notACode("99") }, { index: 2, message: notACode("700-800") }]),
    );
    // A comma-separated string is one YAML value: no index, every bad part named.
    assert.deepEqual(
      parseStatusCodes("2xx,99,abc"),
      err([{ index: undefined, message: notACode("99") }, {
        index: undefined,
        message: notACode("abc"),
      }]),
    );
  });
  await t.step("a nested list is not a status code", () => {
    // YAML `valid_status_codes: [200, [301]]` is a mistake, not the code 301.
    assert.equal(parseStatusCodes([200, [301]]).ok, false);
  });
});
