// Final records in expiring slot hashes (src/store/lua/lib/finals.lua): readable by id for at
// least their ttl and gone after it, found by scheduling's idempotency check, one slot per expiry.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Store } from "../../src/store/store.ts";
import type { FinishItem } from "../../src/store/outcomes.ts";
import { ShardMap } from "../../src/core/shard-map.ts";
import { resolveTask, DEFAULT_TASK_DEFAULTS } from "../../src/task/schedule-input.ts";
import { decodeFinal, decodeRecord, encodeFinalText, finalExtraJson, finalTailOf } from "../../src/task/codec.ts";
import { shardKeys } from "../../src/store/keys.ts";
import { redisCommand } from "../../src/node/embedded-redis.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";
import { finalsSlotExpiry } from "../../src/store/finals.ts";
import finalsLib from "../../src/store/lua/lib/finals.lua" with { type: "text" };

let redis: RedisProcess;
let store: Store;
let prefix: string;
let token: string;

beforeAll(async () => {
  redis = await startRedis();
  prefix = randomPrefix("finals");
  store = new Store({ redisUrl: redis.url, prefix });
  const lease = await store.leases.acquire(0, "owner", 60_000);
  if (!lease.acquired) throw new Error("lease not acquired");
  token = lease.token;
});
afterAll(async () => {
  await store.quit();
  await redis.cleanup();
});

function item(id: string, dueMs: number) {
  const t = resolveTask("finals.task", { id }, { id, runAt: dueMs }, { nowMs: Date.now(), shards: new ShardMap(1), defaults: DEFAULT_TASK_DEFAULTS, requireTime: true });
  return { id: t.id, score: t.score, record: t.record };
}

/** Schedules the ids due now, claims them and finishes each with its ttl. */
async function runToEnd(ttls: Record<string, number>, state: FinishItem["state"] = "succeeded"): Promise<void> {
  const ids = Object.keys(ttls);
  await store.tasks.schedule(0, ids.map((id) => item(id, Date.now() - 5)), 0);
  const claimed = await store.attempts.claim(0, token, Date.now() + 1, ids.length, Date.now() + 30_000);
  if (claimed === "lease" || claimed === null) throw new Error(`nothing claimed: ${claimed}`);
  expect(claimed.tasks.map((c) => c.id).sort()).toEqual([...ids].sort());
  const now = Date.now();
  const items: FinishItem[] = claimed.tasks.map(({ id, record }) => {
    const { dueMs } = decodeRecord(record);
    const finalTail = finalTailOf({ attempt: 1, dueAt: dueMs, finishedAt: now, result: id });
    return { id, batch: claimed.batch, state, finishedAt: now, ttlMs: ttls[id]!, finalTail };
  });
  expect(await store.attempts.finish(0, token, now, 7 * 86_400_000, items, [claimed.batch])).toEqual(ids.map(() => true));
}

test("a finished task reads back as final, with its result, whatever its ttl", async () => {
  await runToEnd({ "f-day": 86_400_000, "f-week": 7 * 86_400_000, "f-short": 5_000 });
  for (const id of ["f-day", "f-week", "f-short"]) {
    const outcome = await store.tasks.inspect(0, id);
    expect(outcome.kind).toBe("final");
    const final = decodeFinal((outcome as { finalJson: string }).finalJson);
    expect(final).toMatchObject({ state: "succeeded", attempt: 1, result: id });
    expect(final.spec.args).toEqual({ id });
  }
});

test("the finish script joins each final record from the node's tail and the stored spec, byte for byte what encodeFinalText makes", async () => {
  const ids = ["join-ok", "join-dead", "join-odd"];
  await store.tasks.schedule(0, ids.map((id) => item(id, Date.now() - 5)), 0);
  const claimed = await store.attempts.claim(0, token, Date.now() + 1, ids.length, Date.now() + 30_000);
  if (claimed === "lease" || claimed === null) throw new Error(`nothing claimed: ${claimed}`);
  const now = Date.now();
  const headers: Record<string, { state: FinishItem["state"]; lastError?: string; result?: unknown }> = {
    "join-ok": { state: "succeeded", result: { sent: true, to: ["a@b.c"] } },
    "join-dead": { state: "dead", lastError: 'HTTP 500: "boom"\nline two' },
    "join-odd": { state: "succeeded", result: "ünïcødé \u0000 \\ done" },
  };
  const expected = new Map<string, string>();
  const items: FinishItem[] = claimed.tasks.map(({ id, record }) => {
    const { dueMs, specJson } = decodeRecord(record);
    const header = headers[id]!;
    expected.set(id, encodeFinalText(header.state, 1, String(dueMs), String(now), finalExtraJson(header.lastError, header.result), specJson));
    return { id, batch: claimed.batch, state: header.state, finishedAt: now, ttlMs: 60_000, finalTail: finalTailOf({ attempt: 1, dueAt: dueMs, finishedAt: now, ...header }) };
  });
  expect(await store.attempts.finish(0, token, now, 60_000, items, [claimed.batch])).toEqual([true, true, true]);
  const slot = `${shardKeys(prefix, 0).donePrefix}${finalsSlotExpiry(now, 60_000)}`;
  for (const id of ids) {
    const stored = await store.attempts["runner"].redis.hget(slot, id);
    expect(stored).toBe(expected.get(id)!);
    expect(decodeFinal(stored!).spec.name).toBe("finals.task");
  }
});

