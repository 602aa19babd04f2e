// Bulk creation of schedules (Client.schedules.putMany and the schedule-write-many script) on a real
// redis-server, no node: many schedules per shard stored with their first occurrence each, the
// same records a one-by-one put writes, bad items answered in place (index, field) with the
// others stored, a replace through the batch taking back what the old definition planted, a
// write that lost a race read again (compare-and-set), and an occurrence that already finished
// not planted again. Times are in 2027 on an injected clock: nothing fires.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { Store } from "../../src/store/store.ts";
import { KeyBook } from "../../src/store/keys.ts";
import { ShardMap } from "../../src/core/shard-map.ts";
import { DEFAULT_TASK_DEFAULTS } from "../../src/task/schedule-input.ts";
import { TickwheelError } from "../../src/task/errors.ts";
import { ScheduleClient, type ScheduleStorePart, type SchedulePutManyResult } from "../../src/client/schedules.ts";
import { occurrenceId } from "../../src/task/occurrence-id.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix } from "../helpers/node.ts";

let redis: RedisProcess;
let raw: Redis;
const stores: Store[] = [];
const NOW = Date.parse("2027-01-01T00:00:30Z");
const MINUTE = 60_000;
const task = { name: "tenant.sync" };

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
});
afterAll(async () => {
  raw.disconnect();
  await Promise.all(stores.map((store) => store.quit()));
  await redis.cleanup();
});

function setup(shardCount: number, storePart?: (store: Store) => ScheduleStorePart) {
  const prefix = randomPrefix("many");
  const store = new Store({ redisUrl: redis.url, prefix });
  stores.push(store);
  const shards = new ShardMap(shardCount);
  const getTask = async () => null;
  const schedules = new ScheduleClient({ store: storePart ? storePart(store) : store.schedules, shards: async () => shards, getTask, defaults: DEFAULT_TASK_DEFAULTS, now: () => NOW });
  return { prefix, keys: new KeyBook(prefix), store, shards, schedules };
}

async function dueOf(keys: KeyBook, shardCount: number): Promise<Map<string, number>> {
  const due = new Map<string, number>();
  for (let shard = 0; shard < shardCount; shard++) {
    const flat = await raw.zrange(keys.shard(shard).due, "0", "-1", "WITHSCORES");
    for (let i = 0; i < flat.length; i += 2) due.set(flat[i]!, Number(flat[i + 1]));
  }
  return due;
}

