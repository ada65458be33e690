/**
 * Keeps credentials out of labels, logs and pages.
 *
 * @module
 */

/**
 * Returns the URL with any password replaced by `***` (`https://user:***@host/`);
 * a URL without a password is returned as it is. A URL that cannot be parsed is
 * returned with everything between `//` and the last `@` masked.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Unparseable: the password may contain '/' or '@', so mask up to the last '@'.
    return url.replace(/\/\/.*@/s, "//***@");
  }
  if (!parsed.password && !parsed.username) return url;
  // A user name alone is often a token (https://TOKEN@host/): mask it too.
  if (parsed.password) parsed.password = "***";
  else parsed.username = "***";
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
  // Longest first, so no part of a secret that contains another survives.
  const sorted = [...secrets].sort((a, b) => b.length - a.length);
  for (const secret of sorted) {
    if (secret.length >= 3) out = out.replaceAll(secret, "***");
  }
  return out;
}
