// Resharding at the store level (src/store/reshard-moves.ts and its scripts): a source shard's
// move, step by step under its lease, takes every pending, cold and dead task of its moving slots
// to their new shard; readers find every id at every step; a producer with the old map is
// refused and rerouted; an explicit id stays an idempotency key across the move; a second resize
// while one runs is refused; a step resumed by a new owner after a crash lands what was in transit
// exactly once. Nodes are not involved: the test drives moveStep itself.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Store } from "../../src/store/store.ts";
import { Client } from "../../src/client/client.ts";
import { ShardMap } from "../../src/core/shard-map.ts";
import { keySlot } from "../../src/core/slot.ts";
import { shardKeys } from "../../src/store/keys.ts";
import { LEASE_LOST } from "../../src/store/outcomes.ts";
import { finalTailOf } from "../../src/task/codec.ts";
import type { MoveReport } from "../../src/store/reshard-moves.ts";
import { TickwheelError } from "../../src/task/errors.ts";
import { redisCommand } from "../../src/node/embedded-redis.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix } from "../helpers/node.ts";

const HOUR = 3_600_000;
let redis: RedisProcess;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.cleanup();
});

const TOKEN = "mover:1";

async function setLeases(prefix: string, shards: number): Promise<void> {
  for (let shard = 0; shard < shards; shard++) await redisCommand(redis.port, ["SET", shardKeys(prefix, shard).lease, TOKEN]);
}

/** Steps every source shard's move until all are done, reading every id between steps. */
async function driveResize(store: Store, client: Client, ids: string[], onStep?: (step: number) => Promise<void>): Promise<number> {
  // Preparing until every shard is leased (the node's map watch checks; here the leases are set).
  const prepared = await store.config.shardMap();
  if (prepared.preparing) {
    // Writers still use the old map while preparing.
    expect(prepared.shardOfSlot(9)).toBe(9 % prepared.count);
    expect(await store.config.beginMoves(prepared.epoch)).toBe(true);
  }
  const map = await store.config.shardMap();
  expect(map.resizing).toBe(true);
  let steps = 0;
  const done = new Set<number>();
  while (done.size < map.count) {
    for (let shard = 0; shard < map.count; shard++) {
      if (done.has(shard)) continue;
      const report = (await store.reshard.moveStep(shard, TOKEN, map, Date.now() + 2000)) as MoveReport;
      expect(report).not.toBe(LEASE_LOST);
      if (report.phase === "done") done.add(shard);
      steps++;
      await onStep?.(steps);
      // Readers find every task at every step (a sample each step, all of them now and then).
      const sample = steps % 10 === 0 ? ids : ids.filter((_, i) => i % 17 === steps % 17);
      const views = await Promise.all(sample.map((id) => client.get(id)));
      views.forEach((view, i) => {
        if (view === null) throw new Error(`task ${sample[i]} not found at step ${steps}`);
      });
    }
    expect(steps).toBeLessThan(5000);
  }
  expect(await store.config.finishResize(map.epoch, Date.now())).toBe(true);
  return steps;
}

