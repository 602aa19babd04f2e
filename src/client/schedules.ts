/**
 * The producer's side of recurring schedules (Client.schedules): create or replace, read, list,
 * pause, resume, delete. Each change reads the schedule (with its last occurrence's state),
 * decides with schedule/schedule-changes.ts, and writes with one compare-and-set script that also
 * takes back and plants occurrences; a write that lost a race with the planter or another caller
 * reads again. Like scheduling a task, it needs no node: a client straight on Redis works.
 */
import { invalid, TickwheelError } from "../task/errors.ts";
import type { TaskDefaults } from "../task/schedule-input.ts";
import type { TaskState, TaskView } from "../task/model.ts";
import { decideChange, type LastState, type ReadSchedule, type ScheduleChange, type ScheduleWrite } from "../schedule/schedule-changes.ts";
import { checkScheduleName, fireTimesOf, resolveSchedule, type MisfirePolicy, type OverlapPolicy, type ScheduleDefinition, type TaskTemplate } from "../schedule/schedule-input.ts";
import { decodeSchedule, type ScheduleState } from "../schedule/schedule-record.ts";
import { occurrenceRecords, type PlantedOccurrence } from "../schedule/occurrences.ts";
import { occurrenceId } from "../task/occurrence-id.ts";
import { isoInZone } from "../schedule/fire-times.ts";
import type { LeaseLost } from "../store/outcomes.ts";
import type { OutboundPolicy } from "../core/outbound-policy.ts";
import type { ShardMap } from "../core/shard-map.ts";
import { keySlot } from "../core/slot.ts";

/** The store part the client uses (store/schedules.ts). */
export interface ScheduleStorePart {
  readSchedule(shard: number, name: string): Promise<{ stored: string; last: LastState } | null>;
  writeSchedule(shard: number, leaseToken: string | null, write: ScheduleWrite, occurrences: PlantedOccurrence[], nowMs: number): Promise<"ok" | "conflict" | LeaseLost>;
  /** Many of one shard's schedules, in order (null: absent). */
  readSchedules(shard: number, names: readonly string[]): Promise<({ stored: string; last: LastState } | null)[]>;
  /** Many unfenced writes on one shard, compare-and-set each: "conflict" for those whose version moved. */
  writeSchedules(shard: number, writes: { write: ScheduleWrite; occurrences: PlantedOccurrence[] }[], nowMs: number): Promise<("ok" | "conflict")[]>;
  /** One page of a shard's schedules whose name starts with `prefix` (HSCAN: unordered). */
  scanSchedules(shard: number, prefix: string, cursor: string, count: number): Promise<{ cursor: string; entries: { name: string; stored: string }[] }>;
}

export interface ScheduleClientDeps {
  store: ScheduleStorePart;
  /** The cluster's shard map (a schedule lives on the shard of its name's hash slot). */
  shards: () => Promise<ShardMap>;
  /** Reads the shard map again now (a schedule not found may have moved in a resize the map missed). */
  reloadShards?: () => Promise<ShardMap>;
  /** Whether a schedule is on its way out of a source shard (its outbox, store/reshard-moves.ts). */
  inTransit?: (shard: number, name: string) => Promise<boolean>;
  getTask: (id: string) => Promise<TaskView | null>;
  defaults: TaskDefaults;
  /** Outbound policy webhook targets of templates are checked against. */
  outboundPolicy?: OutboundPolicy;
  now?: () => number;
}

export interface ScheduleView {
  name: string;
  cron?: string;
  /** ms between occurrences. */
  every?: number;
  tz: string;
  task: TaskTemplate;
  startAt?: number;
  endAt?: number;
  misfire: MisfirePolicy;
  overlap: OverlapPolicy;
  paused: boolean;
  /** The next fire times (up to 5) as ISO-8601 in the schedule's zone; none while paused. */
  next: string[];
  /** When the next occurrence is due (ms); null while paused or after endAt. */
  nextDueAt: number | null;
  /** The latest occurrence whose time has come, and its task's state ("gone": no record left). */
  lastOccurrence: { id: string; at: string; state: TaskState | "gone" } | null;
  shard: number;
  createdAt: number;
  updatedAt: number;
}

export interface ScheduleListOptions {
  /** Only names starting with this. */
  prefix?: string;
  /** 1 … 500, default 50. */
  limit?: number;
  cursor?: string;
}

export interface ScheduleListResult {
  schedules: ScheduleView[];
  nextCursor: string | null;
}

/** What putMany answers for an item it stored. */
export interface SchedulePutManyResult {
  name: string;
  /** False: a schedule of this name existed and was replaced (from its next occurrence). */
  created: boolean;
  shard: number;
  /** When its next occurrence is due (ms); null while paused or after endAt. */
  nextDueAt: number | null;
}

