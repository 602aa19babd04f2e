/**
 * Turns occurrence times of a schedule into the task records the write script plants: an ordinary
 * task (same validation, limits and defaults as any other, through resolveTask) whose id is the
 * occurrence (task/occurrence-id.ts). Nothing here marks the task as special: the claim, start and
 * finish paths treat it like every other task, so schedules cost the hot path nothing.
 */
import { resolveTask, type TaskDefaults } from "../task/schedule-input.ts";
import { dueScore, type Target } from "../task/model.ts";
import type { OutboundPolicy } from "../core/outbound-policy.ts";
import type { ShardMap } from "../core/shard-map.ts";
import { occurrenceId } from "../task/occurrence-id.ts";
import { MISFIRE_GRACE_MS } from "./plan.ts";
import type { ScheduleDefinition } from "./schedule-input.ts";

export interface PlantedOccurrence {
  id: string;
  atMs: number;
  score: string;
  record: string;
}

export interface OccurrenceContext {
  /** Outbound policy for webhook targets (the node's or client's), checked again at delivery. */
  outboundPolicy?: OutboundPolicy;
  nowMs: number;
  shards: ShardMap;
  defaults: TaskDefaults;
}

export function occurrenceRecords(name: string, definition: ScheduleDefinition, times: readonly number[], context: OccurrenceContext): PlantedOccurrence[] {
  const task = definition.task;
  return times.map((atMs) => {
    const resolved = resolveTask(
      task.name,
      task.args,
      {
        id: occurrenceId(name, atMs),
        runAt: atMs,
        ...(task.target !== undefined && { target: task.target as Target }),
        ...(task.priority !== undefined && { priority: task.priority }),
        ...(task.maxAttempts !== undefined && { maxAttempts: task.maxAttempts }),
        ...(task.backoff !== undefined && { backoff: task.backoff }),
        ...(task.timeoutMs !== undefined && { timeoutMs: task.timeoutMs }),
        // Misfire skip: an occurrence that cannot start within the grace is not run (it ends as
        // expired), also one planted before an outage that nobody could run on time.
        ...(definition.misfire === "skip" && { expiresAt: atMs + MISFIRE_GRACE_MS }),
      },
      { nowMs: context.nowMs, shards: context.shards, defaults: context.defaults, requireTime: true, ...(context.outboundPolicy && { outboundPolicy: context.outboundPolicy }) },
    );
    return { id: resolved.id, atMs, score: dueScore(atMs, task.priority ?? 0), record: resolved.record };
  });
}
