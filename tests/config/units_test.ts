/** Tests of lib/config/units.ts: durations and byte sizes as people write them. */

import assert from "node:assert/strict";
import { formatDuration, parseByteSize, parseDuration } from "../../lib/config/units.ts";

const DAY = 86_400_000;

/** Durations as text, and their milliseconds: today's forms, then Prometheus syntax. */
const GOOD: [string, number][] = [
  ["250ms", 250],
  ["10s", 10_000],
  ["1m", 60_000],
  ["1h", 3_600_000],
  ["1.5h", 5_400_000],
  ["0.5s", 500],
  ["10", 10_000],
  ["0.5", 500],
  ["007", 7_000],
  [" 10s ", 10_000],
  // Zero parses; callers decide that it is not positive.
  ["0", 0],
  ["0ms", 0],
  // Prometheus: d, w, y and compound durations.
  ["1d", DAY],
  ["1w", 7 * DAY],
  ["1y", 365 * DAY],
  ["1.5d", 1.5 * DAY],
  ["1m30s", 90_000],
  ["1h30m", 5_400_000],
  ["2h0m5s", 7_205_000],
  ["1d12h", 1.5 * DAY],
  ["1s500ms", 1_500],
  ["1y2w3d4h5m6s7ms", 365 * DAY + 14 * DAY + 3 * DAY + 4 * 3_600_000 + 5 * 60_000 + 6_007],
  [" 1m30s ", 90_000],
  ["0s0ms", 0],
];

/** Text that is not a duration. */
const BAD: string[] = [
  "",
  " ",
  "s",
  "ms",
  "10 s",
  "10sec",
  "10S",
  "1D",
  "1W",
  "1Y",
  "-1s",
  "-1",
  "+1s",
  "1e3",
  "1.",
  ".5",
  // Compound forms: units largest first, each once, whole numbers, nothing between.
  "10s10s",
  "1s1m",
  "30s1m",
  "1ms1s",
  "1m1m",
  "1.5m30s",
  "1m30.5s",
  "1m 30s",
  "1m30",
  "m30s",
  "1h-30m",
  "Infinity",
  "NaN",
];

Deno.test("parseDuration", async (t) => {
  await t.step("units, compound durations, bare seconds, numbers", () => {
    const cases: [unknown, number][] = [...GOOD, [10, 10_000], [0.25, 250], [0, 0]];
    for (const [input, ms] of cases) {
      assert.equal(parseDuration(input), ms, JSON.stringify(input));
    }
  });
  await t.step("anything else is not a duration", () => {
    const cases: unknown[] = [
      ...BAD,
      -1,
      -0.5,
      NaN,
      Infinity,
      null,
      undefined,
      true,
      {},
      [10],
    ];
    for (const input of cases) {
      assert.equal(parseDuration(input), undefined, JSON.stringify(input) ?? String(input));
    }
  });
});

Deno.test("formatDuration", async (t) => {
  await t.step("the documented shapes", () => {
    const cases: [number, string][] = [
      [850, "850ms"],
      [12_300, "12.3s"],
      [245_000, "4m 05s"],
      [7_800_000, "2h 10m"],
    ];
    for (const [ms, text] of cases) assert.equal(formatDuration(ms), text, `${ms}`);
  });
  await t.step("precision by magnitude", () => {
    const cases: [number, string][] = [
      [0, "0.0ms"],
      [5, "5.0ms"],
      [10, "10ms"],
      [999.4, "999ms"],
      [1_000, "1.00s"],
      [1_500, "1.50s"],
      [10_000, "10.0s"],
      [60_000, "1m 00s"],
      [3_599_999, "59m 59s"],
      [3_600_000, "1h 00m"],
      [90_000_000, "25h 00m"],
    ];
    for (const [ms, text] of cases) assert.equal(formatDuration(ms), text, `${ms}`);
  });
  await t.step("not a number shows as '-'", () => {
    for (const ms of [NaN, Infinity, -Infinity]) assert.equal(formatDuration(ms), "-");
  });
});

Deno.test("parseByteSize", async (t) => {
  await t.step("units, case-insensitive, with optional space", () => {
    const cases: [unknown, number][] = [
      ["1MiB", 1024 * 1024],
      ["64KiB", 64 * 1024],
      ["1GiB", 1024 ** 3],
      ["2MB", 2_000_000],
      ["1kb", 1_000],
      ["1gb", 1_000_000_000],
      ["1mib", 1024 * 1024],
      ["1 MiB", 1024 * 1024],
      [" 2KiB ", 2048],
      ["1.5KiB", 1536],
      ["512", 512],
      ["1b", 1],
      ["0", 0],
      [512, 512],
      [0, 0],
    ];
    for (const [input, bytes] of cases) {
      assert.equal(parseByteSize(input), bytes, JSON.stringify(input));
    }
  });
  await t.step("results are whole bytes", () => {
    assert.equal(parseByteSize("1.5"), 1);
    assert.equal(parseByteSize("0.3KiB"), 307);
  });
  await t.step("anything else is not a size", () => {
    const cases: unknown[] = [
      "",
      "MiB",
      "1XB",
      "1K",
      "1M",
      "1 MB per check",
      "-1",
      "-1KiB",
      "1e3",
      1.5,
      -1,
      NaN,
      Infinity,
      true,
      null,
      undefined,
      {},
    ];
    for (const input of cases) {
      assert.equal(parseByteSize(input), undefined, JSON.stringify(input) ?? String(input));
    }
  });
});

Deno.test("the JSON Schemas' duration pattern accepts exactly what parseDuration accepts", () => {
  const root = new URL("../../", import.meta.url);
  for (const file of ["docs/config.schema.json", "helm/uptime-exporter/values.schema.json"]) {
    const schema = JSON.parse(Deno.readTextFileSync(new URL(file, root)));
    const text = schema.definitions.duration.oneOf[0];
    // Every pattern of the string branch must match (the second keeps "" out).
    const patterns = [text.pattern, ...text.allOf.map((p: { pattern: string }) => p.pattern)]
      .map((p: string) => new RegExp(p));
    const accepts = (s: string) => patterns.every((p) => p.test(s));
    const samples = [...GOOD.map(([text]) => text), ...BAD];
    for (const s of samples) {
      assert.equal(accepts(s), parseDuration(s) !== undefined, `${file}: ${JSON.stringify(s)}`);
    }
  }
});
