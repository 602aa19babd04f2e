/**
 * TimerWheel: the shard actor's alarm clock. It holds the ids the actor loaded for its look-ahead
 * window and wakes the actor at the exact millisecond something is due, with one timer and no
 * ticking through empty milliseconds (after Kafka TimingWheel / Netty
 * HashedWheelTimer, minus their empty-tick wakeups).
 *
 * Layout
 * - A ring of `slotCount` buckets at 1 ms resolution. Bucket i holds the keys due at the one
 *   millisecond d with d in [cursorMs, cursorMs + slotCount) and d mod slotCount = i, so a slot
 *   never mixes two due times. `cursorMs` only moves forward and never past an undelivered key.
 * - An occupancy bitmap (one bit per slot, most significant bit first) finds the earliest
 *   non-empty bucket by scanning 32 slots per word with Math.clz32 (128 words at 4096 slots),
 *   instead of visiting every slot.
 * - An overflow: due time → bucket, plus a min-heap of due times, for what the ring cannot hold:
 *   keys further out than the ring's span (they cascade into the ring as the cursor moves), and
 *   keys due before the cursor (the clock stepped back). Delivery reads both, so correctness never
 *   depends on the cascade; the ring is there to make the common case O(1).
 * - `entries`: key → due time, so remove() finds the bucket in O(1). Buckets are Sets: O(1)
 *   delete and iteration in insertion order, which is the order keys of one bucket are delivered.
 *
 * Invariants relied on below
 * - A due time lives in exactly one place: the overflow if it has a bucket there, else the ring.
 * - Exactly one timer is armed while anything is pending, for (earliest due − leadMs, rounded
 *   down to the alignMs grid); it is only replaced when that instant changes.
 * - Only this class mutates its buckets, and only from the caller's thread of control (the shard
 *   actor); onDue may call add/remove/stop re-entrantly.
 *
 * add() refuses a key whose due time has already passed (returns false): the caller runs it at
 * once rather than the wheel calling back synchronously from inside add().
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

interface TimerWheelOptions<K> {
  clock: WheelClock;
  /** Called once per due bucket, in ascending due order, keys in insertion order. */
  onDue: (dueMs: number, keys: K[]) => void;
  /**
   * Instead of onDue's keys, only how many: the bucket is emptied without copying its keys into
   * an array (the shard actor claims by due time and never reads them). Takes precedence.
   */
  onDueCount?: (dueMs: number, count: number) => void;
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

export class TimerWheel<K> {
  private readonly clock: WheelClock;
  private readonly onDue: (dueMs: number, keys: K[]) => void;
  private readonly onDueCount: ((dueMs: number, count: number) => void) | null;
  private readonly slotCount: number;
  private readonly slotMask: number;
  private lead = 0;
  private align: number;

  private readonly entries = new Map<K, number>();
  private readonly slots: (Set<K> | undefined)[];
  private readonly slotDueMs: Float64Array;
  private readonly occupied: Uint32Array;
  private ringKeyCount = 0;
  private cursorMs: number;
  /** Cached earliest due time in the ring; recomputed from the bitmap when invalidated. */
  private ringMinDueMs = Infinity;
  private ringMinValid = true;

  private readonly overflow = new Map<number, Set<K>>();
  /** Min-heap of overflow due times; may hold stale times (bucket gone), skipped lazily. */
  private readonly overflowHeap: number[] = [];

  private timerHandle: unknown = null;
  private armedFireAtMs: number | null = null;
  private firing = false;
  private stopped = false;

