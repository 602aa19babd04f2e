/**
 * Request and response schemas of the /v1 API. They validate requests and
 * are the source of the OpenAPI document (/openapi.json).
 */
import { z } from "@hono/zod-openapi";
import { TASK_STATES } from "../task/model.ts";
import { ID_RULE, UNADDRESSABLE_IDS } from "../task/schedule-input.ts";
import { LISTABLE_STATES, MAX_LIST_LIMIT } from "../client/listing.ts";
import { ShardInfoSchema } from "../node/shard-info.ts";
import { DEFAULT_LIST_LIMIT, ID_PATTERN, MAX_ATTEMPTS_LIMIT, MAX_ID_LENGTH, MAX_NAME_LENGTH, MAX_TIMEOUT_MS } from "../config/defaults.ts";
import { MAX_URL_LENGTH } from "../core/outbound-policy.ts";
import { MAX_WEBHOOK_TIMEOUT_MS } from "../task/webhook-target.ts";

const instant = z.union([z.string(), z.number()]).openapi({ description: "ISO-8601 time with zone, or epoch ms", example: "2027-01-01T09:00:00Z" });
const duration = z
  .union([z.number().min(0, { error: "expected ms >= 0 or a duration string" }), z.string()])
  .openapi({ description: 'ms (>= 0), or a duration such as "90s", "10m", "7d"', example: "10m" });

/**
 * Args nesting limit. Deeper JSON parses, but serialising it again overflows the stack, and
 * Redis' Lua cjson (used when listing dead tasks by name) stops at 1000 levels.
 */
const MAX_ARGS_DEPTH = 256;

/** Iterative (a recursive walk would overflow on exactly the input it guards against). */
function nestedAtMost(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== "object" || item === null) continue;
    if (depth >= limit) return false;
    for (const child of Array.isArray(item) ? item : Object.values(item)) stack.push([child, depth + 1]);
  }
  return true;
}

