/**
 * The benchmark cases. Each run gets a fresh private redis-server (no
 * persistence) and, where a worker is needed, a fresh worker process, so no
 * run inherits the previous one's data, fragmentation or JIT state.
 */
import { startRedis, type RedisProcess } from "../../test/helpers/redis-server.ts";
import { join } from "node:path";
import { redisCommand } from "../../src/node/embedded-redis.ts";
import { CpuMeter, selfCpuPercent } from "./process-stats.ts";
import type { LatenessSummary } from "./protocol.ts";
import type { BenchTask, Producer, RunnerOptions, RunnerProcess, System } from "./systems.ts";

const HOUR_MS = 3_600_000;
/** Tasks per bulk call: the same for both systems. */
const BULK = 10_000;

export async function withRedis<T>(fn: (redis: RedisProcess) => Promise<T>): Promise<T> {
  const redis = await startRedis();
  try {
    return await fn(redis);
  } finally {
    // BENCH_DEBUG=1 prints what each run asked of Redis (calls and µs per command and script).
    if (process.env.BENCH_DEBUG) {
      console.log(String(await redisCommand(redis.port, ["INFO", "commandstats"])).replace(/\r/g, ""));
      console.log("slowlog (µs, command):", JSON.stringify(((await redisCommand(redis.port, ["SLOWLOG", "GET", "30"])) as unknown[][]).map((entry) => [entry[2], String((entry[3] as unknown[])[0]) + " " + String((entry[3] as unknown[])[1]).slice(0, 12)])));
    }
    await redis.cleanup();
  }
}

/**
 * Runs a couple of thousand tasks through the worker before a timed case and
 * then zeroes its counters: a node or worker in service is warm (JIT-compiled
 * handler path, metrics created), and the first tasks of a cold process
 * measure the JIT, not the scheduler. Done for both systems alike.
 */
async function warmUp(runner: RunnerProcess, producer: Producer): Promise<void> {
  const count = 2_000;
  runner.reset();
  runner.expect(count);
  const now = Date.now();
  await producer.add(Array.from({ length: count }, (_, i) => ({ dueMs: now + 200 + (i % 200), userId: -1 - i })));
  const report = await runner.waitAllFinished(Date.now() + 30_000);
  if (report.allFinishedAt === null) throw new Error(`warm-up: ${report.finished} of ${count} finished within 30 s`);
  runner.reset();
}

async function usedMemory(redis: RedisProcess): Promise<number> {
  const info = String(await redisCommand(redis.port, ["INFO", "memory"]));
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1]);
}

/** Adds `count` tasks in bulk calls of BULK, one call at a time; due times from dueOf(i). */
async function enqueueAll(producer: Producer, count: number, dueOf: (i: number) => number): Promise<void> {
  for (let start = 0; start < count; start += BULK) {
    const batch: BenchTask[] = [];
    for (let i = start; i < Math.min(count, start + BULK); i++) batch.push({ dueMs: dueOf(i), userId: i });
    await producer.add(batch);
  }
}

// ---------------------------------------------------------------- 1 enqueue

export interface EnqueueResult {
  tasksPerSecond: number;
  producerCpu: number;
  redisCpu: number;
}

export function enqueueCase(system: System, count: number): Promise<EnqueueResult> {
  return withRedis(async (redis) => {
    const producer = await system.openProducer(redis.url);
    try {
      // Warm-up (connections, script loading, JIT), then clear it away. Two calls' worth: after
      // one, the producer's first timed calls still ran half as fast while the JIT caught up.
      await enqueueAll(producer, 2 * BULK, () => Date.now() + HOUR_MS);
      await redisCommand(redis.port, ["FLUSHALL"]);
      const meter = new CpuMeter([redis.pid]);
      const cpu = process.cpuUsage();
      const started = performance.now();
      await enqueueAll(producer, count, () => Date.now() + HOUR_MS);
      const elapsedMs = performance.now() - started;
      const [redisCpu] = meter.read();
      const producerCpu = selfCpuPercent(cpu, elapsedMs);
      const pending = await producer.pendingCount();
      if (pending !== count) throw new Error(`${system.name}: ${pending} pending after enqueueing ${count}`);
      return { tasksPerSecond: count / (elapsedMs / 1000), producerCpu, redisCpu: redisCpu! };
    } finally {
      await producer.close();
    }
  });
}

// ---------------------------------------------------------------- 2 memory

export interface MemoryResult {
  bytesPerTask: number;
  rssIdleMB: number;
  rssPendingMB: number;
  workerCpu: number;
  redisCpu: number;
}

