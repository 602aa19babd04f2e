/**
 * The per-shard duty that keeps every active schedule of one shard planted: it looks at the
 * schedules whose wake time has come (store: dueSchedules), decides each with the planting rule
 * (schedule-changes.ts "plant"), and writes each decision in one lease-fenced script that plants
 * the occurrences and moves the schedule together. The owner of the shard runs it; no other node
 * plants for the shard, and a new owner finds every schedule where the last one left it (its wake
 * time is in Redis), so a node dying between two occurrences loses nothing: the next owner plants.
 *
 * What (the decision) is split from when (this loop): the loop wakes at the earliest wake time
 * it knows, and at least every POLL_MS to find schedules written by other nodes (their writes
 * plant what falls due before then themselves: WRITE_PLANT_AHEAD_MS). One pass in flight at a
 * time; state lives in this object alone.
 */
import type { LeaseLost } from "../store/store.ts";
import type { TaskDefaults } from "../task/schedule-input.ts";
import type { Logger } from "../node/log.ts";
import { decideChange, type LastState, type ScheduleWrite } from "./schedule-changes.ts";
import { decodeSchedule } from "./schedule-record.ts";
import { occurrenceRecords, type PlantedOccurrence } from "./occurrences.ts";

/** A schedule as the planter's read returns it. */
export interface DueSchedule {
  name: string;
  stored: string;
  last: LastState;
}

/** The part of the store the planter uses (store/schedules.ts). */
export interface PlanterStore {
  dueSchedules(shard: number, leaseToken: string, upToMs: number, limit: number): Promise<{ schedules: DueSchedule[]; nextWakeMs: number | null } | LeaseLost>;
  writeSchedule(shard: number, leaseToken: string | null, write: ScheduleWrite, occurrences: PlantedOccurrence[], nowMs: number): Promise<"ok" | "conflict" | LeaseLost>;
}

export interface PlanterOptions {
  shard: number;
  shardCount: number;
  leaseToken: string;
  store: PlanterStore;
  log: Logger;
  defaults: TaskDefaults;
  onLeaseLost: (shard: number, leaseToken: string) => void;
  /** Whether the node may still act on the shard (ShardOwnership.canStart). */
  leaseValid?: () => boolean;
  now?: () => number;
}

/** Longest sleep: a schedule written by another node is found within this. */
export const POLL_MS = 250;
/**
 * A pass takes the schedules whose wake time is within this of now: schedules due a few ms apart
 * share one pass (at 100,000 minutely schedules that is ~80 per pass, not a pass per ms), at the
 * cost of planting an allow-overlap occurrence up to this much before the current one fires.
 */
export const PASS_AHEAD_MS = 20;
/** Schedules per pass (one read script, then one write script each, pipelined). */
const PASS_LIMIT = 500;
const RETRY_MS = 1_000;

export class SchedulePlanter {
  private readonly options: PlanterOptions;
  private readonly now: () => number;
  private state: "new" | "running" | "stopped" = "new";
  private timer: ReturnType<typeof setTimeout> | null = null;
  private failing = false;
  /** Occurrences planted so far (metrics, tests). */
  planted = 0;

  constructor(options: PlanterOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.state !== "new") return;
    this.state = "running";
    this.schedule(0);
  }

  stop(): void {
    this.state = "stopped";
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(delayMs: number): void {
    if (this.state !== "running") return;
    this.timer = setTimeout(() => void this.pass(), Math.max(0, delayMs));
  }

  private async pass(): Promise<void> {
    this.timer = null;
    if (this.state !== "running") return;
    const { shard, leaseToken, store } = this.options;
    if (this.options.leaseValid && !this.options.leaseValid()) return this.schedule(RETRY_MS);
    let nextDelayMs: number;
    try {
      const nowMs = this.now();
      const due = await store.dueSchedules(shard, leaseToken, nowMs + PASS_AHEAD_MS, PASS_LIMIT);
      if (due === "lease") return this.leaseLost();
      const results = await Promise.all(due.schedules.map((schedule) => this.plant(schedule, nowMs)));
      if (results.includes("lease")) return this.leaseLost();
      this.failing = false;
      const afterMs = this.now();
      if (due.schedules.length >= PASS_LIMIT || results.includes("conflict")) nextDelayMs = 0;
      else if (due.nextWakeMs === null) nextDelayMs = POLL_MS;
      else nextDelayMs = Math.min(POLL_MS, due.nextWakeMs - PASS_AHEAD_MS - afterMs);
    } catch (error) {
      // Once per outage, not once a second per shard.
      if (!this.failing) this.options.log.warn({ shard, err: String(error) }, "schedule planting failed; retrying every second");
      this.failing = true;
      nextDelayMs = RETRY_MS;
    }
    this.schedule(nextDelayMs);
  }

  private async plant(schedule: DueSchedule, nowMs: number): Promise<"ok" | "conflict" | LeaseLost> {
    const { shard, shardCount, leaseToken, store, defaults } = this.options;
    const state = decodeSchedule(schedule.name, schedule.stored);
    const write = decideChange(schedule.name, { kind: "plant" }, { state, last: schedule.last }, nowMs);
    if (write === null) {
      // Paused (never expected in the wake set): take it out.
      return store.writeSchedule(shard, leaseToken, { name: schedule.name, expectedVersion: state.version, state, wakeAtMs: null, withdraw: [], plant: [] }, [], nowMs);
    }
    const occurrences = occurrenceRecords(schedule.name, state.definition, write.plant, { nowMs, shardCount, defaults });
    const result = await store.writeSchedule(shard, leaseToken, write, occurrences, nowMs);
    if (result === "ok") this.planted += occurrences.length;
    return result;
  }

  private leaseLost(): void {
    this.stop();
    this.options.onLeaseLost(this.options.shard, this.options.leaseToken);
  }
}
