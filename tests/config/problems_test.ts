/** Tests of lib/config/problems.ts: the problem collector, path formatting and ConfigError. */

import assert from "node:assert/strict";
import {
  checkKeys,
  ConfigError,
  formatPath,
  isObject,
  type Path,
  Problems,
} from "../../lib/config/problems.ts";

Deno.test("ConfigError", async (t) => {
  await t.step("one problem: the message is the problem after the prefix", () => {
    const err = new ConfigError(["'x': broken"]);
    assert.ok(err instanceof Error);
    assert.equal(err.name, "ConfigError");
    assert.equal(err.message, "Cannot load config: 'x': broken");
    assert.deepEqual(err.problems, ["'x': broken"]);
  });
  await t.step("several problems: counted, one per indented line", () => {
    const err = new ConfigError(["a", "b", "c"]);
    assert.equal(err.message, "Cannot load config: 3 problems:\n  a\n  b\n  c");
    assert.deepEqual(err.problems, ["a", "b", "c"]);
  });
  await t.step("the message shows the first 100 problems; `problems` keeps them all", () => {
    const all = Array.from({ length: 250 }, (_, i) => `p${i}`);
    const err = new ConfigError(all);
    const lines = err.message.split("\n");
    assert.equal(lines[0], "Cannot load config: 250 problems:");
    assert.equal(lines.length, 1 + 100 + 1);
    assert.equal(lines[100], "  p99");
    assert.equal(lines.at(-1), "  … and 150 more problems");
    assert.equal(err.problems.length, 250);
  });
});

Deno.test("formatPath", () => {
  assert.equal(formatPath(["targets", 0, "headers", "X-Token"]), "targets[0].headers.X-Token");
  assert.equal(formatPath(["global"]), "global");
  assert.equal(formatPath(["--target", 2, "url"]), "--target[2].url");
  assert.equal(formatPath([]), "");
});

Deno.test("Problems", async (t) => {
  await t.step("each problem starts with its path and, when known, its line", () => {
    const problems = new Problems((path) => path[0] === "global" ? 2 : undefined);
    problems.add(["global", "metric_prefix"], "must be a string");
    problems.add(["--timeout"], "is too long");
    assert.deepEqual(problems.list, [
      "'global.metric_prefix' (line 2): must be a string",
      "'--timeout': is too long",
    ]);
  });
  await t.step("a problem without a path is about the config as a whole", () => {
    const problems = new Problems(() => 1);
    problems.add([], "is empty");
    assert.deepEqual(problems.list, ["config: is empty"]);
  });
  await t.step("the same problem twice is listed once, in the order found", () => {
    const problems = new Problems(() => undefined);
    problems.add(["defaults", "interval"], "bad");
    problems.add(["targets", 0, "url"], "bad");
    problems.add(["defaults", "interval"], "bad");
    problems.add(["defaults", "interval"], "worse");
    assert.deepEqual(problems.list, [
      "'defaults.interval': bad",
      "'targets[0].url': bad",
      "'defaults.interval': worse",
    ]);
  });
  await t.step("lines are looked up only for the problems a message shows", () => {
    const asked: Path[] = [];
    const problems = new Problems((path) => {
      asked.push(path);
      return 7;
    });
    for (let i = 0; i < 150; i++) problems.add(["targets", i], "bad");
    assert.equal(asked.length, 100);
    assert.equal(problems.list[99], "'targets[99]' (line 7): bad");
    assert.equal(problems.list[100], "'targets[100]': bad");
    assert.equal(problems.list.length, 150);
  });
});

Deno.test("checkKeys reports each unknown key with the allowed ones", () => {
  const problems = new Problems(() => undefined);
  checkKeys({ username: "u", passwd: "p", extra: 1 }, ["username", "password"], {
    path: ["targets", 1, "basic_auth"],
    problems,
  });
  assert.deepEqual(problems.list, [
    "'targets[1].basic_auth.passwd': unknown key (allowed: username, password)",
    "'targets[1].basic_auth.extra': unknown key (allowed: username, password)",
  ]);
  const none = new Problems(() => undefined);
  checkKeys({ username: "u" }, ["username", "password"], { path: [], problems: none });
  assert.deepEqual(none.list, []);
});

Deno.test("isObject is true for mappings only", () => {
  assert.equal(isObject({}), true);
  assert.equal(isObject({ a: 1 }), true);
  for (const value of [null, undefined, [], [1], "x", 1, true]) {
    assert.equal(isObject(value), false, JSON.stringify(value));
  }
});
