/**
 * The HTTP layer: one table of every endpoint (path, methods, whether it is
 * open without credentials, handler) and a plain `(Request) => Promise<Response>`
 * handler built from it, testable by calling it without a socket. A path is
 * served only by its own entry: anything else is 404, so adding an endpoint
 * is one entry here and nothing else.
 *
 * The route prefix (`--web.route-prefix`) is handled here and only here
 * ({@linkcode resolvePath}): every entry lives under it, a path outside it is
 * 404, and `/` redirects to it, as in Prometheus. The status page's links are
 * relative, so they follow the prefix by themselves.
 *
 * @module
 */

import { negotiate } from "./negotiate.ts";
import type { Exposition } from "../metrics/exposition_cache.ts";
import type { ResultsStore } from "../metrics/results.ts";
import { type ExporterStatus, targetsResponse } from "./api.ts";
import { renderStatusPage, type ShardSummary, STATUS_PAGE_CSP } from "./status_page.ts";
import { err, ok, type Result } from "../util/result.ts";
import type { OnDemandAnswer, OnDemandQuery } from "../check/on_demand.ts";

/** What the handler reads and asks for. */
export interface HandlerDeps {
  exposition: Exposition;
  store: ResultsStore;
  /** Reloads the configuration; resolves to why it failed, if it did. */
  reload: () => Promise<Result<unknown, string>>;
  version: string;
  /**
   * Resolves once the first config is loaded: routes that show targets wait
   * for it (open routes do not). Default: loaded already.
   */
  loaded?: Promise<unknown>;
  /** Whether `/readyz` says ready, and why not. Default: every target checked once. */
  ready?: () => Result<void, string>;
  /** Path every endpoint lives under, `/` or `/a/b` (see cli.ts parseRoutePrefix). Default `/`. */
  routePrefix?: string;
  /** Runs one on-demand check for `/probe` (on_demand.ts). Default: `/probe` answers 404. */
  probe?: (query: OnDemandQuery) => Promise<OnDemandAnswer>;
  /** Demo targets and a failed reload, for the status page and the API. Default: neither. */
  status?: () => ExporterStatus;
  /** This replica's share, when it is one of several (status page, JSON API). Default: none. */
  shard?: () => ShardSummary | undefined;
}

/** One endpoint. */
export interface Route {
  readonly path: string;
  /** The methods it answers; any other gets 405 with these in `Allow`. */
  readonly methods: readonly string[];
  /** Served without credentials even when the web config asks for them (kubelet probes). */
  readonly open: boolean;
  /** Answers a request whose path and method matched. */
  readonly handle: (req: Request, deps: HandlerDeps) => Response | Promise<Response>;
}

function text(status: number, body: string, headers: HeadersInit = {}): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}

/** Whether the client accepts gzip (`Accept-Encoding: gzip`, not `gzip;q=0`). */
function acceptsGzip(req: Request): boolean {
  const header = req.headers.get("accept-encoding");
  if (!header) return false;
  return header.split(",").some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(";");
    if (coding !== "gzip" && coding !== "*") return false;
    return !params.some((p) => /^\s*q=0(\.0*)?\s*$/.test(p));
  });
}

async function serveMetrics(req: Request, deps: HandlerDeps): Promise<Response> {
  const { format, contentType } = negotiate(req.headers.get("accept"));
  const body = await deps.exposition.body(format);
  const headers: Record<string, string> = {
    "content-type": contentType,
    vary: "Accept, Accept-Encoding",
  };
  // The cached form is gzip: a gzip client gets it as it is, never decompressed.
  let bytes: Uint8Array;
  if (acceptsGzip(req)) {
    bytes = await body.gzip();
    headers["content-encoding"] = "gzip";
  } else {
    bytes = await body.plain();
  }
  headers["content-length"] = String(bytes.byteLength);
  const head = req.method === "HEAD";
  return new Response(head ? null : bytes as Uint8Array<ArrayBuffer>, { headers });
}

function serveStatusPage(req: Request, deps: HandlerDeps): Response {
  const html = renderStatusPage(deps.store.states, {
    version: deps.version,
    status: deps.status?.(),
    shard: deps.shard?.(),
  });
  return new Response(req.method === "HEAD" ? null : html, {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "content-security-policy": STATUS_PAGE_CSP,
      "x-content-type-options": "nosniff",
    },
  });
}

function serveHealth(req: Request): Response {
  return text(200, req.method === "HEAD" ? "" : "OK\n");
}

function serveReady(req: Request, deps: HandlerDeps): Response {
  const head = req.method === "HEAD";
  const ready = deps.ready ? deps.ready() : deps.store.allChecked() ? ok(undefined) : err(
    "waiting for the first check of every target",
  );
  return ready.ok
    ? text(200, head ? "" : "OK\n")
    : text(503, head ? "" : `Not ready: ${ready.error}\n`);
}

function serveTargets(req: Request, deps: HandlerDeps): Response {
  const json = JSON.stringify(
    targetsResponse(deps.store.states, { status: deps.status?.(), shard: deps.shard?.() }),
  );
  const headers: Record<string, string> = {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    vary: "Accept-Encoding",
  };
  if (req.method === "HEAD") return new Response(null, { headers });
  if (!acceptsGzip(req)) return new Response(json, { headers });
  headers["content-encoding"] = "gzip";
  const gzip = new Response(json).body!.pipeThrough(new CompressionStream("gzip"));
  return new Response(gzip, { headers });
}

