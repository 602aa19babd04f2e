/**
 * The producer's client: schedules, reads, cancels and reschedules tasks by
 * talking to Redis with the same scripts the nodes use. No node needs to be
 * up to schedule a task.
 *
 *   const client = new Client({ redisUrl: "redis://127.0.0.1:6379" });
 *   await client.schedule(sendEmail, { to: "a@b.c" }, { delay: "7d" });
 */
import { ScheduleClient } from "./schedules.ts";
import { listTasks, type ListOptions, type ListResult } from "./listing.ts";
import type { z } from "zod";
import { Store } from "../store/store.ts";
import type { InspectOutcome, ScheduleOutcome } from "../store/outcomes.ts";
import { StaleShardMapError } from "../store/task-writes.ts";
import type { ShardMap } from "../core/shard-map.ts";
import type { FailedAttempt } from "../store/attempt-history.ts";
import { keySlot, SLOT_COUNT } from "../core/slot.ts";
import { parseDuration, parseInstant } from "../core/duration.ts";
import { decodeFinal, decodeRecord, encodeRecord, encodeSpec, viewOfFinal, viewOfRecord } from "../task/codec.ts";
import { invalid, TickwheelError } from "../task/errors.ts";
import { asRedisRefusal, RedisRefusal } from "../store/redis-errors.ts";
import { RedisClock } from "../core/redis-clock.ts";
import { findTask, type TaskHandle } from "../task/define-task.ts";
import { checkTimeRange, DEFAULT_TASK_DEFAULTS, resolveTask, type ResolvedTask, type ScheduleOptions, type TaskDefaults } from "../task/schedule-input.ts";
import { dueScore, type TaskView } from "../task/model.ts";
import { DEFAULT_COLD_AFTER_MS, DEFAULT_LOOKAHEAD_MS, DEFAULT_PREFIX, DEFAULT_RETENTION_MS, DEFAULT_SHARDS, MAX_NAME_LENGTH } from "../config/defaults.ts";
import { parseOutboundPolicy, type OutboundPolicy } from "../core/outbound-policy.ts";

export { LISTABLE_STATES, MAX_LIST_LIMIT, type ListOptions, type ListResult, type TaskSummary } from "./listing.ts";

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
   * The clock a `delay` counts from (ms since epoch). A node passes its
   * estimate of Redis' clock; without it the client estimates Redis' clock
   * itself from a TIME reading per minute (see redisNow), and uses its own
   * machine's clock only while Redis refuses TIME.
   */
  now?: () => number;
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

function checkName(name: string): void {
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw invalid("name", `expected a non-empty string of at most ${MAX_NAME_LENGTH} characters`);
  }
}

/** Lowest score that goes to the cold tier for a task scheduled at nowMs; null: no cold tier (0). */
function coldFrom(nowMs: number, coldAfterMs: number): number | null {
  return coldAfterMs > 0 ? nowMs + coldAfterMs : null;
}
/**
 * Tasks per store.schedule call in scheduleMany: the store's SCHEDULE_CHUNK,
 * so that each call is one script call, stored whole or not at all.
 */
const SCHEDULE_CALL_MAX = 500;
/** A standalone client reads Redis' TIME again after this long (ms). */
const CLOCK_RESAMPLE_MS = 60_000;
/** How long a shard map is used before it is read again in the background (a resize changes it). */
const SHARD_MAP_MAX_AGE_MS = 1_000;
/** Times one schedule call is rerouted after a shard refused a stale map (a second resize would need a second). */
const MAX_REROUTES = 3;
/** How long cancel or reschedule wait for a task in transit between shards. */
const IN_TRANSIT_WAIT_MS = 5_000;

