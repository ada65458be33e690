/**
 * Protection of the exporter's own endpoints, configured like the Prometheus
 * exporter-toolkit's web config file (`--web.config.file`):
 *
 * ```yaml
 * tls_server_config:
 *   cert_file: server.crt      # relative paths are relative to this file
 *   key_file: server.key
 * basic_auth_users:            # user: bcrypt hash (htpasswd -nBC 10 user)
 *   prometheus: $2y$10$...
 * bearer_token_file: token     # an extension: `Authorization: Bearer <token>`
 * ```
 *
 * With users or a token, every path but `/healthz` and `/readyz` needs
 * credentials; wrong or missing ones get the same 401 whatever was wrong.
 * The files (this one, the certificate, the key, the token) are polled and a
 * change is applied, without a restart, once two polls agree on it: a new
 * certificate is picked up by closing the listener and listening again at
 * once on the same port (requests in flight finish; a connection attempted in
 * those few milliseconds is refused).
 *
 * @module
 */

import { createPrivateKey, X509Certificate } from "node:crypto";
import bcrypt from "bcryptjs";
import { parseDocument } from "yaml";
import { ConnectionGuard, type GuardOptions } from "./conn_guard.ts";
import type { Logger } from "../util/log.ts";

/** Paths that stay open without credentials (kubelet probes). */
export const OPEN_PATHS: readonly string[] = ["/healthz", "/readyz"];

/** A web config file larger than this is refused before parsing. */
const MAX_FILE_BYTES = 1024 * 1024;

/** Keys the exporter-toolkit knows that this exporter does not support (yet). */
const UNSUPPORTED = new Set([
  "client_auth_type",
  "client_ca_file",
  "client_allowed_sans",
  "min_version",
  "max_version",
  "cipher_suites",
  "curve_preferences",
  "prefer_server_cipher_suites",
  "cert",
  "key",
]);

const BCRYPT_RE = /^\$2[aby]?\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;

/** A web config that cannot be used; the message says why, never a secret. */
export class WebConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebConfigError";
  }
}

/** The parsed web config, with the files it names already read. */
export interface WebConfig {
  /** PEM certificate chain and key, when TLS is on. */
  tls?: { cert: string; key: string; certFile: string; keyFile: string };
  /** User name → bcrypt hash. */
  users: ReadonlyMap<string, string>;
  /** SHA-256 of the bearer token, when one is configured. */
  tokenDigest?: Uint8Array;
  /** Every byte the config depends on, to tell whether anything changed. */
  fingerprint: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

async function readSmall(path: string, what: string): Promise<string> {
  try {
    const info = await Deno.stat(path);
    if (info.size > MAX_FILE_BYTES) {
      throw new WebConfigError(`${what} ${path}: larger than ${MAX_FILE_BYTES} bytes`);
    }
    return new TextDecoder("utf-8", { fatal: true }).decode(await Deno.readFile(path));
  } catch (e) {
    if (e instanceof WebConfigError) throw e;
    const reason = e instanceof TypeError ? "not valid UTF-8" : (e as Error).message;
    throw new WebConfigError(`${what} ${path}: cannot read: ${reason}`);
  }
}

/**
 * Reads and validates the web config file and the files it names.
 *
 * @throws {WebConfigError} naming the first problem (never a secret value).
 */
export async function loadWebConfig(path: string): Promise<WebConfig> {
  const text = await readSmall(path, "web config");
  const slash = path.lastIndexOf("/");
  const dir = slash >= 0 ? path.slice(0, slash + 1) : "";
  const resolve = (p: string) => p.startsWith("/") ? p : dir + p;
  const fail = (message: string): never => {
    throw new WebConfigError(`web config ${path}: ${message}`);
  };

  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) fail(`invalid YAML: ${doc.errors[0]!.message.split("\n")[0]}`);
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (e) {
    fail(`invalid YAML: ${(e as Error).message}`);
  }
  if (!isObject(raw)) return fail("the top level must be a mapping");
  for (const key of Object.keys(raw)) {
    if (key === "http_server_config") fail(`'${key}' is not supported`);
    if (!["tls_server_config", "basic_auth_users", "bearer_token_file"].includes(key)) {
      fail(
        `unknown key '${key}' (allowed: tls_server_config, basic_auth_users, bearer_token_file)`,
      );
    }
  }

