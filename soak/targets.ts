/**
 * The soak's targets, in a process of their own so that the exporter's
 * figures are its own: the hostile server of the tests (every misbehaviour)
 * and a TLS server with an expired certificate. Prints one JSON line with
 * their URLs, then serves until stdin closes.
 *
 * @module
 */

import { hostileServer, tlsServer } from "../tests/_helpers/hostile_server.ts";

const hostile = hostileServer({ trickleMs: 1000 });
const expired = tlsServer("expired");
console.log(JSON.stringify({ hostile: hostile.url, tls: expired.url }));
// Serve until the soak closes our stdin.
for await (const _ of Deno.stdin.readable) { /* ignore */ }
await hostile.close();
await expired.close();
