/**
 * End to end with a real browser: headless Chromium, driven over the DevTools
 * protocol, looks at the status page at `/` while the exporter (run with the
 * compiled binary's permission flags) checks loopback targets. The test
 * asserts on what a person sees and saves screenshots under
 * tests/e2e/artifacts/ (with E2E_UPDATE_DOCS=1 also under docs/).
 *
 * Needs /usr/bin/chromium (see docs/e2e.md); a missing browser fails the test.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Browser, type Page } from "./cdp.ts";
import {
  requireTool,
  ROOT,
  saveArtifact,
  startExporter,
  startTargets,
  tempDir,
  versionOf,
  waitFor,
} from "./harness.ts";

/** A label value that would run script if the page did not escape it. */
const HOSTILE = `<script>window.__xss=1</script><img src=x onerror="window.__xss=2">`;
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 720 };

interface Row {
  state: string;
  url: string;
  labels: string;
  status: string;
  response: string;
  lastCheck: string;
  why: string;
  badgeBg: string;
  badgeFg: string;
}

const READ_ROWS = `[...document.querySelectorAll("#rows tr")].filter((r) => !r.hidden).map((r) => {
  const c = r.cells, badge = r.querySelector(".badge"), style = getComputedStyle(badge);
  return {
    state: badge.innerText.trim(),
    url: c[1].firstChild.textContent.trim(),
    labels: (c[1].querySelector(".labels")?.textContent ?? "").trim(),
    status: c[2].innerText.trim(),
    response: c[3].innerText.trim(),
    lastCheck: c[4].innerText.trim(),
    why: c[5].innerText.trim(),
    badgeBg: style.backgroundColor,
    badgeFg: style.color,
  };
})`;

/** Milliseconds from the page's `701ms` / `1.05s`. */
function ms(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(text);
  assert.ok(m, `not a duration: ${text}`);
  return Number(m[1]) * (m[2] === "s" ? 1000 : 1);
}

/** Waits until the exporter under `base` (ending in `/`) is ready: every target checked once. */
async function untilReady(base: string): Promise<void> {
  await waitFor("the exporter to be ready (every target checked once)", async () => {
    const res = await fetch(`${base}readyz`);
    await res.body?.cancel();
    return res.status === 200 ? true : undefined;
  }, { timeoutMs: 30_000 });
}

function rows(page: Page): Promise<Row[]> {
  return page.evaluate<Row[]>(READ_ROWS);
}

