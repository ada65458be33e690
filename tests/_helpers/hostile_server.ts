/**
 * A hostile HTTP target on real loopback sockets: one misbehaviour per path,
 * written byte by byte over raw TCP so that it can do what no well-behaved
 * server library would (garbage instead of HTTP, a reset mid-body, a 1 MB
 * header…). Also TLS servers with bad certificates and a listener whose
 * accept queue is full. Every server counts the connections it holds open, so
 * a test can assert that the client closed every one of them (no leak).
 *
 * Paths of {@linkcode hostileServer}:
 *
 * | path | behaviour |
 * | --- | --- |
 * | `/ok` | 200 with a short body |
 * | `/hang` | accepts, reads the request, never answers |
 * | `/trickle` | headers, then the body one byte per `trickleMs` (default 1 s) |
 * | `/endless` | headers, then an endless chunked body at full speed |
 * | `/loop/a`, `/loop/b` | redirect to each other |
 * | `/redirect-closed` | redirect to a port where nothing listens |
 * | `/reset` | headers and half the body, then a TCP reset |
 * | `/close` | closes the connection before sending anything |
 * | `/garbage` | bytes that are not HTTP |
 * | `/big-header` | a response with a 1 MB header |
 * | `/204`, `/304` | those statuses, with no body |
 * | `/http10` | HTTP/1.0, no Content-Length, body ends with the connection |
 * | `/utf8-location` | 302 to `/ok/bücher-☃`, the Location sent as raw UTF-8 bytes |
 * | `/ok/…` | 200 `ok` (where `/utf8-location` leads; `hits` shows the path asked for) |
 * | `/headers/N` | 200 with N header lines in all (Deno's client takes at most 100) |
 *
 * @module
 */

const encoder = new TextEncoder();
import { freePort } from "./servers.ts";

const FIXTURES = new URL("../fixtures/hostile/", import.meta.url);

/** Path of a file in tests/fixtures/hostile. */
export function hostileFixture(name: string): string {
  return new URL(name, FIXTURES).pathname;
}

/** A running hostile server. */
export interface HostileServer extends AsyncDisposable {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:40123` or `http://[::1]:40123`. */
  readonly url: string;
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections accepted and not yet closed (by the client, or by the server's behaviour). */
  readonly open: number;
  /** Requests seen per path. */
  readonly hits: ReadonlyMap<string, number>;
  close(): Promise<void>;
}

/** Options of {@linkcode hostileServer}. */
export interface HostileOptions {
  /** Listen address. Default: 127.0.0.1. */
  hostname?: "127.0.0.1" | "::1";
  /** Milliseconds between the bytes of `/trickle`. Default: 1000. */
  trickleMs?: number;
  /** Size of the `/big-header` header value. Default: 1 MiB. */
  bigHeaderBytes?: number;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.byteLength) off += await conn.write(bytes.subarray(off));
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });

/**
 * Reads the request line with small reads and returns its path, leaving the
 * rest of the request unread (closing with unread input makes Linux send a
 * reset, which `/reset` wants). `rest` holds what was read past the line.
 */
async function readRequestLine(
  conn: Deno.Conn,
): Promise<{ path: string; rest: string } | undefined> {
  const buf = new Uint8Array(16);
  let head = "";
  while (!head.includes("\r\n")) {
    const n = await conn.read(buf);
    if (n === null) return undefined;
    head += new TextDecoder().decode(buf.subarray(0, n));
    if (head.length > 8192) return undefined;
  }
  const [line = "", rest = ""] = head.split(/\r\n(.*)/s);
  // Behaviours are chosen by path; a query string (`/hang?n=3`) only makes URLs distinct.
  const path = (line.split(" ")[1] ?? "/").split("?")[0]!;
  return { path, rest };
}

/** Reads until the end of the request head (a GET has no body). */
async function drainHead(conn: Deno.Conn, rest: string): Promise<void> {
  let seen = "\r\n" + rest;
  const buf = new Uint8Array(4096);
  while (!seen.includes("\r\n\r\n")) {
    const n = await conn.read(buf);
    if (n === null) return;
    seen = seen.slice(-3) + new TextDecoder().decode(buf.subarray(0, n));
  }
}

/** Resolves when the peer closes the connection (or it errors, or `signal` aborts). */
async function untilClosed(conn: Deno.Conn, signal: AbortSignal): Promise<void> {
  const buf = new Uint8Array(4096);
  const aborted = new Promise<null>((resolve) => {
    if (signal.aborted) resolve(null);
    signal.addEventListener("abort", () => resolve(null), { once: true });
  });
  try {
    while (true) {
      const n = await Promise.race([conn.read(buf), aborted]);
      if (n === null) return;
    }
  } catch {
    // Reset or closed: either way, gone.
  }
}

function head(status: string, headers: Record<string, string | number> = {}, version = "1.1") {
  let out = `HTTP/${version} ${status}\r\n`;
  for (const [k, v] of Object.entries(headers)) out += `${k}: ${v}\r\n`;
  return encoder.encode(out + "\r\n");
}

