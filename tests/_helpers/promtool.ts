/**
 * `promtool check metrics` on an exposition, for every suite that lints one.
 * promtool comes from Debian's `prometheus` package (.ci/install_tools.sh);
 * a missing one fails the test.
 *
 * @module
 */

/**
 * Feeds `exposition` to `promtool check metrics` and returns its exit code
 * and findings (stdout and stderr, one per line, empty lines dropped).
 *
 * @example
 * ```ts
 * const { findings } = await promtoolCheckMetrics("# TYPE up gauge\nup 1\n");
 * // findings: []
 * ```
 */
export async function promtoolCheckMetrics(
  exposition: string | Uint8Array,
): Promise<{ code: number; findings: string[] }> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(
    typeof exposition === "string" ? new TextEncoder().encode(exposition) : exposition,
  );
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  return { code, findings: text.split("\n").map((l) => l.trim()).filter(Boolean) };
}

/**
 * Runs `promtool` (`$PROMTOOL`, else the one on PATH) with `args` in `cwd`
 * and returns its exit code and output (stdout then stderr).
 *
 * @example
 * ```ts
 * const { code, out } = await promtool(["check", "rules", "alerts.yml"], { cwd: "examples" });
 * ```
 */
export async function promtool(
  args: string[],
  options: { cwd?: string } = {},
): Promise<{ code: number; out: string }> {
  const out = await new Deno.Command(Deno.env.get("PROMTOOL") ?? "promtool", {
    args,
    cwd: options.cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, out: d.decode(out.stdout) + d.decode(out.stderr) };
}
