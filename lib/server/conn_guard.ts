/**
 * A guard in front of the exporter's HTTP server. `Deno.serve` has no header
 * timeout, no idle timeout and no connection limit: a slowloris client (or
 * many idle connections) holds file descriptors and memory for ever, until the
 * process can accept nothing — and /metrics stops answering exactly when
 * someone is attacking or misconfiguring things. The guard accepts the
 * public connections itself (plain TCP or TLS), forwards their bytes to the
 * real server on a loopback port, and
 *
 * - closes a connection whose request headers take longer than `headerTimeoutMs`
 *   (counted from the first byte of each request, or from the accept),
 * - closes a connection idle for `idleTimeoutMs`,
 * - closes a connection whose request head exceeds `maxHeaderBytes`,
 * - keeps at most `maxConnections`: a new connection evicts the one that has
 *   waited longest for its request (not one whose response is flowing), so
 *   that an attacker's stalled connections make room for Prometheus; the
 *   address holding the most connections pays first.
 *
 * It parses just enough HTTP/1.1 to find where each request's head ends
 * (`\r\n\r\n`) and skips a `Content-Length` body; anything it does not
 * understand (a chunked request body, an upgrade) is forwarded untracked,
 * still under the idle timeout.
 *
 * @module
 */

/** Options of {@linkcode ConnectionGuard}. */
export interface GuardOptions {
  /**
   * Most open client connections. Default: 1024, or fewer when the process's
   * open-file limit is low (each connection takes up to 3 descriptors).
   */
  maxConnections?: number;
  /** Most time for one request's head. Default: 10 s. */
  headerTimeoutMs?: number;
  /** Most time without a byte in either direction. Default: 120 s. */
  idleTimeoutMs?: number;
  /** Largest request head. Default: 64 KiB. */
  maxHeaderBytes?: number;
  /** Clock, ms. Default: `performance.now`. */
  now?: () => number;
}

/**
 * `head`: reading a request head (timed by the header timeout); `idle`: between
 * requests (only the idle timeout applies); `body`: skipping a request body;
 * `opaque`: no longer tracked.
 */
type Phase = "head" | "idle" | "body" | "opaque";

interface Tracked {
  client: Deno.Conn;
  /** The client's address: connections are limited fairly between addresses. */
  ip: string;
  upstream?: Deno.Conn;
  phase: Phase;
  /** When the current phase `head` or `idle` began. */
  since: number;
  /** The current request head so far (latin1, one char per byte). */
  headText: string;
  /** Request body bytes still to skip (phase `body`). */
  bodyLeft: number;
  /** True from a complete request until its response starts flowing back. */
  busy: boolean;
  lastActivity: number;
  /** When response bytes last went back to the client. */
  lastResponse: number;
  closed: boolean;
}

const decoder = new TextDecoder("latin1");

/** Counters of what the guard did, for tests and self-metrics. */
export interface GuardStats {
  accepted: number;
  headerTimeouts: number;
  idleTimeouts: number;
  evicted: number;
  rejected: number;
  tooLarge: number;
  /** Failed accepts (e.g. out of file descriptors); each lowers the connection limit. */
  acceptErrors: number;
}

/** Accepts connections on `listener` and forwards them to `upstream`. */
export class ConnectionGuard {
  readonly #upstream: Deno.ConnectOptions;
  #maxConnections: number;
  readonly #headerTimeoutMs: number;
  readonly #idleTimeoutMs: number;
  readonly #maxHeaderBytes: number;
  readonly #now: () => number;
  readonly #conns = new Set<Tracked>();
  readonly #perIp = new Map<string, number>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #listeners = new Set<Deno.Listener>();
  #sweeper?: ReturnType<typeof setInterval>;
  #closed = false;
  readonly stats: GuardStats = {
    accepted: 0,
    headerTimeouts: 0,
    idleTimeouts: 0,
    evicted: 0,
    rejected: 0,
    tooLarge: 0,
    acceptErrors: 0,
  };

