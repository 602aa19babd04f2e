/**
 * The webhook benchmark cases: a tickwheel node delivering signed webhooks
 * to a local keep-alive HTTP server (webhook-receiver.ts), each in its own
 * process, on a private redis-server. There is no BullMQ peer here (BullMQ
 * has no HTTP delivery); the figures are held against the targets.
 *
 * - burst: `count` webhook tasks due at one instant T; deliveries per
 *   second from the first arrival to the last (target ≥ 10,000/s).
 * - steady: webhook tasks at `rate`/s, each due 0.1–3 s after it is
 *   scheduled; lateness as the receiver sees it, arrival − dueAt (target
 *   p99 ≤ 5 ms at 1,000/s).
 */
import { join } from "node:path";
import { loadavg } from "node:os";
import { Client } from "../../src/client/client.ts";
import { withRedis } from "./cases.ts";
import { CpuMeter } from "./process-stats.ts";
import type { LatenessSummary } from "./protocol.ts";
import { RunnerProcess } from "./systems.ts";

const HERE = import.meta.dir;
const SHARDS = Number(process.env.BENCH_SHARDS ?? 16);
const TASK = "bench.webhook";
const BULK = 10_000;
/** Time between starting the enqueue and the burst instant T. */
const BURST_LEAD_MS = 15_000;

export interface WebhookBenchSettings {
  /** The node's TICKWHEEL_CONCURRENCY: deliveries in flight at once. */
  concurrency: number;
  nodeEnv: Record<string, string>;
}

interface Rig {
  node: RunnerProcess;
  receiver: RunnerProcess;
  client: Client;
  url: string;
  stop(): Promise<void>;
}