  let fingerprint = text;
  let tls: WebConfig["tls"];
  if (raw.tls_server_config !== undefined && raw.tls_server_config !== null) {
    const t = raw.tls_server_config;
    if (!isObject(t)) return fail("'tls_server_config' must be a mapping");
    for (const key of Object.keys(t)) {
      if (UNSUPPORTED.has(key)) fail(`'tls_server_config.${key}' is not supported`);
      if (key !== "cert_file" && key !== "key_file") {
        fail(`unknown key 'tls_server_config.${key}' (allowed: cert_file, key_file)`);
      }
    }
    if (typeof t.cert_file !== "string" || t.cert_file === "") {
      fail("'tls_server_config.cert_file' is required");
    }
    if (typeof t.key_file !== "string" || t.key_file === "") {
      fail("'tls_server_config.key_file' is required");
    }
    const certFile = resolve(t.cert_file as string);
    const keyFile = resolve(t.key_file as string);
    const cert = await readSmall(certFile, "certificate");
    const key = await readSmall(keyFile, "key");
    checkKeyPair(cert, key, certFile, keyFile);
    tls = { cert, key, certFile, keyFile };
    fingerprint += `\0${cert}\0${key}`;
  }

  const users = new Map<string, string>();
  if (raw.basic_auth_users !== undefined && raw.basic_auth_users !== null) {
    const u = raw.basic_auth_users;
    if (!isObject(u)) {
      return fail("'basic_auth_users' must be a mapping of user name to bcrypt hash");
    }
    for (const [name, hash] of Object.entries(u)) {
      if (name === "" || name.includes(":")) {
        fail("'basic_auth_users': a user name must be non-empty and must not contain ':'");
      }
      if (typeof hash !== "string" || !BCRYPT_RE.test(hash)) {
        // The value is not repeated: it may be a password pasted by mistake.
        fail(
          `'basic_auth_users.${name}' is not a bcrypt hash (make one with htpasswd -nBC 10 USER)`,
        );
      }
      users.set(name, hash as string);
    }
  }

  let tokenDigest: Uint8Array | undefined;
  if (raw.bearer_token_file !== undefined && raw.bearer_token_file !== null) {
    if (typeof raw.bearer_token_file !== "string" || raw.bearer_token_file === "") {
      fail("'bearer_token_file' must be a file path");
    }
    const token = (await readSmall(resolve(raw.bearer_token_file as string), "bearer token file"))
      .trim();
    if (token.length < 16 || /\s/.test(token)) {
      fail("the bearer token must be at least 16 characters without spaces");
    }
    tokenDigest = await sha256(token);
    fingerprint += `\0${Array.from(tokenDigest).join(",")}`;
  }
  return { tls, users, tokenDigest, fingerprint };
}

/** Refuses a certificate and key that cannot be read or do not belong together. */
function checkKeyPair(cert: string, key: string, certFile: string, keyFile: string): void {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new WebConfigError(`certificate ${certFile}: not a PEM certificate`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new WebConfigError(`key ${keyFile}: not a PEM private key`);
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new WebConfigError(`key ${keyFile} does not belong to certificate ${certFile}`);
  }
}

/** True when the config asks for credentials. */
export function requiresAuth(config: WebConfig | undefined): boolean {
  return !!config && (config.users.size > 0 || config.tokenDigest !== undefined);
}

/** A bcrypt hash of a random password, compared against for unknown users (same cost). */
const DUMMY_HASH = "$2b$10$EXblyMhZm4jzPt2W2mx1iOv.Ah071k2u5TQRsv7KKZ2dGjjEiSMNy";

/**
 * Checks credentials against a web config, bcrypt results cached (by a digest
 * of user, hash and password, never the password itself) and bcrypt run one
 * at a time, as exporter-toolkit does, so that a flood of wrong passwords
 * costs one core at most and known scrapers are answered at once.
 */
export class Authenticator {
  readonly #config: WebConfig;
  readonly #cache = new Map<string, boolean>();
  #bcryptQueue: Promise<unknown> = Promise.resolve();
  /** bcrypt comparisons done (for tests). */
  comparisons = 0;
  static readonly CACHE_SIZE = 1000;

  constructor(config: WebConfig) {
    this.#config = config;
  }