  constructor(upstream: { hostname: string; port: number }, options: GuardOptions = {}) {
    this.#upstream = { hostname: upstream.hostname, port: upstream.port };
    this.#maxConnections = options.maxConnections ?? defaultMaxConnections();
    this.#headerTimeoutMs = options.headerTimeoutMs ?? 10_000;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 120_000;
    this.#maxHeaderBytes = options.maxHeaderBytes ?? 64 * 1024;
    this.#now = options.now ?? (() => performance.now());
    const sweepMs = Math.max(50, Math.min(1000, this.#headerTimeoutMs / 4));
    this.#sweeper = setInterval(() => this.#sweep(), sweepMs);
  }

  /** Client connections open now. */
  get open(): number {
    return this.#conns.size;
  }

  /**
   * Accepts connections from `listener` until it is closed (by the caller, to
   * swap certificates, or by {@linkcode close}). Connections already accepted
   * carry on.
   */
  serve(listener: Deno.Listener): void {
    this.#listeners.add(listener);
    const task = (async () => {
      try {
        for (;;) {
          let conn: Deno.Conn;
          try {
            conn = await listener.accept();
          } catch (e) {
            if (
              this.#closed || !this.#listeners.has(listener) ||
              e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted
            ) {
              return; // The listener was closed.
            }
            // Most likely out of file descriptors (EMFILE): learn the real
            // limit, make room, and keep accepting — never go deaf.
            this.stats.acceptErrors++;
            this.#maxConnections = Math.max(16, this.#conns.size - 8);
            this.#evictOne();
            await new Promise((r) => setTimeout(r, 20));
            continue;
          }
          this.#accept(conn);
        }
      } finally {
        this.#listeners.delete(listener);
      }
    })();
    this.#track(task);
  }

  /** Stops accepting, closes every connection and waits for the forwarding to end. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    for (const listener of this.#listeners) {
      try {
        listener.close();
      } catch { /* closed already */ }
    }
    for (const t of this.#conns) this.#drop(t);
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  #accept(client: Deno.Conn): void {
    this.stats.accepted++;
    if (this.#closed) {
      client.close();
      return;
    }
    const ip = (client.remoteAddr as Deno.NetAddr).hostname ?? "";
    if (this.#conns.size >= this.#maxConnections && !this.#makeRoom(ip)) {
      this.stats.rejected++;
      client.close();
      return;
    }
    const now = this.#now();
    const t: Tracked = {
      client,
      ip,
      phase: "head",
      since: now,
      headText: "",
      bodyLeft: 0,
      busy: false,
      lastActivity: now,
      lastResponse: -Infinity,
      closed: false,
    };
    this.#conns.add(t);
    this.#perIp.set(ip, (this.#perIp.get(ip) ?? 0) + 1);
    this.#track(this.#forward(t));
  }

  /**
   * Makes room for a connection from `ip` when the limit is reached. The
   * address holding the most connections pays: one of its waiting connections
   * is closed; if the newcomer's address is itself the heaviest, one of that
   * address's own waiting connections goes (several clients may share an
   * address behind a proxy). Among equals, {@linkcode evictOne} decides.
   */
  #makeRoom(ip: string): boolean {
    let top = "";
    let topCount = 0;
    for (const [address, count] of this.#perIp) {
      if (count > topCount) [top, topCount] = [address, count];
    }
    const mine = this.#perIp.get(ip) ?? 0;
    if (topCount > mine + 1 && this.#evictOne(top, 0)) return true;
    // The newcomer's address is the heaviest: it makes room among its own.
    if (mine > 0 && mine + 1 >= topCount) return this.#evictOne(ip);
    return this.#evictOne();
  }

