import assert from "node:assert/strict";
import { buildConfig } from "../../lib/config/validate.ts";
import { probe } from "../../lib/check/probe.ts";
import {
  closedPort,
  hangingServer,
  serve,
  target,
  TEST_CA_FILE,
  tricklingBody,
} from "../_helpers/servers.ts";

/** The loopback target server shared by the table cases. */
function routes(req: Request): Response | Promise<Response> {
  const url = new URL(req.url);
  switch (url.pathname) {
    case "/200":
      return new Response("ok");
    case "/503":
      return new Response("unavailable", { status: 503 });
    case "/json":
      return Response.json({ status: "UP" });
    case "/redirect":
      return Response.redirect(new URL("/200", url), 302);
    case "/loop":
      return Response.redirect(new URL("/loop2", url), 302);
    case "/loop2":
      return Response.redirect(new URL("/loop", url), 301);
    case "/chain": {
      const n = Number(url.searchParams.get("n") ?? 0);
      return Response.redirect(new URL(n > 0 ? `/chain?n=${n - 1}` : "/200", url), 302);
    }
    case "/echo":
      return new Response(
        JSON.stringify({
          method: req.method,
          auth: req.headers.get("authorization"),
          token: req.headers.get("x-token"),
        }),
      );
    case "/trickle":
      return tricklingBody(100);
    case "/big":
      return new Response(new Uint8Array(3 * 1024 * 1024));
    case "/endless":
      return new Response(
        new ReadableStream({
          pull(controller) {
            controller.enqueue(new Uint8Array(64 * 1024));
          },
        }),
      );
    case "/slow":
      return new Promise((resolve) => setTimeout(() => resolve(new Response("late")), 300));
    default:
      return new Response("not found", { status: 404 });
  }
}

Deno.test("probe judges real responses", async (t) => {
  await using server = serve(routes);
  const cases: {
    name: string;
    settings: Record<string, unknown>;
    up: boolean;
    result: string;
    status: number;
    reason?: RegExp;
    redirects?: number;
  }[] = [
    { name: "200 is up", settings: { url: "/200" }, up: true, result: "up", status: 200 },
    {
      name: "503 is down with its status",
      settings: { url: "/503" },
      up: false,
      result: "status",
      status: 503,
      reason: /^status 503 not in 200$/,
    },
    {
      name: "accepted classes",
      settings: { url: "/503", valid_status_codes: ["2xx", "5xx"] },
      up: true,
      result: "up",
      status: 503,
    },
    {
      name: "404 with default codes",
      settings: { url: "/nope" },
      up: false,
      result: "status",
      status: 404,
    },
    {
      name: "redirect followed, final response judged",
      settings: { url: "/redirect" },
      up: true,
      result: "up",
      status: 200,
      redirects: 1,
    },
    {
      name: "redirect not followed when off",
      settings: { url: "/redirect", follow_redirects: false },
      up: false,
      result: "status",
      status: 302,
    },
    {
      name: "redirect loop is a clear failure",
      settings: { url: "/loop" },
      up: false,
      result: "redirect",
      status: 301,
      reason: /^redirect loop after 2 redirects$/,
    },
    {
      name: "too many redirects",
      settings: { url: "/chain?n=5", max_redirects: 3 },
      up: false,
      result: "redirect",
      status: 302,
      reason: /^more than 3 redirects$/,
    },
    {
      name: "body_regex matches",
      settings: { url: "/json", body_regex: '"status":"UP"' },
      up: true,
      result: "up",
      status: 200,
    },
    {
      name: "body_regex does not match",
      settings: { url: "/json", body_regex: '"status":"DOWN"' },
      up: false,
      result: "body",
      status: 200,
      reason: /^body does not match "status":"DOWN"$/,
    },
    {
      name: "POST with body and header",
      settings: {
        url: "/echo",
        method: "POST",
        body: "{}",
        headers: { "X-Token": "t1" },
        body_regex: '"token":"t1"',
      },
      up: true,
      result: "up",
      status: 200,
    },
    {
      name: "credentials in the URL become Basic auth",
      settings: { url: "/echo", body_regex: `"auth":"Basic ${btoa("user:pa ss")}"` },
      up: true,
      result: "up",
      status: 200,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      let url = server.url + c.settings.url;
      if (c.name.startsWith("credentials")) url = url.replace("http://", "http://user:pa%20ss@");
      const result = await probe(target({ ...c.settings, url }));
      assert.equal(result.result, c.result, result.reason);
      assert.equal(result.up, c.up);
      assert.equal(result.statusCode, c.status);
      if (c.reason) assert.match(result.reason, c.reason);
      if (c.up) assert.equal(result.reason, "");
      if (c.redirects !== undefined) assert.equal(result.redirects, c.redirects);
      assert.ok(Number.isFinite(result.durationMs) && result.durationMs > 0);
    });
  }
});

