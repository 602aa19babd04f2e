/**
 * Task writes: what a producer (the client, the HTTP API) does to one task
 * by id: schedule, cancel, reschedule, inspect, set progress, and retry a
 * dead task. Retrying a dead task sits here, not with the listings: it
 * writes (requeues the task and sends a wake hint, like schedule), and the
 * listings part only reads.
 */
import type { KeyBook } from "./keys.ts";
import type { ScriptRunner } from "./script-runner.ts";
import { keySlot } from "../core/slot.ts";
import { ScheduleBatcher } from "./schedule-batcher.ts";
import { FIRST_SHARD_MAP_EPOCH } from "../core/shard-map.ts";
import {
  existing,
  runningRecord,
  type CancelOutcome,
  type InspectOutcome,
  type RescheduleOutcome,
  type ScheduleItem,
  type ScheduleOutcome,
} from "./outcomes.ts";

/**
 * A shard refused a schedule routed by an older shard map than the one a
 * resize gave it (its mapepoch fence): reload the map and route the
 * refused items again. Only they: other chunks of the call may have been
 * written before the fence went up (their outcomes are given), and writing
 * fresh ids twice would make two tasks.
 */
export class StaleShardMapError extends Error {
  readonly code = "stale_shard_map";
  /** Positions (in the call's items) of the items written nowhere. */
  readonly refused: number[];
  /** Outcomes of the call; those at refused positions mean nothing. */
  readonly outcomes: ScheduleOutcome[];

  constructor(shard: number, epoch: number, fence: number, refused: number[], outcomes: ScheduleOutcome[]) {
    super(`shard ${shard} needs shard map epoch ${fence} or later, the write used ${epoch}`);
    this.name = "StaleShardMapError";
    this.refused = refused;
    this.outcomes = outcomes;
  }
}

/**
 * Items per schedule script call, one shard's or several shards' joined (schedule-batcher.ts): big
 * enough to amortise the round trip, small enough to keep Redis responsive.
 */
const SCHEDULE_CHUNK = 500;

export interface TaskWrites {
  schedule(shard: number, items: ScheduleItem[], wakeHorizonScore: number, coldFromScore?: number | null, mapEpoch?: number): Promise<ScheduleOutcome[]>;
  cancel(shard: number, id: string, nowMs: number, retentionMs: number): Promise<CancelOutcome>;
  reschedule(shard: number, id: string, dueMs: number, wakeHorizonScore: number, coldFromScore?: number | null): Promise<RescheduleOutcome>;
  setProgress(shard: number, id: string, progressJson: string): Promise<boolean>;
  inspect(shard: number, id: string): Promise<InspectOutcome>;
  retryDead(
    shard: number,
    id: string,
    expectedFinal: string,
    record: string,
    score: string,
    lastError: string,
    wakeHorizonScore: number,
  ): Promise<"retried" | "changed" | "pending" | "missing">;
}

export class RedisTaskWrites implements TaskWrites {
  private readonly runner: ScriptRunner;
  private readonly keyBook: KeyBook;
  /** Joins the shards' schedule calls of one turn into one (schedule-n.lua); null on a Redis Cluster. */
  private readonly batcher: ScheduleBatcher | null;

  constructor(runner: ScriptRunner, keyBook: KeyBook) {
    this.runner = runner;
    this.keyBook = keyBook;
    this.batcher = runner.clustered
      ? null
      : new ScheduleBatcher(
          {
            one: (keys, argv) => runner.run("schedule", keys, argv),
            many: (keys, argv) => runner.run("scheduleShards", keys, argv),
          },
          SCHEDULE_CHUNK,
        );
  }

