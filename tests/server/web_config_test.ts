import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { Logger } from "../../lib/util/log.ts";
import {
  Authenticator,
  loadWebConfig,
  type WebConfig,
  WebConfigError,
  WebServer,
  withAuth,
} from "../../lib/server/web_config.ts";
import { hostileFixture } from "../_helpers/hostile_server.ts";
import { TEST_CA_FILE, until } from "../_helpers/servers.ts";

const TLS_DIR = new URL("../fixtures/tls/", import.meta.url).pathname;
const TOKEN = "tok-0123456789abcdef-secret";
// Cost 4 keeps the tests fast; a real cost-10 $2y$ hash is checked once below.
const ALICE_HASH = bcrypt.hashSync("alice-password", 4);
const BOB_HASH_2Y_10 = bcrypt.hashSync("bob-password", 10).replace(/^\$2b\$/, "$2y$");

async function tempDir(files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "web_config_test_" });
  for (const [name, content] of Object.entries(files)) {
    if (typeof content === "string") await Deno.writeTextFile(`${dir}/${name}`, content);
    else await Deno.writeFile(`${dir}/${name}`, content);
  }
  return dir;
}

const basic = (user: string, password: string) =>
  `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(`${user}:${password}`)))}`;

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

Deno.test("loadWebConfig refuses bad configs with a clear message and no secret", async (t) => {
  const dir = await tempDir({
    "token": TOKEN,
    "short": "abc",
    "not.pem": "hello",
    "latin1.yml": new Uint8Array([0x62, 0x61, 0x73, 0x69, 0x63, 0x3a, 0xe9, 0xff, 0x0a]),
  });
  const cases: [string, string, RegExp][] = [
    ["unknown key", "foo: 1", /unknown key 'foo'/],
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
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("authentication answers one identical 401 whatever is wrong", async (t) => {
  const dir = await tempDir({
    "web.yml": `basic_auth_users: {alice: '${ALICE_HASH}', bob: '${BOB_HASH_2Y_10}'}\n` +
      "bearer_token_file: token\n",
    "token": TOKEN,
  });
  let config: WebConfig;
  try {
    config = await loadWebConfig(`${dir}/web.yml`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const auth = new Authenticator(config);
  const inner = (req: Request) =>
    Promise.resolve(new Response(`inner ${new URL(req.url).pathname}`));
  const handler = withAuth(inner, () => ({ config, auth }));
  const call = async (path: string, authorization?: string) => {
    const res = await handler(
      new Request(`http://exporter${path}`, {
        headers: authorization ? { authorization } : {},
      }),
    );
    return {
      status: res.status,
      body: await res.text(),
      headers: [...res.headers].filter(([k]) => k !== "date"),
    };
  };

  const denied = await call("/metrics");
  await t.step("no credentials: 401 with a Basic challenge", () => {
    assert.equal(denied.status, 401);
    assert.equal(denied.body, "Unauthorized\n");
    assert.ok(denied.headers.some(([k, v]) => k === "www-authenticate" && v.startsWith("Basic ")));
  });
  const wrong: [string, string][] = [
    ["wrong password", basic("alice", "alice-passwore")],
    ["unknown user", basic("mallory", "alice-password")],
    ["right password of another user", basic("bob", "alice-password")],
    ["empty password", basic("alice", "")],
    ["no colon", `Basic ${btoa("alice")}`],
    ["not base64", "Basic %%%"],
    ["wrong token", `Bearer ${TOKEN}x`],
    ["token as a password", basic("alice", TOKEN)],
    ["unknown scheme", `Digest ${TOKEN}`],
  ];
  for (const [name, header] of wrong) {
    await t.step(`${name}: the same 401`, async () => {
      assert.deepEqual(await call("/metrics", header), denied);
    });
  }
  await t.step("every protected path is protected, /healthz and /readyz are open", async () => {
    for (const path of ["/", "/metrics", "/-/reload", "/nope"]) {
      assert.equal((await call(path)).status, 401, path);
    }
    assert.equal((await call("/healthz")).body, "inner /healthz");
    assert.equal((await call("/readyz")).body, "inner /readyz");
  });
  await t.step("right credentials pass: bcrypt $2b$ cost 4, $2y$ cost 10, bearer", async () => {
    assert.equal((await call("/metrics", basic("alice", "alice-password"))).status, 200);
    assert.equal((await call("/metrics", basic("bob", "bob-password"))).status, 200);
    assert.equal((await call("/metrics", `Bearer ${TOKEN}`)).status, 200);
    assert.equal((await call("/metrics", `bearer ${TOKEN}`)).status, 200);
  });
  await t.step("a known scraper costs no bcrypt after its first request", async () => {
    const before = auth.comparisons;
    for (let i = 0; i < 20; i++) {
      assert.equal((await call("/metrics", basic("bob", "bob-password"))).status, 200);
    }
    assert.equal(auth.comparisons, before);
  });
  await t.step("wrong passwords are compared one at a time, not in parallel", async () => {
    const before = auth.comparisons;
    const start = performance.now();
    const results = await Promise.all(
      Array.from({ length: 4 }, (_, i) => call("/metrics", basic("bob", `guess-${i}`))),
    );
    assert.ok(results.every((r) => r.status === 401));
    assert.equal(auth.comparisons, before + 4);
    assert.ok(performance.now() - start >= 4 * 20, "four cost-10 comparisons in a row");
  });
});

/** A TLS client that trusts `caFile`; fetches `url` and returns the status (0 on failure). */
async function fetchStatus(url: string, caFile: string, headers: HeadersInit = {}) {
  const client = Deno.createHttpClient({ caCerts: [Deno.readTextFileSync(caFile)] });
  try {
    const res = await fetch(url, { client, headers });
    await res.body?.cancel();
    return res.status;
  } catch {
    return 0;
  } finally {
    client.close();
  }
}

Deno.test("WebServer serves TLS and swaps certificate and users without a restart", async (t) => {
  const dir = await tempDir({
    "web.yml": `tls_server_config: {cert_file: cert.pem, key_file: key.pem}\n` +
      `basic_auth_users: {alice: '${ALICE_HASH}'}\n`,
    "cert.pem": Deno.readTextFileSync(`${TLS_DIR}localhost.pem`),
    "key.pem": Deno.readTextFileSync(`${TLS_DIR}localhost.key`),
  });
  const logs: string[] = [];
  const server = await WebServer.start({
    hostname: "127.0.0.1",
    port: 0,
    handler: (req) => Promise.resolve(new Response(`ok ${new URL(req.url).pathname}`)),
    webConfigFile: `${dir}/web.yml`,
    logger: new Logger({ level: "debug", write: (l) => logs.push(l) }),
    reloadIntervalMs: 100,
  });
  const url = `https://localhost:${server.addr.port}`;
  const alice = { authorization: basic("alice", "alice-password") };
  const oldCa = TEST_CA_FILE;
  const newCa = hostileFixture("ca.pem");
  try {
    await t.step("TLS with the first certificate; authentication applies", async () => {
      assert.ok(server.tls);
      assert.equal(await fetchStatus(`${url}/metrics`, oldCa, alice), 200);
      assert.equal(await fetchStatus(`${url}/metrics`, oldCa), 401);
      assert.equal(await fetchStatus(`${url}/healthz`, oldCa), 200);
      assert.equal(await fetchStatus(`${url}/metrics`, newCa, alice), 0, "other CA: refused");
    });

    await t.step("a new certificate is served once the files change", async () => {
      // Write the key first: the pair is inconsistent for a moment and must be ignored.
      await Deno.writeTextFile(
        `${dir}/key.pem`,
        Deno.readTextFileSync(hostileFixture("localhost.key")),
      );
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await fetchStatus(`${url}/metrics`, oldCa, alice), 200, "old pair still served");
      assert.ok(logs.some((l) => l.includes("web config reload failed")));
      await Deno.writeTextFile(
        `${dir}/cert.pem`,
        Deno.readTextFileSync(hostileFixture("localhost.pem")),
      );
      await until(async () => (await fetchStatus(`${url}/metrics`, newCa, alice)) === 200, 5000);
      assert.equal(await fetchStatus(`${url}/metrics`, oldCa, alice), 0, "old certificate gone");
      assert.equal(server.addr.port, new URL(url).port === "" ? 443 : Number(new URL(url).port));
    });

    await t.step("a new user works after the file changes; a removed one stops", async () => {
      const bobHash = bcrypt.hashSync("bob-password", 4);
      await Deno.writeTextFile(
        `${dir}/web.yml`,
        `tls_server_config: {cert_file: cert.pem, key_file: key.pem}\n` +
          `basic_auth_users: {bob: '${bobHash}'}\n`,
      );
      const bob = { authorization: basic("bob", "bob-password") };
      await until(async () => (await fetchStatus(`${url}/metrics`, newCa, bob)) === 200, 5000);
      assert.equal(await fetchStatus(`${url}/metrics`, newCa, alice), 401);
    });

    await t.step("a broken web config is logged and the running one stays", async () => {
      const before = logs.length;
      await Deno.writeTextFile(`${dir}/web.yml`, "basic_auth_users: [");
      await until(() => logs.slice(before).some((l) => l.includes("web config reload failed")));
      const bob = { authorization: basic("bob", "bob-password") };
      assert.equal(await fetchStatus(`${url}/metrics`, newCa, bob), 200);
    });

    await t.step("TLS can be turned off by the web config", async () => {
      await Deno.writeTextFile(`${dir}/web.yml`, "");
      const plain = async () => {
        try {
          const res = await fetch(`http://127.0.0.1:${server.addr.port}/metrics`);
          return await res.text();
        } catch {
          return "";
        }
      };
      await until(async () => (await plain()) === "ok /metrics", 5000);
      assert.equal(server.tls, false);
    });
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("WebServer never applies a web config file caught half-written", async (t) => {
  const full = `basic_auth_users: {alice: '${ALICE_HASH}'}\n`;
  const dir = await tempDir({ "web.yml": full });
  const logs: string[] = [];
  const server = await WebServer.start({
    hostname: "127.0.0.1",
    port: 0,
    handler: () => Promise.resolve(new Response("secret metrics")),
    webConfigFile: `${dir}/web.yml`,
    logger: new Logger({ level: "debug", write: (l) => logs.push(l) }),
    reloadIntervalMs: 3_600_000, // polls are driven by hand below
  });
  const status = async () => {
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/metrics`);
    await res.body?.cancel();
    return res.status;
  };
  try {
    await t.step("a poll that sees an empty file once does not drop authentication", async () => {
      await Deno.writeTextFile(`${dir}/web.yml`, "");
      assert.equal(await server.reload(false), false);
      assert.equal(await status(), 401);
      await Deno.writeTextFile(`${dir}/web.yml`, full);
      assert.equal(await server.reload(false), false);
      assert.equal(await server.reload(false), false);
      assert.equal(await status(), 401);
    });
    await t.step("a change seen by two polls in a row is applied", async () => {
      await Deno.writeTextFile(`${dir}/web.yml`, "");
      assert.equal(await server.reload(false), false);
      assert.equal(await server.reload(false), true);
      assert.equal(await status(), 200);
    });
    await t.step("an explicit reload (SIGHUP) applies at once", async () => {
      await Deno.writeTextFile(`${dir}/web.yml`, full);
      assert.equal(await server.reload(), true);
      assert.equal(await status(), 401);
    });
    await t.step("a persisting problem is logged once, not at every poll", async () => {
      await Deno.writeTextFile(`${dir}/web.yml`, "nope: 1");
      for (let i = 0; i < 5; i++) assert.equal(await server.reload(false), false);
      assert.equal(logs.filter((l) => l.includes("unknown key 'nope'")).length, 1);
      assert.equal(await status(), 401);
    });
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("WebServer without a web config is plain HTTP without authentication", async () => {
  const server = await WebServer.start({
    hostname: "127.0.0.1",
    port: 0,
    handler: () => Promise.resolve(new Response("open")),
    logger: new Logger({ write: () => {} }),
  });
  try {
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/metrics`);
    assert.equal(await res.text(), "open");
    assert.equal(server.tls, false);
  } finally {
    await server.shutdown();
  }
});

Deno.test("main: --web.config.file protects the real server; a bad one exits 2", async (t) => {
  const dir = await tempDir({
    "web.yml":
      `tls_server_config: {cert_file: ${TLS_DIR}localhost.pem, key_file: ${TLS_DIR}localhost.key}\n` +
      `basic_auth_users: {alice: '${ALICE_HASH}'}\n`,
    "bad.yml": "basic_auth_users: {alice: hunter2-plain}\n",
  });
  const main = new URL("../../main.ts", import.meta.url).pathname;
  const args = (web: string) => [
    "run",
    "--allow-net",
    "--allow-env",
    "--allow-read",
    "--allow-sys=hostname",
    main,
    "--target",
    "http://127.0.0.1:9/",
    "--listen",
    "127.0.0.1:0",
    "--web.config.file",
    web,
  ];
  try {
    await t.step("a bad web config: exit 2, the reason, no secret", async () => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: args(`${dir}/bad.yml`),
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 2, stderr);
      assert.match(stderr, /basic_auth_users\.alice' is not a bcrypt hash/);
      assert.ok(!stderr.includes("hunter2"));
    });
    await t.step(
      "the environment variable works too, and --check-config validates it",
      async () => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: [...args(`${dir}/web.yml`).slice(0, -2), "--check-config"],
          env: { UPTIME_EXPORTER_WEB_CONFIG: `${dir}/bad.yml` },
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.equal(out.code, 2);
      },
    );
    await t.step("a good one: HTTPS, 401 without credentials, 200 with", async () => {
      const child = new Deno.Command(Deno.execPath(), {
        args: args(`${dir}/web.yml`),
        stdout: "null",
        stderr: "piped",
      }).spawn();
      try {
        const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
        let seen = "";
        while (!/address=[\d.]+:(\d+)/.test(seen)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`exited: ${seen}`);
          seen += value;
        }
        await reader.cancel();
        assert.match(seen, /tls=true/);
        const port = /address=[\d.]+:(\d+)/.exec(seen)![1];
        const url = `https://localhost:${port}`;
        assert.equal(await fetchStatus(`${url}/metrics`, TEST_CA_FILE), 401);
        assert.equal(
          await fetchStatus(`${url}/metrics`, TEST_CA_FILE, {
            authorization: basic("alice", "alice-password"),
          }),
          200,
        );
        assert.equal(await fetchStatus(`${url}/healthz`, TEST_CA_FILE), 200);
      } finally {
        child.kill("SIGTERM");
        await child.status;
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
