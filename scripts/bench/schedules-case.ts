/**
 * `bun run bench schedules`: many recurring schedules, each firing every minute, their fire times
 * spread evenly over the minute (100,000 schedules ≈ 1,667 occurrences/s), tickwheel's schedules
 * (Client.schedules.put) against BullMQ's job schedulers (Queue.upsertJobScheduler) on the same
 * kind of private redis-server, one after the other. Measured per system:
 * - lateness (start − due) of every occurrence over the measured window, by the same runner
 *   processes as the other cases (no-op handler recording into a preallocated array);
 * - Redis bytes per schedule (used_memory after creating them, minus before, over the count:
 *   a schedule's record, its wake entry and its waiting occurrence);
 * - the worker's RSS with no schedules and at the end of the window (flat = not proportional
 *   to the number of schedules).
 */
import { Queue } from "bullmq";
import { startRedis, type RedisProcess } from "../../test/helpers/redis-server.ts";
import { redisCommand } from "../../src/node/embedded-redis.ts";
import { Client } from "../../src/client/client.ts";
import { BENCH_TASK, type LatenessSummary } from "./protocol.ts";
import type { System, SystemName } from "./systems.ts";

const MINUTE_MS = 60_000;
/** Schedule writes in flight at once while creating them (both systems). */
const CREATE_CONCURRENCY = 256;
/** Wait after creating them before measuring (one full round of every schedule). */
const SETTLE_MS = MINUTE_MS;

export interface SchedulesResult {
  system: SystemName;
  count: number;
  createSeconds: number;
  measuredSeconds: number;
  started: number;
  expected: number;
  lateness: LatenessSummary;
  bytesPerSchedule: number;
  rssIdleMB: number;
  rssLoadedMB: number;
}

async function usedMemory(redis: RedisProcess): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(String(await redisCommand(redis.port, ["INFO", "memory"])))?.[1]);
}

/** Runs `work(i)` for i in [0, count) with at most CREATE_CONCURRENCY in flight. */
async function inParallel(count: number, work: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: CREATE_CONCURRENCY }, lane));
}

export async function schedulesCase(system: System, count: number, measureSeconds: number, shards: number): Promise<SchedulesResult> {
  const redis = await startRedis();
  const expectedPerSecond = count / (MINUTE_MS / 1000);
  const runner = await system.startRunner(redis.url, Math.ceil(expectedPerSecond * (measureSeconds + 30)));
  try {
    await Bun.sleep(1_000);
    const idle = await runner.report({ gc: true });
    const before = await usedMemory(redis);
    // Schedule i fires at anchor + i·60s/count + k·60s: evenly spread over each minute.
    const anchor = Date.now() + 5_000;
    const offsetOf = (i: number) => Math.floor((i * MINUTE_MS) / count);
    const createStart = performance.now();
    if (system.name === "tickwheel") {
      const client = new Client({ redisUrl: redis.url, shards });
      try {
        await inParallel(count, (i) =>
          client.schedules.put(`s${i}`, { every: MINUTE_MS, startAt: anchor + offsetOf(i), task: { name: BENCH_TASK, args: { userId: i } } }),
        );
      } finally {
        await client.close();
      }
    } else {
      const url = new URL(redis.url);
      const queue = new Queue(BENCH_TASK, { connection: { host: url.hostname, port: Number(url.port) } });
      await queue.waitUntilReady();
      try {
        await inParallel(count, (i) =>
          queue.upsertJobScheduler(`s${i}`, { every: MINUTE_MS, offset: offsetOf(i) }, { name: BENCH_TASK, data: { userId: i } }),
        );
      } finally {
        await queue.close();
      }
    }
    const createSeconds = (performance.now() - createStart) / 1000;
    const after = await usedMemory(redis);
    // Creating them takes a while on a shared machine, and the node and Redis plant and fire the
    // first rounds meanwhile; a full minute after the last one was created every schedule has
    // gone round once more, so the window measured is the steady state, not creation's backlog.
    await Bun.sleep(Math.max(SETTLE_MS, anchor + MINUTE_MS - Date.now()));
    runner.reset();
    const windowStart = performance.now();
    await Bun.sleep(measureSeconds * 1000);
    const report = await runner.report();
    const measuredSeconds = (performance.now() - windowStart) / 1000;
    const loaded = await runner.report({ gc: true, lateness: false });
    return {
      system: system.name,
      count,
      createSeconds,
      measuredSeconds,
      started: report.started,
      expected: Math.round(expectedPerSecond * measuredSeconds),
      lateness: report.lateness,
      bytesPerSchedule: (after - before) / count,
      rssIdleMB: idle.rssBytes / 2 ** 20,
      rssLoadedMB: loaded.rssBytes / 2 ** 20,
    };
  } finally {
    await runner.stop();
    await redis.cleanup();
  }
}

export function renderSchedules(results: SchedulesResult[], command: string, machine: string): string {
  const rows = results.map((r) => {
    const l = r.lateness;
    return `| ${r.system} | ${r.count.toLocaleString("en-US")} | ${r.createSeconds.toFixed(1)} s | ${r.started.toLocaleString("en-US")} / ~${r.expected.toLocaleString("en-US")} in ${r.measuredSeconds.toFixed(0)} s | ${l.p50 ?? "-"} / ${l.p99 ?? "-"} / ${l.max ?? "-"} ms | ${l.early} | ${Math.round(r.bytesPerSchedule)} | ${r.rssIdleMB.toFixed(0)} → ${r.rssLoadedMB.toFixed(0)} MB |`;
  });
  return [
    `Command: \`${command}\` (${machine})`,
    "",
    "| system | schedules | created in | occurrences started / expected | lateness p50 / p99 / max | early | Redis bytes per schedule | worker RSS: none → all |",
    "|---|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}
