// The finished states' console indexes hold one member per finishing call ("<id> <id> ...", score
// the ms), not one per task (lib/console.lua). Listing must still give every id once, in (ms, id)
// order, with cursors that resume mid-ms, cursors from other shards, budgets and name filters; and
// a one-id chunk is exactly the entry the index held before chunks, so older indexes read the same.
import { afterAll, beforeAll, expect, test } from "bun:test";
import Redis from "ioredis";
import { Store } from "../../src/store/store.ts";
import { LEASE_LOST, type FinishItem } from "../../src/store/outcomes.ts";
import { KeyBook } from "../../src/store/keys.ts";
import { consoleIndexKey } from "../../src/store/console-keys.ts";
import { ShardMap } from "../../src/core/shard-map.ts";
import { resolveTask, DEFAULT_TASK_DEFAULTS } from "../../src/task/schedule-input.ts";
import { finalTailOf } from "../../src/task/codec.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix } from "../helpers/node.ts";

let redis: RedisProcess;
let store: Store;
let raw: Redis;
let prefix: string;
let token: string;
const T = Date.now();

beforeAll(async () => {
  redis = await startRedis();
  prefix = randomPrefix("finished");
  store = new Store({ redisUrl: redis.url, prefix });
  raw = new Redis(redis.url);
  const lease = await store.leases.acquire(0, "lister", 600_000);
  if (!lease.acquired) throw new Error("lease not acquired");
  token = lease.token;
});
afterAll(async () => {
  raw.disconnect();
  await store.quit();
  await redis.cleanup();
});

function item(name: string, id: string) {
  const t = resolveTask(name, {}, { id, runAt: T - 1000 }, { nowMs: T - 2000, shards: new ShardMap(1), defaults: DEFAULT_TASK_DEFAULTS, requireTime: true });
  return { id: t.id, score: t.score, record: t.record };
}

type Listed = { id: string; score: string };

async function listAll(
  state: "succeeded" | "expired",
  limit: number,
  budget: number,
  name: string | null = null,
  after: { score: string; id: string } | null = null,
  namePrefix = false,
): Promise<{ listed: Listed[]; pages: number }> {
  const listed: Listed[] = [];
  let pages = 0;
  do {
    const page = await store.listings.listPage(new ShardMap(1), 0, state, after, limit, budget, name, undefined, namePrefix);
    expect(page.entries.length).toBeLessThanOrEqual(limit);
    for (const entry of page.entries) {
      listed.push({ id: entry.id, score: entry.score });
      expect(JSON.parse(entry.record).state).toBe(state);
    }
    after = page.next;
    pages++;
  } while (after && pages < 100);
  return { listed, pages };
}

const at = (ms: number, ids: string[]): Listed[] => ids.map((id) => ({ id, score: String(ms) }));