test("8 -> 32 -> 8 at the store level: every task moves once, stays readable, lands in its new shard", async () => {
  const prefix = randomPrefix("rs");
  const store = new Store({ redisUrl: redis.url, prefix });
  await store.config.ensure({ wantedShards: 8, fallbackShards: 8, lookaheadMs: 2000, coldAfterMs: HOUR });
  const client = new Client({ redisUrl: redis.url, prefix });
  const staleProducer = new Client({ redisUrl: redis.url, prefix });
  const now = Date.now();
  const near = Array.from({ length: 300 }, (_, i) => ({ task: "rs.task", args: { i }, options: { runAt: now + 10 * 60_000 + i } }));
  const far = Array.from({ length: 150 }, (_, i) => ({ task: "rs.task", args: { i }, options: { runAt: now + 2 * HOUR + i } }));
  const given = Array.from({ length: 20 }, (_, i) => ({ task: "rs.task", args: { i }, options: { id: `given-${i}`, runAt: now + 20 * 60_000 } }));
  const results = await client.scheduleMany([...near, ...far, ...given]);
  const ids = results.map((r) => (r as { id: string }).id);
  expect(new Set(ids).size).toBe(470);
  // The stale producer reads the 8-shard map now, and keeps it through the resize start.
  expect((await staleProducer.shardMap()).count).toBe(8);
  await setLeases(prefix, 32);

  await client.resize(32);
  await expect(client.resize(16)).rejects.toMatchObject({ code: "conflict", field: "count" });
  const late: string[] = [];
  await driveResize(store, client, ids, async (step) => {
    if (step === 3) {
      // Old map, fenced shard: refused and rerouted to the new shard, never left behind.
      const r = await staleProducer.scheduleMany(Array.from({ length: 40 }, (_, i) => ({ task: "rs.task", args: { late: i }, options: { runAt: now + 30 * 60_000 } })));
      for (const one of r) late.push((one as { id: string }).id);
      // An explicit id scheduled again mid-move is found where it is (old or new shard): not created twice.
      const again = await client.scheduleMany(given.map((g) => ({ ...g, options: { ...g.options, runAt: now + 40 * 60_000 } })));
      for (const one of again) expect((one as { created: boolean }).created).toBe(false);
    }
  });
  const all = [...ids, ...late];
  const map = await store.config.shardMap();
  expect(map).toMatchObject({ count: 32, resizingTo: null, previousCount: 8 });
  await checkPlacement(prefix, client, all, 32);

  // And back: 32 -> 8.
  await client.resize(8);
  await driveResize(store, client, all);
  await checkPlacement(prefix, client, all, 8);
  await client.close();
  await staleProducer.close();
  await store.quit();
}, 60_000);

/** Every id readable as scheduled, in the shard of the count, once: due + cold counts add up, outboxes empty. */
async function checkPlacement(prefix: string, client: Client, ids: string[], count: number): Promise<void> {
  const views = await Promise.all(ids.map((id) => client.get(id)));
  views.forEach((view, i) => {
    expect(view?.state).toBe("scheduled");
    expect(view?.shard).toBe(keySlot(ids[i]!) % count);
  });
  let stored = 0;
  for (let shard = 0; shard < 32; shard++) {
    const keys = shardKeys(prefix, shard);
    const due = Number(await redisCommand(redis.port, ["ZCARD", keys.due]));
    const cold = Number((await redisCommand(redis.port, ["GET", keys.coldCount])) ?? 0);
    if (shard >= count) expect(due + cold).toBe(0);
    stored += due + cold;
    expect(Number(await redisCommand(redis.port, ["HLEN", keys.outbox]))).toBe(0);
  }
  expect(stored).toBe(ids.length);
}

