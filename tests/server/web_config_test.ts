import assert from "node:assert/strict";
import { loadWebConfig, WebConfigError } from "../../lib/server/web_config.ts";
import { hostileFixture } from "../_helpers/hostile_server.ts";
import { ALICE_HASH, BOB_HASH_2Y_10, tempDir, TLS_DIR, TOKEN } from "../_helpers/web_config.ts";

Deno.test("loadWebConfig accepts the exporter-toolkit format", async (t) => {
  const dir = await tempDir({
    "web.yml": `
tls_server_config:
  cert_file: ${TLS_DIR}localhost.pem
  key_file: server.key
basic_auth_users:
  alice: ${ALICE_HASH}
  bob: '${BOB_HASH_2Y_10}'
bearer_token_file: token
`,
    "server.key": Deno.readTextFileSync(`${TLS_DIR}localhost.key`),
    "token": `${TOKEN}\n`,
  });
  try {
    const config = await loadWebConfig(`${dir}/web.yml`);
    await t.step("relative paths are relative to the web config file", () => {
      assert.equal(config.tls?.keyFile, `${dir}/server.key`);
      assert.equal(config.tls?.certFile, `${TLS_DIR}localhost.pem`);
    });
    await t.step("users and their hashes", () => {
      assert.deepEqual([...config.users.keys()], ["alice", "bob"]);
    });
    await t.step("the token is kept only as a digest", () => {
      assert.equal(config.tokenDigest?.byteLength, 32);
      assert.ok(!JSON.stringify(config).includes(TOKEN));
    });
    await t.step("an empty file means no TLS and no authentication", async () => {
      await Deno.writeTextFile(`${dir}/empty.yml`, "");
      const empty = await loadWebConfig(`${dir}/empty.yml`);
      assert.equal(empty.tls, undefined);
      assert.equal(empty.users.size, 0);
      assert.equal(empty.tokenDigest, undefined);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The line a problem names: `(line 3)`. */
const lineOf = (problem: string) => Number(/\(line (\d+)\)/.exec(problem)?.[1]);

Deno.test("loadWebConfig refuses bad configs with a clear message and no secret", async (t) => {
  const dir = await tempDir({
    "token": TOKEN,
    "short": "abc",
    "not.pem": "hello",
    "latin1.yml": new Uint8Array([0x62, 0x61, 0x73, 0x69, 0x63, 0x3a, 0xe9, 0xff, 0x0a]),
  });
  const cases: [string, string, RegExp][] = [
    ["unknown key", "foo: 1", /'foo' \(line 1\): unknown key/],
    ["not a mapping", "- a", /top level must be a mapping/],
    ["unsupported toolkit key", "tls_server_config: {client_ca_file: x}", /not supported/],
    ["http_server_config", "http_server_config: {http2: true}", /not supported/],
    ["missing key_file", `tls_server_config: {cert_file: ${TLS_DIR}localhost.pem}`, /key_file/],
    [
      "missing certificate file",
      `tls_server_config: {cert_file: nope.pem, key_file: ${TLS_DIR}localhost.key}`,
      /certificate .*nope\.pem: cannot read/,
    ],
    [
      "not a certificate",
      `tls_server_config: {cert_file: not.pem, key_file: ${TLS_DIR}localhost.key}`,
      /not a PEM certificate/,
    ],
    [
      "key of another certificate",
      `tls_server_config: {cert_file: ${TLS_DIR}localhost.pem, key_file: ${
        hostileFixture("expired.key")
      }}`,
      /does not belong to certificate/,
    ],
    ["a password instead of a hash", "basic_auth_users: {alice: hunter2-plain}", /bcrypt hash/],
    ["a user name with a colon", `basic_auth_users: {"a:b": '${ALICE_HASH}'}`, /':'/],
    ["a short bearer token", "bearer_token_file: short", /at least 16/],
    ["duplicate keys", "bearer_token_file: token\nbearer_token_file: token", /invalid YAML/],
    [
      "an alias bomb",
      `a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n` +
      `c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n` +
      `e: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]`,
      /invalid YAML/,
    ],
  ];
  try {
    for (const [name, yaml, message] of cases) {
      await t.step(name, async () => {
        await Deno.writeTextFile(`${dir}/web.yml`, yaml);
        const error = await loadWebConfig(`${dir}/web.yml`).then(() => undefined, (e) => e);
        assert.ok(error instanceof WebConfigError, `${name}: ${error}`);
        assert.match(error.message, message);
        assert.ok(!error.message.includes("hunter2"), "the mistaken password is not echoed");
        assert.ok(!error.message.includes(TOKEN));
      });
    }
    await t.step("non-UTF-8 bytes", async () => {
      await assert.rejects(loadWebConfig(`${dir}/latin1.yml`), /not valid UTF-8/);
    });
    await t.step("a missing file", async () => {
      await assert.rejects(loadWebConfig(`${dir}/missing.yml`), WebConfigError);
    });
    await t.step("a huge file is refused before it is read", async () => {
      await Deno.writeTextFile(`${dir}/huge.yml`, "#".repeat(2 * 1024 * 1024));
      await assert.rejects(loadWebConfig(`${dir}/huge.yml`), /larger than/);
    });
    await t.step("a file without a size (/dev/zero) is read only up to the limit", async () => {
      await Deno.writeTextFile(`${dir}/zero.yml`, "bearer_token_file: /dev/zero\n");
      const problem = "'bearer_token_file' (line 1): bearer token file /dev/zero: " +
        "larger than 1048576 bytes";
      await assert.rejects(
        loadWebConfig(`${dir}/zero.yml`),
        new WebConfigError(`web config ${dir}/zero.yml: ${problem}`, [problem]),
      );
    });
    await t.step("every problem at once, in line order, each with its key and line", async () => {
      await Deno.writeTextFile(
        `${dir}/many.yml`,
        [
          "bearer_token_file: short",
          "tls_server_config:",
          "  cert_file: nope.pem",
          "  min_version: TLS13",
          "basic_auth_users:",
          "  alice: hunter2-plain",
          "colour: blue",
        ].join("\n"),
      );
      const error = await loadWebConfig(`${dir}/many.yml`).then(() => undefined, (e) => e);
      assert.ok(error instanceof WebConfigError);
      assert.deepEqual(
        error.problems.map((p) => p.replace(/: cannot read: .*/, ": cannot read")),
        [
          "'bearer_token_file' (line 1): the bearer token must be at least 16 characters without spaces",
          `'tls_server_config.cert_file' (line 3): certificate ${dir}/nope.pem: cannot read`,
          "'tls_server_config.min_version' (line 4): is not supported",
          "'tls_server_config.key_file' (line 2): is required",
          "'basic_auth_users.alice' (line 6): is not a bcrypt hash (make one with htpasswd -nBC 10 USER)",
          "'colour' (line 7): unknown key (allowed: tls_server_config, basic_auth_users, bearer_token_file)",
        ].sort((a, b) => lineOf(a) - lineOf(b)),
      );
      assert.ok(error.message.startsWith(`web config ${dir}/many.yml: 6 problems:\n  '`));
      assert.ok(!error.message.includes("hunter2"));
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
