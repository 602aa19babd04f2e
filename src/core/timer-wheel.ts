/**
 * TimerWheel: the shard actor's alarm clock. It counts the tasks the actor knows of per due
 * millisecond of its look-ahead window and wakes the actor at the exact millisecond something is
 * due, with one timer and no ticking through empty milliseconds (after Kafka TimingWheel / Netty
 * HashedWheelTimer, minus their empty-tick wakeups).
 *
 * Counts, not ids. The actor claims by due time (everything due by a score, from Redis), so the
 * wheel only has to know *when* to wake it and *how many* to expect. It used to keep every id (a
 * Map of id → due and a Set per bucket): at 20,000 tasks a second those hash operations on fresh
 * id strings were a sixth of the node's CPU, and the ids, alive for up to a look-ahead, were
 * promoted to the old generation and paid for again in full collections of 20-50 ms. A count per
 * slot lives in a typed array that the collector never scans.
 *
 * Without ids the wheel cannot tell a task it already counted from a new one. The actor's two
 * sources are wake hints (one per new task: add) and window reads of the due index (raiseTo: a
 * read counts every task of a ms, hinted or not, so the count becomes at least that). What this
 * can get wrong only ever errs high: a task that moved or was cancelled leaves its old ms counted,
 * which costs a claim that finds nothing; a ms with a task in it is never counted as empty.
 *
 * Layout
 * - A ring of `slotCount` slots at 1 ms resolution. Slot i counts the tasks due at the one
 *   millisecond d with d in [cursorMs, cursorMs + slotCount) and d mod slotCount = i, so a slot
 *   never mixes two due times. `cursorMs` only moves forward and never past an undelivered count.
 * - An occupancy bitmap (one bit per slot, most significant bit first) finds the earliest
 *   non-empty slot by scanning 32 slots per word with Math.clz32 (128 words at 4096 slots),
 *   instead of visiting every slot.
 * - An overflow: due time → count, plus a min-heap of due times, for what the ring cannot hold:
 *   due times further out than the ring's span (they cascade into the ring as the cursor moves),
 *   and due times before the cursor (the clock stepped back). Delivery reads both, so correctness
 *   never depends on the cascade; the ring is there to make the common case O(1).
 *
 * Invariants relied on below
 * - A due time lives in exactly one place: the overflow if it has an entry there, else the ring.
 * - Exactly one timer is armed while anything is pending, for (earliest due − leadMs, rounded
 *   down to the alignMs grid); it is only replaced when that instant changes.
 * - Only this class mutates its counts, and only from the caller's thread of control (the shard
 *   actor); onDue may call add/removeDue/stop re-entrantly.
 *
 * add() refuses a due time that has already passed (returns false): the caller runs it at once
 * rather than the wheel calling back synchronously from inside add().
 */

/** Time source and timer for the wheel; injected so tests run on a fake clock without sleeping. */
export interface WheelClock {
  now(): number;
  setTimer(fn: () => void, delayMs: number): unknown;
  clearTimer(handle: unknown): void;
}

