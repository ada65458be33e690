/**
 * Validation of the whole configuration: {@linkcode buildConfig} turns YAML
 * text plus command-line/environment overrides into a {@linkcode Config}, or
 * throws a {@linkcode ConfigError} that lists every problem at once with its
 * field path. This module handles the file's top level (`global`, `defaults`,
 * the target list, duplicate targets); target.ts resolves each target, and
 * schema.ts holds the types, defaults and allowed keys.
 *
 * @module
 */

import { formatYamlError, parseYaml } from "../util/yaml.ts";
import { checkKeys, ConfigError, formatPath, isObject, Problems } from "./problems.ts";
import type { Path, Raw } from "./problems.ts";
import {
  type BuildConfigOptions,
  type Config,
  CONFIG_KEYS,
  type ConfigOverrides,
  DEFAULT_TARGETS,
  DEFAULTS,
  METRIC_PREFIX_RE,
  type TargetConfig,
} from "./schema.ts";
import { resolveTarget, type TargetContext } from "./target.ts";
import { parseModulesFile, resolveProbeSection } from "./probe_modules.ts";

/**
 * Builds a validated {@linkcode Config} from YAML text (or none) and overrides.
 *
 * @param text YAML text of the config file, or `undefined` for no file.
 * @param overrides values from flags and environment, stronger than the file.
 * @throws {ConfigError} listing every problem found.
 *
 * @example
 * ```ts
 * const config = buildConfig("targets:\n  - https://example.com/\n", { intervalMs: 30_000 });
 * config.targets[0]?.intervalMs; // 30000
 * ```
 */
export function buildConfig(
  text: string | undefined,
  overrides: ConfigOverrides = {},
  options: BuildConfigOptions = {},
): Config {
  const fileName = options.fileName ?? "config";
  const { raw, lineOf } = parseFile(text, fileName);
  const problems = new Problems(lineOf);
  checkKeys(raw, CONFIG_KEYS.top, { path: [], problems });
  const global = resolveGlobal(raw.global ?? {}, { overrides, problems });
  const secrets = new Set<string>();
  const demoTargets = text === undefined && overrides.targets === undefined;
  if (!demoTargets && overrides.targets === undefined && raw.targets === undefined) {
    problems.addWhole(
      "'targets' is required: list the URLs to check (or targets: [] to check none, e.g. for /probe only)",
    );
  }
  const targets = resolveTargets(raw, demoTargets, {
    defaults: resolveDefaults(raw.defaults ?? {}, problems),
    overrides,
    env: options.env ?? {},
    secrets,
    problems,
  });
  const modulesFile = options.probeModules &&
    parseModulesFile(options.probeModules.text, options.probeModules.fileName, { secrets });
  const probe = resolveProbeSection(raw.probe, {
    problems,
    secrets,
    fromFile: modulesFile &&
      { modules: modulesFile.modules, fileName: options.probeModules!.fileName },
  });
  // The config file's problems in line order, then the module file's.
  const all = [...problems.ordered(), ...(modulesFile?.problems ?? [])];
  if (all.length > 0) throw new ConfigError(all);
  return { ...global, targets, probe, secrets: [...secrets], demoTargets };
}

/** The file's top-level mapping (empty for no file or an empty one) and its line lookup. */
function parseFile(
  text: string | undefined,
  fileName: string,
): { raw: Raw; lineOf: (path: Path) => number | undefined } {
  if (text === undefined) return { raw: {}, lineOf: () => undefined };
  if (text.length > DEFAULTS.maxFileBytes) {
    throw new ConfigError([`${fileName}: file is larger than ${DEFAULTS.maxFileBytes} bytes`]);
  }
  const parsed = parseYaml(text);
  if (!parsed.ok) throw new ConfigError(parsed.error.map((e) => formatYamlError(fileName, e)));
  const raw = parsed.value.value ?? {};
  if (!isObject(raw)) throw new ConfigError([`${fileName}: the top level must be a mapping`]);
  return { raw, lineOf: parsed.value.lineOf };
}

type GlobalSettings = Pick<Config, "metricPrefix" | "maxConcurrentChecks" | "histogramBuckets">;

