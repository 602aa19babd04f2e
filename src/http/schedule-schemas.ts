/**
 * Request and response schemas of /v1/schedules, for validation of the request's shape and for
 * the OpenAPI document. What the values mean (a valid cron field, a known zone, the `every` floor,
 * the template's bounds) is resolveSchedule's (src/schedule/schedule-input.ts), so the HTTP API,
 * the client and the CLI reject the same things with the same messages.
 */
import { z } from "@hono/zod-openapi";
import { TASK_STATES } from "../task/model.ts";
import { EVERY_FLOOR_MS, MISFIRE_ALL_BOUND, MISFIRE_POLICIES, OVERLAP_POLICIES } from "../schedule/schedule-input.ts";
import { SCHEDULE_NAME_RULE } from "../task/occurrence-id.ts";

const instant = z.union([z.string(), z.number()]).openapi({ description: "ISO-8601 time with zone, or epoch ms", example: "2027-01-01T09:00:00Z" });

const Template = z
  .strictObject({
    name: z.string().openapi({ description: "task name of every occurrence" }),
    args: z.unknown().optional(),
    target: z.looseObject({ type: z.string() }).optional().openapi({ description: "delivery target of every occurrence (default: the in-process handler)" }),
    maxAttempts: z.number().optional(),
    backoff: z.strictObject({ baseMs: z.number(), maxMs: z.number() }).partial().optional(),
    timeoutMs: z.number().optional(),
    priority: z.number().optional(),
  })
  .openapi("ScheduleTaskTemplate");

export const SchedulePutBody = z
  .strictObject({
    cron: z.string().optional().openapi({ description: "5 fields (minute hour day month weekday) or 6 (seconds first); one of cron or every", example: "30 2 * * *" }),
    every: z
      .union([z.string(), z.number()])
      .optional()
      .openapi({ description: `a duration ("15m", "200ms") or ms, at least ${EVERY_FLOOR_MS} ms; one of cron or every`, example: "15m" }),
    tz: z.string().optional().openapi({ description: "IANA zone the cron is read in and `next` is shown in (default UTC)", example: "Europe/Berlin" }),
    task: Template,
    startAt: instant.optional().openapi({ description: "no occurrence before this (inclusive); anchors `every`" }),
    endAt: instant.optional().openapi({ description: "no occurrence at or after this" }),
    misfire: z
      .enum(MISFIRE_POLICIES)
      .optional()
      .openapi({ description: `occurrences nobody could start within 1 s of their time: skip (none run), once (default: one runs), all (up to ${MISFIRE_ALL_BOUND} per gap)` }),
    overlap: z.enum(OVERLAP_POLICIES).optional().openapi({ description: "allow (default), or skip: no occurrence starts while the previous one runs" }),
    paused: z.boolean().optional(),
  })
  .openapi("SchedulePut");

export const ScheduleNameParam = z.object({
  name: z.string().min(1).max(128).openapi({ param: { name: "name", in: "path" }, description: SCHEDULE_NAME_RULE }),
});

export const ScheduleView = z
  .object({
    name: z.string(),
    cron: z.string().optional(),
    every: z.number().optional().openapi({ description: "ms between occurrences" }),
    tz: z.string(),
    task: Template,
    startAt: z.number().optional(),
    endAt: z.number().optional(),
    misfire: z.enum(MISFIRE_POLICIES),
    overlap: z.enum(OVERLAP_POLICIES),
    paused: z.boolean(),
    next: z.array(z.string()).openapi({ description: "the next fire times (up to 5), ISO-8601 in the schedule's zone; empty while paused" }),
    nextDueAt: z.number().nullable().openapi({ description: "ms when the next occurrence is due; null while paused or after endAt" }),
    lastOccurrence: z
      .object({ id: z.string(), at: z.string(), state: z.enum([...TASK_STATES, "gone"]) })
      .nullable()
      .openapi({ description: "the latest occurrence whose time has come: its task id, time in the zone, and state (gone: its record expired or it was taken back)" }),
    shard: z.number(),
    createdAt: z.number(),
    updatedAt: z.number(),
  })
  .openapi("Schedule");

export const SchedulePutResult = z.object({ created: z.boolean(), schedule: ScheduleView }).openapi("SchedulePutResult");

export const ScheduleListQuery = z.strictObject({
  prefix: z.string().min(1).max(128).optional().openapi({ param: { name: "prefix", in: "query" }, description: "only names starting with this" }),
  limit: z.coerce
    .number()
    .int()
    .min(1, { error: "expected an integer from 1 to 500" })
    .max(500, { error: "expected an integer from 1 to 500" })
    .default(50)
    .openapi({ param: { name: "limit", in: "query" } }),
  cursor: z.string().min(1).max(200).optional().openapi({ param: { name: "cursor", in: "query" }, description: "nextCursor of the previous page" }),
});

export const ScheduleList = z
  .object({ schedules: z.array(ScheduleView), nextCursor: z.string().nullable().openapi({ description: "null when there is nothing more" }) })
  .openapi("ScheduleList");

export const ScheduleDeleted = z.object({ deleted: z.boolean() }).openapi("ScheduleDeleted");

/** Schedules per PUT /v1/schedules (like POST /v1/tasks/batch's bound on tasks). */
export const MAX_BATCH_SCHEDULES = 10_000;

export const ScheduleBatchItem = SchedulePutBody.extend({
  name: z.string().openapi({ description: SCHEDULE_NAME_RULE, example: "tenant-42-sync" }),
}).openapi("SchedulePutManyItem");

export const ScheduleBatchBody = z
  .strictObject({
    schedules: z
      .array(ScheduleBatchItem)
      .min(1)
      .max(MAX_BATCH_SCHEDULES)
      .openapi({ description: `1 … ${MAX_BATCH_SCHEDULES} schedules, each { name, ...the fields of PUT /v1/schedules/{name} }; each is validated on its own and answered in results[i]` }),
  })
  .openapi("SchedulePutMany");

/** The envelope is checked first (400 for the whole request); items one by one (Client.schedules.putMany). */
export const ScheduleBatchEnvelope = z.strictObject({
  schedules: z
    .array(z.unknown(), { error: "expected an array of schedules" })
    .min(1, { error: "expected at least one schedule" })
    .max(MAX_BATCH_SCHEDULES, { error: `expected at most ${MAX_BATCH_SCHEDULES} schedules` }),
});

const ScheduleBatchItemResult = z
  .union([
    z.object({ ok: z.literal(true), name: z.string(), created: z.boolean(), shard: z.number(), nextDueAt: z.number().nullable() }),
    z.object({
      ok: z.literal(false),
      index: z.number().openapi({ description: "the item's position in schedules (from 0)" }),
      status: z.number().openapi({ description: "the status this schedule alone would have got (400, 409, 507, …)" }),
      error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }),
    }),
  ])
  .openapi("SchedulePutManyItemResult");

export const ScheduleBatchResult = z
  .object({
    results: z.array(ScheduleBatchItemResult).openapi({ description: "one per schedule, in request order (ok: false items were not stored; the others were)" }),
    created: z.number(),
    replaced: z.number(),
    failed: z.number(),
  })
  .openapi("SchedulePutManyResult");
