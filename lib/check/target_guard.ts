/**
 * The SSRF guard of `/probe`: decides whether a URL that a caller asked for
 * may be fetched. A target passes only when an allow-list entry covers it
 * (host names with `*.` wildcards, IPv4/IPv6 CIDRs, optional `scheme://` and
 * `:port`), and the decision is made on the addresses the name resolves to
 * (A and AAAA through `Deno.resolveDns`, plus the hosts file): every address
 * must pass. Link-local, cloud metadata and "this host" addresses
 * ({@linkcode SENSITIVE_RANGES}) are refused unless an entry names that range
 * itself; a broad `0.0.0.0/0` does not.
 *
 * What it cannot do: fetch resolves the name again after this check (it cannot
 * be pinned to an address), so a DNS server that answers differently the
 * second time can still steer the connection (docs/migrating.md: "What the
 * SSRF guard does, and what it cannot do").
 *
 * @module
 */

import { err, ok, type Result } from "../util/result.ts";

/** Why a target was refused (the `reason` label of `uptime_exporter_probe_refused_total`). */
export type RefusalReason = "not_allowed" | "link_local" | "metadata" | "unspecified";

/** A refusal: no request is made to the target. */
export interface Refusal {
  readonly kind: "refused";
  readonly reason: RefusalReason;
  /** One line for the 403 body and the debug account (no credentials). */
  readonly message: string;
}

/** The name did not resolve: not a refusal, the check fails with `dns` as a fetch would. */
export interface Unresolved {
  readonly kind: "unresolved";
  readonly message: string;
}

/** What the guard found for a target it let through. */
export interface Allowed {
  /** Every address the host resolved to (the IP itself for an IP-literal host). */
  readonly addresses: readonly string[];
  /** The entry that let the target through (the first one that covers it), as written. */
  readonly rule: string;
}

/** A range refused unless an allow-list entry names it (or a part of it) itself. */
export interface SensitiveRange {
  readonly cidr: string;
  readonly reason: Exclude<RefusalReason, "not_allowed">;
  /** What lives there. */
  readonly what: string;
}

/**
 * Addresses refused unless explicitly allowed. For a metadata address the
 * entry must name that address (`169.254.169.254/32`): allowing the whole
 * link-local range for some device does not open the metadata service.
 */
export const SENSITIVE_RANGES: readonly SensitiveRange[] = [
  { cidr: "169.254.0.0/16", reason: "link_local", what: "IPv4 link-local (RFC 3927)" },
  { cidr: "fe80::/10", reason: "link_local", what: "IPv6 link-local (RFC 4291)" },
  {
    cidr: "169.254.169.254/32",
    reason: "metadata",
    what: "instance metadata of AWS (IMDS), GCP, Azure (IMDS), OpenStack, DigitalOcean, " +
      "Oracle Cloud, Hetzner, Linode, IBM Cloud, Huawei Cloud",
  },
  { cidr: "169.254.170.2/32", reason: "metadata", what: "AWS ECS task metadata and credentials" },
  { cidr: "169.254.170.23/32", reason: "metadata", what: "AWS EKS Pod Identity agent" },
  { cidr: "fd00:ec2::254/128", reason: "metadata", what: "AWS IMDS over IPv6 (Nitro)" },
  { cidr: "fd00:ec2::23/128", reason: "metadata", what: "AWS EKS Pod Identity agent over IPv6" },
  { cidr: "fd20:ce::254/128", reason: "metadata", what: "GCP metadata server over IPv6" },
  { cidr: "100.100.100.200/32", reason: "metadata", what: "Alibaba Cloud ECS metadata" },
  { cidr: "169.254.0.23/32", reason: "metadata", what: "Tencent Cloud metadata" },
  { cidr: "192.0.0.192/32", reason: "metadata", what: "Oracle Cloud metadata (legacy address)" },
  { cidr: "168.63.129.16/32", reason: "metadata", what: "Azure WireServer (platform agent)" },
  {
    cidr: "0.0.0.0/8",
    reason: "unspecified",
    what: "'this network': a connection to 0.0.0.0 reaches the local host",
  },
  { cidr: "::/128", reason: "unspecified", what: "the IPv6 unspecified address (the local host)" },
];

