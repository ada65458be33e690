/**
 * The per-target series of the exposition, written by hand from the results
 * store, in either format a scraper may ask for: the Prometheus text format
 * 0.0.4 or OpenMetrics 1.0 ({@linkcode ExpositionFormat}). Here: the metric
 * families (one table, {@linkcode FAMILIES}), the escaping, a writer that
 * encodes the text into UTF-8 chunks, and the OpenMetrics writer of the
 * self-metrics registry's families. Caching and gzip are exposition_cache.ts's.
 *
 * The formats differ only in metadata and number spelling, so one writer
 * serves both: OpenMetrics names a counter's family without `_total` (its
 * samples keep it), adds `# UNIT` where the name ends in a base unit
 * (`_seconds`, `_bytes`), writes `le` as a float (`1.0`), escapes `"` in
 * HELP, and ends with `# EOF`. `_created` samples are not written (optional
 * in OpenMetrics; they would double the counter and histogram lines).
 *
 * A render first takes a snapshot of every target's numbers, so that a render
 * spread over several event-loop turns is consistent, then writes one string
 * per target and family. prom-client is not used for these series because its
 * registry re-serialises every series on every call, which is too slow at
 * thousands of targets (docs/performance.md).
 *
 * @module
 */

import { CHECK_RESULTS } from "../check/classify.ts";
import type { ResultsStore, TargetState } from "./results.ts";

/** An exposition format: the Prometheus text format 0.0.4, or OpenMetrics 1.0.0. */
export type ExpositionFormat = "text" | "openmetrics";

/** The formats, the default (text) first. */
export const EXPOSITION_FORMATS: readonly ExpositionFormat[] = ["text", "openmetrics"];

/** Content type of each format. */
export const CONTENT_TYPES: Readonly<Record<ExpositionFormat, string>> = Object.freeze({
  text: "text/plain; version=0.0.4; charset=utf-8",
  openmetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8",
});

/** Content type of the Prometheus text format 0.0.4. */
export const CONTENT_TYPE: string = CONTENT_TYPES.text;

/** The line that ends an OpenMetrics exposition. */
export const OPENMETRICS_EOF = "# EOF\n";

