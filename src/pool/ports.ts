/**
 * The narrow parts of the store the pool uses, so the pool and the completer
 * can be tested against a fake of just these methods. (They keep the store's
 * method names; the store's AttemptStore interface will provide them.)
 */
import type { Store } from "../store/store.ts";
import type { Job } from "./job.ts";
import type { AttemptDecision } from "./outcome-policy.ts";
import type { AttemptOutcome } from "./targets/target.ts";

/** What the completer writes: finishes (acks, dead, expired) and retries. */
export type CompleterStore = Pick<Store, "finish" | "retry">;

/** What the worker pool asks of the completer (Completer) when attempts start and end. */
export interface PoolCompleter {
  claimedBatch(shard: number, token: string, batch: string, count: number): void;
  abandon(shard: number, batch: string): void;
  expired(job: Job): void;
  dead(job: Job, error: string): void;
  /** Records what follows the attempt's outcome (decided by outcome-policy.ts) and answers the decision. */
  ended(job: Job, outcome: AttemptOutcome): AttemptDecision;
}