function freePort(): number {
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

async function startRig(redisUrl: string, capacity: number, settings: WebhookBenchSettings): Promise<Rig> {
  const port = freePort();
  const receiver = await RunnerProcess.start(join(HERE, "webhook-receiver.ts"), { BENCH_RECEIVER_PORT: String(port), BENCH_CAPACITY: String(capacity) });
  const node = await RunnerProcess.start(join(HERE, "node-runner.ts"), {
    REDIS_URL: redisUrl,
    TICKWHEEL_SHARDS: String(SHARDS),
    TICKWHEEL_LOG_LEVEL: "silent",
    TICKWHEEL_CONCURRENCY: String(settings.concurrency),
    TICKWHEEL_WEBHOOK_SECRET: "bench-secret-0123456789abcdef",
    ...settings.nodeEnv,
    BENCH_CAPACITY: "1",
  });
  const client = new Client({ redisUrl, shards: SHARDS });
  return {
    node,
    receiver,
    client,
    url: `http://127.0.0.1:${port}/hook`,
    stop: async () => {
      await client.close();
      await node.stop();
      await receiver.stop();
    },
  };
}

async function addWebhooks(rig: Rig, dueTimes: number[], firstUserId: number): Promise<void> {
  for (let start = 0; start < dueTimes.length; start += BULK) {
    const slice = dueTimes.slice(start, start + BULK);
    const results = await rig.client.scheduleMany(
      slice.map((dueMs, i) => ({ task: TASK, args: { userId: firstUserId + start + i }, options: { runAt: dueMs, target: { type: "webhook" as const, url: rig.url } } })),
    );
    for (const result of results) if (result instanceof Error || !result.created) throw new Error(`webhook bench: a task was not created: ${String(result)}`);
  }
}

/** A couple of thousand deliveries first: warm connections, JIT on both sides. */
async function warmUp(rig: Rig): Promise<void> {
  const count = 2_000;
  rig.receiver.reset();
  rig.receiver.expect(count);
  const now = Date.now();
  await addWebhooks(rig, Array.from({ length: count }, (_, i) => now + 200 + (i % 200)), -1_000_000);
  const report = await rig.receiver.waitAllFinished(Date.now() + 30_000);
  if (report.allFinishedAt === null) throw new Error(`webhook warm-up: ${report.finished} of ${count} arrived within 30 s`);
  rig.receiver.reset();
}

export interface WebhookBurstResult {
  count: number;
  firstArrivalMs: number;
  medianArrivalMs: number;
  lastArrivalMs: number;
  deliveriesPerSecond: number;
  nodeCpu: number;
  receiverCpu: number;
  redisCpu: number;
  machineCpu: number;
  /** The machine's 1-minute load average at T and at the last arrival: this machine is shared. */
  loadAverage: [number, number];
}

export function webhookBurstCase(count: number, settings: WebhookBenchSettings): Promise<WebhookBurstResult> {
  return withRedis(async (redis) => {
    const rig = await startRig(redis.url, count, settings);
    try {
      await warmUp(rig);
      // Enqueueing must end well before T; on a busy shared machine 50,000 took over 5 s.
      const dueMs = Date.now() + BURST_LEAD_MS;
      await addWebhooks(rig, new Array<number>(count).fill(dueMs), 0);
      if (Date.now() > dueMs - 500) throw new Error(`webhook burst: enqueueing ${count} took longer than the ${BURST_LEAD_MS} ms lead`);
      rig.receiver.expect(count);
      await Bun.sleep(Math.max(0, dueMs - 20 - Date.now()));
      const meter = new CpuMeter([rig.node.pid, rig.receiver.pid, redis.pid]);
      const loadAtStart = loadavg()[0]!;
      const report = await rig.receiver.waitAllFinished(dueMs + 180_000);
      const [nodeCpu, receiverCpu, redisCpu] = meter.read();
      const machineCpu = meter.machineBusy();
      if (report.allFinishedAt === null) throw new Error(`webhook burst: ${report.finished} of ${count} arrived within 180 s`);
      const l = report.lateness;
      const lastArrivalMs = report.allFinishedAt - dueMs;
      return {
        count,
        firstArrivalMs: l.min!,
        medianArrivalMs: l.p50!,
        lastArrivalMs,
        deliveriesPerSecond: count / (Math.max(1, lastArrivalMs - l.min!) / 1000),
        nodeCpu: nodeCpu!,
        receiverCpu: receiverCpu!,
        redisCpu: redisCpu!,
        machineCpu,
        loadAverage: [loadAtStart, loadavg()[0]!],
      };
    } finally {
      await rig.stop();
    }
  });
}

export interface WebhookSteadyResult {
  rate: number;
  seconds: number;
  lateness: LatenessSummary;
  notArrived: number;
  nodeCpu: number;
  receiverCpu: number;
  redisCpu: number;
  machineCpu: number;
  /** The machine's 1-minute load average at the start and the end of the run. */
  loadAverage: [number, number];
}

const MIN_DELAY_MS = 100;
const MAX_DELAY_MS = 3_000;
const PRODUCER_TICK_MS = 5;
const DRAIN_MS = 10_000;

export function webhookSteadyCase(rate: number, seconds: number, settings: WebhookBenchSettings): Promise<WebhookSteadyResult> {
  return withRedis(async (redis) => {
    const total = Math.round(rate * seconds);
    const rig = await startRig(redis.url, total, settings);
    try {
      await warmUp(rig);
      rig.receiver.expect(total);
      const meter = new CpuMeter([rig.node.pid, rig.receiver.pid, redis.pid]);
      const loadAtStart = loadavg()[0]!;
      const started = performance.now();
      let added = 0;
      let lastDueMs = 0;
      const calls: Promise<void>[] = [];
      while (added < total) {
        const target = Math.min(total, Math.floor((rate * (performance.now() - started)) / 1000));
        if (target > added) {
          const now = Date.now();
          const dueTimes: number[] = [];
          for (let i = added; i < target; i++) {
            const dueMs = now + MIN_DELAY_MS + Math.floor(Math.random() * (MAX_DELAY_MS - MIN_DELAY_MS));
            if (dueMs > lastDueMs) lastDueMs = dueMs;
            dueTimes.push(dueMs);
          }
          calls.push(addWebhooks(rig, dueTimes, added));
          added = target;
        }
        await Bun.sleep(PRODUCER_TICK_MS);
      }
      await Promise.all(calls);
      let report = await rig.receiver.waitAllFinished(lastDueMs + DRAIN_MS);
      const [nodeCpu, receiverCpu, redisCpu] = meter.read();
      const machineCpu = meter.machineBusy();
      const notArrived = total - report.finished;
      if (notArrived > 0) report = await rig.receiver.report({ missingFloorMs: Date.now() - lastDueMs });
      return { rate, seconds, lateness: report.lateness, notArrived, nodeCpu: nodeCpu!, receiverCpu: receiverCpu!, redisCpu: redisCpu!, machineCpu, loadAverage: [loadAtStart, loadavg()[0]!] };
    } finally {
      await rig.stop();
    }
  });
}