test("a step cut short after taking tasks out is resumed by the next owner: they land once", async () => {
  const prefix = randomPrefix("rs");
  const store = new Store({ redisUrl: redis.url, prefix });
  await store.config.ensure({ wantedShards: 2, fallbackShards: 2, lookaheadMs: 2000, coldAfterMs: HOUR });
  const client = new Client({ redisUrl: redis.url, prefix });
  const results = await client.scheduleMany(Array.from({ length: 200 }, (_, i) => ({ task: "rs.task", args: { i }, options: { delay: "10m" } })));
  const ids = results.map((r) => (r as { id: string }).id);
  await setLeases(prefix, 4);
  await client.resize(4);
  await store.config.beginMoves((await store.config.shardMap()).epoch);
  const map = await store.config.shardMap();
  const keys = shardKeys(prefix, 0);
  // What a mover that died right after reshard-out left: its batch in the outbox, landed nowhere.
  await store.reshard.moveStep(0, TOKEN, map, 0); // starts the shard's part (cold phase, nothing cold)
  await store.reshard.moveStep(0, TOKEN, map, 0); // a cold step
  const moving = ids.filter((id) => keySlot(id) % 2 === 0 && keySlot(id) % 4 !== 0);
  expect(moving.length).toBeGreaterThan(10);
  const argv = [TOKEN, "task", keys.donePrefix, ...moving.flatMap((id) => [id, String(keySlot(id) % 4), String(keySlot(id))])];
  const out = (await (store as unknown as { runner: { run(n: string, k: string[], a: string[]): Promise<unknown> } }).runner.run(
    "reshardOut",
    [keys.lease, keys.due, keys.tasks, keys.err, keys.progress, keys.outbox, keys.dead],
    argv,
  )) as unknown[];
  expect(Number(out[0])).toBe(moving.length);
  expect(Number(await redisCommand(redis.port, ["HLEN", keys.outbox]))).toBe(moving.length);
  // In transit: still readable (from the outbox), as scheduled.
  for (const id of moving.slice(0, 5)) expect((await client.get(id))?.state).toBe("scheduled");
  // A new owner takes the shard: its first step lands the outbox.
  await redisCommand(redis.port, ["SET", keys.lease, "next:2"]);
  expect(await store.reshard.moveStep(0, TOKEN, map, 0)).toBe(LEASE_LOST);
  const resumed = (await store.reshard.moveStep(0, "next:2", map, 0)) as MoveReport;
  expect(resumed.movedNow).toBe(moving.length);
  // Sending the same bundles again (a second crash before the ack) creates nothing.
  const again = (await (store as unknown as { runner: { run(n: string, k: string[], a: (string | number)[]): Promise<unknown> } }).runner.run(
    "reshardIn",
    [
      ...(["due", "tasks", "err", "dead", "coldCount"] as const).map((k) => shardKeys(prefix, keySlot(moving[0]!) % 4)[k]),
      `${prefix}:{${keySlot(moving[0]!) % 4}}:schedules`,
      `${prefix}:{${keySlot(moving[0]!) % 4}}:schedwake`,
    ],
    [shardKeys(prefix, keySlot(moving[0]!) % 4).donePrefix, shardKeys(prefix, keySlot(moving[0]!) % 4).coldPrefix, "", "PUBLISH", 0, moving[0]!, ["t", keySlot(moving[0]!) % 4, keySlot(moving[0]!), "0:1\n{}", ""].join("\0")],
  )) as number[];
  expect(again).toEqual([0, 1]);
  for (let shard = 0; shard < 2; shard++) await redisCommand(redis.port, ["SET", shardKeys(prefix, shard).lease, TOKEN]);
  await redisCommand(redis.port, ["SET", keys.lease, TOKEN]);
  await driveResize(store, client, ids);
  await checkPlacement(prefix, client, ids, 4);
  await client.close();
  await store.quit();
}, 60_000);

test("a node or client whose shard count disagrees with the stored map refuses with one line saying how to resize", async () => {
  const prefix = randomPrefix("rs");
  const store = new Store({ redisUrl: redis.url, prefix });
  await store.config.ensure({ wantedShards: 8, fallbackShards: 8 });
  const error = await store.config.ensure({ wantedShards: 16, fallbackShards: 8 }).catch((e) => e);
  expect(error.code).toBe("shard_count_mismatch");
  expect(error.message).toContain('tickwheel shards resize 16');
  expect(error.message).not.toContain("\n");
  await store.quit();
});

test("resize input: a count out of range names the field; the same count is refused", async () => {
  const prefix = randomPrefix("rs");
  const client = new Client({ redisUrl: redis.url, prefix, shards: 4 });
  for (const bad of [0, 1.5, 16385]) {
    const error = await client.resize(bad).catch((e) => e);
    expect(error).toBeInstanceOf(TickwheelError);
    expect(error.field).toBe("count");
  }
  await expect(client.resize(4)).rejects.toMatchObject({ code: "invalid_input", field: "count" });
  await client.close();
});

test("ShardMap while resizing: writers go to the new shard, readers ask new then old", () => {
  const map = new ShardMap(8, 2, { resizingTo: 32 });
  expect(map.span).toBe(32);
  const slot = 9; // 9 % 8 = 1, 9 % 32 = 9: moves from 1 to 9
  expect(map.shardOfSlot(slot)).toBe(9);
  expect(map.sourceOfSlot(slot)).toBe(1);
  expect(map.sourceOfSlot(1)).toBeNull();
  expect(map.movingSlotsOf(1).length).toBe(16384 / 8 - 16384 / 32);
  const shrink = new ShardMap(32, 4, { resizingTo: 8 });
  expect(shrink.movingSlotsOf(1)).toEqual([]);
  expect(shrink.movingSlotsOf(9).length).toBe(16384 / 32);
  const after = new ShardMap(8, 5, { previousCount: 32 });
  expect(after.span).toBe(8);
  // Listings still read the 32 shards before the shrink (their final records stay there).
  expect(after.listSpan).toBe(32);
  expect(map.listSpan).toBe(32);
  expect(new ShardMap(32, 5, { previousCount: 8 }).listSpan).toBe(32);
  const id = "some-id";
  expect(after.lookups(id)[0]).toBe(keySlot(id) % 8);
});

