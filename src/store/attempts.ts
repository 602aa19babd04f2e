/**
 * Attempts: what a shard's owner does with its due tasks, all fenced by the
 * lease token: read the due window (the actor's feed), claim, finish, retry,
 * reap attempts past their visibility deadline, extend that deadline, park a
 * task of a paused name, promote cold tasks. The hot path (claim, finish)
 * lives here; keep it free of extra round trips and per-task allocations.
 */
import type { KeyBook } from "./keys.ts";
import type { ScriptRunner } from "./script-runner.ts";
import { finalsSlotExpiry } from "./finals.ts";
import { PARK_OFFSET } from "./data-format.ts";
import { LEASE_LOST, type ClaimedBatch, type ClaimedTask, type FinishItem, type LeaseLost, type ParkOutcome } from "./outcomes.ts";

/** Claims of at least this many tasks are sent at once (see claim). */
const PROMPT_CLAIM_MIN = 256;

/** A shard's window read (window-1.lua). */
export interface WindowRead {
  /** Flat pairs [dueMs, tasks due in it, dueMs, tasks, …], in ascending ms. */
  counts: number[];
  /** Tasks read: the limit when the read was cut off. */
  tasksRead: number;
  /** Score of the last task read (undefined when none was). */
  lastScore: string | undefined;
  /** A task is due by the probe score (a backlog, or one whose hint was lost). */
  dueNow: boolean;
}

export interface AttemptStore {
  window(shard: number, fromScoreExclusive: number | "-inf", toScoreInclusive: number, limit: number, probeToScore: number): Promise<WindowRead>;
  claim(shard: number, token: string, upToScoreExclusive: number, limit: number, visibilityDeadlineMs: number): Promise<ClaimedBatch | null | LeaseLost>;
  finish(shard: number, token: string, nowMs: number, deadRetentionMs: number, items: FinishItem[], doneBatches?: string[]): Promise<boolean[] | LeaseLost>;
  retry(shard: number, token: string, id: string, batch: string, attempt: number, score: string, error: string): Promise<boolean | LeaseLost>;
  reap(shard: number, token: string, nowMs: number, limit: number, liveNodeIds?: readonly string[] | null): Promise<{ entries: { id: string; score: string }[]; more: boolean } | LeaseLost>;
  extend(shard: number, token: string, deadlineMs: number, batches: string[]): Promise<number | LeaseLost>;
  park(shard: number, token: string, id: string, batch: string, name: string): Promise<ParkOutcome>;
  promote(shard: number, token: string, slots: number[], upToScore: number): Promise<number | LeaseLost>;
}

export class RedisAttemptStore implements AttemptStore {
  private readonly runner: ScriptRunner;
  private readonly keyBook: KeyBook;

  constructor(runner: ScriptRunner, keyBook: KeyBook) {
    this.runner = runner;
    this.keyBook = keyBook;
  }

  /**
   * What a shard actor loads into its wheel: how many tasks fall due in each
   * ms of (fromScore, toScore], at most `limit` tasks in due order, and
   * whether anything is due by probeToScore. One script (window-1.lua), never
   * ids or payloads.
   */
  async window(
    shard: number,
    fromScoreExclusive: number | "-inf",
    toScoreInclusive: number,
    limit: number,
    probeToScore: number,
  ): Promise<WindowRead> {
    const reply = (await this.runner.run("window", [this.keyBook.shard(shard).due], [fromScoreExclusive, toScoreInclusive, limit, probeToScore])) as [
      string,
      number,
      string,
      number,
    ];
    const [counts, read, last, probe] = reply;
    return { counts: decodeCounts(String(counts)), tasksRead: Number(read), lastScore: last === "" ? undefined : String(last), dueNow: Number(probe) > 0 };
  }

