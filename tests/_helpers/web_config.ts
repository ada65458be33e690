/**
 * Web config fixtures shared by the tests of lib/server/ (parser, auth,
 * middleware, server): users with real bcrypt hashes, a bearer token, the
 * test certificates, and a temporary directory to write web config files in.
 *
 * @module
 */

import bcrypt from "bcryptjs";
import { loadWebConfig, type WebConfig } from "../../lib/server/web_config.ts";

/** The directory of the test certificates (localhost.pem, localhost.key). */
export const TLS_DIR: string = new URL("../fixtures/tls/", import.meta.url).pathname;
/** A valid bearer token. */
export const TOKEN = "tok-0123456789abcdef-secret";
// Cost 4 keeps the tests fast; a real cost-10 $2y$ hash is checked too.
/** bcrypt (`$2b$`, cost 4) of `alice-password`. */
export const ALICE_HASH: string = bcrypt.hashSync("alice-password", 4);
/** bcrypt (`$2y$`, cost 10) of `bob-password`. */
export const BOB_HASH_2Y_10: string = bcrypt.hashSync("bob-password", 10)
  .replace(/^\$2b\$/, "$2y$");

/** A temporary directory with `files` (name → content) in it; the caller removes it. */
export async function tempDir(files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "web_config_test_" });
  for (const [name, content] of Object.entries(files)) {
    if (typeof content === "string") await Deno.writeTextFile(`${dir}/${name}`, content);
    else await Deno.writeFile(`${dir}/${name}`, content);
  }
  return dir;
}

/** The `Authorization` value of HTTP basic auth. */
export const basic = (user: string, password: string): string =>
  `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(`${user}:${password}`)))}`;

/** A web config with the users alice and bob and the bearer {@linkcode TOKEN}. */
export async function usersAndTokenConfig(): Promise<WebConfig> {
  const dir = await tempDir({
    "web.yml": `basic_auth_users: {alice: '${ALICE_HASH}', bob: '${BOB_HASH_2Y_10}'}\n` +
      "bearer_token_file: token\n",
    "token": TOKEN,
  });
  try {
    return await loadWebConfig(`${dir}/web.yml`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `Authorization` values that must all be refused by {@linkcode usersAndTokenConfig}. */
export const WRONG_CREDENTIALS: readonly [string, string][] = [
  ["wrong password", basic("alice", "alice-passwore")],
  ["unknown user", basic("mallory", "alice-password")],
  ["right password of another user", basic("bob", "alice-password")],
  ["empty password", basic("alice", "")],
  ["no colon", `Basic ${btoa("alice")}`],
  ["not base64", "Basic %%%"],
  ["wrong token", `Bearer ${TOKEN}x`],
  ["token as a password", basic("alice", TOKEN)],
  ["unknown scheme", `Digest ${TOKEN}`],
];
