// The planting chain at every moment a node could die, on a real redis-server: occurrences are
// planted by the planter, not by the claim or finish scripts (docs/schedules.md, "Why not inside
// the claim or finish script"), so the claim, the finish and the planter's pass can come in any
// order. Every script is atomic, so the moments a node can die at are the states between two
// scripts. For each order of (planter pass, claim, finish) of each occurrence, after every single
// step, Redis must hold the schedule's next occurrence in `due` or a planter wake time at or
// before it (what the shard's next owner plants from); and a new owner, after the old one claimed
// an occurrence and died before planting its successor, plants it. Injected clock in 2027:
// nothing fires on its own.
import { afterAll, beforeAll, expect, test } from "bun:test";
import Redis from "ioredis";
import { Store } from "../../src/store/store.ts";
import { KeyBook } from "../../src/store/keys.ts";
import { LEASE_LOST } from "../../src/store/outcomes.ts";
import { ShardMap } from "../../src/core/shard-map.ts";
import { DEFAULT_TASK_DEFAULTS } from "../../src/task/schedule-input.ts";
import { ScheduleClient } from "../../src/client/schedules.ts";
import { occurrenceId, parseOccurrenceId } from "../../src/task/occurrence-id.ts";
import { SchedulePlanting, PASS_AHEAD_MS } from "../../src/shard/schedule-planting.ts";
import { silentLogger } from "../../src/core/log.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix } from "../helpers/node.ts";

let redis: RedisProcess;
let raw: Redis;
let store: Store;
const prefix = randomPrefix("chain");
const keys = new KeyBook(prefix);
const SHARDS = new ShardMap(1);
const EVERY = 1_000;
const START = Date.parse("2027-05-01T00:00:00.000Z");

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
  store = new Store({ redisUrl: redis.url, prefix });
});
afterAll(async () => {
  raw.disconnect();
  await store.quit();
  await redis.cleanup();
});

type Step = "plant" | "claim" | "finish";
const ORDERS: Step[][] = [
  ["plant", "claim", "finish"],
  ["claim", "plant", "finish"],
  ["claim", "finish", "plant"],
];

/** Occurrence times of `name` still waiting in `due`. */
async function waiting(name: string): Promise<number[]> {
  const ids = await raw.zrange(keys.shard(0).due, "0", "-1");
  return ids
    .map(parseOccurrenceId)
    .filter((ref) => ref?.schedule === name)
    .map((ref) => ref!.atMs);
}

/** The occurrence after `atMs` is owed: waiting in due, or the planter is told to look by then. */
async function expectOwed(name: string, afterMs: number, where: string): Promise<void> {
  const next = afterMs + EVERY;
  const planted = (await waiting(name)).includes(next);
  const wake = await raw.zscore(keys.scheduleWake(0), name);
  expect({ where, owed: planted || (wake !== null && Number(wake) <= next) }).toEqual({ where, owed: true });
}

async function planterOf(owner: string) {
  const acquired = await store.leases.acquire(0, owner, 60_000);
  if (!acquired.acquired) throw new Error("lease not acquired");
  const planting = new SchedulePlanting({ shard: 0, leaseToken: acquired.token, schedules: store.schedules, shards: SHARDS, defaults: DEFAULT_TASK_DEFAULTS, log: silentLogger() });
  return {
    async pass(nowMs: number) {
      const reply = await planting.perform(planting.plan(nowMs));
      if (reply === LEASE_LOST) throw new Error("lease lost");
    },
    release: () => store.leases.release(0, acquired.token),
  };
}

test("after every step of every order, the next occurrence is in due or owed by the wake time", async () => {
  for (const [o, order] of ORDERS.entries()) {
    const name = `chain-${o}`;
    const schedules = new ScheduleClient({ store: store.schedules, shards: async () => SHARDS, getTask: async () => null, defaults: DEFAULT_TASK_DEFAULTS, now: () => START - 10_000 });
    await schedules.put(name, { every: EVERY, startAt: START, task: { name: "chain.noop" } });
    expect(await waiting(name)).toEqual([START]);
    for (let k = 0; k < 4; k++) {
      const at = START + k * EVERY;
      const id = occurrenceId(name, at);
      // Each occurrence under another owner: ownership moving between occurrences breaks nothing.
      const planter = await planterOf(`node-${o}-${k}`);
      try {
        for (const step of order) {
          if (step === "plant") await planter.pass(at - PASS_AHEAD_MS);
          // A claim takes the occurrence out of due and keeps its record (running): it was there,
          // so nothing was skipped. A finish ends it (no record).
          if (step === "claim") expect(await raw.zrem(keys.shard(0).due, id)).toBe(1);
          if (step === "finish") expect(await raw.hdel(keys.shard(0).tasks, id)).toBe(1);
          await expectOwed(name, at, `${order.join(" > ")}, occurrence ${k}, after ${step}`);
        }
      } finally {
        await planter.release();
      }
    }
    // What is left is the one occurrence after the last finished one, waiting.
    const records = (await raw.hkeys(keys.shard(0).tasks)).map(parseOccurrenceId).filter((ref) => ref?.schedule === name);
    expect(records.map((ref) => ref!.atMs)).toEqual([START + 4 * EVERY]);
    expect(await waiting(name)).toEqual([START + 4 * EVERY]);
  }
});

test("a node that dies after claiming an occurrence it had not planted the successor of: the next owner plants it on time", async () => {
  const name = "chain-takeover";
  const schedules = new ScheduleClient({ store: store.schedules, shards: async () => SHARDS, getTask: async () => null, defaults: DEFAULT_TASK_DEFAULTS, now: () => START - 10_000 });
  await schedules.put(name, { every: EVERY, startAt: START, task: { name: "chain.noop" } });
  const first = await planterOf("dies");
  // The old owner claims the first occurrence and dies before any planter pass.
  expect(await raw.zrem(keys.shard(0).due, occurrenceId(name, START))).toBe(1);
  await first.release(); // (a kill -9 lets the lease expire; releasing it is the same, sooner)
  await expectOwed(name, START, "after the claim, owner gone");
  const next = await planterOf("takes-over");
  try {
    // The new owner's first pass, within the misfire grace of the owed occurrence's time.
    await next.pass(START + 200);
    expect(await waiting(name)).toEqual([START + EVERY]);
  } finally {
    await next.release();
  }
});
