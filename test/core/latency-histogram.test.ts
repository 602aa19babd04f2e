import { describe, test, expect } from "bun:test";
import { LatencyRecorder } from "../../src/core/latency-histogram.ts";

/** Nearest-rank percentile over the raw samples: what the recorder should report. */
function exactPercentile(sorted: number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

function seededRandom(seed: number): () => number {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
}

describe("LatencyRecorder", () => {
  test("is empty until something is recorded", () => {
    const recorder = new LatencyRecorder();
    expect(recorder.count).toBe(0);
    expect(recorder.percentile(50)).toBeNull();
    expect(recorder.max).toBeNull();
    expect(recorder.min).toBeNull();
    expect(recorder.earlyCount).toBe(0);
  });

  test("percentiles are exact below 1,024 ms, early samples included", () => {
    const random = seededRandom(7);
    const recorder = new LatencyRecorder();
    const samples: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      // Mostly 0–5 ms, a tail to 1,000 ms, a few early starts.
      const roll = random();
      let sample: number;
      if (roll < 0.02) sample = -Math.floor(random() * 20) - 1;
      else if (roll < 0.97) sample = Math.floor(random() * 6);
      else sample = Math.floor(random() * 1_000);
      samples.push(sample);
      recorder.record(sample);
    }
    samples.sort((a, b) => a - b);
    for (const p of [0, 1, 2, 10, 50, 90, 97, 99, 99.9, 100]) {
      expect([p, recorder.percentile(p)]).toEqual([p, exactPercentile(samples, p)]);
    }
    expect(recorder.count).toBe(20_000);
    expect(recorder.earlyCount).toBe(samples.filter((s) => s < 0).length);
    expect(recorder.max).toBe(samples.at(-1) as number);
    expect(recorder.min).toBe(samples[0] as number);
    expect(recorder.sum).toBe(samples.reduce((a, b) => a + b, 0));
  });

  test("large values are within 1/64 of the truth, never below it, and p100 is the exact max", () => {
    const random = seededRandom(11);
    const recorder = new LatencyRecorder();
    const samples: number[] = [];
    for (let i = 0; i < 5_000; i++) {
      const sample = Math.floor(2 ** (10 + random() * 20)); // 1 s .. ~12 days
      samples.push(sample);
      recorder.record(sample);
    }
    samples.sort((a, b) => a - b);
    for (const p of [1, 25, 50, 75, 99]) {
      const truth = exactPercentile(samples, p);
      const reported = recorder.percentile(p) as number;
      expect(reported).toBeGreaterThanOrEqual(truth);
      expect(reported - truth).toBeLessThanOrEqual(truth / 64);
    }
    expect(recorder.percentile(100)).toBe(samples.at(-1) as number);
  });

  test("large early samples and clamped huge samples stay in range", () => {
    const recorder = new LatencyRecorder();
    recorder.record(-5_000);
    recorder.record(1e12);
    expect(recorder.percentile(0)).toBe(-5_000);
    expect(recorder.percentile(100)).toBe(1e12);
    expect(recorder.earlyCount).toBe(1);
  });

  test("rounds fractional samples and rejects non-finite ones", () => {
    const recorder = new LatencyRecorder();
    recorder.record(2.4);
    recorder.record(2.6);
    expect(recorder.percentile(0)).toBe(2);
    expect(recorder.percentile(100)).toBe(3);
    expect(() => recorder.record(Number.NaN)).toThrow(RangeError);
    expect(() => recorder.record(Infinity)).toThrow(RangeError);
    expect(recorder.count).toBe(2);
  });

  test("rejects percentiles outside 0..100", () => {
    const recorder = new LatencyRecorder();
    recorder.record(1);
    for (const p of [-1, 100.5, Number.NaN]) expect(() => recorder.percentile(p)).toThrow(RangeError);
  });

  test("countAtMost gives cumulative buckets", () => {
    const recorder = new LatencyRecorder();
    for (const sample of [-3, -1, 0, 1, 1, 2, 5, 10, 250, 999]) recorder.record(sample);
    expect(recorder.countAtMost(-4)).toBe(0);
    expect(recorder.countAtMost(-3)).toBe(1);
    expect(recorder.countAtMost(-1)).toBe(2);
    expect(recorder.countAtMost(0)).toBe(3);
    expect(recorder.countAtMost(1)).toBe(5);
    expect(recorder.countAtMost(9)).toBe(7);
    expect(recorder.countAtMost(1_000)).toBe(10);
    expect(recorder.countAtMost(Infinity)).toBe(10);
  });

  test("reset forgets everything", () => {
    const recorder = new LatencyRecorder();
    recorder.record(-2);
    recorder.record(40);
    recorder.reset();
    expect(recorder.count).toBe(0);
    expect(recorder.earlyCount).toBe(0);
    expect(recorder.max).toBeNull();
    expect(recorder.percentile(99)).toBeNull();
    recorder.record(7);
    expect(recorder.percentile(50)).toBe(7);
    expect(recorder.min).toBe(7);
  });
});
