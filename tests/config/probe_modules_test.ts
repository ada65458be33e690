/**
 * lib/config/probe_modules.ts: blackbox_exporter module files and the
 * `probe:` section of the config file. Bad files (tests/fixtures/probe/bad_*)
 * fail with their exact error text; every supported key resolves to what
 * the check uses; docs/migrating.md's key table lists exactly the supported and
 * refused keys; `--probe.modules-file` is read at load and on reload.
 */

import { statusAccepted } from "../../lib/config/status_codes.ts";
import { compiledPattern } from "../../lib/check/body_match.ts";
import assert from "node:assert/strict";
import { parseCli } from "../../lib/config/cli.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { ConfigError } from "../../lib/config/problems.ts";
import {
  MODULE_KEYS,
  PROBE_DISABLED,
  type ProbeModule,
  REFUSED_MODULE_KEYS,
} from "../../lib/config/probe_modules.ts";
import type { Config } from "../../lib/config/schema.ts";
import { buildConfig } from "../../lib/config/validate.ts";
import { ROOT } from "../_helpers/exporter.ts";

const FIXTURES = `${ROOT}/tests/fixtures/probe/`;
/** /probe alone: no background targets (`targets: []`, which a config file must say). */
const ENABLED = "targets: []\nprobe:\n  enabled: true\n  allowed_targets: [127.0.0.0/8]\n";

function fixture(name: string): string {
  return Deno.readTextFileSync(FIXTURES + name);
}

/** Builds a config from our file's text and a module file's. */
function build(config: string | undefined, modules?: { name: string; text?: string }): Config {
  return buildConfig(config, {}, {
    env: {},
    fileName: "config.yaml",
    probeModules: modules &&
      { text: modules.text ?? fixture(modules.name), fileName: modules.name },
  });
}

function moduleOf(config: Config, name: string): ProbeModule {
  const m = config.probe?.modules.get(name);
  assert.ok(m, `no module ${name}`);
  return m;
}

const HTTP_KEYS = "valid_status_codes, method, headers, body, body_file, follow_redirects, " +
  "no_follow_redirects, fail_if_ssl, fail_if_not_ssl, fail_if_body_matches_regexp, " +
  "fail_if_body_not_matches_regexp, body_size_limit, basic_auth, bearer_token, " +
  "bearer_token_file, authorization, preferred_ip_protocol, ip_protocol_fallback, enable_http2, " +
  "skip_resolve_phase_with_proxy, tls_config";
const ONLY_HTTP = "is not supported: only the http prober is supported";
const NOT_HTTP = (p: string) =>
  `prober '${p}' is not supported: only http is (not icmp, tcp, dns, grpc)`;