  async claim(
    shard: number,
    token: string,
    upToScoreExclusive: number,
    limit: number,
    visibilityDeadlineMs: number,
  ): Promise<ClaimedBatch | null | LeaseLost> {
    const keys = this.keyBook.shard(shard);
    const claimKeys = [keys.due, keys.tasks, keys.claims, keys.batches, keys.batchSeq, keys.lease];
    const claimArgs = [token, upToScoreExclusive, limit, visibilityDeadlineMs];
    // A large claim goes out at once instead of with the connection's next automatic pipeline
    // (at the end of this event-loop turn): in a burst, Redis then runs it while the node is
    // still starting the tasks of the claims that came back with it, instead of taking turns.
    const reply = limit >= PROMPT_CLAIM_MIN ? await this.runner.runNow("claim", claimKeys, claimArgs) : await this.runner.runBuffer("claim", claimKeys, claimArgs);
    if (!Array.isArray(reply)) return String(reply) === LEASE_LOST ? LEASE_LOST : null;
    // The batch id, and one string: id and record of each task, joined by "\0" (see claim-6.lua).
    // Buffers from ioredis, strings from Bun's client (lean-scripts.ts).
    const [batch, packed] = reply as [Buffer | string, Buffer | string];
    const flat = (typeof packed === "string" ? packed : decodeText(packed)).split("\0");
    const tasks: ClaimedTask[] = new Array(flat.length >> 1);
    for (let i = 0, j = 0; i < flat.length; i += 2, j++) {
      tasks[j] = { id: flat[i]!, record: flat[i + 1]! };
    }
    return { batch: typeof batch === "string" ? batch : batch.toString("utf8"), tasks };
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
    const keys = this.keyBook.shard(shard);
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
        packed[k++] = item.finalTail;
        order.push(i);
      }
      args.push(group.batch, group.expiry, group.state, group.order.length, packed.join("\0"));
    }
    const reply = await this.runner.run(
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
    const keys = this.keyBook.shard(shard);
    const reply = await this.runner.run(
      "retry",
      [keys.claims, keys.due, keys.tasks, keys.err, keys.lease],
      // The done prefix and time feed the console's failed index and attempt history (lib/console.lua).
      [token, id, batch, attempt, score, error, keys.donePrefix, Date.now()],
    );
    return reply === LEASE_LOST ? LEASE_LOST : reply === 1;
  }

  /**
   * Puts the attempts of batches past their visibility deadline back in
   * `due`, looking at about `limit` tasks; `more`: call again at once. With
   * `liveNodeIds`, also the batches claimed by a node not among them (gone
   * from the registry), whatever their deadline (see reap-5.lua).
   */
  async reap(
    shard: number,
    token: string,
    nowMs: number,
    limit: number,
    liveNodeIds: readonly string[] | null = null,
  ): Promise<{ entries: { id: string; score: string }[]; more: boolean } | LeaseLost> {
    const keys = this.keyBook.shard(shard);
    const reply = await this.runner.run(
      "reap",
      [keys.claims, keys.batches, keys.due, keys.tasks, keys.lease],
      [token, nowMs, limit, liveNodeIds === null ? "" : liveNodeIds.join("\n")],
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
    const keys = this.keyBook.shard(shard);
    const reply = await this.runner.run("extend", [keys.claims, keys.lease], [token, deadlineMs, ...batches]);
    return reply === LEASE_LOST ? LEASE_LOST : (reply as number);
  }

  /** A claimed task of a paused name goes back without starting (see park-7.lua). */
  async park(shard: number, token: string, id: string, batch: string, name: string): Promise<ParkOutcome> {
    const keys = this.keyBook.shard(shard);
    return (await this.runner.run(
      "park",
      [keys.claims, keys.due, keys.tasks, this.keyBook.pausedSet(shard), this.keyBook.parked(shard, name), keys.lease, keys.batches],
      [token, id, batch, name, PARK_OFFSET],
    )) as ParkOutcome;
  }

  /**
   * Moves the cold tasks of the given hash slots (of this shard) that are due
   * before upToScore into `due` (see promote-4.lua); returns how many moved.
   */
  async promote(shard: number, token: string, slots: number[], upToScore: number): Promise<number | LeaseLost> {
    if (slots.length === 0) return 0;
    const keys = this.keyBook.shard(shard);
    const reply = await this.runner.run("promote", [keys.due, keys.tasks, keys.coldCount, keys.lease], [token, keys.coldPrefix, upToScore, ...slots]);
    return reply === LEASE_LOST ? LEASE_LOST : Number(reply);
  }
}

/**
 * Text of a large reply (UTF-8). Measured on Bun 1.4.5: a 140-kB reply of
 * ASCII (ids, numbers, JSON of task args: the usual case) decodes as UTF-8 in
 * 7 µs and as latin1 in 190 µs, so the latin1-first decoding this replaced (on
 * the belief that one byte per char was cheaper, plus a scan for non-ASCII
 * bytes) was a tenth of the node's CPU in a burst.
 */
function decodeText(bytes: Buffer): string {
  return bytes.toString("utf8");
}

/**
 * window-1.lua's counts, "<gap>:<count>" joined by ",", each gap the ms after
 * the previous entry's (the first: the ms itself), as flat [ms, count] pairs.
 * Read digit by digit: no string per entry.
 */
export function decodeCounts(text: string): number[] {
  const out: number[] = [];
  let ms = 0;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 58) {
      // ":" ends a gap
      ms += value;
      out.push(ms);
      value = 0;
    } else if (code === 44) {
      // "," ends a count
      out.push(value);
      value = 0;
    } else if (code >= 48 && code <= 57) {
      value = value * 10 + (code - 48);
    } else {
      throw new Error(`window read: unexpected ${JSON.stringify(text[i])} at ${i} of its counts`);
    }
  }
  if (text.length > 0) out.push(value);
  if (out.length % 2 !== 0) throw new Error("window read: counts end inside an entry");
  return out;
}
