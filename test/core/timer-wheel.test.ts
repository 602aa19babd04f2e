import { describe, test, expect } from "bun:test";
import { TimerWheel } from "../../src/core/timer-wheel.ts";
import { FakeWheelClock } from "./fake-wheel-clock.ts";

interface Fired {
  atMs: number;
  dueMs: number;
  keys: string[];
}

function setup(options: { slotCount?: number; leadMs?: number; alignMs?: number; startMs?: number } = {}) {
  const clock = new FakeWheelClock(options.startMs);
  const fired: Fired[] = [];
  const wheel = new TimerWheel<string>({
    clock,
    onDue: (dueMs, keys) => fired.push({ atMs: clock.now(), dueMs, keys }),
    ...(options.slotCount !== undefined ? { slotCount: options.slotCount } : {}),
    ...(options.leadMs !== undefined ? { leadMs: options.leadMs } : {}),
    ...(options.alignMs !== undefined ? { alignMs: options.alignMs } : {}),
  });
  return { clock, wheel, fired, t0: clock.now() };
}

describe("TimerWheel", () => {
  test("fires at the exact due millisecond, not before", () => {
    const { clock, wheel, fired, t0 } = setup();
    expect(wheel.add("a", t0 + 250)).toBe(true);
    clock.advance(249);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual([{ atMs: t0 + 250, dueMs: t0 + 250, keys: ["a"] }]);
    expect(wheel.size).toBe(0);
    expect(wheel.has("a")).toBe(false);
    expect(clock.activeTimers).toBe(0);
  });

  test("delivers buckets in due order and keys of a bucket in insertion order", () => {
    const { clock, wheel, fired, t0 } = setup();
    wheel.add("late", t0 + 30);
    wheel.add("b1", t0 + 20);
    wheel.add("early", t0 + 10);
    wheel.add("b2", t0 + 20);
    wheel.add("b3", t0 + 20);
    clock.advance(100);
    expect(fired.map((f) => [f.atMs - t0, f.keys])).toEqual([
      [10, ["early"]],
      [20, ["b1", "b2", "b3"]],
      [30, ["late"]],
    ]);
  });

  test("remove drops a key and disarms when nothing is left", () => {
    const { clock, wheel, fired, t0 } = setup();
    wheel.add("a", t0 + 5);
    wheel.add("b", t0 + 5);
    expect(wheel.remove("a")).toBe(true);
    expect(wheel.remove("a")).toBe(false);
    expect(wheel.remove("missing")).toBe(false);
    clock.advance(10);
    expect(fired.map((f) => f.keys)).toEqual([["b"]]);
    wheel.add("c", t0 + 50);
    wheel.remove("c");
    expect(clock.activeTimers).toBe(0);
    expect(wheel.nextDueMs()).toBeNull();
  });

  test("re-adding a key moves it to the new due time", () => {
    const { clock, wheel, fired, t0 } = setup();
    wheel.add("a", t0 + 10);
    wheel.add("a", t0 + 40);
    expect(wheel.size).toBe(1);
    expect(wheel.nextDueMs()).toBe(t0 + 40);
    clock.advance(39);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual([{ atMs: t0 + 40, dueMs: t0 + 40, keys: ["a"] }]);
  });

  test("a due time at or before now is refused and stores nothing", () => {
    const { clock, wheel, fired, t0 } = setup();
    expect(wheel.add("now", t0)).toBe(false);
    expect(wheel.add("past", t0 - 1000)).toBe(false);
    expect(wheel.size).toBe(0);
    expect(clock.activeTimers).toBe(0);
    // Moving an existing key into the past hands it back to the caller: it must not fire later.
    wheel.add("moved", t0 + 10);
    expect(wheel.add("moved", t0 - 1)).toBe(false);
    expect(wheel.has("moved")).toBe(false);
    clock.advance(20);
    expect(fired).toEqual([]);
  });

  test("fractional due times are floored to the millisecond", () => {
    const { clock, wheel, fired, t0 } = setup();
    expect(wheel.add("a", t0 + 0.9)).toBe(false);
    wheel.add("b", t0 + 7.8);
    expect(wheel.nextDueMs()).toBe(t0 + 7);
    clock.advance(7);
    expect(fired.map((f) => f.dueMs)).toEqual([t0 + 7]);
  });

  test("keeps exactly one timer armed, re-armed only when the earliest changes", () => {
    const { clock, wheel, t0 } = setup();
    wheel.add("a", t0 + 100);
    expect(clock.activeTimers).toBe(1);
    expect(clock.armed).toBe(1);
    wheel.add("b", t0 + 200);
    wheel.add("c", t0 + 100);
    expect(clock.armed).toBe(1); // earliest unchanged: no re-arm
    wheel.add("d", t0 + 50);
    expect(clock.activeTimers).toBe(1);
    expect(clock.armed).toBe(2);
    wheel.remove("d");
    expect(clock.activeTimers).toBe(1);
    clock.advance(100);
    expect(clock.activeTimers).toBe(1); // now armed for b
    clock.advance(100);
    expect(clock.activeTimers).toBe(0);
  });

  test("does not wake for empty milliseconds", () => {
    const { clock, wheel, fired, t0 } = setup();
    wheel.add("a", t0 + 1_000);
    wheel.add("b", t0 + 4_000);
    clock.advance(5_000);
    expect(fired.map((f) => f.atMs - t0)).toEqual([1_000, 4_000]);
    expect(clock.fired).toBeLessThanOrEqual(2);
  });

  test("a late timer delivers every overdue bucket, in order, in one wake", () => {
    const { clock, wheel, fired, t0 } = setup();
    wheel.add("a", t0 + 10);
    wheel.add("c", t0 + 30);
    wheel.add("b", t0 + 20);
    wheel.add("future", t0 + 500);
    clock.jump(100); // event loop was busy past three due times
    clock.runDue();
    expect(fired.map((f) => [f.dueMs - t0, f.keys])).toEqual([
      [10, ["a"]],
      [20, ["b"]],
      [30, ["c"]],
    ]);
    expect(clock.fired).toBe(1);
    clock.advance(400);
    expect(fired.at(-1)).toEqual({ atMs: t0 + 500, dueMs: t0 + 500, keys: ["future"] });
  });

  test("entries beyond the wheel span wait in the overflow and still fire on time", () => {
    const { clock, wheel, fired, t0 } = setup({ slotCount: 64 });
    wheel.add("far", t0 + 1_000);
    wheel.add("farther", t0 + 64 * 100 + 3);
    wheel.add("near", t0 + 63);
    wheel.add("wraps", t0 + 64 + 63); // same slot as "near", one span later
    expect(wheel.nextDueMs()).toBe(t0 + 63);
    clock.advance(10_000);
    expect(fired.map((f) => [f.atMs - t0, f.keys])).toEqual([
      [63, ["near"]],
      [127, ["wraps"]],
      [1_000, ["far"]],
      [6_403, ["farther"]],
    ]);
    expect(clock.fired).toBe(4);
  });

  test("an idle wheel keeps a full span ahead of the present", () => {
    const { clock, wheel, fired, t0 } = setup({ slotCount: 64 });
    clock.advance(1_000_000);
    wheel.add("a", t0 + 1_000_010);
    wheel.remove("a");
    expect(wheel.add("b", t0 + 1_000_000 + 60)).toBe(true);
    clock.advance(60);
    expect(fired.map((f) => f.atMs - t0)).toEqual([1_000_060]);
  });

  test("leadMs fires that many ms before the due time", () => {
    const { clock, wheel, fired, t0 } = setup({ leadMs: 5 });
    wheel.add("a", t0 + 100);
    wheel.add("soon", t0 + 3); // already inside the lead window: fires on the next turn
    clock.advance(0);
    expect(fired).toEqual([{ atMs: t0, dueMs: t0 + 3, keys: ["soon"] }]);
    clock.advance(94);
    expect(fired.length).toBe(1);
    clock.advance(1);
    expect(fired[1]).toEqual({ atMs: t0 + 95, dueMs: t0 + 100, keys: ["a"] });
  });

  test("alignMs rounds fire times down to its grid, so buckets of one grid step fire together", () => {
    const { clock, wheel, fired, t0 } = setup({ leadMs: 5, alignMs: 5 }); // t0 is a multiple of 5
    wheel.add("a", t0 + 107);
    wheel.add("b", t0 + 109);
    wheel.add("c", t0 + 110);
    clock.advance(99);
    expect(fired).toEqual([]);
    clock.advance(1); // 107 - 5 = 102 and 109 - 5 = 104 both round down to 100
    expect(fired).toEqual([
      { atMs: t0 + 100, dueMs: t0 + 107, keys: ["a"] },
      { atMs: t0 + 100, dueMs: t0 + 109, keys: ["b"] },
    ]);
    clock.advance(5);
    expect(fired[2]).toEqual({ atMs: t0 + 105, dueMs: t0 + 110, keys: ["c"] });
    expect(() => setup({ alignMs: 0 })).toThrow(RangeError);
  });

  test("adding a key again for the ms it already waits for changes nothing and arms no timer", () => {
    const { clock, wheel, fired, t0 } = setup();
    wheel.add("a", t0 + 50);
    wheel.add("b", t0 + 50);
    const armed = clock.armed;
    expect(wheel.add("a", t0 + 50)).toBe(true);
    expect(clock.armed).toBe(armed);
    expect(wheel.size).toBe(2);
    expect(wheel.countAt(t0 + 50)).toBe(2);
    clock.advance(50);
    expect(fired).toEqual([{ atMs: t0 + 50, dueMs: t0 + 50, keys: ["a", "b"] }]);
  });

  test("a new alignMs re-arms the timer on the new grid", () => {
    const { clock, wheel, fired, t0 } = setup({ leadMs: 5, alignMs: 5 });
    wheel.add("a", t0 + 148); // fires at 143 rounded down to 140
    wheel.alignMs = 25; // 143 rounded down to 125
    expect(wheel.alignMs).toBe(25);
    clock.advance(124);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual([{ atMs: t0 + 125, dueMs: t0 + 148, keys: ["a"] }]);
    expect(() => (wheel.alignMs = 0)).toThrow(RangeError);
  });

  test("countAt and countBetween count the keys due at a ms and in a short span", () => {
    const { wheel, t0 } = setup({ slotCount: 32 });
    wheel.add("a", t0 + 10);
    wheel.add("b", t0 + 10);
    wheel.add("c", t0 + 12);
    wheel.add("far", t0 + 5_000); // in the overflow
    expect(wheel.countAt(t0 + 10)).toBe(2);
    expect(wheel.countAt(t0 + 11)).toBe(0);
    expect(wheel.countAt(t0 + 10 + 32)).toBe(0); // same ring slot, another ms
    expect(wheel.countAt(t0 + 5_000)).toBe(1);
    expect(wheel.countBetween(t0 + 9, t0 + 12)).toBe(3);
    expect(wheel.countBetween(t0 + 10, t0 + 12)).toBe(1);
    expect(wheel.countBetween(t0, t0 + 10_000)).toBeNull();
  });

  test("onDueCount gets how many keys each bucket held, and the keys are gone", () => {
    const clock = new FakeWheelClock();
    const t0 = clock.now();
    const counts: [number, number][] = [];
    const wheel = new TimerWheel<string>({ clock, onDue: () => {}, onDueCount: (dueMs, count) => counts.push([dueMs - t0, count]), slotCount: 32 });
    wheel.add("a", t0 + 5);
    wheel.add("b", t0 + 5);
    wheel.add("c", t0 + 7);
    wheel.add("far", t0 + 500); // in the overflow when added
    clock.advance(1_000);
    expect(counts).toEqual([[5, 2], [7, 1], [500, 1]]);
    expect(wheel.size).toBe(0);
    expect(wheel.has("a")).toBe(false);
  });

  test("removeDue drops every key of one ms without delivering them", () => {
    const { clock, wheel, fired, t0 } = setup({ slotCount: 32 });
    wheel.add("a", t0 + 10);
    wheel.add("b", t0 + 10);
    wheel.add("c", t0 + 11);
    wheel.add("far", t0 + 5_000); // in the overflow
    expect(wheel.removeDue(t0 + 10)).toBe(2);
    expect(wheel.removeDue(t0 + 5_000)).toBe(1);
    expect(wheel.removeDue(t0 + 12)).toBe(0);
    expect(wheel.has("a") || wheel.has("b") || wheel.has("far")).toBe(false);
    expect(wheel.size).toBe(1);
    clock.advance(10_000);
    expect(fired).toEqual([{ atMs: t0 + 11, dueMs: t0 + 11, keys: ["c"] }]);
  });

  test("changing leadMs re-arms the pending timer", () => {
    const { clock, wheel, fired, t0 } = setup();
    wheel.add("a", t0 + 100);
    wheel.leadMs = 20;
    expect(clock.activeTimers).toBe(1);
    clock.advance(80);
    expect(fired).toEqual([{ atMs: t0 + 80, dueMs: t0 + 100, keys: ["a"] }]);
    expect(() => (wheel.leadMs = -1)).toThrow(RangeError);
  });

  test("stop hands back what never fired, in due order, and disarms", () => {
    const { clock, wheel, fired, t0 } = setup({ slotCount: 32 });
    wheel.add("x", t0 + 5);
    wheel.add("z", t0 + 5_000); // in the overflow
    wheel.add("y", t0 + 20);
    wheel.add("w", t0 + 20);
    clock.advance(5);
    expect(wheel.stop()).toEqual(["y", "w", "z"]);
    expect(wheel.stop()).toEqual([]);
    expect(clock.activeTimers).toBe(0);
    expect(wheel.size).toBe(0);
    clock.advance(10_000);
    expect(fired.map((f) => f.keys)).toEqual([["x"]]);
    expect(() => wheel.add("late", t0 + 20_000)).toThrow();
  });

  test("onDue may add, remove and stop re-entrantly", () => {
    const clock = new FakeWheelClock();
    const t0 = clock.now();
    const seen: string[] = [];
    const wheel: TimerWheel<string> = new TimerWheel<string>({
      clock,
      onDue: (_dueMs, keys) => {
        for (const key of keys) {
          seen.push(key);
          if (key === "a") {
            wheel.add("again", clock.now() + 1);
            wheel.remove("b");
          }
          if (key === "again") wheel.stop();
        }
      },
    });
    wheel.add("a", t0 + 10);
    wheel.add("b", t0 + 10_000);
    wheel.add("c", t0 + 20);
    clock.advance(30);
    expect(seen).toEqual(["a", "again"]);
    expect(clock.activeTimers).toBe(0);
  });

  test("an onDue that throws still leaves the timer armed for the rest", () => {
    const clock = new FakeWheelClock();
    const t0 = clock.now();
    const seen: string[] = [];
    const wheel = new TimerWheel<string>({
      clock,
      onDue: (_dueMs, keys) => {
        seen.push(...keys);
        if (keys.includes("boom")) throw new Error("handler failed");
      },
    });
    wheel.add("boom", t0 + 10);
    wheel.add("next", t0 + 10 + 1);
    clock.jump(20);
    expect(() => clock.runDue()).toThrow("handler failed");
    expect(clock.activeTimers).toBe(1);
    clock.runDue();
    expect(seen).toEqual(["boom", "next"]);
  });

  test("a clock stepped backwards still delivers everything in due order", () => {
    const { clock, wheel, fired, t0 } = setup({ slotCount: 32 });
    wheel.add("a", t0 + 10);
    clock.advance(10);
    clock.jump(-500); // the wheel's window is now ahead of the clock
    wheel.add("b", clock.now() + 5);
    wheel.add("c", clock.now() + 600);
    clock.advance(1_000);
    expect(fired.map((f) => [f.atMs - t0, f.keys])).toEqual([
      [10, ["a"]],
      [-485, ["b"]],
      [110, ["c"]],
    ]);
  });

  test("rejects a slotCount that is not a power of two", () => {
    const clock = new FakeWheelClock();
    expect(() => new TimerWheel({ clock, onDue: () => {}, slotCount: 1000 })).toThrow(RangeError);
    expect(() => new TimerWheel({ clock, onDue: () => {}, slotCount: 16 })).toThrow(RangeError);
  });

  for (const variant of [
    { slotCount: 4096, leadMs: 0, maxAheadMs: 10_000 },
    { slotCount: 32, leadMs: 3, maxAheadMs: 500 },
    { slotCount: 64, leadMs: 0, maxAheadMs: 5_000 },
  ]) {
    test(`100k random operations match a naive model (${JSON.stringify(variant)})`, () => {
      let seed = 0x9e3779b9;
      const random = (): number => {
        // mulberry32: deterministic, so a failure reproduces.
        seed = (seed + 0x6d2b79f5) | 0;
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
      const int = (n: number): number => Math.floor(random() * n);

      const clock = new FakeWheelClock();
      const model = new Map<string, number>(); // key → due; Map order = last-add order
      const problems: string[] = [];
      let delivered = 0;
      const wheel = new TimerWheel<string>({
        clock,
        slotCount: variant.slotCount,
        leadMs: variant.leadMs,
        onDue: (dueMs, keys) => {
          const now = clock.now();
          if (dueMs - variant.leadMs > now) problems.push(`early: ${dueMs} at ${now}`);
          const expected = [...model].filter(([, due]) => due === dueMs).map(([key]) => key);
          if (JSON.stringify(keys) !== JSON.stringify(expected)) {
            problems.push(`bucket ${dueMs}: got ${keys.join()} expected ${expected.join()}`);
          }
          for (const [key, due] of model) if (due < dueMs) problems.push(`out of order: ${key}@${due} < ${dueMs}`);
          for (const key of keys) model.delete(key);
          delivered += keys.length;
        },
      });

      for (let op = 0; op < 100_000 && problems.length === 0; op++) {
        const roll = random();
        const key = `k${int(400)}`;
        if (roll < 0.5) {
          const due = clock.now() + int(variant.maxAheadMs) - 20;
          const accepted = wheel.add(key, due);
          model.delete(key);
          if (accepted !== due > clock.now()) problems.push(`add(${due}) at ${clock.now()} returned ${accepted}`);
          if (accepted) model.set(key, due);
        } else if (roll < 0.7) {
          const removed = wheel.remove(key);
          if (removed !== model.delete(key)) problems.push(`remove(${key}) returned ${removed}`);
        } else if (roll < 0.98) {
          clock.advance(int(40));
        } else {
          clock.jump(int(300)); // busy event loop: the timer fires late
          clock.runDue();
        }
        // After time moved, nothing the model considers due may still be pending.
        for (const [k, due] of model) {
          if (roll >= 0.7 && due - variant.leadMs <= clock.now()) problems.push(`missed ${k}@${due}`);
        }
        if (wheel.size !== model.size) problems.push(`size ${wheel.size} vs ${model.size}`);
        const modelNext = model.size === 0 ? null : Math.min(...model.values());
        if (wheel.nextDueMs() !== modelNext) problems.push(`nextDueMs ${wheel.nextDueMs()} vs ${modelNext}`);
        if (clock.activeTimers !== (model.size > 0 ? 1 : 0)) problems.push(`${clock.activeTimers} timers armed`);
      }
      expect(problems.slice(0, 5)).toEqual([]);
      expect(delivered).toBeGreaterThan(10_000);
      const pending = wheel.stop();
      expect(pending.sort()).toEqual([...model.keys()].sort());
    });
  }
});
