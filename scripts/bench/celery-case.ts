/**
 * The Celery hand-off burst: COUNT tasks with a Celery target, all due at one
 * instant T, and how fast the node pushes their messages onto the broker's
 * list. tickwheel only (BullMQ has no counterpart).
 *
 * One node process (node-runner.ts, no handler runs) with
 * TICKWHEEL_CELERY_BROKER_URL set; the messages are counted where a worker
 * would find them: a separate connection polls LLEN of the queue's list
 * every millisecond from just before T until the first message, and again
 * once the rate so far puts the last one less than COARSE_POLL_MS × 2 away,
 * so "first push" and "last push" are known to within a poll's interval
 * (1 ms, and never early: the list is seen after the push). In between it
 * polls every COARSE_POLL_MS: a poll each ms took a thousand LLEN round
 * trips a second from the bench process and from Redis, on a machine of two
 * cores whose other two processes are the node and that Redis (polls back to
 * back, before that, took most of a core): the measurement slowed what it
 * measured. A burst that speeds up near its end can only be seen late, which
 * lowers the rate measured, never raises it. No Celery worker consumes
 * them: the list only grows.
 *
 * Two layouts: the broker is tickwheel's own Redis server (db 1; the
 * hand-off is one script per batch, celery-handoff-5.lua), or a second
 * redis-server (push, then finish).
 */
import Redis from "ioredis";
import { Client } from "../../src/client/client.ts";
import { startRedis, type RedisProcess } from "../../test/helpers/redis-server.ts";
import { CpuMeter } from "./process-stats.ts";
import { RunnerProcess } from "./systems.ts";
import { join } from "node:path";

export type CeleryLayout = "same-server" | "separate-broker";

export interface CeleryBurstResult {
  layout: CeleryLayout;
  count: number;
  /** First message on the list, ms after T (a poll's resolution). */
  firstPushMs: number;
  /** All COUNT messages on the list, ms after T. */
  lastPushMs: number;
  /** count / (last push − first push) */
  messagesPerSecond: number;
  nodeCpu: number;
  redisCpu: number;
  /** CPU ms (user + system) per 1,000 messages, T − 20 ms → last message: comparable on a shared machine, where rates are not. */
  nodeCpuMsPer1000: number;
  redisCpuMsPer1000: number;
  machineCpu: number;
}

const QUEUE = "celery";
const SHARDS = Number(process.env.BENCH_SHARDS ?? 16);
/** Scheduled this far before T: enqueueing 50,000 takes under a second on an idle machine, seconds on a busy one. */
const LEAD_MS = 15_000;
const BULK = 10_000;
const WARM_UP = 2_000;

async function scheduleCelery(client: Client, count: number, dueMs: number, idPrefix: string): Promise<void> {
  for (let start = 0; start < count; start += BULK) {
    const requests = [];
    for (let i = start; i < Math.min(count, start + BULK); i++) {
      requests.push({ task: "bench.celery", args: [i], options: { runAt: dueMs, id: `${idPrefix}-${i}`, target: { type: "celery" as const, task: "bench.tasks.noop", queue: QUEUE } } });
    }
    for (const result of await client.scheduleMany(requests)) {
      if (result instanceof Error || !result.created) throw new Error(`celery bench: task not created: ${String(result)}`);
    }
  }
}

/**
 * Polls LLEN until it reaches `count`: every ms until the list first holds anything and once the
 * rate so far puts the last message near, every COARSE_POLL_MS in between (see the header).
 * Answers when the list first held anything and when it held all.
 */
