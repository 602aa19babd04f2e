/**
 * /admin/shards/resize: change the shard count online (docs/resharding.md)
 * and follow its progress. One resize at a time: a request while one runs
 * is answered 409 (the start is one atomic script, so of two requests at
 * once exactly one wins).
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { Client } from "../client/client.ts";
import { bodyErrors, commonErrors, json } from "./responses.ts";
import { ErrorResponse, ResizeRequest, ResizeStatusSchema } from "./schemas.ts";

export function registerAdminResizeRoutes(app: OpenAPIHono, deps: { client: Client }): void {
  const start = createRoute({
    method: "post",
    path: "/admin/shards/resize",
    summary: "Change the shard count online: slots move to their new shards under load",
    request: { body: { content: { "application/json": { schema: ResizeRequest } }, required: true } },
    responses: {
      202: json(ResizeStatusSchema, "resize started; follow it with GET /admin/shards/resize"),
      409: json(ErrorResponse, "a resize is running already"),
      ...bodyErrors,
      ...commonErrors,
    },
  });
  app.openapi(start, async (c) => {
    const { count } = c.req.valid("json");
    return c.json(await deps.client.resize(count), 202);
  });

  const status = createRoute({
    method: "get",
    path: "/admin/shards/resize",
    summary: "The running (or last) resize: slots and tasks moved, per source shard",
    responses: { 200: json(ResizeStatusSchema, "progress"), ...commonErrors },
  });
  app.openapi(status, async (c) => c.json(await deps.client.resizeStatus(), 200));
}
