/**
 * Hostile config files: each is refused with a clear ConfigError, quickly,
 * without a crash, by the library functions, by a reload of the running app,
 * and by the real binary (`--check-config`, exit code 2, no stack trace).
 */

import assert from "node:assert/strict";
import { testApp } from "../_helpers/app.ts";
import { ConfigError } from "../../lib/config/problems.ts";
import { buildConfig } from "../../lib/config/validate.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { exporterArgs } from "../_helpers/exporter.ts";

const encoder = new TextEncoder();

const BILLION_LAUGHS = [
  `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]`,
  ...["b", "c", "d", "e", "f", "g", "h", "i"].map((name, i) => {
    const prev = "abcdefgh"[i];
    return `${name}: &${name} [${Array(9).fill(`*${prev}`).join(",")}]`;
  }),
  "targets: [{url: 'http://127.0.0.1:9/', labels: {x: *i}}]",
].join("\n");

interface Case {
  name: string;
  content: () => string | Uint8Array;
  message: RegExp;
  /** Most milliseconds `buildConfig`/`loadConfig` may take. */
  withinMs: number;
}

const CASES: Case[] = [
  {
    name: "alias bomb (billion laughs)",
    content: () => BILLION_LAUGHS,
    message: /invalid YAML: Excessive alias count/,
    withinMs: 2000,
  },
  {
    name: "a 50 MB file",
    content: () => new Uint8Array(50 * 1024 * 1024).fill(0x23),
    message: /larger than 10485760 bytes/,
    withinMs: 2000,
  },
  {
    name: "100,000 nested flow sequences",
    content: () => "[".repeat(100_000) + "]".repeat(100_000),
    message: /invalid YAML: nested too deeply/,
    withinMs: 5000,
  },
  {
    name: "3,000 nested block mappings",
    content: () => Array.from({ length: 3000 }, (_, i) => " ".repeat(i) + "a:").join("\n") + " 1",
    message: /invalid YAML: nested too deeply/,
    withinMs: 5000,
  },
  {
    name: "deep nesting inside a label value",
    content: () => `targets:\n  - url: http://127.0.0.1:9/\n    labels: {x: ${"[".repeat(50_000)}}`,
    message: /invalid YAML: nested too deeply/,
    withinMs: 5000,
  },
  {
    name: "nesting that parses but is not a string",
    content: () =>
      `targets:\n  - url: http://127.0.0.1:9/\n    labels: {x: ${"[".repeat(200)}1${
        "]".repeat(200)
      }}\n    headers: {X-A: {b: {c: d}}}`,
    message:
      /^(?=[^]*labels\.x' \(line 3\): must be a string)(?=[^]*X-A' \(line 4\): must be a string)/,
    withinMs: 2000,
  },
  {
    name: "non-UTF-8 bytes (Latin-1)",
    content: () =>
      Uint8Array.from("targets:\n  - url: http://caf\xe9.example/\n", (c) => c.charCodeAt(0)),
    message: /not valid UTF-8/,
    withinMs: 2000,
  },
  {
    name: "invalid UTF-8 sequences",
    content: () => new Uint8Array([...encoder.encode("targets: ["), 0xc3, 0x28, 0xff, 0xfe, 0x5d]),
    message: /not valid UTF-8/,
    withinMs: 2000,
  },
  {
    name: "NUL and control characters",
    content: () => "targets:\n  - url: \x00\x01\x02http://a/\n",
    message: /:2:10: invalid YAML: control character U\+0000 is not allowed$/,
    withinMs: 2000,
  },
  {
    name: "40,000 top-level keys (duplicate-key check must stay linear)",
    content: () =>
      "targets: []\n" + Array.from({ length: 40_000 }, (_, i) => `k${i}: v`).join("\n"),
    message: /40000 problems:[^]*'k0' \(line 2\): unknown key[^]*… and 39900 more problems$/,
    withinMs: 8000,
  },
  {
    name: "20,000 bad targets: every problem counted, the message bounded",
    content: () =>
      "targets:\n" + Array.from({ length: 20_000 }, (_, i) => `  - url: "x${i}"`).join("\n"),
    message: /^Cannot load config: 20000 problems:[^]*… and 19900 more problems$/,
    withinMs: 8000,
  },
  {
    name: "a duplicate key among 40,000",
    content: () =>
      "targets:\n  - url: http://127.0.0.1:9/\n    labels:\n" +
      Array.from({ length: 40_000 }, (_, i) => `      k${i}: v`).join("\n") + "\n      k7: again",
    message: /:40004:7: invalid YAML: Map keys must be unique$/,
    withinMs: 8000,
  },
];

