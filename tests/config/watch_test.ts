import assert from "node:assert/strict";
import { watchConfigFile } from "../../lib/config/watch.ts";
import { until } from "../_helpers/wait.ts";

/** Writes a new version of a ConfigMap volume the way the kubelet does: a symlink swap. */
function kubeletUpdate(dir: string, generation: number, content: string): void {
  const data = `..gen_${generation}`;
  Deno.mkdirSync(`${dir}/${data}`);
  Deno.writeTextFileSync(`${dir}/${data}/config.yaml`, content);
  Deno.symlinkSync(data, `${dir}/..data_tmp`);
  Deno.renameSync(`${dir}/..data_tmp`, `${dir}/..data`);
  if (generation > 1) Deno.removeSync(`${dir}/..gen_${generation - 1}`, { recursive: true });
  else Deno.symlinkSync("..data/config.yaml", `${dir}/config.yaml`);
}

Deno.test("config watcher", async (t) => {
  await t.step("sees every ConfigMap-style symlink swap, not just the first", async () => {
    const dir = Deno.makeTempDirSync();
    kubeletUpdate(dir, 1, "v1");
    const seen: string[] = [];
    const controller = new AbortController();
    const watching = watchConfigFile(
      `${dir}/config.yaml`,
      () => {
        seen.push(Deno.readTextFileSync(`${dir}/config.yaml`));
      },
      { signal: controller.signal, debounceMs: 50, settleMs: 100 },
    );
    try {
      for (let g = 2; g <= 4; g++) {
        kubeletUpdate(dir, g, `v${g}`);
        await until(() => seen.length === g - 1, 3000);
      }
      assert.deepEqual(seen, ["v2", "v3", "v4"]);
    } finally {
      controller.abort();
      await watching;
      Deno.removeSync(dir, { recursive: true });
    }
  });

  await t.step("a file written in two halves with a pause is applied whole, once", async () => {
    // 1,000 targets cut at a line boundary is still valid YAML (501 targets):
    // it must never be applied. The pause is longer than the debounce, so the
    // first read sees the half; the second read, settleMs later, does not agree.
    const dir = Deno.makeTempDirSync();
    const file = `${dir}/config.yaml`;
    const lines = Array.from({ length: 1000 }, (_, i) => `  - https://t${i}.example/\n`);
    const whole = `targets:\n${lines.join("")}`;
    const cut = whole.indexOf("  - https://t501.example/");
    Deno.writeTextFileSync(file, "targets: []\n");
    const seen: string[] = [];
    const controller = new AbortController();
    const watching = watchConfigFile(file, () => {
      seen.push(Deno.readTextFileSync(file));
    }, { signal: controller.signal, debounceMs: 50, settleMs: 400 });
    try {
      const f = Deno.openSync(file, { write: true, truncate: true });
      try {
        f.writeSync(new TextEncoder().encode(whole.slice(0, cut)));
        await new Promise((r) => setTimeout(r, 200));
        f.writeSync(new TextEncoder().encode(whole.slice(cut)));
      } finally {
        f.close();
      }
      await until(() => seen.length > 0, 3000);
      // Long enough for a second (wrong) call to show.
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(seen.length, 1);
      assert.equal(seen[0], whole);
    } finally {
      controller.abort();
      await watching;
      Deno.removeSync(dir, { recursive: true });
    }
  });

  await t.step("a plain file rewrite triggers once; the same content does not", async () => {
    const dir = Deno.makeTempDirSync();
    const file = `${dir}/config.yaml`;
    Deno.writeTextFileSync(file, "a");
    let calls = 0;
    const controller = new AbortController();
    const watching = watchConfigFile(file, () => {
      calls++;
    }, { signal: controller.signal, debounceMs: 50, settleMs: 100 });
    try {
      Deno.writeTextFileSync(file, "b");
      await until(() => calls === 1, 3000);
      Deno.writeTextFileSync(file, "b");
      Deno.writeTextFileSync(`${dir}/unrelated`, "x");
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(calls, 1);
    } finally {
      controller.abort();
      await watching;
      Deno.removeSync(dir, { recursive: true });
    }
  });
});
