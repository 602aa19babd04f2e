// The worker pool and completer against fakes: a fake of the store methods the completer uses
// (finish, retry), fake delivery targets, a fake timer source for the ack flush. No Redis.
import { afterEach, expect, test } from "bun:test";
import { z } from "zod";
import { WorkerPool, type WorkerPoolOptions } from "../../src/pool/worker-pool.ts";
import { Completer } from "../../src/pool/completer.ts";
import type { Job } from "../../src/pool/job.ts";
import type { CompleterStore } from "../../src/pool/ports.ts";
import { TargetRegistry } from "../../src/pool/targets/registry.ts";
import type { AttemptOutcome, DeliveryTarget } from "../../src/pool/targets/target.ts";
import { defineTask, forgetTask } from "../../src/task/define-task.ts";
import { encodeSpec, HANDLER_TARGET } from "../../src/task/codec.ts";
import { dueMsOfScore, type TaskSpec } from "../../src/task/model.ts";
import type { FinishItem } from "../../src/store/outcomes.ts";
import type { WheelClock } from "../../src/core/timer-wheel.ts";
import { silentLogger } from "../../src/core/log.ts";
import { waitFor } from "../helpers/wait.ts";

const NOW = 1_800_000_000_000;
const defined: string[] = [];
afterEach(() => {
  for (const name of defined.splice(0)) forgetTask(name);
});

/** Records what the completer writes, as the store would receive it. */
class FakeStore implements CompleterStore {
  finished: FinishItem[] = [];
  retries: { id: string; attempt: number; score: string; error: string }[] = [];
  async finish(_shard: number, _token: string, _now: number, _dead: number, items: FinishItem[]): Promise<boolean[]> {
    this.finished.push(...items);
    return items.map(() => true);
  }
  async retry(_shard: number, _token: string, id: string, _batch: string, attempt: number, score: string, error: string): Promise<boolean> {
    this.retries.push({ id, attempt, score, error });
    return true;
  }
}

/** Timers that only run when the test says so. */
class FakeClock implements WheelClock {
  timers = new Set<() => void>();
  now = () => NOW;
  setTimer(fn: () => void): unknown {
    this.timers.add(fn);
    return fn;
  }
  clearTimer(handle: unknown): void {
    this.timers.delete(handle as () => void);
  }
}

/** An async target whose deliveries the test settles one by one. */
class HeldTarget implements DeliveryTarget {
  readonly type = "handler" as const;
  delivered: Job[] = [];
  private resolvers = new Map<string, (outcome: AttemptOutcome) => void>();
  deliver(job: Job): Promise<AttemptOutcome> {
    this.delivered.push(job);
    return new Promise((resolve) => this.resolvers.set(job.id, resolve));
  }
  settle(id: string, outcome: AttemptOutcome = { kind: "succeeded", result: null }): void {
    this.resolvers.get(id)!(outcome);
    this.resolvers.delete(id);
  }
}

/** The final record the finish script joins from an item's tail (finish-7.lua), with a stand-in spec. */
function finalOf(item: FinishItem): Record<string, unknown> {
  return JSON.parse(`{"state":"${item.state}","attempt":${item.finalTail},"spec":{}}`);
}

function makeJob(id: string, spec: Partial<TaskSpec> = {}, attempt = 1): Job {
  const full: TaskSpec = {
    name: "pool.fake",
    args: {},
    priority: 0,
    maxAttempts: 3,
    backoff: { baseMs: 1_000, maxMs: 60_000 },
    timeoutMs: 30_000,
    expiresAt: null,
    target: HANDLER_TARGET,
    createdAt: NOW - 10_000,
    ...spec,
  };
  return { shard: 0, leaseToken: "token", batch: "batch-1", id, attempt, dueMs: NOW - 5, score: String(NOW - 5), specJson: encodeSpec(full), spec: full };
}

