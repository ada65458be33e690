/**
 * A matcher: the module of the Worker that lib/check/body_match.ts starts to
 * match large bodies off the checks' event loop. One request at a time: the
 * pattern's source and the body (its buffer transferred); the answer is
 * whether the pattern matches. Compiled patterns are cached per distinct
 * source for the life of the worker.
 *
 * @module
 */

import { compiledPattern, type MatchReply, type MatchRequest } from "./body_match.ts";

// The worker's global scope, typed without the deno.worker lib (this file is
// type-checked with the rest of lib/, under the window lib).
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<MatchRequest>) => void) | null;
  postMessage(message: MatchReply): void;
};

scope.onmessage = ({ data }) => {
  let reply: MatchReply;
  try {
    reply = { matched: compiledPattern(data.source).test(data.body) };
  } catch (e) {
    reply = { error: (e as Error).message };
  }
  scope.postMessage(reply);
};
