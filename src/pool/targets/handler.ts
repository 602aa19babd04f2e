/**
 * The in-process handler target (`{ type: "handler" }`, the default): runs
 * one attempt of the handler registered under the task's name, validates
 * args against the task's schema, builds the handler's ctx, and enforces
 * timeoutMs through an AbortSignal. Answers what happened; the outcome
 * policy decides what to do with it. The handler is called synchronously,
 * from the pool's start().
 */
import { findTask, type TaskContext, type TaskLogger } from "../../task/define-task.ts";
import type { Job } from "../job.ts";
import type { AttemptOutcome, DeliveryContext, DeliveryTarget } from "./target.ts";

type HandlerRunContext = DeliveryContext;

export class TimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms`);
    this.name = "TimeoutError";
  }
}

/**
 * Runs the attempt. A handler that returns a plain value (not a promise) has
 * finished when it returns: its outcome is answered synchronously, with no
 * timer, promise or AbortController made for it, because at tens of
 * thousands of tasks a second those per-task objects are what the pool
 * spends its time on (and what the GC then collects). Only a handler that
 * returns a promise gets the timeout timer. The signal's controller is made
 * the first time the handler reads ctx.signal (or when the timeout fires).
 */
export function runHandler(job: Job, run: HandlerRunContext): AttemptOutcome | Promise<AttemptOutcome> {
  const task = findTask(job.spec.name);
  if (!task) {
    // Another node (or a later deploy) may know it: the task waits, using up no attempt.
    return { kind: "unavailable", error: `no handler for task "${job.spec.name}" on this node` };
  }
  const parsed = task.schema.safeParse(job.spec.args ?? {});
  if (!parsed.success) {
    return { kind: "failed", error: `invalid args: ${formatIssues(parsed.error.issues)}`, final: "dead" };
  }

  const ctx = new AttemptContext(job, run);
  let returned: unknown;
  try {
    returned = task.handler(parsed.data, ctx);
  } catch (error) {
    ctx.release();
    return { kind: "failed", error: describeError(error) };
  }
  if (!isThenable(returned)) {
    ctx.release();
    return { kind: "succeeded", result: returned };
  }
  return ctx.settle(returned, job.spec.timeoutMs);
}

export const handlerTarget: DeliveryTarget = { type: "handler", deliver: runHandler };

/** The handler's ctx; owns the attempt's AbortController (made on demand) and timeout timer. */
class AttemptContext implements TaskContext {
  readonly id: string;
  readonly name: string;
  readonly attempt: number;
  readonly dueAt: number;
  private readonly job: Job;
  private readonly run: HandlerRunContext;
  private controller: AbortController | null = null;
  private onStop: (() => void) | null = null;
  private released = false;
  private logger: TaskLogger | null = null;

  constructor(job: Job, run: HandlerRunContext) {
    this.job = job;
    this.run = run;
    this.id = job.id;
    this.name = job.spec.name;
    this.attempt = job.attempt;
    this.dueAt = job.dueMs;
  }

  get signal(): AbortSignal {
    return this.ensureController().signal;
  }

  get log(): TaskLogger {
    return (this.logger ??= this.run.logFor(this.job));
  }

  progress(value: unknown): Promise<void> {
    return this.run.progress(this.job, value);
  }

  /** Waits for an async handler, failing the attempt with a TimeoutError at timeoutMs. */
  settle(returned: PromiseLike<unknown>, timeoutMs: number): Promise<AttemptOutcome> {
    return new Promise<AttemptOutcome>((resolve) => {
      let settled = false;
      const finish = (outcome: AttemptOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.release();
        resolve(outcome);
      };
      const timer = setTimeout(() => {
        const error = new TimeoutError(timeoutMs);
        this.ensureController().abort(error);
        finish({ kind: "failed", error: describeError(error) });
      }, timeoutMs);
      returned.then(
        (result) => finish({ kind: "succeeded", result }),
        (error: unknown) => finish({ kind: "failed", error: describeError(error) }),
      );
    });
  }

  /** The attempt is over: stop listening for the node's stop. */
  release(): void {
    this.released = true;
    if (this.onStop) this.run.stopSignal.removeEventListener("abort", this.onStop);
    this.onStop = null;
  }

  private ensureController(): AbortController {
    if (!this.controller) {
      const controller = new AbortController();
      this.controller = controller;
      if (this.run.stopSignal.aborted) {
        controller.abort(this.run.stopSignal.reason);
      } else if (!this.released) {
        this.onStop = () => controller.abort(this.run.stopSignal.reason);
        this.run.stopSignal.addEventListener("abort", this.onStop, { once: true });
      }
    }
    return this.controller;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") && typeof (value as { then?: unknown }).then === "function";
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