function setup(options: Partial<WorkerPoolOptions> & { target?: DeliveryTarget } = {}) {
  const store = new FakeStore();
  const clock = new FakeClock();
  const completer = new Completer({
    store,
    log: silentLogger(),
    retentionMs: 60_000,
    deadRetentionMs: 60_000,
    maxResultBytes: 1024,
    onRetryScheduled: () => {},
    now: () => NOW,
    random: () => 0.9999,
    clock,
  });
  const outcomes: string[] = [];
  const paused: Job[] = [];
  const pool = new WorkerPool({
    concurrency: 4,
    completer,
    log: silentLogger(),
    canStart: () => true,
    progress: async () => {},
    onOutcome: (_job, outcome) => outcomes.push(outcome),
    onPaused: (job) => paused.push(job),
    targets: options.target ? new TargetRegistry([options.target]) : undefined,
    now: () => NOW,
    ...options,
  });
  return { store, clock, completer, pool, outcomes, paused };
}

test("the concurrency bound holds: slots are reserved before claims and freed when attempts end", async () => {
  const target = new HeldTarget();
  const { pool, completer, store } = setup({ target });
  expect(pool.reserve(10)).toBe(4);
  expect(pool.reserve(1)).toBe(0);
  for (let i = 0; i < 4; i++) pool.start(makeJob(`c-${i}`));
  expect(pool.inFlight).toBe(4);
  expect(pool.free).toBe(0);
  expect(pool.reserve(3)).toBe(0);
  target.settle("c-0");
  target.settle("c-1");
  await waitFor(() => pool.inFlight === 2, { message: "two attempts to end" });
  expect(pool.free).toBe(2);
  expect(pool.reserve(3)).toBe(2);
  target.settle("c-2");
  target.settle("c-3");
  await waitFor(() => pool.inFlight === 0, { message: "all attempts to end" });
  await completer.flush();
  expect(store.finished.map((item) => [item.id, item.state])).toEqual([
    ["c-0", "succeeded"],
    ["c-1", "succeeded"],
    ["c-2", "succeeded"],
    ["c-3", "succeeded"],
  ]);
});

test("at claim depth 4, claims reserve up to four pools' worth and what finds every slot running waits in claim order", async () => {
  const target = new HeldTarget();
  const { pool, completer, store } = setup({ target, claimDepth: 4 });
  // Concurrency 4: one claim takes at most 2 slots (half the pool), claims in flight at most 16.
  expect(pool.claimLimit).toBe(2);
  for (let i = 0; i < 8; i++) expect(pool.reserve(10)).toBe(2);
  expect(pool.reserve(1)).toBe(0);
  for (let i = 0; i < 16; i++) pool.start(makeJob(`c-${i}`));
  expect(pool.inFlight).toBe(4);
  expect(pool.waitingCount).toBe(12);
  expect(target.delivered.map((job) => job.id)).toEqual(["c-0", "c-1", "c-2", "c-3"]);
  // Their batches are kept alive too, and no claim goes out while anything waits.
  expect(pool.runningByShard().get(0)?.count).toBe(16);
  expect(pool.reserve(1)).toBe(0);
  target.settle("c-0");
  target.settle("c-1");
  await waitFor(() => pool.waitingCount === 10, { message: "two waiting tasks to start" });
  expect(pool.inFlight).toBe(4);
  expect(target.delivered.map((job) => job.id)).toEqual(["c-0", "c-1", "c-2", "c-3", "c-4", "c-5"]);
  expect(pool.reserve(1)).toBe(0);
  for (let i = 2; i < 14; i++) {
    // Each starts only once an earlier one has ended.
    await waitFor(() => target.delivered.length > i, { message: `c-${i} to start` });
    target.settle(`c-${i}`);
  }
  await waitFor(() => pool.inFlight === 2 && target.delivered.length === 16, { message: "twelve attempts to end" });
  expect(pool.waitingCount).toBe(0);
  expect(target.delivered.map((job) => job.id).slice(14)).toEqual(["c-14", "c-15"]);
  expect(pool.reserve(3)).toBe(2);
  pool.unreserve(2);
  target.settle("c-14");
  target.settle("c-15");
  await waitFor(() => pool.inFlight === 0, { message: "all attempts to end" });
  await completer.flush();
  expect(store.finished.map((item) => item.id)).toEqual(Array.from({ length: 16 }, (_, i) => `c-${i}`));
  expect(store.finished.every((item) => item.state === "succeeded")).toBe(true);
});

