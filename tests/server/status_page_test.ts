import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { buildConfig } from "../../lib/config/validate.ts";
import type { ProbeResult } from "../../lib/check/outcome.ts";
import { ResultsStore } from "../../lib/metrics/results.ts";
import { probeResult } from "../_helpers/servers.ts";
import {
  escapeHtml,
  formatAge,
  formatInterval,
  renderStatusPage,
  SCRIPT_HELPERS,
  STATUS_PAGE_CSP,
} from "../../lib/server/status_page.ts";
import { formatDuration } from "../../lib/config/units.ts";
import { apiTarget } from "../../lib/server/api.ts";

const NOW = Date.UTC(2025, 0, 2, 3, 4, 5);

const up = (ms: number): ProbeResult => probeResult({ durationMs: ms });
const failed = (
  result: ProbeResult["result"],
  statusCode: number,
  reason: string,
  ms = 5,
): ProbeResult => ({ ...up(ms), up: false, result, statusCode, reason });

/** A store with the targets of `yaml` and the given results (by target index). */
function storeWith(yaml: string, results: Record<number, [ProbeResult, number]> = {}) {
  const config = buildConfig(yaml, {}, { env: {} });
  const store = new ResultsStore();
  store.applyConfig(config);
  for (const [i, [result, at]] of Object.entries(results)) {
    store.record(config.targets[Number(i)]!.key, result, at);
  }
  return store;
}

/** The rows of the page as [class, url text] in document order. */
function rowsOf(html: string): [string, string][] {
  return [
    ...html.matchAll(
      /<tr class="(\w+)" data-order="\d+"><td[^>]*>.*?<td class="url"[^>]*>(.*?)(?:<span class="labels">|<\/td>)/g,
    ),
  ]
    .map((m) => [m[1]!, m[2]!]);
}

