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

/**
 * Parses accepted status codes from a YAML value: a number, a string, or a list
 * of numbers and strings such as `[2xx, 301]`.
 *
 * @returns the matcher, or an error message for the config's problem list.
 *
 * @example
 * ```ts
 * const codes = parseStatusCodes(["2xx", 301]);
 * if (codes.ok) codes.value.ranges; // [[200, 299], [301, 301]]
 * parseStatusCodes("6xx"); // err("'6xx' is not a status code, class (2xx) or range (200-299)")
 * ```
 */
export function parseStatusCodes(value: unknown): Result<StatusMatcher, string> {
  const items = Array.isArray(value)
    ? value
    : typeof value === "string"
    ? value.split(",")
    : [value];
  if (items.length === 0) return err("must list at least one status code");
  const ranges: [number, number][] = [];
  const parts: string[] = [];
  for (const item of items) {
    if (typeof item !== "string" && typeof item !== "number") {
      return err(notACode(JSON.stringify(item)));
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
      return err(notACode(String(item)));
    }
    ranges.push(range);
    parts.push(text);
  }
  return ok({ source: parts.join(","), ranges });
}

function notACode(item: string): string {
  return `'${item}' is not a status code, class (2xx) or range (200-299)`;
}
