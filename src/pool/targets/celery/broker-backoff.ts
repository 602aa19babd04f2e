/**
 * When to try a Celery broker again after a push failed. The outage is the
 * broker's, not the task's: no attempt is used up (the outcome is
 * "unavailable"), and every task that meets the outage waits by the same
 * rule, which grows with how long the broker has been failing (half of
 * it, 0.5 s … 30 s, jittered so that the tasks held back do not all come
 * back in the same millisecond). A broker back after 5 s gets its tasks
 * within about 2.5 s; one back after an hour, within 30 s.
 */
export const BROKER_RETRY_MIN_MS = 500;
export const BROKER_RETRY_MAX_MS = 30_000;

export class BrokerBackoff {
  /** When the current run of failures began (NaN while the broker answers). */
  private failingSinceMs = NaN;

  constructor(private readonly random: () => number = Math.random) {}

  succeeded(): void {
    this.failingSinceMs = NaN;
  }

  /** Records a failure at `nowMs` and answers the epoch ms to try again at. */
  failed(nowMs: number): number {
    if (Number.isNaN(this.failingSinceMs)) this.failingSinceMs = nowMs;
    const waitMs = Math.min(BROKER_RETRY_MAX_MS, Math.max(BROKER_RETRY_MIN_MS, (nowMs - this.failingSinceMs) / 2));
    return nowMs + Math.round(waitMs * (0.5 + this.random() / 2));
  }

  get failing(): boolean {
    return !Number.isNaN(this.failingSinceMs);
  }
}
