/**
 * Every way a schedule changes, as one pure decision: create or replace (PUT), pause, resume,
 * delete, and the planter's pass. Each takes the schedule as read from Redis (with the state of
 * its last planted occurrence) and the time now, and returns one write for
 * store/lua/schedule-write-5.lua: the new schedule (or none), when the planter should look at it
 * next, which occurrences to take back, which to plant. The write is compare-and-set on the
 * version read, so an API call and the planter racing on one schedule never both apply.
 *
 * - PUT of a new schedule plants its first occurrence in the same write.
 * - PUT of an existing one takes effect from its next occurrence: occurrences planted for later
 *   than now are taken back and the new definition's next ones planted; one that is due or
 *   running already runs as it was planted. Occurrences missed before the change are not
 *   replayed (the new definition starts now).
 * - Pause takes back every planted occurrence that has not started and stops planting; one that
 *   is running finishes. Resume plants again from where the schedule was, applying the misfire
 *   policy to the occurrences that passed while it was paused.
 * - Delete takes back what has not started and removes the schedule; a running occurrence
 *   finishes, and nothing is planted after it.
 */
import { planSchedule, type LastOccurrenceState, type Plan } from "./plan.ts";
import { fireTimesOf, type ScheduleDefinition } from "./schedule-input.ts";
import type { ScheduleState } from "./schedule-record.ts";

export type LastState = LastOccurrenceState | "none";

export interface ReadSchedule {
  state: ScheduleState;
  last: LastState;
}

export type ScheduleChange =
  | { kind: "put"; definition: ScheduleDefinition }
  | { kind: "pause" }
  | { kind: "resume" }
  | { kind: "delete" }
  | { kind: "plant" };

export interface ScheduleWrite {
  name: string;
  /** Version the write expects to find (0: the schedule must not exist). */
  expectedVersion: number;
  /** The schedule after the change; null deletes it. */
  state: ScheduleState | null;
  /** When the planter should look at it next; null: never (paused, deleted, ended). */
  wakeAtMs: number | null;
  /** Occurrence times to take back while they still wait in `due`. */
  withdraw: number[];
  /** Occurrence times to plant (each created once: its id is the occurrence). */
  plant: number[];
}

/**
 * How far ahead of now a PUT or resume plants. The planter finds a schedule written by another
 * node at its next regular look (shard/schedule-planting.ts POLL_MS), so what falls due before then is planted
 * by the write itself.
 */
export const WRITE_PLANT_AHEAD_MS = 500;

export function decideChange(name: string, change: ScheduleChange, current: ReadSchedule | null, nowMs: number): ScheduleWrite | null {
  switch (change.kind) {
    case "put":
      return current === null ? create(name, change.definition, nowMs) : replace(current, change.definition, nowMs);
    case "pause":
      if (current === null) return null;
      return pause(current, nowMs);
    case "resume":
      if (current === null) return null;
      return resume(current, nowMs);
    case "delete":
      if (current === null) return null;
      return {
        name,
        expectedVersion: current.state.version,
        state: null,
        wakeAtMs: null,
        withdraw: planted(current.state),
        plant: [],
      };
    case "plant":
      if (current === null || current.state.definition.paused) return null;
      return plantPass(current, nowMs);
  }
}

function create(name: string, definition: ScheduleDefinition, nowMs: number): ScheduleWrite {
  const state: ScheduleState = { name, version: 1, definition, cursorMs: nowMs, lastAtMs: null, prevAtMs: null, createdAt: nowMs, updatedAt: nowMs };
  const write: ScheduleWrite = { name, expectedVersion: 0, state, wakeAtMs: null, withdraw: [], plant: [] };
  if (!definition.paused) planAhead(write, state, "none", nowMs);
  return write;
}