const MAX_ATTEMPTS_ON_CONFLICT = 8;
/** A schedule in a resize's outbox lands within a mover step (ms); a mover that died leaves it for the next owner. */
const IN_TRANSIT_WAIT_MS = 5_000;
const IN_TRANSIT_POLL_MS = 10;
const MAX_LIST_LIMIT = 500;
/**
 * Schedules read, decided and written per round and shard in putMany: one HMGET and a few
 * write-many script calls (store/schedules.ts WRITE_MANY_CHUNK each) per round, and ~2,000 ×
 * ~20 µs of deciding in between, so one shard's Redis work overlaps another shard's deciding.
 */
const PUT_MANY_ROUND = 2_000;

interface ManyPending {
  index: number;
  name: string;
  definition: ScheduleDefinition;
}

export class ScheduleClient {
  private readonly deps: ScheduleClientDeps;
  private readonly now: () => number;

  constructor(deps: ScheduleClientDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
  }

  /** Creates or replaces a schedule (see docs/schedules.md). */
  async put(name: string, input: unknown): Promise<{ created: boolean; schedule: ScheduleView }> {
    checkScheduleName(name);
    const definition = resolveSchedule(input, this.deps.outboundPolicy);
    let created = false;
    const state = await this.change(name, { kind: "put", definition }, (current) => {
      created = current === null;
    });
    return { created, schedule: await this.view(state!) };
  }

  /**
   * Creates or replaces many schedules (bulk creation, e.g. one per tenant). Each item is
   * `{ name, ...definition }` as `put` takes it; the answer has one entry per item, in order: what
   * was stored, or the TickwheelError that item alone would have got (naming its field), the
   * others stored regardless. A name given twice is refused at its second place. Semantics are
   * put's: compare-and-set on the version read, the first occurrence planted in the same script;
   * the work is grouped by shard and each group written with one script call per few hundred.
   */
  async putMany(items: readonly unknown[]): Promise<(SchedulePutManyResult | TickwheelError)[]> {
    const results: (SchedulePutManyResult | TickwheelError)[] = new Array(items.length);
    const shards = await this.deps.shards();
    const firstIndex = new Map<string, number>();
    const byShard = new Map<number, ManyPending[]>();
    items.forEach((raw, index) => {
      try {
        if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw invalid("name", "expected an object: { name, ...the schedule's fields }");
        const { name, ...input } = raw as Record<string, unknown>;
        checkScheduleName(name);
        const earlier = firstIndex.get(name as string);
        if (earlier !== undefined) throw invalid("name", `${JSON.stringify(name)} is already item ${earlier} of this batch`);
        const definition = resolveSchedule(input, this.deps.outboundPolicy);
        // Only an item that will be written claims its name (a refused one leaves it to a later item).
        firstIndex.set(name as string, index);
        const shard = shards.shardOf(name as string);
        let group = byShard.get(shard);
        if (!group) byShard.set(shard, (group = []));
        group.push({ index, name: name as string, definition });
      } catch (error) {
        if (!(error instanceof TickwheelError)) throw error;
        results[index] = error;
      }
    });
    await Promise.all([...byShard].map(([shard, group]) => this.putGroup(shards, shard, group, results)));
    return results;
  }

  /** putMany on one shard, PUT_MANY_ROUND items at a time. */
  private async putGroup(shards: ShardMap, shard: number, group: ManyPending[], results: (SchedulePutManyResult | TickwheelError)[]): Promise<void> {
    for (let from = 0; from < group.length; from += PUT_MANY_ROUND) {
      const round = group.slice(from, from + PUT_MANY_ROUND);
      try {
        await this.putRound(shards, shard, round, results);
      } catch (error) {
        // Redis refused (out of memory, read-only, unreachable…): the round's items not answered
        // yet get the refusal; what other rounds and shards stored stays stored.
        if (!(error instanceof TickwheelError)) throw error;
        for (const item of round) if (results[item.index] === undefined) results[item.index] = error;
      }
    }
  }

