/**
 * `body_regex` at load time: the pattern is RE2 syntax (that of Go's regexp,
 * which blackbox_exporter's `fail_if_body_not_matches_regexp` uses, so a
 * pattern means the same in both), compiled here once with re2js to refuse
 * what the engine cannot run (lookaround, backreferences, …) and what is too
 * large, and kept as plain data ({@linkcode BodyPattern}) that
 * lib/check/body_match.ts compiles again where it matches.
 *
 * @module
 */

import { RE2JS } from "re2js";
import { err, ok, type Result } from "../util/result.ts";

/** A validated `body_regex`: plain data, so a config survives `structuredClone`. */
export interface BodyPattern {
  /** The pattern as written (RE2 syntax). */
  readonly source: string;
  /**
   * Size of its compiled RE2 program (re2js `programSize()`, instructions):
   * what matching costs per byte at worst, used to choose where to match.
   */
  readonly instructions: number;
}

/** Where the syntax is described; named in every syntax error. */
export const RE2_SYNTAX_URL = "https://github.com/google/re2/wiki/Syntax";

/**
 * Limits of a `body_regex`. re2js itself refuses repeat counts over 1,000 and
 * programs over ~1.4 million instructions; these are tighter so that compiling
 * one pattern stays under ~20 ms at load and a match costs at most ~60 µs per
 * byte of body in the worst case measured (docs/hardening.md): a check
 * pattern is typically 5–100 instructions, and one `x{1000}`, RE2's largest
 * repeat, is ~1,000.
 */
export const BODY_REGEX_LIMITS = {
  /** Characters of the pattern (checked before compiling). */
  maxLength: 4096,
  /** Instructions of the compiled program. */
  maxInstructions: 2000,
} as const;

/**
 * Checks and measures a `body_regex` value.
 *
 * @returns the pattern, or the problem (for the config's problem list).
 *
 * @example
 * ```ts
 * parseBodyRegex('"status":"UP"'); // ok({ source: '"status":"UP"', instructions: 15 })
 * parseBodyRegex("(?=x)"); // err("is not a valid RE2 regular expression: invalid or unsupported Perl syntax: `(?=` …")
 * ```
 */
export function parseBodyRegex(value: unknown): Result<BodyPattern, string> {
  if (typeof value !== "string") return err("must be a string");
  const { maxLength, maxInstructions } = BODY_REGEX_LIMITS;
  if (value.length > maxLength) {
    return err(`is ${value.length} characters long; at most ${maxLength} are allowed`);
  }
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(value);
  } catch (e) {
    const message = (e as Error).message.replace(/^error parsing regexp: /, "")
      // re2js reads `(?<=` and `(?<!` as a broken named group.
      .replace(/^invalid named capture: `(\(\?<[=!]).*`$/s, "lookbehind is not supported: `$1`");
    if (/expression too large|expression nests too deeply/.test(message)) {
      return err(`is too large for the RE2 engine: ${message}`);
    }
    return err(
      `is not a valid RE2 regular expression: ${message} (RE2 has no lookaround or ` +
        `backreferences; syntax: ${RE2_SYNTAX_URL})`,
    );
  }
  const instructions = compiled.programSize();
  if (instructions > maxInstructions) {
    return err(
      `compiles to ${instructions} RE2 instructions; at most ${maxInstructions} are allowed ` +
        `(use fewer or smaller {n} repeats)`,
    );
  }
  return ok({ source: value, instructions });
}
