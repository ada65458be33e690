/**
 * uptime-exporter: checks URLs in the background and serves Prometheus
 * metrics about them. This file only reads flags, wires the parts together
 * and handles signals; everything else lives in lib/.
 *
 * @module
 */

import { type CliOptions, parseCli, USAGE } from "./lib/config/cli.ts";
import { formatDurationExact } from "./lib/config/units.ts";
import { Logger } from "./lib/util/log.ts";
import { VERSION, versionLine } from "./lib/util/version.ts";
import { BadInputError } from "./lib/util/bad_input.ts";
import type { WebServer } from "./lib/server/server.ts";
import { EngineClient } from "./lib/check/engine_client.ts";
import { defaultMaxConnections } from "./lib/server/conn_guard.ts";

/** Most time a shutdown may take before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 1800;

/**
 * The one place that turns an error into an exit: bad flags or configuration
 * (a {@linkcode BadInputError}: the config or the web config file) print
 * their message and exit 2; anything else is a bug, rethrown to exit 1 with
 * its stack.
 */
function exitOnError(e: unknown): never {
  if (e instanceof BadInputError) {
    console.error(e.message);
    Deno.exit(2);
  }
  throw e;
}

async function main(): Promise<void> {
  const env = Deno.env.toObject();
  const cli = parseCli(Deno.args, env);
  if (cli.help) {
    console.log(USAGE);
    return;
  }
  if (cli.version) {
    console.log(versionLine());
    return;
  }

  if (cli.checkConfig) return await checkConfig(cli, env);

  const logger = new Logger({ level: cli.logLevel, format: cli.logFormat });
  // The descriptor budget is probed by opening files until the OS refuses:
  // before the check engine's thread starts opening any of its own.
  defaultMaxConnections();
  // A reload reads the file again with the environment the flags were read with.
  const source = {
    file: cli.configFile,
    probeModulesFile: cli.probeModulesFile,
    overrides: cli.overrides,
    env,
    shard: cli.shard,
  };
  // The check engine first: its Worker loads and parses the config while this
  // thread loads the serving side's modules.
  const engine = EngineClient.start({ logLevel: logger.enabled("debug") ? "debug" : "info" });
  const firstLoad = engine.load(source);
  const [{ App }, { WebServer }, { watchConfigFile }] = await Promise.all([
    import("./lib/app.ts"),
    import("./lib/server/server.ts"),
    import("./lib/config/watch.ts"),
  ]);
  const app = new App({
    source,
    logger,
    version: VERSION,
    routePrefix: cli.routePrefix,
    engine: { client: engine, firstLoad },
  });
  const stopping = new AbortController();
  const shutdown = async (signal: string) => {
    if (stopping.signal.aborted) return;
    logger.info("shutting down", { signal });
    const force = setTimeout(() => {
      logger.warn("shutdown took too long; exiting");
      Deno.exit(0);
    }, SHUTDOWN_GRACE_MS);
    stopping.abort();
    await Promise.allSettled([app.stop(), server?.shutdown(), ...watching]);
    clearTimeout(force);
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", () => shutdown("SIGTERM"));
  Deno.addSignalListener("SIGINT", () => shutdown("SIGINT"));
  const watching: Promise<void>[] = [];
  // Assigned once it listens; a signal before that finds none to stop.
  let server: WebServer | undefined = undefined;
  let listening: { address: string; tls: boolean } | undefined;

  // Listening while the config is loaded: /healthz answers while a large
  // config is still parsed (in the check engine's thread); the other
  // endpoints wait for it. A bad config is reported before a listen failure.
  const serving = WebServer.start({
    hostname: cli.listen.hostname,
    port: cli.listen.port,
    handler: app.handler,
    webConfigFile: cli.webConfigFile,
    routePrefix: cli.routePrefix,
    logger,
    // Said once the config is loaded too: a bad config prints only its problems.
    onListen: ({ hostname, port }, tls) => {
      listening = {
        address: `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`,
        tls,
      };
    },
    onError: (err) => {
      logger.error("request failed", { err: (err as Error).message });
      return new Response("Internal Server Error\n", { status: 500 });
    },
  });
  const [loaded, served] = await Promise.allSettled([app.start(), serving]);
  if (loaded.status === "rejected") throw loaded.reason;
  if (served.status === "rejected") throw served.reason;
  server = served.value;
  logger.info("listening", {
    ...listening,
    version: VERSION,
    targets: loaded.value.targets.length,
    shard: cli.shard
      ? `${loaded.value.shard?.index} of ${loaded.value.shard?.count} (${cli.shard.mode})`
      : undefined,
    configured: cli.shard ? loaded.value.shard?.configured : undefined,
    route_prefix: cli.routePrefix === "/" ? undefined : cli.routePrefix,
  });
  if (loaded.value.demoTargets) logger.info(DEMO_NOTICE);
  if (stopping.signal.aborted) await server.shutdown();

  // Each file reloads the whole config when it changes (the /probe module file too).
  const watch = (file: string | undefined, what: string) => {
    if (!file || !cli.watchConfig) return;
    watching.push(
      watchConfigFile(file, async () => {
        logger.info(`${what} changed; reloading`, { file });
        await app.reload();
      }, { signal: stopping.signal }).catch((e) => {
        logger.error(`cannot watch the ${what}; reload with SIGHUP instead`, {
          err: (e as Error).message,
        });
      }),
    );
  };
  watch(cli.configFile, "config file");
  watch(cli.probeModulesFile, "probe modules file");
  Deno.addSignalListener("SIGHUP", () => {
    logger.info("SIGHUP received; reloading");
    app.reload();
    server?.reload();
  });
}

/** Said when nothing configured a target (log and `--check-config`); the status page says it too. */
const DEMO_NOTICE = "using the two demo targets; set your own with --target URL or a config file";

/** "1 target", "2 targets". */
function targetCount(n: number): string {
  return `${n} target${n === 1 ? "" : "s"}`;
}

/** `--check-config`: validates the config (and the web config), prints a summary, exits. */
async function checkConfig(cli: CliOptions, env: Record<string, string>): Promise<void> {
  // Loaded here only: the running exporter parses its config in the check engine.
  const { loadConfig } = await import("./lib/config/load.ts");
  const config = await loadConfig(cli, { env });
  if (cli.webConfigFile) {
    const { loadWebConfig } = await import("./lib/server/web_config.ts");
    await loadWebConfig(cli.webConfigFile);
  }
  console.log(`Config OK: ${targetCount(config.targets.length)}`);
  if (config.demoTargets) console.log(`  (${DEMO_NOTICE})`);
  if (cli.shard?.mode === "static") {
    const { assign, fleetOf } = await import("./lib/check/shard.ts");
    const mine = assign(config.targets, fleetOf(cli.shard)).length;
    console.log(
      `  shard ${cli.shard.index} of ${cli.shard.count} (replication ${cli.shard.replication}): checks ${mine} of them`,
    );
  }
  if (config.probe && (config.probe.enabled || config.probe.modules.size > 0)) {
    console.log(
      `  /probe ${config.probe.enabled ? "enabled" : "disabled"}; modules: ${
        [...config.probe.modules.keys()].join(", ") || "none"
      }`,
    );
  }
  for (const t of config.targets) {
    const labels = Object.entries(t.labels).map(([name, value]) =>
      `${name}=${JSON.stringify(value)}`
    );
    console.log(
      `  ${t.method} ${t.displayUrl} every ${formatDurationExact(t.intervalMs)}, timeout ${
        formatDurationExact(t.timeoutMs)
      }, accepts ${t.validStatusCodes.source}${
        labels.length ? `, labels {${labels.join(", ")}}` : ""
      }`,
    );
  }
}

if (import.meta.main) {
  await main().catch(exitOnError);
}
