/**
 * Prints a Markdown table from a `deno task bench` JSON result, for the docs:
 *
 *   deno run --allow-read bench/report.ts bench/results/<file>.json
 *
 * @module
 */

interface Stats {
  p50: number;
  p99: number;
  max: number;
}

interface Result {
  checksDone: number;
  checksExpected: number;
  checksOk: number;
  cpuMsPerCheck: number;
  timingErrorMs: Stats;
  latenessMs: Stats;
  resources: { cpuCores: number; rssMaxMB: number; died?: boolean };
  targetServerCores: number;
  otherCores: number;
  extra: Record<string, unknown>;
}

interface Run {
  targets: number;
  ours?: Result;
  blackbox?: Result;
  oursError?: string;
  blackboxError?: string;
}

const f = (v: number | undefined, d = 1) =>
  v === undefined || !Number.isFinite(v) ? "-" : v.toFixed(d);
const ratio = (a?: number, b?: number) => a !== undefined && b ? `${(a / b).toFixed(2)}×` : "-";

export function markdown(result: { runs: Run[]; options?: { intervalMs: number } }): string {
  const interval = result.options?.intervalMs ?? 10_000;
  const lines = [
    "| targets (checks/s) | exporter | checks done / expected | CPU per check | CPU (cores) | timing error p50 / p99 / max | lateness p50 / p99 / max | RSS max | target server CPU | other load |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of result.runs) {
    const label = `${r.targets.toLocaleString("en")} (${
      Math.round(r.targets * 1000 / interval).toLocaleString("en")
    }/s)`;
    const row = (name: string, x: Result) =>
      `| ${label} | ${name} | ${x.checksDone.toLocaleString("en")} / ${
        x.checksExpected.toLocaleString("en")
      } | ${f(x.cpuMsPerCheck, 3)} ms | ${f(x.resources.cpuCores, 2)} | ${
        f(x.timingErrorMs.p50, 1)
      } / ${f(x.timingErrorMs.p99, 1)} / ${f(x.timingErrorMs.max, 0)} ms | ${
        f(x.latenessMs.p50, 1)
      } / ${f(x.latenessMs.p99, 1)} / ${f(x.latenessMs.max, 0)} ms | ${
        f(x.resources.rssMaxMB, 0)
      } MB${x.resources.died ? " (died)" : ""} | ${f(x.targetServerCores, 2)} | ${
        f(x.otherCores, 2)
      } |`;
    if (r.ours) lines.push(row("ours", r.ours));
    else if (r.oursError) lines.push(`| ${label} | ours | failed: ${r.oursError} |||||||`);
    if (r.blackbox) lines.push(row("blackbox", r.blackbox));
    else if (r.blackboxError) {
      lines.push(`| ${label} | blackbox | failed: ${r.blackboxError} |||||||`);
    }
    if (r.ours && r.blackbox) {
      const o = r.ours, b = r.blackbox;
      lines.push(
        `| ${label} | **ours ÷ blackbox** | | **${ratio(o.cpuMsPerCheck, b.cpuMsPerCheck)}** | ${
          ratio(o.resources.cpuCores, b.resources.cpuCores)
        } | p99 **${ratio(o.timingErrorMs.p99, b.timingErrorMs.p99)}** | p99 ${
          ratio(o.latenessMs.p99, b.latenessMs.p99)
        } | ${ratio(o.resources.rssMaxMB, b.resources.rssMaxMB)} | | |`,
      );
    }
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const file = Deno.args[0];
  if (!file) {
    console.error("usage: deno run --allow-read bench/report.ts RESULT.json");
    Deno.exit(2);
  }
  console.log(markdown(JSON.parse(Deno.readTextFileSync(file))));
}
