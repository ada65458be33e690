import assert from "node:assert/strict";
import { closedPort, serve } from "./_helpers/servers.ts";
import { baseEnv, exporterArgs, startExporter } from "./_helpers/exporter.ts";
import { until } from "./_helpers/wait.ts";

async function metricsOnceUp(get: (p: string) => Promise<{ status: number; text: string }>) {
  await until(async () => {
    try {
      return (await get("/readyz")).status === 200;
    } catch {
      return false;
    }
  }, 10_000);
  return (await get("/metrics")).text;
}

Deno.test("main as a subprocess", async (t) => {
  await using target = serve((req) =>
    new Response("ok", { status: new URL(req.url).pathname === "/down" ? 503 : 200 })
  );
  const dir = Deno.makeTempDirSync();
  const file = `${dir}/config.yaml`;
  Deno.writeTextFileSync(
    file,
    `defaults: {interval: 500ms}\ntargets:\n  - url: ${target.url}/up\n`,
  );
  const exporter = await startExporter({ args: ["--config", file] });
  try {
    await t.step("serves metrics over a real socket", async () => {
      const metrics = await metricsOnceUp(exporter.get);
      assert.match(
        metrics,
        new RegExp(`^sample_external_url_up\\{url="${target.url}/up"\\} 1$`, "m"),
      );
    });
    await t.step("reloads when the config file changes", async () => {
      Deno.writeTextFileSync(
        file,
        `defaults: {interval: 500ms}\ntargets:\n  - url: ${target.url}/down\n`,
      );
      await until(async () => {
        const m = (await exporter.get("/metrics")).text;
        return m.includes(`url="${target.url}/down"} 0`) && !m.includes(`${target.url}/up`);
      }, 5000);
    });
    await t.step("SIGHUP with a broken file keeps the running config", async () => {
      Deno.writeTextFileSync(file, "targets: [");
      exporter.child.kill("SIGHUP");
      await until(async () =>
        (await exporter.get("/metrics")).text.includes(
          "uptime_exporter_config_last_reload_successful 0",
        )
      );
      assert.match((await exporter.get("/metrics")).text, new RegExp(`url="${target.url}/down"`));
      await until(() =>
        exporter.lines.some((l) => l.includes("config reload failed") && l.includes("invalid YAML"))
      );
    });
    await t.step("SIGTERM exits 0 within 2 s", async () => {
      const start = performance.now();
      const status = await exporter.stop("SIGTERM");
      const took = performance.now() - start;
      assert.equal(status.code, 0);
      assert.ok(took < 2000, `shutdown took ${took}ms`);
      assert.ok(exporter.lines.some((l) => l.includes("shutting down") && l.includes("SIGTERM")));
    });
  } finally {
    await exporter.stop("SIGKILL");
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("main shuts down within 2 s with checks in flight", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const c of listener) conns.push(c);
    } catch { /* closed */ }
  })();
  const hanging = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`;
  const exporter = await startExporter({
    args: ["--target", hanging, "--timeout", "10s", "--interval", "20s"],
  });
  try {
    await until(() => conns.length > 0, 10_000);
    const start = performance.now();
    assert.equal((await exporter.stop("SIGINT")).code, 0);
    assert.ok(performance.now() - start < 2000);
  } finally {
    await exporter.stop("SIGKILL");
    listener.close();
    for (const c of conns) c.close();
    await accepting;
  }
});

Deno.test("main honours PORT and UPTIME_EXPORTER_* from the environment", async () => {
  await using target = serve(() => new Response("ok"));
  const port = closedPort();
  const child = new Deno.Command(Deno.execPath(), {
    args: exporterArgs(),
    clearEnv: true,
    env: {
      ...baseEnv(),
      PORT: String(port),
      UPTIME_EXPORTER_TARGETS: `${target.url}/env`,
      UPTIME_EXPORTER_METRIC_PREFIX: "env_prefix",
    },
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const metrics = await metricsOnceUp(async (p) => {
      const res = await fetch(`http://127.0.0.1:${port}${p}`);
      return { status: res.status, text: await res.text() };
    });
    assert.match(metrics, new RegExp(`^env_prefix_up\\{url="${target.url}/env"\\} 1$`, "m"));
  } finally {
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 0);
  }
});

/** The JSON log records of an exporter whose `msg` is `msg`. */
function records(lines: readonly string[], msg: string): Record<string, unknown>[] {
  return lines.flatMap((line) => {
    try {
      const record = JSON.parse(line);
      return record.msg === msg ? [record] : [];
    } catch {
      return []; // not JSON: Deno's own messages
    }
  });
}

Deno.test("main: the first ten minutes of a new user", async (t) => {
  await using target = serve((req) =>
    new Response("ok", { status: new URL(req.url).pathname === "/down" ? 503 : 200 })
  );
  await t.step(
    "nothing configured: the two demo targets, said in the log and the API",
    async () => {
      // The demo URLs are third-party: the checks may fail here (no internet); only what is said counts.
      await using exporter = await startExporter({ args: ["--interval", "1h"] });
      const notice = "using the two demo targets; set your own with --target URL or a config file";
      await until(() => records(exporter.lines, notice).length === 1);
      assert.equal(records(exporter.lines, notice)[0]!.level, "info");
      const api = JSON.parse((await exporter.get("/api/v1/targets")).text);
      assert.equal(api.data.config.demoTargets, true);
      assert.match((await exporter.get("/")).text, /These are the two demo targets/);
    },
  );
  await t.step("--target: no demo notice", async () => {
    await using exporter = await startExporter({ args: ["--target", `${target.url}/up`] });
    await until(() => records(exporter.lines, "first checks done: 1 up, 0 down").length === 1);
    assert.ok(!exporter.lines.some((l) => l.includes("demo targets")));
    const api = JSON.parse((await exporter.get("/api/v1/targets")).text);
    assert.equal(api.data.config.demoTargets, false);
  });
  await t.step("at info, one summary line after the first round of checks", async () => {
    await using exporter = await startExporter({
      args: [
        "--log-level",
        "info",
        "--interval",
        "300ms",
        "--target",
        `${target.url}/up`,
        "--target",
        `${target.url}/down`,
      ],
    });
    const summary = "first checks done: 1 up, 1 down";
    await until(() => records(exporter.lines, summary).length === 1);
    assert.equal(records(exporter.lines, summary)[0]!.level, "info");
    // Later rounds say nothing more.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(exporter.lines.filter((l) => l.includes("first checks done")).length, 1);
  });
  await t.step("no host (the default :8080): one port for IPv4 and IPv6", async () => {
    // `:0` is the default's form on a free port: every address, so not only loopback,
    // for the few hundred milliseconds of this step (the main PORT test above does the same).
    await using exporter = await startExporter({
      args: ["--listen", ":0", "--target", target.url],
    });
    const address = String(records(exporter.lines, "listening")[0]!.address);
    assert.match(address, /^\[::\]:\d+$/, "dual-stack [::] where the host has IPv6");
    const port = address.slice(address.lastIndexOf(":") + 1);
    for (const host of ["127.0.0.1", "[::1]"]) {
      const res = await fetch(`http://${host}:${port}/healthz`);
      assert.equal(res.status, 200, host);
      assert.equal(await res.text(), "OK\n");
    }
  });
});
