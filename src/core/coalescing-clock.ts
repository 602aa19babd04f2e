/**
 * CoalescingClock: one native timer per distinct due millisecond, shared by
 * every timer set through it. The shard actors of a node all keep their own
 * alarms (wheel, held starts, refills); through this clock, alarms of
 * different shards for the same millisecond run in one timer callback, one
 * after the other, so the Redis calls they make leave in one pipelined write
 * (ioredis flushes its auto-pipeline once per event-loop turn) instead of one
 * write each.
 *
 * Why it matters: on this 2-core VM a round trip costs the node ~35 µs of CPU
 * whatever it carries (mostly the socket write), and a shard at 1,000 tasks
 * a second sets hundreds of alarms a second. Sixteen shards' worth of
 * separate writes were a third of the node's CPU.
 *
 * Callbacks of one millisecond run in the order they were set. Delays are
 * whole milliseconds (the base clock's resolution); a timer is due at
 * floor(now) + ceil(delay). Pure apart from the injected base clock.
 */
import { realWheelClock, type WheelClock } from "./timer-wheel.ts";

interface Alarm {
  fn: () => void;
  atMs: number;
}

interface Slot {
  alarms: Set<Alarm>;
  handle: unknown;
}

export class CoalescingClock implements WheelClock {
  private readonly base: WheelClock;
  private readonly slots = new Map<number, Slot>();
  /** Told after each slot's callbacks ran (core/gap-collector.ts). */
  private readonly afterFire: (() => void) | undefined;

  constructor(base: WheelClock = realWheelClock, options: { afterFire?: () => void } = {}) {
    this.base = base;
    this.afterFire = options.afterFire;
  }

  now(): number {
    return this.base.now();
  }

  setTimer(fn: () => void, delayMs: number): unknown {
    const nowMs = Math.floor(this.base.now());
    const delay = Math.max(0, Math.ceil(delayMs));
    const alarm: Alarm = { fn, atMs: nowMs + delay };
    let slot = this.slots.get(alarm.atMs);
    if (!slot) {
      const atMs = alarm.atMs;
      slot = { alarms: new Set(), handle: null };
      slot.handle = this.base.setTimer(() => this.fire(atMs), delay);
      this.slots.set(atMs, slot);
    }
    slot.alarms.add(alarm);
    return alarm;
  }

  clearTimer(handle: unknown): void {
    const alarm = handle as Alarm | null | undefined;
    if (!alarm) return;
    const slot = this.slots.get(alarm.atMs);
    if (!slot || !slot.alarms.delete(alarm)) return;
    if (slot.alarms.size === 0) {
      this.base.clearTimer(slot.handle);
      this.slots.delete(alarm.atMs);
    }
  }

  /** Native timers currently armed (one per distinct due ms). */
  get armedSlots(): number {
    return this.slots.size;
  }

  /** The earliest ms a timer is armed for, or undefined when none is (a handful of slots: a scan). */
  nextAlarmMs(): number | undefined {
    let next: number | undefined;
    for (const atMs of this.slots.keys()) if (next === undefined || atMs < next) next = atMs;
    return next;
  }

  private fire(atMs: number): void {
    const slot = this.slots.get(atMs);
    if (!slot) return;
    this.slots.delete(atMs);
    // A callback may set or clear timers, including for this same ms: those get a new slot.
    for (const alarm of slot.alarms) {
      try {
        alarm.fn();
      } catch (error) {
        // One owner's failure must not cancel the other owners' alarms of this ms.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    this.afterFire?.();
  }
}

/** The node-wide clock the shard actors share by default. */
export const sharedClock = new CoalescingClock();
