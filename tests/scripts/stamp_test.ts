/**
 * scripts/stamp.ts (`deno task stamp`, run by `deno task compile` first):
 * the revision it writes, from $REVISION, git, or neither. The task runs as
 * deno.json defines it, with its permissions.
 */

import assert from "node:assert/strict";
import { resolveRevision } from "../../scripts/stamp.ts";
import { baseEnv, denoJson, ROOT } from "../_helpers/exporter.ts";

async function stamp(env: Record<string, string>): Promise<{ code: number; file?: unknown }> {
  const output = `dist/stamp-test-${crypto.randomUUID()}.json`;
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", "stamp", "--output", output],
      cwd: ROOT,
      clearEnv: true,
      env: { ...baseEnv(), ...env },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const file = out.code === 0
      ? JSON.parse(await Deno.readTextFile(`${ROOT}/${output}`))
      : undefined;
    return { code: out.code, file };
  } finally {
    await Deno.remove(`${ROOT}/${output}`).catch(() => {});
  }
}

async function head(): Promise<string> {
  const out = await new Deno.Command("git", { args: ["rev-parse", "HEAD"], cwd: ROOT }).output();
  assert.equal(out.code, 0, "the tests run in a git checkout");
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.test("deno task stamp", async (t) => {
  await t.step("the compile task runs it first and embeds what it writes", () => {
    const compile = denoJson().tasks.compile;
    assert.ok(typeof compile === "object", "compile is a task object with dependencies");
    assert.deepEqual(compile.dependencies, ["stamp"]);
    assert.match(compile.command, / --include dist\/build_info\.json /);
  });
  await t.step("$REVISION wins (docker build --build-arg REVISION)", async () => {
    assert.deepEqual(await stamp({ REVISION: "0123abcd" }), {
      code: 0,
      file: { revision: "0123abcd" },
    });
  });
  await t.step("else the checkout's commit", async () => {
    assert.deepEqual(await stamp({}), { code: 0, file: { revision: await head() } });
  });
  await t.step("a REVISION that is not one fails the build", async () => {
    for (const bad of ["a b", "x\ny", "-rf", "a".repeat(65)]) {
      assert.equal((await stamp({ REVISION: bad })).code, 1, JSON.stringify(bad));
    }
  });
  await t.step("without git or a repository: unknown", async () => {
    const dir = await Deno.makeTempDir({ prefix: "stamp-test-" });
    try {
      assert.equal(await resolveRevision({}, { cwd: dir }), "unknown");
      assert.equal(await resolveRevision({ REVISION: " v1.2.3 " }, { cwd: dir }), "v1.2.3");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
