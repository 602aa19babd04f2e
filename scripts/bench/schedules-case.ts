/**
 * `bun run bench schedules`: many recurring schedules at one occurrence rate (≈1,667/s), their
 * fire times spread evenly over the period, on a private redis-server per run:
 * - tickwheel with 10,000 schedules every 6 s and with 100,000 every 60 s: the same rate, ten
 *   times the schedules, so the node's RSS side by side shows whether it grows with the count
 *   (it should not: the node keeps nothing per schedule);
 * - BullMQ's job schedulers (Queue.upsertJobScheduler) with 100,000 every 60 s.
 * Measured per run:
 * - lateness (start − due) of every occurrence over the measured window, by the same runner
 *   processes as the other cases (no-op handler recording into a preallocated array);
 * - Redis bytes per schedule (used_memory after creating them, minus before, over the count:
 *   a schedule's record, its wake entry and its waiting occurrence);
 * - the worker's (node's) RSS with no schedules and at the end of the window, after a GC.
 * Creation uses each system's fastest path: tickwheel's bulk Client.schedules.putMany (one
 * script call per few hundred schedules of a shard), BullMQ's upserts with many in flight.
 */
import { Queue } from "bullmq";
import { startRedis, type RedisProcess } from "../../test/helpers/redis-server.ts";
import { redisCommand } from "../../src/node/embedded-redis.ts";
import { Client } from "../../src/client/client.ts";
import { TickwheelError } from "../../src/task/errors.ts";
import { BENCH_TASK, type LatenessSummary } from "./protocol.ts";
import type { System, SystemName } from "./systems.ts";

/** BullMQ upserts in flight while creating (each is a script call; more in flight keeps Redis busy). */
const BULLMQ_CREATE_CONCURRENCY = 1_000;
/** Schedules per putMany call: 10,000 keeps the client's decided records to a few MB at a time. */
const TICKWHEEL_CREATE_CHUNK = 10_000;
/** The first occurrences start this long after creation begins (a later one catches up as misfire). */
const ANCHOR_LEAD_MS = 5_000;

export interface SchedulesRun {
  system: SystemName;
  count: number;
  periodMs: number;
}

export interface SchedulesResult extends SchedulesRun {
  createSeconds: number;
  measuredSeconds: number;
  started: number;
  expected: number;
  lateness: LatenessSummary;
  bytesPerSchedule: number;
  rssIdleMB: number;
  rssLoadedMB: number;
  /** JS heap in use after a full GC at the end of the window: what the process keeps, without the allocator's slack. */
  heapLoadedMB: number;
}

async function usedMemory(redis: RedisProcess): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(String(await redisCommand(redis.port, ["INFO", "memory"])))?.[1]);
}

/** Runs `work(i)` for i in [0, count) with at most `concurrency` in flight. */
async function inParallel(count: number, concurrency: number, work: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
}

async function createTickwheel(redisUrl: string, shards: number, count: number, periodMs: number, anchor: number, offsetOf: (i: number) => number): Promise<void> {
  const client = new Client({ redisUrl, shards });
  try {
    for (let from = 0; from < count; from += TICKWHEEL_CREATE_CHUNK) {
      const items = [];
      for (let i = from; i < Math.min(count, from + TICKWHEEL_CREATE_CHUNK); i++) {
        items.push({ name: `s${i}`, every: periodMs, startAt: anchor + offsetOf(i), task: { name: BENCH_TASK, args: { userId: i } } });
      }
      const results = await client.schedules.putMany(items);
      const failed = results.find((result) => result instanceof TickwheelError);
      if (failed) throw new Error(`tickwheel did not store a schedule: ${String(failed)}`);
    }
  } finally {
    await client.close();
  }
}

async function createBullmq(redisUrl: string, count: number, periodMs: number, offsetOf: (i: number) => number): Promise<void> {
  const url = new URL(redisUrl);
  const queue = new Queue(BENCH_TASK, { connection: { host: url.hostname, port: Number(url.port) } });
  await queue.waitUntilReady();
  try {
    await inParallel(count, BULLMQ_CREATE_CONCURRENCY, (i) =>
      queue.upsertJobScheduler(`s${i}`, { every: periodMs, offset: offsetOf(i) }, { name: BENCH_TASK, data: { userId: i } }),
    );
  } finally {
    await queue.close();
  }
}

/**
 * `concurrency`: the worker concurrency of the system's runner (TICKWHEEL_CONCURRENCY, BullMQ's
 * Worker `concurrency`), the same for both (issue 16's equal settings). Each system's default (64
 * and 1) would measure its pool instead: at 1,667 occurrences/s tickwheel holds the tasks it
 * claimed up to its claim lead early (tens of ms under load), and 64 slots did not cover that.
 */
