// Running tasks have no index of their own: listing reads the claimed batches (by deadline, each
// in claim order) and keeps the tasks whose record is still the one claimed.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Store } from "../../src/store/store.ts";
import { LEASE_LOST, type ClaimedBatch } from "../../src/store/outcomes.ts";
import { ShardMap } from "../../src/core/shard-map.ts";
import { resolveTask, DEFAULT_TASK_DEFAULTS } from "../../src/task/schedule-input.ts";
import { decodeRecord, finalTailOf } from "../../src/task/codec.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix } from "../helpers/node.ts";

let redis: RedisProcess;
let store: Store;

beforeAll(async () => {
  redis = await startRedis();
  store = new Store({ redisUrl: redis.url, prefix: randomPrefix("running") });
});
afterAll(async () => {
  await store.quit();
  await redis.cleanup();
});

function item(name: string, id: string, dueMs: number) {
  const t = resolveTask(name, {}, { id, runAt: dueMs }, { nowMs: Date.now(), shards: new ShardMap(1), defaults: DEFAULT_TASK_DEFAULTS, requireTime: true });
  return { id: t.id, score: t.score, record: t.record };
}

async function listAll(name: string | null, limit: number): Promise<{ ids: string[]; pages: number; scores: string[] }> {
  const ids: string[] = [];
  const scores: string[] = [];
  let after: { score: string; id: string } | null = null;
  let pages = 0;
  do {
    const page = await store.listings.listPage(new ShardMap(1), 0, "running", after, limit, 100, name);
    expect(page.entries.length).toBeLessThanOrEqual(limit);
    for (const entry of page.entries) {
      ids.push(entry.id);
      scores.push(entry.score);
      // Stored attempts count what was used up; a running task shows the attempt it is on.
      expect(decodeRecord(entry.record).attempt).toBe(1);
    }
    after = page.next;
    pages++;
  } while (after && pages < 20);
  return { ids, pages, scores };
}

test("running tasks list page by page across batches, in claim order, with a name filter, their attempt and deadline", async () => {
  const lease = await store.leases.acquire(0, "lister", 10_000);
  if (!lease.acquired) throw new Error("lease not acquired");
  const now = Date.now();
  // Scheduled out of order; due order is o-1, r-0 … r-4.
  const order = [3, 1, 4, 0, 2];
  await store.tasks.schedule(0, [...order.map((i) => item("list.run", `r-${i}`, now - 100 + 10 * i)), item("list.other", "o-1", now - 200)], 0);
  const claim = async (limit: number, deadline: number): Promise<ClaimedBatch> => {
    const claimed = await store.attempts.claim(0, lease.token, Date.now() + 1, limit, deadline);
    if (claimed === LEASE_LOST || claimed === null) throw new Error("nothing claimed");
    return claimed;
  };
  const first = await claim(3, now + 60_000);
  const second = await claim(10, now + 50_000);
  expect(first.tasks.map((t) => t.id)).toEqual(["o-1", "r-0", "r-1"]);
  expect(second.tasks.map((t) => t.id)).toEqual(["r-2", "r-3", "r-4"]);

  // The batch with the earlier deadline comes first.
  const named = await listAll("list.run", 2);
  expect(named.ids).toEqual(["r-2", "r-3", "r-4", "r-0", "r-1"]);
  expect(named.scores).toEqual([...Array(3).fill(String(now + 50_000)), ...Array(2).fill(String(now + 60_000))]);
  expect(named.pages).toBeGreaterThanOrEqual(3);
  expect((await listAll(null, 50)).ids).toEqual(["r-2", "r-3", "r-4", "o-1", "r-0", "r-1"]);
  expect((await store.listings.shardStats(0)).runningCount).toBe(6);

  // Ended, retried and parked tasks are running no more.
  const finishedAt = Date.now();
  const finalTail = finalTailOf({ attempt: 1, dueAt: now, finishedAt });
  expect(await store.attempts.finish(0, lease.token, finishedAt, 60_000, [{ id: "r-3", batch: second.batch, state: "succeeded", finishedAt, ttlMs: 60_000, finalTail }])).toEqual([true]);
  expect(await store.attempts.retry(0, lease.token, "r-0", first.batch, 1, String(Date.now() + 60_000), "boom")).toBe(true);
  expect(await store.attempts.park(0, lease.token, "r-4", second.batch, "list.run")).toBe("requeued");
  expect((await listAll(null, 50)).ids).toEqual(["r-2", "o-1", "r-1"]);
  expect((await store.listings.shardStats(0)).runningCount).toBe(3);
  await store.leases.release(0, lease.token);
});
