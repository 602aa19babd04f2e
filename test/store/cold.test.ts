// The cold tier (src/store/lua/lib/cold.lua): far-future tasks wait in per-slot lists instead of
// `due` and `tasks`, stay readable, cancellable, reschedulable and listable, count as scheduled,
// are found by the idempotency check, and move into `due` when promoted.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Store } from "../../src/store/store.ts";
import { LEASE_LOST } from "../../src/store/outcomes.ts";
import { ShardMap } from "../../src/core/shard-map.ts";
import { Client } from "../../src/client/client.ts";
import { resolveTask, DEFAULT_TASK_DEFAULTS } from "../../src/task/schedule-input.ts";
import { decodeFinal, decodeRecord } from "../../src/task/codec.ts";
import { shardKeys } from "../../src/store/keys.ts";
import { keySlot } from "../../src/core/slot.ts";
import { redisCommand } from "../../src/node/embedded-redis.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix } from "../helpers/node.ts";

const HOUR = 3_600_000;
let redis: RedisProcess;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.cleanup();
});

function item(id: string, dueMs: number, args: unknown = { id }) {
  const t = resolveTask("cold.task", args, { id, runAt: dueMs }, { nowMs: Date.now(), shards: new ShardMap(1), defaults: DEFAULT_TASK_DEFAULTS, requireTime: true });
  return { id: t.id, score: t.score, record: t.record };
}

async function freshStore(): Promise<{ store: Store; prefix: string }> {
  const prefix = randomPrefix("cold");
  return { store: new Store({ redisUrl: redis.url, prefix }), prefix };
}

const zcard = async (key: string) => Number(await redisCommand(redis.port, ["ZCARD", key]));

test("tasks at or past the horizon go cold: not in due, but readable, counted and idempotent", async () => {
  const { store, prefix } = await freshStore();
  const keys = shardKeys(prefix, 0);
  const now = Date.now();
  const coldFrom = now + HOUR;
  const outcomes = await store.tasks.schedule(0, [item("near", now + 60_000), item("far", now + 2 * HOUR), item("edge", coldFrom)], 0, coldFrom);
  expect(outcomes.map((o) => o.kind)).toEqual(["created", "created", "created"]);
  expect(await zcard(keys.due)).toBe(1);
  expect(Number(await redisCommand(redis.port, ["GET", keys.coldCount]))).toBe(2);
  const list = (await redisCommand(redis.port, ["LRANGE", keys.coldPrefix + keySlot("far"), "0", "-1"])) as string[];
  expect(list.some((entry) => entry.startsWith("far\t"))).toBe(true);

  const far = await store.tasks.inspect(0, "far");
  expect(far.kind).toBe("scheduled");
  const record = decodeRecord((far as { record: string }).record);
  expect(record).toMatchObject({ attempt: 0, dueMs: now + 2 * HOUR });
  expect(JSON.parse(record.specJson).a).toEqual({ id: "far" });

  // Scheduling the same ids again (not fresh) finds them wherever they are.
  const again = await store.tasks.schedule(0, [item("far", now + 3 * HOUR), item("near", now + 3 * HOUR)], 0, coldFrom);
  expect(again.map((o) => o.kind)).toEqual(["pending", "pending"]);
  expect(decodeRecord((again[0] as { record: string }).record).dueMs).toBe(now + 2 * HOUR);
  expect((await store.listings.shardStats(0)).dueCount).toBe(3);
  expect((await store.listings.shardStats(0)).coldCount).toBe(2);
  await store.quit();
});

test("cancel and reschedule a cold task; a reschedule within the horizon moves it to due", async () => {
  const { store, prefix } = await freshStore();
  const keys = shardKeys(prefix, 0);
  const now = Date.now();
  const coldFrom = now + HOUR;
  await store.tasks.schedule(0, [item("c-1", now + 5 * HOUR), item("c-2", now + 5 * HOUR), item("c-3", now + 5 * HOUR)], 0, coldFrom);

  const cancelled = await store.tasks.cancel(0, "c-1", now, 60_000);
  expect(cancelled.kind).toBe("cancelled");
  expect(decodeFinal((cancelled as { finalJson: string }).finalJson)).toMatchObject({ state: "cancelled", attempt: 0, dueAt: now + 5 * HOUR });
  expect((await store.tasks.inspect(0, "c-1")).kind).toBe("final");
  expect((await store.tasks.cancel(0, "c-1", now, 60_000)).kind).toBe("final");

  const stayed = await store.tasks.reschedule(0, "c-2", now + 7 * HOUR, 0, coldFrom);
  // Priority 0 keeps its fraction of the score (model.ts dueScore).
  expect(stayed).toMatchObject({ kind: "rescheduled", score: `${now + 7 * HOUR}.5625` });
  expect(await zcard(keys.due)).toBe(0);
  expect(decodeRecord(((await store.tasks.inspect(0, "c-2")) as { record: string }).record).dueMs).toBe(now + 7 * HOUR);

  const moved = await store.tasks.reschedule(0, "c-3", now + 60_000, 0, coldFrom);
  expect(moved.kind).toBe("rescheduled");
  expect(await zcard(keys.due)).toBe(1);
  expect(Math.floor(Number(await redisCommand(redis.port, ["ZSCORE", keys.due, "c-3"])))).toBe(now + 60_000);
  expect(Number(await redisCommand(redis.port, ["GET", keys.coldCount]))).toBe(1);
  await store.quit();
});

