// The completer's batch bookkeeping against a real Redis: a claimed batch's own entries (its
// deadline and id list) are dropped once every attempt in it has ended in Redis, riding with a
// later finish; a batch with an attempt that will not end here is left for the reaper. And a
// result is kept only up to maxResultBytes of UTF-8.
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from "bun:test";
import { Store } from "../../src/store/store.ts";
import { LEASE_LOST } from "../../src/store/outcomes.ts";
import { ShardMap } from "../../src/core/shard-map.ts";
import { Completer } from "../../src/pool/completer.ts";
import { jobFromClaim, type Job } from "../../src/pool/job.ts";
import { shardKeys } from "../../src/store/keys.ts";
import { resolveTask, DEFAULT_TASK_DEFAULTS } from "../../src/task/schedule-input.ts";
import { silentLogger } from "../../src/core/log.ts";
import { decodeFinal } from "../../src/task/codec.ts";
import { redisCommand } from "../../src/node/embedded-redis.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";

let redis: RedisProcess;
let store: Store;
let keys: ReturnType<typeof shardKeys>;
let token: string;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.cleanup();
});
// Each test on a prefix of its own, holding shard 0's lease.
beforeEach(async () => {
  const prefix = randomPrefix("completer");
  keys = shardKeys(prefix, 0);
  store = new Store({ redisUrl: redis.url, prefix });
  const lease = await store.leases.acquire(0, "owner", 60_000);
  if (!lease.acquired) throw new Error("lease not acquired");
  token = lease.token;
});
afterEach(async () => {
  await store.quit();
});

function completer(): Completer {
  return new Completer({ store: store.attempts, log: silentLogger(), retentionMs: 60_000, deadRetentionMs: 60_000, maxResultBytes: 1024, onRetryScheduled: () => {} });
}

/** Schedules ids due now and claims them as one batch, as a shard actor would, telling the completer. */
async function claimJobs(token: string, ids: string[], done: Completer, visibilityMs = 60_000): Promise<Job[]> {
  const items = ids.map((id) => {
    const t = resolveTask("completer.task", {}, { id, runAt: Date.now() - 5 }, { nowMs: Date.now(), shards: new ShardMap(1), defaults: DEFAULT_TASK_DEFAULTS, requireTime: true });
    return { id: t.id, score: t.score, record: t.record };
  });
  await store.tasks.schedule(0, items, 0);
  const claimed = await store.attempts.claim(0, token, Date.now() + 1, 100, Date.now() + visibilityMs);
  if (claimed === LEASE_LOST || claimed === null) throw new Error("nothing claimed");
  done.claimedBatch(0, token, claimed.batch, claimed.tasks.length);
  return claimed.tasks.map((task) => jobFromClaim(0, token, claimed.batch, task.id, task.record));
}

const claimsLeft = async () => Number(await redisCommand(redis.port, ["ZCARD", keys.claims]));
const batchesLeft = async () => Number(await redisCommand(redis.port, ["HLEN", keys.batches]));

test("a batch's entries go once its last attempt ended (ack, dead or retry), not before", async () => {
  const done = completer();
  const [a, b, c] = await claimJobs(token, ["b-1", "b-2", "b-3"], done);
  done.succeeded(a!, { ok: 1 });
  done.dead(b!, "gave up");
  await done.flush();
  // Two of three ended: the batch is still claimed (c still runs in it).
  expect(await claimsLeft()).toBe(1);
  expect((await store.tasks.inspect(0, "b-1")).kind).toBe("final");
  // The last one fails and is retried: its end reached Redis, so the batch is done.
  expect(done.ended(c!, { kind: "failed", error: "boom" }).kind).toBe("retry");
  await done.flush();
  expect((await store.tasks.inspect(0, "b-3")).kind).toBe("scheduled");
  // Nothing else to finish on this shard: the batch's entries go within DONE_FLUSH_MS.
  await waitFor(async () => (await claimsLeft()) === 0 && (await batchesLeft()) === 0, { timeoutMs: 5_000, message: "the ended batch to be dropped" });
  expect(done.counts).toMatchObject({ succeeded: 1, dead: 1, retried: 1, finished: 2, staleAcks: 0 });
});

test("an ended batch rides with the shard's next finish", async () => {
  const done = completer();
  const [first] = await claimJobs(token, ["r-1"], done);
  done.succeeded(first!, undefined);
  // Wait for the ack itself, not the batch's end (that one waits for a ride or DONE_FLUSH_MS).
  await waitFor(async () => (await store.tasks.inspect(0, "r-1")).kind === "final", { timeoutMs: 2_000, message: "the ack" });
  expect(await claimsLeft()).toBe(1);
  const [second] = await claimJobs(token, ["r-2"], done);
  done.succeeded(second!, undefined);
  await waitFor(async () => (await store.tasks.inspect(0, "r-2")).kind === "final", { timeoutMs: 2_000, message: "the second ack" });
  // The first batch went with the second ack; the second batch waits for its own ride.
  expect(await claimsLeft()).toBe(1);
  await done.flush();
  expect(await claimsLeft()).toBe(0);
});

test("a batch with an abandoned attempt stays for the reaper, which returns that task", async () => {
  const done = completer();
  const [kept, dropped] = await claimJobs(token, ["a-1", "a-2"], done, 300);
  done.succeeded(kept!, undefined);
  done.abandon(dropped!.shard, dropped!.batch);
  await done.flush();
  expect(await claimsLeft()).toBe(1);
  await Bun.sleep(350);
  const reaped = await store.attempts.reap(0, token, Date.now(), 100);
  expect(reaped === LEASE_LOST ? null : reaped.entries.map((e) => e.id)).toEqual(["a-2"]);
  expect(await claimsLeft()).toBe(0);
});

test("a result is kept up to maxResultBytes of UTF-8, counted in bytes, not characters", async () => {
  const done = completer();
  const [small, wide, unjsonable] = await claimJobs(token, ["res-1", "res-2", "res-3"], done);
  done.succeeded(small!, { text: "é".repeat(500) }); // 1,011 bytes of JSON: kept
  done.succeeded(wide!, { text: "é".repeat(600) }); // 611 characters, 1,211 bytes: over 1,024
  done.succeeded(unjsonable!, () => 1); // no JSON: no result, no error
  await done.flush();
  const view = async (id: string) => {
    const found = await store.tasks.inspect(0, id);
    if (found.kind !== "final") throw new Error(`${id} is ${found.kind}`);
    return decodeFinal(found.finalJson);
  };
  expect(await view("res-1")).toMatchObject({ state: "succeeded", result: { text: "é".repeat(500) } });
  const over = await view("res-2");
  expect(over.state).toBe("succeeded");
  expect(over.result).toBeUndefined();
  expect(over.lastError).toBe("result not stored: 1211 bytes is over the 1024-byte limit");
  const none = await view("res-3");
  expect(none.result).toBeUndefined();
  expect(none.lastError).toBeUndefined();
});
