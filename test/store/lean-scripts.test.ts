// Claim and finish through Bun's own Redis client (lean-scripts.ts): they go over their own
// connection on one server, and behave as the ioredis path does where callers can tell: a script
// Redis forgot is loaded again, a restarted Redis is reached again, Redis' refusals keep their kind.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { Store } from "../../src/store/store.ts";
import { LeanScripts } from "../../src/store/lean-scripts.ts";
import { LEASE_LOST, type ClaimedBatch, type FinishItem } from "../../src/store/outcomes.ts";
import { asRedisRefusal, RedisRefusal } from "../../src/store/redis-errors.ts";
import { ShardMap } from "../../src/core/shard-map.ts";
import { finalTailOf } from "../../src/task/codec.ts";
import { resolveTask, DEFAULT_TASK_DEFAULTS } from "../../src/task/schedule-input.ts";
import { redisCommand } from "../../src/node/embedded-redis.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";

let redis: RedisProcess;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.cleanup();
});

/** Schedules `count` tasks due now on shard 0 of a one-shard store, leases the shard (unless `held`), claims them all. */
async function scheduleAndClaim(store: Store, count: number, held?: string): Promise<{ token: string; claimed: ClaimedBatch }> {
  const now = Date.now();
  const items = Array.from({ length: count }, (_, i) => {
    const resolved = resolveTask("lean.task", { i }, { runAt: now - 1 }, { nowMs: now, shards: new ShardMap(1), defaults: DEFAULT_TASK_DEFAULTS, requireTime: true });
    return { id: resolved.id, score: resolved.score, record: resolved.record };
  });
  await store.tasks.schedule(0, items, now + 60_000);
  let token = held;
  if (token === undefined) {
    const lease = await store.leases.acquire(0, "lean-node", 30_000);
    if (!lease.acquired) throw new Error("lease not acquired");
    token = lease.token;
  }
  const claimed = await store.attempts.claim(0, token, Date.now() + 1, 1_000, Date.now() + 60_000);
  if (claimed === LEASE_LOST || claimed === null) throw new Error(`nothing claimed: ${String(claimed)}`);
  return { token, claimed };
}

function finishItems(claimed: ClaimedBatch): FinishItem[] {
  const finishedAt = Date.now();
  return claimed.tasks.map((task) => ({ id: task.id, batch: claimed.batch, state: "succeeded", finishedAt, ttlMs: 60_000, finalTail: finalTailOf({ attempt: 1, dueAt: finishedAt, finishedAt }) }));
}

/** A script of the test's own, as scriptBySha gives the store's. */
function adhoc(lua: string): { sha: string; lua: string } {
  return { sha: createHash("sha1").update(lua).digest("hex"), lua };
}

async function clientNames(): Promise<string[]> {
  const list = String(await redisCommand(redis.port, ["CLIENT", "LIST"]));
  return [...list.matchAll(/ name=(\S*)/g)].map((match) => match[1]!);
}

test("claim and finish go over a connection of their own on one server, and not with TICKWHEEL_LEAN_SCRIPTS=false", async () => {
  const lean = new Store({ redisUrl: redis.url, prefix: randomPrefix("lean"), name: "lean-on" });
  const plain = new Store({ redisUrl: redis.url, prefix: randomPrefix("lean"), name: "lean-off", leanScripts: false });
  try {
    for (const store of [lean, plain]) {
      const { token, claimed } = await scheduleAndClaim(store, 25);
      expect(claimed.tasks).toHaveLength(25);
      // The records came back whole through either client (strings or Buffers).
      for (const task of claimed.tasks) expect(task.record).toMatch(/^0:\d+(\.\d+)?\n\{"n":"lean.task"/);
      expect(await store.attempts.finish(0, token, Date.now(), 60_000, finishItems(claimed), [claimed.batch])).toEqual(claimed.tasks.map(() => true));
    }
    const names = await clientNames();
    expect(names).toContain("lean-on-lean");
    expect(names).not.toContain("lean-off-lean");
  } finally {
    await lean.quit();
    await plain.quit();
  }
});

test("a script Redis no longer knows (SCRIPT FLUSH, a restart) is loaded again", async () => {
  const store = new Store({ redisUrl: redis.url, prefix: randomPrefix("lean") });
  try {
    const first = await scheduleAndClaim(store, 3);
    await redisCommand(redis.port, ["SCRIPT", "FLUSH"]);
    const { token, claimed } = await scheduleAndClaim(store, 4, first.token);
    expect(claimed.tasks).toHaveLength(4);
    await redisCommand(redis.port, ["SCRIPT", "FLUSH"]);
    expect(await store.attempts.finish(0, token, Date.now(), 60_000, finishItems(claimed), [claimed.batch])).toEqual([true, true, true, true]);
  } finally {
    await store.quit();
  }
});

test("while Redis is down a claim fails at once as a connection refusal, and works again once it is back", async () => {
  const own = await startRedis();
  const store = new Store({ redisUrl: own.url, prefix: randomPrefix("lean") });
  try {
    const { token } = await scheduleAndClaim(store, 2);
    await own.stop();
    const began = performance.now();
    const refused = await store.attempts.claim(0, token, Date.now() + 1, 10, Date.now() + 60_000).then(
      () => null,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(RedisRefusal);
    expect((refused as RedisRefusal).kind).toBe("connection");
    // No offline queue: the call does not wait for Redis to come back.
    expect(performance.now() - began).toBeLessThan(5_000);
    await own.restart();
    // A restarted Redis without persistence is empty: the lease and tasks are scheduled again.
    await waitFor(
      async () => {
        try {
          return (await scheduleAndClaim(store, 2)).claimed.tasks.length === 2;
        } catch {
          return false;
        }
      },
      { timeoutMs: 20_000, message: "a claim through the lean connection after the restart" },
    );
  } finally {
    await store.quit();
    await own.cleanup();
  }
}, 60_000);

test("Redis' refusals through Bun's client keep their kind (OOM), and other errors are 'other'", async () => {
  const lean = new LeanScripts(redis.url, "lean-errors");
  try {
    expect(await lean.eval(adhoc("return ARGV[1] .. KEYS[1]"), ["k"], ["v"])).toBe("vk");
    await redisCommand(redis.port, ["CONFIG", "SET", "maxmemory", "1"]);
    try {
      const oom = await lean.eval(adhoc("return redis.call('SET', KEYS[1], ARGV[1])"), ["lean:oom"], ["x"]).then(() => null, (error: unknown) => asRedisRefusal(error));
      expect(oom).toBeInstanceOf(RedisRefusal);
      expect((oom as RedisRefusal).kind).toBe("oom");
    } finally {
      await redisCommand(redis.port, ["CONFIG", "SET", "maxmemory", "0"]);
    }
    const other = await lean.eval(adhoc("return redis.call('NOSUCHCOMMAND')"), [], []).then(() => null, (error: unknown) => asRedisRefusal(error));
    expect(other).toBeInstanceOf(RedisRefusal);
    expect((other as RedisRefusal).kind).toBe("other");
  } finally {
    lean.close();
  }
});
