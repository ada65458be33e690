/** Tests of lib/config/expand_env.ts: `${VAR}` references in config values. */

import assert from "node:assert/strict";
import { expandEnv } from "../../lib/config/expand_env.ts";
import { err, ok } from "../../lib/util/result.ts";

Deno.test("expandEnv replaces references", async (t) => {
  await t.step("text without references is unchanged and uses no values", () => {
    assert.deepEqual(expandEnv("plain text", { A: "1" }), ok({ text: "plain text", values: [] }));
    assert.deepEqual(expandEnv("", {}), ok({ text: "", values: [] }));
  });
  await t.step("one reference, with the value listed as used", () => {
    assert.deepEqual(
      expandEnv("Bearer ${TOKEN}", { TOKEN: "t1" }),
      ok({ text: "Bearer t1", values: ["t1"] }),
    );
  });
  await t.step("several references; $VAR without braces is literal", () => {
    assert.deepEqual(
      expandEnv("${A}-${B}-$A-${A}", { A: "one", B: "two" }),
      ok({ text: "one-two-$A-one", values: ["one", "two", "one"] }),
    );
  });
  await t.step("an empty value is a value", () => {
    assert.deepEqual(expandEnv("x${E}y", { E: "" }), ok({ text: "xy", values: [""] }));
  });
  await t.step("a value is not expanded again", () => {
    assert.deepEqual(
      expandEnv("${A}", { A: "${B}", B: "no" }),
      ok({ text: "${B}", values: ["${B}"] }),
    );
  });
});

Deno.test("expandEnv refuses with one message per bad reference", async (t) => {
  await t.step("an unset variable", () => {
    assert.deepEqual(
      expandEnv("${HOME}", { PATH: "/bin" }),
      err(["environment variable HOME is not set"]),
    );
  });
  await t.step("a variable set to undefined is unset", () => {
    assert.deepEqual(
      expandEnv("${X}", { X: undefined }),
      err(["environment variable X is not set"]),
    );
  });
  await t.step("a malformed name", () => {
    assert.deepEqual(
      expandEnv("${1TOKEN}", {}),
      err(["'${1TOKEN}' is not a valid environment variable reference"]),
    );
    assert.deepEqual(
      expandEnv("${}", {}),
      err(["'${}' is not a valid environment variable reference"]),
    );
  });
  await t.step("every bad reference, in order, even next to good ones", () => {
    assert.deepEqual(
      expandEnv("${A}${NOPE}${a-b}${ALSO_NOPE}", { A: "ok" }),
      err([
        "environment variable NOPE is not set",
        "'${a-b}' is not a valid environment variable reference",
        "environment variable ALSO_NOPE is not set",
      ]),
    );
  });
});
