/**
 * The exporter's own port under abuse, against the real binary (main.ts in a
 * subprocess, its RSS and descriptors read from /proc): 500 concurrent
 * scrapers, a slowloris client with far more connections than the process has
 * file descriptors, and hostile request paths. Prints the figures it measured.
 */

import assert from "node:assert/strict";
import net from "node:net";
import { ConnectionGuard } from "../../lib/server/conn_guard.ts";
import { serve } from "../_helpers/servers.ts";
import { exporterArgs } from "../_helpers/exporter.ts";

const encoder = new TextEncoder();

interface Exporter extends AsyncDisposable {
  port: number;
  pid: number;
  rssMiB(): number;
  fds(): number;
  stderr(): string;
}

/** Starts main.ts with `args`, under an open-file limit of `nofile`, and waits for it to listen. */
async function startExporter(args: string[], nofile: number): Promise<Exporter> {
  const dir = await Deno.makeTempDir({ prefix: "endpoint_load_" });
  const logFile = `${dir}/stderr.log`;
  const quoted = [Deno.execPath(), ...exporterArgs(args)].map((a) =>
    `'${a.replace(/'/g, `'\\''`)}'`
  ).join(" ");
  const child = new Deno.Command("sh", {
    args: ["-c", `ulimit -n ${nofile} && exec ${quoted} 2>'${logFile}'`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const read = () => {
    try {
      return Deno.readTextFileSync(logFile);
    } catch {
      return "";
    }
  };
  const deadline = performance.now() + 15_000;
  let port = 0;
  while (!port) {
    const match = /msg=listening address=[\d.]+:(\d+)/.exec(read());
    if (match) port = Number(match[1]);
    else if (performance.now() > deadline) {
      child.kill("SIGKILL");
      await child.status;
      throw new Error(`exporter did not start: ${read()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const pid = child.pid;
  // /proc of another process needs --allow-all; ps and ls need only --allow-run.
  const sh = (command: string) =>
    new TextDecoder().decode(new Deno.Command("sh", { args: ["-c", command] }).outputSync().stdout);
  return {
    port,
    pid,
    rssMiB: () => Number(sh(`ps -o rss= -p ${pid}`).trim()) / 1024,
    fds: () => Number(sh(`ls /proc/${pid}/fd | wc -l`).trim()),
    stderr: read,
    [Symbol.asyncDispose]: async () => {
      child.kill("SIGTERM");
      await child.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A config file with `n` targets on `base`, checked every `interval`. */
async function configFile(base: string, n: number, interval: string): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "endpoint_load_", suffix: ".yaml" });
  const targets = Array.from({ length: n }, (_, i) => `  - url: ${base}/t?i=${i}`).join("\n");
  await Deno.writeTextFile(
    path,
    `defaults: {interval: ${interval}, timeout: 1s}\ntargets:\n${targets}\n`,
  );
  return path;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

Deno.test("500 concurrent scrapers: every one answered, memory bounded", async (t) => {
  await using targets = serve(() => new Response("ok"));
  const config = await configFile(targets.url, 500, "5s");
  try {
    await using exporter = await startExporter(
      ["--config", config, "--listen", "127.0.0.1:0"],
      4096,
    );
    const url = `http://127.0.0.1:${exporter.port}/metrics`;
    // Let every target be checked once, so the body is full size.
    await new Promise((r) => setTimeout(r, 3000));
    const rssBefore = exporter.rssMiB();
    const fdsBefore = exporter.fds();
    const latencies: number[] = [];
    let bytes = 0;
    let failures = 0;
    let peakRss = rssBefore;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, exporter.rssMiB())), 100);
    const rounds = 3;
    let peakAfterFirst = 0;
    try {
      for (let round = 0; round < rounds; round++) {
        if (round === 1) peakAfterFirst = Math.max(peakRss, exporter.rssMiB());
        const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
        try {
          await Promise.all(Array.from({ length: 500 }, async (_, i) => {
            const start = performance.now();
            try {
              // Bounded: a scrape that never ends fails the test instead of hanging it.
              const res = await fetch(url, {
                client,
                headers: i % 2 ? { "accept-encoding": "gzip" } : {},
                signal: AbortSignal.timeout(30_000),
              });
              const body = await res.bytes();
              if (res.status !== 200) failures++;
              bytes = Math.max(bytes, body.byteLength);
            } catch {
              failures++;
            }
            latencies.push(performance.now() - start);
          }));
        } finally {
          client.close();
        }
      }
    } finally {
      clearInterval(sampler);
    }
    await new Promise((r) => setTimeout(r, 500));
    const rssAfter = exporter.rssMiB();
    const fdsAfter = exporter.fds();
    const figures = {
      requests: rounds * 500,
      failures,
      bodyBytes: bytes,
      p50ms: Math.round(percentile(latencies, 50)),
      p99ms: Math.round(percentile(latencies, 99)),
      maxMs: Math.round(Math.max(...latencies)),
      rssMiB: [rssBefore, peakAfterFirst, peakRss, rssAfter].map((x) => Math.round(x)),
      fds: [fdsBefore, fdsAfter],
    };
    console.log("500 concurrent scrapers:", JSON.stringify(figures));
    await t.step("every scrape answered with 200", () => assert.equal(failures, 0));
    await t.step(
      "memory stays bounded: < 80 MiB more after the first round (a leaked body per request would be 600 MiB), < 300 MiB in all",
      () => {
        assert.ok(peakRss - peakAfterFirst < 80, `peak ${peakRss} MiB after ${peakAfterFirst} MiB`);
        assert.ok(peakRss - rssBefore < 300, `peak ${peakRss} MiB from ${rssBefore} MiB`);
      },
    );
    await t.step("descriptors return to their baseline", () => {
      assert.ok(fdsAfter <= fdsBefore + 5, `${fdsBefore} → ${fdsAfter}`);
    });
  } finally {
    await Deno.remove(config);
  }
});

