import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { Logger } from "../../lib/util/log.ts";
import { listenEveryAddress, WebServer } from "../../lib/server/server.ts";
import { hostileFixture } from "../_helpers/hostile_server.ts";
import { TEST_CA_FILE } from "../_helpers/servers.ts";
import { until } from "../_helpers/wait.ts";
import { exporterArgs } from "../_helpers/exporter.ts";
import { ALICE_HASH, basic, tempDir, TLS_DIR } from "../_helpers/web_config.ts";

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
      assert.equal(logs.filter((l) => l.includes("'nope' (line 1): unknown key")).length, 1);
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
  const args = (web: string) =>
    exporterArgs([
      "--target",
      "http://127.0.0.1:9/",
      "--listen",
      "127.0.0.1:0",
      "--web.config.file",
      web,
    ]);
  try {
    await t.step("a bad web config: exit 2, the reason, no secret", async () => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: args(`${dir}/bad.yml`),
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 2, stderr);
      assert.match(stderr, /'basic_auth_users\.alice' \(line 1\): is not a bcrypt hash/);
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

Deno.test("listenEveryAddress: [::] first, 0.0.0.0 when the host has no IPv6", async (t) => {
  await t.step("IPv6 refused by the kernel: falls back to 0.0.0.0", () => {
    // What a host booted with ipv6.disable=1 answers for an IPv6 socket (EAFNOSUPPORT);
    // such a host cannot be made here, so the refusal is given by hand.
    const tried: string[] = [];
    const chosen = listenEveryAddress((hostname) => {
      tried.push(hostname);
      if (hostname === "::") {
        throw new Error("Address family not supported by protocol (os error 97)");
      }
      return hostname;
    });
    assert.equal(chosen, "0.0.0.0");
    assert.deepEqual(tried, ["::", "0.0.0.0"]);
  });
  await t.step("a port in use is not an IPv6 problem: thrown as it is", () => {
    // Real sockets: 127.0.0.1:PORT taken makes a dual-stack [::]:PORT fail with EADDRINUSE.
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (taken.addr as Deno.NetAddr).port;
    const tried: string[] = [];
    try {
      assert.throws(
        () =>
          listenEveryAddress((hostname) => {
            tried.push(hostname);
            return Deno.listen({ hostname, port });
          }),
        Deno.errors.AddrInUse,
      );
      assert.deepEqual(tried, ["::"]);
    } finally {
      taken.close();
    }
  });
});
