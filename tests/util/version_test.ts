/**
 * One source of truth for the version: "version" in deno.json. The Helm
 * chart's appVersion (which is also the default image tag) and the image's
 * version label copy it; this test fails as soon as a copy disagrees.
 * (`--version` itself is checked in compile_flags_test.ts, under the
 * binary's permissions.)
 */

import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { VERSION } from "../../lib/util/version.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const version: string = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).version;

Deno.test("version: deno.json is the single source", async (t) => {
  await t.step("deno.json has a SemVer version", () => {
    assert.match(version, /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
  });
  await t.step("the exporter reports deno.json's version", () => {
    assert.equal(VERSION, version);
  });
  await t.step("Chart.yaml appVersion equals deno.json's version", () => {
    const chart = parseYaml(Deno.readTextFileSync(`${ROOT}helm/uptime-exporter/Chart.yaml`));
    assert.equal(
      chart.appVersion,
      version,
      "bump appVersion in helm/uptime-exporter/Chart.yaml (and the chart's version) to match",
    );
  });
  await t.step("the chart's image tag defaults to appVersion", () => {
    const values = parseYaml(
      Deno.readTextFileSync(`${ROOT}helm/uptime-exporter/values.yaml`),
    );
    assert.equal(values.image.tag, "", "a fixed image.tag would drift from appVersion");
  });
  await t.step("the Dockerfile's version label defaults to deno.json's version", () => {
    const dockerfile = Deno.readTextFileSync(`${ROOT}Dockerfile`);
    const arg = /^ARG VERSION=(\S+)$/m.exec(dockerfile);
    assert.ok(arg, "the Dockerfile has no ARG VERSION=<default>");
    assert.equal(arg[1], version, "update ARG VERSION in the Dockerfile");
  });
});
