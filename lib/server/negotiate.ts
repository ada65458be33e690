/**
 * Content negotiation of `/metrics`: which exposition format a scraper's
 * `Accept` header prefers, q-values honoured. Prometheus 2.x and 3.x both ask
 * for OpenMetrics first and the text format after it; anything that asks for
 * nothing we write (or for nothing at all) gets the text format 0.0.4, which
 * every scraper reads, rather than a 406.
 *
 * @module
 */

import { CONTENT_TYPES, type ExpositionFormat } from "../metrics/exposition.ts";

/** The format to answer with and its exact content type. */
export interface Negotiated {
  format: ExpositionFormat;
  contentType: string;
}

/** One media range of an `Accept` header. */
interface Range {
  type: string;
  subtype: string;
  params: Map<string, string>;
  q: number;
  /** Position in the header, to break ties in the client's order. */
  index: number;
}

function parseAccept(header: string): Range[] {
  const ranges: Range[] = [];
  header.split(",").forEach((part, index) => {
    const [media, ...rawParams] = part.split(";").map((p) => p.trim());
    const slash = media?.indexOf("/") ?? -1;
    if (!media || slash <= 0) return;
    const params = new Map<string, string>();
    for (const p of rawParams) {
      const eq = p.indexOf("=");
      if (eq <= 0) continue;
      params.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim().replace(/^"|"$/g, ""));
    }
    const q = params.has("q") ? Number(params.get("q")) : 1;
    ranges.push({
      type: media.slice(0, slash).toLowerCase(),
      subtype: media.slice(slash + 1).toLowerCase(),
      params,
      q: Number.isFinite(q) && q >= 0 && q <= 1 ? q : 0,
      index,
    });
  });
  return ranges;
}

/** The OpenMetrics versions we write (0.0.1 is the same syntax under its draft name). */
const OPENMETRICS_VERSIONS = new Set(["1.0.0", "0.0.1"]);
/** Text format versions whose readers read 0.0.4 (1.0.0 only adds quoted UTF-8 names). */
const TEXT_VERSIONS = new Set(["0.0.4", "1.0.0"]);

/** What a range offers, and how specific the match is (higher wins for the same format). */
function offer(
  range: Range,
): { format: ExpositionFormat; specificity: number; version?: string }[] {
  const version = range.params.get("version");
  const { type, subtype } = range;
  if (type === "application" && subtype === "openmetrics-text") {
    if (version !== undefined && !OPENMETRICS_VERSIONS.has(version)) return [];
    return [{ format: "openmetrics", specificity: version ? 3 : 2, version }];
  }
  if (type === "text" && subtype === "plain") {
    if (version !== undefined && !TEXT_VERSIONS.has(version)) return [];
    return [{ format: "text", specificity: version ? 3 : 2 }];
  }
  if (type === "application" && subtype === "*") return [{ format: "openmetrics", specificity: 1 }];
  if (type === "text" && subtype === "*") return [{ format: "text", specificity: 1 }];
  if (type === "*" && subtype === "*") {
    return [{ format: "text", specificity: 0 }, { format: "openmetrics", specificity: 0 }];
  }
  return [];
}

const TEXT: Negotiated = { format: "text", contentType: CONTENT_TYPES.text };

/**
 * The format `accept` prefers: the highest q among the formats it admits
 * (each format weighed by its most specific matching range, so
 * `text/plain;q=0` refuses text even after `*`/`*`), ties going to the range
 * listed first. Without an acceptable format: the text format.
 *
 * @example
 * ```ts
 * negotiate("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5").format;
 * // "openmetrics"
 * negotiate("text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.5").format; // "text"
 * negotiate(null).format; // "text"
 * ```
 */
export function negotiate(accept: string | null): Negotiated {
  if (!accept) return TEXT;
  const best = new Map<
    ExpositionFormat,
    { q: number; specificity: number; index: number; version?: string }
  >();
  for (const range of parseAccept(accept)) {
    for (const o of offer(range)) {
      const seen = best.get(o.format);
      if (!seen || o.specificity > seen.specificity) {
        best.set(o.format, {
          q: range.q,
          specificity: o.specificity,
          index: range.index,
          version: o.version,
        });
      }
    }
  }
  let chosen: { format: ExpositionFormat; q: number; index: number; version?: string } | undefined;
  for (const [format, b] of best) {
    if (b.q <= 0) continue;
    if (!chosen || b.q > chosen.q || (b.q === chosen.q && b.index < chosen.index)) {
      chosen = { format, ...b };
    }
  }
  if (!chosen || chosen.format === "text") return TEXT;
  return {
    format: "openmetrics",
    contentType: chosen.version === "0.0.1"
      ? "application/openmetrics-text; version=0.0.1; charset=utf-8"
      : CONTENT_TYPES.openmetrics,
  };
}
