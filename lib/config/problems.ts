/**
 * How config problems are reported: validation does not stop at the first
 * bad field but collects every problem in a {@linkcode Problems}, each with
 * its field path and file line, and throws them together as one
 * {@linkcode ConfigError}.
 *
 * @module
 */

import { BadInputError } from "../util/bad_input.ts";

/** A field path: mapping keys and list indices, e.g. `["targets", 0, "url"]`. */
export type Path = (string | number)[];

/** A YAML mapping as a plain object. */
export type Raw = Record<string, unknown>;

/** Problems listed in a ConfigError's message (all are in `problems`). */
const MAX_PROBLEMS_SHOWN = 100;

/** A configuration that cannot be used; `problems` holds every reason found. */
export class ConfigError extends BadInputError {
  /** One line per problem, each starting with its field path. */
  readonly problems: readonly string[];

  /**
   * @example
   * ```ts
   * new ConfigError(["'x': broken"]).message; // "Cannot load config: 'x': broken"
   * ```
   */
  constructor(problems: readonly string[]) {
    // A hostile file can have thousands of problems: the message shows the first ones.
    const shown = problems.length > MAX_PROBLEMS_SHOWN
      ? [
        ...problems.slice(0, MAX_PROBLEMS_SHOWN),
        `… and ${problems.length - MAX_PROBLEMS_SHOWN} more problems`,
      ]
      : problems;
    super(
      problems.length === 1
        ? `Cannot load config: ${problems[0]}`
        : `Cannot load config: ${problems.length} problems:\n  ${shown.join("\n  ")}`,
    );
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/**
 * Collects problems with their paths, each once, and puts the file line of
 * the field in front of the message. {@linkcode Problems.ordered} lists them
 * as people read a file: problems of the file as a whole (and of flags, which
 * have no line) first, then by line.
 *
 * @example
 * ```ts
 * const problems = new Problems((path) => path[0] === "global" ? 2 : undefined);
 * problems.add(["global", "metric_prefix"], "must be a string");
 * problems.list; // ["'global.metric_prefix' (line 2): must be a string"]
 * ```
 */
export class Problems {
  /** Every problem so far, in the order found. */
  readonly list: string[] = [];
  /** The sort key of each entry of `list`: its line, -1 without one, Infinity when not looked up. */
  readonly #lines: number[] = [];
  readonly #seen = new Set<string>();
  readonly #lineOf: (path: Path) => number | undefined;

  /** @param lineOf the file line of a field, or undefined when it is not in the file. */
  constructor(lineOf: (path: Path) => number | undefined) {
    this.#lineOf = lineOf;
  }

  /** Adds a problem once: a bad `defaults` value is reported once, not once per target. */
  add(path: Path, message: string): void {
    const line = this.#line(path);
    const where = path.length > 0 ? `'${formatPath(path)}'` : "config";
    this.#push(`${where}${line ? ` (line ${line})` : ""}: ${message}`, line);
  }

  /** Adds a problem of the file as a whole, worded in full (listed before the per-line ones). */
  addWhole(message: string): void {
    this.#push(message, -1);
  }

  /**
   * A field as another problem's message names it: `'defaults.timeout' (line 3)`.
   *
   * @example
   * ```ts
   * new Problems(() => 3).describe(["defaults", "timeout"]); // "'defaults.timeout' (line 3)"
   * ```
   */
  describe(path: Path): string {
    const line = this.#line(path);
    return `'${formatPath(path)}'${line ? ` (line ${line})` : ""}`;
  }

  /** Every problem, problems without a line first, then by line (ties in the order found). */
  ordered(): string[] {
    return this.list
      .map((problem, i) => ({ problem, line: this.#lines[i]!, i }))
      .sort((a, b) => a.line - b.line || a.i - b.i)
      .map((entry) => entry.problem);
  }

  /**
   * The line of `path`, or undefined. Finding a line can cost a walk of a
   * long mapping: done only while the problems fit in the message, so
   * thousands of problems stay linear.
   */
  #line(path: Path): number | undefined {
    return path.length > 0 && this.list.length < MAX_PROBLEMS_SHOWN
      ? this.#lineOf(path)
      : undefined;
  }

  #push(problem: string, line: number | undefined): void {
    if (this.#seen.has(problem)) return;
    this.#seen.add(problem);
    this.list.push(problem);
    // Beyond the shown ones lines are not looked up: they keep their order, at the end.
    this.#lines.push(line ?? (this.list.length <= MAX_PROBLEMS_SHOWN ? -1 : Infinity));
  }
}

/**
 * A path as the messages show it.
 *
 * @example
 * ```ts
 * formatPath(["targets", 0, "headers", "X-Token"]); // "targets[0].headers.X-Token"
 * ```
 */
export function formatPath(path: Path): string {
  return path.map((p, i) => typeof p === "number" ? `[${p}]` : (i === 0 ? p : `.${p}`)).join(
    "",
  );
}

/** True for a YAML mapping (not a list, not null). */
export function isObject(value: unknown): value is Raw {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Reports every key of `raw` that is not in `allowed`, naming the allowed ones. */
export function checkKeys(
  raw: Raw,
  allowed: readonly string[],
  at: { path: Path; problems: Problems },
): void {
  for (const key of Object.keys(raw)) {
    if (!allowed.includes(key)) {
      at.problems.add([...at.path, key], `unknown key (allowed: ${allowed.join(", ")})`);
    }
  }
}
