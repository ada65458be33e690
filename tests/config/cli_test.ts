/**
 * Tests of lib/config/cli.ts (flags and UPTIME_EXPORTER_* variables) and of main.ts's
 * exit codes and output for --help, --version, --check-config and bad input,
 * run as a real subprocess.
 */

import assert from "node:assert/strict";
import { assign } from "../../lib/check/shard.ts";
import {
  type CliOptions,
  FLAG_GROUPS,
  FlagError,
  FLAGS,
  parseCli,
  parseListen,
  parseRoutePrefix,
  spelled,
  USAGE,
  usageName,
} from "../../lib/config/cli.ts";
import { type ConfigOverrides, DEFAULT_TARGETS } from "../../lib/config/schema.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { VERSION } from "../../lib/util/version.ts";
import { baseEnv, exporterArgs } from "../_helpers/exporter.ts";

const FIXTURES = new URL("../fixtures/config/", import.meta.url).pathname;

/** The override values alone (an implementation may add bookkeeping beside them). */
function values(overrides: ConfigOverrides): ConfigOverrides {
  const { targets, intervalMs, timeoutMs, metricPrefix } = overrides;
  return Object.fromEntries(
    Object.entries({ targets, intervalMs, timeoutMs, metricPrefix }).filter(([, v]) =>
      v !== undefined
    ),
  );
}

/** The options this suite is about; options added later are tested where they belong. */
function known(cli: CliOptions): CliOptions {
  const { configFile, overrides, listen, routePrefix, externalUrl, logLevel, logFormat } = cli;
  const { watchConfig, checkConfig, help, version } = cli;
  return {
    configFile,
    overrides: values(overrides),
    listen,
    routePrefix,
    externalUrl,
    logLevel,
    logFormat,
    watchConfig,
    checkConfig,
    help,
    version,
  };
}

function cliError(args: string[], env: Record<string, string> = {}): FlagError {
  try {
    parseCli(args, env);
  } catch (e) {
    assert.ok(e instanceof FlagError, `expected a FlagError, got ${e}`);
    return e;
  }
  assert.fail(`expected a FlagError for ${JSON.stringify(args)} ${JSON.stringify(env)}`);
}

Deno.test("parseCli: nothing given", () => {
  const expected: CliOptions = {
    configFile: undefined,
    overrides: {},
    listen: { hostname: "", port: 8080 },
    routePrefix: "/",
    externalUrl: undefined,
    logLevel: "info",
    logFormat: "logfmt",
    watchConfig: true,
    checkConfig: false,
    help: false,
    version: false,
  };
  assert.deepEqual(known(parseCli([], {})), expected);
});

Deno.test("parseCli: flags", async (t) => {
  await t.step("every flag at once", () => {
    const cli = parseCli([
      "--config",
      "/etc/uptime.yaml",
      "--target",
      "https://a.example/",
      "--target",
      "https://b.example/",
      "--interval",
      "30s",
      "--timeout",
      "250ms",
      "--listen",
      "127.0.0.1:9000",
      "--metric-prefix",
      "probe",
      "--log-level",
      "debug",
      "--log-format",
      "json",
      "--no-watch-config",
      "--check-config",
      "--help",
      "--version",
    ], {});
    assert.deepEqual(known(cli), {
      configFile: "/etc/uptime.yaml",
      overrides: {
        targets: ["https://a.example/", "https://b.example/"],
        intervalMs: 30_000,
        timeoutMs: 250,
        metricPrefix: "probe",
      },
      listen: { hostname: "127.0.0.1", port: 9000 },
      routePrefix: "/",
      externalUrl: undefined,
      logLevel: "debug",
      logFormat: "json",
      watchConfig: false,
      checkConfig: true,
      help: true,
      version: true,
    });
  });
  await t.step("--flag=value, -h, and the last of a repeated single flag", () => {
    const cli = parseCli([
      "--interval=1m",
      "--listen=:9090",
      "-h",
      "--timeout",
      "1s",
      "--timeout=2s",
    ], {});
    assert.equal(cli.overrides.intervalMs, 60_000);
    assert.equal(cli.overrides.timeoutMs, 2_000);
    assert.deepEqual(cli.listen, { hostname: "", port: 9090 });
    assert.equal(cli.help, true);
  });
  await t.step("durations: units and bare seconds", () => {
    for (const [text, ms] of [["250ms", 250], ["10s", 10_000], ["1m", 60_000], ["5", 5_000]]) {
      assert.equal(parseCli(["--interval", String(text)], {}).overrides.intervalMs, ms);
    }
  });
});

Deno.test("parseCli: environment", async (t) => {
  await t.step("every UPTIME_EXPORTER_* variable", () => {
    const cli = parseCli([], {
      UPTIME_EXPORTER_CONFIG: "/etc/uptime.yaml",
      UPTIME_EXPORTER_TARGETS: "https://a.example/, https://b.example/\nhttps://c.example/",
      UPTIME_EXPORTER_INTERVAL: "1m",
      UPTIME_EXPORTER_TIMEOUT: "3s",
      UPTIME_EXPORTER_LISTEN: "[::1]:9100",
      UPTIME_EXPORTER_METRIC_PREFIX: "env_probe",
      UPTIME_EXPORTER_LOG_LEVEL: "warn",
      UPTIME_EXPORTER_LOG_FORMAT: "json",
    });
    assert.equal(cli.configFile, "/etc/uptime.yaml");
    assert.deepEqual(values(cli.overrides), {
      targets: ["https://a.example/", "https://b.example/", "https://c.example/"],
      intervalMs: 60_000,
      timeoutMs: 3_000,
      metricPrefix: "env_probe",
    });
    assert.deepEqual(cli.listen, { hostname: "::1", port: 9100 });
    assert.equal(cli.logLevel, "warn");
    assert.equal(cli.logFormat, "json");
  });
  await t.step("PORT sets the port on all interfaces", () => {
    assert.deepEqual(parseCli([], { PORT: "3000" }).listen, { hostname: "", port: 3000 });
  });
  await t.step("UPTIME_EXPORTER_LISTEN beats PORT; --listen beats both", () => {
    const env = { PORT: "3000", UPTIME_EXPORTER_LISTEN: "127.0.0.1:4000" };
    assert.deepEqual(parseCli([], env).listen, { hostname: "127.0.0.1", port: 4000 });
    assert.deepEqual(parseCli(["--listen", ":5000"], env).listen, {
      hostname: "",
      port: 5000,
    });
  });
  await t.step("flags beat the environment", () => {
    const env = {
      UPTIME_EXPORTER_CONFIG: "/env.yaml",
      UPTIME_EXPORTER_TARGETS: "https://env.example/",
      UPTIME_EXPORTER_INTERVAL: "1m",
      UPTIME_EXPORTER_TIMEOUT: "3s",
      UPTIME_EXPORTER_METRIC_PREFIX: "env_probe",
      UPTIME_EXPORTER_LOG_LEVEL: "warn",
      UPTIME_EXPORTER_LOG_FORMAT: "json",
    };
    const cli = parseCli([
      "--config=/flag.yaml",
      "--target=https://flag.example/",
      "--interval=2m",
      "--timeout=4s",
      "--metric-prefix=flag_probe",
      "--log-level=error",
      "--log-format=logfmt",
    ], env);
    assert.equal(cli.configFile, "/flag.yaml");
    assert.deepEqual(values(cli.overrides), {
      targets: ["https://flag.example/"],
      intervalMs: 120_000,
      timeoutMs: 4_000,
      metricPrefix: "flag_probe",
    });
    assert.equal(cli.logLevel, "error");
    assert.equal(cli.logFormat, "logfmt");
  });
  await t.step("a bad variable is ignored when the flag is given", () => {
    const cli = parseCli(["--interval", "5s", "--log-level", "info"], {
      UPTIME_EXPORTER_INTERVAL: "soon",
      UPTIME_EXPORTER_LOG_LEVEL: "loud",
    });
    assert.equal(cli.overrides.intervalMs, 5_000);
  });
  await t.step("empty variables count as unset", () => {
    const empty = {
      UPTIME_EXPORTER_CONFIG: "",
      UPTIME_EXPORTER_TARGETS: "",
      UPTIME_EXPORTER_INTERVAL: "",
      UPTIME_EXPORTER_LISTEN: "",
      PORT: "",
      UPTIME_EXPORTER_LOG_LEVEL: "",
    };
    assert.deepEqual(known(parseCli([], empty)), known(parseCli([], {})));
  });
  await t.step("other variables are ignored", () => {
    assert.deepEqual(
      known(parseCli([], { UPTIME_EXPORTER_INTERVALS: "x", INTERVAL: "x", LISTEN: "x" })),
      known(parseCli([], {})),
    );
  });
});

