// The schedule scripts on a real redis-server: compare-and-set writes, taking back only what has
// not started, planting once per occurrence id (also after it finished), the lease fence of the
// planter, and the DST cases driven through the real store and the planter duty on an injected
// clock (the occurrences are due in 2027: nothing fires, the due set is read back).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { Store } from "../../src/store/store.ts";
import { KeyBook } from "../../src/store/keys.ts";
import { LEASE_LOST } from "../../src/store/outcomes.ts";
import { ShardMap } from "../../src/core/shard-map.ts";
import { DEFAULT_TASK_DEFAULTS } from "../../src/task/schedule-input.ts";
import { decideChange } from "../../src/schedule/schedule-changes.ts";
import { resolveSchedule } from "../../src/schedule/schedule-input.ts";
import { decodeSchedule } from "../../src/schedule/schedule-record.ts";
import { occurrenceRecords } from "../../src/schedule/occurrences.ts";
import { occurrenceId, parseOccurrenceId } from "../../src/task/occurrence-id.ts";
import { SchedulePlanting } from "../../src/shard/schedule-planting.ts";
import { isoInZone } from "../../src/schedule/fire-times.ts";
import { silentLogger } from "../../src/core/log.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix } from "../helpers/node.ts";

let redis: RedisProcess;
let store: Store;
let raw: Redis;
const SHARDS = new ShardMap(1);
const prefix = randomPrefix("sched");
const keys = new KeyBook(prefix);

beforeAll(async () => {
  redis = await startRedis();
  store = new Store({ redisUrl: redis.url, prefix });
  raw = new Redis(redis.url);
});
afterAll(async () => {
  raw.disconnect();
  await store.quit();
  await redis.cleanup();
});

const task = { name: "report.build" };

async function apply(name: string, change: Parameters<typeof decideChange>[1], nowMs: number, token: string | null = null) {
  const read = await store.schedules.readSchedule(0, name);
  const current = read && { state: decodeSchedule(name, read.stored), last: read.last };
  const write = decideChange(name, change, current, nowMs);
  if (!write) return { write, result: "none" as const };
  const definition = write.state?.definition ?? current!.state.definition;
  const occurrences = occurrenceRecords(name, definition, write.plant, { nowMs, shards: SHARDS, defaults: DEFAULT_TASK_DEFAULTS });
  return { write, result: await store.schedules.writeSchedule(0, token, write, occurrences, nowMs) };
}

async function dueIds(): Promise<string[]> {
  return raw.zrange(keys.shard(0).due, "0", "-1");
}

describe("schedule-write", () => {
  test("create plants the first occurrence with the schedule; a stale version is refused", async () => {
    const now = Date.parse("2027-01-01T00:00:30Z");
    const { write, result } = await apply("cas", { kind: "put", definition: resolveSchedule({ every: "1m", task }) }, now);
    expect(result).toBe("ok");
    expect(await dueIds()).toContain(occurrenceId("cas", Date.parse("2027-01-01T00:01:00Z")));
    // The same write again expects version 0, but the schedule is at 1 now.
    expect(await store.schedules.writeSchedule(0, null, write!, [], now)).toBe("conflict");
    expect((await store.schedules.readSchedule(0, "cas"))!.last).toBe("pending");
  });

  test("planting an occurrence that exists or finished creates nothing", async () => {
    const now = Date.parse("2027-02-01T00:00:30Z");
    const first = Date.parse("2027-02-01T00:01:00Z");
    await apply("once", { kind: "put", definition: resolveSchedule({ every: "1m", task }) }, now);
    const id = occurrenceId("once", first);
    const before = await raw.hget(keys.shard(0).tasks, id);
    // Replace with the same definition: the waiting occurrence is taken back and planted again, once.
    expect((await apply("once", { kind: "put", definition: resolveSchedule({ every: "1m", task }) }, now + 1)).result).toBe("ok");
    expect((await dueIds()).filter((due) => due === id).length).toBe(1);
    expect(before).not.toBeNull();
  });

  test("pause takes back only what waits; a running occurrence is left alone", async () => {
    const now = Date.parse("2027-03-01T00:00:30Z");
    await apply("pz", { kind: "put", definition: resolveSchedule({ every: "1m", task }) }, now);
    const id = occurrenceId("pz", Date.parse("2027-03-01T00:01:00Z"));
    // Make it "running": out of due, record kept (what a claim does).
    await raw.zrem(keys.shard(0).due, id);
    expect((await store.schedules.readSchedule(0, "pz"))!.last).toBe("running");
    expect((await apply("pz", { kind: "pause" }, now + 1_000)).result).toBe("ok");
    expect(await raw.hexists(keys.shard(0).tasks, id)).toBe(1);
    await apply("pz2", { kind: "put", definition: resolveSchedule({ every: "1m", task }) }, now);
    const waiting = occurrenceId("pz2", Date.parse("2027-03-01T00:01:00Z"));
    expect((await apply("pz2", { kind: "pause" }, now + 1_000)).result).toBe("ok");
    expect(await raw.hexists(keys.shard(0).tasks, waiting)).toBe(0);
    expect(await dueIds()).not.toContain(waiting);
  });

  test("the planter's calls are fenced by the shard's lease", async () => {
    const acquired = await store.leases.acquire(0, "planter-node", 10_000);
    if (!acquired.acquired) throw new Error("lease not acquired");
    expect(await store.schedules.dueSchedules(0, "someone-else:1", Date.now(), 10)).toBe(LEASE_LOST);
    const now = Date.parse("2027-04-01T00:00:30Z");
    const { write } = await apply("fenced", { kind: "put", definition: resolveSchedule({ every: "1m", task }) }, now);
    const read = await store.schedules.readSchedule(0, "fenced");
    const pass = decideChange("fenced", { kind: "plant" }, { state: decodeSchedule("fenced", read!.stored), last: "running" }, Date.parse("2027-04-01T00:01:00Z"))!;
    expect(await store.schedules.writeSchedule(0, "someone-else:1", pass, [], now)).toBe(LEASE_LOST);
    expect(await store.schedules.writeSchedule(0, acquired.token, pass, [], now)).toBe("ok");
    expect(write).not.toBeNull();
    await store.leases.release(0, acquired.token);
  });
});