test("each slot hash expires between its records' ttl and 1/16 (at least 1,024 ms) later", async () => {
  const before = Date.now();
  await runToEnd({ "s-day": 86_400_000, "s-minute": 60_000 });
  const slots = (await redisCommand(redis.port, ["ZRANGE", `${shardKeys(prefix, 0).donePrefix}slots`, "0", "-1"])) as string[];
  const holding = async (id: string) => {
    for (const slot of slots) {
      if ((await redisCommand(redis.port, ["HEXISTS", `${shardKeys(prefix, 0).donePrefix}${slot}`, id])) === 1) return Number(slot);
    }
    throw new Error(`${id} is in no slot`);
  };
  for (const [id, ttl] of [["s-day", 86_400_000], ["s-minute", 60_000]] as const) {
    const expiry = await holding(id);
    expect(expiry).toBeGreaterThanOrEqual(before + ttl);
    expect(expiry).toBeLessThanOrEqual(Date.now() + ttl + Math.max(1024, ttl / 16));
    // The hash expires at the ms its name gives (PTTL rather than PEXPIRETIME: Redis 6.2 has no PEXPIRETIME).
    const pttl = Number(await redisCommand(redis.port, ["PTTL", `${shardKeys(prefix, 0).donePrefix}${expiry}`]));
    expect(Math.abs(Date.now() + pttl - expiry)).toBeLessThan(1_000);
  }
});

test("scheduling an id that finished returns its final record and creates nothing", async () => {
  await runToEnd({ "again-1": 60_000 });
  const outcomes = await store.tasks.schedule(0, [item("again-1", Date.now() + 60_000), item("again-new", Date.now() + 60_000)], 0);
  expect(outcomes[0]!.kind).toBe("final");
  expect(decodeFinal((outcomes[0] as { finalJson: string }).finalJson).result).toBe("again-1");
  expect(outcomes[1]!.kind).toBe("created");
  expect((await store.tasks.inspect(0, "again-1")).kind).toBe("final");
});

test("a record is gone once its ttl has passed", async () => {
  await runToEnd({ "brief-1": 1_000 });
  expect((await store.tasks.inspect(0, "brief-1")).kind).toBe("final");
  await waitFor(async () => (await store.tasks.inspect(0, "brief-1")).kind === "missing", { timeoutMs: 6_000, message: "final record to expire" });
  // And the id is free again.
  const [outcome] = await store.tasks.schedule(0, [item("brief-1", Date.now() + 60_000)], 0);
  expect(outcome!.kind).toBe("created");
});

test("cancel keeps a cancelled record; retrying a dead task removes its final record", async () => {
  await store.tasks.schedule(0, [item("cancel-1", Date.now() + 60_000)], 0);
  const cancelled = await store.tasks.cancel(0, "cancel-1", Date.now(), 60_000);
  expect(cancelled.kind).toBe("cancelled");
  const inspected = await store.tasks.inspect(0, "cancel-1");
  expect(inspected.kind).toBe("final");
  expect(decodeFinal((inspected as { finalJson: string }).finalJson).state).toBe("cancelled");

  await runToEnd({ "dead-1": 60_000 }, "dead");
  const dead = await store.tasks.inspect(0, "dead-1");
  expect(dead.kind).toBe("final");
  const finalJson = (dead as { finalJson: string }).finalJson;
  const requeued = item("dead-1", Date.now() + 60_000);
  expect(await store.tasks.retryDead(0, "dead-1", finalJson, requeued.record, requeued.score, "boom", 0)).toBe("retried");
  expect((await store.tasks.inspect(0, "dead-1")).kind).toBe("scheduled");
  expect(await store.tasks.retryDead(0, "dead-1", finalJson, requeued.record, requeued.score, "boom", 0)).toBe("pending");
});

test("the node sorts final records into the same slots as the scripts do (finalsSlotExpiry = finals_expiry)", async () => {
  // Finish (node side, finals.ts) and cancel (Lua, lib/finals.lua) must agree, or a lookup could miss a slot.
  const cases: [number, number][] = [];
  for (const ttl of [1, 1_000, 16_383, 16_384, 60_000, 3_600_000, 86_400_000, 7 * 86_400_000, 30 * 86_400_000]) {
    for (const at of [1_763_800_000_000, 1_763_800_000_001, 1_763_800_001_023, 1_763_800_001_024, 1_763_811_234_567]) cases.push([at, ttl]);
  }
  const script = `${finalsLib}\nlocal out = {}\nfor i = 1, #ARGV, 2 do out[#out + 1] = finals_expiry(tonumber(ARGV[i]), tonumber(ARGV[i + 1])) end\nreturn out`;
  const fromLua = (await redisCommand(redis.port, ["EVAL", script, "0", ...cases.flatMap(([at, ttl]) => [String(at), String(ttl)])])) as string[];
  expect(fromLua).toEqual(cases.map(([at, ttl]) => String(finalsSlotExpiry(at, ttl))));
});
