/**
 * Window refill planning: what the next refill of a shard's look-ahead window
 * reads from the due index, and when the one after it runs. Pure: the actor
 * passes its window bookkeeping and the time, and does the reads itself.
 *
 * The window is loaded every half look-ahead, only what is new, with every
 * fullReloadEvery-th refill re-reading the whole window (the safety net for a
 * lost wake hint). The first refill of each shard is staggered by the actor's
 * refillOffsetMs so shards never all hit Redis in the same millisecond.
 */

export interface RefillInputs {
  nowMs: number;
  /** Refills done so far; refill 0, fullReloadEvery, 2·fullReloadEvery… reload the whole window. */
  refillCount: number;
  fullReloadEvery: number;
  /** Score up to which the window is loaded (-Infinity before the first refill). */
  loadedUntilScore: number;
  /** Due ms up to which claims issued or wanted take everything (-Infinity: none). */
  coveredUpToMs: number;
  claimUpToMs: number;
  lookaheadMs: number;
  claimAheadMs: number;
  windowCap: number;
  /** Ids in the wheel now. */
  windowSize: number;
}

export interface RefillPlan {
  /** Reload the whole window rather than only what lies beyond it. */
  full: boolean;
  /** Window read: scores in (fromScore, toScore], at most limit. */
  fromScore: number;
  toScore: number;
  limit: number;
  /** Probe: is anything due by this score (a backlog, or a task whose hint was lost)? */
  probeToScore: number;
}

export function planRefill(input: RefillInputs): RefillPlan {
  const full = input.refillCount % input.fullReloadEvery === 0;
  const now = input.nowMs;
  // Only what is not yet due is loaded: what is due (a backlog, or a task that landed in the
  // window without a hint reaching us) is found by the probe and claimed straight from Redis in
  // due order, so a backlog of any size costs one probe, not a reload of its ids. An incremental
  // refill reads only what lies beyond the loaded window; the full reload re-reads the window.
  // Nor what a claim issued or wanted covers (a big bucket drained batch after batch, some of it
  // waiting for pool slots): its keys would only be thrown away again, and decoding 6,000 ids
  // per shard just before they were due held the event loop for ~100 ms. (A due ms's scores lie
  // in [ms, ms + 9/16]; from is exclusive, so a covered span ends at its last ms + 15/16.)
  const claimedThrough = Math.max(input.coveredUpToMs, input.claimUpToMs) + 15 / 16;
  const fromScore = Math.max(
    full || input.loadedUntilScore === -Infinity ? now : Math.max(now, input.loadedUntilScore),
    claimedThrough,
  );
  return {
    full,
    fromScore,
    toScore: now + input.lookaheadMs,
    limit: Math.max(1, input.windowCap - (full ? 0 : input.windowSize)),
    probeToScore: now + input.claimAheadMs,
  };
}

/**
 * Where the window ends after a refill read `loaded` ids: at the last score read when the read
 * was cut off by its limit (the window is then loaded in parts), else at the planned end.
 */
export function windowEnd(loaded: number, limit: number, lastScore: string | undefined, toScore: number): { partial: boolean; loadedUntilScore: number } {
  const partial = loaded >= limit && lastScore !== undefined;
  return { partial, loadedUntilScore: partial ? Number(lastScore) : toScore };
}

/** A window loaded in parts is read on at once when the wheel has drained below half its cap. */
export function wantsRefillNow(partial: boolean, windowSize: number, windowCap: number): boolean {
  return partial && windowSize < windowCap / 2;
}

/**
 * Delay until the next refill: at once for a partial window running low, else half a look-ahead.
 * The first periodic refill (after refill number 1, the one at start) waits refillOffsetMs more:
 * the node gives each shard its own offset within half a look-ahead, so shards acquired together
 * (a node starting, a rebalance) do not refill in the same millisecond ever after. The window
 * read at start reaches a whole look-ahead ahead, so the later refill never lets it run dry.
 */
export function nextRefillDelayMs(
  partial: boolean,
  windowSize: number,
  windowCap: number,
  lookaheadMs: number,
  refillCount: number,
  refillOffsetMs: number,
): number {
  if (wantsRefillNow(partial, windowSize, windowCap)) return 0;
  return lookaheadMs / 2 + (refillCount === 1 ? refillOffsetMs : 0);
}
