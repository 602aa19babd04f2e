/**
 * The two systems under test behind one shape: start a worker process
 * (tickwheel node / BullMQ Worker) and open a producer that adds tasks with
 * an absolute due time through the system's bulk API (Client.scheduleMany /
 * Queue.addBulk). Everything else in the benchmark is shared code.
 */
import type { Subprocess } from "bun";
import { join } from "node:path";
import { Queue } from "bullmq";
import { Client } from "../../src/client/client.ts";
import { shardKeys } from "../../src/store/keys.ts";
import { redisCommand } from "../../src/node/embedded-redis.ts";
import { BENCH_TASK, type FromRunner, type RunnerReport, type ToRunner } from "./protocol.ts";

export type SystemName = "tickwheel" | "bullmq";

export interface BenchTask {
  dueMs: number;
  userId: number;
}

export interface Producer {
  /** Adds the tasks; resolves when the bulk call returned. Throws if any was not created. */
  add(tasks: BenchTask[]): Promise<void>;
  /** Tasks the system reports as pending (scheduled/delayed). */
  pendingCount(): Promise<number>;
  close(): Promise<void>;
}

export interface SystemSettings {
  /** tickwheel node environment (TICKWHEEL_*) beside its concurrency. */
  tickwheelEnv: Record<string, string>;
}

export interface RunnerOptions {
  /** Worker concurrency (TICKWHEEL_CONCURRENCY / Worker concurrency); the system's default when absent. */
  concurrency?: number;
  /** More environment for the runner process (tickwheel: TICKWHEEL_* settings). */
  env?: Record<string, string>;
}

export interface System {
  name: SystemName;
  /** Starts a worker process; `capacity` is how many lateness samples it keeps. */
  startRunner(redisUrl: string, capacity: number, options?: RunnerOptions): Promise<RunnerProcess>;
  openProducer(redisUrl: string): Promise<Producer>;
}

const HERE = import.meta.dir;
const SHARDS = Number(process.env.BENCH_SHARDS ?? 16);

export function systems(settings: SystemSettings): Record<SystemName, System> {
  return {
    tickwheel: {
      name: "tickwheel",
      startRunner: (redisUrl, capacity, options = {}) =>
        RunnerProcess.start(join(HERE, "node-runner.ts"), {
          REDIS_URL: redisUrl,
          TICKWHEEL_SHARDS: String(SHARDS),
          TICKWHEEL_LOG_LEVEL: "silent",
          ...(options.concurrency === undefined ? {} : { TICKWHEEL_CONCURRENCY: String(options.concurrency) }),
          ...settings.tickwheelEnv,
          ...options.env,
          BENCH_CAPACITY: String(capacity),
        }),
      openProducer: async (redisUrl) => {
        const client = new Client({ redisUrl, shards: SHARDS });
        return {
          add: async (tasks) => {
            const results = await client.scheduleMany(
              tasks.map((task) => ({ task: BENCH_TASK, args: { userId: task.userId }, options: { runAt: task.dueMs } })),
            );
            for (const result of results) {
              if (result instanceof Error || !result.created) throw new Error(`tickwheel did not create a task: ${String(result)}`);
            }
          },
          pendingCount: async () => {
            const port = Number(new URL(redisUrl).port);
            let total = 0;
            for (let shard = 0; shard < SHARDS; shard++) {
              const keys = shardKeys("tw", shard);
              total += Number(await redisCommand(port, ["ZCARD", keys.due])) + Number((await redisCommand(port, ["GET", keys.coldCount])) ?? 0);
            }
            return total;
          },
          close: () => client.close(),
        };
      },
    },
    bullmq: {
      name: "bullmq",
      startRunner: (redisUrl, capacity, options = {}) =>
        RunnerProcess.start(join(HERE, "bullmq-runner.ts"), {
          REDIS_URL: redisUrl,
          BENCH_QUEUE: BENCH_TASK,
          // BullMQ's own default is 1; the cases always say which they use.
          BENCH_CONCURRENCY: String(options.concurrency ?? 1),
          ...options.env,
          BENCH_CAPACITY: String(capacity),
        }),
      openProducer: async (redisUrl) => {
        const url = new URL(redisUrl);
        const queue = new Queue(BENCH_TASK, { connection: { host: url.hostname, port: Number(url.port) } });
        await queue.waitUntilReady();
        return {
          add: async (tasks) => {
            const now = Date.now();
            const jobs = await queue.addBulk(
              tasks.map((task) => ({ name: BENCH_TASK, data: { userId: task.userId }, opts: { delay: Math.max(0, task.dueMs - now) } })),
            );
            if (jobs.length !== tasks.length) throw new Error(`bullmq added ${jobs.length} of ${tasks.length} jobs`);
          },
          pendingCount: () => queue.getDelayedCount(),
          close: () => queue.close(),
        };
      },
    },
  };
}

