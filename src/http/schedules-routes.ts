/**
 * /v1/schedules: create or replace, read, list, pause, resume and delete recurring schedules
 * (docs/schedules.md). The routes are thin: Client.schedules decides and writes.
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { ScheduleClient } from "../client/schedules.ts";
import { errorBody } from "./errors.ts";
import { bodyErrors, commonErrors, json } from "./responses.ts";
import { ErrorResponse } from "./schemas.ts";
import { ScheduleDeleted, ScheduleList, ScheduleListQuery, ScheduleNameParam, SchedulePutBody, SchedulePutResult, ScheduleView } from "./schedule-schemas.ts";

export interface SchedulesRoutesDeps {
  schedules: ScheduleClient;
  bodyLimit: MiddlewareHandler;
}

const notFound = json(ErrorResponse, "no schedule with this name");
const invalidName = json(ErrorResponse, "invalid name");
const noSchedule = (name: string) => errorBody("not_found", `no schedule "${name}"`, "name");

export function registerScheduleRoutes(app: OpenAPIHono, deps: SchedulesRoutesDeps): void {
  const { schedules } = deps;

  const put = createRoute({
    method: "put",
    path: "/v1/schedules/{name}",
    summary: "Create or replace a recurring schedule",
    middleware: [deps.bodyLimit] as const,
    request: { params: ScheduleNameParam, body: { content: { "application/json": { schema: SchedulePutBody } }, required: true } },
    responses: {
      201: json(SchedulePutResult, "created; its first occurrence is planted"),
      200: json(SchedulePutResult, "replaced; takes effect from its next occurrence"),
      ...bodyErrors,
      ...commonErrors,
    },
  });
  app.openapi(put, async (c) => {
    const { name } = c.req.valid("param");
    const result = await schedules.put(name, c.req.valid("json"));
    return c.json(result, result.created ? 201 : 200);
  });

  const get = createRoute({
    method: "get",
    path: "/v1/schedules/{name}",
    summary: "A schedule: its definition, next fire times, next due time and last occurrence",
    request: { params: ScheduleNameParam },
    responses: { 200: json(ScheduleView, "the schedule"), 400: invalidName, 404: notFound, ...commonErrors },
  });
  app.openapi(get, async (c) => {
    const { name } = c.req.valid("param");
    const view = await schedules.get(name);
    if (view === null) return c.json(noSchedule(name), 404);
    return c.json(view, 200);
  });

  const list = createRoute({
    method: "get",
    path: "/v1/schedules",
    summary: "List schedules (paged, optionally by name prefix)",
    request: { query: ScheduleListQuery },
    responses: { 200: json(ScheduleList, "one page"), 400: json(ErrorResponse, "invalid query"), ...commonErrors },
  });
  app.openapi(list, async (c) => {
    const query = c.req.valid("query");
    return c.json(await schedules.list(query), 200);
  });

  const remove = createRoute({
    method: "delete",
    path: "/v1/schedules/{name}",
    summary: "Delete a schedule; its occurrences that have not started are taken back",
    request: { params: ScheduleNameParam },
    responses: { 200: json(ScheduleDeleted, "deleted"), 400: invalidName, 404: notFound, ...commonErrors },
  });
  app.openapi(remove, async (c) => {
    const { name } = c.req.valid("param");
    const result = await schedules.delete(name);
    if (!result.deleted) return c.json(noSchedule(name), 404);
    return c.json(result, 200);
  });

  for (const action of ["pause", "resume"] as const) {
    const route = createRoute({
      method: "post",
      path: `/v1/schedules/{name}/${action}`,
      summary:
        action === "pause"
          ? "Pause a schedule: takes back its occurrences that have not started, plants none"
          : "Resume a schedule: plants again, applying the misfire policy to what passed meanwhile",
      request: { params: ScheduleNameParam },
      responses: { 200: json(ScheduleView, action === "pause" ? "paused (idempotent)" : "resumed (idempotent)"), 400: invalidName, 404: notFound, ...commonErrors },
    });
    app.openapi(route, async (c) => {
      const { name } = c.req.valid("param");
      return c.json(action === "pause" ? await schedules.pause(name) : await schedules.resume(name), 200);
    });
  }
}