Deno.test("status page", async (t) => {
  await t.step("keeps its signature: states and optional options", () => {
    const html = renderStatusPage([]);
    assert.match(html, /^<!doctype html>/);
    assert.match(html, /No targets configured/);
  });

  await t.step("escapes every target string", () => {
    const store = storeWith(
      `targets:
  - url: "http://a.test/<script>alert(1)</script>?q=\\"'&"
    labels: {note: "<img src=x onerror=alert(2)>", quote: "\\" onmouseover=\\"alert(3)"}
`,
      { 0: [failed("error", 0, '<b>boom</b> & "more"'), NOW - 1000] },
    );
    const html = renderStatusPage(store.states, { now: NOW, version: "<i>1</i>" });
    for (const raw of ["<script>alert", "<img", "<b>boom", "<i>1", '" onmouseover']) {
      assert.ok(!html.includes(raw), `raw ${raw} in the page`);
    }
    // The config normalises URLs (percent-encoding <, >, quotes); the & left is escaped.
    assert.ok(html.includes("http://a.test/%3Cscript%3Ealert(1)%3C/script%3E?q=%22%27&amp;"));
    assert.ok(html.includes("note=&lt;img src=x onerror=alert(2)&gt;"));
    assert.ok(html.includes("quote=&quot; onmouseover=&quot;alert(3)"));
    assert.ok(html.includes("error: &lt;b&gt;boom&lt;/b&gt; &amp; &quot;more&quot;"));
    assert.ok(html.includes("uptime-exporter &lt;i&gt;1&lt;/i&gt;"));
    // The page's only script is its own.
    assert.equal(html.match(/<script/g)?.length, 1);
  });

  await t.step("masks credentials in URLs", () => {
    const store = storeWith(`targets: ["https://user:secret@b.test/"]`);
    const html = renderStatusPage(store.states, { now: NOW });
    assert.ok(html.includes("https://user:***@b.test/"));
    assert.ok(!html.includes("secret"));
  });

  await t.step("down first, then pending, then up; by URL within each", () => {
    const store = storeWith(
      `targets: ["http://a.test/", "http://b.test/", "http://c.test/", "http://d.test/", "http://e.test/"]`,
      {
        0: [up(3), NOW],
        1: [failed("status", 503, "status 503 not in 200"), NOW],
        3: [failed("timeout", 0, "timeout after 5000ms waiting for a response", 5000), NOW],
        4: [up(4), NOW],
      },
    );
    const html = renderStatusPage(store.states, { now: NOW });
    assert.deepEqual(rowsOf(html), [
      ["down", "http://b.test/"],
      ["down", "http://d.test/"],
      ["pending", "http://c.test/"],
      ["up", "http://a.test/"],
      ["up", "http://e.test/"],
    ]);
    assert.match(html, /<title>\(2 down\) uptime-exporter<\/title>/);
    assert.match(html, /id="headline" class="headline">2 of 5 targets down</);
    assert.match(html, /<li id="down" class="down some">2 down<\/li>/);
    assert.match(html, /<li id="up" class="up some">2 up<\/li>/);
    assert.match(html, /<li id="pending" class="pending some">1 pending<\/li>/);
    // State by text and symbol, not only colour.
    assert.match(html, /<span class="badge down"><span aria-hidden="true">✕<\/span> DOWN<\/span>/);
    assert.match(html, /<span class="badge up"><span aria-hidden="true">✓<\/span> UP<\/span>/);
    assert.match(html, /<span class="badge pending"><span aria-hidden="true">…<\/span> PENDING/);
    // The favicon is red while anything is down.
    assert.match(html, /<link id="favicon" rel="icon" href="data:image\/svg\+xml,[^"]*%23cf222e/);
  });

  await t.step("headline when all are up, or still pending", () => {
    const all = storeWith(`targets: ["http://a.test/"]`, { 0: [up(1), NOW] });
    const allHtml = renderStatusPage(all.states, { now: NOW });
    assert.match(allHtml, /All 1 target up/);
    assert.match(allHtml, /<title>uptime-exporter<\/title>/);
    const waiting = storeWith(`targets: ["http://a.test/", "http://b.test/"]`);
    assert.match(
      renderStatusPage(waiting.states, { now: NOW }),
      /Waiting for the first check of 2 of 2 targets/,
    );
    const one = storeWith(`targets: ["http://a.test/"]`);
    assert.match(
      renderStatusPage(one.states, { now: NOW }),
      /Waiting for the first check of 1 of 1 target</,
    );
  });

  await t.step("times and reasons in human terms", () => {
    const store = storeWith(
      `targets:
  - {url: "http://a.test/", interval: 90s}
  - {url: "http://b.test/", interval: 1m}
  - {url: "http://c.test/", interval: 250ms, timeout: 250ms}
`,
      {
        0: [up(1.25), NOW - 400],
        1: [failed("connect", 0, "Connection refused (os error 111)", 0.5), NOW - 75_000],
        2: [failed("timeout", 0, "timeout after 250ms waiting for a response", 251), NOW - 3000],
      },
    );
    const html = renderStatusPage(store.states, { now: NOW });
    assert.match(html, />1\.3ms</);
    assert.match(html, />251ms</);
    assert.match(html, />just now<\/time><span class="sub">every 1m 30s</);
    assert.match(html, />1m 15s ago<\/time><span class="sub">every 1m</);
    assert.match(html, />3s ago<\/time><span class="sub">every 250ms</);
    assert.match(html, /<time datetime="2025-01-02T03:04:04\.600Z"/);
    // The result is named unless the reason already starts with it.
    assert.ok(html.includes(">connect: Connection refused (os error 111)</td>"));
    assert.ok(html.includes(">timeout after 250ms waiting for a response</td>"));
    assert.ok(!html.includes("timeout: timeout"));
    assert.match(html, /data-label="Status" data-sort="0">none</);
  });

  await t.step("formatAge and formatInterval", () => {
    assert.equal(formatAge(NaN), "never");
    assert.equal(formatAge(999), "just now");
    assert.equal(formatAge(1499), "1s ago");
    assert.equal(formatAge(59_400), "59s ago");
    assert.equal(formatAge(61_000), "1m 01s ago");
    assert.equal(formatAge(2 * 3_600_000 + 600_000), "2h 10m ago");
    assert.equal(formatInterval(250), "250ms");
    assert.equal(formatInterval(1500), "1.50s");
    assert.equal(formatInterval(10_000), "10s");
    assert.equal(formatInterval(60_000), "1m");
    assert.equal(formatInterval(90_000), "1m 30s");
    assert.equal(formatInterval(7_200_000), "2h");
  });

  await t.step("refresh: the script's interval and a no-script meta refresh", () => {
    const html = renderStatusPage([], { refreshSeconds: 3 });
    assert.match(html, /<body data-refresh="3">/);
    assert.match(html, /<noscript><meta http-equiv="refresh" content="3"><\/noscript>/);
    assert.match(renderStatusPage([]), /<body data-refresh="10">/);
  });

  await t.step("the CSP allows exactly the page's own script and style", () => {
    const store = storeWith(`targets: ["http://a.test/"]`, { 0: [up(1), NOW] });
    const html = renderStatusPage(store.states, { now: NOW, refreshSeconds: 7 });
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1]!;
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
    const hash = (s: string) => `'sha256-${createHash("sha256").update(s).digest("base64")}'`;
    assert.ok(STATUS_PAGE_CSP.includes(`script-src ${hash(script)};`));
    assert.ok(STATUS_PAGE_CSP.includes(`style-src ${hash(style)};`));
    assert.ok(STATUS_PAGE_CSP.startsWith("default-src 'none';"));
    assert.ok(
      html.includes(`<meta http-equiv="Content-Security-Policy" content="${STATUS_PAGE_CSP}">`),
    );
    // Static: the same for any content, so the hash always fits.
    assert.equal(/<script>([\s\S]*?)<\/script>/.exec(renderStatusPage([]))![1], script);
    // Nothing loaded from elsewhere; links are relative (work behind a port-forward or a path prefix).
    assert.ok(!/\s(src|href)="(https?:)?\/\//.test(html));
    assert.match(html, /<a href="metrics">/);
  });

  await t.step("escapeHtml", () => {
    assert.equal(
      escapeHtml(`<a href="x">'&'</a>`),
      "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;",
    );
  });
});

