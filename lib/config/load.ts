/**
 * Reads the config file named on the command line (if any) and builds the
 * config with the command line's overrides. Used at start and on every reload.
 *
 * @module
 */

import { type ReadFileError, readTextFileAtMost } from "../util/read_file.ts";
import type { CliOptions } from "./cli.ts";
import { ConfigError } from "./problems.ts";
import { type Config, DEFAULTS } from "./schema.ts";
import { buildConfig } from "./validate.ts";

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
  cli: Pick<CliOptions, "configFile" | "overrides" | "probeModulesFile">,
  options: LoadConfigOptions = {},
): Promise<Config> {
  let text: string | undefined;
  const path = cli.configFile;
  if (path !== undefined) {
    const read = await readTextFileAtMost(path, { maxBytes: DEFAULTS.maxFileBytes });
    if (!read.ok) throw new ConfigError([readProblem(path, read.error)]);
    text = read.value;
  }
  let probeModules: { text: string; fileName: string } | undefined;
  const modulesPath = cli.probeModulesFile;
  if (modulesPath !== undefined) {
    const read = await readTextFileAtMost(modulesPath, { maxBytes: DEFAULTS.maxFileBytes });
    if (!read.ok) throw new ConfigError([readProblem(modulesPath, read.error)]);
    probeModules = { text: read.value, fileName: modulesPath };
  }
  return buildConfig(text, cli.overrides, {
    env: options.env ?? Deno.env.toObject(),
    fileName: path ?? "config",
    probeModules,
  });
}

/** The problem line for a file that could not be read. */
function readProblem(path: string, error: ReadFileError): string {
  switch (error.kind) {
    case "too_large":
      return `${path}: file is larger than ${error.limit} bytes`;
    case "not_utf8":
      return `${path}: cannot read the file: not valid UTF-8`;
    case "io":
      return `${path}: cannot read the file: ${error.message}`;
  }
}
