// Memory does not grow with what is pending: only the look-ahead window lives in a node's RAM.
// An idle node's RSS with 200,000 tasks a week out stays within a few MB of its RSS with none.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "../../src/client/client.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, ROOT, startNodeProcess, type NodeProcess } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";

let redis: RedisProcess;

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await redis?.cleanup();
});

function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

/** RSS after the node has been idle a while: the median of several samples, after the refills ran. */
async function settledRssKb(node: NodeProcess): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 7; i++) {
    await Bun.sleep(400);
    samples.push(rssKb(node.proc.pid));
  }
  return samples.sort((a, b) => a - b)[3]!;
}

test("an idle node's RSS with 200,000 tasks a week out is within a few MB of its RSS with none", async () => {
  const env = { TICKWHEEL_SHARDS: "16", TICKWHEEL_LOOKAHEAD_MS: "2000" };
  const tasks = join(ROOT, "test/fixtures/engine-tasks.ts");

  const emptyPrefix = randomPrefix("memempty");
  const empty = await startNodeProcess({ redisUrl: redis.url, prefix: emptyPrefix, tasksModule: tasks, env });
  let emptyRss: number;
  try {
    emptyRss = await settledRssKb(empty);
  } finally {
    await empty.terminate();
  }

  const fullPrefix = randomPrefix("memfull");
  const client = new Client({ redisUrl: redis.url, prefix: fullPrefix, shards: 16 });
  const weekOut = Date.now() + 7 * 86_400_000;
  for (let batch = 0; batch < 20; batch++) {
    const results = await client.scheduleMany(
      Array.from({ length: 10_000 }, (_, i) => ({
        task: "rec.noop",
        args: { userId: batch * 10_000 + i },
        options: { runAt: weekOut + i },
      })),
    );
    expect(results.every((r) => !(r instanceof Error) && r.created)).toBe(true);
  }
  await client.close();

  const full = await startNodeProcess({ redisUrl: redis.url, prefix: fullPrefix, tasksModule: tasks, env });
  try {
    // The node has looked at every shard's window (and found nothing due this week).
    await waitFor(async () => {
      const shards = (await (await fetch(`${full.url}/admin/shards`)).json()) as { shards: { dueCount: number; ownedHere: boolean }[] };
      return shards.shards.every((s) => s.ownedHere) && shards.shards.reduce((n, s) => n + s.dueCount, 0) === 200_000;
    }, { timeoutMs: 15_000, message: "node to own all shards with 200,000 pending" });
    const fullRss = await settledRssKb(full);
    console.log(`idle node RSS: ${Math.round(emptyRss / 1024)} MB with no tasks, ${Math.round(fullRss / 1024)} MB with 200,000 pending a week out`);
    expect(Math.abs(fullRss - emptyRss)).toBeLessThan(8 * 1024);
  } finally {
    await full.terminate();
  }
}, 90_000);