/** Due times of the memory case's tasks: from `fromMs` ahead, spread over `spreadMs`. */
export interface MemorySpread {
  fromMs: number;
  spreadMs: number;
}

/** Far-future work that must sit in Redis, not in RAM: due over the next day, from 1 h out. */
const DAY_AHEAD: MemorySpread = { fromMs: HOUR_MS, spreadMs: 23 * HOUR_MS };

export function memoryCase(system: System, count: number, spread: MemorySpread = DAY_AHEAD, runnerOptions: RunnerOptions = {}): Promise<MemoryResult> {
  return withRedis(async (redis) => {
    const runner = await system.startRunner(redis.url, 1, runnerOptions);
    const producer = await system.openProducer(redis.url);
    try {
      await Bun.sleep(1000);
      const idle = await runner.report({ gc: true });
      const before = await usedMemory(redis);
      const meter = new CpuMeter([runner.pid, redis.pid]);
      const base = Date.now() + spread.fromMs;
      await enqueueAll(producer, count, (i) => base + Math.floor((i * spread.spreadMs) / count));
      await Bun.sleep(2000);
      const [workerCpu, redisCpu] = meter.read();
      const after = await usedMemory(redis);
      const pending = await runner.report({ gc: true });
      const pendingCount = await producer.pendingCount();
      if (pendingCount !== count) throw new Error(`${system.name}: ${pendingCount} pending, expected ${count}`);
      return {
        bytesPerTask: (after - before) / count,
        rssIdleMB: idle.rssBytes / 2 ** 20,
        rssPendingMB: pending.rssBytes / 2 ** 20,
        workerCpu: workerCpu!,
        redisCpu: redisCpu!,
      };
    } finally {
      await producer.close();
      await runner.stop();
    }
  });
}

// ---------------------------------------------------------------- 3 burst

export interface BurstResult {
  firstStartMs: number;
  medianStartMs: number;
  lastStartMs: number;
  lastCompletionMs: number;
  tasksPerSecond: number;
  early: number;
  workerCpu: number;
  redisCpu: number;
  machineCpu: number;
}

/**
 * With BENCH_DEBUG the burst case also sums up Redis' time per command for
 * the window from T to the last completion (its stats are reset at T).
 * Scripts count their inner commands too, so "scripts minus inner commands"
 * is the time spent in Lua itself.
 */
const COMMAND_STATS = !!process.env.BENCH_DEBUG;

async function commandTimes(port: number): Promise<string> {
  const usec = new Map<string, number>();
  for (const line of String(await redisCommand(port, ["INFO", "commandstats"])).split("\n")) {
    const match = /^cmdstat_([^:]+):calls=\d+,usec=(\d+)/.exec(line);
    if (match) usec.set(match[1]!, Number(match[2]));
  }
  const scripts = (usec.get("evalsha") ?? 0) + (usec.get("eval") ?? 0);
  const inner = [...usec].filter(([name]) => !["evalsha", "eval", "config|resetstat", "info"].includes(name));
  const innerTotal = inner.reduce((sum, [, time]) => sum + time, 0);
  const ms = (time: number) => `${Math.round(time / 1000)} ms`;
  const top = inner.sort((a, b) => b[1] - a[1]).slice(0, 8).map(([name, time]) => `${name} ${ms(time)}`);
  return `scripts ${ms(scripts)} (Lua itself ${ms(scripts - innerTotal)}); commands: ${top.join(", ")}`;
}

export function burstCase(system: System, count: number, leadMs: number, runnerOptions: RunnerOptions): Promise<BurstResult> {
  return withRedis(async (redis) => {
    const runner = await system.startRunner(redis.url, count, runnerOptions);
    const producer = await system.openProducer(redis.url);
    try {
      await warmUp(runner, producer);
      const dueMs = Date.now() + leadMs;
      await enqueueAll(producer, count, () => dueMs);
      if (Date.now() > dueMs - 500) throw new Error(`${system.name}: enqueueing ${count} took longer than the ${leadMs} ms lead`);
      runner.expect(count);
      // CPU is measured from just before T until the last completion.
      await Bun.sleep(Math.max(0, dueMs - 20 - Date.now()));
      if (COMMAND_STATS) await redisCommand(redis.port, ["CONFIG", "RESETSTAT"]);
      const meter = new CpuMeter([runner.pid, redis.pid]);
      const report = await runner.waitAllFinished(dueMs + 180_000);
      const [workerCpu, redisCpu] = meter.read();
      if (COMMAND_STATS) console.log(`${system.name} burst, Redis time by command: ${await commandTimes(redis.port)}`);
      const machineCpu = meter.machineBusy();
      if (report.allFinishedAt === null) throw new Error(`${system.name}: ${report.finished} of ${count} finished within 180 s`);
      const l = report.lateness;
      const lastCompletionMs = report.allFinishedAt - dueMs;
      return {
        firstStartMs: l.min!,
        medianStartMs: l.p50!,
        lastStartMs: l.max!,
        lastCompletionMs,
        tasksPerSecond: count / (Math.max(1, lastCompletionMs - l.min!) / 1000),
        early: l.early,
        workerCpu: workerCpu!,
        redisCpu: redisCpu!,
        machineCpu,
      };
    } finally {
      await producer.close();
      await runner.stop();
    }
  });
}

