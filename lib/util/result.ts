/**
 * A typed result for functions that can fail in an expected way: the caller
 * must look at `ok` before it can reach the value, and the error has a type
 * of its own instead of being a string squeezed into the return value.
 *
 * @module
 */

/** Success with a value, or failure with an error. */
export type Result<T, E = string> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: E };

/**
 * A success.
 *
 * @example
 * ```ts
 * const r = ok(42); // { ok: true, value: 42 }
 * ```
 */
export function ok<T>(value: T): { readonly ok: true; readonly value: T } {
  return { ok: true, value };
}

/**
 * A failure.
 *
 * @example
 * ```ts
 * const r = err("not a number"); // { ok: false, error: "not a number" }
 * ```
 */
export function err<E>(error: E): { readonly ok: false; readonly error: E } {
  return { ok: false, error };
}