  /**
   * Stores new tasks. Those with a score at or above coldFromScore go to the
   * cold tier (lua/lib/cold.lua); null keeps every task in `due`.
   * mapEpoch is the epoch of the shard map the caller routed by: a shard
   * that started moving slots out in a later resize refuses the call with
   * StaleShardMapError (nothing written), and the caller reloads the map.
   */
  async schedule(
    shard: number,
    items: ScheduleItem[],
    wakeHorizonScore: number,
    coldFromScore: number | null = null,
    mapEpoch: number = FIRST_SHARD_MAP_EPOCH,
  ): Promise<ScheduleOutcome[]> {
    const keys = this.keyBook.shard(shard);
    const publish = this.runner.publish;
    const calls: Promise<{ start: number; reply: (number | string)[] }>[] = [];
    for (let start = 0; start < items.length; start += SCHEDULE_CHUNK) {
      // One argument for all the tasks of the call, "\0"-joined (see schedule-4.lua).
      const end = Math.min(items.length, start + SCHEDULE_CHUNK);
      let fresh = true;
      for (let i = start; i < end; i++) if (!items[i]!.fresh) fresh = false;
      const fields: (string | number)[] = [];
      // Fresh far-future tasks need no check: they go as ready-made cold entries grouped by
      // slot, which the script only pushes (schedule-4.lua ARGV[9]).
      const cold = new Map<number, string[]>();
      let coldTasks = 0;
      for (let i = start; i < end; i++) {
        const item = items[i]!;
        const slot = item.slot ?? keySlot(item.id);
        // score >= coldFromScore, an integer ms, is dueMs >= coldFromScore (the fraction is < 1).
        if (fresh && coldFromScore !== null && (item.dueMs ?? Number(item.score)) >= coldFromScore) {
          const spec = item.specJson ?? item.record.slice(item.record.indexOf("\n") + 1);
          const entry = `${item.id}\t${item.score}\t${spec}`;
          const list = cold.get(slot);
          if (list === undefined) cold.set(slot, [entry]);
          else list.push(entry);
          coldTasks++;
        } else {
          fields.push(item.id, slot, item.score, item.record);
        }
      }
      const argv = [
        keys.donePrefix,
        keys.wake,
        publish,
        wakeHorizonScore,
        fields.join("\0"),
        fresh ? "1" : "0",
        coldFromScore ?? "",
        keys.coldPrefix,
        coldGroups(cold),
        coldTasks,
        mapEpoch,
      ];
      const scriptKeys = [keys.due, keys.tasks, keys.coldCount, keys.mapEpoch];
      const sent = this.batcher ? this.batcher.run({ keys: scriptKeys, argv, tasks: end - start }) : this.runner.run("schedule", scriptKeys, argv);
      calls.push(sent.then((reply) => ({ start, reply: reply as (number | string)[] })));
    }
    const replies = await Promise.all(calls);
    let refused: number[] | null = null;
    let fence = 0;
    // The script answers only for tasks it did not create (position in its call, kind, value).
    // Positions count the chunk's items in order: a chunk sends all of them to the script unless
    // every id is fresh, and then nothing comes back.
    const outcomes: ScheduleOutcome[] = new Array(items.length);
    for (let i = 0; i < items.length; i++) outcomes[i] = { kind: "created", score: items[i]!.score };
    replies.forEach(({ start, reply }) => {
      if (reply[0] === 0 && reply[1] === "stale") {
        refused ??= [];
        for (let i = start; i < Math.min(items.length, start + SCHEDULE_CHUNK); i++) refused.push(i);
        fence = Number(reply[2]);
        return;
      }
      for (let i = 0; i < reply.length; i += 3) {
        const index = start + Number(reply[i]) - 1;
        const value = String(reply[i + 2]);
        outcomes[index] = reply[i + 1] === "p" ? { kind: "pending", record: value } : { kind: "final", finalJson: value };
      }
    });
    if (refused) throw new StaleShardMapError(shard, mapEpoch, fence, refused, outcomes);
    return outcomes;
  }

  async cancel(shard: number, id: string, nowMs: number, retentionMs: number): Promise<CancelOutcome> {
    const keys = this.keyBook.shard(shard);
    const reply = (await this.runner.run(
      "cancel",
      [keys.due, keys.tasks, keys.err, keys.progress, keys.coldCount],
      [id, keys.donePrefix, nowMs, retentionMs, keys.coldPrefix + keySlot(id)],
    )) as string[];
    if (reply[0] === "cancelled") return { kind: "cancelled", finalJson: reply[1]! };
    return existing(reply);
  }

  /** Moves a pending task; a cold one stays cold if its new score is at or above coldFromScore. */
  async reschedule(shard: number, id: string, dueMs: number, wakeHorizonScore: number, coldFromScore: number | null = null): Promise<RescheduleOutcome> {
    const keys = this.keyBook.shard(shard);
    const reply = (await this.runner.run(
      "reschedule",
      [keys.due, keys.tasks, keys.coldCount],
      [
        id,
        keys.donePrefix,
        Math.floor(dueMs),
        keys.wake,
        this.runner.publish,
        wakeHorizonScore,
        keys.coldPrefix + keySlot(id),
        coldFromScore ?? "",
      ],
    )) as string[];
    if (reply[0] === "rescheduled") return { kind: "rescheduled", score: reply[1]!, record: reply[2]! };
    return existing(reply);
  }

  async setProgress(shard: number, id: string, progressJson: string): Promise<boolean> {
    const keys = this.keyBook.shard(shard);
    return (await this.runner.run("progress", [keys.tasks, keys.due, keys.progress], [id, progressJson])) === 1;
  }

  async inspect(shard: number, id: string): Promise<InspectOutcome> {
    const keys = this.keyBook.shard(shard);
    const reply = (await this.runner.run(
      "inspect",
      [keys.due, keys.tasks, keys.err, keys.progress],
      [id, keys.donePrefix, keys.coldPrefix + keySlot(id)],
    )) as (string | null)[];
    const kind = reply[0];
    if (kind === "scheduled") return { kind, record: reply[1]!, lastError: reply[2] ?? null, progressJson: reply[3] ?? null };
    if (kind === "running") return { kind, record: runningRecord(reply[1]!), lastError: reply[2] ?? null, progressJson: reply[3] ?? null };
    if (kind === "final") return { kind, finalJson: reply[1]! };
    return { kind: "missing" };
  }

  /**
   * Requeues a dead task whose final record is still `expectedFinal`, as the
   * given record (attempt 0) at the given score. See retry-dead-4.lua.
   */
  async retryDead(
    shard: number,
    id: string,
    expectedFinal: string,
    record: string,
    score: string,
    lastError: string,
    wakeHorizonScore: number,
  ): Promise<"retried" | "changed" | "pending" | "missing"> {
    const keys = this.keyBook.shard(shard);
    return (await this.runner.run(
      "retryDead",
      [keys.dead, keys.due, keys.tasks, keys.err],
      [id, expectedFinal, record, score, lastError, keys.wake, this.runner.publish, wakeHorizonScore, keys.donePrefix],
    )) as "retried" | "changed" | "pending" | "missing";
  }
}

/** Cold entries by slot as schedule-4.lua's ARGV[9]: slot, then its "\n"-joined entries, all "\0"-joined. */
function coldGroups(cold: Map<number, string[]>): string {
  const parts: string[] = [];
  for (const [slot, entries] of cold) parts.push(String(slot), entries.join("\n"));
  return parts.join("\0");
}
