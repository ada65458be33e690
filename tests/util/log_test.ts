/**
 * Tests of lib/util/log.ts: line formats, levels and secret masking; plus main.ts
 * as a real subprocess, to see what the exporter actually writes to stderr.
 */

import assert from "node:assert/strict";
import { Logger, type LoggerOptions } from "../../lib/util/log.ts";
import { closedPort } from "../_helpers/servers.ts";
import { baseEnv, exporterArgs } from "../_helpers/exporter.ts";

const T0 = Date.UTC(2024, 0, 2, 3, 4, 5, 678);
const TS = "2024-01-02T03:04:05.678Z";

function capture(options: LoggerOptions = {}): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = new Logger({ write: (line) => lines.push(line), now: () => T0, ...options });
  return { logger, lines };
}

Deno.test("logfmt (the default format)", async (t) => {
  await t.step("ts, level, msg, then the fields in order", () => {
    const { logger, lines } = capture();
    logger.info("listening", { address: "0.0.0.0:8080", targets: 2, ok: true });
    assert.deepEqual(lines, [
      `ts=${TS} level=info msg=listening address=0.0.0.0:8080 targets=2 ok=true`,
    ]);
  });
  await t.step("values that need it are quoted and escaped", () => {
    const { logger, lines } = capture();
    logger.info("target is down", {
      spaces: "two words",
      equals: "a=b",
      quote: 'say "hi"',
      backslash: "C:\\dir",
      newline: "line1\nline2",
      empty: "",
      url: "https://user:***@host/x",
      query: "https://host/x?y=1",
    });
    assert.deepEqual(lines, [
      `ts=${TS} level=info msg="target is down" spaces="two words" equals="a=b" ` +
      `quote="say \\"hi\\"" backslash="C:\\\\dir" newline="line1\\nline2" empty="" ` +
      `url=https://user:***@host/x query="https://host/x?y=1"`,
    ]);
  });
  await t.step("undefined fields are left out", () => {
    const { logger, lines } = capture();
    logger.warn("m", { a: undefined, b: 0, c: false });
    assert.deepEqual(lines, [`ts=${TS} level=warn msg=m b=0 c=false`]);
  });
  await t.step("one event is always one line", () => {
    const { logger, lines } = capture();
    logger.error("first\nsecond", { err: "a\r\nb" });
    assert.equal(lines.length, 1);
    assert.doesNotMatch(lines[0] ?? "", /[\r\n]/);
  });
});

Deno.test("json format", async (t) => {
  await t.step("one JSON object per line, ts/level/msg first", () => {
    const { logger, lines } = capture({ format: "json" });
    logger.info("target is down", { url: "https://a.example/", status: 503, up: false });
    assert.deepEqual(lines, [
      `{"ts":"${TS}","level":"info","msg":"target is down","url":"https://a.example/",` +
      `"status":503,"up":false}`,
    ]);
  });
  await t.step("awkward values survive a round trip", () => {
    const { logger, lines } = capture({ format: "json" });
    const fields = { quote: 'say "hi"', newline: "a\nb", unicode: "grüße ✓", empty: "" };
    logger.error("multi\nline", { ...fields, gone: undefined });
    assert.equal(lines.length, 1);
    assert.doesNotMatch(lines[0] ?? "", /\n/);
    assert.deepEqual(JSON.parse(lines[0] ?? ""), {
      ts: TS,
      level: "error",
      msg: "multi\nline",
      ...fields,
    });
  });
});

Deno.test("levels", async (t) => {
  const levels = ["debug", "info", "warn", "error"] as const;
  await t.step("info by default: debug is dropped", () => {
    const { logger, lines } = capture();
    for (const level of levels) logger[level](level);
    assert.deepEqual(lines.map((l) => l.split(" ")[1]), [
      "level=info",
      "level=warn",
      "level=error",
    ]);
  });
  await t.step("each level writes itself and everything above", () => {
    for (const [i, min] of levels.entries()) {
      const { logger, lines } = capture({ level: min, format: "json" });
      for (const level of levels) logger.log(level, "m");
      assert.deepEqual(lines.map((l) => JSON.parse(l).level), levels.slice(i), min);
      for (const [j, level] of levels.entries()) {
        assert.equal(logger.enabled(level), j >= i, `${min}: enabled(${level})`);
      }
    }
  });
});