Deno.test("parseCli: bad input", async (t) => {
  await t.step("unknown flags, missing values, positional arguments", () => {
    const cases: [string[], string][] = [
      [["--bogus"], "Bad flag: Unknown option '--bogus' (see --help)"],
      [["-x"], "Bad flag: Unknown option '-x' (see --help)"],
      [
        ["--interval"],
        "Bad flag: Option '--interval <value>' argument missing (see --help)",
      ],
      [
        ["extra"],
        "Bad flag: Unexpected argument 'extra'. This command does not take positional arguments (see --help)",
      ],
      [
        ["--help=yes"],
        "Bad flag: Option '--help' takes no value other than =true or =false (see --help)",
      ],
      [
        ["--no-config.watch=true"],
        "Bad flag: Option '--no-config.watch' takes no value other than =true or =false (see --help)",
      ],
      [["--no-config.file"], "Bad flag: Unknown option '--no-config.file' (see --help)"],
      [["--h"], "Bad flag: Unknown option '--h' (see --help)"],
      [["-help"], "Bad flag: Unknown option '-help' (see --help)"],
      [["--bogus=1"], "Bad flag: Unknown option '--bogus' (see --help)"],
      [
        ["--", "x"],
        "Bad flags: 2 problems:\n  Unexpected argument '--'. This command does not take positional arguments (see --help)\n  Unexpected argument 'x'. This command does not take positional arguments (see --help)",
      ],
      [
        ["--interval", "--timeout", "1s"],
        "Bad flag: Option '--interval <value>' argument missing (see --help)",
      ],
    ];
    for (const [args, message] of cases) assert.equal(cliError(args).message, message);
  });
  await t.step("bad values: every problem at once, named by its flag", () => {
    const err = cliError([
      "--interval",
      "soon",
      "--timeout",
      "0",
      "--listen",
      "localhost",
      "--log-level",
      "loud",
      "--log-format",
      "xml",
    ]);
    assert.deepEqual(err.problems, [
      "'--listen': 'localhost' is not [HOST]:PORT",
      "'--interval': 'soon' is not a positive duration (use e.g. 250ms, 10s, 1m)",
      "'--timeout': '0' is not a positive duration (use e.g. 250ms, 10s, 1m)",
      "'--log-level': 'loud' is not one of debug, info, warn, error",
      "'--log-format': 'xml' is not one of logfmt, json",
    ]);
    assert.ok(err.message.startsWith("Bad flags: 5 problems:\n  '--listen': "));
  });
  await t.step("bad values from the environment are named by their variable", () => {
    const err = cliError([], {
      UPTIME_EXPORTER_INTERVAL: "-1s",
      UPTIME_EXPORTER_TIMEOUT: "0ms",
      PORT: "http",
      UPTIME_EXPORTER_LOG_LEVEL: "DEBUG",
      UPTIME_EXPORTER_LOG_FORMAT: "text",
    });
    assert.deepEqual(err.problems, [
      "'PORT': 'http' is not [HOST]:PORT",
      "'UPTIME_EXPORTER_INTERVAL': '-1s' is not a positive duration (use e.g. 250ms, 10s, 1m)",
      "'UPTIME_EXPORTER_TIMEOUT': '0ms' is not a positive duration (use e.g. 250ms, 10s, 1m)",
      "'UPTIME_EXPORTER_LOG_LEVEL': 'DEBUG' is not one of debug, info, warn, error",
      "'UPTIME_EXPORTER_LOG_FORMAT': 'text' is not one of logfmt, json",
    ]);
    assert.equal(
      cliError([], { UPTIME_EXPORTER_LISTEN: "::1:80" }).message,
      "Bad flag: 'UPTIME_EXPORTER_LISTEN': '::1:80' is not [HOST]:PORT",
    );
  });
});

Deno.test("parseListen", async (t) => {
  await t.step("accepted forms", () => {
    const cases: [string, string, number][] = [
      // No host: every address, IPv4 and IPv6 (server.ts listens on [::], else 0.0.0.0).
      [":8080", "", 8080],
      ["8080", "", 8080],
      ["0.0.0.0:8080", "0.0.0.0", 8080],
      ["127.0.0.1:9000", "127.0.0.1", 9000],
      ["localhost:0", "localhost", 0],
      ["[::1]:9090", "::1", 9090],
      ["[::]:80", "::", 80],
      ["host.example:65535", "host.example", 65535],
    ];
    for (const [text, hostname, port] of cases) {
      assert.deepEqual(parseListen(text), { hostname, port }, text);
    }
  });
  await t.step("refused forms", () => {
    for (
      const text of [
        "",
        ":",
        "host",
        "host:",
        "host:65536",
        "host:-1",
        "host:8o",
        "::1:8080",
        "[::1]",
        "a:b:1",
        "http://host:80",
      ]
    ) {
      assert.equal(parseListen(text), undefined, text);
    }
  });
});

