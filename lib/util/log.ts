/**
 * One line per event, as logfmt or JSON, on stderr.
 *
 * @module
 */

import { scrubSecrets } from "./redact.ts";

/** Severity, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";
/** Line format. */
export type LogFormat = "logfmt" | "json";

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Options of {@linkcode Logger}. */
export interface LoggerOptions {
  /** Lowest level written. Default: `info`. */
  level?: LogLevel;
  /** Default: `logfmt`. */
  format?: LogFormat;
  /** Where lines go. Default: stderr. */
  write?: (line: string) => void;
  /** Clock for the `ts` field. Default: `Date.now`. */
  now?: () => number;
}

type Fields = Record<string, string | number | boolean | undefined>;

function logfmtValue(value: string | number | boolean): string {
  const s = String(value);
  return /^[^\s"=\\]+$/.test(s) && s !== "" ? s : JSON.stringify(s);
}

const encoder = new TextEncoder();

/**
 * Writes a line to stderr. A stderr nobody reads any more (a closed pipe)
 * loses the line instead of throwing: logging must never stop the exporter.
 */
function writeStderr(line: string): void {
  try {
    const bytes = encoder.encode(line + "\n");
    let off = 0;
    while (off < bytes.byteLength) off += Deno.stderr.writeSync(bytes.subarray(off));
  } catch { /* closed: the line is lost, the exporter goes on */ }
}

/** A small structured logger; values it is told are secret are masked in every line. */
export class Logger {
  #level: number;
  #format: LogFormat;
  #write: (line: string) => void;
  #now: () => number;
  #secrets: readonly string[] = [];

  constructor(options: LoggerOptions = {}) {
    this.#level = ORDER[options.level ?? "info"];
    this.#format = options.format ?? "logfmt";
    this.#write = options.write ?? writeStderr;
    this.#now = options.now ?? Date.now;
  }

  /** Values (passwords, `${VAR}` expansions) masked as `***` wherever they would appear. */
  setSecrets(secrets: readonly string[]): void {
    this.#secrets = secrets;
  }

  /** True when `level` would be written (to skip building debug fields). */
  enabled(level: LogLevel): boolean {
    return ORDER[level] >= this.#level;
  }

  debug(msg: string, fields?: Fields): void {
    this.log("debug", msg, fields);
  }
  info(msg: string, fields?: Fields): void {
    this.log("info", msg, fields);
  }
  warn(msg: string, fields?: Fields): void {
    this.log("warn", msg, fields);
  }
  error(msg: string, fields?: Fields): void {
    this.log("error", msg, fields);
  }

  /** Writes one line when `level` is enabled. */
  log(level: LogLevel, msg: string, fields: Fields = {}): void {
    if (ORDER[level] < this.#level) return;
    const record: Record<string, string | number | boolean> = {
      ts: new Date(this.#now()).toISOString(),
      level,
      msg,
    };
    for (const [k, v] of Object.entries(fields)) {
      // Masked before encoding: an escaped secret (`pa"ss` → `pa\"ss`) would not match after.
      if (v !== undefined) record[k] = typeof v === "string" ? scrubSecrets(v, this.#secrets) : v;
    }
    record.msg = scrubSecrets(msg, this.#secrets);
    const line = this.#format === "json"
      ? JSON.stringify(record)
      : Object.entries(record).map(([k, v]) => `${k}=${logfmtValue(v)}`).join(" ");
    this.#write(scrubSecrets(line, this.#secrets));
  }
}
