/**
 * The README and docs/ kept true: the README stays a front door (short, no
 * internal words, a layout that names every file of lib/ and scripts/ and no
 * file that is gone), every relative link of README.md and docs/*.md leads to
 * a file (and heading) that exists, the config examples load, and the JSON
 * API tables of docs/endpoints.md list exactly what the API answers. The flag
 * table (tests/config/cli_test.ts), the endpoint table
 * (tests/server/routes_test.ts) and the /probe key table
 * (tests/config/probe_modules_test.ts) have their own tests.
 */

import assert from "node:assert/strict";
import { buildConfig } from "../lib/config/validate.ts";
import { ResultsStore } from "../lib/metrics/results.ts";
import { apiConfigStatus, apiTarget, targetsResponse } from "../lib/server/api.ts";
import type { ShardSummary } from "../lib/server/status_page.ts";
import { ROOT } from "./_helpers/exporter.ts";

const README = Deno.readTextFileSync(`${ROOT}/README.md`);

/** Every file under `dir` (relative to the root), recursively. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(`${ROOT}/${dir}`)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out.sort();
}

/** The fenced block right after `## Project layout`. */
function layoutBlock(): string {
  const start = README.indexOf("## Project layout");
  assert.ok(start > 0, "README has a 'Project layout' section");
  const open = README.indexOf("```\n", start) + 4;
  return README.slice(open, README.indexOf("```", open));
}

Deno.test("README is a front door: short, and no internal words", () => {
  const lines = README.split("\n").length;
  assert.ok(lines <= 252, `README.md has ${lines} lines: move depth to docs/`);
  assert.doesNotMatch(
    README,
    /\bseeds?\b/i,
    "say 'the two demo URLs' or 'the scripts this replaces'",
  );
  for (const step of ["First ten minutes", "Running it", "Configuration", "HTTP endpoints"]) {
    assert.match(README, new RegExp(`^## ${step}$`, "m"), step);
  }
});

Deno.test("README's project layout names every file of lib/ and scripts/, and no other", () => {
  // Indented names belong to the directory line above them (`lib/config/` then `  cli.ts`).
  const named = new Set<string>();
  let dir = "";
  for (const line of layoutBlock().split("\n")) {
    const match = /^( *)(\S+)/.exec(line);
    if (!match) continue;
    const [, indent, name] = match as unknown as [string, string, string];
    if (indent.length === 0) {
      dir = name.endsWith("/") ? name : "";
      named.add(name);
    } else if (indent.length === 2) named.add(dir + name);
  }
  const scripts = /^scripts\/ +(.*)$/m.exec(layoutBlock())?.[1] ?? "";
  for (const file of [...filesUnder("lib"), ...filesUnder("scripts"), "main.ts"]) {
    const listed = file.startsWith("scripts/")
      ? scripts.includes(file.slice("scripts/".length))
      : named.has(file);
    assert.ok(listed, `README's layout does not name ${file}`);
  }
  for (const name of named) {
    if (name.endsWith("/") || name.includes(",")) {
      for (const dir of name.split(",")) {
        const path = dir.trim();
        if (path) assert.ok(Deno.statSync(`${ROOT}/${path}`).isDirectory, `${path} is named`);
      }
      continue;
    }
    assert.ok(Deno.statSync(`${ROOT}/${name}`).isFile, `the layout names ${name}, which is gone`);
  }
});

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replace(/ /g, "-");
}

function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const heading = !fenced && /^#{1,6} (.*)$/.exec(line);
    if (heading) anchors.add(slug(heading[1]!));
  }
  return anchors;
}

/**
 * Links to a heading another change adds at the same time (the sharding
 * section of docs/kubernetes.md): the file must exist; the heading is
 * checked once it is there.
 */
const PENDING_ANCHORS = new Set(["docs/kubernetes.md#sharding"]);

Deno.test("every relative link of README.md and docs/*.md leads somewhere", () => {
  const pages = ["README.md", ...filesUnder("docs").filter((f) => f.endsWith(".md"))];
  for (const page of pages) {
    const text = Deno.readTextFileSync(`${ROOT}/${page}`).replace(/```[^]*?```/g, "");
    const base = page.includes("/") ? page.slice(0, page.lastIndexOf("/") + 1) : "";
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue; // http(s), mailto
      const [path, anchor] = target!.split("#") as [string, string?];
      const file = path === "" ? page : new URL(path, `file:///${base}`).pathname.slice(1);
      let info: Deno.FileInfo;
      try {
        info = Deno.statSync(`${ROOT}/${file}`);
      } catch {
        assert.fail(`${page} links to ${target}: ${file} does not exist`);
      }
      if (!anchor || !info.isFile || !file.endsWith(".md")) continue;
      const anchors = anchorsOf(Deno.readTextFileSync(`${ROOT}/${file}`));
      if (PENDING_ANCHORS.has(`${file}#${anchor}`) && !anchors.has(anchor)) continue;
      assert.ok(anchors.has(anchor), `${page} links to ${target}: no heading #${anchor}`);
    }
  }
});

/** The first ```yaml block after `marker` in `text`. */
function yamlAfter(text: string, marker: string): string {
  const at = text.indexOf(marker);
  assert.ok(at >= 0, marker);
  const open = text.indexOf("```yaml\n", at) + "```yaml\n".length;
  return text.slice(open, text.indexOf("```", open));
}

Deno.test("the config examples of the README and docs/configuration.md load", () => {
  const env = { API_TOKEN: "t" };
  const readme = buildConfig(yamlAfter(README, "## Configuration"), {}, { env });
  assert.deepEqual(readme.targets.map((t) => t.url), [
    "https://your.site/",
    "https://api.your.site/health",
  ]);
  const doc = Deno.readTextFileSync(`${ROOT}/docs/configuration.md`);
  const full = buildConfig(yamlAfter(doc, "## The config file"), {}, { env });
  assert.equal(full.targets.length, 2);
  assert.equal(full.targets[0]!.url, "https://status.example.com/", "a plain URL is a target");
});

/** The first column of the table after `marker`: its field names. */
function tableFields(text: string, marker: string): string[] {
  const at = text.indexOf(marker);
  assert.ok(at >= 0, marker);
  const table = text.slice(text.indexOf("\n|", at), text.indexOf("\n\n", text.indexOf("\n|", at)));
  return table.trim().split("\n").slice(2).map((row) => /^\| `([^`]+)`/.exec(row)![1]!);
}

Deno.test("docs/endpoints.md's JSON API tables list exactly what the API answers", () => {
  const doc = Deno.readTextFileSync(`${ROOT}/docs/endpoints.md`);
  const store = new ResultsStore();
  store.applyConfig(buildConfig("targets: [https://a.example/]"));
  assert.deepEqual(tableFields(doc, "`data.targets`"), Object.keys(apiTarget(store.states[0]!)));
  assert.deepEqual(tableFields(doc, "`data.config`"), Object.keys(apiConfigStatus()));
  // Typed, so a field added to ShardSummary fails `deno check` here until it is documented.
  const shard: ShardSummary = {
    mode: "static",
    index: 1,
    count: 3,
    replication: 2,
    configured: 1,
    checked: 1,
  };
  const answer = targetsResponse(store.states, { shard });
  assert.deepEqual(tableFields(doc, "`data.shard`"), Object.keys(answer.data.shard ?? {}));
});