test("recurring schedules move with their slot: readable at every step, planted where they are, none left behind", async () => {
  const prefix = randomPrefix("rs");
  const store = new Store({ redisUrl: redis.url, prefix });
  await store.config.ensure({ wantedShards: 4, fallbackShards: 4, lookaheadMs: 2000, coldAfterMs: HOUR });
  const client = new Client({ redisUrl: redis.url, prefix });
  const names = Array.from({ length: 40 }, (_, i) => `rs-beat-${i}`);
  // Every minute: puts plant the first occurrence when it is close, so some have one pending.
  for (const name of names) await client.schedules.put(name, { every: "1m", task: { name: "rs.beat" } });
  // What each schedule holds (version, cursor, definition): it moves as it is.
  const before = new Map<string, unknown>();
  for (const name of names) before.set(name, await redisCommand(redis.port, ["HGET", `${prefix}:{${keySlot(name) % 4}}:schedules`, name]));
  const moving = names.filter((name) => keySlot(name) % 4 !== keySlot(name) % 8);
  expect(moving.length).toBeGreaterThan(5);
  await setLeases(prefix, 8);
  await client.resize(8);
  await driveResize(store, client, [], async () => {
    // Readable at every step, wherever it is (old shard, new shard).
    for (const name of names) expect((await client.schedules.get(name))?.name).toBe(name);
  });
  const keys = (shard: number) => [`${prefix}:{${shard}}:schedules`, `${prefix}:{${shard}}:schedwake`];
  for (const name of names) {
    const home = keySlot(name) % 8;
    const view = await client.schedules.get(name);
    expect(view).toMatchObject({ name, shard: home, every: 60_000 });
    const [hash, wake] = keys(home);
    expect(await redisCommand(redis.port, ["HGET", hash!, name])).toBe(before.get(name) as string);
    expect(await redisCommand(redis.port, ["HEXISTS", hash!, name])).toBe(1);
    expect(await redisCommand(redis.port, ["ZSCORE", wake!, name])).not.toBeNull();
    if (home !== keySlot(name) % 4) {
      const [oldHash, oldWake] = keys(keySlot(name) % 4);
      expect(await redisCommand(redis.port, ["HEXISTS", oldHash!, name])).toBe(0);
      expect(await redisCommand(redis.port, ["ZSCORE", oldWake!, name])).toBeNull();
    }
  }
  expect((await client.schedules.list({ limit: 500 })).schedules.map((v) => v.name).sort()).toEqual([...names].sort());
  // A change after the move lands where the schedule is now; a planter there plants it.
  await client.schedules.pause(moving[0]!);
  expect((await client.schedules.get(moving[0]!))?.paused).toBe(true);
  expect(await redisCommand(redis.port, ["HEXISTS", keys(keySlot(moving[0]!) % 4)[0]!, moving[0]!])).toBe(0);
  await client.close();
  await store.quit();
}, 60_000);