Deno.test("secrets are masked", async (t) => {
  await t.step("in the message and in field values, in both formats", () => {
    for (const format of ["logfmt", "json"] as const) {
      const { logger, lines } = capture({ format });
      logger.setSecrets(["hunter2", "tok-123"]);
      logger.info("login with hunter2", { header: "Bearer tok-123", again: "hunter2hunter2" });
      assert.equal(lines.length, 1);
      const line = lines[0] ?? "";
      assert.ok(!line.includes("hunter2") && !line.includes("tok-123"), line);
      assert.match(line, /Bearer \*\*\*/);
      assert.match(line, /\*\*\*\*\*\*/);
    }
  });
  await t.step("setSecrets replaces the list; nothing is masked before it", () => {
    const { logger, lines } = capture();
    logger.info("a", { v: "old-secret" });
    logger.setSecrets(["old-secret"]);
    logger.info("b", { v: "old-secret" });
    logger.setSecrets(["new-secret"]);
    logger.info("c", { v: "old-secret new-secret" });
    assert.deepEqual(lines.map((l) => l.slice(l.indexOf("msg="))), [
      "msg=a v=old-secret",
      "msg=b v=***",
      'msg=c v="old-secret ***"',
    ]);
  });
  await t.step("secrets that need escaping are masked too", () => {
    // A password or ${VAR} value may contain quotes, backslashes or newlines;
    // the line escapes them, so masking the finished line misses them.
    const secrets = ['pa"ss', "C:\\key", "two\nlines"];
    for (const format of ["logfmt", "json"] as const) {
      const { logger, lines } = capture({ format });
      logger.setSecrets(secrets);
      logger.info("m", { a: 'x pa"ss y', b: "C:\\key", c: "two\nlines" });
      const line = lines[0] ?? "";
      for (const fragment of ["pa", "key", "lines"]) {
        assert.ok(!line.includes(fragment), `${format}: '${fragment}' leaked: ${line}`);
      }
    }
  });
});

// --- main.ts as a subprocess -------------------------------------------------

const ROOT = new URL("../..", import.meta.url).pathname;

/**
 * Runs main.ts until `done(stderr)` holds, then sends SIGTERM and waits for the
 * exit. Gives up with SIGKILL after `limitMs`.
 */
async function runUntil(
  args: string[],
  env: Record<string, string>,
  done: (stderr: string) => boolean,
  limitMs = 15_000,
): Promise<{ code: number; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: exporterArgs(["--listen", "127.0.0.1:0", ...args]),
    cwd: ROOT,
    env: { ...baseEnv(), ...env },
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const limit = setTimeout(() => child.kill("SIGKILL"), limitMs);
  let stderr = "";
  let stopping = false;
  try {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr += chunk;
      if (!stopping && done(stderr)) {
        stopping = true;
        child.kill("SIGTERM");
      }
    }
  } finally {
    clearTimeout(limit);
  }
  const { code } = await child.status;
  return { code, stderr };
}

Deno.test("main's log lines", async (t) => {
  const port = closedPort();
  const password = "Pa55-w0rd-in-url";
  const target = `http://monitor:${password}@127.0.0.1:${port}/health`;

  await t.step("--log-format json --log-level debug: JSON lines, no password", async () => {
    const { code, stderr } = await runUntil(
      ["--target", target, "--log-format", "json", "--log-level", "debug", "--no-watch-config"],
      {},
      (text) => text.includes('"msg":"target is down"'),
    );
    assert.equal(code, 0, stderr);
    const lines = stderr.split("\n").filter(Boolean);
    const records = lines.map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        assert.fail(`not a JSON line: ${line}`);
      }
    });
    for (const r of records) {
      assert.match(String(r.ts), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(["debug", "info", "warn", "error"].includes(String(r.level)));
      assert.equal(typeof r.msg, "string");
    }
    const msgs = records.map((r) => r.msg);
    for (const msg of ["listening", "check", "target is down", "shutting down"]) {
      assert.ok(msgs.includes(msg), `no '${msg}' line in:\n${stderr}`);
    }
    const down = records.find((r) => r.msg === "target is down");
    assert.equal(down?.url, `http://monitor:***@127.0.0.1:${port}/health`);
    assert.ok(!stderr.includes(password), stderr);
    assert.ok(!stderr.includes(btoa(`monitor:${password}`)), stderr);
  });

  await t.step("defaults: logfmt at info, from the environment too", async () => {
    const { code, stderr } = await runUntil(
      [],
      { UPTIME_EXPORTER_TARGETS: target },
      (text) => text.includes('msg="target is down"'),
    );
    assert.equal(code, 0, stderr);
    const lines = stderr.split("\n").filter(Boolean);
    for (const line of lines) assert.match(line, /^ts=\S+ level=(info|warn|error) msg=/);
    assert.match(lines[0] ?? "", /^ts=\S+ level=info msg=listening address=127\.0\.0\.1:\d+ /);
    assert.ok(!lines.some((l) => l.includes("level=debug")), "debug lines at level info");
    assert.ok(!stderr.includes(password), stderr);
  });

  await t.step("UPTIME_EXPORTER_LOG_FORMAT and _LOG_LEVEL set the logger", async () => {
    const { code, stderr } = await runUntil(
      ["--target", target],
      { UPTIME_EXPORTER_LOG_FORMAT: "json", UPTIME_EXPORTER_LOG_LEVEL: "debug" },
      (text) => text.includes('"msg":"check"'),
    );
    assert.equal(code, 0, stderr);
    const first = JSON.parse(stderr.split("\n")[0] ?? "");
    assert.equal(first.msg, "listening");
  });
});
