/**
 * LatencyRecorder: lateness of task starts (handler start − due time, in ms; negative = early)
 * for /metrics and the benchmarks.
 *
 * Why log-linear buckets and not a ring of the last N samples: memory is fixed (two arrays of
 * 2,368 counters, ~38 KB) however many samples arrive; every sample since the last reset counts,
 * where a ring of 8,192 would only remember the last 0.4 s at 20,000 tasks/s and hide a tail that
 * happened a second ago; record() is O(1) and allocation-free on the hot path; and the counts can
 * be read back as cumulative buckets for a Prometheus histogram.
 *
 * Layout, for the magnitude m of a sample (negative samples go to a mirror array):
 * - m < 1,024: one bucket per ms, exact. Lateness lives here, and p99 of a few ms must be exact.
 * - m >= 1,024: 64 buckets per power of two, so a value is known to within 1/64 (~1.6 %) of
 *   itself; a 5-minute stall is worth seeing, not worth its exact millisecond.
 * - m is clamped to 2^31 − 1 ms (~24.8 days).
 * min, max, sum and count are exact.
 */

const EXACT_LIMIT = 1_024;
const EXACT_BITS = 10; // log2(EXACT_LIMIT)
const SUB_BITS = 6; // 2^6 = 64 buckets per power of two above EXACT_LIMIT
const SUB_BUCKETS = 1 << SUB_BITS;
const MAX_MAGNITUDE = 2 ** 31 - 1;
const BUCKET_COUNT = EXACT_LIMIT + (31 - EXACT_BITS) * SUB_BUCKETS;

function bucketOf(magnitude: number): number {
  if (magnitude < EXACT_LIMIT) return magnitude;
  const power = 31 - Math.clz32(magnitude); // >= EXACT_BITS
  const sub = (magnitude >>> (power - SUB_BITS)) & (SUB_BUCKETS - 1);
  return EXACT_LIMIT + (power - EXACT_BITS) * SUB_BUCKETS + sub;
}

/** Smallest and largest magnitude that fall in a bucket. */
function bucketRange(bucket: number): [number, number] {
  if (bucket < EXACT_LIMIT) return [bucket, bucket];
  const power = EXACT_BITS + Math.floor((bucket - EXACT_LIMIT) / SUB_BUCKETS);
  const width = 2 ** (power - SUB_BITS);
  const low = (SUB_BUCKETS + ((bucket - EXACT_LIMIT) % SUB_BUCKETS)) * width;
  return [low, low + width - 1];
}

export class LatencyRecorder {
  // Float64 counts stay exact to 2^53 samples; Uint32 would wrap after ~2.5 days at 20,000/s.
  private readonly lateCounts = new Float64Array(BUCKET_COUNT); // samples >= 0
  private readonly earlyCounts = new Float64Array(BUCKET_COUNT); // samples < 0, by magnitude
  private total = 0;
  private early = 0;
  private sumMs = 0;
  private minMs = Infinity;
  private maxMs = -Infinity;

  /** Records one sample, rounded to the ms. */
  record(ms: number): void {
    if (!Number.isFinite(ms)) throw new RangeError(`latency sample must be a finite number, got ${ms}`);
    const sample = Math.round(ms);
    const magnitude = Math.min(Math.abs(sample), MAX_MAGNITUDE);
    const counts = sample < 0 ? this.earlyCounts : this.lateCounts;
    const bucket = bucketOf(magnitude);
    counts[bucket] = (counts[bucket] ?? 0) + 1;
    if (sample < 0) this.early++;
    this.total++;
    this.sumMs += sample;
    if (sample < this.minMs) this.minMs = sample;
    if (sample > this.maxMs) this.maxMs = sample;
  }

  get count(): number {
    return this.total;
  }

  /** Samples below zero: started before their due time. */
  get earlyCount(): number {
    return this.early;
  }

  get sum(): number {
    return this.sumMs;
  }

  get max(): number | null {
    return this.total === 0 ? null : this.maxMs;
  }

  get min(): number | null {
    return this.total === 0 ? null : this.minMs;
  }

  /**
   * Nearest-rank percentile (p in 0..100), null when empty. Exact for values within ±1,023 ms
   * and for the lowest and highest sample; otherwise the highest value of the sample's bucket
   * (never beyond min..max), so it errs late by at most 1/64.
   */
  percentile(p: number): number | null {
    if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be in 0..100, got ${p}`);
    if (this.total === 0) return null;
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    if (rank === 1) return this.minMs;
    if (rank === this.total) return this.maxMs;
    let seen = 0;
    // Early samples first, most negative first, then late samples ascending.
    for (let bucket = BUCKET_COUNT - 1; bucket >= 0; bucket--) {
      seen += this.earlyCounts[bucket] ?? 0;
      if (seen >= rank) return this.clamp(-bucketRange(bucket)[0]);
    }
    for (let bucket = 0; bucket < BUCKET_COUNT; bucket++) {
      seen += this.lateCounts[bucket] ?? 0;
      if (seen >= rank) return this.clamp(bucketRange(bucket)[1]);
    }
    return this.maxMs; // unreachable: the counts add up to total
  }

  /**
   * Samples <= ms: a Prometheus `le` bucket. Exact for |ms| < 1,024 and at the edges of coarse
   * buckets; otherwise counts the whole coarse bucket that contains ms.
   */
  countAtMost(ms: number): number {
    const limit = Math.floor(ms);
    if (limit < 0) {
      let count = 0;
      const from = bucketOf(Math.min(-limit, MAX_MAGNITUDE));
      for (let bucket = BUCKET_COUNT - 1; bucket >= from; bucket--) count += this.earlyCounts[bucket] ?? 0;
      return count;
    }
    let count = this.early;
    const to = bucketOf(Math.min(limit, MAX_MAGNITUDE));
    for (let bucket = 0; bucket <= to; bucket++) count += this.lateCounts[bucket] ?? 0;
    return count;
  }

  reset(): void {
    this.lateCounts.fill(0);
    this.earlyCounts.fill(0);
    this.total = 0;
    this.early = 0;
    this.sumMs = 0;
    this.minMs = Infinity;
    this.maxMs = -Infinity;
  }

  private clamp(value: number): number {
    return Math.min(this.maxMs, Math.max(this.minMs, value));
  }
}