test("a schedule written by a producer with the old map after its shard's schedules phase is swept to its new shard", async () => {
  const prefix = randomPrefix("rs");
  const store = new Store({ redisUrl: redis.url, prefix });
  await store.config.ensure({ wantedShards: 2, fallbackShards: 2, lookaheadMs: 2000, coldAfterMs: HOUR });
  const client = new Client({ redisUrl: redis.url, prefix });
  const late = Array.from({ length: 200 }, (_, i) => `rs-late-${i}`).find((name) => keySlot(name) % 2 === 0 && keySlot(name) % 4 === 2)!;
  await setLeases(prefix, 4);
  await client.resize(4);
  await store.config.beginMoves((await store.config.shardMap()).epoch);
  const map = await store.config.shardMap();
  // Shard 0 through cold and schedules, into tasks.
  let report: MoveReport;
  do report = (await store.reshard.moveStep(0, TOKEN, map, 0)) as MoveReport;
  while (report.phase !== "tasks");
  // A producer whose map (read up to a second ago) still says 2 shards writes the schedule to
  // shard 0 after its schedules phase: what that write leaves, made under another prefix and copied.
  const elsewhere = randomPrefix("rs");
  const other = new Client({ redisUrl: redis.url, prefix: elsewhere, shards: 2 });
  await other.schedules.put(late, { every: "1h", task: { name: "rs.beat" } });
  const stored = (await redisCommand(redis.port, ["HGET", `${elsewhere}:{0}:schedules`, late])) as string;
  const wakeAt = (await redisCommand(redis.port, ["ZSCORE", `${elsewhere}:{0}:schedwake`, late])) as string;
  await redisCommand(redis.port, ["HSET", `${prefix}:{0}:schedules`, late, stored]);
  await redisCommand(redis.port, ["ZADD", `${prefix}:{0}:schedwake`, wakeAt, late]);
  await other.close();
  expect(await redisCommand(redis.port, ["HEXISTS", `${prefix}:{0}:schedules`, late])).toBe(1);
  await driveResize(store, client, []);
  expect(await redisCommand(redis.port, ["HEXISTS", `${prefix}:{0}:schedules`, late])).toBe(0);
  expect(await redisCommand(redis.port, ["HEXISTS", `${prefix}:{2}:schedules`, late])).toBe(1);
  expect((await client.schedules.get(late))?.shard).toBe(2);
  await client.close();
  await store.quit();
}, 60_000);

test("a schedule between its two shards (in the outbox) is waited for: a change lands on it at its new shard", async () => {
  const prefix = randomPrefix("rs");
  const store = new Store({ redisUrl: redis.url, prefix });
  await store.config.ensure({ wantedShards: 2, fallbackShards: 2, lookaheadMs: 2000, coldAfterMs: HOUR });
  const client = new Client({ redisUrl: redis.url, prefix });
  const name = Array.from({ length: 200 }, (_, i) => `rs-transit-${i}`).find((n) => keySlot(n) % 2 !== keySlot(n) % 4)!;
  const created = await client.schedules.put(name, { every: "1h", task: { name: "rs.beat" } });
  const source = keySlot(name) % 2;
  await setLeases(prefix, 4);
  await client.resize(4);
  await store.config.beginMoves((await store.config.shardMap()).epoch);
  const map = await store.config.shardMap();
  // What a mover step that took it out and had not landed it yet leaves: the schedule in the outbox.
  const runner = (store as unknown as { runner: { run(n: string, k: string[], a: (string | number)[]): Promise<unknown> } }).runner;
  const keys = shardKeys(prefix, source);
  await runner.run("reshardOutSchedules", [keys.lease, keys.outbox, `${prefix}:{${source}}:schedules`, `${prefix}:{${source}}:schedwake`], [TOKEN, name, keySlot(name) % 4, keySlot(name)]);
  expect(Number(await redisCommand(redis.port, ["HLEN", keys.outbox]))).toBe(1);
  // A pause now waits for it (it is in neither shard), and applies once it has landed.
  const paused = client.schedules.pause(name);
  await Bun.sleep(100);
  await store.reshard.moveStep(source, TOKEN, map, 0);
  const view = await paused;
  expect(view).toMatchObject({ name, paused: true, shard: keySlot(name) % 4, createdAt: created.schedule.createdAt });
  expect(await redisCommand(redis.port, ["HEXISTS", `${prefix}:{${source}}:schedules`, name])).toBe(0);
  await client.close();
  await store.quit();
}, 60_000);

