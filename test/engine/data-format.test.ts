// A node records the data format of a new prefix and says which format it found or wrote; on data
// of a format it does not know it refuses to start, in one line saying what to do.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import pino from "pino";
import { loadConfig } from "../../src/config/config.ts";
import { TickwheelNode } from "../../src/node/node.ts";
import { DATA_FORMAT } from "../../src/store/data-format.ts";
import { configKey } from "../../src/store/keys.ts";
import { redisCommand } from "../../src/node/embedded-redis.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, ROOT } from "../helpers/node.ts";

let redis: RedisProcess;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.cleanup();
});

/** An in-process node whose log lines are kept. */
function nodeWithLog(prefix: string): { node: TickwheelNode; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const config = loadConfig({ PORT: "0", REDIS_URL: redis.url, TICKWHEEL_PREFIX: prefix, TICKWHEEL_SHARDS: "2" });
  return { node: new TickwheelNode(config, log), lines };
}

test("the first node writes the data format and says so; the next one says which it found", async () => {
  const prefix = randomPrefix("fmt");
  const first = nodeWithLog(prefix);
  const second = nodeWithLog(prefix);
  try {
    await first.node.start();
    expect(await redisCommand(redis.port, ["HGET", configKey(prefix), "dataFormat"])).toBe(String(DATA_FORMAT));
    const wrote = first.lines.find((line) => line.dataFormat !== undefined);
    expect(wrote).toMatchObject({ dataFormat: DATA_FORMAT, shards: 2, shardMapEpoch: 1, msg: "new data: wrote data format and shard map" });
    await second.node.start();
    const found = second.lines.find((line) => line.dataFormat !== undefined);
    expect(found).toMatchObject({ dataFormat: DATA_FORMAT, msg: "found existing data of a known format" });
  } finally {
    await second.node.stop();
    await first.node.stop();
  }
}, 30_000);

test("a node refuses data of an unknown format: exit 1, one line saying what to do", async () => {
  const prefix = randomPrefix("fmt");
  await redisCommand(redis.port, ["HSET", configKey(prefix), "dataFormat", "99", "shards", "2"]);
  const result = Bun.spawnSync(["bun", join(ROOT, "src/main.ts")], {
    cwd: ROOT,
    env: { ...process.env, PORT: "0", TICKWHEEL_LOG_LEVEL: "silent", REDIS_URL: redis.url, TICKWHEEL_PREFIX: prefix, TICKWHEEL_SHARDS: "2" },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 30_000,
  });
  const stderr = result.stderr.toString().trim();
  expect(result.exitCode).toBe(1);
  expect(stderr.split("\n").length).toBe(1);
  expect(stderr).toBe(
    `tickwheel: could not start: the data under prefix "${prefix}" is in format 99, which this tickwheel (data format ${DATA_FORMAT}) cannot read; ` +
      "run a tickwheel release that knows format 99, or use another prefix",
  );
  // It took no lease and registered nothing.
  expect(await redisCommand(redis.port, ["EXISTS", `${prefix}:{0}:lease`, `${prefix}:{nodes}`])).toBe(0);
}, 40_000);
