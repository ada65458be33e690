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
 * key belongs to the certificate, and returns what the server needs. Checking
 * credentials is auth.ts; serving and reloading is server.ts.
 *
 * @module
 */

import { createPrivateKey, X509Certificate } from "node:crypto";
import { BadInputError } from "../util/bad_input.ts";
import { readTextFileAtMost } from "../util/read_file.ts";
import { parseYaml } from "../util/yaml.ts";

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

/** A web config that cannot be used; the message says why, never a secret. */
export class WebConfigError extends BadInputError {
  constructor(message: string) {
    super(message);
    this.name = "WebConfigError";
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

/** Reads one file of the web config; `what` names it in the message. */
async function readFile(path: string, what: string): Promise<string> {
  const read = await readTextFileAtMost(path, { maxBytes: MAX_FILE_BYTES });
  if (read.ok) return read.value;
  switch (read.error.kind) {
    case "too_large":
      throw new WebConfigError(`${what} ${path}: larger than ${read.error.limit} bytes`);
    case "not_utf8":
      throw new WebConfigError(`${what} ${path}: cannot read: not valid UTF-8`);
    case "io":
      throw new WebConfigError(`${what} ${path}: cannot read: ${read.error.message}`);
  }
}

/** Resolves the paths the file names and reports its problems, both relative to the file. */
class Context {
  readonly #path: string;
  readonly #dir: string;

  constructor(path: string) {
    this.#path = path;
    const slash = path.lastIndexOf("/");
    this.#dir = slash >= 0 ? path.slice(0, slash + 1) : "";
  }

  resolve(p: string): string {
    return p.startsWith("/") ? p : this.#dir + p;
  }

  fail(message: string): never {
    throw new WebConfigError(`web config ${this.#path}: ${message}`);
  }
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
 * @throws {WebConfigError} naming the first problem (never a secret value).
 */
export async function loadWebConfig(path: string): Promise<WebConfig> {
  const text = await readFile(path, "web config");
  const ctx = new Context(path);
  const parsed = parseYaml(text);
  // The first problem only, as the message always said; all at once is a later change.
  if (!parsed.ok) return ctx.fail(`invalid YAML: ${parsed.error[0]!.message}`);
  const raw = parsed.value.value ?? {};
  if (!isObject(raw)) return ctx.fail("the top level must be a mapping");
  for (const key of Object.keys(raw)) {
    if (key === "http_server_config") ctx.fail(`'${key}' is not supported`);
    if (!TOP_KEYS.includes(key)) {
      ctx.fail(`unknown key '${key}' (allowed: ${TOP_KEYS.join(", ")})`);
    }
  }
  const tls = await loadTls(raw.tls_server_config, ctx);
  const users = parseUsers(raw.basic_auth_users, ctx);
  const tokenDigest = await loadToken(raw.bearer_token_file, ctx);
  let fingerprint = text;
  if (tls) fingerprint += `\0${tls.cert}\0${tls.key}`;
  if (tokenDigest) fingerprint += `\0${Array.from(tokenDigest).join(",")}`;
  return { tls, users, tokenDigest, fingerprint };
}

/** `tls_server_config`: reads the certificate and the key and checks they belong together. */
async function loadTls(value: unknown, ctx: Context): Promise<WebConfig["tls"]> {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) return ctx.fail("'tls_server_config' must be a mapping");
  for (const key of Object.keys(value)) {
    if (UNSUPPORTED.has(key)) ctx.fail(`'tls_server_config.${key}' is not supported`);
    if (key !== "cert_file" && key !== "key_file") {
      ctx.fail(`unknown key 'tls_server_config.${key}' (allowed: cert_file, key_file)`);
    }
  }
  if (typeof value.cert_file !== "string" || value.cert_file === "") {
    ctx.fail("'tls_server_config.cert_file' is required");
  }
  if (typeof value.key_file !== "string" || value.key_file === "") {
    ctx.fail("'tls_server_config.key_file' is required");
  }
  const certFile = ctx.resolve(value.cert_file as string);
  const keyFile = ctx.resolve(value.key_file as string);
  const cert = await readFile(certFile, "certificate");
  const key = await readFile(keyFile, "key");
  checkKeyPair(cert, key, certFile, keyFile);
  return { cert, key, certFile, keyFile };
}

/** `basic_auth_users`: user name → bcrypt hash. */
function parseUsers(value: unknown, ctx: Context): Map<string, string> {
  const users = new Map<string, string>();
  if (value === undefined || value === null) return users;
  if (!isObject(value)) {
    return ctx.fail("'basic_auth_users' must be a mapping of user name to bcrypt hash");
  }
  for (const [name, hash] of Object.entries(value)) {
    if (name === "" || name.includes(":")) {
      ctx.fail("'basic_auth_users': a user name must be non-empty and must not contain ':'");
    }
    if (typeof hash !== "string" || !BCRYPT_RE.test(hash)) {
      // The value is not repeated: it may be a password pasted by mistake.
      ctx.fail(
        `'basic_auth_users.${name}' is not a bcrypt hash (make one with htpasswd -nBC 10 USER)`,
      );
    }
    users.set(name, hash as string);
  }
  return users;
}

/** `bearer_token_file`: reads the token and keeps only its digest. */
async function loadToken(value: unknown, ctx: Context): Promise<Uint8Array | undefined> {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || value === "") {
    ctx.fail("'bearer_token_file' must be a file path");
  }
  const token = (await readFile(ctx.resolve(value as string), "bearer token file")).trim();
  if (token.length < 16 || /\s/.test(token)) {
    ctx.fail("the bearer token must be at least 16 characters without spaces");
  }
  return await sha256(token);
}

/** Refuses a certificate and key that cannot be read or do not belong together. */
function checkKeyPair(cert: string, key: string, certFile: string, keyFile: string): void {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new WebConfigError(`certificate ${certFile}: not a PEM certificate`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new WebConfigError(`key ${keyFile}: not a PEM private key`);
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new WebConfigError(`key ${keyFile} does not belong to certificate ${certFile}`);
  }
}
