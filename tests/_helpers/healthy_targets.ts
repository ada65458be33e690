/**
 * Healthy targets in a process of their own: `deno run --allow-net
 * tests/_helpers/healthy_targets.ts` answers every path with 200 "ok" on
 * 127.0.0.1 and prints `LISTEN <port>`. A test that loads the exporter hard
 * (many scrapers) keeps its targets out of its own event loop this way, so a
 * slow answer is never the test's fault. Exits when stdin closes.
 *
 * @module
 */

const server = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen: ({ port }) => console.log(`LISTEN ${port}`) },
  () => new Response("ok\n"),
);
// The parent holds stdin: when it goes away, so do we.
for await (const _ of Deno.stdin.readable) { /* drain */ }
await server.shutdown();