// ---------------------------------------------------------------- addresses

/** An IP address as a number; IPv4-mapped IPv6 addresses are IPv4. */
interface Ip {
  readonly v: 4 | 6;
  readonly n: bigint;
}

/** An IP range. */
interface Cidr {
  readonly v: 4 | 6;
  readonly base: bigint;
  readonly bits: number;
}

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0n;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return undefined;
    n = (n << 8n) | BigInt(part);
  }
  return n;
}

function parseIpv6(text: string): bigint | undefined {
  let t = text;
  const tail: bigint[] = [];
  if (t.includes(".")) {
    // A trailing dotted quad (`::ffff:1.2.3.4`) is the last two groups.
    const at = t.lastIndexOf(":");
    const v4 = parseIpv4(t.slice(at + 1));
    if (v4 === undefined) return undefined;
    tail.push(v4 >> 16n, v4 & 0xffffn);
    t = t.slice(0, at + 1);
    if (!t.endsWith("::")) t = t.slice(0, -1);
  }
  const halves = t.split("::");
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  const want = 8 - tail.length;
  const given = head.length + rest.length;
  if (halves.length === 1 ? given !== want : given >= want) return undefined;
  const fill = Array(want - given).fill("0");
  const all = [...head, ...fill, ...rest];
  let n = 0n;
  for (const g of all) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
    n = (n << 16n) | BigInt(parseInt(g, 16));
  }
  for (const g of tail) n = (n << 16n) | g;
  return n;
}

const V4_MAPPED = 0xffffn << 32n;

/**
 * Parses an IPv4 or IPv6 address (IPv6 with or without brackets); an
 * IPv4-mapped IPv6 address (`::ffff:169.254.169.254`) is its IPv4 address.
 */
function parseIp(text: string): Ip | undefined {
  const t = text.replace(/^\[(.*)\]$/, "$1");
  const v4 = parseIpv4(t);
  if (v4 !== undefined) return { v: 4, n: v4 };
  if (!t.includes(":")) return undefined;
  const v6 = parseIpv6(t);
  if (v6 === undefined) return undefined;
  if (v6 >> 32n === V4_MAPPED >> 32n) return { v: 4, n: v6 & 0xffffffffn };
  return { v: 6, n: v6 };
}

function parseCidr(text: string): Cidr | undefined {
  const [raw = "", len, ...extra] = text.replace(/^\[(.*)\]$/, "$1").split("/");
  if (extra.length > 0) return undefined;
  const v4 = parseIpv4(raw);
  const v6 = v4 === undefined && raw.includes(":") ? parseIpv6(raw) : undefined;
  if (v4 === undefined && v6 === undefined) return undefined;
  const v: 4 | 6 = v4 !== undefined ? 4 : 6;
  const max = v === 4 ? 32 : 128;
  if (len !== undefined && !/^\d{1,3}$/.test(len)) return undefined;
  const bits = len === undefined ? max : Number(len);
  if (bits > max) return undefined;
  const n = v4 ?? v6!;
  const mask = bits === 0 ? 0n : ((1n << BigInt(bits)) - 1n) << BigInt(max - bits);
  return { v, base: n & mask, bits };
}

function contains(range: Cidr, ip: Ip): boolean {
  if (range.v !== ip.v) return false;
  const max = range.v === 4 ? 32 : 128;
  const shift = BigInt(max - range.bits);
  return ip.n >> shift === range.base >> shift;
}

/** Whether `inner` lies wholly inside `outer`. */
function within(inner: Cidr, outer: Cidr): boolean {
  return inner.v === outer.v && inner.bits >= outer.bits &&
    contains(outer, { v: inner.v, n: inner.base });
}

