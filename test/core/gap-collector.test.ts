// GapCollector: young collections only in a gap of the clock's alarms, paced by time and by fired slots.
import { describe, expect, test } from "bun:test";
import { CoalescingClock } from "../../src/core/coalescing-clock.ts";
import { GapCollector } from "../../src/core/gap-collector.ts";
import { FakeWheelClock } from "./fake-wheel-clock.ts";

/** A coalescing clock on a fake base, with a collector whose deferred checks run when `runDeferred` is called. */
function setup(options: { gapMs?: number; everyMs?: number; minFires?: number; busy?: () => boolean } = {}) {
  const base = new FakeWheelClock();
  const deferred: (() => void)[] = [];
  const collectedAt: number[] = [];
  let collector: GapCollector;
  const clock = new CoalescingClock(base, { afterFire: () => collector.fired() });
  collector = new GapCollector({
    now: () => clock.now(),
    nextAlarmMs: () => clock.nextAlarmMs(),
    collect: () => collectedAt.push(base.now()),
    defer: (fn) => deferred.push(fn),
    gapMs: 3,
    everyMs: 200,
    minFires: 2,
    ...options,
  });
  const runDeferred = () => {
    for (const fn of deferred.splice(0)) fn();
  };
  return { base, clock, collector, collectedAt, runDeferred };
}

describe("GapCollector", () => {
  test("collects after the turn when the next alarm is at least gapMs away, not when it is closer", () => {
    const { base, clock, collector, collectedAt, runDeferred } = setup();
    clock.setTimer(() => {}, 1);
    clock.setTimer(() => {}, 2);
    clock.setTimer(() => {}, 4); // 2 ms after the second: too close
    clock.setTimer(() => {}, 9); // 5 ms after the third: a gap
    base.advance(2);
    // Two slots fired: a check is deferred, and it runs only when the turn is over.
    expect(collectedAt).toEqual([]);
    runDeferred();
    expect(collectedAt).toEqual([]);
    expect(collector.skipped).toBe(1);
    base.advance(2); // the alarm at 4 fires; the next is at 9
    runDeferred();
    expect(collectedAt).toEqual([base.now()]);
    expect(collector.collections).toBe(1);
  });

  test("with no alarm armed at all, a check collects", () => {
    const { base, clock, collectedAt, runDeferred } = setup({ minFires: 1 });
    clock.setTimer(() => {}, 1);
    base.advance(1);
    runDeferred();
    expect(collectedAt).toHaveLength(1);
  });

  test("at most one collection per everyMs, and only after minFires slots", () => {
    const { base, clock, collectedAt, runDeferred } = setup({ minFires: 3, everyMs: 200 });
    // One slot every 10 ms, each followed by a 10-ms gap.
    const tick = () => {
      clock.setTimer(tick, 10);
    };
    clock.setTimer(tick, 10);
    const startMs = base.now();
    for (let i = 0; i < 100; i++) {
      base.advance(10);
      runDeferred();
    }
    // 1,000 ms: the first after 3 slots (30 ms), then one per 200 ms.
    expect(collectedAt.length).toBe(5);
    expect(collectedAt[0]! - startMs).toBe(30);
    for (let i = 1; i < collectedAt.length; i++) expect(collectedAt[i]! - collectedAt[i - 1]!).toBeGreaterThanOrEqual(200);
  });

  test("one check at a time, however many slots fire in the turn", () => {
    const { base, clock, collectedAt, runDeferred } = setup({ minFires: 1 });
    for (let ms = 1; ms <= 5; ms++) clock.setTimer(() => {}, ms);
    base.advance(5); // five slots, each told to the collector before any deferred check ran
    runDeferred();
    expect(collectedAt).toHaveLength(1);
  });

  test("stopped, it collects nothing, not even a check already deferred", () => {
    const { base, clock, collector, collectedAt, runDeferred } = setup({ minFires: 1 });
    clock.setTimer(() => {}, 1);
    base.advance(1);
    collector.stop();
    runDeferred();
    clock.setTimer(() => {}, 1);
    base.advance(1);
    runDeferred();
    expect(collectedAt).toEqual([]);
  });

  test("a busy node is left to the runtime until it is not busy", () => {
    let busy = true;
    const { base, clock, collector, collectedAt, runDeferred } = setup({ minFires: 1, busy: () => busy });
    clock.setTimer(() => {}, 1);
    base.advance(1);
    runDeferred();
    expect(collectedAt).toEqual([]);
    expect(collector.skipped).toBe(1);
    busy = false;
    clock.setTimer(() => {}, 1);
    base.advance(1);
    runDeferred();
    expect(collectedAt).toHaveLength(1);
  });
});
