/**
 * PUT /v1/schedules: create or replace up to 10,000 schedules in one request (one per tenant,
 * created in bulk), answered per item. The envelope ({ schedules: [...] }) is validated as a whole
 * (400); each item ({ name, ...the fields of PUT /v1/schedules/{name} }) on its own by
 * Client.schedules.putMany, so one bad item is answered in its place, with its index and field,
 * and the others are still stored (not all-or-nothing: a tenant's bad definition should not hold
 * back the other 9,999). Stored with one script call per few hundred schedules of a shard.
 *
 * Described in the OpenAPI document like the others but handled by a plain handler: the
 * generated validator would refuse the whole batch for one bad item.
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { ScheduleClient } from "../client/schedules.ts";
import { TickwheelError } from "../task/errors.ts";
import { RedisRefusal } from "../store/redis-errors.ts";
import { STATUS, zodErrorBody } from "./errors.ts";
import { bodyErrors, commonErrors, json } from "./responses.ts";
import { ScheduleBatchBody, ScheduleBatchEnvelope, ScheduleBatchResult } from "./schedule-schemas.ts";

export interface ScheduleBatchRouteDeps {
  schedules: ScheduleClient;
  /** Refuses bodies over the batch limit before parsing (413). */
  bodyLimit: MiddlewareHandler;
  /** Items Redis refused (counted and logged like a refused request). */
  onRedisRefusal?: (refusal: RedisRefusal) => void;
}

const route = createRoute({
  method: "put",
  path: "/v1/schedules",
  summary: "Create or replace up to 10,000 schedules; every item gets its own result",
  request: { body: { content: { "application/json": { schema: ScheduleBatchBody } }, required: true } },
  responses: {
    200: json(ScheduleBatchResult, "per-item results in request order (ok: false items were not stored; the others were)"),
    ...bodyErrors,
    ...commonErrors,
  },
});

export function registerScheduleBatchRoute(app: OpenAPIHono, deps: ScheduleBatchRouteDeps): void {
  app.openAPIRegistry.registerPath(route);
  app.put("/v1/schedules", deps.bodyLimit, async (c) => {
    const contentType = c.req.header("content-type") ?? "";
    if (!/^application\/(.+\+)?json\s*(;|$)/i.test(contentType)) {
      return c.json({ error: { code: "unsupported_media_type", message: "expected Content-Type: application/json" } }, 415);
    }
    const envelope = ScheduleBatchEnvelope.safeParse(await c.req.json());
    if (!envelope.success) return c.json(zodErrorBody(envelope.error.issues as never), 400);

    const outcomes = await deps.schedules.putMany(envelope.data.schedules);
    let created = 0;
    let replaced = 0;
    let retryAfterS = 0;
    const results = outcomes.map((outcome, index) => {
      if (outcome instanceof TickwheelError) {
        if (outcome instanceof RedisRefusal) {
          deps.onRedisRefusal?.(outcome);
          if (outcome.retryAfterS !== null) retryAfterS = Math.max(retryAfterS, outcome.retryAfterS);
        }
        const error = outcome.field === undefined ? { code: outcome.code, message: outcome.message } : { code: outcome.code, message: outcome.message, field: outcome.field };
        return { ok: false as const, index, status: STATUS[outcome.code], error };
      }
      if (outcome.created) created++;
      else replaced++;
      return { ok: true as const, ...outcome };
    });
    if (retryAfterS > 0) c.header("Retry-After", String(retryAfterS));
    return c.json({ results, created, replaced, failed: results.length - created - replaced }, 200);
  });
}
