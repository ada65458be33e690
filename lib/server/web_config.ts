/**
 * The parser of the web config file (`--web.config.file`), in the format of
 * the Prometheus exporter-toolkit:
 *
 * ```yaml
 * tls_server_config:
 *   cert_file: server.crt      # relative paths are relative to this file
 *   key_file: server.key
 * basic_auth_users:            # user: bcrypt hash (htpasswd -nBC 10 user)
 *   prometheus: $2y$10$...
 * bearer_token_file: token     # an extension: `Authorization: Bearer <token>`
 * ```
 *
 * It reads the file and the files it names, checks every key and that the
 * key belongs to the certificate, and returns what the server needs; a bad
 * file is refused with every problem listed at once, each with its key and
 * line, as the config file is. Checking
 * credentials is auth.ts; serving and reloading is server.ts.
 *
 * @module
 */

import { createPrivateKey, X509Certificate } from "node:crypto";
import { BadInputError } from "../util/bad_input.ts";
import { readTextFileAtMost } from "../util/read_file.ts";
import { parseYaml } from "../util/yaml.ts";
import { err, ok, type Result } from "../util/result.ts";
import { type Path, Problems } from "../config/problems.ts";

/** A web config file (or a file it names) larger than this is refused unread. */
const MAX_FILE_BYTES = 1024 * 1024;

const TOP_KEYS = ["tls_server_config", "basic_auth_users", "bearer_token_file"];

/** Keys the exporter-toolkit knows that this exporter does not support (yet). */
const UNSUPPORTED = new Set([
  "client_auth_type",
  "client_ca_file",
  "client_allowed_sans",
  "min_version",
  "max_version",
  "cipher_suites",
  "curve_preferences",
  "prefer_server_cipher_suites",
  "cert",
  "key",
]);

const BCRYPT_RE = /^\$2[aby]?\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;

/** A web config that cannot be used; the message lists every problem, never a secret. */
export class WebConfigError extends BadInputError {
  /** One line per problem, each starting with its key and line. */
  readonly problems: readonly string[];

  constructor(message: string, problems: readonly string[] = [message]) {
    super(message);
    this.name = "WebConfigError";
    this.problems = problems;
  }
}

/** The parsed web config, with the files it names already read. */
export interface WebConfig {
  /** PEM certificate chain and key, when TLS is on. */
  tls?: { cert: string; key: string; certFile: string; keyFile: string };
  /** User name → bcrypt hash. */
  users: ReadonlyMap<string, string>;
  /** {@linkcode sha256} of the bearer token, when one is configured. */
  tokenDigest?: Uint8Array;
  /** Every byte the config depends on, to tell whether anything changed. */
  fingerprint: string;
}

/**
 * SHA-256 of UTF-8 text: how {@linkcode WebConfig.tokenDigest} is made, so
 * that a presented token is compared by the same digest.
 */
export async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Why a file could not be read; `what` names it (`certificate /etc/x.pem`). */
async function readFile(path: string, what: string): Promise<Result<string, string>> {
  const read = await readTextFileAtMost(path, { maxBytes: MAX_FILE_BYTES });
  if (read.ok) return read;
  switch (read.error.kind) {
    case "too_large":
      return err(`${what} ${path}: larger than ${read.error.limit} bytes`);
    case "not_utf8":
      return err(`${what} ${path}: cannot read: not valid UTF-8`);
    case "io":
      return err(`${what} ${path}: cannot read: ${read.error.message}`);
  }
}

/** Resolves the paths the file names and collects its problems (as the config file does). */
class Context {
  readonly path: string;
  readonly #dir: string;
  readonly problems: Problems;

  constructor(path: string, lineOf: (path: Path) => number | undefined) {
    this.path = path;
    const slash = path.lastIndexOf("/");
    this.#dir = slash >= 0 ? path.slice(0, slash + 1) : "";
    this.problems = new Problems(lineOf);
  }

  resolve(p: string): string {
    return p.startsWith("/") ? p : this.#dir + p;
  }

  /** A problem of the key at `at`, shown with its line. */
  add(at: Path, message: string): void {
    this.problems.add(at, message);
  }

  /** Reads a file the key at `at` names; a failure is a problem of that key. */
  async read(at: Path, file: string, what: string): Promise<string | undefined> {
    const read = await readFile(file, what);
    if (read.ok) return read.value;
    this.add(at, read.error);
    return undefined;
  }
}

/** The error for `problems` of the file at `path`: one line each, in line order. */
function webConfigError(path: string, problems: readonly string[]): WebConfigError {
  return new WebConfigError(
    problems.length === 1
      ? `web config ${path}: ${problems[0]}`
      : `web config ${path}: ${problems.length} problems:\n  ${problems.join("\n  ")}`,
    problems,
  );
}

/**
 * Reads and validates the web config file and the files it names.
 *
 * @example
 * ```ts
 * const config = await loadWebConfig("/etc/uptime-exporter-web/web-config.yml");
 * console.log(config.tls !== undefined, config.users.size);
 * ```
 *
 * @throws {WebConfigError} listing every problem found (never a secret value).
 */
