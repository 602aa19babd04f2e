/**
 * GET /admin/cluster-stats: the dashboard's charts and counters for the
 * whole cluster (issue 15). Each node serves only its own per-second series
 * (/admin/stats); this route asks every live node of the registry for its
 * series at the address the node advertises (this node's own series is read
 * in process), and sums them second by second: tasks started add up; of
 * lateness the worst node's p50, p99 and max are shown (percentiles of
 * different nodes cannot be added, and the worst is the operator's
 * question). `?node=ID` answers one node's series the same way (the
 * per-node view). A node that does not answer within NODE_TIMEOUT_MS is
 * listed with its error and left out of the sums.
 */
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { TimelinePoint } from "../metrics/timeline.ts";
import type { NodeView } from "../ownership/node-registry-view.ts";
import { errorBody } from "./errors.ts";
import { commonErrors, json } from "./responses.ts";
import { ErrorResponse, StatsResponse } from "./schemas.ts";

/** A slow node must not hold the chart of every other: answer without it. */
const NODE_TIMEOUT_MS = 1500;
/** Seconds of series, as /admin/stats. */
const SERIES_SECONDS = 300;

interface NodeStats {
  nodeId: string;
  now: number;
  startedAt: number;
  pool: { inFlight: number; concurrency: number };
  series: TimelinePoint[];
}

interface ClusterStatsDeps {
  nodeId: string;
  startedAt: number;
  series(seconds: number): TimelinePoint[];
  pool(): { inFlight: number; concurrency: number };
  nodes?: () => Promise<NodeView[]>;
}

const ClusterStatsResponse = StatsResponse.extend({
  scope: z.enum(["cluster", "node"]),
  nodes: z.array(z.object({ id: z.string(), address: z.string().nullable(), ok: z.boolean(), error: z.string().optional() })),
}).openapi("ClusterStats");

const ClusterStatsQuery = z.strictObject({
  node: z.string().min(1).max(200).optional().openapi({ param: { name: "node", in: "query" }, description: "one node's series (the per-node view)" }),
});

export function registerClusterStatsRoute(app: OpenAPIHono, deps: ClusterStatsDeps): void {
  const route = createRoute({
    method: "get",
    path: "/admin/cluster-stats",
    summary: "The last 5 minutes summed over every live node (or one node's): tasks started per second, worst lateness",
    request: { query: ClusterStatsQuery },
    responses: { 200: json(ClusterStatsResponse, "per-second series, oldest first"), 404: json(ErrorResponse, "no live node with this id"), ...commonErrors },
  });
  app.openapi(route, async (c) => {
    const { node: only } = c.req.valid("query");
    const own: NodeStats = { nodeId: deps.nodeId, now: Date.now(), startedAt: deps.startedAt, pool: deps.pool(), series: deps.series(SERIES_SECONDS) };
    const live: { id: string; address: string | null; self: boolean }[] = deps.nodes ? await deps.nodes() : [{ id: deps.nodeId, address: null, self: true }];
    const wanted = only === undefined ? live : live.filter((node) => node.id === only);
    if (wanted.length === 0) return c.json(errorBody("not_found", `no live node "${only}"`), 404);
    const authorization = c.req.header("authorization");
    const answers = await Promise.all(
      wanted.map(async (node) => {
        if (node.self || node.id === deps.nodeId) return { node, stats: own };
        try {
          if (!node.address) throw new Error("the node advertises no address");
          const response = await fetch(`${node.address.replace(/\/+$/, "")}/admin/stats`, {
            headers: authorization ? { authorization } : {},
            signal: AbortSignal.timeout(NODE_TIMEOUT_MS),
          });
          if (!response.ok) throw new Error(`answered ${response.status}`);
          return { node, stats: (await response.json()) as NodeStats };
        } catch (error) {
          return { node, error: String((error as Error)?.message ?? error) };
        }
      }),
    );
    const reached = answers.flatMap((answer) => ("stats" in answer && answer.stats ? [answer.stats] : []));
    return c.json(
      {
        nodeId: deps.nodeId,
        now: own.now,
        startedAt: Math.min(...reached.map((stats) => stats.startedAt), own.startedAt),
        pool: {
          inFlight: reached.reduce((sum, stats) => sum + stats.pool.inFlight, 0),
          concurrency: reached.reduce((sum, stats) => sum + stats.pool.concurrency, 0),
        },
        series: sumSeries(reached.map((stats) => stats.series)),
        scope: only === undefined ? ("cluster" as const) : ("node" as const),
        nodes: answers.map((answer) => ({
          id: answer.node.id,
          address: answer.node.address,
          ok: !("error" in answer),
          ...("error" in answer && answer.error !== undefined ? { error: answer.error } : {}),
        })),
      },
      200,
    );
  });
}

/** Second by second (by t): started tasks summed, lateness the worst node's. */
export function sumSeries(seriesList: TimelinePoint[][]): TimelinePoint[] {
  const bySecond = new Map<number, TimelinePoint>();
  for (const series of seriesList) {
    for (const point of series) {
      const sum = bySecond.get(point.t);
      if (!sum) {
        bySecond.set(point.t, { ...point });
        continue;
      }
      sum.fired += point.fired;
      sum.latenessP50Ms = worst(sum.latenessP50Ms, point.latenessP50Ms);
      sum.latenessP99Ms = worst(sum.latenessP99Ms, point.latenessP99Ms);
      sum.latenessMaxMs = worst(sum.latenessMaxMs, point.latenessMaxMs);
    }
  }
  return [...bySecond.values()].sort((a, b) => a.t - b.t);
}

function worst(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}