/**
 * Starts the hostile server on a free port. Close it (or `await using` it);
 * closing ends every behaviour and closes every connection it still holds.
 */
export function hostileServer(options: HostileOptions = {}): HostileServer {
  const hostname = options.hostname ?? "127.0.0.1";
  const trickleMs = options.trickleMs ?? 1000;
  const bigHeaderBytes = options.bigHeaderBytes ?? 1024 * 1024;
  const listener = Deno.listen({ hostname, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const url = `http://${host}:${port}`;
  const closedPort = freePort();
  const stop = new AbortController();
  const conns = new Set<Deno.Conn>();
  const handlers = new Set<Promise<void>>();
  const hits = new Map<string, number>();
  let accepted = 0;

  const behave = async (conn: Deno.Conn): Promise<void> => {
    const signal = stop.signal;
    const request = await readRequestLine(conn);
    if (!request) return;
    const { path, rest } = request;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (path === "/reset") {
      // Half of the promised body, then close with the request unread: a reset.
      await writeAll(conn, head("200 OK", { "content-length": 1000 }));
      await writeAll(conn, new Uint8Array(500).fill(120));
      await sleep(50, signal);
      return;
    }
    await drainHead(conn, rest);
    if (path.startsWith("/ok/")) {
      await writeAll(conn, head("200 OK", { "content-length": 2, connection: "close" }));
      await writeAll(conn, encoder.encode("ok"));
      return;
    }
    if (path.startsWith("/headers/")) {
      const lines = Number(path.slice("/headers/".length));
      const headers: Record<string, string | number> = { "content-length": 2, connection: "close" };
      for (let i = 2; i < lines; i++) headers[`x-h${i}`] = "v";
      await writeAll(conn, head("200 OK", headers));
      await writeAll(conn, encoder.encode("ok"));
      return;
    }
    switch (path) {
      case "/ok":
        await writeAll(conn, head("200 OK", { "content-length": 2, connection: "close" }));
        await writeAll(conn, encoder.encode("ok"));
        return;
      case "/hang":
        await untilClosed(conn, signal);
        return;
      case "/trickle": {
        await writeAll(conn, head("200 OK", { "content-length": 1_000_000 }));
        const closed = untilClosed(conn, signal).then(() => true);
        let gone = false;
        closed.then(() => (gone = true));
        while (!gone && !signal.aborted) {
          await writeAll(conn, encoder.encode("x"));
          await Promise.race([sleep(trickleMs, signal), closed]);
        }
        return;
      }
      case "/endless": {
        await writeAll(conn, head("200 OK", { "transfer-encoding": "chunked" }));
        const chunk = new Uint8Array(64 * 1024).fill(97);
        const frame = new Uint8Array([
          ...encoder.encode(`${chunk.byteLength.toString(16)}\r\n`),
          ...chunk,
          ...encoder.encode("\r\n"),
        ]);
        while (!signal.aborted) await writeAll(conn, frame);
        return;
      }
      case "/loop/a":
      case "/loop/b": {
        const to = path === "/loop/a" ? "/loop/b" : "/loop/a";
        await writeAll(
          conn,
          head("302 Found", { location: to, "content-length": 0, connection: "close" }),
        );
        return;
      }
      case "/redirect-closed":
        await writeAll(
          conn,
          head("302 Found", {
            location: `http://127.0.0.1:${closedPort}/`,
            "content-length": 0,
            connection: "close",
          }),
        );
        return;
      case "/close":
        return;
      case "/garbage":
        await writeAll(
          conn,
          encoder.encode("\x00\xffSSH-2.0-not-http\r\n\x16\x03\x01garbage\r\n\r\n"),
        );
        return;
      case "/big-header":
        await writeAll(
          conn,
          head("200 OK", {
            "x-big": "a".repeat(bigHeaderBytes),
            "content-length": 2,
            connection: "close",
          }),
        );
        await writeAll(conn, encoder.encode("ok"));
        return;
      case "/utf8-location":
        // head() encodes as UTF-8: the bytes C3 BC for ü and E2 98 83 for ☃, as many servers send.
        await writeAll(
          conn,
          head("302 Found", { location: "/ok/bücher-☃", "content-length": 0, connection: "close" }),
        );
        return;
      case "/204":
        await writeAll(conn, head("204 No Content", { connection: "close" }));
        await untilClosed(conn, signal);
        return;
      case "/304":
        await writeAll(conn, head("304 Not Modified", { etag: '"x"', connection: "close" }));
        await untilClosed(conn, signal);
        return;
      case "/http10":
        await writeAll(conn, head("200 OK", { "content-type": "text/plain" }, "1.0"));
        await writeAll(conn, encoder.encode("body until close"));
        return;
      default:
        await writeAll(conn, head("404 Not Found", { "content-length": 0, connection: "close" }));
    }
  };

  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        accepted++;
        conns.add(conn);
        const handler = behave(conn).catch(() => {}).finally(() => {
          conns.delete(conn);
          try {
            conn.close();
          } catch { /* already closed */ }
          handlers.delete(handler);
        });
        handlers.add(handler);
      }
    } catch { /* listener closed */ }
  })();

  const close = async () => {
    if (stop.signal.aborted) return;
    stop.abort();
    listener.close();
    for (const conn of conns) {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
    await accepting;
    await Promise.allSettled([...handlers]);
  };
  return {
    url,
    port,
    get accepted() {
      return accepted;
    },
    get open() {
      return conns.size;
    },
    hits,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A plain HTTPS server answering 200 "ok" with a certificate from tests/fixtures/hostile. */
export interface TlsTestServer extends AsyncDisposable {
  /** `https://localhost:PORT` */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Serves HTTPS on 127.0.0.1 with `NAME.pem` / `NAME.key` from tests/fixtures/hostile. */
export function tlsServer(name: "expired" | "wrong_host" | "self_signed" | "localhost") {
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    // The handshake fails on the client side; the server's complaint is expected.
    onError: () => new Response("error", { status: 500 }),
    cert: Deno.readTextFileSync(hostileFixture(`${name}.pem`)),
    key: Deno.readTextFileSync(hostileFixture(`${name}.key`)),
  }, () => new Response("ok"));
  const port = server.addr.port;
  const close = () => server.shutdown();
  return {
    url: `https://localhost:${port}`,
    port,
    close,
    [Symbol.asyncDispose]: close,
  } satisfies TlsTestServer;
}

/** A listener whose accept queue is full: new connections get no SYN-ACK (connect hangs). */
export interface FullBacklog extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  /** Connections used to fill the queue. */
  readonly fillers: number;
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 with a backlog of 1, never accepts, and fills the
 * accept queue with connections of its own, so that the next connect attempt
 * hangs until the client gives up (Linux drops the SYN of a listener whose
 * queue is full). Throws when the queue cannot be filled within `maxFillers`.
 */
export async function fullBacklog(maxFillers = 64): Promise<FullBacklog> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0, tcpBacklog: 1 });
  const port = (listener.addr as Deno.NetAddr).port;
  const fillers: Deno.Conn[] = [];
  const close = () => {
    for (const c of fillers) c.close();
    listener.close();
    return Promise.resolve();
  };
  try {
    for (;;) {
      if (fillers.length >= maxFillers) {
        throw new Error(`accept queue not full after ${maxFillers} connections`);
      }
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port,
        signal: AbortSignal.timeout(200),
      }).catch(() => undefined);
      // An attempt that does not connect within 200 ms hangs: the queue is full.
      if (!conn) break;
      fillers.push(conn);
    }
  } catch (e) {
    await close();
    throw e;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    fillers: fillers.length,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * A TLS server that offers only TLS 1.0 and 1.1, which Deno's client (rustls:
 * TLS 1.2 and 1.3 only) cannot speak: OpenSSL's `s_server` on 127.0.0.1 and a
 * port it picks, with the localhost certificate (SECLEVEL 0, as OpenSSL 3
 * refuses those versions otherwise). Needs `openssl` (.ci/tls_tools.sh).
 */