  constructor(options: TimerWheelOptions<K>) {
    const slotCount = options.slotCount ?? DEFAULT_SLOT_COUNT;
    if (!Number.isInteger(slotCount) || slotCount < 32 || (slotCount & (slotCount - 1)) !== 0) {
      throw new RangeError(`slotCount must be a power of two >= 32, got ${slotCount}`);
    }
    const alignMs = options.alignMs ?? 1;
    if (!Number.isInteger(alignMs) || alignMs < 1) throw new RangeError(`alignMs must be an integer >= 1, got ${alignMs}`);
    this.align = alignMs;
    this.clock = options.clock;
    this.onDue = options.onDue;
    this.onDueCount = options.onDueCount ?? null;
    this.slotCount = slotCount;
    this.slotMask = slotCount - 1;
    this.slots = new Array<Set<K> | undefined>(slotCount).fill(undefined);
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

  get size(): number {
    return this.entries.size;
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  /**
   * Schedules `key` at `dueMs` (floored to the ms), moving it if already present. Returns false
   * and holds nothing for that key when `dueMs <= now`: the caller treats it as due now.
   */
  add(key: K, dueMs: number): boolean {
    if (this.stopped) throw new Error("TimerWheel.add() after stop()");
    if (!Number.isFinite(dueMs)) throw new RangeError(`dueMs must be a finite number, got ${dueMs}`);
    const due = Math.floor(dueMs);
    const now = this.nowMs();
    // Already held for this ms (a refill re-reading its window, a hint for a task the refill
    // brought): nothing moves. A full reload re-reads thousands of keys at 20,000 tasks a second.
    if (due > now && this.entries.get(key) === due) return true;
    this.detach(key);
    if (due <= now) {
      this.rearm();
      return false;
    }
    if (this.ringKeyCount === 0) {
      // An empty ring may jump forward to the present, so an idle wheel keeps a full span ahead.
      this.advanceCursor(now + 1);
    }
    this.entries.set(key, due);
    this.attach(key, due);
    this.rearm();
    return true;
  }

  remove(key: K): boolean {
    const removed = this.detach(key);
    if (removed) this.rearm();
    return removed;
  }

  /** Removes every key due at `dueMs` (floored) without delivering them; returns how many. */
  removeDue(dueMs: number): number {
    const due = Math.floor(dueMs);
    const overflowBucket = this.overflow.size > 0 ? this.overflow.get(due) : undefined;
    let count = 0;
    if (overflowBucket) {
      for (const key of this.takeOverflowBucket(due)) {
        this.entries.delete(key);
        count++;
      }
    } else if (this.countAt(due) > 0) {
      count = this.dropRingBucket(due);
    }
    if (count > 0) this.rearm();
    return count;
  }

  /** How many keys are due at `dueMs` (floored to the ms). */
  countAt(dueMs: number): number {
    const due = Math.floor(dueMs);
    // The overflow is usually empty; a Map lookup per call showed up at 20,000 tasks a second.
    const overflowBucket = this.overflow.size > 0 ? this.overflow.get(due) : undefined;
    if (overflowBucket) return overflowBucket.size;
    const slot = due & this.slotMask;
    const word = slot >>> 5;
    const bit = 0x80000000 >>> (slot & 31);
    if (((this.occupied[word] ?? 0) & bit) === 0 || this.slotDueMs[slot] !== due) return 0;
    return this.slots[slot]?.size ?? 0;
  }

  /**
   * How many keys are due in (fromMs, toMs], for short spans: null when the
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

  /** Disarms the timer and hands back every key that never fired, in due order. Idempotent. */
  stop(): K[] {
    this.stopped = true;
    this.disarm();
    const pending = [...this.entries].sort((a, b) => a[1] - b[1]).map(([key]) => key);
    this.entries.clear();
    this.overflow.clear();
    this.overflowHeap.length = 0;
    this.slots.fill(undefined);
    this.occupied.fill(0);
    this.ringKeyCount = 0;
    this.ringMinDueMs = Infinity;
    this.ringMinValid = true;
    return pending;
  }

  // ---- firing ----

  private readonly onTimer = (): void => {
    this.timerHandle = null;
    this.armedFireAtMs = null;
    this.fireDue();
  };

  /** Delivers every bucket whose fire time has come, oldest first (all of them if the timer was late). */
  private fireDue(): void {
    this.firing = true;
    try {
      while (!this.stopped) {
        const now = this.nowMs();
        const ringDue = this.ringMinDue();
        const overflowDue = this.overflowMinDue();
        const due = Math.min(ringDue, overflowDue);
        if (due === Infinity || this.fireAtOf(due) > now) break;
        if (this.onDueCount && overflowDue > ringDue) {
          const count = this.dropRingBucket(due);
          this.advanceCursor(Math.min(due + 1, now + 1));
          this.onDueCount(due, count);
          continue;
        }
        const keys = overflowDue <= ringDue ? [...this.takeOverflowBucket(due)] : this.takeRingKeys(due);
        for (const key of keys) this.entries.delete(key);
        // Every ring bucket left is later than `due`, so the window may start after it. It stops at
        // now + 1 (with leadMs, due can be ahead of now) so that a key added from onDue for a time
        // just after now still lands in the ring rather than the overflow.
        this.advanceCursor(Math.min(due + 1, now + 1));
        if (this.onDueCount) this.onDueCount(due, keys.length);
        else this.onDue(due, keys);
      }
      if (!this.stopped) this.advanceCursor(Math.min(this.ringMinDue(), this.nowMs() + 1));
    } finally {
      this.firing = false;
      this.rearm();
    }
  }

  /** Keeps exactly one timer armed, for the earliest bucket; replaces it only when that changes. */
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

  /** When the bucket due at `due` is delivered: leadMs before it, rounded down to the grid. */
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

  private attach(key: K, due: number): void {
    const overflowBucket = this.overflow.size > 0 ? this.overflow.get(due) : undefined;
    if (overflowBucket) {
      overflowBucket.add(key);
    } else if (due >= this.cursorMs && due < this.cursorMs + this.slotCount) {
      this.ringBucketFor(due).add(key);
      this.ringKeyCount++;
    } else {
      const bucket = new Set<K>([key]);
      this.overflow.set(due, bucket);
      this.heapPush(due);
    }
  }

  private detach(key: K): boolean {
    const due = this.entries.get(key);
    if (due === undefined) return false;
    this.entries.delete(key);
    const overflowBucket = this.overflow.size > 0 ? this.overflow.get(due) : undefined;
    if (overflowBucket) {
      overflowBucket.delete(key);
      if (overflowBucket.size === 0) {
        this.overflow.delete(due);
        // Stale heap times are skipped lazily; rebuild when they outnumber the live ones.
        if (this.overflowHeap.length > 2 * this.overflow.size + 64) this.rebuildHeap();
      }
      return true;
    }
    // `&` works on the low 32 bits, which is still due mod slotCount for epoch-ms values.
    const slot = due & this.slotMask;
    const bucket = this.slots[slot];
    if (bucket) {
      bucket.delete(key);
      this.ringKeyCount--;
      if (bucket.size === 0) this.markEmpty(slot, due);
    }
    return true;
  }

  private ringBucketFor(due: number): Set<K> {
    const slot = due & this.slotMask;
    let bucket = this.slots[slot];
    if (!bucket) {
      bucket = new Set<K>();
      this.slots[slot] = bucket;
    }
    const word = slot >>> 5;
    const bit = 0x80000000 >>> (slot & 31);
    if (((this.occupied[word] ?? 0) & bit) === 0) {
      this.occupied[word] = (this.occupied[word] ?? 0) | bit;
      this.slotDueMs[slot] = due;
      if (this.ringMinValid && due < this.ringMinDueMs) this.ringMinDueMs = due;
    }
    return bucket;
  }

  private markEmpty(slot: number, due: number): void {
    const word = slot >>> 5;
    this.occupied[word] = (this.occupied[word] ?? 0) & ~(0x80000000 >>> (slot & 31));
    if (due === this.ringMinDueMs) this.ringMinValid = false;
  }

  private takeRingKeys(due: number): K[] {
    const slot = due & this.slotMask;
    const bucket = this.slots[slot];
    if (!bucket) throw new Error(`TimerWheel invariant broken: no bucket for ${due}`);
    const keys = [...bucket];
    // The emptied Set stays in its slot for reuse: fewer allocations on the hot path.
    bucket.clear();
    this.ringKeyCount -= keys.length;
    this.markEmpty(slot, due);
    return keys;
  }

  /** Empties the ring bucket of `due` (its keys leave `entries` too); returns how many it held. */
  private dropRingBucket(due: number): number {
    const slot = due & this.slotMask;
    const bucket = this.slots[slot];
    if (!bucket) throw new Error(`TimerWheel invariant broken: no bucket for ${due}`);
    const count = bucket.size;
    for (const key of bucket) this.entries.delete(key);
    bucket.clear();
    this.ringKeyCount -= count;
    this.markEmpty(slot, due);
    return count;
  }

  private takeOverflowBucket(due: number): Set<K> {
    const bucket = this.overflow.get(due);
    if (!bucket) throw new Error(`TimerWheel invariant broken: no overflow bucket for ${due}`);
    this.overflow.delete(due);
    this.heapPop();
    return bucket;
  }

  /** Moves the ring's window forward and pulls in the overflow buckets that now fit. */
  private advanceCursor(toMs: number): void {
    if (toMs <= this.cursorMs) return;
    this.cursorMs = toMs;
    const windowEnd = this.cursorMs + this.slotCount;
    for (;;) {
      const due = this.overflowMinDue();
      // A due time before the cursor (clock stepped back) stays in the overflow until delivered.
      if (due < this.cursorMs || due >= windowEnd) return;
      const bucket = this.takeOverflowBucket(due);
      const slot = due & this.slotMask;
      this.slots[slot] = bucket;
      this.ringKeyCount += bucket.size;
      this.ringBucketFor(due);
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
    if (this.ringKeyCount === 0) return Infinity;
    const start = this.cursorMs & this.slotMask;
    const words = this.occupied.length;
    const startWord = start >>> 5;
    // First visit to the start word: only slots at or after the start. When the scan wraps back
    // to it, its later slots are known empty, so the whole word can be read.
    let bits = (this.occupied[startWord] ?? 0) & (0xffffffff >>> (start & 31));
    for (let step = 0; step <= words; step++) {
      const word = (startWord + step) % words;
      if (step > 0) bits = this.occupied[word] ?? 0;
      if (bits !== 0) return this.slotDueMs[(word << 5) + Math.clz32(bits)] ?? Infinity;
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
