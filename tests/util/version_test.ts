/**
 * One source of truth for the version: "version" in deno.json. The Helm
 * chart's appVersion (which is also the default image tag) and the image's
 * version label copy it; this test fails as soon as a copy disagrees.
 * (`--version` itself is checked in compile_flags_test.ts, under the
 * binary's permissions.)
 */

import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { BUILD_INFO, readRevision, VERSION, versionLine } from "../../lib/util/version.ts";

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

Deno.test("revision: read from the stamp in a compiled binary only", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "version-test-" });
  try {
    const file = `${dir}/build_info.json`;
    await Deno.writeTextFile(file, JSON.stringify({ revision: "abc123" }));
    await t.step("a compiled binary reads its embedded stamp", () => {
      assert.equal(readRevision({ standalone: true, file }), "abc123");
    });
    await t.step("deno run never does: a stamp in dist/ may be another commit's", () => {
      assert.equal(readRevision({ standalone: false, file }), "unknown");
      assert.equal(BUILD_INFO.revision, "unknown");
    });
    await t.step("no stamp, or a bad one: unknown", async () => {
      assert.equal(readRevision({ standalone: true, file: `${dir}/missing.json` }), "unknown");
      for (const bad of ["{", "null", '{"revision": 7}', '{"revision": ""}']) {
        await Deno.writeTextFile(file, bad);
        assert.equal(readRevision({ standalone: true, file }), "unknown", bad);
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  await t.step("--version and build_info show version, revision, deno, os, arch", () => {
    assert.deepEqual(Object.keys(BUILD_INFO), ["version", "revision", "deno", "os", "arch"]);
    assert.equal(
      versionLine({
        version: "1.2.3",
        revision: "abc",
        deno: "2.9.6",
        os: "linux",
        arch: "x86_64",
      }),
      "uptime-exporter 1.2.3 (revision: abc, deno: 2.9.6, linux/x86_64)",
    );
  });
});
