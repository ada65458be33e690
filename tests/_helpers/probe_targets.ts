/**
 * The loopback target server of the `/probe` suites (on_demand_test.ts, the
 * side-by-side test with blackbox_exporter): one path per answer, and every
 * request it saw, for the header and body checks.
 *
 * | path | answer |
 * | --- | --- |
 * | `/ok` | 200 `hello world\n` |
 * | `/json` | 200 `{"status": "UP", "version": "1.2"}` |
 * | `/maintenance` | 200 `Down for MAINTENANCE` |
 * | `/big` | 200, 4096 bytes |
 * | `/status/NNN` | that status (no body for 204 and 304) |
 * | `/redirect`, `/moved`, `/see-other` | 302, 301, 303 to `/ok` |
 * | `/found` | 302 to `/json` |
 * | `/redirect-to?url=U` | 302 to `U` |
 * | `/last-modified` | 200 with `Last-Modified: Wed, 21 Oct 2015 07:28:00 GMT` |
 * | `/post-only` | 201 for a POST of `{"ping": true}`, else 405 |
 * | anything else | 404 |
 *
 * @module
 */

import { serve, type TestServer } from "./servers.ts";

/** One request the server saw. */
export interface SeenRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

function redirect(status: number, location: string): Response {
  return new Response(null, { status, headers: { location } });
}

function answer(req: Request, body: string): Response {
  const url = new URL(req.url);
  const status = /^\/status\/(\d{3})$/.exec(url.pathname);
  if (status) {
    const code = Number(status[1]);
    return new Response(code === 204 || code === 304 ? null : `status ${code}\n`, { status: code });
  }
  switch (url.pathname) {
    case "/ok":
      return new Response("hello world\n");
    case "/json":
      return new Response('{"status": "UP", "version": "1.2"}');
    case "/maintenance":
      return new Response("Down for MAINTENANCE");
    case "/big":
      return new Response("x".repeat(4096));
    case "/redirect":
      return redirect(302, "/ok");
    case "/moved":
      return redirect(301, "/ok");
    case "/see-other":
      return redirect(303, "/ok");
    case "/found":
      return redirect(302, "/json");
    case "/redirect-to":
      return redirect(302, url.searchParams.get("url") ?? "/ok");
    case "/last-modified":
      return new Response("old\n", {
        headers: { "last-modified": "Wed, 21 Oct 2015 07:28:00 GMT" },
      });
    case "/post-only":
      return req.method === "POST" && body === '{"ping": true}'
        ? new Response("created\n", { status: 201 })
        : new Response("method not allowed\n", { status: 405 });
    default:
      return new Response("not found\n", { status: 404 });
  }
}

/** Starts the target server on 127.0.0.1 (https://localhost with the test CA's certificate when `tls`). */
export function probeTargets(
  options: { tls?: boolean } = {},
): TestServer & { seen: SeenRequest[] } {
  const seen: SeenRequest[] = [];
  const server = serve(async (req) => {
    const body = await req.text();
    seen.push({
      method: req.method,
      path: new URL(req.url).pathname,
      headers: Object.fromEntries(req.headers),
      body,
    });
    return answer(req, body);
  }, options);
  return Object.assign(server, { seen });
}