export async function loadWebConfig(path: string): Promise<WebConfig> {
  const text = await readFile(path, "web config");
  if (!text.ok) throw new WebConfigError(text.error, [text.error]);
  const parsed = parseYaml(text.value);
  if (!parsed.ok) {
    throw webConfigError(
      path,
      parsed.error.map((e) =>
        `invalid YAML${
          e.line !== undefined ? ` (line ${e.line}, column ${e.col})` : ""
        }: ${e.message}`
      ),
    );
  }
  const ctx = new Context(path, parsed.value.lineOf);
  const raw = parsed.value.value ?? {};
  if (!isObject(raw)) throw webConfigError(path, ["the top level must be a mapping"]);
  for (const key of Object.keys(raw)) {
    if (key === "http_server_config") ctx.add([key], "is not supported");
    else if (!TOP_KEYS.includes(key)) {
      ctx.add([key], `unknown key (allowed: ${TOP_KEYS.join(", ")})`);
    }
  }
  const tls = await loadTls(raw.tls_server_config, ctx);
  const users = parseUsers(raw.basic_auth_users, ctx);
  const tokenDigest = await loadToken(raw.bearer_token_file, ctx);
  if (ctx.problems.list.length > 0) throw webConfigError(path, ctx.problems.ordered());
  let fingerprint = text.value;
  if (tls) fingerprint += `\0${tls.cert}\0${tls.key}`;
  if (tokenDigest) fingerprint += `\0${Array.from(tokenDigest).join(",")}`;
  return { tls, users, tokenDigest, fingerprint };
}

const TLS = "tls_server_config";

/** `tls_server_config`: reads the certificate and the key and checks they belong together. */
async function loadTls(value: unknown, ctx: Context): Promise<WebConfig["tls"]> {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) {
    ctx.add([TLS], "must be a mapping");
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (UNSUPPORTED.has(key)) ctx.add([TLS, key], "is not supported");
    else if (key !== "cert_file" && key !== "key_file") {
      ctx.add([TLS, key], "unknown key (allowed: cert_file, key_file)");
    }
  }
  const file = async (key: "cert_file" | "key_file", what: string) => {
    const name = value[key];
    if (typeof name !== "string" || name === "") {
      ctx.add([TLS, key], "is required");
      return undefined;
    }
    const resolved = ctx.resolve(name);
    const text = await ctx.read([TLS, key], resolved, what);
    return text === undefined ? undefined : { file: resolved, text };
  };
  const cert = await file("cert_file", "certificate");
  const key = await file("key_file", "key");
  if (!cert || !key) return undefined;
  const pair = checkKeyPair(cert.text, key.text, cert.file, key.file);
  if (!pair.ok) {
    ctx.add([TLS, pair.error.key], pair.error.message);
    return undefined;
  }
  return { cert: cert.text, key: key.text, certFile: cert.file, keyFile: key.file };
}

/** `basic_auth_users`: user name → bcrypt hash. */
function parseUsers(value: unknown, ctx: Context): Map<string, string> {
  const users = new Map<string, string>();
  if (value === undefined || value === null) return users;
  if (!isObject(value)) {
    ctx.add(["basic_auth_users"], "must be a mapping of user name to bcrypt hash");
    return users;
  }
  for (const [name, hash] of Object.entries(value)) {
    if (name === "" || name.includes(":")) {
      ctx.add(["basic_auth_users"], "a user name must be non-empty and must not contain ':'");
    } else if (typeof hash !== "string" || !BCRYPT_RE.test(hash)) {
      // The value is not repeated: it may be a password pasted by mistake.
      ctx.add(
        ["basic_auth_users", name],
        "is not a bcrypt hash (make one with htpasswd -nBC 10 USER)",
      );
    } else users.set(name, hash);
  }
  return users;
}

/** `bearer_token_file`: reads the token and keeps only its digest. */
async function loadToken(value: unknown, ctx: Context): Promise<Uint8Array | undefined> {
  const at = ["bearer_token_file"];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || value === "") {
    ctx.add(at, "must be a file path");
    return undefined;
  }
  const token = (await ctx.read(at, ctx.resolve(value), "bearer token file"))?.trim();
  if (token === undefined) return undefined;
  if (token.length < 16 || /\s/.test(token)) {
    ctx.add(at, "the bearer token must be at least 16 characters without spaces");
    return undefined;
  }
  return await sha256(token);
}

/** Refuses a certificate and key that cannot be read or do not belong together. */
function checkKeyPair(
  cert: string,
  key: string,
  certFile: string,
  keyFile: string,
): Result<void, { key: "cert_file" | "key_file"; message: string }> {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    return err({ key: "cert_file", message: `certificate ${certFile}: not a PEM certificate` });
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    return err({ key: "key_file", message: `key ${keyFile}: not a PEM private key` });
  }
  if (!x509.checkPrivateKey(privateKey)) {
    return err({
      key: "key_file",
      message: `key ${keyFile} does not belong to certificate ${certFile}`,
    });
  }
  return ok(undefined);
}
