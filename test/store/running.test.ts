// Running tasks have no sorted index of their own (a batch per claim, an owner entry per task):
// listing them pages through the owner hash in id order, with the batch's visibility deadline.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Store, LEASE_LOST } from "../../src/store/store.ts";
import { resolveTask, DEFAULT_TASK_DEFAULTS } from "../../src/task/schedule-input.ts";
import { decodeRecord } from "../../src/task/codec.ts";
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

function item(name: string, id: string) {
  const t = resolveTask(name, {}, { id, runAt: Date.now() - 5 }, { nowMs: Date.now(), shardCount: 1, defaults: DEFAULT_TASK_DEFAULTS, requireTime: true });
  return { id: t.id, score: t.score, record: t.record };
}

test("running tasks list page by page in id order, with a name filter, their attempt and deadline", async () => {
  const lease = await store.leaseAcquire(0, "lister", 10_000);
  if (!lease.acquired) throw new Error("lease not acquired");
  const ids = ["r-3", "r-1", "r-4", "r-0", "r-2"];
  await store.schedule(0, [...ids.map((id) => item("list.run", id)), item("list.other", "o-1")], 0);
  const deadline = Date.now() + 60_000;
  const claimed = await store.claim(0, lease.token, Date.now() + 1, 100, deadline);
  if (claimed === LEASE_LOST || claimed === null) throw new Error("nothing claimed");
  expect(claimed.tasks).toHaveLength(6);

  const seen: string[] = [];
  let after: { score: string; id: string } | null = null;
  let pages = 0;
  do {
    const page = await store.listPage(0, "running", after, 2, 100, "list.run");
    expect(page.entries.length).toBeLessThanOrEqual(2);
    for (const entry of page.entries) {
      seen.push(entry.id);
      expect(Number(entry.score)).toBe(deadline);
      // Stored attempts count what was used up; a running task shows the attempt it is on.
      expect(decodeRecord(entry.record).attempt).toBe(1);
    }
    after = page.next;
    pages++;
  } while (after && pages < 10);
  expect(seen).toEqual(["r-0", "r-1", "r-2", "r-3", "r-4"]);
  const all = await store.listPage(0, "running", null, 50, 100, null);
  expect(all.entries.map((e) => e.id)).toEqual(["o-1", "r-0", "r-1", "r-2", "r-3", "r-4"]);
  expect(all.next).toBeNull();
  expect((await store.shardStats(0)).runningCount).toBe(6);
  await store.leaseRelease(0, lease.token);
});
