/**
 * The store: the only code that talks to Redis. It speaks in intents
 * (schedule, claim, finish, retry, reap, cancel, …), each one Lua script on
 * one shard's keys, and returns typed results instead of raw replies.
 * Fenced intents answer LEASE_LOST when the caller's token no longer holds
 * the shard, and then changed nothing.
 */
import { configKey, nodesKey, shardKeys, type ShardKeys } from "./keys.ts";
import { commandName, defineScripts, type ScriptName } from "./scripts.ts";
import { openConnection, type Connection, type ConnectionTarget } from "./connection.ts";
import { keySlot, SLOT_COUNT } from "../core/slot.ts";
import { finalsSlotExpiry } from "./finals.ts";
import { specNamePrefix } from "../task/codec.ts";
import { databaseOf, runIdOf } from "./celery-broker.ts";

export const LEASE_LOST = "lease" as const;
export type LeaseLost = typeof LEASE_LOST;

export interface StoreOptions extends ConnectionTarget {
  prefix: string;
  /** Connection name shown in CLIENT LIST. */
  name?: string;
  /** Called for connection-level errors (metrics, logs); they are retried by the client. */
  onError?: (error: Error) => void;
}

export interface ScheduleItem {
  id: string;
  score: string;
  record: string;
  /**
   * The id was generated for this call (time-ordered, 70+ random bits), so
   * nothing can exist under it: the script skips the idempotency lookups.
   */
  fresh?: boolean;
  /** keySlot(id), when the caller has it already. */
  slot?: number;
  /** The record's spec json and due ms, when the caller has them (a cold entry is built from them). */
  specJson?: string;
  dueMs?: number;
}

export type ScheduleOutcome =
  | { kind: "created"; score: string }
  | { kind: "pending"; record: string }
  | { kind: "final"; finalJson: string };

export interface ClaimedTask {
  id: string;
  /**
   * "attempt:score\n<spec json>" as stored: the attempt counts the attempts
   * used up, so this claim runs attempt + 1 (see claim-6.lua).
   */
  record: string;
}

/** What one claim took: its tasks, and the batch they are running in. */
export interface ClaimedBatch {
  batch: string;
  tasks: ClaimedTask[];
}

export interface FinishItem {
  id: string;
  /** The batch the attempt was claimed in: the fence (a reaped attempt is in none). */
  batch: string;
  state: "succeeded" | "dead" | "expired";
  /** When the attempt ended (ms since epoch). */
  finishedAt: number;
  /** The final record (codec.ts encodeFinalText), kept for ttlMs. */
  finalJson: string;
  ttlMs: number;
}

/** One Celery hand-off (celery-handoff-5.lua): the task's finish and its message's push. */
export interface CeleryHandoffItem {
  id: string;
  batch: string;
  finishedAt: number;
  /** The final record (state succeeded), kept for ttlMs. */
  finalJson: string;
  ttlMs: number;
  /** The broker list and the message envelope to LPUSH onto it. */
  listKey: string;
  envelope: string;
}

export type ExistingOutcome =
  | { kind: "running"; record: string }
  | { kind: "final"; finalJson: string }
  | { kind: "missing" };

export type CancelOutcome = { kind: "cancelled"; finalJson: string } | ExistingOutcome;
export type RescheduleOutcome = { kind: "rescheduled"; score: string; record: string } | ExistingOutcome;

export type InspectOutcome =
  | { kind: "scheduled" | "running"; record: string; lastError: string | null; progressJson: string | null }
  | { kind: "final"; finalJson: string }
  | { kind: "missing" };

export interface ShardStats {
  shard: number;
  /** Scheduled tasks, cold ones included. */
  dueCount: number;
  /** Of those, how many wait in the cold tier. */
  coldCount: number;
  runningCount: number;
  deadCount: number;
  nextDueScore: string | null;
  leaseToken: string | null;
  leaseTtlMs: number;
}

export type LeaseAcquireOutcome =
  | { acquired: true; token: string }
  /** holderTtlMs: how long the holder's lease still runs unless renewed. */
  | { acquired: false; holder: string; holderTtlMs: number };

/** A live entry of the node registry. */
export interface NodeEntry {
  id: string;
  /** Random token of the process that registered it. */
  instance: string;
  /** Wall ms (Redis' clock) when the entry expires unless refreshed. */
  expiresAtMs: number;
  infoJson: string;
}

export type HeartbeatOutcome =
  | { registered: true; redisNowMs: number; live: { id: string; expiresAtMs: number }[] }
  | { registered: false; redisNowMs: number; holder: NodeEntry };

/** States whose tasks a shard indexes, so they can be listed. */
export type ListableState = "scheduled" | "running" | "dead";

export interface ListEntry {
  id: string;
  /** Score in the state's index (due score, visibility deadline, time of death). */
  score: string;
  /** Task record ("attempt:score\n<spec>") for scheduled and running, final json for dead. */
  record: string;
  lastError: string | null;
}

export interface ListPage {
  entries: ListEntry[];
  next: { score: string; id: string } | null;
}

