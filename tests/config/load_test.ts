/** Tests of lib/config/load.ts: reading the config file named on the command line. */

import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/problems.ts";
import { DEFAULT_TARGETS, DEFAULTS } from "../../lib/config/schema.ts";
import { loadConfig } from "../../lib/config/load.ts";

const FIXTURES = new URL("../fixtures/config/", import.meta.url).pathname;

async function loadError(promise: Promise<unknown>): Promise<ConfigError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
    return e;
  }
  assert.fail("expected a ConfigError, but the config loaded");
}

Deno.test("loadConfig", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "load_config_test_" });
  const file = (name: string) => `${dir}/${name}`;
  try {
    await t.step("no file: the built-in defaults", async () => {
      const config = await loadConfig({ overrides: {} }, { env: {} });
      assert.deepEqual(config.targets.map((t) => t.url), [...DEFAULT_TARGETS]);
    });
    await t.step("no file: overrides still apply", async () => {
      const config = await loadConfig(
        { overrides: { targets: ["https://x.example/"], intervalMs: 2_000 } },
        { env: {} },
      );
      assert.deepEqual(config.targets.map((t) => [t.url, t.intervalMs, t.timeoutMs]), [
        ["https://x.example/", 2_000, 2_000],
      ]);
    });
    await t.step("a file, with the overrides on top", async () => {
      const config = await loadConfig(
        { configFile: FIXTURES + "good_full.yaml", overrides: { metricPrefix: "flag" } },
        { env: { API_TOKEN: "t", API_PASSWORD: "p" } },
      );
      assert.equal(config.metricPrefix, "flag");
      assert.equal(config.targets.length, 3);
      assert.equal(config.targets[1]?.headers["x-token"], "Bearer t");
    });
    await t.step("${VAR}s come from the process environment by default", async () => {
      const name = "UPTIME_TEST_LOAD_CONFIG_TOKEN";
      await Deno.writeTextFile(
        file("env.yaml"),
        `targets:\n  - url: https://a.example/\n    headers: {X-Token: "\${${name}}"}\n`,
      );
      Deno.env.set(name, "from-process-env");
      try {
        const config = await loadConfig({ configFile: file("env.yaml"), overrides: {} });
        assert.equal(config.targets[0]?.headers["x-token"], "from-process-env");
        assert.ok(config.secrets.includes("from-process-env"));
      } finally {
        Deno.env.delete(name);
      }
      const err = await loadError(loadConfig({ configFile: file("env.yaml"), overrides: {} }));
      assert.equal(
        err.message,
        `Cannot load config: 'targets[0].headers.X-Token' (line 3): environment variable ${name} is not set`,
      );
    });
    await t.step("file-level errors name the file", async () => {
      const path = FIXTURES + "bad_top_level_list.yaml";
      const err = await loadError(loadConfig({ configFile: path, overrides: {} }, { env: {} }));
      assert.equal(err.message, `Cannot load config: ${path}: the top level must be a mapping`);
      const yaml = FIXTURES + "bad_yaml_alias_bomb.yaml";
      const bomb = await loadError(loadConfig({ configFile: yaml, overrides: {} }, { env: {} }));
      assert.ok(bomb.message.startsWith(`Cannot load config: ${yaml}`), bomb.message);
      assert.match(bomb.message, /invalid YAML/);
    });
    await t.step("a missing file", async () => {
      const path = file("missing.yaml");
      const err = await loadError(loadConfig({ configFile: path, overrides: {} }));
      assert.equal(err.problems.length, 1);
      assert.ok(
        err.message.startsWith(`Cannot load config: ${path}: cannot read the file: `),
        err.message,
      );
      assert.match(err.message, /No such file or directory/);
    });
    await t.step("a directory", async () => {
      const err = await loadError(loadConfig({ configFile: dir, overrides: {} }));
      assert.ok(
        err.message.startsWith(`Cannot load config: ${dir}: cannot read the file: `),
        err.message,
      );
    });
    await t.step("a file that is not UTF-8", async () => {
      const path = file("latin1.yaml");
      const latin1 = new Uint8Array([
        ...new TextEncoder().encode("targets:\n  - url: https://caf"),
        0xe9, // é in Latin-1
        ...new TextEncoder().encode(".example/\n"),
      ]);
      await Deno.writeFile(path, latin1);
      const err = await loadError(loadConfig({ configFile: path, overrides: {} }));
      assert.equal(
        err.message,
        `Cannot load config: ${path}: cannot read the file: not valid UTF-8`,
      );
      await Deno.writeFile(path, new Uint8Array([0xff, 0xfe, 0x74, 0x00]));
      const utf16 = await loadError(loadConfig({ configFile: path, overrides: {} }));
      assert.equal(utf16.message, err.message);
    });
    await t.step("a UTF-8 byte order mark is fine", async () => {
      const path = file("bom.yaml");
      await Deno.writeTextFile(path, "\uFEFFtargets:\n  - https://bom.example/\n");
      const config = await loadConfig({ configFile: path, overrides: {} }, { env: {} });
      assert.deepEqual(config.targets.map((t) => t.url), ["https://bom.example/"]);
    });
    await t.step("a file over 10 MiB is refused before it is read", async () => {
      const path = file("big.yaml");
      // Not YAML at all: the size must be the only complaint.
      const size = DEFAULTS.maxFileBytes + 1;
      const bytes = new Uint8Array(size).fill("[".charCodeAt(0));
      await Deno.writeFile(path, bytes);
      const err = await loadError(loadConfig({ configFile: path, overrides: {} }));
      assert.equal(err.message, `Cannot load config: ${path}: file is larger than 10485760 bytes`);
    });
    await t.step("a file of exactly 10 MiB is read", async () => {
      const path = file("limit.yaml");
      const head = "targets:\n  - https://limit.example/\n#";
      const text = head + " ".repeat(DEFAULTS.maxFileBytes - head.length - 1) + "\n";
      assert.equal(new TextEncoder().encode(text).length, DEFAULTS.maxFileBytes);
      await Deno.writeTextFile(path, text);
      const config = await loadConfig({ configFile: path, overrides: {} }, { env: {} });
      assert.deepEqual(config.targets.map((t) => t.url), ["https://limit.example/"]);
    });
    await t.step("every call reads the file again (reload)", async () => {
      const path = file("reload.yaml");
      await Deno.writeTextFile(path, "targets:\n  - https://one.example/\n");
      const first = await loadConfig({ configFile: path, overrides: {} }, { env: {} });
      await Deno.writeTextFile(
        path,
        "targets:\n  - https://one.example/\n  - https://two.example/\n",
      );
      const second = await loadConfig({ configFile: path, overrides: {} }, { env: {} });
      assert.deepEqual(second.targets.map((t) => t.url), [
        "https://one.example/",
        "https://two.example/",
      ]);
      assert.equal(first.targets[0]?.key, second.targets[0]?.key);
    });
    await t.step("a symlinked file (ConfigMap style) is followed", async () => {
      await Deno.writeTextFile(file("real.yaml"), "targets:\n  - https://linked.example/\n");
      await Deno.symlink(file("real.yaml"), file("link.yaml"));
      const config = await loadConfig({ configFile: file("link.yaml"), overrides: {} }, {
        env: {},
      });
      assert.deepEqual(config.targets.map((t) => t.url), ["https://linked.example/"]);
    });
    await t.step(
      "a stream (pipe, /dev/stdin) longer than 10 MiB is cut off, not read to the end",
      async () => {
        // stat() gives size 0 for a pipe, so the size check must also bound the read;
        // otherwise `--config /dev/zero` or a runaway generator eats all memory.
        const fifo = file("stream.yaml");
        const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
        assert.ok(made.success, "mkfifo failed");
        const loading = loadConfig({ configFile: fifo, overrides: {} }, { env: {} });
        const settled = loading.then(() => "loaded", (e) => e);
        const writer = await Deno.open(fifo, { write: true });
        let timer: ReturnType<typeof setTimeout> | undefined;
        try {
          const chunk = new Uint8Array(1024 * 1024).fill("#".charCodeAt(0));
          // Write a little over the limit, then keep the pipe open (no EOF yet).
          const writing = (async () => {
            for (let i = 0; i <= DEFAULTS.maxFileBytes / chunk.length; i++) {
              await writer.write(chunk).catch(() => {});
            }
          })();
          const outcome = await Promise.race([
            settled,
            new Promise((resolve) => timer = setTimeout(() => resolve("still reading"), 3_000)),
          ]);
          assert.ok(outcome instanceof ConfigError, `after 3s: ${outcome}`);
          assert.match(outcome.message, /larger than 10485760 bytes/);
          writer.close();
          await writing;
        } finally {
          clearTimeout(timer);
          try {
            writer.close();
          } catch { /* already closed */ }
          await settled;
        }
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
