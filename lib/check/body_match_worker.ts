/**
 * A matcher: the module of the Worker that lib/check/body_match.ts starts to
 * match large bodies off the checks' event loop. One request at a time: the
 * pattern's source and the body (its buffer transferred); the answer is
 * whether the pattern matches. Requests come on the worker's own channel or
 * on a `MessagePort` posted to it as `{ port }` (a matcher started by the
 * main thread for a pool in another Worker). Compiled patterns are cached
 * per distinct source for the life of the worker.
 *
 * @module
 */

import { compiledPattern, type MatchReply, type MatchRequest } from "./body_match.ts";

/** Where requests come from and replies go: the worker's scope, or a port it was given. */
interface Channel {
  onmessage: ((event: MessageEvent<MatchRequest | { port: MessagePort }>) => void) | null;
  postMessage(message: MatchReply): void;
}

function serve(channel: Channel): void {
  channel.onmessage = ({ data }) => {
    // A port handed over by the thread that started this worker: requests may
    // also come from the thread that port leads to (e.g. the checks' Worker).
    if ("port" in data) return serve(data.port as unknown as Channel);
    let reply: MatchReply;
    try {
      reply = { matched: compiledPattern(data.source).test(data.body) };
    } catch (e) {
      reply = { error: (e as Error).message };
    }
    channel.postMessage(reply);
  };
}

// The worker's global scope, typed without the deno.worker lib (this file is
// type-checked with the rest of lib/, under the window lib).
serve(self as unknown as Channel);
