// The cluster config (src/store/cluster-config.ts): the shard map and the data format are written
// by the first process on a prefix and read back by every other; data of an unknown format, or
// another shard count than asked for, is refused with one line saying what to do.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Store } from "../../src/store/store.ts";
import { ClusterConfigError } from "../../src/store/cluster-config.ts";
import { DATA_FORMAT } from "../../src/store/data-format.ts";
import { configKey } from "../../src/store/keys.ts";
import { commandName, contentName } from "../../src/store/scripts.ts";
import reapLua from "../../src/store/lua/reap-5.lua" with { type: "text" };
import claimedLib from "../../src/store/lua/lib/claimed.lua" with { type: "text" };
import { Client } from "../../src/client/client.ts";
import { redisCommand } from "../../src/node/embedded-redis.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix } from "../helpers/node.ts";

let redis: RedisProcess;
const stores: Store[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await Promise.all(stores.map((store) => store.quit()));
  await redis.cleanup();
});

function openStore(prefix: string): Store {
  const store = new Store({ redisUrl: redis.url, prefix });
  stores.push(store);
  return store;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

describe("cluster config", () => {
  test("the first process writes the shard map and data format; others read the same back", async () => {
    const prefix = randomPrefix("cfg");
    const first = await openStore(prefix).config.ensure({ wantedShards: 8, fallbackShards: 16, lookaheadMs: 1500, coldAfterMs: 3_600_000 });
    expect(first.shards.count).toBe(8);
    expect(first.shards.epoch).toBe(1);
    expect(first.dataFormat).toBe(DATA_FORMAT);
    expect(first.wroteDataFormat).toBe(true);
    const stored = (await redisCommand(redis.port, ["HGETALL", configKey(prefix)])) as string[];
    expect(Object.fromEntries(stored.flatMap((_, i) => (i % 2 === 0 ? [[stored[i], stored[i + 1]]] : [])))).toEqual({
      dataFormat: String(DATA_FORMAT),
      shards: "8",
      shardMapEpoch: "1",
      lookaheadMs: "1500",
      coldAfterMs: "3600000",
    });
    // A producer (no wanted count, another fallback) reads the map the node wrote.
    const second = await openStore(prefix).config.ensure({ fallbackShards: 16 });
    expect(second.shards.count).toBe(8);
    expect(second.shards.epoch).toBe(1);
    expect(second.dataFormat).toBe(DATA_FORMAT);
    expect(second.wroteDataFormat).toBe(false);
    expect(second.lookaheadMs).toBe(1500);
    expect(second.coldAfterMs).toBe(3_600_000);
  });

  test("a config written before the format field existed is today's layout: the format is recorded", async () => {
    const prefix = randomPrefix("cfg");
    await redisCommand(redis.port, ["HSET", configKey(prefix), "shards", "4", "lookaheadMs", "2000"]);
    const settings = await openStore(prefix).config.ensure({ fallbackShards: 16 });
    expect(settings.shards.count).toBe(4);
    expect(settings.wroteDataFormat).toBe(true);
    expect(await redisCommand(redis.port, ["HGET", configKey(prefix), "dataFormat"])).toBe(String(DATA_FORMAT));
  });

  test("data of an unknown format is refused, in one line saying what to do, and nothing is written", async () => {
    const prefix = randomPrefix("cfg");
    await redisCommand(redis.port, ["HSET", configKey(prefix), "dataFormat", "99", "shards", "4"]);
    const error = await rejection(openStore(prefix).config.ensure({ wantedShards: 4, fallbackShards: 16, lookaheadMs: 1000 }));
    expect(error).toBeInstanceOf(ClusterConfigError);
    expect((error as ClusterConfigError).code).toBe("data_format_unknown");
    expect(error.message.split("\n").length).toBe(1);
    expect(error.message).toContain(`prefix "${prefix}" is in format 99`);
    expect(error.message).toContain(`data format ${DATA_FORMAT}`);
    expect(error.message).toContain("run a tickwheel release that knows format 99, or use another prefix");
    expect(await redisCommand(redis.port, ["HGET", configKey(prefix), "lookaheadMs"])).toBeNull();
    expect(await redisCommand(redis.port, ["HGET", configKey(prefix), "dataFormat"])).toBe("99");
  });

  test("the TS client refuses data of an unknown format too", async () => {
    const prefix = randomPrefix("cfg");
    await redisCommand(redis.port, ["HSET", configKey(prefix), "dataFormat", "99", "shards", "4"]);
    const client = new Client({ redisUrl: redis.url, prefix });
    try {
      const error = await rejection(client.schedule("cfg.task", {}, { delay: "1m" }));
      expect((error as ClusterConfigError).code).toBe("data_format_unknown");
      expect(error.message).toContain("format 99");
      expect(await redisCommand(redis.port, ["HLEN", `${prefix}:{0}:tasks`])).toBe(0);
    } finally {
      await client.close();
    }
  });

  test("another shard count than the data's is refused", async () => {
    const prefix = randomPrefix("cfg");
    await openStore(prefix).config.ensure({ wantedShards: 4, fallbackShards: 16 });
    const error = await rejection(openStore(prefix).config.ensure({ wantedShards: 8, fallbackShards: 16 }));
    expect((error as ClusterConfigError).code).toBe("shard_count_mismatch");
    expect(error.message).toContain("has 4 shards; start with TICKWHEEL_SHARDS=4");
    expect(error.message).toContain("tickwheel shards resize 8");
  });
});

describe("script names", () => {
  test("each script is registered under its name and a hash of its source, no hand-kept version", () => {
    const names = (["schedule", "claim", "finish", "reap", "promote", "leaseAcquire"] as const).map(commandName);
    for (const name of names) expect(name).toMatch(/^tickwheel_[A-Za-z]+_[0-9a-f]{12}$/);
    expect(new Set(names).size).toBe(names.length);
    expect(commandName("reap").startsWith("tickwheel_reap_")).toBe(true);
    // The name follows the full source (libraries included): a changed script gets a new name.
    expect(commandName("reap")).toBe(contentName("reap", `${claimedLib}\n${reapLua}`));
    expect(contentName("reap", `${claimedLib}\n${reapLua} `)).not.toBe(commandName("reap"));
  });
});
