// Several shards' schedule calls of one turn against a real Redis: they leave as one script call
// (schedule-n.lua), and each shard's tasks, fence and idempotency answers are its own, as with a
// call per shard (schedule-4.lua).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Store } from "../../src/store/store.ts";
import { StaleShardMapError } from "../../src/store/task-writes.ts";
import { RedisRefusal } from "../../src/store/redis-errors.ts";
import { shardKeys } from "../../src/store/keys.ts";
import { ShardMap } from "../../src/core/shard-map.ts";
import { resolveTask, DEFAULT_TASK_DEFAULTS } from "../../src/task/schedule-input.ts";
import { redisCommand } from "../../src/node/embedded-redis.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix } from "../helpers/node.ts";

let redis: RedisProcess;
let store: Store;
const prefix = randomPrefix("schedshards");
const SHARDS = 4;
const map = new ShardMap(SHARDS);
const cmd = (args: (string | number)[]) => redisCommand(redis.port, args.map(String));

beforeAll(async () => {
  redis = await startRedis();
  store = new Store({ redisUrl: redis.url, prefix });
});
afterAll(async () => {
  await store.quit();
  await redis.cleanup();
});

/** `count` tasks of one shard, due in a minute (not cold), with ids that name them. */
function tasksOf(shard: number, count: number, tag: string, fresh = false) {
  const items = [];
  for (let n = 0; items.length < count; n++) {
    const id = `${tag}-${shard}-${n}`;
    const task = resolveTask("shards.test", { n }, { id, runAt: Date.now() + 60_000 }, { nowMs: Date.now(), shards: map, defaults: DEFAULT_TASK_DEFAULTS, requireTime: true });
    if (task.shard === shard) items.push({ ...task, fresh });
  }
  return items;
}

async function evalCalls(): Promise<number> {
  const info = String(await cmd(["INFO", "commandstats"]));
  return Number(/cmdstat_evalsha:calls=(\d+)/.exec(info)?.[1] ?? 0) + Number(/cmdstat_eval:calls=(\d+)/.exec(info)?.[1] ?? 0);
}

test("one turn's calls for four shards are one script call; each shard stores its own tasks and answers for its own ids", async () => {
  // Loaded and warm: the first use of a script may cost a second call (NOSCRIPT, then EVAL).
  await Promise.all([0, 1].map((shard) => store.tasks.schedule(shard, tasksOf(shard, 1, "warm", true), 0)));
  // Shard 1 already has one of the ids the call brings again.
  const again = tasksOf(1, 3, "b");
  await store.tasks.schedule(1, [again[1]!], 0);
  const before = await evalCalls();
  const outcomes = await Promise.all([
    store.tasks.schedule(0, tasksOf(0, 5, "b", true), 0),
    store.tasks.schedule(1, again, 0),
    store.tasks.schedule(2, tasksOf(2, 2, "b"), 0),
    store.tasks.schedule(3, tasksOf(3, 4, "b", true), 0),
  ]);
  expect((await evalCalls()) - before).toBe(1);
  expect(outcomes.map((list) => list.map((o) => o.kind))).toEqual([
    ["created", "created", "created", "created", "created"],
    ["created", "pending", "created"],
    ["created", "created"],
    ["created", "created", "created", "created"],
  ]);
  // The pending answer is the stored record of that id.
  expect(outcomes[1]![1]).toEqual({ kind: "pending", record: again[1]!.record });
  // Every shard's keys hold exactly its tasks (warm-up included).
  const due = await Promise.all([0, 1, 2, 3].map((shard) => cmd(["ZRANGE", shardKeys(prefix, shard).due, 0, -1])));
  expect((due as string[][]).map((ids) => ids.filter((id) => id.startsWith("b-")).sort())).toEqual([
    tasksOf(0, 5, "b").map((t) => t.id).sort(),
    again.map((t) => t.id).sort(),
    tasksOf(2, 2, "b").map((t) => t.id).sort(),
    tasksOf(3, 4, "b").map((t) => t.id).sort(),
  ]);
});

test("a shard whose fence refuses the writer's map writes nothing and says so; the other shards of the call are written", async () => {
  await cmd(["SET", shardKeys(prefix, 2).mapEpoch, 5]);
  try {
    const results = await Promise.allSettled([
      store.tasks.schedule(0, tasksOf(0, 2, "c", true), 0, null, 1),
      store.tasks.schedule(2, tasksOf(2, 3, "c", true), 0, null, 1),
      store.tasks.schedule(3, tasksOf(3, 2, "c", true), 0, null, 1),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const refused = (results[1] as PromiseRejectedResult).reason;
    expect(refused).toBeInstanceOf(StaleShardMapError);
    expect((refused as StaleShardMapError).refused).toEqual([0, 1, 2]);
    expect(await cmd(["ZSCORE", shardKeys(prefix, 2).due, tasksOf(2, 1, "c")[0]!.id])).toBeNull();
    expect(await cmd(["ZSCORE", shardKeys(prefix, 0).due, tasksOf(0, 1, "c")[0]!.id])).not.toBeNull();
    expect(await cmd(["ZSCORE", shardKeys(prefix, 3).due, tasksOf(3, 1, "c")[0]!.id])).not.toBeNull();
  } finally {
    await cmd(["DEL", shardKeys(prefix, 2).mapEpoch]);
  }
});

test("a Redis that refuses writes refuses the joined call: every shard's part gets the refusal and none of its tasks is stored", async () => {
  await cmd(["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
  await cmd(["CONFIG", "SET", "maxmemory", 1]);
  try {
    const results = await Promise.allSettled([0, 1, 2].map((shard) => store.tasks.schedule(shard, tasksOf(shard, 2, "d", true), 0)));
    for (const result of results) {
      expect(result.status).toBe("rejected");
      const reason = (result as PromiseRejectedResult).reason;
      expect(reason).toBeInstanceOf(RedisRefusal);
      expect((reason as RedisRefusal).kind).toBe("oom");
    }
  } finally {
    await cmd(["CONFIG", "SET", "maxmemory", 0]);
  }
  for (const shard of [0, 1, 2]) expect(await cmd(["ZSCORE", shardKeys(prefix, shard).due, tasksOf(shard, 1, "d")[0]!.id])).toBeNull();
});
