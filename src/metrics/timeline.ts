/**
 * The last minutes of this node's activity, one slot per second: how many
 * tasks started and how late. It feeds the dashboard's live charts
 * (GET /admin/stats), which want a series, where Prometheus wants totals.
 *
 * Memory is fixed: a ring of `seconds` slots, each a few counters and a
 * small lateness histogram (coarse ms buckets: the chart shows p50/p99 as
 * the upper bound of their bucket, which is what a chart can show anyway).
 * record() is O(1) and allocation-free.
 */

/** Upper bounds (ms) of the per-second lateness buckets; the last bucket is open. */
const TIMELINE_BUCKETS_MS = [0, 1, 2, 3, 5, 7, 10, 15, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] as const;

export interface TimelinePoint {
  /** Start of the second (ms since epoch). */
  t: number;
  fired: number;
  latenessP50Ms: number | null;
  latenessP99Ms: number | null;
  latenessMaxMs: number | null;
}

export class Timeline {
  private readonly seconds: number;
  private readonly now: () => number;
  /** Second (epoch s) each slot holds; a slot of an older second is stale. */
  private readonly slotSecond: Float64Array;
  private readonly fired: Float64Array;
  private readonly maxMs: Float64Array;
  /** seconds × (buckets + 1) counts. */
  private readonly buckets: Float64Array;
  private readonly width = TIMELINE_BUCKETS_MS.length + 1;

  constructor(options: { seconds?: number; now?: () => number } = {}) {
    this.seconds = options.seconds ?? 600;
    this.now = options.now ?? Date.now;
    this.slotSecond = new Float64Array(this.seconds).fill(-1);
    this.fired = new Float64Array(this.seconds);
    this.maxMs = new Float64Array(this.seconds);
    this.buckets = new Float64Array(this.seconds * this.width);
  }

  record(latenessMs: number): void {
    const slot = this.slotFor(Math.floor(this.now() / 1000));
    this.fired[slot]!++;
    const late = Math.max(0, latenessMs);
    if (late > this.maxMs[slot]!) this.maxMs[slot] = late;
    let bucket = 0;
    while (bucket < TIMELINE_BUCKETS_MS.length && late > TIMELINE_BUCKETS_MS[bucket]!) bucket++;
    this.buckets[slot * this.width + bucket]!++;
  }

  /** One point per second for the last `seconds` whole seconds, oldest first (the current second excluded). */
  series(seconds = 300): TimelinePoint[] {
    const span = Math.min(seconds, this.seconds - 1);
    const current = Math.floor(this.now() / 1000);
    const points: TimelinePoint[] = [];
    for (let second = current - span; second < current; second++) {
      const slot = ((second % this.seconds) + this.seconds) % this.seconds;
      if (this.slotSecond[slot] !== second || this.fired[slot] === 0) {
        points.push({ t: second * 1000, fired: 0, latenessP50Ms: null, latenessP99Ms: null, latenessMaxMs: null });
        continue;
      }
      points.push({
        t: second * 1000,
        fired: this.fired[slot]!,
        latenessP50Ms: this.percentile(slot, 0.5),
        latenessP99Ms: this.percentile(slot, 0.99),
        latenessMaxMs: this.maxMs[slot]!,
      });
    }
    return points;
  }

  private slotFor(second: number): number {
    const slot = ((second % this.seconds) + this.seconds) % this.seconds;
    if (this.slotSecond[slot] !== second) {
      this.slotSecond[slot] = second;
      this.fired[slot] = 0;
      this.maxMs[slot] = 0;
      this.buckets.fill(0, slot * this.width, (slot + 1) * this.width);
    }
    return slot;
  }

  private percentile(slot: number, q: number): number {
    const total = this.fired[slot]!;
    const rank = Math.max(1, Math.ceil(total * q));
    let seen = 0;
    for (let bucket = 0; bucket < this.width; bucket++) {
      seen += this.buckets[slot * this.width + bucket]!;
      // The open last bucket reports the second's max: its upper bound is unknown.
      if (seen >= rank) return TIMELINE_BUCKETS_MS[bucket] ?? this.maxMs[slot]!;
    }
    return this.maxMs[slot]!;
  }
}
