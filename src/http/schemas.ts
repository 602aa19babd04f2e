/**
 * Request and response schemas of the /v1 API. They validate requests and
 * are the source of the OpenAPI document (/openapi.json).
 */
import { z } from "@hono/zod-openapi";
import { TASK_STATES } from "../task/model.ts";

const instant = z.union([z.string(), z.number()]).openapi({ description: "ISO-8601 time with zone, or epoch ms", example: "2027-01-01T09:00:00Z" });
const duration = z.union([z.number(), z.string()]).openapi({ description: 'ms, or a duration such as "90s", "10m", "7d"', example: "10m" });

export const ScheduleBody = z
  .strictObject({
    id: z.string().optional().openapi({ description: "idempotency key; generated when absent" }),
    name: z.string({ error: "expected a task name (string)" }),
    args: z.unknown().optional().openapi({ description: "any JSON value" }),
    runAt: instant.optional(),
    delay: duration.optional(),
    priority: z.number().optional().openapi({ description: "0 (default) … 9, higher starts first among tasks due together" }),
    maxAttempts: z.number().optional(),
    backoff: z.strictObject({ baseMs: z.number(), maxMs: z.number() }).partial().optional(),
    timeoutMs: z.number().optional(),
    expiresAt: instant.optional(),
    target: z.strictObject({ type: z.literal("handler") }).optional(),
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
    expiresAt: z.number().optional(),
    lastError: z.string().optional(),
    result: z.unknown().optional(),
    progress: z.unknown().optional(),
    finishedAt: z.number().optional(),
    shard: z.number(),
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