async function serveReload(_req: Request, deps: HandlerDeps): Promise<Response> {
  const reloaded = await deps.reload();
  return reloaded.ok ? text(200, "Reloaded\n") : text(500, `Reload failed: ${reloaded.error}\n`);
}

async function serveProbe(req: Request, deps: HandlerDeps): Promise<Response> {
  if (!deps.probe) return text(404, "Not Found: /probe is not available\n");
  const answer = await deps.probe({
    params: new URL(req.url).searchParams,
    // Not req.signal: Deno.serve aborts it after every response (and warns); the timeout bounds the check.
    scrapeTimeout: req.headers.get("x-prometheus-scrape-timeout-seconds"),
  });
  return new Response(answer.body, {
    status: answer.status,
    headers: { "content-type": answer.contentType, "cache-control": "no-store" },
  });
}

const READ = ["GET", "HEAD"];

/** Every endpoint of the exporter; frozen, since which paths are open is read from it. */
export const ROUTES: readonly Route[] = Object.freeze(
  [
    { path: "/metrics", methods: READ, open: false, handle: serveMetrics },
    { path: "/metrics/", methods: READ, open: false, handle: serveMetrics },
    { path: "/", methods: READ, open: false, handle: serveStatusPage },
    { path: "/healthz", methods: READ, open: true, handle: serveHealth },
    { path: "/readyz", methods: READ, open: true, handle: serveReady },
    // Prometheus' own names for the same two, which its users' probes expect.
    { path: "/-/healthy", methods: READ, open: true, handle: serveHealth },
    { path: "/-/ready", methods: READ, open: true, handle: serveReady },
    { path: "/api/v1/targets", methods: READ, open: false, handle: serveTargets },
    { path: "/-/reload", methods: ["POST", "PUT"], open: false, handle: serveReload },
    { path: "/probe", methods: ["GET"], open: false, handle: serveProbe },
  ].map((route) => Object.freeze({ ...route, methods: Object.freeze(route.methods) })),
);

const BY_PATH: ReadonlyMap<string, Route> = new Map(ROUTES.map((route) => [route.path, route]));

/** Where a request path leads under a route prefix. */
export type Resolved =
  /** An entry of the table. */
  | { kind: "route"; route: Route }
  /** Not served: 404. */
  | { kind: "none" }
  /** A redirect (GET and HEAD only): `/` and the bare prefix go to `<prefix>/`. */
  | { kind: "redirect"; location: string };

/**
 * The one place the route prefix is applied: strips it from `path` and
 * looks the rest up in the table. Outside the prefix nothing is served but
 * `/`, which redirects to the prefix (as Prometheus does); the prefix
 * without its trailing slash redirects to it with one, so that the status
 * page's relative links resolve under the prefix.
 *
 * @example
 * ```ts
 * resolvePath("/uptime/metrics", "/uptime"); // { kind: "route", route: <the /metrics entry> }
 * resolvePath("/metrics", "/uptime"); // { kind: "none" }
 * resolvePath("/", "/uptime"); // { kind: "redirect", location: "/uptime/" }
 * ```
 */
export function resolvePath(path: string, prefix = "/"): Resolved {
  let inner: string | undefined = path;
  if (prefix !== "/") {
    if (path === prefix || path === "/") return { kind: "redirect", location: `${prefix}/` };
    inner = path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : undefined;
  }
  const route = inner === undefined ? undefined : BY_PATH.get(inner);
  return route ? { kind: "route", route } : { kind: "none" };
}

/**
 * Whether `path` (under `prefix`, default `/`) is served without
 * credentials: `/healthz`, `/readyz`, `/-/healthy`, `/-/ready`.
 *
 * @example
 * ```ts
 * isOpenPath("/healthz"); // true
 * isOpenPath("/metrics"); // false
 * isOpenPath("/uptime/-/ready", "/uptime"); // true
 * ```
 */
export function isOpenPath(path: string, prefix = "/"): boolean {
  const resolved = resolvePath(path, prefix);
  return resolved.kind === "route" && resolved.route.open;
}

/**
 * Builds the request handler: the route of the path (under
 * `deps.routePrefix`), 404 without one, 405 (with `Allow`) for a method it
 * does not answer.
 *
 * @example
 * ```ts
 * const handler = createHandler({ exposition, store, reload, version: "1.0.0" });
 * const res = await handler(new Request("http://x/healthz")); // 200 "OK\n"
 * ```
 */
export function createHandler(deps: HandlerDeps): (req: Request) => Promise<Response> {
  const prefix = deps.routePrefix ?? "/";
  // async, so that a handler that throws rejects (onError answers) instead of throwing.
  return async (req) => {
    const url = new URL(req.url);
    const resolved = resolvePath(url.pathname, prefix);
    if (resolved.kind === "redirect") {
      if (!READ.includes(req.method)) return text(404, "Not Found\n");
      return new Response(null, {
        status: 302,
        headers: { location: resolved.location + url.search },
      });
    }
    if (resolved.kind === "none") return text(404, "Not Found\n");
    const route = resolved.route;
    if (!route.methods.includes(req.method)) {
      return text(405, "Method Not Allowed\n", { allow: route.methods.join(", ") });
    }
    if (!route.open && deps.loaded) await deps.loaded;
    return await route.handle(req, deps);
  };
}
