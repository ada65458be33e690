/**
 * Tests of lib/config/target.ts: one target resolved on its own, with the
 * shared context that buildConfig passes (validate_test.ts covers the same
 * rules through whole files and their exact messages).
 */

import assert from "node:assert/strict";
import { Problems } from "../../lib/config/problems.ts";
import { type ConfigOverrides, LIMITS, type TargetConfig } from "../../lib/config/schema.ts";
import { resolveTarget } from "../../lib/config/target.ts";

interface Resolved {
  target: TargetConfig | undefined;
  problems: string[];
  secrets: Set<string>;
}

function resolve(
  raw: unknown,
  options: {
    defaults?: Record<string, unknown>;
    overrides?: ConfigOverrides;
    env?: Record<string, string>;
  } = {},
): Resolved {
  const problems = new Problems(() => undefined);
  const secrets = new Set<string>();
  const target = resolveTarget(raw, {
    path: ["targets", 0],
    defaults: options.defaults ?? {},
    overrides: options.overrides ?? {},
    env: options.env ?? {},
    secrets,
    problems,
  });
  return { target, problems: problems.list, secrets };
}

/** Resolves a target that must have no problem. */
function resolved(raw: unknown, options: Parameters<typeof resolve>[1] = {}): TargetConfig {
  const { target, problems } = resolve(raw, options);
  assert.deepEqual(problems, []);
  assert.ok(target, "no target");
  return target;
}

Deno.test("resolveTarget: shape", async (t) => {
  await t.step("a bare URL string is a target with every default", () => {
    const target = resolved("https://a.example");
    assert.equal(target.url, "https://a.example/");
    assert.equal(target.intervalMs, 10_000);
    assert.equal(target.timeoutMs, 5_000);
    assert.equal(target.method, "GET");
    assert.equal(target.validStatusCodes.source, "200");
    assert.deepEqual(target.headers, {});
    assert.deepEqual(target.labels, {});
  });
  await t.step("anything else that is not a mapping is a problem at the target's path", () => {
    for (const raw of [42, null, ["https://a.example/"]]) {
      const { target, problems } = resolve(raw);
      assert.equal(target, undefined);
      assert.deepEqual(problems, ["'targets[0]': must be a mapping with at least 'url'"]);
    }
  });
  await t.step("an unknown key is reported, but the target still resolves", () => {
    // buildConfig throws on any problem; the target is only kept for the duplicate check.
    const { target, problems } = resolve({ url: "https://a.example/", intervall: "1s" });
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^'targets\[0\]\.intervall': unknown key \(allowed: url, /);
    assert.ok(target);
  });
  await t.step("a problem in any section drops the target", () => {
    const bad: Record<string, unknown>[] = [
      { url: "ftp://a.example/" },
      { url: "https://a.example/", interval: "soon" },
      { url: "https://a.example/", method: "FETCH" },
      { url: "https://a.example/", headers: { "Bad Header": "x" } },
      { url: "https://a.example/", basic_auth: "user" },
      { url: "https://a.example/", valid_status_codes: "6xx" },
      { url: "https://a.example/", body_regex: "(" },
      { url: "https://a.example/", max_redirects: -1 },
      { url: "https://a.example/", tls_ca_file: 1 },
      { url: "https://a.example/", labels: { le: "x" } },
    ];
    for (const raw of bad) {
      const { target, problems } = resolve(raw);
      assert.equal(problems.length, 1, JSON.stringify(raw));
      assert.equal(target, undefined, JSON.stringify(raw));
    }
  });
});

Deno.test("resolveTarget: defaults, then the target's own", async (t) => {
  await t.step("a setting the target leaves out comes from defaults", () => {
    const target = resolved("https://a.example/", {
      defaults: { interval: "30s", method: "post", body: "x", follow_redirects: false },
    });
    assert.equal(target.intervalMs, 30_000);
    assert.equal(target.method, "POST");
    assert.equal(target.body, "x");
    assert.equal(target.followRedirects, false);
  });
  await t.step("headers merge by lower-case name; the target wins", () => {
    const target = resolved(
      { url: "https://a.example/", headers: { "x-a": "target", "X-C": 3 } },
      { defaults: { headers: { "X-A": "default", "X-B": "default" } } },
    );
    assert.deepEqual(target.headers, { "x-a": "target", "x-b": "default", "x-c": "3" });
  });
  await t.step("labels merge by name; the target wins", () => {
    const target = resolved(
      { url: "https://a.example/", labels: { team: "api", tier: 1 } },
      { defaults: { labels: { team: "web", env: "prod" } } },
    );
    assert.deepEqual(target.labels, { team: "api", env: "prod", tier: "1" });
  });
  await t.step("the defaults' problems come first, then the target's", () => {
    const { problems } = resolve(
      { url: "https://a.example/", headers: "not a mapping", labels: ["x"] },
      { defaults: { headers: { "Bad Header": "x" }, labels: "nope" } },
    );
    assert.deepEqual(problems, [
      "'defaults.headers.Bad Header': is not a valid header name",
      "'targets[0].headers': must be a mapping of header name to value",
      "'defaults.labels': must be a mapping of label name to value",
      "'targets[0].labels': must be a mapping of label name to value",
    ]);
  });
  await t.step("a bad default is blamed on defaults", () => {
    const { problems } = resolve("https://a.example/", {
      defaults: { valid_status_codes: [], body_limit: "lots" },
    });
    assert.deepEqual(problems, [
      "'defaults.valid_status_codes': must list at least one status code",
      "'defaults.body_limit': 'lots' is not a size (use e.g. 64KiB, 1MiB, or bytes)",
    ]);
  });
});