Deno.test("e2e: a real browser shows the status page while checks run", async (t) => {
  const chromium = requireTool("chromium", ["/usr/bin/chromium", "chromium"], "CHROMIUM");
  console.log(`chromium: ${await versionOf(chromium)}`);

  await using dir = await tempDir("browser");
  await using targets = startTargets();
  const url = {
    ok: `${targets.url}/ok`,
    unavailable: `${targets.url}/unavailable`,
    hang: targets.hangUrl,
    slow: `${targets.url}/slow`,
    hostile: `${targets.url}/redirect`,
  };
  await using exporter = await startExporter({
    dir: dir.path,
    config: {
      defaults: { interval: "1s", timeout: "700ms" },
      targets: [
        { url: url.ok, labels: { team: "shop" } },
        { url: url.unavailable, labels: { team: "payments" } },
        { url: url.hang, interval: "2s" },
        { url: url.slow },
        { url: url.hostile, labels: { name: HOSTILE } },
      ],
    },
  });
  await untilReady(`${exporter.url}/`);

  await using browser = await Browser.launch(chromium);
  console.log(`browser over CDP: ${await browser.version()}`);
  const page = await browser.newPage();
  await page.setViewport(DESKTOP.width, DESKTOP.height);
  // ?refresh=2: the page's own auto-refresh, faster than the default 10s for the test.
  await page.goto(`${exporter.url}/?refresh=2`);

  await t.step("one row per target, down targets first", async () => {
    const r = await rows(page);
    assert.deepEqual(r.map((x) => x.url).sort(), Object.values(url).sort());
    const states = r.map((x) => x.state.replace(/^\W+\s*/, ""));
    assert.deepEqual(states, ["DOWN", "DOWN", "UP", "UP", "UP"], `rows: ${JSON.stringify(r)}`);
    assert.deepEqual(r.slice(0, 2).map((x) => x.url).sort(), [url.hang, url.unavailable].sort());
    const headline = await page.evaluate<string>(`document.getElementById("headline").innerText`);
    assert.equal(headline, "2 of 5 targets down");
    assert.equal(await page.evaluate<string>("document.title"), "(2 down) uptime-exporter");
  });

  await t.step("up and down are shown by text and symbol as well as colour", async () => {
    const r = await rows(page);
    const down = r.find((x) => x.url === url.unavailable)!;
    const up = r.find((x) => x.url === url.ok)!;
    assert.equal(down.state, "✕ DOWN");
    assert.equal(up.state, "✓ UP");
    assert.notEqual(down.badgeBg, up.badgeBg, "different background colours");
    assert.notEqual(down.badgeFg, up.badgeFg, "different text colours");
    assert.equal(down.status, "503");
    assert.match(down.why, /^status\b/);
    assert.equal(r.find((x) => x.url === url.hang)!.status, "none");
    assert.match(r.find((x) => x.url === url.hang)!.why, /^timeout\b/);
  });

  await t.step("a label with <script> in it is shown as text and runs nothing", async () => {
    const r = await rows(page);
    const hostile = r.find((x) => x.url === url.hostile)!;
    assert.equal(hostile.labels, `name=${HOSTILE}`);
    assert.equal(await page.evaluate("typeof window.__xss"), "undefined");
    assert.equal(await page.evaluate("document.scripts.length"), 1, "only the page's own script");
    assert.equal(await page.evaluate(`document.querySelectorAll("#rows img").length`), 0);
  });

  await t.step("times are in human units", async () => {
    const r = await rows(page);
    for (const x of r) {
      assert.match(x.response, /^\d+(\.\d+)?(ms|s)$/, `response of ${x.url}: ${x.response}`);
      assert.match(x.lastCheck, /^(just now|\d+s ago)\s*every \d+s$/, `${x.url}: ${x.lastCheck}`);
    }
    const hang = ms(r.find((x) => x.url === url.hang)!.response);
    assert.ok(hang >= 690 && hang < 1500, `hanging URL: ${hang}ms, timeout 700ms`);
    const slow = ms(r.find((x) => x.url === url.slow)!.response);
    assert.ok(slow >= 150 && slow < 1000, `the 150 ms URL: ${slow}ms`);
  });

  await t.step("columns sort when their heading is clicked", async () => {
    const order = () =>
      page.evaluate<number[]>(
        `[...document.querySelectorAll("#rows tr")].map((r) => Number(r.cells[3].dataset.sort))`,
      );
    await page.click("#targets th:nth-child(4) button");
    const asc = await order();
    assert.deepEqual(asc, [...asc].sort((a, b) => a - b), "ascending by response time");
    assert.equal(
      await page.evaluate(`document.querySelector("#targets th:nth-child(4)").ariaSort`),
      "ascending",
    );
    await page.click("#targets th:nth-child(4) button");
    const desc = await order();
    assert.deepEqual(desc, [...desc].sort((a, b) => b - a), "descending by response time");
    await page.click("#targets th:nth-child(1) button");
    const states = (await rows(page)).map((x) => x.state);
    assert.deepEqual(states.slice(0, 2), ["✕ DOWN", "✕ DOWN"], "state sort puts down first");
  });

  await t.step("the filter box narrows the rows", async () => {
    await page.click("#filter");
    await page.type("payments");
    const r = await rows(page);
    assert.deepEqual(r.map((x) => x.url), [url.unavailable]);
    assert.equal(await page.evaluate(`document.getElementById("shown").innerText`), "1 of 5 shown");
    await page.evaluate(
      `(() => { const f = document.getElementById("filter"); f.value = ""; f.dispatchEvent(new Event("input")); })()`,
    );
    assert.equal((await rows(page)).length, 5);
  });

  await t.step(
    "it refreshes in place from the JSON API, without a page reload, keeping the sort",
    async () => {
      const served = await rows(page);
      const before = await page.evaluate<string>(
        `(window.__marker = "still here", document.getElementById("generated").dateTime)`,
      );
      await waitFor("the page to refresh itself", async () => {
        const now = await page.evaluate<string>(`document.getElementById("generated").dateTime`);
        return now !== before ? now : undefined;
      }, { timeoutMs: 15_000, everyMs: 250 });
      assert.equal(await page.evaluate("window.__marker"), "still here", "no full reload");
      assert.equal(
        await page.evaluate(`document.querySelector("#targets th:nth-child(1)").ariaSort`),
        "ascending",
        "the chosen sort survives the refresh",
      );
      const fetched = await page.evaluate<string[]>(
        `performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname)`,
      );
      assert.ok(fetched.includes("/api/v1/targets"), `fetched: ${fetched.join(", ")}`);
      assert.ok(!fetched.includes("/"), "the page's HTML is not fetched again");
      // The rows the script built read as the ones the server rendered.
      const refreshed = await rows(page);
      const stable = (r: Row[]) =>
        r.map((x) => ({
          ...x,
          response: "",
          lastCheck: x.lastCheck.replace(/^.* ago|just now/, ""),
        }))
          .sort((a, b) => a.url.localeCompare(b.url));
      assert.deepEqual(stable(refreshed), stable(served));
      for (const x of refreshed) {
        assert.match(x.response, /^\d+(\.\d+)?(ms|s)$/, `response of ${x.url}: ${x.response}`);
        assert.match(x.lastCheck, /^(just now|\d+s ago)\s*every \d+s$/, `${x.url}: ${x.lastCheck}`);
      }
      assert.equal(
        await page.evaluate(`document.getElementById("headline").innerText`),
        "2 of 5 targets down",
      );
      assert.equal(await page.evaluate<string>("document.title"), "(2 down) uptime-exporter");
    },
  );

  await t.step("after a refresh the hostile label is still text and runs nothing", async () => {
    const hostile = (await rows(page)).find((x) => x.url === url.hostile)!;
    assert.equal(hostile.labels, `name=${HOSTILE}`);
    assert.equal(await page.evaluate("typeof window.__xss"), "undefined");
    assert.equal(await page.evaluate("document.scripts.length"), 1, "only the page's own script");
    assert.equal(
      await page.evaluate(`document.querySelectorAll("#rows img, #rows script").length`),
      0,
    );
  });

  await t.step("no script errors and no CSP violations", () => {
    assert.deepEqual(page.errors, []);
  });

  await t.step("screenshot at desktop width", async () => {
    // Back to the server's order (down first) for the picture.
    await page.goto(`${exporter.url}/`);
    await saveScreenshot(page, "status-page.png");
  });

  await t.step("readable at phone width", async () => {
    await page.setViewport(PHONE.width, PHONE.height, true);
    await page.goto(`${exporter.url}/`);
    const layout = await page.evaluate<{
      scrollWidth: number;
      innerWidth: number;
      outside: string[];
      smallest: number;
    }>(`(() => {
      const outside = [];
      let smallest = Infinity;
      for (const el of document.querySelectorAll("#rows .badge, #rows td.url, #headline, #summary li")) {
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.left < 0 || r.right > innerWidth + 0.5) outside.push(el.textContent.slice(0, 40));
        smallest = Math.min(smallest, parseFloat(getComputedStyle(el).fontSize));
      }
      // Every cell stays inside its row's card.
      for (const td of document.querySelectorAll("#rows td")) {
        const r = td.getBoundingClientRect(), row = td.parentElement.getBoundingClientRect();
        if (r.width === 0) continue;
        if (r.left < row.left || r.right > row.right + 0.5) outside.push(td.textContent.slice(0, 40));
        const range = document.createRange();
        range.selectNodeContents(td);
        const text = range.getBoundingClientRect();
        if (text.width > 0 && (text.left < row.left || text.right > row.right + 0.5)) {
          outside.push(td.textContent.slice(0, 40));
        }
      }
      return { scrollWidth: document.documentElement.scrollWidth, innerWidth, outside, smallest };
    })()`);
    assert.equal(layout.innerWidth, PHONE.width);
    assert.ok(layout.scrollWidth <= PHONE.width, `no sideways scrolling: ${layout.scrollWidth}px`);
    assert.deepEqual(layout.outside, [], "everything fits the screen and its card");
    assert.ok(layout.smallest >= 12, `text at least 12px: ${layout.smallest}px`);
    const r = await rows(page);
    assert.equal(r.length, 5);
    assert.deepEqual(r.slice(0, 2).map((x) => x.state), ["✕ DOWN", "✕ DOWN"]);
    await saveScreenshot(page, "status-page-phone.png");
    assert.deepEqual(page.errors, []);
  });

  await browser.close();
  const status = await exporter.stop();
  assert.equal(status.code, 0, `the exporter exits cleanly on SIGTERM:\n${exporter.log}`);
});

