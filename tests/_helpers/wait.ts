/**
 * Waiting with a deadline, for every test suite: `waitFor` polls until a
 * value appears, `until` until a condition holds. An error thrown by the
 * polled function is retried, and the last one is quoted when time runs out.
 *
 * @module
 */

/** Options of {@linkcode waitFor} and {@linkcode until}. */
export interface WaitOptions {
  /** Most time to wait, ms. Default: 5 s for `until`, 20 s for `waitFor`. */
  timeoutMs?: number;
  /** Pause between two polls, ms. Default: 20 ms for `until`, 250 ms for `waitFor`. */
  everyMs?: number;
}

/**
 * Calls `fn` until it returns something other than `undefined` and returns
 * that; throws, naming `what` and the last error or value, after `timeoutMs`.
 *
 * @example
 * ```ts
 * const up = await waitFor("the up series", async () => (await query("up")).at(0));
 * ```
 */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 20_000, everyMs = 250 }: WaitOptions = {},
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
      last = undefined;
    } catch (e) {
      last = e;
    }
    if (performance.now() > deadline) {
      const why = last instanceof Error ? `: ${last.message}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`, {
        cause: last,
      });
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Polls `fn` until it returns true, failing after `ms` (default 5 s).
 *
 * @example
 * ```ts
 * await until(() => app.store.allChecked(), 10_000);
 * ```
 */
export function until(
  fn: () => boolean | Promise<boolean>,
  ms = 5000,
  what = "a condition",
): Promise<void> {
  return waitFor(what, async () => (await fn()) ? true : undefined, {
    timeoutMs: ms,
    everyMs: 20,
  }).then(() => {});
}
