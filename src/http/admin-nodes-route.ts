/**
 * GET /admin/nodes: the live nodes of the cluster as the node registry shows
 * them (id, address, start time, version, owned shards, pool load), the
 * same answer from whichever node is asked. Its own file so the HTTP app
 * registers it with one line.
 */
import type { Hono } from "hono";
import type { NodeView } from "../ownership/node-registry-view.ts";

interface AdminNodesSource {
  readonly nodeId: string;
  /** Absent on nodes without membership (route answers 404 then). */
  nodes?: () => Promise<NodeView[]>;
}

// Hono's generics differ between Hono and OpenAPIHono; only `get` is needed here.
type RouteTarget = Pick<Hono, "get">;

export function registerAdminNodesRoute(app: RouteTarget, node: AdminNodesSource): void {
  app.get("/admin/nodes", async (c) => {
    if (!node.nodes) return c.json({ error: { code: "not_found", message: "this node keeps no node registry" } }, 404);
    return c.json({ nodeId: node.nodeId, nodes: await node.nodes() });
  });
}