Deno.test("probe timing and timeouts", async (t) => {
  await using server = serve(routes);
  await t.step("response_ms covers the wait for a slow server", async () => {
    const result = await probe(target({ url: `${server.url}/slow` }));
    assert.equal(result.result, "up");
    assert.ok(result.durationMs >= 295 && result.durationMs < 300 + 250, `${result.durationMs}`);
  });
  await t.step("a server that never answers times out at about the timeout", async () => {
    await using hanging = hangingServer();
    const result = await probe(target({ url: hanging.url, timeout: "300ms" }));
    assert.equal(result.result, "timeout");
    assert.equal(result.statusCode, 0);
    assert.equal(result.reason, "timeout after 300ms waiting for a response");
    assert.ok(result.durationMs >= 299 && result.durationMs < 300 + 250, `${result.durationMs}`);
  });
  await t.step("a trickling body times out: the timeout covers the body", async () => {
    const result = await probe(target({ url: `${server.url}/trickle`, timeout: "400ms" }));
    assert.equal(result.result, "timeout");
    assert.equal(result.statusCode, 200);
    assert.equal(result.reason, "timeout after 400ms reading the body");
    assert.ok(result.durationMs >= 399 && result.durationMs < 400 + 250, `${result.durationMs}`);
  });
  await t.step("a body over the limit is read only up to the limit", async () => {
    const result = await probe(target({ url: `${server.url}/big`, body_limit: "64KiB" }));
    assert.equal(result.result, "up");
    assert.equal(result.bodyBytes, 64 * 1024);
  });
  await t.step("an endless body stops at the limit and is up", async () => {
    const result = await probe(target({ url: `${server.url}/endless`, body_limit: "1MiB" }));
    assert.equal(result.result, "up");
    assert.equal(result.bodyBytes, 1024 * 1024);
  });
  await t.step("an aborted check ends at once", async () => {
    await using hanging = hangingServer();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const result = await probe(target({ url: hanging.url, timeout: "5s" }), {
      signal: controller.signal,
    });
    assert.equal(result.result, "error");
    assert.equal(result.reason, "aborted");
    assert.ok(result.durationMs < 1000);
  });
});

Deno.test("probe classifies failures from real failing servers", async (t) => {
  await t.step("connection refused is connect", async () => {
    const result = await probe(target({ url: `http://127.0.0.1:${closedPort()}/` }));
    assert.equal(result.result, "connect");
    assert.equal(result.statusCode, 0);
    assert.match(result.reason, /Connection refused/);
    assert.doesNotMatch(result.reason, /127\.0\.0\.1/, "the reason does not repeat the URL");
  });
  await t.step("a name that does not resolve is dns", async () => {
    const result = await probe(target({ url: "http://uptime-exporter-test.invalid/" }));
    assert.equal(result.result, "dns");
    assert.match(result.reason, /dns error/);
  });
  await t.step("an untrusted certificate is tls", async () => {
    await using server = serve(routes, { tls: true });
    const result = await probe(target({ url: `${server.url}/200` }));
    assert.equal(result.result, "tls");
    assert.match(result.reason, /certificate/);
  });
  await t.step("the same server is up with its CA trusted", async () => {
    await using server = serve(routes, { tls: true });
    const client = Deno.createHttpClient({
      poolMaxIdlePerHost: 0,
      caCerts: [Deno.readTextFileSync(TEST_CA_FILE)],
    });
    try {
      const result = await probe(target({ url: `${server.url}/200` }), { client });
      assert.equal(result.result, "up", result.reason);
    } finally {
      client.close();
    }
  });
  await t.step("garbage instead of HTTP is error", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const serving = (async () => {
      for await (const conn of listener) {
        await conn.write(new TextEncoder().encode("SSH-2.0-OpenSSH\r\n\r\n"));
        conn.close();
        break;
      }
    })();
    const port = (listener.addr as Deno.NetAddr).port;
    const result = await probe(target({ url: `http://127.0.0.1:${port}/` }));
    await serving; // leaving the for-await loop closed the listener
    assert.equal(result.result, "error");
    assert.match(result.reason, /invalid HTTP/);
  });
});

Deno.test("each check opens a fresh connection", async () => {
  const peers = new Set<number>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (_req, info) => {
    peers.add((info.remoteAddr as Deno.NetAddr).port);
    return new Response("ok");
  });
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  try {
    const t = target({ url: `http://127.0.0.1:${server.addr.port}/` });
    for (let i = 0; i < 3; i++) assert.equal((await probe(t, { client })).result, "up");
    assert.equal(peers.size, 3, "three checks, three client ports");
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("a redirect to another origin does not carry credentials on", async () => {
  const seen: Record<string, string | null>[] = [];
  await using other = serve((req) => {
    seen.push({
      authorization: req.headers.get("authorization"),
      token: req.headers.get("x-token"),
      plain: req.headers.get("x-plain"),
    });
    return new Response("ok");
  });
  await using origin = serve((req) => {
    const url = new URL(req.url);
    if (url.pathname === "/same") return new Response("same");
    return Response.redirect(`${other.url}/landing`, 302);
  });
  const config = buildConfig(
    JSON.stringify({
      targets: [{
        url: `${origin.url}/away`,
        headers: { "Authorization": "Bearer t0k", "X-Token": "${TOKEN}", "X-Plain": "p" },
      }],
    }),
    {},
    { env: { TOKEN: "s3cret" } },
  );
  const t = config.targets[0]!;
  assert.deepEqual(t.credentialHeaders, ["authorization", "x-token"]);
  const result = await probe(t);
  assert.equal(result.result, "up", result.reason);
  assert.deepEqual(seen, [{ authorization: null, token: null, plain: "p" }]);
});
