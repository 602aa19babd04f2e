// The shard actor on the fake wheel clock with an in-memory store and pool (test/shard/fakes.ts):
// no Redis, no sleeps. Each test moves the clock millisecond by millisecond and lets the fake
// store's replies arrive within the same millisecond.
import { ShardMap } from "../../src/core/shard-map.ts";
import { expect, test } from "bun:test";
import { ShardActor, type ShardActorOptions } from "../../src/shard/shard-actor.ts";
import { silentLogger } from "../../src/core/log.ts";
import { FakeWheelClock } from "../core/fake-wheel-clock.ts";
import { FakeShardPool, FakeShardStore, run, settle } from "./fakes.ts";

const CLAIM_BATCH = 50;

function setup(options: Partial<ShardActorOptions> = {}, capacity = 1000) {
  const clock = new FakeWheelClock();
  const store = new FakeShardStore(clock);
  const pool = new FakeShardPool(clock, capacity);
  const lost: string[] = [];
  const t0 = clock.now();
  const make = (more: Partial<ShardActorOptions> = {}) =>
    new ShardActor({
      shard: 0,
      leaseToken: "token-1",
      store,
      pool,
      log: silentLogger(),
      lookaheadMs: 1000,
      claimAheadMs: 10,
      claimBatch: CLAIM_BATCH,
      windowCap: 10_000,
      visibilityMs: 5000,
      reapEveryMs: 100,
      refillOffsetMs: 0,
      fullReloadEvery: 5,
      onLeaseLost: (_shard, token) => lost.push(token),
      clock,
      ...options,
      ...more,
    });
  return { clock, store, pool, lost, t0, actor: make(), make };
}

test("held starts: tasks claimed early start at their due ms, not before", async () => {
  const { clock, store, pool, actor, t0 } = setup();
  store.add("a", t0 + 100);
  store.add("b", t0 + 137);
  store.add("c", t0 + 137);
  actor.start();
  await settle();
  await run(clock, 99);
  expect(pool.started).toEqual([]);
  // Claimed ahead of time and held in memory meanwhile.
  expect(actor.stats().held).toBeGreaterThan(0);
  await run(clock, 100);
  expect(pool.started.map((s) => s.id).sort()).toEqual(["a", "b", "c"]);
  for (const start of pool.started) expect(start.atMs).toBe(start.dueMs);
  for (const claim of store.callsOf("claim")) expect(claim.atMs).toBeLessThan(t0 + 137);
  expect(actor.stats().held).toBe(0);
  expect(actor.stats().claimedLate).toBe(0);
});

test("after slow claims the lead grows and each claim covers a wider slice: fewer claims, none late", async () => {
  const counts: number[] = [];
  for (const slowFirst of [false, true]) {
    const { clock, store, pool, actor, t0 } = setup({ claimAheadMs: 5 });
    // Slow claims (a 40 ms round trip) while the first tasks come due, then quick ones (1 ms).
    store.claimDelayMs = slowFirst ? 40 : 1;
    // One task every 2 ms from 300 ms to 1,300 ms.
    for (let i = 0; i < 500; i++) store.add(`t${i}`, t0 + 300 + 2 * i);
    actor.start();
    await settle();
    await run(clock, 400);
    const claimsBefore = store.callsOf("claim").length;
    store.claimDelayMs = 1;
    await run(clock, 1000);
    expect(pool.started.length).toBe(500);
    // The slow claims come back late at first; from then on the lead covers them.
    const late = pool.started.filter((start) => start.atMs > start.dueMs);
    if (!slowFirst) expect(late).toEqual([]);
    else expect(late.every((start) => start.dueMs < t0 + 420)).toBe(true);
    for (const start of pool.started) expect(start.atMs).toBeGreaterThanOrEqual(start.dueMs);
    counts.push(store.callsOf("claim").length - claimsBefore);
    // The lead remembers the slow round trips (2.5 times the slowest, capped at 100 ms).
    expect(actor.stats().leadMs).toBe(slowFirst ? 100 : 5);
  }
  // Quick claims: about one per 5-ms slice (~150 for the last 900 ms of tasks); after slow ones,
  // 25-ms slices (~30).
  expect(counts[0]).toBeGreaterThan(120);
  expect(counts[1]).toBeLessThan(60);
});