test("tasks of one slot share list elements; removing the first, a middle or the last entry keeps the others", async () => {
  const { store, prefix } = await freshStore();
  const keys = shardKeys(prefix, 0);
  const now = Date.now();
  // One hash tag: one slot, so one call puts all five in one list element.
  const ids = ["{s}a", "{s}b", "{s}c", "{s}d", "{s}e"];
  const outcomes = await store.tasks.schedule(0, ids.map((id, i) => ({ ...item(id, now + 5 * HOUR + i), fresh: true })), 0, now + HOUR);
  expect(outcomes.every((o) => o.kind === "created")).toBe(true);
  const listKey = keys.coldPrefix + keySlot("{s}a");
  expect(await redisCommand(redis.port, ["LLEN", listKey])).toBe(1);
  for (const id of ["{s}a", "{s}c", "{s}e"]) expect((await store.tasks.cancel(0, id, now, 60_000)).kind).toBe("cancelled");
  for (const [i, id] of ids.entries()) {
    const outcome = await store.tasks.inspect(0, id);
    if (i % 2 === 0) {
      expect(outcome.kind).toBe("final");
    } else {
      expect(outcome.kind).toBe("scheduled");
      expect(decodeRecord((outcome as { record: string }).record)).toMatchObject({ dueMs: now + 5 * HOUR + i });
    }
  }
  expect(String(await redisCommand(redis.port, ["GET", keys.coldCount]))).toBe("2");
  expect((await store.tasks.cancel(0, "{s}b", now, 60_000)).kind).toBe("cancelled");
  expect((await store.tasks.cancel(0, "{s}d", now, 60_000)).kind).toBe("cancelled");
  expect(await redisCommand(redis.port, ["EXISTS", listKey])).toBe(0);
  await store.quit();
});

test("promote moves what falls due within the horizon, keeps the rest, and is fenced", async () => {
  const { store, prefix } = await freshStore();
  const keys = shardKeys(prefix, 0);
  const now = Date.now();
  const items = Array.from({ length: 300 }, (_, i) => item(`p-${i}`, now + HOUR + i * 60_000));
  await store.tasks.schedule(0, items, 0, now);
  expect(await zcard(keys.due)).toBe(0);
  const lease = await store.leases.acquire(0, "owner", 60_000);
  if (!lease.acquired) throw new Error("lease not acquired");
  const slots = new ShardMap(1).slotsOf(0);

  expect(await store.attempts.promote(0, "owner:0", slots, now + 2 * HOUR)).toBe(LEASE_LOST);
  expect(await zcard(keys.due)).toBe(0);

  // Due before now + 1 h + 100 min: the first 100 of them.
  const upTo = now + HOUR + 100 * 60_000;
  expect(await store.attempts.promote(0, lease.token, slots, upTo)).toBe(100);
  expect(await zcard(keys.due)).toBe(100);
  expect(Number(await redisCommand(redis.port, ["GET", keys.coldCount]))).toBe(200);
  const promoted = await store.tasks.inspect(0, "p-5");
  expect(decodeRecord((promoted as { record: string }).record)).toMatchObject({ attempt: 0, dueMs: now + HOUR + 5 * 60_000 });
  // The promoted ones are claimable like any task once due.
  const claimed = await store.attempts.claim(0, lease.token, now + HOUR + 3 * 60_000, 10, now + 60_000);
  expect(claimed === LEASE_LOST || claimed === null ? [] : claimed.tasks.map((c) => c.id).sort()).toEqual(["p-0", "p-1", "p-2"]);
  // Nothing left to move below the same score; everything after a far one.
  expect(await store.attempts.promote(0, lease.token, slots, upTo)).toBe(0);
  expect(await store.attempts.promote(0, lease.token, slots, now + 100 * HOUR)).toBe(200);
  expect(Number(await redisCommand(redis.port, ["GET", keys.coldCount]))).toBe(0);
  expect(await redisCommand(redis.port, ["EXISTS", keys.coldPrefix + keySlot("p-200")])).toBe(0);
  await store.quit();
});