export const realWheelClock: WheelClock = {
  now: () => Date.now(),
  setTimer: (fn, delayMs) => setTimeout(fn, delayMs),
  clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

interface TimerWheelOptions {
  clock: WheelClock;
  /** Called once per due millisecond that holds a count, in ascending due order. */
  onDue: (dueMs: number, count: number) => void;
  /** Ring size in 1 ms slots, a power of two; due times further out wait in the overflow. */
  slotCount?: number;
  /** Fire this many ms before the due time, so the actor can claim ahead of the round trip. */
  leadMs?: number;
  /**
   * Round every fire time down to a multiple of this many ms (default 1: no rounding). Wheels
   * that share a grid wake in the same millisecond, so the claims they trigger leave together;
   * a bucket then fires between leadMs and leadMs + alignMs - 1 before its due time.
   */
  alignMs?: number;
}

const DEFAULT_SLOT_COUNT = 4096;
// setTimeout treats delays above 2^31 - 1 ms (~24.8 days) as 1 ms; longer waits re-arm on wake.
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

export class TimerWheel {
  private readonly clock: WheelClock;
  private readonly onDue: (dueMs: number, count: number) => void;
  private readonly slotCount: number;
  private readonly slotMask: number;
  private lead = 0;
  private align: number;

  /** Tasks counted in the ring and the overflow together. */
  private total = 0;
  private readonly counts: Int32Array;
  private readonly slotDueMs: Float64Array;
  private readonly occupied: Uint32Array;
  private cursorMs: number;
  /** Cached earliest due time in the ring; recomputed from the bitmap when invalidated. */
  private ringMinDueMs = Infinity;
  private ringMinValid = true;
  private ringSlotsUsed = 0;

  private readonly overflow = new Map<number, number>();
  /** Min-heap of overflow due times; may hold stale times (entry gone), skipped lazily. */
  private readonly overflowHeap: number[] = [];

  private timerHandle: unknown = null;
  private armedFireAtMs: number | null = null;
  private firing = false;
  private stopped = false;

  constructor(options: TimerWheelOptions) {
    const slotCount = options.slotCount ?? DEFAULT_SLOT_COUNT;
    if (!Number.isInteger(slotCount) || slotCount < 32 || (slotCount & (slotCount - 1)) !== 0) {
      throw new RangeError(`slotCount must be a power of two >= 32, got ${slotCount}`);
    }
    const alignMs = options.alignMs ?? 1;
    if (!Number.isInteger(alignMs) || alignMs < 1) throw new RangeError(`alignMs must be an integer >= 1, got ${alignMs}`);
    this.align = alignMs;
    this.clock = options.clock;
    this.onDue = options.onDue;
    this.slotCount = slotCount;
    this.slotMask = slotCount - 1;
    this.counts = new Int32Array(slotCount);
    this.slotDueMs = new Float64Array(slotCount);
    this.occupied = new Uint32Array(slotCount >>> 5);
    this.cursorMs = this.nowMs() + 1;
    if (options.leadMs !== undefined) this.leadMs = options.leadMs;
  }

  get leadMs(): number {
    return this.lead;
  }

  set leadMs(value: number) {
    if (!Number.isFinite(value) || value < 0) {
      throw new RangeError(`leadMs must be a non-negative number of ms, got ${value}`);
    }
    this.lead = Math.floor(value);
    this.rearm();
  }

  get alignMs(): number {
    return this.align;
  }

  /** A new grid re-arms the timer, like a new lead. */
  set alignMs(value: number) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`alignMs must be an integer >= 1, got ${value}`);
    this.align = value;
    this.rearm();
  }

  /** Tasks counted, all due times together. */
  get size(): number {
    return this.total;
  }

  /**
   * Counts `count` more tasks at `dueMs` (floored to the ms). Returns false and counts nothing
   * when `dueMs <= now`: the caller treats them as due now.
   */
  add(dueMs: number, count = 1): boolean {
    return this.put(dueMs, count, false);
  }

  /**
   * Makes the count at `dueMs` at least `count`: for a read that saw every task of that ms, some
   * of which may have been counted already (by add, from a hint). Returns false and counts
   * nothing when `dueMs <= now`, like add.
   */
  raiseTo(dueMs: number, count: number): boolean {
    return this.put(dueMs, count, true);
  }

  /** Forgets the count at `dueMs` (floored) without delivering it; returns what it was. */
  removeDue(dueMs: number): number {
    const due = Math.floor(dueMs);
    const inOverflow = this.overflow.size > 0 ? this.overflow.get(due) : undefined;
    let count = 0;
    if (inOverflow !== undefined) {
      count = this.takeOverflow(due);
    } else if (this.countAt(due) > 0) {
      count = this.takeRing(due);
    }
    if (count > 0) this.rearm();
    return count;
  }

  /** How many tasks are counted at `dueMs` (floored to the ms). */
  countAt(dueMs: number): number {
    const due = Math.floor(dueMs);
    // The overflow is usually empty; a Map lookup per call showed up at 20,000 tasks a second.
    const inOverflow = this.overflow.size > 0 ? this.overflow.get(due) : undefined;
    if (inOverflow !== undefined) return inOverflow;
    const slot = due & this.slotMask;
    if (!this.isOccupied(slot) || this.slotDueMs[slot] !== due) return 0;
    return this.counts[slot]!;
  }

  /**
   * How many tasks are counted in (fromMs, toMs], for short spans: null when the
   * span is over `maxSpanMs` (it is counted one millisecond at a time).
   */
  countBetween(fromMs: number, toMs: number, maxSpanMs = 64): number | null {
    const from = Math.floor(fromMs);
    const to = Math.floor(toMs);
    if (to - from > maxSpanMs) return null;
    let count = 0;
    for (let due = from + 1; due <= to; due++) count += this.countAt(due);
    return count;
  }

  /** Earliest pending due time (not shifted by leadMs), or null when empty. */
  nextDueMs(): number | null {
    const next = Math.min(this.ringMinDue(), this.overflowMinDue());
    return next === Infinity ? null : next;
  }

  /** Disarms the timer and forgets every count; returns how many tasks were counted. Idempotent. */
  stop(): number {
    this.stopped = true;
    this.disarm();
    const pending = this.total;
    this.total = 0;
    this.overflow.clear();
    this.overflowHeap.length = 0;
    this.counts.fill(0);
    this.occupied.fill(0);
    this.ringSlotsUsed = 0;
    this.ringMinDueMs = Infinity;
    this.ringMinValid = true;
    return pending;
  }

  // ---- counting ----

  private put(dueMs: number, count: number, raise: boolean): boolean {
    if (this.stopped) throw new Error("TimerWheel: add() or raiseTo() after stop()");
    if (!Number.isFinite(dueMs)) throw new RangeError(`dueMs must be a finite number, got ${dueMs}`);
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
    const due = Math.floor(dueMs);
    const now = this.nowMs();
    if (due <= now) return false;
    if (count === 0) return true;
    if (this.ringSlotsUsed === 0) {
      // An empty ring may jump forward to the present, so an idle wheel keeps a full span ahead.
      this.advanceCursor(now + 1);
    }
    const inOverflow = this.overflow.size > 0 ? this.overflow.get(due) : undefined;
    if (inOverflow !== undefined) {
      const next = raise ? Math.max(inOverflow, count) : inOverflow + count;
      this.overflow.set(due, next);
      this.total += next - inOverflow;
    } else if (due >= this.cursorMs && due < this.cursorMs + this.slotCount) {
      const slot = this.ringSlotFor(due);
      const before = this.counts[slot]!;
      const next = raise ? Math.max(before, count) : before + count;
      this.counts[slot] = next;
      this.total += next - before;
    } else {
      this.overflow.set(due, count);
      this.heapPush(due);
      this.total += count;
    }
    this.rearm();
    return true;
  }

  // ---- firing ----

  private readonly onTimer = (): void => {
    this.timerHandle = null;
    this.armedFireAtMs = null;
    this.fireDue();
  };

  /** Delivers every count whose fire time has come, oldest first (all of them if the timer was late). */
  private fireDue(): void {
    this.firing = true;
    try {
      while (!this.stopped) {
        const now = this.nowMs();
        const ringDue = this.ringMinDue();
        const overflowDue = this.overflowMinDue();
        const due = Math.min(ringDue, overflowDue);
        if (due === Infinity || this.fireAtOf(due) > now) break;
        const count = overflowDue <= ringDue ? this.takeOverflow(due) : this.takeRing(due);
        // Every ring slot left is later than `due`, so the window may start after it. It stops at
        // now + 1 (with leadMs, due can be ahead of now) so that a count added from onDue for a
        // time just after now still lands in the ring rather than the overflow.
        this.advanceCursor(Math.min(due + 1, now + 1));
        this.onDue(due, count);
      }
      if (!this.stopped) this.advanceCursor(Math.min(this.ringMinDue(), this.nowMs() + 1));
    } finally {
      this.firing = false;
      this.rearm();
    }
  }

  /** Keeps exactly one timer armed, for the earliest count; replaces it only when that changes. */
  private rearm(): void {
    if (this.firing || this.stopped) return;
    const next = this.nextDueMs();
    if (next === null) {
      this.disarm();
      return;
    }
    const fireAtMs = this.fireAtOf(next);
    if (this.armedFireAtMs === fireAtMs) return;
    this.disarm();
    const delayMs = Math.min(MAX_TIMER_DELAY_MS, Math.max(0, fireAtMs - this.nowMs()));
    this.armedFireAtMs = fireAtMs;
    this.timerHandle = this.clock.setTimer(this.onTimer, delayMs);
  }

  /** When the count due at `due` is delivered: leadMs before it, rounded down to the grid. */
  private fireAtOf(due: number): number {
    const at = due - this.lead;
    return this.align === 1 ? at : Math.floor(at / this.align) * this.align;
  }

  private disarm(): void {
    if (this.armedFireAtMs === null) return;
    this.clock.clearTimer(this.timerHandle);
    this.timerHandle = null;
    this.armedFireAtMs = null;
  }

  // ---- placement ----

  private isOccupied(slot: number): boolean {
    return (this.occupied[slot >>> 5]! & (0x80000000 >>> (slot & 31))) !== 0;
  }

  /** The ring slot of `due` (inside the ring's span), marked occupied for it. */
  private ringSlotFor(due: number): number {
    // `&` works on the low 32 bits, which is still due mod slotCount for epoch-ms values.
    const slot = due & this.slotMask;
    if (!this.isOccupied(slot)) {
      this.occupied[slot >>> 5] = this.occupied[slot >>> 5]! | (0x80000000 >>> (slot & 31));
      this.slotDueMs[slot] = due;
      this.counts[slot] = 0;
      this.ringSlotsUsed++;
      if (this.ringMinValid && due < this.ringMinDueMs) this.ringMinDueMs = due;
    }
    return slot;
  }

  /** Empties the ring slot of `due`; returns its count. */
  private takeRing(due: number): number {
    const slot = due & this.slotMask;
    const count = this.counts[slot]!;
    this.counts[slot] = 0;
    this.occupied[slot >>> 5] = this.occupied[slot >>> 5]! & ~(0x80000000 >>> (slot & 31));
    this.ringSlotsUsed--;
    this.total -= count;
    if (due === this.ringMinDueMs) this.ringMinValid = false;
    return count;
  }

  /** Empties the overflow entry of `due`; returns its count. */
  private takeOverflow(due: number): number {
    const count = this.overflow.get(due);
    if (count === undefined) throw new Error(`TimerWheel invariant broken: no overflow entry for ${due}`);
    this.overflow.delete(due);
    this.total -= count;
    // Stale heap times are skipped lazily; rebuild when they outnumber the live ones.
    if (this.overflowHeap.length > 2 * this.overflow.size + 64) this.rebuildHeap();
    return count;
  }

  /** Moves the ring's window forward and pulls in the overflow entries that now fit. */
  private advanceCursor(toMs: number): void {
    if (toMs <= this.cursorMs) return;
    this.cursorMs = toMs;
    const windowEnd = this.cursorMs + this.slotCount;
    for (;;) {
      const due = this.overflowMinDue();
      // A due time before the cursor (clock stepped back) stays in the overflow until delivered.
      if (due < this.cursorMs || due >= windowEnd) return;
      const count = this.takeOverflow(due);
      const slot = this.ringSlotFor(due);
      this.counts[slot] = count;
      this.total += count;
    }
  }

  // ---- earliest lookups ----

  private ringMinDue(): number {
    if (!this.ringMinValid) {
      this.ringMinDueMs = this.scanRingMin();
      this.ringMinValid = true;
    }
    return this.ringMinDueMs;
  }

  /** First occupied slot at or after the cursor's slot, wrapping once: the earliest ring due. */
  private scanRingMin(): number {
    if (this.ringSlotsUsed === 0) return Infinity;
    const start = this.cursorMs & this.slotMask;
    const words = this.occupied.length;
    const startWord = start >>> 5;
    // First visit to the start word: only slots at or after the start. When the scan wraps back
    // to it, its later slots are known empty, so the whole word can be read.
    let bits = this.occupied[startWord]! & (0xffffffff >>> (start & 31));
    for (let step = 0; step <= words; step++) {
      const word = (startWord + step) % words;
      if (step > 0) bits = this.occupied[word]!;
      if (bits !== 0) return this.slotDueMs[(word << 5) + Math.clz32(bits)]!;
    }
    return Infinity;
  }

  private overflowMinDue(): number {
    const heap = this.overflowHeap;
    while (heap.length > 0 && !this.overflow.has(heap[0] as number)) this.heapPop();
    return heap.length > 0 ? (heap[0] as number) : Infinity;
  }

  // ---- overflow min-heap of due times ----

  private heapPush(due: number): void {
    const heap = this.overflowHeap;
    let i = heap.push(due) - 1;
    while (i > 0) {
      const parent = (i - 1) >>> 1;
      if ((heap[parent] as number) <= due) break;
      heap[i] = heap[parent] as number;
      i = parent;
    }
    heap[i] = due;
  }

  private heapPop(): void {
    const heap = this.overflowHeap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && (heap[right] as number) < (heap[left] as number) ? right : left;
      if ((heap[child] as number) >= last) break;
      heap[i] = heap[child] as number;
      i = child;
    }
    heap[i] = last;
  }

  private rebuildHeap(): void {
    this.overflowHeap.length = 0;
    for (const due of this.overflow.keys()) this.heapPush(due);
  }

  private nowMs(): number {
    return Math.floor(this.clock.now());
  }
}
