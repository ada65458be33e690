/**
 * uptime-exporter: checks URLs in the background and serves Prometheus
 * metrics about them. This file only reads flags, wires the parts together
 * and handles signals; everything else lives in lib/.
 *
 * @module
 */

import { App } from "./lib/app.ts";
import { parseCli, USAGE } from "./lib/config/cli.ts";
import { ConfigError } from "./lib/config/problems.ts";
import { watchConfigFile } from "./lib/config/watch.ts";
import { formatDuration } from "./lib/config/units.ts";
import { loadConfig } from "./lib/config/load.ts";
import { Logger } from "./lib/util/log.ts";
import { VERSION } from "./lib/util/version.ts";
import { loadWebConfig, WebConfigError } from "./lib/server/web_config.ts";
import { WebServer } from "./lib/server/server.ts";

/** Most time a shutdown may take before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 1800;

/**
 * The one place that turns an error into an exit: bad flags or configuration
 * (a {@linkcode ConfigError} or {@linkcode WebConfigError}) print their
 * message and exit 2; anything else is a bug, rethrown to exit 1 with its stack.
 */
function exitOnError(e: unknown): never {
  if (e instanceof ConfigError || e instanceof WebConfigError) {
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
    console.log(`uptime-exporter ${VERSION} (deno ${Deno.version.deno})`);
    return;
  }

  const config = await loadConfig(cli, { env });
  if (cli.checkConfig && cli.webConfigFile) await loadWebConfig(cli.webConfigFile);
  if (cli.checkConfig) {
    console.log(`Config OK: ${config.targets.length} targets`);
    if (config.probe && (config.probe.enabled || config.probe.modules.size > 0)) {
      console.log(
        `  /probe ${config.probe.enabled ? "enabled" : "disabled"}; modules: ${
          [...config.probe.modules.keys()].join(", ") || "none"
        }`,
      );
    }
    for (const t of config.targets) {
      console.log(
        `  ${t.method} ${t.displayUrl} every ${formatDuration(t.intervalMs)}, timeout ${
          formatDuration(t.timeoutMs)
        }`,
      );
    }
    return;
  }

  const logger = new Logger({ level: cli.logLevel, format: cli.logFormat });
  // A reload reads the file again with the environment the flags were read with.
  const app = new App(config, {
    logger,
    version: VERSION,
    loadConfig: () => loadConfig(cli, { env }),
  });
  const stopping = new AbortController();

  const server = await WebServer.start({
    hostname: cli.listen.hostname,
    port: cli.listen.port,
    handler: app.handler,
    webConfigFile: cli.webConfigFile,
    logger,
    onListen: ({ hostname, port }, tls) => {
      logger.info("listening", {
        address: `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`,
        version: VERSION,
        targets: config.targets.length,
        tls,
      });
    },
    onError: (err) => {
      logger.error("request failed", { err: (err as Error).message });
      return new Response("Internal Server Error\n", { status: 500 });
    },
  });
  stopping.signal.addEventListener("abort", () => server.shutdown(), { once: true });
  app.start();

  // Each file reloads the whole config when it changes (the /probe module file too).
  const watch = (file: string | undefined, what: string) =>
    file && cli.watchConfig
      ? watchConfigFile(file, async () => {
        logger.info(`${what} changed; reloading`, { file });
        await app.reload();
      }, { signal: stopping.signal }).catch((e) => {
        logger.error(`cannot watch the ${what}; reload with SIGHUP instead`, {
          err: (e as Error).message,
        });
      })
      : Promise.resolve();
  const watching = watch(cli.configFile, "config file");
  const watchingModules = watch(cli.probeModulesFile, "probe modules file");

  Deno.addSignalListener("SIGHUP", () => {
    logger.info("SIGHUP received; reloading");
    app.reload();
    server.reload();
  });
  const shutdown = async (signal: string) => {
    if (stopping.signal.aborted) return;
    logger.info("shutting down", { signal });
    const force = setTimeout(() => {
      logger.warn("shutdown took too long; exiting");
      Deno.exit(0);
    }, SHUTDOWN_GRACE_MS);
    stopping.abort();
    await Promise.allSettled([app.stop(), server.finished, watching, watchingModules]);
    clearTimeout(force);
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", () => shutdown("SIGTERM"));
  Deno.addSignalListener("SIGINT", () => shutdown("SIGINT"));
}

if (import.meta.main) {
  await main().catch(exitOnError);
}
