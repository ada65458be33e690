/**
 * Checking a request's credentials against a web config: HTTP basic auth
 * against bcrypt hashes, or a bearer token against its digest. Which paths
 * need credentials and the 401 answer are auth_middleware.ts.
 *
 * @module
 */

import bcrypt from "bcryptjs";
import { sha256, type WebConfig } from "./web_config.ts";

/** True when the config asks for credentials. */
export function requiresAuth(config: WebConfig | undefined): boolean {
  return !!config && (config.users.size > 0 || config.tokenDigest !== undefined);
}

/** A bcrypt hash of a random password, compared against for unknown users (same cost). */
const DUMMY_HASH = "$2b$10$EXblyMhZm4jzPt2W2mx1iOv.Ah071k2u5TQRsv7KKZ2dGjjEiSMNy";

/** Constant-time comparison, so that timing does not tell how much of a token was right. */
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** User and password of a basic auth value (base64 of `user:password`), if it is one. */
function decodeBasic(value: string): { user: string; password: string } | undefined {
  let decoded: string;
  try {
    decoded = new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(atob(value), (c) => c.charCodeAt(0)),
    );
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Checks credentials against a web config, bcrypt results cached (by a digest
 * of user, hash and password, never the password itself) and bcrypt run one
 * at a time, as exporter-toolkit does, so that a flood of wrong passwords
 * costs one core at most and known scrapers are answered at once.
 *
 * @example
 * ```ts
 * const auth = new Authenticator(await loadWebConfig("web.yml"));
 * if (!await auth.check(request)) console.log("401");
 * ```
 */
export class Authenticator {
  readonly #config: WebConfig;
  readonly #cache = new Map<string, boolean>();
  #bcryptQueue: Promise<unknown> = Promise.resolve();
  /** bcrypt comparisons done (for tests). */
  comparisons = 0;
  static readonly CACHE_SIZE = 1000;

  constructor(config: WebConfig) {
    this.#config = config;
  }

  /** True when `req` carries valid credentials (or none are required). */
  async check(req: Request): Promise<boolean> {
    if (!requiresAuth(this.#config)) return true;
    const header = req.headers.get("authorization") ?? "";
    const space = header.indexOf(" ");
    const scheme = header.slice(0, space).toLowerCase();
    const value = header.slice(space + 1).trim();
    if (scheme === "bearer" && this.#config.tokenDigest) {
      return equalBytes(await sha256(value), this.#config.tokenDigest);
    }
    if (scheme !== "basic" || this.#config.users.size === 0) return false;
    const credentials = decodeBasic(value);
    return credentials ? await this.#checkPassword(credentials.user, credentials.password) : false;
  }

  async #checkPassword(user: string, password: string): Promise<boolean> {
    const hash = this.#config.users.get(user);
    const key = Array.from(await sha256(`${user}\0${hash ?? ""}\0${password}`))
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached;
    const run = this.#bcryptQueue.then(async () => {
      this.comparisons++;
      // An unknown user costs a comparison too, so timing does not tell users apart.
      const ok = await bcrypt.compare(password, hash ?? DUMMY_HASH);
      return ok && hash !== undefined;
    });
    this.#bcryptQueue = run.catch(() => {});
    const ok = await run.catch(() => false);
    if (this.#cache.size >= Authenticator.CACHE_SIZE) {
      this.#cache.delete(this.#cache.keys().next().value!);
    }
    this.#cache.set(key, ok);
    return ok;
  }
}