async function watchList(broker: Redis, count: number, deadlineMs: number, dueMs = NaN): Promise<{ firstAt: number; lastAt: number }> {
  let firstAt = NaN;
  let lastLength = -1;
  let polls = 0;
  for (;;) {
    const length = await broker.llen(QUEUE);
    const now = Date.now();
    polls++;
    // BENCH_DEBUG=1: how the list grew (ms after T: length), and how many polls it took.
    if (process.env.BENCH_DEBUG && length !== lastLength) console.log(`celery list at T${now - dueMs >= 0 ? "+" : ""}${now - dueMs} ms: ${length} (poll ${polls})`);
    lastLength = length;
    if (length > 0 && Number.isNaN(firstAt)) firstAt = now;
    if (length >= count) return { firstAt, lastAt: now };
    if (now > deadlineMs) throw new Error(`celery bench: ${length} of ${count} messages pushed by the deadline`);
    await Bun.sleep(nextPollMs(length, count, now - firstAt));
  }
}

/** The fine poll (the resolution of "first" and "last"), and the coarse one in between (see the header). */
const POLL_MS = 1;
const COARSE_POLL_MS = 10;

/** How long until the next LLEN, given `length` of `count` messages seen `elapsedMs` after the first. */
export function nextPollMs(length: number, count: number, elapsedMs: number): number {
  if (length === 0 || !(elapsedMs > 0)) return POLL_MS;
  const remainingMs = ((count - length) * elapsedMs) / length;
  return remainingMs > 2 * COARSE_POLL_MS ? COARSE_POLL_MS : POLL_MS;
}

export async function celeryBurstCase(layout: CeleryLayout, count: number, concurrency: string): Promise<CeleryBurstResult> {
  const servers: RedisProcess[] = [await startRedis()];
  if (layout === "separate-broker") servers.push(await startRedis());
  const tickwheelRedis = servers[0]!;
  const brokerUrl = layout === "same-server" ? `${tickwheelRedis.url}/1` : `${servers[1]!.url}/0`;
  const runner = await RunnerProcess.start(join(import.meta.dir, "node-runner.ts"), {
    REDIS_URL: tickwheelRedis.url,
    TICKWHEEL_SHARDS: String(SHARDS),
    TICKWHEEL_LOG_LEVEL: "silent",
    TICKWHEEL_CONCURRENCY: concurrency,
    TICKWHEEL_CELERY_BROKER_URL: brokerUrl,
    BENCH_CAPACITY: "1",
  });
  const client = new Client({ redisUrl: tickwheelRedis.url, shards: SHARDS });
  const broker = new Redis(brokerUrl);
  try {
    // Warm-up: the same path on a small burst, then the list is cleared.
    await scheduleCelery(client, WARM_UP, Date.now() + 300, "warm");
    await watchList(broker, WARM_UP, Date.now() + 30_000);
    await broker.del(QUEUE);

    const dueMs = Date.now() + LEAD_MS;
    await scheduleCelery(client, count, dueMs, "burst");
    if (Date.now() > dueMs - 500) throw new Error(`celery bench: enqueueing ${count} took longer than the ${LEAD_MS} ms lead`);
    await Bun.sleep(Math.max(0, dueMs - 20 - Date.now()));
    const meter = new CpuMeter([runner.pid, ...servers.map((server) => server.pid)]);
    const meterStart = performance.now();
    const { firstAt, lastAt } = await watchList(broker, count, dueMs + 120_000, dueMs);
    const [nodeCpu, ...redisCpus] = meter.read();
    const meterMs = performance.now() - meterStart;
    const machineCpu = meter.machineBusy();
    const redisCpu = redisCpus.reduce((sum, cpu) => sum + (cpu ?? 0), 0);
    const perThousand = (percent: number) => (((percent / 100) * meterMs) / count) * 1000;
    return {
      layout,
      count,
      firstPushMs: firstAt - dueMs,
      lastPushMs: lastAt - dueMs,
      messagesPerSecond: count / (Math.max(1, lastAt - firstAt) / 1000),
      nodeCpu: nodeCpu!,
      redisCpu,
      nodeCpuMsPer1000: Math.round(perThousand(nodeCpu!) * 10) / 10,
      redisCpuMsPer1000: Math.round(perThousand(redisCpu) * 10) / 10,
      machineCpu,
    };
  } finally {
    broker.disconnect();
    await client.close();
    await runner.stop();
    await Promise.all(servers.map((server) => server.cleanup()));
  }
}
