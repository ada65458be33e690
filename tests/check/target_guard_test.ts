/**
 * The SSRF guard: allow-list entries (names, wildcards, CIDRs, schemes,
 * ports), the refused-unless-named ranges, and names resolved by a real DNS
 * server (dnsmasq on a loopback port) whose answers point into them.
 */

import assert from "node:assert/strict";
import {
  type AllowList,
  parseAllowList,
  parseAllowRule,
  SENSITIVE_RANGES,
  sensitiveRangesOf,
  TargetGuard,
} from "../../lib/check/target_guard.ts";
import { startDnsServer } from "../_helpers/dns_server.ts";

function list(...entries: string[]): AllowList {
  const parsed = parseAllowList(entries);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
  return parsed.value;
}

/** A guard that must not ask any DNS server (names would fail the test). */
function literalGuard(...entries: string[]): TargetGuard {
  return new TargetGuard(list(...entries), { hostsFile: "" });
}

async function verdict(guard: TargetGuard, url: string) {
  const v = await guard.check(new URL(url));
  return v.ok ? "ok" : v.error.kind === "refused" ? v.error.reason : `unresolved`;
}

Deno.test("parseAllowRule: the forms of an entry", async (t) => {
  await t.step("names, wildcards, schemes and ports", () => {
    assert.deepEqual(parseAllowRule("Example.COM"), {
      ok: true,
      value: { source: "Example.COM", scheme: undefined, port: undefined, name: "example.com" },
    });
    const wild = parseAllowRule("https://*.example.com:8443");
    assert.ok(wild.ok);
    assert.equal(wild.value.name, ".example.com");
    assert.equal(wild.value.scheme, "https:");
    assert.equal(wild.value.port, 8443);
    const dot = parseAllowRule("example.com.");
    assert.ok(dot.ok);
    assert.equal(dot.value.name, "example.com");
  });
  await t.step("IPv4 and IPv6 addresses and CIDRs, ports after brackets", () => {
    const ranges = ["10.0.0.0/8", "192.0.2.1", "fd00::/8", "::1", "[2001:db8::1]:443"];
    const withPort = parseAllowRule("[fd00::/8]:9100");
    assert.ok(withPort.ok && withPort.value.cidr && withPort.value.port === 9100);
    const parsed = ranges.map((entry) => parseAllowRule(entry));
    assert.deepEqual(parsed.map((r) => r.ok && r.value.cidr !== undefined), ranges.map(() => true));
    const port = parseAllowRule("http://127.0.0.1:8080");
    assert.ok(port.ok);
    assert.equal(port.value.port, 8080);
    assert.equal(port.value.scheme, "http:");
  });
  await t.step("bad entries say why", () => {
    const bad: [unknown, string][] = [
      ["", "must be a host name, *.domain, IP address or CIDR (a string)"],
      [42, "must be a host name, *.domain, IP address or CIDR (a string)"],
      ["ftp://example.com", "scheme 'ftp' is not supported (use http or https)"],
      ["example.com:http", "'http' is not a port"],
      ["example.com:0", "port 0 is out of range"],
      ["10.0.0.0/33", "'10.0.0.0/33' is not an IP address or CIDR"],
      ["300.1.1.1", "'300.1.1.1' is not an IP address or CIDR"],
      ["example.com/path", "an entry names a host, not a path"],
      ["*", "'*' alone is not allowed: list domains (*.example.com) or CIDRs (0.0.0.0/0)"],
      ["a.*.example.com", "'a.*.example.com' is not a host name or *.domain"],
      ["exa mple.com", "'exa mple.com' is not a host name or *.domain"],
    ];
    for (const [entry, message] of bad) {
      assert.deepEqual(parseAllowRule(entry), { ok: false, error: message });
    }
  });
});

Deno.test("sensitive ranges: one constant, each parsed, metadata inside link-local", () => {
  for (const s of SENSITIVE_RANGES) assert.ok(parseAllowRule(s.cidr).ok, s.cidr);
  assert.deepEqual(sensitiveRangesOf("169.254.169.254")?.map((s) => s.reason), [
    "metadata",
    "link_local",
  ]);
  assert.deepEqual(sensitiveRangesOf("::ffff:169.254.169.254")?.map((s) => s.reason), [
    "metadata",
    "link_local",
  ]);
  assert.deepEqual(sensitiveRangesOf("fd00:ec2::254")?.map((s) => s.reason), ["metadata"]);
  assert.deepEqual(sensitiveRangesOf("fe80::1")?.map((s) => s.reason), ["link_local"]);
  assert.deepEqual(sensitiveRangesOf("0.0.0.0")?.map((s) => s.reason), ["unspecified"]);
  assert.deepEqual(sensitiveRangesOf("127.0.0.1"), []);
  assert.equal(sensitiveRangesOf("not an ip"), undefined);
});

