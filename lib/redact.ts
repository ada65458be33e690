/**
 * Keeps credentials out of labels, logs and pages.
 *
 * @module
 */

/**
 * Returns the URL with any password replaced by `***` (`https://user:***@host/`).
 * A URL that cannot be parsed is returned with everything between `//` and `@` masked.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url.replace(/\/\/[^/@]*@/, "//***@");
  }
  if (!parsed.username && !parsed.password) return url;
  if (parsed.password) parsed.password = "***";
  return parsed.href;
}

/**
 * Removes credentials from a URL and returns them apart, because fetch refuses
 * URLs that carry them; the caller sends them as a Basic Authorization header.
 */
export function splitCredentials(
  url: string,
): { url: string; username: string; password: string } {
  const parsed = new URL(url);
  const username = decodeURIComponent(parsed.username);
  const password = decodeURIComponent(parsed.password);
  parsed.username = "";
  parsed.password = "";
  return { url: parsed.href, username, password };
}

/** Replaces every occurrence of each secret in `text` with `***`. */
export function scrubSecrets(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 3) out = out.replaceAll(secret, "***");
  }
  return out;
}
