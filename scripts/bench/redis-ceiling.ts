/**
 * `bun scripts/bench/redis-ceiling.ts`: how fast Redis alone can claim and
 * finish tasks with tickwheel's scripts, without a node: five loops, each
 * claiming 1,000 due tasks of a shard and finishing them in two calls of 500,
 * over 100,000 tasks in 16 shards. It prints the rate and Redis' CPU per task
 * for claims alone and for claims plus finishes: the ceiling of the burst
 * case on one Redis core, whatever the node does.
 */
import { startRedis } from "../../test/helpers/redis-server.ts";
import { Store } from "../../src/store/store.ts";
import type { FinishItem } from "../../src/store/outcomes.ts";
import { Client } from "../../src/client/client.ts";
import { decodeRecord, finalTailOf } from "../../src/task/codec.ts";
import { cpuSeconds } from "./process-stats.ts";

const TASKS = 100_000;
const SHARDS = 16;
const LOOPS = 5;

async function measure(withFinish: boolean): Promise<void> {
  const redis = await startRedis();
  const store = new Store({ redisUrl: redis.url, prefix: "tw" });
  const client = new Client({ redisUrl: redis.url, shards: SHARDS });
  try {
    const dueMs = Date.now() + 3_000;
    for (let start = 0; start < TASKS; start += 10_000) {
      await client.scheduleMany(Array.from({ length: 10_000 }, (_, i) => ({ task: "bench.noop", args: { userId: start + i }, options: { runAt: dueMs } })));
    }
    const tokens: string[] = [];
    for (let shard = 0; shard < SHARDS; shard++) {
      const lease = await store.leases.acquire(shard, "ceiling", 600_000);
      if (!lease.acquired) throw new Error("lease not acquired");
      tokens.push(lease.token);
    }
    await Bun.sleep(Math.max(0, dueMs - Date.now() + 5));
    const redisCpu = cpuSeconds(redis.pid);
    const began = performance.now();
    let claimed = 0;
    let nextShard = 0;
    const drained = new Set<number>();
    const finishes: Promise<unknown>[] = [];
    const loop = async () => {
      while (drained.size < SHARDS) {
        const shard = nextShard++ % SHARDS;
        if (drained.has(shard)) continue;
        const batch = await store.attempts.claim(shard, tokens[shard]!, Date.now() + 1, 1_000, Date.now() + 60_000);
        if (batch === "lease") throw new Error("lease lost");
        if (batch === null) {
          drained.add(shard);
          continue;
        }
        claimed += batch.tasks.length;
        if (!withFinish) continue;
        const now = Date.now();
        // The final record's tail as the completer sends it (the script adds the spec).
        const items: FinishItem[] = batch.tasks.map((task) => {
          const { attempt, dueMs, specJson } = decodeRecord(task.record);
          const finalTail = finalTailOf({ attempt: attempt + 1, dueAt: dueMs, finishedAt: now });
          return { id: task.id, batch: batch.batch, state: "succeeded", finishedAt: now, finalTail, ttlMs: 86_400_000 };
        });
        for (let i = 0; i < items.length; i += 500) {
          const done = i + 500 >= items.length ? [batch.batch] : [];
          finishes.push(store.attempts.finish(shard, tokens[shard]!, now, 604_800_000, items.slice(i, i + 500), done));
        }
      }
    };
    await Promise.all(Array.from({ length: LOOPS }, loop));
    await Promise.all(finishes);
    const seconds = (performance.now() - began) / 1000;
    const cpu = cpuSeconds(redis.pid) - redisCpu;
    console.log(
      `${withFinish ? "claim + finish" : "claim only    "}: ${Math.round(claimed / seconds).toLocaleString("en-US")} tasks/s, ` +
        `Redis at ${Math.round((100 * cpu) / seconds)} % of a core, ${((cpu / claimed) * 1e6).toFixed(1)} µs of Redis CPU per task`,
    );
  } finally {
    await store.quit();
    await client.close();
    await redis.cleanup();
  }
}

await measure(false);
await measure(true);