export async function legacyTlsServer(): Promise<TlsTestServer> {
  const child = new Deno.Command("openssl", {
    args: [
      "s_server",
      "-accept",
      "127.0.0.1:0",
      "-cert",
      hostileFixture("localhost.pem"),
      "-key",
      hostileFixture("localhost.key"),
      "-no_tls1_2",
      "-no_tls1_3",
      "-cipher",
      "DEFAULT@SECLEVEL=0",
      "-www",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let port = 0;
  while (!port) {
    const { done, value } = await reader.read();
    if (done) break;
    text += value;
    port = Number(/ACCEPT 127\.0\.0\.1:(\d+)/.exec(text)?.[1] ?? 0);
  }
  // The rest of its output (one line per refused handshake) is read and dropped.
  const draining = (async () => {
    while (!(await reader.read()).done) { /* drop */ }
  })().catch(() => {});
  const close = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    await child.status;
    await draining;
  };
  if (!port) {
    await close();
    throw new Error(`openssl s_server did not start: ${text}`);
  }
  return { url: `https://localhost:${port}`, port, close, [Symbol.asyncDispose]: close };
}

/** Samples of a Prometheus text exposition by `name{labels}` (labels as written). */
export function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** Counts unhandled promise rejections until disposed (then it stops listening). */
export function rejectionWatch(): { readonly count: number; reasons: unknown[] } & Disposable {
  const reasons: unknown[] = [];
  const onRejection = (e: PromiseRejectionEvent) => {
    e.preventDefault();
    reasons.push(e.reason);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  return {
    get count() {
      return reasons.length;
    },
    reasons,
    [Symbol.dispose]: () => globalThis.removeEventListener("unhandledrejection", onRejection),
  };
}
