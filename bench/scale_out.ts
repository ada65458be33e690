/**
 * The scale-out part of `deno task bench` (`--scale-out`): one config of N
 * loopback targets checked by 1 replica, then by K replicas side by side
 * (`--shard.count K --shard.index i`, each its own process, as pods), in one
 * run. For each: checks done / expected and their lateness against the
 * fixed-rate schedule (both from the target server's side, as for the rest
 * of the benchmark), CPU per check, RSS per replica, and each replica's own
 * share of the checks (its targets computed with the exporter's own
 * assignment, lib/check/shard.ts). Reports, asserts nothing.
 *
 * @module
 */

import { assign, staticMembers } from "../lib/check/shard.ts";
import {
  type Child,
  fmt,
  freePort,
  type Percentiles,
  percentiles,
  sleep,
  waitForHttp,
} from "./util.ts";

/** A process's use of the machine over a window (bench.ts's ProcWatcher). */
export interface Watcher {
  begin(): void;
  end(): { cpuSeconds: number; cpuCores: number; rssMaxMB: number; died?: boolean };
}

/** The target server as bench.ts runs it. */
export interface ScaleOutTargets {
  child: Child;
  url(id: number): string;
  stats(sinceWallMs: number): Promise<{ arrivals: [number, number][] }>;
}

/** What the scale-out runs need from bench.ts. */
export interface ScaleOutDeps {
  targets: ScaleOutTargets;
  /** Starts our exporter (`deno task start`'s flags) with these arguments after main.ts. */
  startOurs: (args: string[], logFile: string) => Child;
  /** Lateness of arrivals against a fixed-rate schedule (bench.ts). */
  lateness: (
    arrivals: [number, number][],
    intervalMs: number,
    window: { startWall: number; endWall: number },
    maxId: number,
  ) => { lateness: number[]; inWindow: number };
  watch: (pid: number) => Watcher;
  /** Cores the whole machine was busy in a window. */
  machine: () => { begin(): void; end(): number };
  tmp: string;
}

/** One case: `targets` at `intervalMs`, run once per replica count of `replicas`. */
export interface ScaleOutCase {
  targets: number;
  intervalMs: number;
  replicas: number[];
  durationMs: number;
  /** After every replica answers, before the window: every target checked once. */
  warmupMs: number;
}

/** One replica's figures. */
export interface ReplicaResult {
  index: number;
  assigned: number;
  checksDone: number;
  checksExpected: number;
  latenessMs: Percentiles;
  cpuCores: number;
  cpuMsPerCheck: number;
  rssMaxMB: number;
  /** Spawn to the first answered /metrics (config loaded), ms. */
  startupMs: number;
  died?: boolean;
}

/** One run: a case with a given number of replicas. */
export interface ScaleOutRun {
  targets: number;
  intervalMs: number;
  replicas: number;
  durationMs: number;
  checksDone: number;
  checksExpected: number;
  latenessMs: Percentiles;
  /** All replicas' CPU over the window, cores, and per check (ms). */
  cpuCores: number;
  cpuMsPerCheck: number;
  perReplica: ReplicaResult[];
  targetServerCores: number;
  /** Cores busy in the window that neither the replicas nor the target server used. */
  otherCores: number;
  error?: string;
}

function config(deps: ScaleOutDeps, n: number, intervalMs: number): string {
  const lines = [
    "defaults:",
    `  interval: ${intervalMs}ms`,
    `  timeout: ${Math.min(5000, intervalMs)}ms`,
    "targets:",
  ];
  for (let i = 0; i < n; i++) lines.push(`  - url: ${deps.targets.url(i)}`);
  return lines.join("\n") + "\n";
}

/** Which target ids replica `index` of `replicas` checks (the exporter's own assignment). */
function shareOf(deps: ScaleOutDeps, n: number, replicas: number, index: number): Set<number> {
  const all = Array.from(
    { length: n },
    (_, id) => ({ id, displayUrl: deps.targets.url(id), labels: {} }),
  );
  if (replicas === 1) return new Set(all.map((t) => t.id));
  const mine = assign(all, { members: staticMembers(replicas), self: String(index) });
  return new Set(mine.map((t) => t.id));
}