const SENSITIVE: readonly (SensitiveRange & { range: Cidr })[] = SENSITIVE_RANGES.map((s) => ({
  ...s,
  range: parseCidr(s.cidr)!,
}));

/**
 * The sensitive ranges that hold `address`, most specific first, or an empty
 * list; undefined when `address` is not an IP address.
 *
 * @example
 * ```ts
 * sensitiveRangesOf("169.254.169.254")?.map((s) => s.reason); // ["metadata", "link_local"]
 * sensitiveRangesOf("127.0.0.1"); // []
 * ```
 */
export function sensitiveRangesOf(address: string): SensitiveRange[] | undefined {
  const ip = parseIp(address);
  if (!ip) return undefined;
  return SENSITIVE.filter((s) => contains(s.range, ip)).sort((a, b) => b.range.bits - a.range.bits);
}

// ---------------------------------------------------------------- the allow-list

/** One parsed allow-list entry. */
export interface AllowRule {
  /** The entry as written. */
  readonly source: string;
  /** `http:` or `https:`; any when undefined. */
  readonly scheme?: "http:" | "https:";
  /** The port; any when undefined. */
  readonly port?: number;
  /** A host name (`example.com`) or wildcard (`*.example.com`, stored as `.example.com`). */
  readonly name?: string;
  readonly cidr?: Cidr;
}

/** The parsed `probe.allowed_targets`. */
export interface AllowList {
  readonly rules: readonly AllowRule[];
}