test("while the slots are idle, claims reserve hold room, not slots: held tasks leave every slot to due ones", async () => {
  const target = new HeldTarget();
  const { pool } = setup({ target, holdLimit: 10 });
  // Up to the hold room, beyond the pool's 4 slots.
  expect(pool.reserveHoldRoom(8)).toBe(8);
  for (let i = 0; i < 8; i++) pool.hold(true);
  expect(pool.heldCount).toBe(8);
  // Every slot is still free for tasks due now.
  expect(pool.free).toBe(4);
  expect(pool.reserve(10)).toBe(4);
  for (let i = 0; i < 4; i++) pool.start(makeJob(`due-${i}`));
  expect(pool.inFlight).toBe(4);
  // Every slot runs: no more hold room (held tasks due now would only wait).
  expect(pool.reserveHoldRoom(2)).toBe(0);
  // Held tasks whose due ms comes while every slot runs wait for one, and no claim goes out meanwhile.
  for (let i = 0; i < 8; i++) pool.startHeld(makeJob(`held-${i}`));
  expect(pool.heldCount).toBe(0);
  expect(pool.waitingCount).toBe(8);
  expect(pool.reserveHoldRoom(1)).toBe(0);
  expect(pool.reserve(1)).toBe(0);
  target.settle("due-0");
  await waitFor(() => target.delivered.some((job) => job.id === "held-0"), { message: "the first held task to start in the freed slot" });
  expect(pool.inFlight).toBe(4);
  expect(pool.waitingCount).toBe(7);
});

test("hold room only while most slots are idle (short tasks), never while long ones fill half the pool", async () => {
  const target = new HeldTarget();
  const { pool } = setup({ target, holdLimit: 10 });
  // Idle pool: a due claim may take more than the free slots, so short tasks do not wait for a round trip per pool.
  expect(pool.reserveHoldRoom(6)).toBe(6);
  for (let i = 0; i < 6; i++) pool.start(makeJob(`short-${i}`), true);
  expect(pool.inFlight).toBe(4);
  expect(pool.waitingCount).toBe(2);
  // Something waits: no claim at all.
  expect(pool.reserveHoldRoom(1)).toBe(0);
  for (let i = 0; i < 6; i++) {
    await waitFor(() => target.delivered.length > i, { message: `short-${i} to start` });
    target.settle(`short-${i}`);
  }
  await waitFor(() => pool.inFlight === 0, { message: "all to end" });
  // Long tasks fill half the pool or more: a due claim gets no hold room (the backlog stays in Redis).
  expect(pool.reserve(2)).toBe(2);
  pool.start(makeJob("long-0"));
  pool.start(makeJob("long-1"));
  expect(pool.reserveHoldRoom(6)).toBe(0);
  // One long task (a quarter of the pool): room again, up to what is left of it.
  target.settle("long-0");
  await waitFor(() => pool.inFlight === 1, { message: "long-0 to end" });
  expect(pool.reserveHoldRoom(20)).toBe(10);
});

test("held tasks of a lost lease are dropped and their room given back", () => {
  const { pool, completer } = setup({ holdLimit: 3 });
  // (No attempt runs here: the slots are idle.)
  const abandoned: string[] = [];
  completer.abandon = (_shard, batch) => void abandoned.push(batch);
  expect(pool.reserveHoldRoom(3)).toBe(3);
  for (let i = 0; i < 3; i++) pool.hold(true);
  expect(pool.reserveHoldRoom(1)).toBe(0);
  for (let i = 0; i < 3; i++) pool.dropHeld(0, "batch-1");
  expect(abandoned).toEqual(["batch-1", "batch-1", "batch-1"]);
  expect(pool.counts.dropped).toBe(3);
  expect(pool.reserveHoldRoom(3)).toBe(3);
});

