/**
 * The exporter's version and build information. The version is the
 * `version` in deno.json, embedded at build time (by `deno compile`, or read
 * by `deno run`); the Helm chart's appVersion must match it (a test checks).
 * The revision is the git commit stamped at build time: `deno task compile`
 * first runs `deno task stamp` (scripts/stamp.ts), which writes
 * dist/build_info.json, and embeds that file; the binary reads it here. Under
 * `deno run` there is no build, so the revision is `unknown` (a stamp left in
 * dist/ by an earlier compile would describe another commit).
 *
 * @module
 */

import denoJson from "../../deno.json" with { type: "json" };

/** The version from deno.json, e.g. `0.1.0`. */
export const VERSION: string = denoJson.version;

/** The stamp file, relative to this module (the same path inside the compiled binary). */
export const BUILD_INFO_FILE: URL = new URL("../../dist/build_info.json", import.meta.url);

/** Options of {@linkcode readRevision}. */
export interface ReadRevisionOptions {
  /** Whether this is a compiled binary. Default: `Deno.build.standalone`. */
  standalone?: boolean;
  /** The stamp file. Default: {@linkcode BUILD_INFO_FILE}. */
  file?: URL | string;
}

/**
 * The git revision the binary was built from, or `unknown` (not compiled,
 * not stamped, or the stamp unreadable).
 *
 * @example
 * ```ts
 * readRevision({ standalone: false }); // "unknown"
 * ```
 */
export function readRevision(options: ReadRevisionOptions = {}): string {
  if (!(options.standalone ?? Deno.build.standalone)) return "unknown";
  try {
    const stamp = JSON.parse(Deno.readTextFileSync(options.file ?? BUILD_INFO_FILE));
    const revision = stamp?.revision;
    return typeof revision === "string" && revision !== "" ? revision : "unknown";
  } catch {
    return "unknown";
  }
}

/** What `uptime_exporter_build_info` and `--version` show. */
export interface BuildInfo {
  version: string;
  revision: string;
  deno: string;
  os: string;
  arch: string;
}

/** This build's information. */
export const BUILD_INFO: Readonly<BuildInfo> = Object.freeze({
  version: VERSION,
  revision: readRevision(),
  deno: Deno.version.deno,
  os: Deno.build.os,
  arch: Deno.build.arch,
});

/**
 * The `--version` line, e.g. `uptime-exporter 0.1.0 (revision: 3f2a…, deno: 2.9.6, linux/x86_64)`.
 */
export function versionLine(info: BuildInfo = BUILD_INFO): string {
  return `uptime-exporter ${info.version} (revision: ${info.revision}, deno: ${info.deno}, ` +
    `${info.os}/${info.arch})`;
}
