/**
 * Schedules: the recurring schedules of each shard (docs/schedules.md). A schedule lives on the
 * shard of its name's hash slot, in that shard's schedules hash, with its planter wake time in the
 * shard's wake set; its occurrences are ordinary tasks of the same shard. Two scripts:
 * schedule-write (the one way a schedule changes: compare-and-set, taking back and planting
 * occurrences with it) and schedule-due (what the shard's planter has to look at now), plus two
 * plain reads for the API.
 */
import type { KeyBook } from "./keys.ts";
import type { ScriptRunner } from "./script-runner.ts";
import { LEASE_LOST, type LeaseLost } from "./outcomes.ts";
import type { LastState, ScheduleWrite } from "../schedule/schedule-changes.ts";
import { encodeSchedule } from "../schedule/schedule-record.ts";
import { occurrenceId } from "../task/occurrence-id.ts";
import type { PlantedOccurrence } from "../schedule/occurrences.ts";

/** How far ahead a planted occurrence gets a wake hint: the nodes' look-ahead window at most. */
const HINT_HORIZON_MS = 2_000;

/**
 * Schedules per schedule-write-many call: a call is one script on one shard, and a few hundred
 * schedules (each a CAS, a write, a wake entry and an occurrence) keep it to a few ms of Redis.
 */
export const WRITE_MANY_CHUNK = 500;

const STATES: Record<string, LastState> = { n: "none", p: "pending", r: "running", e: "ended" };

/** A schedule whose planter wake time has come, with the state of its last planted occurrence. */
export interface DueSchedule {
  name: string;
  stored: string;
  last: LastState;
}

export class RedisSchedules {
  private readonly runner: ScriptRunner;
  private readonly keyBook: KeyBook;

  constructor(runner: ScriptRunner, keyBook: KeyBook) {
    this.runner = runner;
    this.keyBook = keyBook;
  }

  /** One write (schedule/schedule-changes.ts): "conflict" when the version moved meanwhile. */
  async writeSchedule(shard: number, leaseToken: string | null, write: ScheduleWrite, occurrences: PlantedOccurrence[], nowMs: number): Promise<"ok" | "conflict" | LeaseLost> {
    const keys = this.keyBook.shard(shard);
    const planted: string[] = [];
    for (const occurrence of occurrences) planted.push(occurrence.id, occurrence.score, occurrence.record);
    const withdraw = write.withdraw.map((atMs) => occurrenceId(write.name, atMs));
    const reply = await this.runner.run(
      "scheduleWrite",
      [this.keyBook.schedules(shard), this.keyBook.scheduleWake(shard), keys.due, keys.tasks, keys.lease],
      [
        leaseToken ?? "",
        write.name,
        write.expectedVersion,
        write.state === null ? "" : encodeSchedule(write.state),
        write.wakeAtMs === null ? "" : write.wakeAtMs,
        withdraw.join("\0"),
        planted.join("\0"),
        keys.wake,
        this.runner.publish,
        nowMs + HINT_HORIZON_MS,
        // The planter (fenced) plants only after the cursor: nothing it plants can have run.
        leaseToken === null ? keys.donePrefix : "",
      ],
    );
    if (reply === LEASE_LOST) return LEASE_LOST;
    return (reply as [string, unknown])[0] === "ok" ? "ok" : "conflict";
  }

  /**
   * Many API writes on one shard (bulk creation): per write "ok" or "conflict" (its version
   * moved meanwhile; nothing written for it), the same semantics as writeSchedule, one script
   * call per WRITE_MANY_CHUNK writes, sent together.
   */
  async writeSchedules(shard: number, writes: { write: ScheduleWrite; occurrences: PlantedOccurrence[] }[], nowMs: number): Promise<("ok" | "conflict")[]> {
    if (writes.length === 0) return [];
    const keys = this.keyBook.shard(shard);
    const scriptKeys = [this.keyBook.schedules(shard), this.keyBook.scheduleWake(shard), keys.due, keys.tasks, keys.lease];
    const calls: Promise<unknown>[] = [];
    for (let from = 0; from < writes.length; from += WRITE_MANY_CHUNK) {
      const argv: (string | number)[] = ["", keys.wake, this.runner.publish, nowMs + HINT_HORIZON_MS, keys.donePrefix];
      for (const { write, occurrences } of writes.slice(from, from + WRITE_MANY_CHUNK)) {
        const planted: string[] = [];
        for (const occurrence of occurrences) planted.push(occurrence.id, occurrence.score, occurrence.record);
        argv.push(
          write.name,
          write.expectedVersion,
          write.state === null ? "" : encodeSchedule(write.state),
          write.wakeAtMs === null ? "" : write.wakeAtMs,
          write.withdraw.map((atMs) => occurrenceId(write.name, atMs)).join("\0"),
          planted.join("\0"),
        );
      }
      calls.push(this.runner.run("scheduleWriteMany", scriptKeys, argv));
    }
    const replies = await Promise.all(calls);
    const results: ("ok" | "conflict")[] = [];
    for (const reply of replies) for (const flag of String(reply)) results.push(flag === "1" ? "ok" : "conflict");
    return results;
  }

