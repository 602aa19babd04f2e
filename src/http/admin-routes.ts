/**
 * /admin: what operators and the dashboard read about the cluster as this
 * node sees it: every shard (owner, due, in flight, next due, lateness) and
 * this node's last minutes (tasks started per second and their lateness).
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { ShardInfo } from "../node/shard-info.ts";
import type { ResizeStatus } from "../client/client.ts";
import type { TimelinePoint } from "../metrics/timeline.ts";
import { commonErrors, json } from "./responses.ts";
import { ErrorResponse, NodesResponse, ShardsResponse, StatsResponse } from "./schemas.ts";

interface AdminRoutesDeps {
  nodeId: string;
  startedAt: number;
  shardInfo(): Promise<ShardInfo[]>;
  /** The running (or last) resize, shown beside the shards. */
  resizeStatus?(): Promise<ResizeStatus>;
  series(seconds: number): TimelinePoint[];
  pool(): { inFlight: number; concurrency: number };
}

export function registerAdminRoutes(app: OpenAPIHono, deps: AdminRoutesDeps): void {
  const shards = createRoute({
    method: "get",
    path: "/admin/shards",
    summary: "Every shard: owner, due count, in flight, next due time, lateness",
    responses: { 200: json(ShardsResponse, "one entry per shard"), ...commonErrors },
  });
  app.openapi(shards, async (c) => {
    const [info, resize] = await Promise.all([deps.shardInfo(), deps.resizeStatus?.() ?? null]);
    return c.json(resize ? { nodeId: deps.nodeId, shards: info, resize } : { nodeId: deps.nodeId, shards: info }, 200);
  });

  // Served by admin-nodes-route.ts (the membership's view); described here with the other /admin routes.
  app.openAPIRegistry.registerPath(
    createRoute({
      method: "get",
      path: "/admin/nodes",
      summary: "The live nodes (node registry): address, owned shards, pool load",
      responses: { 200: json(NodesResponse, "every live node"), 404: json(ErrorResponse, "this node keeps no node registry"), ...commonErrors },
    }),
  );

  const stats = createRoute({
    method: "get",
    path: "/admin/stats",
    summary: "This node's last 5 minutes, one point per second: tasks started and their lateness",
    responses: { 200: json(StatsResponse, "per-second series, oldest first"), ...commonErrors },
  });
  app.openapi(stats, (c) =>
    c.json({ nodeId: deps.nodeId, now: Date.now(), startedAt: deps.startedAt, pool: deps.pool(), series: deps.series(300) }, 200),
  );
}