/** Writes each case's file into a temporary directory. */
async function writeCases(): Promise<{ dir: string; files: Map<string, string> }> {
  const dir = await Deno.makeTempDir({ prefix: "yaml_hostile_" });
  const files = new Map<string, string>();
  for (const [i, c] of CASES.entries()) {
    const path = `${dir}/case${i}.yaml`;
    const content = c.content();
    if (typeof content === "string") await Deno.writeTextFile(path, content);
    else await Deno.writeFile(path, content);
    files.set(c.name, path);
  }
  return { dir, files };
}

Deno.test("hostile YAML: loadConfig refuses each with a clear error, quickly", async (t) => {
  const { dir, files } = await writeCases();
  try {
    for (const c of CASES) {
      await t.step(c.name, async () => {
        const start = performance.now();
        const error = await loadConfig({ configFile: files.get(c.name)!, overrides: {} }, {
          env: {},
        }).then(() => undefined, (e) => e);
        const ms = performance.now() - start;
        assert.ok(error instanceof ConfigError, `not a ConfigError: ${error}`);
        assert.match(error.message, c.message);
        assert.ok(error.message.length < 20_000, `message of ${error.message.length} chars`);
        assert.ok(!/\bat .*\.(ts|js):\d+/.test(error.message), "no stack trace in the message");
        assert.ok(ms < c.withinMs, `${ms.toFixed(0)} ms`);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hostile YAML: buildConfig refuses huge text before parsing it", () => {
  const start = performance.now();
  assert.throws(
    () => buildConfig("#".repeat(50 * 1024 * 1024), {}, { env: {} }),
    /larger than 10485760 bytes/,
  );
  assert.ok(performance.now() - start < 1000);
});

Deno.test("hostile YAML: a reload to a hostile file keeps the running config", async () => {
  const { dir, files } = await writeCases();
  const test = await testApp("targets: [{url: 'http://127.0.0.1:9/', interval: 1h}]");
  const { app, lines: logs } = test;
  const good = await app.start();
  try {
    for (const c of CASES) {
      const reloaded = await app.reload({ file: files.get(c.name)!, env: {} });
      assert.match(reloaded.ok ? "" : reloaded.error, c.message, c.name);
      assert.equal(app.config, good, c.name);
    }
    assert.equal(logs.filter((l) => l.includes("config reload failed")).length, CASES.length);
  } finally {
    await test[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hostile YAML: the binary exits 2 with the reason and no stack trace", async (t) => {
  const { dir, files } = await writeCases();
  try {
    // A few representative cases: each run starts a process (~0.3 s).
    for (const name of [CASES[0]!.name, CASES[1]!.name, CASES[2]!.name, CASES[6]!.name]) {
      await t.step(name, async () => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: exporterArgs(["--check-config", "--config", files.get(name)!]),
          stdout: "piped",
          stderr: "piped",
          env: { NO_COLOR: "1" },
        }).output();
        const stderr = new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 2, stderr);
        assert.match(stderr, /^Cannot load config: /);
        assert.doesNotMatch(stderr, /Uncaught|\bat .*\.(ts|js):\d+/);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
