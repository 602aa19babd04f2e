// CoalescingClock: one base timer per distinct due ms, callbacks of that ms in the order they were set.
import { describe, expect, test } from "bun:test";
import { CoalescingClock } from "../../src/core/coalescing-clock.ts";
import { FakeWheelClock } from "./fake-wheel-clock.ts";

describe("CoalescingClock", () => {
  test("timers due in the same ms share one base timer and run in the order they were set", () => {
    const base = new FakeWheelClock();
    const clock = new CoalescingClock(base);
    const ran: string[] = [];
    clock.setTimer(() => ran.push("a"), 5);
    clock.setTimer(() => ran.push("b"), 5);
    clock.setTimer(() => ran.push("c"), 3);
    expect(base.activeTimers).toBe(2);
    base.advance(4);
    expect(ran).toEqual(["c"]);
    base.advance(1);
    expect(ran).toEqual(["c", "a", "b"]);
    expect(base.fired).toBe(2);
    expect(clock.armedSlots).toBe(0);
  });

  test("clearing the last timer of a ms clears its base timer; clearing one of several keeps it", () => {
    const base = new FakeWheelClock();
    const clock = new CoalescingClock(base);
    const ran: string[] = [];
    const a = clock.setTimer(() => ran.push("a"), 10);
    const b = clock.setTimer(() => ran.push("b"), 10);
    const c = clock.setTimer(() => ran.push("c"), 20);
    clock.clearTimer(a);
    expect(base.activeTimers).toBe(2);
    clock.clearTimer(c);
    expect(base.activeTimers).toBe(1);
    clock.clearTimer(c); // twice: no effect
    clock.clearTimer(null);
    base.advance(30);
    expect(ran).toEqual(["b"]);
    clock.clearTimer(b); // after it ran: no effect
    expect(base.activeTimers).toBe(0);
  });

  test("a callback may set a timer for the same ms or later; it runs on its own base timer", () => {
    const base = new FakeWheelClock();
    const clock = new CoalescingClock(base);
    const ran: string[] = [];
    clock.setTimer(() => {
      ran.push("first");
      clock.setTimer(() => ran.push("again"), 0);
      clock.setTimer(() => ran.push("later"), 2);
    }, 1);
    base.advance(1);
    expect(ran).toEqual(["first", "again"]);
    base.advance(2);
    expect(ran).toEqual(["first", "again", "later"]);
  });

  test("fractional delays round up, so a timer never runs before its delay", () => {
    const base = new FakeWheelClock();
    const clock = new CoalescingClock(base);
    let ranAt = 0;
    const start = base.now();
    clock.setTimer(() => (ranAt = base.now()), 2.2);
    base.advance(10);
    expect(ranAt - start).toBe(3);
  });

  test("nextAlarmMs answers the earliest armed ms; afterFire is told once per slot, after its callbacks", () => {
    const base = new FakeWheelClock();
    const events: string[] = [];
    const clock = new CoalescingClock(base, { afterFire: () => events.push(`after ${clock.nextAlarmMs() ?? "none"}`) });
    const start = base.now();
    expect(clock.nextAlarmMs()).toBeUndefined();
    clock.setTimer(() => events.push("a"), 7);
    clock.setTimer(() => events.push("b"), 3);
    clock.setTimer(() => events.push("c"), 3);
    expect(clock.nextAlarmMs()).toBe(start + 3);
    base.advance(3);
    expect(events).toEqual(["b", "c", `after ${start + 7}`]);
    base.advance(4);
    expect(events).toEqual(["b", "c", `after ${start + 7}`, "a", "after none"]);
  });
});
