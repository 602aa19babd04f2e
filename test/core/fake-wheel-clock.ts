/**
 * FakeWheelClock: a manual clock for TimerWheel tests, so they never sleep. advance() moves time
 * forward and runs each timer at its own due instant, like an idle event loop; jump() moves time
 * without running anything, like an event loop that was busy, so tests can make timers fire late.
 */
import type { WheelClock } from "../../src/core/timer-wheel.ts";

interface FakeTimer {
  id: number;
  atMs: number;
  fn: () => void;
}

export class FakeWheelClock implements WheelClock {
  private nowMs: number;
  private nextId = 1;
  private readonly timers = new Map<number, FakeTimer>();
  /** How many timer callbacks have run (wakeups). */
  fired = 0;
  /** How many timers were ever armed. */
  armed = 0;

  // Starts at a real epoch-ms value (2026-01-01), above 2^32, as production due times are.
  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  setTimer(fn: () => void, delayMs: number): unknown {
    const timer = { id: this.nextId++, atMs: this.nowMs + Math.max(0, Math.floor(delayMs)), fn };
    this.timers.set(timer.id, timer);
    this.armed++;
    return timer.id;
  }

  clearTimer(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  get activeTimers(): number {
    return this.timers.size;
  }

  /** Runs every timer due by now + ms at its own instant (earliest first), then sets now + ms. */
  advance(ms: number): void {
    const targetMs = this.nowMs + ms;
    for (;;) {
      const next = this.earliest();
      if (!next || next.atMs > targetMs) break;
      this.nowMs = Math.max(this.nowMs, next.atMs);
      this.runTimer(next);
    }
    this.nowMs = targetMs;
  }

  /** Moves time by ms (either way) without running timers: a busy loop or a clock step. */
  jump(ms: number): void {
    this.nowMs += ms;
  }

  /** Runs timers already due at the current time (after a jump), without moving time. */
  runDue(): void {
    this.advance(0);
  }

  private earliest(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const timer of this.timers.values()) {
      if (!best || timer.atMs < best.atMs || (timer.atMs === best.atMs && timer.id < best.id)) best = timer;
    }
    return best;
  }

  private runTimer(timer: FakeTimer): void {
    this.timers.delete(timer.id);
    this.fired++;
    timer.fn();
  }
}
