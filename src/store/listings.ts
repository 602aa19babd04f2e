/**
 * Listings: read-only views across a shard's tasks for the API and the
 * dashboard: pages of scheduled (due, then cold), running and dead tasks,
 * and a shard's counts. Nothing here writes; retrying a dead task is a task
 * write (task-writes.ts).
 */
import type { KeyBook } from "./keys.ts";
import type { ScriptRunner } from "./script-runner.ts";
import type { ShardMap } from "../core/shard-map.ts";
import { PARK_OFFSET } from "./data-format.ts";
import { runningRecord, type ListableState, type ListEntry, type ListPage, type ShardStats } from "./outcomes.ts";
import { specNamePrefix } from "../task/codec.ts";
import { consoleIndexKey } from "./console-keys.ts";

/**
 * How every stored spec of the wanted tasks starts: the whole name (up to
 * the comma after it), or a name prefix (the JSON of the prefix without its
 * closing quote: JSON escapes character by character, so it starts the JSON
 * of every name that starts with the prefix).
 */
function specFilter(name: string | null, namePrefix: boolean): string {
  if (name === null) return "";
  const whole = specNamePrefix(name);
  return namePrefix ? whole.slice(0, -2) : whole;
}

/** Slots one list-cold script call examines (an empty one costs a key lookup). */
const COLD_LIST_SLOTS = 1024;
/** Cursor score prefix of a listing inside the cold tier: "cold:<hash slot>". */
export const COLD_CURSOR = "cold:";
/** Claimed batches one running-list call reads (each up to a claim's size). */
const RUNNING_LIST_BATCHES = 16;
/** Record bytes one list call may read (args can be 1 MiB each: bounds the script and the reply). */
export const LIST_MAX_BYTES = 8 * 1024 * 1024;

/**
 * A page from a listing script's reply: { next cursor score or "", next
 * cursor id, then per task id, score, record, last error or nil }.
 */
function pageOf(reply: (string | null)[], record: (stored: string) => string): ListPage {
  const entries: ListEntry[] = [];
  for (let i = 2; i < reply.length; i += 4) {
    entries.push({ id: reply[i]!, score: reply[i + 1]!, record: record(reply[i + 2]!), lastError: reply[i + 3] ?? null });
  }
  return { entries, next: reply[0] ? { score: reply[0], id: reply[1]! } : null };
}

export interface Listings {
  shardStats(shard: number): Promise<ShardStats>;
  listPage(
    shards: ShardMap,
    shard: number,
    state: ListableState,
    after: { score: string; id: string } | null,
    limit: number,
    budget: number,
    name: string | null,
    maxBytes?: number,
    namePrefix?: boolean,
  ): Promise<ListPage>;
}

export class RedisListings implements Listings {
  private readonly runner: ScriptRunner;
  private readonly keyBook: KeyBook;

  constructor(runner: ScriptRunner, keyBook: KeyBook) {
    this.runner = runner;
    this.keyBook = keyBook;
  }

  async shardStats(shard: number): Promise<ShardStats> {
    const keys = this.keyBook.shard(shard);
    const [dueCount, coldCount, recordCount, deadCount, first, leaseToken, leaseTtlMs] = await Promise.all([
      this.runner.redis.zcard(keys.due),
      this.runner.redis.get(keys.coldCount),
      this.runner.redis.hlen(keys.tasks),
      this.runner.redis.zcard(keys.dead),
      // The earliest real due time: parked tasks (paused names) sit beyond PARK_OFFSET.
      this.runner.redis.zrangebyscore(keys.due, "-inf", `(${PARK_OFFSET}`, "WITHSCORES", "LIMIT", 0, 1),
      this.runner.redis.get(keys.lease),
      this.runner.redis.pttl(keys.lease),
    ]);
    return {
      shard,
      dueCount: dueCount + Number(coldCount ?? 0),
      coldCount: Number(coldCount ?? 0),
      // Running: a record whose id is not in `due` (see claim-6.lua).
      runningCount: Math.max(0, recordCount - dueCount),
      deadCount,
      nextDueScore: first[1] ?? null,
      leaseToken,
      leaseTtlMs,
    };
  }

  /**
   * One page of a shard's tasks in one state, after a cursor, in index order
   * (due time for scheduled, visibility deadline for running, time of death
   * for dead). At most `budget` index entries are examined, so a page may
   * come back short (even empty) with a cursor to go on from; `next` is null
   * once the shard's index is exhausted. Scheduled tasks in the cold tier
   * follow the `due` index, in storage order (slot, then id): their cursor's
   * score is COLD_CURSOR + slot.
   */
  async listPage(
    shards: ShardMap,
    shard: number,
    state: ListableState,
    after: { score: string; id: string } | null,
    limit: number,
    budget: number,
    name: string | null,
    maxBytes = LIST_MAX_BYTES,
    namePrefix = false,
  ): Promise<ListPage> {
    if (state === "scheduled" && after?.score.startsWith(COLD_CURSOR)) {
      return this.listColdPage(shards, shard, Number(after.score.slice(COLD_CURSOR.length)), after.id, limit, name, maxBytes, namePrefix);
    }
    if (state === "running") return this.listRunningPage(shard, after, limit, name, maxBytes, namePrefix);
    const { entries, next } = await this.listIndexPage(shard, state, after, limit, budget, name, maxBytes, namePrefix);
    if (state !== "scheduled" || next !== null) return { entries, next };
    // `due` is exhausted: go on with the cold tier, from the shard's first slot.
    const bytes = entries.reduce((sum, entry) => sum + entry.record.length, 0);
    if (entries.length >= limit || bytes >= maxBytes) return { entries, next: { score: `${COLD_CURSOR}${shard}`, id: "" } };
    const cold = await this.listColdPage(shards, shard, shard, "", limit - entries.length, name, maxBytes - bytes, namePrefix);
    return { entries: [...entries, ...cold.entries], next: cold.next };
  }

