/**
 * Serves `/metrics` bodies from a cache: the per-target series
 * (exposition.ts) and then the self-metrics registry, rendered straight into
 * gzip and re-rendered only when something changed, so that many scrapers
 * share one render and one compression. One body is cached per format (text
 * 0.0.4, OpenMetrics), each rendered only when a scraper asks for it.
 *
 * A render streams the text through gzip as it is written, so the plain body
 * is never held whole, and lets the event loop turn every few milliseconds,
 * so that checks in flight are not timed late by a long render. Only the gzip
 * form is kept (what Prometheus asks for); the plain text is decompressed on
 * first demand. With `maxStaleMs` a body may be served a little older than
 * the newest results while results keep changing, which bounds the render
 * cost whatever the scrape rate (see {@linkcode ExpositionOptions}).
 *
 * @module
 */

import { createGzip, gunzipSync, gzipSync } from "node:zlib";
import {
  ChunkWriter,
  EXPOSITION_FORMATS,
  type ExpositionFormat,
  OPENMETRICS_EOF,
  type RegistryFamily,
  snapshot,
  writeRegistryOpenMetrics,
  writeTargets,
} from "./exposition.ts";
import type { ResultsStore } from "./results.ts";
import type { SelfMetrics } from "./self_metrics.ts";

/** gzip level: 1 is several times faster than the default for a slightly larger body. */
const GZIP_LEVEL = 1;

/**
 * Most time a render runs before it lets the event loop turn, ms: short
 * enough that checks in flight are timed on time.
 */
const RENDER_BUDGET_MS = 3;

/**
 * Resolves on a later turn of the event loop, after pending network I/O.
 * A timer, not setImmediate: in Deno a chain of setImmediate callbacks never
 * lets fetch's sockets progress.
 */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * A rendered body. Rendering produces the gzip form (what Prometheus asks
 * for); the plain bytes are decompressed on first demand and then kept.
 */
export class RenderedBody {
  readonly renderedAt: number;
  /** Length of the uncompressed body in bytes. */
  readonly plainBytes: number;
  #text?: string;
  #bytes?: Uint8Array;
  #plain?: Promise<Uint8Array>;
  #gzip?: Uint8Array;

  /** A body from its text (gzip made on first demand). */
  constructor(text: string, renderedAt: number);
  /** A body from its gzip form (plain bytes made on first demand). */
  constructor(gzip: { gzip: Uint8Array; plainBytes: number }, renderedAt: number);
  constructor(content: string | { gzip: Uint8Array; plainBytes: number }, renderedAt: number) {
    if (typeof content === "string") {
      this.#text = content;
      this.#bytes = new TextEncoder().encode(content);
      this.plainBytes = this.#bytes.byteLength;
    } else {
      this.#gzip = content.gzip;
      this.plainBytes = content.plainBytes;
    }
    this.renderedAt = renderedAt;
  }

