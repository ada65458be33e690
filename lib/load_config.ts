/**
 * Reads the config file named on the command line (if any) and builds the
 * config with the command line's overrides. Used at start and on every reload.
 *
 * @module
 */

import type { CliOptions } from "./cli.ts";
import { buildConfig, type Config, ConfigError, DEFAULTS } from "./config.ts";

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
      const info = await Deno.stat(path);
      if (info.size > DEFAULTS.maxFileBytes) {
        throw new ConfigError([`${path}: file is larger than ${DEFAULTS.maxFileBytes} bytes`]);
      }
      const bytes = await Deno.readFile(path);
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