Deno.test("e2e: under a route prefix the status page refreshes and links stay inside", async (t) => {
  const chromium = requireTool("chromium", ["/usr/bin/chromium", "chromium"], "CHROMIUM");
  await using dir = await tempDir("browser-prefix");
  await using targets = startTargets();
  await using exporter = await startExporter({
    dir: dir.path,
    args: ["--web.route-prefix", "/team/uptime"],
    config: {
      defaults: { interval: "1s", timeout: "700ms" },
      targets: [{ url: `${targets.url}/ok` }, { url: `${targets.url}/unavailable` }],
    },
  });
  const base = `${exporter.url}/team/uptime/`;
  await untilReady(base);
  await using browser = await Browser.launch(chromium);
  const page = await browser.newPage();
  await page.setViewport(DESKTOP.width, DESKTOP.height);
  // Through the redirect of the bare prefix, as a user typing the Ingress path would come.
  await page.goto(`${exporter.url}/team/uptime?refresh=1`);

  await t.step("the page is served at <prefix>/", async () => {
    assert.equal(await page.evaluate<string>("location.pathname"), "/team/uptime/");
    assert.equal((await rows(page)).length, 2);
    assert.equal(
      await page.evaluate(`document.getElementById("headline").innerText`),
      "1 of 2 targets down",
    );
  });
  await t.step("it refreshes from <prefix>/api/v1/targets", async () => {
    const before = await page.evaluate<string>(`document.getElementById("generated").dateTime`);
    await waitFor("the page to refresh itself", async () => {
      const now = await page.evaluate<string>(`document.getElementById("generated").dateTime`);
      return now !== before ? now : undefined;
    }, { timeoutMs: 15_000, everyMs: 250 });
    const fetched = await page.evaluate<string[]>(
      `performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname)`,
    );
    assert.ok(fetched.includes("/team/uptime/api/v1/targets"), fetched.join(", "));
    assert.equal(await page.evaluate(`document.getElementById("offline").hidden`), true);
    const r = await rows(page);
    assert.deepEqual(r.map((x) => x.state), ["✕ DOWN", "✓ UP"]);
  });
  await t.step("every link of the page stays under the prefix and answers", async () => {
    const links = await page.evaluate<string[]>(`[...document.links].map((a) => a.href)`);
    assert.ok(links.length >= 3);
    for (const link of links) {
      assert.ok(new URL(link).pathname.startsWith("/team/uptime/"), link);
      const res = await fetch(link);
      await res.body?.cancel();
      assert.equal(res.status, 200, link);
    }
  });
  await t.step("no script errors and no CSP violations", () => {
    assert.deepEqual(page.errors, []);
  });
  await browser.close();
});

