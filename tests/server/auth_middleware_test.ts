import assert from "node:assert/strict";
import { Authenticator } from "../../lib/server/auth.ts";
import { withAuth } from "../../lib/server/auth_middleware.ts";
import { ROUTES } from "../../lib/server/routes.ts";
import { sha256 } from "../../lib/server/web_config.ts";
import { basic, TOKEN, usersAndTokenConfig, WRONG_CREDENTIALS } from "../_helpers/web_config.ts";

Deno.test("authentication answers one identical 401 whatever is wrong", async (t) => {
  const config = await usersAndTokenConfig();
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
  for (const [name, header] of WRONG_CREDENTIALS) {
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
  await t.step("which paths are open is the route table's `open`, nothing else", async () => {
    for (const route of ROUTES) {
      assert.equal((await call(route.path)).status, route.open ? 200 : 401, route.path);
    }
    for (const path of ["/healthz/", "/readyz/", "/healthzx", "//healthz"]) {
      assert.equal((await call(path)).status, 401, path);
    }
  });
  await t.step("right credentials pass: bcrypt $2b$ cost 4, $2y$ cost 10, bearer", async () => {
    assert.equal((await call("/metrics", basic("alice", "alice-password"))).status, 200);
    assert.equal((await call("/metrics", basic("bob", "bob-password"))).status, 200);
    assert.equal((await call("/metrics", `Bearer ${TOKEN}`)).status, 200);
    assert.equal((await call("/metrics", `bearer ${TOKEN}`)).status, 200);
  });
});

Deno.test("a config with only a bearer token challenges with Bearer", async () => {
  const config = { users: new Map(), tokenDigest: await sha256(TOKEN), fingerprint: "" };
  const auth = new Authenticator(config);
  const handler = withAuth(() => Promise.resolve(new Response("inner")), () => ({ config, auth }));
  const denied = await handler(new Request("http://exporter/metrics"));
  assert.equal(denied.status, 401);
  assert.equal(denied.headers.get("www-authenticate"), 'Bearer realm="uptime-exporter"');
  await denied.body?.cancel();
  const res = await handler(
    new Request("http://exporter/metrics", { headers: { authorization: `Bearer ${TOKEN}` } }),
  );
  assert.equal(await res.text(), "inner");
});