test("claims are sized to free capacity, and to what is due when the pool has room", async () => {
  const { clock, store, pool, actor, t0 } = setup({}, 3);
  for (let i = 0; i < 10; i++) store.add(`t${i}`, t0 + 100);
  actor.start();
  await settle();
  await run(clock, 150);
  // Three slots: three tasks claimed and started, the rest still in Redis.
  expect(pool.started.length).toBe(3);
  expect(store.due.size).toBe(7);
  for (const claim of store.callsOf("claim")) expect(claim.args[3]).toBeLessThanOrEqual(3);
  for (let round = 0; round < 5 && pool.started.length < 10; round++) {
    pool.finish(3);
    await settle();
    await run(clock, 5);
  }
  expect(pool.started.length).toBe(10);
  expect(store.callsOf("claim").every((claim) => (claim.args[3] as number) <= 3)).toBe(true);
  expect(pool.reserves.every((r) => r.got <= 3)).toBe(true);

  // With room to spare, a claim for five known tasks does not reserve a full batch.
  const roomy = setup({}, 1000);
  for (let i = 0; i < 5; i++) roomy.store.add(`r${i}`, roomy.t0 + 100);
  roomy.actor.start();
  await settle();
  await run(roomy.clock, 120);
  expect(roomy.pool.started.length).toBe(5);
  const sizes = roomy.store.callsOf("claim").map((claim) => claim.args[3] as number);
  expect(sizes.length).toBeGreaterThan(0);
  expect(sizes[0]!).toBeGreaterThanOrEqual(5);
  expect(sizes[0]!).toBeLessThan(CLAIM_BATCH);
  expect(roomy.pool.used).toBe(5);
});

test("a claim answered LEASE_LOST drops what is held, starts nothing and gives every slot back", async () => {
  const { clock, store, pool, actor, lost, t0 } = setup();
  store.add("a", t0 + 100);
  actor.start();
  await settle();
  await run(clock, 95);
  expect(actor.stats().held).toBe(1);
  // The lease is gone; a hinted task inside the covered span is claimed at once, and refused.
  store.leaseLost = true;
  store.add("c", t0 + 97);
  actor.hint([t0 + 97]);
  await settle();
  expect(lost).toEqual(["token-1"]);
  expect(actor.currentState).toBe("stopped");
  expect(pool.dropped).toBe(1);
  await run(clock, 300);
  expect(pool.started).toEqual([]);
  expect(pool.used).toBe(0);
  const claims = store.callsOf("claim").length;
  await run(clock, 500);
  expect(store.callsOf("claim").length).toBe(claims);
});

test("a first claim answered LEASE_LOST starts nothing", async () => {
  // The first reap comes after the first claim here (a refused reap stops the actor as well).
  const { clock, store, pool, actor, lost, t0 } = setup({ refillOffsetMs: 100 });
  store.add("a", t0 + 50);
  store.leaseLost = true;
  actor.start();
  await settle();
  await run(clock, 200);
  expect(store.callsOf("claim").length).toBe(1);
  expect(lost).toEqual(["token-1"]);
  expect(pool.started).toEqual([]);
  expect(pool.used).toBe(0);
  expect(actor.currentState).toBe("stopped");
});

test("while leaseValid() is false nothing is claimed, reaped, promoted or started; afterwards it is", async () => {
  let valid = false;
  const { clock, store, pool, actor, t0 } = setup({ leaseValid: () => valid, cold: { shardMap: new ShardMap(4), coldAfterMs: 3000 } });
  store.add("a", t0 + 100);
  actor.start();
  await settle();
  await run(clock, 1500);
  expect(store.callsOf("claim")).toEqual([]);
  expect(store.callsOf("reap")).toEqual([]);
  expect(store.callsOf("promote")).toEqual([]);
  expect(pool.started).toEqual([]);
  expect(pool.used).toBe(0);
  valid = true;
  // Claims look again within 50 ms, reaps within reapEveryMs, the cold duty within a second.
  await run(clock, 1100);
  expect(pool.started.map((s) => s.id)).toEqual(["a"]);
  expect(store.callsOf("reap").length).toBeGreaterThan(0);
  expect(store.callsOf("promote").length).toBeGreaterThan(0);
});