Deno.test("e2e: a failed reload is shown on the page until a reload succeeds", async (t) => {
  const chromium = requireTool("chromium", ["/usr/bin/chromium", "chromium"], "CHROMIUM");
  await using dir = await tempDir("browser-reload");
  await using targets = startTargets();
  const good = {
    defaults: { interval: "1s", timeout: "700ms" },
    targets: [{ url: `${targets.url}/ok` }, { url: `${targets.url}/unavailable` }],
  };
  await using exporter = await startExporter({
    dir: dir.path,
    args: ["--no-config.watch"], // reloaded by POST /-/reload only, when the test says
    config: good,
  });
  await untilReady(`${exporter.url}/`);
  await using browser = await Browser.launch(chromium);
  const page = await browser.newPage();
  await page.setViewport(DESKTOP.width, DESKTOP.height);
  await page.goto(`${exporter.url}/?refresh=1`);
  const notice = () =>
    page.evaluate<{ hidden: boolean; text: string; at: string; display: string }>(`(() => {
      const n = document.getElementById("reload");
      return { hidden: n.hidden, text: n.innerText, display: getComputedStyle(n).display,
        at: document.getElementById("reload-at").dateTime };
    })()`);

  await t.step("no notice while the config loaded fine", async () => {
    const n = await notice();
    assert.equal(n.hidden, true);
    assert.equal(n.display, "none", "not shown");
    assert.equal(await page.evaluate(`document.getElementById("demo").hidden`), true);
  });
  await t.step("a bad reload: the page says when, why, and that the old config runs", async () => {
    await exporter.writeConfig({ ...good, targets: [{ url: "ftp://files.example/" }], colour: 1 });
    const before = Date.now();
    const reload = await exporter.reload();
    assert.equal(reload.status, 500);
    // Shown by the page's own refresh from the JSON API, without a page load.
    const n = await waitFor("the page to show the failed reload", async () => {
      const n = await notice();
      return n.hidden ? undefined : n;
    }, { timeoutMs: 15_000, everyMs: 250 });
    assert.notEqual(n.display, "none");
    assert.match(n.text, /^Config reload failed at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC; /);
    assert.match(n.text, /the previous config is still running\./);
    assert.match(n.text, /Cannot load config: 2 problems:/);
    assert.match(n.text, /'targets\[0\]\.url' \(line \d+\): scheme 'ftp:' is not supported/);
    assert.match(n.text, /'colour' \(line \d+\): unknown key/);
    const at = Date.parse(n.at);
    assert.ok(at >= before - 1000 && at <= Date.now(), `failed at ${n.at}`);
    // The previous config is indeed what runs.
    assert.equal((await rows(page)).length, 2);
    assert.equal(await page.evaluate(`document.getElementById("offline").hidden`), true);
    await saveScreenshot(page, "status-page-reload-failed.png", { docs: false });
  });
  await t.step("a later good reload takes the notice away", async () => {
    await exporter.writeConfig({ ...good, targets: [{ url: `${targets.url}/ok` }] });
    assert.equal((await exporter.reload()).status, 200);
    await waitFor("the notice to go", async () => (await notice()).hidden ? true : undefined, {
      timeoutMs: 15_000,
      everyMs: 250,
    });
    assert.equal((await rows(page)).length, 1);
  });
  await t.step("no script errors and no CSP violations", () => {
    assert.deepEqual(page.errors, []);
  });
  await browser.close();
});

async function saveScreenshot(
  page: Page,
  name: string,
  options: { docs?: boolean } = {},
): Promise<void> {
  const png = await page.screenshot();
  assert.deepEqual([...png.slice(1, 4)], [0x50, 0x4e, 0x47], "a PNG");
  const path = await saveArtifact(name, png);
  console.log(`screenshot: ${path}`);
  if (options.docs !== false && Deno.env.get("E2E_UPDATE_DOCS") === "1") {
    await Deno.writeFile(`${ROOT}/docs/${name}`, png);
    console.log(`screenshot: ${ROOT}/docs/${name}`);
  }
}
