/**
 * A real DNS server for tests: Debian's dnsmasq (installed by
 * .ci/probe_tools.sh), serving only the records a test gives it, on
 * 127.0.0.1 and a free port, with no upstream and no /etc/hosts. Point
 * `Deno.resolveDns(name, type, { nameServer: { ipAddr: "127.0.0.1", port } })`
 * at it. With `reloadable`, the records are served from a hosts file that
 * `setRecords` rewrites before a SIGHUP (dnsmasq reads hosts files again on
 * SIGHUP), as a headless Service's records change when pods come and go.
 * A missing dnsmasq fails the test.
 *
 * @module
 */

import { freePort } from "./servers.ts";
import { waitFor } from "./wait.ts";

/** Where dnsmasq is (`DNSMASQ` overrides). */
export const DNSMASQ: string = Deno.env.get("DNSMASQ") ?? "/usr/sbin/dnsmasq";

/** A running dnsmasq. */
export interface DnsServer extends AsyncDisposable {
  readonly port: number;
  /** For `Deno.resolveDns`'s and the guard's `nameServer` option. */
  readonly nameServer: { ipAddr: string; port: number };
  /** What dnsmasq logged (one line per query). */
  readonly log: string;
  /**
   * With `reloadable` only: serves `records` instead (names missing from it
   * become NXDOMAIN) and resolves once dnsmasq has read them.
   */
  setRecords(records: Record<string, string[]>): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@linkcode startDnsServer}. */
export interface DnsServerOptions {
  /** Serve the records from a hosts file that `setRecords` rewrites. Default: false. */
  reloadable?: boolean;
}

/** The records in /etc/hosts format. */
function hostsText(records: Record<string, string[]>): string {
  return Object.entries(records).flatMap(([name, ips]) => ips.map((ip) => `${ip} ${name}\n`))
    .join("");
}

/**
 * Starts dnsmasq answering `records` (name → addresses, IPv4 and IPv6 mixed)
 * for names under `.test`; every other name under `.test` is NXDOMAIN.
 * The first name is asked until it answers, so the server is ready on return.
 */
export async function startDnsServer(
  records: Record<string, string[]>,
  options: DnsServerOptions = {},
): Promise<DnsServer> {
  try {
    Deno.statSync(DNSMASQ);
  } catch {
    throw new Error(`${DNSMASQ} not found: install dnsmasq-base (bash .ci/probe_tools.sh)`);
  }
  const names = Object.keys(records);
  if (names.length === 0) throw new Error("startDnsServer: give at least one record");
  const dir = options.reloadable
    ? await Deno.makeTempDir({ prefix: "uptime-exporter-dns-" })
    : undefined;
  const hostsFile = dir ? `${dir}/hosts` : undefined;
  if (hostsFile) await Deno.writeTextFile(hostsFile, hostsText(records));
  const removeDir = () => dir ? Deno.remove(dir, { recursive: true }).catch(() => {}) : undefined;
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = freePort();
    const child = new Deno.Command(DNSMASQ, {
      args: [
        "--keep-in-foreground",
        "--no-resolv",
        "--no-hosts",
        "--no-poll",
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        `--port=${port}`,
        "--local=/test/",
        "--log-queries",
        "--log-facility=-",
        // No pid file (an empty path), and no switch to user nobody when run as root.
        "--pid-file=",
        ...(Deno.uid() === 0 ? ["--user=root"] : []),
        ...(hostsFile
          ? [`--addn-hosts=${hostsFile}`]
          : names.map((name) => `--host-record=${name},${records[name]!.join(",")}`)),
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let log = "";
    const decoder = new TextDecoder();
    const drain = (stream: ReadableStream<Uint8Array>) =>
      stream.pipeTo(new WritableStream({ write: (c) => void (log += decoder.decode(c)) }));
    const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
    let exited = false;
    const status = child.status.then((s) => {
      exited = true;
      return s;
    });
    const close = async () => {
      if (!exited) {
        try {
          child.kill("SIGTERM");
        } catch { /* gone */ }
      }
      await status;
      await drained.catch(() => {});
      await removeDir();
    };
    const nameServer = { ipAddr: "127.0.0.1", port };
    try {
      await waitFor("dnsmasq to answer", async () => {
        if (exited) throw new Error(`dnsmasq exited:\n${log}`);
        const type = records[names[0]!]![0]!.includes(":") ? "AAAA" : "A";
        const answer = await Deno.resolveDns(names[0]!, type, { nameServer });
        return answer.length > 0 ? true : undefined;
      }, { timeoutMs: 10_000, everyMs: 50 });
    } catch (e) {
      lastError = e;
      await close();
      if (/address already in use/i.test(log)) continue;
      throw e;
    }
    const setRecords = async (next: Record<string, string[]>) => {
      if (!hostsFile) throw new Error("startDnsServer: setRecords needs { reloadable: true }");
      const reads = () => log.split(`read ${hostsFile}`).length;
      const before = reads();
      await Deno.writeTextFile(hostsFile, hostsText(next));
      child.kill("SIGHUP");
      await waitFor("dnsmasq to read the hosts file again", () => {
        if (exited) throw new Error(`dnsmasq exited:\n${log}`);
        return reads() > before ? true : undefined;
      }, { timeoutMs: 10_000, everyMs: 10 });
    };
    return {
      port,
      nameServer,
      get log() {
        return log;
      },
      setRecords,
      close,
      [Symbol.asyncDispose]: close,
    };
  }
  await removeDir();
  throw lastError;
}