/** Every bad fixture and the exact message it fails with (module files go with ENABLED). */
const BAD: Record<string, string> = {
  "bad_probers.yml": "Cannot load config: 7 problems:\n" +
    `  bad_probers.yml: 'modules.icmp_ping.prober' (line 4): ${NOT_HTTP("icmp")}\n` +
    `  bad_probers.yml: 'modules.tcp_connect.prober' (line 6): ${NOT_HTTP("tcp")}\n` +
    `  bad_probers.yml: 'modules.tcp_connect.tcp' (line 7): ${ONLY_HTTP}\n` +
    `  bad_probers.yml: 'modules.dns_lookup.prober' (line 10): ${NOT_HTTP("dns")}\n` +
    `  bad_probers.yml: 'modules.dns_lookup.dns' (line 11): ${ONLY_HTTP}\n` +
    `  bad_probers.yml: 'modules.grpc_health.prober' (line 14): ${NOT_HTTP("grpc")}\n` +
    "  bad_probers.yml: 'modules.no_prober.prober' (line 15): is required (prober: http)",
  "bad_http_keys.yml": "Cannot load config: 11 problems:\n" +
    "  bad_http_keys.yml: 'modules.http_exotic.http.valid_http_versions' (line 6): is not supported: fetch does not tell which HTTP version answered\n" +
    "  bad_http_keys.yml: 'modules.http_exotic.http.compression' (line 7): is not supported: fetch decompresses bodies itself and cannot be told to expect one coding\n" +
    "  bad_http_keys.yml: 'modules.http_exotic.http.fail_if_header_not_matches' (line 8): is not supported: header matchers are not implemented\n" +
    "  bad_http_keys.yml: 'modules.http_exotic.http.proxy_url' (line 11): is not supported: proxies are not supported (the SSRF guard checks the target)\n" +
    "  bad_http_keys.yml: 'modules.http_exotic.http.oauth2' (line 12): is not supported: OAuth 2.0 client credentials are not implemented\n" +
    "  bad_http_keys.yml: 'modules.http_exotic.http.enable_http2' (line 14): enable_http2: false is not supported: fetch negotiates HTTP/2 itself\n" +
    "  bad_http_keys.yml: 'modules.http_exotic.http.tls_config.insecure_skip_verify' (line 16): insecure_skip_verify: true is not supported: fetch always verifies certificates\n" +
    "  bad_http_keys.yml: 'modules.http_exotic.http.tls_config.server_name' (line 17): is not supported: fetch cannot set the TLS server name\n" +
    "  bad_http_keys.yml: 'modules.http_exotic.http.tls_config.cert_file' (line 18): is not supported: client certificates are not implemented\n" +
    "  bad_http_keys.yml: 'modules.http_exotic.http.headers.Host' (line 20): is not supported: fetch cannot set the Host header\n" +
    `  bad_http_keys.yml: 'modules.http_exotic.http.valid_status_code' (line 21): unknown key (supported: ${HTTP_KEYS})`,
  "bad_http_values.yml": "Cannot load config: 12 problems:\n" +
    "  bad_http_values.yml: 'modules.http_values.timeout' (line 5): 5 has no unit: write e.g. 5s (blackbox would read a bare number as nanoseconds)\n" +
    "  bad_http_values.yml: 'modules.http_values.http.method' (line 7): 'FETCH' is not a supported method (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS)\n" +
    "  bad_http_values.yml: 'modules.http_values.http.valid_status_codes[1]' (line 8): '700' is not a status code, class (2xx) or range (200-299)\n" +
    "  bad_http_values.yml: 'modules.http_values.http.fail_if_body_matches_regexp[0]' (line 9): is not a valid RE2 regular expression: missing closing ): `(unclosed` (RE2 has no lookaround or backreferences; syntax: https://github.com/google/re2/wiki/Syntax)\n" +
    "  bad_http_values.yml: 'modules.http_values.http.fail_if_body_not_matches_regexp' (line 10): must be a list of regular expressions\n" +
    "  bad_http_values.yml: 'modules.http_values.http.body_size_limit' (line 11): '10XB' is not a size (e.g. 10MB, 512KiB, or bytes)\n" +
    "  bad_http_values.yml: 'modules.http_values.http.preferred_ip_protocol' (line 12): 'ip5' is not ip4 or ip6\n" +
    "  bad_http_values.yml: 'modules.http_values.http.follow_redirects' (line 13): must be true or false\n" +
    "  bad_http_values.yml: 'modules.http_get_body.timeout' (line 16): '1m30x' is not a duration (e.g. 5s, 1m30s, 500ms)\n" +
    "  bad_http_values.yml: 'modules.http_get_body.http.body' (line 18): a GET request cannot have a body (fetch refuses it)\n" +
    "  bad_http_values.yml: 'modules.http_two_auths.http.bearer_token' (line 25): set at most one of basic_auth, bearer_token\n" +
    "  bad_http_values.yml: 'modules.http_missing_file.http.bearer_token_file' (line 29): cannot read /nonexistent/uptime-exporter-test-token: No such file or directory (os error 2): stat '/nonexistent/uptime-exporter-test-token'",
  "bad_top_level.yml":
    "Cannot load config: bad_top_level.yml: 'module' (line 4): unknown key (allowed: modules)",
  "bad_yaml.yml":
    "Cannot load config: bad_yaml.yml:3:13: invalid YAML: Nested mappings are not allowed in compact mappings",
  "bad_probe_section.yaml": "Cannot load config: 4 problems:\n" +
    "  'probe.allowed_targets[1]' (line 7): '10.0.0.0/33' is not an IP address or CIDR\n" +
    "  'probe.allowed_targets[2]' (line 8): scheme 'ftp' is not supported (use http or https)\n" +
    "  'probe.modules.http_2xx' (line 10): module 'http_2xx' is also defined in good_blackbox.yml\n" +
    "  'probe.mode' (line 16): unknown key (allowed: enabled, allowed_targets, modules)",
  "bad_probe_enabled_empty.yaml":
    "Cannot load config: 'probe.allowed_targets' (line 2): must list at least one entry when probe.enabled is true (every target would be refused)",
};

