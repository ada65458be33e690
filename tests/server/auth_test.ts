import assert from "node:assert/strict";
import { Authenticator, requiresAuth } from "../../lib/server/auth.ts";
import type { WebConfig } from "../../lib/server/web_config.ts";
import { basic, TOKEN, usersAndTokenConfig, WRONG_CREDENTIALS } from "../_helpers/web_config.ts";

const request = (authorization?: string) =>
  new Request("http://exporter/metrics", { headers: authorization ? { authorization } : {} });

Deno.test("requiresAuth: only users or a token ask for credentials", async () => {
  const none: WebConfig = { users: new Map(), fingerprint: "" };
  assert.equal(requiresAuth(undefined), false);
  assert.equal(requiresAuth(none), false);
  assert.equal(requiresAuth(await usersAndTokenConfig()), true);
  assert.equal(await new Authenticator(none).check(request()), true, "nothing to check");
});

Deno.test("Authenticator checks basic auth and bearer tokens", async (t) => {
  const auth = new Authenticator(await usersAndTokenConfig());
  await t.step("no credentials fail", async () => {
    assert.equal(await auth.check(request()), false);
  });
  for (const [name, header] of WRONG_CREDENTIALS) {
    await t.step(`${name}: fails`, async () => {
      assert.equal(await auth.check(request(header)), false);
    });
  }
  await t.step("right credentials pass: bcrypt $2b$ cost 4, $2y$ cost 10, bearer", async () => {
    assert.equal(await auth.check(request(basic("alice", "alice-password"))), true);
    assert.equal(await auth.check(request(basic("bob", "bob-password"))), true);
    assert.equal(await auth.check(request(`Bearer ${TOKEN}`)), true);
    assert.equal(await auth.check(request(`bearer ${TOKEN}`)), true);
  });
  await t.step("a known scraper costs no bcrypt after its first request", async () => {
    const before = auth.comparisons;
    for (let i = 0; i < 20; i++) {
      assert.equal(await auth.check(request(basic("bob", "bob-password"))), true);
    }
    assert.equal(auth.comparisons, before);
  });
  await t.step("wrong passwords are compared one at a time, not in parallel", async () => {
    const before = auth.comparisons;
    const start = performance.now();
    const results = await Promise.all(
      Array.from({ length: 4 }, (_, i) => auth.check(request(basic("bob", `guess-${i}`)))),
    );
    assert.ok(results.every((ok) => ok === false));
    assert.equal(auth.comparisons, before + 4);
    assert.ok(performance.now() - start >= 4 * 20, "four cost-10 comparisons in a row");
  });
});
