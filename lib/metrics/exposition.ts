/**
 * The Prometheus text exposition: per-target series written by hand from the
 * results store, then the self-metrics registry. The body is cached and
 * re-rendered only when a result changed (or the self-metrics are older than
 * `maxAgeMs`), so many scrapers share one render.
 *
 * A render takes a snapshot of every target's numbers, writes the text as
 * bytes straight into gzip (level 1) in 64 KB chunks, and lets the event loop
 * turn every ~3 ms, so that checks in flight are not timed late by a long
 * render; only the gzip form is kept (~6% of the text), the plain text is
 * decompressed on first demand. With `maxStaleMs` a body may be served a
 * little older than the newest results while results keep changing, which
 * bounds the render cost whatever the scrape rate (see ExpositionOptions).
 *
 * prom-client is not used for the per-target series because its registry
 * re-serialises every series on every call (~20 ms at 10,000 series here),
 * and string concatenation of the whole text cost ~0.5 s at 10,000 targets.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createGzip, gunzipSync, gzipSync } from "node:zlib";
import { CHECK_RESULTS } from "../check/classify.ts";
import type { ResultsStore, TargetState } from "./results.ts";
import type { SelfMetrics } from "./self_metrics.ts";

/** Content type of the Prometheus text format 0.0.4. */
export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Escapes a label value for the text format (backslash, quote, newline). */
export function escapeLabelValue(value: string): string {
  return /[\\"\n]/.test(value)
    ? value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")
    : value;
}

/** Formats a sample value with at most `decimals` decimals; never NaN or Inf. */
function num(value: number, decimals = 3): string {
  if (!Number.isFinite(value)) return "0";
  if (Number.isInteger(value)) return String(value);
  const scale = 10 ** decimals;
  return String(Math.round(value * scale) / scale);
}

/** The label set of a target, without braces: `url="…",team="…"`. */
function targetLabels(state: TargetState): string {
  let out = `url="${escapeLabelValue(state.target.displayUrl)}"`;
  for (const [name, value] of Object.entries(state.target.labels)) {
    out += `,${name}="${escapeLabelValue(value)}"`;
  }
  return out;
}

interface Family {
  suffix: string;
  type: "gauge" | "counter" | "histogram";
  help: string;
}

/** The per-target metric families, in exposition order. */
export const FAMILIES: readonly Family[] = [
  { suffix: "up", type: "gauge", help: "URL Up" },
  { suffix: "response_ms", type: "gauge", help: "Response Time" },
  {
    suffix: "status_code",
    type: "gauge",
    help: "HTTP status code of the final response of the last check (0: no response).",
  },
  {
    suffix: "last_check_timestamp_seconds",
    type: "gauge",
    help: "When the last check of this URL finished, seconds since the epoch.",
  },
  {
    suffix: "tls_cert_expiry_timestamp_seconds",
    type: "gauge",
    help:
      "When the certificate this https URL presents expires (notAfter), seconds since the epoch; exported even when verification fails.",
  },
  {
    suffix: "checks_total",
    type: "counter",
    help: `Checks of this URL by result (${CHECK_RESULTS.join(", ")}).`,
  },
  {
    suffix: "response_seconds",
    type: "histogram",
    help: "Response time of checks of this URL, in seconds.",
  },
];

/** Snapshot offsets of a target's gauges (see {@linkcode snapshot}). */
const GAUGE_OFFSET: Readonly<Record<string, number>> = {
  up: 0,
  response_ms: 1,
  status_code: 2,
  last_check_timestamp_seconds: 3,
  tls_cert_expiry_timestamp_seconds: 4,
};
/** Numbers per target in a render's snapshot, before the histogram buckets. */
const FIXED = 5 + CHECK_RESULTS.length;

/** Targets written between checks of the time budget. */
const SLICE = 256;

/** Bytes per chunk handed to gzip. */
const CHUNK = 64 * 1024;

const encoder = new TextEncoder();

/**
 * Encodes the exposition into UTF-8 chunks. Callers hand it one string per
 * target and family (a few lines), which V8 concatenates cheaply and
 * `encodeInto` copies at memcpy speed: 2.6x faster than writing bytes one by
 * one from JS, and no string ever holds the whole body.
 */
class ChunkWriter {
  #buf = new Uint8Array(CHUNK);
  #pos = 0;
  readonly #sink: (chunk: Uint8Array) => void;
  /** Bytes written so far. */
  written = 0;

  constructor(sink: (chunk: Uint8Array) => void) {
    this.#sink = sink;
  }

  text(s: string): void {
    // UTF-8 needs at most 3 bytes per UTF-16 unit.
    if (this.#pos + s.length * 3 > this.#buf.length) {
      this.flush();
      if (s.length * 3 > this.#buf.length) {
        const bytes = encoder.encode(s);
        this.#sink(bytes);
        this.written += bytes.byteLength;
        return;
      }
    }
    const n = encoder.encodeInto(s, this.#buf.subarray(this.#pos)).written;
    this.#pos += n;
    this.written += n;
  }

  flush(): void {
    if (this.#pos === 0) return;
    this.#sink(this.#buf.subarray(0, this.#pos));
    this.#buf = new Uint8Array(CHUNK);
    this.#pos = 0;
  }
}

/** The numbers of every target at one instant, so that a render spread over time is consistent. */
interface Snapshot {
  states: readonly TargetState[];
  /** Each target's label set, looked up once per render. */
  labels: string[];
  /**
   * Per target: up (NaN before the first check), ms, status, last check (epoch
   * s), certificate expiry (NaN when none), counts, buckets, sum.
   */
  values: Float64Array;
  stride: number;
  buckets: readonly string[];
}

function snapshot(store: ResultsStore): Snapshot {
  const states = store.states;
  const buckets = store.buckets.map(String);
  const nb = buckets.length > 0 ? buckets.length + 1 : 0;
  const stride = FIXED + nb + 1;
  const values = new Float64Array(states.length * stride);
  for (let i = 0; i < states.length; i++) {
    const s = states[i]!;
    let o = i * stride;
    const last = s.last;
    values[o++] = last ? (last.up ? 1 : 0) : NaN;
    values[o++] = last ? last.durationMs : 0;
    values[o++] = last ? last.statusCode : 0;
    values[o++] = s.lastCheckAt / 1000;
    values[o++] = s.certExpiry ?? NaN;
    for (let r = 0; r < CHECK_RESULTS.length; r++) values[o++] = s.counts[r]!;
    for (let b = 0; b < nb; b++) values[o++] = s.buckets[b]!;
    values[o] = s.sumSeconds;
  }
  const labels = states.map(labelsOf);
  return { states, labels, values, stride, buckets };
}

/** Encoded label sets (`url="…",team="…"`), kept while their target config lives. */
const labelCache = new WeakMap<TargetState["target"], string>();

function labelsOf(state: TargetState): string {
  let labels = labelCache.get(state.target);
  if (labels === undefined) {
    labels = targetLabels(state);
    labelCache.set(state.target, labels);
  }
  return labels;
}

const RESULT_SUFFIXES = CHECK_RESULTS.map((r) => `,result="${r}"} `);

/** Writes family `suffix` for targets `from` to `to` of the snapshot. */
function writeFamily(
  w: ChunkWriter,
  snap: Snapshot,
  prefix: string,
  suffix: string,
  from: number,
  to: number,
): void {
  const { values, stride, labels: allLabels } = snap;
  const name = `${prefix}_${suffix}{`;
  const gauge = GAUGE_OFFSET[suffix];
  const results = CHECK_RESULTS.length;
  const les = [...snap.buckets, "+Inf"].map((le) => `,le="${le}"} `);
  const bucket = `${prefix}_${suffix}_bucket{`;
  const sum = `${prefix}_${suffix}_sum{`;
  const count = `${prefix}_${suffix}_count{`;
  for (let i = from; i < to; i++) {
    const o = i * stride;
    const labels = allLabels[i]!;
    if (gauge !== undefined) {
      const v = values[o + gauge]!;
      // Not checked yet, or no certificate: no sample.
      if (Number.isNaN(values[o]!) || Number.isNaN(v)) continue;
      const text = gauge === GAUGE_OFFSET.tls_cert_expiry_timestamp_seconds ? String(v) : num(v);
      w.text(`${name}${labels}} ${text}\n`);
    } else if (suffix === "checks_total") {
      const base = o + FIXED - results;
      let out = "";
      for (let r = 0; r < results; r++) {
        out += `${name}${labels}${RESULT_SUFFIXES[r]}${values[base + r]}\n`;
      }
      w.text(out);
    } else if (suffix === "response_seconds") {
      let cumulative = 0;
      let out = "";
      for (let b = 0; b < les.length; b++) {
        cumulative += values[o + FIXED + b]!;
        out += `${bucket}${labels}${les[b]}${cumulative}\n`;
      }
      out += `${sum}${labels}} ${num(values[o + FIXED + les.length]!, 6)}\n` +
        `${count}${labels}} ${cumulative}\n`;
      w.text(out);
    } else {
      throw new Error(`exposition: no writer for family ${suffix}`);
    }
  }
}

/**
 * Writes every per-target family. `pause` is awaited between slices of
 * targets, so that a long render can let the event loop run (checks in flight
 * are timed on it); a sync caller passes nothing.
 */
async function writeTargets(
  w: ChunkWriter,
  snap: Snapshot,
  prefix: string,
  pause?: () => Promise<void> | undefined,
): Promise<void> {
  const count = snap.states.length;
  for (const family of FAMILIES) {
    if (family.type === "histogram" && snap.buckets.length === 0) continue;
    const name = `${prefix}_${family.suffix}`;
    w.text(`# HELP ${name} ${family.help}\n# TYPE ${name} ${family.type}\n`);
    for (let from = 0; from < count; from += SLICE) {
      writeFamily(w, snap, prefix, family.suffix, from, Math.min(count, from + SLICE));
      const p = pause?.();
      if (p) await p;
    }
  }
}

/** Renders the per-target families for every target in the store. */
export class TargetExposition {
  /** The text of all per-target families. */
  render(store: ResultsStore, prefix: string): string {
    const chunks: Uint8Array[] = [];
    const w = new ChunkWriter((c) => chunks.push(c.slice()));
    // Without a pause the writer never awaits, so this runs to the end synchronously.
    void writeTargets(w, snapshot(store), prefix);
    w.flush();
    const decoder = new TextDecoder();
    let out = "";
    for (const c of chunks) out += decoder.decode(c, { stream: true });
    return out + decoder.decode();
  }
}

/**
 * Resolves on a later turn of the event loop, after pending network I/O.
 * A timer, not setImmediate: in Deno a chain of setImmediate callbacks never
 * lets fetch's sockets progress (fetches took 226 ms instead of 2.5 ms while
 * a 2 ms-slice task yielded with setImmediate).
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
  #gzip?: Uint8Array;

  /** A body from its text (gzip made on first demand). */
  constructor(text: string, renderedAt: number);
  /** A body from its gzip form (plain bytes made on first demand). */
  constructor(gzip: { gzip: Uint8Array; plainBytes: number }, renderedAt: number);
  constructor(content: string | { gzip: Uint8Array; plainBytes: number }, renderedAt: number) {
    if (typeof content === "string") {
      this.#text = content;
      this.#bytes = encoder.encode(content);
      this.plainBytes = this.#bytes.byteLength;
    } else {
      this.#gzip = content.gzip;
      this.plainBytes = content.plainBytes;
    }
    this.renderedAt = renderedAt;
  }

  /** The uncompressed body. */
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

/** gzip level: 1 compresses 22 MB in ~25 ms to ~6% (level 6: ~70 ms, ~3.5%). */
const GZIP_LEVEL = 1;

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
   * renders then cost at most ~10% of the time whatever the scrape rate, and
   * no scraper waits for one, while a scraper that comes rarely (Prometheus)
   * still gets a fresh render.
   */
  maxStaleMs?: number;
  /** Monotonic clock in ms. Default: `performance.now`. */
  now?: () => number;
}

/**
 * Most time a render runs before it lets the event loop turn, ms. A turn
 * costs ~2 ms of wall time (timer resolution), so a render runs at ~60% duty.
 */
const RENDER_BUDGET_MS = 3;

/** Serves the exposition from a cache that is rebuilt when results change. */
export class Exposition {
  readonly #store: ResultsStore;
  readonly #self: SelfMetrics;
  readonly #prefix: () => string;
  readonly #maxAgeMs: number;
  readonly #maxStaleMs: number;
  readonly #now: () => number;
  #cached?: { version: string; shape: string; prefix: string; body: RenderedBody };
  #pending?: Promise<RenderedBody>;
  #pendingKey = "";
  #lastRenderMs = 0;
  /** Renders done so far (for tests and benchmarks). */
  renders = 0;

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
  }

  /** The current body: cached when nothing changed, otherwise rendered once for all waiting scrapers. */
  body(): Promise<RenderedBody> {
    const cached = this.#cached;
    const prefix = this.#prefix();
    // Only changed results may be served stale: never a new prefix, target list or reload.
    if (cached && cached.prefix === prefix && cached.shape === this.#shape()) {
      const age = this.#now() - cached.body.renderedAt;
      if (cached.version === this.#version() && age < this.#maxAgeMs) {
        return Promise.resolve(cached.body);
      }
      const stale = this.staleWindowMs;
      if (age < stale) return Promise.resolve(cached.body);
      this.#startRender(prefix);
      if (age < 2 * stale) return Promise.resolve(cached.body);
      return this.#pending!;
    }
    this.#startRender(prefix);
    return this.#pending!;
  }

  /**
   * How long a body is served after results changed: min(`maxStaleMs`, 10 ×
   * the last render's wall time); 0 when `maxStaleMs` is 0.
   */
  get staleWindowMs(): number {
    return Math.min(this.#maxStaleMs, 10 * this.#lastRenderMs);
  }

  /** Starts a render unless one is running that will show the current prefix and shape. */
  #startRender(prefix: string): void {
    const key = `${prefix} ${this.#shape()}`;
    if (this.#pending && this.#pendingKey === key) return;
    const after = this.#pending ?? Promise.resolve();
    const pending: Promise<RenderedBody> = after.catch(() => {}).then(() => this.#render(prefix))
      .finally(() => {
        if (this.#pending === pending) this.#pending = undefined;
      });
    this.#pending = pending;
    this.#pendingKey = key;
  }

  /** Changes when the target list or buckets were applied, or on a reload attempt. */
  #shape(): string {
    return `${this.#store.configVersion}/${this.#self.reloadVersion}`;
  }

  /** Changes whenever a result or a self metric that is not sampled live changed. */
  #version(): string {
    return `${this.#store.version}/${this.#self.version}`;
  }

  async #render(prefix: string): Promise<RenderedBody> {
    const startedAt = this.#now();
    const t0 = performance.now();
    const version = this.#version();
    const shape = this.#shape();
    const snap = snapshot(this.#store);
    // Stream the text through gzip as it is written: the plain body is never
    // held whole (it is ~2 KB per target with histograms).
    const gzip = createGzip({ level: GZIP_LEVEL });
    const out: Uint8Array[] = [];
    let gzipBytes = 0;
    gzip.on("data", (d: Uint8Array) => {
      out.push(d);
      gzipBytes += d.byteLength;
    });
    const ended = new Promise<void>((resolve, reject) => {
      gzip.on("end", resolve);
      gzip.on("error", reject);
    });
    let written: Promise<void> = Promise.resolve();
    const w = new ChunkWriter((chunk) => {
      written = new Promise((resolve) => gzip.write(chunk, () => resolve()));
    });
    let sliceStart = performance.now();
    await writeTargets(w, snap, prefix, () => {
      if (performance.now() - sliceStart < RENDER_BUDGET_MS) return undefined;
      return written.then(nextTurn).then(() => {
        sliceStart = performance.now();
      });
    });
    w.text(await this.#self.registry.metrics());
    w.flush();
    gzip.end();
    await ended;
    const body = new RenderedBody(
      { gzip: out.length === 1 ? out[0]! : Buffer.concat(out, gzipBytes), plainBytes: w.written },
      startedAt,
    );
    this.#cached = { version, shape, prefix, body };
    this.#lastRenderMs = performance.now() - t0;
    this.renders++;
    return body;
  }
}