/**
 * Waits until the exporter on `port` has loaded its config (its /readyz says
 * anything but "loading the config"; an overloaded replica may never be
 * ready, and /metrics would render a large body); returns ms since `since`.
 */
async function loaded(port: number, since: number, child: Child): Promise<number> {
  await waitForHttp(`http://127.0.0.1:${port}/healthz`, since, 60_000, 50, child);
  for (let i = 0; i < 36_000; i++) {
    if (child.exitCode !== undefined) {
      throw new Error(`${child.name} exited with ${child.exitCode}`);
    }
    const res = await fetch(`http://127.0.0.1:${port}/readyz`);
    const text = await res.text();
    if (!text.includes("loading the config")) return performance.now() - since;
    await sleep(50);
  }
  throw new Error(`the exporter on ${port} did not load its config in 30 minutes`);
}

async function runOne(deps: ScaleOutDeps, c: ScaleOutCase, replicas: number): Promise<ScaleOutRun> {
  const file = `${deps.tmp}/scale-${c.targets}-${replicas}.yml`;
  Deno.writeTextFileSync(file, config(deps, c.targets, c.intervalMs));
  const spawnWall = Date.now();
  const t0 = performance.now();
  const children: { child: Child; port: number; index: number }[] = [];
  try {
    for (let index = 0; index < replicas; index++) {
      const port = freePort();
      const shard = replicas > 1
        ? ["--shard.count", String(replicas), "--shard.index", String(index)]
        : [];
      const child = deps.startOurs([
        "--config",
        file,
        "--listen",
        `127.0.0.1:${port}`,
        "--log-level",
        "warn",
        "--no-watch-config",
        ...shard,
      ], `${deps.tmp}/scale-${c.targets}-${replicas}-${index}.log`);
      children.push({ child, port, index });
    }
    const startup = await Promise.all(children.map(({ child, port }) => loaded(port, t0, child)));
    const readyWall = Date.now();
    const window = {
      startWall: readyWall + c.warmupMs,
      endWall: readyWall + c.warmupMs + c.durationMs,
    };
    await sleep(window.startWall - Date.now());
    const watchers = children.map(({ child }) => deps.watch(child.pid));
    const server = deps.watch(deps.targets.child.pid);
    const self = deps.watch(Deno.pid);
    const machine = deps.machine();
    for (const w of [...watchers, server, self]) w.begin();
    machine.begin();
    await sleep(window.endWall - Date.now());
    const uses = watchers.map((w) => w.end());
    const serverUse = server.end();
    const selfUse = self.end();
    const machineCores = machine.end();
    // A check started in the window reaches the target within its timeout at most.
    await sleep(500);
    const { arrivals } = await deps.targets.stats(spawnWall);
    const all = deps.lateness(arrivals, c.intervalMs, window, c.targets);
    const perReplica = children.map(({ index }, k): ReplicaResult => {
      const share = shareOf(deps, c.targets, replicas, index);
      const mine = deps.lateness(
        arrivals.filter(([id]) => share.has(id)),
        c.intervalMs,
        window,
        c.targets,
      );
      return {
        index,
        assigned: share.size,
        checksDone: mine.inWindow,
        checksExpected: share.size * c.durationMs / c.intervalMs,
        latenessMs: percentiles(mine.lateness),
        cpuCores: uses[k]!.cpuCores,
        cpuMsPerCheck: uses[k]!.cpuSeconds * 1000 / Math.max(1, mine.inWindow),
        rssMaxMB: uses[k]!.rssMaxMB,
        startupMs: startup[k]!,
        ...(uses[k]!.died ? { died: true } : {}),
      };
    });
    const cpuSeconds = uses.reduce((sum, u) => sum + u.cpuSeconds, 0);
    const cpuCores = uses.reduce((sum, u) => sum + u.cpuCores, 0);
    return {
      targets: c.targets,
      intervalMs: c.intervalMs,
      replicas,
      durationMs: c.durationMs,
      checksDone: all.inWindow,
      checksExpected: c.targets * c.durationMs / c.intervalMs,
      latenessMs: percentiles(all.lateness),
      cpuCores,
      cpuMsPerCheck: cpuSeconds * 1000 / Math.max(1, all.inWindow),
      perReplica,
      targetServerCores: serverUse.cpuCores,
      otherCores: machineCores - cpuCores - serverUse.cpuCores - selfUse.cpuCores,
    };
  } finally {
    await Promise.all(children.map(({ child }) => child.stop()));
  }
}