export interface ResizeStatus {
  /** preparing: the new shards get owners; resizing: slots move; stable: no resize runs. */
  state: "stable" | "preparing" | "resizing";
  /** Shard count of the stable map (the source count while resizing). */
  count: number;
  resizingTo: number | null;
  previousCount: number | null;
  epoch: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Hash slots that change shard in the running resize, and how many have moved. */
  slotsTotal: number;
  slotsMoved: number;
  tasksMoved: number;
  /** Per source shard: its phase (waiting, cold, tasks, dead, done), slots and tasks moved. */
  shards: { shard: number; phase: string; slotsToMove: number; slotsMoved: number; tasksMoved: number }[];
}

function viewOfOutcome(id: string, shard: number, outcome: Exclude<InspectOutcome, { kind: "missing" }>): TaskView {
  if (outcome.kind === "final") return viewOfFinal(id, shard, decodeFinal(outcome.finalJson));
  return viewOfRecord(id, shard, outcome.kind, decodeRecord(outcome.record), outcome.lastError, outcome.progressJson);
}

/** A task taken out of its old shard and not landed in its new one yet: it is what it was. */
function viewOfTransit(id: string, shard: number, transit: { kind: "task" | "cold" | "dead"; value: string }): TaskView {
  if (transit.kind === "dead") return viewOfFinal(id, shard, decodeFinal(transit.value));
  if (transit.kind === "task") return viewOfRecord(id, shard, "scheduled", decodeRecord(transit.value), null, null);
  // A cold entry "<id>\t<score>\t<spec>" as the record of a pending task (lib/cold.lua cold_record).
  const [, score, spec] = transit.value.split("\t");
  return viewOfRecord(id, shard, "scheduled", decodeRecord(`0:${score}\n${spec}`), null, null);
}

