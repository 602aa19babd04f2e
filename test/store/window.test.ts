// The window read (window-1.lua): how many tasks fall due in each ms of a score range, cut off
// after a number of tasks, with the last score read and the probe, against a real Redis.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Store } from "../../src/store/store.ts";
import { decodeCounts } from "../../src/store/attempts.ts";
import { shardKeys } from "../../src/store/keys.ts";
import { dueScore } from "../../src/task/model.ts";
import { redisCommand } from "../../src/node/embedded-redis.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix } from "../helpers/node.ts";

let redis: RedisProcess;
let store: Store;
const prefix = randomPrefix("window");
const T = 1_764_667_512_000;

beforeAll(async () => {
  redis = await startRedis();
  store = new Store({ redisUrl: redis.url, prefix });
  // Shard 0: ms T+5 (3 tasks, of priorities 9, 5 and 0: fractions .0, .25, .5625), T+6 (1), T+40 (2), T+41 (1).
  const entries: [number, number][] = [
    [T + 5, 9],
    [T + 5, 5],
    [T + 5, 0],
    [T + 6, 5],
    [T + 40, 5],
    [T + 40, 1],
    [T + 41, 5],
  ];
  const args = entries.flatMap(([ms, priority], i) => [dueScore(ms, priority), `t${i}`]);
  await redisCommand(redis.port, ["ZADD", shardKeys(prefix, 0).due, ...args]);
});
afterAll(async () => {
  await store.quit();
  await redis.cleanup();
});

test("counts per due ms, exclusive start, the limit's cut-off and the probe", async () => {
  const attempts = store.attempts;
  // Everything: counts per ms in order, the last score as Redis wrote it; nothing due by T.
  expect(await attempts.window(0, "-inf", T + 100, 100, T)).toEqual({
    counts: [T + 5, 3, T + 6, 1, T + 40, 2, T + 41, 1],
    tasksRead: 7,
    lastScore: String(T + 41.25),
    dueNow: false,
  });
  // From is exclusive: after T+5's last score (T+5.5625) only T+6 on; the probe sees T+5.
  expect(await attempts.window(0, T + 5.5625, T + 40.9375, 100, T + 5)).toEqual({
    counts: [T + 6, 1, T + 40, 2],
    tasksRead: 3,
    lastScore: String(T + 40.5),
    dueNow: true,
  });
  // Cut off after 2 tasks, inside T+5: the count is what was read, the last score where it stopped.
  expect(await attempts.window(0, "-inf", T + 100, 2, T + 4)).toEqual({ counts: [T + 5, 2], tasksRead: 2, lastScore: String(T + 5.25), dueNow: false });
  // Nothing in range.
  expect(await attempts.window(0, T + 41.9375, T + 100, 100, T + 200)).toEqual({ counts: [], tasksRead: 0, lastScore: undefined, dueNow: true });
  // Another shard's keys are not read.
  expect(await attempts.window(1, "-inf", T + 100, 100, T + 100)).toEqual({ counts: [], tasksRead: 0, lastScore: undefined, dueNow: false });
});

test("decodeCounts: gaps add up to each ms; anything else in the text is an error", () => {
  expect(decodeCounts("")).toEqual([]);
  expect(decodeCounts("1764667512345:2,1:1,7:30")).toEqual([1764667512345, 2, 1764667512346, 1, 1764667512353, 30]);
  expect(() => decodeCounts("12:3,x:1")).toThrow(/unexpected "x" at 5/);
  expect(() => decodeCounts("12:3,4")).toThrow(/inside an entry/);
});
