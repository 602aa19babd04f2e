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
import { COLD_CURSOR, LIST_MAX_BYTES } from "../store/listings.ts";
import { PARK_OFFSET } from "../store/data-format.ts";
import type { ListableState, ListEntry } from "../store/outcomes.ts";
import type { ShardMap } from "../core/shard-map.ts";
import { parseDuration, parseInstant } from "../core/duration.ts";
import { decodeFinal, decodeRecord, encodeRecord, encodeSpec, viewOfFinal, viewOfRecord } from "../task/codec.ts";
import { invalid, TickwheelError } from "../task/errors.ts";
import { findTask, type TaskHandle } from "../task/define-task.ts";
import { DEFAULT_TASK_DEFAULTS, resolveTask, type ResolvedTask, type ScheduleOptions, type TaskDefaults } from "../task/schedule-input.ts";
import { dueScore, type TaskView } from "../task/model.ts";
import { DEFAULT_COLD_AFTER_MS, DEFAULT_LIST_LIMIT, DEFAULT_LOOKAHEAD_MS, DEFAULT_PREFIX, DEFAULT_RETENTION_MS, DEFAULT_SHARDS, MAX_NAME_LENGTH } from "../config/defaults.ts";
import { parseOutboundPolicy, type OutboundPolicy } from "../pool/targets/webhook/outbound-policy.ts";

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
  /**
   * Where webhook targets may point, checked when scheduling: by default read from this
   * process's TICKWHEEL_WEBHOOK_ALLOW / TICKWHEEL_WEBHOOK_DENY (the node checks again at delivery).
   */
  webhookPolicy?: OutboundPolicy;
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

export interface ListOptions {
  state: ListableState;
  /** Only tasks of this name. */
  name?: string;
  /** 1 … 500, default 50. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

/** A task in a listing: its view without args and result (fetch one task for those). */
export type TaskSummary = Omit<TaskView, "args" | "result" | "progress"> & {
  /** A scheduled task of a paused name that came due and waits for resume. */
  paused?: boolean;
  /** Running tasks: when the attempt is given up as lost unless kept alive (ms). */
  visibilityDeadline?: number;
};

export interface ListResult {
  tasks: TaskSummary[];
  nextCursor: string | null;
}

export interface RetryDeadResult {
  retried: boolean;
  task: TaskView | null;
}

export interface PauseState {
  name: string;
  paused: true;
  pausedAt: number;
}

export interface ResumeResult {
  name: string;
  paused: false;
  wasPaused: boolean;
  requeued: number;
}

export const LISTABLE_STATES = ["scheduled", "running", "dead"] as const satisfies readonly ListableState[];
export const MAX_LIST_LIMIT = 500;
/** Index entries one list call may examine per shard (bounds the Lua call when filtering by name). */
const LIST_BUDGET = 5000;

function checkName(name: string): void {
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw invalid("name", `expected a non-empty string of at most ${MAX_NAME_LENGTH} characters`);
  }
}

function summaryOf(entry: ListEntry, shard: number, state: ListableState): TaskSummary {
  let view: TaskView;
  if (state === "dead") {
    view = viewOfFinal(entry.id, shard, decodeFinal(entry.record));
  } else {
    view = viewOfRecord(entry.id, shard, state, decodeRecord(entry.record), entry.lastError, null);
  }
  const { args: _args, result: _result, progress: _progress, ...summary } = view;
  const out: TaskSummary = summary;
  // Parked: its due score was pushed past PARK_OFFSET while its record keeps the real due time.
  if (state === "scheduled" && Number(entry.score) >= PARK_OFFSET && summary.dueAt < PARK_OFFSET) out.paused = true;
  if (state === "running") out.visibilityDeadline = Math.floor(Number(entry.score));
  return out;
}

interface CursorBody {
  v: 1;
  st: ListableState;
  n: string | null;
  s: number;
  sc?: string;
  id?: string;
}

function encodeCursor(state: ListableState, name: string | null, shard: number, after: { score: string; id: string } | null): string {
  const body: CursorBody = { v: 1, st: state, n: name, s: shard };
  if (after) {
    body.sc = after.score;
    body.id = after.id;
  }
  return Buffer.from(JSON.stringify(body)).toString("base64url");
}

