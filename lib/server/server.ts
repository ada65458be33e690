/**
 * The exporter's HTTP(S) server: `Deno.serve` on a loopback port behind the
 * connection guard (conn_guard.ts), with the web config applied (TLS, and
 * authentication through auth_middleware.ts) and re-read while running. The
 * files (the web config, the certificate, the key, the token) are polled and
 * a change is applied, without a restart, once two polls agree on it: a new
 * certificate is picked up by closing the listener and listening again at
 * once on the same port (requests in flight finish; a connection attempted in
 * those few milliseconds is refused).
 *
 * @module
 */

import type { Authenticator } from "./auth.ts";
import { ConnectionGuard, type GuardOptions } from "./conn_guard.ts";
import type { WebConfig } from "./web_config.ts";
import type { Logger } from "../util/log.ts";

/** The web config's parser and credential checks. */
interface WebConfigModules {
  loadWebConfig: typeof import("./web_config.ts").loadWebConfig;
  Authenticator: typeof import("./auth.ts").Authenticator;
  withAuth: typeof import("./auth_middleware.ts").withAuth;
}

/**
 * Loaded only when a web config file is given: bcrypt, X.509 and YAML stay
 * out of the memory of an exporter that serves plain HTTP.
 */
async function webConfigModules(): Promise<WebConfigModules> {
  const [config, auth, middleware] = await Promise.all([
    import("./web_config.ts"),
    import("./auth.ts"),
    import("./auth_middleware.ts"),
  ]);
  return {
    loadWebConfig: config.loadWebConfig,
    Authenticator: auth.Authenticator,
    withAuth: middleware.withAuth,
  };
}

/**
 * Listens on every address: `[::]` first, which on Linux serves IPv4 too
 * (IPv4-mapped) unless `net.ipv6.bindv6only` is set, then `0.0.0.0` when the
 * host has no IPv6 (the kernel refuses an IPv6 socket). A port in use or a
 * permission refused is not an IPv6 problem and is thrown as it is.
 *
 * @example
 * ```ts
 * const listener = listenEveryAddress((hostname) => Deno.listen({ hostname, port: 8080 }));
 * ```
 */
export function listenEveryAddress<L>(listen: (hostname: string) => L): L {
  try {
    return listen("::");
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse || e instanceof Deno.errors.PermissionDenied) throw e;
    return listen("0.0.0.0");
  }
}

/** Options of {@linkcode WebServer.start}. */
export interface WebServerOptions {
  /** Address to listen on; empty: every address, IPv4 and IPv6 ({@linkcode listenEveryAddress}). */
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
  /** The handler's route prefix, so that its open paths stay open under it. Default `/`. */
  routePrefix?: string;
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
  /** The address listened on, once known (`::` or `0.0.0.0` for every address). */
  #hostname?: string;
  #timer?: ReturnType<typeof setInterval>;
  #reloading?: Promise<boolean>;
  /** A changed config seen once by polling, applied if the next poll sees it again. */
  #candidate?: string;
  #lastError?: string;
  #stopped = false;
  readonly #modules?: WebConfigModules;
  readonly #handler: (req: Request) => Promise<Response>;
  readonly #finished: Promise<void>;
  #resolveFinished!: () => void;
  /** Public listeners opened so far (1 + certificate swaps), for tests. */
  listeners = 0;

  private constructor(options: WebServerOptions, modules?: WebConfigModules, config?: WebConfig) {
    this.#options = options;
    this.#modules = modules;
    this.#config = config;
    this.#auth = config ? new modules!.Authenticator(config) : undefined;
    this.#port = options.port;
    this.#handler = modules
      ? modules.withAuth(
        options.handler,
        () => ({ config: this.#config, auth: this.#auth }),
        { routePrefix: options.routePrefix },
      )
      : options.handler;
    this.#finished = new Promise((resolve) => (this.#resolveFinished = resolve));
  }

  /**
   * Loads the web config (if any) and starts listening.
   *
   * @throws {WebConfigError} when the web config is bad.
   */
  static async start(options: WebServerOptions): Promise<WebServer> {
    const modules = options.webConfigFile ? await webConfigModules() : undefined;
    const config = options.webConfigFile
      ? await modules!.loadWebConfig(options.webConfigFile)
      : undefined;
    const server = new WebServer(options, modules, config);
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
    const listen = (hostname: string) => {
      const options = { hostname, port: this.#port };
      return tls
        ? Deno.listenTls({ ...options, cert: tls.cert, key: tls.key })
        : Deno.listen(options);
    };
    // Every address: the family found at start is kept for later listeners (TLS swaps).
    const listener = this.#options.hostname === "" && this.#hostname === undefined
      ? listenEveryAddress(listen)
      : listen(this.#hostname ?? this.#options.hostname);
    this.#hostname = (listener.addr as Deno.NetAddr).hostname;
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
    const next = await this.#changedConfig(now);
    if (!next) return false;
    const old = this.#config;
    const tlsChanged = next.tls?.cert !== old?.tls?.cert || next.tls?.key !== old?.tls?.key;
    this.#config = next;
    this.#auth = new this.#modules!.Authenticator(next);
    if (tlsChanged && !await this.#replaceListener(old)) return false;
    this.#options.logger.info("web config reloaded", {
      tls: next.tls !== undefined,
      users: next.users.size,
      bearer_token: next.tokenDigest !== undefined,
    });
    return true;
  }

  /** The web config re-read, when it differs from the running one and may be applied `now`. */
  async #changedConfig(now: boolean): Promise<WebConfig | undefined> {
    const file = this.#options.webConfigFile;
    if (!file || this.#stopped) return undefined;
    let next: WebConfig;
    try {
      next = await this.#modules!.loadWebConfig(file);
    } catch (e) {
      const err = (e as Error).message;
      // Logged once per distinct problem, not at every poll.
      if (err !== this.#lastError) {
        this.#options.logger.error("web config reload failed; keeping the running one", { err });
      }
      this.#lastError = err;
      this.#candidate = undefined;
      return undefined;
    }
    this.#lastError = undefined;
    if (this.#stopped || next.fingerprint === this.#config?.fingerprint) {
      this.#candidate = undefined;
      return undefined;
    }
    if (!now && next.fingerprint !== this.#candidate) {
      this.#candidate = next.fingerprint;
      return undefined;
    }
    this.#candidate = undefined;
    return next;
  }

  /**
   * Replaces the public listener by one with the new TLS settings: a
   * listener's certificate cannot change. Open connections carry on; one
   * attempted in that instant is refused. When the new one cannot listen,
   * goes back to `old` (config and listener) and returns false.
   */
  async #replaceListener(old: WebConfig | undefined): Promise<boolean> {
    this.#listener.close();
    try {
      this.#listener = await this.#listenSoon();
    } catch (e) {
      this.#config = old;
      this.#auth = old ? new this.#modules!.Authenticator(old) : undefined;
      this.#options.logger.error(
        "web config reload failed: cannot listen with the new TLS settings",
        { err: (e as Error).message },
      );
      // Do not stay deaf: listen again as before.
      this.#listener = await this.#listenSoon();
      this.#guard.serve(this.#listener);
      return false;
    }
    this.#guard.serve(this.#listener);
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
