/**
 * The producer's client: schedules, reads, cancels and reschedules tasks by
 * talking to Redis with the same scripts the nodes use. No node needs to be
 * up to schedule a task.
 *
 *   const client = new Client({ redisUrl: "redis://127.0.0.1:6379" });
 *   await client.schedule(sendEmail, { to: "a@b.c" }, { delay: "7d" });
 */
import type { z } from "zod";
import { Store } from "../store/store.ts";
import { shardOf } from "../core/slot.ts";
import { parseDuration, parseInstant } from "../core/duration.ts";
import { decodeFinal, decodeRecord, viewOfFinal, viewOfRecord } from "../task/codec.ts";
import { invalid, TickwheelError } from "../task/errors.ts";
import { findTask, type TaskHandle } from "../task/define-task.ts";
import { DEFAULT_TASK_DEFAULTS, resolveTask, type ResolvedTask, type ScheduleOptions, type TaskDefaults } from "../task/schedule-input.ts";
import type { TaskView } from "../task/model.ts";

export interface ClientOptions {
  redisUrl?: string;
  clusterNodes?: string[];
  prefix?: string;
  /** Shard count for a prefix that has no data yet; otherwise read from Redis. */
  shards?: number;
  defaults?: Partial<TaskDefaults>;
  /** Retention of cancelled tasks' final records. */
  retentionMs?: number;
  /** Validate args of tasks this process has defined (the node sets this). */
  validateKnownTasks?: boolean;
  /** Share an open store (the node's) instead of opening one. */
  store?: Store;
}

export interface ScheduleResult {
  id: string;
  created: boolean;
  dueAt: number;
  shard: number;
}

export interface CancelResult {
  cancelled: boolean;
  /** The task as it is now (cancelled, or the state that prevented cancelling); null if unknown. */
  task: TaskView | null;
}

export interface RescheduleResult {
  rescheduled: boolean;
  task: TaskView | null;
}

export type ScheduleRequest = {
  task: string | TaskHandle;
  args?: unknown;
  options: ScheduleOptions;
};

const DEFAULT_SHARDS = 16;
const DEFAULT_LOOKAHEAD_MS = 2000;
const DEFAULT_RETENTION_MS = 86_400_000;

export class Client {
  private readonly options: ClientOptions;
  private readonly store: Store;
  private readonly ownsStore: boolean;
  private readonly defaults: TaskDefaults;
  private config: Promise<{ shards: number; lookaheadMs: number }> | null = null;

  constructor(options: ClientOptions = {}) {
    this.options = options;
    this.defaults = { ...DEFAULT_TASK_DEFAULTS, ...(options.defaults ?? {}) };
    if (options.store) {
      this.store = options.store;
      this.ownsStore = false;
    } else {
      const target = options.clusterNodes?.length
        ? { clusterNodes: options.clusterNodes }
        : { redisUrl: options.redisUrl ?? process.env.REDIS_URL ?? "redis://127.0.0.1:6379" };
      this.store = new Store({ ...target, prefix: options.prefix ?? "tw", name: "tickwheel-client" });
      this.ownsStore = true;
    }
  }

  /** Schedules one task. With a handle from defineTask, args are type-checked and validated. */
  schedule<Schema extends z.ZodType>(task: TaskHandle<Schema>, args: z.input<Schema>, options: ScheduleOptions): Promise<ScheduleResult>;
  schedule(task: string, args: unknown, options: ScheduleOptions): Promise<ScheduleResult>;
  async schedule(task: string | TaskHandle, args: unknown, options: ScheduleOptions): Promise<ScheduleResult> {
    const [result] = await this.scheduleMany([{ task, args, options }]);
    const outcome = result!;
    if (outcome instanceof Error) throw outcome;
    return outcome;
  }

