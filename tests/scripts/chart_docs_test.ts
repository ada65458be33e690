/**
 * scripts/chart_docs.ts (`deno task chart:docs`): the chart README and the
 * values table of docs/kubernetes.md are generated from values.yaml's `##`
 * comments, and this test fails when either is out of step with it.
 */

import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import {
  type ChartMeta,
  renderReadme,
  TABLE_END,
  TABLE_START,
  valueRows,
} from "../../scripts/chart_docs.ts";
import { ROOT } from "../_helpers/exporter.ts";

const CHART = `${ROOT}/helm/uptime-exporter`;
const rows = () => valueRows(Deno.readTextFileSync(`${CHART}/values.yaml`));

/** The cells of a Markdown table's rows (header and separator dropped). */
function cells(table: string): string[][] {
  return table.trim().split("\n").slice(2).map((line) =>
    line.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim())
  );
}

Deno.test("the chart README is generated from values.yaml (run `deno task chart:docs`)", () => {
  const chart = parseYaml(Deno.readTextFileSync(`${CHART}/Chart.yaml`)) as ChartMeta;
  const readme = Deno.readTextFileSync(`${CHART}/README.md`);
  assert.equal(readme, renderReadme(chart, rows()), "run `deno task chart:docs`");
});

Deno.test("docs/kubernetes.md's values table is generated from values.yaml", () => {
  const doc = Deno.readTextFileSync(`${ROOT}/docs/kubernetes.md`);
  const table = doc.slice(doc.indexOf(TABLE_START) + TABLE_START.length, doc.indexOf(TABLE_END));
  const readme = Deno.readTextFileSync(`${CHART}/README.md`);
  const readmeTable = readme.slice(readme.indexOf("| Key "));
  // deno fmt pads docs/ differently from the chart's own file; the cells are the same.
  assert.deepEqual(cells(table), cells(readmeTable), "run `deno task chart:docs`");
  assert.equal(cells(table).length, rows().length);
});

Deno.test("valueRows: keys, types, defaults and descriptions from ## comments", async (t) => {
  const yaml = `# Not a value comment.

## The pods.
## Two lines.
replicaCount: 1

## An object whose children are listed.
## e.g.
## image:
##   tag: x
image:
  ## The tag; <empty> means | appVersion.
  tag: ""
  ## A float.
  ratio: 0.5

## Opaque: one row.
resources:
  ## Not listed.
  limits:
    memory: 128Mi

## A list of objects.
targets:
  - url: https://a.example/
    interval: 10s

## Short list.
ports: [80, 443]

## Empty map.
labels: {}
`;
  const got = valueRows(yaml);
  await t.step("one row per key, children of opaque keys and list entries left out", () => {
    assert.deepEqual(got.map((r) => r.key), [
      "replicaCount",
      "image",
      "image.tag",
      "image.ratio",
      "resources",
      "targets",
      "ports",
      "labels",
    ]);
  });
  await t.step("descriptions stop at e.g.; types and defaults", () => {
    assert.deepEqual(got[0], {
      key: "replicaCount",
      type: "int",
      default: "1",
      description: "The pods. Two lines.",
    });
    assert.deepEqual(got[1], {
      key: "image",
      type: "object",
      default: "",
      description: "An object whose children are listed.",
    });
    assert.equal(got[2]!.description, "The tag; <empty> means | appVersion.");
    assert.equal(got[2]!.default, '""');
    assert.deepEqual([got[3]!.type, got[3]!.default], ["float", "0.5"]);
    assert.equal(got[4]!.default, '{"limits": {"memory": "128Mi"}}');
    assert.equal(got[5]!.default, "(see values.yaml)");
    assert.deepEqual([got[6]!.type, got[6]!.default], ["list", "[80, 443]"]);
    assert.deepEqual([got[7]!.type, got[7]!.default], ["object", "{}"]);
  });
  await t.step("table cells escape | and angle brackets", () => {
    const chart: ChartMeta = {
      name: "c",
      description: "d",
      version: "1",
      appVersion: "1",
      kubeVersion: ">=1",
      home: "https://x.example",
    };
    const readme = renderReadme(chart, got);
    assert.ok(readme.includes("The tag; &lt;empty&gt; means \\| appVersion."));
  });
  await t.step("every value of the real values.yaml has a description", () => {
    const missing = rows().filter((r) => r.description === "").map((r) => r.key);
    assert.deepEqual(missing, []);
  });
});
