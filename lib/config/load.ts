/**
 * Reads the config file named on the command line (if any) and builds the
 * config with the command line's overrides. Used at start and on every reload.
 *
 * @module
 */

import type { CliOptions } from "./cli.ts";
import { buildConfig, type Config, ConfigError, DEFAULTS } from "./validate.ts";

/**
 * Reads a file, or returns undefined once it is longer than `limit` bytes.
 * Bounds the read itself, not just a `stat` size: a pipe or `/dev/zero` has none.
 */
async function readAtMost(path: string, limit: number): Promise<Uint8Array | undefined> {
  using file = await Deno.open(path, { read: true });
  const info = await file.stat();
  if (info.isFile && info.size > limit) return undefined;
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await file.read(buffer);
    if (n === null) break;
    total += n;
    if (total > limit) return undefined;
    chunks.push(buffer.slice(0, n));
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** Options of {@linkcode loadConfig}. */
export interface LoadConfigOptions {
  /** Variables for `${VAR}` expansion. Default: `Deno.env.toObject()`. */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Loads the configuration described by `cli`.
 *
 * @throws {ConfigError} when the file cannot be read or the config is invalid.
 */
export async function loadConfig(
  cli: Pick<CliOptions, "configFile" | "overrides">,
  options: LoadConfigOptions = {},
): Promise<Config> {
  let text: string | undefined;
  const path = cli.configFile;
  if (path !== undefined) {
    try {
      const bytes = await readAtMost(path, DEFAULTS.maxFileBytes);
      if (!bytes) {
        throw new ConfigError([`${path}: file is larger than ${DEFAULTS.maxFileBytes} bytes`]);
      }
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      const reason = e instanceof TypeError ? "not valid UTF-8" : (e as Error).message;
      throw new ConfigError([`${path}: cannot read the file: ${reason}`]);
    }
  }
  return buildConfig(text, cli.overrides, {
    env: options.env ?? Deno.env.toObject(),
    fileName: path ?? "config",
  });
}