/** Escapes a label value for the text format (backslash, quote, newline). */
export function escapeLabelValue(value: string): string {
  return /[\\"\n]/.test(value)
    ? value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")
    : value;
}

/** Escapes HELP text: backslash and newline; in OpenMetrics also the double quote. */
export function escapeHelp(text: string, format: ExpositionFormat): string {
  const escaped = text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
  return format === "openmetrics" ? escaped.replace(/"/g, '\\"') : escaped;
}

/** A number as OpenMetrics' canonical float: `1.0`, `0.25`, `+Inf`, `NaN`. */
export function openMetricsFloat(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "+Inf" : "-Inf";
  const text = String(value);
  return /^-?\d+$/.test(text) ? `${text}.0` : text;
}

/** The base unit a metric name ends in, for OpenMetrics' `# UNIT`; undefined when none. */
export function unitOf(family: string): string | undefined {
  return /_(seconds|bytes)$/.exec(family)?.[1];
}

/**
 * The metadata lines of a family in `format`. `name` is the text format's
 * name (a counter's ends in `_total`); OpenMetrics names the family without it.
 */
export function familyHeader(
  name: string,
  type: string,
  help: string,
  format: ExpositionFormat,
): string {
  if (format === "text") {
    return `# HELP ${name} ${escapeHelp(help, format)}\n# TYPE ${name} ${type}\n`;
  }
  const family = type === "counter" ? name.replace(/_total$/, "") : name;
  const unit = unitOf(family);
  return `# TYPE ${family} ${type}\n${unit ? `# UNIT ${family} ${unit}\n` : ""}` +
    `# HELP ${family} ${escapeHelp(help, format)}\n`;
}

/** Formats a sample value with at most `decimals` decimals; never NaN or Inf. */
function num(value: number, decimals = 3): string {
  if (!Number.isFinite(value)) return "0";
  if (Number.isInteger(value)) return String(value);
  const scale = 10 ** decimals;
  return String(Math.round(value * scale) / scale);
}

/** The targets of a snapshot that one call of a family's writer writes. */
export interface Slice {
  /** The prefixed metric name, e.g. `sample_external_url_up`. */
  readonly name: string;
  readonly snap: TargetSnapshot;
  /** Where the family's numbers start in each target's `stride` numbers. */
  readonly offset: number;
  /** First target. */
  readonly from: number;
  /** After the last target. */
  readonly to: number;
  readonly format: ExpositionFormat;
}

/** One per-target metric family: its text metadata, its numbers in a snapshot, its writer. */
export interface Family {
  /** Metric name after the prefix and `_`. */
  readonly suffix: string;
  readonly type: "gauge" | "counter" | "histogram";
  readonly help: string;
  /** Numbers per target in a snapshot, given the histogram bucket count; 0: not exported. */
  width(buckets: number): number;
  /** Copies the target's numbers into `values[at]` to `values[at + width - 1]`. */
  fill(state: TargetState, values: Float64Array, at: number): void;
  /** Writes the family's series of a slice of targets, one string per target. */
  write(w: ChunkWriter, slice: Slice): void;
}

/**
 * A gauge with one number per target, written only once the target has been
 * checked and when `value` gives a number (NaN in the snapshot: no sample).
 */
function gauge(
  suffix: string,
  help: string,
  options: {
    value: (state: TargetState, last: NonNullable<TargetState["last"]>) => number | undefined;
    format?: (value: number) => string;
  },
): Family {
  const format = options.format ?? num;
  return {
    suffix,
    type: "gauge",
    help,
    width: () => 1,
    fill(state, values, at) {
      const last = state.last;
      values[at] = last === undefined ? NaN : options.value(state, last) ?? NaN;
    },
    write(w, { name, snap, offset, from, to }) {
      const { values, stride, labels } = snap;
      const open = `${name}{`;
      for (let i = from; i < to; i++) {
        const v = values[i * stride + offset]!;
        if (!Number.isNaN(v)) w.text(`${open}${labels[i]}} ${format(v)}\n`);
      }
    },
  };
}

const RESULT_SUFFIXES = CHECK_RESULTS.map((r) => `,result="${r}"} `);

/** Checks per result, every result initialised to 0, checked or not. */
const checksTotal: Family = {
  suffix: "checks_total",
  type: "counter",
  help: `Checks of this URL by result (${CHECK_RESULTS.join(", ")}).`,
  width: () => CHECK_RESULTS.length,
  fill(state, values, at) {
    for (let r = 0; r < CHECK_RESULTS.length; r++) values[at + r] = state.counts[r]!;
  },
  write(w, { name, snap, offset, from, to }) {
    const { values, stride, labels: allLabels } = snap;
    const open = `${name}{`;
    for (let i = from; i < to; i++) {
      const at = i * stride + offset;
      const labels = allLabels[i]!;
      let out = "";
      for (let r = 0; r < RESULT_SUFFIXES.length; r++) {
        out += `${open}${labels}${RESULT_SUFFIXES[r]}${values[at + r]}\n`;
      }
      w.text(out);
    }
  },
};

/** The response-time histogram: bucket counts (non-cumulative, with +Inf), then the sum. */
const responseSeconds: Family = {
  suffix: "response_seconds",
  type: "histogram",
  help: "Response time of checks of this URL, in seconds.",
  width: (buckets) => (buckets > 0 ? buckets + 2 : 0),
  fill(state, values, at) {
    const n = state.buckets.length;
    for (let b = 0; b < n; b++) values[at + b] = state.buckets[b]!;
    values[at + n] = state.sumSeconds;
  },
  write(w, { name, snap, offset, from, to, format }) {
    const { values, stride, labels: allLabels } = snap;
    const bounds = format === "openmetrics" ? snap.bucketsOpenMetrics : snap.buckets;
    const les = [...bounds, "+Inf"].map((le) => `,le="${le}"} `);
    const bucket = `${name}_bucket{`;
    const sum = `${name}_sum{`;
    const count = `${name}_count{`;
    for (let i = from; i < to; i++) {
      const at = i * stride + offset;
      const labels = allLabels[i]!;
      let cumulative = 0;
      let out = "";
      for (let b = 0; b < les.length; b++) {
        cumulative += values[at + b]!;
        out += `${bucket}${labels}${les[b]}${cumulative}\n`;
      }
      w.text(
        out + `${sum}${labels}} ${num(values[at + les.length]!, 6)}\n` +
          `${count}${labels}} ${cumulative}\n`,
      );
    }
  },
};

/** The per-target metric families, in exposition order. */
export const FAMILIES: readonly Family[] = [
  gauge("up", "URL Up", { value: (_, last) => (last.up ? 1 : 0) }),
  gauge("response_ms", "Response Time", { value: (_, last) => last.durationMs }),
  gauge(
    "status_code",
    "HTTP status code of the final response of the last check (0: no response).",
    { value: (_, last) => last.statusCode },
  ),
  gauge(
    "last_check_timestamp_seconds",
    "When the last check of this URL finished, seconds since the epoch.",
    { value: (state) => state.lastCheckAt / 1000 },
  ),
  gauge(
    "tls_cert_expiry_timestamp_seconds",
    "When the certificate this https URL presents expires (notAfter), seconds since the epoch; exported even when verification fails.",
    { value: (state) => state.certExpiry, format: String },
  ),
  checksTotal,
  responseSeconds,
];

/** Targets written between two chances to pause. */
const SLICE = 256;

/** Bytes per chunk handed to the sink. */
const CHUNK = 64 * 1024;

const encoder = new TextEncoder();

/**
 * Encodes the exposition into UTF-8 chunks of {@linkcode CHUNK} bytes.
 * Callers hand it one string per target and family (a few lines), which V8
 * concatenates cheaply and `encodeInto` copies at memcpy speed, and no string
 * ever holds the whole body.
 */
export class ChunkWriter {
  #buf = new Uint8Array(CHUNK);
  #pos = 0;
  readonly #sink: (chunk: Uint8Array, done: () => void) => void;
  /** Chunks the sink is done with, written into again (a render makes MBs of them). */
  readonly #free: Uint8Array<ArrayBuffer>[] = [];
  /** Bytes written so far. */
  written = 0;

  /**
   * `sink` receives each full chunk and a `done` to call once it no longer
   * needs the bytes (the buffer is then reused); a sink that never calls it
   * keeps the chunk.
   */
  constructor(sink: (chunk: Uint8Array, done: () => void) => void) {
    this.#sink = sink;
  }

  /** Appends `s`, handing full chunks to the sink. */
  text(s: string): void {
    // UTF-8 needs at most 3 bytes per UTF-16 unit.
    if (this.#pos + s.length * 3 > this.#buf.length) {
      this.flush();
      if (s.length * 3 > this.#buf.length) {
        const bytes = encoder.encode(s);
        this.#sink(bytes, () => {});
        this.written += bytes.byteLength;
        return;
      }
    }
    const n = encoder.encodeInto(s, this.#buf.subarray(this.#pos)).written;
    this.#pos += n;
    this.written += n;
  }

  /** Hands what is buffered to the sink. */
  flush(): void {
    if (this.#pos === 0) return;
    const buf = this.#buf;
    this.#sink(buf.subarray(0, this.#pos), () => this.#free.push(buf));
    this.#buf = this.#free.pop() ?? new Uint8Array(CHUNK);
    this.#pos = 0;
  }
}

/** The numbers of every target at one instant (see {@linkcode snapshot}). */
export interface TargetSnapshot {
  readonly count: number;
  /** Each target's label set, looked up once per render. */
  readonly labels: readonly string[];
  /** Per target, `stride` numbers: each family's `width` numbers at its offset. */
  readonly values: Float64Array;
  readonly stride: number;
  /** Where each family of {@linkcode FAMILIES} starts in a target's numbers. */
  readonly offsets: readonly number[];
  /** Each family's numbers per target; 0: the family is not written. */
  readonly widths: readonly number[];
  /** Bucket bounds as written in `le` (text format). */
  readonly buckets: readonly string[];
  /** Bucket bounds as OpenMetrics writes them (`1.0`). */
  readonly bucketsOpenMetrics: readonly string[];
}

/** Copies every target's numbers out of the store, laid out by {@linkcode FAMILIES}. */
export function snapshot(store: ResultsStore): TargetSnapshot {
  const states = store.states;
  const buckets = store.buckets.map(String);
  const widths = FAMILIES.map((f) => f.width(buckets.length));
  const offsets: number[] = [];
  let stride = 0;
  for (const width of widths) {
    offsets.push(stride);
    stride += width;
  }
  const values = new Float64Array(states.length * stride);
  for (let i = 0; i < states.length; i++) {
    for (let f = 0; f < FAMILIES.length; f++) {
      if (widths[f]! > 0) FAMILIES[f]!.fill(states[i]!, values, i * stride + offsets[f]!);
    }
  }
  const labels = states.map(labelsOf);
  const bucketsOpenMetrics = store.buckets.map(openMetricsFloat);
  return {
    count: states.length,
    labels,
    values,
    stride,
    offsets,
    widths,
    buckets,
    bucketsOpenMetrics,
  };
}

/** The label set of a target, without braces: `url="…",team="…"`. */
function targetLabels(state: TargetState): string {
  let out = `url="${escapeLabelValue(state.target.displayUrl)}"`;
  for (const [name, value] of Object.entries(state.target.labels)) {
    out += `,${name}="${escapeLabelValue(value)}"`;
  }
  return out;
}

/** Encoded label sets, kept while their target config lives. */
const labelCache = new WeakMap<TargetState["target"], string>();

function labelsOf(state: TargetState): string {
  let labels = labelCache.get(state.target);
  if (labels === undefined) {
    labels = targetLabels(state);
    labelCache.set(state.target, labels);
  }
  return labels;
}

/** Options of {@linkcode writeTargets}. */
export interface WriteTargetsOptions {
  /** Metric name prefix, e.g. `sample_external_url`. */
  prefix: string;
  /** Default: `text`. */
  format?: ExpositionFormat;
  /**
   * Called after every slice of targets; a promise it returns is awaited, so
   * that a long render can let the event loop run. Default: never pause (the
   * returned promise is then settled when the call returns).
   */
  pause?: () => Promise<void> | undefined;
}

/** Writes every per-target family of `snap` into `w`, in {@linkcode FAMILIES} order. */
export async function writeTargets(
  w: ChunkWriter,
  snap: TargetSnapshot,
  options: WriteTargetsOptions,
): Promise<void> {
  const format = options.format ?? "text";
  for (let f = 0; f < FAMILIES.length; f++) {
    if (snap.widths[f] === 0) continue;
    const family = FAMILIES[f]!;
    const name = `${options.prefix}_${family.suffix}`;
    w.text(familyHeader(name, family.type, family.help, format));
    const offset = snap.offsets[f]!;
    for (let from = 0; from < snap.count; from += SLICE) {
      const to = Math.min(snap.count, from + SLICE);
      family.write(w, { name, snap, offset, from, to, format });
      const p = options.pause?.();
      if (p) await p;
    }
  }
}

/** One family of prom-client's `Registry.getMetricsAsJSON()`. */
export interface RegistryFamily {
  name: string;
  help: string;
  type: string;
  values: { value: number; labels: Record<string, string | number>; metricName?: string }[];
}

/** A sample value of a registry family in OpenMetrics. */
function registryValue(value: number): string {
  return Number.isFinite(value) ? String(value) : openMetricsFloat(value);
}

/**
 * Writes the self-metrics registry's families as OpenMetrics (without
 * `# EOF`). prom-client 15 can write OpenMetrics itself, but only by
 * switching its registry's content type, and rendering that way renames
 * each counter in place (drops `_total` from the metric's name for good),
 * which would break every later text render: so the registry renders the
 * text format as before, and OpenMetrics is written here from its JSON.
 */
export function writeRegistryOpenMetrics(families: readonly RegistryFamily[]): string {
  let out = "";
  for (const family of families) {
    out += familyHeader(family.name, family.type, family.help, "openmetrics");
    for (const sample of family.values) {
      const labels = Object.entries(sample.labels).map(([k, v]) =>
        `${k}="${
          k === "le" && typeof v === "number" ? openMetricsFloat(v) : escapeLabelValue(String(v))
        }"`
      ).join(",");
      out += `${sample.metricName ?? family.name}${labels ? `{${labels}}` : ""} ${
        registryValue(sample.value)
      }\n`;
    }
  }
  return out;
}

/** Renders the per-target families for every target in the store. */
export class TargetExposition {
  /** The text of all per-target families. */
  render(store: ResultsStore, prefix: string, format: ExpositionFormat = "text"): string {
    const chunks: Uint8Array[] = [];
    const w = new ChunkWriter((c) => chunks.push(c.slice()));
    // Without a pause the writer never awaits, so this runs to the end synchronously.
    void writeTargets(w, snapshot(store), { prefix, format });
    w.flush();
    const decoder = new TextDecoder();
    let out = "";
    for (const c of chunks) out += decoder.decode(c, { stream: true });
    return out + decoder.decode();
  }
}
