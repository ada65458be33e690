/**
 * The HTTP layer: one table of every endpoint (path, methods, whether it is
 * open without credentials, handler) and a plain `(Request) => Promise<Response>`
 * handler built from it, testable by calling it without a socket. A path is
 * served only by its own entry: anything else is 404, so adding an endpoint
 * is one entry here and nothing else.
 *
 * @module
 */

import { CONTENT_TYPE } from "../metrics/exposition.ts";
import type { Exposition } from "../metrics/exposition_cache.ts";
import type { ResultsStore } from "../metrics/results.ts";
import { renderStatusPage, STATUS_PAGE_CSP } from "./status_page.ts";
import type { Result } from "../util/result.ts";
import type { OnDemandAnswer, OnDemandQuery } from "../check/on_demand.ts";

/** What the handler reads and asks for. */
export interface HandlerDeps {
  exposition: Exposition;
  store: ResultsStore;
  /** Reloads the configuration; resolves to why it failed, if it did. */
  reload: () => Promise<Result<unknown, string>>;
  version: string;
  /** Runs one on-demand check for `/probe` (on_demand.ts). Default: `/probe` answers 404. */
  probe?: (query: OnDemandQuery) => Promise<OnDemandAnswer>;
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
  const body = await deps.exposition.body();
  const headers: Record<string, string> = { "content-type": CONTENT_TYPE, vary: "Accept-Encoding" };
  let bytes = body.bytes;
  if (acceptsGzip(req)) {
    bytes = await body.gzip();
    headers["content-encoding"] = "gzip";
  }
  headers["content-length"] = String(bytes.byteLength);
  const head = req.method === "HEAD";
  return new Response(head ? null : bytes as Uint8Array<ArrayBuffer>, { headers });
}

function serveStatusPage(req: Request, deps: HandlerDeps): Response {
  const html = renderStatusPage(deps.store.states, { version: deps.version });
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
  return deps.store.allChecked()
    ? text(200, head ? "" : "OK\n")
    : text(503, head ? "" : "Not ready: waiting for the first check of every target\n");
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
    { path: "/-/reload", methods: ["POST", "PUT"], open: false, handle: serveReload },
    { path: "/probe", methods: ["GET"], open: false, handle: serveProbe },
  ].map((route) => Object.freeze({ ...route, methods: Object.freeze(route.methods) })),
);

const BY_PATH: ReadonlyMap<string, Route> = new Map(ROUTES.map((route) => [route.path, route]));

/**
 * Whether `path` is served without credentials (`/healthz`, `/readyz`).
 *
 * @example
 * ```ts
 * isOpenPath("/healthz"); // true
 * isOpenPath("/metrics"); // false
 * ```
 */
export function isOpenPath(path: string): boolean {
  return BY_PATH.get(path)?.open === true;
}

/**
 * Builds the request handler: the route of the path, 404 without one, 405
 * (with `Allow`) for a method it does not answer.
 *
 * @example
 * ```ts
 * const handler = createHandler({ exposition, store, reload, version: "1.0.0" });
 * const res = await handler(new Request("http://x/healthz")); // 200 "OK\n"
 * ```
 */
export function createHandler(deps: HandlerDeps): (req: Request) => Promise<Response> {
  // async, so that a handler that throws rejects (onError answers) instead of throwing.
  return async (req) => {
    const route = BY_PATH.get(new URL(req.url).pathname);
    if (!route) return text(404, "Not Found\n");
    if (!route.methods.includes(req.method)) {
      return text(405, "Method Not Allowed\n", { allow: route.methods.join(", ") });
    }
    return await route.handle(req, deps);
  };
}
