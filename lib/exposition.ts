/**
 * The Prometheus text exposition: per-target series written by hand from the
 * results store (each target's lines cached until that target changes), then
 * the self-metrics registry. The whole body is cached and re-rendered only when
 * a result changed (or the self-metrics are older than `maxAgeMs`), so many
 * scrapers share one render; gzip is made once per render, on first demand.
 *
 * prom-client is not used for the per-target series because its registry
 * re-serialises every series on every call (~20 ms at 10,000 series here).
 *
 * @module
 */

import { CHECK_RESULTS } from "./classify.ts";
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

interface Chunks {
  version: number;
  parts: string[];
}

/** Renders one target's lines for each family. */
function renderTarget(
  state: TargetState,
  prefix: string,
  buckets: readonly string[],
): string[] {
  const labels = targetLabels(state);
  const last = state.last;
  const parts: string[] = [];
  if (last) {
    parts.push(
      `${prefix}_up{${labels}} ${last.up ? 1 : 0}\n`,
      `${prefix}_response_ms{${labels}} ${num(last.durationMs)}\n`,
      `${prefix}_status_code{${labels}} ${last.statusCode}\n`,
      `${prefix}_last_check_timestamp_seconds{${labels}} ${num(state.lastCheckAt / 1000)}\n`,
      last.tlsCertExpiry === undefined
        ? ""
        : `${prefix}_tls_cert_expiry_timestamp_seconds{${labels}} ${last.tlsCertExpiry}\n`,
    );
  } else parts.push("", "", "", "", "");
  let counters = "";
  for (let i = 0; i < CHECK_RESULTS.length; i++) {
    counters += `${prefix}_checks_total{${labels},result="${CHECK_RESULTS[i]}"} ${
      state.counts[i]
    }\n`;
  }
  parts.push(counters);
  if (buckets.length > 0) {
    let histogram = "";
    let cumulative = 0;
    for (let i = 0; i < buckets.length; i++) {
      cumulative += state.buckets[i]!;
      histogram += `${prefix}_response_seconds_bucket{${labels},le="${
        buckets[i]
      }"} ${cumulative}\n`;
    }
    cumulative += state.buckets[buckets.length]!;
    histogram += `${prefix}_response_seconds_bucket{${labels},le="+Inf"} ${cumulative}\n` +
      `${prefix}_response_seconds_sum{${labels}} ${num(state.sumSeconds, 6)}\n` +
      `${prefix}_response_seconds_count{${labels}} ${cumulative}\n`;
    parts.push(histogram);
  }
  return parts;
}

/** Renders the per-target families for every target in the store. */
export class TargetExposition {
  #cache = new WeakMap<TargetState, Chunks>();
  #prefix = "";

  /** The text of all per-target families. */
  render(store: ResultsStore, prefix: string): string {
    if (prefix !== this.#prefix) {
      this.#cache = new WeakMap();
      this.#prefix = prefix;
    }
    const buckets = store.buckets.map(String);
    const families = buckets.length > 0 ? FAMILIES.length : FAMILIES.length - 1;
    const states = store.states;
    const all: string[][] = new Array(states.length);
    for (let i = 0; i < states.length; i++) {
      const state = states[i]!;
      let chunks = this.#cache.get(state);
      if (!chunks || chunks.version !== state.version || chunks.parts.length !== families) {
        chunks = { version: state.version, parts: renderTarget(state, prefix, buckets) };
        this.#cache.set(state, chunks);
      }
      all[i] = chunks.parts;
    }
    let out = "";
    for (let f = 0; f < families; f++) {
      const family = FAMILIES[f]!;
      const name = `${prefix}_${family.suffix}`;
      out += `# HELP ${name} ${family.help}\n# TYPE ${name} ${family.type}\n`;
      const lines: string[] = new Array(all.length);
      for (let i = 0; i < all.length; i++) lines[i] = all[i]![f]!;
      out += lines.join("");
    }
    return out;
  }
}

/** A rendered body, with its gzip made on first demand. */
export class RenderedBody {
  readonly text: string;
  readonly bytes: Uint8Array;
  readonly renderedAt: number;
  #gzip?: Promise<Uint8Array>;

  constructor(text: string, renderedAt: number) {
    this.text = text;
    this.bytes = new TextEncoder().encode(text);
    this.renderedAt = renderedAt;
  }

  /** The gzip-compressed body, compressed once and shared by every scrape. */
  gzip(): Promise<Uint8Array> {
    this.#gzip ??= new Response(
      new Blob([this.bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
        new CompressionStream("gzip"),
      ),
    ).bytes();
    return this.#gzip;
  }
}

/** Options of {@linkcode Exposition}. */
export interface ExpositionOptions {
  /** Re-render at most this old even when no result changed (self-metrics age). Default 1000 ms. */
  maxAgeMs?: number;
  /** Monotonic clock in ms. Default: `performance.now`. */
  now?: () => number;
}

/** Serves the exposition from a cache that is rebuilt when results change. */
export class Exposition {
  readonly #store: ResultsStore;
  readonly #self: SelfMetrics;
  readonly #prefix: () => string;
  readonly #targets = new TargetExposition();
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  #cached?: { version: string; prefix: string; body: RenderedBody };
  #pending?: Promise<RenderedBody>;
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
    this.#now = options.now ?? (() => performance.now());
  }

  /** The current body: cached when nothing changed, otherwise rendered once for all waiting scrapers. */
  body(): Promise<RenderedBody> {
    const cached = this.#cached;
    const prefix = this.#prefix();
    if (
      cached && cached.version === this.#version() && cached.prefix === prefix &&
      this.#now() - cached.body.renderedAt < this.#maxAgeMs
    ) {
      return Promise.resolve(cached.body);
    }
    this.#pending ??= this.#render(prefix).finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  /** Changes whenever a result or a self metric that is not sampled live changed. */
  #version(): string {
    return `${this.#store.version}/${this.#self.version}`;
  }

  async #render(prefix: string): Promise<RenderedBody> {
    const version = this.#version();
    const self = await this.#self.registry.metrics();
    const text = this.#targets.render(this.#store, prefix) + self;
    const body = new RenderedBody(text, this.#now());
    this.#cached = { version, prefix, body };
    this.renders++;
    return body;
  }
}