test("with no hold room (TICKWHEEL_HOLD_LIMIT=0) a held task keeps its claim's slot, as before", () => {
  const { pool } = setup({ holdLimit: 0 });
  expect(pool.reserveHoldRoom(2)).toBe(0);
  expect(pool.reserve(4)).toBe(4);
  for (let i = 0; i < 4; i++) pool.hold();
  expect(pool.heldCount).toBe(4);
  expect(pool.free).toBe(0);
  expect(pool.reserve(1)).toBe(0);
});

test("tasks still waiting for a slot when the grace period ends never start: the reaper returns them", async () => {
  const target = new HeldTarget();
  const { pool, completer, store } = setup({ target, concurrency: 1, claimDepth: 2 });
  completer.claimedBatch(0, "token", "batch-1", 2);
  expect(pool.reserve(1) + pool.reserve(1)).toBe(2);
  pool.start(makeJob("w-1"));
  pool.start(makeJob("w-2"));
  expect(pool.waitingCount).toBe(1);
  expect(await pool.drain(20)).toBe(false);
  expect(pool.waitingCount).toBe(0);
  expect(pool.counts).toMatchObject({ started: 1, dropped: 1 });
  target.settle("w-1");
  await waitFor(() => pool.inFlight === 0, { message: "the aborted attempt to end" });
  await completer.flush();
  expect(target.delivered.map((job) => job.id)).toEqual(["w-1"]);
  expect(store.finished.map((item) => item.id)).toEqual(["w-1"]);
});

test("a task that waited for a slot past half of its visibility timeout is dropped, not started: the reaper may already have returned it", async () => {
  const target = new HeldTarget();
  let now = NOW;
  const { pool, completer, store } = setup({ target, concurrency: 1, claimDepth: 3, visibilityMs: 2_000, now: () => now });
  completer.claimedBatch(0, "token", "batch-1", 1);
  completer.claimedBatch(0, "token", "batch-2", 1);
  completer.claimedBatch(0, "token", "batch-3", 1);
  expect(pool.reserve(1) + pool.reserve(1) + pool.reserve(1)).toBe(3);
  // batch-1 runs; batch-2 and batch-3 were claimed with a deadline 2 s out and wait for the slot.
  pool.start({ ...makeJob("v-1"), batch: "batch-1", visibleUntilMs: NOW + 2_000 });
  pool.start({ ...makeJob("v-2"), batch: "batch-2", visibleUntilMs: NOW + 2_000 });
  pool.start({ ...makeJob("v-3"), batch: "batch-3", visibleUntilMs: NOW + 2_000 });
  expect(pool.waitingCount).toBe(2);
  // A keepalive of batch-3 (not batch-2) reaches Redis 900 ms in: its deadline moves to 2.9 s.
  now = NOW + 900;
  pool.keptAlive(0, "token", new Set(["batch-1", "batch-3"]), NOW + 2_900, now);
  // The slot frees 1.2 s in: batch-2 has 0.8 s left (< half the timeout) and is dropped; batch-3 has 1.7 s and starts.
  now = NOW + 1_200;
  target.settle("v-1");
  await waitFor(() => target.delivered.length === 2, { message: "the kept-alive waiting task to start" });
  expect(target.delivered.map((job) => job.id)).toEqual(["v-1", "v-3"]);
  expect(pool.counts).toMatchObject({ started: 2, dropped: 1 });
  expect(pool.waitingCount).toBe(0);
  target.settle("v-3");
  await waitFor(() => pool.inFlight === 0, { message: "all attempts to end" });
  await completer.flush();
  // The dropped one is never finished here: its batch stays claimed for the reaper to return.
  expect(store.finished.map((item) => item.id)).toEqual(["v-1", "v-3"]);
});

