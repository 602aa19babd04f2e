/**
 * Claim planning: whether the actor sends a claim now, up to which due ms,
 * and for how many pool slots. Pure: the actor passes its claim bookkeeping,
 * the time and what its wheel holds; it reserves, claims and keeps the books.
 *
 * A claim takes everything due up to its due ms, in due order with priority
 * breaking ties, but never more than the pool has room for (slots are
 * reserved first; see claimDepth in pool/worker-pool.ts). Claiming a slice of time rather than one millisecond
 * keeps a busy shard at one claim per slice instead of one per millisecond.
 */
import { MAX_LEAD_MS } from "./claim-lead.ts";

/**
 * A shard may have two claims in flight: the next slice's claim goes out
 * while the last one's reply is still queued. With one, every shard waited
 * for its reply before claiming again, so all shards' claims and replies
 * moved in lockstep and Redis and the node took turns idling; at 20,000
 * tasks a second that made each round trip the sum of both sides' work.
 * Two claims never take a task twice: each is one atomic script, run in
 * order, taking what is due and still in `due`.
 */
export const MAX_CLAIMS_IN_FLIGHT = 2;

/**
 * A bucket this large (tasks of this shard due in the same ms) is claimed
 * BIG_BUCKET_LEAD_MS early instead of claimAheadMs: one claim script moves
 * about a thousand tasks in 7-15 ms of Redis time on this machine, and every
 * shard's claim for that instant queues behind the others', so filling the
 * pool (5 × 1,000 at TICKWHEEL_CONCURRENCY=5000) takes 50-80 ms, and up to
 * 140 ms when the machine is busy; with 40-100 ms of lead the first task of
 * a 100,000-task burst started 10-80 ms late. The cost of a longer lead is
 * only that those tasks wait in memory (claimed, in their batch) a little longer.
 */
export const BIG_BUCKET_TASKS = 256;
export const BIG_BUCKET_LEAD_MS = 200;

/**
 * What the next claim expects to find, as the actor counts it: the keys of
 * wheel buckets already delivered for it, or FULL_BATCH when it may find any
 * number (a backlog, a reap, a probe hit, a claim that came back full).
 */
export const FULL_BATCH = Infinity;

/** No claim to send (claimUpTo's answer). */
export const NO_CLAIM = -Infinity;

/** Whether a claim is wanted and another may be sent (up to MAX_CLAIMS_IN_FLIGHT). */
export function mayClaim(claimUpToMs: number, claimsInFlight: number): boolean {
  return claimsInFlight < MAX_CLAIMS_IN_FLIGHT && claimUpToMs !== -Infinity;
}

/**
 * The due ms the next claim takes everything up to, or NO_CLAIM: a second claim goes out only
 * for what the first does not cover (or for a full first claim's remainder).
 */
export function claimUpTo(claimUpToMs: number, nowMs: number, claimsInFlight: number, coveredUpToMs: number, expected: number): number {
  const upToMs = Math.max(claimUpToMs, nowMs);
  if (claimsInFlight > 0 && upToMs <= coveredUpToMs && expected !== FULL_BATCH) return NO_CLAIM;
  return upToMs;
}

/**
 * The widest slice of due time one claim covers: a quarter of the lead, so that a shard whose
 * claims are slow (the lead grew to MAX_LEAD_MS) claims a few times per lead rather than every
 * claimAheadMs. At 20,000 tasks a second over 16 shards, a 5 ms slice meant 3,200 claim scripts
 * a second of about 6 tasks each, and a script's own cost (the call, its keys, its Lua) was most
 * of Redis' work per task; 25 ms slices take five times as many tasks per script. A wider slice
 * only holds the tasks it took (claimed, in the hold room) up to one slice longer.
 */
export const MAX_SLICE_MS = 25;

/**
 * How much due time each claim covers, given the lead: claimAheadMs while claims are quick, up to a
 * quarter of the lead (at most MAX_SLICE_MS) when they are slow, in whole claimAheadMs so that the
 * shards' claim grids still meet.
 */
export function claimSliceMs(leadMs: number, claimAheadMs: number): number {
  if (claimAheadMs <= 0) return 0;
  const quarter = Math.min(MAX_SLICE_MS, Math.floor(leadMs / 4));
  return Math.max(claimAheadMs, Math.floor(quarter / claimAheadMs) * claimAheadMs);
}

/**
 * The wheel span whose keys a claim up to upToMs will find beside `expected`: what is due up to
 * coveredUpToMs is a claim in flight's. The span is at most the lead plus one slice and one grid
 * step (MAX_LEAD_MS + 2 × MAX_SLICE_MS), counted ms by ms; wider answers null from the wheel.
 */
export function sizingSpan(nowMs: number, coveredUpToMs: number, claimAheadMs: number): { fromMs: number; maxSpanMs: number } {
  return { fromMs: Math.max(nowMs - 1, coveredUpToMs), maxSpanMs: MAX_LEAD_MS + 2 * Math.max(claimAheadMs, MAX_SLICE_MS) };
}

/**
 * Pool slots the next claim asks for. Claims the wheel asks for are sized by what the wheel holds
 * in their span plus what it already delivered (expected), plus slack, so sixteen shards claiming
 * a few tasks each do not tie up a full claimBatch of slots apiece while their calls are in
 * flight. A claim of unknown size (expected FULL_BATCH, or a span the wheel cannot count: null)
 * asks for a full batch.
 */
export function claimSize(claimBatch: number, expected: number, inWheel: number | null): number {
  if (expected === FULL_BATCH || inWheel === null) return claimBatch;
  const total = expected + inWheel;
  return Math.min(claimBatch, total + 8 + (total >> 2));
}

/**
 * After a claim up to upToMs came back: the due ms still wanted. A claim that filled its slots
 * may have left more (the caller then expects FULL_BATCH); otherwise what it covered is done.
 */
export function claimUpToAfter(claimUpToMs: number, upToMs: number, filled: boolean): number {
  if (filled || claimUpToMs > upToMs) return claimUpToMs;
  return -Infinity;
}

/**
 * Delay until a big bucket's early claim, or null when the bucket is near enough that the
 * wheel's own alarm (claimAheadMs early) comes first.
 */
export function earlyClaimDelayMs(dueMs: number, nowMs: number, claimAheadMs: number): number | null {
  const delayMs = dueMs - BIG_BUCKET_LEAD_MS - nowMs;
  return delayMs <= claimAheadMs ? null : delayMs;
}
