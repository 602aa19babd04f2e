// Recurring schedules on a Redis Cluster of 3 masters: every schedule script touches one shard's
// keys (one hash slot), so schedules whose shards sit on different masters all plant and fire,
// once per occurrence, and pause, list and delete work as on one Redis.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { z } from "zod";
import { defineTask } from "../../src/task/define-task.ts";
import { Client } from "../../src/client/client.ts";
import { parseOccurrenceId } from "../../src/task/occurrence-id.ts";
import type { TickwheelNode } from "../../src/node/node.ts";
import { startRedisCluster, type RedisClusterProcess } from "../helpers/redis-server.ts";
import { randomPrefix, startInProcessNode } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";

const SHARDS = 6;
const runs = new Map<string, { atMs: number; startMs: number }[]>();
defineTask("cl.sched", z.object({}), (_args, ctx) => {
  const ref = parseOccurrenceId(ctx.id);
  if (!ref) return;
  const list = runs.get(ref.schedule) ?? [];
  list.push({ atMs: ref.atMs, startMs: Date.now() });
  runs.set(ref.schedule, list);
});

let cluster: RedisClusterProcess;
let nodes: TickwheelNode[] = [];
let client: Client;

beforeAll(async () => {
  cluster = await startRedisCluster();
  const prefix = randomPrefix("clsched");
  const options = { clusterNodes: cluster.seeds, prefix, env: { TICKWHEEL_SHARDS: String(SHARDS) } };
  nodes = [
    await startInProcessNode({ ...options, env: { ...options.env, TICKWHEEL_NODE_ID: "s1" } }),
    await startInProcessNode({ ...options, env: { ...options.env, TICKWHEEL_NODE_ID: "s2" } }),
  ];
  client = new Client({ clusterNodes: cluster.seeds.split(","), prefix });
}, 60_000);

afterAll(async () => {
  await client?.close();
  await Promise.all(nodes.map((node) => node.stop()));
  await cluster?.cleanup();
});

test("schedules on every shard fire once per occurrence, never early; pause, list and delete work", async () => {
  const names = Array.from({ length: 12 }, (_, i) => `cl-${i}`);
  const shards = new Set<number>();
  for (const name of names) {
    const { schedule } = await client.schedules.put(name, { every: "300ms", task: { name: "cl.sched" } });
    shards.add(schedule.shard);
  }
  // Shards 0..5 have their hash tags on all three masters; these names cover most of them.
  expect(shards.size).toBeGreaterThanOrEqual(4);
  await waitFor(() => names.every((name) => (runs.get(name)?.length ?? 0) >= 4), { timeoutMs: 20_000, intervalMs: 100, message: "4 runs of every schedule" });

  const paused = await client.schedules.pause("cl-0");
  expect(paused.paused).toBe(true);
  const listed = await client.schedules.list({ prefix: "cl-", limit: 500 });
  expect(listed.schedules.map((s) => s.name).sort()).toEqual([...names].sort());
  expect(listed.schedules.find((s) => s.name === "cl-0")?.paused).toBe(true);
  for (const name of names) expect((await client.schedules.delete(name)).deleted).toBe(true);
  await Bun.sleep(600);

  for (const name of names) {
    const list = runs.get(name)!;
    const times = list.map((run) => run.atMs);
    expect(new Set(times).size).toBe(times.length);
    for (const run of list) expect(run.startMs).toBeGreaterThanOrEqual(run.atMs);
  }
  // Nothing more after the deletes.
  const counts = names.map((name) => runs.get(name)!.length);
  await Bun.sleep(1_000);
  expect(names.map((name) => runs.get(name)!.length)).toEqual(counts);
}, 90_000);