Deno.test("resolveTarget: timing", async (t) => {
  await t.step("overrides beat defaults, not the target's own", () => {
    const overrides = { intervalMs: 60_000, timeoutMs: 7_000 };
    const fromOverride = resolved("https://a.example/", {
      defaults: { interval: "5s" },
      overrides,
    });
    assert.deepEqual([fromOverride.intervalMs, fromOverride.timeoutMs], [60_000, 7_000]);
    const own = resolved({ url: "https://a.example/", interval: "2m", timeout: "20s" }, {
      overrides,
    });
    assert.deepEqual([own.intervalMs, own.timeoutMs], [120_000, 20_000]);
  });
  await t.step("without a timeout anywhere, the built-in one shrinks to the interval", () => {
    const target = resolved({ url: "https://a.example/", interval: "2s" });
    assert.equal(target.timeoutMs, 2_000);
  });
  await t.step("a too-long override timeout is blamed on the variable it came from", () => {
    const { problems } = resolve("https://a.example/", {
      overrides: { timeoutMs: 20_000, sources: { timeoutMs: "UPTIME_EXPORTER_TIMEOUT" } },
    });
    assert.deepEqual(problems, [
      "'UPTIME_EXPORTER_TIMEOUT': 20s is longer than the interval, 10s (the default; set '--check.interval' or 'defaults.interval'); a timeout must not exceed the interval",
    ]);
  });
});

Deno.test("resolveTarget: auth and secrets", async (t) => {
  await t.step("basic_auth replaces an Authorization header and the URL's credentials", () => {
    const { target, secrets } = resolve({
      url: "https://u:urlpass@a.example/",
      headers: { Authorization: "Bearer x" },
      basic_auth: { username: "b", password: "${PW}" },
    }, { env: { PW: "bpass" } });
    assert.ok(target);
    const token = btoa("b:bpass");
    assert.equal(target.headers.authorization, `Basic ${token}`);
    assert.equal(target.url, "https://a.example/");
    assert.deepEqual([...secrets].sort(), ["bpass", token, "urlpass"].sort());
  });
  await t.step("credential headers: the well-known names and every ${VAR} header, sorted", () => {
    const target = resolved({
      url: "https://a.example/",
      headers: { "X-Key": "${KEY}", Cookie: "c=1", "X-Plain": "p", "Proxy-Authorization": "x" },
    }, { env: { KEY: "k" } });
    assert.deepEqual(target.credentialHeaders, ["cookie", "proxy-authorization", "x-key"]);
  });
  await t.step("a ${VAR} problem is at the field that uses it", () => {
    const { target, problems } = resolve({
      url: "https://a.example/",
      method: "POST",
      body: "${BODY}",
      basic_auth: { username: "${USER}" },
    });
    assert.equal(target, undefined);
    assert.deepEqual(problems, [
      "'targets[0].body': environment variable BODY is not set",
      "'targets[0].basic_auth.username': environment variable USER is not set",
    ]);
  });
});

Deno.test("resolveTarget: the key is the resolved target, not how it was written", () => {
  const short = resolved("https://a.example");
  const long = resolved(
    { url: "https://a.example/", interval: "10s", valid_status_codes: 200 },
    { defaults: { method: "get" } },
  );
  assert.equal(short.key, long.key);
  assert.notEqual(short.key, resolved({ url: "https://a.example/", body_regex: "ok" }).key);
});

Deno.test("resolveTarget: values that could never work are refused at load", async (t) => {
  await t.step("the fragment is never sent: stripped from the fetched and the shown URL", () => {
    const target = resolved("https://user:pw@a.example/page?q=1#section");
    assert.equal(target.url, "https://a.example/page?q=1");
    assert.equal(target.displayUrl, "https://user:***@a.example/page?q=1");
    assert.equal(resolved("https://a.example/#a").key, resolved("https://a.example/#b").key);
  });
  await t.step("a URL longer than fetch accepts, with the limit", () => {
    const base = "https://a.example/";
    const atLimit = base + "a".repeat(LIMITS.maxUrlLength - base.length);
    assert.equal(resolved(atLimit).url.length, 65_534);
    // Credentials are not fetched, so they do not count.
    assert.equal(resolved(atLimit.replace("https://", "https://u:p@")).url, atLimit);
    const { target, problems } = resolve(`${atLimit}a`);
    assert.equal(target, undefined);
    assert.deepEqual(problems, [
      "'targets[0].url': is 65535 characters long; the HTTP client accepts at most 65534",
    ]);
  });
  await t.step("a body_regex longer than the limit, before compiling it", () => {
    const { problems } = resolve({ url: "https://a.example/", body_regex: "a".repeat(4097) });
    assert.deepEqual(problems, [
      "'targets[0].body_regex': is 4097 characters long; at most 4096 are allowed",
    ]);
    // At the length limit, a list of words is still a small program.
    const words = Array.from({ length: 1000 }, (_, i) => `w${i}`).join("|").slice(0, 4096);
    assert.equal(words.length, 4096);
    resolved({ url: "https://a.example/", body_regex: words });
  });
  await t.step("a label value longer than the limit", () => {
    const runbook = `https://wiki.example/${"r".repeat(1003)}`;
    assert.equal(runbook.length, 1024);
    assert.equal(
      resolved({ url: "https://a.example/", labels: { runbook } }).labels.runbook,
      runbook,
    );
    const { problems } = resolve({ url: "https://a.example/", labels: { big: "x".repeat(5e6) } });
    assert.deepEqual(problems, [
      "'targets[0].labels.big': is 5000000 characters long; a label value may have at most 1024 (it is repeated in every series of the target)",
    ]);
  });
});