/**
 * Slowloris from 127.0.0.2 (a client of its own, as an attacker would be):
 * keeps `count` connections that send a request head one byte at a time, and
 * opens a new one half a second after the exporter cuts one.
 */
function slowloris(port: number, count: number, signal: AbortSignal) {
  let opened = 0;
  let closedByServer = 0;
  const one = async () => {
    while (!signal.aborted) {
      const socket = net.connect({ host: "127.0.0.1", port, localAddress: "127.0.0.2" });
      const closed = new Promise<boolean>((resolve) => {
        socket.on("error", () => resolve(true));
        socket.on("close", () => resolve(true));
      });
      const onAbort = () => socket.destroy();
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once("connect", resolve);
          socket.once("error", reject);
          // Destroyed by the abort while still connecting: neither event comes.
          socket.once("close", () => reject(new Error("closed before connecting")));
        });
        opened++;
        socket.write("GET /metrics HTTP/1.1\r\nHost: x\r\n");
        const drip = "X-Slow: 1\r\n";
        let cut = false;
        closed.then(() => (cut = true));
        for (let i = 0; !signal.aborted && !cut; i = (i + 1) % drip.length) {
          await Promise.race([new Promise((r) => setTimeout(r, 300)), closed]);
          if (!cut) socket.write(drip[i]!);
        }
        if (!signal.aborted) closedByServer++;
      } catch {
        // Refused: try again below.
      } finally {
        signal.removeEventListener("abort", onAbort);
        socket.destroy();
        await Promise.race([closed, new Promise((r) => setTimeout(r, 1000))]);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  const done = Promise.all(Array.from({ length: count }, one));
  return {
    get opened() {
      return opened;
    },
    get closedByServer() {
      return closedByServer;
    },
    done,
  };
}

