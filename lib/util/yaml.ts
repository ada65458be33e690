/**
 * The one YAML parser of the exporter, for the config file and the web config
 * file alike: `npm:yaml` with the limits a file from an untrusted or careless
 * hand needs, errors as data (with line and column), and a way to find the
 * line of any field afterwards, so that validation can point at it.
 *
 * @module
 */

import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import { err, ok, type Result } from "./result.ts";

/**
 * Limit on alias expansions (`yaml`'s `maxAliasCount`, which weighs each
 * alias by the aliases inside it): plain anchor reuse, such as hundreds of
 * targets sharing `headers: *auth`, passes; an exponential "billion laughs"
 * bomb does not. The same for every file: the web config is small, but a
 * lower limit there would protect nothing the parse time does not already.
 */
export const MAX_ALIAS_COUNT = 10_000;

/** A path into the parsed value: mapping keys and sequence indices. */
export type YamlPath = readonly (string | number)[];

/** A file that parsed: its value, and where each field is. */
export interface YamlDocument {
  /** The plain JavaScript value (`null` for an empty file). */
  readonly value: unknown;
  /**
   * The 1-based line of the field at `path` (its key, or its list item). A
   * field missing from the file gets the line of its nearest ancestor that is
   * there; a path not in the file at all has none.
   */
  lineOf(path: YamlPath): number | undefined;
}

/** One reason the text is not usable YAML. */
export interface YamlError {
  /** One line, without position. */
  readonly message: string;
  /** 1-based position, when the parser knows it. */
  readonly line?: number;
  readonly col?: number;
}

/**
 * Parses YAML text. Refuses control characters (YAML allows none but tab,
 * LF and CR; the parser lets them through), duplicate keys, nesting that
 * would exhaust the stack and alias bombs; reports every syntax error.
 *
 * @example
 * ```ts
 * const parsed = parseYaml("targets:\n  - url: https://example.com/\n");
 * if (parsed.ok) parsed.value.lineOf(["targets", 0, "url"]); // 2
 * ```
 */
export function parseYaml(text: string): Result<YamlDocument, YamlError[]> {
  const lineCounter = new LineCounter();
  // deno-lint-ignore no-control-regex
  const control = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.exec(text);
  if (control) {
    const before = text.slice(0, control.index);
    const line = before.split("\n").length;
    const col = control.index - before.lastIndexOf("\n");
    const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
    return err([{ message: `control character U+${code} is not allowed`, line, col }]);
  }
  // Duplicate keys are found by duplicateKeyOffsets in one walk: the parser's
  // own check (uniqueKeys) compares every pair of keys (docs/performance.md).
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  if (doc.errors.some((e) => /call stack|stack overflow/i.test(e.message))) {
    // The parser recursed until the stack ran out: say so, not the parser's internals.
    return err([{ message: "nested too deeply" }]);
  }
  const at = (offset: number | undefined, message: string): YamlError => {
    if (offset === undefined) return { message };
    const pos = lineCounter.linePos(offset);
    return { message, line: pos.line, col: pos.col };
  };
  const errors = doc.errors.map((e) => at(e.pos?.[0], e.message.split("\n")[0]!));
  if (errors.length === 0) {
    for (const offset of duplicateKeyOffsets(doc.contents)) {
      errors.push(at(offset, "Map keys must be unique"));
    }
  }
  if (errors.length > 0) return err(errors);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    return err([{ message: e instanceof RangeError ? "nested too deeply" : (e as Error).message }]);
  }
  const lineOf = (path: YamlPath): number | undefined => {
    let node: unknown = doc.contents;
    let range: [number, number, number] | undefined;
    for (const key of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && p.key.value === key);
        if (!pair) break;
        range = (pair.key as { range?: [number, number, number] }).range;
        node = pair.value;
      } else if (isSeq(node) && typeof key === "number") {
        const item = node.items[key] as { range?: [number, number, number] } | undefined;
        if (!item) break;
        range = item.range;
        node = item;
      } else break;
    }
    return range ? lineCounter.linePos(range[0]).line : undefined;
  };
  return ok({ value, lineOf });
}

/** `file:line:col: invalid YAML: message`, or `file: invalid YAML: message` without a position. */
export function formatYamlError(fileName: string, error: YamlError): string {
  const where = error.line !== undefined ? `${fileName}:${error.line}:${error.col}` : fileName;
  return `${where}: invalid YAML: ${error.message}`;
}

/**
 * Offsets of keys that repeat a key of the same mapping (scalar keys compared
 * by value, as the parser's `uniqueKeys` does), in one linear walk.
 */
function duplicateKeyOffsets(root: unknown): number[] {
  const found: number[] = [];
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const key = pair.key;
        if (isScalar(key)) {
          const id = `${typeof key.value}:${String(key.value)}`;
          if (seen.has(id) && key.range) found.push(key.range[0]);
          seen.add(id);
        }
        stack.push(pair.key, pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push(item);
    } else if (isPair(node)) {
      stack.push(node.key, node.value);
    }
  }
  return found.sort((a, b) => a - b);
}
