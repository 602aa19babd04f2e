import { describe, test, expect } from "bun:test";
import { TimerWheel } from "../../src/core/timer-wheel.ts";
import { FakeWheelClock } from "./fake-wheel-clock.ts";

interface Fired {
  atMs: number;
  dueMs: number;
  count: number;
}

function setup(options: { slotCount?: number; leadMs?: number; alignMs?: number; startMs?: number } = {}) {
  const clock = new FakeWheelClock(options.startMs);
  const fired: Fired[] = [];
  const wheel = new TimerWheel({
    clock,
    onDue: (dueMs, count) => fired.push({ atMs: clock.now(), dueMs, count }),
    ...(options.slotCount !== undefined ? { slotCount: options.slotCount } : {}),
    ...(options.leadMs !== undefined ? { leadMs: options.leadMs } : {}),
    ...(options.alignMs !== undefined ? { alignMs: options.alignMs } : {}),
  });
  return { clock, wheel, fired, t0: clock.now() };
}

describe("TimerWheel", () => {
  test("fires at the exact due millisecond, not before, with the count of that ms", () => {
    const { clock, wheel, fired, t0 } = setup();
    expect(wheel.add(t0 + 250)).toBe(true);
    expect(wheel.add(t0 + 250, 2)).toBe(true);
    expect(wheel.size).toBe(3);
    clock.advance(249);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual([{ atMs: t0 + 250, dueMs: t0 + 250, count: 3 }]);
    expect(wheel.size).toBe(0);
    expect(wheel.countAt(t0 + 250)).toBe(0);
    expect(clock.activeTimers).toBe(0);
  });

  test("delivers counts in due order", () => {
    const { clock, wheel, fired, t0 } = setup();
    wheel.add(t0 + 30);
    wheel.add(t0 + 20);
    wheel.add(t0 + 10);
    wheel.add(t0 + 20);
    wheel.add(t0 + 20);
    clock.advance(100);
    expect(fired.map((f) => [f.atMs - t0, f.count])).toEqual([
      [10, 1],
      [20, 3],
      [30, 1],
    ]);
  });

  test("raiseTo makes a count at least the number a read saw, without counting twice", () => {
    const { clock, wheel, fired, t0 } = setup({ slotCount: 32 });
    // Two hints, then a read of the same ms that saw those two and one more.
    wheel.add(t0 + 10);
    wheel.add(t0 + 10);
    expect(wheel.raiseTo(t0 + 10, 3)).toBe(true);
    expect(wheel.countAt(t0 + 10)).toBe(3);
    // A read that saw fewer (a task claimed meanwhile) never lowers the count.
    expect(wheel.raiseTo(t0 + 10, 1)).toBe(true);
    expect(wheel.countAt(t0 + 10)).toBe(3);
    // A fresh ms, and one in the overflow, take the read's count as it is.
    expect(wheel.raiseTo(t0 + 12, 4)).toBe(true);
    expect(wheel.raiseTo(t0 + 5_000, 2)).toBe(true);
    wheel.add(t0 + 5_000);
    expect(wheel.raiseTo(t0 + 5_000, 2)).toBe(true);
    expect(wheel.countAt(t0 + 5_000)).toBe(3);
    expect(wheel.size).toBe(10);
    expect(wheel.raiseTo(t0, 5)).toBe(false);
    expect(wheel.raiseTo(t0 + 20, 0)).toBe(true);
    expect(wheel.nextDueMs()).toBe(t0 + 10);
    clock.advance(10_000);
    expect(fired.map((f) => [f.dueMs - t0, f.count])).toEqual([
      [10, 3],
      [12, 4],
      [5_000, 3],
    ]);
  });

  test("a due time at or before now is refused and counts nothing", () => {
    const { clock, wheel, fired, t0 } = setup();
    expect(wheel.add(t0)).toBe(false);
    expect(wheel.add(t0 - 1000, 5)).toBe(false);
    expect(wheel.size).toBe(0);
    expect(clock.activeTimers).toBe(0);
    clock.advance(20);
    expect(fired).toEqual([]);
    expect(() => wheel.add(Number.NaN)).toThrow(RangeError);
    expect(() => wheel.add(t0 + 100, -1)).toThrow(RangeError);
    expect(() => wheel.add(t0 + 100, 1.5)).toThrow(RangeError);
  });

  test("fractional due times are floored to the millisecond", () => {
    const { clock, wheel, fired, t0 } = setup();
    expect(wheel.add(t0 + 0.9)).toBe(false);
    wheel.add(t0 + 7.8);
    wheel.add(t0 + 7.1);
    expect(wheel.nextDueMs()).toBe(t0 + 7);
    expect(wheel.countAt(t0 + 7.5)).toBe(2);
    clock.advance(7);
    expect(fired.map((f) => [f.dueMs - t0, f.count])).toEqual([[7, 2]]);
  });

  test("keeps exactly one timer armed, re-armed only when the earliest changes", () => {
    const { clock, wheel, t0 } = setup();
    wheel.add(t0 + 100);
    expect(clock.activeTimers).toBe(1);
    expect(clock.armed).toBe(1);
    wheel.add(t0 + 200);
    wheel.add(t0 + 100);
    wheel.raiseTo(t0 + 100, 5);
    expect(clock.armed).toBe(1); // earliest unchanged: no re-arm
    wheel.add(t0 + 50);
    expect(clock.activeTimers).toBe(1);
    expect(clock.armed).toBe(2);
    wheel.removeDue(t0 + 50);
    expect(clock.activeTimers).toBe(1);
    clock.advance(100);
    expect(clock.activeTimers).toBe(1); // now armed for 200
    clock.advance(100);
    expect(clock.activeTimers).toBe(0);
  });

  test("does not wake for empty milliseconds", () => {
    const { clock, wheel, fired, t0 } = setup();
    wheel.add(t0 + 1_000);
    wheel.add(t0 + 4_000);
    clock.advance(5_000);
    expect(fired.map((f) => f.atMs - t0)).toEqual([1_000, 4_000]);
    expect(clock.fired).toBeLessThanOrEqual(2);
  });

  test("a late timer delivers every overdue count, in order, in one wake", () => {
    const { clock, wheel, fired, t0 } = setup();
    wheel.add(t0 + 10);
    wheel.add(t0 + 30, 3);
    wheel.add(t0 + 20, 2);
    wheel.add(t0 + 500);
    clock.jump(100); // event loop was busy past three due times
    clock.runDue();
    expect(fired.map((f) => [f.dueMs - t0, f.count])).toEqual([
      [10, 1],
      [20, 2],
      [30, 3],
    ]);
    expect(clock.fired).toBe(1);
    clock.advance(400);
    expect(fired.at(-1)).toEqual({ atMs: t0 + 500, dueMs: t0 + 500, count: 1 });
  });

  test("due times beyond the wheel span wait in the overflow and still fire on time", () => {
    const { clock, wheel, fired, t0 } = setup({ slotCount: 64 });
    wheel.add(t0 + 1_000);
    wheel.add(t0 + 64 * 100 + 3, 2);
    wheel.add(t0 + 63);
    wheel.add(t0 + 64 + 63, 4); // same slot as t0 + 63, one span later
    expect(wheel.nextDueMs()).toBe(t0 + 63);
    expect(wheel.size).toBe(8);
    clock.advance(10_000);
    expect(fired.map((f) => [f.atMs - t0, f.count])).toEqual([
      [63, 1],
      [127, 4],
      [1_000, 1],
      [6_403, 2],
    ]);
    expect(clock.fired).toBe(4);
    expect(wheel.size).toBe(0);
  });

  test("an idle wheel keeps a full span ahead of the present", () => {
    const { clock, wheel, fired, t0 } = setup({ slotCount: 64 });
    clock.advance(1_000_000);
    wheel.add(t0 + 1_000_010);
    wheel.removeDue(t0 + 1_000_010);
    expect(wheel.add(t0 + 1_000_000 + 60)).toBe(true);
    clock.advance(60);
    expect(fired.map((f) => f.atMs - t0)).toEqual([1_000_060]);
  });

  test("leadMs fires that many ms before the due time", () => {
    const { clock, wheel, fired, t0 } = setup({ leadMs: 5 });
    wheel.add(t0 + 100);
    wheel.add(t0 + 3); // already inside the lead window: fires on the next turn
    clock.advance(0);
    expect(fired).toEqual([{ atMs: t0, dueMs: t0 + 3, count: 1 }]);
    clock.advance(94);
    expect(fired.length).toBe(1);
    clock.advance(1);
    expect(fired[1]).toEqual({ atMs: t0 + 95, dueMs: t0 + 100, count: 1 });
  });

  test("alignMs rounds fire times down to its grid, so counts of one grid step fire together", () => {
    const { clock, wheel, fired, t0 } = setup({ leadMs: 5, alignMs: 5 }); // t0 is a multiple of 5
    wheel.add(t0 + 107);
    wheel.add(t0 + 109);
    wheel.add(t0 + 110);
    clock.advance(99);
    expect(fired).toEqual([]);
    clock.advance(1); // 107 - 5 = 102 and 109 - 5 = 104 both round down to 100
    expect(fired).toEqual([
      { atMs: t0 + 100, dueMs: t0 + 107, count: 1 },
      { atMs: t0 + 100, dueMs: t0 + 109, count: 1 },
    ]);
    clock.advance(5);
    expect(fired[2]).toEqual({ atMs: t0 + 105, dueMs: t0 + 110, count: 1 });
    expect(() => setup({ alignMs: 0 })).toThrow(RangeError);
  });

  test("a new alignMs re-arms the timer on the new grid", () => {
    const { clock, wheel, fired, t0 } = setup({ leadMs: 5, alignMs: 5 });
    wheel.add(t0 + 148); // fires at 143 rounded down to 140
    wheel.alignMs = 25; // 143 rounded down to 125
    expect(wheel.alignMs).toBe(25);
    clock.advance(124);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual([{ atMs: t0 + 125, dueMs: t0 + 148, count: 1 }]);
    expect(() => (wheel.alignMs = 0)).toThrow(RangeError);
  });

  test("countAt and countBetween count what is due at a ms and in a short span", () => {
    const { wheel, t0 } = setup({ slotCount: 32 });
    wheel.add(t0 + 10, 2);
    wheel.add(t0 + 12);
    wheel.add(t0 + 5_000); // in the overflow
    expect(wheel.countAt(t0 + 10)).toBe(2);
    expect(wheel.countAt(t0 + 11)).toBe(0);
    expect(wheel.countAt(t0 + 10 + 32)).toBe(0); // same ring slot, another ms
    expect(wheel.countAt(t0 + 5_000)).toBe(1);
    expect(wheel.countBetween(t0 + 9, t0 + 12)).toBe(3);
    expect(wheel.countBetween(t0 + 10, t0 + 12)).toBe(1);
    expect(wheel.countBetween(t0, t0 + 10_000)).toBeNull();
  });

  test("removeDue forgets the count of one ms without delivering it", () => {
    const { clock, wheel, fired, t0 } = setup({ slotCount: 32 });
    wheel.add(t0 + 10, 2);
    wheel.add(t0 + 11);
    wheel.add(t0 + 5_000); // in the overflow
    wheel.add(t0 + 6_000); // in the overflow, behind t0 + 5_000
    expect(wheel.removeDue(t0 + 10)).toBe(2);
    expect(wheel.removeDue(t0 + 6_000)).toBe(1); // not the overflow's earliest
    expect(wheel.removeDue(t0 + 12)).toBe(0);
    expect(wheel.size).toBe(2);
    clock.advance(10_000);
    expect(fired.map((f) => [f.dueMs - t0, f.count])).toEqual([
      [11, 1],
      [5_000, 1],
    ]);
  });

  test("changing leadMs re-arms the pending timer", () => {
    const { clock, wheel, fired, t0 } = setup();
    wheel.add(t0 + 100);
    wheel.leadMs = 20;
    expect(clock.activeTimers).toBe(1);
    clock.advance(80);
    expect(fired).toEqual([{ atMs: t0 + 80, dueMs: t0 + 100, count: 1 }]);
    expect(() => (wheel.leadMs = -1)).toThrow(RangeError);
  });

  test("stop says how many never fired, forgets them and disarms", () => {
    const { clock, wheel, fired, t0 } = setup({ slotCount: 32 });
    wheel.add(t0 + 5);
    wheel.add(t0 + 5_000); // in the overflow
    wheel.add(t0 + 20, 2);
    clock.advance(5);
    expect(wheel.stop()).toBe(3);
    expect(wheel.stop()).toBe(0);
    expect(clock.activeTimers).toBe(0);
    expect(wheel.size).toBe(0);
    clock.advance(10_000);
    expect(fired.map((f) => f.dueMs - t0)).toEqual([5]);
    expect(() => wheel.add(t0 + 20_000)).toThrow();
  });

  test("onDue may add, remove and stop re-entrantly", () => {
    const clock = new FakeWheelClock();
    const t0 = clock.now();
    const seen: number[] = [];
    const wheel: TimerWheel = new TimerWheel({
      clock,
      onDue: (dueMs) => {
        seen.push(dueMs - t0);
        if (dueMs === t0 + 10) {
          wheel.add(clock.now() + 1);
          wheel.removeDue(t0 + 10_000);
        }
        if (dueMs === t0 + 11) wheel.stop();
      },
    });
    wheel.add(t0 + 10);
    wheel.add(t0 + 10_000);
    wheel.add(t0 + 20);
    clock.advance(30);
    expect(seen).toEqual([10, 11]);
    expect(clock.activeTimers).toBe(0);
  });

  test("an onDue that throws still leaves the timer armed for the rest", () => {
    const clock = new FakeWheelClock();
    const t0 = clock.now();
    const seen: number[] = [];
    const wheel = new TimerWheel({
      clock,
      onDue: (dueMs) => {
        seen.push(dueMs - t0);
        if (dueMs === t0 + 10) throw new Error("handler failed");
      },
    });
    wheel.add(t0 + 10);
    wheel.add(t0 + 11);
    clock.jump(20);
    expect(() => clock.runDue()).toThrow("handler failed");
    expect(clock.activeTimers).toBe(1);
    clock.runDue();
    expect(seen).toEqual([10, 11]);
  });

  test("a clock stepped backwards still delivers everything in due order", () => {
    const { clock, wheel, fired, t0 } = setup({ slotCount: 32 });
    wheel.add(t0 + 10);
    clock.advance(10);
    clock.jump(-500); // the wheel's window is now ahead of the clock
    wheel.add(clock.now() + 5);
    wheel.add(clock.now() + 600, 2);
    clock.advance(1_000);
    expect(fired.map((f) => [f.atMs - t0, f.count])).toEqual([
      [10, 1],
      [-485, 1],
      [110, 2],
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
      const model = new Map<number, number>(); // due → count
      const problems: string[] = [];
      let delivered = 0;
      const wheel = new TimerWheel({
        clock,
        slotCount: variant.slotCount,
        leadMs: variant.leadMs,
        onDue: (dueMs, count) => {
          const now = clock.now();
          if (dueMs - variant.leadMs > now) problems.push(`early: ${dueMs} at ${now}`);
          if (count !== model.get(dueMs)) problems.push(`bucket ${dueMs}: got ${count} expected ${model.get(dueMs)}`);
          for (const due of model.keys()) if (due < dueMs) problems.push(`out of order: ${due} < ${dueMs}`);
          model.delete(dueMs);
          delivered += count;
        },
      });

      for (let op = 0; op < 100_000 && problems.length === 0; op++) {
        const roll = random();
        const due = clock.now() + int(variant.maxAheadMs) - 20;
        if (roll < 0.35) {
          const count = 1 + int(3);
          const accepted = wheel.add(due, count);
          if (accepted !== due > clock.now()) problems.push(`add(${due}) at ${clock.now()} returned ${accepted}`);
          if (accepted) model.set(due, (model.get(due) ?? 0) + count);
        } else if (roll < 0.5) {
          const count = 1 + int(5);
          const accepted = wheel.raiseTo(due, count);
          if (accepted !== due > clock.now()) problems.push(`raiseTo(${due}) at ${clock.now()} returned ${accepted}`);
          if (accepted) model.set(due, Math.max(model.get(due) ?? 0, count));
        } else if (roll < 0.7) {
          // Mostly a due time that holds something.
          const known = [...model.keys()];
          const target = known.length > 0 && roll < 0.65 ? known[int(known.length)]! : due;
          const removed = wheel.removeDue(target);
          if (removed !== (model.get(target) ?? 0)) problems.push(`removeDue(${target}) returned ${removed}`);
          model.delete(target);
        } else if (roll < 0.98) {
          clock.advance(int(40));
        } else {
          clock.jump(int(300)); // busy event loop: the timer fires late
          clock.runDue();
        }
        // After time moved, nothing the model considers due may still be pending.
        for (const pending of model.keys()) {
          if (roll >= 0.7 && pending - variant.leadMs <= clock.now()) problems.push(`missed ${pending}`);
        }
        const total = [...model.values()].reduce((sum, count) => sum + count, 0);
        if (wheel.size !== total) problems.push(`size ${wheel.size} vs ${total}`);
        const modelNext = model.size === 0 ? null : Math.min(...model.keys());
        if (wheel.nextDueMs() !== modelNext) problems.push(`nextDueMs ${wheel.nextDueMs()} vs ${modelNext}`);
        if (clock.activeTimers !== (model.size > 0 ? 1 : 0)) problems.push(`${clock.activeTimers} timers armed`);
      }
      expect(problems.slice(0, 5)).toEqual([]);
      expect(delivered).toBeGreaterThan(10_000);
      const total = [...model.values()].reduce((sum, count) => sum + count, 0);
      expect(wheel.stop()).toBe(total);
    });
  }
});
