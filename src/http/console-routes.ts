/**
 * The operator's console routes (issue 15): run a task now, read its failed
 * attempts, and bulk actions on a filtered list, run as background jobs
 * (console/bulk-jobs.ts) whose progress any node can report. Listing every
 * state, cancel, reschedule and retry are the task routes'
 * (tasks-routes.ts). Every changing request under /v1 is logged with what
 * it touched (actionLog, registered before every route).
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { Client } from "../client/client.ts";
import type { Logger } from "../core/log.ts";
import type { BulkJobs } from "../console/bulk-jobs.ts";
import { errorBody } from "./errors.ts";
import { bodyErrors, commonErrors, json } from "./responses.ts";
import { ConflictResponse, ErrorResponse, TaskIdParam, TaskView } from "./schemas.ts";
import { BulkBody, BulkJobParam, BulkJobView, FailedAttemptsResponse } from "./console-schemas.ts";

interface ConsoleRoutesDeps {
  client: Client;
  bulkJobs: BulkJobs;
}

/** Producer calls (scheduling) are not operator actions and are not logged one by one. */
const PRODUCER_PATHS = new Set(["/v1/tasks", "/v1/tasks/batch"]);

/** Logs every changing /v1 request but scheduling: who did what to which task or name, and the answer. */
export function actionLog(log: Logger): MiddlewareHandler {
  return async (c, next) => {
    await next();
    if (c.req.method === "GET" || c.req.method === "HEAD" || PRODUCER_PATHS.has(c.req.path)) return;
    log.info({ action: `${c.req.method} ${c.req.path}`, status: c.res.status }, "console action");
  };
}

const notFound = json(ErrorResponse, "no task with this id (never scheduled, or its retention passed)");

export function registerConsoleRoutes(app: OpenAPIHono, deps: ConsoleRoutesDeps): void {
  const { client, bulkJobs } = deps;

  const bulk = createRoute({
    method: "post",
    path: "/v1/tasks/bulk",
    summary: "Start a bulk action (cancel, retry, run-now, count) on the tasks of one state that a filter selects",
    description:
      "Runs in the background in bounded pages (500 tasks each; the node yields between pages), so 100,000 tasks neither block Redis nor " +
      "hold the request. Answers 202 with the job; poll GET /v1/bulk/{jobId} for progress. A filter (name or namePrefix) is required, " +
      "or all: true for every task in the state.",
    request: { body: { content: { "application/json": { schema: BulkBody } }, required: true } },
    responses: { 202: json(BulkJobView, "started"), ...bodyErrors, ...commonErrors },
  });
  app.openapi(bulk, async (c) => c.json(await bulkJobs.start(c.req.valid("json")), 202));

  const bulkProgress = createRoute({
    method: "get",
    path: "/v1/bulk/{jobId}",
    summary: "Progress of a bulk action",
    request: { params: BulkJobParam },
    responses: { 200: json(BulkJobView, "the job"), 404: json(ErrorResponse, "no such job (or it finished over a day ago)"), ...commonErrors },
  });
  app.openapi(bulkProgress, async (c) => {
    const { jobId } = c.req.valid("param");
    const job = await bulkJobs.get(jobId);
    if (!job) return c.json(errorBody("not_found", `no bulk job "${jobId}"`), 404);
    return c.json(job, 200);
  });

  const runNow = createRoute({
    method: "post",
    path: "/v1/tasks/{id}/run-now",
    summary: "Make a task that has not started due now",
    request: { params: TaskIdParam },
    responses: {
      200: json(TaskView, "due now"),
      404: notFound,
      409: json(ConflictResponse, "the task already started or finished (task shows its state)"),
      ...commonErrors,
    },
  });
  app.openapi(runNow, async (c) => {
    const { id } = c.req.valid("param");
    const outcome = await client.runNow(id);
    if (outcome.rescheduled) return c.json(outcome.task!, 200);
    if (!outcome.task) return c.json(errorBody("not_found", `no task with id "${id}"`), 404);
    return c.json({ ...errorBody("conflict", `task is ${outcome.task.state}; only scheduled tasks can be run now`), task: outcome.task }, 409);
  });

  const attempts = createRoute({
    method: "get",
    path: "/v1/tasks/{id}/attempts",
    summary: "A task's failed attempts: time and error of each (the last 10 kept, and the one that ended it)",
    request: { params: TaskIdParam },
    responses: { 200: json(FailedAttemptsResponse, "oldest first; empty when no attempt failed"), ...commonErrors },
  });
  app.openapi(attempts, async (c) => {
    const { id } = c.req.valid("param");
    const [history, task] = await Promise.all([client.failedAttempts(id), client.get(id)]);
    // The attempt that ended the task (dead, expired) is not in the history: its error is the final record's.
    const last = history[history.length - 1];
    if (task?.finishedAt !== undefined && task.lastError !== undefined && task.state !== "succeeded" && task.state !== "cancelled" && (!last || last.attempt < task.attempt)) {
      history.push({ at: task.finishedAt, attempt: task.attempt, error: task.lastError });
    }
    return c.json({ id, attempts: history }, 200);
  });
}