/**
 * Runs every case with each of its replica counts, one after the other (never
 * two runs at once), logging a line per run.
 */
export async function runScaleOut(
  cases: ScaleOutCase[],
  deps: ScaleOutDeps,
): Promise<ScaleOutRun[]> {
  const runs: ScaleOutRun[] = [];
  for (const c of cases) {
    for (const replicas of c.replicas) {
      console.log(
        `scale-out: ${c.targets} targets every ${c.intervalMs} ms, ${replicas} replica(s) ...`,
      );
      try {
        const run = await runOne(deps, c, replicas);
        runs.push(run);
        console.log(`  ${line(run)}`);
      } catch (e) {
        const error = (e as Error).message;
        console.log(`  failed: ${error}`);
        runs.push({
          targets: c.targets,
          intervalMs: c.intervalMs,
          replicas,
          durationMs: c.durationMs,
          checksDone: 0,
          checksExpected: c.targets * c.durationMs / c.intervalMs,
          latenessMs: percentiles([]),
          cpuCores: 0,
          cpuMsPerCheck: 0,
          perReplica: [],
          targetServerCores: 0,
          otherCores: 0,
          error,
        });
      }
    }
  }
  return runs;
}

function line(r: ScaleOutRun): string {
  const replicas = r.perReplica.map((p) =>
    `#${p.index}: ${p.checksDone}/${p.checksExpected} late p99 ${fmt(p.latenessMs.p99, 0)} ms, ${
      fmt(p.cpuCores, 2)
    } cores, RSS ${fmt(p.rssMaxMB, 0)} MB${p.died ? " (died)" : ""}`
  ).join("; ");
  return `${r.checksDone}/${r.checksExpected} checks, lateness p50/p99/max ${
    fmt(r.latenessMs.p50, 1)
  }/${fmt(r.latenessMs.p99, 1)}/${fmt(r.latenessMs.max, 0)} ms, ${
    fmt(r.cpuMsPerCheck, 3)
  } CPU ms/check, ${fmt(r.cpuCores, 2)} cores ` +
    `(target server ${fmt(r.targetServerCores, 2)}, other ${fmt(r.otherCores, 2)}) — ${replicas}`;
}

/** The scale-out table, one row per run. */
export function scaleOutTable(runs: ScaleOutRun[]): string {
  const head = [
    "targets",
    "interval",
    "replicas",
    "checks done",
    "late p50",
    "late p99",
    "late max",
    "CPU/check ms",
    "cores",
    "RSS MB each",
    "tgt srv",
    "other",
  ];
  const rows = runs.map((r) =>
    r.error
      ? [String(r.targets), `${r.intervalMs / 1000}s`, String(r.replicas), `failed: ${r.error}`]
      : [
        String(r.targets),
        `${r.intervalMs / 1000}s`,
        String(r.replicas),
        `${r.checksDone}/${r.checksExpected}`,
        fmt(r.latenessMs.p50, 1),
        fmt(r.latenessMs.p99, 1),
        fmt(r.latenessMs.max, 0),
        fmt(r.cpuMsPerCheck, 3),
        fmt(r.cpuCores, 2),
        r.perReplica.map((p) => fmt(p.rssMaxMB, 0)).join(" / "),
        fmt(r.targetServerCores, 2),
        fmt(r.otherCores, 2),
      ]
  );
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padStart(widths[i]!)).join("  ")).join("\n");
}