Deno.test("slowloris with twice as many connections as descriptors: /metrics keeps answering", async (t) => {
  await using targets = serve(() => new Response("ok"));
  const config = await configFile(targets.url, 50, "1s");
  try {
    // 256 descriptors: without the guard, ~250 stalled connections deafen the process.
    await using exporter = await startExporter(
      ["--config", config, "--listen", "127.0.0.1:0"],
      256,
    );
    await new Promise((r) => setTimeout(r, 1500));
    const rssBefore = exporter.rssMiB();
    const fdsBefore = exporter.fds();
    const stop = new AbortController();
    const attack = slowloris(exporter.port, 1000, stop.signal);
    const latencies: number[] = [];
    let failures = 0;
    let maxFds = fdsBefore;
    let peakRss = rssBefore;
    try {
      await new Promise((r) => setTimeout(r, 1500));
      const end = performance.now() + 6000;
      while (performance.now() < end) {
        const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
        const start = performance.now();
        try {
          const res = await fetch(`http://127.0.0.1:${exporter.port}/metrics`, {
            client,
            signal: AbortSignal.timeout(5000),
          });
          const text = await res.text();
          if (res.status !== 200 || !text.includes("sample_external_url_up{")) failures++;
        } catch {
          failures++;
        } finally {
          client.close();
        }
        latencies.push(performance.now() - start);
        maxFds = Math.max(maxFds, exporter.fds());
        peakRss = Math.max(peakRss, exporter.rssMiB());
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      stop.abort();
      await attack.done;
    }
    await new Promise((r) => setTimeout(r, 1000));
    const figures = {
      scrapes: latencies.length,
      failures,
      p50ms: Math.round(percentile(latencies, 50)),
      p99ms: Math.round(percentile(latencies, 99)),
      maxMs: Math.round(Math.max(...latencies)),
      attackerConnections: attack.opened,
      closedByExporter: attack.closedByServer,
      fds: { before: fdsBefore, max: maxFds, after: exporter.fds(), limit: 512 },
      rssMiB: { before: Math.round(rssBefore), peak: Math.round(peakRss) },
    };
    console.log("slowloris:", JSON.stringify(figures));
    await t.step("every scrape during the attack answered", () => {
      assert.ok(latencies.length >= 20);
      assert.equal(failures, 0);
    });
    await t.step("the attacker's connections were cut, not kept", () => {
      assert.ok(attack.closedByServer > 100, `${attack.closedByServer} cut`);
    });
    await t.step("descriptors stay under the limit and return to the baseline", () => {
      assert.ok(maxFds < 512);
      assert.ok(exporter.fds() <= fdsBefore + 5);
    });
    await t.step("memory stays bounded (< 100 MiB above the start)", () => {
      assert.ok(peakRss - rssBefore < 100);
    });
    await t.step("nothing crashed: the log has no error line", () => {
      assert.doesNotMatch(exporter.stderr(), /level=error|Uncaught|panicked/);
    });
  } finally {
    await Deno.remove(config);
  }
});

Deno.test("hostile requests to the exporter: no echo, no crash", async (t) => {
  await using targets = serve(() => new Response("ok"));
  const config = await configFile(targets.url, 1, "10s");
  try {
    await using exporter = await startExporter(
      ["--config", config, "--listen", "127.0.0.1:0"],
      1024,
    );
    const base = `http://127.0.0.1:${exporter.port}`;
    const payload = "<script>alert(1)</script>";
    const requests: [string, RequestInit, number][] = [
      [`/${encodeURIComponent(payload)}`, {}, 404],
      [`/${payload}`, {}, 404],
      [`/metrics?x=${payload}`, {}, 200],
      [`/?q=${payload}`, {}, 200],
      [`/-/reload?${payload}`, { method: "GET" }, 405],
      [`/healthz/${payload}`, {}, 404],
      [`/metrics`, { method: "DELETE" }, 405],
      [`/"'><img src=x onerror=alert(1)>`, {}, 404],
    ];
    for (const [path, init, status] of requests) {
      await t.step(`${init.method ?? "GET"} ${path}`, async () => {
        const res = await fetch(base + path, init);
        const body = await res.text();
        assert.equal(res.status, status);
        // The payload's own words (the status page has a <script> of its own).
        for (const needle of ["alert(1)", "<img", "onerror", "%3Cscript"]) {
          assert.ok(!body.includes(needle), `echoed ${needle}`);
        }
      });
    }
    await t.step("a 100 KB request head is cut off; the next request is answered", async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: exporter.port });
      try {
        await conn.write(encoder.encode(`GET /metrics HTTP/1.1\r\nX-Big: ${"a".repeat(100_000)}`))
          .catch(() => {});
        const buf = new Uint8Array(1024);
        const n = await conn.read(buf).catch(() => null);
        // Closed by the guard, or refused by the server: never a 200, never an echo.
        const answer = new TextDecoder().decode(buf.subarray(0, n ?? 0));
        assert.ok(n === null || /^HTTP\/1\.1 4\d\d /.test(answer), answer);
      } finally {
        conn.close();
      }
      assert.equal(await (await fetch(`${base}/healthz`)).text(), "OK\n");
    });
    await t.step(
      "a client that connects and sends nothing is closed after the header timeout",
      async () => {
        // Default header timeout is 10 s: this step only checks that such a
        // client does not block others (the timeout itself is unit-tested).
        const idle = await Deno.connect({ hostname: "127.0.0.1", port: exporter.port });
        try {
          assert.equal(await (await fetch(`${base}/healthz`)).text(), "OK\n");
        } finally {
          idle.close();
        }
      },
    );
  } finally {
    await Deno.remove(config);
  }
});

