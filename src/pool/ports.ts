/**
 * The narrow parts of the store the pool uses, so the pool and the completer
 * can be tested against a fake of just these methods. (Picked from the store's
 * AttemptStore, so the names and signatures are the store's own.)
 */
import type { AttemptStore } from "../store/attempts.ts";
import type { Job } from "./job.ts";
import type { AttemptDecision } from "./outcome-policy.ts";
import type { AttemptOutcome } from "./targets/target.ts";

/** What the completer writes: finishes (acks, dead, expired) and retries. */
export type CompleterStore = Pick<AttemptStore, "finish" | "retry">;

/** What the worker pool asks of the completer (Completer) when attempts start and end. */
export interface PoolCompleter {
  claimedBatch(shard: number, token: string, batch: string, count: number): void;
  abandon(shard: number, batch: string): void;
  expired(job: Job): void;
  dead(job: Job, error: string): void;
  /** Records what follows the attempt's outcome (decided by outcome-policy.ts) and answers the decision. */
  ended(job: Job, outcome: AttemptOutcome): AttemptDecision;
}
