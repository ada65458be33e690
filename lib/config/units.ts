/**
 * Durations and byte sizes as people write them in flags and YAML.
 *
 * @module
 */

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  y: 365 * 86_400_000,
};
/** One number, whole or decimal, with an optional unit (bare: seconds). */
const SINGLE_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)?$/;
/**
 * Prometheus' compound form (`1h30m`, `1m30s`, `2d12h`): whole numbers, units
 * from largest to smallest, each at most once. Its groups follow {@linkcode
 * COMPOUND_UNITS}.
 */
const COMPOUND_RE =
  /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const COMPOUND_UNITS = ["y", "w", "d", "h", "m", "s", "ms"] as const;

/**
 * Parses a duration into milliseconds. Accepted: one number with a unit
 * (`250ms`, `10s`, `1m`, `1.5h`, `1d`, `1w`, `1y`), Prometheus' compound
 * form (`1m30s`, `1h30m`, `1d12h`: whole numbers, units largest first, each
 * once), or a bare number of seconds (`10`, `0.5`). Units are those of
 * Prometheus: ms, s, m, h, d (24h), w (7d), y (365d).
 *
 * @example
 * ```ts
 * parseDuration("1m30s"); // 90000
 * parseDuration("1.5h"); // 5400000
 * parseDuration("10 seconds"); // undefined
 * ```
 *
 * @returns the duration in milliseconds, or `undefined` when the text is not a duration.
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === "number") {
    return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  }
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  let ms: number;
  const single = SINGLE_RE.exec(text);
  if (single) ms = Number(single[1]) * DURATION_UNITS[single[2] ?? "s"]!;
  else {
    const compound = text === "" ? null : COMPOUND_RE.exec(text);
    if (!compound) return undefined;
    ms = 0;
    COMPOUND_UNITS.forEach((unit, i) => {
      const n = compound[i + 1];
      if (n !== undefined) ms += Number(n) * DURATION_UNITS[unit]!;
    });
  }
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * Formats a configured duration exactly, in Prometheus' compound form with
 * the largest units that fit (`10s`, `1m30s`, `1h30m`, `250ms`, `1d`), so
 * that a message shows `10s` where the user wrote `10s`, not `10000ms`.
 * A fraction of a millisecond is kept as a decimal (`1.5ms`).
 *
 * @example
 * ```ts
 * formatDurationExact(90_000); // "1m30s"
 * formatDurationExact(5_000); // "5s"
 * formatDurationExact(1_500); // "1s500ms"
 * ```
 */
export function formatDurationExact(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return `${ms}ms`;
  if (ms === 0) return "0s";
  let rest = ms;
  let text = "";
  for (const unit of COMPOUND_UNITS) {
    const size = DURATION_UNITS[unit]!;
    const n = unit === "ms" ? rest : Math.floor(rest / size);
    if (n > 0) {
      // Rounded to a microsecond: 0.1 + 0.2 style noise must not show.
      text += `${unit === "ms" ? Math.round(n * 1000) / 1000 : n}${unit}`;
      rest -= n * size;
    }
  }
  return text;
}

/** Formats milliseconds for people: `850ms`, `12.3s`, `4m 05s`, `2h 10m`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  // Each unit's range ends where rounding would show the next unit (999.6ms is 1.00s).
  if (ms < 999.5) return `${ms < 9.95 ? ms.toFixed(1) : Math.round(ms)}ms`;
  if (ms < 59_950) return `${(ms / 1000).toFixed(ms < 9_995 ? 2 : 1)}s`;
  const totalSeconds = Math.max(60, Math.floor(ms / 1000));
  if (totalSeconds < 3600) {
    return `${Math.floor(totalSeconds / 60)}m ${String(totalSeconds % 60).padStart(2, "0")}s`;
  }
  const totalMinutes = Math.floor(totalSeconds / 60);
  return `${Math.floor(totalMinutes / 60)}h ${String(totalMinutes % 60).padStart(2, "0")}m`;
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};
const SIZE_RE = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i;

/**
 * Parses a byte size such as `1MiB`, `512KiB`, `2MB` or a bare number of bytes.
 *
 * @returns whole bytes, or `undefined` when the text is not a size.
 */
export function parseByteSize(value: unknown): number | undefined {
  if (typeof value === "number") {
    return Number.isInteger(value) && value >= 0 ? value : undefined;
  }
  if (typeof value !== "string") return undefined;
  const match = SIZE_RE.exec(value.trim());
  if (!match) return undefined;
  const unit = SIZE_UNITS[match[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  return Math.floor(Number(match[1]) * unit);
}
