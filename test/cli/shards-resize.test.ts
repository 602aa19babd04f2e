// `tickwheel shards resize N` and `tickwheel shards resize` against a real node (in process) on a
// real Redis: the resize starts, a second request is a conflict (exit 4), progress shows until the
// map is stable at N; a bad count is a usage error; /admin/shards carries the resize too; the
// resize metrics are exported.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import type { TickwheelNode } from "../../src/node/node.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, ROOT, startInProcessNode } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";

const ENTRY = join(ROOT, "src/cli/main.ts");
let redis: RedisProcess;
let node: TickwheelNode;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(["bun", ENTRY, ...args], { cwd: ROOT, env: { ...process.env, TICKWHEEL_URL: node.url! }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  redis = await startRedis();
  node = await startInProcessNode({ redisUrl: redis.url, prefix: randomPrefix("clirz"), env: { TICKWHEEL_SHARDS: "2" } });
  await node.client.scheduleMany(Array.from({ length: 50 }, (_, i) => ({ task: "clirz.task", args: { i }, options: { delay: "1h" } })));
});
afterAll(async () => {
  await node?.stop();
  await redis?.cleanup();
});

test("shards resize N starts a resize, a second one conflicts, progress shows until stable", async () => {
  const started = await cli(["shards", "resize", "4"]);
  expect(started.code).toBe(0);
  expect(started.stdout).toMatch(/^(preparing|resizing) 2 -> 4 shards/);
  const again = await cli(["shards", "resize", "8"]);
  expect(again.code).toBe(4);
  expect(again.stderr).toContain("a resize to 4 shards is running");
  const shards = (await (await fetch(`${node.url}/admin/shards`)).json()) as { resize?: { resizingTo: number | null } };
  expect(shards.resize).toBeDefined();
  await waitFor(async () => (await cli(["shards", "resize"])).stdout.startsWith("stable: 4 shards"), { timeoutMs: 30_000, intervalMs: 300, message: "stable at 4" });
  const json = JSON.parse((await cli(["shards", "resize", "--json"])).stdout) as { count: number; previousCount: number };
  expect(json).toMatchObject({ count: 4, previousCount: 2 });
  const metrics = await (await fetch(`${node.url}/metrics`)).text();
  expect(metrics).toMatch(/tickwheel_shards 4/);
  expect(metrics).toMatch(/tickwheel_resize_tasks_moved_total \d+/);
}, 60_000);

test("a bad count is refused naming what was expected", async () => {
  const bad = await cli(["shards", "resize", "lots"]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain("expected a shard count");
  const zero = await fetch(`${node.url}/admin/shards/resize`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ count: 0 }) });
  expect(zero.status).toBe(400);
  expect(((await zero.json()) as { error: { field: string } }).error.field).toBe("count");
});
