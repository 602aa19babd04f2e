/**
 * The adaptive claim lead: how long before a bucket's due ms the wheel
 * wakes the actor to claim it. Fed each claim's round trip, it answers the
 * lead to use. Deterministic: the time comes in with each observation.
 */

/**
 * The wheel's lead is claimAheadMs, or more when claims have been slow: two
 * and a half times the slowest claim round trip of the last 5-10 s
 * (RTT_WINDOW_MS), capped at MAX_LEAD_MS. Round trips queue behind other
 * work in Redis and in this event loop; on a loaded machine they take
 * 5-15 ms, with a spike of 30-60 ms (a GC, a neighbour) every second or two.
 * Remembering only the last few dozen claims let the lead fall back between
 * spikes, and each spike then made that shard's tasks late. At 20,000
 * tasks/s, 1.5 times the slowest of 2-4 s still let ~1 % of tasks be
 * claimed after their due ms; 2.5 times over 5-10 s, 0.05-0.25 %. A longer
 * lead only means the tasks wait in memory, claimed, for their due ms.
 */
export const RTT_WINDOW_MS = 5_000;
export const MAX_LEAD_MS = 100;

export class ClaimLead {
  private readonly claimAheadMs: number;
  /** Slowest claim round trip of the current RTT window and of the one before. */
  private windowStartMs = -Infinity;
  private slowestMs = 0;
  private slowestBeforeMs = 0;

  constructor(claimAheadMs: number) {
    this.claimAheadMs = claimAheadMs;
  }

  /** Notes a claim's round trip, answered at nowMs; returns the lead to use from now on. */
  observe(rttMs: number, nowMs: number): number {
    if (nowMs - this.windowStartMs >= RTT_WINDOW_MS) {
      this.slowestBeforeMs = nowMs - this.windowStartMs >= 2 * RTT_WINDOW_MS ? 0 : this.slowestMs;
      this.slowestMs = 0;
      this.windowStartMs = nowMs;
    }
    if (rttMs > this.slowestMs) this.slowestMs = rttMs;
    const slowest = Math.max(this.slowestMs, this.slowestBeforeMs);
    return Math.min(MAX_LEAD_MS, Math.max(this.claimAheadMs, Math.ceil(slowest * 2.5)));
  }
}