/** The `global` section, with the `--metric-prefix` override applied. */
function resolveGlobal(
  global: unknown,
  { overrides, problems }: { overrides: ConfigOverrides; problems: Problems },
): GlobalSettings {
  let metricPrefix: string = DEFAULTS.metricPrefix;
  let maxConcurrentChecks: number = DEFAULTS.maxConcurrentChecks;
  let histogramBuckets: number[] = [...DEFAULTS.histogramBuckets];
  if (!isObject(global)) problems.add(["global"], "must be a mapping");
  else {
    checkKeys(global, CONFIG_KEYS.global, { path: ["global"], problems });
    if (global.metric_prefix !== undefined) {
      if (typeof global.metric_prefix !== "string") {
        problems.add(["global", "metric_prefix"], "must be a string");
      } else metricPrefix = global.metric_prefix;
    }
    if (global.max_concurrent_checks !== undefined) {
      const n = global.max_concurrent_checks;
      if (typeof n !== "number" || !Number.isInteger(n) || n < 1) {
        problems.add(["global", "max_concurrent_checks"], "must be a whole number of at least 1");
      } else maxConcurrentChecks = n;
    }
    if (global.histogram_buckets !== undefined) {
      histogramBuckets = checkBuckets(global.histogram_buckets, problems) ?? histogramBuckets;
    }
  }
  if (overrides.metricPrefix !== undefined) metricPrefix = overrides.metricPrefix;
  if (!METRIC_PREFIX_RE.test(metricPrefix)) {
    problems.add(
      overrides.metricPrefix !== undefined
        ? [overrides.sources?.metricPrefix ?? "--metric-prefix"]
        : ["global", "metric_prefix"],
      `'${metricPrefix}' is not a valid metric name prefix (letters, digits, _ and :, not starting with a digit)`,
    );
  }
  return { metricPrefix, maxConcurrentChecks, histogramBuckets };
}

function checkBuckets(value: unknown, problems: Problems): number[] | undefined {
  const path = ["global", "histogram_buckets"];
  if (!Array.isArray(value) || value.some((b) => typeof b !== "number" || !Number.isFinite(b))) {
    problems.add(path, "must be a list of numbers (seconds); [] turns the histogram off");
    return undefined;
  }
  for (let i = 1; i < value.length; i++) {
    if (value[i] <= value[i - 1]) {
      problems.add(path, "buckets must be in increasing order");
      return undefined;
    }
  }
  return value as number[];
}

/** The `defaults` mapping, its keys checked; empty when it is missing or not a mapping. */
function resolveDefaults(defaults: unknown, problems: Problems): Raw {
  if (!isObject(defaults)) {
    problems.add(["defaults"], "must be a mapping");
    return {};
  }
  checkKeys(defaults, CONFIG_KEYS.settings, { path: ["defaults"], problems });
  return defaults;
}

/**
 * Every target, from the overrides, the file or (`demo`: nothing else given)
 * the demo list; a target with the same URL and labels as an earlier one is
 * a problem.
 */
function resolveTargets(
  raw: Raw,
  demo: boolean,
  shared: Omit<TargetContext, "path">,
): TargetConfig[] {
  const { overrides, problems } = shared;
  let rawTargets: unknown[];
  let base: Path = ["targets"];
  if (overrides.targets !== undefined) {
    rawTargets = overrides.targets.map((url) => ({ url }));
    base = [overrides.sources?.targets ?? "--target"];
  } else if (demo) {
    rawTargets = DEFAULT_TARGETS.map((url) => ({ url }));
  } else if (raw.targets === undefined) {
    rawTargets = []; // reported by buildConfig
  } else if (!Array.isArray(raw.targets)) {
    problems.add(["targets"], "must be a list of targets");
    rawTargets = [];
  } else {
    rawTargets = raw.targets;
  }

  const targets: TargetConfig[] = [];
  const seen = new Map<string, number>();
  rawTargets.forEach((rawTarget, i) => {
    const path = [...base, i];
    const target = resolveTarget(rawTarget, { ...shared, path });
    if (!target) return;
    const identity = JSON.stringify([target.displayUrl, Object.entries(target.labels).sort()]);
    const first = seen.get(identity);
    if (first !== undefined) {
      problems.add(
        path,
        `duplicate target: same url and labels as '${formatPath([...base, first])}'`,
      );
      return;
    }
    seen.set(identity, i);
    targets.push(target);
  });
  return targets;
}
