/**
 * Reap planning: what follows a reap of attempts whose visibility deadline
 * passed (their worker died). Pure: the actor calls reap on its timer and
 * passes the answer here; it gets back what to claim and when to reap next.
 */

/** Attempts returned to `due` per reap call: one bounded script, never the whole backlog. */
export const REAP_BATCH = 1000;

export interface ReapDecision {
  /** Claim everything due up to this ms (the reaped tasks are due again), or null: nothing reaped. */
  claimUpToMs: number | null;
  /** Delay until the next reap: at once when the batch was full (more may wait), else reapEveryMs. */
  nextReapInMs: number;
}

export function planAfterReap(entries: readonly { score: string }[], more: boolean, nowMs: number, reapEveryMs: number): ReapDecision {
  let claimUpToMs: number | null = null;
  if (entries.length > 0) {
    let latest = -Infinity;
    for (const entry of entries) latest = Math.max(latest, Math.floor(Number(entry.score)));
    claimUpToMs = Math.max(latest, nowMs);
  }
  return { claimUpToMs, nextReapInMs: more ? 0 : reapEveryMs };
}