  /** read → decide → write-many for one round; the items that lost a race go again. */
  private async putRound(shards: ShardMap, shard: number, round: ManyPending[], results: (SchedulePutManyResult | TickwheelError)[]): Promise<void> {
    let pending = round;
    for (let attempt = 0; attempt < MAX_ATTEMPTS_ON_CONFLICT && pending.length > 0; attempt++) {
      const reads = await this.deps.store.readSchedules(shard, pending.map((item) => item.name));
      const nowMs = this.now();
      const writes: { write: ScheduleWrite; occurrences: PlantedOccurrence[] }[] = [];
      const written: { item: ManyPending; created: boolean }[] = [];
      pending.forEach((item, i) => {
        const read = reads[i]!;
        const current = read === null ? null : { state: decodeSchedule(item.name, read.stored), last: read.last };
        try {
          const write = decideChange(item.name, { kind: "put", definition: item.definition }, current, nowMs)!;
          const occurrences = occurrenceRecords(item.name, item.definition, write.plant, {
            nowMs,
            shards,
            defaults: this.deps.defaults,
            ...(this.deps.outboundPolicy && { outboundPolicy: this.deps.outboundPolicy }),
          });
          writes.push({ write, occurrences });
          written.push({ item, created: current === null });
        } catch (error) {
          if (!(error instanceof TickwheelError)) throw error;
          results[item.index] = error;
        }
      });
      const outcomes = await this.deps.store.writeSchedules(shard, writes, nowMs);
      pending = [];
      outcomes.forEach((outcome, i) => {
        const { item, created } = written[i]!;
        if (outcome === "conflict") {
          pending.push(item);
          return;
        }
        const nextDueAt = item.definition.paused ? null : fireTimesOf(item.definition).next(nowMs);
        results[item.index] = { name: item.name, created, shard, nextDueAt };
      });
    }
    for (const item of pending) results[item.index] = new TickwheelError("conflict", `schedule ${JSON.stringify(item.name)} kept changing; try again`, "name");
  }

  async get(name: string): Promise<ScheduleView | null> {
    checkScheduleName(name);
    const { read } = await this.locate(name, await this.deps.shards());
    return read === null ? null : this.view(decodeSchedule(name, read.stored));
  }

  async pause(name: string): Promise<ScheduleView> {
    return this.view(await this.existing(name, { kind: "pause" }));
  }

  async resume(name: string): Promise<ScheduleView> {
    return this.view(await this.existing(name, { kind: "resume" }));
  }

  /** Removes a schedule and takes back its occurrences that have not started. */
  async delete(name: string): Promise<{ deleted: boolean }> {
    checkScheduleName(name);
    let found = true;
    await this.change(name, { kind: "delete" }, (current) => {
      found = current !== null;
    });
    return { deleted: found };
  }

