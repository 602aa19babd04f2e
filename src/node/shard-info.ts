/**
 * One shard as a node reports it (GET /admin/shards, the dashboard, `tickwheel
 * shards`). The schema is the one declaration: the type is inferred from it,
 * the node builds values of it, the HTTP API documents and serves it, and the
 * CLI reads it. It lives beside the node (which produces it) so the node does
 * not import the HTTP layer.
 */
import { z } from "@hono/zod-openapi";

export const ShardInfoSchema = z
  .object({
    shard: z.number(),
    owner: z.string().nullable(),
    epoch: z.number().nullable(),
    ownedHere: z.boolean(),
    dueCount: z.number().openapi({ description: "scheduled tasks, cold ones included" }),
    coldCount: z.number().openapi({ description: "of those, how many wait in the cold tier (due beyond TICKWHEEL_COLD_AFTER_MS when scheduled)" }),
    inFlight: z.number(),
    dead: z.number(),
    nextDueAt: z.number().nullable().openapi({ description: "earliest due time in the shard's due index (cold tasks, due beyond the cold horizon, are not looked at)" }),
    windowSize: z.number().nullable(),
    fired: z.number().nullable(),
    latenessP50Ms: z.number().nullable(),
    latenessP99Ms: z.number().nullable(),
  })
  .openapi("ShardInfo");

export type ShardInfo = z.infer<typeof ShardInfoSchema>;
