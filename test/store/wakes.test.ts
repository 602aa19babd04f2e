// Wake hints against a real Redis: a schedule call publishes one message naming every task it
// stored due within the wake horizon, and the owner's listener gets their whole due ms (the
// priority fraction of each score dropped), nothing for tasks beyond the horizon or other shards.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Store } from "../../src/store/store.ts";
import { wholeMsOf } from "../../src/store/wakes.ts";
import { ShardMap } from "../../src/core/shard-map.ts";
import { resolveTask, DEFAULT_TASK_DEFAULTS } from "../../src/task/schedule-input.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix } from "../helpers/node.ts";

let redis: RedisProcess;
let store: Store;

beforeAll(async () => {
  redis = await startRedis();
  store = new Store({ redisUrl: redis.url, prefix: randomPrefix("wakes") });
});
afterAll(async () => {
  await store.quit();
  await redis.cleanup();
});

function item(id: string, runAt: number, priority: number) {
  const t = resolveTask("w.task", {}, { id, runAt, priority }, { nowMs: Date.now(), shards: new ShardMap(2), defaults: DEFAULT_TASK_DEFAULTS, requireTime: true });
  return { id: t.id, score: t.score, record: t.record };
}

test("a schedule call's hint reaches the shard's listener as the whole due ms of the tasks it names", async () => {
  const heard: [number, number[]][] = [];
  store.wakes.onWake((shard, dueMs) => heard.push([shard, dueMs]));
  await store.wakes.subscribe([0]);
  const now = Date.now();
  const horizon = now + 10_000;
  // Priorities 0, 5 and 9 give scores with fractions .5625, .25 and none.
  await store.tasks.schedule(0, [item("a", now + 1_000, 0), item("b", now + 1_000, 5), item("c", now + 2_000, 9), item("far", now + 60_000, 5)], horizon);
  // Shard 1 is not subscribed: its hint is not heard.
  await store.tasks.schedule(1, [item("other", now + 1_000, 5)], horizon);
  const deadline = Date.now() + 5_000;
  while (heard.length === 0 && Date.now() < deadline) await Bun.sleep(10);
  await Bun.sleep(100);
  expect(heard).toEqual([[0, [now + 1_000, now + 1_000, now + 2_000]]]);
  await store.wakes.unsubscribe([0]);
});

test("wholeMsOf reads a score's whole ms and nothing that is not a score", () => {
  const line = "01JDX|1764667512345.5625";
  expect(wholeMsOf(line, 6, line.length)).toBe(1764667512345);
  expect(wholeMsOf("x|1764667512345", 2, 15)).toBe(1764667512345);
  expect(wholeMsOf("x|", 2, 2)).toBeNull();
  expect(wholeMsOf("x|.5", 2, 4)).toBeNull();
  expect(wholeMsOf("x|12a4", 2, 6)).toBeNull();
  expect(wholeMsOf("x|-12", 2, 5)).toBeNull();
});
