// Fencing inside Redis: only the current lease token can claim, finish, retry, reap or extend;
// a new acquisition gets a new epoch; an attempt's finish, retry and park count only in the batch
// that claimed it; the reaper returns what is still running in a batch past its deadline.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Store } from "../../src/store/store.ts";
import { LEASE_LOST, type ClaimedBatch, type FinishItem } from "../../src/store/outcomes.ts";
import { ShardMap } from "../../src/core/shard-map.ts";
import { shardKeys } from "../../src/store/keys.ts";
import { decodeRecord, finalTailOf } from "../../src/task/codec.ts";
import { resolveTask, DEFAULT_TASK_DEFAULTS } from "../../src/task/schedule-input.ts";
import { redisCommand } from "../../src/node/embedded-redis.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix } from "../helpers/node.ts";

let redis: RedisProcess;
let store: Store;
const prefix = randomPrefix("fence");

beforeAll(async () => {
  redis = await startRedis();
  store = new Store({ redisUrl: redis.url, prefix });
});
afterAll(async () => {
  await store.quit();
  await redis.cleanup();
});

function task(id: string, dueMs: number) {
  return resolveTask("fence.task", {}, { id, runAt: dueMs }, { nowMs: Date.now(), shards: new ShardMap(1), defaults: DEFAULT_TASK_DEFAULTS, requireTime: true });
}

test("leases carry increasing epochs, and only the holder can renew or release", async () => {
  const first = await store.leases.acquire(0, "node-a", 200);
  expect(first.acquired).toBe(true);
  const taken = await store.leases.acquire(0, "node-b", 200);
  expect(taken).toMatchObject({ acquired: false, holder: (first as { token: string }).token });
  expect(await store.leases.renew(0, "node-b:99", 200)).toBe(false);
  expect(await store.leases.release(0, "node-b:99")).toBe(false);
  await Bun.sleep(300);
  const second = await store.leases.acquire(0, "node-b", 5000);
  expect(second.acquired).toBe(true);
  const epochOf = (token: string) => Number(token.split(":")[1]);
  expect(epochOf((second as { token: string }).token)).toBeGreaterThan(epochOf((first as { token: string }).token));
  expect(await store.leases.renew(0, (first as { token: string }).token, 5000)).toBe(false);
  expect(await store.leases.release(0, (second as { token: string }).token)).toBe(true);
});

/** A finish item for a task claimed in `batch`; the final record is the one the completer would build. */
function finishItem(id: string, batch: string, ttlMs = 60_000): FinishItem {
  const finishedAt = Date.now();
  return { id, batch, state: "succeeded", finishedAt, ttlMs, finalTail: finalTailOf({ attempt: 1, dueAt: finishedAt, finishedAt }) };
}

async function claimAll(token: string, deadlineMs: number): Promise<ClaimedBatch> {
  const claimed = await store.attempts.claim(0, token, Date.now() + 1, 100, deadlineMs);
  if (claimed === LEASE_LOST || claimed === null) throw new Error(`nothing claimed: ${claimed}`);
  return claimed;
}

test("a stale token can claim, finish, retry, reap and extend nothing", async () => {
  const acquired = await store.leases.acquire(0, "owner", 10_000);
  if (!acquired.acquired) throw new Error("lease not acquired");
  const token = acquired.token;
  const stale = "owner:0";
  const t = task("fenced-1", Date.now() - 10);
  await store.tasks.schedule(0, [{ id: t.id, score: t.score, record: t.record }], 0);

  expect(await store.attempts.claim(0, stale, Date.now() + 1, 10, Date.now() + 5000)).toBe(LEASE_LOST);
  const claimed = await claimAll(token, Date.now() + 5000);
  expect(claimed.tasks.map((c) => c.id)).toEqual(["fenced-1"]);
  // The stored record counts attempts used up: none yet, so this claim runs attempt 1.
  expect(decodeRecord(claimed.tasks[0]!.record).attempt).toBe(0);

  const item = finishItem("fenced-1", claimed.batch);
  expect(await store.attempts.finish(0, stale, Date.now(), 60_000, [item])).toBe(LEASE_LOST);
  expect(await store.attempts.retry(0, stale, "fenced-1", claimed.batch, 1, String(Date.now()), "boom")).toBe(LEASE_LOST);
  expect(await store.attempts.reap(0, stale, Date.now() + 60_000, 10)).toBe(LEASE_LOST);
  expect(await store.attempts.extend(0, stale, Date.now() + 60_000, [claimed.batch])).toBe(LEASE_LOST);
  const running = await store.tasks.inspect(0, "fenced-1");
  expect(running.kind).toBe("running");
  expect(decodeRecord((running as { record: string }).record).attempt).toBe(1);

  // A finish naming another batch is skipped; the right one ends the task.
  expect(await store.attempts.finish(0, token, Date.now(), 60_000, [{ ...item, batch: `${claimed.batch}0` }])).toEqual([false]);
  expect(await store.attempts.finish(0, token, Date.now(), 60_000, [item], [claimed.batch])).toEqual([true]);
  expect((await store.tasks.inspect(0, "fenced-1")).kind).toBe("final");
  // The batch's own entries went with the last finish.
  const keys = shardKeys(prefix, 0);
  expect(await redisCommand(redis.port, ["ZCARD", keys.claims])).toBe(0);
  expect(await redisCommand(redis.port, ["HLEN", keys.batches])).toBe(0);
  expect((await store.listings.shardStats(0)).runningCount).toBe(0);
  await store.leases.release(0, token);
});