function decodeCursor(
  cursor: string,
  state: ListableState,
  name: string | null,
  shards: ShardMap,
): { shard: number; after: { score: string; id: string } | null } {
  let body: CursorBody;
  try {
    body = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as CursorBody;
  } catch {
    throw invalid("cursor", "expected the nextCursor of a previous page");
  }
  if (typeof body !== "object" || body === null || body.v !== 1 || !Number.isInteger(body.s) || body.s < 0 || body.s >= shards.count) {
    throw invalid("cursor", "expected the nextCursor of a previous page");
  }
  if (body.st !== state || (body.n ?? null) !== name) {
    throw invalid("cursor", "this cursor belongs to a listing with another state or name");
  }
  if (body.sc === undefined) return { shard: body.s, after: null };
  const score = /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i;
  const cold = new RegExp(`^${COLD_CURSOR}\\d+$`);
  if (typeof body.sc !== "string" || !(score.test(body.sc) || cold.test(body.sc)) || typeof body.id !== "string") {
    throw invalid("cursor", "expected the nextCursor of a previous page");
  }
  return { shard: body.s, after: { score: body.sc, id: body.id } };
}

/** Lowest score that goes to the cold tier for a task scheduled at nowMs; null: no cold tier (0). */
function coldFrom(nowMs: number, coldAfterMs: number): number | null {
  return coldAfterMs > 0 ? nowMs + coldAfterMs : null;
}
/** Requests resolved and sent per round in scheduleMany: ~1 ms of client work, so Redis starts early. */
const SCHEDULE_SLICE = 1_000;

/**
 * Lets the connection write the slice just queued before the next one is
 * prepared: ioredis flushes its write buffer from the event loop, so without
 * this Redis would sit idle until the whole bulk call was encoded.
 */
