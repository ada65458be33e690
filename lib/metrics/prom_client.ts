/**
 * The four prom-client classes the self metrics use, loaded from their own
 * modules: prom-client's entry point also loads its cluster aggregation,
 * Pushgateway (node:http, node:https) and default collectors, ~4.5 MB of
 * memory the exporter never uses (docs/performance.md). Same classes, same
 * types.
 *
 * @module
 */

import type * as Prom from "prom-client";
import counter from "prom-client/lib/counter.js";
import gauge from "prom-client/lib/gauge.js";
import histogram from "prom-client/lib/histogram.js";
import registry from "prom-client/lib/registry.js";

/** prom-client's `Counter`. */
export const Counter = counter as typeof Prom.Counter;
/** prom-client's `Counter`. */
export type Counter<T extends string = string> = Prom.Counter<T>;
/** prom-client's `Gauge`. */
export const Gauge = gauge as typeof Prom.Gauge;
/** prom-client's `Gauge`. */
export type Gauge<T extends string = string> = Prom.Gauge<T>;
/** prom-client's `Histogram`. */
export const Histogram = histogram as typeof Prom.Histogram;
/** prom-client's `Histogram`. */
export type Histogram<T extends string = string> = Prom.Histogram<T>;
/** prom-client's `Registry`. */
export const Registry = registry as typeof Prom.Registry;
/** prom-client's `Registry`. */
export type Registry = Prom.Registry;
