/**
 * The planting rule: given a schedule's cursor (every occurrence at or before it is decided:
 * planted or skipped), the state of the last occurrence planted, and the time now, which
 * occurrences to plant now, where the cursor moves, and when to look at the schedule again.
 * Pure: the planter (a per-shard duty) reads the inputs from Redis, calls this, and writes the
 * result in one script; tests drive it with plain numbers.
 *
 * Overlap `allow`: the next occurrence is planted as soon as the current one fires (the planter
 * looks at the schedule at the current occurrence's time), so one occurrence is always waiting in
 * the shard's due set and a node that dies mid-occurrence breaks nothing: the next one is there.
 *
 * Overlap `skip`: the next occurrence is planted only once the last one has ended (succeeded,
 * dead, expired or cancelled). The planter looks PLANT_LEAD_MS before each candidate time; while
 * the last one is still pending or running, every candidate up to then is skipped.
 *
 * Misfire: an occurrence whose time is more than MISFIRE_GRACE_MS past when the planter gets to it
 * (every node was down, or the schedule was paused) is missed.
 * - `skip`: none of the missed ones run (an occurrence of a `skip` schedule also carries
 *   expiresAt = its time + the grace, so one planted before the outage does not run late either);
 * - `once` (default): one of them runs: the occurrence already waiting from before the outage if
 *   there is one (it runs late and stands for the gap), else the first missed;
 * - `all`: every missed occurrence runs, oldest first, at most MISFIRE_ALL_BOUND per gap (the one
 *   waiting from before counts; the rest of a longer gap is skipped).
 * After the missed ones, the first occurrence that is not missed is planted as usual.
 */
import { MISFIRE_ALL_BOUND, type MisfirePolicy, type OverlapPolicy } from "./schedule-input.ts";
import type { FireTimes } from "./fire-times.ts";

/**
 * How late an occurrence may start and still count as on time. Normal lateness is milliseconds;
 * a second also covers a planter pass delayed by a busy node or a Redis failover blip, but not a
 * lease takeover after a node died (~3 s), which is an outage the misfire policy should decide.
 */
export const MISFIRE_GRACE_MS = 1_000;

/**
 * Overlap `skip` looks this long before a candidate time whether the last occurrence ended. It
 * must cover a planting pass and a Redis round trip (the occurrence has to reach the wheel before
 * its claim, a few ms ahead of its time), and it is the error of the decision: an occurrence
 * ending within this lead of the next candidate still makes that candidate skip.
 */
export const PLANT_LEAD_MS = 50;

/** While a replayed (already due) occurrence of an overlap-skip schedule runs, look again this often. */
export const SKIP_POLL_MS = 50;

export type LastOccurrenceState = "pending" | "running" | "ended";

export interface PlanInput {
  fire: FireTimes;
  misfire: MisfirePolicy;
  overlap: OverlapPolicy;
  cursorMs: number;
  last: { atMs: number; state: LastOccurrenceState } | null;
  nowMs: number;
}

export interface Plan {
  /** Occurrence times to plant now, in order. */
  plant: number[];
  cursorMs: number;
  /** When the planter should look at the schedule next; null: it has no occurrence left (endAt). */
  wakeAtMs: number | null;
}

export function planSchedule(input: PlanInput): Plan {
  const { fire, misfire, overlap, nowMs } = input;
  const missedBefore = nowMs - MISFIRE_GRACE_MS;
  const lastActive = input.last !== null && input.last.state !== "ended";

  if (overlap === "skip" && lastActive) {
    // Every candidate whose check time has come is skipped: the last one still runs (or waits).
    const cursorMs = Math.max(input.cursorMs, nowMs + PLANT_LEAD_MS);
    const next = fire.next(cursorMs);
    if (next === null) return { plant: [], cursorMs, wakeAtMs: null };
    return { plant: [], cursorMs, wakeAtMs: Math.max(next - PLANT_LEAD_MS, nowMs + SKIP_POLL_MS) };
  }

  const first = fire.next(input.cursorMs);
  if (first === null) return { plant: [], cursorMs: input.cursorMs, wakeAtMs: null };

  const missed: number[] = [];
  let upcoming: number | null = first;
  if (first < missedBefore) {
    // The last planted occurrence is itself missed and has not ended: it waited through the gap
    // (or was claimed just now, late). It runs, so it is one of the gap's runs.
    const waitingLate = lastActive && input.last!.atMs < missedBefore;
    if (misfire === "all") {
      const bound = waitingLate ? MISFIRE_ALL_BOUND - 1 : MISFIRE_ALL_BOUND;
      let at: number | null = first;
      while (at !== null && at < missedBefore && missed.length < bound) {
        missed.push(at);
        at = fire.next(at);
      }
      upcoming = at !== null && at < missedBefore ? fire.next(missedBefore - 1) : at;
    } else {
      if (misfire === "once" && !waitingLate) missed.push(first);
      upcoming = fire.next(missedBefore - 1);
    }
  }

  const due = upcoming === null ? missed : [...missed, upcoming];
  if (due.length === 0) return { plant: [], cursorMs: input.cursorMs, wakeAtMs: null };

  if (overlap === "skip") {
    // One at a time: the one after it is decided when this one has ended.
    const planted = due[0]!;
    const after = fire.next(planted);
    const wakeAtMs = planted < missedBefore ? nowMs + SKIP_POLL_MS : after === null ? null : Math.max(after - PLANT_LEAD_MS, nowMs + SKIP_POLL_MS);
    return { plant: [planted], cursorMs: planted, wakeAtMs };
  }
  const lastPlanted = due[due.length - 1]!;
  // Look again when the last planted one fires, to plant the one after it.
  return { plant: due, cursorMs: lastPlanted, wakeAtMs: upcoming === null ? null : Math.max(upcoming, nowMs) };
}
