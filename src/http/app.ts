/**
 * The node's HTTP app (Hono). Routes are registered once, here, before the
 * first request (the router's matcher is built then); every error leaves
 * through one handler in one JSON shape ({ error: { code, message, field? } }).
 *
 * Open: /health, /ready, /openapi.json, the dashboard (a static page that
 * asks for the token itself) and /metrics unless TICKWHEEL_METRICS_AUTH.
 * With TICKWHEEL_API_TOKEN set, /v1 and /admin need `Authorization: Bearer`.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import type { Client } from "../client/client.ts";
import type { ShardInfo } from "../node/shard-info.ts";
import type { Logger } from "../core/log.ts";
import type { NodeMetrics } from "../metrics/metrics.ts";
import { registerDashboard } from "../dashboard/routes.ts";
import { bearerAuth } from "./auth.ts";
import { errorBody, handleError, zodErrorBody } from "./errors.ts";
import { registerTaskRoutes } from "./tasks-routes.ts";
import { registerBatchRoutes } from "./batch-routes.ts";
import { registerScheduleBatchRoute } from "./schedule-batch-route.ts";
import { registerNameRoutes } from "./names-routes.ts";
import { registerScheduleRoutes } from "./schedules-routes.ts";
import { registerAdminRoutes } from "./admin-routes.ts";
import { registerAdminNodesRoute } from "./admin-nodes-route.ts";
import { registerAdminResizeRoutes } from "./admin-resize-routes.ts";
import type { NodeView } from "../ownership/node-registry-view.ts";
import type { RedisTrouble } from "../node/redis-trouble.ts";
import type { RedisRefusal } from "../store/redis-errors.ts";
import { actionLog, registerConsoleRoutes } from "./console-routes.ts";
import { BulkJobs } from "../console/bulk-jobs.ts";
import { registerClusterStatsRoute } from "./cluster-stats-route.ts";
import type { CeleryResult } from "../store/celery-broker.ts";

/** What the app needs from the node (an interface, so routes test without a whole node). */
export interface AppNode {
  readonly nodeId: string;
  readonly client: Client;
  readonly ready: boolean;
  readonly log: Logger;
  readonly startedAt: number;
  readonly config: { maxArgsBytes: number; maxBatchBytes: number; apiToken?: string | undefined; metricsAuth: boolean };
  readonly metrics: NodeMetrics;
  readonly pool: { readonly inFlight: number; readonly concurrency: number };
  shardInfo(): Promise<ShardInfo[]>;
  notePaused(name: string, paused: boolean): void;
  /** Live nodes from the registry (GET /admin/nodes); absent on nodes without membership. */
  nodes?: () => Promise<NodeView[]>;
  /** Now by Redis' clock as the node estimates it (due-time checks of the routes); the machine's clock without it. */
  readonly clock?: { now(): number };
  /** What /ready adds to { ready, nodeId }: Redis' eviction policy, the clock offset. */
  readiness?: () => Record<string, unknown>;
  /** Counts and logs (throttled) Redis trouble; without it, requests refused by Redis log nothing. */
  readonly redisTrouble?: RedisTrouble;
  /** Celery's result of a task id, when TICKWHEEL_CELERY_RESULT_URL is set (GET /v1/tasks/:id shows it). */
  readonly celeryResults?: { resultOf(id: string): Promise<CeleryResult> } | null;
}

/** Room for the JSON envelope around the largest allowed args in a single-task body. */
const ENVELOPE_BYTES = 64 * 1024;