const NAME_RE = /^(\*\.)?([a-z0-9_]([a-z0-9_-]*[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?\.?$/;

/**
 * Parses one allow-list entry: `[scheme://]host[:port]`, where host is a
 * name, `*.`-wildcard name, IPv4 address or CIDR, or an IPv6 address or
 * CIDR (in brackets when a port follows: `[fd00::/8]:443`).
 *
 * @returns the rule, or why the entry is not one.
 *
 * @example
 * ```ts
 * parseAllowRule("https://*.example.com:8443"); // ok({scheme: "https:", name: ".example.com", port: 8443, ...})
 * parseAllowRule("10.0.0.0/8").ok; // true
 * parseAllowRule("http://a/b").ok; // false: no paths
 * ```
 */
export function parseAllowRule(entry: unknown): Result<AllowRule, string> {
  if (typeof entry !== "string" || entry.trim() === "") {
    return err("must be a host name, *.domain, IP address or CIDR (a string)");
  }
  const source = entry.trim();
  let rest = source.toLowerCase();
  let scheme: AllowRule["scheme"];
  const schemeMatch = /^([a-z][a-z0-9+.-]*):\/\//.exec(rest);
  if (schemeMatch) {
    if (schemeMatch[1] !== "http" && schemeMatch[1] !== "https") {
      return err(`scheme '${schemeMatch[1]}' is not supported (use http or https)`);
    }
    scheme = `${schemeMatch[1]}:` as AllowRule["scheme"];
    rest = rest.slice(schemeMatch[0].length);
  }
  let port: number | undefined;
  let host = rest;
  const bracketed = /^(\[[^\]]*\])(?::(\d+))?$/.exec(rest);
  if (bracketed) {
    host = bracketed[1]!;
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if ((rest.match(/:/g) ?? []).length === 1) {
    const at = rest.lastIndexOf(":");
    host = rest.slice(0, at);
    const p = rest.slice(at + 1);
    if (!/^\d+$/.test(p)) return err(`'${p}' is not a port`);
    port = Number(p);
  }
  if (port !== undefined && (port < 1 || port > 65535)) return err(`port ${port} is out of range`);
  const looksIp = host.startsWith("[") || host.includes(":") || /^[\d./]+$/.test(host);
  if (looksIp) {
    const cidr = parseCidr(host);
    if (!cidr) return err(`'${host}' is not an IP address or CIDR`);
    return ok({ source, scheme, port, cidr });
  }
  if (host.includes("/")) return err("an entry names a host, not a path");
  if (host === "*") {
    return err("'*' alone is not allowed: list domains (*.example.com) or CIDRs (0.0.0.0/0)");
  }
  if (!NAME_RE.test(host)) return err(`'${host}' is not a host name or *.domain`);
  const name = host.replace(/\.$/, "");
  return ok({ source, scheme, port, name: name.startsWith("*.") ? name.slice(1) : name });
}

/**
 * Parses every entry; the errors name the entry's index.
 *
 * @example
 * ```ts
 * const list = parseAllowList(["*.example.com", "10.0.0.0/8"]);
 * if (list.ok) list.value.rules.length; // 2
 * ```
 */
export function parseAllowList(
  entries: readonly unknown[],
): Result<AllowList, { index: number; message: string }[]> {
  const rules: AllowRule[] = [];
  const errors: { index: number; message: string }[] = [];
  entries.forEach((entry, index) => {
    const rule = parseAllowRule(entry);
    if (rule.ok) rules.push(rule.value);
    else errors.push({ index, message: rule.error });
  });
  return errors.length > 0 ? err(errors) : ok({ rules });
}

// ---------------------------------------------------------------- resolving

/** Options of {@linkcode TargetGuard}. */
export interface TargetGuardOptions {
  /** DNS server to ask instead of the system's (tests). Default: the system's (resolv.conf). */
  nameServer?: { ipAddr: string; port?: number };
  /**
   * Hosts file whose entries are added to DNS answers, as the system resolver
   * that fetch uses reads it first. Default: `/etc/hosts`; `""` for none.
   */
  hostsFile?: string;
}

/** Most bytes read from the hosts file. */
const MAX_HOSTS_BYTES = 1024 * 1024;

async function hostsEntries(file: string, name: string): Promise<string[]> {
  if (file === "") return [];
  let text: string;
  try {
    const info = await Deno.stat(file);
    if (info.size > MAX_HOSTS_BYTES) return [];
    text = await Deno.readTextFile(file);
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const line of text.split("\n")) {
    const [address, ...names] = line.replace(/#.*/, "").trim().split(/\s+/);
    if (!address || !names.some((n) => n.toLowerCase().replace(/\.$/, "") === name)) continue;
    found.push(address.replace(/%.*$/, ""));
  }
  return found;
}

function isDnsNotFound(e: unknown): boolean {
  return e instanceof Deno.errors.NotFound;
}

// ---------------------------------------------------------------- the guard

/** Checks targets against an allow-list; see the module doc. */
export class TargetGuard {
  readonly #rules: readonly AllowRule[];
  readonly #options: TargetGuardOptions;

  constructor(list: AllowList, options: TargetGuardOptions = {}) {
    this.#rules = list.rules;
    this.#options = options;
  }

  /**
   * Decides whether `url` may be fetched: resolves its host (unless it is an
   * IP address) and checks every address. Never throws.
   *
   * @example
   * ```ts
   * const guard = new TargetGuard({ rules: [parseAllowRule("127.0.0.0/8").value] });
   * await guard.check(new URL("http://127.0.0.1:8080/")); // ok({addresses: ["127.0.0.1"], ...})
   * await guard.check(new URL("http://169.254.169.254/")); // err({kind: "refused", reason: "metadata", ...})
   * ```
   */
  async check(
    url: URL,
    options: { signal?: AbortSignal } = {},
  ): Promise<Result<Allowed, Refusal | Unresolved>> {
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      return err(refused("not_allowed", `scheme '${url.protocol}' is not allowed`));
    }
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase().replace(/\.$/, "");
    const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
    const candidates = this.#rules.filter((r) =>
      (r.scheme === undefined || r.scheme === url.protocol) &&
      (r.port === undefined || r.port === port)
    );
    const literal = parseIp(host);
    const byName = literal
      ? undefined
      : candidates.find((r) => r.name !== undefined && nameMatches(r.name, host));
    // Nothing could let it through: refuse before asking DNS anything.
    if (!byName && !candidates.some((r) => r.cidr)) {
      return err(refused("not_allowed", `${describe(url)} is not in probe.allowed_targets`));
    }
    let addresses: string[];
    if (literal) addresses = [host];
    else {
      const resolved = await this.#resolve(host, options.signal);
      if (!resolved.ok) return resolved;
      addresses = resolved.value;
    }
    let rule = byName?.source;
    for (const address of addresses) {
      const ip = parseIp(address);
      if (!ip) return err({ kind: "unresolved", message: `'${address}' is not an IP address` });
      // A sensitive range needs an entry inside it that holds the address; a name never does.
      for (
        const s of SENSITIVE.filter((s) => contains(s.range, ip)).sort((a, b) =>
          b.range.bits - a.range.bits
        )
      ) {
        const named = candidates.some((r) =>
          r.cidr && contains(r.cidr, ip) && within(r.cidr, s.range)
        );
        if (!named) {
          return err(refused(
            s.reason,
            `${describe(url)}${literal ? "" : ` resolves to ${address}, which`} is ${
              s.reason === "metadata" ? "a cloud metadata address" : s.what
            }: refused unless probe.allowed_targets names ${s.cidr} itself`,
          ));
        }
      }
      if (byName) continue;
      const cidrRule = candidates.find((r) => r.cidr && contains(r.cidr, ip));
      if (!cidrRule) {
        return err(refused(
          "not_allowed",
          `${describe(url)}${literal ? "" : ` resolves to ${address}, which`} is not in ` +
            "probe.allowed_targets",
        ));
      }
      rule ??= cidrRule.source;
    }
    return ok({ addresses, rule: rule ?? "" });
  }

  async #resolve(host: string, signal?: AbortSignal): Promise<Result<string[], Unresolved>> {
    // RFC 6761: localhost names are the loopback addresses, whatever DNS says.
    const local = host === "localhost" || host.endsWith(".localhost") ? ["127.0.0.1", "::1"] : [];
    const fromHosts = await hostsEntries(this.#options.hostsFile ?? "/etc/hosts", host);
    const dnsOptions = {
      signal,
      ...(this.#options.nameServer ? { nameServer: this.#options.nameServer } : {}),
    };
    const answers = await Promise.allSettled(
      (["A", "AAAA"] as const).map((type) => Deno.resolveDns(host, type, dnsOptions)),
    );
    const found = new Set([...local, ...fromHosts]);
    const failures: string[] = [];
    for (const answer of answers) {
      if (answer.status === "fulfilled") { for (const a of answer.value) found.add(a); }
      else if (!isDnsNotFound(answer.reason)) {
        failures.push((answer.reason as Error).message ?? String(answer.reason));
      }
    }
    // A failed lookup of one family hides addresses fetch may still get: unless
    // the local names already settled it, the check cannot vouch for the name.
    if (failures.length > 0 && local.length === 0 && fromHosts.length === 0) {
      if (signal?.aborted) return err({ kind: "unresolved", message: "aborted resolving" });
      return err({
        kind: "unresolved",
        message: `cannot resolve ${host}: ${failures[0]!.slice(0, 200)}`,
      });
    }
    if (found.size === 0) {
      return err({ kind: "unresolved", message: `${host} has no A or AAAA record` });
    }
    return ok([...found]);
  }
}

function nameMatches(rule: string, host: string): boolean {
  return rule.startsWith(".") ? host.endsWith(rule) && host.length > rule.length : host === rule;
}

function refused(reason: RefusalReason, message: string): Refusal {
  return { kind: "refused", reason, message };
}

/** The URL's origin for messages (never its credentials, path or query). */
function describe(url: URL): string {
  return `${url.protocol}//${url.host}`;
}