  /**
   * Schedules many tasks: one pipeline of script calls per shard. Results come
   * back in input order; an invalid item yields its TickwheelError in place
   * and does not stop the others.
   */
  async scheduleMany(requests: ScheduleRequest[], { requireTime = true } = {}): Promise<(ScheduleResult | TickwheelError)[]> {
    const { shards, lookaheadMs } = await this.clusterConfig();
    const nowMs = Date.now();
    const results: (ScheduleResult | TickwheelError)[] = new Array(requests.length);
    const byShard = new Map<number, { index: number; task: ResolvedTask }[]>();
    requests.forEach((request, index) => {
      try {
        const resolved = this.resolve(request, nowMs, shards, requireTime);
        let group = byShard.get(resolved.shard);
        if (!group) byShard.set(resolved.shard, (group = []));
        group.push({ index, task: resolved });
      } catch (error) {
        if (error instanceof TickwheelError) results[index] = error;
        else throw error;
      }
    });
    const horizon = nowMs + lookaheadMs;
    await Promise.all(
      [...byShard].map(async ([shard, group]) => {
        const outcomes = await this.store.schedule(
          shard,
          group.map(({ task }) => ({ id: task.id, score: task.score, record: task.record })),
          horizon,
        );
        group.forEach(({ index, task }, i) => {
          const outcome = outcomes[i]!;
          if (outcome.kind === "created") results[index] = { id: task.id, created: true, dueAt: task.dueMs, shard };
          else if (outcome.kind === "pending") results[index] = { id: task.id, created: false, dueAt: decodeRecord(outcome.record).dueMs, shard };
          else results[index] = { id: task.id, created: false, dueAt: decodeFinal(outcome.finalJson).dueAt, shard };
        });
      }),
    );
    return results;
  }

  async get(id: string): Promise<TaskView | null> {
    const shard = await this.shardOf(id);
    const outcome = await this.store.inspect(shard, id);
    if (outcome.kind === "missing") return null;
    if (outcome.kind === "final") return viewOfFinal(id, shard, decodeFinal(outcome.finalJson));
    return viewOfRecord(id, shard, outcome.kind, decodeRecord(outcome.record), outcome.lastError, outcome.progressJson);
  }

  /** Cancels a task that has not been claimed; otherwise reports its state. */
  async cancel(id: string): Promise<CancelResult> {
    const shard = await this.shardOf(id);
    const outcome = await this.store.cancel(shard, id, Date.now(), this.options.retentionMs ?? DEFAULT_RETENTION_MS);
    if (outcome.kind === "cancelled") return { cancelled: true, task: viewOfFinal(id, shard, decodeFinal(outcome.finalJson)) };
    return { cancelled: false, task: await this.get(id) };
  }

  /** Moves a task that has not been claimed to a new due time; otherwise reports its state. */
  async reschedule(id: string, when: { runAt?: Date | number | string; delay?: number | string }): Promise<RescheduleResult> {
    const hasRunAt = when.runAt !== undefined;
    const hasDelay = when.delay !== undefined;
    if (hasRunAt === hasDelay) throw invalid("runAt", "give exactly one of runAt or delay");
    let dueMs: number;
    try {
      dueMs = hasRunAt ? parseInstant(when.runAt!) : Date.now() + parseDuration(when.delay!);
    } catch (error) {
      throw invalid(hasRunAt ? "runAt" : "delay", (error as Error).message);
    }
    const shard = await this.shardOf(id);
    const { lookaheadMs } = await this.clusterConfig();
    const outcome = await this.store.reschedule(shard, id, Math.floor(dueMs), Date.now() + lookaheadMs);
    if (outcome.kind === "rescheduled") {
      return { rescheduled: true, task: viewOfRecord(id, shard, "scheduled", decodeRecord(outcome.record), null, null) };
    }
    return { rescheduled: false, task: await this.get(id) };
  }

  async shardOf(id: string): Promise<number> {
    const { shards } = await this.clusterConfig();
    return shardOf(id, shards);
  }

  async close(): Promise<void> {
    if (this.ownsStore) await this.store.quit();
  }

  private resolve(request: ScheduleRequest, nowMs: number, shardCount: number, requireTime: boolean): ResolvedTask {
    const handle = typeof request.task === "string" ? (this.options.validateKnownTasks ? findTask(request.task) : undefined) : request.task;
    const name = typeof request.task === "string" ? request.task : request.task.name;
    let args = request.args;
    if (handle) {
      const parsed = handle.schema.safeParse(args ?? {});
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const field = ["args", ...issue.path.map(String)].join(".");
        throw invalid(field, issue.message);
      }
      args = request.args ?? {};
    }
    const options: ScheduleOptions = { ...(handle?.options ?? {}), ...request.options };
    return resolveTask(name, args, options, { nowMs, shardCount, defaults: this.defaults, requireTime });
  }

  private clusterConfig(): Promise<{ shards: number; lookaheadMs: number }> {
    if (!this.config) {
      this.config = this.store
        .ensureClusterConfig(undefined, this.options.shards ?? DEFAULT_SHARDS)
        .then((config) => ({ shards: config.shards, lookaheadMs: config.lookaheadMs ?? DEFAULT_LOOKAHEAD_MS }));
      this.config.catch(() => {
        this.config = null;
      });
    }
    return this.config;
  }
}
