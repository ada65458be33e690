/**
 * A small Chrome DevTools Protocol client for headless Chromium, over the
 * WebSocket that Chromium opens with `--remote-debugging-port=0`. Enough to
 * open a page, set the viewport, run script in it, click like a mouse and
 * take screenshots; no npm packages needed.
 *
 * @module
 */

import { Proc, type TempDir, tempDir } from "./harness.ts";

/** The flags the suite starts Chromium with (plus the user-data dir and debugging port). */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--no-default-browser-check",
  "--disable-default-apps",
  "--disable-sync",
  "--disable-extensions",
  "--hide-scrollbars",
  "--mute-audio",
];

type Params = Record<string, unknown>;
type Message = {
  id?: number;
  method?: string;
  params?: Params;
  result?: Params;
  error?: { message: string };
  sessionId?: string;
};

/** A headless Chromium driven over CDP. */
export class Browser implements AsyncDisposable {
  readonly proc: Proc;
  readonly #ws: WebSocket;
  readonly #dir: TempDir;
  #nextId = 1;
  readonly #pending = new Map<
    number,
    { resolve: (r: Params) => void; reject: (e: Error) => void; method: string }
  >();
  readonly #listeners = new Set<(m: Message) => void>();
  readonly #closed: Promise<void>;

  private constructor(proc: Proc, ws: WebSocket, dir: TempDir) {
    this.proc = proc;
    this.#ws = ws;
    this.#dir = dir;
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data as string) as Message;
      if (m.id !== undefined) {
        const p = this.#pending.get(m.id);
        this.#pending.delete(m.id);
        if (m.error) p?.reject(new Error(`${p.method}: ${m.error.message}`));
        else p?.resolve(m.result ?? {});
      } else for (const l of this.#listeners) l(m);
    };
    this.#closed = new Promise((resolve) => {
      ws.onclose = () => {
        for (const p of this.#pending.values()) p.reject(new Error(`${p.method}: browser closed`));
        this.#pending.clear();
        resolve();
      };
    });
  }

  /** Starts `binary` headless with an empty user-data dir and connects to it. */
  static async launch(binary: string): Promise<Browser> {
    const dir = await tempDir("chromium");
    const proc = new Proc("chromium", binary, [
      ...CHROMIUM_FLAGS,
      `--user-data-dir=${dir.path}`,
      "--remote-debugging-address=127.0.0.1",
      "--remote-debugging-port=0",
      "about:blank",
    ]);
    try {
      const m = await proc.waitForOutput(/DevTools listening on (ws:\/\/127\.0\.0\.1:\d+\/\S+)/);
      const ws = new WebSocket(m[1]!);
      await new Promise<void>((resolve, reject) => {
        ws.onopen = () => resolve();
        ws.onerror = (e) =>
          reject(new Error(`cannot connect to Chromium: ${(e as ErrorEvent).message}`));
      });
      return new Browser(proc, ws, dir);
    } catch (e) {
      await proc.close();
      await dir[Symbol.asyncDispose]();
      throw e;
    }
  }

  /** Sends a CDP command (to a page when `sessionId` is given). */
  send<T = Params>(method: string, params: Params = {}, sessionId?: string): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (r: Params) => void, reject, method });
      this.#ws.send(JSON.stringify({ id, method, params, sessionId }));
    });
  }

  /** Calls `listener` for every event; returns a function that stops it. */
  on(listener: (m: Message) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The browser's version, e.g. `Chrome/120.0.6099.224` (`HeadlessChrome/…`). */
  async version(): Promise<string> {
    const v = await this.send<{ product: string }>("Browser.getVersion");
    return v.product;
  }

  /** Opens a new tab. */
  async newPage(): Promise<Page> {
    const { targetId } = await this.send<{ targetId: string }>("Target.createTarget", {
      url: "about:blank",
    });
    const { sessionId } = await this.send<{ sessionId: string }>("Target.attachToTarget", {
      targetId,
      flatten: true,
    });
    const page = new Page(this, sessionId);
    await page.init();
    return page;
  }

  /** Closes the browser, kills it if it lingers, and removes its user-data dir. */
  async close(): Promise<void> {
    if (this.#ws.readyState === WebSocket.OPEN) {
      await Promise.race([
        this.send("Browser.close").catch(() => {}),
        new Promise((r) => setTimeout(r, 3000)),
      ]);
      this.#ws.close();
    }
    await Promise.race([this.#closed, new Promise((r) => setTimeout(r, 3000))]);
    await this.proc.close(5000);
    await this.#dir[Symbol.asyncDispose]();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** One tab. */
export class Page {
  readonly #browser: Browser;
  readonly #session: string;
  /** Uncaught exceptions and console errors seen in the page. */
  readonly errors: string[] = [];

  constructor(browser: Browser, sessionId: string) {
    this.#browser = browser;
    this.#session = sessionId;
    browser.on((m) => {
      if (m.sessionId !== this.#session) return;
      if (m.method === "Runtime.exceptionThrown") {
        const d = m.params?.exceptionDetails as {
          text: string;
          exception?: { description?: string };
        };
        this.errors.push(`exception: ${d.exception?.description ?? d.text}`);
      } else if (m.method === "Runtime.consoleAPICalled" && m.params?.type === "error") {
        const args = m.params.args as { value?: unknown; description?: string }[];
        this.errors.push(`console.error: ${args.map((a) => a.value ?? a.description).join(" ")}`);
      } else if (m.method === "Log.entryAdded") {
        const e = m.params?.entry as { level: string; text: string; url?: string };
        // The favicon request is the browser's own; anything else is the page's problem.
        if (e.level === "error" && !/favicon/.test(e.url ?? "")) {
          this.errors.push(`log: ${e.text} ${e.url ?? ""}`);
        }
      }
    });
  }

  /** Sends a CDP command to this page. */
  send<T = Params>(method: string, params: Params = {}): Promise<T> {
    return this.#browser.send<T>(method, params, this.#session);
  }

  async init(): Promise<void> {
    await this.send("Page.enable");
    await this.send("Runtime.enable");
    await this.send("Log.enable");
  }

  /** Waits for the next event `method` of this page, at most `timeoutMs`. */
  waitForEvent(method: string, timeoutMs = 15_000): Promise<Params> {
    let stop = () => {};
    let timer: ReturnType<typeof setTimeout> | undefined;
    return new Promise<Params>((resolve, reject) => {
      stop = this.#browser.on((m) => {
        if (m.sessionId === this.#session && m.method === method) resolve(m.params ?? {});
      });
      timer = setTimeout(() => reject(new Error(`no ${method} within ${timeoutMs} ms`)), timeoutMs);
    }).finally(() => {
      stop();
      clearTimeout(timer);
    });
  }

  /** Navigates and waits for the load event. */
  async goto(url: string): Promise<void> {
    const loaded = this.waitForEvent("Page.loadEventFired");
    const r = await this.send<{ errorText?: string }>("Page.navigate", { url });
    if (r.errorText) {
      loaded.catch(() => {});
      throw new Error(`cannot load ${url}: ${r.errorText}`);
    }
    await loaded;
  }

  /** Sets the viewport size (CSS pixels); `mobile` emulates a phone's viewport handling. */
  async setViewport(width: number, height: number, mobile = false): Promise<void> {
    await this.send("Emulation.setDeviceMetricsOverride", {
      width,
      height,
      deviceScaleFactor: mobile ? 2 : 1,
      mobile,
    });
  }

  /** Evaluates `expression` in the page and returns its (JSON) value; awaits promises. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send<{
      result: { value?: T };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    }>("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails) {
      const d = r.exceptionDetails;
      throw new Error(`in page: ${d.exception?.description ?? d.text}`);
    }
    return r.result.value as T;
  }

  /** Clicks the centre of the first element matching `selector` with real mouse events. */
  async click(selector: string): Promise<void> {
    const box = await this.evaluate<{ x: number; y: number } | null>(`(() => {
      const el = document.querySelector(${JSON.stringify(selector)});
      if (!el) return null;
      el.scrollIntoView({ block: "center" });
      const r = el.getBoundingClientRect();
      return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
    })()`);
    if (!box) throw new Error(`nothing matches ${selector}`);
    for (const type of ["mouseMoved", "mousePressed", "mouseReleased"]) {
      await this.send("Input.dispatchMouseEvent", {
        type,
        x: box.x,
        y: box.y,
        button: type === "mouseMoved" ? "none" : "left",
        clickCount: type === "mouseMoved" ? 0 : 1,
      });
    }
  }

  /** Types text into the focused element. */
  async type(text: string): Promise<void> {
    await this.send("Input.insertText", { text });
  }

  /** A PNG of the whole page, or of the viewport only when `fullPage` is false. */
  async screenshot(fullPage = true): Promise<Uint8Array> {
    const params: Params = { format: "png" };
    if (fullPage) {
      const m = await this.send<{ cssContentSize: { width: number; height: number } }>(
        "Page.getLayoutMetrics",
      );
      const { width, height } = m.cssContentSize;
      params.clip = { x: 0, y: 0, width: Math.ceil(width), height: Math.ceil(height), scale: 1 };
      params.captureBeyondViewport = true;
    }
    const r = await this.send<{ data: string }>("Page.captureScreenshot", params);
    return Uint8Array.from(atob(r.data), (c) => c.charCodeAt(0));
  }
}