export type ParkOutcome = "parked" | "requeued" | "stale" | "lease";

/**
 * Added to the due score of a parked task (paused name): 2^48 ms is beyond
 * any real due time (year ~10,900), and a due score plus 2^48 stays below
 * 2^49, where a double still holds the 1/16 priority fraction exactly.
 */
export const PARK_OFFSET = 2 ** 48;
/** Slots one list-cold script call examines (an empty one costs a key lookup). */
const COLD_LIST_SLOTS = 1024;
/** Cursor score prefix of a listing inside the cold tier: "cold:<hash slot>". */
export const COLD_CURSOR = "cold:";
/** Claims of at least this many tasks are sent at once (see claim). */
const PROMPT_CLAIM_MIN = 256;
/** Claimed batches one running-list call reads (each up to a claim's size). */
const RUNNING_LIST_BATCHES = 16;
/** Record bytes one list call may read (args can be 1 MiB each: bounds the script and the reply). */
export const LIST_MAX_BYTES = 8 * 1024 * 1024;
/** Parked tasks put back per resume script call. */
const RESUME_CHUNK = 500;

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;
type WakeListener = (shard: number, id: string, score: string) => void;

/** Items per schedule script call: big enough to amortise the round trip, small enough to keep Redis responsive. */
const SCHEDULE_CHUNK = 500;
/** Expired registry entries forgotten per heartbeat; there are rarely more than a handful. */
const NODE_PURGE_BATCH = 100;

export class Store {
  readonly prefix: string;
  readonly clustered: boolean;
  private readonly redis: Connection;
  private readonly target: ConnectionTarget;
  private readonly onError: (error: Error) => void;
  private readonly keyCache = new Map<number, ShardKeys>();
  private subscriber: Connection | null = null;
  private readonly subscribedShards = new Set<number>();
  private wakeListener: WakeListener | null = null;
  private readonly channelShards = new Map<string, number>();

  constructor(options: StoreOptions) {
    this.prefix = options.prefix;
    this.target = options;
    this.clustered = !!options.clusterNodes && options.clusterNodes.length > 0;
    this.onError = options.onError ?? (() => {});
    this.redis = openConnection(options, options.name ?? "tickwheel");
    this.redis.on("error", (error: Error) => this.onError(error));
    defineScripts(this.redis);
  }

  keys(shard: number): ShardKeys {
    let keys = this.keyCache.get(shard);
    if (!keys) {
      keys = shardKeys(this.prefix, shard);
      this.keyCache.set(shard, keys);
    }
    return keys;
  }

  /** True while the main connection is up; /ready reports it. */
  get ready(): boolean {
    return this.redis.status === "ready";
  }

  async ping(): Promise<boolean> {
    return (await this.redis.ping()) === "PONG";
  }

  /**
   * The shard count is a property of the data, not of a node: the first node
   * (or client) on a prefix records it, and everyone after must agree. The
   * look-ahead is recorded by nodes so producers know how far ahead a new
   * task needs a wake hint.
   */
  async ensureClusterConfig(
    wantedShards: number | undefined,
    fallbackShards: number,
    lookaheadMs?: number,
    coldAfterMs?: number,
  ): Promise<{ shards: number; lookaheadMs: number | null; coldAfterMs: number | null }> {
    const key = configKey(this.prefix);
    await this.redis.hsetnx(key, "shards", String(wantedShards ?? fallbackShards));
    if (lookaheadMs !== undefined) await this.redis.hset(key, "lookaheadMs", String(lookaheadMs));
    if (coldAfterMs !== undefined) await this.redis.hset(key, "coldAfterMs", String(coldAfterMs));
    const [shardsRaw, lookaheadRaw, coldAfterRaw] = await this.redis.hmget(key, "shards", "lookaheadMs", "coldAfterMs");
    const shards = Number(shardsRaw);
    if (wantedShards !== undefined && shards !== wantedShards) {
      throw new Error(
        `TICKWHEEL_SHARDS is ${wantedShards} but the data under prefix "${this.prefix}" was created with ${shards} shards; ` +
          `use ${shards} (changing the shard count needs resharding, which is not supported yet)`,
      );
    }
    return { shards, lookaheadMs: lookaheadRaw ? Number(lookaheadRaw) : null, coldAfterMs: coldAfterRaw ? Number(coldAfterRaw) : null };
  }

  // ---------------------------------------------------------------- writes