test("listing by state after a resize finds every ended and failed task: failed ones move with their task, finished ones are read where they stayed", async () => {
  const prefix = randomPrefix("rs");
  const store = new Store({ redisUrl: redis.url, prefix });
  await store.config.ensure({ wantedShards: 16, fallbackShards: 16, lookaheadMs: 2000, coldAfterMs: HOUR });
  const client = new Client({ redisUrl: redis.url, prefix });
  await setLeases(prefix, 16);
  const results = await client.scheduleMany(Array.from({ length: 120 }, (_, i) => ({ task: "rs.task", args: { i }, options: { runAt: Date.now() - 1000 + i } })));
  const ids = results.map((r) => (r as { id: string }).id);
  // Claim everything; the first 80 succeed, the other 40 fail and wait for a retry in an hour.
  const succeeded: string[] = [];
  const failed: string[] = [];
  for (let shard = 0; shard < 16; shard++) {
    const claimed = await store.attempts.claim(shard, TOKEN, Date.now() + 1000, 1000, Date.now() + 60_000);
    if (claimed === null || claimed === LEASE_LOST) continue;
    const items = [];
    for (const task of claimed.tasks) {
      if (ids.indexOf(task.id) < 80) {
        const at = Date.now();
        items.push({ id: task.id, batch: claimed.batch, state: "succeeded" as const, finishedAt: at, ttlMs: HOUR, finalTail: finalTailOf({ attempt: 1, dueAt: at, finishedAt: at }) });
        succeeded.push(task.id);
      } else {
        expect(await store.attempts.retry(shard, TOKEN, task.id, claimed.batch, 1, String(Date.now() + HOUR), "boom")).toBe(true);
        failed.push(task.id);
      }
    }
    if (items.length > 0) await store.attempts.finish(shard, TOKEN, Date.now(), HOUR, items);
  }
  expect(succeeded.length).toBe(80);
  expect(failed.length).toBe(40);
  const listAll = async (state: "succeeded" | "failed", order: "shard" | "time", reader = client) => {
    const found: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 100; page++) {
      const result = await reader.list({ state, order, limit: 7, ...(cursor && { cursor }) });
      found.push(...result.tasks.map((t) => t.id));
      if (!result.nextCursor) return found.sort();
      cursor = result.nextCursor;
    }
    throw new Error("listing did not end");
  };
  const check = async (reader = client) => {
    for (const order of ["shard", "time"] as const) {
      expect(await listAll("succeeded", order, reader)).toEqual([...succeeded].sort());
      expect(await listAll("failed", order, reader)).toEqual([...failed].sort());
    }
  };
  await check();
  // 16 -> 4: the failed tasks move (with their index entry); the finished ones stay in 4..15.
  await client.resize(4);
  await driveResize(store, client, failed);
  // A reader that loads the map now: stable at 4 shards, 16 before.
  const after = new Client({ redisUrl: redis.url, prefix });
  expect(await after.shardMap()).toMatchObject({ count: 4, resizingTo: null, previousCount: 16 });
  await check(after);
  await after.close();
  for (const id of failed) expect(await client.get(id)).toMatchObject({ shard: keySlot(id) % 4, lastError: "boom" });
  // Nothing of the failed index is left beyond the 4 shards.
  for (let shard = 4; shard < 16; shard++) expect(await redisCommand(redis.port, ["ZCARD", `${prefix}:{${shard}}:done:by:failed`])).toBe(0);
  await client.close();
  await store.quit();
}, 60_000);

test("a mover whose map is behind the shard's progress (a later resize) changes nothing", async () => {
  const prefix = randomPrefix("rs");
  const store = new Store({ redisUrl: redis.url, prefix });
  await store.config.ensure({ wantedShards: 2, fallbackShards: 2, lookaheadMs: 2000, coldAfterMs: HOUR });
  const client = new Client({ redisUrl: redis.url, prefix });
  await setLeases(prefix, 4);
  await client.resize(4);
  await store.config.beginMoves((await store.config.shardMap()).epoch);
  const first = await store.config.shardMap();
  await driveResize(store, client, []);
  await client.resize(2);
  await store.config.beginMoves((await store.config.shardMap()).epoch);
  const second = await store.config.shardMap();
  const progressed = (await store.reshard.moveStep(3, TOKEN, second, 0)) as MoveReport;
  expect(progressed.phase).toBe("cold");
  // A node still holding the first resize's map steps shard 1: refused, the second resize's progress kept.
  expect(await store.reshard.moveStep(1, TOKEN, second, 0)).not.toBe(LEASE_LOST);
  expect(((await store.reshard.moveStep(1, TOKEN, first, 0)) as MoveReport).phase).toBe("stale");
  expect(await redisCommand(redis.port, ["HGET", `${prefix}:{1}:reshard`, "epoch"])).toBe(String(second.epoch));
  await client.close();
  await store.quit();
}, 60_000);
