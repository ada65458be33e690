/**
 * `deno task stamp`: writes the build's git revision to dist/build_info.json,
 * which `deno task compile` (it runs this first) embeds in the binary, where
 * lib/util/version.ts reads it for `uptime_exporter_build_info{revision}` and
 * `--version`. The revision is `$REVISION` when set (the Dockerfile passes
 * its `--build-arg REVISION`, as the build context has no .git), else
 * `git rev-parse HEAD`, else `unknown`. Nothing runs git at run time.
 *
 * Usage: deno task stamp [--output FILE]   (default dist/build_info.json)
 *
 * @module
 */

import { parseArgs } from "node:util";

/** What a stamp holds. */
export interface Stamp {
  revision: string;
}

/** A revision as a label value may show it: hex digits, or a short tag-like name. */
const REVISION_RE = /^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$/;

/** The commit of the checkout, or undefined when git or the repository is not there. */
async function gitRevision(cwd: string): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("git", {
      args: ["rev-parse", "HEAD"],
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    const revision = new TextDecoder().decode(out.stdout).trim();
    return out.code === 0 && REVISION_RE.test(revision) ? revision : undefined;
  } catch {
    return undefined; // no git
  }
}

/**
 * The revision to stamp: `env.REVISION` if set (it must look like one),
 * else the checkout's commit, else `unknown`.
 *
 * @throws {Error} when `REVISION` is set to something that is not a revision.
 */
export async function resolveRevision(
  env: { REVISION?: string },
  options: { cwd?: string } = {},
): Promise<string> {
  const given = env.REVISION?.trim();
  if (given) {
    if (!REVISION_RE.test(given)) throw new Error(`REVISION '${given}' is not a commit or tag`);
    return given;
  }
  return await gitRevision(options.cwd ?? Deno.cwd()) ?? "unknown";
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { output: { type: "string" } } });
  const output = values.output ?? "dist/build_info.json";
  try {
    const revision = await resolveRevision({ REVISION: Deno.env.get("REVISION") });
    const dir = output.includes("/") ? output.slice(0, output.lastIndexOf("/")) : ".";
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(output, JSON.stringify({ revision } satisfies Stamp) + "\n");
    console.error(`stamped revision ${revision} into ${output}`);
  } catch (e) {
    console.error(`stamp: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
