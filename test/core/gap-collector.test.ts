// GapCollector: young collections only in a gap of the clock's alarms, paced by time and by fired slots.
import { describe, expect, test } from "bun:test";
import { CoalescingClock } from "../../src/core/coalescing-clock.ts";
import { GapCollector } from "../../src/core/gap-collector.ts";
import { FakeWheelClock } from "./fake-wheel-clock.ts";

/** A coalescing clock on a fake base, with a collector whose deferred checks run when `runDeferred` is called. */
function setup(options: { gapMs?: number; everyMs?: number; minFires?: number; busy?: () => boolean; gaplessAfterMs?: number; gaplessEveryMs?: number } = {}) {
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
    gaplessAfterMs: 50,
    gaplessEveryMs: 50,
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

  test("when no gap comes for gaplessAfterMs it collects anyway, then every gaplessEveryMs, gap or not", () => {
    const { base, clock, collector, collectedAt, runDeferred } = setup({ minFires: 1, everyMs: 200, gaplessAfterMs: 50, gaplessEveryMs: 50 });
    // An alarm every ms, as at 20,000 starts a second: never a gap of 3 ms.
    const tick = () => {
      clock.setTimer(tick, 1);
    };
    clock.setTimer(tick, 1);
    const startMs = base.now();
    for (let i = 0; i < 1_000; i++) {
      base.advance(1);
      runDeferred();
    }
    // The first search for a gap begins with the first slot (1 ms; no collection yet) and gives
    // up 50 ms later; then one every 50 ms: at 51, 101, ..., 951 ms.
    expect(collectedAt[0]! - startMs).toBe(51);
    for (let i = 1; i < collectedAt.length; i++) expect(collectedAt[i]! - collectedAt[i - 1]!).toBe(50);
    expect(collectedAt).toHaveLength(19);
    expect(collector.gaplessCollections).toBe(19);
    expect(collector.skipped).toBe(50);
  });

  test("a check that finds a gap again returns to collecting in gaps, every everyMs", () => {
    const { base, clock, collector, collectedAt, runDeferred } = setup({ minFires: 1, everyMs: 200, gaplessAfterMs: 50, gaplessEveryMs: 50 });
    let stepMs = 1;
    const tick = () => {
      clock.setTimer(tick, stepMs);
    };
    clock.setTimer(tick, 1);
    for (let i = 0; i < 200; i++) {
      base.advance(1);
      runDeferred();
    }
    expect(collector.gaplessCollections).toBeGreaterThan(0);
    const gaplessBefore = collector.gaplessCollections;
    // The rate falls: an alarm every 10 ms, a gap after each.
    stepMs = 10;
    base.advance(1);
    runDeferred();
    const from = collectedAt.length;
    for (let i = 0; i < 100; i++) {
      base.advance(10);
      runDeferred();
    }
    const later = collectedAt.slice(from);
    // One more gapless-paced collection at most (it found its gap), then the 200-ms pace.
    expect(collector.gaplessCollections).toBe(gaplessBefore);
    expect(later.length).toBeGreaterThanOrEqual(4);
    expect(later.length).toBeLessThanOrEqual(6);
    for (let i = 2; i < later.length; i++) expect(later[i]! - later[i - 1]!).toBeGreaterThanOrEqual(200);
  });

  test("a busy node gets no forced collection either", () => {
    let busy = false;
    const { base, clock, collector, collectedAt, runDeferred } = setup({ minFires: 1, gaplessAfterMs: 50, gaplessEveryMs: 50, busy: () => busy });
    const tick = () => {
      clock.setTimer(tick, 1);
    };
    clock.setTimer(tick, 1);
    for (let i = 0; i < 100; i++) {
      base.advance(1);
      runDeferred();
    }
    const collected = collectedAt.length;
    expect(collected).toBeGreaterThan(0);
    busy = true;
    for (let i = 0; i < 300; i++) {
      base.advance(1);
      runDeferred();
    }
    expect(collectedAt).toHaveLength(collected);
    expect(collector.skipped).toBeGreaterThan(200);
  });

  test("sums each collection's pause on its own sub-ms clock, not the wheel clock's whole ms", () => {
    const base = new FakeWheelClock();
    let monotonic = 1_000.25;
    const deferred: (() => void)[] = [];
    const clock = new CoalescingClock(base, { afterFire: () => collector.fired() });
    const collector: GapCollector = new GapCollector({
      now: () => clock.now(),
      nextAlarmMs: () => clock.nextAlarmMs(),
      // A collection takes 1.75 ms of the thread; the wheel clock does not move meanwhile.
      collect: () => (monotonic += 1.75),
      elapsed: () => monotonic,
      defer: (fn) => deferred.push(fn),
      minFires: 1,
      everyMs: 10,
    });
    expect(collector.pausedMs).toBe(0);
    for (let i = 0; i < 3; i++) {
      clock.setTimer(() => {}, 1);
      base.advance(20);
      for (const fn of deferred.splice(0)) fn();
      monotonic += 20; // time passing outside collections is not counted
    }
    expect(collector.collections).toBeGreaterThanOrEqual(2);
    expect(collector.pausedMs).toBeCloseTo(collector.collections * 1.75, 9);
  });
});
