/**
 * Starts tests/_helpers/healthy_targets.ts in a process of its own (for a
 * test or benchmark that loads the exporter so hard that targets on its own
 * event loop would answer late through no fault of the exporter).
 *
 * @module
 */

/** A running target process; `await using` stops it. */
export interface HealthyTargets extends AsyncDisposable {
  /** Port on 127.0.0.1 where every path answers 200 "ok". */
  port: number;
}

/**
 * Starts the process and waits for its port.
 *
 * @example
 * ```ts
 * await using targets = await startHealthyTargets();
 * const url = `http://127.0.0.1:${targets.port}/t/1`;
 * ```
 */
export async function startHealthyTargets(): Promise<HealthyTargets> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", new URL("./healthy_targets.ts", import.meta.url).pathname],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!/LISTEN (\d+)/.test(out)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`target process exited: ${out}`);
    out += value;
  }
  return {
    port: Number(/LISTEN (\d+)/.exec(out)![1]),
    async [Symbol.asyncDispose]() {
      await child.stdin.close();
      await reader.cancel();
      await child.status;
    },
  };
}