test("finished tasks list once each in (ms, id) order across chunks, page by page, from any cursor", async () => {
  const ids = ["t-01", "t-02", "t-03", "t-04", "t-05", "t-06", "t-07", "t-08", "t-09", "x-1", "x-2"];
  await store.tasks.schedule(0, ids.map((id) => item(id.startsWith("x") ? "other.name" : "fin.list", id)), 0);
  const batch = await store.attempts.claim(0, token, Date.now() + 1, 100, Date.now() + 60_000);
  if (batch === LEASE_LOST || batch === null) throw new Error(`nothing claimed: ${String(batch)}`);
  expect(batch.tasks).toHaveLength(ids.length);

  const finish = async (ms: number, state: FinishItem["state"], chunk: string[], last = false) => {
    const items = chunk.map((id) => ({ id, batch: batch.batch, state, finishedAt: ms, ttlMs: 600_000, finalTail: finalTailOf({ attempt: 1, dueAt: T - 1000, finishedAt: ms }) }));
    expect(await store.attempts.finish(0, token, ms, 600_000, items, last ? [batch.batch] : [])).toEqual(chunk.map(() => true));
  };
  // Two calls in one ms, ids out of byte order within and across them; then one id alone; then a
  // call whose ids sort before those of the earlier ms.
  await finish(T, "succeeded", ["t-05", "t-01", "t-09"]);
  await finish(T, "succeeded", ["t-07", "x-1", "t-03"]);
  await finish(T + 1, "succeeded", ["t-02"]);
  await finish(T + 2, "succeeded", ["t-08", "t-04", "x-2"]);
  await finish(T + 2, "expired", ["t-06"], true);

  const all = [...at(T, ["t-01", "t-03", "t-05", "t-07", "t-09", "x-1"]), ...at(T + 1, ["t-02"]), ...at(T + 2, ["t-04", "t-08", "x-2"])];
  for (const limit of [1, 2, 4, 50]) {
    const { listed, pages } = await listAll("succeeded", limit, 100);
    expect(listed).toEqual(all);
    expect(pages).toBeGreaterThanOrEqual(Math.ceil(all.length / limit));
  }
  // A budget of two ids per call: short pages, nothing skipped or repeated.
  expect((await listAll("succeeded", 50, 2)).listed).toEqual(all);
  // Only one name, and a prefix, keep the order.
  expect((await listAll("succeeded", 2, 100, "fin.list")).listed).toEqual(all.filter((e) => e.id.startsWith("t-")));
  expect((await listAll("succeeded", 1, 100, "other", null, true)).listed).toEqual(all.filter((e) => e.id.startsWith("x-")));
  // Cursors: mid-ms, at an ms this shard has no entry of, and past the end.
  expect((await listAll("succeeded", 3, 100, null, { score: String(T), id: "t-04" })).listed).toEqual(all.slice(2));
  expect((await listAll("succeeded", 3, 100, null, { score: String(T), id: "zzz" })).listed).toEqual(all.slice(6));
  expect((await listAll("succeeded", 3, 100, null, { score: String(T + 1), id: "a" })).listed).toEqual(all.slice(6));
  expect((await listAll("succeeded", 3, 100, null, { score: String(T - 50), id: "zzz" })).listed).toEqual(all);
  expect((await listAll("succeeded", 3, 100, null, { score: String(T + 2), id: "x-2" })).listed).toEqual([]);
  expect((await listAll("expired", 10, 100)).listed).toEqual(at(T + 2, ["t-06"]));

  // One member per call, and a call of one id wrote exactly the entry an index of single ids held.
  const index = consoleIndexKey(new KeyBook(prefix).shard(0), "succeeded");
  const members = await raw.zrange(index, "0", "-1", "WITHSCORES");
  expect(members.filter((_, i) => i % 2 === 0).map((m) => m.split(" ").sort().join(" ")).sort()).toEqual(
    ["t-01 t-05 t-09", "t-03 t-07 x-1", "t-02", "t-04 t-08 x-2"].sort(),
  );
  expect(await raw.zscore(index, "t-02")).toBe(String(T + 1));
});

test("an index written before chunks (one id per member) lists in the same order beside chunks", async () => {
  const index = consoleIndexKey(new KeyBook(prefix).shard(0), "succeeded");
  // An older node's entry for a task whose final record is here: t-01 again at T + 1, as it wrote it.
  await raw.zadd(index, T + 1, "t-01");
  // And one of an id a chunk of the same ms holds (an older and a newer node both ended it): listed once.
  await raw.zadd(index, T, "t-03");
  for (const limit of [2, 50]) {
    const { listed } = await listAll("succeeded", limit, 100);
    expect(listed.map((e) => `${e.score}:${e.id}`)).toEqual([
      ...["t-01", "t-03", "t-05", "t-07", "t-09", "x-1"].map((id) => `${T}:${id}`),
      `${T + 1}:t-01`,
      `${T + 1}:t-02`,
      ...["t-04", "t-08", "x-2"].map((id) => `${T + 2}:${id}`),
    ]);
  }
});

test("chunks are trimmed by age with their records' retention, like single entries", async () => {
  await store.tasks.schedule(0, [item("fin.late", "late-1"), item("fin.late", "late-2")], 0);
  const batch = await store.attempts.claim(0, token, Date.now() + 1, 100, Date.now() + 60_000);
  if (batch === LEASE_LOST || batch === null) throw new Error(`nothing claimed: ${String(batch)}`);
  // Finished far later than everything above, with a retention shorter than the gap: the older chunks go.
  const later = T + 10 * 60_000;
  const items = ["late-1", "late-2"].map((id) => ({ id, batch: batch.batch, state: "succeeded" as const, finishedAt: later, ttlMs: 60_000, finalTail: finalTailOf({ attempt: 1, dueAt: T, finishedAt: later }) }));
  expect(await store.attempts.finish(0, token, later, 600_000, items, [batch.batch])).toEqual([true, true]);
  const index = consoleIndexKey(new KeyBook(prefix).shard(0), "succeeded");
  expect(await raw.zrange(index, "0", "-1")).toEqual(["late-1 late-2"]);
  expect((await listAll("succeeded", 10, 100)).listed).toEqual(at(later, ["late-1", "late-2"]));
});