describe("DST through the store and the planter duty (injected clock)", () => {
  async function drive(name: string, input: unknown, fromIso: string, steps: number): Promise<string[]> {
    const acquired = await store.leases.acquire(0, `dst-${name}`, 60_000);
    if (!acquired.acquired) throw new Error("lease not acquired");
    try {
      const definition = resolveSchedule(input);
      let now = Date.parse(fromIso);
      await apply(name, { kind: "put", definition }, now);
      const planting = new SchedulePlanting({ shard: 0, leaseToken: acquired.token, schedules: store.schedules, shards: SHARDS, defaults: DEFAULT_TASK_DEFAULTS, log: silentLogger() });
      for (let i = 0; i < steps; i++) {
        // The clock jumps to the schedule's wake time, as the actor's timer would fire then.
        const wake = await raw.zscore(keys.scheduleWake(0), name);
        if (wake === null) break;
        now = Math.max(now, Number(wake));
        const reply = await planting.perform(planting.plan(now));
        if (reply === LEASE_LOST) throw new Error("lease lost");
        // The occurrence that fired at `now` ran and ended.
        for (const id of await dueIds()) {
          const ref = parseOccurrenceId(id);
          if (ref && ref.schedule === name && ref.atMs <= now) await raw.zrem(keys.shard(0).due, id);
        }
      }
      const planted = (await raw.hkeys(keys.shard(0).tasks)).map(parseOccurrenceId).filter((ref) => ref?.schedule === name);
      const tz = definition.tz;
      return planted.map((ref) => ref!.atMs).sort((a, b) => a - b).map((atMs) => isoInZone(atMs, tz));
    } finally {
      await store.leases.release(0, acquired.token);
    }
  }

  test("Berlin daily 02:30 across spring forward: 03:00 once", async () => {
    expect(await drive("berlin-spring", { cron: "30 2 * * *", tz: "Europe/Berlin", task }, "2027-03-26T12:00:00Z", 2)).toEqual([
      "2027-03-27T02:30:00+01:00",
      "2027-03-28T03:00:00+02:00",
      "2027-03-29T02:30:00+02:00",
    ]);
  });
  test("Berlin hourly across fall back: 02:00 twice", async () => {
    expect(await drive("berlin-fall-hourly", { cron: "0 * * * *", tz: "Europe/Berlin", task }, "2027-10-30T23:30:00Z", 3)).toEqual([
      "2027-10-31T02:00:00+02:00",
      "2027-10-31T02:00:00+01:00",
      "2027-10-31T03:00:00+01:00",
      "2027-10-31T04:00:00+01:00",
    ]);
  });
  test("New York daily 01:30 across fall back: once, the first", async () => {
    expect(await drive("ny-fall", { cron: "30 1 * * *", tz: "America/New_York", task }, "2027-11-05T12:00:00Z", 2)).toEqual([
      "2027-11-06T01:30:00-04:00",
      "2027-11-07T01:30:00-04:00",
      "2027-11-08T01:30:00-05:00",
    ]);
  });
  test("New York hourly across spring forward: 02:00 skipped", async () => {
    expect(await drive("ny-spring-hourly", { cron: "0 * * * *", tz: "America/New_York", task }, "2027-03-14T05:30:00Z", 2)).toEqual([
      "2027-03-14T01:00:00-05:00",
      "2027-03-14T03:00:00-04:00",
      "2027-03-14T04:00:00-04:00",
    ]);
  });
});