Deno.test("USAGE documents every flag, old name, variable and exit code", () => {
  for (const flag of FLAGS) {
    assert.ok(USAGE.includes(`  ${usageName(flag)}`), `USAGE lacks ${flag.name}`);
    for (const alias of flag.aliases) {
      assert.ok(USAGE.includes(spelled(flag, alias)), `USAGE lacks ${alias}`);
    }
    for (const name of flag.env) assert.ok(USAGE.includes(name), `USAGE lacks ${name}`);
    if (flag.default) assert.ok(USAGE.includes(`(default: ${flag.default})`), flag.name);
  }
  for (const word of ["250ms, 10s, 1m, 1m30s", "2 bad flags or configuration", "--no-flag"]) {
    assert.ok(USAGE.includes(word), `USAGE lacks '${word}'`);
  }
});

Deno.test("USAGE groups the flags: Config, Web, Checks, Sharding, Logging, Other", () => {
  const headings = USAGE.split("\n").filter((l) => /^[A-Z]\w+:$/.test(l)).map((l) =>
    l.slice(0, -1)
  );
  assert.deepEqual(headings, ["Config", "Web", "Checks", "Sharding", "Logging", "Other"]);
  assert.deepEqual([...FLAG_GROUPS], headings);
  // Each flag sits under its own heading.
  let group = "";
  for (const line of USAGE.split("\n")) {
    if (/^[A-Z]\w+:$/.test(line)) group = line.slice(0, -1);
    const flag = FLAGS.find((f) => line.startsWith(`  ${usageName(f)}`));
    if (flag) assert.equal(flag.group, group, flag.name);
  }
  for (const line of USAGE.split("\n")) assert.ok(line.length <= 80, `too wide: ${line}`);
});

Deno.test("sources, strongest first: flags, environment, file, defaults", async (t) => {
  const file = FIXTURES + "good_minimal.yaml";
  const load = (args: string[], env: Record<string, string>) =>
    loadConfig(parseCli(args, env), { env });

  await t.step("defaults alone", async () => {
    const config = await load([], {});
    assert.deepEqual(config.targets.map((t) => [t.url, t.intervalMs, t.timeoutMs]), [
      [DEFAULT_TARGETS[0], 10_000, 5_000],
      [DEFAULT_TARGETS[1], 10_000, 5_000],
    ]);
    assert.equal(config.metricPrefix, "sample_external_url");
  });
  await t.step("the file beats the defaults", async () => {
    const config = await load(["--config", file], {});
    assert.deepEqual(config.targets.map((t) => t.url), ["https://one.example/"]);
  });
  await t.step("the environment beats the file", async () => {
    const config = await load([], {
      UPTIME_EXPORTER_CONFIG: file,
      UPTIME_EXPORTER_TARGETS: "https://env.example/",
      UPTIME_EXPORTER_INTERVAL: "20s",
      UPTIME_EXPORTER_METRIC_PREFIX: "env_probe",
    });
    assert.deepEqual(config.targets.map((t) => [t.url, t.intervalMs, t.timeoutMs]), [
      ["https://env.example/", 20_000, 5_000],
    ]);
    assert.equal(config.metricPrefix, "env_probe");
  });
  await t.step("flags beat the environment", async () => {
    const config = await load(
      ["--target", "https://flag.example/", "--interval", "30s", "--metric-prefix", "flag_probe"],
      {
        UPTIME_EXPORTER_CONFIG: file,
        UPTIME_EXPORTER_TARGETS: "https://env.example/",
        UPTIME_EXPORTER_INTERVAL: "20s",
        UPTIME_EXPORTER_METRIC_PREFIX: "env_probe",
      },
    );
    assert.deepEqual(config.targets.map((t) => [t.url, t.intervalMs]), [
      ["https://flag.example/", 30_000],
    ]);
    assert.equal(config.metricPrefix, "flag_probe");
  });
  await t.step("--interval/--timeout do not beat a target's own settings", async () => {
    const config = await load(
      ["--config", FIXTURES + "good_full.yaml", "--interval", "45s", "--timeout", "1s"],
      { API_TOKEN: "t", API_PASSWORD: "p" },
    );
    assert.deepEqual(config.targets.map((t) => [t.intervalMs, t.timeoutMs]), [
      [45_000, 1_000], // only `defaults` set these
      [60_000, 250], // its own interval and timeout
      [5_000, 500],
    ]);
  });
});

// --- main.ts as a subprocess -------------------------------------------------

