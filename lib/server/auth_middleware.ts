/**
 * Puts authentication in front of a handler: a request without valid
 * credentials gets one identical 401, whatever was wrong, unless its path is
 * open in the route table (routes.ts), so that kubelet probes need none.
 *
 * @module
 */

import { type Authenticator, requiresAuth } from "./auth.ts";
import { isOpenPath } from "./routes.ts";
import type { WebConfig } from "./web_config.ts";

function unauthorized(config: WebConfig): Response {
  const challenge = config.users.size > 0
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
}

/** Options of {@linkcode withAuth}. */
export interface WithAuthOptions {
  /** The route prefix the handler serves under (routes.ts resolvePath). Default `/`. */
  routePrefix?: string;
}

/**
 * Wraps a handler with the authentication of the web config returned by
 * `current` (read at every request, so that a reload applies at once).
 *
 * @example
 * ```ts
 * const config = await loadWebConfig("web.yml");
 * const auth = new Authenticator(config);
 * const protectedHandler = withAuth(handler, () => ({ config, auth }));
 * ```
 */
export function withAuth(
  handler: (req: Request) => Promise<Response>,
  current: () => { config?: WebConfig; auth?: Authenticator },
  options: WithAuthOptions = {},
): (req: Request) => Promise<Response> {
  return async (req) => {
    const { config, auth } = current();
    if (!auth || !config || !requiresAuth(config)) return handler(req);
    const path = new URL(req.url).pathname;
    if (isOpenPath(path, options.routePrefix) || await auth.check(req)) return handler(req);
    return unauthorized(config);
  };
}