describe("putMany", () => {
  test("stores 5,000 schedules on 4 shards, each with its first occurrence planted in the same write", async () => {
    const { keys, store, schedules } = setup(4);
    const count = 5_000;
    const items = Array.from({ length: count }, (_, i) => ({ name: `tenant-${i}`, every: "1m", startAt: NOW + 1_000 + i, task: { ...task, args: { tenant: i } } }));
    const results = await schedules.putMany(items);
    expect(results.length).toBe(count);
    const due = await dueOf(keys, 4);
    expect(due.size).toBe(count);
    let stored = 0;
    for (let shard = 0; shard < 4; shard++) stored += await store.schedules.count(shard);
    expect(stored).toBe(count);
    results.forEach((result, i) => {
      expect(result).toEqual({ name: `tenant-${i}`, created: true, shard: (result as SchedulePutManyResult).shard, nextDueAt: NOW + 1_000 + i });
      expect(due.get(occurrenceId(`tenant-${i}`, NOW + 1_000 + i))).toBeDefined();
    });
    // Every schedule is on the shard of its name, with a planter wake time at its first occurrence.
    const wake = await raw.zscore(keys.scheduleWake((results[7] as SchedulePutManyResult).shard), "tenant-7");
    expect(Number(wake)).toBe(NOW + 1_007);
  });

  test("writes the same schedule record and occurrence as a one-by-one put", async () => {
    const one = setup(2);
    const many = setup(2);
    const definition = { cron: "30 2 * * *", tz: "Europe/Berlin", misfire: "all", task: { name: "report.build", args: { a: 1 }, priority: 3, maxAttempts: 4 } };
    await one.schedules.put("nightly", definition);
    const [result] = await many.schedules.putMany([{ name: "nightly", ...definition }]);
    expect((result as SchedulePutManyResult).created).toBe(true);
    const shard = one.shards.shardOf("nightly");
    expect(await raw.hget(many.keys.schedules(shard), "nightly")).toBe(await raw.hget(one.keys.schedules(shard), "nightly"));
    const [dueOne, dueMany] = [await dueOf(one.keys, 2), await dueOf(many.keys, 2)];
    expect([...dueMany]).toEqual([...dueOne]);
    const id = [...dueOne.keys()][0]!;
    expect(await raw.hget(many.keys.shard(shard).tasks, id)).toBe(await raw.hget(one.keys.shard(shard).tasks, id));
  });

  test("a bad item is answered in its place with its field; the others are stored", async () => {
    const { keys, schedules } = setup(2);
    const results = await schedules.putMany([
      { name: "ok-0", every: "1h", task },
      { name: "bad-cron", cron: "61 * * * *", task },
      { name: "ok-2", every: "1h", task },
      { name: "has space", every: "1h", task },
      { name: "ok-0", every: "2h", task },
      { name: "bad-zone", cron: "0 * * * *", tz: "Moon/Tranquility", task },
      "not an object",
      { name: "bad-template", every: "1h", task: { name: "x", priority: 99 } },
    ]);
    const fields = results.map((result) => (result instanceof TickwheelError ? result.field : "stored"));
    expect(fields).toEqual(["stored", "cron", "stored", "name", "name", "tz", "name", "task.priority"]);
    expect((results[4] as TickwheelError).message).toContain("already item 0");
    for (const result of results) if (result instanceof TickwheelError) expect(result.code).toBe("invalid_input");
    const due = await dueOf(keys, 2);
    expect([...due.keys()].map((id) => id.split("@")[0]).sort()).toEqual(["ok-0", "ok-2"]);
  });

  test("an existing schedule is replaced: its later occurrence is taken back and the new one planted", async () => {
    const { keys, schedules } = setup(1);
    await schedules.put("replace-me", { every: "1h", task });
    const before = await dueOf(keys, 1);
    expect(before.size).toBe(1);
    const [result] = await schedules.putMany([{ name: "replace-me", every: "15m", task }]);
    expect(result).toEqual({ name: "replace-me", created: false, shard: 0, nextDueAt: Date.parse("2027-01-01T00:15:00Z") });
    const after = await dueOf(keys, 1);
    expect([...after.keys()]).toEqual([occurrenceId("replace-me", Date.parse("2027-01-01T00:15:00Z"))]);
    const view = await schedules.get("replace-me");
    expect(view!.every).toBe(15 * MINUTE);
  });

  test("a write that lost a race with another writer reads again and applies on top (compare-and-set)", async () => {
    let raced = false;
    let other: ScheduleClient | null = null;
    const { keys, schedules } = setup(1, (store) => ({
      readSchedule: (shard, name) => store.schedules.readSchedule(shard, name),
      writeSchedule: (...args) => store.schedules.writeSchedule(...args),
      scanSchedules: (...args) => store.schedules.scanSchedules(...args),
      readSchedules: (shard, names) => store.schedules.readSchedules(shard, names),
      async writeSchedules(shard, writes, nowMs) {
        if (!raced) {
          // Between the batch's read and its write, another caller creates the same schedule.
          raced = true;
          await other!.put("contested", { every: "1h", task: { name: "other.writer" } });
        }
        return store.schedules.writeSchedules(shard, writes, nowMs);
      },
    }));
    other = schedules;
    const [result] = await schedules.putMany([{ name: "contested", every: "30m", task }]);
    expect(raced).toBe(true);
    // The first write found the other's version and was refused; the second read it and replaced it.
    expect(result).toEqual({ name: "contested", created: false, shard: 0, nextDueAt: Date.parse("2027-01-01T00:30:00Z") });
    const view = await schedules.get("contested");
    expect(view!.task.name).toBe("tenant.sync");
    expect([...(await dueOf(keys, 1)).keys()]).toEqual([occurrenceId("contested", Date.parse("2027-01-01T00:30:00Z"))]);
  });

  test("an occurrence that already finished is not planted again when its schedule is re-created", async () => {
    const { keys, store, schedules } = setup(1);
    const at = Date.parse("2027-01-01T01:00:00Z");
    await schedules.putMany([{ name: "again", every: "1h", task }]);
    const id = occurrenceId("again", at);
    expect((await dueOf(keys, 1)).has(id)).toBe(true);
    // Cancel it (a final record), delete the schedule, and create it again in a batch.
    const cancelled = await store.tasks.cancel(0, id, NOW, 86_400_000);
    expect(cancelled.kind).toBe("cancelled");
    await schedules.delete("again");
    await schedules.putMany([{ name: "again", every: "1h", task }]);
    expect((await dueOf(keys, 1)).has(id)).toBe(false);
  });
});

describe("list", () => {
  test("pages never hold more than their limit, though a small shard's hash is scanned whole in one call", async () => {
    const { schedules } = setup(2);
    const names = Array.from({ length: 23 }, (_, i) => `tenant-${String(i).padStart(2, "0")}`);
    await schedules.putMany([...names.map((name) => ({ name, every: "1h", task })), { name: "other-1", every: "1h", task }]);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 50; page++) {
      const result = await schedules.list({ prefix: "tenant-", limit: 3, ...(cursor && { cursor }) });
      expect(result.schedules.length).toBeLessThanOrEqual(3);
      seen.push(...result.schedules.map((schedule) => schedule.name));
      if (result.nextCursor === null) break;
      cursor = result.nextCursor;
    }
    expect(seen.sort()).toEqual(names);
  });
});
