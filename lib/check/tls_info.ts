/**
 * Certificate facts of https targets: when the certificate the server presents
 * expires. Deno's fetch does not expose the peer certificate, so this opens a
 * second TLS connection with `node:tls` (verification off: an expired or
 * wrong-host certificate is exactly the one worth reporting), reads `valid_to`
 * and closes. Lookups are cached per host and port and refreshed at most once
 * per `max(interval, minRefreshMs)`, so a target costs at most one extra
 * handshake per interval and, by default, one per minute.
 *
 * @module
 */

import tls from "node:tls";
import type { TargetConfig } from "../config/schema.ts";

/** Options of {@linkcode TlsInfo}. */
export interface TlsInfoOptions {
  /** Least time between two lookups of the same host and port. Default: 60 s. */
  minRefreshMs?: number;
  /** Monotonic clock, ms. Default: `performance.now`. */
  now?: () => number;
}

interface Entry {
  /** When the last successful lookup finished (monotonic ms). */
  at: number;
  /** Last time a check asked for this entry (monotonic ms). */
  usedAt: number;
  /** notAfter in seconds since the epoch, or undefined when the last lookup failed. */
  notAfter?: number;
  pending?: Promise<number | undefined>;
}

/** Entries unused for this long are dropped (targets removed by a reload). */
const UNUSED_MS = 10 * 60_000;

/**
 * Reads the certificate of `host:port` once and returns its notAfter in
 * seconds since the epoch. Does not verify the certificate.
 *
 * @param host host name or IP address (IPv6 without brackets).
 * @param servername SNI name; omitted for IP addresses.
 * @throws {Error} on timeout, abort, a failed handshake or a certificate without a date.
 */
export function peerCertificateExpiry(
  host: string,
  port: number,
  options: { servername?: string; timeoutMs: number; signal?: AbortSignal },
): Promise<number> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const socket = tls.connect({
      host,
      port,
      servername: options.servername,
      rejectUnauthorized: false,
      // Only the certificate is wanted: no session to resume, no ALPN.
    });
    const finish = (error?: Error, value?: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      socket.destroy();
      if (error) reject(error);
      else resolve(value!);
    };
    const onAbort = () => finish(new Error("aborted"));
    const timer = setTimeout(
      () => finish(new Error(`no TLS handshake within ${options.timeoutMs}ms`)),
      options.timeoutMs,
    );
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("secureConnect", () => {
      const validTo = socket.getPeerCertificate()?.valid_to;
      const ms = validTo ? Date.parse(validTo) : NaN;
      if (Number.isFinite(ms)) finish(undefined, ms / 1000);
      else finish(new Error("the peer certificate has no expiry date"));
    });
    socket.once("error", (e: Error) => finish(e));
    socket.once("close", () => finish(new Error("connection closed before the handshake")));
  });
}

/** Caches certificate expiry per host and port for the checks of https targets. */
export class TlsInfo {
  readonly #entries = new Map<string, Entry>();
  readonly #minRefreshMs: number;
  readonly #now: () => number;
  /** Lookups started (each one TLS connection), for tests and the soak. */
  lookups = 0;

  constructor(options: TlsInfoOptions = {}) {
    this.#minRefreshMs = options.minRefreshMs ?? 60_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * The notAfter (seconds since the epoch) of the certificate `target`'s
   * server presents, from the cache when fresh enough, otherwise from a new
   * lookup. Undefined for http targets and when the last lookup failed.
   * Never throws.
   */
  expiry(
    target: Pick<TargetConfig, "url" | "intervalMs" | "timeoutMs">,
    signal?: AbortSignal,
  ): Promise<number | undefined> {
    const url = new URL(target.url);
    if (url.protocol !== "https:") return Promise.resolve(undefined);
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = Number(url.port || 443);
    const key = `${host}:${port}`;
    const now = this.#now();
    let entry = this.#entries.get(key);
    if (!entry) {
      this.#prune(now);
      entry = { at: -Infinity, usedAt: now };
      this.#entries.set(key, entry);
    }
    entry.usedAt = now;
    const maxAge = Math.max(target.intervalMs, this.#minRefreshMs);
    if (entry.pending) return entry.pending;
    if (now - entry.at < maxAge) return Promise.resolve(entry.notAfter);
    const isIp = /^[\d.]+$|:/.test(host);
    this.lookups++;
    const current = entry;
    current.pending = peerCertificateExpiry(host, port, {
      servername: isIp ? undefined : host,
      timeoutMs: target.timeoutMs,
      signal,
    }).then(
      (notAfter) => {
        current.at = this.#now();
        current.notAfter = notAfter;
        return notAfter;
      },
      () => {
        // Not cached: the next check tries again (at most once per interval).
        current.notAfter = undefined;
        return undefined;
      },
    ).finally(() => {
      current.pending = undefined;
    });
    return current.pending;
  }

  /** Host:port pairs cached. */
  get size(): number {
    return this.#entries.size;
  }

  #prune(now: number): void {
    for (const [key, entry] of this.#entries) {
      if (!entry.pending && now - entry.usedAt > UNUSED_MS) this.#entries.delete(key);
    }
  }
}
