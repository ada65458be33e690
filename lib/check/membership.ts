/**
 * Membership from DNS (`--shard.peers-dns`): the replicas of a fleet are the
 * addresses a headless Service's A and AAAA records list. With
 * `publishNotReadyAddresses: false` (the chart's headless Service) those are
 * the *ready* pods, so a pod that dies, or stops being ready, drops out, and
 * the survivors take over its targets without a restart; when it is back and
 * ready, it is listed again and its share returns to it.
 *
 * The name is looked up every `intervalMs`; a different answer is applied
 * only once `settle` lookups in a row agree on it ({@linkcode Hysteresis}),
 * so a record that flaps does not reshuffle the targets. This replica is
 * always a member of its own list (it checks its share before DNS lists it:
 * it becomes ready, and listed, only after checking it). A lookup that fails
 * (timeout, unreachable server) changes nothing; a name with no records at
 * all means no ready peer: this replica alone, checking everything.
 *
 * @module
 */

/** A DNS server to ask, as `Deno.resolveDns` takes it. */
export interface NameServer {
  readonly ipAddr: string;
  readonly port: number;
}

/** Options of {@linkcode lookupPeers}. */
export interface LookupOptions {
  /** The server to ask. Default: the system resolver. */
  nameServer?: NameServer;
  /** Cancels the lookup. */
  signal?: AbortSignal;
}

/** Whether a `Deno.resolveDns` error means "no such records" (NXDOMAIN or no data). */
function isNoRecords(e: unknown): boolean {
  return e instanceof Deno.errors.NotFound;
}

/**
 * The A and AAAA records of `name`, sorted; empty when it has none.
 *
 * @throws when the lookup itself fails (timeout, unreachable server, SERVFAIL).
 */
export async function lookupPeers(name: string, options: LookupOptions = {}): Promise<string[]> {
  const ask = async (type: "A" | "AAAA") => {
    try {
      return await Deno.resolveDns(name, type, {
        nameServer: options.nameServer,
        signal: options.signal,
      });
    } catch (e) {
      if (isNoRecords(e)) return [];
      throw e;
    }
  };
  const [a, aaaa] = await Promise.all([ask("A"), ask("AAAA")]);
  return [...new Set([...a, ...aaaa.map((ip) => ip.toLowerCase())])].sort();
}

/**
 * Applies a new member list only once `settle` answers in a row agree on it.
 * Pure: feed it answers, it says when the members change.
 *
 * @example
 * ```ts
 * const h = new Hysteresis(["a", "b"], 2);
 * h.observe(["a"]); // undefined (first answer without b)
 * h.observe(["a"]); // ["a"] (the second agrees: b is gone)
 * ```
 */
export class Hysteresis {
  #current: readonly string[];
  readonly #settle: number;
  #candidate?: string;
  #streak = 0;

  /** `settle` ≤ 1 applies every change at once. */
  constructor(current: readonly string[], settle: number) {
    this.#current = current;
    this.#settle = settle;
  }

  /** The members in force. */
  get current(): readonly string[] {
    return this.#current;
  }

