// A task running across its own move (docs/resharding.md, "Never twice"), step by step, on one
// Redis and on a 3-master Redis Cluster: attempt 1 is claimed in the source shard, the resize
// starts, and the source's lease lapses and is taken again by the same node (a new token) while
// the attempt runs, as a loaded node's did in the cluster resize test. The attempt's finish must
// still count (its batch was never reaped), so nothing runs it again one visibility deadline
// later; and an attempt whose batch was reaped, whose task then moved and ran at its new shard,
// must not be recorded at the old one. Deterministic: the test drives claim, finish, reap and
// the mover itself, no nodes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Store } from "../../src/store/store.ts";
import { Client } from "../../src/client/client.ts";
import { keySlot } from "../../src/core/slot.ts";
import type { ShardMap } from "../../src/core/shard-map.ts";
import { LEASE_LOST, type ClaimedBatch, type FinishItem } from "../../src/store/outcomes.ts";
import type { MoveReport } from "../../src/store/reshard-moves.ts";
import { decodeRecord, finalTailOf } from "../../src/task/codec.ts";
import type { ConnectionTarget } from "../../src/store/connection.ts";
import { startRedis, startRedisCluster, type RedisClusterProcess, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix } from "../helpers/node.ts";

const HOUR = 3_600_000;
const VISIBILITY_MS = 10_000;
const NODE = "n1";

/** An id whose slot moves from shard slot % 8 to slot % 32 (they differ). */
function movingId(label: string): string {
  for (let i = 0; ; i++) {
    const id = `${label}-${i}`;
    if (keySlot(id) % 8 !== keySlot(id) % 32) return id;
  }
}

function finishItem(id: string, batch: string): FinishItem {
  const finishedAt = Date.now();
  return { id, batch, state: "succeeded", finishedAt, ttlMs: HOUR, finalTail: finalTailOf({ attempt: 1, dueAt: finishedAt, finishedAt }) };
}

interface Setup {
  store: Store;
  client: Client;
  id: string;
  source: number;
  home: number;
  /** Lease token per shard (all held by NODE). */
  tokens: Map<number, string>;
  /** Attempt 1: claimed in the source shard under the first token. */
  claimed: ClaimedBatch;
  map: ShardMap;
}

/** 8 shards, one task due now in a moving slot, claimed at its source; the resize to 32 starts moving. */
async function setUp(target: ConnectionTarget, label: string): Promise<Setup> {
  const prefix = randomPrefix("rr");
  const store = new Store({ ...target, prefix });
  await store.config.ensure({ wantedShards: 8, fallbackShards: 8, lookaheadMs: 2000, coldAfterMs: HOUR });
  const client = new Client({ ...target, prefix });
  const id = movingId(label);
  const [result] = await client.scheduleMany([{ task: "rr.task", args: {}, options: { id, runAt: Date.now() - 10 } }]);
  expect(result).toMatchObject({ id, created: true });
  const source = keySlot(id) % 8;
  const home = keySlot(id) % 32;
  const tokens = new Map<number, string>();
  for (let shard = 0; shard < 32; shard++) {
    const acquired = await store.leases.acquire(shard, NODE, 60_000);
    if (!acquired.acquired) throw new Error(`lease of shard ${shard} not acquired`);
    tokens.set(shard, acquired.token);
  }
  const claimed = await store.attempts.claim(source, tokens.get(source)!, Date.now() + 1, 10, Date.now() + VISIBILITY_MS);
  if (claimed === null || claimed === LEASE_LOST) throw new Error(`nothing claimed: ${claimed}`);
  expect(claimed.tasks.map((task) => task.id)).toEqual([id]);
  await client.resize(32);
  expect(await store.config.beginMoves((await store.config.shardMap()).epoch)).toBe(true);
  const map = await store.config.shardMap();
  expect(map.resizing).toBe(true);
  return { store, client, id, source, home, tokens, claimed, map };
}

/** Steps the source's mover through `passes` steps of its tasks phase: the running task keeps it there. */
async function stepWhileRunning(s: Setup, passes: number): Promise<void> {
  let inTasks = 0;
  for (let step = 0; inTasks < passes; step++) {
    expect(step).toBeLessThan(100);
    const report = (await s.store.reshard.moveStep(s.source, s.tokens.get(s.source)!, s.map, 0)) as MoveReport;
    expect(report).not.toBe(LEASE_LOST);
    expect(report.phase).not.toBe("dead");
    expect(report.phase).not.toBe("done");
    if (report.phase === "tasks") inTasks++;
  }
}

/** The node's lease on the source lapses and the same node takes it again: a new token. */
async function retakeSource(s: Setup): Promise<void> {
  expect(await s.store.leases.release(s.source, s.tokens.get(s.source)!)).toBe(true);
  const again = await s.store.leases.acquire(s.source, NODE, 60_000);
  if (!again.acquired) throw new Error("lease not taken again");
  s.tokens.set(s.source, again.token);
}

