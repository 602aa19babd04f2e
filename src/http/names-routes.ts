/**
 * Pause and resume dispatch of a task name, cluster-wide. While a name is
 * paused its tasks are still accepted and stored; those that come due are
 * handed back to Redis unstarted (parked, keeping their due time) and run
 * when the name is resumed. The node that serves the call applies it at
 * once; every other node within TICKWHEEL_PAUSE_REFRESH_MS.
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { Client } from "../client/client.ts";
import { commonErrors, json } from "./responses.ts";
import { ErrorResponse, NameParam, PausedList, PauseState, ResumeResult } from "./schemas.ts";

interface NamesRoutesDeps {
  client: Client;
  /** Applies a pause or resume to this node's own view at once. */
  notePaused?: (name: string, paused: boolean) => void;
}

const invalidName = json(ErrorResponse, "invalid name");

export function registerNameRoutes(app: OpenAPIHono, deps: NamesRoutesDeps): void {
  const pause = createRoute({
    method: "post",
    path: "/v1/names/{name}/pause",
    summary: "Pause dispatch of a task name on every node",
    request: { params: NameParam },
    responses: { 200: json(PauseState, "paused (idempotent: pausedAt is the first pause)"), 400: invalidName, ...commonErrors },
  });
  app.openapi(pause, async (c) => {
    const { name } = c.req.valid("param");
    const state = await deps.client.pause(name);
    deps.notePaused?.(name, true);
    return c.json(state, 200);
  });

  const resume = createRoute({
    method: "post",
    path: "/v1/names/{name}/resume",
    summary: "Resume dispatch of a task name; its parked tasks run",
    request: { params: NameParam },
    responses: { 200: json(ResumeResult, "resumed (idempotent)"), 400: invalidName, ...commonErrors },
  });
  app.openapi(resume, async (c) => {
    const { name } = c.req.valid("param");
    deps.notePaused?.(name, false);
    const result = await deps.client.resume(name);
    return c.json(result, 200);
  });

  const list = createRoute({
    method: "get",
    path: "/v1/paused",
    summary: "Paused task names",
    responses: { 200: json(PausedList, "every paused name"), ...commonErrors },
  });
  app.openapi(list, async (c) => c.json({ paused: await deps.client.paused() }, 200));
}
