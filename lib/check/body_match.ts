/**
 * Matches a response body against a `body_regex` ({@linkcode matchBody}) in
 * time linear in the body (re2js: RE2 semantics, no backtracking) and without
 * holding the caller's event loop for more than a few milliseconds: a body
 * whose worst-case cost is small is matched inline, any other in a matcher
 * `Worker` (a thread of its own), started on first need, given one match at a
 * time, terminated when the match must stop (re2js cannot be interrupted),
 * when idle, and by {@linkcode closeBodyMatchers} when the app stops.
 *
 * @module
 */

import { RE2JS } from "re2js";
import type { BodyPattern } from "../config/body_regex.ts";
import { err, ok, type Result } from "../util/result.ts";

/**
 * Largest `body bytes × program instructions` matched inline: e.g. up to 273
 * bytes for `"status":"UP"` (15 instructions). The cost of a hostile body
 * grows with both (a DFA state built for each byte, each state costing with
 * the program's size): the worst case measured at this limit is ~4 ms
 * (`bench/body_match.ts`, docs/hardening.md), where 16 KiB inline took ~70 ms.
 * Anything larger goes to a matcher.
 */
export const INLINE_COST_LIMIT = 4096;

/** Why a match gave no answer. */
export type MatchError =
  | {
    /** The signal aborted (the check's timeout, or a shutdown). */
    readonly kind: "aborted";
    /** True when the match was running; false when it still waited for a busy matcher. */
    readonly running: boolean;
  }
  | {
    /** The matcher failed (could not start, or threw). */
    readonly kind: "failed";
    readonly message: string;
  };

/** Options of {@linkcode matchBody}. */
export interface MatchBodyOptions {
  /** Stops waiting; a running match is stopped by terminating its matcher. */
  signal?: AbortSignal;
  /** The matchers to use. Default: the shared ones, closed by {@linkcode closeBodyMatchers}. */
  matchers?: MatcherPool;
}

/**
 * True when `pattern` matches anywhere in `body` (UTF-8; as Go's
 * `regexp.Match` on the bytes, which blackbox_exporter uses).
 *
 * A body matched by a matcher has its buffer transferred, not copied: the
 * caller must not use `body` afterwards.
 *
 * @example
 * ```ts
 * const pattern = { source: '"status":"UP"', instructions: 15 };
 * const result = await matchBody(pattern, new TextEncoder().encode('{"status":"UP"}'));
 * if (result.ok) result.value; // true
 * ```
 */
export function matchBody(
  pattern: BodyPattern,
  body: Uint8Array,
  options: MatchBodyOptions = {},
): Promise<Result<boolean, MatchError>> {
  if (options.signal?.aborted) return Promise.resolve(err({ kind: "aborted", running: false }));
  if (body.byteLength * Math.max(1, pattern.instructions) <= INLINE_COST_LIMIT) {
    try {
      return Promise.resolve(ok(compiledPattern(pattern.source).test(body)));
    } catch (e) {
      return Promise.resolve(err({ kind: "failed", message: (e as Error).message }));
    }
  }
  const matchers = options.matchers ?? (shared ??= new MatcherPool());
  return matchers.match(pattern.source, body, options.signal);
}

let shared: MatcherPool | undefined;

/**
 * True when a check of `target` may need a matcher: its body_regex over a
 * body of up to `bodyLimit` bytes can cost more than {@linkcode INLINE_COST_LIMIT}.
 */
export function mayNeedMatcher(target: { bodyRegex?: BodyPattern; bodyLimit: number }): boolean {
  return target.bodyRegex !== undefined &&
    target.bodyLimit * Math.max(1, target.bodyRegex.instructions) > INLINE_COST_LIMIT;
}

/**
 * Starts one shared matcher now, if none is running: starting one holds the
 * caller ~20–70 ms, better spent before the checks start than while they are
 * timed. It is terminated when idle, like any other.
 */
export function warmBodyMatchers(): void {
  (shared ??= new MatcherPool()).warm();
}

/** Terminates the shared matchers (the app stops); a later large match starts new ones. */
export function closeBodyMatchers(): void {
  shared?.close();
  shared = undefined;
}

