/**
 * Listing by state with 1,000,000 tasks pending (issue 15): how long one
 * page of 100 takes, through the client's `list` (what GET /v1/tasks calls;
 * the route adds only query parsing). A benchmark figure, not a test: run
 * it by hand, `bun scripts/bench/list-by-state.ts [--tasks N] [--repeat N]`,
 * on a private redis-server (no persistence), no node running (nothing
 * claims the tasks while they are listed).
 *
 * Layouts: the tasks due within the cold horizon (in the shards' `due`
 * ZSETs and task hashes), then, after a flush, the same number due in a
 * week (the cold tier). Queries: the first page in shard order and in time
 * order, a page 20 pages deep (time order, following cursors), a name that
 * is 10 % of the tasks, and a name prefix. It also measures the console's
 * index cost: Redis bytes per entry of a finished-state index (ZSET id ->
 * ms finished) at 100,000 entries.
 */
import { startRedis } from "../../test/helpers/redis-server.ts";
import { Client, type ListOptions } from "../../src/client/client.ts";
import { newTaskId } from "../../src/core/ids.ts";

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const TASKS = flag("tasks", 1_000_000);
const REPEAT = flag("repeat", 30);
const PAGE = 100;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Redis' own time in scripts (INFO commandstats, evalsha): what a page costs Redis, whatever the machine's load. */
let statsConnection: { info(section: string): Promise<string> } | null = null;
async function scriptMicros(): Promise<number> {
  const line = (await statsConnection!.info("commandstats")).split("\n").find((l) => l.startsWith("cmdstat_evalsha:"));
  return Number(/usec=(\d+)/.exec(line ?? "")?.[1] ?? 0);
}

async function timed(label: string, run: () => Promise<unknown>): Promise<{ label: string; p50: number; p90: number; max: number }> {
  await run(); // warm: scripts loaded, connection up
  const redisBefore = await scriptMicros();
  const samples: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const start = performance.now();
    await run();
    samples.push(performance.now() - start);
  }
  const redisMs = (await scriptMicros() - redisBefore) / 1000 / REPEAT;
  samples.sort((a, b) => a - b);
  const row = { label, p50: percentile(samples, 50), p90: percentile(samples, 90), max: samples[samples.length - 1]! };
  console.log(
    `${label.padEnd(64)} p50 ${row.p50.toFixed(1).padStart(6)} ms   p90 ${row.p90.toFixed(1).padStart(6)} ms   max ${row.max.toFixed(1).padStart(6)} ms   redis ${redisMs.toFixed(1).padStart(5)} ms/page`,
  );
  return row;
}

async function fill(client: Client, dueOf: (i: number) => number): Promise<void> {
  const started = performance.now();
  const SLICE = 50_000;
  for (let from = 0; from < TASKS; from += SLICE) {
    const batch = [];
    for (let i = from; i < Math.min(TASKS, from + SLICE); i++) {
      // One task in ten is "bench.rare"; names share the "bench." prefix.
      batch.push({ task: i % 10 === 0 ? "bench.rare" : "bench.common", args: { user: i }, options: { runAt: dueOf(i) } });
    }
    await client.scheduleMany(batch);
  }
  console.log(`scheduled ${TASKS.toLocaleString("en-US")} tasks in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

async function deepCursor(client: Client, options: ListOptions, pages: number): Promise<string | undefined> {
  let cursor: string | undefined;
  for (let i = 0; i < pages; i++) cursor = (await client.list(cursor ? { ...options, cursor } : options)).nextCursor ?? undefined;
  return cursor;
}

async function queries(client: Client, layout: string): Promise<void> {
  const first = (options: Omit<ListOptions, "limit">) => () => client.list({ ...options, limit: PAGE });
  await timed(`${layout}: scheduled, first page of ${PAGE}, shard order`, first({ state: "scheduled" }));
  await timed(`${layout}: scheduled, first page of ${PAGE}, time order`, first({ state: "scheduled", order: "time" }));
  const deep = await deepCursor(client, { state: "scheduled", order: "time", limit: PAGE }, 20);
  await timed(`${layout}: scheduled, page 21 of ${PAGE}, time order`, () => client.list({ state: "scheduled", order: "time", limit: PAGE, ...(deep ? { cursor: deep } : {}) }));
  await timed(`${layout}: scheduled, name = 10 % of tasks, time order`, first({ state: "scheduled", order: "time", name: "bench.rare" }));
  await timed(`${layout}: scheduled, name prefix "bench.r", time order`, first({ state: "scheduled", order: "time", namePrefix: "bench.r" }));
}

const redis = await startRedis();
try {
  const prefix = "benchlist";
  const client = new Client({ redisUrl: redis.url, prefix });
  const { default: Redis } = await import("ioredis");
  const raw = new Redis(redis.url);
  statsConnection = raw;
  console.log(`listing by state: ${TASKS.toLocaleString("en-US")} pending, ${REPEAT} runs per query, redis ${redis.url}`);

  const now = Date.now();
  // Due within the cold horizon (15 min): every task in the shards' due indexes.
  await fill(client, (i) => now + 60_000 + Math.floor((i / TASKS) * 12 * 60_000));
  await queries(client, "hot (due in 1–13 min)");

  await raw.flushall();
  const coldClient = new Client({ redisUrl: redis.url, prefix: `${prefix}cold` });
  await fill(coldClient, (i) => now + 7 * 86_400_000 + i);
  await queries(coldClient, "cold (due in a week)");

  // The console's finished-state index: one ZSET entry per finished task, kept for the retention.
  const key = "bench:{0}:done:by:succeeded";
  const ENTRIES = 100_000;
  for (let from = 0; from < ENTRIES; from += 10_000) {
    const members: (string | number)[] = [];
    for (let i = from; i < from + 10_000; i++) members.push(now + i, newTaskId());
    await raw.zadd(key, ...members);
  }
  const bytes = Number(await raw.call("MEMORY", "USAGE", key, "SAMPLES", "0"));
  console.log(`finished-state index: ${(bytes / ENTRIES).toFixed(0)} bytes of Redis per finished task (ZSET of ${ENTRIES.toLocaleString("en-US")}, generated ids of ${newTaskId().length} chars)`);
  await raw.quit();
  await client.close();
  await coldClient.close();
} finally {
  await redis.cleanup();
}
