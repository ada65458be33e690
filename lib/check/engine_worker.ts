/**
 * The entry point of the check engine's Worker (started by
 * engine_client.ts): the engine, listening on the worker's own port.
 * `deno compile` needs this file named with `--include` (deno.json's compile task).
 *
 * @module
 */

import { Engine } from "./engine.ts";
import type { EngineEvent, EngineRequest, Port } from "./engine_protocol.ts";

new Engine(self as unknown as Port<EngineRequest, EngineEvent>);