  /**
   * Many schedules of one shard and their last occurrences' states, in order (null: absent):
   * one HMGET, then the state reads of the ones that exist, pipelined. Like readSchedule, the
   * state only guides a decision the write re-checks by version.
   */
  async readSchedules(shard: number, names: readonly string[]): Promise<({ stored: string; last: LastState } | null)[]> {
    if (names.length === 0) return [];
    const keys = this.keyBook.shard(shard);
    const values = await this.runner.redis.hmget(this.keyBook.schedules(shard), ...names);
    const reads: ({ stored: string; last: LastState } | null)[] = new Array(names.length).fill(null);
    const pending: { index: number; lastId: string }[] = [];
    values.forEach((stored, index) => {
      if (stored === null) return;
      const tab = stored.indexOf("\t");
      const lastId = stored.slice(tab + 1, stored.indexOf("\n", tab));
      reads[index] = { stored, last: "none" };
      if (lastId !== "") pending.push({ index, lastId });
    });
    if (pending.length > 0) {
      const pipeline = this.runner.redis.pipeline();
      for (const { lastId } of pending) pipeline.zscore(keys.due, lastId).hexists(keys.tasks, lastId);
      const replies = (await pipeline.exec()) ?? [];
      pending.forEach(({ index }, i) => {
        const [scoreError, score] = replies[2 * i] ?? [null, null];
        const [existsError, exists] = replies[2 * i + 1] ?? [null, 0];
        if (scoreError || existsError) throw scoreError ?? existsError;
        reads[index]!.last = score !== null ? "pending" : exists === 1 ? "running" : "ended";
      });
    }
    return reads;
  }

  /**
   * The planter's writes of one step in one fenced script (schedule-plant-5.lua): per write
   * "ok", or "conflict" when its version moved meanwhile. Writes take nothing back.
   */
  async plantSchedules(shard: number, leaseToken: string, writes: { write: ScheduleWrite; occurrences: PlantedOccurrence[] }[], nowMs: number): Promise<("ok" | "conflict")[] | LeaseLost> {
    if (writes.length === 0) return [];
    const keys = this.keyBook.shard(shard);
    const argv: (string | number)[] = [leaseToken, keys.wake, this.runner.publish, nowMs + HINT_HORIZON_MS];
    for (const { write, occurrences } of writes) {
      const planted: string[] = [];
      for (const occurrence of occurrences) planted.push(occurrence.id, occurrence.score, occurrence.record);
      argv.push(write.name, write.expectedVersion, write.state === null ? "" : encodeSchedule(write.state), write.wakeAtMs === null ? "" : write.wakeAtMs, planted.join("\0"));
    }
    const reply = await this.runner.run("schedulePlant", [this.keyBook.schedules(shard), this.keyBook.scheduleWake(shard), keys.due, keys.tasks, keys.lease], argv);
    if (reply === LEASE_LOST) return LEASE_LOST;
    return [...String(reply)].map((flag) => (flag === "1" ? "ok" : "conflict"));
  }

  /** The schedules whose wake time is at or before `upToMs`, with their last occurrence's state. */
  async dueSchedules(shard: number, leaseToken: string, upToMs: number, limit: number): Promise<{ schedules: DueSchedule[]; nextWakeMs: number | null } | LeaseLost> {
    const keys = this.keyBook.shard(shard);
    const reply = await this.runner.run(
      "scheduleDue",
      [this.keyBook.scheduleWake(shard), this.keyBook.schedules(shard), keys.due, keys.tasks, keys.lease],
      [leaseToken, upToMs, limit],
    );
    if (reply === LEASE_LOST) return LEASE_LOST;
    const flat = reply as string[];
    const schedules: DueSchedule[] = [];
    for (let i = 1; i + 2 < flat.length; i += 3) schedules.push({ name: flat[i]!, stored: flat[i + 1]!, last: STATES[flat[i + 2]!] ?? "none" });
    return { schedules, nextWakeMs: flat[0] === "" ? null : Number(flat[0]) };
  }

  /** One schedule and its last occurrence's state (unfenced: any node or client reads). */
  async readSchedule(shard: number, name: string): Promise<{ stored: string; last: LastState } | null> {
    const keys = this.keyBook.shard(shard);
    const stored = await this.runner.redis.hget(this.keyBook.schedules(shard), name);
    if (stored === null) return null;
    const tab = stored.indexOf("\t");
    const lastId = stored.slice(tab + 1, stored.indexOf("\n", tab));
    if (lastId === "") return { stored, last: "none" };
    // Two reads, not a script: the state only guides a decision that the write re-checks by version.
    const [score, exists] = await Promise.all([this.runner.redis.zscore(keys.due, lastId), this.runner.redis.hexists(keys.tasks, lastId)]);
    return { stored, last: score !== null ? "pending" : exists === 1 ? "running" : "ended" };
  }

  /** A page of a shard's schedules whose names start with `prefix` (HSCAN: unordered, may repeat across pages only while the hash grows). */
  async scanSchedules(shard: number, prefix: string, cursor: string, count: number): Promise<{ cursor: string; entries: { name: string; stored: string }[] }> {
    // Names cannot hold glob characters (schedule-input.ts): the prefix needs no escaping.
    const [next, flat] = await this.runner.redis.hscan(this.keyBook.schedules(shard), cursor, "MATCH", `${prefix}*`, "COUNT", count);
    const entries: { name: string; stored: string }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) entries.push({ name: flat[i]!, stored: flat[i + 1]! });
    return { cursor: next, entries };
  }

  /** How many schedules a shard holds (admin views, bench). */
  async count(shard: number): Promise<number> {
    return this.runner.redis.hlen(this.keyBook.schedules(shard));
  }
}
