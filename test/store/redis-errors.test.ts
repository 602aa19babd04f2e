// Redis' refusals, as a real redis-server words them, become typed RedisRefusals with a kind and a
// code: out of memory (noeviction at maxmemory, also inside a Lua script), read-only, unreachable.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { startRedis, startRedisCluster, type RedisProcess } from "../helpers/redis-server.ts";
import { asRedisRefusal, redisErrorKind, RedisRefusal } from "../../src/store/redis-errors.ts";
import { readMemoryPolicy, readMemoryPolicyAt } from "../../src/store/redis-memory-policy.ts";
import { TickwheelError } from "../../src/task/errors.ts";

let redis: RedisProcess;
let raw: Redis;

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url, { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  raw?.disconnect();
  await redis?.cleanup();
});

async function refusalOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return asRedisRefusal(error);
  }
  throw new Error("expected Redis to refuse");
}

describe("Redis refusals", () => {
  test("out of memory, from a command and from inside a script: kind oom, code redis_out_of_memory", async () => {
    await raw.config("SET", "maxmemory-policy", "noeviction");
    await raw.config("SET", "maxmemory", "1");
    try {
      for (const attempt of [raw.set("k", "v"), raw.eval("redis.call('get', KEYS[1]); return redis.call('set', KEYS[1], 'v')", 1, "k")]) {
        const refusal = await refusalOf(attempt);
        expect(refusal).toBeInstanceOf(RedisRefusal);
        expect(refusal).toBeInstanceOf(TickwheelError);
        expect((refusal as RedisRefusal).kind).toBe("oom");
        expect((refusal as RedisRefusal).code).toBe("redis_out_of_memory");
        expect((refusal as RedisRefusal).retryAfterS).toBeGreaterThan(0);
        expect((refusal as RedisRefusal).detail).toStartWith("OOM ");
      }
    } finally {
      await raw.config("SET", "maxmemory", "0");
    }
    expect(await raw.set("k", "v")).toBe("OK");
  });

  test("a replica refuses writes: kind readonly; a wrong command is 'other'; a plain Error is not Redis'", async () => {
    const replica = await startRedis();
    const client = new Redis(replica.url, { maxRetriesPerRequest: 1 });
    try {
      await client.replicaof("127.0.0.1", String(redis.port));
      const refusal = (await refusalOf(client.set("k", "v"))) as RedisRefusal;
      expect(refusal.kind).toBe("readonly");
      expect(refusal.code).toBe("redis_read_only");
      const other = (await refusalOf(client.call("NO-SUCH-COMMAND"))) as RedisRefusal;
      expect(other.kind).toBe("other");
    } finally {
      client.disconnect();
      await replica.cleanup();
    }
    expect(redisErrorKind(new Error("something else"))).toBeNull();
    expect(asRedisRefusal(new TypeError("x"))).toBeInstanceOf(TypeError);
  });

  test("unreachable: kind connection, code unavailable", async () => {
    const gone = await startRedis();
    const client = new Redis(gone.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    client.on("error", () => {});
    await client.ping();
    await gone.cleanup();
    const refusal = (await refusalOf(client.ping())) as RedisRefusal;
    client.disconnect();
    expect(refusal.kind).toBe("connection");
    expect(refusal.code).toBe("unavailable");
  });

  test("maxmemory-policy: noeviction is safe, allkeys-lru and volatile-lru evict", async () => {
    await raw.config("SET", "maxmemory-policy", "allkeys-lru");
    expect(await readMemoryPolicy(raw)).toEqual({ policy: "allkeys-lru", evicting: true });
    await raw.config("SET", "maxmemory-policy", "volatile-lru");
    expect(await readMemoryPolicy(raw)).toEqual({ policy: "volatile-lru", evicting: true });
    await raw.config("SET", "maxmemory-policy", "noeviction");
    expect(await readMemoryPolicy(raw)).toEqual({ policy: "noeviction", evicting: false });
  });

  test("CONFIG refused (a managed service's ACL): the policy is unknown, not an error", async () => {
    await raw.call("ACL", "SETUSER", "app", "on", ">secret-pass", "~*", "&*", "+@all", "-config");
    const app = new Redis(redis.url.replace("redis://", "redis://app:secret-pass@"), { maxRetriesPerRequest: 1 });
    try {
      const policy = await readMemoryPolicy(app);
      expect(policy.policy).toBe("unknown");
      expect(policy.evicting).toBeNull();
      expect(policy.reason).toContain("NOPERM");
    } finally {
      app.disconnect();
    }
  });
});

test("Redis Cluster: every master is asked, and one evicting master makes the cluster evicting", async () => {
  const cluster = await startRedisCluster();
  try {
    const target = { clusterNodes: cluster.nodes.map((n) => `${n.host}:${n.port}`) };
    expect(await readMemoryPolicyAt(target)).toEqual({ policy: "noeviction", evicting: false });
    const second = new Redis(cluster.servers[1]!.url);
    await second.config("SET", "maxmemory-policy", "allkeys-lfu");
    second.disconnect();
    expect(await readMemoryPolicyAt(target)).toEqual({ policy: "allkeys-lfu", evicting: true });
  } finally {
    await cluster.cleanup();
  }
}, 60_000);
