/**
 * What the shard actor needs from the rest of the node, and nothing more: the
 * few store intents it and its duties call, and the pool's slot bookkeeping.
 * Declared here, narrow, so the actor is tested against in-memory fakes
 * (test/shard/) without Redis and so a change elsewhere in the store or the
 * pool does not reach the actor unless these calls change.
 */
import type { AttemptStore } from "../store/attempts.ts";
import type { Job } from "../pool/job.ts";

/** The store calls the actor makes (refill, claim, reap) and the cold promotion duty's. */
export type ShardStore = Pick<AttemptStore, "claim" | "reap" | "window" | "promote">;

/** The pool as the actor drives it: reserve slots, claim into them, start or drop what it claimed. */
export interface ShardPool {
  /** Reserves up to `wanted` slots for a claim; answers how many (0 when claims in flight fill the pool's room). */
  reserve(wanted: number): number;
  /** Reserves up to `wanted` of the hold room (short tasks, slots mostly idle); 0 when there is none. */
  reserveHoldRoom(wanted: number): number;
  /** Gives back reserved slots (hold room when `fromHoldRoom`: reserveHoldRoom's) the claim did not fill. */
  unreserve(count: number, fromHoldRoom?: boolean): void;
  /** Calls the listener once when slots free up (after reserve answered 0). */
  whenCapacity(listener: () => void): void;
  /** Notes a claim's batch as this shard's (its tasks start or drop one by one). */
  claimedBatch(shard: number, leaseToken: string, batch: string, count: number): void;
  /** Runs one claimed task in a reserved slot (hold room when `fromHoldRoom`: reserveHoldRoom's). */
  start(job: Job, fromHoldRoom?: boolean): void;
  /** One claimed task of the batch will not start (lease lost): frees its slot. */
  drop(shard: number, batch: string, fromHoldRoom?: boolean): void;
  /** A claimed task is held for its due ms: its reservation moves to the hold room. */
  hold(fromHoldRoom?: boolean): void;
  /** A held task's due ms came: run it (or queue it for the next free slot). */
  startHeld(job: Job): void;
  /** A held task will not start (lease lost). */
  dropHeld(shard: number, batch: string): void;
}