/** A worker process started by the orchestrator, driven over IPC. */
export class RunnerProcess {
  private readonly waiters = new Map<number, (report: RunnerReport) => void>();
  private nextRequestId = 1;

  private constructor(private readonly proc: Subprocess) {}

  static async start(script: string, env: Record<string, string>): Promise<RunnerProcess> {
    let onReady: () => void = () => {};
    const ready = new Promise<void>((resolve) => (onReady = resolve));
    let runner: RunnerProcess | undefined;
    // BENCH_RUNNER_BUN_ARGS, e.g. "--cpu-prof --cpu-prof-dir /tmp/prof", profiles the runners.
    const bunArgs = (process.env.BENCH_RUNNER_BUN_ARGS ?? "").split(" ").filter(Boolean);
    const proc = Bun.spawn(["bun", ...bunArgs, script], {
      // BENCH_RUNNER_ENV (JSON) adds variables for the runners only, e.g. '{"BUN_JSC_logGC":"true"}'.
      env: { ...process.env, ...env, ...JSON.parse(process.env.BENCH_RUNNER_ENV ?? "{}") },
      stdin: "ignore",
      stdout: "inherit",
      stderr: "inherit",
      serialization: "json",
      ipc(message: FromRunner) {
        if (message.type === "ready") onReady();
        else runner?.deliver(message);
      },
    });
    runner = new RunnerProcess(proc);
    const exited = proc.exited.then((code) => {
      throw new Error(`${script} exited with ${code} before it was ready`);
    });
    await Promise.race([ready, exited]);
    return runner;
  }

  get pid(): number {
    return this.proc.pid;
  }

  expect(finished: number): void {
    this.send({ type: "expect", finished });
  }

  reset(): void {
    this.send({ type: "reset" });
  }

  report(options: { gc?: boolean; lateness?: boolean; missingFloorMs?: number; samples?: boolean } = {}): Promise<RunnerReport> {
    const requestId = this.nextRequestId++;
    return new Promise((resolve) => {
      this.waiters.set(requestId, resolve);
      this.send({ type: "report", requestId, gc: options.gc ?? false, lateness: options.lateness ?? true, missingFloorMs: options.missingFloorMs, samples: options.samples });
    });
  }

  /** Resolves with a full report once every expected task finished, or at the deadline. */
  async waitAllFinished(deadlineMs: number): Promise<RunnerReport> {
    for (;;) {
      const report = await this.report({ lateness: false });
      if (report.allFinishedAt !== null || Date.now() >= deadlineMs) return this.report();
      await Bun.sleep(50);
    }
  }

  /** Asks the runner to stop; SIGKILL if it has not exited within 3 s (the data is thrown away anyway). */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    try {
      this.send({ type: "exit" });
    } catch {
      // the channel is already closed
    }
    const exited = await Promise.race([this.proc.exited.then(() => true), Bun.sleep(3000).then(() => false)]);
    if (!exited) {
      this.proc.kill(9);
      await this.proc.exited;
    }
  }

  private send(message: ToRunner): void {
    this.proc.send(message);
  }

  private deliver(report: RunnerReport): void {
    const waiter = this.waiters.get(report.requestId);
    this.waiters.delete(report.requestId);
    waiter?.(report);
  }
}