Deno.test("bad module files and probe sections fail with their exact error", async (t) => {
  for (const [name, expected] of Object.entries(BAD)) {
    await t.step(name, () => {
      const load = () =>
        name.endsWith(".yaml")
          ? build(fixture(name), { name: "good_blackbox.yml" })
          : build(ENABLED, { name });
      assert.throws(load, (e: Error) => e instanceof ConfigError && e.message === expected);
    });
  }
});

Deno.test("every bad probe fixture is covered", () => {
  const onDisk = [...Deno.readDirSync(FIXTURES)].map((e) => e.name).filter((n) =>
    n.startsWith("bad_")
  );
  assert.deepEqual(onDisk.sort(), Object.keys(BAD).sort());
});

Deno.test("the probe section: off unless enabled, modules from both places", async (t) => {
  await t.step("no probe section: disabled, no modules", () => {
    const config = build("targets: [http://127.0.0.1:1/]\n");
    assert.equal(config.probe?.enabled, false);
    assert.equal(config.probe?.modules.size, 0);
    assert.equal(PROBE_DISABLED.enabled, false);
  });
  await t.step("a module file alone does not enable /probe", () => {
    const config = build("targets: [http://127.0.0.1:1/]\n", { name: "good_blackbox.yml" });
    assert.equal(config.probe?.enabled, false);
    assert.equal(config.probe?.modules.size, 6);
  });
  await t.step("enabled with an allow-list; modules of the file and the section together", () => {
    const config = build(
      `${ENABLED}  modules:\n    own_module:\n      prober: http\n      http: {method: HEAD}\n`,
      { name: "good_blackbox.yml" },
    );
    assert.equal(config.probe?.enabled, true);
    assert.deepEqual(config.probe?.allowedTargetsSource, ["127.0.0.0/8"]);
    assert.deepEqual([...config.probe!.modules.keys()].sort(), [
      "http_2xx",
      "http_authorization",
      "http_body",
      "http_no_redirect",
      "http_post_2xx",
      "http_tls",
      "own_module",
    ]);
    assert.equal(moduleOf(config, "own_module").method, "HEAD");
  });
});

