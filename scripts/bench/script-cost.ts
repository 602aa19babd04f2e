/**
 * Redis' own time per task in the burst's two scripts, claim and finish, for
 * A/B comparisons of two trees in one sitting: it reads `usec` of EVALSHA
 * from `INFO commandstats`, so neither the client nor the machine's other
 * load moves it much, where a burst's tasks/s moves ±15 % between runs.
 * Runs against the tree it is started from:
 *
 *   (cd /path/to/tree && bun /path/to/scripts/bench/script-cost.ts [rounds])
 *
 * Each round schedules 50,000 tasks due now on one shard, claims them in
 * calls of 500 and finishes them in calls of 100 (succeeded, the node's
 * grouping: one batch, one expiry slot), then prints per round µs of Redis
 * per task for each script, and at the end the `succeeded` index's bytes per
 * task (MEMORY USAGE). The finish grows with the rounds: the final records'
 * slot hash (and, before 41a5b34, the index's one entry per task) keeps every
 * round's tasks.
 */
import { join } from "node:path";
import { startRedis } from "../../test/helpers/redis-server.ts";

const tree = process.cwd();
const { Store } = await import(join(tree, "src/store/store.ts"));
const { ShardMap } = await import(join(tree, "src/core/shard-map.ts"));
const { resolveTask, DEFAULT_TASK_DEFAULTS } = await import(join(tree, "src/task/schedule-input.ts"));
const { decodeRecord, finalTailOf } = await import(join(tree, "src/task/codec.ts"));
const { redisCommand } = await import(join(tree, "src/node/embedded-redis.ts"));
const { KeyBook } = await import(join(tree, "src/store/keys.ts"));
const { consoleIndexKey } = await import(join(tree, "src/store/console-keys.ts"));

const TASKS = 50_000;
const CLAIM = 500;
const FINISH = 100;
const DAY_MS = 86_400_000;

const redis = await startRedis();
const PREFIX = "tw";
const store = new Store({ redisUrl: redis.url, prefix: PREFIX });
const lease = await store.leases.acquire(0, "script-cost", 600_000);
if (!lease.acquired) throw new Error("lease not acquired");
const token = lease.token;

/** EVALSHA µs since the last reset, then resets the counters. */
async function scriptUsec(): Promise<number> {
  const info = String(await redisCommand(redis.port, ["INFO", "commandstats"]));
  await redisCommand(redis.port, ["CONFIG", "RESETSTAT"]);
  return Number(/cmdstat_evalsha:calls=\d+,usec=(\d+)/.exec(info)?.[1] ?? 0);
}

const rounds: { claimUsPerTask: number; finishUsPerTask: number }[] = [];
let serial = 0;
const oneShard = new ShardMap(1);
for (let round = 0; round < Number(process.argv[2] ?? 5); round++) {
  const dueMs = Date.now() - 5;
  for (let from = 0; from < TASKS; from += 1000) {
    const items = [];
    for (let i = from; i < from + 1000; i++) {
      const id = `sc${round}-${serial++}`.padEnd(26, "x");
      const t = resolveTask("bench.noop", { userId: i }, { id, runAt: dueMs }, { nowMs: Date.now(), shards: oneShard, defaults: DEFAULT_TASK_DEFAULTS, requireTime: true });
      items.push({ id: t.id, score: t.score, record: t.record });
    }
    await store.tasks.schedule(0, items, 0);
  }
  await scriptUsec();
  const batches = [];
  for (;;) {
    const claimed = await store.attempts.claim(0, token, Date.now() + 1, CLAIM, Date.now() + 60_000);
    if (claimed === null || claimed === "lease") break;
    batches.push(claimed);
  }
  const claimUs = await scriptUsec();
  let finished = 0;
  for (const batch of batches) {
    for (let from = 0; from < batch.tasks.length; from += FINISH) {
      const now = Date.now();
      const part = batch.tasks.slice(from, from + FINISH);
      const items = part.map(({ id, record }: { id: string; record: string }) => ({
        id,
        batch: batch.batch,
        state: "succeeded",
        finishedAt: now,
        ttlMs: DAY_MS,
        finalTail: finalTailOf({ attempt: 1, dueAt: decodeRecord(record).dueMs, finishedAt: now }),
      }));
      const done = from + FINISH >= batch.tasks.length ? [batch.batch] : [];
      const flags = await store.attempts.finish(0, token, now, 7 * DAY_MS, items, done);
      if (!Array.isArray(flags) || flags.some((ok: boolean) => !ok)) throw new Error(`finish refused: ${String(flags)}`);
      finished += part.length;
    }
  }
  const finishUs = await scriptUsec();
  if (finished !== TASKS) throw new Error(`finished ${finished} of ${TASKS}`);
  rounds.push({ claimUsPerTask: +(claimUs / finished).toFixed(2), finishUsPerTask: +(finishUs / finished).toFixed(2) });
}
console.log(JSON.stringify(rounds));
// What the console's `succeeded` index costs in memory per finished task, every round's tasks in it.
const indexKey = consoleIndexKey(new KeyBook(PREFIX).shard(0), "succeeded");
const indexBytes = Number(await redisCommand(redis.port, ["MEMORY", "USAGE", indexKey, "SAMPLES", "0"]));
console.log(JSON.stringify({ succeededIndexBytesPerTask: +(indexBytes / (rounds.length * TASKS)).toFixed(1) }));
await store.quit();
await redis.cleanup();
process.exit(0);
