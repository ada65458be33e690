/**
 * uptime-exporter: checks URLs in the background and serves Prometheus
 * metrics about them. This file only reads flags, wires the parts together
 * and handles signals; everything else lives in lib/.
 *
 * @module
 */

import { App } from "./lib/app.ts";
import { type CliOptions, parseCli, USAGE } from "./lib/config/cli.ts";
import { type Config, ConfigError } from "./lib/config/validate.ts";
import { watchConfigFile } from "./lib/config/watch.ts";
import { formatDuration } from "./lib/config/units.ts";
import { loadConfig } from "./lib/config/load.ts";
import { Logger } from "./lib/util/log.ts";
import { VERSION } from "./lib/util/version.ts";
import { loadWebConfig, WebConfigError, WebServer } from "./lib/server/web_config.ts";

/** Most time a shutdown may take before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 1800;

function fail(message: string): never {
  console.error(message);
  Deno.exit(2);
}

async function main(): Promise<void> {
  const env = Deno.env.toObject();
  let cli: CliOptions;
  try {
    cli = parseCli(Deno.args, env);
  } catch (e) {
    fail((e as Error).message);
  }
  if (cli.help) {
    console.log(USAGE);
    return;
  }
  if (cli.version) {
    console.log(`uptime-exporter ${VERSION} (deno ${Deno.version.deno})`);
    return;
  }

  let config: Config;
  try {
    config = await loadConfig(cli, { env });
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message);
    throw e;
  }
  if (cli.checkConfig && cli.webConfigFile) {
    try {
      await loadWebConfig(cli.webConfigFile);
    } catch (e) {
      if (e instanceof WebConfigError) fail(e.message);
      throw e;
    }
  }
  if (cli.checkConfig) {
    console.log(`Config OK: ${config.targets.length} targets`);
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
  const app = new App(config, { logger, version: VERSION, loadConfig: () => loadConfig(cli) });
  const stopping = new AbortController();

  let server: WebServer;
  try {
    server = await WebServer.start({
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
  } catch (e) {
    if (e instanceof WebConfigError) fail(e.message);
    throw e;
  }
  stopping.signal.addEventListener("abort", () => server.shutdown(), { once: true });
  app.start();

  const watching = cli.configFile && cli.watchConfig
    ? watchConfigFile(cli.configFile, async () => {
      logger.info("config file changed; reloading", { file: cli.configFile });
      await app.reload();
    }, { signal: stopping.signal }).catch((e) => {
      logger.error("cannot watch the config file; reload with SIGHUP instead", {
        err: (e as Error).message,
      });
    })
    : Promise.resolve();

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
    await Promise.allSettled([app.stop(), server.finished, watching]);
    clearTimeout(force);
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", () => shutdown("SIGTERM"));
  Deno.addSignalListener("SIGINT", () => shutdown("SIGINT"));
}

if (import.meta.main) {
  await main();
}