test("a keepalive answered after a waiting task's deadline was near does not extend it (the reaper may have won)", async () => {
  const target = new HeldTarget();
  let now = NOW;
  const { pool, completer } = setup({ target, concurrency: 1, claimDepth: 2, visibilityMs: 2_000, now: () => now });
  completer.claimedBatch(0, "token", "batch-1", 1);
  completer.claimedBatch(0, "token", "batch-2", 1);
  expect(pool.reserve(1) + pool.reserve(1)).toBe(2);
  pool.start({ ...makeJob("k-1"), batch: "batch-1", visibleUntilMs: NOW + 2_000 });
  pool.start({ ...makeJob("k-2"), batch: "batch-2", visibleUntilMs: NOW + 2_000 });
  // The keepalive was sent in time but its answer came 1,990 ms in, 10 ms before batch-2's deadline.
  now = NOW + 1_990;
  pool.keptAlive(0, "token", new Set(["batch-1", "batch-2"]), NOW + 3_000, now);
  // Another shard's or token's keepalive does not count either.
  pool.keptAlive(1, "token", new Set(["batch-2"]), NOW + 9_000, NOW);
  pool.keptAlive(0, "other", new Set(["batch-2"]), NOW + 9_000, NOW);
  target.settle("k-1");
  await waitFor(() => pool.waitingCount === 0, { message: "the waiting task to be let go" });
  expect(target.delivered.map((job) => job.id)).toEqual(["k-1"]);
  expect(pool.counts).toMatchObject({ started: 1, dropped: 1 });
});

test("a synchronous handler finishes within start(): no timer, promise or running entry for it", () => {
  defined.push("pool.sync");
  defineTask("pool.sync", z.object({ n: z.number() }), ({ n }) => n * 2);
  const { pool, completer, clock } = setup();
  const realSetTimeout = globalThis.setTimeout;
  let timers = 0;
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    timers++;
    return realSetTimeout(...args);
  }) as typeof setTimeout;
  try {
    pool.reserve(1);
    pool.start(makeJob("s-1", { name: "pool.sync", args: { n: 21 } }));
  } finally {
    globalThis.setTimeout = realSetTimeout;
  }
  expect(timers).toBe(0);
  expect(pool.inFlight).toBe(0);
  // Ended and queued for the next ack flush before start() returned (the flush is the only timer, on the fake clock).
  expect(completer.pendingCount).toBe(1);
  expect(completer.counts.succeeded).toBe(1);
  expect(clock.timers.size).toBe(1);
});

test("an async handler is cut at its timeoutMs and the attempt retried", async () => {
  defined.push("pool.hang");
  let aborted = false;
  defineTask("pool.hang", z.object({}), (_args, ctx) => new Promise((resolve) => ctx.signal.addEventListener("abort", () => { aborted = true; resolve(null); })));
  const { pool, store, outcomes } = setup();
  pool.reserve(1);
  pool.start(makeJob("h-1", { name: "pool.hang", timeoutMs: 50 }));
  expect(pool.inFlight).toBe(1);
  await waitFor(() => store.retries.length === 1, { timeoutMs: 5_000, message: "the timed-out attempt's retry" });
  expect(store.retries[0]).toMatchObject({ id: "h-1", attempt: 1, error: "TimeoutError: timed out after 50 ms" });
  expect(aborted).toBe(true);
  expect(pool.inFlight).toBe(0);
  expect(outcomes).toEqual(["retried"]);
});

test("a lost lease drops unstarted work: nothing is delivered or written, the reaper returns it", async () => {
  const target = new HeldTarget();
  let leaseValid = true;
  const { pool, completer, store } = setup({ target, canStart: () => leaseValid });
  completer.claimedBatch(0, "token", "batch-1", 3);
  expect(pool.reserve(2) + pool.reserve(1)).toBe(3);
  pool.start(makeJob("l-1"));
  leaseValid = false;
  pool.start(makeJob("l-2"));
  pool.drop(0, "batch-1");
  expect(target.delivered.map((job) => job.id)).toEqual(["l-1"]);
  expect(pool.counts).toMatchObject({ started: 1, dropped: 2 });
  expect(pool.free).toBe(3);
  target.settle("l-1");
  await waitFor(() => pool.inFlight === 0, { message: "the started attempt to end" });
  await completer.flush();
  // The started one is acked; the batch, abandoned, is not sent for deletion (the reaper owns it).
  expect(store.finished.map((item) => item.id)).toEqual(["l-1"]);
});

