/**
 * Repeated identical errors as one log line per interval, with a count.
 *
 * When Redis refuses every write (out of memory, read-only) each
 * acknowledgement, claim and heartbeat fails the same way, thousands of
 * times a second: a line each would bury the one line an operator needs and
 * fill the disk. A LogThrottle lets the first occurrence of a key through at
 * once, counts the ones that follow within the interval, and at the end of
 * the interval writes one line saying how many there were (nothing when
 * there were none). Keys are what makes two errors "identical" to the
 * caller, e.g. "finish:oom".
 *
 * The clock and the timer are injected, so tests drive it without sleeping.
 */
export interface LogThrottleOptions {
  /** Length of one interval (ms). */
  intervalMs: number;
  /** Milliseconds of a monotonic clock. */
  now?: () => number;
  /** Runs `callback` after `ms`; the default timer does not keep the process alive. */
  setTimer?: (callback: () => void, ms: number) => void;
}

/** Writes a line: `repeated` is 0 for the first occurrence, else how many came since the last line. */
export type ThrottledEmit = (repeated: number, intervalMs: number) => void;

interface KeyState {
  /** When the current interval ends (ms of `now`). */
  until: number;
  /** Occurrences held back in the current interval. */
  held: number;
  /** The latest held occurrence's emitter: the summary line carries its details. */
  emit: ThrottledEmit;
}

export class LogThrottle {
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly setTimer: (callback: () => void, ms: number) => void;
  private readonly keys = new Map<string, KeyState>();

  constructor(options: LogThrottleOptions) {
    this.intervalMs = options.intervalMs;
    this.now = options.now ?? (() => performance.now());
    this.setTimer =
      options.setTimer ??
      ((callback, ms) => {
        const timer = setTimeout(callback, ms);
        (timer as { unref?: () => void }).unref?.();
      });
  }

  /** Records one occurrence of `key`; `emit` writes the line when one is due now. */
  note(key: string, emit: ThrottledEmit): void {
    const nowMs = this.now();
    const state = this.keys.get(key);
    if (state && nowMs < state.until) {
      state.held++;
      state.emit = emit;
      return;
    }
    // A quiet key, or one whose interval is over (its summary was written by the timer).
    emit(0, this.intervalMs);
    const fresh: KeyState = { until: nowMs + this.intervalMs, held: 0, emit };
    this.keys.set(key, fresh);
    this.setTimer(() => this.close(key, fresh), this.intervalMs);
  }

  /** Occurrences of `key` held back in its current interval (tests, metrics). */
  held(key: string): number {
    return this.keys.get(key)?.held ?? 0;
  }

  /** Writes the summary of every key with held occurrences now (at stop). */
  flush(): void {
    for (const [key, state] of [...this.keys]) this.close(key, state);
  }

  /**
   * Ends an interval: one line with the count if any were held. A key that
   * keeps failing starts its next interval here, so it gets one line per
   * interval; a key that went quiet is forgotten.
   */
  private close(key: string, state: KeyState): void {
    if (this.keys.get(key) !== state) return;
    if (state.held === 0) {
      this.keys.delete(key);
      return;
    }
    const held = state.held;
    state.held = 0;
    state.until = this.now() + this.intervalMs;
    state.emit(held, this.intervalMs);
    this.setTimer(() => this.close(key, state), this.intervalMs);
  }
}

/**
 * Where a background loop reports a failed Redis call instead of logging it
 * itself: counted by kind and logged one line per place and kind per
 * interval (the node's RedisTrouble). Loops without one log each failure.
 */
export interface ErrorReporter {
  report(place: string, error: unknown, fields?: Record<string, unknown>, message?: string): unknown;
}