function replace(current: ReadSchedule, definition: ScheduleDefinition, nowMs: number): ScheduleWrite {
  const old = current.state;
  // Planted for later than now: not started, taken back; the new definition plants its own.
  const withdraw = planted(old).filter((atMs) => atMs > nowMs);
  let lastAtMs = old.lastAtMs;
  let prevAtMs = old.prevAtMs;
  let last: LastState = current.last;
  if (lastAtMs !== null && withdraw.includes(lastAtMs)) {
    lastAtMs = prevAtMs !== null && !withdraw.includes(prevAtMs) ? prevAtMs : null;
    prevAtMs = null;
    // Its state was not read; for overlap skip, assume it may still run (the planter looks again).
    last = lastAtMs === null ? "none" : "running";
  }
  const state: ScheduleState = { ...old, version: old.version + 1, definition, cursorMs: nowMs, lastAtMs, prevAtMs, updatedAt: nowMs };
  const write: ScheduleWrite = { name: old.name, expectedVersion: old.version, state, wakeAtMs: null, withdraw, plant: [] };
  if (!definition.paused) planAhead(write, state, last, nowMs);
  return write;
}

function pause(current: ReadSchedule, nowMs: number): ScheduleWrite {
  const old = current.state;
  const state: ScheduleState = {
    ...old,
    version: old.version + 1,
    definition: { ...old.definition, paused: true },
    // Occurrences planted for later did not happen: on resume they count as missed.
    cursorMs: Math.min(old.cursorMs, nowMs),
    updatedAt: nowMs,
  };
  return { name: old.name, expectedVersion: old.version, state, wakeAtMs: null, withdraw: planted(old), plant: [] };
}

function resume(current: ReadSchedule, nowMs: number): ScheduleWrite {
  const old = current.state;
  const state: ScheduleState = { ...old, version: old.version + 1, definition: { ...old.definition, paused: false }, updatedAt: nowMs };
  const write: ScheduleWrite = { name: old.name, expectedVersion: old.version, state, wakeAtMs: null, withdraw: [], plant: [] };
  planAhead(write, state, current.last, nowMs);
  return write;
}

function plantPass(current: ReadSchedule, nowMs: number): ScheduleWrite {
  const old = current.state;
  const state: ScheduleState = { ...old, version: old.version + 1 };
  const write: ScheduleWrite = { name: old.name, expectedVersion: old.version, state, wakeAtMs: null, withdraw: [], plant: [] };
  apply(write, state, planOnce(state, current.last, nowMs));
  return write;
}

/** Plans until the planter's next regular look would be in time (see WRITE_PLANT_AHEAD_MS). */
function planAhead(write: ScheduleWrite, state: ScheduleState, last: LastState, nowMs: number): void {
  let plan = planOnce(state, last, nowMs);
  apply(write, state, plan);
  // Overlap skip plants one at a time, after the last one ended: nothing to plant ahead.
  if (state.definition.overlap !== "allow") return;
  for (let round = 0; round < 64 && plan.plant.length > 0 && plan.wakeAtMs !== null && plan.wakeAtMs < nowMs + WRITE_PLANT_AHEAD_MS; round++) {
    plan = planOnce(state, "pending", Math.max(nowMs, plan.wakeAtMs));
    apply(write, state, plan);
  }
}

function planOnce(state: ScheduleState, last: LastState, nowMs: number): Plan {
  const definition = state.definition;
  return planSchedule({
    fire: fireTimesOf(definition),
    misfire: definition.misfire,
    overlap: definition.overlap,
    cursorMs: state.cursorMs,
    last: state.lastAtMs === null || last === "none" ? null : { atMs: state.lastAtMs, state: last },
    nowMs,
  });
}

function apply(write: ScheduleWrite, state: ScheduleState, plan: Plan): void {
  for (const atMs of plan.plant) {
    write.plant.push(atMs);
    state.prevAtMs = state.lastAtMs;
    state.lastAtMs = atMs;
  }
  state.cursorMs = plan.cursorMs;
  write.wakeAtMs = plan.wakeAtMs;
}

/** The occurrences a schedule knows it planted (the last two). */
function planted(state: ScheduleState): number[] {
  const times: number[] = [];
  if (state.lastAtMs !== null) times.push(state.lastAtMs);
  if (state.prevAtMs !== null && state.prevAtMs !== state.lastAtMs) times.push(state.prevAtMs);
  return times;
}