Deno.test("TargetGuard: IP-literal targets, no DNS", async (t) => {
  await t.step("allowed by CIDR, with scheme and port rules", async () => {
    const guard = literalGuard("127.0.0.0/8", "https://[::1]:8443");
    assert.equal(await verdict(guard, "http://127.0.0.1:9/"), "ok");
    assert.equal(await verdict(guard, "http://127.1.2.3/"), "ok");
    assert.equal(await verdict(guard, "https://[::1]:8443/"), "ok");
    assert.equal(await verdict(guard, "http://[::1]:8443/"), "not_allowed", "scheme must match");
    assert.equal(await verdict(guard, "https://[::1]:8444/"), "not_allowed", "port must match");
    const port = literalGuard("127.0.0.1:443");
    assert.equal(await verdict(port, "https://127.0.0.1/"), "ok", "the default port counts");
    assert.equal(await verdict(port, "http://127.0.0.1/"), "not_allowed");
  });
  await t.step("refused by CIDR: outside every entry", async () => {
    const guard = literalGuard("127.0.0.0/8");
    const v = await guard.check(new URL("http://10.1.2.3:8080/x?secret=1"));
    assert.deepEqual(v, {
      ok: false,
      error: {
        kind: "refused",
        reason: "not_allowed",
        message: "http://10.1.2.3:8080 is not in probe.allowed_targets",
      },
    });
  });
  await t.step("the metadata and link-local ranges need an entry naming them", async () => {
    const broad = literalGuard("0.0.0.0/0", "::/0");
    assert.equal(await verdict(broad, "http://169.254.169.254/latest/meta-data/"), "metadata");
    assert.equal(await verdict(broad, "http://[fd00:ec2::254]/"), "metadata");
    assert.equal(await verdict(broad, "http://100.100.100.200/"), "metadata");
    assert.equal(await verdict(broad, "http://169.254.10.1/"), "link_local");
    assert.equal(await verdict(broad, "http://[fe80::1]/"), "link_local");
    assert.equal(await verdict(broad, "http://0.0.0.0:8080/"), "unspecified");
    assert.equal(await verdict(broad, "http://[::]:8080/"), "unspecified");
    // The WHATWG URL parser's other spellings of the metadata address are the same address.
    assert.equal(await verdict(broad, "http://2852039166/"), "metadata");
    assert.equal(await verdict(broad, "http://0xa9.0xfe.0xa9.0xfe/"), "metadata");
    assert.equal(await verdict(broad, "http://[::ffff:169.254.169.254]/"), "metadata");
    const v = await broad.check(new URL("http://169.254.169.254/"));
    assert.ok(!v.ok && v.error.kind === "refused");
    assert.equal(
      v.error.message,
      "http://169.254.169.254 is a cloud metadata address: refused unless " +
        "probe.allowed_targets names 169.254.169.254/32 itself",
    );
  });
  await t.step("allowing link-local does not open the metadata address", async () => {
    const guard = literalGuard("169.254.0.0/16");
    assert.equal(await verdict(guard, "http://169.254.10.1/"), "ok");
    assert.equal(await verdict(guard, "http://169.254.169.254/"), "metadata");
    const named = literalGuard("169.254.169.254/32");
    assert.equal(await verdict(named, "http://169.254.169.254/"), "ok");
    assert.equal(await verdict(named, "http://169.254.10.1/"), "link_local");
  });
  await t.step("a name entry never covers an IP-literal target", async () => {
    const guard = literalGuard("example.com");
    assert.equal(await verdict(guard, "http://127.0.0.1/"), "not_allowed");
  });
});