Deno.test("connection guard: header and idle timeouts, eviction", async (t) => {
  const upstream = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("ok"),
  );
  const guard = new ConnectionGuard({ hostname: "127.0.0.1", port: upstream.addr.port }, {
    headerTimeoutMs: 300,
    idleTimeoutMs: 900,
    maxConnections: 4,
  });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  guard.serve(listener);
  const port = (listener.addr as Deno.NetAddr).port;
  const request = encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const readAnswer = async (conn: Deno.Conn) => {
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    return n === null ? null : new TextDecoder().decode(buf.subarray(0, n));
  };
  try {
    await t.step("a head that stalls is cut after the header timeout", async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        await conn.write(encoder.encode("GET / HTTP/1.1\r\nHo"));
        const start = performance.now();
        assert.equal(await readAnswer(conn), null);
        const ms = performance.now() - start;
        assert.ok(ms >= 250 && ms < 300 + 250, `${ms} ms`);
        assert.equal(guard.stats.headerTimeouts, 1);
      } finally {
        conn.close();
      }
    });
    await t.step(
      "keep-alive: the header clock starts with the next request, not the last answer",
      async () => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        try {
          await conn.write(request);
          assert.match((await readAnswer(conn))!, /^HTTP\/1\.1 200/);
          await new Promise((r) => setTimeout(r, 500)); // > header timeout, < idle timeout
          await conn.write(request);
          assert.match((await readAnswer(conn))!, /^HTTP\/1\.1 200/);
          const start = performance.now();
          assert.equal(await readAnswer(conn), null, "closed once idle");
          assert.ok(performance.now() - start >= 800);
          assert.equal(guard.stats.idleTimeouts, 1);
        } finally {
          conn.close();
        }
      },
    );
    await t.step("at the limit, a stalled connection makes room for a new one", async () => {
      const stalled = await Promise.all(
        Array.from({ length: 4 }, () => Deno.connect({ hostname: "127.0.0.1", port })),
      );
      try {
        for (const c of stalled) await c.write(encoder.encode("GET / HT"));
        await new Promise((r) => setTimeout(r, 280));
        const fresh = await Deno.connect({ hostname: "127.0.0.1", port });
        try {
          await fresh.write(request);
          assert.match((await readAnswer(fresh))!, /^HTTP\/1\.1 200/);
          assert.equal(guard.stats.evicted, 1);
        } finally {
          fresh.close();
        }
      } finally {
        for (const c of stalled) c.close();
      }
    });
  } finally {
    await guard.close();
    await upstream.shutdown();
  }
});