  /**
   * The uncompressed body, decompressed once (in chunks, without blocking the
   * event loop for the whole body) and shared by every plain scrape of it.
   */
  plain(): Promise<Uint8Array> {
    if (this.#bytes) return Promise.resolve(this.#bytes);
    this.#plain ??= new Response(
      new Blob([this.#gzip! as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
        new DecompressionStream("gzip"),
      ),
    ).bytes().then((bytes) => (this.#bytes = bytes));
    return this.#plain;
  }

  /** The uncompressed body, decompressed at once (tests; the server uses {@linkcode plain}). */
  get bytes(): Uint8Array {
    this.#bytes ??= gunzipSync(this.#gzip!);
    return this.#bytes;
  }

  /** The body as text. */
  get text(): string {
    this.#text ??= new TextDecoder().decode(this.bytes);
    return this.#text;
  }

  /** The gzip-compressed body, compressed once and shared by every scrape. */
  gzip(): Promise<Uint8Array> {
    this.#gzip ??= gzipSync(this.bytes, { level: GZIP_LEVEL });
    return Promise.resolve(this.#gzip);
  }
}

/** Options of {@linkcode Exposition}. */
export interface ExpositionOptions {
  /** Re-render at most this old even when no result changed (self-metrics age). Default 1000 ms. */
  maxAgeMs?: number;
  /**
   * Most staleness traded for cheap scrapes while results keep changing.
   * With 0 (the default) every scrape after a change waits for a fresh
   * render. Above 0, a body younger than min(`maxStaleMs`, 10 × the last
   * render's time) is served although results changed since, and one up to
   * twice that age is served while its successor renders in the background:
   * renders then take a bounded share of the time whatever the scrape rate,
   * and no scraper waits for one, while a scraper that comes rarely
   * (Prometheus) still gets a fresh render.
   */
  maxStaleMs?: number;
  /** Monotonic clock in ms. Default: `performance.now`. */
  now?: () => number;
}

/**
 * Serves the exposition from a cache that is rebuilt when results change.
 *
 * What it watches: the store's `version` and the self-metrics' `version`
 * (a change makes the body stale, which `maxStaleMs` may still serve), and
 * the store's `configVersion` and the self-metrics' `reloadVersion` (a
 * change is never served stale), besides the prefix and `maxAgeMs`.
 */
export class Exposition {
  readonly #store: ResultsStore;
  readonly #self: SelfMetrics;
  readonly #prefix: () => string;
  readonly #maxAgeMs: number;
  readonly #maxStaleMs: number;
  readonly #now: () => number;
  /** Per format: the cached body, the render in progress, the last render's time. */
  readonly #slots: Record<ExpositionFormat, FormatSlot>;
  /** Renders done so far, all formats (for tests and benchmarks). */
  renders = 0;
  /** Renders done so far, per format. */
  readonly rendersByFormat: Record<ExpositionFormat, number>;

  constructor(
    store: ResultsStore,
    self: SelfMetrics,
    options: ExpositionOptions & { prefix: () => string },
  ) {
    this.#store = store;
    this.#self = self;
    this.#prefix = options.prefix;
    this.#maxAgeMs = options.maxAgeMs ?? 1000;
    this.#maxStaleMs = options.maxStaleMs ?? 0;
    this.#now = options.now ?? (() => performance.now());
    const slot = (): FormatSlot => ({ pendingKey: "", lastRenderMs: 0 });
    this.#slots = { text: slot(), openmetrics: slot() };
    this.rendersByFormat = Object.fromEntries(EXPOSITION_FORMATS.map((f) => [f, 0])) as Record<
      ExpositionFormat,
      number
    >;
  }

  /**
   * The current body in `format` (default `text`): cached when nothing
   * changed, otherwise rendered once for all waiting scrapers of that format.
   */
  body(format: ExpositionFormat = "text"): Promise<RenderedBody> {
    const slot = this.#slots[format];
    const cached = slot.cached;
    const prefix = this.#prefix();
    // Only changed results may be served stale: never a new prefix, target list or reload.
    if (cached && cached.prefix === prefix && cached.shape === this.#shape()) {
      const age = this.#now() - cached.body.renderedAt;
      if (cached.version === this.#version() && age < this.#maxAgeMs) {
        return Promise.resolve(cached.body);
      }
      const stale = this.staleWindowFor(format);
      if (age < stale) return Promise.resolve(cached.body);
      this.#startRender(prefix, format);
      if (age < 2 * stale) return Promise.resolve(cached.body);
      return slot.pending!;
    }
    this.#startRender(prefix, format);
    return slot.pending!;
  }

  /**
   * How long a text body is served after results changed: min(`maxStaleMs`,
   * 10 × the last render's wall time); 0 when `maxStaleMs` is 0.
   */
  get staleWindowMs(): number {
    return this.staleWindowFor("text");
  }

  /** {@linkcode staleWindowMs} of a format (each format is timed by its own renders). */
  staleWindowFor(format: ExpositionFormat): number {
    return Math.min(this.#maxStaleMs, 10 * this.#slots[format].lastRenderMs);
  }

  /** Starts a render unless one is running that will show the current prefix and shape. */
  #startRender(prefix: string, format: ExpositionFormat): void {
    const slot = this.#slots[format];
    const key = `${prefix} ${this.#shape()}`;
    if (slot.pending && slot.pendingKey === key) return;
    const after = slot.pending ?? Promise.resolve();
    const pending: Promise<RenderedBody> = after.catch(() => {}).then(() =>
      this.#render(prefix, format)
    ).finally(() => {
      if (slot.pending === pending) slot.pending = undefined;
    });
    slot.pending = pending;
    slot.pendingKey = key;
  }

  /** Changes when the target list or buckets were applied, or on a reload attempt. */
  #shape(): string {
    return `${this.#store.configVersion}/${this.#self.reloadVersion}`;
  }

  /** Changes whenever a result or a self metric that is not sampled live changed. */
  #version(): string {
    return `${this.#store.version}/${this.#self.version}`;
  }

  async #render(prefix: string, format: ExpositionFormat): Promise<RenderedBody> {
    const startedAt = this.#now();
    const t0 = performance.now();
    const version = this.#version();
    const shape = this.#shape();
    const snap = snapshot(this.#store);
    const gzip = new GzipStream();
    const w = new ChunkWriter((chunk, done) => gzip.write(chunk, done));
    let sliceStart = performance.now();
    await writeTargets(w, snap, {
      prefix,
      format,
      pause: () => {
        if (performance.now() - sliceStart < RENDER_BUDGET_MS) return undefined;
        return gzip.drained().then(nextTurn).then(() => {
          sliceStart = performance.now();
        });
      },
    });
    const registry = this.#self.registry;
    if (format === "text") w.text(await registry.metrics());
    else {
      const families = await registry.getMetricsAsJSON() as unknown as RegistryFamily[];
      w.text(writeRegistryOpenMetrics(families) + OPENMETRICS_EOF);
    }
    w.flush();
    const body = new RenderedBody({ gzip: await gzip.end(), plainBytes: w.written }, startedAt);
    const slot = this.#slots[format];
    slot.cached = { version, shape, prefix, body };
    slot.lastRenderMs = performance.now() - t0;
    this.renders++;
    this.rendersByFormat[format]++;
    return body;
  }
}

/** What the cache keeps for one format. */
interface FormatSlot {
  cached?: { version: string; shape: string; prefix: string; body: RenderedBody };
  pending?: Promise<RenderedBody>;
  pendingKey: string;
  lastRenderMs: number;
}

/** node:zlib gzip fed chunk by chunk, collecting the compressed bytes. */
class GzipStream {
  readonly #gzip = createGzip({ level: GZIP_LEVEL });
  readonly #out: Uint8Array[] = [];
  #bytes = 0;
  #written: Promise<void> = Promise.resolve();
  readonly #ended: Promise<void>;

  constructor() {
    this.#gzip.on("data", (d: Uint8Array) => {
      this.#out.push(d);
      this.#bytes += d.byteLength;
    });
    this.#ended = new Promise<void>((resolve, reject) => {
      this.#gzip.on("end", resolve);
      this.#gzip.on("error", reject);
    });
  }

  /** Queues a chunk for compression; `done` runs once gzip has taken it. */
  write(chunk: Uint8Array, done: () => void): void {
    this.#written = new Promise((resolve) =>
      this.#gzip.write(chunk, () => {
        done();
        resolve();
      })
    );
  }

  /** Resolves when gzip has taken the last chunk written. */
  drained(): Promise<void> {
    return this.#written;
  }

  /** Ends the stream; resolves with the whole compressed body. */
  async end(): Promise<Uint8Array> {
    this.#gzip.end();
    await this.#ended;
    if (this.#out.length === 1) return this.#out[0]!;
    const all = new Uint8Array(this.#bytes);
    let at = 0;
    for (const chunk of this.#out) {
      all.set(chunk, at);
      at += chunk.byteLength;
    }
    return all;
  }
}