test("reaping runs every reapEveryMs from refillOffsetMs, and again at once when the batch was full", async () => {
  const { clock, store, actor, t0 } = setup({ reapEveryMs: 100, refillOffsetMs: 30 });
  store.reapReplies.push({ entries: [], more: false }, { entries: [], more: true }, { entries: [], more: false });
  actor.start();
  await settle();
  await run(clock, 350);
  const times = store.callsOf("reap").map((call) => call.atMs - t0);
  // 130 answered `more`: the next reap follows in the same ms instead of 100 ms later.
  expect(times).toEqual([30, 130, 130, 230, 330]);
});

test("an attempt past its visibility deadline is reaped on schedule and claimed and started again at once", async () => {
  const { clock, store, pool, actor, t0 } = setup({ visibilityMs: 200, reapEveryMs: 100 });
  store.add("a", t0 + 50);
  actor.start();
  await settle();
  await run(clock, 100);
  expect(pool.started.map((s) => s.atMs - t0)).toEqual([50]);
  // Its worker never finishes. The claim at ~40 set the deadline ~240; the reap at 300 returns it.
  await run(clock, 250);
  expect(pool.started.map((s) => s.atMs - t0)).toEqual([50, 300]);
  expect(actor.stats().reaped).toBe(1);
});

test("refills are staggered by refillOffsetMs; incremental refills read only what is new, the full reload re-reads the window", async () => {
  const { clock, store, pool, t0, make } = setup();
  const a = make({ shard: 0, refillOffsetMs: 0 });
  const b = make({ shard: 1, refillOffsetMs: 250 });
  a.start();
  b.start();
  await settle();
  await run(clock, 1100);
  // Two reads per refill: the window, and the probe for anything already due ("-inf").
  const windowReads = (shard: number) => store.callsOf("window").filter((call) => call.args[0] === shard);
  expect(windowReads(0).map((call) => call.atMs - t0)).toEqual([0, 500, 1000]);
  expect(windowReads(1).map((call) => call.atMs - t0)).toEqual([0, 750]);

  // Only what is new: refill 1 reads beyond the window refill 0 loaded (up to now + look-ahead).
  const reads = windowReads(0);
  expect(reads[0]!.args[1]).toBe(t0);
  expect(reads[1]!.args[1]).toBe(t0 + 1000);
  expect(reads[2]!.args[1]).toBe(t0 + 1500);

  // A task stored inside the loaded window without a hint: the incremental refills never read it;
  // refill 5, a full reload, reloads the window from now and finds it before it is due.
  await run(clock, 1000); // t0 + 2100: loaded up to t0 + 3000
  store.add("lost-hint", t0 + 2700);
  await run(clock, 1000);
  const fullReload = windowReads(0)[5]!;
  expect(fullReload.atMs).toBe(t0 + 2500);
  expect(fullReload.args[1]).toBe(t0 + 2500);
  // Started on time: found by the full reload, not by the probe after it fell due.
  expect(pool.started.map((s) => [s.id, s.atMs - t0])).toEqual([["lost-hint", 2700]]);
  // Each incremental refill starts where the one before it ended (its time + look-ahead).
  for (const read of windowReads(0).slice(1, 5)) expect(read.args[1]).toBe((read.atMs as number) + 500);
});

test("a large refill reply goes into the wheel a step at a time, and every task still starts at its ms", async () => {
  const { clock, store, pool, actor, t0 } = setup({ claimBatch: 5000 }, 5000);
  // 1,800 tasks in the first window, two in each of 900 ms: two steps of REFILL_STEP (512 due ms).
  for (let i = 0; i < 1800; i++) store.add(`w${i}`, t0 + 100 + (i % 900));
  actor.start();
  await settle();
  // The reply came back at t0; its first step (512 ms of two tasks) is in the wheel, the rest
  // follow in the next turn.
  expect(actor.stats().windowSize).toBe(1024);
  await run(clock, 1);
  expect(actor.stats().windowSize).toBe(1800);
  await run(clock, 1000);
  expect(pool.started.length).toBe(1800);
  for (const start of pool.started) expect(start.atMs).toBe(start.dueMs);
  // One window read for the reply, not one per step.
  const windowReads = store.callsOf("window").filter((call) => (call.atMs as number) < t0 + 100);
  expect(windowReads.length).toBe(1);
});

