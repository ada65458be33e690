/**
 * Runs each target's check every `interval` from one timer and a min-heap of
 * due times (not one timer per target), with a global limit on checks in
 * flight. A target is never checked twice at once: a check that comes due
 * while the previous one still runs (or waits for a slot) is skipped.
 *
 * @module
 */

import type { TargetConfig } from "../config/schema.ts";

/** Runs one check; must not throw (the scheduler ignores rejections). */
export type CheckFn = (target: TargetConfig, signal: AbortSignal) => Promise<void>;

/** Options of {@linkcode Scheduler}. */
export interface SchedulerOptions {
  /** Most checks running at once. Default: 1000. */
  maxConcurrent?: number;
  /**
   * Spacing of first checks of targets added together, capped so that few
   * targets start almost at once while many are spread over their interval.
   * Default: 25 ms.
   */
  rampStepMs?: number;
  /** Called for each skipped check. */
  onSkip?: (target: TargetConfig) => void;
  /**
   * Called as each check starts, with how late it starts against its due
   * time, ms: event-loop delay, plus any wait for a free slot.
   */
  onStart?: (target: TargetConfig, lateMs: number) => void;
}

interface Slot {
  target: TargetConfig;
  /** Next due time, `performance.now()` ms. */
  due: number;
  running: boolean;
  waiting: boolean;
  removed: boolean;
  /** Push order, to break ties between equal due times first-in first-out. */
  seq: number;
  /** Due time of the run waiting for a slot. */
  waitingDue: number;
}

function before(a: Slot, b: Slot): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

/** A binary min-heap of slots by due time. */
class DueHeap {
  #items: Slot[] = [];
  #seq = 0;
  get size(): number {
    return this.#items.length;
  }
  peek(): Slot | undefined {
    return this.#items[0];
  }
  push(slot: Slot): void {
    const a = this.#items;
    slot.seq = this.#seq++;
    a.push(slot);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(slot, a[p]!)) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = slot;
  }
  pop(): Slot | undefined {
    const a = this.#items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const r = l + 1;
        const c = r < a.length && before(a[r]!, a[l]!) ? r : l;
        if (!before(a[c]!, last)) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
  clear(): void {
    this.#items = [];
  }
}

/** Schedules checks of a changing set of targets. */
export class Scheduler {
  readonly #check: CheckFn;
  #maxConcurrent: number;
  readonly #rampStepMs: number;
  readonly #onSkip?: (target: TargetConfig) => void;
  readonly #onStart?: (target: TargetConfig, lateMs: number) => void;
  #slots = new Map<string, Slot>();
  readonly #heap = new DueHeap();
  #waitQueue: Slot[] = [];
  #waitHead = 0;
  #timer?: ReturnType<typeof setTimeout>;
  #timerDue = Infinity;
  #running = new Set<Promise<void>>();
  #abort = new AbortController();
  #started = false;
  #stopped = false;

  constructor(check: CheckFn, options: SchedulerOptions = {}) {
    this.#check = check;
    this.#maxConcurrent = options.maxConcurrent ?? 1000;
    this.#rampStepMs = options.rampStepMs ?? 25;
    this.#onSkip = options.onSkip;
    this.#onStart = options.onStart;
  }

  /** Changes the limit on checks in flight (e.g. on reload). */
  setMaxConcurrent(limit: number): void {
    this.#maxConcurrent = limit;
    this.#drainWaiting();
  }

  /** Checks running now. */
  get inFlight(): number {
    return this.#running.size;
  }

  /** Checks due but waiting for a free slot. */
  get waiting(): number {
    return this.#waitQueue.length - this.#waitHead;
  }

  /** When the target with `key` is next due, epoch ms; undefined for an unknown key. */
  nextDueAt(key: string): number | undefined {
    const slot = this.#slots.get(key);
    return slot ? Date.now() + (slot.due - performance.now()) : undefined;
  }

  /**
   * Sets the targets. Targets with an unchanged key keep their schedule (and a
   * check in flight finishes); new ones get their first check now, spread by
   * `rampStepMs` but over no more than their interval; removed ones stop.
   */
  setTargets(targets: readonly TargetConfig[]): void {
    const next = new Map<string, Slot>();
    const added: Slot[] = [];
    for (const target of targets) {
      const existing = this.#slots.get(target.key);
      if (existing) {
        next.set(target.key, existing);
        continue;
      }
      const slot: Slot = {
        target,
        due: 0,
        running: false,
        waiting: false,
        removed: false,
        seq: 0,
        waitingDue: 0,
      };
      next.set(target.key, slot);
      added.push(slot);
    }
    for (const [key, slot] of this.#slots) if (!next.has(key)) slot.removed = true;
    this.#slots = next;
    const now = performance.now();
    added.forEach((slot, i) => {
      const step = Math.min(this.#rampStepMs, slot.target.intervalMs / added.length);
      slot.due = now + i * step;
      this.#heap.push(slot);
    });
    if (this.#started) this.#arm();
  }

  /** Starts checking. */
  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#arm();
  }

  /** Stops scheduling, aborts checks in flight and waits for them to settle. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#heap.clear();
    this.#waitQueue = [];
    this.#waitHead = 0;
    this.#abort.abort(new DOMException("scheduler stopped", "AbortError"));
    await Promise.allSettled([...this.#running]);
  }

  #arm(): void {
    if (this.#stopped) return;
    const next = this.#heap.peek();
    if (!next) return;
    if (this.#timer !== undefined && this.#timerDue <= next.due) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerDue = next.due;
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, next.due - performance.now()));
  }

  #tick(): void {
    this.#timer = undefined;
    this.#timerDue = Infinity;
    const now = performance.now();
    for (let slot = this.#heap.peek(); slot && slot.due <= now; slot = this.#heap.peek()) {
      this.#heap.pop();
      if (slot.removed) continue;
      if (slot.running || slot.waiting) this.#onSkip?.(slot.target);
      else if (this.#running.size < this.#maxConcurrent) this.#run(slot, now - slot.due);
      else {
        slot.waiting = true;
        slot.waitingDue = slot.due;
        this.#waitQueue.push(slot);
      }
      // Fixed rate: keep the phase; if far behind, skip whole intervals.
      const interval = slot.target.intervalMs;
      slot.due += interval;
      if (slot.due <= now) slot.due += (Math.floor((now - slot.due) / interval) + 1) * interval;
      this.#heap.push(slot);
    }
    this.#arm();
  }

  #run(slot: Slot, lateMs: number): void {
    slot.running = true;
    this.#onStart?.(slot.target, lateMs);
    const promise: Promise<void> = this.#check(slot.target, this.#abort.signal)
      .catch(() => {})
      .finally(() => {
        slot.running = false;
        this.#running.delete(promise);
        this.#drainWaiting();
      });
    this.#running.add(promise);
  }

  #drainWaiting(): void {
    while (this.#running.size < this.#maxConcurrent && this.#waitHead < this.#waitQueue.length) {
      const slot = this.#waitQueue[this.#waitHead++]!;
      slot.waiting = false;
      if (!slot.removed && !this.#stopped) this.#run(slot, performance.now() - slot.waitingDue);
    }
    if (this.#waitHead > 1024 && this.#waitHead * 2 > this.#waitQueue.length) {
      this.#waitQueue = this.#waitQueue.slice(this.#waitHead);
      this.#waitHead = 0;
    }
  }
}
