/**
 * `deno compile` cannot run on our machines (it downloads its `denort`
 * runtime from Deno's download host), so the binary itself is never started
 * here. What a binary would lack is its permissions: this test runs main.ts
 * through `deno run` with exactly the permission flags of deno.json's
 * `compile` task (parsed, not copied) and `--no-prompt`, and exercises
 * everything the binary does in a cluster: /metrics, /healthz, /readyz, a
 * ConfigMap-style reload, POST /-/reload and SIGTERM. A permission the binary
 * would lack fails here instead of in a user's cluster.
 */

import assert from "node:assert/strict";
import {
  compilePermissionFlags,
  denoJson,
  ROOT,
  sampleNames,
  startExporter,
  startTarget,
  taskCommand,
  taskWords,
} from "./_helpers/exporter.ts";
import { until } from "./_helpers/wait.ts";

/** Permissions the exporter must never get: it neither writes, runs nor loads anything. */
const FORBIDDEN = ["-A", "--allow-all", "--allow-write", "--allow-run", "--allow-ffi"];

Deno.test("compile task: named, least permissions", async (t) => {
  await t.step("the compile task builds dist/uptime-exporter from main.ts", () => {
    const words = taskWords("compile");
    assert.deepEqual(words.slice(0, 2), ["deno", "compile"]);
    assert.equal(words[words.indexOf("--output") + 1], "dist/uptime-exporter");
    assert.equal(words.at(-1), "main.ts");
  });
  await t.step("permissions are named flags, none of the forbidden ones", () => {
    const flags = compilePermissionFlags();
    assert.ok(flags.length > 0, "the compile task grants no permission at all");
    for (const flag of flags) {
      assert.ok(
        !FORBIDDEN.some((f) => flag === f || flag.startsWith(`${f}=`)),
        `${flag} is more than the exporter needs`,
      );
    }
    // --allow-sys is scoped to the one call that needs it.
    for (const flag of flags.filter((f) => f.startsWith("--allow-sys"))) {
      assert.match(flag, /^--allow-sys=/, "--allow-sys must name the calls it allows");
    }
  });
  await t.step("every Worker module the exporter starts is embedded with --include", () => {
    // deno compile embeds only what main.ts imports; a Worker's module must be named.
    const words = taskWords("compile");
    const included = words.filter((_, i) => words[i - 1] === "--include");
    const started: string[] = [];
    for (const entry of Deno.readDirSync(`${ROOT}/lib/check`)) {
      const text = Deno.readTextFileSync(`${ROOT}/lib/check/${entry.name}`);
      for (
        const m of text.matchAll(/new Worker\(\s*new URL\("\.\/([^"]+)", import\.meta\.url\)/g)
      ) {
        started.push(`lib/check/${m[1]}`);
      }
    }
    assert.ok(started.length > 0, "no Worker found: the checks run in one (lib/check/)");
    for (const module of started) assert.ok(included.includes(module), `${module} not --include'd`);
  });
  await t.step("start and dev run with the same V8 flags as the binary", () => {
    // The young generation is capped (docs/performance.md): the benchmark runs `start`.
    const v8 = (words: string[]) => words.filter((w) => w.startsWith("--v8-flags="));
    const flags = v8(taskWords("compile"));
    assert.deepEqual(flags, ["--v8-flags=--max-semi-space-size=1"]);
    for (const task of ["start", "dev"]) {
      assert.deepEqual(v8(taskWords(task)), flags, task);
    }
  });
  await t.step("start and dev run with the same permissions as the binary", () => {
    const flags = compilePermissionFlags();
    for (const task of ["start", "dev"]) {
      const words = taskCommand(task)?.split(/\s+/) ?? [];
      const own = words.filter((w) => /^--(allow|deny)-/.test(w));
      assert.deepEqual(own, flags, `the ${task} task's permissions differ from compile's`);
    }
  });
});

Deno.test("exporter under the compile task's permissions", async (t) => {
  await using target = startTarget();
  const dir = await Deno.makeTempDir({ prefix: "uptime-exporter-perm-" });
  try {
    // The layout the kubelet gives a mounted ConfigMap: config.yaml -> ..data/config.yaml,
    // ..data -> ..<timestamp>/; an update swaps the ..data symlink.
    const writeVersion = async (name: string, yaml: string) => {
      await Deno.mkdir(`${dir}/${name}`);
      await Deno.writeTextFile(`${dir}/${name}/config.yaml`, yaml);
      await Deno.symlink(name, `${dir}/..data_tmp`);
      await Deno.rename(`${dir}/..data_tmp`, `${dir}/..data`);
    };
    const config = (paths: string[]) =>
      `defaults:\n  interval: 500ms\n  timeout: 400ms\ntargets:\n${
        paths.map((p) => `  - url: ${target.url}${p}\n`).join("")
      }`;
    await writeVersion("..v1", config(["/a"]));
    await Deno.symlink("..data/config.yaml", `${dir}/config.yaml`);

    await using exporter = await startExporter({ args: ["--config", `${dir}/config.yaml`] });

    await t.step("/healthz answers at once", async () => {
      assert.equal((await exporter.get("/healthz")).status, 200);
    });
    await t.step("/readyz turns 200 after the first check", async () => {
      await until(
        async () => (await exporter.get("/readyz")).status === 200,
        10_000,
        "/readyz to answer 200",
      );
    });
    await t.step("/metrics has the URL and the process metrics", async () => {
      const { status, text } = await exporter.get("/metrics");
      assert.equal(status, 200);
      assert.match(text, new RegExp(`^sample_external_url_up\\{url="${target.url}/a"\\} 1$`, "m"));
      assert.match(text, /^sample_external_url_response_ms\{url="[^"]+"\} [0-9.]+$/m);
      // Not compiled: no stamp is read, whatever dist/ holds.
      assert.match(
        text,
        /^uptime_exporter_build_info\{version="[^"]+",revision="unknown",deno="[^"]+",os="[^"]+",arch="[^"]+"\} 1$/m,
      );
      const rss = /^process_resident_memory_bytes ([0-9.e+]+)$/m.exec(text);
      assert.ok(rss && Number(rss[1]) > 0, "process_resident_memory_bytes is missing or 0");
      for (const name of ["process_cpu_seconds_total", "process_start_time_seconds"]) {
        assert.ok(sampleNames(text).has(name), `${name} is missing`);
      }
    });
    await t.step("a ConfigMap-style symlink swap is picked up without a restart", async () => {
      await writeVersion("..v2", config(["/a", "/down"]));
      await until(
        async () => {
          const text = (await exporter.get("/metrics")).text;
          return text.includes(`sample_external_url_up{url="${target.url}/down"} 0`);
        },
        10_000,
        "the new target in /metrics",
      );
      assert.match(
        (await exporter.get("/metrics")).text,
        /^uptime_exporter_config_last_reload_successful 1$/m,
      );
    });
    await t.step("POST /-/reload reloads", async () => {
      const res = await exporter.get("/-/reload", { method: "POST" });
      assert.equal(res.status, 200, res.text);
    });
    await t.step("no permission was denied along the way", () => {
      const log = exporter.lines.join("\n");
      assert.doesNotMatch(log, /NotCapable|PermissionDenied|Requires \w+ access/);
      assert.doesNotMatch(log, /"level":"error"/);
    });
    await t.step("SIGTERM stops it cleanly and quickly", async () => {
      const started = performance.now();
      const status = await exporter.stop("SIGTERM");
      assert.equal(status.code, 0, exporter.lines.join("\n"));
      assert.ok(performance.now() - started < 5000, "shutdown took longer than 5 s");
      assert.ok(exporter.lines.some((l) => l.includes("shutting down")));
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--version under the compile task's permissions prints deno.json's version", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...compilePermissionFlags(), "main.ts", "--version"],
    cwd: new URL("..", import.meta.url).pathname,
    stdin: "null",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.match(
    stdout,
    new RegExp(`^uptime-exporter ${denoJson().version.replaceAll(".", "\\.")}\\b`),
  );
});

Deno.test("docs/kubernetes.md explains exactly the compile task's permissions", () => {
  const doc = Deno.readTextFileSync(new URL("../docs/kubernetes.md", import.meta.url));
  const section = doc.slice(doc.indexOf("## Permissions of the binary"));
  const explained = [...section.slice(0, section.indexOf("\n## ", 5)).matchAll(/^- `([^`]+)`:/gm)]
    .map((m) => m[1]);
  assert.deepEqual(
    explained,
    compilePermissionFlags(),
    "update the permission list in docs/kubernetes.md",
  );
});
