/**
 * What the store's intents answer: the typed outcomes every part returns
 * instead of raw replies, and the two reply decoders they share. Fenced
 * intents answer LEASE_LOST when the caller's token no longer holds the
 * shard, and then changed nothing.
 */
export const LEASE_LOST = "lease" as const;
export type LeaseLost = typeof LEASE_LOST;

export interface ScheduleItem {
  id: string;
  score: string;
  record: string;
  /**
   * The id was generated for this call (time-ordered, 70+ random bits), so
   * nothing can exist under it: the script skips the idempotency lookups.
   */
  fresh?: boolean;
  /** keySlot(id), when the caller has it already. */
  slot?: number;
  /** The record's spec json and due ms, when the caller has them (a cold entry is built from them). */
  specJson?: string;
  dueMs?: number;
}

export type ScheduleOutcome =
  | { kind: "created"; score: string }
  | { kind: "pending"; record: string }
  | { kind: "final"; finalJson: string };

export interface ClaimedTask {
  id: string;
  /**
   * "attempt:score\n<spec json>" as stored: the attempt counts the attempts
   * used up, so this claim runs attempt + 1 (see claim-6.lua).
   */
  record: string;
}

/** What one claim took: its tasks, and the batch they are running in. */
export interface ClaimedBatch {
  batch: string;
  tasks: ClaimedTask[];
}

export interface FinishItem {
  id: string;
  /** The batch the attempt was claimed in: the fence (a reaped attempt is in none). */
  batch: string;
  state: "succeeded" | "dead" | "expired";
  /** When the attempt ended (ms since epoch). */
  finishedAt: number;
  /**
   * The final record's fields only the node knows (codec.ts encodeFinalTail); the finish script
   * joins the record, kept for ttlMs, around the spec it has.
   */
  finalTail: string;
  ttlMs: number;
}

export type ExistingOutcome =
  | { kind: "running"; record: string }
  | { kind: "final"; finalJson: string }
  | { kind: "missing" };

export type CancelOutcome = { kind: "cancelled"; finalJson: string } | ExistingOutcome;
export type RescheduleOutcome = { kind: "rescheduled"; score: string; record: string } | ExistingOutcome;

export type InspectOutcome =
  | { kind: "scheduled" | "running"; record: string; lastError: string | null; progressJson: string | null }
  | { kind: "final"; finalJson: string }
  | { kind: "missing" };

export interface ShardStats {
  shard: number;
  /** Scheduled tasks, cold ones included. */
  dueCount: number;
  /** Of those, how many wait in the cold tier. */
  coldCount: number;
  runningCount: number;
  deadCount: number;
  nextDueScore: string | null;
  leaseToken: string | null;
  leaseTtlMs: number;
}

export type LeaseAcquireOutcome =
  | { acquired: true; token: string }
  /** holderTtlMs: how long the holder's lease still runs unless renewed. */
  | { acquired: false; holder: string; holderTtlMs: number };

/** A live entry of the node registry. */
export interface NodeEntry {
  id: string;
  /** Random token of the process that registered it. */
  instance: string;
  /** Wall ms (Redis' clock) when the entry expires unless refreshed. */
  expiresAtMs: number;
  infoJson: string;
}

export type HeartbeatOutcome =
  | { registered: true; redisNowMs: number; live: { id: string; expiresAtMs: number }[] }
  | { registered: false; redisNowMs: number; holder: NodeEntry };

/**
 * States whose tasks a shard indexes, so they can be listed. "failed": a
 * task whose last attempt failed and that waits for its retry (its state is
 * still scheduled). Succeeded, cancelled and expired ones stay listed for
 * their retention (the console's indexes, lua/lib/console.lua).
 */
export type ListableState = "scheduled" | "running" | "dead" | "failed" | "succeeded" | "cancelled" | "expired";

export interface ListEntry {
  id: string;
  /** Score in the state's index (due score, visibility deadline, time of death). */
  score: string;
  /** Task record ("attempt:score\n<spec>") for scheduled and running, final json for dead. */
  record: string;
  lastError: string | null;
}

export interface ListPage {
  entries: ListEntry[];
  next: { score: string; id: string } | null;
}

export type ParkOutcome = "parked" | "requeued" | "stale" | "lease";

export function existing(reply: string[]): ExistingOutcome {
  if (reply[0] === "running") return { kind: "running", record: runningRecord(reply[1]!) };
  if (reply[0] === "final") return { kind: "final", finalJson: reply[1]! };
  return { kind: "missing" };
}

/**
 * A running task's record as callers see it: the stored attempt counts the
 * attempts used up (claim-6.lua), and the running one is the next.
 */
export function runningRecord(record: string): string {
  const colon = record.indexOf(":");
  return `${Number(record.slice(0, colon)) + 1}${record.slice(colon)}`;
}