export function createApp(node: AppNode): OpenAPIHono {
  const app = new OpenAPIHono({
    defaultHook: (result, c) => {
      if (!result.success) return c.json(zodErrorBody(result.error.issues as never), 400);
    },
  });

  app.onError((error, c) => {
    return handleError(
      error,
      c,
      (e) => node.log.error({ err: String((e as Error)?.stack ?? e), method: c.req.method, path: c.req.path }, "request failed"),
      (refusal) => {
        if (node.redisTrouble) node.redisTrouble.report("request", refusal, { method: c.req.method, path: c.req.routePath }, "request refused by redis");
        else node.metrics.redisError(refusal.kind);
      },
    );
  });
  app.notFound((c) => c.json(errorBody("not_found", `no route ${c.req.method} ${c.req.path}`), 404));

  const token = node.config.apiToken;
  if (token) {
    const auth = bearerAuth(token);
    app.use("/v1/*", auth);
    app.use("/admin/*", auth);
    if (node.config.metricsAuth) app.use("/metrics", auth);
  }

  // Before every route: Hono runs middleware in the order registered.
  app.use("/v1/*", actionLog(node.log));

  app.get("/health", (c) => c.json({ ok: true, nodeId: node.nodeId }));
  app.get("/ready", (c) => {
    const ready = node.ready;
    return c.json({ ready, nodeId: node.nodeId, ...node.readiness?.() }, ready ? 200 : 503);
  });
  app.get("/metrics", async (c) => {
    const { contentType, body } = await node.metrics.render();
    return c.body(body, 200, { "Content-Type": contentType });
  });

  const tooLarge = (limit: number) =>
    bodyLimit({ maxSize: limit, onError: (c) => c.json(errorBody("payload_too_large", `request body over ${limit} bytes`), 413) });
  const onScheduled = (name: string) => node.metrics.scheduled(name);
  // The console's /v1/tasks/bulk, like the batch route, before /v1/tasks/{id}.
  registerConsoleRoutes(app, { client: node.client, bulkJobs: new BulkJobs(node.client, node.log) });
  // The batch route first: /v1/tasks/batch must not be taken for a task id.
  const now = node.clock ? () => node.clock!.now() : undefined;
  const onRedisRefusal = (refusal: RedisRefusal) => {
    if (node.redisTrouble) node.redisTrouble.report("batch", refusal, {}, "batch items refused by redis");
    else node.metrics.redisError(refusal.kind);
  };
  registerBatchRoutes(app, { client: node.client, bodyLimit: tooLarge(node.config.maxBatchBytes), onScheduled, onRedisRefusal, now });
  registerTaskRoutes(app, {
    client: node.client,
    bodyLimit: tooLarge(node.config.maxArgsBytes + ENVELOPE_BYTES),
    onScheduled,
    now,
    celeryResults: node.celeryResults ?? undefined,
  });
  registerNameRoutes(app, { client: node.client, notePaused: (name, paused) => node.notePaused(name, paused) });
  registerScheduleBatchRoute(app, { schedules: node.client.schedules, bodyLimit: tooLarge(node.config.maxBatchBytes), onRedisRefusal });
  registerScheduleRoutes(app, { schedules: node.client.schedules, bodyLimit: tooLarge(node.config.maxArgsBytes + ENVELOPE_BYTES) });
  registerAdminRoutes(app, {
    nodeId: node.nodeId,
    startedAt: node.startedAt,
    shardInfo: () => node.shardInfo(),
    resizeStatus: () => node.client.resizeStatus(),
    series: (seconds) => node.metrics.timeline.series(seconds),
    pool: () => ({ inFlight: node.pool.inFlight, concurrency: node.pool.concurrency }),
  });
  registerAdminNodesRoute(app, node);
  registerClusterStatsRoute(app, {
    nodeId: node.nodeId,
    startedAt: node.startedAt,
    series: (seconds) => node.metrics.timeline.series(seconds),
    pool: () => ({ inFlight: node.pool.inFlight, concurrency: node.pool.concurrency }),
    ...(node.nodes ? { nodes: () => node.nodes!() } : {}),
  });
  registerAdminResizeRoutes(app, { client: node.client });
  registerDashboard(app);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "tickwheel",
      version: "1",
      description:
        "Durable delayed tasks fired to the millisecond. With TICKWHEEL_API_TOKEN set, /v1 and /admin need `Authorization: Bearer <token>`. " +
        "Every error is `{ error: { code, message, field? } }`.",
    },
    security: [{ bearer: [] }],
  });
  return app;
}
