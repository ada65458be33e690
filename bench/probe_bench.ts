/**
 * Micro benchmarks of one check (`deno task bench:micro`) against a loopback
 * server that answers at once and keeps no connection alive (the Go target
 * server in target_server.go, in its own process so that its CPU is not
 * counted): with the shared pool-less client (what the app does), with a
 * client made per check, and a bare fetch for reference.
 *
 * @module
 */

import { buildConfig } from "../lib/config/validate.ts";
import { HttpClients } from "../lib/check/http_clients.ts";
import { probe } from "../lib/check/probe.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function startServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const dir = `${Deno.env.get("TMPDIR") ?? "/tmp"}/uptime-exporter-bench`;
  Deno.mkdirSync(dir, { recursive: true });
  const bin = `${dir}/target_server`;
  const built = await new Deno.Command("go", {
    args: ["build", "-o", bin, `${ROOT}bench/target_server.go`],
    stdout: "null",
    stderr: "inherit",
  }).output();
  if (!built.success) throw new Error("go build failed");
  const child = new Deno.Command(bin, {
    args: ["-port", "0", "-delay", "0s"],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  for (let i = 0; i < 100 && !/LISTEN (\d+)/.test(text); i++) {
    const { done, value } = await reader.read();
    if (done) break;
    text += value;
  }
  reader.releaseLock();
  const port = /LISTEN (\d+)/.exec(text)?.[1];
  if (!port) throw new Error("target server did not start");
  return {
    url: `http://127.0.0.1:${port}/t/1`,
    close: async () => {
      await child.stdin.close();
      await child.stdout.cancel().catch(() => {});
      await child.status;
    },
  };
}

const server = await startServer();
const target = buildConfig(`targets:\n  - url: ${server.url}\n`).targets[0]!;
const clients = new HttpClients();
const shared = clients.get();

Deno.bench({
  name: "probe, shared client with pooling off (the app)",
  group: "check",
  baseline: true,
  async fn() {
    const r = await probe(target, { client: shared });
    if (!r.up) throw new Error(r.reason);
  },
});

Deno.bench({
  name: "probe, one Deno.createHttpClient per check",
  group: "check",
  async fn() {
    const r = await probe(target);
    if (!r.up) throw new Error(r.reason);
  },
});

Deno.bench({
  name: "bare fetch + body, shared client with pooling off",
  group: "check",
  async fn() {
    const res = await fetch(server.url, { client: shared });
    await res.body?.cancel();
  },
});

Deno.bench({
  name: "100 probes at once, shared client (per probe)",
  group: "concurrent",
  n: 20,
  async fn() {
    const all = [];
    for (let i = 0; i < 100; i++) all.push(probe(target, { client: shared }));
    await Promise.all(all);
  },
});

globalThis.addEventListener("unload", () => {
  clients.close();
  server.close();
});
