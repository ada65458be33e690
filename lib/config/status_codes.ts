/**
 * Accepted HTTP status codes: a list of codes (`200`), classes (`2xx`) and
 * ranges (`200-299`), parsed into plain data (a {@linkcode StatusMatcher}
 * survives `structuredClone` and `postMessage`) and tested with
 * {@linkcode statusAccepted}.
 *
 * @module
 */

import { err, ok, type Result } from "../util/result.ts";

/** Which final status codes count as up: plain data, tested with {@linkcode statusAccepted}. */
export interface StatusMatcher {
  /** The accepted set as written, normalised (`200,2xx,301-308`). */
  readonly source: string;
  /** Inclusive `[lo, hi]` ranges, one per item of `source` (`2xx` is `[200, 299]`). */
  readonly ranges: readonly (readonly [number, number])[];
}

/**
 * True when `matcher` accepts the status `code`.
 *
 * @example
 * ```ts
 * const codes = parseStatusCodes("2xx,301");
 * if (codes.ok) statusAccepted(codes.value, 204); // true
 * ```
 */
export function statusAccepted(matcher: StatusMatcher, code: number): boolean {
  return matcher.ranges.some(([lo, hi]) => code >= lo && code <= hi);
}

/** One bad entry of a status code list: its index in a YAML list (none for a scalar), and why. */
export interface StatusCodeProblem {
  readonly index?: number;
  readonly message: string;
}

/**
 * Parses accepted status codes from a YAML value: a number, a string, or a list
 * of numbers and strings such as `[2xx, 301]`. Every bad entry is reported,
 * not only the first.
 *
 * @returns the matcher, or one problem per bad entry (with its list index).
 *
 * @example
 * ```ts
 * const codes = parseStatusCodes(["2xx", 301]);
 * if (codes.ok) codes.value.ranges; // [[200, 299], [301, 301]]
 * parseStatusCodes(["2xx", 99, "700-800"]);
 * // err([{index: 1, message: "'99' is not …"}, {index: 2, message: "'700-800' is not …"}])
 * ```
 */
export function parseStatusCodes(value: unknown): Result<StatusMatcher, StatusCodeProblem[]> {
  const list = Array.isArray(value);
  const items = list ? value : typeof value === "string" ? value.split(",") : [value];
  if (items.length === 0) return err([{ message: "must list at least one status code" }]);
  const ranges: [number, number][] = [];
  const parts: string[] = [];
  const problems: StatusCodeProblem[] = [];
  items.forEach((item: unknown, i: number) => {
    const index = list ? i : undefined;
    if (typeof item !== "string" && typeof item !== "number") {
      problems.push({ index, message: notACode(JSON.stringify(item)) });
      return;
    }
    const text = String(item).trim().toLowerCase();
    let range: [number, number] | undefined;
    let match: RegExpExecArray | null;
    if ((match = /^([1-5])xx$/.exec(text))) {
      const base = Number(match[1]) * 100;
      range = [base, base + 99];
    } else if ((match = /^(\d{3})-(\d{3})$/.exec(text))) {
      range = [Number(match[1]), Number(match[2])];
    } else if (/^\d{3}$/.test(text)) {
      range = [Number(text), Number(text)];
    }
    if (!range || range[0] < 100 || range[1] > 599 || range[0] > range[1]) {
      problems.push({ index, message: notACode(String(item)) });
      return;
    }
    ranges.push(range);
    parts.push(text);
  });
  if (problems.length > 0) return err(problems);
  return ok({ source: parts.join(","), ranges });
}

function notACode(item: string): string {
  return `'${item}' is not a status code, class (2xx) or range (200-299)`;
}