  /** True when `req` carries valid credentials (or none are required). */
  async check(req: Request): Promise<boolean> {
    if (!requiresAuth(this.#config)) return true;
    const header = req.headers.get("authorization") ?? "";
    const space = header.indexOf(" ");
    const scheme = header.slice(0, space).toLowerCase();
    const value = header.slice(space + 1).trim();
    if (scheme === "bearer" && this.#config.tokenDigest) {
      return equalBytes(await sha256(value), this.#config.tokenDigest);
    }
    if (scheme !== "basic" || this.#config.users.size === 0) return false;
    let decoded: string;
    try {
      decoded = new TextDecoder("utf-8", { fatal: true }).decode(
        Uint8Array.from(atob(value), (c) => c.charCodeAt(0)),
      );
    } catch {
      return false;
    }
    const colon = decoded.indexOf(":");
    if (colon < 0) return false;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const hash = this.#config.users.get(user);
    const key = Array.from(await sha256(`${user}\0${hash ?? ""}\0${password}`))
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached;
    const run = this.#bcryptQueue.then(async () => {
      this.comparisons++;
      // An unknown user costs a comparison too, so timing does not tell users apart.
      const ok = await bcrypt.compare(password, hash ?? DUMMY_HASH);
      return ok && hash !== undefined;
    });
    this.#bcryptQueue = run.catch(() => {});
    const ok = await run.catch(() => false);
    if (this.#cache.size >= Authenticator.CACHE_SIZE) {
      this.#cache.delete(this.#cache.keys().next().value!);
    }
    this.#cache.set(key, ok);
    return ok;
  }
}

/** Wraps a handler with the authentication of the web config returned by `current`. */
export function withAuth(
  handler: (req: Request) => Promise<Response>,
  current: () => { config?: WebConfig; auth?: Authenticator },
): (req: Request) => Promise<Response> {
  return async (req) => {
    const { config, auth } = current();
    if (!auth || !requiresAuth(config)) return handler(req);
    const path = new URL(req.url).pathname;
    if (OPEN_PATHS.includes(path) || await auth.check(req)) return handler(req);
    const challenge = config!.users.size > 0
      ? 'Basic realm="uptime-exporter", charset="UTF-8"'
      : 'Bearer realm="uptime-exporter"';
    return new Response("Unauthorized\n", {
      status: 401,
      headers: {
        "content-type": "text/plain; charset=utf-8",
        "www-authenticate": challenge,
        "x-content-type-options": "nosniff",
      },
    });
  };
}

/** Options of {@linkcode WebServer.start}. */
export interface WebServerOptions {
  hostname: string;
  port: number;
  handler: (req: Request) => Promise<Response>;
  /** The web config file; none: plain HTTP, no authentication. */
  webConfigFile?: string;
  logger: Logger;
  /** How often the web config and the files it names are checked for changes. Default: 5 s. */
  reloadIntervalMs?: number;
  /** Called once the public listener listens. */
  onListen?: (addr: Deno.NetAddr, tls: boolean) => void;
  /** Answers a request whose handler threw. */
  onError?: (error: unknown) => Response | Promise<Response>;
  /** Limits on client connections (see conn_guard.ts). */
  guard?: GuardOptions;
}

/**
 * The exporter's HTTP(S) server: the real `Deno.serve` listens on a loopback
 * port and a {@linkcode ConnectionGuard} accepts the public connections (plain
 * or TLS) and forwards them, so that slow or idle clients cannot exhaust the
 * process. Applies the web config and re-reads it (and its certificate, key
 * and token files) every `reloadIntervalMs`: credentials swap at once, a new
 * certificate by replacing the public listener (open connections carry on).
 * A bad new config is logged and the running one stays.
 */
export class WebServer {
  readonly #options: WebServerOptions;
  #config?: WebConfig;
  #auth?: Authenticator;
  #server!: Deno.HttpServer<Deno.NetAddr>;
  #guard!: ConnectionGuard;
  #listener!: Deno.Listener;
  #port: number;
  #timer?: ReturnType<typeof setInterval>;
  #reloading?: Promise<boolean>;
  /** A changed config seen once by polling, applied if the next poll sees it again. */
  #candidate?: string;
  #lastError?: string;
  #stopped = false;
  readonly #handler: (req: Request) => Promise<Response>;
  readonly #finished: Promise<void>;
  #resolveFinished!: () => void;
  /** Public listeners opened so far (1 + certificate swaps), for tests. */
  listeners = 0;

  private constructor(options: WebServerOptions, config?: WebConfig) {
    this.#options = options;
    this.#config = config;
    this.#auth = config ? new Authenticator(config) : undefined;
    this.#port = options.port;
    this.#handler = withAuth(options.handler, () => ({ config: this.#config, auth: this.#auth }));
    this.#finished = new Promise((resolve) => (this.#resolveFinished = resolve));
  }

  /**
   * Loads the web config (if any) and starts listening.
   *
   * @throws {WebConfigError} when the web config is bad.
   */
  static async start(options: WebServerOptions): Promise<WebServer> {
    const config = options.webConfigFile ? await loadWebConfig(options.webConfigFile) : undefined;
    const server = new WebServer(options, config);
    server.#server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen() {},
      onError: options.onError,
    }, server.#handler);
    server.#guard = new ConnectionGuard(
      { hostname: "127.0.0.1", port: server.#server.addr.port },
      options.guard,
    );
    try {
      server.#listener = server.#listen();
    } catch (e) {
      await server.#guard.close();
      await server.#server.shutdown();
      throw e;
    }
    server.#port = (server.#listener.addr as Deno.NetAddr).port;
    server.#guard.serve(server.#listener);
    options.onListen?.(server.addr, config?.tls !== undefined);
    if (options.webConfigFile) {
      server.#timer = setInterval(() => server.reload(false), options.reloadIntervalMs ?? 5000);
    }
    return server;
  }

  /** The public address listened on. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr as Deno.NetAddr;
  }

  /** Whether the public listener serves TLS. */
  get tls(): boolean {
    return this.#config?.tls !== undefined;
  }

  /** What the connection guard did so far. */
  get guard(): ConnectionGuard {
    return this.#guard;
  }

  /** Resolves when the server has shut down. */
  get finished(): Promise<void> {
    return this.#finished;
  }

  #listen(): Deno.Listener {
    const tls = this.#config?.tls;
    const options = { hostname: this.#options.hostname, port: this.#port };
    const listener = tls
      ? Deno.listenTls({ ...options, cert: tls.cert, key: tls.key })
      : Deno.listen(options);
    this.listeners++;
    return listener;
  }

  /** Listens again on the port just closed, retrying while the OS still holds it. */
  async #listenSoon(): Promise<Deno.Listener> {
    for (let attempt = 0;; attempt++) {
      try {
        return this.#listen();
      } catch (e) {
        if (!(e instanceof Deno.errors.AddrInUse) || attempt >= 100) throw e;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }

  /**
   * Re-reads the web config and its files; applies them when they changed.
   * Concurrent calls share one reload.
   *
   * @param now apply a change at once (SIGHUP). Otherwise (polling) a change
   *   is applied only once two reads an interval apart agree, so that a file
   *   caught half-written (an empty file means no protection) is never used.
   * @returns true when a new config was applied.
   */
  reload(now = true): Promise<boolean> {
    this.#reloading ??= this.#reload(now).finally(() => (this.#reloading = undefined));
    return this.#reloading;
  }

  async #reload(now: boolean): Promise<boolean> {
    const file = this.#options.webConfigFile;
    if (!file || this.#stopped) return false;
    const log = this.#options.logger;
    let next: WebConfig;
    try {
      next = await loadWebConfig(file);
    } catch (e) {
      const err = (e as Error).message;
      // Logged once per distinct problem, not at every poll.
      if (err !== this.#lastError) {
        log.error("web config reload failed; keeping the running one", { err });
      }
      this.#lastError = err;
      this.#candidate = undefined;
      return false;
    }
    this.#lastError = undefined;
    const old = this.#config;
    if (this.#stopped || next.fingerprint === old?.fingerprint) {
      this.#candidate = undefined;
      return false;
    }
    if (!now && next.fingerprint !== this.#candidate) {
      this.#candidate = next.fingerprint;
      return false;
    }
    this.#candidate = undefined;
    const tlsChanged = next.tls?.cert !== old?.tls?.cert || next.tls?.key !== old?.tls?.key;
    this.#config = next;
    this.#auth = new Authenticator(next);
    if (tlsChanged) {
      // A listener's certificate cannot change: replace the listener. Open
      // connections carry on; one attempted in that instant is refused.
      this.#listener.close();
      try {
        this.#listener = await this.#listenSoon();
      } catch (e) {
        this.#config = old;
        this.#auth = old ? new Authenticator(old) : undefined;
        log.error("web config reload failed: cannot listen with the new TLS settings", {
          err: (e as Error).message,
        });
        // Do not stay deaf: listen again as before.
        this.#listener = await this.#listenSoon();
        this.#guard.serve(this.#listener);
        return false;
      }
      this.#guard.serve(this.#listener);
    }
    log.info("web config reloaded", {
      tls: next.tls !== undefined,
      users: next.users.size,
      bearer_token: next.tokenDigest !== undefined,
    });
    return true;
  }

  /** Stops reloading, closes the listener and every connection, and waits for requests in flight. */
  async shutdown(): Promise<void> {
    if (this.#stopped) return this.#finished;
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#reloading;
    await this.#guard.close();
    await this.#server.shutdown();
    this.#resolveFinished();
  }
}