export async function schedulesCase(system: System, run: SchedulesRun, measureSeconds: number, shards: number, concurrency: number): Promise<SchedulesResult> {
  const { count, periodMs } = run;
  const redis = await startRedis();
  const expectedPerSecond = count / (periodMs / 1000);
  const runner = await system.startRunner(redis.url, Math.ceil(expectedPerSecond * (measureSeconds + 30)), { concurrency });
  try {
    await Bun.sleep(1_000);
    const idle = await runner.report({ gc: true });
    const before = await usedMemory(redis);
    // Schedule i fires at anchor + i·period/count + k·period: evenly spread over each period.
    const anchor = Date.now() + ANCHOR_LEAD_MS;
    const offsetOf = (i: number) => Math.floor((i * periodMs) / count);
    const createStart = performance.now();
    if (system.name === "tickwheel") await createTickwheel(redis.url, shards, count, periodMs, anchor, offsetOf);
    else await createBullmq(redis.url, count, periodMs, offsetOf);
    const createSeconds = (performance.now() - createStart) / 1000;
    const after = await usedMemory(redis);
    // The node and Redis plant and fire the first rounds while the schedules are created; one full
    // period after the last one was created every schedule has gone round once more, so the window
    // measured is the steady state, not creation's backlog.
    await Bun.sleep(Math.max(periodMs, anchor + periodMs - Date.now(), 2_000));
    runner.reset();
    const windowStart = performance.now();
    await Bun.sleep(measureSeconds * 1000);
    const report = await runner.report();
    const measuredSeconds = (performance.now() - windowStart) / 1000;
    const loaded = await runner.report({ gc: true, lateness: false });
    return {
      ...run,
      createSeconds,
      measuredSeconds,
      started: report.started,
      expected: Math.round(expectedPerSecond * measuredSeconds),
      lateness: report.lateness,
      bytesPerSchedule: (after - before) / count,
      rssIdleMB: idle.rssBytes / 2 ** 20,
      rssLoadedMB: loaded.rssBytes / 2 ** 20,
      heapLoadedMB: loaded.heapBytes / 2 ** 20,
    };
  } finally {
    await runner.stop();
    await redis.cleanup();
  }
}

function period(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

export function renderSchedules(results: SchedulesResult[], command: string, machine: string, concurrency: number): string {
  const rows = results.map((r) => {
    const l = r.lateness;
    const perSecond = Math.round(r.count / r.createSeconds).toLocaleString("en-US");
    return `| ${r.system} | ${r.count.toLocaleString("en-US")} every ${period(r.periodMs)} | ${r.createSeconds.toFixed(1)} s (${perSecond}/s) | ${r.started.toLocaleString("en-US")} / ~${r.expected.toLocaleString("en-US")} in ${r.measuredSeconds.toFixed(0)} s | ${l.p50 ?? "-"} / ${l.p99 ?? "-"} / ${l.max ?? "-"} ms | ${l.early} | ${Math.round(r.bytesPerSchedule)} | ${r.rssIdleMB.toFixed(0)} → ${r.rssLoadedMB.toFixed(0)} MB | ${r.heapLoadedMB.toFixed(1)} MB |`;
  });
  const tickwheel = results.filter((r) => r.system === "tickwheel").sort((a, b) => a.count - b.count);
  const lines = [
    `Command: \`${command}\` (${machine})`,
    "",
    `Both systems' workers at concurrency ${concurrency.toLocaleString("en-US")} (TICKWHEEL_CONCURRENCY; BullMQ Worker \`concurrency\`), no-op handlers.`,
    "",
    "| system | schedules | created in | occurrences started / expected | lateness p50 / p99 / max | early | Redis bytes per schedule | worker RSS: none → end of window | worker JS heap after GC, end of window |",
    "|---|---|---|---|---|---|---|---|---|",
    ...rows,
  ];
  if (tickwheel.length === 2) {
    const [small, large] = tickwheel as [SchedulesResult, SchedulesResult];
    lines.push(
      "",
      `tickwheel node at the same occurrence rate: RSS ${small.rssLoadedMB.toFixed(0)} MB and JS heap ${small.heapLoadedMB.toFixed(1)} MB with ${small.count.toLocaleString("en-US")} schedules, RSS ${large.rssLoadedMB.toFixed(0)} MB and heap ${large.heapLoadedMB.toFixed(1)} MB with ${large.count.toLocaleString("en-US")} (${(large.count / small.count).toFixed(0)}× the schedules). The node keeps nothing per schedule (a schedule is read from Redis at its wake time); RSS after a burst of work depends on the allocator's peaks more than on what is kept, hence the heap beside it.`,
    );
  }
  return lines.join("\n");
}
