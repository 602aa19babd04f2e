/**
 * /v1/tasks: create, read, cancel and reschedule one task. Validation of the
 * request's shape is zod's (unknown fields, types); what the values mean
 * (runAt vs delay, limits, args size) is resolveTask's, so the HTTP API, the
 * client and the CLI reject the same things with the same messages.
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import type { Client } from "../client/client.ts";
import { TickwheelError } from "../task/errors.ts";
import { errorBody } from "./errors.ts";
import { ErrorResponse, RescheduleBody, ScheduleBody, ScheduleResult, TaskIdParam, TaskView } from "./schemas.ts";

export interface TasksRoutesDeps {
  client: Client;
  maxArgsBytes: number;
}

const json = <T>(schema: T, description: string) => ({ content: { "application/json": { schema } }, description });
const errors = {
  400: json(ErrorResponse, "invalid input"),
  401: json(ErrorResponse, "missing or wrong bearer token"),
  413: json(ErrorResponse, "request body too large"),
  503: json(ErrorResponse, "redis unreachable"),
};

const createTask = createRoute({
  method: "post",
  path: "/v1/tasks",
  summary: "Schedule a task",
  request: { body: { content: { "application/json": { schema: ScheduleBody } }, required: true } },
  responses: {
    201: json(ScheduleResult, "created"),
    200: json(ScheduleResult, "a task with this id exists; nothing was created"),
    ...errors,
  },
});

const getTask = createRoute({
  method: "get",
  path: "/v1/tasks/{id}",
  summary: "Read a task",
  request: { params: TaskIdParam },
  responses: { 200: json(TaskView, "the task"), 404: json(ErrorResponse, "no such task"), ...errors },
});

const cancelTask = createRoute({
  method: "delete",
  path: "/v1/tasks/{id}",
  summary: "Cancel a task that has not started",
  request: { params: TaskIdParam },
  responses: {
    200: json(TaskView, "cancelled"),
    404: json(ErrorResponse, "no such task"),
    409: json(ErrorResponse, "the task already started or finished"),
    ...errors,
  },
});

const rescheduleTask = createRoute({
  method: "patch",
  path: "/v1/tasks/{id}",
  summary: "Move a task that has not started to a new due time",
  request: { params: TaskIdParam, body: { content: { "application/json": { schema: RescheduleBody } }, required: true } },
  responses: {
    200: json(TaskView, "rescheduled"),
    404: json(ErrorResponse, "no such task"),
    409: json(ErrorResponse, "the task already started or finished"),
    ...errors,
  },
});

export function registerTaskRoutes(app: OpenAPIHono, deps: TasksRoutesDeps): void {
  // Room for the envelope around the largest allowed args; larger bodies are refused before parsing.
  const limit = bodyLimit({
    maxSize: deps.maxArgsBytes + 64 * 1024,
    onError: (c) => c.json(errorBody("payload_too_large", `request body over ${deps.maxArgsBytes + 64 * 1024} bytes`), 413),
  });
  app.use("/v1/tasks", limit);
  app.use("/v1/tasks/*", limit);

  app.openapi(createTask, async (c) => {
    const { name, args, ...options } = c.req.valid("json");
    const [result] = await deps.client.scheduleMany([{ task: name, args, options }], { requireTime: false });
    if (result instanceof TickwheelError) throw result;
    return c.json(result!, result!.created ? 201 : 200);
  });

  app.openapi(getTask, async (c) => {
    const { id } = c.req.valid("param");
    const task = await deps.client.get(id);
    if (!task) return c.json(errorBody("not_found", `no task with id "${id}"`), 404);
    return c.json(task, 200);
  });

  app.openapi(cancelTask, async (c) => {
    const { id } = c.req.valid("param");
    const outcome = await deps.client.cancel(id);
    if (outcome.cancelled) return c.json(outcome.task!, 200);
    if (!outcome.task) return c.json(errorBody("not_found", `no task with id "${id}"`), 404);
    return c.json({ ...errorBody("conflict", `task is ${outcome.task.state}; only scheduled tasks can be cancelled`), task: outcome.task }, 409);
  });

  app.openapi(rescheduleTask, async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const outcome = await deps.client.reschedule(id, body);
    if (outcome.rescheduled) return c.json(outcome.task!, 200);
    if (!outcome.task) return c.json(errorBody("not_found", `no task with id "${id}"`), 404);
    return c.json({ ...errorBody("conflict", `task is ${outcome.task.state}; only scheduled tasks can be rescheduled`), task: outcome.task }, 409);
  });
}
