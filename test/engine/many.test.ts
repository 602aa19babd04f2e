// 10,000 tasks with random due times over 3 s: each fires exactly once, none before its due time.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { z } from "zod";
import { defineTask } from "../../src/task/define-task.ts";
import { Client } from "../../src/client/client.ts";
import type { TickwheelNode } from "../../src/node/node.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, startInProcessNode } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";
import { shardKeys } from "../../src/store/keys.ts";
import { redisCommand } from "../../src/node/embedded-redis.ts";

const startCount = new Map<string, number>();
const lateness: number[] = [];
const manyTask = defineTask("many.noop", z.object({}), (_args, ctx) => {
  startCount.set(ctx.id, (startCount.get(ctx.id) ?? 0) + 1);
  lateness.push(Date.now() - ctx.dueAt);
});

let redis: RedisProcess;
let node: TickwheelNode;
let client: Client;
const prefix = randomPrefix("many");

beforeAll(async () => {
  redis = await startRedis();
  node = await startInProcessNode({ redisUrl: redis.url, prefix, env: { TICKWHEEL_SHARDS: "8", TICKWHEEL_CONCURRENCY: "256" } });
  client = new Client({ redisUrl: redis.url, prefix });
});

afterAll(async () => {
  await client?.close();
  await node?.stop();
  await redis?.cleanup();
});

test("10,000 tasks over 3 s fire exactly once and never early", async () => {
  const count = 10_000;
  const base = Date.now() + 500;
  const requests = Array.from({ length: count }, () => ({
    task: manyTask,
    args: {},
    options: { runAt: base + Math.floor(Math.random() * 3000) },
  }));
  const results = await client.scheduleMany(requests);
  const ids = results.map((r) => {
    if (r instanceof Error) throw r;
    return r.id;
  });
  expect(new Set(ids).size).toBe(count);
  await waitFor(() => startCount.size === count, { timeoutMs: 30_000, intervalMs: 100, message: `${count} tasks to start` });
  // Give duplicates (if any) time to show before asserting exactly-once.
  await waitFor(() => node.completer.pendingCount === 0 && node.pool.inFlight === 0, { timeoutMs: 10_000, message: "acks to flush" });
  await Bun.sleep(300);
  expect([...startCount.values()].every((n) => n === 1)).toBe(true);
  expect(startCount.size).toBe(count);
  const sorted = [...lateness].sort((a, b) => a - b);
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
  console.log(`10,000 tasks: lateness p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${sorted[sorted.length - 1]} ms, early ${sorted.filter((l) => l < 0).length}`);
  expect(sorted[0]!).toBeGreaterThanOrEqual(0);
  const succeeded = (await Promise.all(ids.slice(0, 200).map((id) => client.get(id)))).filter((t) => t?.state === "succeeded");
  expect(succeeded.length).toBe(200);
  // Every claimed batch ended, so its bookkeeping went with the last finish: nothing is left
  // for a reaper to look at.
  const leftover = async () => {
    let n = 0;
    for (let shard = 0; shard < 8; shard++) {
      const keys = shardKeys(prefix, shard);
      for (const command of [["ZCARD", keys.claims], ["HLEN", keys.batches], ["HLEN", keys.tasks]]) n += Number(await redisCommand(redis.port, command));
    }
    return n;
  };
  await waitFor(async () => (await leftover()) === 0, { timeoutMs: 5_000, message: "claimed batches' entries to be dropped" });
}, 60_000);
