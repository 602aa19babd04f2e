/**
 * The task model: what a task is, its states, and how its due time and
 * priority become one ZSET score. Pure: shared by the store, the client, the
 * node and the HTTP API, so every edge agrees on one shape.
 */

export const TASK_STATES = ["scheduled", "running", "succeeded", "dead", "cancelled", "expired"] as const;
export type TaskState = (typeof TASK_STATES)[number];

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

/**
 * Where a due task goes: `handler` runs the in-process handler registered
 * under the task's name (the default, and the only type stored implicitly).
 * Webhook and Celery targets (issue 11) join this union; each type has one
 * deliverer in src/pool/targets/ and one validator in src/task/target.ts.
 */
export type Target = { type: "handler" } | WebhookTarget | CeleryTarget;

/**
 * POST the task to `url` when due (src/pool/targets/webhook/). Validated at
 * schedule time against the outbound policy (webhook-target.ts); `url` is
 * stored as the URL parser normalized it.
 */
export interface WebhookTarget {
  type: "webhook";
  url: string;
  /** Sent with every delivery (e.g. authorization); stored with the task as given. */
  headers?: Record<string, string>;
  /** Per-request timeout; the task's timeoutMs when absent. */
  timeoutMs?: number;
}

/**
 * Push one Celery message onto a Celery broker's queue when due (src/task/celery-target.ts
 * checks it; src/pool/targets/celery/ delivers it).
 */
export interface CeleryTarget {
  type: "celery";
  /** The registered Celery task name, e.g. `app.tasks.send_email`. */
  task: string;
  /** The Celery queue (a Redis list on the broker); `celery` when absent. */
  queue?: string;
  /** Celery's priority 0..9 (on Redis, lower is served first); 0 when absent. */
  priority?: number;
  /** The Celery task's keyword args; the task's own `args` (a JSON array) are its positional args. */
  kwargs?: Record<string, unknown>;
}

export type TargetType = Target["type"];

/** What the producer asked for; immutable once stored. */
export interface TaskSpec {
  name: string;
  args: unknown;
  priority: number;
  maxAttempts: number;
  backoff: BackoffOptions;
  timeoutMs: number;
  /** A task that cannot start by then is not run and ends as `expired`. */
  expiresAt: number | null;
  target: Target;
  createdAt: number;
}

/** What GET /v1/tasks/:id and Client.get answer. */
export interface TaskView {
  id: string;
  name: string;
  state: TaskState;
  dueAt: number;
  attempt: number;
  maxAttempts: number;
  priority: number;
  args: unknown;
  createdAt: number;
  expiresAt?: number;
  /** Where it is delivered when due (`{ type: "handler" }` unless scheduled with another). */
  target: Target;
  lastError?: string;
  result?: unknown;
  progress?: unknown;
  finishedAt?: number;
  shard: number;
  /** An occurrence of a recurring schedule: its schedule's name and the occurrence's time (ms). */
  schedule?: { name: string; occurrenceAt: number };
}

/** Priorities run 0 (default) … 9 (most urgent). */
export const PRIORITY_MIN = 0;
export const PRIORITY_MAX = 9;

/**
 * The due ZSET orders by score, and ties between tasks due in the same
 * millisecond must go by priority. So the score is the due ms plus a fraction
 * (9 - priority) / 16: sixteenths are exact in a double for epoch-ms values
 * up to 2^48, so the integer part stays the due ms and the fraction never
 * rounds into the next millisecond.
 */
export function dueScore(dueMs: number, priority: number): string {
  const fraction = (PRIORITY_MAX - priority) / 16;
  return fraction === 0 ? String(dueMs) : String(dueMs) + String(fraction).slice(1);
}

export function dueMsOfScore(score: string | number): number {
  return Math.floor(Number(score));
}

/** Exclusive score bound that takes every task due at or before `dueMs`. */
export function scoreAfter(dueMs: number): number {
  return Math.floor(dueMs) + 1;
}
