import assert from "node:assert/strict";
import { closedPort, EXPORTER_PERMISSIONS, serve, until } from "./_helpers/servers.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const PERMISSIONS = EXPORTER_PERMISSIONS;

/** Runs main.ts as a real subprocess on a free port; collects stderr lines. */
function startExporter(args: string[], env: Record<string, string> = {}) {
  const port = closedPort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, MAIN, "--listen", `127.0.0.1:${port}`, ...args],
    env,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const reading = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void lines.push(...chunk.split("\n").filter(Boolean)) }),
  );
  const base = `http://127.0.0.1:${port}`;
  const get = async (path: string, init?: RequestInit) => {
    const res = await fetch(base + path, init);
    return { status: res.status, text: await res.text() };
  };
  return { child, lines, reading, base, get };
}

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
  const exporter = startExporter(["--config", file]);
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
      exporter.child.kill("SIGTERM");
      const status = await exporter.child.status;
      const took = performance.now() - start;
      assert.equal(status.code, 0);
      assert.ok(took < 2000, `shutdown took ${took}ms`);
      await exporter.reading;
      assert.ok(exporter.lines.some((l) => l.includes("shutting down") && l.includes("SIGTERM")));
    });
  } finally {
    try {
      exporter.child.kill("SIGKILL");
    } catch { /* exited */ }
    await exporter.child.status;
    await exporter.reading.catch(() => {});
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
  const exporter = startExporter(["--target", hanging, "--timeout", "10s", "--interval", "20s"]);
  try {
    await until(() => conns.length > 0, 10_000);
    const start = performance.now();
    exporter.child.kill("SIGINT");
    assert.equal((await exporter.child.status).code, 0);
    assert.ok(performance.now() - start < 2000);
  } finally {
    listener.close();
    for (const c of conns) c.close();
    await accepting;
    await exporter.reading.catch(() => {});
  }
});

Deno.test("main honours PORT and UPTIME_EXPORTER_* from the environment", async () => {
  await using target = serve(() => new Response("ok"));
  const port = closedPort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, MAIN],
    env: {
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
