/**
 * The node's HTTP app (Hono). Routes are registered once, here, before the
 * first request; every error leaves through one handler in one JSON shape.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Client } from "../client/client.ts";
import type { ShardInfo } from "../node/node.ts";
import type { Logger } from "../node/log.ts";
import { handleError, zodErrorBody } from "./errors.ts";
import { registerTaskRoutes } from "./tasks-routes.ts";

/** What the app needs from the node (an interface, so routes test without a whole node). */
export interface AppNode {
  readonly nodeId: string;
  readonly client: Client;
  readonly ready: boolean;
  readonly log: Logger;
  readonly config: { maxArgsBytes: number };
  shardInfo(): Promise<ShardInfo[]>;
}

export function createApp(node: AppNode): OpenAPIHono {
  const app = new OpenAPIHono({
    defaultHook: (result, c) => {
      if (!result.success) return c.json(zodErrorBody(result.error.issues as never), 400);
    },
  });

  app.onError((error, c) => handleError(error, c, (e) => node.log.error({ err: String((e as Error)?.stack ?? e) }, "request failed")));
  app.notFound((c) => c.json({ error: { code: "not_found", message: `no route ${c.req.method} ${c.req.path}` } }, 404));

  app.get("/health", (c) => c.json({ ok: true, nodeId: node.nodeId }));
  app.get("/ready", (c) => {
    const ready = node.ready;
    return c.json({ ready, nodeId: node.nodeId }, ready ? 200 : 503);
  });
  app.get("/admin/shards", async (c) => c.json({ nodeId: node.nodeId, shards: await node.shardInfo() }));

  registerTaskRoutes(app, { client: node.client, maxArgsBytes: node.config.maxArgsBytes });

  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: { title: "tickwheel", version: "1", description: "Durable delayed tasks fired to the millisecond." },
  });
  return app;
}
