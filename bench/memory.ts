/**
 * Where the memory goes: resident memory of a bare `Deno.serve`, of the same
 * with a Worker holding an HTTP client (the cost of a second isolate), and of
 * the exporter idle and with 1,000 and 10,000 loopback targets, each a fresh
 * process run with `deno task start`'s flags, split into file pages (the
 * `deno` binary and libraries, shared and reclaimable) and anonymous memory
 * (heaps, buffers: what the process really costs).
 *
 *   deno task bench:memory [--targets 1000,10000] [--settle 10s] [--v8-flags FLAGS]
 *
 * `--v8-flags` replaces the start task's V8 flags ("" for none), to measure
 * what they buy.
 *
 * Each figure is the median of 5 samples of /proc/PID/status taken 1 s apart
 * after the first /metrics and `--settle`. It prints figures and never fails
 * on them. Findings: docs/performance.md.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseDuration } from "../lib/config/units.ts";
import { startHealthyTargets } from "../tests/_helpers/healthy_targets_process.ts";
import { fmt, freePort, sleep, spawn, waitForHttp } from "./util.ts";

const ROOT = new URL("..", import.meta.url).pathname;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    targets: { type: "string", default: "1000,10000" },
    settle: { type: "string", default: "10s" },
    "v8-flags": { type: "string" },
  },
});
const counts = values.targets!.split(",").map(Number).filter((n) => n > 0);
const SETTLE_MS = parseDuration(values.settle!) ?? 10_000;

/** The flags of `deno task start`, as users run it. */
function startFlags(): string[] {
  const task: string = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks.start;
  const words = task.split(/\s+/);
  const flags = words.slice(words.indexOf("run") + 1, words.indexOf("main.ts"));
  const v8 = values["v8-flags"];
  if (v8 === undefined) return flags;
  return [...flags.filter((f) => !f.startsWith("--v8-flags")), ...(v8 ? [`--v8-flags=${v8}`] : [])];
}

interface Memory {
  rss: number;
  anon: number;
  file: number;
}

/** VmRSS, RssAnon and RssFile of a process, MiB. */
function memoryOf(pid: number): Memory {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kB = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  return { rss: kB("VmRSS") / 1024, anon: kB("RssAnon") / 1024, file: kB("RssFile") / 1024 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(name: string, args: string[], ready: string): Promise<Memory> {
  const t0 = performance.now();
  const child = spawn(name, Deno.execPath(), args);
  try {
    await waitForHttp(ready, t0, 120_000, 20, child);
    await sleep(SETTLE_MS);
    const samples: Memory[] = [];
    for (let i = 0; i < 5; i++) {
      samples.push(memoryOf(child.pid));
      await sleep(1000);
    }
    return {
      rss: median(samples.map((s) => s.rss)),
      anon: median(samples.map((s) => s.anon)),
      file: median(samples.map((s) => s.file)),
    };
  } finally {
    await child.stop();
  }
}

const tmp = Deno.makeTempDirSync({ prefix: "uptime-exporter-memory-" });
const flags = startFlags();
const rows: [string, Memory][] = [];

// A bare server, and the same with a Worker that holds an HTTP client.
const port0 = freePort();
Deno.writeTextFileSync(
  `${tmp}/bare.ts`,
  `Deno.serve({ hostname: "127.0.0.1", port: ${port0}, onListen() {} }, () => new Response("ok"));\n`,
);
rows.push([
  "bare Deno.serve",
  await measure("bare", ["run", ...flags, `${tmp}/bare.ts`], `http://127.0.0.1:${port0}/`),
]);
const port1 = freePort();
Deno.writeTextFileSync(
  `${tmp}/worker.ts`,
  `const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });\n` +
    `setInterval(() => client, 60_000);\n`,
);
Deno.writeTextFileSync(
  `${tmp}/bare_worker.ts`,
  `new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });\n` +
    `Deno.serve({ hostname: "127.0.0.1", port: ${port1}, onListen() {} }, () => new Response("ok"));\n`,
);
rows.push([
  "bare Deno.serve + a Worker with an HTTP client",
  await measure(
    "bare+worker",
    ["run", ...flags, `${tmp}/bare_worker.ts`],
    `http://127.0.0.1:${port1}/`,
  ),
]);

// The exporter: one target that refuses at once, then loopback targets every 10 s.
const exporter = async (label: string, configArgs: string[]) => {
  const port = freePort();
  const args = [
    "run",
    ...flags,
    `${ROOT}main.ts`,
    ...configArgs,
    "--web.listen-address",
    `127.0.0.1:${port}`,
    "--log.level",
    "warn",
  ];
  rows.push([label, await measure(label, args, `http://127.0.0.1:${port}/metrics`)]);
};
await exporter("exporter, 1 target (refused)", ["--target", "http://127.0.0.1:1/"]);
{
  await using targets = await startHealthyTargets();
  for (const n of counts) {
    const file = `${tmp}/targets-${n}.yml`;
    const lines = ["defaults:", "  interval: 10s", "targets:"];
    for (let i = 0; i < n; i++) lines.push(`  - http://127.0.0.1:${targets.port}/t/${i}`);
    Deno.writeTextFileSync(file, lines.join("\n") + "\n");
    await exporter(`exporter, ${n} targets every 10 s (${n / 10} checks/s)`, [
      "--config.file",
      file,
    ]);
  }
}
Deno.removeSync(tmp, { recursive: true });

console.log(
  `deno ${Deno.version.deno}, flags: ${flags.join(" ")}; settle ${SETTLE_MS} ms; MiB, median of 5`,
);
const width = Math.max(...rows.map(([label]) => label.length));
console.log(
  `${"".padEnd(width)}  ${"RSS".padStart(7)}  ${"anon".padStart(7)}  ${"file".padStart(7)}`,
);
for (const [label, m] of rows) {
  console.log(
    `${label.padEnd(width)}  ${fmt(m.rss).padStart(7)}  ${fmt(m.anon).padStart(7)}  ${
      fmt(m.file).padStart(7)
    }`,
  );
}
