/**
 * The seam between the pool and where a due task goes. The pool picks one
 * DeliveryTarget per task by its stored target's `type` (TargetRegistry),
 * asks it to deliver the attempt, and hands what it answers (an
 * AttemptOutcome) to the one rule that turns outcomes into retry, dead or
 * done (outcome-policy.ts). A target never decides retries itself: it says
 * what happened, with the hints the rule needs.
 *
 * A target that finishes synchronously answers a plain outcome: the pool then
 * makes no promise, timer or map entry for the attempt (the in-process
 * handler's fast path). One that waits (an HTTP call) answers a promise and
 * enforces its own timeout (the job's `spec.timeoutMs`, or its target's).
 */
import type { TaskLogger } from "../../task/define-task.ts";
import type { TargetType } from "../../task/model.ts";
import type { Job } from "../job.ts";

export type AttemptOutcome =
  /** Delivered; `result` (JSON, up to the node's maxResultBytes) is kept as the task's result. */
  | { kind: "succeeded"; result: unknown }
  | {
      kind: "failed";
      error: string;
      /**
       * Ends the task now instead of retrying. "dead": retrying cannot help (args that fail the
       * task's schema, a webhook's 4xx), the task is dead with `error` as its lastError. "done":
       * the receiver says there is nothing left to do (a webhook's 410 Gone): the task ends
       * `succeeded`, without a result, `error` kept as its lastError. Absent: retried with the
       * task's backoff while attempts remain, then dead.
       */
      final?: "dead" | "done";
      /**
       * Epoch ms before which a retry must not run (a Retry-After). The retry is at this time
       * instead of the backoff's, at most backoff.maxMs from now; attempts still count.
       */
      retryAt?: number;
    }
  /**
   * This node cannot deliver the task (no handler registered under its name, no deliverer for
   * its target type), which says nothing about the task: it waits for a node that can, without
   * using up an attempt (see outcome-policy.ts).
   */
  | {
      kind: "unavailable";
      error: string;
      /**
       * Epoch ms to try again at, when the target knows better than the task's age (a Celery
       * broker that is down is tried again within seconds: the task is late, never lost).
       */
      retryAt?: number;
    }
  /**
   * The target ended the attempt in Redis itself, through the store (e.g. a Celery target on the
   * same Redis moves the task from its shard to the Celery list in one script, so a crash cannot
   * push it twice). The pool only frees the slot and counts the attempt's end as recorded.
   */
  | { kind: "settled" };

/** What the pool gives every delivery; one object per pool, so nothing is made per task. */
export interface DeliveryContext {
  /** The attempt's logger (task id, name and attempt bound); called only if the target logs. */
  logFor(job: Job): TaskLogger;
  progress(job: Job, value: unknown): Promise<void>;
  /** Aborted when the node gives up waiting for in-flight work at stop. */
  stopSignal: AbortSignal;
}

export interface DeliveryTarget {
  readonly type: TargetType;
  /** Runs one attempt of `job` (whose `spec.target.type` is this type). Must not throw for the task's own failures. */
  deliver(job: Job, ctx: DeliveryContext): AttemptOutcome | Promise<AttemptOutcome>;
}