Deno.test("every supported module key resolves to what the check uses", async (t) => {
  const config = build(ENABLED, { name: "good_blackbox.yml" });
  await t.step("defaults: 2xx, GET, follow redirects, no timeout, ip6 with fallback", () => {
    const m = moduleOf(config, "http_2xx");
    assert.equal(m.timeoutMs, 5000);
    assert.equal(m.method, "GET");
    assert.equal(m.validStatusCodes.source, "2xx");
    assert.ok(
      statusAccepted(m.validStatusCodes, 204) && !statusAccepted(m.validStatusCodes, 301),
    );
    assert.equal(m.followRedirects, true);
    assert.equal(m.preferredIpProtocol, "ip4");
    assert.equal(m.ipProtocolFallback, true);
    assert.equal(m.bodySizeLimit, 0);
    assert.deepEqual(m.headers, { "accept-encoding": "identity" });
    assert.deepEqual(m.shown, {
      prober: "http",
      timeout: "5s",
      http: { preferred_ip_protocol: "ip4" },
    });
  });
  await t.step("method, headers, body, valid_status_codes; a Go duration", () => {
    const m = moduleOf(config, "http_post_2xx");
    assert.equal(m.timeoutMs, 90_000);
    assert.equal(m.method, "POST");
    assert.equal(m.body, '{"ping": true}');
    assert.deepEqual(m.headers, {
      "content-type": "application/json",
      authorization: "Bearer header-token",
      "accept-encoding": "identity",
    });
    assert.deepEqual(m.credentialHeaders, ["authorization"]);
    assert.equal(m.validStatusCodes.source, "200,201,202");
    assert.ok(config.secrets.includes("Bearer header-token"), "credential headers are secrets");
    assert.equal(
      (m.shown.http as Record<string, Record<string, string>>).headers!.Authorization,
      "<secret>",
    );
  });
  await t.step("no_follow_redirects", () => {
    const m = moduleOf(config, "http_no_redirect");
    assert.equal(m.followRedirects, false);
    assert.equal(m.validStatusCodes.source, "301,302");
  });
  await t.step("tls_config.ca_file, basic_auth, fail_if_not_ssl, enable_http2: true", () => {
    const m = moduleOf(config, "http_tls");
    assert.equal(m.tlsCaFile, "tests/fixtures/tls/ca.pem");
    assert.equal(m.failIfNotSsl, true);
    assert.equal(m.headers.authorization, `Basic ${btoa("monitor:pw-789")}`);
    assert.ok(config.secrets.includes("pw-789"));
    const shown = m.shown.http as Record<string, Record<string, string>>;
    assert.equal(shown.basic_auth!.password, "<secret>");
    assert.equal(shown.basic_auth!.username, "monitor");
  });
  await t.step(
    "body regexes (RE2, as in Go: (?i) is part of the pattern), body_size_limit base 2, fail_if_ssl",
    () => {
      const m = moduleOf(config, "http_body");
      assert.equal(m.timeoutMs, 500);
      assert.deepEqual(m.failIfBodyMatches.map((r) => r.source), ["(?i)maintenance"]);
      assert.deepEqual(m.failIfBodyNotMatches.map((r) => r.source), [
        '"status":\\s*"UP"',
        "version",
      ]);
      assert.ok(
        compiledPattern(m.failIfBodyMatches[0]!.source).test(
          new TextEncoder().encode("Down for MAINTENANCE"),
        ),
      );
      assert.equal(m.bodySizeLimit, 1024);
      assert.equal(m.failIfSsl, true);
      assert.equal(m.followRedirects, false);
      assert.equal(m.preferredIpProtocol, "ip6");
      assert.equal(m.ipProtocolFallback, false);
    },
  );
  await t.step("authorization with its own type", () => {
    const m = moduleOf(config, "http_authorization");
    assert.equal(m.headers.authorization, "Token tok-abc");
    assert.ok(config.secrets.includes("tok-abc"));
  });
  await t.step("*_file keys are read (trimmed), their contents are secrets", async () => {
    const dir = await Deno.makeTempDir({ prefix: "probe-modules-" });
    try {
      await Deno.writeTextFile(`${dir}/pw`, "file-pw\n");
      await Deno.writeTextFile(`${dir}/token`, "file-token\n");
      await Deno.writeTextFile(`${dir}/cred`, "file-cred\n");
      await Deno.writeTextFile(`${dir}/body`, '{"from": "file"}\n');
      const text = `modules:
  a: {prober: http, http: {basic_auth: {username: u, password_file: ${dir}/pw}}}
  b: {prober: http, http: {bearer_token_file: ${dir}/token}}
  c: {prober: http, http: {authorization: {credentials_file: ${dir}/cred}}}
  d: {prober: http, http: {method: POST, body_file: ${dir}/body}}
`;
      const c = build(ENABLED, { name: "files.yml", text });
      assert.equal(moduleOf(c, "a").headers.authorization, `Basic ${btoa("u:file-pw")}`);
      assert.equal(moduleOf(c, "b").headers.authorization, "Bearer file-token");
      assert.equal(moduleOf(c, "c").headers.authorization, "Bearer file-cred");
      assert.equal(moduleOf(c, "d").body, '{"from": "file"}\n', "a body file is sent as it is");
      for (const s of ["file-pw", "file-token", "file-cred"]) assert.ok(c.secrets.includes(s), s);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
  await t.step("sizes and durations as blackbox reads them", () => {
    const text = `modules:
  a: {prober: http, timeout: 1.5s, http: {body_size_limit: 10MB}}
  b: {prober: http, timeout: 250ms, http: {body_size_limit: 2048}}
  c: {prober: http, timeout: 1h2m3s, http: {body_size_limit: 512KiB, valid_status_codes: []}}
`;
    const c = build(ENABLED, { name: "sizes.yml", text });
    assert.deepEqual(
      ["a", "b", "c"].map((n) => [moduleOf(c, n).timeoutMs, moduleOf(c, n).bodySizeLimit]),
      [[1500, 10 * 1024 * 1024], [250, 2048], [3_723_000, 512 * 1024]],
    );
    assert.equal(moduleOf(c, "c").validStatusCodes.source, "2xx", "an empty list is 2xx");
  });
});

Deno.test("docs/migrating.md's module key table is MODULE_KEYS and REFUSED_MODULE_KEYS, row for row", () => {
  const doc = Deno.readTextFileSync(`${ROOT}/docs/migrating.md`);
  const start = doc.indexOf("#### Module keys");
  assert.ok(start > 0, "docs/migrating.md has a 'Module keys' section");
  const section = doc.slice(start, doc.indexOf("\n#### ", start + 1));
  const documented = new Map(
    [...section.matchAll(/^\| `([a-z0-9_.]+)` +\| (.*?) +\|$/gm)].map((m) => [m[1]!, m[2]!]),
  );
  const expected = new Map([
    ...MODULE_KEYS.map(({ key, ours }) => [key, ours] as const),
    ...REFUSED_MODULE_KEYS.map(({ key, why }) => [key, `refused: ${why}`] as const),
  ]);
  assert.deepEqual(documented, expected, "copy the texts of lib/config/probe_modules.ts");
});

Deno.test("--probe.modules-file: flag, variable, read at load and on reload", async (t) => {
  await t.step("the flag and its variable", () => {
    assert.equal(parseCli(["--probe.modules-file", "/x/bb.yml"], {}).probeModulesFile, "/x/bb.yml");
    assert.equal(
      parseCli([], { UPTIME_EXPORTER_PROBE_MODULES_FILE: "/y/bb.yml" }).probeModulesFile,
      "/y/bb.yml",
    );
    assert.equal(
      parseCli(["--probe.modules-file=/x"], { UPTIME_EXPORTER_PROBE_MODULES_FILE: "/y" })
        .probeModulesFile,
      "/x",
    );
    assert.equal(parseCli([], {}).probeModulesFile, undefined);
    assert.throws(
      () => parseCli(["--probe.modules-file", ""], {}),
      (e: Error) => e.message === "Bad flag: '--probe.modules-file': must name a file",
    );
  });
  await t.step("loadConfig reads the file each time; a missing one is a problem", async () => {
    const dir = await Deno.makeTempDir({ prefix: "probe-modules-" });
    try {
      const file = `${dir}/blackbox.yml`;
      await Deno.writeTextFile(file, "modules:\n  one: {prober: http}\n");
      const cli = parseCli(["--probe.modules-file", file], {});
      const first = await loadConfig(cli, { env: {} });
      assert.deepEqual([...first.probe!.modules.keys()], ["one"]);
      await Deno.writeTextFile(file, "modules:\n  two: {prober: http}\n");
      const second = await loadConfig(cli, { env: {} });
      assert.deepEqual([...second.probe!.modules.keys()], ["two"]);
      await Deno.remove(file);
      await assert.rejects(() => loadConfig(cli, { env: {} }), (e: Error) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, new RegExp(`^Cannot load config: ${file}: cannot read the file: `));
        return true;
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
