/**
 * The one rule that turns an attempt into what happens to its task: start it
 * or not (expired, out of attempts), and after it ran, succeeded, retry at a
 * score, or dead. Pure: the pool and the completer ask it, the store only
 * writes what it decided, and it is tested without Redis.
 *
 * - succeeded → succeeded with its result.
 * - failed, final "dead" → dead (retrying cannot help).
 * - failed, final "done" → succeeded without a result, the error kept as lastError.
 * - failed otherwise → dead once `maxAttempts` are used up; else a retry at
 *   now + the task's backoff (full jitter), or at the outcome's `retryAt`
 *   (a Retry-After) when given, at most backoff.maxMs from now.
 * - unavailable (this node has no handler by that name, no deliverer for its
 *   target type) → back in `due` without using up an attempt, after a wait
 *   that grows with the task's age (a tenth of it, 1 s … 5 min), with a
 *   lastError saying why. It waits so for as long as it exists: until a node
 *   that can deliver it claims it, or its expiresAt passes (then expired),
 *   or it is cancelled. A task is never lost because the node that claimed
 *   it was deployed without its handler. A target that knows when to try
 *   again (a Celery broker that is down) gives `retryAt` instead.
 * - settled → the target recorded the end itself.
 */
import { backoffDelayMs } from "../core/backoff.ts";
import { dueScore, type TaskSpec } from "../task/model.ts";
import type { AttemptOutcome } from "./targets/target.ts";

/** What the rule reads of a claimed attempt. */
export interface PolicyJob {
  /** 1-based attempt being decided. */
  attempt: number;
  spec: Pick<TaskSpec, "maxAttempts" | "backoff" | "priority" | "expiresAt" | "createdAt">;
}

export type AttemptDecision =
  /** `note`: kept as the task's lastError (a "done" failure). */
  | { kind: "succeeded"; result: unknown; note?: string }
  /** `countsAttempt` false: the attempt is not used up (an unavailable target). */
  | { kind: "retry"; score: string; delayMs: number; error: string; countsAttempt: boolean }
  | { kind: "dead"; error: string }
  | { kind: "settled" };

export type StartDecision = { kind: "start" } | { kind: "expired" } | { kind: "dead"; error: string };

/** The waits of an unavailable task: a tenth of its age, within these bounds. */
export const UNAVAILABLE_MIN_DELAY_MS = 1_000;
export const UNAVAILABLE_MAX_DELAY_MS = 5 * 60_000;

const START: StartDecision = Object.freeze({ kind: "start" as const });
const EXPIRED: StartDecision = Object.freeze({ kind: "expired" as const });

/** Whether a claimed attempt may start now. Returns shared objects: it runs for every task. */
export function decideStart(job: PolicyJob, nowMs: number): StartDecision {
  if (job.spec.expiresAt !== null && nowMs > job.spec.expiresAt) return EXPIRED;
  if (job.attempt > job.spec.maxAttempts) {
    // Only reaped attempts get here: the worker died every time it ran this task.
    return { kind: "dead", error: `worker lost ${job.spec.maxAttempts} times (visibility deadline passed)` };
  }
  return START;
}

/**
 * What to do after an attempt ended with `outcome`. A success answers the
 * outcome object itself (it has the decision's shape), so the common case
 * makes nothing.
 */
export function decideAttempt(job: PolicyJob, outcome: AttemptOutcome, nowMs: number, random: () => number = Math.random): AttemptDecision {
  switch (outcome.kind) {
    case "succeeded":
    case "settled":
      return outcome;
    case "unavailable": {
      const delayMs =
        outcome.retryAt !== undefined && Number.isFinite(outcome.retryAt)
          ? Math.max(0, Math.ceil(outcome.retryAt - nowMs))
          : unavailableDelayMs(nowMs - job.spec.createdAt);
      return { kind: "retry", score: dueScore(nowMs + delayMs, job.spec.priority), delayMs, error: outcome.error, countsAttempt: false };
    }
    case "failed": {
      if (outcome.final === "done") return { kind: "succeeded", result: undefined, note: outcome.error };
      if (outcome.final === "dead" || job.attempt >= job.spec.maxAttempts) return { kind: "dead", error: outcome.error };
      let delayMs = Math.round(backoffDelayMs(job.attempt, job.spec.backoff, random));
      if (outcome.retryAt !== undefined && Number.isFinite(outcome.retryAt)) {
        delayMs = Math.min(Math.max(0, Math.ceil(outcome.retryAt - nowMs)), job.spec.backoff.maxMs);
      }
      return { kind: "retry", score: dueScore(nowMs + delayMs, job.spec.priority), delayMs, error: outcome.error, countsAttempt: true };
    }
  }
}

export function unavailableDelayMs(ageMs: number): number {
  return Math.min(UNAVAILABLE_MAX_DELAY_MS, Math.max(UNAVAILABLE_MIN_DELAY_MS, Math.floor(ageMs / 10)));
}
