/**
 * The HTTP layer: a plain `(Request) => Promise<Response>` handler that can be
 * tested by calling it, without a socket.
 *
 * @module
 */

import { CONTENT_TYPE } from "../metrics/exposition.ts";
import type { Exposition } from "../metrics/exposition_cache.ts";
import type { ResultsStore } from "../metrics/results.ts";
import { renderStatusPage, STATUS_PAGE_CSP } from "./status_page.ts";
import type { Result } from "../util/result.ts";

/** What the handler reads and asks for. */
export interface HandlerDeps {
  exposition: Exposition;
  store: ResultsStore;
  /** Reloads the configuration; resolves to why it failed, if it did. */
  reload: () => Promise<Result<unknown, string>>;
  version: string;
}

const ROUTES: Record<string, string[]> = {
  "/metrics": ["GET", "HEAD"],
  "/metrics/": ["GET", "HEAD"],
  "/": ["GET", "HEAD"],
  "/healthz": ["GET", "HEAD"],
  "/readyz": ["GET", "HEAD"],
  "/-/reload": ["POST", "PUT"],
};

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

/** Builds the request handler. */
export function createHandler(deps: HandlerDeps): (req: Request) => Promise<Response> {
  return async (req) => {
    const path = new URL(req.url).pathname;
    const methods = ROUTES[path];
    if (!methods) return text(404, "Not Found\n");
    if (!methods.includes(req.method)) {
      return text(405, "Method Not Allowed\n", { allow: methods.join(", ") });
    }
    const head = req.method === "HEAD";
    switch (path) {
      case "/metrics":
      case "/metrics/": {
        const body = await deps.exposition.body();
        const headers: Record<string, string> = {
          "content-type": CONTENT_TYPE,
          vary: "Accept-Encoding",
        };
        let bytes = body.bytes;
        if (acceptsGzip(req)) {
          bytes = await body.gzip();
          headers["content-encoding"] = "gzip";
        }
        headers["content-length"] = String(bytes.byteLength);
        return new Response(head ? null : bytes as Uint8Array<ArrayBuffer>, { headers });
      }
      case "/": {
        const html = renderStatusPage(deps.store.states, { version: deps.version });
        return new Response(head ? null : html, {
          headers: {
            "content-type": "text/html; charset=utf-8",
            "cache-control": "no-store",
            "content-security-policy": STATUS_PAGE_CSP,
            "x-content-type-options": "nosniff",
          },
        });
      }
      case "/healthz":
        return text(200, head ? "" : "OK\n");
      case "/readyz":
        return deps.store.allChecked()
          ? text(200, head ? "" : "OK\n")
          : text(503, head ? "" : "Not ready: waiting for the first check of every target\n");
      default: {
        const reloaded = await deps.reload();
        return reloaded.ok
          ? text(200, "Reloaded\n")
          : text(500, `Reload failed: ${reloaded.error}\n`);
      }
    }
  };
}