// ---------------------------------------------------------------- 4 steady lateness

/** Runs timer-floor.ts for `seconds` beside a run; its summary, or null if it failed. */
async function startTimerFloor(seconds: number): Promise<LatenessSummary | null> {
  const probe = Bun.spawn(["bun", join(import.meta.dir, "timer-floor.ts"), String(seconds)], { stdin: "ignore", stdout: "pipe", stderr: "inherit" });
  const [out, code] = await Promise.all([new Response(probe.stdout).text(), probe.exited]);
  if (code !== 0) return null;
  try {
    return JSON.parse(out.trim()) as LatenessSummary;
  } catch {
    return null;
  }
}

export interface SteadyResult {
  rate: number;
  added: number;
  lateness: LatenessSummary;
  /** Tasks not started by the cutoff; when > 0 the percentiles are lower bounds. */
  notStarted: number;
  /** Producer could not keep the rate (bulk calls backed up). */
  producerBehind: boolean;
  workerCpu: number;
  redisCpu: number;
  /** The benchmark process itself (the producer). */
  producerCpu: number;
  /** Whole machine, % of one core: near 100 × nproc means the machine was saturated. */
  machineCpu: number;
  /** Lateness of a process that only keeps a timer, beside the run (timer-floor.ts): the machine's floor. */
  floor: LatenessSummary | null;
}

const MIN_DELAY_MS = 100;
const MAX_DELAY_MS = 3_000;
const PRODUCER_TICK_MS = 5;
/** After the last due time, how long unstarted tasks are waited for. */
const DRAIN_MS = 10_000;

export function steadyCase(system: System, rate: number, seconds: number, runnerOptions: RunnerOptions): Promise<SteadyResult> {
  return withRedis(async (redis) => {
    const total = Math.round(rate * seconds);
    const runner = await system.startRunner(redis.url, total, runnerOptions);
    const producer = await system.openProducer(redis.url);
    try {
      await warmUp(runner, producer);
      runner.expect(total);
      const meter = new CpuMeter([runner.pid, redis.pid]);
      const selfCpu = process.cpuUsage();
      const started = performance.now();
      const floor = startTimerFloor(seconds).catch(() => null);
      let added = 0;
      let inFlight = 0;
      let producerBehind = false;
      let lastDueMs = 0;
      const calls: Promise<void>[] = [];
      while (added < total) {
        const target = Math.min(total, Math.floor((rate * (performance.now() - started)) / 1000));
        if (target > added && inFlight < 20) {
          const batch: BenchTask[] = [];
          const now = Date.now();
          for (let i = added; i < target; i++) {
            const dueMs = now + MIN_DELAY_MS + Math.floor(Math.random() * (MAX_DELAY_MS - MIN_DELAY_MS));
            if (dueMs > lastDueMs) lastDueMs = dueMs;
            batch.push({ dueMs, userId: i });
          }
          added = target;
          inFlight++;
          calls.push(producer.add(batch).finally(() => inFlight--));
        } else if (inFlight >= 20) {
          producerBehind = true;
        }
        await Bun.sleep(PRODUCER_TICK_MS);
      }
      await Promise.all(calls);
      const report = await runner.waitAllFinished(lastDueMs + DRAIN_MS);
      const [workerCpu, redisCpu] = meter.read();
      const machineCpu = meter.machineBusy();
      const producerCpu = selfCpuPercent(selfCpu, performance.now() - started);
      let lateness = report.lateness;
      const notStarted = total - report.started;
      if (notStarted > 0) {
        // Every unstarted task was due by lastDueMs, so it is at least this late: counted so, the
        // percentiles they reach are lower bounds.
        lateness = (await runner.report({ missingFloorMs: Date.now() - lastDueMs })).lateness;
      }
      return { rate, added, lateness, notStarted, producerBehind, workerCpu: workerCpu!, redisCpu: redisCpu!, producerCpu, machineCpu, floor: await floor };
    } finally {
      await producer.close();
      await runner.stop();
    }
  });
}

