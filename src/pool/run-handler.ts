/**
 * Runs one attempt of an in-process handler: validates args against the
 * task's schema, builds the handler's ctx, and enforces timeoutMs through an
 * AbortSignal. Answers what happened; the pool decides what to do with it.
 */
import { findTask, type TaskContext, type TaskLogger } from "../task/define-task.ts";
import type { Job } from "./job.ts";

export type AttemptOutcome =
  | { kind: "succeeded"; result: unknown }
  /** retryable=false: retrying cannot help (invalid args), go straight to dead. */
  | { kind: "failed"; error: string; retryable: boolean };

export interface HandlerRunContext {
  log: TaskLogger;
  progress(job: Job, value: unknown): Promise<void>;
  /** Aborted when the node gives up waiting for in-flight work at stop. */
  stopSignal: AbortSignal;
}

export class TimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms`);
    this.name = "TimeoutError";
  }
}

export async function runHandler(job: Job, run: HandlerRunContext): Promise<AttemptOutcome> {
  const task = findTask(job.spec.name);
  if (!task) {
    // Another node (or a later deploy) may know it: fail this attempt, keep retrying.
    return { kind: "failed", error: `no handler for task "${job.spec.name}" on this node`, retryable: true };
  }
  const parsed = task.schema.safeParse(job.spec.args ?? {});
  if (!parsed.success) {
    return { kind: "failed", error: `invalid args: ${formatIssues(parsed.error.issues)}`, retryable: false };
  }

  const controller = new AbortController();
  const onStop = () => controller.abort(run.stopSignal.reason);
  run.stopSignal.addEventListener("abort", onStop, { once: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new TimeoutError(job.spec.timeoutMs);
      controller.abort(error);
      reject(error);
    }, job.spec.timeoutMs);
  });

  const ctx: TaskContext = {
    id: job.id,
    name: job.spec.name,
    attempt: job.attempt,
    dueAt: job.dueMs,
    signal: controller.signal,
    log: run.log,
    progress: (value) => run.progress(job, value),
  };
  try {
    const result = await Promise.race([Promise.resolve().then(() => task.handler(parsed.data, ctx)), timedOut]);
    return { kind: "succeeded", result };
  } catch (error) {
    return { kind: "failed", error: describeError(error), retryable: true };
  } finally {
    clearTimeout(timer);
    run.stopSignal.removeEventListener("abort", onStop);
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) return error.message ? `${error.name}: ${error.message}` : error.name;
  return String(error);
}

function formatIssues(issues: readonly { path: PropertyKey[]; message: string }[]): string {
  return issues
    .map((issue) => (issue.path.length ? `${issue.path.map(String).join(".")}: ${issue.message}` : issue.message))
    .join("; ");
}