test("failures are retried with backoff, then dead once attempts are used up", async () => {
  const failing: DeliveryTarget = { type: "handler", deliver: () => ({ kind: "failed", error: "boom" }) };
  const { pool, store, completer, outcomes } = setup({ target: failing });
  pool.reserve(3);
  pool.start(makeJob("f-1", {}, 1));
  pool.start(makeJob("f-2", {}, 2));
  pool.start(makeJob("f-3", {}, 3));
  await completer.flush();
  // random 0.9999: the top of the backoff window, 1 s then 2 s.
  expect(store.retries.map((r) => [r.id, r.attempt, dueMsOfScore(r.score) - NOW])).toEqual([
    ["f-1", 1, 1_000],
    ["f-2", 2, 2_000],
  ]);
  expect(store.finished.map((item) => [item.id, item.state])).toEqual([["f-3", "dead"]]);
  expect(finalOf(store.finished[0]!)).toMatchObject({ state: "dead", attempt: 3, lastError: "boom" });
  expect(outcomes).toEqual(["retried", "retried", "dead"]);
});

test("a Retry-After and a final 'done' from a target reach the store as decided", async () => {
  const target: DeliveryTarget = {
    type: "handler",
    deliver: (job) => (job.id === "r-1" ? { kind: "failed", error: "429", retryAt: NOW + 4_321 } : { kind: "failed", error: "410 Gone", final: "done" }),
  };
  const { pool, store, completer } = setup({ target });
  pool.reserve(2);
  pool.start(makeJob("r-1"));
  pool.start(makeJob("r-2"));
  await completer.flush();
  expect(store.retries.map((r) => [r.id, dueMsOfScore(r.score) - NOW])).toEqual([["r-1", 4_321]]);
  expect(finalOf(store.finished[0]!)).toMatchObject({ state: "succeeded", lastError: "410 Gone" });
});

test("paused names are parked, not delivered", () => {
  const target = new HeldTarget();
  const { pool, paused } = setup({ target, isPaused: (name) => name === "pool.paused" });
  pool.reserve(2);
  pool.start(makeJob("p-1", { name: "pool.paused" }));
  pool.start(makeJob("p-2"));
  expect(paused.map((job) => job.id)).toEqual(["p-1"]);
  expect(target.delivered.map((job) => job.id)).toEqual(["p-2"]);
  expect(pool.counts.paused).toBe(1);
});

test("an expired task is finished as expired without being delivered", async () => {
  const target = new HeldTarget();
  const { pool, store, completer } = setup({ target });
  pool.reserve(1);
  pool.start(makeJob("e-1", { expiresAt: NOW - 1 }));
  await completer.flush();
  expect(target.delivered).toEqual([]);
  expect(store.finished.map((item) => [item.id, item.state])).toEqual([["e-1", "expired"]]);
});

test("a name with no handler on this node waits: back in due, no attempt used, the reason kept", async () => {
  const { pool, store, completer, outcomes } = setup();
  pool.reserve(1);
  pool.start(makeJob("u-1", { name: "pool.nobody-has-this" }, 3));
  await completer.flush();
  expect(store.finished).toEqual([]);
  expect(store.retries).toHaveLength(1);
  // Attempt 3 of 3 was not used up: the record keeps 2 attempts used.
  expect(store.retries[0]).toMatchObject({ id: "u-1", attempt: 2, error: 'no handler for task "pool.nobody-has-this" on this node' });
  // Created 10 s ago: waits a tenth of that, at least 1 s.
  expect(dueMsOfScore(store.retries[0]!.score) - NOW).toBe(1_000);
  expect(outcomes).toEqual([]);
  expect(pool.counts.unavailable).toBe(1);
  expect(completer.counts.unavailable).toBe(1);
});

test("a target type without a deliverer on this node waits the same way", async () => {
  const { pool, store, completer } = setup();
  pool.reserve(1);
  pool.start(makeJob("t-1", { target: { type: "carrier-pigeon" } as unknown as TaskSpec["target"] }));
  await completer.flush();
  expect(store.retries[0]).toMatchObject({ id: "t-1", attempt: 0, error: 'no deliverer for target type "carrier-pigeon" on this node' });
});
