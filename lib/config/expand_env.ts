/**
 * `${VAR}` references in config values (headers, body, basic_auth): secrets
 * stay in the environment, out of the file and the ConfigMap.
 *
 * @module
 */

import { err, ok, type Result } from "../util/result.ts";
import { ENV_NAME_RE } from "./schema.ts";

const ENV_REF_RE = /\$\{([^}]*)\}/g;

/** A value with its references replaced. */
export interface Expanded {
  readonly text: string;
  /** The variables' values that went into `text`: secrets, to be masked wherever shown. */
  readonly values: readonly string[];
}

/**
 * Replaces every `${NAME}` in `text` with the variable's value. `$NAME`
 * without braces is left as it is.
 *
 * @returns the expanded text, or one message per unset or malformed reference.
 *
 * @example
 * ```ts
 * expandEnv("Bearer ${TOKEN}", { TOKEN: "t1" }); // ok({ text: "Bearer t1", values: ["t1"] })
 * expandEnv("${NOPE}", {}); // err(["environment variable NOPE is not set"])
 * ```
 */
export function expandEnv(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
): Result<Expanded, string[]> {
  const problems: string[] = [];
  const values: string[] = [];
  const expanded = text.replace(ENV_REF_RE, (_match, name: string) => {
    if (!ENV_NAME_RE.test(name)) {
      problems.push(`'\${${name}}' is not a valid environment variable reference`);
      return "";
    }
    const value = env[name];
    if (value === undefined) {
      problems.push(`environment variable ${name} is not set`);
      return "";
    }
    values.push(value);
    return value;
  });
  return problems.length > 0 ? err(problems) : ok({ text: expanded, values });
}
