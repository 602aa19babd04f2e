/**
 * POST /v1/tasks/batch: up to 10,000 tasks in one request, answered per
 * item. The envelope ({ tasks: [...] }) is validated as a whole (400); each
 * item on its own against the same schema as POST /v1/tasks, so one bad item
 * is reported in its place and the others are still scheduled. Valid items
 * are stored with one pipeline of script calls per shard (Client.scheduleMany).
 *
 * The route is described in the OpenAPI document like the others but
 * handled by a plain handler: the generated validator would refuse the whole
 * batch for one bad item.
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { Client, ScheduleRequest } from "../client/client.ts";
import { TickwheelError } from "../task/errors.ts";
import { RedisRefusal } from "../store/redis-errors.ts";
import { STATUS, zodErrorBody } from "./errors.ts";
import { expiryProblem } from "./expiry-check.ts";
import { bodyErrors, commonErrors, json } from "./responses.ts";
import { BatchBody, BatchEnvelope, BatchResult, ScheduleBody } from "./schemas.ts";

interface BatchRoutesDeps {
  client: Client;
  /** Refuses bodies over the batch limit before parsing (413). */
  bodyLimit: MiddlewareHandler;
  onScheduled?: (name: string) => void;
  /** Now by the clock due times are kept in (the node's estimate of Redis'); the machine's clock without it. */
  now?: () => number;
  /** Items Redis refused (counted and logged like a refused request). */
  onRedisRefusal?: (refusal: RedisRefusal) => void;
}

type ItemResult =
  | { ok: true; id: string; created: boolean; dueAt: number; shard: number }
  | { ok: false; status: number; error: { code: string; message: string; field?: string } };

const batchRoute = createRoute({
  method: "post",
  path: "/v1/tasks/batch",
  summary: "Schedule up to 10,000 tasks; every item gets its own result",
  request: { body: { content: { "application/json": { schema: BatchBody } }, required: true } },
  responses: {
    200: json(BatchResult, "per-item results in request order (ok: false items were not stored)"),
    ...bodyErrors,
    ...commonErrors,
  },
});

export function registerBatchRoutes(app: OpenAPIHono, deps: BatchRoutesDeps): void {
  app.openAPIRegistry.registerPath(batchRoute);
  app.post("/v1/tasks/batch", deps.bodyLimit, async (c) => {
    const contentType = c.req.header("content-type") ?? "";
    if (!/^application\/(.+\+)?json\s*(;|$)/i.test(contentType)) {
      return c.json({ error: { code: "unsupported_media_type", message: "expected Content-Type: application/json" } }, 415);
    }
    const envelope = BatchEnvelope.safeParse(await c.req.json());
    if (!envelope.success) return c.json(zodErrorBody(envelope.error.issues as never), 400);

    const nowMs = deps.now?.() ?? Date.now();
    const results: ItemResult[] = new Array(envelope.data.tasks.length);
    const requests: ScheduleRequest[] = [];
    const positions: number[] = [];
    envelope.data.tasks.forEach((raw, index) => {
      const item = ScheduleBody.safeParse(raw);
      if (!item.success) {
        results[index] = { ok: false, status: 400, error: zodErrorBody(item.error.issues as never).error };
        return;
      }
      const { name, args, ...options } = item.data;
      const problem = expiryProblem(options, nowMs);
      if (problem) {
        results[index] = { ok: false, status: 422, error: problem.error };
        return;
      }
      requests.push({ task: name, args, options });
      positions.push(index);
    });

    const outcomes = requests.length > 0 ? await deps.client.scheduleMany(requests, { requireTime: false }) : [];
    let created = 0;
    let existing = 0;
    let retryAfterS = 0;
    outcomes.forEach((outcome, i) => {
      const index = positions[i]!;
      if (outcome instanceof RedisRefusal) {
        // Refused by Redis (out of memory, read-only…): those items were not stored, the others were.
        deps.onRedisRefusal?.(outcome);
        if (outcome.retryAfterS !== null) retryAfterS = Math.max(retryAfterS, outcome.retryAfterS);
      }
      if (outcome instanceof TickwheelError) {
        const error = outcome.field === undefined ? { code: outcome.code, message: outcome.message } : { code: outcome.code, message: outcome.message, field: outcome.field };
        // An item's args over the per-task limit is what a single POST would refuse with 413.
        results[index] = { ok: false, status: outcome.code === "payload_too_large" ? 413 : STATUS[outcome.code], error };
        return;
      }
      if (outcome.created) {
        created++;
        deps.onScheduled?.(requests[i]!.task as string);
      } else {
        existing++;
      }
      results[index] = { ok: true, ...outcome };
    });
    if (retryAfterS > 0) c.header("Retry-After", String(retryAfterS));
    return c.json({ results, created, existing, failed: results.length - created - existing }, 200);
  });
}