  /** Feeds one answer (sorted); returns the new members when they change. */
  observe(answer: readonly string[]): readonly string[] | undefined {
    const key = answer.join("\n");
    if (key === this.#current.join("\n")) {
      this.#candidate = undefined;
      this.#streak = 0;
      return undefined;
    }
    if (key === this.#candidate) this.#streak++;
    else {
      this.#candidate = key;
      this.#streak = 1;
    }
    if (this.#streak < this.#settle) return undefined;
    this.#current = [...answer];
    this.#candidate = undefined;
    this.#streak = 0;
    return this.#current;
  }
}

/** Options of {@linkcode DnsMembership.start}. */
export interface DnsMembershipOptions {
  /** This replica's own address: always a member. */
  self: string;
  /** Time between two lookups, ms. Default: 5000. */
  intervalMs?: number;
  /** Lookups in a row that must agree before a change applies. Default: 2. */
  settle?: number;
  /** Most time one lookup may take, ms. Default: the interval, at most 2 s. */
  timeoutMs?: number;
  /** The DNS server to ask. Default: the system resolver. */
  nameServer?: NameServer;
  /** Called with the new members (sorted, self included) when they change. */
  onChange?: (members: readonly string[]) => void;
  /** Called when a lookup fails after one that did not (the members stay as they were). */
  onError?: (message: string) => void;
  /** Stops the lookups. */
  signal?: AbortSignal;
}

/** The members of a fleet, kept up to date from DNS until `signal` aborts. */
export class DnsMembership {
  readonly name: string;
  readonly #options: DnsMembershipOptions;
  readonly #intervalMs: number;
  #hysteresis: Hysteresis;
  #timer?: ReturnType<typeof setTimeout>;
  #failing = false;
  #lookups = 0;
  #failures = 0;
  #changes = 0;
  #stopped: Promise<void> = Promise.resolve();

  private constructor(name: string, options: DnsMembershipOptions) {
    this.name = name;
    this.#options = options;
    this.#intervalMs = options.intervalMs ?? 5000;
    this.#hysteresis = new Hysteresis([options.self], options.settle ?? 2);
  }

  /**
   * Looks `name` up once (the first answer applies at once: there is no
   * assignment yet to protect) and keeps looking it up every interval.
   *
   * @example
   * ```ts
   * const peers = await DnsMembership.start("ue-headless.monitoring.svc.cluster.local", {
   *   self: Deno.env.get("POD_IP")!,
   *   onChange: (members) => console.log(members),
   *   signal,
   * });
   * peers.members; // ["10.0.0.7", "10.0.1.23"]
   * ```
   */
  static async start(name: string, options: DnsMembershipOptions): Promise<DnsMembership> {
    const membership = new DnsMembership(name, options);
    const answer = await membership.#lookup();
    if (answer) membership.#hysteresis = new Hysteresis(answer, options.settle ?? 2);
    if (!options.signal?.aborted) membership.#schedule();
    options.signal?.addEventListener("abort", () => {
      clearTimeout(membership.#timer);
      membership.#timer = undefined;
    }, { once: true });
    return membership;
  }

  /** The members in force: sorted, this replica included. */
  get members(): readonly string[] {
    return this.#hysteresis.current;
  }

  /** Lookups done, failed ones, and changes applied (for logs and tests). */
  get stats(): { lookups: number; failures: number; changes: number } {
    return { lookups: this.#lookups, failures: this.#failures, changes: this.#changes };
  }

  /** Resolves once a lookup in progress when `signal` aborted has settled. */
  stopped(): Promise<void> {
    return this.#stopped;
  }

  #schedule(): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#stopped = this.#tick();
    }, this.#intervalMs);
  }

  async #tick(): Promise<void> {
    const answer = await this.#lookup();
    if (this.#options.signal?.aborted) return;
    if (answer) {
      const changed = this.#hysteresis.observe(answer);
      if (changed) {
        this.#changes++;
        this.#options.onChange?.(changed);
      }
    }
    this.#schedule();
  }

  /** One lookup, `self` added; undefined when it failed. */
  async #lookup(): Promise<string[] | undefined> {
    this.#lookups++;
    const timeout = AbortSignal.timeout(
      this.#options.timeoutMs ?? Math.min(this.#intervalMs, 2000),
    );
    const signal = this.#options.signal
      ? AbortSignal.any([this.#options.signal, timeout])
      : timeout;
    try {
      const peers = await lookupPeers(this.name, { nameServer: this.#options.nameServer, signal });
      this.#failing = false;
      return [...new Set([...peers, this.#options.self])].sort();
    } catch (e) {
      this.#failures++;
      if (!this.#failing && !this.#options.signal?.aborted) {
        this.#options.onError?.(`cannot look up ${this.name}: ${(e as Error).message}`);
      }
      this.#failing = true;
      return undefined;
    }
  }
}