/** Distinct patterns kept compiled per thread; the oldest unused one is dropped beyond this. */
const COMPILED_CACHE_SIZE = 1024;
const compiled = new Map<string, RE2JS>();

/**
 * The compiled form of `source`, compiled once per distinct pattern in this
 * thread (inline matching and each matcher keep their own).
 *
 * @throws {Error} when `source` is not valid RE2 (config validation refuses those).
 */
export function compiledPattern(source: string): RE2JS {
  let re = compiled.get(source);
  if (re) {
    // Most recently used last, so the first key is the one to drop.
    compiled.delete(source);
  } else {
    re = RE2JS.compile(source);
    if (compiled.size >= COMPILED_CACHE_SIZE) compiled.delete(compiled.keys().next().value!);
  }
  compiled.set(source, re);
  return re;
}

/** What the page posts to a matcher (the body's buffer is transferred). */
export interface MatchRequest {
  readonly source: string;
  readonly body: Uint8Array;
}

/** What a matcher posts back. */
export type MatchReply = { readonly matched: boolean } | { readonly error: string };

/**
 * A started matcher as the pool uses it: a `Worker` is one. Another thread's
 * matcher can be one too, through a `MessagePort` handed to the matcher
 * module (`{ port }`, see body_match_worker.ts) plus a way to terminate it.
 */
export interface MatcherHandle {
  postMessage(message: MatchRequest, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<MatchReply>) => void) | null;
  /** Uncaught errors of the matcher (a Worker's `error` event). */
  onerror?: ((event: ErrorEvent) => void) | null;
  terminate(): void;
}

/**
 * Starts a matcher in this thread: `new Worker` of body_match_worker.ts.
 * Creating a Worker holds the calling thread ~20 ms (~70 ms for the first
 * one in a process), and a Worker started from inside a Worker answered its
 * first message only after ~1 s on Deno 2.9.6 (docs/hardening.md): a pool
 * inside a Worker should get its matchers from the main thread instead.
 */
export function startMatcherWorker(): MatcherHandle {
  return new Worker(new URL("./body_match_worker.ts", import.meta.url).href, { type: "module" });
}

/** Options of {@linkcode MatcherPool}. */
export interface MatcherPoolOptions {
  /**
   * Most matchers at once (each is a thread with its own heap, ~12 MiB RSS).
   * A second one starts only while the first is busy, so one target whose
   * match runs to its timeout does not hold up the others. Default: 2.
   */
  maxMatchers?: number;
  /** A matcher idle for this long is terminated. Default: 30 s. */
  idleMs?: number;
  /**
   * Starts a matcher; `deno compile` must `--include` its module (deno.json's
   * compile task includes body_match_worker.ts). Default: {@linkcode startMatcherWorker}.
   */
  spawn?: () => MatcherHandle;
}

interface Job {
  readonly source: string;
  readonly body: Uint8Array;
  readonly signal?: AbortSignal;
  readonly resolve: (result: Result<boolean, MatchError>) => void;
  matcher?: Matcher;
  onAbort?: () => void;
}

interface Matcher {
  readonly worker: MatcherHandle;
  job?: Job;
  idleTimer?: ReturnType<typeof setTimeout>;
}

/** Matcher Workers and the queue of matches waiting for one. */
export class MatcherPool {
  readonly #maxMatchers: number;
  readonly #idleMs: number;
  readonly #spawnMatcher: () => MatcherHandle;
  readonly #matchers = new Set<Matcher>();
  readonly #queue: Job[] = [];
  #started = 0;

  constructor(options: MatcherPoolOptions = {}) {
    this.#maxMatchers = Math.max(1, options.maxMatchers ?? 2);
    this.#idleMs = options.idleMs ?? 30_000;
    this.#spawnMatcher = options.spawn ?? startMatcherWorker;
  }

  /** Matchers alive now. */
  get size(): number {
    return this.#matchers.size;
  }

  /** Matchers started so far (a stopped match costs one). */
  get started(): number {
    return this.#started;
  }

