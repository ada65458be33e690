import assert from "node:assert/strict";
import { testApp } from "./_helpers/app.ts";
import { hangingServer, serve } from "./_helpers/servers.ts";
import { until } from "./_helpers/wait.ts";

Deno.test("app: checks, readiness, reload", async (t) => {
  await using server = serve((req) => {
    const path = new URL(req.url).pathname;
    return new Response(path, { status: path === "/503" ? 503 : 200 });
  });
  await using test = await testApp(`
defaults: {interval: 200ms, timeout: 150ms}
targets:
  - url: ${server.url}/200
  - url: ${server.url}/503
    labels: {team: payments}
`);
  const { app, lines, get } = test;
  {
    await t.step("not ready before the config is loaded and every target checked", async () => {
      const res = await get("/readyz");
      assert.equal(res.status, 503);
      assert.equal(res.text, "Not ready: loading the config\n");
    });
    await app.start();
    await t.step("ready once every target was checked; metrics say who is up", async () => {
      await until(async () => (await get("/readyz")).status === 200);
      const metrics = (await get("/metrics")).text;
      assert.match(
        metrics,
        new RegExp(`^sample_external_url_up\\{url="${server.url}/200"\\} 1$`, "m"),
      );
      assert.match(
        metrics,
        new RegExp(`^sample_external_url_up\\{url="${server.url}/503",team="payments"\\} 0$`, "m"),
      );
      assert.match(
        metrics,
        new RegExp(
          `^sample_external_url_status_code\\{url="${server.url}/503",team="payments"\\} 503$`,
          "m",
        ),
      );
    });
    await t.step("state changes are logged once, at info", () => {
      const down = lines.filter((l) => l.includes('msg="target is down"'));
      assert.equal(down.length, 1);
      assert.match(
        down[0]!,
        /level=info .*result=status status=503 reason="status 503 not in 200"/,
      );
    });
    await t.step("a bad reload keeps the running config and says why", async () => {
      const before = app.config;
      await test.writeConfig("targets: [{url: 'ftp://nope/'}]");
      const res = await get("/-/reload", { method: "POST" });
      assert.equal(res.status, 500);
      assert.match(res.text, /scheme 'ftp:' is not supported/);
      assert.equal(app.config, before);
      const metrics = (await get("/metrics")).text;
      assert.match(metrics, /^uptime_exporter_config_last_reload_successful 0$/m);
      assert.match(metrics, /^uptime_exporter_config_reloads_total\{outcome="failure"\} 1$/m);
      assert.match(metrics, new RegExp(`url="${server.url}/503"`));
      assert.ok(lines.some((l) => l.includes("config reload failed") && l.includes("ftp:")));
    });
    await t.step("while it is the last reload, the API and the page show the failure", async () => {
      const failure = app.status.reloadFailure;
      assert.ok(failure && failure.at <= Date.now() && failure.at > Date.now() - 60_000);
      const api = JSON.parse((await get("/api/v1/targets")).text);
      assert.deepEqual(api.data.config, {
        demoTargets: false,
        reloadSuccessful: false,
        lastReloadError: {
          at: new Date(failure.at).toISOString(),
          message: failure.message,
        },
      });
      assert.match(
        failure.message,
        /^Cannot load config: 'targets\[0\]\.url' \(line 1\): scheme 'ftp:'/,
      );
      const page = (await get("/")).text;
      assert.match(
        page,
        /<div id="reload" class="notice" role="alert"><strong>Config reload failed/,
      );
      assert.match(page, /the previous config is still running/);
      assert.match(page, /<pre id="reload-why">Cannot load config: &#39;targets\[0\]\.url&#39;/);
    });
    await t.step(
      "a good reload drops removed targets' series and keeps unchanged state",
      async () => {
        const kept = app.store.states.find((s) => s.target.displayUrl.endsWith("/200"))!;
        const countBefore = kept.counts[0]!;
        await test.writeConfig(`
defaults: {interval: 200ms, timeout: 150ms}
targets:
  - url: ${server.url}/200
  - url: ${server.url}/new
`);
        const res = await get("/-/reload", { method: "POST" });
        assert.equal(res.status, 200);
        const metrics = (await get("/metrics")).text;
        assert.doesNotMatch(metrics, /\/503/, "removed target's series are gone");
        assert.match(metrics, /^uptime_exporter_config_last_reload_successful 1$/m);
        assert.equal(app.status.reloadFailure, undefined, "a good reload clears the notice");
        const api = JSON.parse((await get("/api/v1/targets")).text);
        assert.equal(api.data.config.reloadSuccessful, true);
        assert.equal(api.data.config.lastReloadError, null);
        assert.match((await get("/")).text, /<div id="reload" class="notice" role="alert" hidden>/);
        const same = app.store.states.find((s) => s.target.displayUrl.endsWith("/200"))!;
        assert.equal(same, kept, "unchanged target keeps its state object");
        assert.ok(same.counts[0]! >= countBefore);
        await until(async () => /\/new"\} 1$/m.test((await get("/metrics")).text));
        // One kept, /new added, /503 removed.
        assert.ok(
          lines.some((l) => l.includes('msg="config reloaded" targets=2 added=1 removed=1')),
          lines.filter((l) => l.includes("reloaded")).join("\n"),
        );
      },
    );
  }
});

Deno.test("app: a hanging target does not disturb a healthy one", async () => {
  await using healthy = serve(() => new Response("ok"));
  await using hanging = hangingServer();
  await using test = await testApp(`
defaults: {interval: 300ms, timeout: 250ms}
targets:
  - url: ${healthy.url}/
${Array.from({ length: 20 }, (_, i) => `  - url: ${hanging.url}/${i}`).join("\n")}
`);
  const { app } = test;
  await app.start();
  {
    await new Promise((r) => setTimeout(r, 1300));
    const ok = app.store.states[0]!;
    const checks = ok.counts.reduce((a, b) => a + b, 0);
    assert.ok(checks >= 4 && checks <= 6, `healthy target checked ${checks} times in 1.3s`);
    assert.ok(ok.last!.up);
    assert.ok(ok.last!.durationMs < 100, `healthy response_ms ${ok.last!.durationMs}`);
    const timeouts = app.store.states.slice(1).map((s) => s.last?.result);
    assert.ok(timeouts.every((r) => r === "timeout"), String(timeouts));
  }
});

Deno.test("app: secrets from the environment never reach logs or pages", async () => {
  const secret = "s3cr3t-token-value";
  await using server = serve((req) =>
    new Response("x", {
      status: req.headers.get("authorization") === `Bearer ${secret}` ? 200 : 401,
    })
  );
  const url = server.url.replace("http://", "http://bob:hunter2pw@");
  await using test = await testApp(
    `
defaults: {interval: 1s}
targets:
  - url: ${server.url}/
    headers: {Authorization: "Bearer \${TOKEN}"}
  - url: ${url}/basic
`,
    { env: { TOKEN: secret } },
  );
  const { app, lines, get } = test;
  await app.start();
  {
    await until(() => app.store.allChecked());
    assert.equal(app.store.states[0]!.last!.result, "up");
    const everything = [
      (await get("/metrics")).text,
      (await get("/")).text,
      lines.join("\n"),
    ].join("\n");
    assert.ok(!everything.includes(secret));
    assert.ok(!everything.includes("hunter2pw"));
    assert.ok(everything.includes("bob:***@"));
  }
});