/** Every source shard moves until done, then the resize finishes. */
async function finishMove(s: Setup): Promise<void> {
  const done = new Set<number>();
  for (let round = 0; done.size < s.map.count; round++) {
    expect(round).toBeLessThan(200);
    for (let shard = 0; shard < s.map.count; shard++) {
      if (done.has(shard)) continue;
      const report = (await s.store.reshard.moveStep(shard, s.tokens.get(shard)!, s.map, 0)) as MoveReport;
      expect(report).not.toBe(LEASE_LOST);
      if (report.phase === "done") done.add(shard);
    }
  }
  expect(await s.store.config.finishResize(s.map.epoch, Date.now())).toBe(true);
}

/** Past every visibility deadline: the reaper of each of the two shards returns nothing. */
async function expectNothingToReap(s: Setup): Promise<void> {
  for (const shard of [s.source, s.home]) {
    const reaped = await s.store.attempts.reap(shard, s.tokens.get(shard)!, Date.now() + 10 * VISIBILITY_MS, 100);
    expect(reaped).toEqual({ entries: [], more: false });
  }
}

async function tearDown(s: Setup): Promise<void> {
  await s.client.close();
  await s.store.quit();
}

function scenarios(name: string, target: () => ConnectionTarget): void {
  describe(name, () => {
    test("attempt 1 runs at the source across its own move and a lease retaken meanwhile: its finish counts, nothing runs it again", async () => {
      const s = await setUp(target(), "across");
      await stepWhileRunning(s, 3);
      const attemptToken = s.tokens.get(s.source)!;
      await retakeSource(s);
      // The mover goes on under the new token; the task still runs in its batch, so it stays.
      await stepWhileRunning(s, 2);
      // Attempt 1 ends. Its batch was claimed under the old token and never reaped: the finish
      // counts (before, it was refused as "lease", and the reaper ran the task again as attempt 2).
      expect(await s.store.attempts.finish(s.source, attemptToken, Date.now(), 60_000, [finishItem(s.id, s.claimed.batch)], [s.claimed.batch])).toEqual([true]);
      await finishMove(s);
      await expectNothingToReap(s);
      expect(await s.client.get(s.id)).toMatchObject({ state: "succeeded" });
      // Its final record stays where it ran (the source), and no shard holds it as pending.
      expect((await s.store.tasks.inspect(s.source, s.id)).kind).toBe("final");
      expect((await s.store.tasks.inspect(s.home, s.id)).kind).toBe("missing");
      // A token that never claimed the batch still ends nothing.
      expect(await s.store.attempts.finish(s.source, `${NODE}:0`, Date.now(), 60_000, [finishItem(s.id, s.claimed.batch)])).toBe(LEASE_LOST);
      await tearDown(s);
    }, 60_000);

    test("an attempt whose batch was reaped moves and runs at its new shard; the old attempt's late finish is not recorded", async () => {
      const s = await setUp(target(), "reaped");
      await stepWhileRunning(s, 3);
      const attemptToken = s.tokens.get(s.source)!;
      await retakeSource(s);
      // The attempt went silent past its deadline: the new owner's reaper returns it to `due`.
      const reaped = await s.store.attempts.reap(s.source, s.tokens.get(s.source)!, Date.now() + 2 * VISIBILITY_MS, 100);
      expect(reaped).toMatchObject({ entries: [{ id: s.id }] });
      // Pending again, it moves to its new shard with the move.
      await finishMove(s);
      expect((await s.store.tasks.inspect(s.source, s.id)).kind).toBe("missing");
      // The late finish of attempt 1 names a reaped batch: skipped, and no final record at the source.
      expect(await s.store.attempts.finish(s.source, attemptToken, Date.now(), 60_000, [finishItem(s.id, s.claimed.batch)], [s.claimed.batch])).toEqual([false]);
      expect(await s.store.attempts.retry(s.source, attemptToken, s.id, s.claimed.batch, 1, String(Date.now()), "late")).toBe(false);
      expect((await s.store.tasks.inspect(s.source, s.id)).kind).toBe("missing");
      // Attempt 2 at the new shard, once.
      const homeToken = s.tokens.get(s.home)!;
      const second = await s.store.attempts.claim(s.home, homeToken, Date.now() + 10 * VISIBILITY_MS, 10, Date.now() + VISIBILITY_MS);
      if (second === null || second === LEASE_LOST) throw new Error(`attempt 2 not claimed: ${second}`);
      expect(second.tasks.map((task) => task.id)).toEqual([s.id]);
      expect(decodeRecord(second.tasks[0]!.record).attempt + 1).toBe(2);
      expect(await s.store.attempts.finish(s.home, homeToken, Date.now(), 60_000, [finishItem(s.id, second.batch)], [second.batch])).toEqual([true]);
      await expectNothingToReap(s);
      expect(await s.client.get(s.id)).toMatchObject({ state: "succeeded", shard: s.home });
      await tearDown(s);
    }, 60_000);
  });
}

let redis: RedisProcess;
let cluster: RedisClusterProcess;

beforeAll(async () => {
  [redis, cluster] = await Promise.all([startRedis(), startRedisCluster()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([redis?.cleanup(), cluster?.cleanup()]);
});

scenarios("one Redis", () => ({ redisUrl: redis.url }));
scenarios("3-master Redis Cluster", () => ({ clusterNodes: cluster.seeds.split(",") }));