  /** Matches `source` against `body` in a matcher (see {@linkcode matchBody}). */
  match(
    source: string,
    body: Uint8Array,
    signal?: AbortSignal,
  ): Promise<Result<boolean, MatchError>> {
    if (signal?.aborted) return Promise.resolve(err({ kind: "aborted", running: false }));
    return new Promise((resolve) => {
      const job: Job = { source, body, signal, resolve };
      job.onAbort = () => {
        const running = job.matcher !== undefined;
        if (job.matcher) this.#retire(job.matcher);
        else this.#queue.splice(this.#queue.indexOf(job), 1);
        this.#finish(job, err({ kind: "aborted", running }));
        this.#dispatch();
      };
      signal?.addEventListener("abort", job.onAbort, { once: true });
      this.#queue.push(job);
      this.#dispatch();
    });
  }

  /** Starts one matcher, idle, if none is running (see {@linkcode warmBodyMatchers}). */
  warm(): void {
    if (this.#matchers.size > 0) return;
    try {
      this.#idle(this.#spawn());
    } catch {
      // The first match that needs a matcher will say why it cannot start.
    }
  }

  /** Terminates every matcher; matches running or waiting end as aborted. */
  close(): void {
    for (const job of this.#queue.splice(0)) {
      this.#finish(job, err({ kind: "aborted", running: false }));
    }
    for (const matcher of [...this.#matchers]) {
      const job = matcher.job;
      this.#retire(matcher);
      if (job) this.#finish(job, err({ kind: "aborted", running: true }));
    }
  }

  /** Gives waiting jobs to idle matchers, starting matchers up to the limit. */
  #dispatch(): void {
    while (this.#queue.length > 0) {
      let matcher = [...this.#matchers].find((m) => !m.job);
      if (!matcher) {
        if (this.#matchers.size >= this.#maxMatchers) return;
        try {
          matcher = this.#spawn();
        } catch (e) {
          const message = `cannot start a matcher: ${(e as Error).message}`;
          this.#finish(this.#queue.shift()!, err({ kind: "failed", message }));
          continue;
        }
      }
      const job = this.#queue.shift()!;
      clearTimeout(matcher.idleTimer);
      matcher.idleTimer = undefined;
      matcher.job = job;
      job.matcher = matcher;
      const request: MatchRequest = { source: job.source, body: job.body };
      try {
        matcher.worker.postMessage(request, [job.body.buffer as ArrayBuffer]);
      } catch (e) {
        // A buffer that cannot be transferred (e.g. already detached) is copied instead.
        try {
          matcher.worker.postMessage({ source: job.source, body: job.body.slice() });
        } catch {
          this.#retire(matcher);
          this.#finish(job, err({ kind: "failed", message: (e as Error).message }));
        }
      }
    }
  }

  #spawn(): Matcher {
    const worker = this.#spawnMatcher();
    this.#started++;
    const matcher: Matcher = { worker };
    this.#matchers.add(matcher);
    worker.onmessage = (event: MessageEvent<MatchReply>) => {
      const job = matcher.job;
      if (!job) return;
      matcher.job = undefined;
      const reply = event.data;
      this.#finish(
        job,
        "matched" in reply ? ok(reply.matched) : err({ kind: "failed", message: reply.error }),
      );
      this.#idle(matcher);
      this.#dispatch();
    };
    worker.onerror = (event: ErrorEvent) => {
      // An uncaught error (e.g. out of memory) ends the worker: its job fails, the next one gets a new matcher.
      event.preventDefault();
      const job = matcher.job;
      this.#retire(matcher);
      if (job) this.#finish(job, err({ kind: "failed", message: event.message }));
      this.#dispatch();
    };
    return matcher;
  }

  #idle(matcher: Matcher): void {
    const timer = setTimeout(() => this.#retire(matcher), this.#idleMs);
    // An idle matcher never keeps the process alive.
    Deno.unrefTimer(timer);
    matcher.idleTimer = timer;
  }

  #retire(matcher: Matcher): void {
    clearTimeout(matcher.idleTimer);
    matcher.worker.terminate();
    if (matcher.job) matcher.job.matcher = undefined;
    matcher.job = undefined;
    this.#matchers.delete(matcher);
  }

  #finish(job: Job, result: Result<boolean, MatchError>): void {
    if (job.onAbort) job.signal?.removeEventListener("abort", job.onAbort);
    job.resolve(result);
  }
}
