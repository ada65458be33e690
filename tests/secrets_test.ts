/**
 * Planted secrets (a `${VAR}` header, a basic-auth password, URL credentials,
 * each with characters that need escaping) never appear — raw, JSON-escaped,
 * URL-encoded, HTML-escaped or as the Basic token — in the logs at any level
 * and in either format, the metrics, the status page, the reload endpoint's
 * answers or config error messages, while targets fail in every way.
 */

import assert from "node:assert/strict";
import { ConfigError } from "../lib/config/problems.ts";
import { buildConfig } from "../lib/config/validate.ts";
import type { LogFormat } from "../lib/util/log.ts";
import { testApp } from "./_helpers/app.ts";
import { hostileServer, tlsServer } from "./_helpers/hostile_server.ts";
import { serve } from "./_helpers/servers.ts";
import { until } from "./_helpers/wait.ts";

const HEADER_SECRET = 'pl4nted-H34der"tok\\en';
const BODY_SECRET = "pl4nted-B0dy-s3cret";
const BASIC_PASSWORD = "pl4nted-B4sic<pw>&";
const URL_PASSWORD = 'pl4nted-Url"pw';
const ENV = { UPTIME_SECRET_TOKEN: HEADER_SECRET, UPTIME_SECRET_BODY: BODY_SECRET };

/** Every form in which a secret could leak. */
function forms(secret: string): string[] {
  const html = secret.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  return [
    ...new Set([
      secret,
      JSON.stringify(secret).slice(1, -1),
      encodeURIComponent(secret),
      html,
      // The distinctive middle part alone: a partial mask still leaks.
      secret.slice(7, 14),
    ]),
  ];
}

const basicToken = (user: string, password: string) =>
  btoa(String.fromCharCode(...new TextEncoder().encode(`${user}:${password}`)));

const PLANTED: [string, string[]][] = [
  ["header ${VAR}", forms(HEADER_SECRET)],
  ["body ${VAR}", forms(BODY_SECRET)],
  ["basic_auth password", [...forms(BASIC_PASSWORD), basicToken("alice", BASIC_PASSWORD)]],
  ["URL password", [...forms(URL_PASSWORD), basicToken("bob", URL_PASSWORD)]],
];

function assertClean(where: string, text: string): void {
  for (const [name, leaks] of PLANTED) {
    for (const leak of leaks) {
      assert.ok(!text.includes(leak), `${where} shows the ${name} as '${leak}'`);
    }
  }
}

Deno.test("planted secrets never leak while targets fail in every way", async (t) => {
  await using hostile = hostileServer();
  await using tls = tlsServer("self_signed");
  // Redirects to another origin, and echoes what it got into its error answer.
  await using echo = serve((req) => {
    const path = new URL(req.url).pathname;
    if (path === "/away") return Response.redirect(`${hostile.url}/close`, 302);
    return new Response(JSON.stringify([...req.headers]), { status: 500 });
  });
  const urlWithPassword = (base: string) =>
    base.replace("://", `://bob:${encodeURIComponent(URL_PASSWORD)}@`);
  const yaml = JSON.stringify({
    defaults: {
      interval: "300ms",
      timeout: "250ms",
      headers: { "X-Token": "${UPTIME_SECRET_TOKEN}" },
    },
    targets: [
      { url: `${hostile.url}/hang`, basic_auth: { username: "alice", password: BASIC_PASSWORD } },
      { url: urlWithPassword(`${hostile.url}/garbage`) },
      { url: urlWithPassword(`${hostile.url}/reset`) },
      { url: `${echo.url}/echo`, method: "POST", body: "${UPTIME_SECRET_BODY}" },
      { url: urlWithPassword(`${echo.url}/away`) },
      { url: `${tls.url}/`, basic_auth: { username: "alice", password: BASIC_PASSWORD } },
      { url: urlWithPassword("http://does-not-exist.invalid/") },
      { url: urlWithPassword(`${hostile.url}/ok`) },
    ],
  });
  const good = buildConfig(yaml, {}, { env: ENV });
  await t.step("the config knows every planted value as a secret", () => {
    for (const s of [HEADER_SECRET, BODY_SECRET, BASIC_PASSWORD, URL_PASSWORD]) {
      assert.ok(good.secrets.includes(s), s);
    }
    assertClean("display URLs", good.targets.map((x) => x.displayUrl).join("\n"));
  });

  // Reloads that fail, each with a secret where a careless message would show it.
  const badConfigs = [
    `targets: [{url: "http://bob:${URL_PASSWORD.replace(/"/g, '\\"')}@exa mple.com/"}]`,
    `targets: [{url: "http://bob:${encodeURIComponent(URL_PASSWORD)}@host/", interval: soon}]`,
    `targets: [{url: "http://h/", basic_auth: {username: alice, password: "${
      BASIC_PASSWORD.replace(/"/g, '\\"')
    }", extra: 1}}]`,
    `targets: [{url: "http://h/", headers: {"X-Token": "\${UPTIME_SECRET_TOKEN}", "Bad Name": x}}]`,
  ];

  for (const format of ["logfmt", "json"] as LogFormat[]) {
    await t.step(
      `${format} logs at debug level, metrics, status page, reload answers`,
      async () => {
        const test = await testApp(yaml, { env: ENV, logFormat: format });
        const { app, lines } = test;
        const get = async (path: string, method = "GET") => (await test.get(path, { method })).text;
        try {
          await app.start();
          const checks = () =>
            app.store.states.reduce((n, s) => n + s.counts.reduce((a, b) => a + b, 0), 0);
          await until(() => app.store.allChecked() && checks() >= 3 * good.targets.length, 10_000);
          const metrics = await get("/metrics");
          assert.match(metrics, /sample_external_url_up\{url="http:\/\/bob:\*\*\*@127\.0\.0\.1/);
          assertClean("/metrics", metrics);
          const page = await get("/");
          assert.match(page, /DOWN/);
          assertClean("the status page", page);
          for (const bad of badConfigs) {
            await test.writeConfig(bad);
            const answer = await get("/-/reload", "POST");
            assert.match(answer, /^Reload failed: Cannot load config/);
            assertClean("a /-/reload answer", answer);
            let message = "";
            try {
              buildConfig(bad, {}, { env: ENV });
            } catch (e) {
              assert.ok(e instanceof ConfigError);
              message = e.message;
            }
            assert.notEqual(message, "");
            assertClean("a ConfigError message", message);
          }
          await test.writeConfig(yaml);
          assert.equal(await get("/-/reload", "POST"), "Reloaded\n");
        } finally {
          await test[Symbol.asyncDispose]();
        }
        const log = lines.join("\n");
        assert.ok(lines.some((l) => l.includes("debug")), "debug lines were written");
        assert.ok(lines.some((l) => l.includes("target is down")));
        assert.ok(lines.some((l) => l.includes("config reload failed")));
        assertClean(`the ${format} log`, log);
      },
    );
  }

  await t.step("the targets really received the secrets (the test plants real ones)", async () => {
    const res = await fetch(`${echo.url}/echo`, { headers: good.targets[3]!.headers });
    const seen = await res.text();
    assert.ok(seen.includes(JSON.stringify(HEADER_SECRET).slice(1, -1)));
  });
});