Deno.test("TargetGuard: names, resolved by a real DNS server (dnsmasq)", async (t) => {
  await using dns = await startDnsServer({
    "good.test": ["127.0.0.1"],
    "six.test": ["::1"],
    "evil.test": ["169.254.169.254"],
    "mixed.test": ["127.0.0.1", "169.254.169.254"],
    "far.test": ["10.9.8.7"],
    "a.svc.test": ["127.0.0.2"],
  });
  const hosts = await Deno.makeTempFile({ prefix: "guard-hosts-" });
  await Deno.writeTextFile(
    hosts,
    "# test hosts file\n127.0.0.3 fromhosts.test\n169.254.169.254 badhosts.test\n",
  );
  try {
    const guard = (...entries: string[]) =>
      new TargetGuard(list(...entries), { nameServer: dns.nameServer, hostsFile: hosts });
    await t.step("allowed by name: every address is checked and returned", async () => {
      const v = await guard("good.test", "six.test").check(new URL("http://good.test:8080/"));
      assert.deepEqual(v, { ok: true, value: { addresses: ["127.0.0.1"], rule: "good.test" } });
      const six = await guard("six.test").check(new URL("http://six.test/"));
      assert.ok(six.ok);
      assert.deepEqual(six.value.addresses, ["::1"]);
    });
    await t.step("allowed by wildcard, not the apex; refused by name", async () => {
      const g = guard("*.svc.test");
      assert.equal(await verdict(g, "http://a.svc.test/"), "ok");
      assert.equal(await verdict(g, "http://good.test/"), "not_allowed");
      assert.equal(await verdict(g, "http://svc.test/"), "not_allowed");
      assert.equal(await verdict(g, "http://xsvc.test/"), "not_allowed");
    });
    await t.step("refused before any DNS query when nothing could allow it", async () => {
      const before = dns.log.split("query[").length;
      assert.equal(await verdict(guard("good.test"), "http://never-asked.test/"), "not_allowed");
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(dns.log.split("query[").length, before, dns.log);
    });
    await t.step("an allowed name that resolves into a refused range is refused", async () => {
      const v = await guard("*.test").check(new URL("http://evil.test/"));
      assert.deepEqual(v, {
        ok: false,
        error: {
          kind: "refused",
          reason: "metadata",
          message: "http://evil.test resolves to 169.254.169.254, which is a cloud metadata " +
            "address: refused unless probe.allowed_targets names 169.254.169.254/32 itself",
        },
      });
      assert.equal(await verdict(guard("*.test", "0.0.0.0/0"), "http://evil.test/"), "metadata");
    });
    await t.step("every address must pass: one bad address refuses the name", async () => {
      assert.equal(await verdict(guard("mixed.test"), "http://mixed.test/"), "metadata");
      assert.equal(await verdict(guard("127.0.0.0/8"), "http://mixed.test/"), "metadata");
    });
    await t.step("a name is allowed by CIDR when all its addresses are in it", async () => {
      assert.equal(await verdict(guard("127.0.0.0/8"), "http://good.test/"), "ok");
      assert.equal(await verdict(guard("127.0.0.0/8"), "http://far.test/"), "not_allowed");
      const far = await guard("127.0.0.0/8").check(new URL("http://far.test/"));
      assert.ok(!far.ok);
      assert.equal(
        far.error.message,
        "http://far.test resolves to 10.9.8.7, which is not in probe.allowed_targets",
      );
    });
    await t.step("the hosts file counts, as for the system resolver fetch uses", async () => {
      const v = await guard("127.0.0.0/8").check(new URL("http://fromhosts.test/"));
      assert.deepEqual(v, { ok: true, value: { addresses: ["127.0.0.3"], rule: "127.0.0.0/8" } });
      assert.equal(await verdict(guard("badhosts.test"), "http://badhosts.test/"), "metadata");
    });
    await t.step("localhost is the loopback addresses without asking DNS", async () => {
      const v = await guard("localhost").check(new URL("http://localhost:1/"));
      assert.ok(v.ok);
      assert.deepEqual(v.value.addresses.slice(0, 2), ["127.0.0.1", "::1"]);
    });
    await t.step("a name without records is unresolved, not refused", async () => {
      const v = await guard("*.test").check(new URL("http://nx.test/"));
      assert.deepEqual(v, {
        ok: false,
        error: { kind: "unresolved", message: "nx.test has no A or AAAA record" },
      });
    });
  } finally {
    await Deno.remove(hosts);
  }
});