  /** Pages through the schedules, shard by shard (unordered within a shard). */
  async list(options: ScheduleListOptions = {}): Promise<ScheduleListResult> {
    const limit = options.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) throw invalid("limit", `expected an integer from 1 to ${MAX_LIST_LIMIT}`);
    const prefix = options.prefix ?? "";
    if (prefix !== "" && !/^[A-Za-z0-9._:-]{1,128}$/.test(prefix)) throw invalid("prefix", "expected the start of a schedule name (letters, digits, '.', '_', ':', '-')");
    // While a resize runs, schedules are in the old and the new shards (span).
    const shardCount = (await this.deps.shards()).span;
    let [shard, cursor, after] = decodeListCursor(options.cursor, shardCount);
    const states: ScheduleState[] = [];
    while (shard < shardCount && states.length < limit) {
      const page = await this.deps.store.scanSchedules(shard, prefix, cursor, Math.max(limit - states.length, 10));
      // HSCAN's COUNT is a hint: a small hash comes back whole in one call. What does not fit this
      // page is left for the next one, which scans the same step again and goes on after the last
      // name given here (by name order, so a schedule added or removed meanwhile shifts nothing).
      let entries = page.entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      if (after !== null) entries = entries.filter((entry) => entry.name > after!);
      const room = limit - states.length;
      if (entries.length > room) {
        for (const entry of entries.slice(0, room)) states.push(decodeSchedule(entry.name, entry.stored));
        after = entries[room - 1]!.name;
        break;
      }
      for (const entry of entries) states.push(decodeSchedule(entry.name, entry.stored));
      after = null;
      if (page.cursor === "0") {
        shard++;
        cursor = "0";
      } else {
        cursor = page.cursor;
      }
    }
    const nextCursor = shard < shardCount ? `${shard}:${cursor}${after === null ? "" : `:${after}`}` : null;
    return { schedules: await Promise.all(states.map((state) => this.view(state))), nextCursor };
  }

  private async existing(name: string, change: ScheduleChange): Promise<ScheduleState> {
    checkScheduleName(name);
    const state = await this.change(name, change, () => {});
    if (state === null) throw new TickwheelError("not_found", `no schedule ${JSON.stringify(name)}`, "name");
    return state;
  }

  /** read → decide → compare-and-set write, again on a lost race. Returns the schedule as written. */
  private async change(name: string, change: ScheduleChange, onRead: (current: ReadSchedule | null) => void): Promise<ScheduleState | null> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS_ON_CONFLICT; attempt++) {
      // Written where it is: while a resize moves its slot, that can still be the old shard (a
      // write there that the move beat finds no schedule, and this loop reads again).
      const { shard, read, shards } = await this.locate(name, await this.deps.shards());
      const current = read === null ? null : { state: decodeSchedule(name, read.stored), last: read.last };
      onRead(current);
      const nowMs = this.now();
      const write = decideChange(name, change, current, nowMs);
      if (write === null) return current?.state ?? null;
      const definition = write.state?.definition ?? current!.state.definition;
      const occurrences = occurrenceRecords(name, definition, write.plant, { nowMs, shards, defaults: this.deps.defaults, ...(this.deps.outboundPolicy && { outboundPolicy: this.deps.outboundPolicy }) });
      const result = await this.deps.store.writeSchedule(shard, null, write, occurrences, nowMs);
      if (result === "ok") return write.state;
    }
    throw new TickwheelError("conflict", `schedule ${JSON.stringify(name)} kept changing; try again`, "name");
  }

  private async shard(name: string): Promise<number> {
    return (await this.deps.shards()).shardOf(name);
  }

  /**
   * The shard that holds a schedule now, with what it holds: its shard by the map, or while a
   * resize moves its slot and it has not moved yet, the old one (docs/resharding.md). Not found:
   * its shard by the map (where a new one is written).
   */
  private async locate(
    name: string,
    shards: ShardMap,
    reloaded = false,
  ): Promise<{ shard: number; read: { stored: string; last: LastState } | null; shards: ShardMap }> {
    const shard = shards.shardOf(name);
    const read = await this.deps.store.readSchedule(shard, name);
    if (read !== null) return { shard, read, shards };
    const source = shards.sourceOfSlot(keySlot(name));
    const old = source === null ? null : await this.deps.store.readSchedule(source, name);
    if (old !== null) return { shard: source!, read: old, shards };
    // Between the two shards (a few ms): wait for it to land rather than take it for absent.
    if (source !== null && this.deps.inTransit) {
      for (let waited = 0; waited < IN_TRANSIT_WAIT_MS && (await this.deps.inTransit(source, name)); waited += IN_TRANSIT_POLL_MS) {
        await Bun.sleep(IN_TRANSIT_POLL_MS);
      }
      const landed = await this.deps.store.readSchedule(shard, name);
      if (landed !== null) return { shard, read: landed, shards };
    }
    // Not found: a map read up to a second ago may have missed a resize that moved it; look again
    // with a fresh one (as task reads do).
    if (!reloaded && this.deps.reloadShards) {
      const fresh = await this.deps.reloadShards();
      if (fresh.epoch !== shards.epoch) return this.locate(name, fresh, true);
    }
    return { shard, read: null, shards };
  }

  private async view(state: ScheduleState): Promise<ScheduleView> {
    const d = state.definition;
    const nowMs = this.now();
    const fire = fireTimesOf(d);
    const next = d.paused ? [] : fire.nextN(5, nowMs);
    const nextIso = next.map((atMs) => isoInZone(atMs, d.tz));
    const nextDueAt = next[0] ?? null;
    // The latest planted occurrence whose time has come and that still has a record (one taken
    // back by a pause or an update has none): the last of the two the schedule remembers.
    let lastOccurrence: ScheduleView["lastOccurrence"] = null;
    for (const atMs of [state.lastAtMs, state.prevAtMs]) {
      if (atMs === null || atMs > nowMs) continue;
      const id = occurrenceId(state.name, atMs);
      const task = await this.deps.getTask(id);
      const found = { id, at: isoInZone(atMs, d.tz), state: task?.state ?? ("gone" as const) };
      if (lastOccurrence === null || task !== null) lastOccurrence = found;
      if (task !== null) break;
    }
    const view: ScheduleView = {
      name: state.name,
      tz: d.tz,
      task: d.task,
      misfire: d.misfire,
      overlap: d.overlap,
      paused: d.paused,
      next: nextIso,
      nextDueAt,
      lastOccurrence,
      shard: await this.shard(state.name),
      createdAt: state.createdAt,
      updatedAt: state.updatedAt,
    };
    if (d.rule.kind === "cron") view.cron = d.rule.cron;
    else view.every = d.rule.everyMs;
    if (d.startAtMs !== null) view.startAt = d.startAtMs;
    if (d.endAtMs !== null) view.endAt = d.endAtMs;
    return view;
  }
}

/** "<shard>:<scan cursor>" or, inside one scan step, "<shard>:<scan cursor>:<last name given>". */
function decodeListCursor(cursor: string | undefined, shardCount: number): [number, string, string | null] {
  if (cursor === undefined || cursor === "") return [0, "0", null];
  const match = /^(\d+):(\d+)(?::([A-Za-z0-9._:-]{1,200}))?$/.exec(cursor);
  if (!match || Number(match[1]) >= shardCount) throw invalid("cursor", "expected the nextCursor of a previous page");
  return [Number(match[1]), match[2]!, match[3] ?? null];
}
