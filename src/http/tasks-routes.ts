/**
 * /v1/tasks: create, read, cancel, reschedule and list tasks, and retry a
 * dead one. Validation of the request's shape is zod's (unknown fields,
 * types); what the values mean (runAt vs delay, limits, args size) is
 * resolveTask's, so the HTTP API, the client and the CLI reject the same
 * things with the same messages.
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { Client } from "../client/client.ts";
import type { CeleryResult } from "../store/celery-broker.ts";
import { TickwheelError } from "../task/errors.ts";
import { errorBody } from "./errors.ts";
import { expiryProblem } from "./expiry-check.ts";
import { bodyErrors, commonErrors, json } from "./responses.ts";
import {
  ConflictResponse,
  ErrorResponse,
  ListQuery,
  ListResult,
  RescheduleBody,
  ScheduleBody,
  ScheduleResult,
  TaskIdParam,
  TaskView,
} from "./schemas.ts";

interface TasksRoutesDeps {
  client: Client;
  /** Refuses bodies over the per-task limit before parsing (413). */
  bodyLimit: MiddlewareHandler;
  onScheduled?: (name: string) => void;
  /** Now by the clock due times are kept in (the node's estimate of Redis'); the machine's clock without it. */
  now?: () => number;
  /** Celery's result of a task id (TICKWHEEL_CELERY_RESULT_URL); shown for celery-target tasks. */
  celeryResults?: { resultOf(id: string): Promise<CeleryResult> };
}

const notFound = json(ErrorResponse, "no task with this id (never scheduled, or its retention passed)");
/** The 404 body for an id that names no task. */
const noTask = (id: string) => errorBody("not_found", `no task with id "${id}"`);
const jsonBody = <T>(schema: T) => ({ body: { content: { "application/json": { schema } }, required: true } });

export function registerTaskRoutes(app: OpenAPIHono, deps: TasksRoutesDeps): void {
  const { client } = deps;

  const createTask = createRoute({
    method: "post",
    path: "/v1/tasks",
    summary: "Schedule a task",
    middleware: [deps.bodyLimit] as const,
    request: jsonBody(ScheduleBody),
    responses: {
      201: json(ScheduleResult, "created"),
      200: json(ScheduleResult, "a task with this id exists; nothing was created"),
      422: json(ErrorResponse, "well-formed but impossible: expiresAt is not after the due time"),
      ...bodyErrors,
      ...commonErrors,
    },
  });
  app.openapi(createTask, async (c) => {
    const { name, args, ...options } = c.req.valid("json");
    const problem = expiryProblem(options, deps.now?.() ?? Date.now());
    if (problem) return c.json(problem, 422);
    const [result] = await client.scheduleMany([{ task: name, args, options }], { requireTime: false });
    if (result instanceof TickwheelError) throw result;
    if (result!.created) deps.onScheduled?.(name);
    return c.json(result!, result!.created ? 201 : 200);
  });

  const listTasks = createRoute({
    method: "get",
    path: "/v1/tasks",
    summary: "List tasks by state, optionally of one name, a page at a time",
    description:
      "Pages go shard by shard, each in index order: scheduled by due time, dead by time of death, running in claim order " +
        "(succeeded, cancelled and expired by time finished, kept listable for their retention; failed: waiting for a retry, by its due time) " +
      "(claimed batches by their visibility deadline, each batch's tasks in the order claimed); " +
      "scheduled tasks waiting in the cold tier (due beyond TICKWHEEL_COLD_AFTER_MS when scheduled) follow a shard's others, in storage order. " +
      "A page may hold fewer than `limit` tasks and still have a `nextCursor`: each request examines a bounded number of entries.",
    request: { query: ListQuery },
    responses: { 200: json(ListResult, "one page"), 400: json(ErrorResponse, "invalid query (error.field names it)"), ...commonErrors },
  });
  app.openapi(listTasks, async (c) => {
    const query = c.req.valid("query");
    const page = await client.list({ state: query.state, name: query.name, namePrefix: query.namePrefix, limit: query.limit, cursor: query.cursor, order: query.order });
    return c.json(page, 200);
  });

  const getTask = createRoute({
    method: "get",
    path: "/v1/tasks/{id}",
    summary: "Read a task",
    request: { params: TaskIdParam },
    responses: { 200: json(TaskView, "the task"), 404: notFound, ...commonErrors },
  });
  app.openapi(getTask, async (c) => {
    const { id } = c.req.valid("param");
    const task = await client.get(id);
    if (!task) return c.json(noTask(id), 404);
    if (deps.celeryResults && task.target.type === "celery") {
      // The result backend is another Redis: its outage must not hide the task itself.
      const celery = await deps.celeryResults.resultOf(id).catch((): CeleryResult => ({ state: "UNKNOWN", error: "the Celery result backend is unreachable" }));
      return c.json({ ...task, celery }, 200);
    }
    return c.json(task, 200);
  });

  const cancelTask = createRoute({
    method: "delete",
    path: "/v1/tasks/{id}",
    summary: "Cancel a task that has not started",
    request: { params: TaskIdParam },
    responses: {
      200: json(TaskView, "cancelled"),
      404: notFound,
      409: json(ConflictResponse, "the task already started or finished (task shows its state)"),
      ...commonErrors,
    },
  });
  app.openapi(cancelTask, async (c) => {
    const { id } = c.req.valid("param");
    const outcome = await client.cancel(id);
    if (outcome.cancelled) return c.json(outcome.task!, 200);
    if (!outcome.task) return c.json(noTask(id), 404);
    return c.json({ ...errorBody("conflict", `task is ${outcome.task.state}; only scheduled tasks can be cancelled`), task: outcome.task }, 409);
  });

  const rescheduleTask = createRoute({
    method: "patch",
    path: "/v1/tasks/{id}",
    summary: "Move a task that has not started to a new due time",
    middleware: [deps.bodyLimit] as const,
    request: { params: TaskIdParam, ...jsonBody(RescheduleBody) },
    responses: {
      200: json(TaskView, "rescheduled"),
      404: notFound,
      409: json(ConflictResponse, "the task already started or finished (task shows its state)"),
      ...bodyErrors,
      ...commonErrors,
    },
  });
  app.openapi(rescheduleTask, async (c) => {
    const { id } = c.req.valid("param");
    const outcome = await client.reschedule(id, c.req.valid("json"));
    if (outcome.rescheduled) return c.json(outcome.task!, 200);
    if (!outcome.task) return c.json(noTask(id), 404);
    return c.json({ ...errorBody("conflict", `task is ${outcome.task.state}; only scheduled tasks can be rescheduled`), task: outcome.task }, 409);
  });

  const retryTask = createRoute({
    method: "post",
    path: "/v1/tasks/{id}/retry",
    summary: "Retry a dead task: a fresh set of attempts, due now",
    request: { params: TaskIdParam },
    responses: {
      200: json(TaskView, "requeued (state scheduled, attempt 0, lastError kept)"),
      404: notFound,
      409: json(ConflictResponse, "the task is not dead (task shows its state)"),
      ...commonErrors,
    },
  });
  app.openapi(retryTask, async (c) => {
    const { id } = c.req.valid("param");
    const outcome = await client.retryDead(id);
    if (outcome.retried) return c.json(outcome.task!, 200);
    if (!outcome.task) return c.json(noTask(id), 404);
    return c.json({ ...errorBody("conflict", `task is ${outcome.task.state}; only dead tasks can be retried`), task: outcome.task }, 409);
  });
}