function existingResult(id: string, shard: number, found: Exclude<InspectOutcome, { kind: "missing" }>): ScheduleResult {
  const dueAt = found.kind === "final" ? decodeFinal(found.finalJson).dueAt : decodeRecord(found.record).dueMs;
  return { id, created: false, dueAt, shard };
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
  /** Redis' clock, estimated from TIME readings (standalone clients only: a node's client uses the node's). */
  private readonly clock = new RedisClock({ keepMs: CLOCK_RESAMPLE_MS });
  private clockSampledAt = 0;
  private readonly outboundPolicy: OutboundPolicy;
  private config: Promise<{ shards: ShardMap; lookaheadMs: number; coldAfterMs: number }> | null = null;
  private mapReadAtMs = 0;
  private mapRead: Promise<ShardMap> | null = null;

  /** Recurring schedules: put, get, list, pause, resume, delete (docs/schedules.md). */
  readonly schedules: ScheduleClient;

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
    this.schedules = new ScheduleClient({
      store: this.store.schedules,
      shards: async () => (await this.clusterConfig()).shards,
      reloadShards: () => this.refreshShardMap(true),
      inTransit: (shard, name) => this.store.reshard.scheduleInTransit(shard, name),
      getTask: (id) => this.get(id),
      defaults: this.defaults,
      outboundPolicy: this.outboundPolicy,
    });
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
   * and does not stop the others. Items Redis refused (out of memory,
   * read-only, unreachable…) yield a RedisRefusal (a TickwheelError with the
   * refusal's code) and were not stored; every other item was. Requests are resolved and sent in slices of
   * SCHEDULE_SLICE, so Redis stores one slice while the next is prepared.
   */
  async scheduleMany(requests: ScheduleRequest[], { requireTime = true } = {}): Promise<(ScheduleResult | TickwheelError)[]> {
    const { shards, lookaheadMs, coldAfterMs } = await this.clusterConfig();
    const nowMs = await this.redisNow();
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
      for (const [shard, group] of byShard) {
        // One store call per script call (at most SCHEDULE_CALL_MAX tasks): a script is all or
        // nothing, so when Redis refuses one (out of memory, read-only) exactly its tasks get the
        // refusal in their place and every other item's result says it was stored.
        for (let from = 0; from < group.tasks.length; from += SCHEDULE_CALL_MAX) {
          const tasks = from === 0 && group.tasks.length <= SCHEDULE_CALL_MAX ? group.tasks : group.tasks.slice(from, from + SCHEDULE_CALL_MAX);
          const indices = from === 0 && group.indices.length <= SCHEDULE_CALL_MAX ? group.indices : group.indices.slice(from, from + SCHEDULE_CALL_MAX);
          calls.push(
            this.scheduleOnShard(shard, tasks, indices, results, horizon, coldFrom(nowMs, coldAfterMs), shards, 0).catch((error: unknown) => {
              const refusal = asRedisRefusal(error);
              // Unreachable: the script may have run before the connection dropped, so
              // nothing exact can be said per item; the whole call fails (retrying is safe
              // with ids: an id that was stored answers created: false).
              if (!(refusal instanceof RedisRefusal) || refusal.kind === "connection") throw refusal;
              for (let i = 0; i < tasks.length; i++) if (results[indices[i]!] === undefined) results[indices[i]!] = refusal;
            }),
          );
        }
      }
    }
    await Promise.all(calls);
    return results;
  }

  /**
   * Writes one shard's tasks. A shard that refuses the write because a
   * resize moved on (StaleShardMapError) gets nothing: the refused tasks are
   * routed again by the reloaded map. While a resize runs, a task with a
   * caller-given id whose slot is moving is first looked up in its old
   * shard, so the id stays an idempotency key across the move.
   */
  private async scheduleOnShard(
    shard: number,
    tasks: ResolvedTask[],
    indices: number[],
    results: (ScheduleResult | TickwheelError)[],
    horizon: number,
    coldFromScore: number | null,
    shards: ShardMap,
    round: number,
  ): Promise<void> {
    if (shards.resizing) {
      const keep: number[] = [];
      await Promise.all(
        tasks.map(async (task, i) => {
          const source = task.fresh ? null : shards.sourceOfSlot(task.slot);
          const found = source === null ? null : await this.store.tasks.inspect(source, task.id);
          if (found && found.kind !== "missing") results[indices[i]!] = existingResult(task.id, source!, found);
          else keep.push(i);
        }),
      );
      if (keep.length < tasks.length) {
        keep.sort((a, b) => a - b);
        tasks = keep.map((i) => tasks[i]!);
        indices = keep.map((i) => indices[i]!);
        if (tasks.length === 0) return;
      }
    }
    let outcomes: ScheduleOutcome[];
    let refused: number[] = [];
    try {
      outcomes = await this.store.tasks.schedule(shard, tasks, horizon, coldFromScore, shards.epoch);
    } catch (error) {
      if (!(error instanceof StaleShardMapError) || round >= MAX_REROUTES) throw error;
      outcomes = error.outcomes;
      refused = error.refused;
    }
    const skip = new Set(refused);
    for (let i = 0; i < tasks.length; i++) {
      if (skip.has(i)) continue;
      const task = tasks[i]!;
      const outcome = outcomes[i]!;
      if (outcome.kind === "created") results[indices[i]!] = { id: task.id, created: true, dueAt: task.dueMs, shard };
      else if (outcome.kind === "pending") results[indices[i]!] = { id: task.id, created: false, dueAt: decodeRecord(outcome.record).dueMs, shard };
      else results[indices[i]!] = { id: task.id, created: false, dueAt: decodeFinal(outcome.finalJson).dueAt, shard };
    }
    if (refused.length === 0) return;
    const map = await this.refreshShardMap(true);
    const byShard = new Map<number, { tasks: ResolvedTask[]; indices: number[] }>();
    for (const i of refused) {
      const task = tasks[i]!;
      const home = map.shardOfSlot(task.slot);
      let group = byShard.get(home);
      if (!group) byShard.set(home, (group = { tasks: [], indices: [] }));
      // The record is the same whatever the shard; only where it goes changes.
      group.tasks.push({ ...task, shard: home });
      group.indices.push(indices[i]!);
    }
    await Promise.all([...byShard].map(([home, group]) => this.scheduleOnShard(home, group.tasks, group.indices, results, horizon, coldFromScore, map, round + 1)));
  }

  async get(id: string): Promise<TaskView | null> {
    const found = await this.locate(id);
    return found?.view ?? null;
  }

  /**
   * Where a task is and what it looks like. Asks its home shard, then (while
   * its slot moves, or after a resize, for final records left behind) the
   * other shard of the map, as a Redis Cluster client follows ASK. A task
   * moves source -> source's outbox -> home, each step atomic, so asking
   * home, the source, the source's outbox and home again cannot miss it.
   * Missing everywhere: the map is read again, and if a resize started or
   * ended meanwhile, asked again by the new one.
   */
  private async locate(id: string): Promise<{ shard: number; view: TaskView; inTransit: boolean } | null> {
    for (let round = 0; round < 2; round++) {
      const { shards } = await this.clusterConfig();
      const lookups = shards.lookups(id);
      for (const shard of lookups) {
        const outcome = await this.store.tasks.inspect(shard, id);
        if (outcome.kind !== "missing") return { shard, view: viewOfOutcome(id, shard, outcome), inTransit: false };
      }
      const source = shards.sourceOfSlot(keySlot(id));
      if (source !== null) {
        const home = lookups[0]!;
        const transit = await this.store.reshard.inTransit(source, id);
        if (transit) return { shard: home, view: viewOfTransit(id, home, transit), inTransit: true };
        const outcome = await this.store.tasks.inspect(home, id);
        if (outcome.kind !== "missing") return { shard: home, view: viewOfOutcome(id, home, outcome), inTransit: false };
      }
      const fresh = await this.refreshShardMap(true);
      if (fresh.epoch === shards.epoch) break;
    }
    return null;
  }

  /**
   * Runs a write by id (cancel, reschedule) on the shard that has the task:
   * home first, then the other shard of the map. A task in transit between
   * two shards (a few ms; longer only if its mover died, until its shard's
   * lease moves) is waited for, up to IN_TRANSIT_WAIT_MS.
   */
  private async writeById<T extends { kind: string }>(id: string, write: (shard: number) => Promise<T>): Promise<{ shard: number; outcome: T } | null> {
    const deadline = Date.now() + IN_TRANSIT_WAIT_MS;
    for (let round = 0; ; round++) {
      const { shards } = await this.clusterConfig();
      for (const shard of shards.lookups(id)) {
        const outcome = await write(shard);
        if (outcome.kind !== "missing") return { shard, outcome };
      }
      // Found by a read but by no write: in transit (wait for it to land), or it landed between the
      // two (the next round writes it). Not found at all: it does not exist.
      const located = await this.locate(id);
      if (!located || (!located.inTransit && round >= 2) || Date.now() > deadline) return null;
      await Bun.sleep(Math.min(50, 5 * (round + 1)));
    }
  }

  /** Cancels a task that has not been claimed; otherwise reports its state. */
  async cancel(id: string): Promise<CancelResult> {
    const retentionMs = this.options.retentionMs ?? DEFAULT_RETENTION_MS;
    const found = await this.writeById(id, (shard) => this.store.tasks.cancel(shard, id, Date.now(), retentionMs));
    if (found?.outcome.kind === "cancelled") return { cancelled: true, task: viewOfFinal(id, found.shard, decodeFinal(found.outcome.finalJson)) };
    return { cancelled: false, task: await this.get(id) };
  }

  /** Moves a task that has not been claimed to a new due time; otherwise reports its state. */
  async reschedule(id: string, when: { runAt?: Date | number | string; delay?: number | string }): Promise<RescheduleResult> {
    const hasRunAt = when.runAt !== undefined;
    const hasDelay = when.delay !== undefined;
    if (hasRunAt === hasDelay) throw invalid("runAt", "give exactly one of runAt or delay");
    let dueMs: number;
    try {
      dueMs = hasRunAt ? parseInstant(when.runAt!) : (await this.redisNow()) + parseDuration(when.delay!);
    } catch (error) {
      throw invalid(hasRunAt ? "runAt" : "delay", (error as Error).message);
    }
    checkTimeRange(hasRunAt ? "runAt" : "delay", dueMs);
    const { lookaheadMs, coldAfterMs } = await this.clusterConfig();
    const found = await this.writeById(id, (shard) => {
      const nowMs = Date.now();
      return this.store.tasks.reschedule(shard, id, Math.floor(dueMs), nowMs + lookaheadMs, coldFrom(nowMs, coldAfterMs));
    });
    if (found?.outcome.kind === "rescheduled") {
      return { rescheduled: true, task: viewOfRecord(id, found.shard, "scheduled", decodeRecord(found.outcome.record), null, null) };
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
    return listTasks(this.store.listings, shards, options);
  }

  /** Gives a dead task a fresh set of attempts, due now; otherwise reports its state. */
  async retryDead(id: string): Promise<RetryDeadResult> {
    const { lookaheadMs, shards } = await this.clusterConfig();
    const shard = shards.shardOf(id);
    const source = shards.sourceOfSlot(keySlot(id));
    if (source !== null && (await this.store.tasks.inspect(source, id)).kind !== "missing") {
      // Requeued in the old shard after its last pass, it would be left behind: the move takes it first.
      throw new TickwheelError("conflict", "this task's slot is moving to another shard (a resize is running); retry in a moment", "id");
    }
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

  /** Makes a task that has not started due now (the console's "run now"); otherwise reports its state. */
  runNow(id: string): Promise<RescheduleResult> {
    return this.reschedule(id, { runAt: Date.now() });
  }

  /** The failed attempts kept for a task (the last few), oldest first; see store/attempt-history.ts. */
  async failedAttempts(id: string): Promise<FailedAttempt[]> {
    return this.store.history.failedAttempts(await this.shardOf(id), id);
  }

  /** Saves a bulk job's progress (JSON) for ttlMs; any node can read it back (console/bulk-jobs.ts). */
  saveBulkJob(jobId: string, json: string, ttlMs: number): Promise<void> {
    return this.store.bulkJobs.save(jobId, json, ttlMs);
  }

  loadBulkJob(jobId: string): Promise<string | null> {
    return this.store.bulkJobs.load(jobId);
  }

  /** The shard a task id is written to (its new shard while a resize runs). */
  async shardOf(id: string): Promise<number> {
    const { shards } = await this.clusterConfig();
    return shards.shardOf(id);
  }

  /** The shard map as this client last read it (read at most SHARD_MAP_MAX_AGE_MS ago, or reloaded on a refusal). */
  async shardMap(): Promise<ShardMap> {
    return (await this.clusterConfig()).shards;
  }

  /**
   * Starts changing the shard count online (docs/resharding.md). One resize
   * at a time: while one runs, another is refused (conflict, HTTP 409).
   * Paused names are paused on the new shards too, so a parked task that
   * moves stays parked.
   */
  async resize(count: number): Promise<ResizeStatus> {
    if (!Number.isInteger(count) || count < 1 || count > SLOT_COUNT) throw invalid("count", `expected an integer from 1 to ${SLOT_COUNT}`);
    // Recurring schedules move with their slot like tasks (the mover's schedules phase).
    await this.clusterConfig();
    const started = await this.store.config.startResize(count, Date.now());
    if (started.kind === "busy") throw new TickwheelError("conflict", `a resize to ${started.resizingTo} shards is running; wait for it to finish`, "count");
    if (started.kind === "same") throw invalid("count", `the cluster has ${started.count} shards already`);
    const map = await this.refreshShardMap(true);
    const paused = await this.store.pauses.pausedNames();
    for (const name of paused.keys()) await this.store.pauses.pauseName(name, map, Date.now());
    return this.resizeStatus();
  }

  /** The running (or last) resize: slots and tasks moved, per source shard. */
  async resizeStatus(): Promise<ResizeStatus> {
    await this.clusterConfig();
    const map = await this.refreshShardMap(true);
    const times = await this.store.config.resizeTimes();
    const progress = map.resizingTo !== null ? await this.store.reshard.progress(map) : [];
    const shards = progress.map((p) => {
      const slotsToMove = map.movingSlotsOf(p.shard).length;
      return { shard: p.shard, phase: p.phase ?? "waiting", slotsToMove, slotsMoved: p.phase === "done" ? slotsToMove : 0, tasksMoved: p.moved };
    });
    return {
      state: map.preparing ? "preparing" : map.resizing ? "resizing" : "stable",
      count: map.count,
      resizingTo: map.resizingTo,
      previousCount: map.previousCount,
      epoch: map.epoch,
      startedAt: times.startedAt,
      finishedAt: map.resizingTo !== null ? null : times.finishedAt,
      slotsTotal: shards.reduce((sum, s) => sum + s.slotsToMove, 0),
      slotsMoved: shards.reduce((sum, s) => sum + s.slotsMoved, 0),
      tasksMoved: shards.reduce((sum, s) => sum + s.tasksMoved, 0),
      shards,
    };
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
   * Now by Redis' clock, the one due times are kept in: the node's estimate
   * when the client is a node's; else this client's own, from TIME (the
   * reading lies within half its round trip: the earliest it can be is used,
   * so a delay is never shortened by the estimate).
   */
  private async redisNow(): Promise<number> {
    if (this.options.now) return this.options.now();
    const clock = this.clock;
    // One TIME round trip when the estimate is missing or older than a minute (clocks drift).
    if (!clock.synced || performance.now() - this.clockSampledAt > CLOCK_RESAMPLE_MS) {
      const sentMono = performance.now();
      try {
        const redisMs = await this.store.time.nowMs();
        const receivedMono = performance.now();
        clock.sample(sentMono, receivedMono, redisMs);
        this.clockSampledAt = receivedMono;
      } catch {
        // TIME refused or Redis unreachable: the machine's clock until the next try (the write
        // that follows reports an unreachable Redis anyway).
        this.clockSampledAt = performance.now();
      }
    }
    return clock.now();
  }

  /**
   * Reads the shard map again (at once with force, else only if the last
   * read is older than SHARD_MAP_MAX_AGE_MS), keeps it if it is newer, and
   * answers the map now in use. Concurrent calls share one read.
   */
  private refreshShardMap(force: boolean): Promise<ShardMap> {
    if (!force && Date.now() - this.mapReadAtMs < SHARD_MAP_MAX_AGE_MS && this.config) return this.config.then((c) => c.shards);
    if (this.mapRead) return this.mapRead;
    this.mapReadAtMs = Date.now();
    const read = (async () => {
      const current = await this.clusterConfig();
      const map = await this.store.config.shardMap();
      if (map.epoch > current.shards.epoch) this.config = Promise.resolve({ ...current, shards: map });
      return map.epoch > current.shards.epoch ? map : current.shards;
    })();
    this.mapRead = read;
    void read.finally(() => {
      if (this.mapRead === read) this.mapRead = null;
    }).catch(() => {});
    return read;
  }

  /**
   * The cluster config, read once (and again after a failure); the shard
   * map in it is read again in the background once it is older than
   * SHARD_MAP_MAX_AGE_MS (a write routed by a stale map is refused and
   * rerouted, so staleness costs a round trip, never a task). Refuses, like
   * a node, data in a format this build does not know (ClusterConfigError).
   */
  private clusterConfig(): Promise<{ shards: ShardMap; lookaheadMs: number; coldAfterMs: number }> {
    if (this.config && Date.now() - this.mapReadAtMs >= SHARD_MAP_MAX_AGE_MS && !this.mapRead) {
      void this.refreshShardMap(false).catch(() => {});
    }
    if (!this.config) {
      this.mapReadAtMs = Date.now();
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