test("promote takes due entries out of the middle of shared list elements and keeps the others intact", async () => {
  const { store, prefix } = await freshStore();
  const keys = shardKeys(prefix, 0);
  const now = Date.now();
  const lease = await store.leases.acquire(0, "owner", 60_000);
  if (!lease.acquired) throw new Error("lease not acquired");
  // One slot (hash tag), three calls: three elements of 10 entries; odd ones due first.
  const ids = Array.from({ length: 30 }, (_, i) => `{m}task-${i}`);
  const dueOf = (i: number) => now + (i % 2 ? 2 : 5) * HOUR + i;
  for (let call = 0; call < 3; call++) {
    await store.tasks.schedule(0, ids.slice(call * 10, call * 10 + 10).map((id) => ({ ...item(id, dueOf(ids.indexOf(id))), fresh: true })), 0, now + HOUR);
  }
  const listKey = keys.coldPrefix + keySlot(ids[0]!);
  expect(await redisCommand(redis.port, ["LLEN", listKey])).toBe(3);
  expect(await store.attempts.promote(0, lease.token, [keySlot(ids[0]!)], now + 3 * HOUR)).toBe(15);
  expect(Number(await redisCommand(redis.port, ["GET", keys.coldCount]))).toBe(15);
  for (const [i, id] of ids.entries()) {
    const outcome = await store.tasks.inspect(0, id);
    expect(outcome.kind).toBe("scheduled");
    expect(decodeRecord((outcome as { record: string }).record)).toMatchObject({ attempt: 0, dueMs: dueOf(i) });
    const inDue = (await redisCommand(redis.port, ["ZSCORE", keys.due, id])) !== null;
    expect(inDue).toBe(i % 2 === 1);
  }
  // The rest moves later, all of it.
  expect(await store.attempts.promote(0, lease.token, [keySlot(ids[0]!)], now + 10 * HOUR)).toBe(15);
  expect(await redisCommand(redis.port, ["EXISTS", listKey])).toBe(0);
  await store.quit();
});

test("listing scheduled tasks goes on from due into the cold tier, page by page, with a name filter", async () => {
  const prefix = randomPrefix("coldlist");
  const client = new Client({ redisUrl: redis.url, prefix, shards: 4 });
  const now = Date.now();
  const near = Array.from({ length: 30 }, (_, i) => ({ task: i % 2 ? "list.b" : "list.a", args: { i }, options: { id: `n-${i}`, runAt: now + 60_000 + i } }));
  const far = Array.from({ length: 70 }, (_, i) => ({ task: i % 2 ? "list.b" : "list.a", args: { i }, options: { id: `f-${i}`, runAt: now + 48 * HOUR + i } }));
  const results = await client.scheduleMany([...near, ...far]);
  expect(results.every((r) => !(r instanceof Error) && r.created)).toBe(true);

  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await client.list({ state: "scheduled", limit: 7, cursor });
    expect(page.tasks.length).toBeLessThanOrEqual(7);
    seen.push(...page.tasks.map((t) => t.id));
    cursor = page.nextCursor ?? undefined;
    pages++;
  } while (cursor && pages < 100);
  expect(seen.length).toBe(100);
  expect(new Set(seen).size).toBe(100);

  const onlyA: string[] = [];
  cursor = undefined;
  do {
    const page = await client.list({ state: "scheduled", name: "list.a", limit: 50, cursor });
    onlyA.push(...page.tasks.map((t) => t.id));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  expect(onlyA.sort()).toEqual([...near, ...far].filter((r) => r.task === "list.a").map((r) => r.options.id).sort());
  const view = await client.get("f-3");
  expect(view).toMatchObject({ state: "scheduled", name: "list.b", dueAt: now + 48 * HOUR + 3, args: { i: 3 } });
  await client.close();
});

test("a cold task costs far less Redis memory than a task in due", async () => {
  // A million tasks in 16 shards put ~60 in each slot's list. 20,000 tasks spread over all 16,384
  // slots would be ~1 per list and measure the per-key cost instead, so these ids carry hash tags
  // that gather them in 256 slots (~80 per list) to measure the dense case quickly.
  const { store, prefix } = await freshStore();
  const usedMemory = async () => Number(/used_memory:(\d+)/.exec(String(await redisCommand(redis.port, ["INFO", "memory"])))![1]);
  const now = Date.now();
  const id = (i: number) => `{g${i % 256}}${prefix}-${i}`.padEnd(26, "x");
  const batch = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ ...item(id(from + i), now + 5 * HOUR + i, { userId: from + i }), fresh: true }));
  const before = await usedMemory();
  for (let i = 0; i < 20_000; i += 2_000) await store.tasks.schedule(0, batch(i, 2_000), 0, now + HOUR);
  const cold = (await usedMemory()) - before;
  const between = await usedMemory();
  for (let i = 20_000; i < 40_000; i += 2_000) await store.tasks.schedule(0, batch(i, 2_000), 0, null);
  const hot = (await usedMemory()) - between;
  console.log(`Redis bytes per task: cold ${Math.round(cold / 20_000)}, in due ${Math.round(hot / 20_000)}`);
  expect(Number(await redisCommand(redis.port, ["GET", shardKeys(prefix, 0).coldCount]))).toBe(20_000);
  expect(cold).toBeLessThan(hot * 0.5);
  await store.quit();
});
