// Fencing inside Redis: only the current lease token can claim, finish, retry, reap or extend;
// a new acquisition gets a new epoch.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Store, LEASE_LOST } from "../../src/store/store.ts";
import { resolveTask, DEFAULT_TASK_DEFAULTS } from "../../src/task/schedule-input.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix } from "../helpers/node.ts";

let redis: RedisProcess;
let store: Store;

beforeAll(async () => {
  redis = await startRedis();
  store = new Store({ redisUrl: redis.url, prefix: randomPrefix("fence") });
});
afterAll(async () => {
  await store.quit();
  await redis.cleanup();
});

function task(id: string, dueMs: number) {
  return resolveTask("fence.task", {}, { id, runAt: dueMs }, { nowMs: Date.now(), shardCount: 1, defaults: DEFAULT_TASK_DEFAULTS, requireTime: true });
}

test("leases carry increasing epochs, and only the holder can renew or release", async () => {
  const first = await store.leaseAcquire(0, "node-a", 200);
  expect(first.acquired).toBe(true);
  const taken = await store.leaseAcquire(0, "node-b", 200);
  expect(taken).toMatchObject({ acquired: false, holder: (first as { token: string }).token });
  expect(await store.leaseRenew(0, "node-b:99", 200)).toBe(false);
  expect(await store.leaseRelease(0, "node-b:99")).toBe(false);
  await Bun.sleep(300);
  const second = await store.leaseAcquire(0, "node-b", 5000);
  expect(second.acquired).toBe(true);
  const epochOf = (token: string) => Number(token.split(":")[1]);
  expect(epochOf((second as { token: string }).token)).toBeGreaterThan(epochOf((first as { token: string }).token));
  expect(await store.leaseRenew(0, (first as { token: string }).token, 5000)).toBe(false);
  expect(await store.leaseRelease(0, (second as { token: string }).token)).toBe(true);
});

test("a stale token can claim, finish, retry, reap and extend nothing", async () => {
  const acquired = await store.leaseAcquire(0, "owner", 10_000);
  if (!acquired.acquired) throw new Error("lease not acquired");
  const token = acquired.token;
  const stale = "owner:0";
  const t = task("fenced-1", Date.now() - 10);
  await store.schedule(0, [{ id: t.id, score: t.score, record: t.record }], 0);

  expect(await store.claim(0, stale, Date.now() + 1, 10, Date.now() + 5000)).toBe(LEASE_LOST);
  const claimed = await store.claim(0, token, Date.now() + 1, 10, Date.now() + 5000);
  expect(claimed).not.toBe(LEASE_LOST);
  expect((claimed as { id: string }[]).map((c) => c.id)).toEqual(["fenced-1"]);

  const item = { id: "fenced-1", attempt: 1, state: "succeeded" as const, finishedAt: Date.now(), extraJson: "", ttlMs: 60_000 };
  expect(await store.finish(0, stale, Date.now(), 60_000, [item])).toBe(LEASE_LOST);
  expect(await store.retry(0, stale, "fenced-1", 1, String(Date.now()), "boom")).toBe(LEASE_LOST);
  expect(await store.reap(0, stale, Date.now() + 60_000, 10)).toBe(LEASE_LOST);
  expect(await store.extend(0, stale, Date.now() + 60_000, ["fenced-1"])).toBe(LEASE_LOST);
  expect((await store.inspect(0, "fenced-1")).kind).toBe("running");

  // A finish for another attempt is skipped; the right one ends the task.
  expect(await store.finish(0, token, Date.now(), 60_000, [{ ...item, attempt: 2 }])).toEqual([false]);
  expect(await store.finish(0, token, Date.now(), 60_000, [item])).toEqual([true]);
  expect((await store.inspect(0, "fenced-1")).kind).toBe("final");
  await store.leaseRelease(0, token);
});

test("reap returns attempts past their visibility deadline to due, at their original score", async () => {
  const acquired = await store.leaseAcquire(0, "reaper", 10_000);
  if (!acquired.acquired) throw new Error("lease not acquired");
  const t = task("reaped-1", Date.now() - 5);
  await store.schedule(0, [{ id: t.id, score: t.score, record: t.record }], 0);
  await store.claim(0, acquired.token, Date.now() + 1, 10, Date.now() + 50);
  expect(await store.reap(0, acquired.token, Date.now(), 10)).toEqual([]);
  await Bun.sleep(80);
  expect(await store.reap(0, acquired.token, Date.now(), 10)).toEqual([{ id: "reaped-1", score: t.score }]);
  const view = await store.inspect(0, "reaped-1");
  expect(view.kind).toBe("scheduled");
  await store.leaseRelease(0, acquired.token);
});
