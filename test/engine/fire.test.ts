// Tasks fire at their due time, once; far-future tasks are stored, not held in memory.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { z } from "zod";
import { defineTask } from "../../src/task/define-task.ts";
import { Client } from "../../src/client/client.ts";
import type { TickwheelNode } from "../../src/node/node.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, startInProcessNode } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";

const starts = new Map<string, number[]>();
const fireTask = defineTask("fire.record", z.object({ tag: z.string() }), (args, ctx) => {
  const list = starts.get(ctx.id) ?? [];
  list.push(Date.now());
  starts.set(ctx.id, list);
  return { tag: args.tag, attempt: ctx.attempt };
});

let redis: RedisProcess;
let node: TickwheelNode;
let client: Client;

beforeAll(async () => {
  redis = await startRedis();
  const prefix = randomPrefix("fire");
  node = await startInProcessNode({ redisUrl: redis.url, prefix });
  client = new Client({ redisUrl: redis.url, prefix });
});

afterAll(async () => {
  await client?.close();
  await node?.stop();
  await redis?.cleanup();
});

describe("firing", () => {
  test("tasks due 20 ms, 200 ms and 3 s ahead fire at their time, once", async () => {
    const delays = [20, 200, 3000];
    const scheduled = await Promise.all(
      delays.map((delay) => client.schedule(fireTask, { tag: `d${delay}` }, { delay })),
    );
    await waitFor(() => scheduled.every((s) => (starts.get(s.id)?.length ?? 0) >= 1), {
      timeoutMs: 10_000,
      message: "all three tasks to start",
    });
    // Let any duplicate show up before counting.
    await waitFor(async () => (await Promise.all(scheduled.map((s) => client.get(s.id)))).every((t) => t?.state === "succeeded"), {
      timeoutMs: 5_000,
      message: "all three to succeed",
    });
    for (const s of scheduled) {
      const times = starts.get(s.id)!;
      expect(times.length).toBe(1);
      const lateness = times[0]! - s.dueAt;
      console.log(`task ${s.id}: lateness ${lateness} ms`);
      expect(lateness).toBeGreaterThanOrEqual(0);
      // Generous bound: the machine is shared; precision is measured by the benchmark.
      expect(lateness).toBeLessThan(500);
      const view = await client.get(s.id);
      expect(view?.state).toBe("succeeded");
      expect(view?.attempt).toBe(1);
      expect(view?.result).toEqual({ tag: expect.stringMatching(/^d\d+$/), attempt: 1 });
    }
  });

  test("a task due in a year is stored and listed with its due time, and not loaded into memory", async () => {
    const runAt = Date.now() + 365 * 86_400_000;
    const result = await client.schedule(fireTask, { tag: "year" }, { runAt });
    expect(result.created).toBe(true);
    expect(result.dueAt).toBe(runAt);
    const view = await client.get(result.id);
    expect(view).toMatchObject({ id: result.id, name: "fire.record", state: "scheduled", dueAt: runAt, attempt: 0 });
    const listed = await client.list({ state: "scheduled", name: "fire.record", limit: 500 });
    expect(listed.tasks.find((t) => t.id === result.id)).toMatchObject({ id: result.id, dueAt: runAt });
    const shard = (await node.shardInfo()).find((s) => s.shard === result.shard)!;
    // Beyond the cold horizon: it waits in the shard's cold tier, counted among the scheduled.
    expect(shard.dueCount).toBeGreaterThanOrEqual(1);
    expect(shard.coldCount).toBeGreaterThanOrEqual(1);
    expect(node.actor(result.shard)?.stats().windowSize ?? 0).toBe(0);
  });
});
