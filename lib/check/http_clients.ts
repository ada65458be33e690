/**
 * HTTP clients for checks: one shared client with pooling disabled (every
 * check opens a fresh connection), plus one per extra CA file.
 *
 * @module
 */

/** Creates and caches clients; call {@linkcode HttpClients.close} on shutdown. */
export class HttpClients {
  #default?: Deno.HttpClient;
  #byCaFile = new Map<string, Deno.HttpClient>();

  /**
   * The client for a target: the shared one, or one trusting `caFile` too.
   *
   * @throws {Error} when the CA file cannot be read or parsed.
   */
  get(caFile?: string): Deno.HttpClient {
    if (caFile === undefined) {
      this.#default ??= Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
      return this.#default;
    }
    let client = this.#byCaFile.get(caFile);
    if (!client) {
      client = Deno.createHttpClient({
        poolMaxIdlePerHost: 0,
        caCerts: [Deno.readTextFileSync(caFile)],
      });
      this.#byCaFile.set(caFile, client);
    }
    return client;
  }

  /** Closes every client (e.g. on shutdown, or after a reload to pick up new CA files). */
  close(): void {
    this.#default?.close();
    this.#default = undefined;
    for (const client of this.#byCaFile.values()) client.close();
    this.#byCaFile.clear();
  }
}