  /**
   * Stores new tasks. Those with a score at or above coldFromScore go to the
   * cold tier (lua/lib/cold.lua); null keeps every task in `due`.
   */
  async schedule(shard: number, items: ScheduleItem[], wakeHorizonScore: number, coldFromScore: number | null = null): Promise<ScheduleOutcome[]> {
    const keys = this.keys(shard);
    const publish = this.clustered ? "SPUBLISH" : "PUBLISH";
    const calls: Promise<{ start: number; reply: (number | string)[] }>[] = [];
    for (let start = 0; start < items.length; start += SCHEDULE_CHUNK) {
      // One argument for all the tasks of the call, "\0"-joined (see schedule-3.lua).
      const end = Math.min(items.length, start + SCHEDULE_CHUNK);
      let fresh = true;
      for (let i = start; i < end; i++) if (!items[i]!.fresh) fresh = false;
      const fields: (string | number)[] = [];
      // Fresh far-future tasks need no check: they go as ready-made cold entries grouped by
      // slot, which the script only pushes (schedule-3.lua ARGV[9]).
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
      ];
      calls.push(this.run("schedule", [keys.due, keys.tasks, keys.coldCount], argv).then((reply) => ({ start, reply: reply as (number | string)[] })));
    }
    const replies = await Promise.all(calls);
    // The script answers only for tasks it did not create (position in its call, kind, value).
    // Positions count the chunk's items in order: a chunk sends all of them to the script unless
    // every id is fresh, and then nothing comes back.
    const outcomes: ScheduleOutcome[] = new Array(items.length);
    for (let i = 0; i < items.length; i++) outcomes[i] = { kind: "created", score: items[i]!.score };
    replies.forEach(({ start, reply }) => {
      for (let i = 0; i < reply.length; i += 3) {
        const index = start + Number(reply[i]) - 1;
        const value = String(reply[i + 2]);
        outcomes[index] = reply[i + 1] === "p" ? { kind: "pending", record: value } : { kind: "final", finalJson: value };
      }
    });
    return outcomes;
  }

  async claim(
    shard: number,
    token: string,
    upToScoreExclusive: number,
    limit: number,
    visibilityDeadlineMs: number,
  ): Promise<ClaimedBatch | null | LeaseLost> {
    const keys = this.keys(shard);
    const claimKeys = [keys.due, keys.tasks, keys.claims, keys.batches, keys.batchSeq, keys.lease];
    const claimArgs = [token, upToScoreExclusive, limit, visibilityDeadlineMs];
    // A large claim goes out at once instead of with the connection's next automatic pipeline
    // (at the end of this event-loop turn): in a burst, Redis then runs it while the node is
    // still starting the tasks of the claims that came back with it, instead of taking turns.
    const reply = limit >= PROMPT_CLAIM_MIN ? await this.runNow("claim", claimKeys, claimArgs) : await this.runBuffer("claim", claimKeys, claimArgs);
    if (!Array.isArray(reply)) return String(reply) === LEASE_LOST ? LEASE_LOST : null;
    // The batch id, and one string: id and record of each task, joined by "\0" (see claim-6.lua).
    const [batch, packed] = reply as [Buffer, Buffer];
    const flat = decodeText(packed).split("\0");
    const tasks: ClaimedTask[] = new Array(flat.length >> 1);
    for (let i = 0, j = 0; i < flat.length; i += 2, j++) {
      tasks[j] = { id: flat[i]!, record: flat[i + 1]! };
    }
    return { batch: batch.toString("latin1"), tasks };
  }

  /**
   * Ends attempts for good; returns per item whether its batch was still
   * claimed (not reaped). `doneBatches`: batches whose every attempt has ended (their
   * bookkeeping is dropped in the same script).
   */
  async finish(
    shard: number,
    token: string,
    nowMs: number,
    deadRetentionMs: number,
    items: FinishItem[],
    doneBatches: string[] = [],
  ): Promise<boolean[] | LeaseLost> {
    const keys = this.keys(shard);
    // Items grouped by batch, final-record slot and state, each group one packed argument (see
    // finish-7.lua). Items come mostly in runs that share all three (one batch, one ms): only a change of any of
    // them costs a lookup, and the slot of the last (finishedAt, ttl) is kept.
    const groups = new Map<string, { batch: string; expiry: number; state: string; order: number[] }>();
    let group: { batch: string; expiry: number; state: string; order: number[] } | undefined;
    let lastAt = NaN;
    let lastTtl = NaN;
    let expiry = 0;
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (item.finishedAt !== lastAt || item.ttlMs !== lastTtl) {
        lastAt = item.finishedAt;
        lastTtl = item.ttlMs;
        expiry = finalsSlotExpiry(lastAt, lastTtl);
      }
      if (!group || group.batch !== item.batch || group.expiry !== expiry || group.state !== item.state) {
        const key = `${item.batch}|${expiry}|${item.state}`;
        group = groups.get(key);
        if (!group) {
          group = { batch: item.batch, expiry, state: item.state, order: [] };
          groups.set(key, group);
        }
      }
      group.order.push(i);
    }
    const args: (string | number)[] = [token, keys.donePrefix, nowMs, deadRetentionMs, doneBatches.length, ...doneBatches];
    const order: number[] = [];
    for (const group of groups.values()) {
      const packed = new Array<string>(2 * group.order.length);
      let k = 0;
      for (const i of group.order) {
        const item = items[i]!;
        packed[k++] = item.id;
        packed[k++] = item.finalJson;
        order.push(i);
      }
      args.push(group.batch, group.expiry, group.state, group.order.length, packed.join("\0"));
    }
    const reply = await this.run(
      "finish",
      [keys.tasks, keys.err, keys.progress, keys.dead, keys.lease, keys.claims, keys.batches],
      args,
    );
    if (reply === LEASE_LOST) return LEASE_LOST;
    const flags = String(reply);
    const out = new Array<boolean>(items.length);
    for (let k = 0; k < order.length; k++) out[order[k]!] = flags.charCodeAt(k) === 49; // "1"
    return out;
  }

  async retry(
    shard: number,
    token: string,
    id: string,
    batch: string,
    attempt: number,
    score: string,
    error: string,
  ): Promise<boolean | LeaseLost> {
    const keys = this.keys(shard);
    const reply = await this.run(
      "retry",
      [keys.claims, keys.due, keys.tasks, keys.err, keys.lease],
      [token, id, batch, attempt, score, error],
    );
    return reply === LEASE_LOST ? LEASE_LOST : reply === 1;
  }

  /**
   * Puts the attempts of batches past their visibility deadline back in
   * `due`, looking at about `limit` tasks; `more`: call again at once.
   */
  async reap(
    shard: number,
    token: string,
    nowMs: number,
    limit: number,
  ): Promise<{ entries: { id: string; score: string }[]; more: boolean } | LeaseLost> {
    const keys = this.keys(shard);
    const reply = await this.run(
      "reap",
      [keys.claims, keys.batches, keys.due, keys.tasks, keys.lease, keys.legacyRun],
      [token, nowMs, limit],
    );
    if (reply === LEASE_LOST) return LEASE_LOST;
    const flat = reply as string[];
    const entries: { id: string; score: string }[] = [];
    for (let i = 1; i < flat.length; i += 2) entries.push({ id: flat[i]!, score: flat[i + 1]! });
    return { entries, more: flat[0] === "1" };
  }

  /** Pushes the visibility deadline of claimed batches; answers how many were still there. */
  async extend(shard: number, token: string, deadlineMs: number, batches: string[]): Promise<number | LeaseLost> {
    if (batches.length === 0) return 0;
    const keys = this.keys(shard);
    const reply = await this.run("extend", [keys.claims, keys.lease], [token, deadlineMs, ...batches]);
    return reply === LEASE_LOST ? LEASE_LOST : (reply as number);
  }

  async cancel(shard: number, id: string, nowMs: number, retentionMs: number): Promise<CancelOutcome> {
    const keys = this.keys(shard);
    const reply = (await this.run(
      "cancel",
      [keys.due, keys.tasks, keys.err, keys.progress, keys.coldCount],
      [id, keys.donePrefix, nowMs, retentionMs, keys.coldPrefix + keySlot(id)],
    )) as string[];
    if (reply[0] === "cancelled") return { kind: "cancelled", finalJson: reply[1]! };
    return existing(reply);
  }

  /** Moves a pending task; a cold one stays cold if its new score is at or above coldFromScore. */
  async reschedule(shard: number, id: string, dueMs: number, wakeHorizonScore: number, coldFromScore: number | null = null): Promise<RescheduleOutcome> {
    const keys = this.keys(shard);
    const reply = (await this.run(
      "reschedule",
      [keys.due, keys.tasks, keys.coldCount],
      [
        id,
        keys.donePrefix,
        Math.floor(dueMs),
        keys.wake,
        this.clustered ? "SPUBLISH" : "PUBLISH",
        wakeHorizonScore,
        keys.coldPrefix + keySlot(id),
        coldFromScore ?? "",
      ],
    )) as string[];
    if (reply[0] === "rescheduled") return { kind: "rescheduled", score: reply[1]!, record: reply[2]! };
    return existing(reply);
  }

  async setProgress(shard: number, id: string, progressJson: string): Promise<boolean> {
    const keys = this.keys(shard);
    return (await this.run("progress", [keys.tasks, keys.due, keys.progress], [id, progressJson])) === 1;
  }

  // ---------------------------------------------------------------- reads

  async inspect(shard: number, id: string): Promise<InspectOutcome> {
    const keys = this.keys(shard);
    const reply = (await this.run(
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
   * Ids and scores of due entries in (fromScore, toScore], in due order: what
   * a shard actor loads into its wheel. Never payloads.
   */
  async dueWindow(
    shard: number,
    fromScoreExclusive: number | "-inf",
    toScoreInclusive: number,
    limit: number,
  ): Promise<{ ids: string[]; scores: string[] }> {
    const from = fromScoreExclusive === "-inf" ? "-inf" : `(${fromScoreExclusive}`;
    const flat = await this.redis.zrangebyscore(this.keys(shard).due, from, toScoreInclusive, "WITHSCORES", "LIMIT", 0, limit);
    const ids = new Array<string>(flat.length / 2);
    const scores = new Array<string>(flat.length / 2);
    for (let i = 0, j = 0; i < flat.length; i += 2, j++) {
      ids[j] = flat[i]!;
      scores[j] = flat[i + 1]!;
    }
    return { ids, scores };
  }

  async shardStats(shard: number): Promise<ShardStats> {
    const keys = this.keys(shard);
    const [dueCount, coldCount, recordCount, deadCount, first, leaseToken, leaseTtlMs] = await Promise.all([
      this.redis.zcard(keys.due),
      this.redis.get(keys.coldCount),
      this.redis.hlen(keys.tasks),
      this.redis.zcard(keys.dead),
      // The earliest real due time: parked tasks (paused names) sit beyond PARK_OFFSET.
      this.redis.zrangebyscore(keys.due, "-inf", `(${PARK_OFFSET}`, "WITHSCORES", "LIMIT", 0, 1),
      this.redis.get(keys.lease),
      this.redis.pttl(keys.lease),
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

  // ---------------------------------------------------------------- listing, dead retry, pause

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
    shard: number,
    state: ListableState,
    after: { score: string; id: string } | null,
    limit: number,
    budget: number,
    name: string | null,
    maxBytes = LIST_MAX_BYTES,
    shardCount = 1,
  ): Promise<ListPage> {
    if (state === "scheduled" && after?.score.startsWith(COLD_CURSOR)) {
      return this.listColdPage(shard, shardCount, Number(after.score.slice(COLD_CURSOR.length)), after.id, limit, name, maxBytes);
    }
    const keys = this.keys(shard);
    if (state === "running") return this.listRunningPage(shard, after, limit, name, maxBytes);
    const index = state === "scheduled" ? keys.due : keys.dead;
    const source = state === "dead" ? "done" : "hash";
    const specPrefix = name === null ? "" : specNamePrefix(name);
    const reply = (await this.run(
      "list",
      [index, keys.tasks, keys.err],
      [source, keys.donePrefix, after?.score ?? "", after?.id ?? "", limit, budget, specPrefix, name ?? "", Math.max(1, maxBytes)],
    )) as (string | null)[];
    const entries: ListEntry[] = [];
    for (let i = 2; i < reply.length; i += 4) {
      entries.push({ id: reply[i]!, score: reply[i + 1]!, record: reply[i + 2]!, lastError: reply[i + 3] ?? null });
    }
    const next = reply[0] ? { score: reply[0], id: reply[1]! } : null;
    if (state !== "scheduled" || next !== null) return { entries, next };
    // `due` is exhausted: go on with the cold tier, from the shard's first slot.
    const bytes = entries.reduce((sum, entry) => sum + entry.record.length, 0);
    if (entries.length >= limit || bytes >= maxBytes) return { entries, next: { score: `${COLD_CURSOR}${shard}`, id: "" } };
    const cold = await this.listColdPage(shard, shardCount, shard, "", limit - entries.length, name, maxBytes - bytes);
    return { entries: [...entries, ...cold.entries], next: cold.next };
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
  ): Promise<ListPage> {
    const keys = this.keys(shard);
    const specPrefix = name === null ? "" : specNamePrefix(name);
    const reply = (await this.run(
      "listRunning",
      [keys.claims, keys.batches, keys.tasks, keys.err],
      [after?.score ?? "", after?.id ?? "", limit, specPrefix, Math.max(1, maxBytes), RUNNING_LIST_BATCHES],
    )) as (string | null)[];
    const entries: ListEntry[] = [];
    for (let i = 2; i < reply.length; i += 4) {
      entries.push({ id: reply[i]!, score: reply[i + 1]!, record: runningRecord(reply[i + 2]!), lastError: reply[i + 3] ?? null });
    }
    return { entries, next: reply[0] ? { score: reply[0], id: reply[1]! } : null };
  }

  /**
   * Cold tasks of a shard from a (slot, id) cursor. Calls go on, each bounded
   * (COLD_LIST_SLOTS slots), until the page is full, the bytes are spent or
   * the shard's slots are exhausted: most slots are empty, and stopping after
   * each call would hand the caller page after empty page.
   */
  private async listColdPage(
    shard: number,
    shardCount: number,
    slot: number,
    afterId: string,
    limit: number,
    name: string | null,
    maxBytes: number,
  ): Promise<ListPage> {
    const keys = this.keys(shard);
    if (!Number.isInteger(slot) || slot < 0 || slot >= SLOT_COUNT || slot % shardCount !== shard) return { entries: [], next: null };
    const specPrefix = name === null ? "" : specNamePrefix(name);
    const entries: ListEntry[] = [];
    let bytes = 0;
    let next: { score: string; id: string } | null = { score: `${COLD_CURSOR}${slot}`, id: afterId };
    while (next && entries.length < limit && bytes < maxBytes) {
      const reply = (await this.run(
        "listCold",
        [keys.coldCount],
        [keys.coldPrefix, shardCount, next.score.slice(COLD_CURSOR.length), next.id, limit - entries.length, COLD_LIST_SLOTS, specPrefix, maxBytes - bytes],
      )) as (string | null)[];
      for (let i = 2; i < reply.length; i += 4) {
        entries.push({ id: reply[i]!, score: reply[i + 1]!, record: reply[i + 2]!, lastError: null });
        bytes += reply[i + 2]!.length;
      }
      next = reply[0] ? { score: `${COLD_CURSOR}${reply[0]}`, id: reply[1] ?? "" } : null;
    }
    return { entries, next };
  }

  /**
   * Moves the cold tasks of the given hash slots (of this shard) that are due
   * before upToScore into `due` (see promote-4.lua); returns how many moved.
   */
  async promote(shard: number, token: string, slots: number[], upToScore: number): Promise<number | LeaseLost> {
    if (slots.length === 0) return 0;
    const keys = this.keys(shard);
    const reply = await this.run("promote", [keys.due, keys.tasks, keys.coldCount, keys.lease], [token, keys.coldPrefix, upToScore, ...slots]);
    return reply === LEASE_LOST ? LEASE_LOST : Number(reply);
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
    const keys = this.keys(shard);
    return (await this.run(
      "retryDead",
      [keys.dead, keys.due, keys.tasks, keys.err],
      [id, expectedFinal, record, score, lastError, keys.wake, this.clustered ? "SPUBLISH" : "PUBLISH", wakeHorizonScore, keys.donePrefix],
    )) as "retried" | "changed" | "pending" | "missing";
  }

  /** A claimed task of a paused name goes back without starting (see park-7.lua). */
  async park(shard: number, token: string, id: string, batch: string, name: string): Promise<ParkOutcome> {
    const keys = this.keys(shard);
    return (await this.run(
      "park",
      [keys.claims, keys.due, keys.tasks, this.pausedSetKey(shard), this.parkedKey(shard, name), keys.lease, keys.batches],
      [token, id, batch, name, PARK_OFFSET],
    )) as ParkOutcome;
  }

  /**
   * Pauses a task name on every shard, then lists it cluster-wide (the order
   * park relies on). Idempotent; answers the ms it was first paused.
   */
  async pauseName(name: string, shardCount: number, nowMs: number): Promise<number> {
    await Promise.all([...Array(shardCount).keys()].map((shard) => this.run("pauseShard", [this.pausedSetKey(shard)], [name])));
    return Number(await this.run("pausedNames", [this.pausedNamesKey()], ["pause", name, nowMs]));
  }

  /**
   * Unlists a paused name, then clears every shard's flag and puts the
   * parked tasks back in `due` (bounded calls per shard). Answers whether it
   * was paused and how many tasks were put back.
   */
  async resumeName(name: string, shardCount: number): Promise<{ wasPaused: boolean; requeued: number }> {
    const wasPaused = (await this.run("pausedNames", [this.pausedNamesKey()], ["resume", name, 0])) === 1;
    const publish = this.clustered ? "SPUBLISH" : "PUBLISH";
    const counts = await Promise.all(
      [...Array(shardCount).keys()].map(async (shard) => {
        const keys = this.keys(shard);
        let requeued = 0;
        for (;;) {
          const [moved, left] = (await this.run(
            "resumeShard",
            [this.pausedSetKey(shard), this.parkedKey(shard, name), keys.due, keys.tasks],
            [name, PARK_OFFSET, RESUME_CHUNK, keys.wake, publish],
          )) as [number, number];
          requeued += moved;
          if (left === 0) return requeued;
        }
      }),
    );
    return { wasPaused, requeued: counts.reduce((a, b) => a + b, 0) };
  }

  /** Paused task names and the ms each was paused. */
  async pausedNames(): Promise<Map<string, number>> {
    const flat = await this.redis.hgetall(this.pausedNamesKey());
    return new Map(Object.entries(flat).map(([name, at]) => [name, Number(at)]));
  }

  private pausedSetKey(shard: number): string {
    return `${this.prefix}:{${shard}}:paused`;
  }

  private parkedKey(shard: number, name: string): string {
    return `${this.prefix}:{${shard}}:parked:${name}`;
  }

  private pausedNamesKey(): string {
    return `${configKey(this.prefix)}:paused`;
  }

  // ---------------------------------------------------------------- leases

  async leaseAcquire(shard: number, nodeId: string, ttlMs: number): Promise<LeaseAcquireOutcome> {
    const keys = this.keys(shard);
    const reply = (await this.run("leaseAcquire", [keys.lease, keys.epoch], [nodeId, ttlMs])) as [number, string, number?];
    return reply[0] === 1
      ? { acquired: true, token: reply[1] }
      : { acquired: false, holder: reply[1], holderTtlMs: Math.max(0, Number(reply[2] ?? ttlMs)) };
  }

  async leaseRenew(shard: number, token: string, ttlMs: number): Promise<boolean> {
    return (await this.run("leaseRenew", [this.keys(shard).lease], [token, ttlMs])) === 1;
  }

  async leaseRelease(shard: number, token: string): Promise<boolean> {
    return (await this.run("leaseRelease", [this.keys(shard).lease], [token])) === 1;
  }

  // ---------------------------------------------------------------- wake hints

  /** Hints arrive as (shard, id, score); a lost hint only delays a task until the next refill. */
  onWake(listener: WakeListener): void {
    this.wakeListener = listener;
  }

  async subscribeWakes(shards: number[]): Promise<void> {
    const fresh = shards.filter((shard) => !this.subscribedShards.has(shard));
    if (fresh.length === 0) return;
    const subscriber = this.ensureSubscriber();
    for (const shard of fresh) {
      this.subscribedShards.add(shard);
      this.channelShards.set(this.keys(shard).wake, shard);
    }
    const channels = fresh.map((shard) => this.keys(shard).wake);
    if (this.clustered) {
      // Channels of different slots need separate SSUBSCRIBE calls.
      await Promise.all(channels.map((channel) => subscriber.ssubscribe(channel)));
    } else {
      await subscriber.subscribe(...channels);
    }
  }

  async unsubscribeWakes(shards: number[]): Promise<void> {
    const gone = shards.filter((shard) => this.subscribedShards.delete(shard));
    if (gone.length === 0 || !this.subscriber) return;
    const channels = gone.map((shard) => this.keys(shard).wake);
    if (this.clustered) await Promise.all(channels.map((channel) => this.subscriber!.sunsubscribe(channel)));
    else await this.subscriber.unsubscribe(...channels);
  }

  private ensureSubscriber(): Connection {
    if (this.subscriber) return this.subscriber;
    const subscriber = openConnection(this.target, "tickwheel-wake", { sharded: this.clustered });
    subscriber.on("error", (error: Error) => this.onError(error));
    // A message holds one hint "id|score" per line (schedule sends one message per call).
    const deliver = (channel: string, message: string) => {
      const shard = this.channelShards.get(channel);
      const listener = this.wakeListener;
      if (shard === undefined || !listener) return;
      let start = 0;
      while (start < message.length) {
        let end = message.indexOf("\n", start);
        if (end < 0) end = message.length;
        const bar = message.lastIndexOf("|", end - 1);
        if (bar >= start) listener(shard, message.slice(start, bar), message.slice(bar + 1, end));
        start = end + 1;
      }
    };
    subscriber.on(this.clustered ? "smessage" : "message", deliver);
    this.subscriber = subscriber;
    return subscriber;
  }

  // ---------------------------------------------------------------- nodes (membership)

  nodesKey(): string {
    return nodesKey(this.prefix);
  }

  /** Expiry index of the registry; same hash tag as nodesKey() so both sit in one slot. */
  private nodesAliveKey(): string {
    return `${nodesKey(this.prefix)}:alive`;
  }

  /**
   * Registers or refreshes a node (one script: forget expired entries,
   * refuse an id held by another live instance, answer the live members).
   */
  async nodeHeartbeat(nodeId: string, instance: string, ttlMs: number, infoJson: string): Promise<HeartbeatOutcome> {
    const reply = (await this.run(
      "nodeHeartbeat",
      [this.nodesKey(), this.nodesAliveKey()],
      [nodeId, instance, ttlMs, infoJson, NODE_PURGE_BATCH],
    )) as (string | number)[];
    const redisNowMs = Number(reply[1]);
    if (reply[0] !== 1) {
      const entry = String(reply[3]);
      const nl = entry.indexOf("\n");
      return {
        registered: false,
        redisNowMs,
        holder: { id: nodeId, instance: entry.slice(0, nl), expiresAtMs: Number(reply[2]), infoJson: entry.slice(nl + 1) },
      };
    }
    const live: { id: string; expiresAtMs: number }[] = [];
    for (let i = 2; i < reply.length; i += 2) live.push({ id: String(reply[i]), expiresAtMs: Number(reply[i + 1]) });
    return { registered: true, redisNowMs, live };
  }

  /** Removes this instance's registry entry; false if it was not (or no longer) registered by it. */
  async nodeLeave(nodeId: string, instance: string): Promise<boolean> {
    return (await this.run("nodeLeave", [this.nodesKey(), this.nodesAliveKey()], [nodeId, instance])) === 1;
  }

  /** Every live registry entry, with Redis' current time. */
  async listNodes(): Promise<{ redisNowMs: number; nodes: NodeEntry[] }> {
    const reply = (await this.run("nodeList", [this.nodesKey(), this.nodesAliveKey()], [])) as (string | number)[];
    const nodes: NodeEntry[] = [];
    for (let i = 1; i < reply.length; i += 3) {
      const entry = String(reply[i + 2]);
      const nl = entry.indexOf("\n");
      nodes.push({ id: String(reply[i]), instance: entry.slice(0, nl), expiresAtMs: Number(reply[i + 1]), infoJson: entry.slice(nl + 1) });
    }
    return { redisNowMs: Number(reply[0]), nodes };
  }

  async quit(): Promise<void> {
    const connections = [this.redis, this.subscriber].filter((c): c is Connection => c !== null);
    await Promise.all(
      connections.map(async (connection) => {
        try {
          await connection.quit();
        } catch {
          connection.disconnect();
        }
      }),
    );
  }

  // ---------------------------------------------------------------- Celery hand-off

  /**
   * The run_id of tickwheel's Redis server (equal run_ids are one server
   * process), or null on a Redis Cluster, where a hand-off cannot be one
   * script: the broker list is in no shard's hash slot.
   */
  async serverRunId(): Promise<string | null> {
    return this.clustered ? null : runIdOf(this.redis);
  }

  /** The database index tickwheel's data is in (REDIS_URL's path; 0 when absent or on a cluster). */
  get database(): number {
    return this.target.redisUrl && !this.clustered ? databaseOf(this.target.redisUrl) : 0;
  }

  /**
   * Finishes claimed Celery tasks as succeeded and pushes their messages onto
   * the broker's lists (database `brokerDb` of this same server) in one
   * script per call (celery-handoff-5.lua), so a crash cannot push a task
   * twice. Answers per item whether it was handed off (false: its batch was
   * reaped, nothing was pushed), or LEASE_LOST (nothing changed).
   */
  async celeryHandoff(shard: number, token: string, brokerDb: number, items: CeleryHandoffItem[]): Promise<boolean[] | LeaseLost> {
    const keys = this.keys(shard);
    const groups = new Map<string, { batch: string; expiry: number; order: number[] }>();
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      const expiry = finalsSlotExpiry(item.finishedAt, item.ttlMs);
      const key = `${item.batch}|${expiry}`;
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { batch: item.batch, expiry, order: [] }));
      group.order.push(i);
    }
    const args: (string | number)[] = [token, keys.donePrefix, this.database, brokerDb];
    const order: number[] = [];
    for (const group of groups.values()) {
      const packed: string[] = [];
      for (const i of group.order) {
        const item = items[i]!;
        packed.push(item.id, item.finalJson, item.listKey, item.envelope);
        order.push(i);
      }
      args.push(group.batch, group.expiry, group.order.length, packed.join("\0"));
    }
    // Written to the socket now, not with the next automatic pipeline: the batcher sends a burst's
    // first hand-offs while the rest of it is still being started.
    const flags = String(await this.runNow("celeryHandoff", [keys.tasks, keys.err, keys.progress, keys.lease, keys.claims], args));
    if (flags === LEASE_LOST) return LEASE_LOST;
    const out = new Array<boolean>(items.length);
    for (let k = 0; k < order.length; k++) out[order[k]!] = flags.charCodeAt(k) === 49; // "1"
    return out;
  }

  /** Runs a registered script; ioredis does EVALSHA with the NOSCRIPT fallback. */
  private run(script: ScriptName, keys: string[], argv: (string | number)[]): Promise<unknown> {
    const fn = (this.redis as unknown as Record<string, ScriptFn>)[commandName(script)]!;
    return fn.call(this.redis, ...keys, ...argv);
  }

  /** runBuffer(), written to the socket now rather than with the next automatic pipeline. */
  private async runNow(script: ScriptName, keys: string[], argv: (string | number)[]): Promise<unknown> {
    const pipeline = this.redis.pipeline() as unknown as Record<string, ScriptFn> & { exec(): Promise<[Error | null, unknown][] | null> };
    pipeline[`${commandName(script)}Buffer`]!.call(pipeline, ...keys, ...argv);
    const results = await pipeline.exec();
    const [error, reply] = results?.[0] ?? [new Error("pipeline returned nothing"), null];
    if (error) throw error;
    return reply;
  }

  /** run(), with the reply's strings as Buffers (ioredis' <command>Buffer variant). */
  private runBuffer(script: ScriptName, keys: string[], argv: (string | number)[]): Promise<unknown> {
    const fn = (this.redis as unknown as Record<string, ScriptFn>)[`${commandName(script)}Buffer`]!;
    return fn.call(this.redis, ...keys, ...argv);
  }
}

/**
 * Text of a large reply. Mostly ASCII (ids, numbers, JSON of task args), and
 * decoding bytes one to one is far cheaper than UTF-8 decoding a 100 kB
 * reply: UTF-8 only if a byte says the text needs it.
 */
function decodeText(bytes: Buffer): string {
  const text = bytes.toString("latin1");
  return NON_ASCII.test(text) ? bytes.toString("utf8") : text;
}
const NON_ASCII = /[^\x00-\x7f]/;

/** Cold entries by slot as schedule-3.lua's ARGV[9]: slot, then its "\n"-joined entries, all "\0"-joined. */
function coldGroups(cold: Map<number, string[]>): string {
  const parts: string[] = [];
  for (const [slot, entries] of cold) parts.push(String(slot), entries.join("\n"));
  return parts.join("\0");
}

function existing(reply: string[]): ExistingOutcome {
  if (reply[0] === "running") return { kind: "running", record: runningRecord(reply[1]!) };
  if (reply[0] === "final") return { kind: "final", finalJson: reply[1]! };
  return { kind: "missing" };
}

/**
 * A running task's record as callers see it: the stored attempt counts the
 * attempts used up (claim-6.lua), and the running one is the next.
 */
function runningRecord(record: string): string {
  const colon = record.indexOf(":");
  return `${Number(record.slice(0, colon)) + 1}${record.slice(colon)}`;
}

export type { ShardKeys };