  /**
   * Makes room for a new connection by closing the one most like an attack:
   * first the oldest stalled in the middle of a request head (the slowloris
   * signature), then the oldest idle keep-alive connection, then the oldest
   * that has sent nothing. Connections younger than a quarter of a second are
   * spared (a scraper's request may not have been read yet); false if no
   * connection can go.
   */
  #evictOne(ip?: string, minAgeMs = 250): boolean {
    const now = this.#now();
    let best: Tracked | undefined;
    let bestClass = 4;
    for (const t of this.#conns) {
      if (t.busy || (ip !== undefined && t.ip !== ip)) continue;
      let cls = 4;
      if (t.phase === "head" && now - t.since >= minAgeMs) cls = t.headText.length > 0 ? 1 : 3;
      else if (t.phase === "idle" && now - t.lastResponse > 1000) cls = 2;
      if (cls < bestClass || (cls === bestClass && cls < 4 && t.since < best!.since)) {
        best = t;
        bestClass = cls;
      }
    }
    if (!best || bestClass === 4) return false;
    this.stats.evicted++;
    this.#drop(best);
    return true;
  }

  #sweep(): void {
    const now = this.#now();
    for (const t of this.#conns) {
      if (t.phase === "head" && now - t.since > this.#headerTimeoutMs) {
        this.stats.headerTimeouts++;
        this.#drop(t);
      } else if (now - t.lastActivity > this.#idleTimeoutMs) {
        this.stats.idleTimeouts++;
        this.#drop(t);
      }
    }
  }

  #drop(t: Tracked): void {
    if (t.closed) return;
    t.closed = true;
    this.#conns.delete(t);
    const left = (this.#perIp.get(t.ip) ?? 1) - 1;
    if (left > 0) this.#perIp.set(t.ip, left);
    else this.#perIp.delete(t.ip);
    for (const conn of [t.client, t.upstream]) {
      try {
        conn?.close();
      } catch { /* closed already */ }
    }
  }

  /** Follows the request stream; returns false when a request head is too large. */
  #observe(t: Tracked, bytes: Uint8Array): boolean {
    let i = 0;
    while (i < bytes.length && t.phase !== "opaque") {
      if (t.phase === "body") {
        const skip = Math.min(t.bodyLeft, bytes.length - i);
        t.bodyLeft -= skip;
        i += skip;
        if (t.bodyLeft === 0) this.#requestDone(t);
        continue;
      }
      if (t.phase === "idle") {
        // The first byte of the next request starts its header clock.
        t.phase = "head";
        t.since = this.#now();
      }
      const known = t.headText.length;
      const text = t.headText + decoder.decode(bytes.subarray(i));
      const end = text.indexOf("\r\n\r\n", Math.max(0, known - 3));
      if (end < 0) {
        t.headText = text;
        return text.length <= this.#maxHeaderBytes;
      }
      const head = text.slice(0, end + 4);
      if (head.length > this.#maxHeaderBytes) return false;
      i += head.length - known;
      t.headText = "";
      t.busy = true;
      if (/^(transfer-encoding|upgrade):/im.test(head)) {
        t.phase = "opaque";
      } else {
        const length = /^content-length:[ \t]*(\d+)[ \t]*$/im.exec(head);
        t.bodyLeft = length ? Number(length[1]) : 0;
        if (t.bodyLeft > 0) t.phase = "body";
        else this.#requestDone(t);
      }
    }
    return true;
  }

  #requestDone(t: Tracked): void {
    t.phase = "idle";
    t.since = this.#now();
  }

  async #forward(t: Tracked): Promise<void> {
    const buf = new Uint8Array(16 * 1024);
    let back: Promise<void> | undefined;
    try {
      // Bytes before the first request head is complete are held here: a
      // client that never finishes its head costs one descriptor, not three.
      let held: Uint8Array[] = [];
      for (;;) {
        const n = await t.client.read(buf);
        if (n === null || t.closed) break;
        t.lastActivity = this.#now();
        const chunk = buf.slice(0, n);
        if (!this.#observe(t, chunk)) {
          this.stats.tooLarge++;
          break;
        }
        if (!t.upstream) {
          held.push(chunk);
          if (!t.busy && t.phase !== "opaque") continue;
          t.upstream = await Deno.connect(this.#upstream);
          if (t.closed) break;
          back = this.#pipeBack(t);
          for (const piece of held) await writeAll(t.upstream, piece);
          held = [];
        } else {
          await writeAll(t.upstream, chunk);
        }
      }
      // The client is done sending; let the response finish.
      if (t.upstream && !t.closed) await t.upstream.closeWrite().catch(() => {});
      await back;
    } catch {
      // A reset or a closed connection: either way, the end.
    } finally {
      this.#drop(t);
      await back;
    }
  }

  async #pipeBack(t: Tracked): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await t.upstream!.read(buf);
        if (n === null || t.closed) break;
        t.lastActivity = t.lastResponse = this.#now();
        await writeAll(t.client, buf.subarray(0, n));
        // A response is flowing: the connection may be evicted again once idle.
        t.busy = false;
      }
    } catch {
      // Closed.
    } finally {
      this.#drop(t);
    }
  }
}

let probedMax: number | undefined;

/**
 * 1024, or fewer when the open-file limit is low: a sixth of (limit − 128),
 * leaving half the descriptors to checks (each guarded connection takes up to
 * three). Deno cannot read the limit without --allow-all, so it is probed once
 * by opening /dev/null until the OS refuses (at most 6,400 times);
 * running out of descriptors must not happen later, because `Deno.serve` ends
 * the process when its accept fails with EMFILE.
 */
export function defaultMaxConnections(): number {
  if (probedMax !== undefined) return probedMax;
  const files: Deno.FsFile[] = [];
  let limit = Infinity;
  try {
    for (let i = 0; i < 6400; i++) files.push(Deno.openSync("/dev/null"));
  } catch (e) {
    // EMFILE: the limit is about what we hold plus what was open before.
    if (!(e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.NotFound)) {
      limit = files.length + 16;
    }
  } finally {
    for (const f of files) f.close();
  }
  probedMax = Math.max(16, Math.min(1024, Math.floor((limit - 128) / 6)));
  return probedMax;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.byteLength) off += await conn.write(bytes.subarray(off));
}
