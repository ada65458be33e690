/**
 * Watches a config file for changes by watching its directory: Kubernetes
 * updates a mounted ConfigMap by swapping a symlink, and a watch on the file
 * itself goes deaf after the first swap. A change counts only once two reads
 * some time apart agree, so a file caught half-written is never applied (an
 * editor or `cp` writing 1,000 targets may pause at a line boundary, leaving
 * valid YAML with 501 of them); the web config's poller (lib/server/server.ts)
 * follows the same rule.
 *
 * @module
 */

/** Options of {@linkcode watchConfigFile}. */
export interface WatchOptions {
  /** Stops watching. */
  signal?: AbortSignal;
  /** Quiet time after the last event before the file is read. Default: 200 ms. */
  debounceMs?: number;
  /**
   * Time between the two reads that must agree before `onChange` runs; while
   * they differ, the file is read again after this long. Default: 1 s.
   */
  settleMs?: number;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

async function readOrEmpty(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}

/**
 * Calls `onChange` when the content of `path` changes and has stayed the same
 * for `settleMs` (compared by content, so touching or re-writing the same
 * bytes does nothing). Resolves when stopped.
 */
export async function watchConfigFile(
  path: string,
  onChange: () => void | Promise<void>,
  options: WatchOptions = {},
): Promise<void> {
  const slash = path.lastIndexOf("/");
  const dir = slash > 0 ? path.slice(0, slash) : slash === 0 ? "/" : ".";
  const debounceMs = options.debounceMs ?? 200;
  const settleMs = options.settleMs ?? 1000;
  const signal = options.signal;
  // Both synchronous, so a change made right after this call is never missed.
  const watcher = Deno.watchFs(dir, { recursive: false });
  let last: string | undefined;
  try {
    last = Deno.readTextFileSync(path);
  } catch {
    last = undefined;
  }
  const stop = () => watcher.close();
  options.signal?.addEventListener("abort", stop, { once: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let pending = Promise.resolve();
  try {
    for await (const _event of watcher) {
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = undefined;
        pending = pending.then(async () => {
          let current = await readOrEmpty(path);
          if (current === last) return;
          for (;;) {
            await sleep(settleMs, signal);
            if (signal?.aborted) return;
            const again = await readOrEmpty(path);
            if (again === current) break;
            current = again;
          }
          if (current === last) return;
          last = current;
          await onChange();
        });
      }, debounceMs);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.BadResource)) throw e;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    options.signal?.removeEventListener("abort", stop);
    await pending;
  }
}
