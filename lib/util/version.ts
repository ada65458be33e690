/**
 * The exporter's version: the `version` in deno.json, embedded at build time
 * (by `deno compile`, or read by `deno run`). The Helm chart's appVersion must
 * match it; a test checks that they agree.
 *
 * @module
 */

import denoJson from "../../deno.json" with { type: "json" };

/** The version from deno.json, e.g. `0.1.0`. */
export const VERSION: string = denoJson.version;