  /**
   * One page of a shard's ZSET index of a state (for scheduled: `due` only,
   * never the cold tier), after a (score, id) cursor in index order. The
   * cursor need not be an entry of this shard: the time-ordered listing
   * (Client.listInTimeOrder, client/time-order.ts) gives every shard the same one.
   */
  async listIndexPage(
    shard: number,
    state: Exclude<ListableState, "running">,
    after: { score: string; id: string } | null,
    limit: number,
    budget: number,
    name: string | null,
    maxBytes = LIST_MAX_BYTES,
    namePrefix = false,
  ): Promise<ListPage> {
    const keys = this.keyBook.shard(shard);
    if (state === "succeeded" || state === "cancelled" || state === "expired") {
      return this.listFinishedPage(shard, state, after, limit, budget, name, maxBytes, namePrefix);
    }
    const index = state === "scheduled" ? keys.due : state === "dead" ? keys.dead : consoleIndexKey(keys, state);
    const source = state === "dead" ? "done" : "hash";
    const specPrefix = specFilter(name, namePrefix);
    const reply = (await this.runner.run(
      "list",
      [index, keys.tasks, keys.err],
      [
        source,
        keys.donePrefix,
        after?.score ?? "",
        after?.id ?? "",
        limit,
        budget,
        specPrefix,
        name ?? "",
        Math.max(1, maxBytes),
        state === "failed" ? keys.due : "",
        namePrefix ? "prefix" : "",
      ],
    )) as (string | null)[];
    return pageOf(reply, (record) => record);
  }

  /**
   * One page of a finished state's index (chunks of ids per ms: see
   * list-finished-1.lua), in the same (ms, id) order and with the same
   * cursor as a listIndexPage.
   */
  private async listFinishedPage(
    shard: number,
    state: "succeeded" | "cancelled" | "expired",
    after: { score: string; id: string } | null,
    limit: number,
    budget: number,
    name: string | null,
    maxBytes: number,
    namePrefix: boolean,
  ): Promise<ListPage> {
    const keys = this.keyBook.shard(shard);
    const reply = (await this.runner.run(
      "listFinished",
      [consoleIndexKey(keys, state)],
      [keys.donePrefix, after?.score ?? "", after?.id ?? "", limit, budget, name ?? "", namePrefix ? "prefix" : "", Math.max(1, maxBytes)],
    )) as (string | null)[];
    return pageOf(reply, (record) => record);
  }

  /**
   * Running tasks of a shard after a cursor, in claim order: batches by
   * deadline, each in the order claimed (see list-running-4.lua).
   */
  private async listRunningPage(
    shard: number,
    after: { score: string; id: string } | null,
    limit: number,
    name: string | null,
    maxBytes: number,
    namePrefix: boolean,
  ): Promise<ListPage> {
    const keys = this.keyBook.shard(shard);
    const specPrefix = specFilter(name, namePrefix);
    const reply = (await this.runner.run(
      "listRunning",
      [keys.claims, keys.batches, keys.tasks, keys.err],
      [after?.score ?? "", after?.id ?? "", limit, specPrefix, Math.max(1, maxBytes), RUNNING_LIST_BATCHES],
    )) as (string | null)[];
    return pageOf(reply, runningRecord);
  }

  /**
   * Cold tasks of a shard from a (slot, id) cursor. Calls go on, each bounded
   * (COLD_LIST_SLOTS slots), until the page is full, the bytes are spent or
   * the shard's slots are exhausted: most slots are empty, and stopping after
   * each call would hand the caller page after empty page.
   */
  private async listColdPage(
    shards: ShardMap,
    shard: number,
    slot: number,
    afterId: string,
    limit: number,
    name: string | null,
    maxBytes: number,
    namePrefix: boolean,
  ): Promise<ListPage> {
    const keys = this.keyBook.shard(shard);
    if (!shards.holds(shard, slot)) return { entries: [], next: null };
    const specPrefix = specFilter(name, namePrefix);
    const entries: ListEntry[] = [];
    let bytes = 0;
    let next: { score: string; id: string } | null = { score: `${COLD_CURSOR}${slot}`, id: afterId };
    while (next && entries.length < limit && bytes < maxBytes) {
      const reply = (await this.runner.run(
        "listCold",
        [keys.coldCount],
        [keys.coldPrefix, shards.count, next.score.slice(COLD_CURSOR.length), next.id, limit - entries.length, COLD_LIST_SLOTS, specPrefix, maxBytes - bytes],
      )) as (string | null)[];
      for (let i = 2; i < reply.length; i += 4) {
        entries.push({ id: reply[i]!, score: reply[i + 1]!, record: reply[i + 2]!, lastError: null });
        bytes += reply[i + 2]!.length;
      }
      next = reply[0] ? { score: `${COLD_CURSOR}${reply[0]}`, id: reply[1] ?? "" } : null;
    }
    return { entries, next };
  }
}