Deno.test("the page script formats times and reasons exactly as the server does", async (t) => {
  // The script's pure helpers, run here on the same inputs as the server's.
  const js = new Function(
    `${SCRIPT_HELPERS}; return { formatDuration, formatAge, formatInterval, reasonText };`,
  )() as {
    formatDuration: (ms: number) => string;
    formatAge: (ms: number) => string;
    formatInterval: (ms: number) => string;
    reasonText: (t: { up: boolean | null; result: string | null; reason: string | null }) => string;
  };
  const samples = [
    NaN,
    Infinity,
    0,
    0.0123,
    1.25,
    5,
    9.94,
    9.96,
    10,
    250,
    999.4,
    999.6,
    1000,
    1499,
    1500,
    9994,
    9996,
    10_000,
    30_000,
    59_400,
    59_949,
    59_951,
    60_000,
    61_000,
    90_000,
    245_000,
    3_599_999,
    3_600_000,
    7_200_000,
    7_800_000,
    90_000_000,
  ];
  await t.step("formatDuration, formatAge, formatInterval", () => {
    for (const ms of samples) {
      assert.equal(js.formatDuration(ms), formatDuration(ms), `formatDuration(${ms})`);
      assert.equal(js.formatAge(ms), formatAge(ms), `formatAge(${ms})`);
      if (Number.isFinite(ms)) {
        assert.equal(js.formatInterval(ms), formatInterval(ms), `formatInterval(${ms})`);
      }
    }
  });
  await t.step("the reason of a row, from the API's fields", () => {
    const cases: [ProbeResult, string][] = [
      [failed("connect", 0, "Connection refused (os error 111)"), "connect: Connection refused"],
      [failed("timeout", 0, "timeout after 250ms waiting for a response"), "timeout after"],
      [failed("status", 503, "status 503 not in 200"), "status 503"],
      [failed("error", 0, ""), "error"],
      [failed("tls", 0, "tlsfoo: x"), "tls: tlsfoo"],
      [up(3), ""],
    ];
    for (const [result, start] of cases) {
      const store = storeWith(`targets: ["http://a.test/"]`, { 0: [result, NOW] });
      const html = renderStatusPage(store.states, { now: NOW });
      const serverText = /<td class="reason[^"]*" data-label="Why">(.*?)<\/td>/.exec(html)![1]!;
      const api = apiTarget(store.states[0]!);
      const clientText = js.reasonText(api);
      assert.equal(escapeHtml(clientText), serverText, result.reason);
      assert.ok(clientText.startsWith(start), clientText);
    }
  });
});

Deno.test("the status page's script renders rows with textContent only", () => {
  const script = /<script>([\s\S]*?)<\/script>/.exec(renderStatusPage([]))![1]!;
  for (
    const sink of ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "DOMParser"]
  ) {
    assert.ok(!script.includes(sink), `the script uses ${sink}`);
  }
  assert.match(script, /fetch\("api\/v1\/targets"/, "it refreshes from the JSON API, relatively");
  // The no-script fallback stays.
  assert.match(renderStatusPage([]), /<noscript><meta http-equiv="refresh"/);
});

Deno.test("status page notices: demo targets, a failed reload", async (t) => {
  const store = storeWith("targets: [https://a.example/]");
  await t.step("neither: both notices are in the page, hidden", () => {
    const html = renderStatusPage(store.states, { now: NOW });
    assert.match(html, /<p id="demo" class="info" hidden>/);
    assert.match(html, /<div id="reload" class="notice" role="alert" hidden>/);
  });
  await t.step("demo targets: says so and how to set your own", () => {
    const html = renderStatusPage(store.states, { now: NOW, status: { demoTargets: true } });
    assert.match(
      html,
      /<p id="demo" class="info">These are the two demo targets: set your own with <code>--target URL<\/code> or a config file\.<\/p>/,
    );
  });
  await t.step("a failed reload: when, why (escaped), and that the old config runs", () => {
    const html = renderStatusPage(store.states, {
      now: NOW,
      status: {
        demoTargets: false,
        reloadFailure: { at: NOW - 5000, message: "Cannot load config: '<script>x</script>'" },
      },
    });
    assert.ok(
      html.includes(
        '<div id="reload" class="notice" role="alert"><strong>Config reload failed</strong> at ' +
          '<time id="reload-at" datetime="2025-01-02T03:04:00.000Z">2025-01-02 03:04:00 UTC</time>; ' +
          "the previous config is still running." +
          '<pre id="reload-why">Cannot load config: &#39;&lt;script&gt;x&lt;/script&gt;&#39;</pre></div>',
      ),
    );
    assert.doesNotMatch(html, /<script>x/);
  });
});