/** An integer in [min, max], with the message resolveTask uses for the same rule. */
const intRange = (min: number, max: number, unit = "") => {
  const error = `expected an integer from ${min} to ${max}${unit}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};

/**
 * Where a due task is delivered, by `type`. resolveTarget (src/task/target.ts) checks the same
 * rules for the client and CLI. Issue 11 adds its webhook and celery objects to this union.
 */
const HandlerTarget = z
  .strictObject({ type: z.literal("handler") })
  .openapi("HandlerTarget", { description: "run the handler registered under the task's name on a node (the default)" });
/**
 * The shape only: the URL's scheme and addresses, the outbound policy and the header rules are
 * resolveTarget's (one place, so the client and the CLI get the same 400 naming target.url).
 */
const WebhookTarget = z
  .strictObject({
    type: z.literal("webhook"),
    url: z.string().max(MAX_URL_LENGTH).openapi({ description: "http:// or https:// URL the task is POSTed to when due; refused addresses (metadata, link-local, …, TICKWHEEL_WEBHOOK_DENY) are a 400 naming target.url", example: "https://billing.internal/hooks/remind" }),
    headers: z.record(z.string(), z.string()).optional().openapi({ description: "sent with every delivery (at most 32; not Host, Content-*, tickwheel-*)" }),
    timeoutMs: intRange(1, MAX_WEBHOOK_TIMEOUT_MS, " (ms)").optional().openapi({ description: "per-request timeout; the task's timeoutMs when absent" }),
  })
  .openapi("WebhookTarget", {
    description:
      "POST { id, name, args, attempt, dueAt, firedAt } to url when due, signed (tickwheel-signature: hex HMAC-SHA256 of tickwheel-timestamp + '.' + body). 2xx: succeeded (a JSON body is the result); 410: ends, not retried; 408, 429, 5xx, timeouts: retried (Retry-After honoured); other 4xx and 3xx: dead",
  });
const celeryName = (what: string) =>
  z
    .string({ error: `expected ${what}` })
    .min(1, { error: "expected a non-empty string of at most 200 characters" })
    .max(200, { error: "expected a non-empty string of at most 200 characters" })
    .regex(/^[^\x00-\x20\x7f]+$/, { error: "expected no spaces or control characters" });
const CeleryTargetBody = z
  .strictObject({
    type: z.literal("celery"),
    task: celeryName("the registered Celery task name").openapi({ example: "app.tasks.send_email" }),
    queue: celeryName("a Celery queue name").optional().openapi({ description: "the Celery queue (a Redis list on the broker); `celery` when absent" }),
    priority: intRange(0, 9).optional().openapi({ description: "Celery's priority of the pushed message, 0 (default) … 9; on Redis a lower number is served first" }),
    kwargs: z
      .record(z.string(), z.unknown())
      .refine((value) => nestedAtMost(value, MAX_ARGS_DEPTH), { error: `expected JSON nested at most ${MAX_ARGS_DEPTH} levels deep` })
      .optional()
      .openapi({ description: "the Celery task's keyword args; the task's `args` (a JSON array, or absent) are its positional args" }),
  })
  .openapi("CeleryTarget", {
    description:
      "when due, push one Celery protocol-2 message (task id = this task's id, no eta) onto `queue` of TICKWHEEL_CELERY_BROKER_URL; the task then ends `succeeded`",
  });
export const TargetBody = z.discriminatedUnion("type", [HandlerTarget, WebhookTarget, CeleryTargetBody]).openapi("Target");

// The bounds below are resolveTask's (src/task/schedule-input.ts), stated again so that the
// OpenAPI document shows them; resolveTask still checks every value for the client and CLI.
export const ScheduleBody = z
  .strictObject({
    id: z
      .string()
      .regex(ID_PATTERN, { error: ID_RULE })
      .refine((id) => !UNADDRESSABLE_IDS.has(id), { error: ID_RULE })
      .optional()
      .openapi({ description: "idempotency key; generated when absent" }),
    name: z
      .string({ error: "expected a task name (string)" })
      .min(1, { error: `expected a non-empty string of at most ${MAX_NAME_LENGTH} characters` })
      .max(MAX_NAME_LENGTH, { error: `expected a non-empty string of at most ${MAX_NAME_LENGTH} characters` }),
    args: z
      .unknown()
      .refine((value) => nestedAtMost(value, MAX_ARGS_DEPTH), { error: `expected JSON nested at most ${MAX_ARGS_DEPTH} levels deep` })
      .optional()
      .openapi({ description: `any JSON value (at most TICKWHEEL_MAX_ARGS_BYTES as JSON, nested at most ${MAX_ARGS_DEPTH} levels)` }),
    runAt: instant.optional(),
    delay: duration.optional(),
    priority: intRange(0, 9).optional().openapi({ description: "0 (default) … 9, higher starts first among tasks due together" }),
    maxAttempts: intRange(1, MAX_ATTEMPTS_LIMIT).optional(),
    backoff: z.strictObject({ baseMs: intRange(1, Number.MAX_SAFE_INTEGER, " (ms)"), maxMs: intRange(1, Number.MAX_SAFE_INTEGER, " (ms)") }).partial().optional(),
    timeoutMs: intRange(1, MAX_TIMEOUT_MS, " (ms)").optional(),
    expiresAt: instant.optional().openapi({ description: "a task that cannot start by then is not run (state expired); must be after the due time" }),
    target: TargetBody.optional().openapi({ description: 'where the task is delivered when due; `{ "type": "handler" }` when absent' }),
  })
  .openapi("ScheduleTask");

export const ScheduleResult = z
  .object({ id: z.string(), created: z.boolean(), dueAt: z.number(), shard: z.number() })
  .openapi("ScheduleResult");

export const TaskView = z
  .object({
    id: z.string(),
    name: z.string(),
    state: z.enum(TASK_STATES),
    dueAt: z.number(),
    attempt: z.number(),
    maxAttempts: z.number(),
    priority: z.number(),
    args: z.unknown(),
    createdAt: z.number(),
    target: TargetBody,
    expiresAt: z.number().optional(),
    lastError: z.string().optional(),
    result: z.unknown().optional(),
    progress: z.unknown().optional(),
    finishedAt: z.number().optional(),
    shard: z.number(),
    schedule: z
      .object({ name: z.string(), occurrenceAt: z.number() })
      .optional()
      .openapi({ description: "an occurrence of a recurring schedule: the schedule's name and the occurrence's time (ms)" }),
    celery: z
      .object({
        state: z.string().openapi({ description: "Celery's state: PENDING (no result stored: not run yet, or it expired), STARTED, SUCCESS, FAILURE, RETRY, REVOKED; UNKNOWN when it cannot be read" }),
        result: z.unknown().optional(),
        traceback: z.string().optional(),
        dateDone: z.string().optional(),
        error: z.string().optional(),
      })
      .optional()
      .openapi({ description: "celery-target tasks, when the node has TICKWHEEL_CELERY_RESULT_URL: Celery's stored result of this task id" }),
  })
  .openapi("Task");

export const RescheduleBody = z
  .strictObject({ runAt: instant.optional(), delay: duration.optional() })
  .openapi("RescheduleTask");

export const ErrorResponse = z
  .object({ error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }) })
  .openapi("Error");

export const TaskIdParam = z.object({
  id: z.string().min(1).openapi({ param: { name: "id", in: "path" } }),
});

// ------------------------------------------------------------------ batch

const MAX_BATCH_TASKS = 10_000;

export const BatchBody = z
  .strictObject({
    tasks: z
      .array(ScheduleBody)
      .min(1, { error: "expected at least one task" })
      .max(MAX_BATCH_TASKS, { error: `expected at most ${MAX_BATCH_TASKS} tasks` })
      .openapi({ description: `1 … ${MAX_BATCH_TASKS} tasks; each is validated on its own and answered in results[i]` }),
  })
  .openapi("ScheduleBatch");

/** The envelope is checked first (400 for the whole request); items one by one. */
export const BatchEnvelope = z.strictObject({
  tasks: z
    .array(z.unknown())
    .min(1, { error: "expected at least one task" })
    .max(MAX_BATCH_TASKS, { error: `expected at most ${MAX_BATCH_TASKS} tasks` }),
});

const ErrorDetail = z.object({ code: z.string(), message: z.string(), field: z.string().optional() });

const BatchItemResult = z
  .union([
    z.object({ ok: z.literal(true), id: z.string(), created: z.boolean(), dueAt: z.number(), shard: z.number() }),
    z.object({
      ok: z.literal(false),
      status: z.number().openapi({ description: "the status this task alone would have got (400, 413, 422)" }),
      error: ErrorDetail,
    }),
  ])
  .openapi("BatchItemResult");

export const BatchResult = z
  .object({
    results: z.array(BatchItemResult).openapi({ description: "one per task, in request order" }),
    created: z.number(),
    existing: z.number(),
    failed: z.number(),
  })
  .openapi("ScheduleBatchResult");

// ------------------------------------------------------------------ listing

export const ListQuery = z.strictObject({
  state: z.enum(LISTABLE_STATES).default("scheduled").openapi({ param: { name: "state", in: "query" } }),
  name: z.string().min(1).max(MAX_NAME_LENGTH).optional().openapi({ param: { name: "name", in: "query" }, description: "only tasks of this name" }),
  namePrefix: z
    .string()
    .min(1)
    .max(MAX_NAME_LENGTH)
    .optional()
    .openapi({ param: { name: "namePrefix", in: "query" }, description: "only tasks whose name starts with this (not with name)" }),
  limit: z.coerce
    .number({ error: `expected an integer from 1 to ${MAX_LIST_LIMIT}` })
    .int({ error: `expected an integer from 1 to ${MAX_LIST_LIMIT}` })
    .min(1, { error: `expected an integer from 1 to ${MAX_LIST_LIMIT}` })
    .max(MAX_LIST_LIMIT, { error: `expected an integer from 1 to ${MAX_LIST_LIMIT}` })
    .default(DEFAULT_LIST_LIMIT)
    .openapi({ param: { name: "limit", in: "query" } }),
  cursor: z.string().min(1).max(4096).optional().openapi({ param: { name: "cursor", in: "query" }, description: "nextCursor of the previous page" }),
  order: z
    .enum(["shard", "time"])
    .optional()
    .openapi({
      param: { name: "order", in: "query" },
      description:
        "shard (default): shard by shard, each in index order. time: one order across shards (due time for scheduled and failed, " +
        "time finished for the others; not for running); scheduled tasks in the cold tier follow in storage order",
    }),
});

export const TaskSummary = TaskView.omit({ args: true, result: true, progress: true })
  .extend({
    paused: z.boolean().optional().openapi({ description: "came due while its name is paused; runs on resume" }),
    visibilityDeadline: z.number().optional(),
    dueInMs: z.number().optional().openapi({ description: "scheduled and failed: ms until due when listed (negative: overdue)" }),
  })
  .openapi("TaskSummary");

export const ListResult = z
  .object({
    tasks: z.array(TaskSummary),
    nextCursor: z.string().nullable().openapi({ description: "null when there is nothing more; a page may be short and still have one" }),
  })
  .openapi("TaskList");

export const ConflictResponse = z
  .object({ error: ErrorDetail, task: TaskView })
  .openapi("Conflict");

// ------------------------------------------------------------------ pause

export const NameParam = z.object({
  name: z.string().min(1).max(MAX_NAME_LENGTH).openapi({ param: { name: "name", in: "path" }, description: "task name (URL-encoded)" }),
});

export const PauseState = z.object({ name: z.string(), paused: z.literal(true), pausedAt: z.number() }).openapi("PauseState");
export const ResumeResult = z
  .object({ name: z.string(), paused: z.literal(false), wasPaused: z.boolean(), requeued: z.number().openapi({ description: "parked tasks put back to run" }) })
  .openapi("ResumeResult");
export const PausedList = z.object({ paused: z.array(PauseState) }).openapi("PausedList");

// ------------------------------------------------------------------ admin

// ShardInfoSchema lives in node/shard-info.ts (the node builds it; one declaration for node, API and CLI).

/** POST /admin/shards/resize body. */
export const ResizeRequest = z
  .strictObject({
    count: z.number().int().min(1).max(16384).openapi({ description: "the new shard count", example: 32 }),
  })
  .openapi("ResizeRequest");

/** A resize's progress (Client.resizeStatus; docs/resharding.md). */
export const ResizeStatusSchema = z
  .object({
    state: z.enum(["stable", "preparing", "resizing"]),
    count: z.number().int().openapi({ description: "shard count of the stable map (the source count while resizing)" }),
    resizingTo: z.number().int().nullable(),
    previousCount: z.number().int().nullable(),
    epoch: z.number().int(),
    startedAt: z.number().int().nullable(),
    finishedAt: z.number().int().nullable(),
    slotsTotal: z.number().int(),
    slotsMoved: z.number().int(),
    tasksMoved: z.number().int(),
    shards: z.array(
      z.object({
        shard: z.number().int(),
        phase: z.string().openapi({ description: "waiting, cold, schedules, tasks, dead, sweep or done" }),
        slotsToMove: z.number().int(),
        slotsMoved: z.number().int(),
        tasksMoved: z.number().int(),
      }),
    ),
  })
  .openapi("ResizeStatus");

export const ShardsResponse = z
  .object({
    nodeId: z.string(),
    shards: z.array(ShardInfoSchema),
    resize: ResizeStatusSchema.optional(),
  })
  .openapi("Shards");

export const NodesResponse = z
  .object({
    nodeId: z.string(),
    nodes: z.array(
      z.looseObject({
        id: z.string(),
        self: z.boolean(),
        address: z.string().nullable(),
        startedAt: z.number(),
        version: z.string(),
        shards: z.array(z.number()),
        pool: z.looseObject({ concurrency: z.number(), inFlight: z.number() }),
      }),
    ),
  })
  .openapi("Nodes");

export const StatsResponse = z
  .object({
    nodeId: z.string(),
    now: z.number(),
    startedAt: z.number(),
    pool: z.object({ inFlight: z.number(), concurrency: z.number() }),
    series: z.array(
      z.object({
        t: z.number(),
        fired: z.number(),
        latenessP50Ms: z.number().nullable(),
        latenessP99Ms: z.number().nullable(),
        latenessMaxMs: z.number().nullable(),
      }),
    ),
  })
  .openapi("Stats");

