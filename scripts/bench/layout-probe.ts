/**
 * `bun scripts/bench/layout-probe.ts`: what Redis charges per pending task for
 * each way of storing it, measured (used_memory growth over 1,000,000 entries
 * in 16 keys, like 16 shards, on a private redis-server). It backs the memory
 * figure in BENCHMARKS.md: the floor of tickwheel's layout (one due-ZSET
 * entry and one tasks-HASH field per task) and what a listpack-bucketed
 * layout would cost instead. Entries are written server-side by Lua, so the
 * run takes seconds.
 */
import { startRedis } from "../../test/helpers/redis-server.ts";
import { redisCommand } from "../../src/node/embedded-redis.ts";

const TASKS = 1_000_000;
const KEYS = 16;

const redis = await startRedis();
try {
  const usedMemory = async () => Number(/used_memory:(\d+)/.exec(String(await redisCommand(redis.port, ["INFO", "memory"])))![1]);
  const id = (length: number) => `local function id(i) return string.format('%0${length}d', i * ${KEYS} + tonumber(ARGV[1])) end `;
  const probes: [string, string][] = [
    ["due ZSET entry, 26-char id", `${id(26)} for i = 1, tonumber(ARGV[2]) do redis.call('ZADD', 'z' .. ARGV[1], 1763000000000 + i * 80, id(i)) end`],
    ["due ZSET entry, 12-char id", `${id(12)} for i = 1, tonumber(ARGV[2]) do redis.call('ZADD', 'z' .. ARGV[1], 1763000000000 + i * 80, id(i)) end`],
    ["tasks HASH field, 26-char id, 1-byte record", `${id(26)} for i = 1, tonumber(ARGV[2]) do redis.call('HSET', 'h' .. ARGV[1], id(i), 'x') end`],
    ["tasks HASH field, 26-char id, 72-byte record (today's)", `${id(26)} for i = 1, tonumber(ARGV[2]) do redis.call('HSET', 'h' .. ARGV[1], id(i), string.rep('x', 72)) end`],
    ["ZSET + HASH, 26-char id, 72-byte record (today's layout)", `${id(26)} for i = 1, tonumber(ARGV[2]) do redis.call('ZADD', 'z' .. ARGV[1], 1763000000000 + i * 80, id(i)) redis.call('HSET', 'h' .. ARGV[1], id(i), string.rep('x', 72)) end`],
    ["ZSET + HASH, 26-char id, 1-byte record (floor of the layout)", `${id(26)} for i = 1, tonumber(ARGV[2]) do redis.call('ZADD', 'z' .. ARGV[1], 1763000000000 + i * 80, id(i)) redis.call('HSET', 'h' .. ARGV[1], id(i), 'x') end`],
    ["listpack buckets of 64 (ZSET + HASH per bucket), 16-char id, 48-byte record", `${id(16)} for i = 1, tonumber(ARGV[2]) do local b = math.floor(i / 64) redis.call('ZADD', 'z' .. ARGV[1] .. ':' .. b, 1763000000000 + i * 80, id(i)) redis.call('HSET', 'h' .. ARGV[1] .. ':' .. b, id(i), string.rep('x', 48)) end`],
  ];
  console.log(`| layout (${TASKS.toLocaleString("en-US")} entries in ${KEYS} keys) | bytes per task |`);
  console.log("|---|--:|");
  for (const [label, lua] of probes) {
    await redisCommand(redis.port, ["FLUSHALL"]);
    const before = await usedMemory();
    for (let key = 0; key < KEYS; key++) await redisCommand(redis.port, ["EVAL", lua, "0", String(key), String(TASKS / KEYS)], { timeoutMs: 60_000 });
    console.log(`| ${label} | ${Math.round(((await usedMemory()) - before) / TASKS)} |`);
  }
} finally {
  await redis.cleanup();
}
