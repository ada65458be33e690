/**
 * Reads a whole file, but never more than a limit: the read itself is
 * bounded, not only a `stat` size first, because a pipe, a FIFO or
 * `/dev/zero` has no size and would otherwise be read until memory runs out.
 * Used by both config loaders (the config file and the web config file).
 *
 * @module
 */

import { err, ok, type Result } from "./result.ts";

/** Why a bounded read failed. */
export type ReadFileError =
  | { readonly kind: "too_large"; readonly limit: number }
  | { readonly kind: "not_utf8" }
  | { readonly kind: "io"; readonly message: string };

/** Options of {@linkcode readTextFileAtMost}. */
export interface ReadFileOptions {
  /** Most bytes read; a longer file is a `too_large` error. */
  maxBytes: number;
}

/**
 * Reads `path` as UTF-8 text of at most `options.maxBytes` bytes.
 *
 * @example
 * ```ts
 * const read = await readTextFileAtMost("config.yaml", { maxBytes: 1024 * 1024 });
 * if (read.ok) console.log(read.value.length);
 * ```
 */
export async function readTextFileAtMost(
  path: string,
  options: ReadFileOptions,
): Promise<Result<string, ReadFileError>> {
  let bytes: Uint8Array | undefined;
  try {
    bytes = await readBytes(path, options.maxBytes);
  } catch (e) {
    return err({ kind: "io", message: (e as Error).message });
  }
  if (!bytes) return err({ kind: "too_large", limit: options.maxBytes });
  try {
    return ok(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return err({ kind: "not_utf8" });
  }
}

/** The bytes of `path`, or undefined once more than `limit` bytes were read. */
async function readBytes(path: string, limit: number): Promise<Uint8Array | undefined> {
  using file = await Deno.open(path, { read: true });
  const info = await file.stat();
  if (info.isFile && info.size > limit) return undefined;
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await file.read(buffer);
    if (n === null) break;
    total += n;
    if (total > limit) return undefined;
    chunks.push(buffer.slice(0, n));
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