test("reap returns attempts past their visibility deadline to due, at their original score, counting the attempt", async () => {
  const acquired = await store.leases.acquire(0, "reaper", 10_000);
  if (!acquired.acquired) throw new Error("lease not acquired");
  const token = acquired.token;
  const t = task("reaped-1", Date.now() - 5);
  await store.tasks.schedule(0, [{ id: t.id, score: t.score, record: t.record }], 0);
  const first = await claimAll(token, Date.now() + 50);
  expect(await store.attempts.reap(0, token, Date.now(), 10)).toEqual({ entries: [], more: false });
  await Bun.sleep(80);
  expect(await store.attempts.reap(0, token, Date.now(), 10)).toEqual({ entries: [{ id: "reaped-1", score: t.score }], more: false });
  const view = await store.tasks.inspect(0, "reaped-1");
  expect(view.kind).toBe("scheduled");
  expect(decodeRecord((view as { record: string }).record).attempt).toBe(1);

  // Claimed again: attempt 2 runs in a new batch. The first attempt's late ack, retry or park
  // names the old batch and changes nothing.
  const second = await claimAll(token, Date.now() + 5000);
  expect(second.batch).not.toBe(first.batch);
  expect(decodeRecord(second.tasks[0]!.record).attempt).toBe(1);
  expect(await store.attempts.finish(0, token, Date.now(), 60_000, [finishItem("reaped-1", first.batch)])).toEqual([false]);
  expect(await store.attempts.retry(0, token, "reaped-1", first.batch, 1, String(Date.now()), "late")).toBe(false);
  expect(await store.attempts.park(0, token, "reaped-1", first.batch, "fence.task")).toBe("stale");
  expect((await store.tasks.inspect(0, "reaped-1")).kind).toBe("running");
  expect(await store.attempts.finish(0, token, Date.now(), 60_000, [finishItem("reaped-1", second.batch)], [second.batch])).toEqual([true]);
  await store.leases.release(0, token);
});

test("reap skips what ended in the batch and what retry sent back; extend keeps a batch from the reaper", async () => {
  const acquired = await store.leases.acquire(0, "partial", 10_000);
  if (!acquired.acquired) throw new Error("lease not acquired");
  const token = acquired.token;
  const ids = ["part-done", "part-retried", "part-running"];
  await store.tasks.schedule(0, ids.map((id) => { const t = task(id, Date.now() - 5); return { id: t.id, score: t.score, record: t.record }; }), 0);
  const claimed = await claimAll(token, Date.now() + 60);
  expect(claimed.tasks.map((c) => c.id).sort()).toEqual([...ids].sort());
  expect(await store.attempts.finish(0, token, Date.now(), 60_000, [finishItem("part-done", claimed.batch)])).toEqual([true]);
  const retryScore = String(Date.now() + 60_000);
  expect(await store.attempts.retry(0, token, "part-retried", claimed.batch, 1, retryScore, "boom")).toBe(true);
  // Extended: not reaped past the first deadline.
  expect(await store.attempts.extend(0, token, Date.now() + 150, [claimed.batch])).toBe(1);
  await Bun.sleep(80);
  expect(await store.attempts.reap(0, token, Date.now(), 10)).toEqual({ entries: [], more: false });
  await Bun.sleep(120);
  const reaped = await store.attempts.reap(0, token, Date.now(), 10);
  expect(reaped === LEASE_LOST ? null : reaped.entries.map((e) => e.id)).toEqual(["part-running"]);
  const retried = await store.tasks.inspect(0, "part-retried");
  expect(retried).toMatchObject({ kind: "scheduled", lastError: "boom" });
  expect(decodeRecord((retried as { record: string }).record)).toMatchObject({ attempt: 1, score: retryScore });
  expect((await store.tasks.inspect(0, "part-done")).kind).toBe("final");
  const keys = shardKeys(prefix, 0);
  expect(await redisCommand(redis.port, ["ZCARD", keys.claims])).toBe(0);
  expect((await store.listings.shardStats(0)).runningCount).toBe(0);
  // The reaped one runs its second attempt and ends.
  const again = await claimAll(token, Date.now() + 5000);
  expect(again.tasks.map((c) => [c.id, decodeRecord(c.record).attempt])).toEqual([["part-running", 1]]);
  expect(await store.attempts.finish(0, token, Date.now(), 60_000, [finishItem("part-running", again.batch)], [again.batch])).toEqual([true]);
  await store.leases.release(0, token);
});

test("a task parked and claimed again runs in its new batch only: reaping the old one leaves it alone", async () => {
  const acquired = await store.leases.acquire(0, "parker", 10_000);
  if (!acquired.acquired) throw new Error("lease not acquired");
  const token = acquired.token;
  const t = task("parked-1", Date.now() - 5);
  await store.tasks.schedule(0, [{ id: t.id, score: t.score, record: t.record }], 0);
  const first = await claimAll(token, Date.now() + 50);
  // Not paused any more by the time it is parked: back in due at once, its record unchanged.
  expect(await store.attempts.park(0, token, "parked-1", first.batch, "fence.task")).toBe("requeued");
  const second = await claimAll(token, Date.now() + 60_000);
  expect(second.tasks.map((c) => c.record)).toEqual(first.tasks.map((c) => c.record));
  await Bun.sleep(80);
  expect(await store.attempts.reap(0, token, Date.now(), 10)).toEqual({ entries: [], more: false });
  expect((await store.tasks.inspect(0, "parked-1")).kind).toBe("running");
  expect(await store.attempts.finish(0, token, Date.now(), 60_000, [finishItem("parked-1", first.batch)])).toEqual([false]);
  expect(await store.attempts.finish(0, token, Date.now(), 60_000, [finishItem("parked-1", second.batch)], [second.batch])).toEqual([true]);
  await store.leases.release(0, token);
});
