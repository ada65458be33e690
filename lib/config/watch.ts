/**
 * Watches a config file for changes by watching its directory: Kubernetes
 * updates a mounted ConfigMap by swapping a symlink, and a watch on the file
 * itself goes deaf after the first swap.
 *
 * @module
 */

/** Options of {@linkcode watchConfigFile}. */
export interface WatchOptions {
  /** Stops watching. */
  signal?: AbortSignal;
  /** Quiet time after the last event before `onChange` runs. Default: 200 ms. */
  debounceMs?: number;
}

async function readOrEmpty(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}

/**
 * Calls `onChange` when the content of `path` changes (compared by content, so
 * touching or re-writing the same bytes does nothing). Resolves when stopped.
 */
export async function watchConfigFile(
  path: string,
  onChange: () => void | Promise<void>,
  options: WatchOptions = {},
): Promise<void> {
  const slash = path.lastIndexOf("/");
  const dir = slash > 0 ? path.slice(0, slash) : slash === 0 ? "/" : ".";
  const debounceMs = options.debounceMs ?? 200;
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
          const current = await readOrEmpty(path);
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