const ROOT = new URL("../..", import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs main.ts to completion (it must exit by itself: no server may start). */
async function runMain(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: exporterArgs(args),
    cwd: ROOT,
    env: { ...baseEnv(), ...env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const limit = setTimeout(() => child.kill("SIGKILL"), 20_000);
  try {
    const out = await child.output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
  } finally {
    clearTimeout(limit);
  }
}

/** One target line of `--check-config`: durations as written, accepted codes, labels. */
function checkLine(
  method: string,
  url: string,
  timing: { every: string; timeout: string; accepts?: string; labels?: string },
): string {
  return `  ${method} ${url} every ${timing.every}, timeout ${timing.timeout}, accepts ${
    timing.accepts ?? "200"
  }${timing.labels ? `, labels ${timing.labels}` : ""}`;
}

Deno.test("main: --help, --version, --check-config exit 0", async (t) => {
  await t.step("--help and -h print the usage to stdout", async () => {
    const [long, short] = await Promise.all([runMain(["--help"]), runMain(["-h"])]);
    for (const run of [long, short]) {
      assert.deepEqual(run, { code: 0, stdout: USAGE + "\n", stderr: "" });
    }
  });
  await t.step("--help wins over everything else that is valid", async () => {
    const run = await runMain(["--check-config", "--config", "/nonexistent.yaml", "--help"]);
    assert.deepEqual(run, { code: 0, stdout: USAGE + "\n", stderr: "" });
  });
  await t.step("--version prints the version of deno.json", async () => {
    const run = await runMain(["--version"]);
    assert.deepEqual(run, {
      code: 0,
      stdout:
        `uptime-exporter ${VERSION} (revision: unknown, deno: ${Deno.version.deno}, ${Deno.build.os}/${Deno.build.arch})\n`,
      stderr: "",
    });
    const denoJson = JSON.parse(Deno.readTextFileSync(ROOT + "deno.json"));
    assert.equal(VERSION, denoJson.version);
  });
  await t.step("--check-config with nothing given: the demo URLs, said so", async () => {
    const run = await runMain(["--check-config"]);
    assert.deepEqual(run, {
      code: 0,
      stdout: [
        "Config OK: 2 targets",
        "  (using the two demo targets; set your own with --target URL or a config file)",
        checkLine("GET", "https://httpstat.us/503", { every: "10s", timeout: "5s" }),
        checkLine("GET", "https://httpstat.us/200", { every: "10s", timeout: "5s" }),
        "",
      ].join("\n"),
      stderr: "",
    });
  });
  await t.step("--check-config with a file: passwords masked, secrets absent", async () => {
    const run = await runMain(["--check-config", "--config", FIXTURES + "good_full.yaml"], {
      API_TOKEN: "tok-123",
      API_PASSWORD: "pw-456",
    });
    assert.deepEqual(run, {
      code: 0,
      stdout: [
        "Config OK: 3 targets",
        checkLine("GET", "https://plain.example/", {
          every: "30s",
          timeout: "2s",
          labels: '{team="web"}',
        }),
        checkLine("POST", "https://api.example/health", {
          every: "1m",
          timeout: "250ms",
          accepts: "2xx,301-302,418",
          labels: '{team="api", tier="1"}',
        }),
        checkLine("GET", "https://user:***@secure.example/status?x=1", {
          every: "5s",
          timeout: "500ms",
          labels: '{team="web"}',
        }),
        "",
      ].join("\n"),
      stderr: "",
    });
  });
  await t.step("'--check-config': flags and variables replace and override", async () => {
    const [flags, env] = await Promise.all([
      runMain([
        "--check-config",
        "--config",
        FIXTURES + "good_minimal.yaml",
        "--target",
        "https://a.example/",
        "--target",
        "http://b.example:8080/x",
        "--interval",
        "1m",
        "--timeout",
        "2s",
      ]),
      runMain(["--check-config"], {
        UPTIME_EXPORTER_CONFIG: FIXTURES + "good_minimal.yaml",
        UPTIME_EXPORTER_TARGETS: "https://a.example/,http://b.example:8080/x",
        UPTIME_EXPORTER_INTERVAL: "1m",
        UPTIME_EXPORTER_TIMEOUT: "2s",
      }),
    ]);
    for (const run of [flags, env]) {
      assert.deepEqual(run, {
        code: 0,
        stdout: [
          "Config OK: 2 targets",
          checkLine("GET", "https://a.example/", { every: "1m", timeout: "2s" }),
          checkLine("GET", "http://b.example:8080/x", { every: "1m", timeout: "2s" }),
          "",
        ].join("\n"),
        stderr: "",
      });
    }
  });
  await t.step("--check-config --interval 1s: the default timeout fits the interval", async () => {
    const run = await runMain(["--check-config", "--interval", "1s"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Config OK: 2 targets\n/);
  });
});

Deno.test("main: bad flags or configuration exit 2 with the reason on stderr", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "cli_test_" });
  try {
    const latin1 = `${dir}/latin1.yaml`;
    await Deno.writeFile(latin1, new Uint8Array([0x74, 0x3a, 0x20, 0xe9, 0x0a]));
    const missing = `${dir}/missing.yaml`;
    await Deno.writeTextFile(
      `${dir}/timeout.yaml`,
      "defaults:\n  timeout: 30s\ntargets:\n  - https://a.example/\n",
    );

    /** args, env, and the exact stderr (a string) or what it must match. */
    const cases: [string, string[], Record<string, string>, string | RegExp][] = [
      [
        "unknown flag",
        ["--bogus"],
        {},
        "Bad flag: Unknown option '--bogus' (see --help)\n",
      ],
      [
        "positional argument",
        ["config.yaml"],
        {},
        /^Bad flag: Unexpected argument 'config\.yaml'/,
      ],
      [
        "bad --interval",
        ["--interval", "soon"],
        {},
        "Bad flag: '--interval': 'soon' is not a positive duration (use e.g. 250ms, 10s, 1m)\n",
      ],
      [
        "bad variables, all at once",
        [],
        { UPTIME_EXPORTER_LOG_LEVEL: "loud", PORT: "http" },
        "Bad flags: 2 problems:\n" +
        "  'PORT': 'http' is not [HOST]:PORT\n" +
        "  'UPTIME_EXPORTER_LOG_LEVEL': 'loud' is not one of debug, info, warn, error\n",
      ],
      [
        "bad --target",
        ["--target", "ftp://files.example/"],
        {},
        "Cannot load config: '--target[0].url': scheme 'ftp:' is not supported (use http or https)\n",
      ],
      [
        "missing file",
        ["--config", missing],
        {},
        new RegExp(`^Cannot load config: ${missing}: cannot read the file: .*No such file`),
      ],
      [
        "non-UTF-8 file",
        ["--config", latin1],
        {},
        `Cannot load config: ${latin1}: cannot read the file: not valid UTF-8\n`,
      ],
      [
        "unset ${VAR}",
        ["--config", FIXTURES + "bad_env_unset.yaml"],
        {},
        "Cannot load config: 'targets[0].headers.Authorization' (line 4): environment variable UPTIME_TEST_UNSET_TOKEN is not set\n",
      ],
      [
        "alias bomb",
        ["--config", FIXTURES + "bad_yaml_alias_bomb.yaml"],
        {},
        `Cannot load config: ${FIXTURES}bad_yaml_alias_bomb.yaml: invalid YAML: Excessive alias count indicates a resource exhaustion attack\n`,
      ],
      [
        "many problems in the file, from the environment's config path",
        [],
        { UPTIME_EXPORTER_CONFIG: FIXTURES + "bad_many_problems.yaml" },
        /^Cannot load config: 9 problems:\n( {2}'[^\n]+\n){9}$/,
      ],
      [
        "a file without 'targets' (only global:)",
        ["--config", FIXTURES + "bad_targets_missing_global.yaml"],
        {},
        "Cannot load config: 'targets' is required: list the URLs to check (or targets: [] to check none, e.g. for /probe only)\n",
      ],
      [
        "--interval shorter than the file's defaults.timeout: both named",
        ["--config", `${dir}/timeout.yaml`, "--interval", "10s"],
        {},
        "Cannot load config: '--interval': 10s is shorter than the timeout, 30s at 'defaults.timeout' (line 2); a timeout must not exceed the interval\n",
      ],
      [
        "--check-config with a bad file",
        ["--check-config", "--config", FIXTURES + "bad_duration.yaml"],
        {},
        "Cannot load config: 'targets[0].interval' (line 3): '10 seconds' is not a duration (use e.g. 250ms, 10s, 1m, or seconds)\n",
      ],
      [
        "credentials in a bad URL stay hidden",
        ["--config", FIXTURES + "bad_url_password_unparseable.yaml"],
        {},
        /^Cannot load config: 2 problems:\n {2}'targets\[0\]\.url' \(line 2\): 'https:\/\/\*\*\*@a\.example\/' is not a valid URL\n/,
      ],
    ];
    const runs = await Promise.all(cases.map(([, args, env]) => runMain(args, env)));
    for (const [i, [name, , , expected]] of cases.entries()) {
      await t.step(name, () => {
        const run = runs[i]!;
        assert.equal(run.code, 2, `exit code; stderr: ${run.stderr}`);
        assert.equal(run.stdout, "", "nothing on stdout: nothing started");
        if (typeof expected === "string") assert.equal(run.stderr, expected);
        else assert.match(run.stderr, expected);
        assert.doesNotMatch(run.stderr, /Uncaught|\n\s+at /, "no stack trace");
        assert.doesNotMatch(run.stderr, /hunter2|pa55|w0rd|ck3r/, "no password");
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main: a bad value from a flag or variable is named by it, not by the file", async (t) => {
  // The message must send the user to what they actually wrote.
  const file = FIXTURES + "good_full.yaml";
  const env = { API_TOKEN: "t", API_PASSWORD: "p" };
  const cases: [string, string[], Record<string, string>, string][] = [
    ["--metric-prefix", ["--config", file, "--metric-prefix", "1bad"], env, "--metric-prefix"],
    [
      "UPTIME_EXPORTER_METRIC_PREFIX",
      ["--config", file],
      { ...env, UPTIME_EXPORTER_METRIC_PREFIX: "1bad" },
      "UPTIME_EXPORTER_METRIC_PREFIX",
    ],
    ["--timeout", ["--config", file, "--timeout", "45s"], env, "--timeout"],
    [
      "UPTIME_EXPORTER_TIMEOUT",
      ["--config", file],
      { ...env, UPTIME_EXPORTER_TIMEOUT: "45s" },
      "UPTIME_EXPORTER_TIMEOUT",
    ],
    // An empty --config= must not read the file '' and report ": cannot read the file".
    ["--config=", ["--config=", "--check-config"], {}, "--config"],
    [
      "UPTIME_EXPORTER_TARGETS",
      [],
      { UPTIME_EXPORTER_TARGETS: "https://ok.example/,ftp://files.example/" },
      "UPTIME_EXPORTER_TARGETS",
    ],
  ];
  const runs = await Promise.all(cases.map(([, args, e]) => runMain(args, e)));
  for (const [i, [name, , , source]] of cases.entries()) {
    await t.step(name, () => {
      const run = runs[i]!;
      assert.equal(run.code, 2, run.stderr);
      // Filed under the flag or variable (a file line it names, if any, is the other side).
      assert.match(run.stderr, /^(Cannot load config|Bad flag): '([^']+)'/, run.stderr);
      const blamed = /^(?:Cannot load config|Bad flag): '([^'[]+)/.exec(run.stderr)![1];
      assert.equal(blamed, source, run.stderr);
      assert.doesNotMatch(run.stderr, /'defaults\.timeout'|'global\.metric_prefix'/);
    });
  }
});

// --- the flag table: names, old names, variables ---------------------------

/** Every old name and variable that must keep working, by canonical flag. */
const PINNED: Record<string, { aliases: string[]; env: string[] }> = {
  "config.file": { aliases: ["config"], env: ["UPTIME_EXPORTER_CONFIG"] },
  "config.check": { aliases: ["check-config"], env: [] },
  "config.watch": { aliases: ["watch-config"], env: [] },
  "web.listen-address": { aliases: ["listen"], env: ["UPTIME_EXPORTER_LISTEN", "PORT"] },
  "web.config.file": { aliases: [], env: ["UPTIME_EXPORTER_WEB_CONFIG"] },
  "probe.modules-file": { aliases: [], env: ["UPTIME_EXPORTER_PROBE_MODULES_FILE"] },
  "web.route-prefix": { aliases: [], env: ["UPTIME_EXPORTER_WEB_ROUTE_PREFIX"] },
  "web.external-url": { aliases: [], env: ["UPTIME_EXPORTER_WEB_EXTERNAL_URL"] },
  "target": { aliases: [], env: ["UPTIME_EXPORTER_TARGETS"] },
  "check.interval": { aliases: ["interval"], env: ["UPTIME_EXPORTER_INTERVAL"] },
  "check.timeout": { aliases: ["timeout"], env: ["UPTIME_EXPORTER_TIMEOUT"] },
  "metrics.prefix": { aliases: ["metric-prefix"], env: ["UPTIME_EXPORTER_METRIC_PREFIX"] },
  "shard.count": { aliases: [], env: ["UPTIME_EXPORTER_SHARD_COUNT"] },
  "shard.index": { aliases: [], env: ["UPTIME_EXPORTER_SHARD_INDEX", "POD_NAME"] },
  "shard.replication": { aliases: [], env: ["UPTIME_EXPORTER_SHARD_REPLICATION"] },
  "shard.peers-dns": { aliases: [], env: ["UPTIME_EXPORTER_SHARD_PEERS_DNS"] },
  "shard.peers-dns-interval": { aliases: [], env: ["UPTIME_EXPORTER_SHARD_PEERS_DNS_INTERVAL"] },
  "shard.peers-dns-server": { aliases: [], env: ["UPTIME_EXPORTER_SHARD_PEERS_DNS_SERVER"] },
  "shard.self": { aliases: [], env: ["UPTIME_EXPORTER_SHARD_SELF", "POD_IP"] },
  "log.level": { aliases: ["log-level"], env: ["UPTIME_EXPORTER_LOG_LEVEL"] },
  "log.format": { aliases: ["log-format"], env: ["UPTIME_EXPORTER_LOG_FORMAT"] },
  "help": { aliases: ["h"], env: [] },
  "version": { aliases: [], env: [] },
};

/**
 * A value for each flag that takes one, and what it must set; `with`: flags
 * it needs beside it; `envValue`: what a variable of another syntax holds.
 */
const SAMPLES: Record<
  string,
  {
    value: string;
    read: (cli: CliOptions) => unknown;
    want: unknown;
    with?: string[];
    envValue?: Record<string, string>;
  }
> = {
  "config.file": { value: "/etc/u.yaml", read: (c) => c.configFile, want: "/etc/u.yaml" },
  "web.listen-address": {
    value: "127.0.0.1:9100",
    read: (c) => c.listen,
    want: { hostname: "127.0.0.1", port: 9100 },
  },
  "web.config.file": { value: "/w.yml", read: (c) => c.webConfigFile, want: "/w.yml" },
  "probe.modules-file": { value: "/b.yml", read: (c) => c.probeModulesFile, want: "/b.yml" },
  "web.route-prefix": { value: "uptime/", read: (c) => c.routePrefix, want: "/uptime" },
  "web.external-url": {
    value: "https://ops.example/uptime/",
    read: (c) => [c.externalUrl, c.routePrefix],
    want: ["https://ops.example/uptime/", "/uptime"],
  },
  "target": {
    value: "https://a.example/",
    read: (c) => c.overrides.targets,
    want: ["https://a.example/"],
  },
  "check.interval": { value: "1m30s", read: (c) => c.overrides.intervalMs, want: 90_000 },
  "check.timeout": { value: "1s500ms", read: (c) => c.overrides.timeoutMs, want: 1_500 },
  "metrics.prefix": { value: "probe", read: (c) => c.overrides.metricPrefix, want: "probe" },
  "shard.count": {
    value: "4",
    with: ["--shard.index", "1"],
    read: (c) => c.shard,
    want: { mode: "static", count: 4, index: 1, replication: 1 },
  },
  "shard.index": {
    value: "3",
    with: ["--shard.count", "4"],
    envValue: { POD_NAME: "uptime-exporter-3" },
    read: (c) => c.shard,
    want: { mode: "static", count: 4, index: 3, replication: 1 },
  },
  "shard.replication": {
    value: "2",
    with: ["--shard.count", "3", "--shard.index", "0"],
    read: (c) => c.shard,
    want: { mode: "static", count: 3, index: 0, replication: 2 },
  },
  "shard.peers-dns": {
    value: "ue-headless.monitoring.svc.cluster.local",
    with: ["--shard.self", "10.0.0.7"],
    read: (c) => c.shard,
    want: {
      mode: "dns",
      peersDns: "ue-headless.monitoring.svc.cluster.local",
      self: "10.0.0.7",
      replication: 1,
      intervalMs: 5000,
    },
  },
  "shard.peers-dns-interval": {
    value: "1s500ms",
    with: ["--shard.peers-dns", "p.test", "--shard.self", "10.0.0.7"],
    read: (c) => c.shard?.mode === "dns" && c.shard.intervalMs,
    want: 1500,
  },
  "shard.peers-dns-server": {
    value: "[::1]:5353",
    with: ["--shard.peers-dns", "p.test", "--shard.self", "10.0.0.7"],
    read: (c) => c.shard?.mode === "dns" && c.shard.nameServer,
    want: { ipAddr: "::1", port: 5353 },
  },
  "shard.self": {
    value: "FD00::A1",
    with: ["--shard.peers-dns", "p.test"],
    read: (c) => c.shard?.mode === "dns" && c.shard.self,
    want: "fd00::a1",
  },
  "log.level": { value: "debug", read: (c) => c.logLevel, want: "debug" },
  "log.format": { value: "json", read: (c) => c.logFormat, want: "json" },
};

/** What a switch sets. */
const SWITCHES: Record<string, (cli: CliOptions) => boolean> = {
  "config.check": (c) => c.checkConfig,
  "config.watch": (c) => c.watchConfig,
  "help": (c) => c.help,
  "version": (c) => c.version,
};

Deno.test("flag table: every old name and variable is pinned and works", async (t) => {
  await t.step("the table has exactly the pinned names and variables", () => {
    assert.deepEqual(
      Object.fromEntries(FLAGS.map((f) => [f.name, { aliases: [...f.aliases], env: [...f.env] }])),
      PINNED,
    );
    const all = FLAGS.flatMap((f) => [f.name, ...f.aliases]);
    assert.equal(new Set(all).size, all.length, "a name is used twice");
  });
  for (const flag of FLAGS.filter((f) => f.kind !== "switch")) {
    await t.step(`--${flag.name}: every name and variable sets the same thing`, () => {
      const sample = SAMPLES[flag.name];
      assert.ok(sample, `no sample value for ${flag.name}`);
      for (const name of [flag.name, ...flag.aliases]) {
        for (const args of [[`--${name}`, sample.value], [`--${name}=${sample.value}`]]) {
          const all: string[] = [...sample.with ?? [], ...args];
          assert.deepEqual(sample.read(parseCli(all, {})), sample.want, all.join(" "));
        }
      }
      for (const variable of flag.env) {
        // PORT is a port alone; the rest take the flag's own syntax.
        const value: string = variable === "PORT"
          ? "9100"
          : sample.envValue?.[variable] ?? sample.value;
        const want: unknown = variable === "PORT" ? { hostname: "", port: 9100 } : sample.want;
        const cli = parseCli(sample.with ?? [], { [variable]: value });
        assert.deepEqual(sample.read(cli), want, variable);
      }
    });
  }
  for (const flag of FLAGS.filter((f) => f.kind === "switch")) {
    await t.step(`--${flag.name}: --flag, --no-flag, --flag=true|false, old names`, () => {
      const read = SWITCHES[flag.name];
      assert.ok(read, `no reader for ${flag.name}`);
      for (const name of [flag.name, ...flag.aliases]) {
        const on = name.length === 1 ? `-${name}` : `--${name}`;
        assert.equal(read(parseCli([on], {})), true, on);
        if (name.length === 1) continue;
        assert.equal(read(parseCli([`--${name}=true`], {})), true, `--${name}=true`);
        assert.equal(read(parseCli([`--${name}=false`], {})), false, `--${name}=false`);
        assert.equal(read(parseCli([`--no-${name}`], {})), false, `--no-${name}`);
        assert.equal(read(parseCli([on, `--no-${name}`], {})), false, "the last one wins");
      }
    });
  }
  await t.step("--no-watch-config (the old spelling) turns watching off", () => {
    assert.equal(parseCli(["--no-watch-config"], {}).watchConfig, false);
    assert.equal(parseCli(["--no-config.watch"], {}).watchConfig, false);
    assert.equal(parseCli(["--config.watch=false"], {}).watchConfig, false);
    assert.equal(parseCli([], {}).watchConfig, true);
  });
  await t.step("old and new names mixed: the last one wins", () => {
    const cli = parseCli(["--listen", ":1", "--web.listen-address", ":2", "--interval=3s"], {});
    assert.equal(cli.listen.port, 2);
    assert.equal(parseCli(["--check.interval=1s", "--interval=3s"], {}).overrides.intervalMs, 3000);
  });
  await t.step("a problem names the spelling that was used", () => {
    assert.deepEqual(cliError(["--check.interval", "soon"]).problems, [
      "'--check.interval': 'soon' is not a positive duration (use e.g. 250ms, 10s, 1m)",
    ]);
    assert.deepEqual(cliError(["--web.listen-address", "x"]).problems, [
      "'--web.listen-address': 'x' is not [HOST]:PORT",
    ]);
    const cli = parseCli(["--check.timeout", "2s", "--metrics.prefix", "p"], {});
    assert.equal(cli.overrides.sources?.timeoutMs, "--check.timeout");
    assert.equal(cli.overrides.sources?.metricPrefix, "--metrics.prefix");
  });
});

Deno.test("durations in Prometheus syntax from flags and variables", () => {
  const cases: [string, number][] = [["1m30s", 90_000], ["1h", 3_600_000], ["1d", 86_400_000]];
  for (const [text, ms] of cases) {
    assert.equal(parseCli(["--check.interval", text], {}).overrides.intervalMs, ms, text);
    assert.equal(parseCli([], { UPTIME_EXPORTER_INTERVAL: text }).overrides.intervalMs, ms, text);
  }
  assert.equal(
    cliError(["--interval", "1s1m"]).message,
    "Bad flag: '--interval': '1s1m' is not a positive duration (use e.g. 250ms, 10s, 1m)",
  );
});

Deno.test("route prefix and external URL", async (t) => {
  await t.step("normalised as Prometheus does", () => {
    const cases: [string, string][] = [
      ["", "/"],
      ["/", "/"],
      ["uptime", "/uptime"],
      ["/uptime/", "/uptime"],
      ["/a/b//", "/a/b"],
      ["/team-a/uptime_v1.2", "/team-a/uptime_v1.2"],
    ];
    for (const [text, prefix] of cases) assert.equal(parseRoutePrefix(text), prefix, text);
    for (const text of ["/a?b", "/a#b", "/a b", "//a", "/a//b", "/../x", "/a/./b", "/<x>"]) {
      assert.equal(parseRoutePrefix(text), undefined, text);
    }
  });
  await t.step("the prefix defaults to the external URL's path; an explicit one wins", () => {
    assert.equal(
      parseCli(["--web.external-url", "https://x.example/a/b/"], {}).routePrefix,
      "/a/b",
    );
    assert.equal(parseCli(["--web.external-url", "https://x.example"], {}).routePrefix, "/");
    const both = parseCli(
      ["--web.external-url", "https://x.example/a/", "--web.route-prefix", "/"],
      {},
    );
    assert.equal(both.routePrefix, "/");
    assert.equal(both.externalUrl, "https://x.example/a/");
    const env = parseCli([], {
      UPTIME_EXPORTER_WEB_EXTERNAL_URL: "http://x.example/e",
      UPTIME_EXPORTER_WEB_ROUTE_PREFIX: "/r",
    });
    assert.equal(env.routePrefix, "/r");
  });
  await t.step("bad ones are named by their flag or variable", () => {
    assert.deepEqual(
      cliError(["--web.route-prefix", "/a b", "--web.external-url", "x.example/a"]).problems,
      [
        "'--web.route-prefix': '/a b' is not a URL path (e.g. /uptime)",
        "'--web.external-url': 'x.example/a' is not an absolute http(s) URL without query",
      ],
    );
    assert.deepEqual(
      cliError([], { UPTIME_EXPORTER_WEB_EXTERNAL_URL: "ftp://x.example/" }).problems,
      ["'UPTIME_EXPORTER_WEB_EXTERNAL_URL': 'ftp://x.example/' is not an absolute http(s) URL without query"],
    );
    assert.deepEqual(cliError(["--web.external-url", "https://x.example/?a=1"]).problems, [
      "'--web.external-url': 'https://x.example/?a=1' is not an absolute http(s) URL without query",
    ]);
  });
});

// --- the flag table of docs/configuration.md --------------------------------

/** The rows of docs/configuration.md's "Flags and environment variables" table, as cells. */
function docFlagRows(): string[][] {
  const doc = Deno.readTextFileSync(new URL("../../docs/configuration.md", import.meta.url));
  const start = doc.indexOf("\n## Flags and environment variables\n");
  assert.ok(start > 0, "docs/configuration.md has a 'Flags and environment variables' section");
  const section = doc.slice(start);
  const table = section.slice(
    section.indexOf("\n|"),
    section.indexOf("\n\n", section.indexOf("\n|")),
  );
  return table.trim().split("\n").slice(2).map((line) =>
    line.slice(1, -1).split(" | ").map((cell) => cell.trim())
  );
}

const code = (names: readonly string[]) => names.map((n) => `\`${n}\``).join(", ");

Deno.test("docs/configuration.md's flag table is the flag table", () => {
  const rows = docFlagRows();
  const expected = FLAGS.map((flag) => [
    `\`${usageName(flag)}\``,
    code(flag.aliases.map((a) => spelled(flag, a))),
    code(flag.env),
    // A default that is a value is code; one that is a phrase is not.
    flag.default.includes(" ") ? flag.default : flag.default ? `\`${flag.default}\`` : "",
    flag.description,
  ]);
  assert.deepEqual(
    rows,
    expected,
    "update the table in docs/configuration.md (flag | also | environment | default | meaning)",
  );
});

Deno.test("main: Prometheus durations from the file, a flag and a variable", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_test_durations_" });
  try {
    const file = `${dir}/config.yaml`;
    await Deno.writeTextFile(
      file,
      [
        "defaults: {interval: 1m30s, timeout: 1s500ms}",
        "targets:",
        "  - url: https://a.example/",
        "  - {url: https://b.example/, interval: 1d, timeout: 1h30m}",
        "  - {url: https://c.example/, interval: 1w}",
      ].join("\n"),
    );
    const [fromFile, fromFlag, fromEnv] = await Promise.all([
      runMain(["--config.check", "--config.file", file]),
      runMain(["--config.check", "--target", "https://d.example/", "--check.interval=2m30s"]),
      runMain(["--check-config", "--target", "https://d.example/"], {
        UPTIME_EXPORTER_INTERVAL: "1h1m",
        UPTIME_EXPORTER_TIMEOUT: "2s250ms",
      }),
    ]);
    assert.deepEqual(fromFile, {
      code: 0,
      stdout: [
        "Config OK: 3 targets",
        checkLine("GET", "https://a.example/", { every: "1m30s", timeout: "1s500ms" }),
        checkLine("GET", "https://b.example/", { every: "1d", timeout: "1h30m" }),
        checkLine("GET", "https://c.example/", { every: "1w", timeout: "1s500ms" }),
        "",
      ].join("\n"),
      stderr: "",
    });
    assert.equal(
      fromFlag.stdout,
      // One target, not "1 targets".
      `Config OK: 1 target\n${
        checkLine("GET", "https://d.example/", {
          every: "2m30s",
          timeout: "5s",
        })
      }\n`,
    );
    assert.equal(
      fromEnv.stdout,
      `Config OK: 1 target\n${
        checkLine("GET", "https://d.example/", {
          every: "1h1m",
          timeout: "2s250ms",
        })
      }\n`,
    );
    // A bad one in the file: the same message as before.
    await Deno.writeTextFile(file, "targets: [{url: https://a.example/, interval: 30s1m}]\n");
    const bad = await runMain(["--config.check", "--config.file", file]);
    assert.equal(bad.code, 2);
    assert.equal(
      bad.stderr,
      "Cannot load config: 'targets[0].interval' (line 1): '30s1m' is not a duration (use e.g. 250ms, 10s, 1m, or seconds)\n",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// --- sharding -----------------------------------------------------------------

Deno.test("--shard.*: a static fleet, its index from the flag, the variable or POD_NAME", async (t) => {
  await t.step("none given: no sharding, whatever POD_NAME and POD_IP say", () => {
    assert.equal(
      parseCli([], { POD_NAME: "web-7c9f8d6b5-x2k4q", POD_IP: "10.0.0.7" }).shard,
      undefined,
    );
  });
  await t.step(
    "POD_NAME's ordinal is the index; a flag or UPTIME_EXPORTER_SHARD_INDEX wins",
    () => {
      const env = { UPTIME_EXPORTER_SHARD_COUNT: "3", POD_NAME: "uptime-exporter-2" };
      assert.deepEqual(parseCli([], env).shard, {
        mode: "static",
        count: 3,
        index: 2,
        replication: 1,
      });
      assert.equal(parseCli(["--shard.index", "0"], env).shard?.mode, "static");
      assert.deepEqual((parseCli(["--shard.index", "0"], env).shard as { index: number }).index, 0);
      const fromVar = parseCli([], { ...env, UPTIME_EXPORTER_SHARD_INDEX: "1" }).shard;
      assert.deepEqual((fromVar as { index: number }).index, 1);
    },
  );
  await t.step("--shard.count 1 needs no index", () => {
    assert.deepEqual(parseCli(["--shard.count", "1"], {}).shard, {
      mode: "static",
      count: 1,
      index: 0,
      replication: 1,
    });
  });
});

Deno.test("--shard.*: every bad combination is named, all at once, exit 2", async (t) => {
  const cases: { args: string[]; env?: Record<string, string>; problems: string[] }[] = [
    {
      args: ["--shard.count", "3", "--shard.index", "3"],
      problems: ["'--shard.index': 3 is not below --shard.count 3 (indices are 0 to 2)"],
    },
    {
      args: ["--shard.count", "2", "--shard.index", "0", "--shard.replication", "3"],
      problems: [
        "'--shard.replication': 3 is more than --shard.count 2 (each target is checked by at most every replica)",
      ],
    },
    {
      args: ["--shard.count", "0", "--shard.replication", "two"],
      problems: [
        "'--shard.count': '0' is not a whole number of at least 1",
        "'--shard.replication': 'two' is not a whole number of at least 1",
      ],
    },
    {
      args: ["--shard.count", "3"],
      problems: [
        "'--shard.count': 3 replicas need this one's --shard.index (or a POD_NAME ending in its ordinal, as in a StatefulSet)",
      ],
    },
    {
      args: [],
      env: { UPTIME_EXPORTER_SHARD_COUNT: "3", POD_NAME: "uptime-exporter-7c9f8d6b5-x2k4q" },
      problems: [
        "'POD_NAME': 'uptime-exporter-7c9f8d6b5-x2k4q' does not end in -<ordinal> (a StatefulSet pod's name); set --shard.index",
      ],
    },
    {
      args: [],
      env: { UPTIME_EXPORTER_SHARD_COUNT: "3", POD_NAME: "uptime-exporter-3" },
      problems: ["'POD_NAME': 3 is not below UPTIME_EXPORTER_SHARD_COUNT 3 (indices are 0 to 2)"],
    },
    {
      args: ["--shard.index", "1", "--shard.replication", "2"],
      problems: [
        "'--shard.index': needs --shard.count",
        "'--shard.replication': needs --shard.count or --shard.peers-dns",
      ],
    },
    {
      args: ["--shard.peers-dns", "peers.test"],
      problems: [
        "'--shard.peers-dns': this replica's own address among the records is needed: set POD_IP (the downward API's status.podIP) or --shard.self",
      ],
    },
    {
      args: ["--shard.peers-dns", "peers.test", "--shard.count", "3", "--shard.self", "pod-0"],
      problems: [
        "'--shard.count': not used with --shard.peers-dns (the replicas are the ones DNS lists)",
        "'--shard.self': 'pod-0' is not an IP address",
      ],
    },
    {
      args: [
        "--shard.peers-dns",
        "bad name",
        "--shard.peers-dns-interval",
        "10ms",
        "--shard.peers-dns-server",
        "dns.example:53",
      ],
      problems: [
        "'--shard.peers-dns': 'bad name' is not a DNS name",
        "'--shard.peers-dns-interval': '10ms' is not a duration of at least 100ms",
        "'--shard.peers-dns-server': 'dns.example:53' is not IP[:PORT] (e.g. 10.96.0.10, [fd00::a]:53)",
      ],
    },
    {
      args: ["--shard.peers-dns-interval", "2s", "--shard.self", "10.0.0.1"],
      problems: [
        "'--shard.peers-dns-interval': needs --shard.peers-dns",
        "'--shard.self': needs --shard.peers-dns",
      ],
    },
  ];
  for (const c of cases) {
    await t.step(`${c.args.join(" ")} ${JSON.stringify(c.env ?? {})}`, () => {
      assert.deepEqual(cliError(c.args, c.env).problems, c.problems);
    });
  }
  await t.step("--config.check says how many targets the shard checks", async () => {
    const urls = ["https://a.example/", "https://b.example/", "https://c.example/"];
    const run = await runMain([
      "--config.check",
      ...urls.flatMap((u) => ["--target", u]),
      "--shard.count",
      "2",
      "--shard.index",
      "1",
    ]);
    assert.equal(run.code, 0, run.stderr);
    const mine = assign(urls.map((u) => ({ displayUrl: u, labels: {} })), {
      members: ["0", "1"],
      self: "1",
    });
    assert.match(
      run.stdout,
      new RegExp(`^  shard 1 of 2 \\(replication 1\\): checks ${mine.length} of them$`, "m"),
    );
  });
  await t.step("main exits 2 and prints them", async () => {
    const run = await runMain(["--shard.count", "3", "--shard.index", "5"]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /^Bad flag: '--shard\.index': 5 is not below --shard\.count 3/m);
  });
});
