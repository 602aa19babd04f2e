// GET /admin/cluster-stats (issue 15): two real nodes on one redis-server share the work; the
// cluster series is the sum of what each node serves at /admin/stats (asked over HTTP at the
// address it advertises), `?node=ID` is that node's own, an unknown node is 404, and a node that
// cannot be reached is named rather than failing the whole answer.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { z } from "zod";
import { defineTask } from "../../src/task/define-task.ts";
import type { TickwheelNode } from "../../src/node/node.ts";
import { Client } from "../../src/client/client.ts";
import { sumSeries } from "../../src/http/cluster-stats-route.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, startInProcessNode } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";

const TOKEN = "cluster-stats-token-0123456789";
let finished = 0;
defineTask("cs.work", z.object({}), () => {
  finished++;
});

let redis: RedisProcess;
let nodes: TickwheelNode[] = [];
let client: Client;

const get = async (node: TickwheelNode, path: string) => {
  const response = await fetch(`${node.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return { status: response.status, body: (await response.json()) as any };
};
const firedIn = (series: { fired: number }[]) => series.reduce((sum, point) => sum + point.fired, 0);

beforeAll(async () => {
  redis = await startRedis();
  const prefix = randomPrefix("cstats");
  const env = { TICKWHEEL_API_TOKEN: TOKEN, TICKWHEEL_SHARDS: "8", TICKWHEEL_HEARTBEAT_MS: "200" };
  nodes = [await startInProcessNode({ redisUrl: redis.url, prefix, env }), await startInProcessNode({ redisUrl: redis.url, prefix, env })];
  client = new Client({ redisUrl: redis.url, prefix });
}, 30_000);

afterAll(async () => {
  await client?.close();
  for (const node of nodes) await node.stop();
  await redis?.cleanup();
});

test("the cluster series sums every live node's; ?node= is one node's; unknown node 404", async () => {
  const [a, b] = nodes as [TickwheelNode, TickwheelNode];
  // Both nodes own shards once they see each other.
  await waitFor(async () => {
    const seen = (await get(a, "/admin/nodes")).body.nodes;
    return seen.length === 2 && seen.every((node: any) => node.shards.length > 0);
  }, { timeoutMs: 20_000, message: "both nodes to own shards" });
  const now = Date.now();
  await client.scheduleMany(Array.from({ length: 400 }, (_, i) => ({ task: "cs.work", args: {}, options: { runAt: now + 100 + (i % 10) * 50 } })));
  await waitFor(() => finished >= 400, { timeoutMs: 15_000, message: "tasks to run" });

  // A node's series shows whole seconds: wait until the last second of the burst is in both.
  let ownA = 0;
  let ownB = 0;
  await waitFor(async () => {
    ownA = firedIn((await get(a, "/admin/stats")).body.series);
    ownB = firedIn((await get(b, "/admin/stats")).body.series);
    return ownA + ownB === 400;
  }, { timeoutMs: 10_000, message: "both series to count every start" });
  expect(ownA).toBeGreaterThan(0);
  expect(ownB).toBeGreaterThan(0);
  expect(ownA + ownB).toBe(400);
  for (const asked of [a, b]) {
    const cluster = await get(asked, "/admin/cluster-stats");
    expect(cluster.status).toBe(200);
    expect(cluster.body.scope).toBe("cluster");
    expect(cluster.body.nodes.map((node: any) => node.id).sort()).toEqual([a.nodeId, b.nodeId].sort());
    expect(cluster.body.nodes.every((node: any) => node.ok)).toBe(true);
    expect(firedIn(cluster.body.series)).toBe(400);
    expect(cluster.body.pool.concurrency).toBe(a.pool.concurrency + b.pool.concurrency);
  }
  const onlyB = await get(a, `/admin/cluster-stats?node=${encodeURIComponent(b.nodeId)}`);
  expect(onlyB.body.scope).toBe("node");
  expect(firedIn(onlyB.body.series)).toBe(ownB);
  expect((await get(a, "/admin/cluster-stats?node=nobody")).status).toBe(404);
  expect((await fetch(`${a.url}/admin/cluster-stats`)).status).toBe(401);
}, 60_000);

test("sumSeries adds starts per second and keeps the worst lateness", () => {
  const point = (t: number, fired: number, p99: number | null) => ({ t, fired, latenessP50Ms: p99, latenessP99Ms: p99, latenessMaxMs: p99 });
  expect(sumSeries([[point(1, 2, 3), point(2, 1, null)], [point(2, 5, 7), point(3, 1, 1)]])).toEqual([point(1, 2, 3), point(2, 6, 7), point(3, 1, 1)]);
});