function yieldToSocket(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class Client {
  private readonly options: ClientOptions;
  private readonly store: Store;
  private readonly ownsStore: boolean;
  private readonly defaults: TaskDefaults;
  private readonly outboundPolicy: OutboundPolicy;
  private config: Promise<{ shards: ShardMap; lookaheadMs: number; coldAfterMs: number }> | null = null;

  constructor(options: ClientOptions = {}) {
    this.options = options;
    this.defaults = { ...DEFAULT_TASK_DEFAULTS, ...(options.defaults ?? {}) };
    this.outboundPolicy = options.webhookPolicy ?? parseOutboundPolicy({ allow: process.env.TICKWHEEL_WEBHOOK_ALLOW, deny: process.env.TICKWHEEL_WEBHOOK_DENY });
    if (options.store) {
      this.store = options.store;
      this.ownsStore = false;
    } else {
      const target = options.clusterNodes?.length
        ? { clusterNodes: options.clusterNodes }
        : { redisUrl: options.redisUrl ?? process.env.REDIS_URL ?? "redis://127.0.0.1:6379" };
      this.store = new Store({ ...target, prefix: options.prefix ?? DEFAULT_PREFIX, name: "tickwheel-client" });
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
   * and does not stop the others. Requests are resolved and sent in slices of
   * SCHEDULE_SLICE, so Redis stores one slice while the next is prepared.
   */
  async scheduleMany(requests: ScheduleRequest[], { requireTime = true } = {}): Promise<(ScheduleResult | TickwheelError)[]> {
    const { shards, lookaheadMs, coldAfterMs } = await this.clusterConfig();
    const nowMs = Date.now();
    const horizon = nowMs + lookaheadMs;
    const results: (ScheduleResult | TickwheelError)[] = new Array(requests.length);
    const calls: Promise<void>[] = [];
    for (let start = 0; start < requests.length; start += SCHEDULE_SLICE) {
      if (start > 0) await yieldToSocket();
      // A resolved task is a store ScheduleItem as it is: no copy per task.
      const byShard = new Map<number, { indices: number[]; tasks: ResolvedTask[] }>();
      const end = Math.min(requests.length, start + SCHEDULE_SLICE);
      for (let index = start; index < end; index++) {
        try {
          const resolved = this.resolve(requests[index]!, nowMs, shards, requireTime);
          let group = byShard.get(resolved.shard);
          if (!group) byShard.set(resolved.shard, (group = { indices: [], tasks: [] }));
          group.indices.push(index);
          group.tasks.push(resolved);
        } catch (error) {
          if (error instanceof TickwheelError) results[index] = error;
          else throw error;
        }
      }
      for (const [shard, { indices, tasks }] of byShard) {
        calls.push(
          this.store.tasks.schedule(shard, tasks, horizon, coldFrom(nowMs, coldAfterMs)).then((outcomes) => {
            for (let i = 0; i < tasks.length; i++) {
              const task = tasks[i]!;
              const outcome = outcomes[i]!;
              if (outcome.kind === "created") results[indices[i]!] = { id: task.id, created: true, dueAt: task.dueMs, shard };
              else if (outcome.kind === "pending") results[indices[i]!] = { id: task.id, created: false, dueAt: decodeRecord(outcome.record).dueMs, shard };
              else results[indices[i]!] = { id: task.id, created: false, dueAt: decodeFinal(outcome.finalJson).dueAt, shard };
            }
          }),
        );
      }
    }
    await Promise.all(calls);
    return results;
  }

  async get(id: string): Promise<TaskView | null> {
    const shard = await this.shardOf(id);
    const outcome = await this.store.tasks.inspect(shard, id);
    if (outcome.kind === "missing") return null;
    if (outcome.kind === "final") return viewOfFinal(id, shard, decodeFinal(outcome.finalJson));
    return viewOfRecord(id, shard, outcome.kind, decodeRecord(outcome.record), outcome.lastError, outcome.progressJson);
  }

  /** Cancels a task that has not been claimed; otherwise reports its state. */
  async cancel(id: string): Promise<CancelResult> {
    const shard = await this.shardOf(id);
    const outcome = await this.store.tasks.cancel(shard, id, Date.now(), this.options.retentionMs ?? DEFAULT_RETENTION_MS);
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
    const { lookaheadMs, coldAfterMs } = await this.clusterConfig();
    const nowMs = Date.now();
    const outcome = await this.store.tasks.reschedule(shard, id, Math.floor(dueMs), nowMs + lookaheadMs, coldFrom(nowMs, coldAfterMs));
    if (outcome.kind === "rescheduled") {
      return { rescheduled: true, task: viewOfRecord(id, shard, "scheduled", decodeRecord(outcome.record), null, null) };
    }
    return { rescheduled: false, task: await this.get(id) };
  }

  /**
   * Lists tasks in one state (optionally of one name), a page at a time.
   * Pages go shard by shard, each in index order (scheduled by due time,
   * dead by time of death, running in claim order: batches by visibility
   * deadline, each in the order claimed); pass `nextCursor` back for the
   * next page.
   * A page can hold fewer than `limit` tasks (even none) and still have a
   * cursor: each call examines a bounded number of entries, so filtering a
   * rare name never turns into one long Redis call.
   */
  async list(options: ListOptions): Promise<ListResult> {
    const { shards } = await this.clusterConfig();
    const limit = options.limit ?? DEFAULT_LIST_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) throw invalid("limit", `expected an integer from 1 to ${MAX_LIST_LIMIT}`);
    const name = options.name ?? null;
    let position = { shard: 0, after: null as { score: string; id: string } | null };
    if (options.cursor) position = decodeCursor(options.cursor, options.state, name, shards);
    const tasks: TaskSummary[] = [];
    // Records can hold 1 MiB of args each: bound what one request reads across shards too.
    let bytesLeft = LIST_MAX_BYTES;
    for (let shard = position.shard, after = position.after; shard < shards.count; shard++, after = null) {
      const page = await this.store.listings.listPage(shards, shard, options.state, after, limit - tasks.length, LIST_BUDGET, name, bytesLeft);
      for (const entry of page.entries) {
        tasks.push(summaryOf(entry, shard, options.state));
        bytesLeft -= entry.record.length;
      }
      if (page.next) {
        // Page full, or the scan budget ran out inside this shard: go on from right here.
        return { tasks, nextCursor: encodeCursor(options.state, name, shard, page.next) };
      }
      if (tasks.length >= limit || (bytesLeft <= 0 && shard + 1 < shards.count)) {
        return { tasks, nextCursor: shard + 1 < shards.count ? encodeCursor(options.state, name, shard + 1, null) : null };
      }
    }
    return { tasks, nextCursor: null };
  }

  /** Gives a dead task a fresh set of attempts, due now; otherwise reports its state. */
  async retryDead(id: string): Promise<RetryDeadResult> {
    const shard = await this.shardOf(id);
    const { lookaheadMs } = await this.clusterConfig();
    // A concurrent change of the final record (another retry) makes the script answer "changed": read again.
    for (let round = 0; round < 3; round++) {
      const outcome = await this.store.tasks.inspect(shard, id);
      if (outcome.kind === "missing") return { retried: false, task: null };
      if (outcome.kind !== "final") return { retried: false, task: await this.get(id) };
      const final = decodeFinal(outcome.finalJson);
      if (final.state !== "dead") return { retried: false, task: viewOfFinal(id, shard, final) };
      const nowMs = Date.now();
      const specJson = encodeSpec(final.spec);
      const score = dueScore(nowMs, final.spec.priority);
      const record = encodeRecord(0, score, specJson);
      const lastError = final.lastError ?? "dead";
      const result = await this.store.tasks.retryDead(shard, id, outcome.finalJson, record, score, lastError, nowMs + lookaheadMs);
      if (result === "retried") {
        return { retried: true, task: viewOfRecord(id, shard, "scheduled", decodeRecord(record), lastError, null) };
      }
      if (result === "missing") return { retried: false, task: null };
      if (result === "pending") return { retried: false, task: await this.get(id) };
    }
    return { retried: false, task: await this.get(id) };
  }

  /**
   * Pauses dispatch of a task name on every node: due tasks of that name are
   * not started (they stay stored, keeping their due time) until resume.
   * Nodes pick a pause up within about a second.
   */
  async pause(name: string): Promise<PauseState> {
    checkName(name);
    const { shards } = await this.clusterConfig();
    const pausedAt = await this.store.pauses.pauseName(name, shards, Date.now());
    return { name, paused: true, pausedAt };
  }

  /** Resumes a paused task name; its parked tasks go back to `due` and run. */
  async resume(name: string): Promise<ResumeResult> {
    checkName(name);
    const { shards } = await this.clusterConfig();
    const { wasPaused, requeued } = await this.store.pauses.resumeName(name, shards);
    return { name, paused: false, wasPaused, requeued };
  }

  /** Every paused task name with the ms it was paused. */
  async paused(): Promise<PauseState[]> {
    const names = await this.store.pauses.pausedNames();
    return [...names].map(([name, pausedAt]) => ({ name, paused: true as const, pausedAt })).sort((a, b) => a.name.localeCompare(b.name));
  }

  async shardOf(id: string): Promise<number> {
    const { shards } = await this.clusterConfig();
    return shards.shardOf(id);
  }

  async close(): Promise<void> {
    if (this.ownsStore) await this.store.quit();
  }

  private resolve(request: ScheduleRequest, nowMs: number, shards: ShardMap, requireTime: boolean): ResolvedTask {
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
    const options: ScheduleOptions = handle ? { ...handle.options, ...request.options } : request.options;
    return resolveTask(name, args, options, { nowMs, shards, defaults: this.defaults, requireTime, outboundPolicy: this.outboundPolicy });
  }

  /**
   * The cluster config, read once (and again after a failure). Refuses, like
   * a node, data in a format this build does not know (ClusterConfigError).
   */
  private clusterConfig(): Promise<{ shards: ShardMap; lookaheadMs: number; coldAfterMs: number }> {
    if (!this.config) {
      this.config = this.store.config.ensure({ fallbackShards: this.options.shards ?? DEFAULT_SHARDS }).then((config) => ({
        shards: config.shards,
        lookaheadMs: config.lookaheadMs ?? DEFAULT_LOOKAHEAD_MS,
        coldAfterMs: config.coldAfterMs ?? DEFAULT_COLD_AFTER_MS,
      }));
      this.config.catch(() => {
        this.config = null;
      });
    }
    return this.config;
  }
}
