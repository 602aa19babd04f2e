import { describe, test, expect } from "bun:test";
import { backoffDelayMs } from "../../src/core/backoff.ts";

const opts = { baseMs: 1_000, maxMs: 60_000 };
const top = () => 0.999_999_999;

describe("backoffDelayMs", () => {
  test("the cap doubles per attempt from baseMs", () => {
    expect(backoffDelayMs(1, opts, top)).toBe(1_000);
    expect(backoffDelayMs(2, opts, top)).toBe(2_000);
    expect(backoffDelayMs(3, opts, top)).toBe(4_000);
    expect(backoffDelayMs(6, opts, top)).toBe(32_000);
  });

  test("the cap stops at maxMs", () => {
    expect(backoffDelayMs(7, opts, top)).toBe(60_000);
    expect(backoffDelayMs(30, opts, top)).toBe(60_000);
  });

  test("full jitter: the draw scales the whole range", () => {
    expect(backoffDelayMs(3, opts, () => 0)).toBe(0);
    expect(backoffDelayMs(3, opts, () => 0.5)).toBe(2_000);
    expect(backoffDelayMs(3, opts, () => 0.25)).toBe(1_000);
    expect(backoffDelayMs(3, opts, () => 1)).toBe(4_000); // a random that returns 1 stays in range
  });

  test("results are integers within [0, cap] for real randomness", () => {
    for (let i = 0; i < 1_000; i++) {
      const delay = backoffDelayMs(4, opts);
      expect(Number.isInteger(delay) && delay >= 0 && delay <= 8_000).toBe(true);
    }
  });

  test("huge attempt numbers do not overflow", () => {
    expect(backoffDelayMs(5_000, opts, top)).toBe(60_000);
    expect(backoffDelayMs(Number.MAX_SAFE_INTEGER, opts, top)).toBe(60_000);
    expect(backoffDelayMs(5_000, { baseMs: 0, maxMs: 60_000 }, top)).toBe(0);
    expect(backoffDelayMs(5_000, { baseMs: 1, maxMs: Number.MAX_SAFE_INTEGER }, () => 0.5)).toBeLessThan(
      Number.MAX_SAFE_INTEGER,
    );
  });

  test("rejects invalid input", () => {
    expect(() => backoffDelayMs(0, opts)).toThrow(RangeError);
    expect(() => backoffDelayMs(1.5, opts)).toThrow(RangeError);
    expect(() => backoffDelayMs(1, { baseMs: -1, maxMs: 10 })).toThrow(/baseMs/);
    expect(() => backoffDelayMs(1, { baseMs: 1, maxMs: Infinity })).toThrow(/maxMs/);
  });
});