test("cold promotion runs as a duty through the mailbox: catches up at once, then steps; stops with the actor", async () => {
  const { clock, store, pool, actor, t0 } = setup({ cold: { shardMap: new ShardMap(4), coldAfterMs: 3000, stepMs: 1000 } });
  // Shard 0 of 4 owns slots 0, 4, 8, …; slot 4 is in the first catch-up step, 16380 in the last.
  store.cold.set("near", { score: t0 + 2000, slot: 4 });
  store.cold.set("last-slot", { score: t0 + 2500, slot: 16380 });
  store.cold.set("far", { score: t0 + 60_000, slot: 8 });
  actor.start();
  await settle();
  await run(clock, 5);
  // The catch-up sweep: 4096 slots, 32 per call, back to back.
  const catchUp = store.callsOf("promote").filter((call) => call.atMs <= t0 + 1);
  expect(catchUp.length).toBe(128);
  expect(actor.promoted).toBe(2);
  expect(store.cold.has("far")).toBe(true);
  await run(clock, 2600);
  expect(pool.started.map((s) => [s.id, s.atMs - t0])).toEqual([
    ["near", 2000],
    ["last-slot", 2500],
  ]);
  // Then one regular step a second.
  const regular = store.callsOf("promote").filter((call) => call.atMs > t0 + 1);
  expect(regular.map((call) => call.atMs - t0)).toEqual([1000, 2000]);
  await actor.quiet();
  const calls = store.callsOf("promote").length;
  await run(clock, 3000);
  expect(store.callsOf("promote").length).toBe(calls);
});

test("a duty's LEASE_LOST stops the actor", async () => {
  const { clock, store, actor, lost } = setup({ cold: { shardMap: new ShardMap(4), coldAfterMs: 3000 } });
  store.leaseLost = true;
  actor.start();
  await settle();
  await run(clock, 2);
  expect(lost[0]).toBe("token-1");
  expect(actor.currentState).toBe("stopped");
  expect(store.callsOf("promote").length).toBe(1);
});

test("quiet(): held tasks still start, then it resolves; nothing is claimed after", async () => {
  const { clock, store, pool, actor, t0 } = setup();
  store.add("a", t0 + 100);
  store.add("later", t0 + 400);
  actor.start();
  await settle();
  await run(clock, 95);
  let quiet = false;
  void actor.quiet().then(() => (quiet = true));
  await settle();
  expect(quiet).toBe(false);
  await run(clock, 10);
  expect(quiet).toBe(true);
  expect(pool.started.map((s) => s.id)).toEqual(["a"]);
  await run(clock, 500);
  expect(pool.started.map((s) => s.id)).toEqual(["a"]);
  expect(store.due.has("later")).toBe(true);
});

test("the wheel counts a task that was both hinted and read by a refill once, and its claim is sized for one", async () => {
  const { clock, store, pool, actor, t0 } = setup();
  actor.start();
  await settle();
  await run(clock, 100);
  expect(actor.stats().windowSize).toBe(0);
  // Stored beyond the loaded window (t0 + 1000) and hinted: the refill at t0 + 500 reads it again.
  store.add("both", t0 + 1200);
  actor.hint([t0 + 1200]);
  await settle();
  expect(actor.stats().windowSize).toBe(1);
  await run(clock, 450);
  const reads = store.callsOf("window");
  expect(reads.map((call) => (call.atMs as number) - t0)).toEqual([0, 500]);
  expect(actor.stats().windowSize).toBe(1);
  await run(clock, 700);
  expect(pool.started.map((s) => [s.id, s.atMs - t0])).toEqual([["both", 1200]]);
  // One task expected: its claim reserved one slot plus the slack (claimSize), not two.
  const claims = store.callsOf("claim");
  expect(claims.length).toBe(1);
  expect(claims[0]!.args[3]).toBe(9);
  expect(actor.stats().windowSize).toBe(0);
});

test("one hint message wakes the actor for every task it names, each at its ms", async () => {
  const { clock, store, pool, actor, t0 } = setup();
  actor.start();
  await settle();
  await run(clock, 10);
  for (const [id, due] of [["h1", 60], ["h2", 60], ["h3", 75], ["now", 10]] as const) store.add(id, t0 + due);
  // One of them is due already: claimed at once, not counted.
  actor.hint([t0 + 60, t0 + 60, t0 + 75, t0 + 10]);
  await settle();
  expect(actor.stats().windowSize).toBe(3);
  expect(pool.started.map((s) => s.id)).toEqual(["now"]);
  await run(clock, 100);
  expect(pool.started.map((s) => [s.id, s.atMs - t0])).toEqual([["now", 10], ["h1", 60], ["h2", 60], ["h3", 75]]);
});
