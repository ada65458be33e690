/**
 * Runs a command to completion, for the suites that drive real tools (helm,
 * promtool, Prometheus, Chromium): its exit code and output, with a time
 * limit so that a tool that hangs fails the test instead of stopping it.
 *
 * @module
 */

/** What a finished command returned. */
export interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `cmd` with `args` to completion (killed after `timeoutMs`, default
 * 60 s), `stdin` written to it when given.
 */
export async function run(
  cmd: string,
  args: string[],
  options: { stdin?: string; timeoutMs?: number; cwd?: string } = {},
): Promise<Output> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, options.timeoutMs ?? 60_000);
  try {
    if (options.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(options.stdin));
      await writer.close();
    }
    const out = await child.output();
    const decoder = new TextDecoder();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}
