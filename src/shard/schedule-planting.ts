/**
 * The per-shard duty that keeps every active schedule of one shard planted (a ShardDuty the
 * shard actor runs beside claiming, like cold promotion). A step reads the schedules whose wake
 * time has come (store: dueSchedules), decides each with the planting rule (schedule-changes.ts
 * "plant"), and writes each decision in one lease-fenced script that plants the occurrences and
 * moves the schedule together. Only the shard's owner plants; a new owner finds every schedule
 * where the last one left it (its wake time is in Redis), so a node dying between two
 * occurrences loses nothing: the next owner plants.
 *
 * What (the decision) is split from when: settle answers the delay until the earliest wake time
 * the step saw, and at most POLL_MS, to find schedules written by other nodes (their writes plant
 * what falls due before then themselves: WRITE_PLANT_AHEAD_MS, schedule/schedule-changes.ts).
 */
import type { LeaseLost } from "../store/outcomes.ts";
import type { DueSchedule } from "../store/schedules.ts";
import type { ShardMap } from "../core/shard-map.ts";
import type { TaskDefaults } from "../task/schedule-input.ts";
import type { Logger } from "../core/log.ts";
import { decideChange, type ScheduleWrite } from "../schedule/schedule-changes.ts";
import { decodeSchedule } from "../schedule/schedule-record.ts";
import { occurrenceRecords, type PlantedOccurrence } from "../schedule/occurrences.ts";
import type { ShardDuty } from "./shard-duty.ts";
import type { OutboundPolicy } from "../core/outbound-policy.ts";

/**
 * The part of the store the planter uses (store/schedules.ts). Not in ShardStore (ports.ts), which
 * picks from the attempts part: schedules are their own part, handed to this duty directly.
 */
export interface PlanterStore {
  dueSchedules(shard: number, leaseToken: string, upToMs: number, limit: number): Promise<{ schedules: DueSchedule[]; nextWakeMs: number | null } | LeaseLost>;
  plantSchedules(shard: number, leaseToken: string, writes: { write: ScheduleWrite; occurrences: PlantedOccurrence[] }[], nowMs: number): Promise<("ok" | "conflict")[] | LeaseLost>;
}

export interface SchedulePlantingOptions {
  shard: number;
  leaseToken: string;
  schedules: PlanterStore;
  /** The shard map occurrences are resolved with (their shard is the schedule's); a function while a resize may replace it. */
  shards: ShardMap | (() => ShardMap);
  defaults: TaskDefaults;
  /** The node's outbound policy for webhook targets. */
  outboundPolicy?: OutboundPolicy;
  log: Logger;
}

/** Longest sleep: a schedule written by another node is found within this (polls fall on its multiples). */
export const POLL_MS = 250;
/**
 * A step takes the schedules whose wake time is within this of now: schedules due a few ms apart
 * share one step (at 100,000 minutely schedules that is ~30 per step, not a step per ms), at the
 * cost of planting an allow-overlap occurrence up to this much before the current one fires.
 */
export const PASS_AHEAD_MS = 20;
/**
 * Schedules per step: one read script and one write script for all of them, each ~5 commands per
 * schedule, so a step's script stays around a millisecond of Redis (other clients wait behind it).
 */
const STEP_LIMIT = 200;
const RETRY_MS = 1_000;
/** A schedule whose occurrence this node refuses to build is looked at again after this. */
const REFUSED_RETRY_MS = 60_000;

export interface PlantingStep {
  nowMs: number;
}

export interface PlantingReply {
  planted: number;
  looked: number;
  conflicts: number;
  nextWakeMs: number | null;
}

export class SchedulePlanting implements ShardDuty<PlantingStep, PlantingReply> {
  readonly name = "schedule planting";
  readonly firstStepInMs = 0;
  readonly leaseWaitMs = RETRY_MS;
  private readonly options: SchedulePlantingOptions;
  private failing = false;
  /** Occurrences planted so far (metrics, tests). */
  planted = 0;

  constructor(options: SchedulePlantingOptions) {
    this.options = options;
  }

  get leaseToken(): string {
    return this.options.leaseToken;
  }

  plan(nowMs: number): PlantingStep {
    return { nowMs };
  }

  /** Ignores the actor's store port: schedules have their own store part. */
  async perform(step: PlantingStep, _store?: unknown): Promise<PlantingReply | LeaseLost> {
    const { shard, leaseToken, schedules, defaults, outboundPolicy } = this.options;
    const shards = typeof this.options.shards === "function" ? this.options.shards() : this.options.shards;
    const due = await schedules.dueSchedules(shard, leaseToken, step.nowMs + PASS_AHEAD_MS, STEP_LIMIT);
    if (due === "lease") return "lease";
    const writes: { write: ScheduleWrite; occurrences: PlantedOccurrence[] }[] = [];
    for (const schedule of due.schedules) {
      const state = decodeSchedule(schedule.name, schedule.stored);
      // null: paused (never expected in the wake set), so it is taken out of it.
      const write = decideChange(schedule.name, { kind: "plant" }, { state, last: schedule.last }, step.nowMs) ?? {
        name: schedule.name,
        expectedVersion: state.version,
        state,
        wakeAtMs: null,
        withdraw: [],
        plant: [],
      };
      try {
        writes.push({ write, occurrences: occurrenceRecords(schedule.name, state.definition, write.plant, { nowMs: step.nowMs, shards, defaults, ...(outboundPolicy && { outboundPolicy }) }) });
      } catch (error) {
        // A template this node refuses (e.g. a webhook its outbound policy denies): that schedule
        // waits and is looked at again later; the shard's other schedules go on.
        this.options.log.warn({ shard, schedule: schedule.name, err: String(error) }, "schedule's occurrence refused; looking again in a minute");
        writes.push({ write: { ...write, state: write.state && { ...state, version: state.version + 1 }, wakeAtMs: step.nowMs + REFUSED_RETRY_MS, plant: [] }, occurrences: [] });
      }
    }
    const results = await schedules.plantSchedules(shard, leaseToken, writes, step.nowMs);
    if (results === "lease") return "lease";
    const reply: PlantingReply = { planted: 0, looked: due.schedules.length, conflicts: 0, nextWakeMs: due.nextWakeMs };
    results.forEach((result, i) => {
      if (result === "conflict") reply.conflicts++;
      else reply.planted += writes[i]!.occurrences.length;
    });
    return reply;
  }

  settle(_step: PlantingStep, reply: PlantingReply, nowMs: number): number {
    this.failing = false;
    this.planted += reply.planted;
    // A full step or a lost race: more is waiting now.
    if (reply.looked >= STEP_LIMIT || reply.conflicts > 0) return 0;
    // The poll falls on the next multiple of POLL_MS (Redis-clock ms), the same instant for every
    // shard: the node's coalescing clock runs all its shards' polls in one timer callback, so they
    // leave in one write and come back in one read (16 shards polling apart were 64 round trips a
    // second, ~10 % of an idle node's CPU in socket writes on this VM).
    const poll = POLL_MS - (nowMs % POLL_MS);
    if (reply.nextWakeMs === null) return poll;
    return Math.max(0, Math.min(poll, reply.nextWakeMs - PASS_AHEAD_MS - nowMs));
  }

  failed(error: unknown): number {
    // Once per outage, not once a second per shard.
    if (!this.failing) this.options.log.warn({ shard: this.options.shard, err: String(error) }, "schedule planting failed; retrying every second");
    this.failing = true;
    return RETRY_MS;
  }
}
